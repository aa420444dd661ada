//! The single-initiative dialect: one initiative per ledger, no `## [ID]` sections.
//!
//! ```text
//! ## Status
//! `in_progress`
//! ## Current Focus
//! **DEBUG-SIM-LINES-DOSE-001 — Legacy dose_experiments ground-truth bundle**
//! - Working Plan: `plans/active/DEBUG-SIM-LINES-DOSE-001/implementation.md`
//! ## Completed Items / ## TODOs
//! - [x] DEBUG-SIM-LINES-DOSE-001.B1: …
//! ## Attempts History
//! ### 2026-01-23T00:24Z — DEBUG-SIM-LINES-DOSE-001.B1 (README generator shipped)
//! ```
//!
//! Every initiative named by the focus, an attempt heading or a checklist entry is an item; the
//! focus item takes the `## Status`. Attempts are the timestamped headings wherever they stand
//! (agents append them after `## TODOs` too), in file order.

use super::attempts::timestamped_heading;
use super::{ids_equal, Attempt, Field, Item, Ledger, LedgerTask};
use crate::markdown::Document;

/// Whether the ledger is written in this dialect (called when it has no `## [ID]` items).
pub(super) fn applies(doc: &Document) -> bool {
    doc.headings.iter().any(|h| h.level == 2 && h.text.trim().eq_ignore_ascii_case("Current Focus"))
        || doc.headings.iter().any(|h| h.level >= 3 && timestamped_heading(&h.text).is_some())
}

/// `**ID — Title**` (or `**ID - Title**`, `**ID: Title**`) on a line of its own.
fn bold_focus(line: &str) -> Option<(&str, &str)> {
    let inner = line.trim().strip_prefix("**")?.strip_suffix("**")?;
    let (id, title) = [" — ", " – ", " - ", ": "].iter().find_map(|sep| inner.split_once(sep))?;
    let id = id.trim();
    super::is_item_id(id).then_some((id, title.trim()))
}

pub(super) fn parse(ledger: &mut Ledger) {
    let mut items: Vec<Item> = Vec::new();
    if let Some(mut focus) = current_focus(ledger) {
        if let Some(status) = status_field(ledger) {
            focus.fields.insert(0, status);
        }
        ledger.active_focus.push(focus.id.clone());
        items.push(focus);
    }
    stamped_attempts(&ledger.doc, &mut items);
    checklist_tasks(&ledger.doc, &mut items);
    ledger.items = items;
}

/// An initiative's item: the whole file is its section.
fn new_item(doc: &crate::markdown::Document, id: &str, title: &str, line: usize) -> Item {
    Item {
        id: id.to_string(),
        title: title.to_string(),
        line,
        level: 2,
        range: 0..doc.text.len(),
        fields: Vec::new(),
        attempts: Vec::new(),
        archived: false,
        cited: 0,
        tasks: Vec::new(),
        closed: None,
        derived_status: None,
    }
}

/// The focus: the bold line of `## Current Focus`, with the section's `- Field:` bullets.
fn current_focus(ledger: &Ledger) -> Option<Item> {
    let doc = &ledger.doc;
    let sec = ledger.section("Current Focus")?;
    let (first, last) = (doc.line_of(sec.start) + 1, doc.line_of(sec.end.saturating_sub(1)));
    let (line, (id, title)) = (first..=last).find_map(|n| bold_focus(doc.line_text(n)).map(|f| (n, f)))?;
    let mut item = new_item(doc, id, title, line);
    let own = |(_, i): &(usize, &crate::markdown::Item)| i.depth == 0 && sec.contains(&i.range.start);
    item.fields.extend(doc.items.iter().enumerate().filter(own).filter_map(|(k, _)| Field::of_list_item(doc, k)));
    Some(item)
}

/// `## Status`: its first line, the value inside backticks when it has them.
fn status_field(ledger: &Ledger) -> Option<Field> {
    let doc = &ledger.doc;
    let sec = ledger.section("Status")?;
    let (first, last) = (doc.line_of(sec.start) + 1, doc.line_of(sec.end.saturating_sub(1)));
    let n = (first..=last).find(|&n| !doc.line_text(n).trim().is_empty())?;
    let r = doc.line_range(n);
    let text = &doc.text[r.clone()];
    let (start, end) = match (text.find('`'), text.rfind('`')) {
        (Some(a), Some(b)) if b > a => (r.start + a + 1, r.start + b),
        _ => (r.start + (text.len() - text.trim_start().len()), r.start + text.trim_end().len()),
    };
    Some(Field::at(doc, "Status", start..end))
}

/// The item `id` names among `items`, added (titled `title`, at `line`) when there is none.
fn item_for(doc: &crate::markdown::Document, items: &mut Vec<Item>, id: &str, title: &str, line: usize) -> usize {
    match items.iter().position(|i| ids_equal(&i.id, id)) {
        Some(k) => k,
        None => {
            items.push(new_item(doc, id, title, line));
            items.len() - 1
        }
    }
}

/// Timestamped attempt headings, each with its initiative.
fn stamped_attempts(doc: &crate::markdown::Document, items: &mut Vec<Item>) {
    for h in &doc.headings {
        let Some(t) = (h.level >= 3).then(|| timestamped_heading(&h.text)).flatten() else { continue };
        let k = item_for(doc, items, &t.id, t.label.as_deref().unwrap_or(""), h.line);
        items[k].attempts.push(Attempt {
            number: None,
            date: Some(t.date.clone()),
            time: Some(t.time.clone()),
            task: t.task.clone(),
            result: t.label.clone(),
            line: h.line,
            item: None,
            text: h.range.clone(),
            body: h.range.start..super::sections::heading_end(doc, h),
        });
    }
}

/// Checklist entries: `ID.TASK:` names its initiative; a bare `TASK:` belongs to the initiative
/// whose attempts name that task, else to the focus.
fn checklist_tasks(doc: &crate::markdown::Document, items: &mut Vec<Item>) {
    for it in doc.items.iter() {
        let Some(c) = crate::plan::checklist_task(doc.item_text(it)) else { continue };
        let (owner, task) = match c.id.split_once('.') {
            Some((id, task)) if super::is_item_id(id) && !task.is_empty() => (Some(id.to_string()), task.to_string()),
            _ => (None, c.id.clone()),
        };
        let k = match owner {
            Some(id) => Some(item_for(doc, items, &id, "", it.line)),
            None => items
                .iter()
                .position(|i| i.attempts.iter().any(|a| a.task.as_deref().is_some_and(|t| task_names(t, &task))))
                .or((!items.is_empty()).then_some(0)),
        };
        if let Some(k) = k {
            let start = it.text_range.start;
            items[k].tasks.push(LedgerTask {
                id: task,
                description: c.description,
                state: c.state,
                state_range: start + c.state_range.start..start + c.state_range.end,
                line: it.line,
                checkbox: true,
            });
        }
    }
}

/// Whether an attempt's task words (`S1–S2`, `C1/C2`, `F1`) include `task`.
fn task_names(words: &str, task: &str) -> bool {
    words.split(['/', ',', '–', '-', ' ']).any(|w| w.eq_ignore_ascii_case(task))
}
