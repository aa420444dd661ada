//! `loop attempt`: append an attempt entry to a ledger item — a numbered bullet, or a
//! timestamped `###` entry in a single-initiative ledger — and optionally move the pointers
//! around it (task state, Next Actions, Status + Index row, Last Updated). Every change is a
//! byte splice; every other byte of every file stays as it was.

mod entry;
mod prepare;
mod run;
mod target;

pub use prepare::prepare;

pub use run::last_run;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::ledger;
use crate::model::Model;
use crate::plan::TaskState;
use crate::transaction::{self, Change};
use crate::workspace::Workspace;

static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[[^\]]{0,9}\]").unwrap());

named_enum!(
    /// What an attempt came to.
    ResultWord {
        Success = "success",
        Failed = "failed",
        Partial = "partial",
        Blocked = "blocked",
        Planning = "planning",
    }
);

/// One `loop attempt`, from the command line or an agent: what to record and which pointers to move.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub item: Option<String>,
    pub line: Option<usize>,
    pub result: Option<ResultWord>,
    pub phase: Option<String>,
    pub metrics: Vec<(String, String)>,
    pub artifacts: Vec<String>,
    pub note: Option<String>,
    pub next: Option<String>,
    /// `YYYY-MM-DD`; today (UTC, `LOOP_NOW` honoured) when not given.
    pub date: Option<String>,
    pub from_run: Option<PathBuf>,
    /// Take `from_run` from the last `loop next --run` (`reports/.last_run`).
    pub last_run: bool,
    pub tasks: Vec<(String, TaskState)>,
    pub next_actions: Vec<String>,
    pub status: Option<String>,
    pub touch: bool,
    /// With a run folder whose gates pass: do not mark its task `[D]`.
    pub no_task: bool,
    /// Record a run folder that an earlier attempt already recorded.
    pub again: bool,
    /// Build the change and its diff; write nothing.
    pub dry_run: bool,
    /// Name the request's fields in messages as an MCP tool's arguments (`note`), not as
    /// command-line options (`--note`).
    pub from_agent: bool,
}

impl Request {
    /// How a message names the field `name` (spelled as its command-line option).
    pub fn field(&self, name: &str) -> String {
        if self.from_agent {
            format!("`{}`", name.replace('-', "_"))
        } else {
            format!("--{name}")
        }
    }
}

/// `C1=D`: a task and the state to give it (D, P, B, S for skipped, or empty for todo).
pub fn parse_task(s: &str) -> std::result::Result<(String, TaskState), String> {
    let (id, st) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected ID=STATE, e.g. C1=D"))?;
    let state = match st.trim() {
        "D" | "d" => TaskState::Done,
        "P" | "p" => TaskState::Partial,
        "B" | "b" => TaskState::Blocked,
        "S" | "s" | "-" | "SKIP" | "skip" => TaskState::Skipped,
        "" | " " | "todo" => TaskState::Todo,
        other => return Err(format!("`{other}`: state must be D, P, B, S (skipped) or empty")),
    };
    if id.trim().is_empty() {
        return Err(format!("`{s}`: no task ID before `=`"));
    }
    Ok((id.trim().to_string(), state))
}

/// What `record` did (or, for a dry run, would do).
#[derive(Debug)]
pub struct Recorded {
    pub outcome: Outcome,
    /// The ledger's path, relative to the root.
    pub ledger: String,
    /// The unified diff of a dry run (nothing was written).
    pub diff: Option<String>,
}

impl Recorded {
    /// The `--json` form (docs/json.md).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.diff {
            Some(d) => serde_json::json!({"dry_run": true, "attempt": &self.outcome, "diff": d}),
            None => serde_json::to_value(&self.outcome).unwrap_or_default(),
        }
    }
}

/// Record an attempt: lock the ledger, read the workspace, build every change, write all or none.
pub fn record(ws: Workspace, req: &Request) -> Result<Recorded> {
    // Read, modify and write under one lock, so concurrent attempts get distinct numbers.
    let _lock = crate::atomic::WorkspaceLock::acquire(&ws.root)?;
    let model = Model::load(ws)?;
    let mut req = req.clone();
    let date = match &req.date {
        Some(d) => check_date(d)?,
        None => crate::clock::date(&crate::clock::now()?),
    };
    req.date = Some(date);
    if req.last_run && req.from_run.is_none() {
        req.from_run = Some(last_run(&model)?);
    }
    let outcome = prepare(&model, &req)?;
    let diff = if req.dry_run { Some(transaction::diff(&outcome.changes)) } else { None };
    if diff.is_none() {
        transaction::apply(&model.ws, &model.protected, &outcome.changes)?;
    }
    Ok(Recorded { outcome, ledger: model.ledger.doc.file.clone(), diff })
}

/// A `YYYY-MM-DD` date that exists, written with both digits of month and day (the form the
/// ledger's readers find).
pub fn check_date(d: &str) -> Result<String> {
    let shaped = d.len() == 10
        && d.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped || chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
        return Err(Error::Usage(format!("--date {d}: expected a date written YYYY-MM-DD, e.g. 2026-01-05")));
    }
    Ok(d.to_string())
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub item: String,
    /// The new entry's number; `null` when only pointers moved (`--task`, `--status` … without
    /// `--result`) or the entry is a timestamped one.
    pub number: Option<u64>,
    /// A timestamped entry's time (`2026-01-05T15:30Z`).
    pub time: Option<String>,
    /// 1-based line of the new entry in the written ledger.
    pub line: usize,
    pub entry: String,
    /// Byte range of the new entry (its whole line) in the written ledger.
    pub byte_range: [usize; 2],
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    /// Tasks whose state this attempt set, e.g. `C1 [D]`.
    pub tasks: Vec<String>,
}

/// The metrics as the entry writes them, each checked against the plan's gates: the texts,
/// and whether a gate failed.
fn metric_texts(req: &Request, run_metrics: &BTreeMap<String, f64>, gate_list: &[gates::Gate]) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut failed = false;
    let mut seen = std::collections::BTreeSet::new();
    let all = req.metrics.iter().cloned().chain(run_metrics.iter().map(|(k, v)| (k.clone(), gates::fmt_num(*v))));
    for (k, v) in all {
        if !seen.insert(k.clone()) {
            continue;
        }
        let mut s = format!("{k}={v}");
        if let Some(x) = gates::parse_number(&v) {
            let one: BTreeMap<String, f64> = [(k.clone(), x)].into_iter().collect();
            if let Some(verdict) = gates::evaluate(gate_list, &one).first() {
                failed |= !verdict.pass;
                let mark = if verdict.pass { "✅" } else { "❌" };
                s.push_str(&format!(" {mark} (threshold {})", verdict.gate.describe()));
            }
        }
        out.push(s);
    }
    (out, failed)
}

/// `--status`: the item's Status field and its Index row (whose cell gets `|` escaped).
fn status_edits(
    ledger: &ledger::Ledger,
    item: &ledger::Item,
    status: &str,
    edits: &mut Vec<(Range<usize>, String)>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let lpath = &ledger.doc.file;
    let f = item
        .field("Status")
        .ok_or_else(|| Error::input(lpath, item.line, format!("[{}] has no `- Status:` field to update", item.id)))?;
    edits.push((f.value_range.clone(), status.to_string()));
    match ledger.index.iter().find(|r| ledger::ids_equal(&r.id, &item.id)) {
        Some(row) => match &row.status_range {
            Some(r) => edits.push((r.clone(), entry::cell(status))),
            None => warnings.push(format!("{lpath}:{}: Index row has no Status column", row.line)),
        },
        None if ledger.reader().keeps_index() => {
            warnings.push(format!("{lpath}: [{}] has no Index row; only its Status field was updated", item.id))
        }
        None => {}
    }
    Ok(())
}

fn check_artifact(model: &Model, a: &str, warnings: &mut Vec<String>) -> Result<()> {
    let path = Path::new(a.split('{').next().unwrap_or(a));
    model.ws.relative(path).map_err(|_| {
        Error::input(a, 0, format!("artifact path is outside the workspace {}; refusing", model.ws.root.display()))
    })?;
    if !model.ws.root.join(path).exists() {
        warnings.push(format!("artifact {a} does not exist (yet); recorded anyway"));
    }
    Ok(())
}
