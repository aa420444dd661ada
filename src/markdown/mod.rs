//! A lossless view of a markdown file: byte ranges and 1-based line numbers for every heading,
//! list item, table row and code block, taken from pulldown-cmark's offset iterator. Nothing
//! here renders markdown; later edits splice bytes into `Document::text`.

use std::ops::Range;
use std::path::Path;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::diag::Diagnostic;
use crate::error::Result;
use crate::fsutil::read_utf8;

#[derive(Debug, Clone)]
pub struct Heading {
    pub level: u8,
    pub range: Range<usize>,
    pub line: usize,
    /// The heading text as written, without the `#` marks.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Item {
    /// 0 for a top-level list item, 1 for an item nested once, ...
    pub depth: usize,
    /// The whole item, nested lists included.
    pub range: Range<usize>,
    pub line: usize,
    /// The item's first line after the bullet marker, without the line ending.
    pub text_range: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub range: Range<usize>,
    pub line: usize,
    /// Each cell's content, trimmed of surrounding blanks.
    pub cells: Vec<Range<usize>>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub range: Range<usize>,
    pub header: Row,
    pub rows: Vec<Row>,
}

/// What a stretch of the file is, for the lossless span list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Block,
    Gap,
}

#[derive(Debug)]
pub struct Document {
    /// The path as shown to the user (relative to the workspace root).
    pub file: String,
    pub text: String,
    line_starts: Vec<usize>,
    pub headings: Vec<Heading>,
    pub items: Vec<Item>,
    pub tables: Vec<Table>,
    pub code_blocks: Vec<Range<usize>>,
    blocks: Vec<Range<usize>>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Document {
    pub fn load(path: &Path, shown: &str) -> Result<Document> {
        Ok(Document::parse(shown, read_utf8(path, shown)?))
    }

    pub fn parse(file: &str, text: String) -> Document {
        let mut line_starts = vec![0];
        // A line ends at `\n`, and — as CommonMark reads it — at a `\r` not followed by one.
        // Found with memchr: this runs over every byte of an 800 KB ledger on each command.
        let b = text.as_bytes();
        line_starts.extend(
            memchr::memchr2_iter(b'\n', b'\r', b)
                .filter(|&i| b[i] == b'\n' || b.get(i + 1) != Some(&b'\n'))
                .map(|i| i + 1),
        );
        let mut doc = Document {
            file: file.to_string(),
            text,
            line_starts,
            headings: Vec::new(),
            items: Vec::new(),
            tables: Vec::new(),
            code_blocks: Vec::new(),
            blocks: Vec::new(),
            diagnostics: Vec::new(),
        };
        doc.scan();
        doc.check_stray_table_lines();
        doc
    }

    fn scan(&mut self) {
        let text = self.text.as_str();
        let parser = Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter();
        let mut depth = 0usize;
        let mut list_depth = 0usize;
        let mut table: Option<Table> = None;
        let mut row: Option<Row> = None;
        let mut headings = Vec::new();
        let mut items = Vec::new();
        let mut tables = Vec::new();
        let mut code_blocks = Vec::new();
        let mut blocks = Vec::new();
        let mut unclosed_fences = Vec::new();
        for (event, range) in parser {
            match &event {
                Event::Start(tag) => {
                    if depth == 0 {
                        blocks.push(range.clone());
                    }
                    depth += 1;
                    match tag {
                        Tag::Heading { level, .. } => headings.push(Heading {
                            level: *level as u8,
                            line: self.line_of(range.start),
                            text: heading_text(&text[range.clone()]).to_string(),
                            range: range.clone(),
                        }),
                        Tag::List(_) => list_depth += 1,
                        Tag::Item => items.push(Item {
                            depth: list_depth.saturating_sub(1),
                            line: self.line_of(range.start),
                            text_range: self.item_text_range(range.start),
                            range: range.clone(),
                        }),
                        Tag::Table(_) => {
                            table =
                                Some(Table { range: range.clone(), header: self.row(range.clone()), rows: Vec::new() })
                        }
                        Tag::TableHead | Tag::TableRow => row = Some(self.row(range.clone())),
                        Tag::TableCell => {
                            if let Some(r) = row.as_mut() {
                                r.cells.push(trim_cell(text, range.clone()));
                            }
                        }
                        Tag::CodeBlock(kind) => {
                            code_blocks.push(range.clone());
                            if let CodeBlockKind::Fenced(_) = kind {
                                if !fence_closed(&text[range.clone()]) {
                                    unclosed_fences.push(range.start);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Event::End(tag) => {
                    depth = depth.saturating_sub(1);
                    match tag {
                        TagEnd::List(_) => list_depth = list_depth.saturating_sub(1),
                        TagEnd::TableHead => {
                            if let (Some(t), Some(r)) = (table.as_mut(), row.take()) {
                                t.header = r;
                            }
                        }
                        TagEnd::TableRow => {
                            if let (Some(t), Some(r)) = (table.as_mut(), row.take()) {
                                t.rows.push(r);
                            }
                        }
                        TagEnd::Table => tables.extend(table.take()),
                        _ => {}
                    }
                }
                _ if depth == 0 => blocks.push(range.clone()),
                _ => {}
            }
        }
        for start in unclosed_fences {
            let line = self.line_of(start);
            self.diagnostics.push(
                Diagnostic::error(
                    &self.file,
                    line,
                    "code fence opened here is never closed; everything after it is read as code",
                )
                .over(start..self.text.len()),
            );
        }
        self.headings = headings;
        self.items = items;
        self.tables = tables;
        self.code_blocks = code_blocks;
        self.blocks = blocks;
    }

    /// A `|`-led line that no table took is a table that did not parse: a missing `| --- |`
    /// delimiter row (an error), or a blank line cutting a table in two — then the rows after the
    /// blank line are read as rows of the table above, with a warning.
    fn check_stray_table_lines(&mut self) {
        let mut stray = Vec::new();
        for (i, &start) in self.line_starts.iter().enumerate() {
            let line = self.line_text(i + 1);
            let trimmed = line.trim_start();
            if !trimmed.starts_with('|') || line.len() - trimmed.len() > 3 {
                continue;
            }
            let inside = |r: &Range<usize>| r.start <= start && start < r.end;
            if self.tables.iter().any(|t| inside(&t.range))
                || self.code_blocks.iter().any(&inside)
                || self.items.iter().any(|i| inside(&i.range))
            {
                continue;
            }
            stray.push(i + 1);
        }
        for line in stray {
            // The table this row continues: the one ending right above, past blank lines.
            let mut above = line - 1;
            while above > 0 && self.line_text(above).trim().is_empty() {
                above -= 1;
            }
            let end_above = self.line_range(above).end;
            let mut row = self.split_row(line);
            let above_start = self.line_start(above);
            let table = self.tables.iter_mut().find(|t| t.range.start <= above_start && t.range.end >= end_above);
            match table {
                Some(t) => {
                    // As GFM does: cells beyond the header's are ignored.
                    row.cells.truncate(t.header.cells.len());
                    let split = above < line - 1;
                    t.range.end = t.range.end.max(row.range.end);
                    t.rows.push(row);
                    if split {
                        let msg =
                            "a blank line splits this table; the rows after it are read as part of the table above";
                        self.diagnostics.push(Diagnostic::warning(&self.file, line, msg));
                    }
                }
                None => {
                    let r = self.line_range(line);
                    self.diagnostics.push(
                        Diagnostic::error(
                            &self.file,
                            line,
                            "unterminated table: this `|` row belongs to no table (missing `| --- |` delimiter row?)",
                        )
                        .over(r),
                    );
                }
            }
        }
    }

    /// A table row read by hand: cells between unescaped `|` outside code spans.
    fn split_row(&self, line: usize) -> Row {
        let r = self.line_range(line);
        let bytes = self.text.as_bytes();
        let mut cells = Vec::new();
        let mut cell_start = None;
        let mut in_code = false;
        let mut i = r.start;
        while i < r.end {
            match bytes[i] {
                b'\\' => i += 1,
                b'`' => in_code = !in_code,
                b'|' if !in_code => {
                    if let Some(s) = cell_start {
                        cells.push(trim_cell(&self.text, s..i));
                    }
                    cell_start = Some(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        if let Some(s) = cell_start.filter(|&s| !self.text[s..r.end].trim().is_empty()) {
            cells.push(trim_cell(&self.text, s..r.end));
        }
        Row { range: r.start..self.line_start(line + 1), line, cells }
    }

    fn row(&self, range: Range<usize>) -> Row {
        Row { line: self.line_of(range.start), range, cells: Vec::new() }
    }

    fn item_text_range(&self, offset: usize) -> Range<usize> {
        let line = self.line_of(offset);
        let line_range = self.line_range(line);
        let bytes = self.text.as_bytes();
        let mut i = offset.max(line_range.start);
        // Skip the marker: `-`, `*`, `+`, or digits followed by `.`/`)`.
        while i < line_range.end && bytes[i] == b' ' {
            i += 1;
        }
        if i < line_range.end && matches!(bytes[i], b'-' | b'*' | b'+') {
            i += 1;
        } else {
            while i < line_range.end && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i < line_range.end && matches!(bytes[i], b'.' | b')') {
                i += 1;
            }
        }
        while i < line_range.end && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        i..line_range.end
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    /// Byte offset where 1-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(self.text.len())
    }

    /// The bytes of a line without its `\n` or `\r\n`.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.line_start(line);
        let mut end = self.line_start(line + 1);
        let bytes = self.text.as_bytes();
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        start..end
    }

    pub fn line_text(&self, line: usize) -> &str {
        &self.text[self.line_range(line)]
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Where text goes after the last non-blank line of `range` (blank lines at its end stay
    /// after what is added).
    pub fn after_last_line(&self, range: &Range<usize>) -> usize {
        let mut line = self.line_of(range.end.saturating_sub(1).max(range.start));
        let first = self.line_of(range.start);
        while line > first && self.line_text(line).trim().is_empty() {
            line -= 1;
        }
        self.line_start(line + 1)
    }

    pub fn slice(&self, range: &Range<usize>) -> &str {
        &self.text[range.clone()]
    }

    pub fn item_text(&self, item: &Item) -> &str {
        &self.text[item.text_range.clone()]
    }

    /// The whole file cut into consecutive spans — blocks and the gaps between them — so that
    /// concatenating them gives back the file byte for byte.
    pub fn spans(&self) -> Vec<(SpanKind, Range<usize>)> {
        let mut out = Vec::with_capacity(self.blocks.len() * 2 + 1);
        let mut at = 0;
        for b in &self.blocks {
            let start = b.start.max(at);
            if start > at {
                out.push((SpanKind::Gap, at..start));
            }
            if b.end > start {
                out.push((SpanKind::Block, start..b.end));
                at = b.end;
            }
        }
        if at < self.text.len() {
            out.push((SpanKind::Gap, at..self.text.len()));
        }
        out
    }

    /// The line ending this file uses, so inserted lines match it.
    pub fn newline(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else if self.text.contains('\r') && !self.text.contains('\n') {
            "\r"
        } else {
            "\n"
        }
    }
}

/// The text of an ATX heading line: without the opening `#`s and an optional closing `#` run
/// (which, per CommonMark, only counts after a blank).
fn heading_text(src: &str) -> &str {
    let first = src.lines().next().unwrap_or("");
    let body = first.trim().trim_start_matches('#').trim();
    let without_close = body.trim_end_matches('#');
    if without_close.len() < body.len() && (without_close.is_empty() || without_close.ends_with([' ', '\t'])) {
        without_close.trim_end()
    } else {
        body
    }
}

fn trim_cell(text: &str, range: Range<usize>) -> Range<usize> {
    let s = &text[range.clone()];
    let lead = s.len() - s.trim_start_matches([' ', '\t', '|']).len();
    let body = &s[lead..];
    let tail = body.len() - body.trim_end_matches([' ', '\t', '|', '\r', '\n']).len();
    range.start + lead..range.end - tail
}

fn fence_closed(block: &str) -> bool {
    let mut lines = block.lines();
    let open = lines.next().unwrap_or("").trim_start();
    let ch = open.chars().next().unwrap_or('`');
    let len = open.chars().take_while(|&c| c == ch).count();
    block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .last()
        .map(|l| {
            let t = l.trim();
            t.chars().take_while(|&c| c == ch).count() >= len && t.chars().all(|c| c == ch)
        })
        .unwrap_or(false)
}

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

/// The single-backtick code spans of a line of prose: each span's inner text and its byte range
/// (inside the backticks). Regex-free: memos and plan cells are scanned on every decision.
pub fn code_spans(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('`').map(|i| rest + i) {
        let Some(close) = text[open + 1..].find('`').map(|i| open + 1 + i) else { break };
        if close > open + 1 {
            out.push((open + 1..close, &text[open + 1..close]));
        }
        rest = close + 1;
    }
    out
}

/// A heading's anchor as GitHub makes it: lower case, spaces to `-`, other punctuation dropped.
pub fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Replace byte ranges of `text` (sorted, non-overlapping) with new strings.
pub fn splice(text: &str, edits: &[(Range<usize>, String)]) -> String {
    let mut out = String::with_capacity(text.len() + edits.iter().map(|e| e.1.len()).sum::<usize>());
    let mut at = 0;
    for (range, new) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(new);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests;
