//! `loop next`: the decision of what to run now — the focus item, its plan, the first phase
//! whose gate opens, that phase's next task and its command, or a manual step with the checks
//! to run after it.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

mod pipeline;
mod step;

pub use pipeline::decide;
pub use step::digest;

use crate::artifacts::{fill, fill_command};
use crate::error::{Error, Result};
use crate::gate::Check;
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
    /// A decision about `item` that has found nothing yet.
    fn new(item: ItemRef, stamp: &str) -> Decision {
        Decision {
            item,
            plan: None,
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
            stamp: stamp.to_string(),
            artifacts: String::new(),
            artifacts_template: String::new(),
            blocked_log: String::new(),
            blocked_log_template: String::new(),
            blocked: None,
            considered: Vec::new(),
            warnings: Vec::new(),
        }
    }

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
    if model.ledger.reader().items_hold_tasks() {
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
