//! Fix plans from other repositories (tests/fixtures/wild, unchanged): what loop cannot read is
//! said with its file and line, by every command, and never reported clean or done.

use std::path::PathBuf;

use super::common::*;

fn wild() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("wild"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("docs/fix_plan.md").is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn a_ledger_loop_cannot_read_is_an_error_everywhere_and_nothing_is_written() {
    let states = wild();
    assert_eq!(states.len(), 8);
    for state in &states {
        let name = state.file_name().unwrap().to_string_lossy().into_owned();
        let ws = copy_tree(state);
        let before = snapshot(ws.path());
        let o = cmd(ws.path()).arg("status").output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: status");
        assert!(
            stdout(&o).contains("docs/fix_plan.md:") && stdout(&o).contains("error: loop reads no item"),
            "{name}: {}",
            stdout(&o)
        );
        let o = cmd(ws.path()).args(["status", "--json"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: status --json");
        let v = json(&o);
        let d = &v["diagnostics"][0];
        assert_eq!(
            (d["file"].as_str(), d["severity"].as_str()),
            (Some("docs/fix_plan.md"), Some("error")),
            "{name}: {v}"
        );
        assert!(d["line"].as_u64().unwrap() >= 1, "{name}: {v}");
        let o = cmd(ws.path()).args(["lint", "--json"]).output().unwrap();
        // Exit 2: a file loop cannot read, as for an unclosed fence.
        assert_eq!(o.status.code(), Some(2), "{name}: lint is not clean");
        let v = json(&o);
        assert!(v["errors"].as_u64().unwrap() >= 1 && v["findings"][0]["code"] == "structure", "{name}: {v}");
        let o = cmd(ws.path()).args(["next", "--json"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: next");
        assert!(json(&o)["error"]["message"].as_str().unwrap().contains("no items"), "{name}");
        let o = cmd(ws.path()).args(["attempt", "--result", "failed", "--note", "x"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: attempt");
        assert_eq!(snapshot(ws.path()), before, "{name}: something was written");
    }
}

#[test]
fn a_plan_with_no_phase_loop_can_read_is_never_every_phase_done() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [A-1] One\n- Status: in_progress\n- Plan Reference: plans/active/a.md\n",
    );
    write(
        d.path(),
        "plans/active/a.md",
        "# Plan\n\n## Approach\nRefactor the parser, then the writer.\n\n1. Parser\n2. Writer\n",
    );
    let o = cmd(d.path()).arg("next").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("plans/active/a.md:3: [A-1]'s plan: loop reads no phase"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("every phase"), "{}", stderr(&o));
    let o = cmd(d.path()).args(["lint", "--json"]).output().unwrap();
    let v = json(&o);
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["file"] == "plans/active/a.md").cloned();
    assert!(f.is_some_and(|f| f["line"] == 3 && f["message"].as_str().unwrap().contains("no phase")), "{v}");
    let o = cmd(d.path()).arg("status").output().unwrap();
    assert!(stdout(&o).contains("plans/active/a.md:3: warning: loop reads no phase"), "{}", stdout(&o));
}

#[test]
fn status_says_nothing_is_protected_when_there_is_no_index() {
    let ws = copy_tree(&fixtures().join("wild/krsnapatilx__rust-finance"));
    let o = cmd(ws.path()).arg("status").output().unwrap();
    assert!(
        stdout(&o)
            .contains("protected  nothing: there is no docs/index.md (loop.yaml `index:`) and no `protected:` glob"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("0 assets (from docs/index.md)"));
}

/// diffbragg_example's ledger: `### [ID]` items without an Index, a roadmap naming them as
/// bullets with a stated status, unnumbered stamped attempts.
#[test]
fn diffbragg_roadmap_bullets_are_references_and_stamped_entries_are_attempts() {
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/654a363f"));
    let p = d.path();
    let st = json(&run(p, &["status", "--json"]));
    let items = st["ledger"]["items"].as_array().unwrap();
    let live: Vec<(&str, usize)> = items
        .iter()
        .filter(|i| i["archived"] == false)
        .map(|i| (i["id"].as_str().unwrap(), i["attempts"].as_array().unwrap().len()))
        .collect();
    assert_eq!(live, [("ARCH-REFINE-001", 2), ("ARCH-ENGINE-ARTIFACTS-001", 0)]);
    // The roadmap's bullets for those two are Index rows with the status they state; no
    // duplicate, no second copy of the item.
    let rows: Vec<(&str, &str)> = st["ledger"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("ARCH-REFINE-001", "Done"), ("ARCH-ENGINE-ARTIFACTS-001", "pending")]);
    assert!(st["diagnostics"].as_array().unwrap().is_empty(), "{}", st["diagnostics"]);
    let times: Vec<&str> = items.iter().find(|i| i["id"] == "ARCH-REFINE-001").unwrap()["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["time"].as_str().unwrap())
        .collect();
    assert_eq!(times, ["2025-12-01T080903Z", "2025-12-01T084505Z"]);
    // Lint says the roadmap and the section disagree, and --fix leaves the prose alone.
    let lint = json(&run(p, &["lint", "--json"]));
    assert!(
        lint["findings"].as_array().unwrap().iter().any(|f| f["code"] == "index-status" && f["fixable"] == false),
        "{lint}"
    );
    let before = std::fs::read(p.join("docs/fix_plan.md")).unwrap();
    run(p, &["lint", "--fix"]);
    assert_eq!(std::fs::read(p.join("docs/fix_plan.md")).unwrap(), before);
    // A new attempt is one line in the list's own form: stamped like the others, no number.
    let o = cmd(p)
        .env("LOOP_NOW", "2026-01-05T15:30:07Z")
        .args([
            "attempt",
            "ARCH-REFINE-001",
            "--result",
            "partial",
            "--metric",
            "corr=0.5",
            "--note",
            "Stage C helpers moved",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let old = String::from_utf8(before).unwrap();
    let line = "  * 2026-01-05T153007Z (partial) — corr=0.5. Stage C helpers moved.\n";
    let at = old.find("\n### [ARCH-ENGINE-ARTIFACTS-001]").unwrap();
    assert_eq!(after, format!("{}{line}{}", &old[..at], &old[at..]));
    let st = json(&run(p, &["status", "--json"]));
    let item = st["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "ARCH-REFINE-001").unwrap().clone();
    assert_eq!(item["attempts"].as_array().unwrap().len(), 3, "{item}");
}

/// The memo shapes diffbragg's supervisor writes: the focus under a `## Focus` heading, and a
/// Do Now of numbered steps whose labelled bullets hold the command and its check.
#[test]
fn diffbragg_memos_focus_heading_and_numbered_do_now() {
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/654a363f"));
    let p = d.path();
    write(p, "input.md", "# Input for Ralph — Loop i=7\n\n## Focus\nARCH-ENGINE-ARTIFACTS-001 — RefinementEngine Artifact Channel\n\n## Do Now\n\n1. **Scope the artifact map**:\n   - Run: `python scripts/scope.py --out plans/active/ARCH-ENGINE-ARTIFACTS-001/reports/<STAMP>/`\n   - Test command: `pytest -q tests/test_engine.py`\n\n## If Blocked\n- Record it under the item's Attempts History.\n");
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(v["item"]["id"], "ARCH-ENGINE-ARTIFACTS-001", "{v}");
    assert_eq!(v["item"]["chosen_by"].as_str().map(|s| s.contains("input.md:4")), Some(true), "{v}");
    assert_eq!(
        v["command_template"], "python scripts/scope.py --out plans/active/ARCH-ENGINE-ARTIFACTS-001/reports/<STAMP>/",
        "{v}"
    );
    assert_eq!(v["verify_template"], serde_json::json!(["pytest -q tests/test_engine.py"]), "{v}");
    assert_eq!(v["manual"], false, "{v}");
}
