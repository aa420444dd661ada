use std::path::Path;

use crate::common::*;

const LEDGER: &str = "# Ledger\n\n**Last Updated:** 2026-01-01\n**Active Focus:**\n- `[DEMO-001]` first.\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [DEMO-001](#x) | Demo | High | in_progress |\n\n## [DEMO-001] Demo\n- Priority: High\n- Status: in_progress\n- Plan References: `plans/active/demo.md`\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning. x\n";

fn demo(phase_a: &str, b1: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", LEDGER);
    write(
        d.path(),
        "plans/active/demo.md",
        &format!(
            "## Context\n- Initiative: DEMO-001\n\n### Phase A — Setup\nGoal: g\nPrereqs: none\nExit Criteria: ok\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | set up | {phase_a} | `true` |\n\n### Phase B — Run\nPrereqs: Phase A complete.\nExit Criteria: logs under reports/demo/phase_b/<STAMP>/.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run it | [ ] | `{b1}` |\n| B2 | after | [ ] | `true` |\n"
        ),
    );
    d
}

#[test]
fn selects_the_real_do_now() {
    let root = copy_tree(&nanobragg("workspace"));
    let o = run(root.path(), &["next", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["item"]["id"], "VECTOR-TRICUBIC-002");
    assert_eq!(j["plan"], "plans/active/vectorization.md");
    assert_eq!(j["phase"]["id"], "C");
    assert_eq!(j["task"]["id"], "C1");
    let memo = std::fs::read_to_string(root.path().join("input.md")).unwrap();
    let do_now = memo.lines().find(|l| l.starts_with("Do Now:")).unwrap();
    let raw = do_now.split('`').nth(1).unwrap();
    assert_eq!(STAMP.len(), 16);
    assert_eq!(j["command"], raw.replace("<STAMP>", STAMP));
    assert_eq!(j["artifacts"], format!("reports/2026-01-vectorization-gap/phase_b/{STAMP}/"));
    assert!(j["checks"].as_array().unwrap().iter().all(|c| c["outcome"] == "pass"));
    // The human view says the same.
    let s = stdout(&run(root.path(), &["next"]));
    assert!(s.contains("phase     C — Gap Profiling And Prioritisation Relaunch"), "{s}");
    assert!(s.contains("task      C1 [ ] Capture warm-run profiler"), "{s}");
}

#[test]
fn runs_a_step_and_records_it() {
    let d = demo("[D]", "echo hello; echo warn >&2");
    let o = run(d.path(), &["next", "--run", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = d.path().join(format!("reports/demo/phase_b/{STAMP}"));
    let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(rec["exit_code"], 0);
    assert_eq!(rec["item"], "DEMO-001");
    assert_eq!(rec["phase"], "B");
    assert_eq!(rec["task"], "B1");
    assert_eq!(rec["stamp"], STAMP);
    assert_eq!(rec["interrupted"], false);
    assert!(rec["env"]["cpus"].as_u64().unwrap() >= 1);
    assert!(rec["git"].is_null(), "not a git repository");
    assert_eq!(std::fs::read_to_string(dir.join("stdout.log")).unwrap(), "hello\n");
    assert_eq!(std::fs::read_to_string(dir.join("stderr.log")).unwrap(), "warn\n");
    assert!(std::fs::read_to_string(dir.join("commands.txt")).unwrap().contains("echo hello; echo warn >&2"));
    assert!(!dir.join("attempts").exists());
    // Output is streamed, too.
    assert!(stderr(&o).contains("warn"));
}

#[test]
fn run_records_git_state() {
    let d = demo("[D]", "true");
    git_ok(d.path(), &["init", "-q", "-b", "trunk"]);
    git_ok(d.path(), &["add", "-A"]);
    git_ok(d.path(), &["commit", "-qm", "init"]);
    let sha = git_ok(d.path(), &["rev-parse", "HEAD"]);
    let o = run(d.path(), &["run", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["git"]["sha"], sha.trim());
    assert_eq!(j["git"]["branch"], "trunk");
    assert_eq!(j["git"]["dirty"], false);
}

#[test]
fn failing_command_writes_the_if_blocked_log() {
    let d = demo("[D]", "echo boom >&2; exit 3");
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    let dir = d.path().join(format!("reports/demo/phase_b/{STAMP}"));
    let log = std::fs::read_to_string(dir.join("attempts/failed.log")).unwrap();
    assert!(log.contains("exit_code: 3") && log.contains("boom") && log.contains("exit 3"), "{log}");
    let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(rec["exit_code"], 3);
    assert!(stderr(&o).contains("If-Blocked log: reports/demo/phase_b/"), "{}", stderr(&o));
}

#[test]
fn memo_names_the_if_blocked_log() {
    let d = demo("[D]", "exit 1");
    write(
        d.path(),
        "input.md",
        "Focus: DEMO-001\nArtifacts: reports/m/<STAMP>/\nDo Now: run `sh -c 'kill -TERM $$'`\nIf Blocked: Capture to `reports/m/<STAMP>/attempts/failed_x.log`, then stop.\n",
    );
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    let log = std::fs::read_to_string(d.path().join(format!("reports/m/{STAMP}/attempts/failed_x.log"))).unwrap();
    // A signal is reported as 128+N.
    assert!(log.contains("exit_code: 143"), "{log}");
}

#[test]
fn dry_run_writes_nothing() {
    let d = demo("[D]", "echo hi > made.txt");
    let before = snapshot(d.path());
    let o = run(d.path(), &["next", "--run", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("dry run: would run"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("reports/demo/phase_b/{STAMP}/run.json")));
    assert_eq!(before, snapshot(d.path()));
}

#[test]
fn gate_closed_by_an_unfinished_earlier_phase() {
    let d = demo("[ ]", "true");
    // The first unfinished phase is A; asking for B is refused with the reason.
    let o = run(d.path(), &["next", "--phase", "B"]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(s.contains("FAIL      earlier phases done: Phase A is not done (0/1 tasks [D])"), "{s}");
    assert!(s.contains("FAIL      prereq Phase A"), "{s}");
    // Without --phase, A itself is next.
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["phase"]["id"], "A");
}

#[test]
fn blocked_task_is_exit_1_with_its_line() {
    let d = demo("[D]", "true");
    let plan = d.path().join("plans/active/demo.md");
    let text = std::fs::read_to_string(&plan).unwrap().replace("| B2 | after | [ ] |", "| B2 | after | [B] |");
    std::fs::write(&plan, text).unwrap();
    let o = run(d.path(), &["next"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("BLOCKED plans/active/demo.md:20: task B2 not blocked: task B2 is [B]"),
        "{}",
        stdout(&o)
    );
    // And --run refuses to run anything.
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.path().join("reports").exists());
}

#[test]
fn artifacts_escaping_the_root_are_refused() {
    let d = demo("[D]", "true");
    write(d.path(), "input.md", "Focus: DEMO-001\nArtifacts: ../outside/<STAMP>/\nDo Now: `true`\n");
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the workspace"), "{}", stderr(&o));
    assert!(!d.path().parent().unwrap().join("outside").exists());
}

#[test]
fn missing_plan_reference_is_exit_2_naming_it() {
    let d = demo("[D]", "true");
    let ledger = LEDGER.replace("plans/active/demo.md", "plans/active/gone.md");
    write(d.path(), "docs/fix_plan.md", &ledger);
    let o = run(d.path(), &["next"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("docs/fix_plan.md:15: [DEMO-001]'s plan field names plans/active/gone.md, which does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_item_is_exit_2() {
    let d = demo("[D]", "true");
    let o = run(d.path(), &["next", "--item", "NOPE-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown item [NOPE-1]"));
}

#[test]
fn nothing_under_docs_or_plans_changes_during_a_run() {
    let d = demo("[D]", "echo ok");
    let docs = snapshot(&d.path().join("docs"));
    let plans = snapshot(&d.path().join("plans"));
    assert!(run(d.path(), &["run"]).status.success());
    assert_eq!(docs, snapshot(&d.path().join("docs")));
    assert_eq!(plans, snapshot(&d.path().join("plans")));
}

#[cfg(unix)]
#[test]
fn ctrl_c_kills_the_child_and_still_records() {
    let d = demo("[D]", "echo started; sleep 30");
    let (child, out) = run_until_started(d.path(), &format!("reports/demo/phase_b/{STAMP}"));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out_err = child.wait_with_output().unwrap();
    assert_eq!(out_err.status.code(), Some(130), "128 + SIGINT, like a shell");
    assert!(String::from_utf8_lossy(&out_err.stderr).contains("interrupted"));
    let rec = std::fs::read_to_string(Path::new(&out).with_file_name("run.json")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(&rec).unwrap();
    assert_eq!(rec["interrupted"], true);
    assert_eq!(rec["signal"], "SIGINT");
    // The step got the Ctrl-C (sh ends on SIGINT), not an out-of-memory-looking SIGKILL.
    assert_eq!(rec["exit_code"], 130);
}

#[test]
fn a_memo_wins_until_its_run_is_recorded_then_the_plan_moves_on() {
    let d = demo("[D]", "echo plan-b1");
    // The memo names task A1, already [D]: the supervisor wrote it on purpose, so it wins.
    write(d.path(), "input.md", "Focus: DEMO-001\nDo Now: DEMO-001 — Run task A1 via `echo memo`\n");
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["task"]["id"], "A1");
    assert_eq!(j["command"], "echo memo");
    assert_eq!(j["command_from"]["file"], "input.md");
    // Run it and record it: the memo has done its job, the plan's next task comes next.
    assert!(run(d.path(), &["next", "--run"]).status.success());
    let o = run(d.path(), &["attempt", "--last-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["task"]["id"], "B1", "{j}");
    assert_eq!(j["command"], "echo plan-b1");
    let memo = j["checks"].as_array().unwrap().iter().find(|c| c["name"] == "memo").unwrap();
    assert_eq!(memo["outcome"], "unchecked");
    assert!(memo["detail"].as_str().unwrap().contains("already ran"), "{memo}");
    // The same from another directory with --root.
    let elsewhere = tempfile::tempdir().unwrap();
    let o = cmd(elsewhere.path()).args(["--root", d.path().to_str().unwrap(), "next", "--json"]).output().unwrap();
    assert_eq!(json(&o)["task"]["id"], "B1");
    // A new memo wins again.
    write(d.path(), "input.md", "Focus: DEMO-001\nDo Now: DEMO-001 — Run task B2 via `echo memo2`\n");
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!((j["task"]["id"].as_str(), j["command"].as_str()), (Some("B2"), Some("echo memo2")));
}

/// A one-item workspace whose only task runs `command`.
fn step_workspace(command: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", "# L\n\n## [D-1] Demo\n- Status: in_progress\n- Plan Reference: plans/active/d.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n");
    write(
        d.path(),
        "plans/active/d.md",
        &format!("- Initiative: D-1\n\n### Phase A — Do\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | Step | [ ] | `{command}` |\n"),
    );
    d
}

#[test]
fn a_program_not_found_gets_a_hint_and_an_honest_note() {
    let d = step_workspace("/nonexistent/bin/pytest -q tests/");
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    let hint = "a program was not found (/nonexistent/bin/pytest) — is the environment active?";
    assert!(stderr(&o).contains(hint), "{}", stderr(&o));
    let o = run(d.path(), &["attempt", "--last-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    let entry = ledger.lines().find(|l| l.contains("Attempt #2")).unwrap();
    assert!(entry.contains(hint), "{entry}");
    assert!(!entry.contains("after 0.0 s"), "{entry}");
}

#[cfg(unix)]
#[test]
fn a_step_that_handles_ctrl_c_keeps_its_own_exit_code() {
    // The step traps SIGINT and exits 7, leaving a background child that would hold the pipes.
    let d = step_workspace(r#"bash -c 'trap "exit 7" INT; echo started; (sleep 30 && touch straggler-done) & wait'"#);
    let (child, out) = run_until_started(d.path(), &format!("reports/D-1/phase_a/{STAMP}"));
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    // loop did not wait for the straggler: the Ctrl-C ended the step's whole group, so it never
    // got to finish (it would have written its file before loop's pipes closed).
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!d.path().join("straggler-done").exists(), "the straggler ran to its end");
    #[cfg(target_os = "linux")]
    assert_eq!(processes_in(d.path()), Vec::<String>::new(), "the step's group outlived loop");
    assert_eq!(o.status.code(), Some(1), "the step's failure, not 130");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the step handled it and exited 7"));
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_file_name("run.json")).unwrap()).unwrap();
    assert_eq!(rec["exit_code"], 7);
    assert_eq!(rec["interrupted"], true);
}

#[test]
fn a_closed_stdout_does_not_stop_the_step() {
    use std::io::BufRead;
    let d = step_workspace("sleep 0.3; echo done-here");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loop"))
        .args(["next", "--run"])
        .current_dir(d.path())
        .env("LOOP_NOW", NOW)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `| head -1`: read one line, then close the pipe.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("item"), "{first}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log = d.path().join(format!("reports/D-1/phase_a/{STAMP}/stdout.log"));
    assert_eq!(std::fs::read_to_string(log).unwrap(), "done-here\n");
    assert!(d.path().join(format!("reports/D-1/phase_a/{STAMP}/run.json")).is_file());
}
