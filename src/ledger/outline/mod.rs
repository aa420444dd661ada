//! The outline reader: a fix plan written without `[ID]` items, as coding agents write them
//! everywhere — numbered `## N. Title` fixes with a `**Status:**` line, `### W1: …` issues whose
//! states stand in a table, `## Phase N` headings over checkboxes, `- Completed` or ✅ in a
//! heading, a task table with a Status column — in whatever language surrounds the markers.
//!
//! Items are the headings of one level: the level whose headings carry IDs (`W1:`,
//! `BUG-DV-015`), else the one whose headings state a status, else the one whose sections hold
//! tasks. An item's status is the one it states (its heading, a `Status:` line, a status table
//! row naming it), else its tasks' (all closed: done). Items and tasks without an ID get one
//! made from their own words (`Phase 1: Core Pipeline & Connectivity` → `PHASE-1-CORE-PIPELINE`),
//! so an edit elsewhere in the file never renames them. Attempts are a list under an
//! `Attempts:` line at the end of the item's section, which `loop attempt` adds.

mod entries;
mod ids;
mod markers;
mod tasks;

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::{attempts, Attempt, Field, Item, Ledger, LedgerTask};
use crate::markdown::{Document, Heading};
use ids::{explicit_id, synthesised_id, title_of, NUMBERING};
use markers::{group_status, heading_status, judge, status_line};
use tasks::{state_tables, tasks_in, StateTable};

static ATTEMPTS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\**Attempts(?: History)?\**:?\**\s*$").unwrap());

/// The heading's text without its `#` marks, and where that text starts in the file.
fn heading_line<'d>(doc: &'d Document, h: &Heading) -> (&'d str, usize) {
    let line = doc.line_text(h.line);
    let lead = line.len() - line.trim_start_matches([' ', '#']).len();
    (&line[lead..], doc.line_start(h.line) + lead)
}

/// A heading with what it says of itself.
struct Section {
    heading: usize,
    level: u8,
    /// Its whole section, and its own lines (up to the first heading below it).
    range: Range<usize>,
    own: Range<usize>,
    id: Option<(String, String)>,
    status: Option<(Range<usize>, Option<bool>)>,
    /// Ranges in the text: a heading's status is relative to its text first.
    status_in_heading: bool,
    /// A heading that is only a status (`## Completed ✅`): it heads a group of items.
    group: Option<bool>,
    tasks: Vec<LedgerTask>,
}

pub(super) fn parse(ledger: &mut Ledger) {
    let doc = &ledger.doc;
    let tables = state_tables(doc);
    let mut sections = sections(doc);
    inherit_group_status(doc, &mut sections);
    for s in &mut sections {
        s.tasks = tasks_in(doc, &tables, &s.range);
    }
    let Some(level) = item_level(&sections) else { return };
    let stated = stated_statuses(doc, &tables, &mut sections);
    let mut items: Vec<Item> = Vec::new();
    for k in chosen(doc, &sections, level) {
        let listed = entries::entries_in(doc, &sections[k].own);
        if !listed.is_empty() {
            for e in listed {
                let item = entry_item(doc, &sections[k], e, &items);
                items.push(item);
            }
        } else if let Some(item) = item_of(doc, &sections[k], &stated, &items) {
            items.push(item);
        }
    }
    ledger.items = items;
}

/// Every heading's section: its ranges, the ID and status it states, whether it heads a group.
fn sections(doc: &Document) -> Vec<Section> {
    let section = |(k, h): (usize, &crate::markdown::Heading)| {
        let end = doc.headings[k + 1..].iter().find(|n| n.level <= h.level).map_or(doc.text.len(), |n| n.range.start);
        let own_end = doc.headings.get(k + 1).map_or(doc.text.len(), |n| n.range.start);
        let (text, at) = heading_line(doc, h);
        let mut status = heading_status(text).map(|(r, c)| (at + r.start..at + r.end, Some(c)));
        let status_in_heading = status.is_some();
        if status.is_none() {
            status = status_line(doc, h.line + 1, doc.line_of(own_end.saturating_sub(1)).max(h.line));
        }
        let id = explicit_id(text);
        Section {
            heading: k,
            level: h.level,
            range: h.range.start..end,
            own: h.range.start..own_end,
            group: if id.is_none() { group_status(text) } else { None },
            id,
            status,
            status_in_heading,
            tasks: Vec::new(),
        }
    };
    doc.headings.iter().enumerate().map(section).collect()
}

/// A state table whose rows name the ID'd headings states their status (a severity summary):
/// each ID with its status cell. Such a table's rows are no tasks of the section holding it.
fn stated_statuses(doc: &Document, tables: &[StateTable], sections: &mut [Section]) -> Vec<(String, Range<usize>)> {
    let ids: Vec<String> =
        sections.iter().filter_map(|s| s.id.as_ref().map(|(id, _)| super::normalize_id(id))).collect();
    let mut stated: Vec<(String, Range<usize>)> = Vec::new();
    let mut index_tables = Vec::new();
    for st in tables {
        let t = &doc.tables[st.table];
        let named: Vec<(String, Range<usize>)> = t
            .rows
            .iter()
            .filter_map(|r| {
                let id = explicit_id(doc.slice(r.cells.get(st.id_col)?))?.0;
                let cell = r.cells.get(st.status_col)?.clone();
                ids.contains(&super::normalize_id(&id)).then_some((id, cell))
            })
            .collect();
        if !t.rows.is_empty() && named.len() * 2 >= t.rows.len() {
            stated.extend(named);
            index_tables.push(t.range.clone());
        }
    }
    for s in sections.iter_mut() {
        s.tasks.retain(|t| !index_tables.iter().any(|r| r.contains(&doc.line_start(t.line))));
    }
    stated
}

/// The sections read as items: at the item level, those with an ID, a status or tasks — and
/// siblings numbered as those are (`## 8.` after seven fixes).
fn chosen(doc: &Document, sections: &[Section], level: u8) -> Vec<usize> {
    let works = |s: &Section| s.level == level && (s.id.is_some() || s.status.is_some() || !s.tasks.is_empty());
    let numbered = |s: &Section| NUMBERING.is_match(&doc.headings[s.heading].text);
    let working: Vec<&Section> = sections.iter().filter(|s| works(s)).collect();
    let numbered_shape = working.len() > 1 && working.iter().filter(|s| numbered(s)).count() * 2 > working.len();
    let parents: Vec<usize> = working.iter().filter_map(|s| parent_of(sections, s)).collect();
    (0..sections.len())
        .filter(|&k| {
            let s = &sections[k];
            works(s)
                || (s.level == level
                    && numbered_shape
                    && numbered(s)
                    && parent_of(sections, s).is_some_and(|p| parents.contains(&p)))
        })
        .collect()
}

/// One section as an item: its ID (stated, else made from its title, unique among `items`),
/// fields, status (stated, else from its tasks) and attempts. `None` for a repeated stated ID
/// (`### W1:` in a Fix Details part: details of the first, not an item).
fn item_of(doc: &Document, s: &Section, stated: &[(String, Range<usize>)], items: &[Item]) -> Option<Item> {
    let h = &doc.headings[s.heading];
    let (text, at) = heading_line(doc, h);
    let (id, title) = match &s.id {
        Some((id, title)) => (id.clone(), title.clone()),
        None => {
            let rel = s.status.as_ref().filter(|_| s.status_in_heading).map(|(r, _)| r.start - at..r.end - at);
            let title = title_of(text, rel.as_ref());
            (synthesised_id(&title), title)
        }
    };
    if s.id.is_some() && items.iter().any(|i| super::ids_equal(&i.id, &id)) {
        return None;
    }
    let id = unique(id, items);
    let status = s.status.clone().or_else(|| {
        stated.iter().find(|(sid, _)| super::ids_equal(sid, &id)).map(|(_, r)| (r.clone(), judge(doc.slice(r))))
    });
    let mut item = Item {
        id,
        title,
        line: h.line,
        level: h.level,
        range: s.range.clone(),
        fields: Vec::new(),
        attempts: Vec::new(),
        archived: false,
        cited: 0,
        tasks: s.tasks.clone(),
        closed: None,
        derived_status: None,
    };
    fields_of(doc, s, &mut item);
    set_status(doc, &mut item, status);
    attempts_of(doc, &mut item);
    Some(item)
}

/// `base`, or `base-2`, `base-3` … when an item before has it.
fn unique(base: String, items: &[Item]) -> String {
    let mut id = base.clone();
    let mut n = 1;
    while items.iter().any(|i| super::ids_equal(&i.id, &id)) {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// A list entry as an item one level below its heading: its nested `- Key: value` bullets are
/// its fields, the boxes inside it its tasks.
fn entry_item(doc: &Document, s: &Section, e: entries::Entry, items: &[Item]) -> Item {
    let it = &doc.items[e.item];
    let mut item = Item {
        id: unique(e.id, items),
        title: e.title,
        line: it.line,
        level: s.level + 1,
        range: it.range.clone(),
        fields: Vec::new(),
        attempts: Vec::new(),
        archived: false,
        cited: 0,
        tasks: s.tasks.iter().filter(|t| it.range.contains(&doc.line_start(t.line))).cloned().collect(),
        closed: None,
        derived_status: None,
    };
    for (idx, _) in doc.items.iter().enumerate().filter(|(_, i)| i.depth == 1 && it.range.contains(&i.range.start)) {
        item.fields.extend(Field::of_list_item(doc, idx));
    }
    let (r, closed) = e.status;
    set_status(doc, &mut item, Some((r, Some(closed))));
    attempts_of(doc, &mut item);
    item
}

/// The item's status: the one it states (a `Status` field first), else what its tasks say
/// (`in progress (2/3 tasks)`).
fn set_status(doc: &Document, item: &mut Item, status: Option<(Range<usize>, Option<bool>)>) {
    match status {
        Some((r, closed)) => {
            item.closed = closed;
            item.fields.insert(0, Field::at(doc, "Status", r));
        }
        None if !item.tasks.is_empty() => {
            let total = item.tasks.len();
            let closed = item.tasks.iter().filter(|t| t.state.is_closed()).count();
            item.closed = Some(closed == total);
            let word = match closed {
                c if c == total => "done",
                0 => "open",
                _ => "in progress",
            };
            item.derived_status = Some(format!("{word} ({closed}/{total} tasks)"));
        }
        None => {}
    }
}

/// A group heading states no status of its own; the sections under it without one take its.
fn inherit_group_status(doc: &Document, sections: &mut [Section]) {
    for k in 0..sections.len() {
        if sections[k].group.is_some() {
            sections[k].status = None;
            continue;
        }
        if sections[k].status.is_some() {
            continue;
        }
        let mut up = parent_of(sections, &sections[k]);
        while let Some(p) = up {
            if let Some(closed) = sections[p].group {
                let (_, at) = heading_line(doc, &doc.headings[sections[p].heading]);
                let end = doc.line_range(doc.headings[sections[p].heading].line).end;
                sections[k].status = Some((at..end, Some(closed)));
                sections[k].status_in_heading = false;
                break;
            }
            up = parent_of(sections, &sections[p]);
        }
    }
}

/// The heading a section sits under.
fn parent_of(sections: &[Section], s: &Section) -> Option<usize> {
    sections[..s.heading].iter().rposition(|p| p.level < s.level && p.range.contains(&s.range.start))
}

/// The level items are written at: where headings carry IDs, else where they state a status,
/// else where sections hold tasks; `None` when nothing in the file states anything.
fn item_level(sections: &[Section]) -> Option<u8> {
    let best = |f: &dyn Fn(&Section) -> bool, least: usize| {
        (1..=6u8)
            .map(|l| (sections.iter().filter(|s| s.level == l && f(s)).count(), l))
            .filter(|(n, _)| *n >= least)
            // The most; among equals the shallower.
            .max_by_key(|(n, l)| (*n, std::cmp::Reverse(*l)))
            .map(|(_, l)| l)
    };
    let own_tasks = |s: &Section| s.tasks.iter().any(|t| s.own.contains(&t.state_range.start));
    best(&|s| s.id.is_some(), 2)
        .or_else(|| best(&|s| s.status.is_some() && s.level > 1, 1))
        .or_else(|| best(&own_tasks, 1))
}

/// `- **Where:** …`, `- Fix: …` bullets of the item's own lines.
fn fields_of(doc: &Document, s: &Section, item: &mut Item) {
    for (idx, it) in doc.items.iter().enumerate().filter(|(_, i)| i.depth == 0 && s.own.contains(&i.range.start)) {
        if !doc.item_text(it).starts_with('[') {
            item.fields.extend(Field::of_list_item(doc, idx));
        }
    }
}

/// The list under an `Attempts:` line in the item's section.
fn attempts_of(doc: &Document, item: &mut Item) {
    let (first, last) = (item.line + 1, doc.line_of(item.range.end.saturating_sub(1)));
    let Some(label) = (first..=last).find(|&n| ATTEMPTS_LABEL.is_match(doc.line_text(n))) else { return };
    let mut expect = label + 1;
    // The list under the label: top level under a heading, nested under a list entry.
    let Some(depth) = doc.items.iter().find(|i| i.line == expect).map(|i| i.depth) else { return };
    for (idx, it) in
        doc.items.iter().enumerate().filter(|(_, i)| i.depth == depth && item.range.contains(&i.range.start))
    {
        if it.line < expect {
            continue;
        }
        if it.line != expect {
            break;
        }
        let text = doc.slice(&it.text_range);
        let (date, time) = attempts::stamp(text).map_or((None, None), |(d, t)| (Some(d), t));
        item.attempts.push(Attempt {
            number: None,
            date,
            time,
            task: None,
            result: attempts::label(text),
            line: it.line,
            item: Some(idx),
            text: it.text_range.clone(),
            body: it.range.clone(),
        });
        expect = doc.line_of(it.range.end.saturating_sub(1)) + 1;
    }
}

/// Where a first attempt goes in an item that has none, with the indent and bullet to write it
/// in: after its section's last line (before a closing `---`), as an `Attempts:` line and a list
/// in the file's own bullet; inside a list entry that is an item, at the entry's indent.
pub(crate) fn first_attempt_at(doc: &Document, item: &Item) -> (usize, String, String) {
    if let Some(entry) = doc.items.iter().find(|i| i.line == item.line && i.range.start == item.range.start) {
        let (at, indent) = entries::first_attempt_at(doc, entry);
        return (at, indent, "- ".into());
    }
    let mut line = doc.line_of(item.range.end.saturating_sub(1).max(item.range.start));
    while line > item.line {
        let t = doc.line_text(line).trim();
        if t.is_empty() || t.chars().all(|c| c == '-') && t.len() >= 3 || t == "***" {
            line -= 1;
        } else {
            break;
        }
    }
    // The bullet most of the file's lists use.
    let count = |b: char| doc.items.iter().filter(|i| doc.line_text(i.line).trim_start().starts_with(b)).count();
    let bullet = ['-', '*', '+'].into_iter().rev().max_by_key(|&b| count(b)).unwrap_or('-');
    (doc.line_start(line + 1), String::new(), format!("{bullet} "))
}

/// A file that is one ```` ```markdown ```` fence around its content is read as that content:
/// the fence lines blanked (same bytes, so every range stays true), the text kept as it is.
pub(super) fn unfenced(doc: &Document) -> Option<Document> {
    let lines: Vec<usize> = (1..=doc.line_count()).filter(|&n| !doc.line_text(n).trim().is_empty()).collect();
    let (&first, &last) = (lines.first()?, lines.last()?);
    let open = doc.line_text(first).trim();
    let info = open.strip_prefix("```")?.trim();
    if !matches!(info, "markdown" | "md") || doc.line_text(last).trim() != "```" || first == last {
        return None;
    }
    let mut text = doc.text.clone().into_bytes();
    for n in [first, last] {
        let r = doc.line_start(n)..doc.line_start(n) + doc.line_text(n).len();
        text[r].fill(b' ');
    }
    let mut view = Document::parse(&doc.file, String::from_utf8(text).ok()?);
    view.text = doc.text.clone();
    Some(view)
}
