//! Unit tests of the markdown reader.

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
