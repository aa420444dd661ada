//! Plans (`plans/active/**/*.md`): the initiative, `Phase X — Title` sections with their Goal /
//! Prereqs / Exit Criteria lines, and tasks — table rows with a State cell, or checklist lines
//! carrying a task ID (`- [x] A1: …`). A plan of checklist lines without phase headings (`##
//! Checklist`) has one phase per heading that holds them.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::diag::Diagnostic;
use crate::markdown::Document;

mod task;

use task::checklist_tasks;
pub use task::{checklist_task, state_problem, written_cells, ChecklistTask, Task, TaskState};

static PHASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\*\*)?Phase\s+([A-Za-z0-9][A-Za-z0-9.]*)(?:\*\*)?\s*(?:—|–|--|-|:)\s*(.*)$").unwrap()
});
static PHASE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*]\s+)?\**(Goal|Prereqs|Prerequisites|Exit Criteria)\**\s*:\**\s*(.*)$").unwrap()
});
static INITIATIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[-*]\s+)?\**(Initiative|ID)\**\s*:\**\s*(.*)$").unwrap());
static META_STATUS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*[-*]\s+\**Status\**\s*:\**\s*(.*)$").unwrap());

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
        !self.tasks.is_empty() && self.tasks.iter().all(|t| t.state.is_closed())
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
    /// The `- **Status:**` of a `## Metadata` block, when there is one.
    pub status: Option<String>,
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
                (text.contains("Initiative") || text.contains("ID"))
                    .then(|| INITIATIVE.captures(text))
                    .flatten()
                    .and_then(|c| {
                        let v = c[2].trim().trim_matches(['`', '*']).trim();
                        let v = v.strip_prefix('[').map_or(v, |r| r.split(']').next().unwrap_or(r));
                        let id = v.split(|ch: char| ch.is_whitespace() || ch == ',').next().unwrap_or("");
                        crate::id::is_item_id(id).then(|| (Some(id.to_string()), n))
                    })
            })
            // `plans/active/<ID>/implementation.md`: the folder names the initiative.
            .or_else(|| folder_initiative(&doc.file).map(|id| (Some(id), 0)))
            .unwrap_or((None, 0));
        let status = metadata_status(&doc);
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
        if phases.is_empty() {
            phases = checklist_phases(&doc, &mut diagnostics);
        }
        if phases.is_empty() {
            // Task tables with no phase heading (upstream's repo-hygiene plans): one phase named
            // by its tasks' letter, so `H1` is the next task, not "every phase done".
            let whole = parse_phase(&doc, "", "", 1, 0..doc.text.len(), &mut Vec::new());
            if let Some(first) = whole.tasks.first() {
                let letter: String = first.id.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
                let (title, line) = doc.headings.first().map_or(("Tasks".to_string(), 1), |h| (h.text.clone(), h.line));
                let id = if letter.is_empty() { "1".to_string() } else { letter };
                phases.push(parse_phase(&doc, &id, &title, line, 0..doc.text.len(), &mut diagnostics));
            }
        }
        if phases.is_empty() {
            // Zero phases is never "every phase done": say what loop could not read, and where.
            let at = doc.headings.iter().find(|h| h.level >= 2).map_or(1, |h| h.line);
            diagnostics.push(crate::diag::Diagnostic::warning(&doc.file, at, NO_PHASE));
        }
        Plan { path: doc.file.clone(), initiative, initiative_line, status, phases, doc, diagnostics }
    }

    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id.eq_ignore_ascii_case(id))
    }

    /// The phase and task with this task ID (`C1`).
    pub fn task(&self, id: &str) -> Option<(&Phase, &Task)> {
        self.phases.iter().find_map(|p| p.tasks.iter().find(|t| t.id.eq_ignore_ascii_case(id)).map(|t| (p, t)))
    }

    /// Where the plan's tasks come from, for `loop status`.
    pub fn task_source(&self) -> &'static str {
        let tasks: Vec<&Task> = self.phases.iter().flat_map(|p| &p.tasks).collect();
        match (tasks.iter().any(|t| t.checklist), tasks.iter().any(|t| !t.checklist)) {
            (true, true) => "tables and checklists",
            (true, false) => "checklists",
            (false, true) => "tables",
            (false, false) => "no tasks",
        }
    }
}

/// The warning of a plan in which loop reads no phase (`next` and `lint` find it by it).
pub const NO_PHASE: &str =
    "loop reads no phase in this plan (`### Phase X — Title` sections with task tables, or checklists under headings)";

fn folder_initiative(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop()?;
    let folder = parts.pop()?;
    (matches!(file, "implementation.md" | "plan.md") && crate::id::is_item_id(folder)).then(|| folder.to_string())
}

/// `- **Status:** Complete` inside a `## Metadata` section.
fn metadata_status(doc: &Document) -> Option<String> {
    let h = doc.headings.iter().position(|h| h.text.trim().eq_ignore_ascii_case("Metadata"))?;
    let first = doc.headings[h].line + 1;
    let last = doc.headings.get(h + 1).map_or(doc.line_count(), |n| n.line - 1);
    (first..=last).find_map(|n| META_STATUS.captures(doc.line_text(n)).map(|c| c[1].trim().to_string()))
}

/// Checklist tasks of a plan without phase headings: one phase per heading holding them.
fn checklist_phases(doc: &Document, diagnostics: &mut Vec<Diagnostic>) -> Vec<Phase> {
    let mut phases: Vec<Phase> = Vec::new();
    for (i, h) in doc.headings.iter().enumerate() {
        let end = doc.headings.get(i + 1).map_or(doc.text.len(), |n| n.range.start);
        let range = h.range.start..end;
        let tasks = checklist_tasks(doc, &range, diagnostics);
        if !tasks.is_empty() {
            phases.push(Phase {
                id: h.text.trim().to_string(),
                title: h.text.trim().to_string(),
                line: h.line,
                range,
                goal: None,
                prereqs: None,
                exit_criteria: None,
                tasks,
            });
        }
    }
    phases
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
        let lead = crate::markdown::head(text.trim_start_matches([' ', '-', '*']), 16);
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
            if task::is_group_row(&row.cells.iter().map(|c| doc.slice(c)).collect::<Vec<_>>()) {
                continue;
            }
            let state_range = task::marker_range(&doc.text, state_range);
            let state = TaskState::parse(cell(state_col));
            let id = cell(id_col).trim_matches('*').trim().to_string();
            let task = Task {
                id,
                description: cell(desc_col).to_string(),
                state,
                state_range,
                checklist: false,
                guidance: cell(guide_col).to_string(),
                line: row.line,
            };
            if state == TaskState::Unknown {
                diagnostics.push(Diagnostic::warning(&doc.file, row.line, state_problem(doc, &task)));
            }
            phase.tasks.push(task);
        }
    }
    let tables: Vec<Range<usize>> = doc.tables.iter().map(|t| t.range.clone()).collect();
    for t in checklist_tasks(doc, &range, diagnostics) {
        let at = doc.line_start(t.line);
        if !tables.iter().any(|r| r.contains(&at)) {
            phase.tasks.push(t);
        }
    }
    phase.tasks.sort_by_key(|t| t.line);
    phase
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "## Context\n- Initiative: DEMO-001 — make it so.\n\n### Phase A — First\nGoal: g\nPrereqs: none.\nExit Criteria: all done.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [D] (2025-10-09) | ok |\n| A2 | two | [x] | ok |\n\n## Phase B - Second\nPrereqs: Phase A complete.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run | [ ] | `echo <STAMP>` |\n| B2 | odd | [-] | skipped |\n| B3 | odd | [?] | unknown |\n";

    /// nanoBragg's checklists head groups of rows with a bold one-cell row; those are headings.
    #[test]
    fn a_group_row_in_a_task_table_is_no_task() {
        let text = "### Phase A — One\n\n| ID | Task Description | State | How |\n| :-- | :-- | :-- | :-- |\n| **Section 0: Preparation** |\n| 0.A | Review | `[D]` | x |\n| **Section 1: Core** | | | |\n| 1.A | Build | [D] | y |\n| A3 |\n";
        let p = Plan::parse(Document::parse("plans/active/p.md", text.into()));
        let ids: Vec<&str> = p.phases[0].tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["0.A", "1.A", "A3"]);
        // A state in code is read, and a new state replaces only the marker inside the backticks.
        let a = &p.phases[0].tasks[0];
        assert_eq!((a.state, p.doc.slice(&a.state_range)), (TaskState::Done, "[D]"));
        // An ID alone is still a task, whose missing state is named.
        assert_eq!(p.diagnostics.len(), 1, "{:?}", p.diagnostics);
        assert!(p.diagnostics[0].message.contains("task A3: the row has 1 cell, expected 4"), "{:?}", p.diagnostics);
    }

    #[test]
    fn written_cells_counts_what_the_writer_wrote() {
        assert_eq!(written_cells("| A2 | Record a baseline |"), 2);
        assert_eq!(written_cells("| A1 | x | [ ] | `a | b` and a \\| pipe |"), 4);
        assert_eq!(written_cells("A1 | x | [ ]"), 3);
    }

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
        assert_eq!(b.tasks[1].state, TaskState::Skipped);
        assert_eq!(b.tasks[2].state, TaskState::Unknown);
        // `[-]` is a deliberate skip; only `[?]` is reported, naming the task.
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].line, 21);
        assert!(p.diagnostics[0].message.starts_with("task B3: unknown state `[?]`"), "{}", p.diagnostics[0]);
        let q = Plan::parse(Document::parse("q.md", "### Phase A — x\n\n| ID | Task Description | State | How |\n| --- | --- | --- | --- |\n| A1 | a | [D] | g |\n| A2 | b | [-] | g |\n| A3 | c | [SKIP] | g |\n| A4 | d | [S] | g |\n".into()));
        assert!(q.phases[0].is_done());
    }

    #[test]
    fn state_markers() {
        assert_eq!(TaskState::parse("[B] waiting"), TaskState::Blocked);
        assert_eq!(TaskState::parse("[P]"), TaskState::Partial);
        assert_eq!(TaskState::parse("[SKIP]"), TaskState::Skipped);
        assert_eq!(TaskState::parse("[DEFER]"), TaskState::Skipped);
        assert_eq!(TaskState::parse("done"), TaskState::Unknown);
    }

    #[test]
    fn checklist_plans() {
        let text = "# DEMO-001 — x\n\n## Metadata\n- **ID:** DEMO-001\n- **Status:** Complete\n\n## Phases & Checklists\n\n### Phase A — Manifest\n- [x] A1: Implemented the manifest.\n- [ ] A2: Re-run the loader.\n- [ ] Not a task, no ID.\n\n### Phase B — README\n- [x] **B1** — Authored the README.\n";
        let p = Plan::parse(Document::parse("plans/active/DEMO-001/implementation.md", text.into()));
        assert_eq!((p.initiative.as_deref(), p.status.as_deref()), (Some("DEMO-001"), Some("Complete")));
        let tasks: Vec<(&str, &str, TaskState)> = p
            .phases
            .iter()
            .flat_map(|ph| ph.tasks.iter().map(move |t| (ph.id.as_str(), t.id.as_str(), t.state)))
            .collect();
        assert_eq!(
            tasks,
            vec![("A", "A1", TaskState::Done), ("A", "A2", TaskState::Todo), ("B", "B1", TaskState::Done)]
        );
        assert_eq!(&p.doc.text[p.phases[0].tasks[1].state_range.clone()], "[ ]");
        assert_eq!(p.task_source(), "checklists");
        let seed = "# Seed Plan\n\n## Checklist\n- [ ] S1: Check `inbox/`.\n- [x] S2: Reply.\n\n## Notes\n- x\n";
        let p = Plan::parse(Document::parse("plans/active/seed/implementation.md", seed.into()));
        assert_eq!(p.initiative.as_deref(), Some("seed"));
        assert_eq!(p.phases.len(), 1);
        assert_eq!((p.phases[0].id.as_str(), p.phases[0].tasks.len()), ("Checklist", 2));
    }

    #[test]
    fn a_bold_task_line_gives_a_clean_title() {
        let t = |s: &str| checklist_task(s).map(|c| (c.id, c.description));
        let want = |id: &str, d: &str| Some((id.to_string(), d.to_string()));
        assert_eq!(
            t("[ ] **D3 — Ledger wrap-up**: update the ledger."),
            want("D3", "Ledger wrap-up: update the ledger.")
        );
        assert_eq!(t("[x] **S3** — seed the run"), want("S3", "seed the run"));
        assert_eq!(t("[x] A1: plain"), want("A1", "plain"));
    }
}
