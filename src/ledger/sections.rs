//! The sections dialect: `## [ID] Title` items (and `### [ID]` sub-items), archive bullets
//! `- [ID] Title — DONE …`, and the fields and numbered attempts inside them.

use std::collections::HashMap;
use std::ops::Range;

use super::attempts::{cited_numbers, numbered};
use super::{bracketed, ids_equal, is_item_id, is_unicode_dash, result_word, Attempt, Field, Item, Ledger};
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
                    parent.attempts.push(heading_attempt(doc, h, number, date, None));
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
    stray_headings(doc, &items, &mut diags);
    logged_under_headings(doc, &mut items);
    parse_archived(ledger, &mut items);
    let rows = references(doc, &mut items, &mut diags);
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
    diags.sort_by_key(|d| d.line);
    ledger.diagnostics.extend(diags);
    ledger.items = items;
    ledger.index.extend(rows);
    ledger.index.sort_by_key(|r| r.line);
}

/// `### 2025-12-01T084505Z - ARCH-REFINE-001 Phase A.2: …` in an `## Attempts History` section:
/// an engineer's log of one attempt at that item, outside its section.
fn logged_under_headings(doc: &Document, items: &mut [Item]) {
    for h in doc.headings.iter().filter(|h| h.level >= 3) {
        let Some(t) = super::attempts::timestamped_heading(&h.text) else { continue };
        let Some(item) = items.iter_mut().find(|i| super::ids_equal(&i.id, &t.id) && !i.range.contains(&h.range.start))
        else {
            continue;
        };
        item.attempts.push(heading_attempt(doc, h, None, Some(t.date), Some(t.time)));
        item.attempts.sort_by_key(|a| a.line);
    }
}

/// An attempt that is a heading and the section under it.
fn heading_attempt(
    doc: &Document,
    h: &crate::markdown::Heading,
    number: Option<u64>,
    date: Option<String>,
    time: Option<String>,
) -> Attempt {
    Attempt {
        number,
        date,
        time,
        task: None,
        result: result_word(&h.text),
        line: h.line,
        item: None,
        text: h.range.clone(),
        body: h.range.start..heading_end(doc, h),
    }
}

/// What the warning for a `-### [ID]` line says (lint reports it as `stray-heading`).
pub const NOT_A_HEADING: &str = "is not a heading";

/// `-### [ID] Title`: an item heading with a diff's `-` or a bullet stuck before it, which
/// Markdown reads as text of the item above. Said, so the item is not silently missing.
fn stray_headings(doc: &Document, items: &[Item], diags: &mut Vec<Diagnostic>) {
    for line in 1..=doc.line_count() {
        let text = doc.line_text(line);
        let Some(rest) = text.strip_prefix(['-', '+', '*']) else { continue };
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let Some((id, _)) = bracketed(rest[hashes..].trim_start()).filter(|_| (2..=6).contains(&hashes)) else {
            continue;
        };
        if !is_item_id(id.trim()) {
            continue;
        }
        let at = doc.line_start(line);
        let within = items
            .iter()
            .rev()
            .find(|i| i.range.contains(&at))
            .map_or(String::new(), |i| format!(", so its lines are read as part of [{}] (line {})", i.id, i.line));
        let marker = &text[..1];
        diags.push(Diagnostic::warning(
            &doc.file,
            line,
            format!(
                "`{marker}{}` {NOT_A_HEADING}: a `{marker}` stands before it{within}; delete the `{marker}`",
                &rest[..hashes]
            ),
        ));
    }
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

/// A bullet that names an item with a section of its own (a roadmap's `- [ID] (Title) —
/// **Done**`) refers to that item: it is read as an Index row with the status it states, not as
/// a second, archived copy of the item.
fn references(doc: &Document, items: &mut Vec<Item>, diags: &mut Vec<Diagnostic>) -> Vec<super::IndexRow> {
    let sectioned: Vec<String> = items.iter().filter(|i| !i.archived).map(|i| super::normalize_id(&i.id)).collect();
    let mut refs: Vec<(super::IndexRow, String)> = Vec::new();
    items.retain(|i| {
        if !i.archived || !sectioned.contains(&super::normalize_id(&i.id)) {
            return true;
        }
        let row = super::IndexRow {
            id: i.id.clone(),
            line: i.line,
            status: stated_status(doc.line_text(i.line)),
            status_range: None,
        };
        refs.push((row, i.title.trim_start_matches('(').trim_end_matches(')').to_string()));
        false
    });
    for item in items.iter_mut().filter(|i| !i.archived) {
        let Some((row, title)) = refs.iter().find(|(r, _)| super::ids_equal(&r.id, &item.id)) else { continue };
        let said = row.status.as_deref();
        match item.field("Status").map(|f| f.value.clone()) {
            // `### [ID] Attempts History`, where the roadmap is all the ledger says of the item:
            // its status and its title are the bullet's.
            None => {
                item.derived_status = row.status.clone();
                if is_attempts_title(&item.title) && !title.is_empty() {
                    item.title.clone_from(title);
                }
            }
            // Agents close an item in the roadmap and leave the section's `Status:` behind: the
            // roadmap's word is the newer one.
            Some(own) if !super::is_closed_status(&own) && said.is_some_and(super::is_closed_status) => {
                item.closed = Some(true);
                diags.push(Diagnostic::warning(
                    &doc.file,
                    row.line,
                    format!(
                        "[{}] is `{}` here and `{}` in its section (line {}); read as closed",
                        item.id,
                        super::status_word(said.unwrap_or("")),
                        super::status_word(&own),
                        item.line
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    refs.into_iter().map(|(r, _)| r).collect()
}

/// The status a roadmap bullet states after its dash: `— **Done** (…)` → `Done`, `— *pending*`
/// → `pending`, `— **blocked — suspected defect** (…)` → `blocked — suspected defect`.
fn stated_status(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(" — ")?;
    let rest = rest.trim();
    let marks = rest.len() - rest.trim_start_matches(['*', '_']).len();
    let status = if marks > 0 {
        let inner = &rest[marks..];
        let close = inner.find(&rest[..marks]).unwrap_or(inner.len());
        &inner[..close]
    } else {
        rest.split(" (").next().unwrap_or(rest)
    };
    let status = status.trim();
    (!status.is_empty()).then(|| status.to_string())
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
            fields.extend(Field::of_list_item(doc, idx));
        }
    }
    if let Some(owner) = fields.iter().find(|f| f.key.eq_ignore_ascii_case("Attempts History")).and_then(|f| f.item) {
        let it = &doc.items[owner];
        stamped_attempts(doc, owner + 1, it.range.clone(), Some(it.depth + 1), &mut attempts);
    } else if is_attempts_title(title) {
        // `### [ID] Attempts History`: the section is the item's attempts list.
        stamped_attempts(doc, first, range.clone(), Some(0), &mut attempts);
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
        closed: None,
        derived_status: None,
    };
    item.cited = cited_in_lists(doc, &item);
    item
}

/// Unnumbered entries stamped with their day or time (`* 2025-10-29T110900Z — Planning sync: …`,
/// `* 2025-10-28: …`) in a list: the one an `Attempts History:` field holds, or the one an
/// attempts heading (`### [ID] Attempts History`) holds. Attempts without a number.
fn stamped_attempts(
    doc: &Document,
    first: usize,
    within: Range<usize>,
    depth: Option<usize>,
    attempts: &mut Vec<Attempt>,
) {
    for (idx, it) in doc.items.iter().enumerate().skip(first) {
        if it.range.start >= within.end {
            break;
        }
        if depth.is_some_and(|d| it.depth != d) || attempts.iter().any(|a| a.item == Some(idx)) {
            continue;
        }
        let text = doc.item_text(it);
        let Some((date, time)) = super::attempts::stamp(text) else { continue };
        attempts.push(Attempt {
            number: None,
            date: Some(date),
            time,
            task: None,
            result: result_word(text).or_else(|| super::attempts::label(text)),
            line: it.line,
            item: Some(idx),
            text: it.text_range.clone(),
            body: it.range.clone(),
        });
    }
    attempts.sort_by_key(|a| a.line);
}

/// A heading that holds an item's attempts rather than the item: `### [ID] Attempts History`.
pub(super) fn is_attempts_title(title: &str) -> bool {
    let t = title.trim().trim_end_matches(':').to_ascii_lowercase();
    matches!(t.as_str(), "attempts history" | "attempt history" | "attempts" | "attempts log" | "attempt log")
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
