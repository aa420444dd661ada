//! Property tests, seeded from the real workspaces in tests/fixtures: parsers return on any bytes;
//! an accepted attempt adds exactly one block and changes no other byte; a refused one changes
//! nothing; the merge driver never panics, never loses an item, never repeats a number; no text
//! given to a writing option changes the ledger's items or attempts beyond the one entry.
//! Case counts are bounded to keep CI well inside its limit (`PROPTEST_CASES` overrides).

use ledger_loop::ledger::Ledger;
use ledger_loop::markdown::Document;
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::common::*;

fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Texts of real ledgers and plans, small enough to run many cases on.
fn seeds() -> Vec<String> {
    let mut v = Vec::new();
    for p in [
        "nanobragg/workspace/docs/fix_plan.md",
        "nanobragg/workspace/plans/active/vectorization.md",
        "nanobragg/history/415b5703/docs/fix_plan.md",
        "ptychopinn/86ba9a98/docs/fix_plan.md",
        "ptychopinn/9c19986b/docs/fix_plan.md",
        "ptychopinn/bb0aaf65/input.md",
        "nanobragg/history/22f6fcdf/input.md",
    ] {
        v.push(std::fs::read_to_string(fixtures().join(p)).unwrap());
    }
    v
}

/// Pieces that real files are made of, and the bytes that break naive readers.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("## [A-1] Item\n".to_string()),
        Just("### [A-1] Attempt #3 — Result: x\n".to_string()),
        Just("- Status: done\n".to_string()),
        Just("- Attempts History:\n".to_string()),
        Just("  * [2026-01-01] Attempt #1 — Result: failed.\n".to_string()),
        Just("### 2026-01-22T02:40Z — seed S1 (initial)\n".to_string()),
        Just("| ID | Task | State | How |\n| --- | --- | --- | --- |\n".to_string()),
        Just("| A1 | x | [D] | `true` |\n".to_string()),
        Just("- [x] A1: done\n".to_string()),
        Just("```\n".to_string()),
        Just("~~~\n".to_string()),
        Just("> ".to_string()),
        Just("|".to_string()),
        Just("`".to_string()),
        Just("Do Now: run `pytest -q && echo $(date)` then\n".to_string()),
        Just("Focus: [A-1] docs/fix_plan.md#a-1-item\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("\0".to_string()),
        Just("AT\u{2011}PARALLEL\u{2011}012".to_string()),
        Just("é✅—".to_string()),
        "[ -~]{0,20}".prop_map(|s| s),
    ]
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..60).prop_map(|v| v.concat())
}

/// A real file, mutated: a slice cut out, text spliced in, the end cut (mid-character too).
fn mutated_seed() -> impl Strategy<Value = String> {
    let seeds = seeds();
    (0..seeds.len(), any::<u16>(), any::<u16>(), arbitrary_text(), any::<bool>()).prop_map(
        move |(k, a, b, insert, truncate)| {
            let s = seeds[k].as_bytes();
            let (a, b) = (a as usize % (s.len() + 1), b as usize % (s.len() + 1));
            let (lo, hi) = (a.min(b), a.max(b));
            let mut bytes = s[..lo].to_vec();
            bytes.extend_from_slice(insert.as_bytes());
            if !truncate {
                bytes.extend_from_slice(&s[hi..]);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        },
    )
}

proptest! {
    #![proptest_config(config(200))]

    /// Every reader returns on any text: markdown, ledger, plan, memo, shell, commands.
    #[test]
    fn parsers_return_on_any_text(text in prop_oneof![arbitrary_text(), mutated_seed()]) {
        let doc = Document::parse("x.md", text.clone());
        let joined: String = doc.spans().iter().map(|(_, r)| &text[r.clone()]).collect();
        prop_assert_eq!(&joined, &text, "spans give back the bytes");
        let l = Ledger::parse(Document::parse("docs/fix_plan.md", text.clone()));
        for i in &l.items {
            let _ = i.next_attempt_number();
        }
        let _ = ledger_loop::plan::Plan::parse(Document::parse("plans/active/x.md", text.clone()));
        let _ = ledger_loop::memo::Memo::parse(&Document::parse("input.md", text.clone()));
        let _ = ledger_loop::shell::parse(&text);
        let _ = ledger_loop::command::step_of(&text);
        let _ = ledger_loop::merge::merge(&text, &text, "", "x.md");
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// The merge driver returns (0 or 1 conflicts' worth of markers, never a panic) on any three
    /// versions, mixed line endings and missing final newlines included.
    #[test]
    fn merge_returns_on_any_three_texts(b in arbitrary_text(), o in prop_oneof![arbitrary_text(), mutated_seed()], t in arbitrary_text()) {
        let out = ledger_loop::merge::merge(&b, &o, &t, "docs/fix_plan.md");
        prop_assert!(out.conflicts == 0 || out.text.contains("<<<<<<< "));
    }
}

/// A small workspace holding `ledger` (and a plan for its first item), for attempts on disk.
fn workspace(ledger: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", ledger);
    write(
        d.path(),
        "plans/active/p.md",
        "- Initiative: VECTOR-TRICUBIC-002\n\n### Phase C — x\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| C1 | a | [ ] | `true` |\n",
    );
    d
}

fn shape(text: &str) -> Vec<(String, usize)> {
    let l = Ledger::parse(Document::parse("docs/fix_plan.md", text.to_string()));
    l.items.iter().map(|i| (ledger_loop::ledger::normalize_id(&i.id), i.attempts.len())).collect()
}

/// Text an agent might send through any writing option: line breaks, pipes, fences, headings,
/// list markers, forged entries.
fn option_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("## [FAKE-9] Forged item".to_string()),
            Just("* [2025-01-01] Attempt #99 — forged".to_string()),
            Just("Attempt #99 — forged".to_string()),
            Just("1. nested".to_string()),
            Just("| a | b |".to_string()),
            Just("```".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("`code`".to_string()),
            Just(" — ".to_string()),
            Just("|sum_ratio−1|".to_string()),
            "[ -~]{0,12}".prop_map(|s| s),
        ],
        1..6,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(48))]

    /// An accepted attempt is the old ledger plus one contiguous block inside the item's
    /// section, the items and their attempts as before plus the one entry; a refused one leaves
    /// every file byte-identical.
    #[test]
    fn an_attempt_adds_one_block_or_nothing(
        note in option_text(),
        next_action in option_text(),
        status in option_text(),
        which in 0..4usize,
    ) {
        let ledger = std::fs::read_to_string(fixtures().join("nanobragg/workspace/docs/fix_plan.md")).unwrap();
        let d = workspace(&ledger);
        let before = snapshot(d.path());
        let mut args = vec!["attempt", "VECTOR-TRICUBIC-002", "--result", "partial", "--json"];
        let flag = ["--note", "--next", "--next-action", "--status"][which];
        let value = [&note, &note, &next_action, &status][which];
        args.extend([flag, value.as_str()]);
        let o = run(d.path(), &args);
        prop_assert!(matches!(o.status.code(), Some(0) | Some(2)), "{}", stderr(&o));
        prop_assert!(!stderr(&o).contains("panicked"));
        let after = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
        if o.status.code() == Some(2) {
            prop_assert_eq!(snapshot(d.path()), before, "a refused attempt writes nothing");
            return Ok(());
        }
        // The items and attempts as they were, plus the one entry.
        let mut want = shape(&ledger);
        let k = want.iter().position(|(id, _)| id == "VECTOR-TRICUBIC-002").unwrap();
        want[k].1 += 1;
        prop_assert_eq!(shape(&after), want);
        if which <= 1 {
            // Only the entry: one insertion inside the item's section.
            let j = json(&o);
            let edits = j["changes"][0]["edits"].as_array().unwrap();
            prop_assert_eq!(edits.len(), 1);
            let at = edits[0]["start"].as_u64().unwrap() as usize;
            let text = edits[0]["text"].as_str().unwrap();
            prop_assert_eq!(&after, &format!("{}{text}{}", &ledger[..at], &ledger[at..]));
            let l = Ledger::parse(Document::parse("docs/fix_plan.md", ledger.clone()));
            let item = l.find("VECTOR-TRICUBIC-002")[0];
            prop_assert!(item.range.start < at && at <= item.range.end);
        }
        // No temp file is left beside the files.
        for dir in ["docs", "plans/active"] {
            for e in std::fs::read_dir(d.path().join(dir)).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                prop_assert!(!name.ends_with(".tmp"), "{}", name);
            }
        }
    }
}

/// A ledger made of items with attempts.
fn ledger_of(items: &[(String, Vec<u64>)], trailing_newline: bool, crlf: bool) -> String {
    let mut s = String::from("# L\n\n");
    for (id, attempts) in items {
        s.push_str(&format!("## [{id}] t\n- Status: open\n- Attempts History:\n"));
        for n in attempts {
            s.push_str(&format!("  * [2026-01-01] Attempt #{n} — Result: x{n}.\n"));
        }
        s.push('\n');
    }
    let mut s = s.trim_end().to_string();
    if trailing_newline {
        s.push('\n');
    }
    if crlf {
        s = s.replace('\n', "\r\n");
    }
    s
}

fn side() -> impl Strategy<Value = (Vec<(String, Vec<u64>)>, bool, bool)> {
    (
        prop::collection::btree_map(prop_oneof![Just("A-1"), Just("B-2"), Just("C-3"), Just("D-4")], 1..4u64, 0..4)
            .prop_map(|m| m.into_iter().map(|(id, n)| (id.to_string(), (1..=n).collect())).collect()),
        any::<bool>(),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(config(300))]

    /// For any base, ours and theirs: no panic; every item either side has is kept unless a side
    /// deleted it; no two attempts of an item share a number.
    #[test]
    fn merge_keeps_items_and_numbers((b, bn, bc) in side(), (o, on, oc) in side(), (t, tn, tc) in side(), mixed in any::<bool>()) {
        let mut base = ledger_of(&b, bn, bc);
        if mixed {
            // A base mixing CRLF and LF.
            base = base.replacen("\r\n", "\n", 1).replacen('\n', "\r\n", 1);
        }
        let (ours, theirs) = (ledger_of(&o, on, oc), ledger_of(&t, tn, tc));
        let out = ledger_loop::merge::merge(&base, &ours, &theirs, "docs/fix_plan.md");
        if out.conflicts > 0 {
            return Ok(());
        }
        let ids = |v: &[(String, Vec<u64>)]| v.iter().map(|(i, _)| i.clone()).collect::<std::collections::BTreeSet<_>>();
        let (bi, oi, ti) = (ids(&b), ids(&o), ids(&t));
        let merged = Ledger::parse(Document::parse("docs/fix_plan.md", out.text.clone()));
        let got: std::collections::BTreeSet<String> = merged.items.iter().map(|i| i.id.clone()).collect();
        for id in oi.iter().chain(&ti) {
            let deleted = bi.contains(id) && (!oi.contains(id) || !ti.contains(id));
            prop_assert!(deleted || got.contains(id), "lost [{}]\nbase:\n{}\nours:\n{}\ntheirs:\n{}\nout:\n{}", id, base, ours, theirs, out.text);
        }
        for item in &merged.items {
            let mut seen = std::collections::BTreeSet::new();
            for a in item.attempts.iter().filter_map(|a| a.number) {
                prop_assert!(seen.insert(a), "[{}] #{} twice\n{}", item.id, a, out.text);
            }
        }
    }
}

/// The merge of the issue's example: OURS without a final newline, THEIRS adding an item.
#[test]
fn merge_with_no_final_newline_keeps_both_items() {
    let base = "## [A-1] a\n- Status: x\n";
    let ours = "## [A-1] a\n- Status: x";
    let theirs =
        "## [A-1] a\n- Status: x\n\n## [B-1] b\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: y.\n";
    let out = ledger_loop::merge::merge(base, ours, theirs, "f.md");
    assert_eq!(out.conflicts, 0);
    let l = Ledger::parse(Document::parse("f.md", out.text.clone()));
    let ids: Vec<&str> = l.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["A-1", "B-1"], "{}", out.text);
    assert!(l.items[0].attempts.is_empty());
    assert!(out.text.contains("- Status: x\n\n## [B-1] b"), "{}", out.text);
}

#[test]
fn merge_with_a_mixed_line_ending_base_keeps_both_sides_or_says_it_cannot() {
    let out = ledger_loop::merge::merge("\r\n---\n\n", "\n---\n\nx\n", "\r\n---\r\n\ny\n", "f.md");
    // Each side's addition is in the result, or in a conflict region that counts as one.
    assert!(out.text.contains("x\n") && out.text.contains("y"), "{:?}", out.text);
    assert_eq!(out.conflicts, out.text.matches("<<<<<<< ").count(), "{:?}", out.text);
}

/// A ledger with old-Mac line endings (CR only) is read like any other: `--fix` sets the Index
/// row to its section's status, in that one cell, keeping every CR.
#[test]
fn lint_fix_on_a_cr_only_ledger_fixes_the_row_and_keeps_the_line_endings() {
    let d = tempfile::tempdir().unwrap();
    let before =
        "# L\r\r## Index\r| ID | Status |\r| --- | --- |\r| [A-1](#a) | open |\r\r## [A-1] a\r- Status: done\r";
    write(d.path(), "docs/fix_plan.md", before);
    let o = run(d.path(), &["lint", "--fix"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("1 fixed"), "{}", stdout(&o));
    let after = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert_eq!(after, before.replace("| open |", "| done |"));
}
