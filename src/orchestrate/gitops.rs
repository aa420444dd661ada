//! The git commands a turn runs: through the `git` program, so hooks, merge drivers and
//! credentials behave as they do for people.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// `git ARGS` in `dir`: its output, whatever the exit status.
pub fn run(dir: &Path, args: &[&str]) -> Result<Output> {
    let mut c = Command::new("git");
    c.current_dir(dir).args(args).stdin(Stdio::null());
    // A commit needs a name; a clone without one still records turns.
    if args.first() == Some(&"commit") && !has_identity(dir) {
        c.env("GIT_AUTHOR_NAME", "loop")
            .env("GIT_AUTHOR_EMAIL", "loop@localhost")
            .env("GIT_COMMITTER_NAME", "loop")
            .env("GIT_COMMITTER_EMAIL", "loop@localhost");
    }
    c.output().map_err(|e| Error::io("git", e))
}

fn has_identity(dir: &Path) -> bool {
    let set = |k: &str| {
        std::env::var_os(format!("GIT_AUTHOR_{k}")).is_some()
            || Command::new("git")
                .current_dir(dir)
                .args(["config", &format!("user.{}", k.to_ascii_lowercase())])
                .output()
                .is_ok_and(|o| o.status.success())
    };
    set("NAME") && set("EMAIL")
}

/// `git ARGS` that must succeed: its stdout, or an error with git's own words.
pub fn ok(dir: &Path, args: &[&str]) -> Result<String> {
    let o = run(dir, args)?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(Error::Git(format!("`git {}`: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim())))
    }
}

/// The commit a revision names, if it names one.
pub fn rev(dir: &Path, name: &str) -> Option<String> {
    let o = run(dir, &["rev-parse", "--verify", "--quiet", &format!("{name}^{{commit}}")]).ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Whether `a` is `b` or an ancestor of it.
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> bool {
    run(dir, &["merge-base", "--is-ancestor", a, b]).is_ok_and(|o| o.status.success())
}

/// The branch checked out, if one is.
pub fn current_branch(dir: &Path) -> Option<String> {
    let o = run(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The repository's top folder.
pub fn toplevel(dir: &Path) -> Result<std::path::PathBuf> {
    let top = ok(dir, &["rev-parse", "--show-toplevel"]).map_err(|_| {
        Error::Usage(format!("{} is not in a git repository; turns hand over through git", dir.display()))
    })?;
    let top = std::path::PathBuf::from(top.trim());
    std::fs::canonicalize(&top).map_err(|e| Error::io(&top, e))
}

/// The git directory (`.git`), absolute.
pub fn git_dir(dir: &Path) -> Result<std::path::PathBuf> {
    let d = ok(dir, &["rev-parse", "--absolute-git-dir"])?;
    Ok(std::path::PathBuf::from(d.trim()))
}
