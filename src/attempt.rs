//! `loop attempt`: append a numbered attempt entry to a ledger item, and optionally move the
//! pointers around it (task state, Next Actions, Status + Index row, Last Updated). Every change
//! is a byte splice; every other byte of every file stays as it was.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::focus;
use crate::insert::{attempt_insertion, next_action_insertion};
use crate::ledger;
use crate::markdown::splice;
use crate::model::Model;
use crate::plan::TaskState;
use crate::run_record::{RunRecord, LAST_RUN};
use crate::transaction::{self, change, Change};
use crate::workspace::Workspace;

static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d{4}-\d{2}-\d{2}").unwrap());
static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[[^\]]{0,3}\]").unwrap());

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
}

/// `C1=D`: a task and the state to give it (D, P, B, S for skipped, or empty for todo).
pub fn parse_task(s: &str) -> std::result::Result<(String, TaskState), String> {
    let (id, st) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected ID=STATE, e.g. C1=D"))?;
    let state = match st.trim() {
        "D" | "d" => TaskState::Done,
        "P" | "p" => TaskState::Partial,
        "B" | "b" => TaskState::Blocked,
        "" | " " | "todo" => TaskState::Todo,
        other => return Err(format!("`{other}`: state must be D, P, B or empty")),
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
    let ledger = ws.ledger_path();
    // Read, modify and write under one lock, so concurrent attempts get distinct numbers.
    let _lock = if ledger.is_file() { Some(crate::atomic::Lock::exclusive(&ledger)?) } else { None };
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
        transaction::apply(&model, &outcome.changes)?;
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
    /// 0 when only pointers moved (`--task`, `--status` … without `--result`).
    pub number: u32,
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

/// Text that goes into the ledger verbatim must not forge structure: a line break would start a
/// new entry, a `|` would split an Index row, a fence would swallow the rest of the file.
fn check_text(flag: &str, text: &str) -> Result<()> {
    let why = if text.contains(['\r', '\n']) {
        "contains a line break"
    } else if text.replace("\\|", "").contains('|') {
        "contains `|`, which would split a table row (write `\\|`)"
    } else if text.contains("```") || text.contains("~~~") {
        "opens a code fence"
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!("{flag} {why}; nothing written")))
}

fn check_request(req: &Request) -> Result<()> {
    let one = |flag: &str, v: &Option<String>| v.as_deref().map_or(Ok(()), |t| check_text(flag, t));
    one("--note", &req.note)?;
    one("--next", &req.next)?;
    one("--status", &req.status)?;
    one("--phase", &req.phase)?;
    for a in &req.next_actions {
        check_text("--next-action", a)?;
    }
    for (k, v) in &req.metrics {
        check_text("--metric", &format!("{k}={v}"))?;
    }
    for a in &req.artifacts {
        check_text("--artifact", a)?;
    }
    let mut ids = std::collections::BTreeSet::new();
    for (id, _) in &req.tasks {
        if !ids.insert(id.to_ascii_uppercase()) {
            return Err(Error::Usage(format!("--task {id} is given twice; give each task once")));
        }
    }
    Ok(())
}

/// Build every change the request asks for, reading the model; write nothing.
pub fn prepare(model: &Model, req: &Request) -> Result<Outcome> {
    check_request(req)?;
    let mut req = req.clone();
    let mut warnings = Vec::new();
    let mut run_metrics = BTreeMap::new();
    let mut run_passed = false;
    if let Some(dir) = req.from_run.clone() {
        run_passed = from_run(model, &dir, &mut req, &mut run_metrics, &mut warnings)?;
    }
    let pointers_only = req.result.is_none()
        && (!req.tasks.is_empty() || req.status.is_some() || !req.next_actions.is_empty() || req.touch);
    if req.result.is_none() && !pointers_only {
        return Err(Error::Usage(
            "--result is required (or --from-run / --last-run; --task/--status/--next-action/--touch alone move pointers only)"
                .into(),
        ));
    }
    let result = req.result.map_or("", ResultWord::as_str);
    let date = req.date.clone().unwrap_or_default();
    let ledger = &model.ledger;
    let item = pick_item(model, &req)?;
    let lpath = &ledger.doc.file;
    model.protected.check_writable(lpath)?;

    // Gates from the plan, when the item has one and the phase is known.
    let plan = focus::plan_for(model, item).ok();
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
    let mut metric_text = Vec::new();
    let mut gates_failed = false;
    let mut seen = std::collections::BTreeSet::new();
    let cli_metrics: Vec<(String, String)> = req.metrics.clone();
    let all: Vec<(String, String)> =
        cli_metrics.into_iter().chain(run_metrics.iter().map(|(k, v)| (k.clone(), gates::fmt_num(*v)))).collect();
    for (k, v) in all {
        if !seen.insert(k.clone()) {
            continue;
        }
        let mut s = format!("{k}={v}");
        if let Some(x) = gates::parse_number(&v) {
            let one: BTreeMap<String, f64> = [(k.clone(), x)].into_iter().collect();
            if let Some(verdict) = gates::evaluate(&gate_list, &one).first() {
                gates_failed |= !verdict.pass;
                let mark = if verdict.pass { "✅" } else { "❌" };
                s.push_str(&format!(" {mark} (threshold {})", verdict.gate.describe()));
            }
        }
        metric_text.push(s);
    }
    for a in &req.artifacts {
        check_artifact(model, a, &mut warnings)?;
    }

    // A run whose command succeeded and whose gates all pass finishes its task.
    if run_passed && !gates_failed && !req.no_task {
        if let (Some(p), Some(task)) = (&plan, &req.phase) {
            if p.task(task).is_some_and(|(_, t)| t.state != TaskState::Done)
                && !req.tasks.iter().any(|(id, _)| id.eq_ignore_ascii_case(task))
            {
                req.tasks.push((task.clone(), TaskState::Done));
            }
        }
    }

    let number = if pointers_only { 0 } else { item.next_attempt_number() };
    let mut entry = format!("[{date}] Attempt #{number} — Result: {result}");
    if let Some(p) = &req.phase {
        entry.push_str(&format!(" (Phase {p})"));
    }
    entry.push('.');
    if !metric_text.is_empty() {
        entry.push_str(&format!(" {}.", metric_text.join(", ")));
    }
    if !req.artifacts.is_empty() {
        let list: Vec<String> = req.artifacts.iter().map(|a| format!("`{a}`")).collect();
        entry.push_str(&format!(" Artifacts: {}.", list.join(", ")));
    }
    if let Some(n) = &req.note {
        entry.push_str(&format!(" Observations: {}", sentence(n)));
    }
    if let Some(n) = &req.next {
        entry.push_str(&format!(" Next: {}", sentence(n)));
    }
    if entry.contains('\n') {
        return Err(Error::Usage("attempt text may not contain line breaks".into()));
    }

    let doc = &ledger.doc;
    let nl = doc.newline();
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let (at, text) = if pointers_only { (0, String::new()) } else { attempt_insertion(ledger, item, &entry, nl) };
    if !pointers_only {
        edits.push((at..at, text.clone()));
    }
    if let Some(status) = &req.status {
        let f = item.field("Status").ok_or_else(|| {
            Error::input(lpath, item.line, format!("[{}] has no `- Status:` field to update", item.id))
        })?;
        edits.push((f.value_range.clone(), status.clone()));
        match ledger.index.iter().find(|r| r.id.eq_ignore_ascii_case(&item.id)) {
            Some(row) => match &row.status_range {
                Some(r) => edits.push((r.clone(), status.clone())),
                None => warnings.push(format!("{lpath}:{}: Index row has no Status column", row.line)),
            },
            None => {
                warnings.push(format!("{lpath}: [{}] has no Index row; only its Status field was updated", item.id))
            }
        }
    }
    for action in &req.next_actions {
        edits.push(next_action_insertion(ledger, item, action, nl)?);
    }
    if req.touch {
        let h = ledger
            .last_updated
            .as_ref()
            .ok_or_else(|| Error::input(lpath, 0, "no `**Last Updated:**` line to touch"))?;
        let value = &doc.text[h.value_range.clone()];
        let (range, new) = match DATE.find(value) {
            Some(m) => (h.value_range.start + m.start()..h.value_range.start + m.end(), date.clone()),
            None => (h.value_range.clone(), date.clone()),
        };
        edits.push((range, new));
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    for w in edits.windows(2) {
        if w[0].0.end > w[1].0.start {
            return Err(Error::Usage("two requested edits touch the same bytes".into()));
        }
    }
    let after = splice(&doc.text, &edits);
    // Where the entry landed in the new text: shift by the edits before it.
    let shift: isize =
        edits.iter().filter(|(r, _)| r.start < at).map(|(r, t)| t.len() as isize - (r.end - r.start) as isize).sum();
    let new_at = (at as isize + shift) as usize;
    let lead = text.len() - text.trim_start_matches(['\r', '\n']).len();
    let entry_start = new_at + lead;
    let entry_end = new_at + text.trim_end_matches(['\r', '\n']).len();
    let line = if pointers_only { 0 } else { 1 + after[..entry_start].matches('\n').count() };
    let mut changes = Vec::new();
    if !edits.is_empty() {
        changes.push(change(model, lpath, &doc.text, after, &edits));
    }
    let mut task_notes = Vec::new();

    if !req.tasks.is_empty() {
        let plan = plan.ok_or_else(|| Error::Usage(format!("--task: [{}] has no plan", item.id)))?;
        model.protected.check_writable(&plan.path)?;
        let mut pedits = Vec::new();
        for (id, state) in &req.tasks {
            let (_, task) = plan
                .task(id)
                .ok_or_else(|| Error::input(&plan.path, 0, format!("--task: no task {id} in this plan")))?;
            let cell = plan.doc.slice(&task.state_range);
            let len = MARKER.find(cell).map_or(0, |m| m.end());
            let r = task.state_range.start..task.state_range.start + len;
            pedits.push((r, state.marker().to_string()));
            task_notes.push(format!("{} {}", task.id, state.marker()));
        }
        pedits.sort_by_key(|(r, _)| r.start);
        let after = splice(&plan.doc.text, &pedits);
        changes.push(change(model, &plan.path, &plan.doc.text, after, &pedits));
    }
    let (entry, byte_range) = if pointers_only { (String::new(), [0, 0]) } else { (entry, [entry_start, entry_end]) };
    Ok(Outcome { item: item.id.clone(), number, line, entry, byte_range, changes, warnings, tasks: task_notes })
}

fn sentence(s: &str) -> String {
    let s = s.trim();
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

fn pick_item<'m>(model: &'m Model, req: &Request) -> Result<&'m ledger::Item> {
    let ledger = &model.ledger;
    let id = match &req.item {
        Some(id) => id.clone(),
        None => focus::focus(model, None)?.0.id.clone(),
    };
    let found = ledger.find(&id);
    if let Some(line) = req.line {
        return found
            .into_iter()
            .find(|i| i.line == line)
            .ok_or_else(|| Error::input(&ledger.doc.file, line, format!("no [{id}] item heading on this line")));
    }
    match found.as_slice() {
        [] => Err(focus::unknown_item(model, &id)),
        [one] => Ok(one),
        many => Err(Error::input(
            &ledger.doc.file,
            many[1].line,
            format!(
                "item [{id}] appears {} times (lines {}); choose one with --line N",
                many.len(),
                many.iter().map(|i| i.line.to_string()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
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

/// Fill the request from a run folder; true when the run's command succeeded.
fn from_run(
    model: &Model,
    dir: &Path,
    req: &mut Request,
    metrics: &mut BTreeMap<String, f64>,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let abs = if dir.is_absolute() { dir.to_path_buf() } else { model.ws.root.join(dir) };
    let rec = RunRecord::load(&abs)?;
    req.item.get_or_insert(rec.item.clone());
    if req.phase.is_none() {
        req.phase = rec.task.clone().or(rec.phase.clone());
    }
    req.result.get_or_insert(if rec.exit_code == 0 { ResultWord::Success } else { ResultWord::Failed });
    let rel = model.ws.relative(&abs)?;
    let mut files = vec![format!("{rel}/run.json")];
    for sub in ["", "profile/", "hotspots/"] {
        for f in ["metrics.json", "summary.md", "trace.json", "hot_loops.csv"] {
            if abs.join(sub).join(f).is_file() {
                files.push(format!("{rel}/{sub}{f}"));
            }
        }
    }
    req.artifacts.splice(0..0, files);
    if let Some(log) = &rec.blocked_log {
        req.artifacts.push(log.clone());
    }
    if rec.exit_code != 0 && req.note.is_none() {
        req.note = Some(format!(
            "exit code {}{} after {:.1} s; see the If-Blocked log",
            rec.exit_code,
            if rec.interrupted { " (interrupted)" } else { "" },
            rec.duration_s
        ));
    }
    if let Some((_, found)) = gates::run_metrics(&abs)? {
        metrics.extend(found);
    }
    if metrics.is_empty() {
        warnings.push(format!("{rel}: no metrics.json; the entry records no metrics"));
    }
    Ok(rec.exit_code == 0 && !rec.interrupted)
}

/// The run folder `loop next --run` wrote last.
pub fn last_run(model: &Model) -> Result<PathBuf> {
    let p = model.ws.path(&model.ws.config.reports).join(LAST_RUN);
    let text = std::fs::read_to_string(&p).map_err(|_| {
        Error::Usage(format!("--last-run: no run recorded yet ({} missing); run `loop next --run`", p.display()))
    })?;
    Ok(PathBuf::from(text.trim()))
}
