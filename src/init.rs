//! `loop init`: start a workspace from `templates/init/` — a small ledger, a plan and a memo that
//! `loop next` reads at once, `docs/index.md`, `loop.yaml`, and `.gitignore` lines that keep run
//! artifacts and agent logs out of git. It only adds: a file that exists is kept as it is, and
//! running it twice changes nothing the second time.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::{self, WorkspaceLock};
use crate::error::{Error, Result};

/// The ledger, plan and memo name the same item, so they are written together or not at all.
const STARTER: &[(&str, &str)] = &[
    ("docs/fix_plan.md", include_str!("../templates/init/docs/fix_plan.md")),
    ("plans/active/setup.md", include_str!("../templates/init/plans/active/setup.md")),
    ("input.md", include_str!("../templates/init/input.md")),
];

/// Files that stand alone.
const SINGLES: &[(&str, &str)] = &[
    ("docs/index.md", include_str!("../templates/init/docs/index.md")),
    ("loop.yaml", include_str!("../templates/init/loop.yaml")),
];

/// Folders loop writes into that git should never see: run artifacts and agents' logs.
const IGNORED: &[&str] = &["/reports/", "/logs/"];

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    /// Lines appended (`.gitignore`).
    Extended,
    Kept,
}

#[derive(Debug, Serialize)]
pub struct Planted {
    pub path: String,
    pub action: Action,
    /// Why a file was kept, or which lines were added.
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub root: PathBuf,
    pub files: Vec<Planted>,
    /// A workspace further up that this folder now sits inside, as its own workspace.
    pub inside: Option<PathBuf>,
    pub dry_run: bool,
}

/// Add what `root` lacks; with `dry_run`, only say what would be added.
pub fn init(root: &Path, dry_run: bool) -> Result<Report> {
    if !root.is_dir() {
        return Err(Error::Usage(format!("{}: no such folder (create it first)", root.display())));
    }
    let _lock = if dry_run { None } else { Some(WorkspaceLock::acquire(root)?) };
    let date = crate::clock::date(&crate::clock::now()?);
    let mut files = Vec::new();
    // A loop.yaml already there says where the ledger and the memo live.
    let config = match root.join(crate::workspace::CONFIG_FILE).is_file() {
        true => crate::workspace::Workspace::discover(root, Some(root))?.config,
        false => Default::default(),
    };
    let placed = |rel: &str| match rel {
        "docs/fix_plan.md" => config.ledger.clone(),
        "input.md" => config.input.clone(),
        other => other.to_string(),
    };
    let ledger = [placed("docs/fix_plan.md"), "fix_plan.md".into(), placed("input.md")]
        .into_iter()
        .find(|p| root.join(p).exists());
    for (rel, text) in STARTER {
        let rel = placed(rel);
        let rel = rel.as_str();
        let planted = match ledger {
            Some(ref found) => Planted {
                path: rel.to_string(),
                action: Action::Kept,
                detail: match root.join(rel).symlink_metadata().is_ok() {
                    true => "exists".into(),
                    false => format!("not written: {found} exists, and the starter ledger, plan and memo go together"),
                },
            },
            None => create(root, rel, &text.replace("{{ date }}", &date), dry_run)?,
        };
        files.push(planted);
    }
    for (rel, text) in SINGLES {
        files.push(create(root, rel, text, dry_run)?);
    }
    files.push(ignore(root, dry_run)?);
    let inside = root.parent().and_then(|up| crate::workspace::Workspace::discover(up, None).ok()).map(|ws| ws.root);
    Ok(Report { root: root.to_path_buf(), files, inside, dry_run })
}

/// Write `rel` unless something (a file, a link, a folder) is there already.
fn create(root: &Path, rel: &str, text: &str, dry_run: bool) -> Result<Planted> {
    let path = root.join(rel);
    if path.symlink_metadata().is_ok() {
        return Ok(Planted { path: rel.into(), action: Action::Kept, detail: "exists".into() });
    }
    if !dry_run {
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if !atomic::create(&path, text.as_bytes())? {
            return Ok(Planted { path: rel.into(), action: Action::Kept, detail: "exists".into() });
        }
    }
    Ok(Planted { path: rel.into(), action: Action::Created, detail: String::new() })
}

/// Append the ignore lines `.gitignore` does not have yet.
fn ignore(root: &Path, dry_run: bool) -> Result<Planted> {
    let path = root.join(".gitignore");
    let text = match path.exists() {
        true => crate::fsutil::read_utf8(&path, ".gitignore")?,
        false => String::new(),
    };
    let before = text.as_bytes();
    let has = |want: &str| {
        let bare = want.trim_matches('/');
        text.lines().map(str::trim).any(|l| l.trim_end_matches('*').trim_matches('/') == bare)
    };
    let missing: Vec<&str> = IGNORED.iter().copied().filter(|w| !has(w)).collect();
    if missing.is_empty() {
        return Ok(Planted {
            path: ".gitignore".into(),
            action: Action::Kept,
            detail: "ignores reports/ and logs/".into(),
        });
    }
    let mut after = text.to_string();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push('\n');
    }
    after.push_str("# ledger-loop: run artifacts and agent logs\n");
    for line in &missing {
        after.push_str(line);
        after.push('\n');
    }
    if !dry_run {
        atomic::replace(&path, ".gitignore", before, after.as_bytes())?;
    }
    let action = if before.is_empty() { Action::Created } else { Action::Extended };
    Ok(Planted { path: ".gitignore".into(), action, detail: missing.join(" ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_lines_already_there_in_another_spelling_are_not_added_again() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".gitignore"), "target\nreports/*\n").unwrap();
        let p = ignore(d.path(), false).unwrap();
        assert_eq!((p.action, p.detail.as_str()), (Action::Extended, "/logs/"));
        let text = std::fs::read_to_string(d.path().join(".gitignore")).unwrap();
        assert_eq!(text, "target\nreports/*\n# ledger-loop: run artifacts and agent logs\n/logs/\n");
        assert_eq!(ignore(d.path(), false).unwrap().action, Action::Kept);
    }

    #[test]
    fn a_gitignore_that_is_not_utf8_is_named_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".gitignore"), b"a\n\xff\n").unwrap();
        let e = ignore(d.path(), false).unwrap_err().to_string();
        assert!(e.contains(".gitignore:2"), "{e}");
        assert_eq!(std::fs::read(d.path().join(".gitignore")).unwrap(), b"a\n\xff\n");
    }
}
