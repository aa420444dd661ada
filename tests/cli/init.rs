//! `loop init`: a new project gets a workspace `loop next` reads at once; a second run and an
//! existing project get only what they lack, and nothing is overwritten.

use crate::common::*;

#[test]
fn an_empty_repository_gets_a_workspace_whose_cycle_runs() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git_ok(p, &["init", "-q", "-b", "main"]);
    write(p, ".gitignore", "target");
    let o = run(p, &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["docs/fix_plan.md", "plans/active/setup.md", "input.md", "docs/index.md", "loop.yaml"] {
        assert!(stdout(&o).contains(&format!("created      {f}")), "{f}: {}", stdout(&o));
    }
    // The user's line stays; a missing final newline is supplied before ours.
    let ignore = std::fs::read_to_string(p.join(".gitignore")).unwrap();
    assert_eq!(ignore, "target\n# ledger-loop: run artifacts and agent logs\n/reports/\n/logs/\n");
    // The starter reads cleanly and its first step is the manual one, checked by `loop lint`.
    let lint = run(p, &["lint", "--json"]);
    assert_eq!(lint.status.code(), Some(0), "{}", stdout(&lint));
    let j = json(&run(p, &["next", "--json"]));
    assert_eq!((j["item"]["id"].as_str(), j["task"]["id"].as_str()), (Some("SETUP-001"), Some("A1")), "{j}");
    assert_eq!(j["manual"], true, "{j}");
    assert_eq!(j["verify"][0], "loop lint", "{j}");
    // The hint `next` prints moves the cycle on: A2 and its command come next.
    let o = run(
        p,
        &["attempt", "SETUP-001", "--phase", "A1", "--task", "A1=D", "--result", "success", "--note", "goal written"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&run(p, &["next", "--json"]));
    assert_eq!((j["task"]["id"].as_str(), j["command"].as_str()), (Some("A2"), Some("loop status")), "{j}");
    // A run artifact staged on purpose is refused by the guard.
    write(p, "reports/setup/x/run.json", "{}");
    git_ok(p, &["add", "-A"]);
    git_ok(p, &["add", "-f", "reports/setup/x/run.json"]);
    let g = run(p, &["guard"]);
    assert_eq!(g.status.code(), Some(1), "{}", stderr(&g));
    assert!(stderr(&g).contains("reports/setup/x/run.json"), "{}", stderr(&g));
}

#[test]
fn a_second_run_and_a_dry_run_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let dry = run(p, &["init", "--dry-run"]);
    assert!(stdout(&dry).contains("would create docs/fix_plan.md"), "{}", stdout(&dry));
    assert!(snapshot(p).is_empty(), "a dry run wrote files");
    assert!(run(p, &["init"]).status.success());
    let before = snapshot(p);
    let o = run(p, &["init", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&o);
    assert!(j["files"].as_array().unwrap().iter().all(|f| f["action"] == "kept"), "{j}");
    assert_eq!(snapshot(p), before);
}

#[test]
fn an_existing_ledger_is_kept_and_no_memo_or_plan_naming_another_item_is_added() {
    let ws = copy_tree(&fixtures().join("wild/krsnapatilx__rust-finance"));
    let p = ws.path();
    let ledger = std::fs::read(p.join("docs/fix_plan.md")).unwrap();
    let o = run(p, &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("kept         docs/fix_plan.md  (exists)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("kept         input.md  (not written: docs/fix_plan.md exists"), "{}", stdout(&o));
    assert_eq!(std::fs::read(p.join("docs/fix_plan.md")).unwrap(), ledger);
    assert!(!p.join("input.md").exists() && !p.join("plans/active/setup.md").exists());
    assert!(p.join("docs/index.md").is_file() && p.join("loop.yaml").is_file());
    // The loop.yaml it wrote is one loop reads.
    let s = run(p, &["status"]);
    assert!(!stderr(&s).contains("loop.yaml"), "{}", stderr(&s));
    assert!(stdout(&s).contains("protected  1 assets (from docs/index.md)"), "{}", stdout(&s));
}

#[test]
fn a_folder_that_does_not_exist_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let o = cmd(d.path()).args(["--root", "missing", "init", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing: no such folder"), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["exit_code"], 2);
    assert!(!d.path().join("missing").exists());
}

/// A `ledger:` in loop.yaml that points nowhere is named where it is set.
#[test]
fn a_ledger_path_pointing_nowhere_names_its_loop_yaml_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(p, "loop.yaml", "# settings\nledger: docs/ledger.md\n");
    let o = run(p, &["status", "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("loop.yaml:2: ledger: `docs/ledger.md` does not exist"), "{}", stderr(&o));
    assert_eq!((json(&o)["error"]["file"].as_str(), json(&o)["error"]["line"].as_u64()), (Some("loop.yaml"), Some(2)));
    // With a plan and a memo the workflow has started; recording says where the ledger should be.
    for f in ["input.md", "plans/active/setup.md"] {
        write(p, f, &std::fs::read_to_string(repo_root().join("templates/init").join(f)).unwrap());
    }
    let o = run(p, &["attempt", "SETUP-001", "--result", "success"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("loop.yaml:2 sets `ledger:` to docs/ledger.md"), "{}", stderr(&o));
    assert!(!p.join("docs/ledger.md").exists());
}

/// `loop init` beside a loop.yaml puts the starter ledger where loop.yaml says the ledger is.
#[test]
fn init_follows_the_ledger_path_loop_yaml_sets() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(p, "loop.yaml", "ledger: notes/ledger.md\n");
    let o = run(p, &["init"]);
    assert!(stdout(&o).contains("created      notes/ledger.md"), "{}", stdout(&o));
    assert!(!p.join("docs/fix_plan.md").exists());
    let j = json(&run(p, &["next", "--json"]));
    assert_eq!(j["item"]["id"], "SETUP-001", "{j}");
}
