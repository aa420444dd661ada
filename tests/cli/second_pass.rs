//! Everyday use, second pass: what a newcomer tripped over, one test per finding.

use std::path::Path;

use crate::common::*;

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
fn the_guard_hint_for_a_renamed_asset_undoes_both_halves() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git_ok(p, &["init", "-q"]);
    write(p, "docs/fix_plan.md", "# Ledger\n\n## [A-1] Thing\n- Status: open\n");
    write(p, "docs/index.md", "# Index\n- [Run](../ci/run)\n");
    write(p, "ci/run", "#!/bin/sh\n");
    git_ok(p, &["add", "-A"]);
    git_ok(p, &["commit", "-qm", "base"]);
    git_ok(p, &["mv", "ci/run", "ci/run2"]);
    let o = cmd(p).args(["guard", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j = json(&o);
    let fix = j["violations"][0]["fix"].as_str().unwrap().to_string();
    let command = fix.split('`').nth(1).unwrap();
    assert_eq!(command, "git mv ci/run2 ci/run", "{fix}");
    // Pasted as printed, it leaves nothing staged and the guard passes.
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    git_ok(p, &args);
    assert_eq!(git_ok(p, &["status", "--porcelain"]), "");
    assert_eq!(cmd(p).args(["guard"]).output().unwrap().status.code(), Some(0));
}

/// The examples of `loop SUB --help`, continuation lines joined, comments left out.
fn examples(sub: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = sub.to_vec();
    args.push("--help");
    let help = stdout(&cmd(Path::new(".")).args(&args).output().unwrap());
    let block = help.split("Examples:\n").nth(1).unwrap_or_default();
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in block.lines().take_while(|l| !l.trim().is_empty()) {
        let l = line.trim();
        if l.starts_with('#') {
            continue;
        }
        cur.push_str(l.trim_end_matches('\\'));
        if !l.ends_with('\\') {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Pasted into a shell in this repository after `loop next --run`, the examples of the
/// commands that read runs and images work as printed.
#[test]
fn help_examples_run_when_pasted() {
    let d = embedded_workspace();
    let golden = d.path().join("tests/fixtures/golden");
    std::fs::create_dir_all(&golden).unwrap();
    std::fs::copy(fixtures().join("golden/cubic.bin"), golden.join("cubic.bin")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let sh = |line: &str| {
        std::process::Command::new("bash")
            .args(["-c", line])
            .current_dir(d.path())
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let o = sh("loop next --run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut ran = 0;
    for sub in [&["sim", "profile"][..], &["hotspots"], &["compare"], &["gate", "check"], &["brief"][..]] {
        for line in examples(sub) {
            if line.contains("--write") || line.contains("--template") || line.contains("--threads 2") {
                continue; // writes the memo, needs a file, or a long profile
            }
            let o = sh(&line);
            assert!(matches!(o.status.code(), Some(0) | Some(1)), "{line}: {}", stderr(&o));
            assert!(!stderr(&o).contains("No such file"), "{line}: {}", stderr(&o));
            ran += 1;
        }
    }
    assert!(ran >= 10, "{ran}");
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
    let d = step_workspace(r#"bash -c 'trap "exit 7" INT; echo started; sleep 30 & wait'"#);
    let (child, out) = run_until_started(d.path(), &format!("reports/D-1/phase_a/{STAMP}"));
    let t0 = std::time::Instant::now();
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    // Not the 30 s of the straggler: the Ctrl-C ends the step's whole group.
    assert!(t0.elapsed() < std::time::Duration::from_secs(20));
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

#[test]
fn hotspots_refuses_a_cut_trace_and_summary_words_match_metrics() {
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["sim", "profile", "--sizes", "32", "--outdir", "p"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("p/metrics.json")).unwrap()).unwrap();
    let summary = std::fs::read_to_string(d.path().join("p/summary.md")).unwrap();
    let row = summary.lines().find(|l| l.starts_with("| 32² |")).unwrap();
    for key in ["dtype", "simd"] {
        let word = metrics[key].as_str().unwrap();
        assert!(row.contains(&format!("| {word} |")), "{key} {word}: {row}");
    }
    let trace = std::fs::read(d.path().join("p/trace.json")).unwrap();
    std::fs::write(d.path().join("cut.json"), &trace[..trace.len() / 2]).unwrap();
    let o = run(d.path(), &["hotspots", "cut.json", "--outdir", "h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cut.json: the trace ends early"), "{}", stderr(&o));
    assert!(!d.path().join("h").exists());
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
