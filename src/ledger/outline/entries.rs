//! Items written as list entries under a heading rather than as headings, as nanoBragg's fix plan
//! was before it had `[ID]` items:
//!
//! ```text
//! ## Active Focus
//! 1. **Parity Harness Coverage Expansion** *(queued)*
//!    - Status: Harness file created; initial parity cases exist.
//!    - Next: Verify harness executes cleanly for existing cases.
//! ```
//!
//! An entry is an item when its first line is a bold title and a status marker (`*(queued)*`,
//! `✅`, `— done`); its nested bullets are its fields. A heading whose entries are items is no
//! item itself.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::ids::synthesised_id;
use super::markers::heading_status;
use crate::markdown::Document;

static BOLD_TITLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\*\*([^*]+?)\*\*(.*)$").unwrap());

/// One entry read as an item: its list item, title, ID and stated status.
pub(super) struct Entry {
    pub item: usize,
    pub title: String,
    pub id: String,
    pub status: (Range<usize>, bool),
}

/// The entries of a section's own lines that are items; none unless every bold-titled entry
/// there states a status (a list of bold names with dates is a record, not a list of items).
pub(super) fn entries_in(doc: &Document, own: &Range<usize>) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut titled = 0;
    for (idx, it) in doc.items.iter().enumerate().filter(|(_, i)| i.depth == 0 && own.contains(&i.range.start)) {
        let text = doc.item_text(it);
        let Some(c) = BOLD_TITLE.captures(text) else { continue };
        titled += 1;
        let rest = c.get(2).unwrap();
        let marker = rest.as_str().trim().trim_matches(['*', '_']);
        let Some((r, closed)) = heading_status(marker) else { continue };
        // The marker's range in the file: `marker` is `rest` less its blanks and emphasis.
        let lead = rest.as_str().find(marker).unwrap_or(0);
        let start = it.text_range.start + rest.start() + lead;
        let title = c[1].trim().to_string();
        out.push(Entry {
            item: idx,
            id: synthesised_id(&title),
            title,
            status: (start + r.start..start + r.end, closed),
        });
    }
    if out.len() < titled {
        out.clear();
    }
    out
}

/// Where an entry item's first attempt goes: after its last line, an `Attempts:` paragraph and a
/// list at the indent of the entry's own text, so both stay inside the entry.
pub(super) fn first_attempt_at(doc: &Document, item: &crate::markdown::Item) -> (usize, String) {
    let indent = item.text_range.start - doc.line_start(item.line);
    (doc.after_last_line(&item.range), " ".repeat(indent))
}
