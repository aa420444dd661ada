//! Where new lines go in a ledger item, and their exact text: an attempt entry after the last
//! one (in its bullet and indentation), a Next Action after the last of its list.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::ledger::{self, Ledger};
use crate::markdown::Document;

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\s*)(\d+)([.)])(\s+)").unwrap());

/// The last non-blank line of a range, as the offset just past its line ending.
fn after_last_line(doc: &Document, range: &Range<usize>) -> usize {
    let mut line = doc.line_of(range.end.saturating_sub(1).max(range.start));
    let first = doc.line_of(range.start);
    while line > first && doc.line_text(line).trim().is_empty() {
        line -= 1;
    }
    doc.line_start(line + 1)
}

/// Where the entry goes and the exact text to insert there.
pub(crate) fn attempt_insertion(ledger: &Ledger, item: &ledger::Item, entry: &str, nl: &str) -> (usize, String) {
    let doc = &ledger.doc;
    let prefix_of = |line: usize, text_start: usize| doc.text[doc.line_start(line)..text_start].to_string();
    // A file whose last line has no line ending needs one before anything appended after it.
    let fix_eof = |at: usize| if at == doc.text.len() && !doc.text.ends_with('\n') { nl } else { "" };
    if let Some(field) = item.field("Attempts History") {
        let fitem = &doc.items[field.item];
        let at = after_last_line(doc, &fitem.range);
        let listed = item.attempts.iter().rev().filter_map(|a| a.item.map(|i| (a, &doc.items[i])));
        let prefix = match listed.clone().find(|(_, it)| fitem.range.contains(&it.range.start)) {
            Some((a, it)) => prefix_of(a.line, it.text_range.start),
            None => format!("{}  * ", " ".repeat(indent_of(doc, fitem.line))),
        };
        return (at, format!("{}{prefix}{entry}{nl}", fix_eof(at)));
    }
    if let Some((last, it)) = item.attempts.iter().rev().find_map(|a| a.item.map(|i| (a, &doc.items[i]))) {
        let at = after_last_line(doc, &it.range);
        return (at, format!("{}{}{entry}{nl}", fix_eof(at), prefix_of(last.line, it.text_range.start)));
    }
    // No history yet: create the field after the item's last field (documented in README).
    let (at, indent, bullet) = match item.fields.last() {
        Some(f) => {
            let it = &doc.items[f.item];
            let marker = doc.text[doc.line_start(it.line)..it.text_range.start].trim().to_string();
            (after_last_line(doc, &(it.range.start..item.range.end.min(it.range.end))), indent_of(doc, it.line), marker)
        }
        None => (doc.line_start(item.line + 1), 0, "-".to_string()),
    };
    let pad = " ".repeat(indent);
    (at, format!("{}{pad}{bullet} Attempts History:{nl}{pad}  * {entry}{nl}", fix_eof(at)))
}

fn indent_of(doc: &Document, line: usize) -> usize {
    let t = doc.line_text(line);
    t.len() - t.trim_start().len()
}

pub(crate) fn next_action_insertion(
    ledger: &Ledger,
    item: &ledger::Item,
    action: &str,
    nl: &str,
) -> Result<(Range<usize>, String)> {
    let doc = &ledger.doc;
    let f = item
        .field("Next Actions")
        .ok_or_else(|| Error::input(&doc.file, item.line, format!("[{}] has no `- Next Actions:` field", item.id)))?;
    let fitem = &doc.items[f.item];
    let at = after_last_line(doc, &fitem.range);
    let last_line = doc.line_of(at.saturating_sub(1));
    let text = if last_line > fitem.line {
        let last = doc.line_text(last_line);
        match NUMBERED.captures(last) {
            Some(c) => {
                let n: u64 = c[2].parse().unwrap_or(0) + 1;
                format!("{}{n}{}{}{action}{nl}", &c[1], &c[3], &c[4])
            }
            None => {
                let t = last.trim_start();
                let marker = t.chars().next().filter(|c| matches!(c, '-' | '*' | '+')).unwrap_or('-');
                format!("{}{marker} {action}{nl}", &last[..last.len() - t.len()])
            }
        }
    } else {
        format!("{}  - {action}{nl}", " ".repeat(indent_of(doc, fitem.line)))
    };
    let eof = if at == doc.text.len() && !doc.text.ends_with('\n') { nl } else { "" };
    Ok((at..at, format!("{eof}{text}")))
}
