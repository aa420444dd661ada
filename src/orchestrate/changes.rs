//! What a turn changed, whether its role may change it, and what of it is committed: tracked
//! edits the role may make, new files that .gitignore lets in and that are neither environments,
//! caches, logs nor over the size limit, and reports as the publishing policy says.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{RoleName, Settings};
use super::gitops;
use crate::error::Result;
use crate::protect::Protected;
use crate::publish;
use crate::workspace::Workspace;

/// A changed path, relative to the workspace root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Changed {
    pub path: String,
    /// `modified`, `added`, `deleted`.
    pub kind: String,
    /// Already in a commit the turn made (an agent may commit on its own).
    pub committed: bool,
}

/// The verdict on a turn's changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Review {
    pub changed: Vec<Changed>,
    /// Paths staged for the turn's commit (relative to the repository).
    pub stage: Vec<String>,
    /// New files left out of the commit, with the reason.
    pub left_out: Vec<(String, String)>,
    /// Changes that make the turn `blocked`, with the reason.
    pub refused: Vec<(String, String)>,
}

/// Globs the role may change. The engineer: anything but the memo (and protected assets, which
/// no role may change).
pub fn may_write(ws: &Workspace, s: &Settings, role: RoleName) -> Vec<String> {
    if let Some(g) = &s.roles.get(role).may_write {
        return g.clone();
    }
    match role {
        RoleName::Supervisor => {
            vec![ws.config.input.clone(), ws.config.ledger.clone(), "plans/**".into(), "prompts/**".into()]
        }
        RoleName::Engineer => vec!["**".into()],
    }
}

/// Review what changed since `base` (commits made during the turn, the index, the work tree).
pub fn review(ws: &Workspace, s: &Settings, role: RoleName, protected: &Protected, base: &str) -> Result<Review> {
    let top = gitops::toplevel(&ws.root)?;
    let in_ws = |p: &str| ws.from_repo_path(&top, p);
    let allowed = ws.globs(&may_write(ws, s, role), "may_write")?;
    let mut r = Review::default();
    let logs = "logs/";
    // Committed during the turn.
    let committed = gitops::ok(&top, &["diff", "--name-status", "--no-renames", "-z", base, "HEAD"])?;
    let mut fields = committed.split('\0').filter(|f| !f.is_empty());
    while let (Some(st), Some(path)) = (fields.next(), fields.next()) {
        let kind = match st {
            "A" => "added",
            "D" => "deleted",
            _ => "modified",
        };
        if let Some(rel) = in_ws(path) {
            r.changed.push(Changed { path: rel, kind: kind.into(), committed: true });
        }
    }
    // Not committed yet.
    let status = gitops::ok(&top, &["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--no-renames"])?;
    let mut untracked = Vec::new();
    for entry in status.split('\0').filter(|e| e.len() > 3) {
        let (xy, path) = entry.split_at(3);
        let Some(rel) = in_ws(path) else { continue };
        if xy.starts_with("??") {
            untracked.push(path.to_string());
            continue;
        }
        let kind = if xy.contains('D') {
            "deleted"
        } else if xy.contains('A') {
            "added"
        } else {
            "modified"
        };
        r.changed.retain(|c| c.path != rel);
        r.changed.push(Changed { path: rel, kind: kind.into(), committed: false });
        r.stage.push(path.to_string());
    }
    let reports = &ws.config.reports;
    let mut report_bytes = 0;
    for path in untracked {
        let mut files = Vec::new();
        expand(&top.join(&path), &path, &mut files, &mut r.left_out);
        for (repo_path, size) in files {
            let Some(rel) = in_ws(&repo_path) else { continue };
            if rel.starts_with(logs) || is_bookkeeping(&rel, &reports.dir) {
                continue;
            }
            let why = if reports.contains(&rel) {
                reports.admits(&rel, size).err().or_else(|| {
                    (report_bytes + size > reports.max_turn_bytes)
                        .then(|| format!("over `reports.max_turn_bytes` ({}) for one turn", reports.max_turn_bytes))
                })
            } else if let Some(j) = publish::junk(&rel) {
                Some(j)
            } else {
                (size > ws.config.max_staged_bytes)
                    .then(|| format!("{size} bytes is over max_staged_bytes ({})", ws.config.max_staged_bytes))
            };
            match why {
                Some(w) => {
                    // A report the policy keeps out is expected; say so only when it could have gone in.
                    if !(reports.contains(&rel) && reports.policy == publish::Policy::Refuse) {
                        r.left_out.push((rel, w));
                    }
                }
                None => {
                    if reports.contains(&rel) {
                        report_bytes += size;
                    }
                    r.changed.push(Changed { path: rel, kind: "added".into(), committed: false });
                    r.stage.push(repo_path);
                }
            }
        }
    }
    for c in &r.changed {
        if reports.contains(&c.path) && c.kind == "added" {
            continue;
        }
        // The workflow's own files (ledger, memo, plans) are edited even where the index lists
        // them, never deleted; `frozen:` keeps them from everyone. Which role may edit which is
        // `may_write`'s to say.
        let own_edit = c.kind != "deleted" && protected.may_edit(&c.path);
        if protected.contains(&c.path) && !own_edit {
            r.refused.push((c.path.clone(), format!("a protected asset, {}", c.kind)));
        } else if !allowed.is_match(&c.path) || (role == RoleName::Engineer && c.path == ws.config.input) {
            r.refused.push((c.path.clone(), format!("{} outside the {role}'s may_write", c.kind)));
        } else if c.committed && c.kind == "added" {
            if let Some(j) = publish::junk(&c.path) {
                r.refused.push((c.path.clone(), format!("committed by the agent: {j}")));
            }
        }
    }
    r.changed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(r)
}

/// loop's own files in the reports folder: turn journals, `.last_run`, the write intent. They
/// change after a turn's commit, so they never go into one.
fn is_bookkeeping(rel: &str, reports: &str) -> bool {
    let Some(inside) = rel.strip_prefix(reports.trim_matches('/')).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    inside.starts_with("turns/") || inside.starts_with('.')
}

/// The files below an untracked path, skipping environments and junk folders whole.
fn expand(abs: &Path, repo_path: &str, out: &mut Vec<(String, u64)>, left_out: &mut Vec<(String, String)>) {
    let repo_path = repo_path.trim_end_matches('/');
    let Ok(meta) = std::fs::symlink_metadata(abs) else { return };
    if meta.is_file() || meta.file_type().is_symlink() {
        out.push((repo_path.to_string(), meta.len()));
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let probe = format!("{repo_path}/x");
    if publish::is_environment(abs) || publish::junk(&probe).is_some() {
        left_out.push((format!("{repo_path}/"), "an environment, cache or log folder (stays out of git)".into()));
        return;
    }
    let Ok(entries) = std::fs::read_dir(abs) else { return };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for n in names {
        expand(&abs.join(&n), &format!("{repo_path}/{n}"), out, left_out);
    }
}
