//! The sections dialect: `## [ID] Title` items (and `### [ID]` sub-items), archive bullets
//! `- [ID] Title — DONE …`, and the fields and numbered attempts inside them.

use std::collections::HashMap;
use std::ops::Range;

use super::attempts::{cited_numbers, numbered};
use super::{bracketed, field_of, ids_equal, is_item_id, is_unicode_dash, result_word, Attempt, Field, Item, Ledger};
use crate::diag::Diagnostic;
use crate::markdown::Document;

/// A bullet outside item sections is an archived item only when its bracket holds an item ID
/// in capitals (`[AT-PARALLEL-012]`), never a date, a timestamp or a checkbox.
fn bullet_id(id: &str) -> bool {
    let mut parts = id.split(|c: char| matches!(c, '-' | '_' | '.') || is_unicode_dash(c));
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    first.starts_with(|c: char| c.is_ascii_uppercase())
        && first.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !rest.is_empty()
        && rest.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub(super) fn parse_items(ledger: &mut Ledger) {
    let doc = &ledger.doc;
    let mut items: Vec<Item> = Vec::new();
    let mut diags = Vec::new();
    for (i, h) in doc.headings.iter().enumerate() {
        if !(2..=3).contains(&h.level) {
            continue;
        }
        let Some((id, title)) = bracketed(&h.text) else {
            continue;
        };
        let id = id.trim();
        // `### [ID] Attempt #4 …` or `### [ID] Update …` inside `## [ID]`: part of that item.
        if let Some(parent) =
            items.iter_mut().rev().find(|p: &&mut Item| p.level < h.level && p.range.contains(&h.range.start))
        {
            let attempt = numbered(title);
            if ids_equal(&parent.id, id) || attempt.is_some() {
                if let Some((number, date)) = attempt.filter(|_| ids_equal(&parent.id, id)) {
                    parent.attempts.push(Attempt {
                        number,
                        date,
                        time: None,
                        task: None,
                        result: result_word(&h.text),
                        line: h.line,
                        item: None,
                        text: h.range.clone(),
                        body: h.range.start..heading_end(doc, h),
                    });
                    parent.attempts.sort_by_key(|a| a.line);
                }
                continue;
            }
        }
        let end = doc.headings[i + 1..].iter().find(|n| n.level <= h.level).map_or(doc.text.len(), |n| n.range.start);
        if !is_item_id(id) {
            diags.push(
                Diagnostic::error(
                    &doc.file,
                    h.line,
                    format!("item heading has no usable ID: `{}` (expected `## [ITEM-ID] Title`)", h.text),
                )
                .over(h.range.start..end),
            );
            continue;
        }
        if let Some(c) = id.chars().find(|c| is_unicode_dash(*c)) {
            diags.push(Diagnostic::warning(
                &doc.file,
                h.line,
                format!(
                    "item ID [{id}] is spelled with a Unicode dash (U+{:04X}); read as [{}] and kept as written",
                    c as u32,
                    super::normalize_id(id)
                ),
            ));
        }
        items.push(parse_item(doc, id, title, h.line, h.level, h.range.start..end));
    }
    parse_archived(ledger, &mut items);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in &items {
        let key = super::normalize_id(&item.id);
        if let Some(first) = seen.get(&key) {
            diags.push(Diagnostic::warning(
                &doc.file,
                item.line,
                format!("item [{}] appears again (first at line {first})", item.id),
            ));
        } else {
            seen.insert(key, item.line);
        }
    }
    ledger.diagnostics.extend(diags);
    ledger.items = items;
}

/// Archive sections list finished items as bullets, `- [ID] Title — DONE ...`, with their
/// attempts nested below. They are items too (status `archived`), so no attempt is lost.
fn parse_archived(ledger: &Ledger, items: &mut Vec<Item>) {
    let doc = &ledger.doc;
    let Some(first) = doc.headings.iter().find(|h| h.level == 2) else {
        return;
    };
    let index = ledger.index_section().unwrap_or(0..0);
    // (line, id, title, start) of each `- [ID] ...` bullet outside item sections.
    let mut bullets = Vec::new();
    for it in doc.items.iter().filter(|i| i.depth == 0) {
        if it.range.start < first.range.start
            || index.contains(&it.range.start)
            || items.iter().any(|i| i.range.contains(&it.range.start))
        {
            continue;
        }
        let Some((id, rest)) = bracketed(doc.item_text(it)) else {
            continue;
        };
        let id = id.trim();
        if bullet_id(id) {
            let title = rest.split(" — ").next().unwrap_or("").trim_start_matches([',', ' ']).to_string();
            bullets.push((it.line, id.to_string(), title, it.range.start));
        }
    }
    let mut archived = Vec::new();
    for (k, (line, id, title, start)) in bullets.iter().enumerate() {
        // Field bullets that follow (`- Next Actions: ...`) still belong to this item.
        let next_heading =
            doc.headings.iter().find(|h| h.range.start > *start).map_or(doc.text.len(), |h| h.range.start);
        let end = bullets.get(k + 1).map_or(next_heading, |b| b.3.min(next_heading));
        let mut item = parse_item(doc, id, title, *line, 0, *start..end);
        item.archived = true;
        archived.push(item);
    }
    items.extend(archived);
    items.sort_by_key(|i| i.line);
}

/// Sub-sections of an item that are not its own (`### Archive` holding other items' entries):
/// their attempts do not count for it.
fn foreign_subsections(doc: &Document, id: &str, level: u8, range: &Range<usize>) -> Vec<Range<usize>> {
    if level == 0 {
        return Vec::new();
    }
    let inside: Vec<&crate::markdown::Heading> =
        doc.headings.iter().filter(|h| h.level > level && range.contains(&h.range.start)).collect();
    inside
        .iter()
        .enumerate()
        .filter(|(_, h)| !bracketed(&h.text).is_some_and(|(b, _)| ids_equal(b.trim(), id)))
        .map(|(k, h)| {
            let end = inside[k + 1..].iter().find(|n| n.level <= h.level).map_or(range.end, |n| n.range.start);
            h.range.start..end
        })
        .collect()
}

pub(super) fn parse_item(doc: &Document, id: &str, title: &str, line: usize, level: u8, range: Range<usize>) -> Item {
    let mut fields = Vec::new();
    let mut attempts = Vec::new();
    let foreign = foreign_subsections(doc, id, level, &range);
    let first = doc.items.partition_point(|it| it.range.start < range.start);
    for (idx, it) in doc.items.iter().enumerate().skip(first) {
        if it.range.start >= range.end {
            break;
        }
        let text = doc.item_text(it);
        if let Some((number, date)) = numbered(text) {
            if !foreign.iter().any(|f| f.contains(&it.range.start)) {
                attempts.push(Attempt {
                    number,
                    date,
                    time: None,
                    task: None,
                    result: result_word(text),
                    line: it.line,
                    item: Some(idx),
                    text: it.text_range.clone(),
                    body: it.range.clone(),
                });
            }
        } else if it.depth == 0 {
            if let Some((name, end)) = field_of(text) {
                let name = name.trim().to_string();
                let key = name.split('(').next().unwrap_or(&name).trim().to_string();
                fields.push(Field {
                    key,
                    name,
                    value: text[end..].trim().to_string(),
                    value_range: it.text_range.start + end..it.text_range.end,
                    line: it.line,
                    item: Some(idx),
                });
            }
        }
    }
    let mut item = Item {
        id: id.to_string(),
        title: title.to_string(),
        line,
        level,
        range,
        fields,
        attempts,
        archived: false,
        cited: 0,
        tasks: Vec::new(),
    };
    item.cited = cited_in_lists(doc, &item);
    item
}

/// Where a heading's section ends: at the next heading of its level or above.
pub(super) fn heading_end(doc: &Document, h: &crate::markdown::Heading) -> usize {
    doc.headings
        .iter()
        .find(|n| n.range.start > h.range.start && n.level <= h.level)
        .map_or(doc.text.len(), |n| n.range.start)
}

/// The highest attempt number the item's Next Actions cite (its own, not another item's).
fn cited_in_lists(doc: &Document, item: &Item) -> u64 {
    let Some(f) = item.field("Next Actions").filter(|f| f.item.is_some()) else {
        return 0;
    };
    let (first, last) = super::field_block(doc, f.line);
    // Line by line: an entry that names another `[ID]` cites that item's attempts.
    (first..=last).flat_map(|n| cited_numbers(doc.line_text(n), &item.id)).max().unwrap_or(0)
}
