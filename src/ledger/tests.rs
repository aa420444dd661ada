//! Unit tests of the ledger reader.

use super::*;
use crate::markdown::Document;

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
    let nums: Vec<u64> = b.attempts.iter().filter_map(|a| a.number).collect();
    assert_eq!(nums, vec![1, 2, 4]);
    assert_eq!(b.attempts[0].date.as_deref(), Some("2025-10-09"));
    assert_eq!(b.attempts[1].result.as_deref(), Some("failed"));
    assert_eq!(b.next_attempt_number(), Some(5));
    let msgs: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains(":27: error: item heading has no usable ID")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains(":29: warning: item [A-1] appears again (first at line 14)")), "{msgs:?}");
    let st = &l.items[0].field("Status").unwrap();
    assert_eq!(&l.doc.text[st.value_range.clone()], "done");
}

const INITIATIVE: &str = "# Fix Plan\n\n## Status\n`in_progress`\n\n## Current Focus\n**DEMO-001 — Bundle the data**\n\nWords.\n\n- Working Plan: `plans/active/DEMO-001/implementation.md`\n\n## Completed Items\n- [x] S1: Check inbox\n- [x] DEMO-001.A1: Manifest\n\n## Attempts History\n\n### 2026-01-22T02:40Z — seed S1 (initial)\n**Action:** x\n\n### 2026-01-23T00:15Z — DEMO-001.A1 (shipped)\nBody.\n\n## TODOs\n- [ ] DEMO-001.F1: Await ack\n\n### 2026-01-23T01:19Z — DEMO-001.F1 (follow-up sent)\nMore.\n";

#[test]
fn a_single_initiative_ledger() {
    let l = Ledger::parse(Document::parse("docs/fix_plan.md", INITIATIVE.into()));
    assert_eq!(l.dialect, Dialect::SingleInitiative);
    let ids: Vec<&str> = l.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["DEMO-001", "seed"]);
    let demo = &l.items[0];
    assert_eq!((demo.title.as_str(), demo.status(), demo.line), ("Bundle the data", Some("in_progress"), 7));
    assert_eq!(&l.doc.text[demo.field("Status").unwrap().value_range.clone()], "in_progress");
    assert!(demo.field("Working Plan").unwrap().value.contains("implementation.md"));
    let times: Vec<&str> = demo.attempts.iter().map(|a| a.time.as_deref().unwrap()).collect();
    assert_eq!(times, vec!["2026-01-23T00:15Z", "2026-01-23T01:19Z"]);
    assert_eq!(demo.attempts[1].task.as_deref(), Some("F1"));
    let tasks: Vec<(&str, crate::plan::TaskState)> = demo.tasks.iter().map(|t| (t.id.as_str(), t.state)).collect();
    assert_eq!(tasks, vec![("A1", crate::plan::TaskState::Done), ("F1", crate::plan::TaskState::Todo)]);
    // `S1` belongs to the initiative whose attempt names it.
    assert_eq!(l.items[1].tasks[0].id, "S1");
    assert_eq!(l.active_focus, vec!["DEMO-001"]);
    assert!(l.describe().starts_with("single initiative DEMO-001"), "{}", l.describe());
    assert_eq!(l.items_named_in("Focus: DEMO-001.F1 — Await").first().map(|i| i.id.as_str()), Some("DEMO-001"));
    assert_eq!(l.items_named_in("Focus: seed — Inbox").first().map(|i| i.id.as_str()), Some("seed"));
}

#[test]
fn unicode_dashes_archives_and_citations() {
    let text = "# L\n\n## [AT\u{2011}PARALLEL\u{2011}012] Pixel size ✅\n- Status: in_progress\n- Attempts History:\n  * [2025-10-01] Attempt #1 — Result: x.\n  * [2025-10-02] Attempt #2 — Result: y.\n- Observations:\n  - Attempt #13 exposes the race.\n- Next Actions:\n  1. ✅ COMPLETE (Attempt #20) — done\n  2. see `[OTHER-1]` (Attempt #36)\n\n### Archive\n  * [2025-10-01] Attempt #14 — Result: success. Someone else's.\n";
    let l = Ledger::parse(Document::parse("docs/fix_plan.md", text.into()));
    assert_eq!(l.items.len(), 1);
    let item = &l.items[0];
    assert_eq!(item.id, "AT\u{2011}PARALLEL\u{2011}012");
    assert_eq!(l.find("AT-PARALLEL-012").len(), 1);
    let nums: Vec<u64> = item.attempts.iter().filter_map(|a| a.number).collect();
    assert_eq!(nums, vec![1, 2]);
    assert_eq!(item.cited, 20);
    assert_eq!(item.next_attempt_number(), Some(21));
    assert!(l.diagnostics.iter().any(|d| d.message.contains("Unicode dash (U+2011)")), "{:?}", l.diagnostics);
    assert!(!crate::diag::has_errors(&l.diagnostics));
}
