//! `loop attempt`: append an attempt entry to a ledger item — a numbered bullet, or a
//! timestamped `###` entry in a single-initiative ledger — and optionally move the pointers
//! around it (task state, Next Actions, Status + Index row, Last Updated). Every change is a
//! byte splice; every other byte of every file stays as it was.

mod entry;
mod run;
mod target;

use target::{canonical_phase, check_phase, pick_item, task_list};

pub use run::last_run;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::focus;
use crate::insert::{attempt_insertion, next_action_insertion, outline_insertion, timestamped_insertion};
use crate::ledger::{self, Dialect};
use crate::markdown::splice;
use crate::model::Model;
use crate::plan::TaskState;
use crate::transaction::{self, change, Change};
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

/// Build every change the request asks for, reading the model; write nothing.
pub fn prepare(model: &Model, req: &Request) -> Result<Outcome> {
    entry::check_request(req)?;
    if model.ledger.dialect == Dialect::Absent {
        return Err(Error::input(&model.ledger.doc.file, 0, model.ledger.absent_help(model.ws.stated("ledger"))));
    }
    let mut req = req.clone();
    let mut warnings = Vec::new();
    let mut run_metrics = BTreeMap::new();
    let mut run_passed = false;
    if let Some(dir) = req.from_run.clone() {
        run_passed = run::from_run(model, &dir, &mut req, &mut run_metrics, &mut warnings)?;
    }
    let pointers_only = req.result.is_none()
        && (!req.tasks.is_empty() || req.status.is_some() || !req.next_actions.is_empty() || req.touch);
    if req.result.is_none() && !pointers_only {
        return Err(Error::Usage(if req.from_agent {
            "`result` is required (`task`/`status` alone move pointers only)".into()
        } else {
            "--result is required (or --from-run / --last-run; --task/--status/--next-action/--touch alone move pointers only)"
                .into()
        }));
    }
    let date = req.date.clone().unwrap_or_default();
    let now = crate::clock::now()?;
    if date.as_str() > crate::clock::date(&now).as_str() {
        warnings.push(format!(
            "{} {date} is after today ({}); recorded as given",
            req.field("date"),
            crate::clock::date(&now)
        ));
    }
    let ledger = &model.ledger;
    let item = pick_item(model, &req)?;
    let lpath = &ledger.doc.file;
    model.protected.check_writable(lpath)?;
    // Never write into a part of the ledger that could not be read.
    if let Some(d) = crate::diag::error_within(&ledger.diagnostics, &item.range) {
        return Err(Error::input(
            &d.file,
            d.line,
            format!("{}; [{}] cannot be written until it is fixed", d.message, item.id),
        ));
    }

    // Gates from the plan, when the item has one and the phase is known.
    let plan = focus::plan_for(model, item).ok();
    if let Some(ph) = req.phase.clone() {
        // `--phase b1`, `--phase 'Phase B'`: written as the plan spells it.
        let ph = canonical_phase(plan, item, &ph);
        if let Some(p) = &plan {
            check_phase(&req, p, item, &ph)?;
        }
        req.phase = Some(ph);
    }
    let gate_list = match (&plan, &req.phase) {
        (Some(p), Some(ph)) => gates::from_plan(p, ph),
        _ => Vec::new(),
    };
    if let Some(dir) = &req.from_run {
        let abs = if dir.is_absolute() { dir.clone() } else { model.ws.root.join(dir) };
        let rel = model.ws.relative(&abs)?;
        let section = &ledger.doc.text[item.range.clone()];
        if !req.again && section.contains(rel.trim_end_matches('/')) {
            return Err(Error::input(
                lpath,
                item.line,
                format!("[{}] already records the run {rel}; pass --again to record it twice", item.id),
            ));
        }
    }
    let (metric_text, gates_failed) = metric_texts(&req, &run_metrics, &gate_list);
    for a in &req.artifacts {
        check_artifact(model, a, &mut warnings)?;
    }

    // A run whose command succeeded and whose gates all pass finishes its task.
    if run_passed && !gates_failed && !req.no_task {
        if let Some(task) = &req.phase {
            let open = plan.and_then(|p| p.task(task)).map(|(_, t)| t.state != TaskState::Done).or_else(|| {
                item.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(task)).map(|t| t.state != TaskState::Done)
            });
            if open == Some(true) && !req.tasks.iter().any(|(id, _)| id.eq_ignore_ascii_case(task)) {
                req.tasks.push((task.clone(), TaskState::Done));
            }
        }
    }

    let parts = entry::Parts {
        date: &date,
        result: req.result.map_or("", ResultWord::as_str),
        phase: req.phase.as_deref(),
        metrics: &metric_text,
        artifacts: &req.artifacts,
        note: req.note.as_deref(),
        next: req.next.as_deref(),
    };
    let doc = &ledger.doc;
    let nl = doc.newline();
    let timestamped = ledger.dialect == Dialect::SingleInitiative;
    let (mut number, mut time) = (None, None);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let (at, text, entry) = if pointers_only {
        (0, String::new(), String::new())
    } else if timestamped {
        let t = format!("{date}T{}Z", now.format("%H:%M"));
        let lines = entry::timestamped(&t, &item.id, &parts);
        let (at, text) = timestamped_insertion(ledger, &lines, nl);
        time = Some(t);
        (at, text, lines[0].clone())
    } else if ledger.dialect == Dialect::Outline {
        // A list of its own, stamped by day as the outline's prose is dated.
        let sample = item.latest_attempt().and_then(|a| a.time.clone());
        let e = entry::stamped(&date, &now, sample.as_deref(), &parts);
        let (at, text) = outline_insertion(ledger, item, &e, nl);
        time = sample.map(|_| e.split(' ').next().unwrap_or("").to_string());
        (at, text, e)
    } else if let Some(last) = entry::stamped_list(item) {
        // The list's own form: stamped, unnumbered.
        let e = entry::stamped(&date, &now, last.time.as_deref(), &parts);
        let (at, text) = attempt_insertion(ledger, item, &e, nl);
        time = last.time.as_ref().map(|_| e.split(' ').next().unwrap_or("").to_string());
        (at, text, e)
    } else {
        let n = item.next_attempt_number().ok_or_else(|| {
            Error::input(lpath, item.line, format!("[{}] has used every attempt number there is", item.id))
        })?;
        number = Some(n);
        let e = entry::numbered(n, &parts);
        let (at, text) = attempt_insertion(ledger, item, &e, nl);
        (at, text, e)
    };
    if !pointers_only {
        edits.push((at..at, text.clone()));
    }
    if let Some(status) = &req.status {
        status_edits(ledger, item, status, &mut edits, &mut warnings)?;
    }
    for action in &req.next_actions {
        edits.push(next_action_insertion(ledger, item, action, nl)?);
    }
    if req.touch {
        let h = ledger
            .last_updated
            .as_ref()
            .ok_or_else(|| Error::input(lpath, 0, "no `**Last Updated:**` line to touch"))?;
        // The whole value: a note beside the old date ("(ralph loop i=510)") described that update.
        edits.push((h.value_range.clone(), date.clone()));
    }
    let mut task_notes = Vec::new();
    let plan_tasks: Vec<&(String, TaskState)> = req
        .tasks
        .iter()
        .filter(|(id, _)| {
            plan.is_some_and(|p| p.task(id).is_some()) || !item.tasks.iter().any(|t| t.id.eq_ignore_ascii_case(id))
        })
        .collect();
    for (id, state) in req.tasks.iter().filter(|t| !plan_tasks.contains(t)) {
        // A task the ledger's own checklist keeps (single-initiative ledgers).
        let t = item.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(id)).unwrap();
        if !t.checkbox {
            return Err(Error::input(
                lpath,
                t.line,
                format!(
                    "task {} keeps its state as `{}` in a table cell; loop ticks checkboxes only, so edit the cell by hand",
                    t.id,
                    doc.slice(&t.state_range).trim()
                ),
            ));
        }
        edits.push((t.state_range.clone(), state.checkbox().to_string()));
        task_notes.push(format!("{} {}", t.id, state.checkbox()));
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    for w in edits.windows(2) {
        if w[0].0.end > w[1].0.start {
            return Err(Error::Usage("two requested edits touch the same bytes".into()));
        }
    }
    let after = splice(&doc.text, &edits);
    entry::check_structure(ledger, &after, item, !pointers_only)?;
    // Where the entry landed in the new text: shift by the edits before it.
    let shift: isize =
        edits.iter().filter(|(r, _)| r.start < at).map(|(r, t)| t.len() as isize - (r.end - r.start) as isize).sum();
    let new_at = (at as isize + shift) as usize;
    let lead = text.len() - text.trim_start_matches(['\r', '\n']).len();
    let entry_start = new_at + lead;
    let entry_end = entry_start + entry.len();
    let line = if pointers_only { 0 } else { 1 + after[..entry_start].matches('\n').count() };
    let mut changes = Vec::new();
    if !edits.is_empty() {
        changes.push(change(&model.ws, lpath, &doc.text, after, &edits));
    }
    if !plan_tasks.is_empty() {
        let plan = plan.ok_or_else(|| Error::Usage(format!("{}: [{}] has no plan", req.field("task"), item.id)))?;
        model.protected.check_writable(&plan.path)?;
        let mut pedits = Vec::new();
        for (id, state) in plan_tasks {
            let (_, task) = plan.task(id).ok_or_else(|| {
                Error::input(
                    &plan.path,
                    0,
                    format!("{}: no task {id} in this plan ({})", req.field("task"), task_list(plan)),
                )
            })?;
            let cell = plan.doc.slice(&task.state_range);
            let len = MARKER.find(cell).map_or(0, |m| m.end());
            let r = task.state_range.start..task.state_range.start + len;
            let marker = if task.checklist { state.checkbox() } else { state.marker() };
            pedits.push((r, marker.to_string()));
            task_notes.push(format!("{} {marker}", task.id));
        }
        pedits.sort_by_key(|(r, _)| r.start);
        let after = splice(&plan.doc.text, &pedits);
        changes.push(change(&model.ws, &plan.path, &plan.doc.text, after, &pedits));
    }
    let byte_range = if pointers_only { [0, 0] } else { [entry_start, entry_end] };
    Ok(Outcome { item: item.id.clone(), number, time, line, entry, byte_range, changes, warnings, tasks: task_notes })
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
        None if ledger.dialect == Dialect::Sections => {
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
