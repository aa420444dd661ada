//! A turn's journal: `journal.json` in its run folder, replaced atomically at each phase
//! (claimed → running → recorded → committed → pushed → done), so that a restart after a crash
//! knows what was finished. `run.json` is the same record once the turn is done.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::agent::Proc;
use super::changes::Review;
use super::config::RoleName;
use super::events::Usage;
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::workspace::Workspace;

named_enum!(
    /// How far a turn got.
    Phase {
        Claimed = "claimed",
        Running = "running",
        Recorded = "recorded",
        Committed = "committed",
        Pushed = "pushed",
        Done = "done",
    }
);

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mark {
    pub phase: Phase,
    pub at: String,
}

/// A check the turn ran itself after the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub command: String,
    pub exit_code: Option<i32>,
    pub log: String,
}

/// What the turn's work came to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Work {
    pub outcome: Outcome,
    /// In words: what ran and how it ended.
    pub detail: String,
    pub exit_code: Option<i32>,
    pub duration_s: f64,
    /// Tokens and cost, as the agent's CLI reported them (or priced by `prices:`).
    #[serde(flatten, default)]
    pub usage: Usage,
    /// What the agent asked for and was refused (its permissions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    /// The provider, not the agent, ended the work: no attempt, the turn is taken again.
    #[serde(default)]
    pub provider: bool,
    /// When a usage limit resets, as the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
    /// The ledger item and task the engineer worked on.
    pub item: Option<String>,
    pub task: Option<String>,
    /// `command` (loop ran the step), `agent` (a manual step or the supervisor), `builtin`.
    pub by: String,
    /// The step's run folder, when loop ran a command.
    pub run_folder: Option<String>,
    pub verify: Vec<Check>,
    /// A task changed state or an attempt beside loop's own was added.
    pub progress: bool,
}

/// The step the engineer took on, fixed when the turn starts (a resumed turn keeps it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub item: String,
    pub task: Option<String>,
    pub blocked: Option<String>,
    pub manual: bool,
    pub command: Option<String>,
    pub verify: Vec<String>,
    pub artifacts: String,
    /// Attempts in the ledger and task states when the turn started: progress is measured against them.
    pub attempts_before: usize,
    pub tasks_before: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub turn: String,
    pub role: RoleName,
    pub iteration: u64,
    pub holder: String,
    /// The run folder, relative to the root.
    pub dir: String,
    /// The agent's output, relative to the root.
    pub log: String,
    pub sync: bool,
    /// HEAD when the turn was claimed.
    pub base: String,
    pub started_at: String,
    pub phases: Vec<Mark>,
    /// The process running now (agent or check), to find again after a crash.
    pub proc: Option<Proc>,
    /// The engineer's step, fixed at the start.
    pub step: Option<Step>,
    /// Engineer turns without progress before this one (from the state it claimed).
    pub idle_before: u32,
    pub work: Option<Work>,
    pub review: Option<Review>,
    pub commit: Option<String>,
    /// The attempt loop recorded: `docs/fix_plan.md:123`.
    pub attempt: Option<String>,
    /// How the turn ended, once it has.
    pub outcome: Option<Outcome>,
}

impl Journal {
    pub fn reached(&self, p: Phase) -> bool {
        self.phases.iter().any(|m| m.phase == p)
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome.or(self.work.as_ref().map(|w| w.outcome)).unwrap_or(Outcome::Interrupted)
    }

    /// The turn is to be taken again by the same role: its work did not happen (the provider
    /// failed, a limit, an interrupt), it changed what it may not, or a check could not run.
    pub fn stays(&self) -> bool {
        self.outcome().stays() || self.work.as_ref().is_some_and(|w| w.provider)
    }

    pub fn path(&self, ws: &Workspace) -> PathBuf {
        ws.root.join(&self.dir).join("journal.json")
    }

    /// Replace the journal on disk (temp file + rename).
    pub fn save(&self, ws: &Workspace) -> Result<()> {
        let path = self.path(ws);
        let json = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        crate::atomic::write(&path, json.as_bytes())
    }

    /// Note that a phase is complete, on disk before anything that depends on it, then tell
    /// the sink (after the save, so whoever listens sees what a crash from here would leave).
    pub fn mark(&mut self, ws: &Workspace, sink: &dyn Progress, p: Phase) -> Result<()> {
        if !self.reached(p) {
            self.phases.push(Mark { phase: p, at: super::state::rfc3339(super::state::now()) });
        }
        self.save(ws)?;
        sink.journaled(&self.turn, p.as_str());
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Journal> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::input(path.display().to_string(), e.line(), format!("not a turn journal: {e}")))
    }
}

/// The file naming a role's unfinished turn in this clone.
pub fn pointer(ws: &Workspace, role: RoleName) -> PathBuf {
    ws.path(&ws.config.reports.dir).join("turns").join(format!(".current-{role}"))
}

/// This clone's unfinished turn of `role`, if a crash left one.
pub fn unfinished(ws: &Workspace, role: RoleName) -> Result<Option<Journal>> {
    let p = pointer(ws, role);
    let Ok(dir) = std::fs::read_to_string(&p) else { return Ok(None) };
    let j = Journal::load(&ws.root.join(dir.trim()).join("journal.json"))?;
    Ok((!j.reached(Phase::Done)).then_some(j))
}

/// Point at (or, with `None`, clear) the role's unfinished turn.
pub fn set_pointer(ws: &Workspace, role: RoleName, dir: Option<&str>) -> Result<()> {
    let p = pointer(ws, role);
    match dir {
        Some(d) => {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            crate::atomic::write(&p, format!("{d}\n").as_bytes())
        }
        None => match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&p, e)),
            _ => Ok(()),
        },
    }
}

/// Every finished turn of this clone, oldest first.
pub fn finished(ws: &Workspace) -> Vec<Journal> {
    let dir = ws.path(&ws.config.reports.dir).join("turns");
    let mut out: Vec<Journal> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Journal::load(&e.path().join("run.json")).ok())
        .collect();
    out.sort_by(|a, b| (a.iteration, &a.started_at).cmp(&(b.iteration, &b.started_at)));
    out
}
