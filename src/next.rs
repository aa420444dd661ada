//! `loop next`: the decision of what to run now — the focus item, its plan, the first phase
//! whose gate opens, that phase's next task and its command (or a manual step).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::artifacts::{artifacts_template, fill, is_concrete};
use crate::error::{Error, Result};
use crate::focus::{focus_noting, resolve_plan};
use crate::gate::{Check, Outcome};
use crate::ledger;
use crate::model::Model;
use crate::plan::{Phase, Plan, Task, TaskState};

static PHASE_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bPhase\s+([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[A-Za-z])\b").unwrap());

#[derive(Debug, Clone, Serialize)]
pub struct Where {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemRef {
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub line: usize,
    /// Why this item: `--item`, the memo's Focus line, or the ledger's Active Focus.
    pub chosen_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseRef {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub id: String,
    pub description: String,
    pub state: TaskState,
    pub line: usize,
    pub guidance: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    pub phase: PhaseRef,
    pub verdict: String,
}

/// The answer to "what do I run now?", with every reason.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub item: ItemRef,
    pub plan: Option<String>,
    pub phase: Option<PhaseRef>,
    pub checks: Vec<Check>,
    pub task: Option<TaskRef>,
    pub next_task: Option<TaskRef>,
    pub command: Option<String>,
    /// The command as written, `<STAMP>` unfilled.
    pub command_template: Option<String>,
    pub command_from: Option<Where>,
    /// The step names no runnable command: a person (or agent) does it by hand.
    pub manual: bool,
    /// What the manual step is, in the memo's or plan's words.
    pub manual_step: Option<String>,
    pub stamp: String,
    pub artifacts: String,
    /// The artifacts folder as written, `<STAMP>` unfilled.
    pub artifacts_template: String,
    pub blocked_log: String,
    /// Why no step can run, when it cannot.
    pub blocked: Option<String>,
    pub considered: Vec<Considered>,
    /// Things the user should know that do not stop the step, each with `file:line`.
    pub warnings: Vec<String>,
}

pub struct Request<'a> {
    pub item: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub stamp: String,
    /// Take the command and artifacts from the plan only, not from the memo (`loop brief`
    /// drafts the memo, so it must not read its own output).
    pub plan_only: bool,
}

fn phase_ref(p: &Phase) -> PhaseRef {
    PhaseRef { id: p.id.clone(), title: p.title.clone(), line: p.line, done: p.done_count(), total: p.tasks.len() }
}

fn task_ref(t: &Task) -> TaskRef {
    TaskRef {
        id: t.id.clone(),
        description: t.description.clone(),
        state: t.state,
        line: t.line,
        guidance: t.guidance.clone(),
    }
}

/// The tasks of `plan` that `text` names, in plan order (`L1d`, `M2g.2c/M2g.2d`, `Phase F4`).
fn named_tasks<'p>(plan: &'p Plan, text: &str) -> Vec<(usize, &'p Task)> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, p) in plan.phases.iter().enumerate() {
        for t in &p.tasks {
            if !t.id.is_empty() && words.iter().any(|w| w.eq_ignore_ascii_case(&t.id)) {
                out.push((i, t));
            }
        }
    }
    out
}

/// A memo whose Do Now was already run by `loop next --run` and recorded by `loop attempt`
/// has done its job: the plan's next task comes next, until someone writes a new memo.
fn memo_consumed(model: &Model, item: &ledger::Item, memo_command: Option<&str>) -> Option<String> {
    let last = model.ws.path(&model.ws.config.reports).join(crate::run_record::LAST_RUN);
    let dir = std::fs::read_to_string(last).ok()?;
    // The folder is recorded relative to the workspace, which need not be the current directory.
    let rec = crate::run_record::RunRecord::load(&model.ws.root.join(dir.trim())).ok()?;
    let from_memo = rec.command_from.as_deref().is_some_and(|f| f.starts_with(&format!("{}:", model.ws.config.input)));
    if !from_memo || rec.command_template.as_deref() != memo_command || !rec.item.eq_ignore_ascii_case(&item.id) {
        return None;
    }
    let section = &model.ledger.doc.text[item.range.clone()];
    let artifacts = rec.artifacts.trim_end_matches('/');
    section.contains(artifacts).then(|| artifacts.to_string())
}

/// The decision `loop next` makes now: a stamp from the clock, the memo read.
pub fn decide_now(model: &Model, item: Option<&str>, phase: Option<&str>) -> Result<Decision> {
    let stamp = crate::clock::stamp(&crate::clock::now()?);
    decide(model, &Request { item, phase, stamp, plan_only: false })
}

pub fn decide(model: &Model, req: &Request) -> Result<Decision> {
    let mut warnings = Vec::new();
    let (item, chosen_by) = focus_noting(model, req.item, &mut warnings)?;
    let ledger_file = &model.ledger.doc.file;
    // The memo speaks for this item when its Focus names it.
    let mut memo = model.memo.as_ref().filter(|m| {
        !req.plan_only
            && req.phase.is_none()
            && m.focus_ids().is_some_and(|(ids, _)| ids.iter().any(|id| id.eq_ignore_ascii_case(&item.id)))
    });
    let choice = resolve_plan(model, item);
    warnings.extend(choice.notes);
    let plan = match (choice.plan, choice.broken) {
        (Some(p), _) => Some(p),
        (None, Some(e)) if memo.is_none() => return Err(e),
        (None, Some(e)) => {
            warnings.push(format!("{e}; following the memo's Do Now"));
            None
        }
        (None, None) => None,
    };
    let mut d = Decision {
        item: ItemRef {
            id: item.id.clone(),
            title: item.title.clone(),
            status: item.status().map(str::to_string),
            line: item.line,
            chosen_by,
        },
        plan: plan.map(|p| p.path.clone()),
        phase: None,
        checks: Vec::new(),
        task: None,
        next_task: None,
        command: None,
        command_template: None,
        command_from: None,
        manual: false,
        manual_step: None,
        stamp: req.stamp.clone(),
        artifacts: String::new(),
        artifacts_template: String::new(),
        blocked_log: String::new(),
        blocked: None,
        considered: Vec::new(),
        warnings: Vec::new(),
    };
    let mut do_now = memo.and_then(|m| m.get("Do Now"));
    if let (Some(m), Some(f)) = (memo, do_now) {
        if let Some(dir) = memo_consumed(model, item, m.do_now().map(|c| c.0).as_deref()) {
            d.checks.push(Check {
                name: "memo".into(),
                outcome: Outcome::Unchecked,
                detail: format!(
                    "this Do Now already ran ({dir}) and is recorded in [{}]: following the plan (`loop brief --write` refreshes the memo)",
                    item.id
                ),
                file: m.path.clone(),
                line: f.line,
            });
            (memo, do_now) = (None, None);
        }
    }
    let mut phase_idx = None;
    if let Some(plan) = plan {
        // The task the memo is about: named in its Do Now, else its Focus, else a `Phase X`
        // (a phase or a task) in its Summary.
        let named = memo
            .map(|m| {
                let by_id = ["Do Now", "Focus"].iter().filter_map(|k| m.get(k)).map(|f| named_tasks(plan, &f.value));
                let summary = m.get("Summary").map(|f| {
                    let refs: Vec<&str> =
                        PHASE_WORD.captures_iter(&f.value).map(|c| c.get(1).unwrap().as_str()).collect();
                    let mut tasks = named_tasks(plan, &refs.join(" "));
                    for r in &refs {
                        if let Some((i, p)) = plan.phases.iter().enumerate().find(|(_, p)| p.id.eq_ignore_ascii_case(r))
                        {
                            tasks.extend(p.tasks.iter().map(|t| (i, t)));
                        }
                    }
                    tasks
                });
                by_id.chain(summary).find(|n| !n.is_empty()).unwrap_or_default()
            })
            .unwrap_or_default();
        let named = named.iter().find(|(_, t)| t.state.is_open()).or(named.first());
        if let Some((_, t)) = named.filter(|(_, t)| t.state == TaskState::Done) {
            warnings.push(format!(
                "{}:{}: the memo names task {}, which the plan marks [D]; doing it again as the memo says",
                plan.path, t.line, t.id
            ));
        }
        let target = match req.phase {
            Some(id) => Some(plan.phases.iter().position(|p| p.id.eq_ignore_ascii_case(id)).ok_or_else(|| {
                Error::input(
                    &plan.path,
                    0,
                    format!(
                        "no Phase {id} in this plan (phases: {})",
                        plan.phases.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?),
            None => named.map(|(i, _)| *i).or_else(|| plan.phases.iter().position(|p| !p.is_done())),
        };
        for (i, p) in plan.phases.iter().enumerate() {
            let verdict = match target {
                Some(t) if i < t && p.is_done() => "done",
                Some(t) if i < t => "not done",
                Some(t) if i == t => "selected",
                None => "done",
                _ => "later",
            };
            d.considered.push(Considered { phase: phase_ref(p), verdict: verdict.into() });
        }
        if let Some(t) = target {
            let phase = &plan.phases[t];
            phase_idx = Some(t);
            d.phase = Some(phase_ref(phase));
            crate::gate::checks(model, item, plan, t, &mut d.checks);
            let mut open = phase.tasks.iter().filter(|t| t.state.is_open());
            let task = match named {
                Some((_, task)) => Some(*task),
                None => open.next(),
            };
            d.task = task.map(task_ref);
            let mut later = phase.tasks.iter().filter(|t| t.state.is_open() && task.is_none_or(|x| x.id != t.id));
            d.next_task = later
                .next()
                .or_else(|| plan.phases.get(t + 1).and_then(|n| n.tasks.iter().find(|t| t.state.is_open())))
                .map(task_ref);
        }
    }
    // The command: the memo's Do Now, else the task's cells, else the item's first Next Action.
    // (where a command is looked for, where that is, what the step is when it names none)
    let step = if let (Some(m), Some(f)) = (memo, do_now) {
        Some((f.value.clone(), Where { file: m.path.clone(), line: f.line }, f.value.clone()))
    } else if let (Some(task), Some(plan)) = (&d.task, plan) {
        Some((
            format!("{} | {}", task.guidance, task.description),
            Where { file: plan.path.clone(), line: task.line },
            format!("task {}: {}", task.id, task.description),
        ))
    } else if let Some((text, line)) = first_next_action(model, item).filter(|_| plan.is_none()) {
        Some((text.clone(), Where { file: ledger_file.clone(), line }, text))
    } else {
        None
    };
    let has_step = step.is_some();
    if let Some((text, from, what)) = step {
        match crate::command::extract(&text) {
            Some(cmd) => d.command = Some(cmd),
            None => {
                d.manual = true;
                d.manual_step = Some(crate::command::summary(&what));
            }
        }
        d.command_from = Some(from);
    }
    if plan.is_none() && memo.is_none() {
        warnings.push(format!(
            "{ledger_file}:{}: [{}] has no plan (no `Plan Reference:` field, no plan with `Initiative: {}`)",
            item.line, item.id, item.id
        ));
    }
    let phase = phase_idx.and_then(|t| plan.map(|p| &p.phases[t]));
    let (artifacts, note) = artifacts_template(model, item, memo, phase);
    warnings.extend(note);
    d.artifacts = fill(&artifacts, &req.stamp);
    d.artifacts_template = artifacts;
    check_inside(model, &d.artifacts, "artifacts folder")?;
    d.blocked_log = match memo.and_then(|m| m.blocked_log()).filter(|(l, _)| is_concrete(l)) {
        Some((log, _)) => fill(&log, &req.stamp),
        None => format!("{}/attempts/failed.log", d.artifacts.trim_end_matches('/')),
    };
    check_inside(model, &d.blocked_log, "If-Blocked log")?;
    d.command_template = d.command.clone();
    d.command = d.command.map(|c| fill(&c, &req.stamp));
    let failed = d.checks.iter().find(|c| c.outcome == Outcome::Fail);
    d.blocked = match (failed, memo.is_some()) {
        (Some(c), false) => Some(format!("{}:{}: {}: {}", c.file, c.line, c.name, c.detail)),
        (Some(c), true) => {
            // The supervisor wrote this step on purpose; the plan's bookkeeping may lag behind.
            warnings.push(format!(
                "{}:{}: gate `{}` fails ({}), but the memo's Do Now names this step, so it goes ahead",
                c.file, c.line, c.name, c.detail
            ));
            None
        }
        (None, _) if memo.is_some() || has_step => None,
        (None, _) => match (plan, phase) {
            (Some(p), None) => Some(format!("every phase of {} is done: close [{}] or add a phase", p.path, item.id)),
            (Some(p), Some(ph)) => {
                Some(format!("{}:{}: Phase {} has no open ([ ] or [P]) task", p.path, ph.line, ph.id))
            }
            (None, _) => Some(format!(
                "{ledger_file}:{}: [{}] has no plan, no memo naming it and no Next Actions to follow",
                item.line, item.id
            )),
        },
    };
    d.warnings = warnings;
    Ok(d)
}

/// The first entry of the item's `Next Actions` (a nested list, or the field's own text).
fn first_next_action(model: &Model, item: &ledger::Item) -> Option<(String, usize)> {
    let f = item.field("Next Actions")?;
    let first = model.ledger.field_entries(item, "Next Actions").into_iter().next();
    first.or_else(|| (!f.value.is_empty()).then(|| (f.value.clone(), f.line)))
}

fn check_inside(model: &Model, rel: &str, what: &str) -> Result<()> {
    let rel_path = std::path::Path::new(rel);
    if model.ws.relative(rel_path).is_err() {
        return Err(Error::input(
            rel,
            0,
            format!("{what} resolves outside the workspace {}; refusing", model.ws.root.display()),
        ));
    }
    Ok(())
}
