//! Tasks: their states, and how a table row or a checklist line becomes one — and, when loop
//! cannot read a task's state, what exactly is wrong with it.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::markdown::Document;

static STATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([^\]]{0,9})\]").unwrap());

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Todo,
    Partial,
    Done,
    Blocked,
    /// Skipped or deferred on purpose (`[-]`, `[S]`, `[SKIP]`, `[DEFER]`): it closes the task.
    Skipped,
    Unknown,
}

impl TaskState {
    /// `[ ]`, `[P]` (`[~]`), `[D]` (`[x]`, the common checkbox), `[B]`, `[-]` / `[S]` / `[SKIP]` /
    /// `[DEFER]` (skipped); anything else is unknown. Text after the marker (`[D] (2025-10-09)`)
    /// is allowed.
    pub fn parse(cell: &str) -> TaskState {
        // `` `[D]` `` and `**[D]**`: the marker in code or bold, as some plans write it.
        let Some(c) = STATE.captures(cell.trim().trim_matches(['`', '*'])) else { return TaskState::Unknown };
        match c[1].trim().to_ascii_uppercase().as_str() {
            "" => TaskState::Todo,
            "P" | "~" | "WIP" => TaskState::Partial,
            "D" | "X" | "DONE" | "✓" | "✔" => TaskState::Done,
            "B" => TaskState::Blocked,
            "-" | "S" | "SKIP" | "SKIPPED" | "DEFER" | "DEFERRED" | "N/A" => TaskState::Skipped,
            _ => TaskState::Unknown,
        }
    }

    pub fn marker(self) -> &'static str {
        match self {
            TaskState::Todo => "[ ]",
            TaskState::Partial => "[P]",
            TaskState::Done => "[D]",
            TaskState::Blocked => "[B]",
            TaskState::Skipped => "[-]",
            TaskState::Unknown => "[?]",
        }
    }

    /// The marker in a checklist line's style: `[x]` for done, `[ ]` for todo.
    pub fn checkbox(self) -> &'static str {
        match self {
            TaskState::Done => "[x]",
            other => other.marker(),
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, TaskState::Todo | TaskState::Partial)
    }

    /// Done or skipped: the task holds nothing open.
    pub fn is_closed(self) -> bool {
        matches!(self, TaskState::Done | TaskState::Skipped)
    }
}

/// A checklist line that carries a task: `[x] A1: text`, `[ ] **S3** — text`, `[x]
/// ID.TASK: text` (the list item's text, after its bullet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistTask {
    pub state: TaskState,
    /// The `[x]` marker, relative to the text.
    pub state_range: Range<usize>,
    pub id: String,
    pub description: String,
}

/// A task ID: a letter, then letters, digits, `.` `_` `-`, with a digit somewhere (`A1`,
/// `M2g.2c`, `DEBUG-SIM-LINES-DOSE-001.F1`) — words like `Todo` are not IDs.
fn is_task_id(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || crate::id::is_unicode_dash(c))
}

pub fn checklist_task(text: &str) -> Option<ChecklistTask> {
    let m = STATE.find(text)?;
    let state = TaskState::parse(m.as_str());
    let rest = text[m.end()..].trim_start();
    let bare = rest.trim_start_matches('*');
    let end = bare.find(|c: char| c.is_whitespace() || c == ':' || c == '*' || c == '—' || c == '–')?;
    let id = bare[..end].trim_end_matches(['.', ',']);
    if !is_task_id(id) {
        return None;
    }
    let after = bare[end..].trim_start_matches('*').trim_start();
    let mut description = after
        .strip_prefix(':')
        .or_else(|| after.strip_prefix('—'))
        .or_else(|| after.strip_prefix('–'))
        .or_else(|| after.strip_prefix("- "))?
        .trim()
        .to_string();
    // `**D3 — Ledger wrap-up**: …`: the bold opened before the ID closes in the title.
    let opened = rest.len() - bare.len();
    if opened > 0 && !bare[end..].starts_with('*') {
        if let Some(close) = description.find(&rest[..opened]) {
            description.replace_range(close..close + opened, "");
        }
    }
    Some(ChecklistTask { state, state_range: m.range(), id: id.to_string(), description })
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub description: String,
    pub state: TaskState,
    /// The state's bytes (a table cell, or a checklist line's `[x]`), for splicing a new state in.
    pub state_range: Range<usize>,
    /// A checklist line rather than a table row: states are written `[x]` / `[ ]`.
    pub checklist: bool,
    pub guidance: String,
    pub line: usize,
}

pub(super) fn checklist_tasks(doc: &Document, range: &Range<usize>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Task> {
    let mut tasks = Vec::new();
    for it in doc.items.iter().filter(|i| range.contains(&i.range.start)) {
        let text = doc.item_text(it);
        let Some(c) = checklist_task(text) else { continue };
        if c.state == TaskState::Unknown {
            diagnostics.push(unknown_state(doc, &c.id, &text[c.state_range.clone()], it.line));
        }
        let start = it.text_range.start;
        tasks.push(Task {
            id: c.id,
            guidance: c.description.clone(),
            description: c.description,
            state: c.state,
            state_range: start + c.state_range.start..start + c.state_range.end,
            checklist: true,
            line: it.line,
        });
    }
    tasks
}

/// How many cells a table row is written with: `|`s that are not escaped (`\|`) and not in a
/// code span, between the optional outer ones. A reader pads a short row with empty cells; this
/// says what the writer left out.
pub fn written_cells(row: &str) -> usize {
    let row = row.trim();
    let mut inner = row.strip_prefix('|').unwrap_or(row);
    if inner.ends_with('|') && !inner.ends_with("\\|") {
        inner = &inner[..inner.len() - 1];
    }
    let (mut cells, mut code, mut escaped) = (1, false, false);
    for c in inner.chars() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '`' => code = !code,
            '|' if !escaped && !code => cells += 1,
            _ => {}
        }
        escaped = false;
    }
    cells
}

/// The bytes of a State cell that a new state replaces: the `[…]` marker inside code or bold
/// (`` `[D]` ``), so the markup stays; else the whole cell.
pub(super) fn marker_range(text: &str, cell: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let s = &text[cell.clone()];
    let wrapped = s.starts_with(['`', '*']);
    match (wrapped, s.find('['), s.find(']')) {
        (true, Some(a), Some(b)) if a < b => cell.start + a..cell.start + b + 1,
        _ => cell,
    }
}

/// A row that names a group of the tasks below it (`| **Section 1: Core** |`, the other cells
/// empty or left out), as plans lay out long tables: a heading, not a task. An ID alone (`| A3 |`)
/// is still a task, whose missing state is reported.
pub(super) fn is_group_row(cells: &[&str]) -> bool {
    let Some((first, rest)) = cells.split_first() else { return false };
    let first = first.trim();
    rest.iter().all(|c| c.trim().is_empty()) && (first.starts_with("**") || first.contains(char::is_whitespace))
}

/// What is wrong with a task row whose state loop cannot read: a row short of its header's
/// cells, an empty State cell, or a state it does not know.
pub fn state_problem(doc: &Document, task: &Task) -> String {
    let state = doc.slice(&task.state_range).trim();
    let written = written_cells(doc.line_text(task.line));
    let header = doc.tables.iter().find(|t| t.rows.iter().any(|r| r.line == task.line));
    match header.map(|t| written_cells(doc.line_text(t.header.line))) {
        Some(want) if !task.checklist && written < want => format!(
            "task {}: the row has {written} cell{}, expected {want} like its header; no State cell",
            task.id,
            if written == 1 { "" } else { "s" }
        ),
        _ if state.is_empty() => format!("task {}: its State cell is empty (write [ ] for a task not started)", task.id),
        _ => format!(
            "task {}: unknown state `{state}` (read: [ ] todo, [P] partial, [D]/[x] done, [B] blocked, [-]/[S]/[SKIP] skipped); it holds its phase open",
            task.id
        ),
    }
}

fn unknown_state(doc: &Document, id: &str, state: &str, line: usize) -> Diagnostic {
    Diagnostic::warning(
        &doc.file,
        line,
        format!(
            "task {id}: unknown state `{state}` (read: [ ] todo, [P] partial, [D]/[x] done, [B] blocked, [-]/[S]/[SKIP] skipped); it holds its phase open"
        ),
    )
}
