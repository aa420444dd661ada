//! `loop` on ten real states of the upstream workspace (tests/fixtures/nanobragg/history), each
//! with the memo written that day: the memo is the ground truth for `loop next`.

use std::path::Path;

use crate::common::*;

/// What a day's memo asks for: a command `loop next --run` runs, or work by hand and the checks to
/// run after it.
enum Step {
    Command(&'static str),
    Manual(&'static [&'static str]),
}
use Step::{Command, Manual};

struct Expect {
    state: &'static str,
    item: &'static str,
    plan: &'static str,
    task: &'static str,
    step: Step,
}

/// Read from each state's input.md by hand: Focus → item, the item's `Plan Reference:` → plan,
/// the task the Do Now names, and the Do Now's step: its command (backticked, after "run", or
/// after the em dash), or — when it asks for work first ("draft …, then run `…`", "update … and
/// capture … via `…`", "run `…` after drafting …") — a manual step whose command is the check.
const TABLE: &[Expect] = &[
    Expect {
        state: "22f6fcdf",
        item: "CLI-FLAGS-003",
        plan: "plans/active/cli-noise-pix0/plan.md",
        task: "M2g.2c",
        step: Manual(&["KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only tests/test_cli_scaling_parity.py -q"]),
    },
    Expect {
        state: "3e47b38d",
        item: "CLI-FLAGS-003",
        plan: "plans/active/cli-noise-pix0/plan.md",
        task: "L1d",
        step: Command(
            "KMP_DUPLICATE_LIB_OK=TRUE PYTHONPATH=src python scripts/validation/compare_structure_factors.py --hkl scaled.hkl --fdump reports/2025-10-cli-flags/phase_l/hkl_parity/Fdump_c_20251109.bin --out reports/2025-10-cli-flags/phase_l/hkl_parity/summary_20251109.md --metrics reports/2025-10-cli-flags/phase_l/hkl_parity/metrics_20251109.json",
        ),
    },
    Expect {
        state: "415b5703",
        item: "VECTOR-PARITY-001",
        plan: "plans/active/vectorization-parity-regression.md",
        task: "E8",
        step: Manual(&[
            "KMP_DUPLICATE_LIB_OK=TRUE python scripts/debug_pixel_trace.py --pixel 0 0 --tag edge --oversample 2 --taps intensity --json --out-dir \"$OUT_PY\"",
        ]),
    },
    Expect {
        state: "4c8bda27",
        item: "CLI-FLAGS-003",
        plan: "plans/active/cli-noise-pix0/plan.md",
        task: "F3",
        step: Command("env KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only"),
    },
    Expect {
        state: "5abc13d6",
        item: "DETECTOR-CONFIG-001",
        plan: "plans/active/detector-config.md",
        // "plans/active/detector-config.md:40-55 — Phase C rows now [P]; we need the spec audit …":
        // the memo points at Phase C, whose first open row is C1 (A3 waits on C3).
        task: "C1",
        step: Command(
            "env CUDA_VISIBLE_DEVICES=-1 KMP_DUPLICATE_LIB_OK=TRUE pytest -v tests/test_at_parallel_002.py::TestATParallel002::test_beam_center_scales_with_pixel_size",
        ),
    },
    Expect {
        state: "609fa221",
        item: "VECTOR-TRICUBIC-001",
        plan: "plans/active/vectorization.md",
        task: "F4",
        step: Manual(&["pytest --collect-only -q"]),
    },
    Expect {
        state: "95cf45bc",
        item: "SOURCE-WEIGHT-002",
        plan: "plans/active/source-weighting.md",
        task: "D1",
        step: Command("KMP_DUPLICATE_LIB_OK=TRUE pytest -v tests/test_at_src_001_simple.py tests/test_at_src_001.py -x"),
    },
    Expect {
        state: "9dc18bbd",
        item: "TEST-SUITE-TRIAGE-002",
        plan: "plans/active/test-suite-triage-rerun.md",
        task: "CLUSTER-VEC-001",
        step: Command(
            "env KMP_DUPLICATE_LIB_OK=TRUE CUDA_VISIBLE_DEVICES=-1 pytest -vv --maxfail=1 tests/test_tricubic_vectorized.py::TestTricubicGather::test_vectorized_matches_scalar tests/test_tricubic_vectorized.py::TestTricubicGather::test_oob_warning_single_fire",
        ),
    },
    Expect {
        state: "dd18a2a5",
        item: "SOURCE-WEIGHT-001",
        plan: "plans/active/source-weight-normalization.md",
        task: "G0",
        step: Command(
            "NB_RUN_PARALLEL=1 KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only -q tests/test_cli_scaling.py::TestSourceWeights tests/test_cli_scaling.py::TestSourceWeightsDivergence",
        ),
    },
    Expect {
        state: "efb1ed01",
        item: "CLI-FLAGS-003",
        plan: "plans/active/cli-noise-pix0/plan.md",
        task: "L3k.3c.2",
        step: Command(
            "PYTHONPATH=src KMP_DUPLICATE_LIB_OK=TRUE python scripts/compare_per_phi_traces.py reports/2025-10-cli-flags/phase_l/per_phi/reports/2025-10-cli-flags/phase_l/rot_vector/base_vector_debug/20251123/trace_py_rot_vector_20251123_per_phi.json reports/2025-10-cli-flags/phase_l/rot_vector/base_vector_debug/20251123/c_trace_phi_20251123.log",
        ),
    },
];

const DOSE: &str = "DEBUG-SIM-LINES-DOSE-001";
const DOSE_PLAN: &str = "plans/active/DEBUG-SIM-LINES-DOSE-001/implementation.md";
const LOADER: &str = "pytest tests/test_generic_loader.py::test_generic_loader -q";

/// The second project's ten states (tests/fixtures/ptychopinn, see SOURCE.md there), read the same
/// way: every memo there asks for implementation work (`Implement:`) with the `Test:` / `Pytest:`
/// / `Validate:` / `Capture:` lines as the checks.
const PTYCHOPINN: &[Expect] = &[
    Expect {
        state: "86ba9a98",
        item: "seed",
        plan: "plans/active/seed/implementation.md",
        task: "S3",
        step: Manual(&[
            "pytest tests/tools/test_d0_parity_logger.py::test_cli_emits_outputs -q | tee \"$ARTIFACT_DIR\"/pytest_d0_parity_logger.log",
        ]),
    },
    Expect { state: "9c19986b", item: DOSE, plan: DOSE_PLAN, task: "A1", step: Manual(&[LOADER]) },
    Expect { state: "08600a4d", item: DOSE, plan: DOSE_PLAN, task: "D1", step: Manual(&[LOADER]) },
    Expect { state: "471283b6", item: DOSE, plan: DOSE_PLAN, task: "F1", step: Manual(&[LOADER]) },
    Expect {
        state: "daa12718",
        item: DOSE,
        plan: DOSE_PLAN,
        task: "F1",
        step: Manual(&["pytest tests/tools/test_check_inbox_for_ack_cli.py::test_sla_watch_flags_breach -q && pytest tests/test_generic_loader.py::test_generic_loader -q"]),
    },
    Expect { state: "3866e65d", item: DOSE, plan: DOSE_PLAN, task: "F1", step: Manual(&[]) },
    Expect { state: "f96b7e45", item: DOSE, plan: DOSE_PLAN, task: "F1", step: Manual(&[]) },
    Expect { state: "6308b65a", item: DOSE, plan: DOSE_PLAN, task: "F1", step: Manual(&[]) },
    Expect { state: "e1fca91b", item: DOSE, plan: DOSE_PLAN, task: "F1", step: Manual(&[]) },
    Expect {
        state: "bb0aaf65",
        item: DOSE,
        plan: DOSE_PLAN,
        task: "F1",
        step: Manual(&["pytest tests/tools/test_check_inbox_for_ack_cli.py::test_escalation_brief_targets_blocker -q"]),
    },
];

fn state(name: &str) -> std::path::PathBuf {
    nanobragg("history").join(name)
}

fn check_table(table: &[Expect], root: &dyn Fn(&str) -> std::path::PathBuf) {
    for e in table {
        let o = run(&root(e.state), &["next", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", e.state, stderr(&o));
        let j = json(&o);
        assert_eq!(j["item"]["id"], e.item, "{}", e.state);
        assert_eq!(j["plan"], e.plan, "{}", e.state);
        assert_eq!(j["task"]["id"], e.task, "{}", e.state);
        assert_eq!(j["command_from"]["file"], "input.md", "{}", e.state);
        match e.step {
            Command(c) => {
                assert_eq!(j["command"], c, "{}", e.state);
                assert_eq!(j["manual"], false, "{}", e.state);
            }
            Manual(verify) => {
                assert_eq!(j["manual"], true, "{}", e.state);
                assert!(j["command"].is_null(), "{}", e.state);
                let got: Vec<&str> =
                    j["verify_template"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                // An empty list in the table: the checks are long Capture/Validate lines, and
                // there must be at least two (capture, then validate).
                if verify.is_empty() {
                    assert!(got.len() >= 2, "{}: {got:?}", e.state);
                    assert!(
                        got[0].contains("check_inbox_for_ack.py") && got[1].starts_with("pytest "),
                        "{}: {got:?}",
                        e.state
                    );
                } else {
                    assert_eq!(got, verify, "{}", e.state);
                }
            }
        }
        assert!(j["blocked"].is_null(), "{}: {}", e.state, j["blocked"]);
    }
}

#[test]
fn next_offers_the_step_each_days_memo_named() {
    assert_eq!(TABLE.len(), std::fs::read_dir(nanobragg("history")).unwrap().count(), "every state is in the table");
    check_table(TABLE, &state);
    // 3e47b38d's memo asks for L1d, which the plan already marks [D]: said, then done anyway.
    let o = run(&state("3e47b38d"), &["next"]);
    assert!(
        stderr(&o).contains("the memo names task L1d, which the plan marks [D]; doing it again as the memo says"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("gate `earlier phases done` fails (Phase C is not done"), "{}", stderr(&o));
}

#[test]
fn the_second_projects_states_give_the_memos_step() {
    let dir = fixtures().join("ptychopinn");
    let states = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(PTYCHOPINN.len(), states, "every state is in the table");
    check_table(PTYCHOPINN, &|s| dir.join(s));
    // What status says it read.
    let o = run(&dir.join("bb0aaf65"), &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("read as    single initiative DEBUG-SIM-LINES-DOSE-001, no `## [ID]` items"), "{text}");
    assert!(text.contains("(tasks from checklists)"), "{text}");
    assert!(text.contains("plans      2 files"), "reports beside the plans are not plans: {text}");
}

#[test]
fn every_state_round_trips_through_status_next_lint_and_attempt() {
    for e in TABLE {
        let root = state(e.state);
        let ledger = std::fs::read(root.join("docs/fix_plan.md")).unwrap();
        let o = run(&root, &["status", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", e.state, stderr(&o));
        let j = json(&o);
        let items = j["ledger"]["items"].as_array().unwrap();
        // No item is named after a date or a timestamp.
        assert!(items.iter().all(|i| i["id"].as_str().unwrap().starts_with(|c: char| c.is_ascii_alphabetic())));
        // Lint may find real rot (1) but never fails on the input (2).
        let o = run(&root, &["lint", "--json"]);
        assert_ne!(o.status.code(), Some(2), "{}: {}", e.state, stderr(&o));
        for f in json(&o)["findings"].as_array().unwrap() {
            let m = f["message"].as_str().unwrap();
            assert!(
                !(f["code"] == "artifact-missing" && (m.contains("...") || m.contains('<') || m.contains('$'))),
                "{m}"
            );
        }
        let o = run(&root, &["attempt", "--result", "failed", "--note", "round trip", "--dry-run"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", e.state, stderr(&o));
        assert!(stdout(&o).contains("— Result: failed. Observations: round trip."), "{}", e.state);
        assert_eq!(std::fs::read(root.join("docs/fix_plan.md")).unwrap(), ledger, "dry run wrote nothing");
    }
}

#[test]
fn a_timestamped_ledger_gets_a_timestamped_entry_at_the_end_of_its_history() {
    for name in ["86ba9a98", "bb0aaf65"] {
        let d = copy_tree(&fixtures().join("ptychopinn").join(name));
        let before = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
        let count = |j: &serde_json::Value| j["ledger"]["items"][0]["attempts"].as_array().unwrap().len();
        let n = count(&json(&run(d.path(), &["status", "--json"])));
        let task = if name == "bb0aaf65" { "F1" } else { "S3" };
        let o = run(
            d.path(),
            &["attempt", "--result", "partial", "--phase", task, "--note", "a |pipe| is fine here", "--json"],
        );
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let j = json(&o);
        assert!(j["number"].is_null(), "{j}");
        assert_eq!(j["time"], "2026-01-05T15:30Z");
        let after = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
        // Only an insertion: the old text, cut at one place, with the entry between.
        let at = j["changes"][0]["edits"][0]["start"].as_u64().unwrap() as usize;
        let text = j["changes"][0]["edits"][0]["text"].as_str().unwrap();
        assert_eq!(after, format!("{}{text}{}", &before[..at], &before[at..]));
        assert!(text.contains("### 2026-01-05T15:30Z — "), "{text}");
        assert!(text.contains("**Observations:** a |pipe| is fine here."), "{text}");
        assert_eq!(count(&json(&run(d.path(), &["status", "--json"]))), n + 1, "{name}");
        // A phase the plan does not have is refused, naming the phases it has.
        let o = run(d.path(), &["attempt", "--result", "partial", "--phase", "Z9"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("no such phase or task"), "{}", stderr(&o));
        assert!(stderr(&o).contains("Phase "), "{}", stderr(&o));
    }
}

#[test]
fn attempts_after_a_numbered_list_stay_with_their_item() {
    let j = json(&run(&state("9dc18bbd"), &["status", "--json"]));
    let items = j["ledger"]["items"].as_array().unwrap();
    // They follow the archive bullet `- [PROTECTED-ASSETS-001], [REPO-HYGIENE-002], …` and belong to it.
    let item = items.iter().find(|i| i["id"] == "PROTECTED-ASSETS-001" && i["line"] == 788).unwrap();
    let numbers: Vec<u64> =
        item["attempts"].as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    for n in [79, 81, 82, 83, 84] {
        assert!(numbers.contains(&n), "#{n} missing from {numbers:?}");
    }
}

/// A workspace holding one of the merge fixtures' ledgers (bullet Index, `### [ID] ...` sub-headings).
fn bullet_index_workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(nanobragg("merges/28b5d940/base.md")).unwrap();
    write(d.path(), "docs/fix_plan.md", &text);
    d
}

#[test]
fn bullet_index_rows_are_rows_and_sub_headings_are_not_items() {
    let d = bullet_index_workspace();
    let j = json(&run(d.path(), &["status", "--json"]));
    let ledger = &j["ledger"];
    let items = ledger["items"].as_array().unwrap();
    // `- [PERF-PYTORCH-004] Fuse Physics Kernels — Priority: Medium, Status: pending (…)` is an Index row.
    let rows = ledger["index"].as_array().unwrap();
    let row = rows.iter().find(|r| r["id"] == "PERF-PYTORCH-004").unwrap();
    assert_eq!(row["line"], 12);
    assert!(row["status"].as_str().unwrap().starts_with("pending"), "{row}");
    // One item, not three: the Index bullet is no item and `### [PERF-PYTORCH-004] Update` is a sub-section.
    assert_eq!(items.iter().filter(|i| i["id"] == "PERF-PYTORCH-004").count(), 1);
    let o = run(d.path(), &["attempt", "PERF-PYTORCH-004", "--result", "partial", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(d.path(), &["lint", "--json"]);
    let findings = json(&o)["findings"].as_array().unwrap().clone();
    assert!(!findings
        .iter()
        .any(|f| f["code"] == "duplicate-id" && f["message"].as_str().unwrap().contains("PERF-PYTORCH-004")));
}

#[test]
fn attempt_sub_headings_count_as_attempts() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [X-1] Thing\n- Status: in_progress\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n\n### [X-1] Attempt #6 — Result: failed\nDetails.\n",
    );
    let j = json(&run(d.path(), &["status", "--json"]));
    let item = &j["ledger"]["items"][0];
    assert_eq!(j["ledger"]["items"].as_array().unwrap().len(), 1);
    let numbers: Vec<u64> =
        item["attempts"].as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 6]);
    let lint = stdout(&run(d.path(), &["lint"]));
    assert!(lint.contains("[X-1] Attempt #6 follows #1 (#2–#5 missing)"), "{lint}");
    assert!(!lint.contains("duplicate-id"), "{lint}");
    let o = run(d.path(), &["attempt", "X-1", "--result", "failed", "--dry-run"]);
    assert!(stdout(&o).contains("Attempt #7"), "{}", stdout(&o));
}

fn demo_ws(memo: &str, guidance: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [DEMO-001](#d) | Demo | High | in_progress |\n\n## [DEMO-001] Demo\n- Status: in_progress\n- Plan Reference: plans/active/demo/\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n",
    );
    write(
        d.path(),
        "plans/active/demo/plan.md",
        &format!("### Phase A — Go\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | do it | [ ] | {guidance} |\n"),
    );
    if !memo.is_empty() {
        write(d.path(), "input.md", memo);
    }
    d
}

#[test]
fn a_step_without_a_command_is_manual() {
    // The memo names no runnable command (only a path and an identifier).
    let d = demo_ws(
        "Focus: DEMO-001\nDo Now: DEMO-001 — update `scripts/x.py` to drop `_cache`, then write notes.\n",
        "`true`",
    );
    let o = run(d.path(), &["next", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["plan"], "plans/active/demo/plan.md", "folder plans resolve to plan.md");
    assert!(j["command"].is_null());
    assert_eq!(j["manual"], true);
    assert!(j["manual_step"].as_str().unwrap().contains("update `scripts/x.py`"));
    let text = stdout(&run(d.path(), &["next"]));
    assert!(text.contains("a manual step (from input.md:2):\n          DEMO-001 — update"), "{text}");
    assert!(text.contains("attempt DEMO-001 --phase A1 --task A1=D --result success --note 'what was done'"), "{text}");
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing to run: the step is manual"), "{}", stderr(&o));
    assert!(!d.path().join("reports").exists(), "no shell ran, nothing written");
    // A plan task whose cells name no command is manual too.
    let d = demo_ws("", "See `reports/.../phase_e/<loop_slug>/` and `[DEMO-001]`.");
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["manual"], true);
    assert_eq!(j["manual_step"], "task A1: do it");
}

#[test]
fn stamp_forms_are_filled_and_exported() {
    let d = demo_ws(
        "Focus: DEMO-001\nArtifacts: reports/demo/$STAMP/\nDo Now: DEMO-001 — run `echo \"$STAMP ${STAMP} <STAMP> $LOOP_STAMP\" > out.txt; printenv STAMP >> out.txt`\n",
        "`true`",
    );
    let j = json(&run(d.path(), &["next", "--json"]));
    assert_eq!(j["artifacts"], format!("reports/demo/{STAMP}/"));
    assert_eq!(
        j["command"],
        format!("echo \"{STAMP} {STAMP} {STAMP} $LOOP_STAMP\" > out.txt; printenv STAMP >> out.txt")
    );
    let o = run(d.path(), &["next", "--run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = std::fs::read_to_string(d.path().join("out.txt")).unwrap();
    assert_eq!(out, format!("{STAMP} {STAMP} {STAMP} {STAMP}\n{STAMP}\n"));
}

#[test]
fn the_memo_wins_even_when_the_plan_reference_is_broken() {
    let d = demo_ws("Focus: DEMO-001\nDo Now: DEMO-001 — env A=1 true\n", "`true`");
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    write(d.path(), "docs/fix_plan.md", &ledger.replace("plans/active/demo/", "plans/active/gone.md"));
    let o = run(d.path(), &["next", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["command"], "env A=1 true");
    assert!(
        stderr(&o).contains("docs/fix_plan.md:10: [DEMO-001]'s plan field names plans/active/gone.md"),
        "{}",
        stderr(&o)
    );
}

fn ledger_of(d: &Path) -> Vec<u8> {
    std::fs::read(d.join("docs/fix_plan.md")).unwrap()
}

#[test]
fn forged_text_is_refused_and_nothing_written() {
    let d = demo_ws("", "`true`");
    let before = ledger_of(d.path());
    let plan_before = std::fs::read(d.path().join("plans/active/demo/plan.md")).unwrap();
    let cases: &[&[&str]] = &[
        &["--result", "failed", "--note", "two\nlines"],
        &["--result", "failed", "--note", "cr\rhere"],
        &["--result", "failed", "--next-action", "```sh"],
        &["--result", "failed", "--next-action", "## [FAKE-9] Forged item"],
        &["--result", "failed", "--next-action", "* [2025-01-01] Attempt #99 — forged"],
        &["--result", "failed", "--next-action", "1. nested"],
        &["--result", "failed", "--next-action", "Attempt #99 — forged"],
        &["--result", "failed", "--phase", "A1\n* [2026-01-01] Attempt #99"],
        &["--result", "failed", "--artifact", "reports/x\ny"],
        &["--result", "failed", "--task", "A1=D", "--task", "a1=P"],
    ];
    for args in cases {
        let mut all = vec!["attempt", "DEMO-001"];
        all.extend_from_slice(args);
        let o = run(d.path(), &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert_eq!(ledger_of(d.path()), before, "{args:?}");
        assert_eq!(std::fs::read(d.path().join("plans/active/demo/plan.md")).unwrap(), plan_before);
    }
}

#[cfg(unix)]
#[test]
fn read_only_files_are_refused_and_both_or_neither_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let d = demo_ws("", "`true`");
    let before = ledger_of(d.path());
    let plan = d.path().join("plans/active/demo/plan.md");
    let plan_before = std::fs::read(&plan).unwrap();
    // A read-only plan: the ledger change that comes with it is not written either.
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = run(d.path(), &["attempt", "DEMO-001", "--result", "success", "--task", "A1=D"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("plans/active/demo/plan.md: is read-only"), "{}", stderr(&o));
    assert_eq!(ledger_of(d.path()), before);
    assert_eq!(std::fs::read(&plan).unwrap(), plan_before);
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A read-only ledger.
    let ledger = d.path().join("docs/fix_plan.md");
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = run(d.path(), &["attempt", "DEMO-001", "--result", "success"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("docs/fix_plan.md: is read-only"), "{}", stderr(&o));
    assert_eq!(ledger_of(d.path()), before);
    assert_eq!(std::fs::metadata(&ledger).unwrap().permissions().mode() & 0o777, 0o444, "not replaced by rename");
}

#[test]
fn task_pointer_alone_moves_only_the_pointer() {
    let d = demo_ws("", "`true`");
    let before = ledger_of(d.path());
    let o = run(d.path(), &["attempt", "DEMO-001", "--task", "A1=D"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ledger_of(d.path()), before, "no entry appended");
    assert!(std::fs::read_to_string(d.path().join("plans/active/demo/plan.md"))
        .unwrap()
        .contains("| A1 | do it | [D] |"));
}

#[test]
fn a_bad_protected_glob_makes_the_guard_fail_closed() {
    let d = tempfile::tempdir().unwrap();
    git_ok(d.path(), &["init", "-q"]);
    write(d.path(), "docs/fix_plan.md", "# L\n");
    write(d.path(), "loop.yaml", "ledger: docs/fix_plan.md\nprotected:\n  - \"src/[unclosed\"\n");
    write(d.path(), "a.txt", "x");
    git_ok(d.path(), &["add", "a.txt"]);
    let o = run(d.path(), &["guard"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("loop.yaml:3: protected: pattern `src/[unclosed` does not compile"), "{}", stderr(&o));
}

/// PtychoPINN's first state: a plan and a memo, no ledger yet. The step comes from them, as it
/// does once the ledger exists; `attempt` writes nothing and says how to start a ledger.
#[test]
fn a_workspace_without_a_ledger_yet_gets_its_step_from_the_memo_and_plan() {
    let with = json(&run(&fixtures().join("ptychopinn/86ba9a98"), &["next", "--json"]));
    let d = copy_tree(&fixtures().join("ptychopinn/86ba9a98"));
    let p = d.path();
    std::fs::remove_file(p.join("docs/fix_plan.md")).unwrap();
    let v = json(&run(p, &["next", "--json"]));
    assert_eq!(v["item"]["id"], "seed", "{v}");
    for key in ["task", "command", "verify", "manual"] {
        assert_eq!(v[key], with[key], "{key}: the same step as with the ledger");
    }
    let text = stdout(&run(p, &["next"]));
    assert!(
        text.contains("item      [seed] Seed Plan  (no docs/fix_plan.md yet, chosen by input.md:2 Focus)"),
        "{text}"
    );
    assert!(text.contains("To record it: there is no ledger yet (docs/fix_plan.md does not exist)"), "{text}");
    assert!(!text.contains("attempt seed"), "no hint that cannot work: {text}");
    let st = json(&run(p, &["status", "--json"]));
    assert_eq!(st["ledger"]["dialect"], "absent");
    assert_eq!(st["diagnostics"][0]["severity"], "warning", "{st}");
    let lint = json(&run(p, &["lint", "--json"]));
    assert!(lint["findings"].as_array().unwrap().iter().any(|f| f["code"] == "ledger-absent"), "{lint}");
    let o = run(p, &["attempt", "--result", "success", "--note", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("## [seed] Title\n- Status: in_progress\n- Attempts History:"), "{}", stderr(&o));
    assert!(!p.join("docs/fix_plan.md").exists(), "nothing written");
    // With neither plan nor memo, there is nothing to read: an error, as before.
    let e = tempfile::tempdir().unwrap();
    write(e.path(), "loop.yaml", "plans: plans/*.md\n");
    let o = run(e.path(), &["next"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ledger not found"), "{}", stderr(&o));
}
