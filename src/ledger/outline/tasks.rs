//! Tasks in an outline: checkbox lines and the rows of tables with a state column.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::ids::{explicit_id, synthesised_id};
use super::markers::{in_code, task_state, STATUS_LINE};
use crate::ledger::LedgerTask;
use crate::markdown::Document;
use crate::plan::TaskState;

pub(super) static CHECKBOX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([ xX])\]").unwrap());
/// A table whose states can be read: its ID (or first) column and its status column.
pub(super) struct StateTable {
    pub(super) table: usize,
    pub(super) id_col: usize,
    pub(super) status_col: usize,
}

pub(super) fn state_tables(doc: &Document) -> Vec<StateTable> {
    let mut out = Vec::new();
    for (k, t) in doc.tables.iter().enumerate() {
        let head: Vec<String> =
            t.header.cells.iter().map(|c| doc.slice(c).trim().trim_matches('*').to_lowercase()).collect();
        let status_col =
            head.iter().position(|h| STATUS_LINE.is_match(&format!("{h}: x")) || h == "done").or_else(|| {
                // No Status header, but a column of checkbox cells.
                (0..head.len()).find(|&c| {
                    !t.rows.is_empty()
                        && t.rows.iter().all(|r| {
                            r.cells.get(c).is_some_and(|x| TaskState::parse(doc.slice(x)) != TaskState::Unknown)
                        })
                })
            });
        let Some(status_col) = status_col else { continue };
        let id_col =
            head.iter().position(|h| matches!(h.as_str(), "id" | "#" | "task" | "item" | "issue")).unwrap_or(0);
        out.push(StateTable { table: k, id_col, status_col });
    }
    out
}

/// A checkbox line's task: `[ ] **Title**: rest`, `[x] A1: text`, `[ ] plain words`.
pub(super) fn checkbox_task(doc: &Document, it: &crate::markdown::Item) -> Option<LedgerTask> {
    let text = doc.slice(&it.text_range);
    let mark = CHECKBOX.find(text)?;
    let state = TaskState::parse(mark.as_str());
    let rest = text[mark.end()..].trim();
    let (id, description) = match crate::plan::checklist_task(text).filter(|c| c.state == state) {
        Some(c) => (Some(c.id), c.description),
        None => {
            let d = match rest.strip_prefix("**").and_then(|r| r.split_once("**")) {
                Some((bold, after)) => {
                    let after = after.trim_start_matches(':').trim();
                    let bold = bold.trim().trim_end_matches(':');
                    if after.is_empty() {
                        bold.to_string()
                    } else {
                        format!("{bold}: {after}")
                    }
                }
                None => rest.to_string(),
            };
            (explicit_id(rest).map(|(id, _)| id), d)
        }
    };
    let start = it.text_range.start + mark.start();
    Some(LedgerTask {
        id: id.unwrap_or_else(|| synthesised_id(description.split(':').next().unwrap_or(&description))),
        description,
        state,
        state_range: start..start + mark.len(),
        line: it.line,
        checkbox: true,
    })
}

/// Tasks in a range: checkbox lines, and rows of tables with a state column.
pub(super) fn tasks_in(doc: &Document, tables: &[StateTable], range: &Range<usize>) -> Vec<LedgerTask> {
    let mut tasks: Vec<LedgerTask> = doc
        .items
        .iter()
        .filter(|it| range.contains(&it.range.start) && !in_code(doc, it.range.start))
        .filter_map(|it| checkbox_task(doc, it))
        .collect();
    for st in tables.iter().filter(|st| range.contains(&doc.tables[st.table].range.start)) {
        for row in &doc.tables[st.table].rows {
            let (Some(idc), Some(sc)) = (row.cells.get(st.id_col), row.cells.get(st.status_col)) else { continue };
            let cell = doc.slice(idc).trim();
            let (id, description) = match explicit_id(cell) {
                Some((id, title)) => (id, title),
                None => {
                    let d = cell.trim_matches('*').trim().to_string();
                    (synthesised_id(&d), d)
                }
            };
            tasks.push(LedgerTask {
                id,
                description,
                state: task_state(doc.slice(sc)),
                state_range: sc.clone(),
                line: row.line,
                checkbox: false,
            });
        }
    }
    tasks.sort_by_key(|t| t.line);
    // Two tasks of one item never share an ID.
    for k in 1..tasks.len() {
        let base = tasks[k].id.clone();
        let mut n = 1;
        while tasks[..k].iter().any(|t| t.id.eq_ignore_ascii_case(&tasks[k].id)) {
            n += 1;
            tasks[k].id = format!("{base}-{n}");
        }
    }
    tasks
}
