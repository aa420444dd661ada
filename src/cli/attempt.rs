//! `loop attempt`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use super::{out, out_json, warn, Cli};
use ledger_loop::attempt::{self, ResultWord};
use ledger_loop::error::Result;
use ledger_loop::plan::TaskState;
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args, Default)]
pub struct AttemptArgs {
    /// Ledger item ID (default: the focus item, chosen as `loop next` does).
    pub item: Option<String>,
    /// The attempt's result: success, failed, partial, blocked or planning.
    #[arg(long, value_parser = result_parser())]
    pub result: Option<ResultWord>,
    /// Phase or task this attempt worked on, e.g. C1.
    #[arg(long)]
    pub phase: Option<String>,
    /// A metric, repeatable: --metric corr_warm=0.721175
    #[arg(long = "metric", value_name = "KEY=VALUE", value_parser = parse_metric)]
    pub metrics: Vec<(String, String)>,
    /// An artifact pointer (inside the workspace), repeatable.
    #[arg(long = "artifact", value_name = "PATH")]
    pub artifacts: Vec<String>,
    /// Observations.
    #[arg(long)]
    pub note: Option<String>,
    /// What comes next, in the entry's own text.
    #[arg(long)]
    pub next: Option<String>,
    /// Entry date, YYYY-MM-DD (default: today, UTC; LOOP_NOW overrides the clock).
    #[arg(long)]
    pub date: Option<String>,
    /// Take item, phase, result, artifacts and metrics from a run folder of `loop next --run`.
    #[arg(long, value_name = "DIR", conflicts_with = "last_run")]
    pub from_run: Option<PathBuf>,
    /// Like --from-run with the folder of the last `loop next --run`.
    #[arg(long)]
    pub last_run: bool,
    /// Set a plan task's state, repeatable: --task C1=D (D, P, B or ' ').
    #[arg(long = "task", value_name = "ID=STATE", value_parser = parse_task)]
    pub tasks: Vec<(String, TaskState)>,
    /// Append an entry to the item's Next Actions list, repeatable.
    #[arg(long = "next-action", value_name = "TEXT")]
    pub next_actions: Vec<String>,
    /// Set the item's Status field and its Index row.
    #[arg(long)]
    pub status: Option<String>,
    /// Set the ledger's **Last Updated:** date to the entry date.
    #[arg(long)]
    pub touch: bool,
    /// With --from-run/--last-run: do not mark the run's task [D] even when its gates pass.
    #[arg(long)]
    pub no_task: bool,
    /// Record a run folder that an earlier attempt already recorded.
    #[arg(long)]
    pub again: bool,
    /// Which of several same-ID items: the line of its heading.
    #[arg(long, value_name = "N")]
    pub line: Option<usize>,
    /// Print the unified diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the entry, its byte range and every edit as JSON.
    #[arg(long)]
    pub json: bool,
}

fn result_parser() -> impl TypedValueParser<Value = ResultWord> {
    PossibleValuesParser::new(ResultWord::NAMES).map(|s| s.parse::<ResultWord>().expect("a listed name"))
}

fn parse_metric(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(format!("`{s}`: expected KEY=VALUE")),
    }
}

fn parse_task(s: &str) -> std::result::Result<(String, TaskState), String> {
    attempt::parse_task(s)
}

impl AttemptArgs {
    fn request(&self) -> attempt::Request {
        attempt::Request {
            item: self.item.clone(),
            line: self.line,
            result: self.result,
            phase: self.phase.clone(),
            metrics: self.metrics.clone(),
            artifacts: self.artifacts.clone(),
            note: self.note.clone(),
            next: self.next.clone(),
            date: self.date.clone(),
            from_run: self.from_run.clone(),
            last_run: self.last_run,
            tasks: self.tasks.clone(),
            next_actions: self.next_actions.clone(),
            status: self.status.clone(),
            touch: self.touch,
            no_task: self.no_task,
            again: self.again,
            dry_run: self.dry_run,
            from_agent: false,
        }
    }
}

pub(super) fn cmd_attempt(cli: &Cli, a: &AttemptArgs) -> Result<ExitCode> {
    let done = attempt::record(Workspace::find(cli.root.as_deref())?, &a.request())?;
    for w in &done.outcome.warnings {
        warn(w);
    }
    if a.json {
        out_json(&done.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(d) = &done.diff {
        out(d);
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = &done.outcome;
    let files: Vec<&str> = outcome.changes.iter().map(|c| c.file.as_str()).collect();
    let what = match (&outcome.number, &outcome.time) {
        (Some(n), _) => Some(format!("Attempt #{n}")),
        (None, Some(t)) => Some(format!("attempt {t}")),
        (None, None) => None,
    };
    let mut s = match what {
        None => format!("[{}] pointers moved in {}\n", outcome.item, files.join(", ")),
        Some(what) => format!(
            "[{}] {what} appended at {}:{}{}\n",
            outcome.item,
            done.ledger,
            outcome.line,
            if files.len() > 1 { format!(" (also changed {})", files[1..].join(", ")) } else { String::new() }
        ),
    };
    if !outcome.tasks.is_empty() {
        s.push_str(&format!("task {} set\n", outcome.tasks.join(", ")));
    }
    out(&s);
    Ok(ExitCode::SUCCESS)
}
