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
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
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
            self.diagnostics.push(Diagnostic::error(
                &self.file,
                line,
                "code fence opened here is never closed; everything after it is read as code",
            ));
        }
        self.headings = headings;
        self.items = items;
        self.tables = tables;
        self.code_blocks = code_blocks;
        self.blocks = blocks;
    }

    /// A `|`-led line that no table took is a table that did not parse: a missing `| --- |`
    /// delimiter row, or a blank line cutting a table in two.
    fn check_stray_table_lines(&mut self) {
        let mut found = Vec::new();
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
            found.push(i + 1);
        }
        for line in found {
            self.diagnostics.push(Diagnostic::error(
                &self.file,
                line,
                "unterminated table: this `|` row belongs to no table (missing `| --- |` delimiter row, or a blank line splits the table)",
            ));
        }
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
mod tests {
    use super::*;

    const SAMPLE: &str = "# T\r\n\r\n- a\r\n  * [2025-01-01] nested\r\n\r\n| ID | State |\r\n| --- | --- |\r\n| A1 | [D] |\r\n\r\n```sh\r\necho\r\n```\r\n";

    #[test]
    fn spans_reproduce_the_bytes() {
        let doc = Document::parse("x.md", SAMPLE.to_string());
        let joined: String = doc.spans().iter().map(|(_, r)| &SAMPLE[r.clone()]).collect();
        assert_eq!(joined, SAMPLE);
    }

    #[test]
    fn records_lines_and_ranges() {
        let doc = Document::parse("x.md", SAMPLE.to_string());
        assert_eq!(doc.headings[0].line, 1);
        assert_eq!(doc.headings[0].text, "T");
        assert_eq!(doc.items.len(), 2);
        assert_eq!(doc.items[1].depth, 1);
        assert_eq!(doc.item_text(&doc.items[1]), "[2025-01-01] nested");
        let t = &doc.tables[0];
        assert_eq!(t.rows[0].line, 8);
        assert_eq!(doc.slice(&t.rows[0].cells[1]), "[D]");
        assert_eq!(doc.slice(&t.header.cells[0]), "ID");
        assert_eq!(doc.newline(), "\r\n");
        assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    }

    #[test]
    fn flags_stray_rows_and_open_fences() {
        let doc = Document::parse("x.md", "| a | b |\n| c | d |\n\n```\ncode\n".into());
        let lines: Vec<usize> = doc.diagnostics.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![4, 1, 2]);
    }

    #[test]
    fn non_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.md");
        std::fs::write(&p, b"ok\nbad \xff here\n").unwrap();
        let err = read_utf8(&p, "f.md").unwrap_err().to_string();
        assert!(err.starts_with("f.md:2:"), "{err}");
    }

    #[test]
    fn heading_text_drops_marks_but_keeps_hashes_in_words() {
        assert_eq!(heading_text("## [A-1] Title ##\n"), "[A-1] Title");
        assert_eq!(heading_text("### Phase C#"), "Phase C#");
        assert_eq!(heading_text("#  Spaced  "), "Spaced");
    }

    #[test]
    fn splice_replaces_only_the_ranges() {
        assert_eq!(splice("abcdef", &[(1..2, "X".into()), (4..4, "Y".into())]), "aXcdYef");
    }
}
