//! How real files are read: the memo's focus in all its forms, attempt numbers from the item's own
//! history, task states, tolerable irregularities, and one answer to a broken file.

use std::path::Path;

use crate::common::*;

const PLAN: &str = "- Initiative: X-1\n\n### Phase A — Do\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [D] | `true` |\n| A2 | two | [SKIP] | `true` |\n\n### Phase B — Next\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run | [ ] | `echo b1` |\n";

fn ws(ledger: &str, memo: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", ledger);
    write(d.path(), "plans/active/x.md", PLAN);
    if !memo.is_empty() {
        write(d.path(), "input.md", memo);
    }
    d
}

const LEDGER: &str = "# L\n\n## [X-1] Full pytest rerun and triage\n- Status: in_progress\n- Plan Reference: plans/active/x.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n- Next Actions:\n  1. ✅ COMPLETE (Attempt #2) — a\n  2. ✅ COMPLETE (Attempt #21) — b\n\n## [Y-2] Other\n- Status: in_progress\n";

fn item_of(d: &Path) -> String {
    json(&run(d, &["next", "--json"]))["item"]["id"].as_str().unwrap().to_string()
}

#[test]
fn the_memo_focus_in_every_form_it_is_written() {
    for memo in [
        "Focus: docs/fix_plan.md#x-1-full-pytest-rerun-and-triage (Next Action 3)\nDo Now: run `echo hi`\n",
        "Header: 2025-10-01 | Active Focus: [X-1] Full pytest rerun\nDo Now: [X-1] run `echo hi`\n",
        "Summary: s\nDo Now: [X-1] run `echo hi`\n",
        "Focus: X-1.B1 — Next\nDo Now: run `echo hi`\n",
        "Focus: X-1 / Phase B\nDo Now: run `echo hi`\n",
        "- Focus: [X-1]\n- Do Now: run `echo hi`\n",
    ] {
        let d = ws(&LEDGER.replace("## [Y-2] Other", "## [Y-2] Other first"), memo);
        // Y-2 would be the ledger's first open item; the memo says X-1.
        std::fs::write(
            d.path().join("docs/fix_plan.md"),
            LEDGER.replace("# L\n\n", "# L\n\n## [Y-2] Earlier\n- Status: in_progress\n\n"),
        )
        .unwrap();
        let j = json(&run(d.path(), &["next", "--json"]));
        assert_eq!(j["item"]["id"], "X-1", "{memo}");
        assert_eq!(j["command"], "echo hi", "{memo}");
    }
    // A memo whose focus item is closed: a warning, then the ledger's focus.
    let d = ws(
        &LEDGER.replace("- Status: in_progress\n- Plan", "- Status: done\n- Plan"),
        "Focus: [X-1]\nDo Now: run `echo hi`\n",
    );
    let o = run(d.path(), &["next"]);
    assert!(
        stderr(&o).contains("Focus names [X-1], which is closed (status done); using the ledger's focus"),
        "{}",
        stderr(&o)
    );
    assert_eq!(item_of(d.path()), "Y-2");
    // An ID the ledger does not have: a warning with the nearest one.
    let d = ws(LEDGER, "Focus: [X-11]\nDo Now: run `echo hi`\n");
    assert!(stderr(&run(d.path(), &["next"])).contains("did you mean X-1?"));
    let o = run(d.path(), &["next", "--item", "X-11"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown item [X-11]; did you mean X-1?"), "{}", stderr(&o));
}

#[test]
fn skipped_tasks_close_their_phase_and_unknown_states_are_named() {
    let d = ws(LEDGER, "");
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!((j["phase"]["id"].as_str(), j["task"]["id"].as_str()), (Some("B"), Some("B1")), "{j}");
    write(d.path(), "plans/active/x.md", &PLAN.replace("| B1 | run | [ ] |", "| B1 | run | [⚠️] |"));
    let o = run(d.path(), &["next"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("loop cannot read the state of B1 at plans/active/x.md:14 has state `[⚠️]`"),
        "{}",
        stdout(&o)
    );
    let s = json(&run(d.path(), &["status", "--json"]));
    assert!(s["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["line"] == 14 && x["message"].as_str().unwrap().starts_with("task B1: unknown state")));
}

#[test]
fn the_next_number_follows_the_items_own_history() {
    let text = "# L\n\n## [X-1] Full pytest rerun and triage\n- Status: in_progress\n- Plan Reference: plans/active/x.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n- Observations:\n  - Attempt #13 exposes the race.\n- Next Actions:\n  1. ✅ COMPLETE (Attempt #20) — a\n  2. see `[Y-2]` (Attempt #36)\n\n### Archive\n  * [2025-10-01] Attempt #40 — Result: success. Another item's.\n\n## [Y-2] Other\n- Status: in_progress\n";
    let d = ws(text, "");
    let j = json(&run(d.path(), &["status", "--json"]));
    let numbers: Vec<u64> =
        j["ledger"]["items"][0]["attempts"].as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1], "prose and another item's archive are not this item's attempts");
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["number"], 21);
}

#[test]
fn next_actions_continue_their_numbering() {
    let text = "# L\n\n## [X-1] T\n- Status: in_progress\n- Next Actions:\n  9. nine\n 10. ten\n\n 11. eleven, after a blank line\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n";
    let d = ws(text, "");
    let o = run(d.path(), &["attempt", "X-1", "--next-action", "twelve"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert!(after.contains(" 11. eleven, after a blank line\n 12. twelve\n- Attempts History:"), "{after}");
}

#[test]
fn unicode_dashes_and_split_tables_are_read_with_a_warning() {
    let ledger = "# L\n\n## [X\u{2011}1] Dashed\n- Status: in_progress\n- Plan Reference: plans/active/x.md\n";
    let d = ws(ledger, "Focus: X-1\nDo Now: run `echo hi`\n");
    let plan = PLAN.replace("| A2 | two | [SKIP] | `true` |\n", "\n| A2 | two | [SKIP] | `true` |\n");
    write(d.path(), "plans/active/x.md", &plan);
    let o = run(d.path(), &["status", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["ledger"]["items"][0]["id"], "X\u{2011}1", "kept as written");
    let messages: Vec<&str> =
        j["diagnostics"].as_array().unwrap().iter().map(|x| x["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("Unicode dash (U+2011)")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("a blank line splits this table")), "{messages:?}");
    let tasks = &j["plans"][0]["phases"][0]["tasks"];
    assert_eq!(tasks.as_array().unwrap().len(), 2, "the row after the blank line is read: {tasks}");
    assert_eq!(item_of(d.path()), "X\u{2011}1");
}

#[test]
fn a_broken_region_gets_one_answer_from_every_command() {
    // The fence opens inside Y-2's section and swallows the rest of the file.
    let broken = format!("{LEDGER}- Notes:\n\n```sh\nunclosed\n\n## [Z-3] Swallowed\n");
    let d = ws(&broken, "Focus: [Y-2]\nDo Now: run `echo hi`\n");
    let before = std::fs::read(d.path().join("docs/fix_plan.md")).unwrap();
    let msg = "code fence opened here is never closed";
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains(msg));
    let o = run(d.path(), &["next", "--item", "Y-2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains(msg), "{}", stderr(&o));
    let o = run(d.path(), &["attempt", "Y-2", "--result", "partial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(msg), "{}", stderr(&o));
    // An item the fence swallowed: the same answer.
    let o = run(d.path(), &["attempt", "Z-3", "--result", "partial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(msg) && stderr(&o).contains("[Z-3] cannot be read"), "{}", stderr(&o));
    let o = run(d.path(), &["lint", "--json"]);
    assert!(json(&o)["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains(msg)));
    assert_eq!(std::fs::read(d.path().join("docs/fix_plan.md")).unwrap(), before, "nothing written");
    // The part before the fence still reads: X-1 takes an attempt.
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn json_is_always_one_document() {
    let d = ws(LEDGER, "");
    for args in [
        &["next", "--json", "--item", "NOPE-1"][..],
        &["attempt", "NOPE-1", "--result", "failed", "--json"],
        &["status", "--json", "--root", "/nonexistent"],
    ] {
        let o = run(d.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let j = json(&o);
        assert_eq!(j["error"]["exit_code"], 2, "{args:?}: {j}");
        assert!(!j["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn reports_beside_a_plan_are_not_plans_and_a_root_ledger_is_found() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "fix_plan.md", "# Fix Plan\n\n## Status\n`in_progress`\n\n## Current Focus\n**seed — Inbox**\n\n## TODOs\n- [ ] S1: Check inbox\n");
    write(d.path(), "plans/active/seed/implementation.md", "# Seed\n\n## Checklist\n- [ ] S1: Check `inbox/`.\n");
    write(d.path(), "plans/active/seed/reports/2026-01-22T024002Z/summary.md", "# Summary\n| a |\n");
    write(d.path(), "plans/active/seed/bin/notes.md", "# notes\n");
    let o = run(d.path(), &["status", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let j = json(&o);
    assert_eq!(j["ledger"]["path"], "fix_plan.md");
    assert_eq!(j["plans"].as_array().unwrap().len(), 1, "{}", j["plans"]);
    let n = json(&run(d.path(), &["next", "--json"]));
    assert_eq!((n["item"]["id"].as_str(), n["task"]["id"].as_str()), (Some("seed"), Some("S1")));
}
