//! `loop status`: what the workspace says, as data (schema in docs/json.md) and as text.

use std::fmt::Write;

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::focus;
use crate::model::Model;
use crate::plan::TaskState;

#[derive(Debug, Serialize)]
pub struct Status {
    pub root: String,
    pub ledger: LedgerStatus,
    pub plans: Vec<PlanStatus>,
    pub protected: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
pub struct LedgerStatus {
    pub path: String,
    /// `sections` (`## [ID]` items), `single_initiative` or `outline` (no `[ID]` items).
    pub dialect: crate::ledger::Dialect,
    /// What the reader took the ledger to be, in a line.
    pub read_as: String,
    pub last_updated: Option<String>,
    pub active_focus: Vec<String>,
    /// Index rows (table rows or `- [ID] … Status: …` bullets), in file order.
    pub index: Vec<IndexRowStatus>,
    pub items: Vec<ItemStatus>,
}

#[derive(Debug, Serialize)]
pub struct IndexRowStatus {
    pub id: String,
    pub status: Option<String>,
    pub line: usize,
}

#[derive(Debug, Serialize)]
pub struct ItemStatus {
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub line: usize,
    /// A one-line bullet in an archive section rather than a `## [ID]` section.
    pub archived: bool,
    /// Whether work remains: its status is no closing word (an outline's ✅, `FIXED`, `مكتمل`
    /// close too).
    pub open: bool,
    pub attempts: Vec<crate::ledger::Attempt>,
    /// The checklist or state-table tasks the ledger keeps for the item.
    pub tasks: Vec<TaskStatus>,
}

#[derive(Debug, Serialize)]
pub struct PlanStatus {
    pub path: String,
    pub initiative: Option<String>,
    /// `tables`, `checklists`, `tables and checklists` or `no tasks`.
    pub tasks_from: &'static str,
    pub phases: Vec<PhaseStatus>,
}

#[derive(Debug, Serialize)]
pub struct PhaseStatus {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub tasks: Vec<TaskStatus>,
}

#[derive(Debug, Serialize)]
pub struct TaskStatus {
    pub id: String,
    pub state: TaskState,
    pub line: usize,
}

pub fn status(model: &Model) -> Status {
    let l = &model.ledger;
    Status {
        root: model.ws.root.display().to_string(),
        ledger: LedgerStatus {
            path: l.doc.file.clone(),
            dialect: l.dialect,
            read_as: l.describe(),
            last_updated: l.last_updated.as_ref().map(|h| h.value.clone()),
            active_focus: l.active_focus.clone(),
            index: l
                .index
                .iter()
                .map(|r| IndexRowStatus { id: r.id.clone(), status: r.status.clone(), line: r.line })
                .collect(),
            items: l
                .items
                .iter()
                .map(|i| ItemStatus {
                    id: i.id.clone(),
                    title: i.title.clone(),
                    status: i.status().map(str::to_string),
                    priority: i.priority().map(str::to_string),
                    line: i.line,
                    archived: i.archived,
                    open: i.is_open(),
                    attempts: i.attempts.clone(),
                    tasks: i
                        .tasks
                        .iter()
                        .map(|t| TaskStatus { id: t.id.clone(), state: t.state, line: t.line })
                        .collect(),
                })
                .collect(),
        },
        plans: model
            .plans
            .iter()
            .map(|p| PlanStatus {
                path: p.path.clone(),
                initiative: p.initiative.clone(),
                tasks_from: p.task_source(),
                phases: p
                    .phases
                    .iter()
                    .map(|ph| PhaseStatus {
                        id: ph.id.clone(),
                        title: ph.title.clone(),
                        line: ph.line,
                        tasks: ph
                            .tasks
                            .iter()
                            .map(|t| TaskStatus { id: t.id.clone(), state: t.state, line: t.line })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        protected: model.protected.paths(),
        diagnostics: model.diagnostics().into_iter().cloned().collect(),
    }
}

/// The human view: focus first, then its plan, then counts and diagnostics.
pub fn render(model: &Model) -> String {
    let mut out = String::new();
    render_ledger(model, &mut out);
    let mut notes = Vec::new();
    match focus::focus_noting(model, None, &mut notes) {
        Ok((item, why)) => {
            render_focus(model, item, &why, &mut out);
            // Why the focus is not what the memo or the roadmap seems to say.
            for n in &notes {
                let _ = writeln!(out, "  note      {n}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "\nFocus item: none ({e})");
        }
    }
    render_counts(model, &mut out);
    let diags = model.diagnostics();
    if !diags.is_empty() {
        let _ = writeln!(out, "\n{} diagnostics:", diags.len());
        for d in diags {
            let _ = writeln!(out, "  {d}");
        }
    }
    out
}

/// Where the workspace and its ledger are, how the ledger was read, its Active Focus lines.
fn render_ledger(model: &Model, out: &mut String) {
    let l = &model.ledger;
    let _ = writeln!(out, "workspace  {}", model.ws.root.display());
    let mut about = vec![format!("{} items", l.items.len())];
    about.extend(l.last_updated.as_ref().map(|h| format!("last updated {}", h.value)));
    if l.dialect == crate::ledger::Dialect::Absent {
        about = vec!["does not exist yet".into()];
    }
    let _ = writeln!(out, "ledger     {} ({})", l.doc.file, about.join(", "));
    let _ = writeln!(out, "read as    {}", l.describe());
    if !l.active_focus.is_empty() {
        let _ = writeln!(out, "\nActive focus:");
        for f in &l.active_focus {
            let _ = writeln!(out, "  - {}", ellipsize(f, 110));
        }
    }
}

/// The focus item: its status, its last attempt, its plan's phases with progress.
fn render_focus(model: &Model, item: &crate::ledger::Item, why: &str, out: &mut String) {
    let place = model.ledger.place(item.line);
    let _ = writeln!(out, "\nFocus item [{}] {}  ({place}, chosen by {why})", item.id, item.title);
    let _ = writeln!(out, "  status    {}", item.status().unwrap_or("(none)"));
    match item.latest_attempt() {
        Some(a) => {
            // A stamped entry's label is its time, which says its date already.
            let mut last = vec![a.label()];
            if a.time.is_none() {
                last.push(a.date.clone().unwrap_or_else(|| "undated".into()));
            }
            last.extend(a.result.clone());
            let _ = writeln!(out, "  attempts  {} (last: {}, line {})", item.attempts.len(), last.join(" "), a.line);
        }
        None => {
            let _ = writeln!(out, "  attempts  none");
        }
    }
    let plan = match focus::plan_for(model, item) {
        Ok(plan) => plan,
        Err(e) => {
            let _ = writeln!(out, "  plan      none: {e}");
            return;
        }
    };
    let _ = writeln!(out, "  plan      {}", plan.path);
    for p in &plan.phases {
        let mark = match (p.is_done(), p.tasks.iter().any(|t| t.state == TaskState::Blocked)) {
            (true, _) => "✓",
            (false, true) => "✗",
            _ => " ",
        };
        let (done, total, title) = (p.done_count(), p.tasks.len(), ellipsize(&p.title, 70));
        let _ = writeln!(out, "    {mark} Phase {:<4} {done:>2}/{total:<2} {title}", p.id);
    }
}

/// How many plans, phases and tasks, where tasks come from, and what is protected (and why
/// nothing is, when nothing is).
fn render_counts(model: &Model, out: &mut String) {
    let tasks: usize = model.plans.iter().flat_map(|p| &p.phases).map(|p| p.tasks.len()).sum();
    let phases: usize = model.plans.iter().map(|p| p.phases.len()).sum();
    let mut from: Vec<&str> = model.plans.iter().map(|p| p.task_source()).filter(|s| *s != "no tasks").collect();
    from.sort();
    from.dedup();
    let from = if from.is_empty() { String::new() } else { format!(" (tasks from {})", from.join(", ")) };
    let _ = writeln!(out, "\nplans      {} files, {phases} phases, {tasks} tasks{from}", model.plans.len());
    let index = &model.ws.config.index;
    let n = model.protected.paths().len();
    if model.ws.path(index).is_file() {
        let _ = writeln!(out, "protected  {n} assets (from {index})");
    } else if n == 0 && model.ws.config.protected.is_empty() {
        let _ = writeln!(out, "protected  nothing: there is no {index} (loop.yaml `index:`) and no `protected:` glob");
    } else {
        let _ = writeln!(out, "protected  {n} assets (no {index}; from agent docs and `protected:` globs)");
    }
}

pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
