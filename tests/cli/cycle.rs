//! The loop goes forward: this repository's README cycle run back to back, and runs that start
//! together never share an artifacts folder.

use std::path::Path;

use crate::common::*;

/// The embedded workspace plus the golden image its Phase C compares against.
fn workspace() -> tempfile::TempDir {
    let d = embedded_workspace();
    let golden = repo_root().join("tests/fixtures/golden/cubic.bin");
    std::fs::create_dir_all(d.path().join("tests/fixtures/golden")).unwrap();
    std::fs::copy(golden, d.path().join("tests/fixtures/golden/cubic.bin")).unwrap();
    d
}

fn task_state(root: &Path, id: &str) -> String {
    let j = json(&run(root, &["status", "--json"]));
    let plan =
        j["plans"].as_array().unwrap().iter().find(|p| p["path"] == "plans/active/simulator.md").unwrap().clone();
    let task = plan["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap().clone())
        .find(|t| t["id"] == id)
        .unwrap();
    task["state"].as_str().unwrap().to_string()
}

#[test]
fn the_readme_cycle_five_times_walks_forward() {
    let d = workspace();
    let root = d.path();
    let mut tasks = Vec::new();
    for round in 0..5 {
        let decision = json(&run(root, &["next", "--json"]));
        let task = decision["task"]["id"].as_str().unwrap().to_string();
        // A task the plan already marks done is never offered again.
        assert_ne!(task_state(root, &task), "done", "round {round}: {task} offered again");
        tasks.push(task.clone());
        let o = run(root, &["next", "--run"]);
        if decision["manual"] == true {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(stderr(&o).contains("nothing to run: the step is manual"), "{}", stderr(&o));
            continue;
        }
        assert!(o.status.success(), "round {round} {task}: {}{}", stdout(&o), stderr(&o));
        let o = run(root, &["attempt", "--last-run"]);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        assert_eq!(task_state(root, &task), "done", "round {round}: the passing run finished {task}");
    }
    assert_eq!(tasks, ["B1", "B2", "C1", "C2", "C2"]);
    // Every run had a folder of its own, though LOOP_NOW held the clock still.
    let runs: Vec<_> = ["phase_b", "phase_c"]
        .iter()
        .flat_map(|p| std::fs::read_dir(root.join("reports/loop-sim").join(p)).unwrap().map(|e| e.unwrap().path()))
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    // The memo's step is recognised as done by any recorded run of it, not only the last one.
    let o = run(root, &["next"]);
    assert!(stderr(&o).contains("this Do Now already ran"), "{}", stderr(&o));
    // C1 compared with the C's golden image and passed its gates.
    let ledger = std::fs::read_to_string(root.join("docs/fix_plan.md")).unwrap();
    let c1 = ledger.lines().find(|l| l.contains("(Phase C1)")).unwrap();
    assert!(c1.contains("corr=1 ✅ (threshold ≥0.9999)"), "{c1}");
}

#[test]
fn runs_in_the_same_second_or_at_once_get_folders_of_their_own() {
    let d = demo_ws_with("`sleep 0.3; echo $LOOP_STAMP > \"$LOOP_ARTIFACTS/stamp.txt\"`");
    let root = d.path();
    // Two at once (the clock held still, as in the same second).
    let spawn = || cmd(root).args(["next", "--run", "--json"]).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let (ja, jb) = (json(&a), json(&b));
    assert!(a.status.success() && b.status.success(), "{}{}", stderr(&a), stderr(&b));
    assert_ne!(ja["artifacts"], jb["artifacts"]);
    assert_ne!(ja["stamp"], jb["stamp"]);
    for j in [&ja, &jb] {
        let dir = root.join(j["artifacts"].as_str().unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("stamp.txt")).unwrap().trim(), j["stamp"].as_str().unwrap());
        assert!(dir.join("run.json").is_file());
    }
    // And one after the other: a third folder, recorded as the last run.
    let c = json(&run(root, &["next", "--run", "--json"]));
    assert!(c["artifacts"] != ja["artifacts"] && c["artifacts"] != jb["artifacts"]);
    let last = std::fs::read_to_string(root.join("reports/.last_run")).unwrap();
    assert_eq!(last.trim(), c["artifacts"].as_str().unwrap());
    // Each records once.
    assert!(run(root, &["attempt", "--last-run"]).status.success());
    let o = run(root, &["attempt", "--from-run", ja["artifacts"].as_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A workspace whose plan task A1 runs `command`.
fn demo_ws_with(command: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [DEMO-001] Demo\n- Status: in_progress\n- Plan Reference: plans/active/demo.md\n- Attempts History:\n  - [2026-01-01] Attempt #1 — Result: planning.\n",
    );
    write(
        d.path(),
        "plans/active/demo.md",
        &format!("- Initiative: DEMO-001\n\n### Phase A — Run\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | run | [ ] | {command} |\n"),
    );
    d
}

#[test]
fn a_manual_step_names_its_item_and_its_checks() {
    let d = demo_ws_with("Patch `x.py`, then run `true && echo checked`");
    let o = run(d.path(), &["next"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("verify    true && echo checked"), "{text}");
    assert!(text.contains("attempt DEMO-001 --phase A1 --task A1=D --result success"), "{text}");
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["verify"], serde_json::json!(["true && echo checked"]));
    // --json on a step it cannot run still prints one JSON document, exit 1.
    let o = run(d.path(), &["next", "--run", "--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["error"]["kind"], "failed");
}
