//! `loop next`: the decision of what to run now — the focus item, its plan, the first phase
//! whose gate opens, that phase's next task and its command, or a manual step with the checks
//! to run after it.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

mod step;

pub use step::digest;
use step::{done_by_hand, ledger_task, memo_consumed, memo_step, memo_task_texts, named_tasks, Step};

use crate::artifacts::{artifacts_template, fill, fill_command, is_concrete};
use crate::diag::error_within;
use crate::error::{Error, Result};
use crate::focus::{focus_noting, memo_items, resolve_plan};
use crate::gate::{Check, Outcome};
use crate::ledger;
use crate::model::Model;
use crate::plan::{Phase, Plan, Task, TaskState};

static PHASE_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)Phase[ \t]+([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[A-Za-z])(?-u:\b)").unwrap());

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
    /// The plan (or, for a checklist the ledger keeps, the ledger) that holds the task.
    pub file: String,
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
    /// Checks to run once the manual work is done (the memo's `Test:` lines, "then run `…`").
    pub verify: Vec<String>,
    /// The checks as written, `<STAMP>` unfilled.
    pub verify_template: Vec<String>,
    /// A digest of the memo's Do Now when the step is the memo's: a run of it carries the same
    /// digest, so a recorded run tells that this Do Now was done.
    pub memo_step: Option<String>,
    pub stamp: String,
    pub artifacts: String,
    /// The artifacts folder as written, `<STAMP>` unfilled.
    pub artifacts_template: String,
    pub blocked_log: String,
    /// The If-Blocked log as written, `<STAMP>` unfilled.
    pub blocked_log_template: String,
    /// Why no step can run, when it cannot.
    pub blocked: Option<String>,
    pub considered: Vec<Considered>,
    /// Things the user should know that do not stop the step, each with `file:line`.
    pub warnings: Vec<String>,
}

impl Decision {
    /// The same decision with another stamp: folders, command and checks filled anew.
    pub fn restamp(&mut self, stamp: &str) {
        self.stamp = stamp.to_string();
        self.artifacts = fill(&self.artifacts_template, stamp);
        self.blocked_log = fill(&self.blocked_log_template, stamp);
        self.command = self.command_template.as_deref().map(|c| fill_command(c, stamp));
        self.verify = self.verify_template.iter().map(|c| fill_command(c, stamp)).collect();
    }
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

fn task_ref(t: &Task, file: &str) -> TaskRef {
    TaskRef {
        id: t.id.clone(),
        description: t.description.clone(),
        state: t.state,
        file: file.to_string(),
        line: t.line,
        guidance: t.guidance.clone(),
    }
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
    if let Some(d) = error_within(&model.ledger.diagnostics, &item.range) {
        return Err(Error::input(
            &d.file,
            d.line,
            format!("{} (in [{}], which `loop next` must read)", d.message, item.id),
        ));
    }
    // The memo speaks for this item when its focus names it.
    let mut memo = model.memo.as_ref().filter(|_| {
        !req.plan_only
            && req.phase.is_none()
            && memo_items(model).is_some_and(|(items, _)| items.iter().any(|i| ledger::ids_equal(&i.id, &item.id)))
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
    if let Some(p) = plan {
        if let Some(d) = error_within(&p.diagnostics, &(0..p.doc.text.len())) {
            return Err(Error::input(&d.file, d.line, format!("{} (in [{}]'s plan)", d.message, item.id)));
        }
    }
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
        verify: Vec::new(),
        verify_template: Vec::new(),
        memo_step: None,
        stamp: req.stamp.clone(),
        artifacts: String::new(),
        artifacts_template: String::new(),
        blocked_log: String::new(),
        blocked_log_template: String::new(),
        blocked: None,
        considered: Vec::new(),
        warnings: Vec::new(),
    };
    let mut from_memo = memo.and_then(memo_step);
    if let (Some(m), Some(step)) = (memo, &from_memo) {
        let dig = digest(&m.do_now.as_ref().map_or(String::new(), |n| n.text.clone()));
        if let Some(dir) = memo_consumed(model, item, &dig, step.command.as_deref()) {
            d.checks.push(Check {
                name: "memo".into(),
                outcome: Outcome::Unchecked,
                detail: format!("this Do Now already ran ({dir}) and is recorded in [{}]", item.id),
                file: m.path.clone(),
                line: step.from.line,
            });
            warnings.push(format!(
                "{}:{}: this Do Now already ran ({dir}) and is recorded in [{}]; following the plan instead (`loop brief --write` drafts the next memo)",
                m.path, step.from.line, item.id
            ));
            (memo, from_memo) = (None, None);
        } else {
            d.memo_step = Some(dig);
        }
    }
    let mut phase_idx = None;
    let mut named_ledger_task = None;
    if let Some(plan) = plan {
        // The task the memo is about: named in its Do Now, else its Focus, else a `Phase X`
        // (a phase or a task) in its Summary.
        let named = memo
            .map(|m| {
                let by_id = memo_task_texts(m).into_iter().map(|t| named_tasks(plan, &t, &item.id));
                let summary = m.get("Summary").map(|f| {
                    let refs: Vec<&str> =
                        PHASE_WORD.captures_iter(&f.value).map(|c| c.get(1).unwrap().as_str()).collect();
                    let mut tasks = named_tasks(plan, &refs.join(" "), &item.id);
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
        let mut named = named.iter().find(|(_, t)| t.state.is_open()).or(named.first());
        if let Some((_, t)) = named.filter(|(_, t)| t.state == TaskState::Done) {
            // A manual Do Now has no run to find; its recorded success on the task is the sign.
            let manual = from_memo.as_ref().is_some_and(|s| s.command.is_none());
            match manual.then(|| done_by_hand(model, item, &t.id)).flatten() {
                Some(line) => {
                    warnings.push(format!(
                        "{}:{}: the memo's step, task {}, is done: the plan marks it [D] and [{}]'s last attempt ({ledger_file}:{line}) records it; following the plan instead (`loop brief --write` drafts the next memo)",
                        plan.path, t.line, t.id, item.id
                    ));
                    (memo, from_memo, named) = (None, None, None);
                }
                None => warnings.push(format!(
                    "{}:{}: the memo names task {}, which the plan marks [D]; doing it again as the memo says",
                    plan.path, t.line, t.id
                )),
            }
        }
        if named.is_none() {
            named_ledger_task = memo.and_then(|m| ledger_task(item, m));
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
            None if named_ledger_task.is_some() => None,
            None => named.map(|(i, _)| *i).or_else(|| plan.phases.iter().position(|p| !p.is_done())),
        };
        // Every phase done but the item keeps a checklist of its own (the single-initiative
        // ledger): its first open task is the step, for `next` and `brief` alike.
        if target.is_none() && named_ledger_task.is_none() && req.phase.is_none() {
            named_ledger_task = item.tasks.iter().find(|t| t.state.is_open());
        }
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
            let task = match named {
                Some((_, task)) => Some(*task),
                None => phase.tasks.iter().find(|t| t.state.is_open()),
            };
            d.task = task.map(|t| task_ref(t, &plan.path));
            let mut later = phase.tasks.iter().filter(|t| t.state.is_open() && task.is_none_or(|x| x.id != t.id));
            d.next_task = later
                .next()
                .or_else(|| plan.phases[t + 1..].iter().find_map(|n| n.tasks.iter().find(|t| t.state.is_open())))
                .map(|t| task_ref(t, &plan.path));
        }
    } else {
        named_ledger_task =
            memo.and_then(|m| ledger_task(item, m)).or_else(|| item.tasks.iter().find(|t| t.state.is_open()));
    }
    if let Some(t) = named_ledger_task {
        d.task = Some(TaskRef {
            id: t.id.clone(),
            description: t.description.clone(),
            state: t.state,
            file: ledger_file.clone(),
            line: t.line,
            guidance: String::new(),
        });
    }
    // The step: the memo's Do Now, else the task's cells, else the item's first Next Action.
    let step = from_memo.or_else(|| match (&d.task, plan) {
        (Some(task), Some(plan)) if task.file == plan.path => {
            let s = crate::command::step_of(&format!("{} | {}", task.guidance, task.description));
            Some(Step {
                from: Where { file: plan.path.clone(), line: task.line },
                what: crate::command::summary(&format!("task {}: {}", task.id, task.description)),
                command: s.command,
                verify: s.verify,
            })
        }
        // A task of the item's own checklist in the ledger.
        (Some(task), _) if task.file == *ledger_file => {
            let s = crate::command::step_of(&task.description);
            Some(Step {
                from: Where { file: ledger_file.clone(), line: task.line },
                what: crate::command::summary(&format!("task {}: {}", task.id, task.description)),
                command: s.command,
                verify: s.verify,
            })
        }
        _ => first_next_action(model, item).filter(|_| plan.is_none()).map(|(text, line)| {
            let s = crate::command::step_of(&text);
            Step {
                from: Where { file: ledger_file.clone(), line },
                what: crate::command::summary(&text),
                command: s.command,
                verify: s.verify,
            }
        }),
    });
    let has_step = step.is_some();
    if let Some(s) = step {
        d.manual = s.command.is_none();
        if d.manual {
            d.manual_step = Some(s.what);
        }
        d.command_template = s.command;
        d.verify_template = s.verify;
        d.command_from = Some(s.from);
    }
    // An outline's item is its own plan: its tasks, else the item itself.
    if plan.is_none() && memo.is_none() && model.ledger.dialect != ledger::Dialect::Outline {
        warnings.push(format!(
            "{ledger_file}:{}: [{}] has no plan (no `Plan Reference:` field, no plan with `Initiative: {}`)",
            item.line, item.id, item.id
        ));
    }
    let phase = phase_idx.and_then(|t| plan.map(|p| &p.phases[t]));
    let (artifacts, note) = artifacts_template(model, item, memo, phase);
    warnings.extend(note);
    d.artifacts_template = artifacts;
    d.blocked_log_template = match memo.and_then(|m| m.blocked_log()).filter(|(l, _)| is_concrete(l)) {
        Some((log, _)) => log,
        None => format!("{}/attempts/failed.log", d.artifacts_template.trim_end_matches('/')),
    };
    d.restamp(&req.stamp);
    check_inside(model, &d.artifacts, "artifacts folder")?;
    check_inside(model, &d.blocked_log, "If-Blocked log")?;
    let failed = d.checks.iter().find(|c| c.outcome == Outcome::Fail);
    d.blocked = match (failed, memo.is_some()) {
        _ if !item.is_open() => Some(format!(
            "{ledger_file}:{}: [{}] is closed (status {}); nothing to do for it",
            item.line,
            item.id,
            item.status().unwrap_or("?")
        )),
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
            (Some(p), None) if p.phases.is_empty() => {
                let d = p.diagnostics.iter().find(|d| d.message == crate::plan::NO_PHASE);
                return Err(Error::input(
                    &p.path,
                    d.map_or(1, |d| d.line),
                    format!("[{}]'s plan: loop reads no phase in it (`### Phase X — Title` sections with task tables, or checklists under headings), so it cannot say what is next", item.id),
                ));
            }
            (Some(p), None) => Some(format!("every phase of {} is done: close [{}] or add a phase", p.path, item.id)),
            (Some(p), Some(ph)) => Some(no_open_task(p, ph)),
            (None, _) => Some(format!(
                "{ledger_file}:{}: [{}] has no plan, no memo naming it and no Next Actions to follow",
                item.line, item.id
            )),
        },
    };
    d.warnings = warnings;
    Ok(d)
}

/// Why a phase offers nothing, naming tasks whose state could not be read.
fn no_open_task(p: &Plan, ph: &Phase) -> String {
    let unknown: Vec<String> = ph
        .tasks
        .iter()
        .filter(|t| t.state == TaskState::Unknown)
        .map(|t| format!("{} at {}:{} has state `{}`", t.id, p.path, t.line, p.doc.slice(&t.state_range).trim()))
        .collect();
    if unknown.is_empty() {
        format!("{}:{}: Phase {} has no open ([ ] or [P]) task", p.path, ph.line, ph.id)
    } else {
        format!(
            "{}:{}: Phase {} has no open task, and loop cannot read the state of {} (write [ ], [P], [D], [B] or [-])",
            p.path,
            ph.line,
            ph.id,
            unknown.join(", ")
        )
    }
}

/// The first entry of the item's `Next Actions` (a nested list, or the field's own text); for
/// an item read from an outline with no task, what its `Fix:` (`Next:`, `Action:`) says, else
/// the item itself.
fn first_next_action(model: &Model, item: &ledger::Item) -> Option<(String, usize)> {
    if model.ledger.dialect == ledger::Dialect::Outline {
        let said = ["Next", "Next step", "Fix", "Action", "Solution", "Todo"]
            .iter()
            .find_map(|k| item.field(k).filter(|f| !f.value.is_empty()))
            .map(|f| (format!("{}: {}", f.key, paragraph(&model.ledger.doc, f)), f.line));
        return Some(said.unwrap_or_else(|| (format!("[{}] {}", item.id, item.title), item.line)));
    }
    let f = item.field("Next Actions")?;
    let first = model.ledger.field_entries(item, "Next Actions").into_iter().next();
    first.or_else(|| (!f.value.is_empty()).then(|| (f.value.clone(), f.line)))
}

/// A field's whole first paragraph (its value wrapped over lines), up to a nested list.
fn paragraph(doc: &crate::markdown::Document, f: &ledger::Field) -> String {
    let Some(it) = f.item.map(|i| &doc.items[i]) else { return f.value.clone() };
    let nested = doc.items.iter().find(|c| c.depth > it.depth && c.range.start > it.range.start).map(|c| c.range.start);
    let end = nested.filter(|&n| n < it.range.end).unwrap_or(it.range.end);
    doc.text[f.value_range.start..end].split_whitespace().collect::<Vec<_>>().join(" ")
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
