//! Plans (`plans/active/**/*.md`): the initiative, `Phase X — Title` sections with their Goal /
//! Prereqs / Exit Criteria lines and task tables with `[ ]` `[P]` `[D]` `[B]` states.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::markdown::Document;

static PHASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\*\*)?Phase\s+([A-Za-z0-9][A-Za-z0-9.]*)(?:\*\*)?\s*(?:—|–|--|-|:)\s*(.*)$").unwrap()
});
static PHASE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*]\s+)?\**(Goal|Prereqs|Prerequisites|Exit Criteria)\**\s*:\**\s*(.*)$").unwrap()
});
static INITIATIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[-*]\s+)?\**Initiative\**\s*:\**\s*(.*)$").unwrap());
static ITEM_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\[?({})\]?", crate::ledger::ID_PATTERN)).unwrap());
static STATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([^\]]{0,3})\]").unwrap());

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Todo,
    Partial,
    Done,
    Blocked,
    Unknown,
}

impl TaskState {
    /// `[ ]`, `[P]`, `[D]` (also `[x]`/`[X]`, the common checkbox), `[B]`; anything else is
    /// unknown. Text after the marker (`[D] (2025-10-09)`) is allowed.
    pub fn parse(cell: &str) -> TaskState {
        match STATE.captures(cell.trim()).map(|c| c[1].trim().to_string()).as_deref() {
            Some("") => TaskState::Todo,
            Some("P" | "p") => TaskState::Partial,
            Some("D" | "d" | "X" | "x") => TaskState::Done,
            Some("B" | "b") => TaskState::Blocked,
            _ => TaskState::Unknown,
        }
    }

    pub fn marker(self) -> &'static str {
        match self {
            TaskState::Todo => "[ ]",
            TaskState::Partial => "[P]",
            TaskState::Done => "[D]",
            TaskState::Blocked => "[B]",
            TaskState::Unknown => "[?]",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, TaskState::Todo | TaskState::Partial)
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub description: String,
    pub state: TaskState,
    /// `[-]`: skipped on purpose; it does not hold its phase open (state stays `unknown`).
    pub skipped: bool,
    /// The state cell's bytes, for splicing a new state in.
    pub state_range: Range<usize>,
    pub guidance: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct LineValue {
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub range: Range<usize>,
    pub goal: Option<LineValue>,
    pub prereqs: Option<LineValue>,
    pub exit_criteria: Option<LineValue>,
    pub tasks: Vec<Task>,
}

impl Phase {
    /// Done when it has tasks and every one is done or skipped.
    pub fn is_done(&self) -> bool {
        !self.tasks.is_empty() && self.tasks.iter().all(|t| t.state == TaskState::Done || t.skipped)
    }

    pub fn done_count(&self) -> usize {
        self.tasks.iter().filter(|t| t.state == TaskState::Done).count()
    }
}

#[derive(Debug)]
pub struct Plan {
    pub path: String,
    pub initiative: Option<String>,
    pub initiative_line: usize,
    pub phases: Vec<Phase>,
    pub doc: Document,
    pub diagnostics: Vec<Diagnostic>,
}

impl Plan {
    pub fn parse(doc: Document) -> Plan {
        let mut diagnostics = doc.diagnostics.clone();
        let (initiative, initiative_line) = (1..=doc.line_count())
            .find_map(|n| {
                let text = doc.line_text(n);
                text.contains("Initiative").then(|| INITIATIVE.captures(text)).flatten().map(|c| {
                    let v = c[1].trim();
                    let id = ITEM_ID.captures(v).map_or(v, |m| m.get(1).unwrap().as_str());
                    (Some(id.to_string()), n)
                })
            })
            .unwrap_or((None, 0));
        let mut phases = Vec::new();
        for (i, h) in doc.headings.iter().enumerate() {
            if !(2..=4).contains(&h.level) {
                continue;
            }
            let Some(cap) = PHASE.captures(&h.text) else {
                continue;
            };
            let end =
                doc.headings[i + 1..].iter().find(|n| n.level <= h.level).map_or(doc.text.len(), |n| n.range.start);
            phases.push(parse_phase(&doc, &cap[1], cap[2].trim(), h.line, h.range.start..end, &mut diagnostics));
        }
        Plan { path: doc.file.clone(), initiative, initiative_line, phases, doc, diagnostics }
    }

    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id.eq_ignore_ascii_case(id))
    }

    /// The phase and task with this task ID (`C1`).
    pub fn task(&self, id: &str) -> Option<(&Phase, &Task)> {
        self.phases.iter().find_map(|p| p.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(id)).map(|t| (p, t)))
    }
}

fn parse_phase(
    doc: &Document,
    id: &str,
    title: &str,
    line: usize,
    range: Range<usize>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Phase {
    let mut phase = Phase {
        id: id.to_string(),
        title: title.to_string(),
        line,
        range: range.clone(),
        goal: None,
        prereqs: None,
        exit_criteria: None,
        tasks: Vec::new(),
    };
    let last = doc.line_of(range.end.saturating_sub(1));
    for n in line + 1..=last {
        let text = doc.line_text(n);
        let lead = crate::ledger::head(text.trim_start_matches([' ', '-', '*']), 16);
        if !(lead.starts_with("Goal") || lead.starts_with("Prereq") || lead.starts_with("Exit")) {
            continue;
        }
        if let Some(c) = PHASE_LINE.captures(text) {
            let v = Some(LineValue { value: c[2].trim().to_string(), line: n });
            let slot = match &c[1] {
                "Goal" => &mut phase.goal,
                "Exit Criteria" => &mut phase.exit_criteria,
                _ => &mut phase.prereqs,
            };
            if slot.is_none() {
                *slot = v;
            }
        }
    }
    for table in doc.tables.iter().filter(|t| t.range.start >= range.start && t.range.start < range.end) {
        let names: Vec<String> = table.header.cells.iter().map(|c| doc.slice(c).to_ascii_lowercase()).collect();
        let Some(state_col) = names.iter().position(|n| n == "state") else {
            continue;
        };
        let find =
            |pred: &dyn Fn(&str) -> bool, fallback: usize| names.iter().position(|n| pred(n)).unwrap_or(fallback);
        let id_col = find(&|n| n == "id", 0);
        let desc_col = find(&|n| n.contains("task") || n.contains("description"), 1);
        let guide_col = find(&|n| n.contains("how") || n.contains("guidance"), names.len().saturating_sub(1));
        for row in &table.rows {
            let cell = |i: usize| row.cells.get(i).map_or("", |c| doc.slice(c));
            let Some(state_range) = row.cells.get(state_col).cloned() else {
                continue;
            };
            let state = TaskState::parse(cell(state_col));
            let skipped = cell(state_col).trim_start().starts_with("[-]");
            if state == TaskState::Unknown && !skipped {
                diagnostics.push(Diagnostic::warning(
                    &doc.file,
                    row.line,
                    format!(
                        "task {}: unknown state `{}` (expected [ ], [P], [D] or [B])",
                        cell(id_col),
                        cell(state_col)
                    ),
                ));
            }
            phase.tasks.push(Task {
                id: cell(id_col).trim_matches('*').trim().to_string(),
                description: cell(desc_col).to_string(),
                state,
                skipped,
                state_range,
                guidance: cell(guide_col).to_string(),
                line: row.line,
            });
        }
    }
    phase
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "## Context\n- Initiative: DEMO-001 — make it so.\n\n### Phase A — First\nGoal: g\nPrereqs: none.\nExit Criteria: all done.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [D] (2025-10-09) | ok |\n| A2 | two | [x] | ok |\n\n## Phase B - Second\nPrereqs: Phase A complete.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run | [ ] | `echo <STAMP>` |\n| B2 | odd | [-] | skipped |\n| B3 | odd | [?] | unknown |\n";

    #[test]
    fn parses_phases_and_tasks() {
        let p = Plan::parse(Document::parse("plans/active/demo.md", PLAN.into()));
        assert_eq!(p.initiative.as_deref(), Some("DEMO-001"));
        assert_eq!(p.phases.len(), 2);
        let a = &p.phases[0];
        assert_eq!((a.id.as_str(), a.title.as_str(), a.line), ("A", "First", 4));
        assert_eq!(a.goal.as_ref().unwrap().value, "g");
        assert_eq!(a.exit_criteria.as_ref().unwrap().line, 7);
        assert!(a.is_done());
        let b = &p.phases[1];
        assert_eq!(b.prereqs.as_ref().unwrap().value, "Phase A complete.");
        assert_eq!(b.tasks[0].state, TaskState::Todo);
        assert_eq!(b.tasks[0].guidance, "`echo <STAMP>`");
        assert_eq!(&p.doc.text[b.tasks[0].state_range.clone()], "[ ]");
        assert_eq!(b.tasks[1].state, TaskState::Unknown);
        assert!(b.tasks[1].skipped && !b.tasks[2].skipped);
        // `[-]` is a deliberate skip; only `[?]` is reported.
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].line, 21);
        // A phase of done and skipped tasks is done.
        let q = Plan::parse(Document::parse("q.md", "### Phase A — x\n\n| ID | Task Description | State | How |\n| --- | --- | --- | --- |\n| A1 | a | [D] | g |\n| A2 | b | [-] | g |\n".into()));
        assert!(q.phases[0].is_done());
    }

    #[test]
    fn state_markers() {
        assert_eq!(TaskState::parse("[B] waiting"), TaskState::Blocked);
        assert_eq!(TaskState::parse("[P]"), TaskState::Partial);
        assert_eq!(TaskState::parse("done"), TaskState::Unknown);
    }
}
