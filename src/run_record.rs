//! A run's record (`run.json`): what `loop next --run` ran, where, when and with which result.
//! Plain data that the runner writes and the decision, `attempt` and `gate check` read.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where the last run's folder is remembered, under the reports folder, for `attempt --last-run`.
pub const LAST_RUN: &str = ".last_run";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvInfo {
    pub os: String,
    pub cpus: usize,
    pub loop_version: String,
}

/// `run.json`: everything needed to reproduce and record a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub item: String,
    pub plan: Option<String>,
    pub phase: Option<String>,
    pub task: Option<String>,
    pub command: String,
    /// The command as written (stamp unfilled) and where: `input.md:7`, `plans/x.md:24`.
    #[serde(default)]
    pub command_template: Option<String>,
    #[serde(default)]
    pub command_from: Option<String>,
    /// The digest of the memo's Do Now this run did (`next::digest`), when it was the memo's.
    #[serde(default)]
    pub memo_step: Option<String>,
    pub cwd: String,
    pub stamp: String,
    pub artifacts: String,
    pub start: String,
    pub end: String,
    pub duration_s: f64,
    pub exit_code: i32,
    pub interrupted: bool,
    /// Ended by loop at a turn's time limit.
    #[serde(default)]
    pub timed_out: bool,
    /// The signal that stopped the step (`SIGINT` when loop was interrupted), if one did.
    #[serde(default)]
    pub signal: Option<String>,
    pub blocked_log: Option<String>,
    pub git: Option<crate::git::GitInfo>,
    pub env: EnvInfo,
}

impl RunRecord {
    /// Whether the step itself ended on the interrupt (a shell's 130, or killed by the signal),
    /// rather than handling it and exiting with a code of its own.
    pub fn ended_by_interrupt(&self) -> bool {
        self.interrupted && (self.exit_code == 130 || self.exit_code == 137 || self.exit_code < 0)
    }

    /// How a failed (or interrupted) run ended, in words: what the entry and `loop next --run` say.
    pub fn failure(&self) -> String {
        let how = match (self.exit_code, self.interrupted, &self.signal) {
            _ if self.timed_out => format!("ended at the turn's time limit (exit code {})", self.exit_code),
            (_, true, _) if self.ended_by_interrupt() => "interrupted".to_string(),
            (code, true, _) => format!("interrupted; the step handled it and exited {code}"),
            (127, _, _) => format!(
                "exit code 127: a program was not found ({}) — is the environment active?",
                program_of(&self.command)
            ),
            (126, _, _) => "exit code 126: a program could not be executed (permissions?)".to_string(),
            (code, _, Some(sig)) => format!("exit code {code} ({sig})"),
            (code, _, None) => format!("exit code {code}"),
        };
        let took =
            if self.duration_s < 0.05 { "at once".to_string() } else { format!("after {:.1} s", self.duration_s) };
        format!("{how}, {took}")
    }

    pub fn load(dir: &Path) -> Result<RunRecord> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::input(path.display().to_string(), e.line(), format!("not a run.json: {e}")))
    }
}

/// The first program a command line runs (after `NAME=value` words and `env`).
fn program_of(command: &str) -> String {
    crate::shell::parse(command)
        .ok()
        .and_then(|s| s.commands.into_iter().find(|c| !c.words.is_empty()))
        .and_then(|c| c.words.into_iter().find(|w| w != "env" && !crate::shell::is_assignment(w)))
        .unwrap_or_else(|| command.split_whitespace().next().unwrap_or("").to_string())
}
