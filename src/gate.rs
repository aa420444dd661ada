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

/// What the gates of phase `t` look at.
struct Gate<'a> {
    model: &'a Model,
    item: &'a ledger::Item,
    plan: &'a Plan,
    t: usize,
}

impl Gate<'_> {
    fn phase(&self) -> &Phase {
        &self.plan.phases[self.t]
    }

    fn check(&self, name: String, outcome: Outcome, detail: String, line: usize) -> Check {
        Check { name, outcome, detail, file: self.plan.path.clone(), line }
    }
}

/// The gates a phase passes before its tasks are offered, in the order they are listed.
const GATES: &[fn(&Gate, &mut Vec<Check>)] =
    &[earlier_phases, prereq_phases, prereq_items, prereq_prose, evidence, blocked];

/// The checks that open (or keep closed) phase `t` of the item's plan.
pub(crate) fn checks(model: &Model, item: &ledger::Item, plan: &Plan, t: usize, checks: &mut Vec<Check>) {
    let g = Gate { model, item, plan, t };
    for gate in GATES {
        gate(&g, checks);
    }
}

/// Every earlier phase is done.
fn earlier_phases(g: &Gate, out: &mut Vec<Check>) {
    let name = "earlier phases done".to_string();
    out.push(match g.plan.phases[..g.t].iter().find(|p| !p.is_done()) {
        None => {
            let detail = if g.t == 0 { "first phase".into() } else { format!("{} earlier phase(s) fully [D]", g.t) };
            g.check(name, Outcome::Pass, detail, g.phase().line)
        }
        Some(p) => {
            let detail = format!("Phase {} is not done ({}/{} tasks [D])", p.id, p.done_count(), p.tasks.len());
            g.check(name, Outcome::Fail, detail, p.line)
        }
    });
}

/// `Prereqs: Phase A complete`: each phase named is done.
fn prereq_phases(g: &Gate, out: &mut Vec<Check>) {
    let Some(pre) = &g.phase().prereqs else { return };
    for cap in PHASE_REF.captures_iter(&pre.value) {
        let id = &cap[1];
        let (outcome, detail) = match g.plan.phase(id) {
            Some(p) if p.is_done() => (Outcome::Pass, "done".into()),
            Some(p) => {
                (Outcome::Fail, format!("Phase {id} is not done ({}/{} tasks [D])", p.done_count(), p.tasks.len()))
            }
            None => (Outcome::Unchecked, "no such phase in this plan".into()),
        };
        out.push(g.check(format!("prereq Phase {id}"), outcome, detail, pre.line));
    }
}

/// `Prereqs: [ITEM-ID] closed`: each ledger item named is closed.
fn prereq_items(g: &Gate, out: &mut Vec<Check>) {
    let Some(pre) = &g.phase().prereqs else { return };
    for cap in BRACKET_ID.captures_iter(&pre.value) {
        let id = &cap[1];
        let (outcome, detail) = match g.model.ledger.find(id).first() {
            Some(i) if !i.is_open() => (Outcome::Pass, format!("status {}", i.status().unwrap_or("?"))),
            Some(i) => (Outcome::Fail, format!("status is {}", i.status().unwrap_or("unset"))),
            None => (Outcome::Unchecked, "not an item of the ledger".into()),
        };
        out.push(g.check(format!("prereq [{id}]"), outcome, detail, pre.line));
    }
}

/// Prereqs in prose that name no phase and no item: shown, not checked.
fn prereq_prose(g: &Gate, out: &mut Vec<Check>) {
    let Some(pre) = &g.phase().prereqs else { return };
    let names_any = PHASE_REF.is_match(&pre.value) || BRACKET_ID.is_match(&pre.value);
    if !names_any && !says_none(&pre.value) {
        out.push(g.check("prereqs".into(), Outcome::Unchecked, pre.value.clone(), pre.line));
    }
}

/// Evidence: the item's last attempt, if it failed a gate (❌) on an earlier task of this phase,
/// blocks the tasks after it until that task is run again.
fn evidence(g: &Gate, out: &mut Vec<Check>) {
    let Some(last) = g.item.latest_attempt() else { return };
    let doc = &g.model.ledger.doc;
    let first = doc.slice(&last.text);
    let label = last.task.clone().or_else(|| ATTEMPT_PHASE.captures(first).map(|c| c[1].to_string()));
    let on_this_phase = label.as_deref().and_then(|l| g.plan.task(l)).filter(|(p, _)| p.id == g.phase().id);
    let Some((_, task)) = on_this_phase.filter(|_| doc.slice(&last.body).contains('❌')) else { return };
    let next_open = g.phase().tasks.iter().find(|t| t.state.is_open()).map(|t| t.id.as_str());
    let (outcome, detail) = match next_open != Some(task.id.as_str()) {
        true => {
            (Outcome::Fail, format!("{} failed a metric gate (❌); rerun {} before moving on", last.label(), task.id))
        }
        false => (Outcome::Unchecked, format!("{} failed a gate; this step reruns it", last.label())),
    };
    let name = format!("evidence of task {}", task.id);
    out.push(Check { name, outcome, detail, file: doc.file.clone(), line: last.line });
}

/// A `[B]` task blocks its phase.
fn blocked(g: &Gate, out: &mut Vec<Check>) {
    for task in g.phase().tasks.iter().filter(|t| t.state == TaskState::Blocked) {
        let detail = format!("task {} is [B]: {}", task.id, task.description);
        out.push(g.check(format!("task {} not blocked", task.id), Outcome::Fail, detail, task.line));
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
