//! What git says about the workspace: the facts a run record keeps.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitInfo {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub dirty: bool,
}

/// The commit, branch and dirtiness of the repository holding `root`; `None` outside git.
pub fn info(root: &Path) -> Option<GitInfo> {
    let repo = git2::Repository::discover(root).ok()?;
    let head = repo.head().ok();
    let sha = head.as_ref().and_then(|h| h.peel_to_commit().ok()).map(|c| c.id().to_string());
    let branch = match &head {
        Some(h) if h.is_branch() => h.shorthand().map(str::to_string),
        Some(_) => None,
        // Unborn HEAD: the branch is named but has no commit yet.
        None => repo
            .find_reference("HEAD")
            .ok()
            .and_then(|r| r.symbolic_target().map(|t| t.trim_start_matches("refs/heads/").to_string())),
    };
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let dirty = repo.statuses(Some(&mut opts)).map(|s| !s.is_empty()).unwrap_or(false);
    Some(GitInfo { sha, branch, dirty })
}
