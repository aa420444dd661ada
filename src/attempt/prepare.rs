//! Building an attempt's changes from the request, in steps — the request checked, the item and
//! its plan's gates, the entry in the ledger's own form, the pointers (status, Next Actions,
//! Last Updated, task states) — then spliced and checked; nothing is written here.

use std::collections::BTreeMap;
use std::ops::Range;

use super::entry;
use super::run;
use super::target::{canonical_phase, check_phase, pick_item, task_list};
use super::{check_artifact, metric_texts, status_edits, Outcome, Request, ResultWord, MARKER};
use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::focus;
use crate::insert::{attempt_insertion, next_action_insertion, outline_insertion, timestamped_insertion};
use crate::ledger::reader::AttemptForm;
use crate::ledger::{self, Dialect};
use crate::markdown::splice;
use crate::model::Model;
use crate::plan::{Plan, TaskState};
use crate::transaction::{change, Change};

/// What a run folder told, when the request names one.
#[derive(Default)]
struct FromRun {
    metrics: BTreeMap<String, f64>,
    /// The run's command succeeded.
    passed: bool,
}

/// Where the new entry goes and what it says; empty when only pointers move.
#[derive(Default)]
struct Insertion {
    at: usize,
    /// What is spliced in: the entry with the line breaks around it.
    text: String,
    entry: String,
    number: Option<u64>,
    time: Option<String>,
}

/// Build every change the request asks for, reading the model; write nothing.
pub fn prepare(model: &Model, req: &Request) -> Result<Outcome> {
    let mut warnings = Vec::new();
    let (mut req, from_run) = checked_request(model, req, &mut warnings)?;
    let pointers_only = req.result.is_none();
    let item = pick_item(model, &req)?;
    let ledger = &model.ledger;
    model.protected.check_writable(&ledger.doc.file)?;
    // Never write into a part of the ledger that could not be read.
    if let Some(d) = crate::diag::error_within(&ledger.diagnostics, &item.range) {
        let why = format!("{}; [{}] cannot be written until it is fixed", d.message, item.id);
        return Err(Error::input(&d.file, d.line, why));
    }
    let plan = focus::plan_for(model, item).ok();
    let gate_list = phase_and_gates(model, &mut req, item, plan)?;
    let (metric_text, gates_failed) = metric_texts(&req, &from_run.metrics, &gate_list);
    for a in &req.artifacts {
        check_artifact(model, a, &mut warnings)?;
    }
    // A run whose command succeeded and whose gates all pass finishes its task.
    if from_run.passed && !gates_failed && !req.no_task {
        finish_task(&mut req, item, plan);
    }
    let date = req.date.clone().unwrap_or_default();
    let ins = match pointers_only {
        true => Insertion::default(),
        false => insertion(model, &req, item, &date, &metric_text)?,
    };
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    if !pointers_only {
        edits.push((ins.at..ins.at, ins.text.clone()));
    }
    let mut task_notes = Vec::new();
    pointer_edits(model, &req, item, plan, &date, &mut edits, &mut task_notes, &mut warnings)?;
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    if edits.windows(2).any(|w| w[0].0.end > w[1].0.start) {
        return Err(Error::Usage("two requested edits touch the same bytes".into()));
    }
    let doc = &ledger.doc;
    let after = splice(&doc.text, &edits);
    entry::check_structure(ledger, &after, item, !pointers_only)?;
    // Where the entry landed in the new text: shift by the edits before it.
    let shift: isize = edits
        .iter()
        .filter(|(r, _)| r.start < ins.at)
        .map(|(r, t)| t.len() as isize - (r.end - r.start) as isize)
        .sum();
    let lead = ins.text.len() - ins.text.trim_start_matches(['\r', '\n']).len();
    let entry_start = (ins.at as isize + shift) as usize + lead;
    let entry_end = entry_start + ins.entry.len();
    let line = if pointers_only { 0 } else { 1 + after[..entry_start].matches('\n').count() };
    let mut changes = Vec::new();
    if !edits.is_empty() {
        changes.push(change(&model.ws, &doc.file, &doc.text, after, &edits));
    }
    changes.extend(plan_change(model, &req, item, plan, &mut task_notes)?);
    let byte_range = if pointers_only { [0, 0] } else { [entry_start, entry_end] };
    Ok(Outcome {
        item: item.id.clone(),
        number: ins.number,
        time: ins.time,
        line,
        entry: ins.entry,
        byte_range,
        changes,
        warnings,
        tasks: task_notes,
    })
}

/// The request as it will be recorded: its well-formedness, what a run folder adds, a result
/// unless only pointers move, and a date that is not in the future (a warning).
fn checked_request(model: &Model, req: &Request, warnings: &mut Vec<String>) -> Result<(Request, FromRun)> {
    entry::check_request(req)?;
    if model.ledger.dialect == Dialect::Absent {
        return Err(Error::input(&model.ledger.doc.file, 0, model.ledger.absent_help(model.ws.stated("ledger"))));
    }
    let mut req = req.clone();
    let mut from_run = FromRun::default();
    if let Some(dir) = req.from_run.clone() {
        from_run.passed = run::from_run(model, &dir, &mut req, &mut from_run.metrics, warnings)?;
    }
    let pointers = !req.tasks.is_empty() || req.status.is_some() || !req.next_actions.is_empty() || req.touch;
    if req.result.is_none() && !pointers {
        return Err(Error::Usage(if req.from_agent {
            "`result` is required (`task`/`status` alone move pointers only)".into()
        } else {
            "--result is required (or --from-run / --last-run; --task/--status/--next-action/--touch alone move pointers only)"
                .into()
        }));
    }
    let today = crate::clock::date(&crate::clock::now()?);
    let date = req.date.clone().unwrap_or_default();
    if date > today {
        warnings.push(format!("{} {date} is after today ({today}); recorded as given", req.field("date")));
    }
    Ok((req, from_run))
}

/// `--phase` as the plan spells it (and one the plan has), the gates the plan states for it, and
/// a run folder not recorded twice.
fn phase_and_gates(
    model: &Model,
    req: &mut Request,
    item: &ledger::Item,
    plan: Option<&Plan>,
) -> Result<Vec<gates::Gate>> {
    if let Some(ph) = req.phase.clone() {
        // `--phase b1`, `--phase 'Phase B'`: written as the plan spells it.
        let ph = canonical_phase(plan, item, &ph);
        if let Some(p) = plan {
            check_phase(req, p, item, &ph)?;
        }
        req.phase = Some(ph);
    }
    if let Some(dir) = &req.from_run {
        let abs = if dir.is_absolute() { dir.clone() } else { model.ws.root.join(dir) };
        let rel = model.ws.relative(&abs)?;
        let section = &model.ledger.doc.text[item.range.clone()];
        if !req.again && section.contains(rel.trim_end_matches('/')) {
            let why = format!("[{}] already records the run {rel}; pass --again to record it twice", item.id);
            return Err(Error::input(&model.ledger.doc.file, item.line, why));
        }
    }
    Ok(match (plan, &req.phase) {
        (Some(p), Some(ph)) => gates::from_plan(p, ph),
        _ => Vec::new(),
    })
}

/// Mark the run's task done (unless the request already sets it, or it is done).
fn finish_task(req: &mut Request, item: &ledger::Item, plan: Option<&Plan>) {
    let Some(task) = req.phase.clone() else { return };
    let open = plan
        .and_then(|p| p.task(&task))
        .map(|(_, t)| t.state != TaskState::Done)
        .or_else(|| item.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(&task)).map(|t| t.state != TaskState::Done));
    if open == Some(true) && !req.tasks.iter().any(|(id, _)| id.eq_ignore_ascii_case(&task)) {
        req.tasks.push((task, TaskState::Done));
    }
}

/// The entry in the ledger's own form, and where it goes: a timestamped heading in a
/// single-initiative ledger, a day-stamped list in an outline, a stamped bullet where the item's
/// list is stamped, else the next numbered attempt.
fn insertion(model: &Model, req: &Request, item: &ledger::Item, date: &str, metrics: &[String]) -> Result<Insertion> {
    let ledger = &model.ledger;
    let now = crate::clock::now()?;
    let nl = ledger.doc.newline();
    let parts = entry::Parts {
        date,
        result: req.result.map_or("", ResultWord::as_str),
        phase: req.phase.as_deref(),
        metrics,
        artifacts: &req.artifacts,
        note: req.note.as_deref(),
        next: req.next.as_deref(),
    };
    let stamp_of = |e: &str| e.split(' ').next().unwrap_or("").to_string();
    let mut ins = Insertion::default();
    let form = ledger.reader().attempt_form();
    (ins.at, ins.text, ins.entry) = if form == AttemptForm::TimestampedHeading {
        let t = format!("{date}T{}Z", now.format("%H:%M"));
        let lines = entry::timestamped(&t, &item.id, &parts);
        let (at, text) = timestamped_insertion(ledger, &lines, nl);
        ins.time = Some(t);
        (at, text, lines[0].clone())
    } else if form == AttemptForm::OwnList {
        // A list of its own, stamped by day as the outline's prose is dated.
        let sample = item.latest_attempt().and_then(|a| a.time.clone());
        let e = entry::stamped(date, &now, sample.as_deref(), &parts);
        let (at, text) = outline_insertion(ledger, item, &e, nl);
        ins.time = sample.map(|_| stamp_of(&e));
        (at, text, e)
    } else if let Some(last) = entry::stamped_list(item) {
        // The list's own form: stamped, unnumbered.
        let e = entry::stamped(date, &now, last.time.as_deref(), &parts);
        let (at, text) = attempt_insertion(ledger, item, &e, nl);
        ins.time = last.time.as_ref().map(|_| stamp_of(&e));
        (at, text, e)
    } else {
        let n = item.next_attempt_number().ok_or_else(|| {
            let why = format!("[{}] has used every attempt number there is", item.id);
            Error::input(&ledger.doc.file, item.line, why)
        })?;
        ins.number = Some(n);
        let e = entry::numbered(n, &parts);
        let (at, text) = attempt_insertion(ledger, item, &e, nl);
        (at, text, e)
    };
    Ok(ins)
}

/// The ledger's pointers: `--status`, `--next-action`, `--touch`, and `--task` for a task the
/// ledger's own checklist keeps.
#[allow(clippy::too_many_arguments)]
fn pointer_edits(
    model: &Model,
    req: &Request,
    item: &ledger::Item,
    plan: Option<&Plan>,
    date: &str,
    edits: &mut Vec<(Range<usize>, String)>,
    task_notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let ledger = &model.ledger;
    let (doc, lpath) = (&ledger.doc, &ledger.doc.file);
    if let Some(status) = &req.status {
        status_edits(ledger, item, status, edits, warnings)?;
    }
    for action in &req.next_actions {
        edits.push(next_action_insertion(ledger, item, action, doc.newline())?);
    }
    if req.touch {
        let h = ledger
            .last_updated
            .as_ref()
            .ok_or_else(|| Error::input(lpath, 0, "no `**Last Updated:**` line to touch"))?;
        // The whole value: a note beside the old date ("(ralph loop i=510)") described that update.
        edits.push((h.value_range.clone(), date.to_string()));
    }
    for (id, state) in req.tasks.iter().filter(|(id, _)| !in_plan(plan, item, id)) {
        // A task the ledger's own checklist keeps (single-initiative ledgers).
        let t = item.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(id)).unwrap();
        if !t.checkbox {
            let cell = doc.slice(&t.state_range).trim();
            let why = format!("task {} keeps its state as `{cell}` in a table cell; loop ticks checkboxes only, so edit the cell by hand", t.id);
            return Err(Error::input(lpath, t.line, why));
        }
        edits.push((t.state_range.clone(), state.checkbox().to_string()));
        task_notes.push(format!("{} {}", t.id, state.checkbox()));
    }
    Ok(())
}

/// Whether `--task ID` is the plan's to change: the plan has it, or the ledger does not.
fn in_plan(plan: Option<&Plan>, item: &ledger::Item, id: &str) -> bool {
    plan.is_some_and(|p| p.task(id).is_some()) || !item.tasks.iter().any(|t| t.id.eq_ignore_ascii_case(id))
}

/// The plan's task states that `--task` sets, as one change to the plan: only each state's
/// marker is replaced.
fn plan_change(
    model: &Model,
    req: &Request,
    item: &ledger::Item,
    plan: Option<&Plan>,
    task_notes: &mut Vec<String>,
) -> Result<Option<Change>> {
    let tasks: Vec<&(String, TaskState)> = req.tasks.iter().filter(|(id, _)| in_plan(plan, item, id)).collect();
    if tasks.is_empty() {
        return Ok(None);
    }
    let plan = plan.ok_or_else(|| Error::Usage(format!("{}: [{}] has no plan", req.field("task"), item.id)))?;
    model.protected.check_writable(&plan.path)?;
    let mut pedits = Vec::new();
    for (id, state) in tasks {
        let (_, task) = plan.task(id).ok_or_else(|| {
            let why = format!("{}: no task {id} in this plan ({})", req.field("task"), task_list(plan));
            Error::input(&plan.path, 0, why)
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
    Ok(Some(change(&model.ws, &plan.path, &plan.doc.text, after, &pedits)))
}
