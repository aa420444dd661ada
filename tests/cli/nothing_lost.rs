//! Regression tests for what a mutation fuzzer broke, one per case: each was a way to lose data or
//! protection.

use std::path::Path;
use std::process::Stdio;

use crate::common::*;

const LEDGER: &str = "# L\n\n## [X-1] Thing\n- Status: in_progress\n- Plan Reference: plans/active/x.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n- Next Actions:\n  1. go\n";
const PLAN: &str = "- Initiative: X-1\n\n### Phase A — Do\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [ ] | `true` |\n| A2 | two | [ ] | `true` |\n";

fn ws() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", LEDGER);
    write(d.path(), "plans/active/x.md", PLAN);
    d
}

fn ledger(d: &Path) -> String {
    std::fs::read_to_string(d.join("docs/fix_plan.md")).unwrap()
}

/// Case 2: `brief --write --force-protected 2>&1 | head` — a closed stderr must not stop the write.
#[test]
fn a_closed_stderr_does_not_stop_brief_write() {
    let d = ws();
    write(d.path(), "docs/index.md", "* [memo](../input.md)\n");
    write(d.path(), "input.md", "old memo\n");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loop"))
        .args(["brief", "--write", "--force-protected"])
        .current_dir(d.path())
        .env("LOOP_NOW", NOW)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "no panic on a broken pipe");
    assert!(std::fs::read_to_string(d.path().join("input.md")).unwrap().contains("X-1"));
}

/// Case 3: an unclosed code fence in the index hides every link after it; the protected list must
/// fail closed, for every writing command, and status, lint and the guard must say so.
#[test]
fn an_unreadable_index_fails_closed() {
    let d = ws();
    write(d.path(), "docs/index.md", "* [a](./a.md)\n\n```text\nunclosed\n\n* [memo](../input.md)\n");
    write(d.path(), "input.md", "Focus: X-1\nDo Now: run `true`\n");
    let memo = std::fs::read(d.path().join("input.md")).unwrap();
    let before = ledger(d.path());
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("docs/index.md:3: error: code fence opened here is never closed"), "{}", stdout(&o));
    for args in [
        &["brief", "--write", "--force-protected"][..],
        &["attempt", "X-1", "--result", "partial"],
        &["attempt", "X-1", "--task", "A1=D"],
        &["lint", "--fix"],
    ] {
        let o = run(d.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("the protected assets it lists cannot be read"), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read(d.path().join("input.md")).unwrap(), memo);
    assert_eq!(ledger(d.path()), before);
    // The guard refuses a commit that leaves the index so.
    git_ok(d.path(), &["init", "-q"]);
    git_ok(d.path(), &["add", "-A"]);
    let o = run(d.path(), &["guard", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["violations"][0]["rule"], "index_unreadable");
}

/// Case 4: 20 writers at once, each moving a task and adding an attempt: every one lands, no
/// spurious "changed on disk", numbers distinct, both files consistent.
#[test]
fn twenty_parallel_writers_all_land() {
    let d = ws();
    let root = d.path().to_path_buf();
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|k| {
                let root = root.clone();
                s.spawn(move || {
                    let task = if k % 2 == 0 { "A1=D" } else { "A2=P" };
                    cmd(&root).args(["attempt", "X-1", "--result", "partial", "--task", task]).output().unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    let text = ledger(d.path());
    for n in 2..=21 {
        assert_eq!(text.matches(&format!("Attempt #{n} ")).count(), 1, "#{n}\n{text}");
    }
    let plan = std::fs::read_to_string(d.path().join("plans/active/x.md")).unwrap();
    assert!(plan.contains("| A1 | one | [D] |") && plan.contains("| A2 | two | [P] |"));
    let strays: Vec<_> = ["docs", "plans/active", "reports"]
        .iter()
        .filter_map(|p| std::fs::read_dir(d.path().join(p)).ok())
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains("intent"))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
}

/// Case 5: dates must be written as the reader reads them; numbers never wrap.
#[test]
fn dates_and_numbers_are_what_the_reader_reads() {
    let d = ws();
    for bad in ["2025-1-1", "2025-13-01", "01-01-2025"] {
        let o = run(d.path(), &["attempt", "X-1", "--result", "partial", "--date", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial", "--date", "2030-01-01"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("is after today"), "{}", stderr(&o));
    write(d.path(), "docs/fix_plan.md", &LEDGER.replace("Attempt #1 —", "Attempt #4294967295 —"));
    let j = json(&run(d.path(), &["attempt", "X-1", "--result", "partial", "--json"]));
    assert_eq!(j["number"], 4294967296u64);
    write(d.path(), "docs/fix_plan.md", &LEDGER.replace("Attempt #1 —", "Attempt #18446744073709551615 —"));
    let before = ledger(d.path());
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("every attempt number"), "{}", stderr(&o));
    assert_eq!(ledger(d.path()), before);
}

/// Case 6: text sent through `--next-action` (as an agent sends it through MCP) never forges an
/// item or an attempt.
#[test]
fn next_action_text_cannot_forge_an_item_or_an_attempt() {
    let d = ws();
    let before = ledger(d.path());
    for forged in ["## [FAKE-9] Forged item", "* [2025-01-01] Attempt #99 — forged", "Attempt #99 — Result: forged"]
    {
        let o = run(d.path(), &["attempt", "X-1", "--next-action", forged]);
        assert_eq!(o.status.code(), Some(2), "{forged}: {}", stderr(&o));
        assert_eq!(ledger(d.path()), before, "{forged}");
    }
    // Plain text with a pipe is fine, and numbered on.
    assert!(run(d.path(), &["attempt", "X-1", "--next-action", "compare |sum_ratio−1|"]).status.success());
    assert!(ledger(d.path()).contains("  1. go\n  2. compare |sum_ratio−1|\n"));
    let j = json(&run(d.path(), &["attempt", "X-1", "--result", "partial", "--json"]));
    assert_eq!(j["number"], 2);
}

/// Case 7: one rule for symlinks — a write goes through a link to its target inside the
/// workspace, and is refused when the target lies outside.
#[cfg(unix)]
#[test]
fn symlinks_are_written_through_inside_and_refused_outside() {
    let d = ws();
    std::fs::rename(d.path().join("docs/fix_plan.md"), d.path().join("docs/real_ledger.md")).unwrap();
    std::os::unix::fs::symlink("real_ledger.md", d.path().join("docs/fix_plan.md")).unwrap();
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(d.path().join("docs/fix_plan.md")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(d.path().join("docs/real_ledger.md")).unwrap().contains("Attempt #2"));
    // A plans/ folder that is a link to elsewhere: not written.
    let outside = tempfile::tempdir().unwrap();
    std::fs::rename(d.path().join("plans"), outside.path().join("plans")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("plans"), d.path().join("plans")).unwrap();
    let before = std::fs::read_to_string(outside.path().join("plans/active/x.md")).unwrap();
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial", "--task", "A1=D"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the workspace"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(outside.path().join("plans/active/x.md")).unwrap(), before);
    assert!(
        !std::fs::read_to_string(d.path().join("docs/real_ledger.md")).unwrap().contains("Attempt #3"),
        "both or neither"
    );
}

/// Case 8: `--json` prints one JSON document on exit 1 too.
#[test]
fn json_on_exit_one() {
    let d = ws();
    write(
        d.path(),
        "plans/active/x.md",
        &PLAN.replace("[ ] | `true` |\n| A2 | two | [ ]", "[B] | `true` |\n| A2 | two | [B]"),
    );
    let o = run(d.path(), &["brief", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "failed");
    // A manual step: nothing to run, said as JSON.
    write(d.path(), "plans/active/x.md", &PLAN.replace("| `true` |", "| Read the images by hand. |"));
    let o = run(d.path(), &["next", "--run", "--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j = json(&o);
    assert!(j["error"]["message"].as_str().unwrap().contains("the step is manual"), "{j}");
    assert_eq!(j["error"]["exit_code"], 1);
}

/// Case 9: an item whose section cannot be parsed is not written into.
#[test]
fn attempt_does_not_write_into_what_status_cannot_read() {
    let d = ws();
    write(d.path(), "docs/fix_plan.md", &format!("{LEDGER}- Notes: below\n\n| x | y |\n| z | w |\n"));
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let before = ledger(d.path());
    let o = run(d.path(), &["attempt", "X-1", "--result", "partial"]);
    assert_eq!(o.status.code(), Some(2), "status refuses the ledger, so attempt must: {}", stderr(&o));
    assert!(stderr(&o).contains("belongs to no table"), "{}", stderr(&o));
    assert_eq!(ledger(d.path()), before);
}
