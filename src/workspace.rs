//! Finding the workspace root and reading its optional `loop.yaml`.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

pub const CONFIG_FILE: &str = "loop.yaml";

/// Settings from `loop.yaml`; every key is optional and unknown keys are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The ledger, relative to the root.
    pub ledger: String,
    /// Glob of plan files, relative to the root.
    pub plans: String,
    /// Globs under the plans folder that are not plans: run reports and helper scripts kept
    /// beside a plan (`plans/active/<ID>/reports/<ISO>Z/summary.md`).
    pub plans_exclude: Vec<String>,
    /// The index whose links are the protected assets.
    pub index: String,
    /// The Do Now memo.
    pub input: String,
    /// Where run artifacts go, and whether commits may take any of them.
    pub reports: crate::publish::Reports,
    /// Extra protected globs.
    pub protected: Vec<String>,
    /// Protected globs that may not even be modified in a commit.
    pub frozen: Vec<String>,
    /// Globs under the reports folder that commits may still stage (e.g. `reports/**/README.md`).
    pub reports_allow: Vec<String>,
    /// Largest staged file the guard lets through, in bytes.
    pub max_staged_bytes: u64,
    /// `loop orchestrate`: the agents of each role, turn limits and budgets.
    pub orchestrate: Option<crate::orchestrate::config::Settings>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ledger: "docs/fix_plan.md".into(),
            plans: "plans/active/**/*.md".into(),
            plans_exclude: ["**/reports/**", "**/bin/**", "**/logs/**", "**/artifacts/**", "**/data/**"]
                .map(String::from)
                .to_vec(),
            index: "docs/index.md".into(),
            input: "input.md".into(),
            reports: Default::default(),
            protected: Vec::new(),
            frozen: Vec::new(),
            reports_allow: Vec::new(),
            max_staged_bytes: 5_000_000,
            orchestrate: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// `--root` when given, else the first folder upward from `start` holding the ledger,
    /// `loop.yaml`, or a memo beside `plans/active/`.
    pub fn discover(start: &Path, root: Option<&Path>) -> Result<Workspace> {
        let root = match root {
            Some(r) => {
                let meta = std::fs::metadata(r)
                    .map_err(|e| Error::input(r.display().to_string(), 0, format!("--root: {e}")))?;
                if !meta.is_dir() {
                    return Err(Error::input(r.display().to_string(), 0, "--root is not a directory"));
                }
                r.to_path_buf()
            }
            None => start
                .ancestors()
                .find(|d| {
                    d.join(CONFIG_FILE).is_file()
                        || d.join("docs/fix_plan.md").is_file()
                        || d.join("fix_plan.md").is_file()
                        // A workflow started before its ledger: the memo and the plans.
                        || (d.join("input.md").is_file() && d.join("plans/active").is_dir())
                })
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "no workspace found: no {}, docs/fix_plan.md, or input.md beside plans/active/ in {} or any parent (use --root DIR, or start one with `loop init`)",
                        CONFIG_FILE,
                        start.display()
                    ))
                })?
                .to_path_buf(),
        };
        let root = std::fs::canonicalize(&root).map_err(|e| Error::io(&root, e))?;
        let mut config = Self::read_config(&root)?;
        // The earliest states of a workspace keep the ledger at the root.
        if !root.join(&config.ledger).is_file()
            && config.ledger == Config::default().ledger
            && root.join("fix_plan.md").is_file()
        {
            config.ledger = "fix_plan.md".into();
        }
        Ok(Workspace { root, config })
    }

    /// The line of loop.yaml that sets `key`, when it does: a message about a path loop.yaml
    /// chose names that line rather than a default.
    pub fn stated(&self, key: &str) -> Option<usize> {
        key_line(&std::fs::read_to_string(self.root.join(CONFIG_FILE)).ok()?, key)
    }

    /// `discover` from the current directory.
    pub fn find(root: Option<&Path>) -> Result<Workspace> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        Workspace::discover(&cwd, root)
    }

    fn read_config(root: &Path) -> Result<Config> {
        let path = root.join(CONFIG_FILE);
        if !path.is_file() {
            return Ok(Config::default());
        }
        let text = crate::fsutil::read_utf8(&path, CONFIG_FILE)?;
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml_ng::from_str(&text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            // serde_yaml_ng appends its own "at line N column M"; we name the line ourselves.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Error::input(CONFIG_FILE, line, msg)
        })?;
        // Every path loop.yaml names stays inside the workspace (`index: ../x.md` once reached git2 and panicked).
        let paths = [
            ("ledger", &config.ledger),
            ("index", &config.index),
            ("input", &config.input),
            ("plans", &config.plans),
            ("reports", &config.reports.dir),
        ];
        for (key, value) in paths {
            let leaves = Path::new(value).is_absolute()
                || Path::new(value).components().any(|c| c == std::path::Component::ParentDir);
            if leaves {
                let line = key_line(&text, key).unwrap_or(0);
                return Err(Error::input(
                    CONFIG_FILE,
                    line,
                    format!("{key}: `{value}` leaves the workspace; name a path inside it, relative to {CONFIG_FILE}"),
                ));
            }
        }
        Ok(config)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.path(&self.config.ledger)
    }

    /// A path relative to the root, with `/` separators, or an error when it leaves the root.
    pub fn relative(&self, path: &Path) -> Result<String> {
        let abs = if path.is_absolute() { path.to_path_buf() } else { self.root.join(path) };
        let norm = normalize(&abs);
        norm.strip_prefix(&self.root).map(to_slash).map_err(|_| {
            Error::input(
                path.display().to_string(),
                0,
                format!("path is outside the workspace {}", self.root.display()),
            )
        })
    }

    /// A path relative to the repository at `top` as a path relative to the workspace root, if
    /// it lies inside the workspace (the workspace may be a folder of the repository).
    pub fn from_repo_path(&self, top: &Path, repo_path: &str) -> Option<String> {
        let prefix = to_slash(self.root.strip_prefix(top).unwrap_or(Path::new("")));
        if prefix.is_empty() {
            Some(repo_path.to_string())
        } else {
            repo_path.strip_prefix(&format!("{prefix}/")).map(str::to_string)
        }
    }

    /// Compile a loop.yaml glob list — the one place it is done. A pattern that does not compile
    /// is an error naming its line: the guard must fail closed, never run with fewer protections
    /// than configured, and a turn's review never with a wider `may_write`.
    pub fn globs(&self, patterns: &[String], key: &str) -> Result<globset::GlobSet> {
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            let glob = globset::Glob::new(p).map_err(|e| {
                let text = std::fs::read_to_string(self.path(CONFIG_FILE)).unwrap_or_default();
                let line = text.lines().position(|l| l.contains(p.as_str())).map_or(0, |i| i + 1);
                Error::input(CONFIG_FILE, line, format!("{key}: pattern `{p}` does not compile ({e}); fix it"))
            })?;
            b.add(glob);
        }
        b.build().map_err(|e| Error::input(CONFIG_FILE, 0, format!("{key}: {e}")))
    }

    /// Every plan file matching the configured glob, sorted, as relative paths.
    pub fn plan_files(&self) -> Result<Vec<String>> {
        let glob = self.globs(std::slice::from_ref(&self.config.plans), "plans")?;
        let exclude = self.globs(&self.config.plans_exclude, "plans_exclude")?;
        // Walk only below the glob's literal prefix.
        let prefix: PathBuf = Path::new(&self.config.plans)
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[', '{']))
            .collect();
        let mut out = Vec::new();
        walk(&self.root.join(&prefix), &mut |p| {
            if let Ok(rel) = p.strip_prefix(&self.root) {
                let rel = to_slash(rel);
                if glob.is_match(&rel) && !exclude.is_match(&rel) {
                    out.push(rel);
                }
            }
        });
        out.sort();
        Ok(out)
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, f),
            Ok(t) if t.is_file() => f(&path),
            _ => {}
        }
    }
}

/// Lexically resolve `.` and `..` (no file system access, so it works for missing files).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn to_slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The line of loop.yaml's text that sets the top-level `key`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|l| l.starts_with(&format!("{key}:"))).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_key_names_the_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "ledger: a.md\nledgr: b.md\n").unwrap();
        let err = Workspace::discover(dir.path(), Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("loop.yaml:2:") && err.contains("ledgr"), "{err}");
    }

    #[test]
    fn discovery_walks_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("docs/fix_plan.md"), "# L\n").unwrap();
        let ws = Workspace::discover(&dir.path().join("a/b"), None).unwrap();
        assert_eq!(ws.root, std::fs::canonicalize(dir.path()).unwrap());
        assert!(ws.relative(Path::new("../x")).is_err());
        assert_eq!(ws.relative(Path::new("a/./b/../c")).unwrap(), "a/c");
    }
}
