//! What every part of a turn needs: the workspace, the settings, who is running and how the
//! state is synchronised — and the lease's heartbeat.

use std::path::PathBuf;
use std::time::Duration;

use super::config::{RoleName, Settings};
use super::gitops;
use super::journal::Journal;
use super::state::{self, STATE_REF};
use crate::error::{Error, Result};
use crate::progress::Sink;
use crate::workspace::Workspace;

pub struct Ctx<'a> {
    pub ws: &'a Workspace,
    pub settings: &'a Settings,
    pub role: RoleName,
    /// Turns hand over through the remote (`--sync-via-git`).
    pub sync: bool,
    /// The repository's top folder.
    pub top: PathBuf,
    pub holder: String,
    /// The one branch turns are committed and pushed to.
    pub branch: String,
    /// Where agent output (as it comes) and loop's notes go.
    pub sink: Sink,
}

impl Ctx<'_> {
    pub fn repo(&self) -> Result<git2::Repository> {
        Ok(git2::Repository::open(&self.top)?)
    }

    pub fn say(&self, s: &str) {
        self.sink.say(&format!("loop {}: {s}", self.role));
    }

    /// A third of the lease, so two beats may fail before it runs out.
    pub fn heartbeat_every(&self) -> Duration {
        (self.settings.lease.0 / 3).max(Duration::from_millis(200))
    }

    /// Renew the turn's lease (and push it when syncing). A failure is said, not fatal: the
    /// turn goes on, and an expired lease is what `loop state` then reports.
    pub fn heartbeat(&self, j: &Journal) {
        if let Err(e) = self.renew(j) {
            self.say(&format!("lease not renewed: {e}\n"));
        }
    }

    fn renew(&self, j: &Journal) -> Result<()> {
        let repo = self.repo()?;
        let Some((oid, mut st)) = state::read(&repo, STATE_REF)? else { return Ok(()) };
        let Some(claim) = st.running.as_mut().filter(|c| c.turn == j.turn) else {
            return Err(Error::Failed("the state no longer names this turn (was it reset by hand?)".into()));
        };
        let now = super::state::now();
        claim.lease_expires_at = state::rfc3339(now + self.settings.lease.0);
        st.updated_at = state::rfc3339(now);
        let new = state::write(&repo, STATE_REF, Some(oid), &st, &format!("{} heartbeat for {}", self.role, j.turn))?;
        if self.sync {
            self.push(&[&format!("{new}:{STATE_REF}")])?;
        }
        Ok(())
    }

    /// `git push --atomic REMOTE REFSPECS…`: all or nothing, never forced.
    pub fn push(&self, refspecs: &[&str]) -> Result<()> {
        let mut args = vec!["push", "--atomic", "--quiet", &self.settings.remote];
        args.extend_from_slice(refspecs);
        gitops::ok(&self.top, &args).map(|_| ())
    }

    /// Fetch the branch and the state from the remote; the local state becomes the remote's.
    pub fn fetch(&self) -> Result<()> {
        let r = &self.settings.remote;
        let b = &self.branch;
        // One fetch, so the branch and the state come from the same moment of the remote (a
        // state newer than its branch would start a turn on old files).
        let _ = gitops::run(&self.top, &["update-ref", "-d", state::REMOTE_STATE_REF]);
        let branch = format!("+refs/heads/{b}:refs/remotes/{r}/{b}");
        let states = "+refs/loop/*:refs/loop/remote/*";
        if let Err(e) = gitops::ok(&self.top, &["fetch", "--quiet", r, &branch, states]) {
            // A remote without the branch yet (a new bare repository): the first turn's push makes it.
            let has_branch = gitops::ok(&self.top, &["ls-remote", r, &format!("refs/heads/{b}")]);
            if !has_branch.is_ok_and(|o| o.trim().is_empty()) {
                return Err(e);
            }
            gitops::ok(&self.top, &["fetch", "--quiet", r, states])?;
        }
        // The remote's state is the truth, except for what this clone made and has not pushed yet.
        let remote = gitops::rev(&self.top, state::REMOTE_STATE_REF);
        let local = gitops::rev(&self.top, STATE_REF);
        match (remote, local) {
            (Some(r), Some(l)) if r == l || gitops::is_ancestor(&self.top, &r, &l) => Ok(()),
            (Some(r), _) => gitops::ok(&self.top, &["update-ref", STATE_REF, &r]).map(|_| ()),
            (None, _) => Ok(()),
        }
    }

    /// The environment an agent or check gets.
    pub fn env(&self, j: &Journal) -> Vec<(&'static str, String)> {
        vec![
            ("LOOP_ROLE", self.role.to_string()),
            ("LOOP_ITERATION", j.iteration.to_string()),
            ("LOOP_TURN", j.turn.clone()),
            ("LOOP_TURN_DIR", self.ws.root.join(&j.dir).display().to_string()),
            ("LOOP_ITEM", j.step.as_ref().map(|s| s.item.clone()).unwrap_or_default()),
            ("PATH", crate::run::child_path().to_string_lossy().into_owned()),
        ]
    }
}
