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

/// What a careful person reads as the next step of each wild fix plan, written down before
/// the reader was: the item (its synthesised ID and title), the task, or why there is none.
struct Reading {
    state: &'static str,
    /// `loop status --json`'s count of items, and of those open.
    items: usize,
    open: usize,
    /// `Ok((item, title, task))` for a step; `Err((exit code, words the message holds))`.
    next: std::result::Result<(&'static str, &'static str, Option<&'static str>), (i32, &'static str)>,
}

const READINGS: &[Reading] = &[
    // ID-headed issues (`### W1: …`); their states stand in a severity table: 9 FIXED, C4 DEFERRED.
    Reading { state: "Ametrin-Yink__TradeScanner", items: 10, open: 0, next: Err((1, "nothing to do")) },
    // Numbered fixes with `**Status: fixed …**` lines; the eighth has none ("needs a decision").
    Reading {
        state: "Bashton-Lab__ProCogGraph",
        items: 8,
        open: 1,
        next: Ok(("POSSIBLE-DEAD-CODE", "Possible dead code (lower confidence, needs a decision)", None)),
    },
    // `### 1.1 BUG-DV-015 + …: Title` sections with verification boxes, then a completion checklist.
    Reading {
        state: "LKrysik__FX_code_AI",
        items: 16,
        open: 16,
        next: Ok(("BUG-DV-015", "WebSocket Auth Bypass", Some("All 7 handlers have auth check"))),
    },
    // Every `### N.M … - Completed` step of every phase (the file sits in a ```markdown fence).
    Reading { state: "Plcherra__rex", items: 30, open: 0, next: Err((1, "nothing to do")) },
    // Prose and numbered steps, no state anywhere: loop cannot say what is done.
    Reading { state: "flyinacres__steady-py", items: 0, open: 0, next: Err((2, "marks no state")) },
    // Arabic: three phases marked ✅ in their headings (their boxes were never ticked).
    Reading { state: "karam-shakir__karam-platform", items: 3, open: 0, next: Err((1, "nothing to do")) },
    // `## Phase N:` over `- [ ] **Title**:` boxes, CRLF.
    Reading {
        state: "krsnapatilx__rust-finance",
        items: 3,
        open: 3,
        next: Ok(("PHASE-1-CORE-PIPELINE", "Phase 1: Core Pipeline & Connectivity", Some("Daemon Integration"))),
    },
    // Three phases whose tables say `[x] Complete` throughout; then proposals with no state yet.
    Reading {
        state: "mattcallaway__milestone-app",
        items: 4,
        open: 1,
        next: Ok(("THEORY-MODEL-IMPROVEMENTS", "Theory & Model Improvements", None)),
    },
];

#[test]
fn every_wild_fix_plan_reads_as_a_careful_person_reads_it() {
    assert_eq!(wild().len(), READINGS.len());
    for r in READINGS {
        let ws = copy_tree(&fixtures().join("wild").join(r.state));
        let p = ws.path();
        let before = snapshot(p);
        let o = cmd(p).args(["status", "--json"]).output().unwrap();
        let v = json(&o);
        if r.items == 0 {
            // What loop cannot read is an error with its line, never a clean, empty ledger.
            assert_eq!(o.status.code(), Some(2), "{}: status", r.state);
            let d = &v["diagnostics"][0];
            assert_eq!((d["file"].as_str(), d["severity"].as_str()), (Some("docs/fix_plan.md"), Some("error")));
            let o = cmd(p).args(["lint", "--json"]).output().unwrap();
            assert_eq!(o.status.code(), Some(2), "{}: lint is not clean", r.state);
        } else {
            assert_eq!(o.status.code(), Some(0), "{}: {v}", r.state);
            assert_eq!(v["ledger"]["dialect"], "outline", "{}", r.state);
            let items = v["ledger"]["items"].as_array().unwrap();
            let open = items.iter().filter(|i| i["open"] == true).count();
            assert_eq!((items.len(), open), (r.items, r.open), "{}: {}", r.state, v["ledger"]["items"]);
            let text = stdout(&run(p, &["status"]));
            assert!(text.contains("read as    outline:"), "{}: {text}", r.state);
        }
        let o = cmd(p).args(["next", "--json"]).output().unwrap();
        let v = json(&o);
        match r.next {
            Ok((id, title, task)) => {
                assert_eq!(o.status.code(), Some(0), "{}: {v}", r.state);
                assert_eq!(
                    (v["item"]["id"].as_str(), v["item"]["title"].as_str()),
                    (Some(id), Some(title)),
                    "{}",
                    r.state
                );
                assert_eq!(v["task"]["description"].as_str(), task, "{}: {v}", r.state);
                assert_eq!(v["manual"], true, "{}", r.state);
                assert!(v["blocked"].is_null(), "{}: {v}", r.state);
            }
            Err((code, words)) => {
                assert_eq!(o.status.code(), Some(code), "{}: {v}", r.state);
                assert!(v["error"]["message"].as_str().unwrap().contains(words), "{}: {v}", r.state);
            }
        }
        assert_eq!(snapshot(p), before, "{}: reading wrote something", r.state);
    }
}

/// A synthesised ID names the same item after an edit elsewhere in the file, and `attempt`
/// records under it in the file's own form: a list added at the end of its section, in the
/// file's bullet and line ending, no other byte changed.
#[test]
fn attempt_records_under_a_synthesised_item_in_the_files_own_form() {
    let ws = copy_tree(&fixtures().join("wild/krsnapatilx__rust-finance"));
    let p = ws.path();
    let path = p.join("docs/fix_plan.md");
    let old = std::fs::read_to_string(&path).unwrap();
    // An edit elsewhere: a new first phase. The IDs of the others do not move.
    let edited =
        old.replacen("## Phase 1:", "## Phase 0: Audit\r\n- [x] **Inventory**: list the nodes.\r\n\r\n## Phase 1:", 1);
    std::fs::write(&path, &edited).unwrap();
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(v["item"]["id"], "PHASE-1-CORE-PIPELINE", "{v}");
    assert_eq!(v["task"]["id"], "DAEMON-INTEGRATION", "{v}");
    let o = cmd(p)
        .args(["attempt", "PHASE-2-EXECUTION-PERFORMANCE", "--result", "failed", "--note", "fees too low"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&path).unwrap();
    let at = edited.find("## Phase 3:").unwrap();
    let entry = "Attempts:\r\n- 2026-01-05 (failed) — fees too low.\r\n\r\n";
    assert_eq!(after, format!("{}{entry}{}", &edited[..at], &edited[at..]));
    // The second goes under the first, and a task's box is ticked in place.
    let o = cmd(p)
        .args(["attempt", "PHASE-2-EXECUTION-PERFORMANCE", "--result", "success", "--task", "PRIORITY-FEES=D"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let again = std::fs::read_to_string(&path).unwrap();
    assert!(again.contains("- 2026-01-05 (failed) — fees too low.\r\n- 2026-01-05 (success)"), "{again}");
    assert!(again.contains("- [x] **Priority Fees**"), "{again}");
    let st = json(&run(p, &["status", "--json"]));
    let item = st["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "PHASE-2-EXECUTION-PERFORMANCE")
        .unwrap()
        .clone();
    assert_eq!(item["attempts"].as_array().unwrap().len(), 2, "{item}");
    // A table cell's state is not a box loop writes: refused, nothing written.
    let ws = copy_tree(&fixtures().join("wild/mattcallaway__milestone-app"));
    let before = snapshot(ws.path());
    let o = cmd(ws.path()).args(["attempt", "--task", "C-01=P"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("docs/fix_plan.md:9"), "{}", stderr(&o));
    assert_eq!(snapshot(ws.path()), before);
}

/// The hint printed after a manual step, pasted as is, records the attempt and ticks the task,
/// so the next `loop next` offers the next task rather than the same one for ever.
#[test]
fn the_manual_steps_hint_moves_the_cycle_on() {
    let ws = copy_tree(&fixtures().join("wild/krsnapatilx__rust-finance"));
    let p = ws.path();
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let dir = bin.parent().unwrap().display().to_string();
    let mut offered = Vec::new();
    for _ in 0..3 {
        let o = cmd(p).env("PATH", format!("{dir}:/usr/bin:/bin")).arg("next").output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let task =
            text.lines().find_map(|l| l.strip_prefix("task      ")).unwrap().split(' ').next().unwrap().to_string();
        offered.push(task);
        let record = text.lines().skip_while(|l| *l != "Record it with:").nth(1).unwrap().trim().to_string();
        assert!(record.starts_with("loop attempt PHASE-1-CORE-PIPELINE --phase "), "{record}");
        let o = std::process::Command::new("sh")
            .args(["-c", &record])
            .current_dir(p)
            .env("PATH", format!("{dir}:/usr/bin:/bin"))
            .env("LOOP_NOW", NOW)
            .output()
            .unwrap();
        assert!(o.status.success(), "{record}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(offered, ["DAEMON-INTEGRATION", "PARSER-REPAIR", "NODE-SELECTOR"]);
    // Phase 1 is done by its boxes; the next step is Phase 2's first.
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(
        (v["item"]["id"].as_str(), v["task"]["id"].as_str()),
        (Some("PHASE-2-EXECUTION-PERFORMANCE"), Some("PRIORITY-FEES"))
    );
    let st = json(&run(p, &["status", "--json"]));
    let first = &st["ledger"]["items"][0];
    assert_eq!((first["open"].as_bool(), first["attempts"].as_array().unwrap().len()), (Some(false), 3), "{first}");
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
    // The roadmap's **Done** is the newer word: the item reads as closed, and status says why.
    let diags: Vec<&str> =
        st["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(diags, ["[ARCH-REFINE-001] is `done` here and `in_progress` in its section (line 44); read as closed"]);
    assert_eq!(items.iter().find(|i| i["id"] == "ARCH-REFINE-001").unwrap()["open"], false);
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

/// Two more days of diffbragg_example, whole files (tests/fixtures/diffbragg/SOURCE.md): what a
/// careful person reads in each, written before loop was run on them.
#[test]
fn diffbragg_states_read_as_a_careful_person_reads_them() {
    // 2025-10-29, mid-initiative: PARITY-HARNESS-001 is in progress, its plan's Phase A done and
    // B1 the first open box; FINDINGS-LEDGER-002's `* pending — …` line is a placeholder, not
    // an attempt.
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/85a9e387"));
    let p = d.path();
    let st = json(&run(p, &["status", "--json"]));
    let counts: Vec<(&str, usize)> = st["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["attempts"].as_array().unwrap().len()))
        .collect();
    assert_eq!(
        counts,
        [
            ("TORCH-BRIDGE-001", 8),
            ("TORCH-RUNTIME-002", 2),
            ("TORCH-CLI-003", 2),
            ("DOC-HARDEN-001", 1),
            ("PARITY-HARNESS-001", 2),
            ("FINDINGS-LEDGER-002", 0),
            ("DOC-RUNTIME-004", 2)
        ]
    );
    assert!(st["diagnostics"].as_array().unwrap().is_empty(), "{}", st["diagnostics"]);
    let s = stdout(&run(p, &["status"]));
    assert!(s.contains("read as    sections: 7 `### [ID]` item(s), 0 Index row(s)"), "{s}");
    assert!(s.contains("attempts  2 (last: the attempt of 2025-10-29T000004Z, line 88)"), "{s}");
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(v["item"]["id"], "PARITY-HARNESS-001", "{v}");
    assert_eq!(v["task"]["id"], "B1", "{v}");
    assert_eq!(v["manual"], true, "{v}");
    // The pasted hint records the step in the list's form and ticks B1; next moves to B2.
    let before = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let o = run(
        p,
        &[
            "attempt",
            "PARITY-HARNESS-001",
            "--phase",
            "b1",
            "--task",
            "B1=D",
            "--result",
            "success",
            "--note",
            "spec drafted",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let at = before.find("\n### [FINDINGS-LEDGER-002]").unwrap();
    let line = "  * 2026-01-05T153000Z (success) — Phase B1. spec drafted.\n";
    assert!(after == format!("{}{line}{}", &before[..at], &before[at..]), "{}", &after[at - 200..at + 100]);
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(v["task"]["id"], "B2", "{v}");

    // 2025-10-29, an hour later: every item says `Status: done` — nothing to do, said so; an
    // attempt on the item whose list is stamped by day is stamped by day.
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/aea725a5"));
    let p = d.path();
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nothing to do: every item of docs/fix_plan.md is closed (7 item(s))"),
        "{}",
        stderr(&o)
    );
    let before = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let o = run(p, &["attempt", "DOC-HARDEN-001", "--result", "success", "--note", "pitfalls reviewed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let at = before.find("\n---\n\n## Backlog").unwrap();
    let line = "  * 2026-01-05 (success) — pitfalls reviewed.\n";
    assert!(after == format!("{}{line}{}", &before[..at], &before[at..]), "{}", &after[at - 200..at + 100]);
}

/// Two more states of diffbragg_example, whole files, on the evening before and the night of
/// the two above; what a careful person reads in each was written before loop was run on them.
#[test]
fn diffbragg_states_of_another_day_read_as_a_careful_person_reads_them() {
    let attempts = |p: &std::path::Path| -> Vec<(String, usize, bool)> {
        let st = json(&run(p, &["status", "--json"]));
        assert!(st["diagnostics"].as_array().unwrap().is_empty(), "{}", st["diagnostics"]);
        st["ledger"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let id = i["id"].as_str().unwrap().to_string();
                (id, i["attempts"].as_array().unwrap().len(), i["open"].as_bool().unwrap())
            })
            .collect()
    };
    let own = |s: &str, n: usize, open: bool| (s.to_string(), n, open);
    // 2025-10-28, evening: five items, every one `Status: done`; the Backlog's two plain bullets
    // name no item. Nothing to do, and loop says so.
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/7805fab8"));
    let p = d.path();
    assert_eq!(
        attempts(p),
        [
            own("TORCH-BRIDGE-001", 8, false),
            own("TORCH-RUNTIME-002", 2, false),
            own("TORCH-CLI-003", 2, false),
            own("DOC-HARDEN-001", 1, false),
            own("DOC-RUNTIME-004", 2, false)
        ]
    );
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("every item of docs/fix_plan.md is closed (5 item(s))"), "{}", stderr(&o));

    // 2025-10-29, 00:22: TORCH-CLI-003 went back to in_progress (its CLI tests do not exist
    // yet); PARITY-HARNESS-001 is done, FINDINGS-LEDGER-002 pending with a placeholder line.
    // The plan it names is not in this copy (the index holds no version of it at this commit):
    // `next` says so at the field's line rather than guess a step.
    let d = copy_tree(&repo_root().join("tests/fixtures/diffbragg/19df1183"));
    let p = d.path();
    assert_eq!(
        attempts(p),
        [
            own("TORCH-BRIDGE-001", 8, false),
            own("TORCH-RUNTIME-002", 2, false),
            own("TORCH-CLI-003", 2, true),
            own("DOC-HARDEN-001", 1, false),
            own("PARITY-HARNESS-001", 5, false),
            own("FINDINGS-LEDGER-002", 0, true),
            own("DOC-RUNTIME-004", 2, false)
        ]
    );
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("docs/fix_plan.md:58: [TORCH-CLI-003]'s plan field names plans/active/TORCH-CLI-003/implementation.md, which does not exist"),
        "{}",
        stderr(&o)
    );
    // Recorded after the item's last entry, stamped as that entry is (`2025-10-29T00:20:00Z`),
    // no other byte changed.
    let before = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let o = run(p, &["attempt", "TORCH-CLI-003", "--result", "partial", "--note", "CLI tests drafted"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
    let at = before.find("\n\n### [DOC-HARDEN-001]").unwrap();
    let added = &after[at..after.len() - (before.len() - at)];
    assert!(after.ends_with(&before[at..]) && after.starts_with(&before[..at]), "{added}");
    assert_eq!(added, "\n  * 2026-01-05T15:30:00Z (partial) — CLI tests drafted.");
}

/// nanoBragg on 2025-09-29 (tests/fixtures/nanobragg/early/e6e6c898, ed02bfd2): its items are
/// numbered entries under `## Active Focus`, a bold title and a status (`*(in_progress)*`,
/// `*(queued)*`) with nested fields. What a careful person reads, written before loop ran on it:
/// the first entry is the item, its `Next:` the step; an attempt goes inside that entry.
#[test]
fn numbered_entries_with_a_status_are_items() {
    for (state, status) in [("e6e6c898", "in_progress"), ("ed02bfd2", "queued")] {
        let d = copy_tree(&fixtures().join("nanobragg/early").join(state));
        let p = d.path();
        let st = json(&run(p, &["status", "--json"]));
        let items: Vec<(&str, &str)> = st["ledger"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .take(2)
            .map(|i| (i["id"].as_str().unwrap(), i["status"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(items, [("PARITY-HARNESS-COVERAGE-EXPANSION", status), ("DOCS-AS-DATA-CI", "queued")], "{state}");
        let v = json(&run(p, &["next", "--json"]));
        assert_eq!(v["item"]["id"], "PARITY-HARNESS-COVERAGE-EXPANSION", "{state}: {v}");
        assert!(v["manual_step"].as_str().unwrap_or("").contains("Verify harness executes cleanly"), "{state}: {v}");
        let before = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
        let o = run(
            p,
            &["attempt", "PARITY-HARNESS-COVERAGE-EXPANSION", "--result", "success", "--note", "harness verified"],
        );
        assert!(o.status.success(), "{state}: {}", stderr(&o));
        let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
        let at = before.find("\n2. **Docs-as-Data CI lint**").unwrap();
        let added = "\n   Attempts:\n   - 2026-01-05 (success) — harness verified.\n";
        assert_eq!(after, format!("{}{added}{}", &before[..at], &before[at..]), "{state}");
        let st = json(&run(p, &["status", "--json"]));
        assert_eq!(st["ledger"]["items"][0]["attempts"].as_array().unwrap().len(), 1, "{state}");
    }
}

/// nanoBragg before its ledger had `[ID]` items (tests/fixtures/nanobragg/early): headings that
/// are only a status head groups of items; an empty "In Progress" group is no item, and the
/// first open item is the first section under "High Priority TODO".
#[test]
fn status_headings_head_groups_of_items() {
    let d = copy_tree(&fixtures().join("nanobragg/early/208e76f4"));
    let v = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(v["item"]["id"], "STRUCTURE-FACTORS-HKL-LOADING", "{v}");
    assert_eq!(v["item"]["title"], "Structure Factors & HKL Loading (AT-STR-001, AT-STR-002)", "{v}");
    assert_eq!(v["task"]["description"], "Implement HKL file reader in `Crystal` class", "{v}");
    let st = json(&run(d.path(), &["status", "--json"]));
    let items: Vec<(&str, bool)> = st["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["open"].as_bool().unwrap()))
        .collect();
    assert_eq!(items.first(), Some(&("AT-GEO-001", false)), "{items:?}");
    assert!(!items.iter().any(|(id, _)| id.contains("PROGRESS") || id.contains("COMPLETED")), "{items:?}");
}
