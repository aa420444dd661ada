//! The step a memo or a task describes: which task it names, its command or its checks, and
//! whether a recorded run already did it.

use super::Where;
use crate::ledger;
use crate::memo::Memo;
use crate::model::Model;
use crate::plan::{Plan, Task};

/// The run folders a text names (`reports/x/20260105T153000Z/run.json` → `reports/x/2026…Z`).
fn run_folders(text: &str) -> Vec<&str> {
    text.match_indices("/run.json")
        .map(|(end, _)| {
            let start = text[..end]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')))
                .map_or(0, |i| i + 1);
            &text[start..end]
        })
        .filter(|d| !d.is_empty())
        .collect()
}

/// The words of `text` that could name a task: each word, and for `ITEM.TASK` also `TASK`.
pub(super) fn task_words<'t>(text: &'t str, item_id: &str) -> Vec<&'t str> {
    let mut words = Vec::new();
    for w in text.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_')) {
        let w = w.trim_end_matches('.');
        if w.is_empty() {
            continue;
        }
        words.push(w);
        if let Some((pre, rest)) = w.split_once('.') {
            if ledger::ids_equal(pre, item_id) && !rest.is_empty() {
                words.push(rest);
            }
        }
    }
    words
}

/// The tasks of `plan` that `text` names, in plan order (`L1d`, `M2g.2c/M2g.2d`, `ID.F1`).
pub(super) fn named_tasks<'p>(plan: &'p Plan, text: &str, item_id: &str) -> Vec<(usize, &'p Task)> {
    let words = task_words(text, item_id);
    let mut out = Vec::new();
    for (i, p) in plan.phases.iter().enumerate() {
        for t in &p.tasks {
            if !t.id.is_empty() && words.iter().any(|w| w.eq_ignore_ascii_case(&t.id) || undotted(w, &t.id)) {
                out.push((i, t));
            }
        }
    }
    out
}

/// `B.3` for task `B3`: a phase letter, a dot, the task's number.
fn undotted(word: &str, id: &str) -> bool {
    word.split_once('.').is_some_and(|(a, b)| {
        a.len() == 1
            && a.chars().all(|c| c.is_ascii_alphabetic())
            && !b.is_empty()
            && b.chars().all(|c| c.is_ascii_digit())
            && id.len() == a.len() + b.len()
            && id[..1].eq_ignore_ascii_case(a)
            && &id[1..] == b
    })
}

/// The tasks a memo line that points into the plan (`plans/x/implementation.md:61 — Phase B.3
/// checklist`) is about: the open tasks it names, else the phase of a task or the phase it names,
/// else the phase at that line (agents cite lines loosely) — a phase only while it has an open
/// task.
pub(super) fn pointed_tasks<'p>(plan: &'p Plan, m: &Memo, item_id: &str) -> Vec<(usize, &'p Task)> {
    let open = |i: usize| -> Vec<(usize, &'p Task)> {
        let p = &plan.phases[i];
        if p.tasks.iter().any(|t| t.state.is_open()) {
            p.tasks.iter().map(|t| (i, t)).collect()
        } else {
            Vec::new()
        }
    };
    let cited = format!("{}:", plan.path);
    for text in m.lists.iter().chain(&m.fields).map(|f| f.value.as_str()) {
        let Some(at) = text.find(&cited) else { continue };
        let digits: String = text[at + cited.len()..].chars().take_while(char::is_ascii_digit).collect();
        let Ok(line) = digits.parse::<usize>() else { continue };
        let named = named_tasks(plan, text, item_id);
        if named.iter().any(|(_, t)| t.state.is_open()) {
            return named;
        }
        // "marks P3 done and calls for the validation steps next": the named task's phase goes on.
        let by_word = named.first().map(|(i, _)| *i).or_else(|| {
            super::PHASE_WORD
                .captures_iter(text)
                .find_map(|c| plan.phases.iter().position(|p| p.id.eq_ignore_ascii_case(&c[1])))
        });
        let at_line = plan.phases.iter().rposition(|p| p.line <= line);
        if let Some(tasks) = by_word.or(at_line).map(open).filter(|t| !t.is_empty()) {
            return tasks;
        }
    }
    Vec::new()
}

/// The memo's texts that name its task, most specific first: the Do Now (with its `Checklist
/// IDs:`), then the Focus line.
pub(super) fn memo_task_texts(m: &Memo) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(d) = &m.do_now {
        v.push(d.text.clone());
    }
    if let Some(f) = m.get("Focus") {
        v.push(f.value.clone());
    }
    v
}

/// A stable digest of the memo's Do Now (FNV-1a, hex): equal texts, equal digests.
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.split_whitespace().flat_map(|w| w.bytes().chain([b' '])) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// A Do Now that a recorded run already did — any run folder the item's section names whose
/// run.json came from this very Do Now — has done its job: the plan's next task comes next, until
/// someone writes a new memo. The run folder, when so.
pub(super) fn memo_consumed(model: &Model, item: &ledger::Item, step: &str, command: Option<&str>) -> Option<String> {
    let section = &model.ledger.doc.text[item.range.clone()];
    let memo = &model.ws.config.input;
    for dir in run_folders(section) {
        let dir = dir.trim_start_matches("./");
        let Ok(rec) = crate::run_record::RunRecord::load(&model.ws.root.join(dir)) else { continue };
        if !ledger::ids_equal(&rec.item, &item.id) {
            continue;
        }
        let same = match &rec.memo_step {
            Some(s) => s == step,
            // A record written before memo digests: the memo's command, run from the memo.
            None => {
                rec.command_from.as_deref().is_some_and(|f| f.starts_with(&format!("{memo}:")))
                    && rec.command_template.as_deref() == command
                    && command.is_some()
            }
        };
        if same {
            return Some(dir.to_string());
        }
    }
    None
}

/// The line of the item's last attempt when it records a success on `task` (`(Phase A1)` in a
/// numbered entry, `ID.A1` in a stamped one): a manual step done and recorded.
pub(super) fn done_by_hand(model: &Model, item: &ledger::Item, task: &str) -> Option<usize> {
    let last = item.attempts.iter().max_by_key(|a| a.line)?;
    let success = last.result.as_deref().is_some_and(|r| r.trim().to_ascii_lowercase().starts_with("success"));
    let first_line = &model.ledger.doc.text[last.text.clone()];
    let names = last.task.as_deref().is_some_and(|t| t.rsplit('.').next() == Some(task))
        || first_line.contains(&format!("(Phase {task})"));
    (success && names).then_some(last.line)
}

/// What the step is: where its text is, a summary for a manual step, its command and its checks.
pub(super) struct Step {
    pub from: Where,
    pub what: String,
    pub command: Option<String>,
    pub verify: Vec<String>,
}

/// The memo's Do Now as a step. Labelled bullets say it outright (`Implement:` is work by hand,
/// `Test:`/`Pytest:`/`Validate:`/`Capture:` the checks); a one-line Do Now is read by its words.
pub(super) fn memo_step(m: &Memo) -> Option<Step> {
    let d = m.do_now.as_ref()?;
    let from = Where { file: m.path.clone(), line: d.line };
    let what = crate::command::summary(&d.text);
    if !d.bullets.is_empty() {
        let checks: Vec<String> =
            d.checks().iter().flat_map(|b| crate::command::find_all(&b.value)).map(|f| f.command).collect();
        let mut checks = dedup(checks);
        if !d.work().is_empty() || checks.is_empty() {
            if checks.is_empty() {
                // "run the three mapped selectors": the memo's `Mapped tests:` list holds them.
                let listed = m.check_lists().into_iter().flat_map(|b| crate::command::find_all(&b.value));
                checks = dedup(listed.map(|f| f.command).collect());
            }
            if checks.is_empty() {
                checks = crate::command::step_of(&d.text).verify;
            }
            return Some(Step { from, what, command: None, verify: checks });
        }
        let first = checks.remove(0);
        return Some(Step { from, what, command: Some(first), verify: checks });
    }
    let s = crate::command::step_of(&d.text);
    Some(Step { from, what, command: s.command, verify: s.verify })
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|c| seen.insert(c.clone())).collect()
}

/// A task the memo names that only the ledger's own checklist keeps (single-initiative ledgers).
pub(super) fn ledger_task<'l>(item: &'l ledger::Item, m: &Memo) -> Option<&'l ledger::LedgerTask> {
    memo_task_texts(m).iter().find_map(|text| {
        let words = task_words(text, &item.id);
        let named: Vec<&ledger::LedgerTask> =
            item.tasks.iter().filter(|t| words.iter().any(|w| w.eq_ignore_ascii_case(&t.id))).collect();
        named.iter().find(|t| t.state.is_open()).or(named.first()).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::undotted;

    #[test]
    fn a_dotted_task_number_names_the_task() {
        assert!(undotted("B.3", "B3"));
        assert!(undotted("b.12", "B12"));
        assert!(!undotted("B.3", "B4"));
        assert!(!undotted("M2g.2", "M2g2"));
        assert!(!undotted("B3", "B3"));
    }
}
