//! The `.gitattributes` lines and git config that make git call `loop merge file`.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::guard::open_repo;
use crate::workspace::{to_slash, Workspace};

pub const NAME: &str = "loop";

#[derive(Debug, Serialize)]
pub struct DriverStatus {
    /// `.gitattributes` lines that route files to the driver.
    pub attributes: Vec<String>,
    /// `merge.loop.driver`, when set.
    pub driver: Option<String>,
    pub installed: bool,
}

fn wanted(cwd: &Path, root: Option<&Path>) -> Result<(git2::Repository, std::path::PathBuf, Vec<String>)> {
    let repo = open_repo(cwd)?;
    let workdir = repo.workdir().ok_or_else(|| Error::Git("bare repository".into()))?.to_path_buf();
    let workdir = std::fs::canonicalize(&workdir).map_err(|e| Error::io(&workdir, e))?;
    let ws = Workspace::discover(cwd, root)?;
    let prefix = to_slash(ws.root.strip_prefix(&workdir).unwrap_or(Path::new("")));
    let join = |p: &str| if prefix.is_empty() { p.to_string() } else { format!("{prefix}/{p}") };
    let lines =
        vec![format!("{} merge={NAME}", join(&ws.config.ledger)), format!("{} merge={NAME}", join(&ws.config.plans))];
    Ok((repo, workdir.join(".gitattributes"), lines))
}

/// The driver command: `loop` from PATH, else the binary that installed it.
fn command(bin: &Path) -> String {
    let bin = crate::run::shell_quote(&bin.display().to_string());
    format!("b=$(command -v loop || echo {bin}); \"$b\" merge file %O %A %B --path %P")
}

pub fn status(cwd: &Path, root: Option<&Path>) -> Result<DriverStatus> {
    let (repo, attrs, lines) = wanted(cwd, root)?;
    let text = std::fs::read_to_string(&attrs).unwrap_or_default();
    let attributes: Vec<String> =
        lines.iter().filter(|l| text.lines().any(|t| t.trim() == l.as_str())).cloned().collect();
    let driver = repo.config()?.get_string(&format!("merge.{NAME}.driver")).ok();
    Ok(DriverStatus { installed: attributes.len() == lines.len() && driver.is_some(), attributes, driver })
}

/// Add the attribute lines (keeping what is there) and set the driver in the repository's
/// own config. Idempotent.
pub fn install(cwd: &Path, root: Option<&Path>) -> Result<DriverStatus> {
    let (repo, attrs, lines) = wanted(cwd, root)?;
    let text = std::fs::read_to_string(&attrs).unwrap_or_default();
    let mut new = text.clone();
    for l in &lines {
        if !text.lines().any(|t| t.trim() == l.as_str()) {
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str(l);
            new.push('\n');
        }
    }
    if new != text {
        crate::atomic::replace(&attrs, ".gitattributes", text.as_bytes(), new.as_bytes())?;
    }
    let bin = std::env::current_exe().map_err(|e| Error::io("loop", e))?;
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    config.set_str(&format!("merge.{NAME}.name"), "ledger-loop: merge the ledger and plans by structure")?;
    config.set_str(&format!("merge.{NAME}.driver"), &command(&bin))?;
    status(cwd, root)
}

/// The same, with the attribute lines in the clone's own `.git/info/attributes` (no tracked
/// file changes): what `loop orchestrate` does before its first pull.
pub fn install_local(cwd: &Path, root: Option<&Path>) -> Result<()> {
    let (repo, _, lines) = wanted(cwd, root)?;
    let attrs = repo.commondir().join("info/attributes");
    let text = std::fs::read_to_string(&attrs).unwrap_or_default();
    let missing: Vec<&String> = lines.iter().filter(|l| !text.lines().any(|t| t.trim() == l.as_str())).collect();
    if !missing.is_empty() {
        std::fs::create_dir_all(repo.commondir().join("info")).map_err(|e| Error::io(&attrs, e))?;
        let mut new = text.clone();
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        for l in missing {
            new.push_str(l);
            new.push('\n');
        }
        std::fs::write(&attrs, new).map_err(|e| Error::io(&attrs, e))?;
    }
    let bin = std::env::current_exe().map_err(|e| Error::io("loop", e))?;
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    config.set_str(&format!("merge.{NAME}.name"), "ledger-loop: merge the ledger and plans by structure")?;
    config.set_str(&format!("merge.{NAME}.driver"), &command(&bin))?;
    Ok(())
}

/// Remove the attribute lines and the driver config; everything else stays.
pub fn uninstall(cwd: &Path, root: Option<&Path>) -> Result<DriverStatus> {
    let (repo, attrs, lines) = wanted(cwd, root)?;
    if let Ok(text) = std::fs::read_to_string(&attrs) {
        let new: String = text.split_inclusive('\n').filter(|t| !lines.iter().any(|l| t.trim() == l)).collect();
        if new != text {
            crate::atomic::replace(&attrs, ".gitattributes", text.as_bytes(), new.as_bytes())?;
        }
    }
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    for key in ["name", "driver"] {
        let _ = config.remove(&format!("merge.{NAME}.{key}"));
    }
    status(cwd, root)
}
