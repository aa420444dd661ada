//! The ledger's header (`**Last Updated:**`, `**Active Focus:**` and its list) and its Index
//! (a table's rows or `- [ID] Title — Status: …` bullets).

use std::ops::Range;

use super::{bracketed, is_item_id, Header, IndexRow, Ledger};

impl Ledger {
    /// The header is everything before the first level-2 heading.
    pub(super) fn parse_header(&mut self) {
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

    /// The Index section, `### Active Items` sub-lists included.
    pub fn index_section(&self) -> Option<Range<usize>> {
        self.section("Index")
    }

    /// Index rows: a table's rows, or bullets `- [ID] Title — Priority: High, Status: pending`.
    pub(super) fn parse_index(&mut self) {
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
                let Some(id) = row.cells.get(id_col).and_then(|c| index_id(doc.slice(c))) else {
                    continue;
                };
                let status_range = status_col.and_then(|c| row.cells.get(c)).cloned();
                self.index.push(IndexRow {
                    id: id.to_string(),
                    line: row.line,
                    status: status_range.as_ref().map(|r| doc.slice(r).to_string()),
                    status_range,
                });
            }
        }
        for it in doc.items.iter().filter(|i| i.depth == 0 && section.contains(&i.range.start)) {
            let text = doc.slice(&it.text_range);
            let Some(id) = bracketed(text).map(|(id, _)| id.trim()).filter(|id| is_item_id(id)) else {
                continue;
            };
            let status_range = bullet_status(text).map(|r| it.text_range.start + r.start..it.text_range.start + r.end);
            self.index.push(IndexRow {
                id: id.to_string(),
                line: it.line,
                status: status_range.as_ref().map(|r| doc.slice(r).to_string()),
                status_range,
            });
        }
        self.index.sort_by_key(|r| r.line);
    }
}

/// `[ID](#anchor)` or `ID` in an Index cell.
fn index_id(cell: &str) -> Option<&str> {
    let c = cell.trim();
    let inner = match c.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => c.split_whitespace().next().unwrap_or(""),
    };
    let inner = inner.trim().trim_matches('`');
    is_item_id(inner).then_some(inner)
}

/// The value after `Status:` in an Index bullet, up to `,` `;` or `|`.
fn bullet_status(text: &str) -> Option<Range<usize>> {
    let at = text.find("Status:")? + "Status:".len();
    let rest = &text[at..];
    let lead = rest.len() - rest.trim_start_matches(['*', ' ', '\t']).len();
    let body = &rest[lead..];
    let end = body.find([',', ';', '|']).unwrap_or(body.len());
    let value = body[..end].trim_end();
    (!value.is_empty()).then(|| at + lead..at + lead + value.len())
}
