//! The ledger (`docs/fix_plan.md`), in any dialect the workflow is written in:
//! - sections: header fields, an Index, `## [ID] Title` items with `- Field: value` lines and
//!   numbered attempts (`[date] Attempt #N`, `### [ID] Attempt #N`);
//! - a single initiative: `## Status`, `## Current Focus` naming `**ID — Title**`, checklists of
//!   `ID.TASK:` entries, and timestamped `### <time> — ID.TASK (label)` attempts;
//! - an outline, for fix plans with no `[ID]` items: headings of one level as items, their
//!   status from the markers people write, checkboxes and status-table rows as tasks.
//!
//! Plain data with byte ranges into the document.

mod absent;
mod attempts;
mod index;
mod initiative;
mod outline;
pub mod reader;
mod sections;

pub use sections::NOT_A_HEADING;

use std::ops::Range;

use crate::diag::Diagnostic;
use crate::markdown::Document;
use crate::plan::TaskState;

pub use crate::id::{ids_equal, is_item_id, is_unicode_dash, normalize_id, ID_PATTERN};
pub use crate::markdown::head;
pub use attempts::{cited_numbers, timestamped_heading, TimestampedHeading};
pub(crate) use outline::first_attempt_at;

/// Status words that mean an item needs no more work.
pub const CLOSED_STATUSES: &[&str] =
    &["done", "complete", "completed", "closed", "archived", "resolved", "wontfix", "superseded"];

/// The result word after `Result:` (`**failed**`, `✅ success` → `failed`, `success`).
pub(crate) fn result_word(text: &str) -> Option<String> {
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
pub(crate) fn field_of(text: &str) -> Option<(&str, usize)> {
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

pub fn status_word(status: &str) -> String {
    // `✅ done`, `**done**`: the first word, whatever marks it.
    status
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub fn is_closed_status(status: &str) -> bool {
    CLOSED_STATUSES.contains(&status_word(status).as_str())
}

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
    /// Index into `Document::items` of the field's list item; `None` for a field that is a
    /// section of its own (a single-initiative ledger's `## Status`).
    pub item: Option<usize>,
}

impl Field {
    /// The field a list item states (`- Name: value`, `- **Name:** value`), if it states one:
    /// `idx` indexes `doc.items`.
    pub(crate) fn of_list_item(doc: &Document, idx: usize) -> Option<Field> {
        let it = &doc.items[idx];
        let text = doc.item_text(it);
        let (name, end) = field_of(text)?;
        let name = name.trim().to_string();
        Some(Field {
            key: name.split('(').next().unwrap_or(&name).trim().to_string(),
            name,
            value: text[end..].trim().to_string(),
            value_range: it.text_range.start + end..it.text_range.end,
            line: it.line,
            item: Some(idx),
        })
    }

    /// A field whose value is a stretch of the file rather than a `- Name: value` bullet: a
    /// `## Status` section's value, a status written in a heading or beside a list entry.
    pub(crate) fn at(doc: &Document, name: &str, value_range: Range<usize>) -> Field {
        Field {
            key: name.into(),
            name: name.into(),
            value: doc.slice(&value_range).trim().to_string(),
            line: doc.line_of(value_range.start),
            value_range,
            item: None,
        }
    }
}

/// Serialized as `loop status --json` shows it (docs/json.md): byte ranges left out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    /// `#N`; `None` for a timestamped entry.
    pub number: Option<u64>,
    pub date: Option<String>,
    /// A timestamped entry's time as written (`2026-01-22T02:40Z`).
    pub time: Option<String>,
    /// The task a timestamped entry names (`ID.TASK`, `ID TASK`).
    pub task: Option<String>,
    pub result: Option<String>,
    pub line: usize,
    /// Index into `Document::items`; `None` for a heading (`### [ID] Attempt #N`, `### <time> — ID`).
    #[serde(skip)]
    pub item: Option<usize>,
    /// The attempt's first line (the list item's text, or the heading).
    #[serde(skip)]
    pub text: Range<usize>,
    /// The whole entry: the list item with its nested lines, or the heading's section.
    #[serde(skip)]
    pub body: Range<usize>,
}

impl Attempt {
    /// `Attempt #4`, or a timestamped entry's time.
    pub fn label(&self) -> String {
        match (self.number, &self.time) {
            (Some(n), _) => format!("Attempt #{n}"),
            (None, Some(t)) => format!("the attempt of {t}"),
            (None, None) => "an attempt".into(),
        }
    }

    /// What orders attempts: the number, else the time (`15:35Z` and `153500Z` alike).
    pub fn order_key(&self) -> (u64, String) {
        (self.number.unwrap_or(0), self.time.as_deref().unwrap_or("").replace(':', ""))
    }
}

impl Item {
    /// The latest attempt: the highest number, or the latest time.
    pub fn latest_attempt(&self) -> Option<&Attempt> {
        self.attempts.iter().max_by_key(|a| a.order_key())
    }
}

/// A checklist entry of a single-initiative ledger (`- [x] ID.TASK: …`, `- [ ] S3: …`).
#[derive(Debug, Clone)]
pub struct LedgerTask {
    pub id: String,
    pub description: String,
    pub state: TaskState,
    pub state_range: Range<usize>,
    pub line: usize,
    /// The state is a checkbox (`[ ]`, `[x]`) loop may tick, not a word in a table cell.
    pub checkbox: bool,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub level: u8,
    /// From the heading to the next heading of the same or a higher level (a single-initiative
    /// ledger: the whole file).
    pub range: Range<usize>,
    pub fields: Vec<Field>,
    pub attempts: Vec<Attempt>,
    /// A bullet in an archive section rather than a `## [ID]` section.
    pub archived: bool,
    /// The highest attempt number the item's own lists cite (`✅ COMPLETE (Attempt #20)`).
    pub cited: u64,
    /// Checklist tasks the ledger itself keeps for the item (single-initiative ledgers).
    pub tasks: Vec<LedgerTask>,
    /// Whether the reader found the item closed, when its words are not the workflow's
    /// (`FIXED`, `مكتمل`, ✅: the outline reader's judgement) or another line of the ledger
    /// outranks its own (a roadmap bullet saying done); `None` reads the status word.
    pub closed: Option<bool>,
    /// A status no line states, taken from the item's tasks (`done (3/3 tasks)`).
    pub derived_status: Option<String>,
}

impl Item {
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key.eq_ignore_ascii_case(key))
    }

    pub fn status(&self) -> Option<&str> {
        match self.field("Status") {
            Some(f) => Some(f.value.as_str()),
            None if self.archived => Some("archived"),
            None => self.derived_status.as_deref(),
        }
    }

    pub fn priority(&self) -> Option<&str> {
        self.field("Priority").map(|f| f.value.as_str())
    }

    /// An item is open unless its status starts with a closing word.
    pub fn is_open(&self) -> bool {
        if let Some(closed) = self.closed {
            return !closed;
        }
        self.status().is_none_or(|s| !is_closed_status(s))
    }

    /// One more than the highest number the item uses, in an entry or a citation of its own;
    /// `None` when that would pass the largest number there is.
    pub fn next_attempt_number(&self) -> Option<u64> {
        self.attempts.iter().filter_map(|a| a.number).chain([self.cited]).max().unwrap_or(0).checked_add(1)
    }
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

/// How the ledger is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `## [ID] Title` item sections.
    Sections,
    /// One initiative per file: `## Status`, `## Current Focus`, timestamped attempts.
    SingleInitiative,
    /// No `[ID]` items: items read from the outline (headings, checkboxes, status tables).
    Outline,
    /// No ledger file yet: the plans' initiatives stand in for its items.
    Absent,
}

#[derive(Debug)]
pub struct Ledger {
    pub doc: Document,
    pub dialect: Dialect,
    pub last_updated: Option<Header>,
    pub active_focus: Vec<String>,
    pub index: Vec<IndexRow>,
    pub items: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
    /// Each item's normalized ID, for finding the items prose names.
    by_id: std::collections::HashMap<String, Vec<usize>>,
}

impl Ledger {
    pub fn parse(doc: Document) -> Ledger {
        let mut ledger = Ledger {
            dialect: Dialect::Sections,
            last_updated: None,
            active_focus: Vec::new(),
            index: Vec::new(),
            items: Vec::new(),
            diagnostics: doc.diagnostics.clone(),
            by_id: Default::default(),
            doc,
        };
        ledger.parse_header();
        ledger.parse_index();
        for reader in reader::READERS {
            if !ledger.items.is_empty() {
                break;
            }
            if reader.applies(&ledger) && reader.read(&mut ledger) {
                ledger.dialect = reader.dialect();
            }
        }
        for (k, i) in ledger.items.iter().enumerate() {
            ledger.by_id.entry(normalize_id(&i.id)).or_default().push(k);
        }
        ledger.unread_content();
        ledger
    }

    /// A ledger with content but no item loop can read is an error, never an empty, clean ledger.
    fn unread_content(&mut self) {
        if !self.items.is_empty() {
            return;
        }
        let doc = &self.doc;
        let first = (1..=doc.line_count()).find(|&n| {
            let t = doc.line_text(n).trim_start();
            (t.starts_with("##") || t.starts_with("- ") || t.starts_with("* ") || t.starts_with('|'))
                && !t.to_ascii_lowercase().contains("last updated")
        });
        if let Some(n) = first {
            let text = doc.line_text(n).trim();
            let mut shown: String = text.chars().take(80).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            self.diagnostics.push(crate::diag::Diagnostic::error(
                &doc.file,
                n,
                format!(
                    "loop reads no item in this ledger: no `## [ID] Title` sections, no single initiative's `## Current Focus`, and its outline marks no state (no checkbox, ✅, `Status:` line, `- Done` heading or status column), so loop cannot say what is done or next; its content starts here: `{shown}`"
                ),
            ));
        }
    }

    /// What the reader took the ledger to be, in a line (`loop status` says it).
    pub fn describe(&self) -> String {
        self.reader().describe(self)
    }

    /// The reader of the ledger's dialect, to ask how the file is written.
    pub fn reader(&self) -> &'static dyn reader::Reader {
        self.dialect.reader()
    }

    /// The section under the first heading whose text is `name`: from the heading to the next
    /// heading of its level or above.
    pub fn section(&self, name: &str) -> Option<Range<usize>> {
        let doc = &self.doc;
        let h = doc.headings.iter().position(|h| h.text.trim().eq_ignore_ascii_case(name))?;
        let level = doc.headings[h].level;
        let stop = doc.headings[h + 1..].iter().find(|n| n.level <= level).map_or(doc.text.len(), |n| n.range.start);
        Some(doc.headings[h].range.start..stop)
    }

    /// The nested entries of an item's field (`- Next Actions:` then `1. …` lines), as text with
    /// their lines.
    pub fn field_entries(&self, item: &Item, key: &str) -> Vec<(String, usize)> {
        let doc = &self.doc;
        let Some(it) = item.field(key).and_then(|f| f.item).map(|i| &doc.items[i]) else { return Vec::new() };
        doc.items
            .iter()
            .filter(|c| c.depth > it.depth && c.range.start > it.range.start && c.range.end <= it.range.end)
            .map(|c| (doc.item_text(c).trim().to_string(), c.line))
            .collect()
    }

    /// Items with this ID, in file order (real ledgers repeat IDs).
    pub fn find(&self, id: &str) -> Vec<&Item> {
        self.by_id.get(&normalize_id(id)).map_or_else(Vec::new, |ks| ks.iter().map(|&k| &self.items[k]).collect())
    }

    /// The items `text` names, in the order it names them: `[ID]`, a bare `ID`, `ID.TASK` or
    /// `ID/Phase`, in any case and with any dash, as long as the ledger has that item.
    pub fn items_named_in<'l>(&'l self, text: &str) -> Vec<&'l Item> {
        let mut out: Vec<&Item> = Vec::new();
        let word = |c: char| c.is_alphanumeric() || c == '-' || c == '_' || c == '.' || is_unicode_dash(c);
        for token in text.split(|c: char| !word(c)).filter(|t| !t.is_empty()) {
            let token = token.trim_end_matches('.');
            // `ID.TASK`: the longest dotted prefix that is an item.
            let mut cut = token.len();
            loop {
                let cand = &token[..cut];
                if let Some(item) = self.find(cand).first().copied() {
                    if !out.iter().any(|o| std::ptr::eq(*o, item)) {
                        out.push(item);
                    }
                    break;
                }
                match cand.rfind('.') {
                    Some(p) if p > 0 => cut = p,
                    _ => break,
                }
            }
        }
        out
    }
}

/// The lines a field's nested list takes: the field's line and every line after it indented
/// deeper, blank lines between them included, up to the first line at the field's indent or a
/// heading. (Markdown's own list may end earlier: right-aligned numbers like ` 10.` start a new one.)
pub fn field_block(doc: &Document, field_line: usize) -> (usize, usize) {
    let indent = |n: usize| {
        let t = doc.line_text(n);
        t.len() - t.trim_start().len()
    };
    let base = indent(field_line);
    let mut last = field_line;
    for n in field_line + 1..=doc.line_count() {
        let t = doc.line_text(n);
        if t.trim().is_empty() {
            continue;
        }
        if indent(n) <= base || t.trim_start().starts_with('#') {
            break;
        }
        last = n;
    }
    (field_line, last)
}

#[cfg(test)]
mod tests;
