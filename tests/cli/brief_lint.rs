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
