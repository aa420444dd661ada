//! Where new lines go in a ledger item, and their exact text: an attempt entry after the last
//! one (in its bullet and indentation), a Next Action after the last of its list.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::ledger::{self, Ledger};
use crate::markdown::Document;

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\s*)(\d+)([.)])(\s+)").unwrap());

/// Where the entry goes and the exact text to insert there.
pub(crate) fn attempt_insertion(ledger: &Ledger, item: &ledger::Item, entry: &str, nl: &str) -> (usize, String) {
    let doc = &ledger.doc;
    let prefix_of = |line: usize, text_start: usize| doc.text[doc.line_start(line)..text_start].to_string();
    // A file whose last line has no line ending needs one before anything appended after it.
    let fix_eof = |at: usize| if at == doc.text.len() && !doc.text.ends_with(['\n', '\r']) { nl } else { "" };
    if let Some(fitem) = item.field("Attempts History").and_then(|f| f.item).map(|i| &doc.items[i]) {
        let at = doc.after_last_line(&fitem.range);
        let listed = item.attempts.iter().rev().filter_map(|a| a.item.map(|i| (a, &doc.items[i])));
        let prefix = match listed.clone().find(|(_, it)| fitem.range.contains(&it.range.start)) {
            Some((a, it)) => prefix_of(a.line, it.text_range.start),
            None => format!("{}  * ", " ".repeat(indent_of(doc, fitem.line))),
        };
        return (at, format!("{}{prefix}{entry}{nl}", fix_eof(at)));
    }
    if let Some((last, it)) = item.attempts.iter().rev().find_map(|a| a.item.map(|i| (a, &doc.items[i]))) {
        let at = doc.after_last_line(&it.range);
        return (at, format!("{}{}{entry}{nl}", fix_eof(at), prefix_of(last.line, it.text_range.start)));
    }
    // No history yet: create the field after the item's last field (documented in README).
    let (at, indent, bullet) = match item.fields.iter().rev().find_map(|f| f.item) {
        Some(i) => {
            let it = &doc.items[i];
            let marker = doc.text[doc.line_start(it.line)..it.text_range.start].trim().to_string();
            (doc.after_last_line(&(it.range.start..item.range.end.min(it.range.end))), indent_of(doc, it.line), marker)
        }
        None => (doc.line_start(item.line + 1), 0, "-".to_string()),
    };
    let pad = " ".repeat(indent);
    (at, format!("{}{pad}{bullet} Attempts History:{nl}{pad}  * {entry}{nl}", fix_eof(at)))
}

/// An item read from an outline: after its last attempt, else a new `Attempts:` list at the end
/// of its section.
pub(crate) fn outline_insertion(ledger: &Ledger, item: &ledger::Item, entry: &str, nl: &str) -> (usize, String) {
    if !item.attempts.is_empty() {
        return attempt_insertion(ledger, item, entry, nl);
    }
    let doc = &ledger.doc;
    let (at, indent, bullet) = ledger::first_attempt_at(doc, item);
    let eof = if at == doc.text.len() && !doc.text.ends_with(['\n', '\r']) { nl } else { "" };
    (at, format!("{eof}{nl}{indent}Attempts:{nl}{indent}{bullet}{entry}{nl}"))
}

fn indent_of(doc: &Document, line: usize) -> usize {
    let t = doc.line_text(line);
    t.len() - t.trim_start().len()
}

/// Where a timestamped entry goes: after the last timestamped attempt of the ledger (the end
/// of its Attempts History, wherever agents appended it), else at the end of an `## Attempts
/// History` section, else in a new one at the end of the file. A blank line sets it apart.
pub(crate) fn timestamped_insertion(ledger: &Ledger, lines: &[String], nl: &str) -> (usize, String) {
    let doc = &ledger.doc;
    let last = doc.headings.iter().rev().find(|h| h.level >= 3 && ledger::timestamped_heading(&h.text).is_some());
    let (at, new_section) = match (last, ledger.section("Attempts History")) {
        (Some(h), _) => (doc.after_last_line(&(h.range.start..section_end(doc, h.range.start, 3))), false),
        (None, Some(sec)) => (doc.after_last_line(&sec), false),
        (None, None) => (doc.text.len(), true),
    };
    let before = &doc.text[..at];
    let mut text = String::new();
    if !before.is_empty() && !before.ends_with(['\n', '\r']) {
        text.push_str(nl);
    }
    if !before.is_empty() {
        text.push_str(nl);
    }
    if new_section {
        text.push_str(&format!("## Attempts History{nl}{nl}"));
    }
    for l in lines {
        text.push_str(l);
        text.push_str(nl);
    }
    (at, text)
}

/// Where the section of the heading at `start` ends: the next heading of `level` or above.
fn section_end(doc: &Document, start: usize, level: u8) -> usize {
    doc.headings.iter().find(|h| h.range.start > start && h.level <= level).map_or(doc.text.len(), |h| h.range.start)
}

/// A Next Action goes after the last line of the item's `Next Actions` list — blank lines and
/// right-aligned numbers (` 10.`) included — numbered one more than its highest entry.
pub(crate) fn next_action_insertion(
    ledger: &Ledger,
    item: &ledger::Item,
    action: &str,
    nl: &str,
) -> Result<(Range<usize>, String)> {
    let doc = &ledger.doc;
    let no_list = || Error::input(&doc.file, item.line, format!("[{}] has no `- Next Actions:` list", item.id));
    let fitem = &doc.items[item.field("Next Actions").and_then(|f| f.item).ok_or_else(no_list)?];
    let field_indent = indent_of(doc, fitem.line);
    let (_, last_line) = ledger::field_block(doc, fitem.line);
    let entries: Vec<usize> = (fitem.line + 1..=last_line)
        .filter(|&n| {
            let t = doc.line_text(n);
            NUMBERED.is_match(t) || t.trim_start().starts_with(['-', '*', '+'])
        })
        .collect();
    let at = doc.line_start(last_line + 1);
    let text = match entries.last() {
        Some(&last) => {
            let t = doc.line_text(last);
            let numbers: Vec<(usize, u64, usize)> = entries
                .iter()
                .filter_map(|&e| {
                    NUMBERED.captures(doc.line_text(e)).map(|c| (c[1].len(), c[2].parse().unwrap_or(0), c[2].len()))
                })
                .collect();
            match NUMBERED.captures(t) {
                Some(c) => {
                    let n = numbers.iter().map(|x| x.1).max().unwrap_or(0) + 1;
                    let digits = n.to_string().len();
                    // Keep the list's alignment: the indent of an entry with as many digits.
                    let indent = numbers.iter().rev().find(|x| x.2 == digits).map_or(c[1].len(), |x| x.0);
                    format!("{}{n}{}{}{action}{nl}", " ".repeat(indent), &c[3], &c[4])
                }
                None => {
                    let trimmed = t.trim_start();
                    let marker = trimmed.chars().next().filter(|c| matches!(c, '-' | '*' | '+')).unwrap_or('-');
                    format!("{}{marker} {action}{nl}", &t[..t.len() - trimmed.len()])
                }
            }
        }
        None => format!("{}  - {action}{nl}", " ".repeat(field_indent)),
    };
    let eof = if at == doc.text.len() && !doc.text.ends_with(['\n', '\r']) { nl } else { "" };
    Ok((at..at, format!("{eof}{text}")))
}
