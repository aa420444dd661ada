//! What an attempt names: its item (given, the focus, or — in an outline — the item holding the
//! task named), and whether a `--phase` is a phase or task of the item's plan.

use super::Request;
use crate::error::{Error, Result};
use crate::focus;
use crate::ledger;
use crate::model::Model;

/// `C2, C3 (phase C)` — what a plan's phases and tasks are called, for messages.
pub(super) fn task_list(plan: &crate::plan::Plan) -> String {
    let phases: Vec<String> = plan
        .phases
        .iter()
        .map(|p| {
            let tasks: Vec<&str> = p.tasks.iter().map(|t| t.id.as_str()).collect();
            format!("Phase {}: {}", p.id, if tasks.is_empty() { "no tasks".into() } else { tasks.join(" ") })
        })
        .collect();
    if phases.is_empty() {
        "it has no phases".into()
    } else {
        phases.join("; ")
    }
}

/// A `--phase` as the plan (or the ledger's checklist) spells it: `b1` → `B1`, `Phase B` → `B`;
/// each part of `C1/C2`; as given when nothing knows it.
pub(super) fn canonical_phase(plan: Option<&crate::plan::Plan>, item: &ledger::Item, phase: &str) -> String {
    let one = |p: &str| {
        let p = p.trim();
        let bare = p.get(..6).filter(|w| w.eq_ignore_ascii_case("phase ")).map_or(p, |_| p[6..].trim());
        plan.and_then(|pl| pl.task(bare).map(|(_, t)| t.id.clone()).or_else(|| pl.phase(bare).map(|ph| ph.id.clone())))
            .or_else(|| item.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(bare)).map(|t| t.id.clone()))
    };
    if let Some(id) = one(phase) {
        return id;
    }
    let sep = phase.chars().find(|c| matches!(c, '/' | ',' | '–'));
    match sep {
        Some(sep) => {
            let parts: Option<Vec<String>> = phase.split(sep).map(one).collect();
            parts.map_or_else(|| phase.to_string(), |v| v.join(&sep.to_string()))
        }
        None => phase.to_string(),
    }
}

/// A `--phase` names a phase or task of the item's plan (or of the ledger's own checklist).
pub(super) fn check_phase(req: &Request, plan: &crate::plan::Plan, item: &ledger::Item, phase: &str) -> Result<()> {
    let known = plan.task(phase).is_some()
        || plan.phase(phase).is_some()
        || item.tasks.iter().any(|t| t.id.eq_ignore_ascii_case(phase))
        // `C1–C2`, `C1/C2`: every part known.
        || phase.split(['/', ',', '–']).all(|p| plan.task(p.trim()).is_some() || plan.phase(p.trim()).is_some());
    if known {
        return Ok(());
    }
    // A part of the plan loop could not read may hold the task: name that place, not "no such".
    if let Some(d) = plan.diagnostics.iter().find(|d| d.severity == crate::diag::Severity::Error) {
        return Err(Error::input(
            &d.file,
            d.line,
            format!(
                "{}; {} {phase} is not among the tasks loop reads in [{}]'s plan",
                d.message,
                req.field("phase"),
                item.id
            ),
        ));
    }
    Err(Error::input(
        &plan.path,
        0,
        format!("{} {phase}: [{}]'s plan has no such phase or task ({})", req.field("phase"), item.id, task_list(plan)),
    ))
}

pub(super) fn pick_item<'m>(model: &'m Model, req: &Request) -> Result<&'m ledger::Item> {
    let ledger = &model.ledger;
    // An outline keeps its tasks in its items: a task named alone names its item.
    let holder = || {
        let named = req.tasks.iter().map(|(id, _)| id).chain(&req.phase).next()?;
        let holds = |i: &&ledger::Item| i.tasks.iter().any(|t| t.id.eq_ignore_ascii_case(named));
        ledger.reader().items_hold_tasks().then(|| ledger.items.iter().find(holds)).flatten()
    };
    let id = match (&req.item, holder()) {
        (Some(id), _) => id.clone(),
        (None, Some(i)) => i.id.clone(),
        (None, None) => focus::focus(model, None)?.0.id.clone(),
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
