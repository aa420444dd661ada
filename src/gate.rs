//! The gate of a phase: earlier phases done, its prereqs (phases and items) met, no blocked task,
//! and no failed evidence on an earlier task of the phase.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::ledger;
use crate::model::Model;
use crate::plan::{Phase, Plan, TaskState};

static BRACKET_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\[({})\]", ledger::ID_PATTERN)).unwrap());
static PHASE_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bPhases?\s+([A-Z][0-9]*(?:\.[0-9]+)?)\b").unwrap());
static ATTEMPT_PHASE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\(Phase ([A-Za-z0-9.]+)").unwrap());

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unchecked,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    pub file: String,
    pub line: usize,
}

/// Whether a Prereqs value says there are none (`None.`, `n/a`, `—`): nothing to check.
fn says_none(value: &str) -> bool {
    let v = value.trim().trim_matches(|c: char| c == '.' || c == '*' || c == '_' || c.is_whitespace());
    v.is_empty()
        || ["none", "n/a", "na", "-", "—", "–", "nothing"].contains(&v.to_lowercase().as_str())
        || v.to_lowercase().starts_with("none ")
        || v.to_lowercase().starts_with("none;")
        || v.to_lowercase().starts_with("none (")
}

/// The checks that open (or keep closed) phase `t` of the item's plan.
pub(crate) fn checks(model: &Model, item: &ledger::Item, plan: &Plan, t: usize, checks: &mut Vec<Check>) {
    let phase = &plan.phases[t];
    let at = |line: usize| (plan.path.clone(), line);
    let mut push = |name: &str, outcome, detail: String, (file, line): (String, usize)| {
        checks.push(Check { name: name.into(), outcome, detail, file, line })
    };
    let unfinished: Vec<&Phase> = plan.phases[..t].iter().filter(|p| !p.is_done()).collect();
    match unfinished.first() {
        None => push(
            "earlier phases done",
            Outcome::Pass,
            if t == 0 { "first phase".into() } else { format!("{} earlier phase(s) fully [D]", t) },
            at(phase.line),
        ),
        Some(p) => push(
            "earlier phases done",
            Outcome::Fail,
            format!("Phase {} is not done ({}/{} tasks [D])", p.id, p.done_count(), p.tasks.len()),
            at(p.line),
        ),
    }
    if let Some(pre) = &phase.prereqs {
        let mut any = false;
        for cap in PHASE_REF.captures_iter(&pre.value) {
            any = true;
            let id = &cap[1];
            match plan.phase(id) {
                Some(p) if p.is_done() => {
                    push(&format!("prereq Phase {id}"), Outcome::Pass, "done".into(), at(pre.line))
                }
                Some(p) => push(
                    &format!("prereq Phase {id}"),
                    Outcome::Fail,
                    format!("Phase {id} is not done ({}/{} tasks [D])", p.done_count(), p.tasks.len()),
                    at(pre.line),
                ),
                None => push(
                    &format!("prereq Phase {id}"),
                    Outcome::Unchecked,
                    "no such phase in this plan".into(),
                    at(pre.line),
                ),
            }
        }
        for cap in BRACKET_ID.captures_iter(&pre.value) {
            any = true;
            let id = &cap[1];
            match model.ledger.find(id).first() {
                Some(i) if !i.is_open() => push(
                    &format!("prereq [{id}]"),
                    Outcome::Pass,
                    format!("status {}", i.status().unwrap_or("?")),
                    at(pre.line),
                ),
                Some(i) => push(
                    &format!("prereq [{id}]"),
                    Outcome::Fail,
                    format!("status is {}", i.status().unwrap_or("unset")),
                    at(pre.line),
                ),
                None => push(
                    &format!("prereq [{id}]"),
                    Outcome::Unchecked,
                    "not an item of the ledger".into(),
                    at(pre.line),
                ),
            }
        }
        if !any && !says_none(&pre.value) {
            push("prereqs", Outcome::Unchecked, pre.value.clone(), at(pre.line));
        }
    }
    // Evidence: the item's last attempt, if it failed a gate (❌) on an earlier task of this
    // phase, blocks the tasks after it until that task is run again.
    {
        if let Some(last) = item.latest_attempt() {
            let text = model.ledger.doc.slice(&last.body);
            let first = model.ledger.doc.slice(&last.text);
            let label = last.task.clone().or_else(|| ATTEMPT_PHASE.captures(first).map(|c| c[1].to_string()));
            let on_this_phase = label.as_deref().and_then(|l| plan.task(l)).filter(|(p, _)| p.id == phase.id);
            let next_open = phase.tasks.iter().find(|t| t.state.is_open()).map(|t| t.id.as_str());
            if let (Some((_, task)), true) = (on_this_phase, text.contains('❌')) {
                if next_open != Some(task.id.as_str()) {
                    push(
                        &format!("evidence of task {}", task.id),
                        Outcome::Fail,
                        format!("{} failed a metric gate (❌); rerun {} before moving on", last.label(), task.id),
                        (model.ledger.doc.file.clone(), last.line),
                    );
                } else {
                    push(
                        &format!("evidence of task {}", task.id),
                        Outcome::Unchecked,
                        format!("{} failed a gate; this step reruns it", last.label()),
                        (model.ledger.doc.file.clone(), last.line),
                    );
                }
            }
        }
    }
    for task in phase.tasks.iter().filter(|t| t.state == TaskState::Blocked) {
        push(
            &format!("task {} not blocked", task.id),
            Outcome::Fail,
            format!("task {} is [B]: {}", task.id, task.description),
            at(task.line),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prereqs_that_say_none_need_no_check() {
        for v in ["None.", "none", "**None**", "N/A", "—", "None (first phase)"] {
            assert!(super::says_none(v), "{v}");
        }
        for v in ["Phase A done", "Nonesuch tool installed", "[X-1] closed"] {
            assert!(!super::says_none(v), "{v}");
        }
    }
}
