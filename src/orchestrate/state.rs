//! The turn-taking state: whose turn it is, who holds a running turn and until when, and what
//! the last turn came to. It lives in git as `refs/loop/state`, a chain of commits each holding
//! `state.json`, so its history is the list of turns. It changes only by compare-and-swap: a
//! local update names the commit it replaces, and a push of the next commit is a fast-forward
//! that the remote refuses once someone else moved the ref.

use std::path::Path;

use chrono::{DateTime, Utc};
use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use super::config::RoleName;
use crate::error::{Error, Result};
use crate::outcome::Outcome;

pub const STATE_REF: &str = "refs/loop/state";
/// Where a fetch puts the remote's state.
pub const REMOTE_STATE_REF: &str = "refs/loop/remote/state";
const FILE: &str = "state.json";

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A running turn's claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub role: RoleName,
    /// The clone running it: `host:/path/to/clone`.
    pub holder: String,
    pub turn: String,
    pub iteration: u64,
    pub started_at: String,
    pub lease_expires_at: String,
}

/// What a finished turn came to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub turn: String,
    pub iteration: u64,
    pub role: RoleName,
    pub outcome: Outcome,
    pub commit: Option<String>,
    pub holder: String,
    pub duration_s: f64,
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub tokens_in: u64,
    #[serde(default)]
    pub tokens_out: u64,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// The iteration whose turn is next (a supervisor turn and an engineer turn make one).
    pub iteration: u64,
    /// Whose turn is next.
    pub next: RoleName,
    /// The turn running now, if one is.
    pub running: Option<Claim>,
    pub last: Option<Summary>,
    /// Engineer turns in a row that changed no task and added no attempt of their own.
    #[serde(default)]
    pub idle_engineer_turns: u32,
    pub updated_at: String,
}

impl State {
    /// Before any turn: the supervisor goes first.
    pub fn initial(now: DateTime<Utc>) -> State {
        State {
            iteration: 1,
            next: RoleName::Supervisor,
            running: None,
            last: None,
            idle_engineer_turns: 0,
            updated_at: rfc3339(now),
        }
    }

    /// The running claim's lease has run out at `now`.
    pub fn lease_expired(&self, now: DateTime<Utc>) -> Option<&Claim> {
        self.running.as_ref().filter(|c| parse_time(&c.lease_expires_at).is_some_and(|t| t < now))
    }
}

/// The time of the world for states, leases and journals: the one clock (`LOOP_NOW` fixes it,
/// so a test can look at a lease an hour on). How long a process has run is measured apart,
/// by the monotonic clock. A malformed `LOOP_NOW` was refused when the command started.
pub fn now() -> DateTime<Utc> {
    crate::clock::now().unwrap_or_else(|_| Utc::now())
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The state a ref holds, with the commit holding it.
pub fn read(repo: &Repository, refname: &str) -> Result<Option<(Oid, State)>> {
    let Ok(r) = repo.find_reference(refname) else { return Ok(None) };
    let commit = r.peel_to_commit()?;
    let entry = commit
        .tree()?
        .get_name(FILE)
        .ok_or_else(|| Error::Git(format!("{refname} ({}) holds no {FILE}", commit.id())))?
        .to_object(repo)?;
    let blob = entry.peel_to_blob()?;
    let state = serde_json::from_slice(blob.content()).map_err(|e| {
        Error::Git(format!(
            "{refname} ({}): {FILE} does not read ({e}); `loop state reset` starts it anew",
            commit.id()
        ))
    })?;
    Ok(Some((commit.id(), state)))
}

/// The state the loop is in, with the commit holding it to name as the parent of the next;
/// before any turn, the initial state and no parent. Every writer of the state starts here.
pub fn current(repo: &Repository) -> Result<(Option<Oid>, State)> {
    Ok(match read(repo, STATE_REF)? {
        Some((o, s)) => (Some(o), s),
        None => (None, State::initial(now())),
    })
}

/// Every state `refname` has held, newest first.
pub fn history(repo: &Repository, refname: &str) -> Result<Vec<State>> {
    let mut out = Vec::new();
    let Ok(r) = repo.find_reference(refname) else { return Ok(out) };
    let mut commit = Some(r.peel_to_commit()?);
    while let Some(c) = commit {
        if let Some(blob) =
            c.tree()?.get_name(FILE).and_then(|e| e.to_object(repo).ok()).and_then(|o| o.into_blob().ok())
        {
            if let Ok(s) = serde_json::from_slice(blob.content()) {
                out.push(s);
            }
        }
        commit = c.parent(0).ok();
    }
    Ok(out)
}

/// Make the commit that holds `state` on top of `parent`, and move `refname` to it only if it
/// still points at `parent` (or, for `None`, does not exist yet).
pub fn write(repo: &Repository, refname: &str, parent: Option<Oid>, state: &State, why: &str) -> Result<Oid> {
    let json = serde_json::to_string_pretty(state).unwrap_or_default() + "\n";
    let blob = repo.blob(json.as_bytes())?;
    let mut tb = repo.treebuilder(None)?;
    tb.insert(FILE, blob, 0o100644)?;
    let tree = repo.find_tree(tb.write()?)?;
    let sig = repo.signature().or_else(|_| git2::Signature::now("loop", "loop@localhost"))?;
    let parents: Vec<git2::Commit> = parent.map(|p| repo.find_commit(p)).transpose()?.into_iter().collect();
    let refs: Vec<&git2::Commit> = parents.iter().collect();
    let oid = repo.commit(None, &sig, &sig, &format!("loop state: {why}"), &tree, &refs)?;
    let moved = match parent {
        Some(p) => repo.reference_matching(refname, oid, true, p, why).map(|_| ()),
        None => repo.reference(refname, oid, false, why).map(|_| ()),
    };
    moved.map_err(|e| Error::Git(format!("{refname} changed while loop updated it ({}); try again", e.message())))?;
    Ok(oid)
}

/// The clone's name in claims: host and path, stable across restarts.
pub fn holder(workdir: &Path) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", workdir.display())
}
