//! The ledger (`docs/fix_plan.md`): header fields, the Index table, item sections with their
//! `- Field: value` lines and numbered attempts. Plain data with byte ranges into the document.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::diag::Diagnostic;
use crate::markdown::Document;

static ITEM_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$").unwrap());
static ATTEMPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\*\*)?(?:\[([0-9]{4}-[0-9]{2}-[0-9]{2})[^\]]*\][ \t]*)?(?:\*\*)?Attempt[ \t]+#([0-9]+)").unwrap()
});
/// A bullet outside item sections is an archived item only when its bracket holds an item ID
/// in capitals (`[AT-PARALLEL-012]`), never a date, a timestamp or a checkbox.
static BULLET_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z][A-Z0-9]*(?:[-_.][A-Za-z0-9]+)+$").unwrap());
static BULLET_STATUS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"Status:\**\s*([^,;|]+)").unwrap());
static INDEX_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[?([A-Za-z0-9][A-Za-z0-9_.\-]*)\]?").unwrap());

/// The first `n` bytes of `s`, cut back to a character boundary.
pub fn head(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The result word after `Result:` (`**failed**`, `✅ success` → `failed`, `success`).
fn result_word(text: &str) -> Option<String> {
    let at = memchr::memmem::find(text.as_bytes(), b"Result:")? + "Result:".len();
    let rest = &text[at..];
    let (skip, _) = rest.char_indices().take(17).find(|(_, c)| c.is_ascii_alphabetic() || *c == '\n')?;
    let word = &rest[skip..];
    let end = word.find(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-')).unwrap_or(word.len());
    (word.starts_with(|c: char| c.is_ascii_alphabetic())).then(|| word[..end].to_ascii_lowercase())
}

/// `[ID] Title` (a heading or a bullet): the bracket's content and the rest, trimmed.
pub fn bracketed(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(']')?;
    Some((&inner[..close], inner[close + 1..].trim()))
}

/// `Name: value` at the start of a list item, `**Name:**` and `**Name**:` too: the name and
/// the byte offset where the value starts. Regex-free: this runs on every list item.
fn field_of(text: &str) -> Option<(&str, usize)> {
    let stars = |s: &str| s.len() - s.trim_start_matches('*').len();
    let lead = stars(text).min(2);
    let body = &text[lead..];
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let stop = body.find([':', '*', '`', '[', '\n'])?;
    if body[..stop].chars().count() > 161 {
        return None;
    }
    let mut at = lead + stop;
    at += stars(&text[at..]).min(2);
    if !text[at..].starts_with(':') {
        return None;
    }
    at += 1;
    at += stars(&text[at..]).min(2);
    at += text[at..].len() - text[at..].trim_start_matches([' ', '\t']).len();
    Some((&body[..stop], at))
}

/// `[date] Attempt #N` / `**Attempt #N**` at the start of a line.
fn attempt_of(text: &str) -> Option<(u32, Option<String>)> {
    if !text.contains("Attempt") {
        return None;
    }
    ATTEMPT.captures(head(text, 96)).map(|c| (c[2].parse().unwrap_or(0), c.get(1).map(|m| m.as_str().to_string())))
}

/// An item ID as prose writes it (`VECTOR-TRICUBIC-002`): capitals and digits joined by hyphens.
pub const ID_PATTERN: &str = r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+";

/// Status words that mean an item needs no more work.
pub const CLOSED_STATUSES: &[&str] =
    &["done", "complete", "completed", "closed", "archived", "resolved", "wontfix", "superseded"];

#[derive(Debug, Clone)]
pub struct Field {
    /// The name as written, e.g. `Next Actions (2026-01-06 refresh)`.
    pub name: String,
    /// The name without any parenthetical, for lookups: `Next Actions`.
    pub key: String,
    /// The rest of the field's first line.
    pub value: String,
    pub value_range: Range<usize>,
    pub line: usize,
    /// Index into `Document::items` of the field's list item.
    pub item: usize,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub number: u32,
    pub date: Option<String>,
    pub result: Option<String>,
    pub line: usize,
    /// Index into `Document::items`; `None` for a `### [ID] Attempt #N` sub-heading.
    pub item: Option<usize>,
    /// The attempt's first line (the list item's text, or the heading).
    pub text: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub level: u8,
    /// From the heading to the next heading of the same or a higher level.
    pub range: Range<usize>,
    pub fields: Vec<Field>,
    pub attempts: Vec<Attempt>,
    /// A bullet in an archive section rather than a `## [ID]` section.
    pub archived: bool,
}

impl Item {
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key.eq_ignore_ascii_case(key))
    }

    pub fn status(&self) -> Option<&str> {
        match self.field("Status") {
            Some(f) => Some(f.value.as_str()),
            None if self.archived => Some("archived"),
            None => None,
        }
    }

    pub fn priority(&self) -> Option<&str> {
        self.field("Priority").map(|f| f.value.as_str())
    }

    /// An item is open unless its status starts with a closing word.
    pub fn is_open(&self) -> bool {
        self.status().is_none_or(|s| !is_closed_status(s))
    }

    pub fn next_attempt_number(&self) -> u32 {
        self.attempts.iter().map(|a| a.number).max().unwrap_or(0) + 1
    }
}

pub fn status_word(status: &str) -> String {
    status
        .trim_matches(|c: char| c == '*' || c.is_whitespace())
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub fn is_closed_status(status: &str) -> bool {
    CLOSED_STATUSES.contains(&status_word(status).as_str())
}

#[derive(Debug, Clone)]
pub struct IndexRow {
    pub id: String,
    pub line: usize,
    pub status: Option<String>,
    pub status_range: Option<Range<usize>>,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub value: String,
    pub line: usize,
    pub value_range: Range<usize>,
}

#[derive(Debug)]
pub struct Ledger {
    pub doc: Document,
    pub last_updated: Option<Header>,
    pub active_focus: Vec<String>,
    pub index: Vec<IndexRow>,
    pub items: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Ledger {
    pub fn parse(doc: Document) -> Ledger {
        let mut ledger = Ledger {
            last_updated: None,
            active_focus: Vec::new(),
            index: Vec::new(),
            items: Vec::new(),
            diagnostics: doc.diagnostics.clone(),
            doc,
        };
        ledger.parse_header();
        ledger.parse_index();
        ledger.parse_items();
        ledger
    }

    /// The header is everything before the first level-2 heading.
    fn parse_header(&mut self) {
        let doc = &self.doc;
        let end = doc.headings.iter().find(|h| h.level >= 2).map_or(doc.line_count(), |h| h.line);
        let mut focus_from = None;
        for line in 1..end {
            let text = doc.line_text(line);
            if let Some(rest) = text.strip_prefix("**Last Updated:**") {
                let range = doc.line_range(line);
                let lead = rest.len() - rest.trim_start().len();
                self.last_updated = Some(Header {
                    value: rest.trim().to_string(),
                    line,
                    value_range: range.end - rest.len() + lead..range.end,
                });
            } else if text.starts_with("**Active Focus:**") {
                focus_from = Some(doc.line_start(line));
            }
        }
        if let Some(from) = focus_from {
            let stop = doc.line_start(end);
            // The focus list is the run of top-level items right after the label.
            let mut expect = None;
            for item in doc.items.iter().filter(|i| i.depth == 0) {
                if item.range.start < from || item.range.start >= stop {
                    continue;
                }
                if expect.is_some_and(|e| e != item.line) {
                    break;
                }
                self.active_focus.push(doc.item_text(item).trim().to_string());
                expect = Some(doc.line_of(item.range.end.saturating_sub(1)) + 1);
            }
        }
    }

    /// The Index section: from `## Index` to the next heading of its level or above, so
    /// `### Active Items` sub-lists belong to it.
    pub fn index_section(&self) -> Option<Range<usize>> {
        let doc = &self.doc;
        let h = doc.headings.iter().position(|h| h.text.trim().eq_ignore_ascii_case("Index"))?;
        let level = doc.headings[h].level;
        let stop = doc.headings[h + 1..].iter().find(|n| n.level <= level).map_or(doc.text.len(), |n| n.range.start);
        Some(doc.headings[h].range.start..stop)
    }

    /// Index rows: a table's rows, or bullets `- [ID] Title — Priority: High, Status: pending`.
    fn parse_index(&mut self) {
        let doc = &self.doc;
        let Some(section) = self.index_section() else {
            return;
        };
        for table in doc.tables.iter().filter(|t| section.contains(&t.range.start)) {
            let col =
                |name: &str| table.header.cells.iter().position(|c| doc.slice(c).trim().eq_ignore_ascii_case(name));
            let id_col = col("ID").unwrap_or(0);
            let status_col = col("Status");
            for row in &table.rows {
                let Some(id) =
                    row.cells.get(id_col).and_then(|c| INDEX_ID.captures(doc.slice(c))).map(|c| c[1].to_string())
                else {
                    continue;
                };
                let status_range = status_col.and_then(|c| row.cells.get(c)).cloned();
                self.index.push(IndexRow {
                    id,
                    line: row.line,
                    status: status_range.as_ref().map(|r| doc.slice(r).to_string()),
                    status_range,
                });
            }
        }
        for it in doc.items.iter().filter(|i| i.depth == 0 && section.contains(&i.range.start)) {
            let text = doc.slice(&it.text_range);
            let Some(id) = bracketed(text).map(|(id, _)| id.trim()).filter(|id| ITEM_ID.is_match(id)) else {
                continue;
            };
            let status_range = BULLET_STATUS.captures(text).map(|c| {
                let m = c.get(1).unwrap();
                let value = m.as_str().trim_end();
                it.text_range.start + m.start()..it.text_range.start + m.start() + value.len()
            });
            self.index.push(IndexRow {
                id: id.to_string(),
                line: it.line,
                status: status_range.as_ref().map(|r| doc.slice(r).to_string()),
                status_range,
            });
        }
        self.index.sort_by_key(|r| r.line);
    }

    fn parse_items(&mut self) {
        let doc = &self.doc;
        let mut items = Vec::new();
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
                let attempt = attempt_of(title);
                if parent.id.eq_ignore_ascii_case(id) || attempt.is_some() {
                    if let Some((number, date)) = attempt {
                        parent.attempts.push(Attempt {
                            number,
                            date,
                            result: result_word(&h.text),
                            line: h.line,
                            item: None,
                            text: h.range.clone(),
                        });
                        parent.attempts.sort_by_key(|a| a.line);
                    }
                    continue;
                }
            }
            if !ITEM_ID.is_match(id) {
                diags.push(Diagnostic::error(
                    &doc.file,
                    h.line,
                    format!("item heading has no usable ID: `{}` (expected `## [ITEM-ID] Title`)", h.text),
                ));
                continue;
            }
            let end =
                doc.headings[i + 1..].iter().find(|n| n.level <= h.level).map_or(doc.text.len(), |n| n.range.start);
            items.push(parse_item(doc, id, title, h.line, h.level, h.range.start..end));
        }
        self.parse_archived(&mut items);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for item in &items {
            if let Some(first) = seen.insert(&item.id, item.line) {
                diags.push(Diagnostic::warning(
                    &doc.file,
                    item.line,
                    format!("item [{}] appears again (first at line {first})", item.id),
                ));
                seen.insert(&item.id, first);
            }
        }
        self.diagnostics.extend(diags);
        self.items = items;
    }

    /// Archive sections list finished items as bullets, `- [ID] Title — DONE ...`, with their
    /// attempts nested below. They are items too (status `archived`), so no attempt is lost.
    fn parse_archived(&self, items: &mut Vec<Item>) {
        let doc = &self.doc;
        let Some(first) = doc.headings.iter().find(|h| h.level == 2) else {
            return;
        };
        let index = self.index_section().unwrap_or(0..0);
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
            if BULLET_ID.is_match(id) {
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

    /// The nested entries of an item's field (`- Next Actions:` then `1. …` lines), as text with
    /// their lines.
    pub fn field_entries(&self, item: &Item, key: &str) -> Vec<(String, usize)> {
        let doc = &self.doc;
        let Some(f) = item.field(key) else { return Vec::new() };
        let it = &doc.items[f.item];
        doc.items
            .iter()
            .filter(|c| c.depth > it.depth && c.range.start > it.range.start && c.range.end <= it.range.end)
            .map(|c| (doc.item_text(c).trim().to_string(), c.line))
            .collect()
    }

    /// Items with this ID, in file order (real ledgers repeat IDs).
    pub fn find(&self, id: &str) -> Vec<&Item> {
        self.items.iter().filter(|i| i.id.eq_ignore_ascii_case(id)).collect()
    }
}

fn parse_item(doc: &Document, id: &str, title: &str, line: usize, level: u8, range: Range<usize>) -> Item {
    let mut fields = Vec::new();
    let mut attempts = Vec::new();
    let first = doc.items.partition_point(|it| it.range.start < range.start);
    for (idx, it) in doc.items.iter().enumerate().skip(first) {
        if it.range.start >= range.end {
            break;
        }
        let text = doc.item_text(it);
        if let Some((number, date)) = attempt_of(text) {
            attempts.push(Attempt {
                number,
                date,
                result: result_word(text),
                line: it.line,
                item: Some(idx),
                text: it.text_range.clone(),
            });
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
                    item: idx,
                });
            }
        }
    }
    Item { id: id.to_string(), title: title.to_string(), line, level, range, fields, attempts, archived: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEDGER: &str = "# Fix Plan Ledger\n\n**Last Updated:** 2026-01-05 (galph)\n**Active Focus:**\n- Do [B-2] first.\n- Then more.\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [A-1](#a) | A | High | done |\n| [B-2](#b) | B | High | in_progress |\n\n## [A-1] First\n- Priority: High\n- Status: done\n\n## [B-2] Second\n- Status: in_progress (phase C)\n- Next Actions (refresh):\n  1. run it\n- Attempts History:\n  * [2025-10-09] Attempt #1 — Result: planning. x\n  * **Attempt #2** — Result: **failed**\n  - Attempt #4 — y\n\n## [] broken\n\n## [A-1] First again\n";

    #[test]
    fn parses_header_index_items_attempts() {
        let l = Ledger::parse(Document::parse("docs/fix_plan.md", LEDGER.into()));
        assert_eq!(l.last_updated.as_ref().unwrap().value, "2026-01-05 (galph)");
        assert_eq!(l.active_focus, vec!["Do [B-2] first.", "Then more."]);
        assert_eq!(l.index.len(), 2);
        assert_eq!(l.index[1].status.as_deref(), Some("in_progress"));
        let ids: Vec<&str> = l.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["A-1", "B-2", "A-1"]);
        let b = &l.items[1];
        assert_eq!(b.status(), Some("in_progress (phase C)"));
        assert!(b.is_open() && !l.items[0].is_open());
        assert_eq!(b.field("Next Actions").unwrap().name, "Next Actions (refresh)");
        let nums: Vec<u32> = b.attempts.iter().map(|a| a.number).collect();
        assert_eq!(nums, vec![1, 2, 4]);
        assert_eq!(b.attempts[0].date.as_deref(), Some("2025-10-09"));
        assert_eq!(b.attempts[1].result.as_deref(), Some("failed"));
        assert_eq!(b.next_attempt_number(), 5);
        let msgs: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(msgs.iter().any(|m| m.contains(":27: error: item heading has no usable ID")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.contains(":29: warning: item [A-1] appears again (first at line 14)")),
            "{msgs:?}"
        );
        let st = &l.items[0].field("Status").unwrap();
        assert_eq!(&l.doc.text[st.value_range.clone()], "done");
    }
}
