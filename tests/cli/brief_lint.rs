use crate::common::*;

fn do_now_command(memo: &str) -> String {
    let line = memo.lines().find(|l| l.starts_with("Do Now:")).unwrap();
    line.split('`').nth(1).unwrap().to_string()
}

fn field<'a>(memo: &'a str, key: &str) -> &'a str {
    memo.lines().find_map(|l| l.strip_prefix(&format!("{key}: "))).unwrap_or_else(|| panic!("no {key}: in\n{memo}"))
}

#[test]
fn brief_agrees_with_the_real_memo() {
    let ws = copy_tree(&nanobragg("workspace"));
    let real = std::fs::read_to_string(ws.path().join("input.md")).unwrap();
    let o = run(ws.path(), &["brief"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let memo = stdout(&o);
    assert_eq!(do_now_command(&memo), do_now_command(&real));
    assert!(field(&memo, "Focus").starts_with("VECTOR-TRICUBIC-002"));
    assert!(field(&real, "Focus").starts_with("VECTOR-TRICUBIC-002"));
    assert_eq!(field(&memo, "Artifacts"), field(&real, "Artifacts"));
    assert!(field(&memo, "Next Up").contains("C2") && field(&real, "Next Up").contains("C2"));
    // Priorities carry file:line pointers.
    assert!(memo.contains("- plans/active/vectorization.md:39 – Phase C is the next gate"), "{memo}");
}

#[test]
fn brief_write_round_trips_through_next() {
    let ws = embedded_workspace();
    // What the plan says comes next (brief reads the plan only, never the memo it replaces).
    std::fs::write(ws.path().join("input.md"), "Summary: stale memo\n").unwrap();
    let before = json(&run(ws.path(), &["brief", "LOOP-SIM-001", "--json"]))["decision"].clone();
    assert!(before["command"].is_string(), "{before}");
    let o = run(ws.path(), &["brief", "LOOP-SIM-001", "--write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = json(&run(ws.path(), &["next", "--json"]));
    for key in ["plan", "command", "artifacts", "command_template"] {
        assert_eq!(before[key], after[key], "{key}");
    }
    assert_eq!(before["item"]["id"], after["item"]["id"]);
    assert_eq!(before["phase"]["id"], after["phase"]["id"]);
    assert_eq!(before["task"]["id"], after["task"]["id"]);
    // The memo is what chose it.
    assert!(after["item"]["chosen_by"].as_str().unwrap().starts_with("input.md:3"));
    assert_eq!(after["command_from"]["file"], "input.md");
}

#[test]
fn brief_rewrites_a_memo_the_index_lists_but_not_a_frozen_one_unless_forced() {
    // nanoBragg's index lists input.md: the workflow still rewrites its own memo.
    let ws = copy_tree(&nanobragg("workspace"));
    let before = std::fs::read_to_string(ws.path().join("input.md")).unwrap();
    let o = run(ws.path(), &["brief", "--write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read_to_string(ws.path().join("input.md")).unwrap(), before);
    let ws = copy_tree(&nanobragg("workspace"));
    let yaml = std::fs::read_to_string(ws.path().join("loop.yaml")).unwrap_or_default();
    std::fs::write(ws.path().join("loop.yaml"), format!("{yaml}\nfrozen: [input.md]\n")).unwrap();
    let o = run(ws.path(), &["brief", "--write"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("input.md: is frozen"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(ws.path().join("input.md")).unwrap(), before);
    let o = run(ws.path(), &["brief", "--write", "--force-protected"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--- a/input.md"), "the diff is shown first");
    assert_ne!(std::fs::read_to_string(ws.path().join("input.md")).unwrap(), before);
}

const CRAFTED: &str = "# Ledger\n\n**Last Updated:** 2026-01-01\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [A-1](#a-1-one) | One | High | in_progress |\n| [GONE-9](#gone) | Gone | Low | open |\n\n## [A-1] One\n- Priority: High\n- Status: done\n- Plan References: `plans/active/missing.md`\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n  * [2026-01-02] Attempt #3 — Result: failed. Artifacts: `reports/x/run.json`.\n  * [2026-01-03] Attempt #2 — Result: failed.\n  * [2026-01-03] Attempt #2 — Result: failed.\n  * [2099-01-01] Attempt #4 — Result: success.\n\n## [B-2] Two\n- Priority: Medium\n- Status: open\n\n## [A-1] One again\n- Status: open\n";

fn crafted() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", CRAFTED);
    write(d.path(), "docs/index.md", "* [Guide](./guide.md)\n");
    // The run folder is here but its run.json is not: a missing artifact. (A folder that is not
    // here at all is another clone's run, not a finding.)
    std::fs::create_dir_all(d.path().join("reports/x")).unwrap();
    write(
        d.path(),
        "plans/active/p.md",
        "- Initiative: B-2\n\n### Phase A — Setup (Complete)\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | x | [D] | y |\n| A2 | x | [ ] | y |\n| A3 | x | [?] | y |\n",
    );
    d
}

#[test]
fn lint_reports_exact_findings() {
    let d = crafted();
    let o = run(d.path(), &["lint", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    let got: Vec<(String, u64, String)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(&str, u64, &str)> = vec![
        ("docs/fix_plan.md", 8, "index-status"),
        ("docs/fix_plan.md", 9, "index-without-section"),
        ("docs/fix_plan.md", 17, "artifact-missing"),
        // #1, #3, #2, #4: one entry out of place (no number is missing).
        ("docs/fix_plan.md", 17, "attempt-order"),
        ("docs/fix_plan.md", 19, "attempt-repeated"),
        ("docs/fix_plan.md", 20, "attempt-future"),
        ("docs/fix_plan.md", 22, "section-without-index"),
        ("docs/fix_plan.md", 26, "duplicate-id"),
        ("docs/index.md", 1, "dead-link"),
        ("plans/active/p.md", 3, "phase-done-open"),
        ("plans/active/p.md", 9, "unknown-state"),
    ];
    let want: Vec<(String, u64, String)> =
        want.into_iter().map(|(a, b, c)| (a.to_string(), b, c.to_string())).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
    // A phase title that disagrees with its tasks is a warning: the title is prose.
    assert_eq!(j["errors"], 3);
    // A-1 is done: its plan may be archived. Reopen it and the missing plan is an error.
    let ledger = CRAFTED.replacen("- Status: done", "- Status: in_progress", 1);
    write(d.path(), "docs/fix_plan.md", &ledger);
    let j = json(&run(d.path(), &["lint", "--json"]));
    let f = j["findings"].as_array().unwrap();
    let pm = f.iter().find(|x| x["code"] == "plan-missing").unwrap();
    assert_eq!(pm["line"], 14);
    assert!(pm["message"].as_str().unwrap().contains("plans/active/missing.md, which does not exist"), "{pm}");
}

#[test]
fn lint_fix_changes_only_what_it_reports() {
    let d = crafted();
    let o = run(d.path(), &["lint", "--fix", "--json"]);
    let j = json(&o);
    assert_eq!(j["fixed"], 2);
    let after = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    let before_lines: Vec<&str> = CRAFTED.lines().collect();
    let after_lines: Vec<&str> = after.lines().collect();
    assert_eq!(after_lines.len(), before_lines.len() + 1);
    // Line 8 (A-1's Index row) now says done; one row for B-2 follows the last Index row; the
    // rest is byte-identical.
    assert_eq!(after_lines[7], "| [A-1](#a-1-one) | One | High | done |");
    assert_eq!(after_lines[9], "| [B-2](#b-2-two) | Two | Medium | open |");
    let mut expect: Vec<&str> = before_lines.clone();
    expect[7] = after_lines[7];
    expect.insert(9, after_lines[9]);
    assert_eq!(after_lines, expect);
    let codes: Vec<&str> = j["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(!codes.contains(&"index-status") && !codes.contains(&"section-without-index"), "{codes:?}");
}

#[test]
fn lint_fix_on_a_ledger_with_an_unreadable_region_writes_nothing() {
    let d = crafted();
    // An unclosed fence at the end: Index rows above it are fixable, but the file is not whole.
    let broken = format!("{CRAFTED}\n```\nunclosed\n");
    std::fs::write(d.path().join("docs/fix_plan.md"), &broken).unwrap();
    let o = run(d.path(), &["lint", "--fix", "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(json(&o)["error"]["message"].as_str().unwrap().contains("--fix writes nothing"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap(), broken);
}

#[test]
fn lint_on_the_real_ledgers() {
    let j = json(&run(&nanobragg("large"), &["lint", "--json", "--root", nanobragg("large").to_str().unwrap()]));
    let f = j["findings"].as_array().unwrap();
    let dup: Vec<&serde_json::Value> = f.iter().filter(|x| x["code"] == "duplicate-id").collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0]["line"], 980);
    assert!(dup[0]["message"].as_str().unwrap().contains("STAGEA-PARAM-001"));
    assert_eq!(f.iter().filter(|x| x["code"] == "index-status").count(), 2);
    // The duplicate, and five open items whose plans this fixture does not ship.
    assert_eq!(f.iter().filter(|x| x["code"] == "plan-missing").count(), 5);
    assert_eq!(j["errors"], 6);
    // Which reading the findings rest on, as status says it.
    assert_eq!(j["read_as"], "sections: 29 `## [ID]` item(s) and 4 archived bullet(s), 29 Index row(s)");
    let st = json(&run(&nanobragg("large"), &["status", "--json", "--root", nanobragg("large").to_str().unwrap()]));
    assert_eq!(j["read_as"], st["ledger"]["read_as"], "lint and status read the ledger alike");
    let j =
        json(&run(&nanobragg("workspace"), &["lint", "--json", "--root", nanobragg("workspace").to_str().unwrap()]));
    let f = j["findings"].as_array().unwrap();
    assert_eq!(f.iter().filter(|x| x["code"] == "duplicate-id").count(), 0);
    assert!(f.iter().filter(|x| x["code"] == "dead-link").count() > 30, "index links files the fixture does not carry");
}

#[test]
fn embedded_workspace_lints_clean() {
    let o = cmd(&repo_root()).env("LOOP_NOW", "2030-01-01T00:00:00Z").args(["lint"]).output().unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
}

/// A workspace whose next task has no command (a manual step), `Prereqs: None.`, a capitalised
/// task title and a first Next Action that is already done.
fn manual_workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# Ledger\n\n## [M-1] Manual work\n- Status: in_progress\n- Plan Reference: plans/active/m.md\n- Next Actions:\n  1. ✅ A1 done — baseline captured.\n  2. Review the NanoBragg C output with the team.\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: success (Phase A1). Baseline.\n",
    );
    write(
        d.path(),
        "plans/active/m.md",
        "# Plan\n- Initiative: M-1\n\n### Phase A — Baseline\nPrereqs: None.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | Capture baseline | [D] | `true` |\n| A2 | Review NanoBragg C output | [ ] | Read the images and write down what differs. |\n",
    );
    write(d.path(), "docs/index.md", "# Index\n- [Ledger](fix_plan.md)\n- [Memo](../input.md)\n");
    write(d.path(), "input.md", "Focus: M-1\n");
    d
}

#[test]
fn brief_of_a_manual_step_says_what_to_do_and_how_to_record_it() {
    let d = manual_workspace();
    let o = run(d.path(), &["brief"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let memo = stdout(&o);
    assert!(!memo.contains("Run ``"), "{memo}");
    assert!(memo.contains("Do it by hand (no command to run): "), "{memo}");
    // Nothing ran, so the record is an explicit attempt, not --last-run.
    assert!(!memo.contains("--last-run"), "{memo}");
    assert!(memo.contains("`loop attempt M-1 --phase A2 --result <success|partial|blocked>"), "{memo}");
    // Titles as the plan writes them.
    assert!(memo.contains("Review NanoBragg C output"), "{memo}");
    // `Prereqs: None.` needs no check, so every check passes.
    assert!(memo.contains("(every check passes)"), "{memo}");
    assert!(!memo.contains("unchecked"), "{memo}");
    // The done Next Action is not the rationale; the open one is.
    assert!(memo.contains("Next Actions: Review the NanoBragg C output"), "{memo}");
    assert!(!memo.contains("A1 done"), "{memo}");
}

#[test]
fn brief_names_a_detached_head_and_rewrites_a_listed_memo() {
    let d = manual_workspace();
    git_ok(d.path(), &["init", "-q"]);
    git_ok(d.path(), &["add", "-A"]);
    git_ok(d.path(), &["commit", "-qm", "init"]);
    git_ok(d.path(), &["checkout", "-q", "--detach"]);
    let o = run(d.path(), &["brief"]);
    assert!(stdout(&o).contains("Branch: (detached HEAD at "), "{}", stdout(&o));
    // input.md is linked from the index, and still the workflow's own memo to rewrite.
    let before = std::fs::read_to_string(d.path().join("input.md")).unwrap();
    let o = run(d.path(), &["brief", "--write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read_to_string(d.path().join("input.md")).unwrap(), before);
}

#[test]
fn lint_reports_what_is_wrong_once_and_nothing_that_is_not() {
    let d = tempfile::tempdir().unwrap();
    let mut attempts = String::new();
    for n in (1..=9).chain([77]).chain(10..=30) {
        attempts.push_str(&format!("  * [2026-01-01] Attempt #{n} — Result: partial.\n"));
    }
    write(
        d.path(),
        "docs/fix_plan.md",
        &format!(
            "# L\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [A-1](#a-1-one) | One | High | in_progress |\n| [A-1](#a-1-one) | One | High | in_progress |\n| [B-2](#b-2-two) | Two | High | done |\n\n## [A-1] One\n- Status: in_progress\n- Plan Reference: plans/active/a.md\n- Attempts History:\n{attempts}  * [2026-01-02] Attempt #31 — Result: partial. Artifacts: `reports/r/summary.md:257-365`.\n\n## [B-2] Two\n- Status: in_progress\n- Notes: later\n- Status: ✅ resolved\n"
        ),
    );
    write(d.path(), "reports/r/summary.md", "x\n");
    write(
        d.path(),
        "plans/active/a.md",
        "- Initiative: A-1\n\n### Phase A — Triage ✅ MOSTLY COMPLETE\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [D] | x |\n| A2 | two | [ ] | deferred |\n",
    );
    let o = run(d.path(), &["lint", "--json"]);
    let j = json(&o);
    let findings = j["findings"].as_array().unwrap();
    let of = |code: &str| findings.iter().filter(|f| f["code"] == code).collect::<Vec<_>>();
    // One misplaced entry, one finding, saying where it stands.
    let order = of("attempt-order");
    assert_eq!(order.len(), 1, "{order:?}");
    assert!(order[0]["message"].as_str().unwrap().contains("#77 is out of order (between #9 and #10)"));
    assert!(of("attempt-skipped").iter().all(|f| f["message"].as_str().unwrap().contains("#77 follows #31")));
    // A line range after a file name is a place in an existing file.
    assert!(of("artifact-missing").is_empty(), "{:?}", of("artifact-missing"));
    // "MOSTLY COMPLETE" does not claim the phase is done.
    assert!(of("phase-done-open").is_empty());
    // A repeated Index row is reported as a repeated section is.
    let dup = of("index-duplicate");
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0]["line"], 7);
    // Two Status fields: the finding says so and --fix leaves the row alone.
    let st = of("index-status");
    assert_eq!(st.len(), 1, "{st:?}");
    assert!(st[0]["message"].as_str().unwrap().contains("2 Status fields; fix by hand"), "{}", st[0]);
    let before = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    run(d.path(), &["lint", "--fix"]);
    assert_eq!(std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap(), before);
}

#[test]
fn lint_reads_a_list_kept_newest_first_and_says_once_when_there_is_no_order() {
    let entries = |ns: &[u64]| -> String {
        ns.iter().map(|n| format!("  * [2026-01-01] Attempt #{n} — Result: partial.\n")).collect()
    };
    let d = tempfile::tempdir().unwrap();
    let blocks: Vec<u64> =
        [20, 21, 22, 23, 24, 10, 11, 12, 13, 14, 9, 8, 7, 6, 5, 1, 2, 3, 4, 15, 16, 17, 18, 19].to_vec();
    write(
        d.path(),
        "docs/fix_plan.md",
        &format!(
            "# L\n\n## [A-1] One\n- Status: in_progress\n- Attempts History:\n{}\n## [B-2] Two\n- Status: in_progress\n- Attempts History:\n{}",
            entries(&[6, 5, 4, 3, 2, 1]),
            entries(&blocks)
        ),
    );
    let j = json(&run(d.path(), &["lint", "--json"]));
    let order: Vec<&serde_json::Value> =
        j["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "attempt-order").collect();
    // Newest first is an order: A-1 has no finding. B-2's blocks are one finding, not one per entry.
    assert_eq!(order.len(), 1, "{order:?}");
    assert!(order[0]["message"].as_str().unwrap().starts_with("[B-2] attempts follow no one order"), "{}", order[0]);
}
