use std::path::Path;

use crate::common::*;

const REAL_ARGS: &[&str] = &[
    "attempt",
    "VECTOR-TRICUBIC-002",
    "--result",
    "failed",
    "--phase",
    "C1",
    "--metric",
    "corr_warm=0.721175",
    "--metric",
    "speedup_warm=1.19×",
    "--artifact",
    "reports/2026-01-vectorization-gap/phase_b/20251010T043632Z/{summary.md,profile_4096x4096/trace.json}",
    "--note",
    "Parity regression confirmed",
    "--date",
    "2025-10-10",
];

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Lines of `after` that are not in `before`, and lines of `before` that are gone (as a line diff).
fn line_changes(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let d = similar::TextDiff::from_lines(before, after);
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for c in d.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => added.push(c.value().to_string()),
            similar::ChangeTag::Delete => removed.push(c.value().to_string()),
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

#[test]
fn appends_exactly_one_line_after_attempt_2() {
    let ws = copy_tree(&nanobragg("workspace"));
    let ledger = ws.path().join("docs/fix_plan.md");
    let before = read(&ledger);
    let o = run(ws.path(), REAL_ARGS);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = read(&ledger);
    let (added, removed) = line_changes(&before, &after);
    assert!(removed.is_empty());
    assert_eq!(added.len(), 1);
    let line = &added[0];
    assert!(
        line.starts_with(
            "  * [2025-10-10] Attempt #3 — Result: failed (Phase C1). corr_warm=0.721175 ❌ (threshold ≥0.999)"
        ),
        "{line}"
    );
    // Inserted right after the Attempt #2 line, byte for byte elsewhere.
    let a2 = before.find("  * [2025-10-09] Attempt #2 — Result: success (Phase B1)").unwrap();
    let cut = a2 + before[a2..].find('\n').unwrap() + 1;
    assert!(after == format!("{}{}{}", &before[..cut], line, &before[cut..]), "entry not right after Attempt #2");
    let j = json(&run(ws.path(), &["status", "--json"]));
    let item =
        j["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "VECTOR-TRICUBIC-002").unwrap().clone();
    let nums: Vec<u64> = item["attempts"].as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(nums, [1, 2, 3]);
    // A warning for the missing artifact, but the entry is written.
    assert!(stderr(&o).contains("does not exist"));
}

#[test]
fn pointers_change_only_their_bytes() {
    let ws = copy_tree(&nanobragg("workspace"));
    let ledger = ws.path().join("docs/fix_plan.md");
    let plan = ws.path().join("plans/active/vectorization.md");
    let (lb, pb) = (read(&ledger), read(&plan));
    let o = run(
        ws.path(),
        &[
            "attempt",
            "--result",
            "success",
            "--phase",
            "C1",
            "--task",
            "C1=D",
            "--status",
            "done",
            "--touch",
            "--next-action",
            "Start Phase C2.",
            "--date",
            "2026-02-01",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A two-file write journals its intent under reports/, and leaves no folder it made for it.
    assert!(!ws.path().join("reports").exists(), "an empty reports/ was left behind");
    let j = json(&o);
    let (la, pa) = (read(&ledger), read(&plan));
    // Every reported edit, applied to the original bytes, gives exactly the new file.
    for (file, before, after) in [("docs/fix_plan.md", &lb, &la), ("plans/active/vectorization.md", &pb, &pa)] {
        let change = j["changes"].as_array().unwrap().iter().find(|c| c["file"] == file).unwrap();
        let edits: Vec<(std::ops::Range<usize>, String)> = change["edits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["start"].as_u64().unwrap() as usize..e["end"].as_u64().unwrap() as usize,
                    e["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(&ledger_loop::markdown::splice(before, &edits), after);
    }
    let (added, removed) = line_changes(&lb, &la);
    assert_eq!(removed.len(), 3, "{removed:?}"); // Last Updated, Index row, Status
    assert_eq!(added.len(), 5, "{added:?}"); // those three, the entry, the next action
                                             // The whole value: the old note described the old update.
    assert!(added.contains(&"**Last Updated:** 2026-02-01\n".to_string()));
    assert!(added.contains(&"- Status: done\n".to_string()));
    assert!(added.contains(&"| [VECTOR-TRICUBIC-002](#vector-tricubic-002-vectorization-relaunch-backlog) | Vectorization relaunch backlog | High | done |\n".to_string()));
    assert!(added.contains(&"  4. Start Phase C2.\n".to_string()));
    let (added, removed) = line_changes(&pb, &pa);
    assert_eq!((added.len(), removed.len()), (1, 1));
    assert!(added[0].starts_with("| C1 | Capture warm-run profiler | [D] | `KMP_DUPLICATE_LIB_OK"));
    // The memo's focus item was the default.
    assert_eq!(j["item"], "VECTOR-TRICUBIC-002");
}

#[test]
fn crlf_and_missing_history_field() {
    let d = tempfile::tempdir().unwrap();
    let text = "# L\r\n\r\n## [A-1] One\r\n- Status: open\r\n- Next Actions:\r\n  * first\r\n\r\n## [B-2] Two\r\n- Status: open\r\n";
    write(d.path(), "docs/fix_plan.md", text);
    let o = run(d.path(), &["attempt", "A-1", "--result", "partial", "--date", "2026-02-03"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = read(&d.path().join("docs/fix_plan.md"));
    assert_eq!(
        after,
        "# L\r\n\r\n## [A-1] One\r\n- Status: open\r\n- Next Actions:\r\n  * first\r\n- Attempts History:\r\n  * [2026-02-03] Attempt #1 — Result: partial.\r\n\r\n## [B-2] Two\r\n- Status: open\r\n"
    );
    // The second attempt lands under the first, numbered 2.
    assert!(run(d.path(), &["attempt", "A-1", "--result", "success", "--date", "2026-02-04"]).status.success());
    assert!(read(&d.path().join("docs/fix_plan.md")).contains("  * [2026-02-03] Attempt #1 — Result: partial.\r\n  * [2026-02-04] Attempt #2 — Result: success.\r\n\r\n## [B-2]"));
}

#[test]
fn bad_targets_write_nothing_and_exit_2() {
    let ws = copy_tree(&nanobragg("large"));
    let ledger = ws.path().join("docs/fix_plan.md");
    let before = read(&ledger);
    // Unknown item.
    let o = run(ws.path(), &["attempt", "NOPE-404", "--result", "failed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown item [NOPE-404]"));
    // Duplicated item: asks for --line.
    let o = run(ws.path(), &["attempt", "STAGEA-PARAM-001", "--result", "failed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("appears 2 times (lines 952, 980); choose one with --line N"), "{}", stderr(&o));
    // Artifact outside the workspace.
    let o = run(ws.path(), &["attempt", "DETERMINISM-001", "--result", "failed", "--artifact", "../../etc/passwd"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the workspace"));
    assert_eq!(read(&ledger), before);
    // With --line the duplicate is chosen.
    let o = run(ws.path(), &["attempt", "STAGEA-PARAM-001", "--line", "980", "--result", "planning"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(line_changes(&before, &read(&ledger)).0.len(), 1);

    // A ledger the index lists is still the workflow's to edit (diffbragg's index links it);
    // frozen, it is not.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", "# L\n\n## [A-1] One\n- Status: open\n");
    write(d.path(), "docs/index.md", "* [Ledger](./fix_plan.md) — the ledger, a protected asset here\n");
    let o = run(d.path(), &["attempt", "A-1", "--result", "failed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&d.path().join("docs/fix_plan.md")).contains("Result: failed"));
    write(d.path(), "loop.yaml", "frozen: [docs/fix_plan.md]\n");
    let frozen = read(&d.path().join("docs/fix_plan.md"));
    let o = run(d.path(), &["attempt", "A-1", "--result", "failed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("docs/fix_plan.md: is a protected asset"), "{}", stderr(&o));
    assert_eq!(read(&d.path().join("docs/fix_plan.md")), frozen);

    // Non-UTF-8 ledger.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", "");
    std::fs::write(d.path().join("docs/fix_plan.md"), b"# L\n\n## [A-1] \xfe\n").unwrap();
    let o = run(d.path(), &["attempt", "A-1", "--result", "failed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("docs/fix_plan.md:3: not valid UTF-8"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.path().join("docs/fix_plan.md")).unwrap(), b"# L\n\n## [A-1] \xfe\n");
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let ws = copy_tree(&nanobragg("workspace"));
    let before = snapshot(ws.path());
    let o = run(ws.path(), REAL_ARGS.iter().copied().chain(["--dry-run"]).collect::<Vec<_>>().as_slice());
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.starts_with("--- a/docs/fix_plan.md\n+++ b/docs/fix_plan.md\n"), "{s}");
    assert_eq!(s.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).count(), 1);
    assert_eq!(before, snapshot(ws.path()));
}

#[test]
fn fifty_concurrent_attempts_get_fifty_numbers() {
    let ws = copy_tree(&nanobragg("workspace"));
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let children: Vec<_> = (0..50)
        .map(|i| {
            std::process::Command::new(&bin)
                .args(["attempt", "VECTOR-TRICUBIC-002", "--result", "partial", "--note", &format!("worker {i}")])
                .current_dir(ws.path())
                .env("LOOP_NOW", NOW)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let j = json(&run(ws.path(), &["status", "--json"]));
    let item =
        j["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "VECTOR-TRICUBIC-002").unwrap().clone();
    let nums: Vec<u64> = item["attempts"].as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(nums, (1..=52).collect::<Vec<u64>>());
    let text = read(&ws.path().join("docs/fix_plan.md"));
    for i in 0..50 {
        assert_eq!(text.matches(&format!("worker {i}.")).count(), 1);
    }
    // The rest of the file is intact: removing the 50 new lines gives the original back.
    let original = read(&nanobragg("workspace").join("docs/fix_plan.md"));
    let stripped: String = text.split_inclusive('\n').filter(|l| !l.contains("Observations: worker")).collect();
    assert_eq!(stripped, original);
}

#[test]
fn from_run_takes_everything_from_the_run_folder() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [DEMO-001] Demo\n- Status: in_progress\n- Plan References: `plans/active/demo.md`\n- Attempts History:\n  - [2026-01-01] Attempt #1 — Result: planning.\n- Next Actions:\n  1. run\n",
    );
    write(
        d.path(),
        "plans/active/demo.md",
        "- Initiative: DEMO-001\n\n### Phase B — Run\nExit Criteria: corr >= 0.999 and |sum_ratio-1| <= 5e-3.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run | [ ] | `mkdir -p \"$LOOP_ARTIFACTS\" && echo '{\"corr\": 0.9995, \"sum_ratio\": 1.02, \"pixels\": 64}' > \"$LOOP_ARTIFACTS/metrics.json\"` |\n",
    );
    let o = run(d.path(), &["next", "--run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = run(d.path(), &["attempt", "--last-run", "--task", "B1=D"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = read(&d.path().join("docs/fix_plan.md"));
    let entry = text.lines().find(|l| l.contains("Attempt #2")).unwrap();
    assert!(entry.starts_with("  - [2026-01-05] Attempt #2 — Result: success (Phase B1)."), "{entry}");
    assert!(entry.contains("corr=0.9995 ✅ (threshold ≥0.999)"), "{entry}");
    assert!(entry.contains("sum_ratio=1.02 ❌ (threshold |sum_ratio−1| ≤0.005)"), "{entry}");
    assert!(entry.contains("pixels=64"), "{entry}");
    let dir = format!("reports/DEMO-001/phase_b/{STAMP}");
    // Every file the run left is listed, run.json first.
    assert!(
        entry.contains(&format!(
            "Artifacts: `{dir}/run.json`, `{dir}/commands.txt`, `{dir}/metrics.json`, `{dir}/stderr.log`, `{dir}/stdout.log`."
        )),
        "{entry}"
    );
    assert!(read(&d.path().join("plans/active/demo.md")).contains("| B1 | run | [D] |"));
    // The same run twice is refused unless --again.
    let o = run(d.path(), &["attempt", "--last-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already records the run"), "{}", stderr(&o));
    let o = run(d.path(), &["attempt", "--last-run", "--again", "--no-task"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&d.path().join("docs/fix_plan.md")).contains("Attempt #3 — Result: success (Phase B1)."));
}

#[test]
fn a_passing_run_marks_its_task_done_and_next_moves_on() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [DEMO-001] Demo\n- Status: in_progress\n- Plan Reference: plans/active/demo.md\n- Attempts History:\n  - [2026-01-01] Attempt #1 — Result: planning.\n",
    );
    let plan = "- Initiative: DEMO-001\n\n### Phase B — Run\nExit Criteria: corr >= 0.999.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| B1 | run | [ ] | `mkdir -p \"$LOOP_ARTIFACTS\" && echo '{\"corr\": 0.99951234567}' > \"$LOOP_ARTIFACTS/metrics.json\"` |\n| B2 | next | [ ] | `true` |\n";
    write(d.path(), "plans/active/demo.md", plan);
    assert!(run(d.path(), &["next", "--run"]).status.success());
    let o = run(d.path(), &["attempt", "--last-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("task B1 [D] set"), "{}", stdout(&o));
    let text = read(&d.path().join("docs/fix_plan.md"));
    // Metrics are rounded to 6 significant digits.
    assert!(text.contains("corr=0.999512 ✅ (threshold ≥0.999)"), "{text}");
    assert!(read(&d.path().join("plans/active/demo.md")).contains("| B1 | run | [D] |"));
    assert_eq!(json(&run(d.path(), &["next", "--json"]))["task"]["id"], "B2");
    // --no-task leaves the plan alone.
    write(d.path(), "plans/active/demo.md", plan);
    assert!(run(d.path(), &["attempt", "--last-run", "--again", "--no-task"]).status.success());
    assert!(read(&d.path().join("plans/active/demo.md")).contains("| B1 | run | [ ] |"));
}

/// `--phase b1` and `--phase 'Phase A'` are written as the plan spells them, as item IDs are.
#[test]
fn a_phase_is_written_as_the_plan_spells_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(p, "docs/fix_plan.md", "# L\n\n## [A-1] One\n- Status: in_progress\n- Plan Reference: plans/active/a.md\n");
    write(
        p,
        "plans/active/a.md",
        "# P\n\n### Phase A — Run\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | do | [ ] | `true` |\n",
    );
    for (given, written) in [("a1", "(Phase A1)"), ("Phase a", "(Phase A)"), ("phase A1", "(Phase A1)")] {
        let o = cmd(p).args(["attempt", "a-1", "--phase", given, "--result", "partial"]).output().unwrap();
        assert!(o.status.success(), "{given}: {}", stderr(&o));
        let text = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.ends_with(&format!("Result: partial {written}.")), "{given}: {last}");
    }
    let o = cmd(p).args(["attempt", "A-1", "--phase", "z9", "--result", "partial"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A plan table loop cannot read is named where it breaks, by `attempt --phase` as by `next`;
/// a row short of its header's cells says so, not "unknown state ``".
#[test]
fn plan_table_problems_are_named_with_their_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    assert!(run(p, &["init"]).status.success());
    let plan = std::fs::read_to_string(p.join("plans/active/setup.md")).unwrap();
    write(p, "plans/active/setup.md", &plan.replacen("| --- | --- | --- | --- |\n", "", 1));
    let ledger = std::fs::read(p.join("docs/fix_plan.md")).unwrap();
    let o = run(p, &["attempt", "SETUP-001", "--phase", "A1", "--result", "success"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("plans/active/setup.md:11: unterminated table") && stderr(&o).contains("--phase A1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(p.join("docs/fix_plan.md")).unwrap(), ledger);

    let short = plan.lines().map(|l| if l.starts_with("| A2 ") { "| A2 | Record a baseline |" } else { l });
    write(p, "plans/active/setup.md", &(short.collect::<Vec<_>>().join("\n") + "\n"));
    let o = run(p, &["lint"]);
    assert!(
        stdout(&o).contains("plans/active/setup.md:14: warning: task A2: the row has 2 cells, expected 4 like its header; no State cell"),
        "{}",
        stdout(&o)
    );
}
