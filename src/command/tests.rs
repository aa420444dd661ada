//! Commands as the real memos, plans and ledgers write them.

use super::*;

#[test]
fn commands_the_upstream_memos_write() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "CLI-FLAGS-003 M2g.2c — draft the memo, then run `KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only tests/t.py -q` to confirm.",
            Some("KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only tests/t.py -q"),
        ),
        (
            "CLI-FLAGS-003 L1d — KMP_DUPLICATE_LIB_OK=TRUE PYTHONPATH=src python s.py --out a.md",
            Some("KMP_DUPLICATE_LIB_OK=TRUE PYTHONPATH=src python s.py --out a.md"),
        ),
        (
            "[V-1] Next Actions #1 — update `scripts/debug.py` for `--taps intensity` via `A=1 python scripts/debug.py --out \"$OUT\"` (repeat)",
            Some("A=1 python scripts/debug.py --out \"$OUT\""),
        ),
        (
            "[CLI-FLAGS-003] Handle -nonoise and -pix0_vector_mm — env KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only",
            Some("env KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only"),
        ),
        ("[S-2] Run `KMP=1 pytest -v tests/a.py -x`", Some("KMP=1 pytest -v tests/a.py -x")),
        ("X-1 Phase F4 — run `pytest --collect-only -q` after drafting `summary.md`.", Some("pytest --collect-only -q")),
        ("verify with pytest -v tests/x.py::T; then log it.", Some("pytest -v tests/x.py::T")),
        ("Run it via `./scripts/go.sh --fast`.", Some("./scripts/go.sh --fast")),
        ("`true`", Some("true")),
        // Compound lines are one command.
        (
            "X-1 — run export RUN_DIR=r/a && mkdir -p \"$RUN_DIR\" && KMP=1 python x.py --out \"$RUN_DIR/x.log\"",
            Some("export RUN_DIR=r/a && mkdir -p \"$RUN_DIR\" && KMP=1 python x.py --out \"$RUN_DIR/x.log\""),
        ),
        (
            "X-1 — `(/usr/bin/time -v timeout 3600 env A=1 pytest -vv tests/) 2>r/time.txt | tee r/log`",
            Some("(/usr/bin/time -v timeout 3600 env A=1 pytest -vv tests/) 2>r/time.txt | tee r/log"),
        ),
        (
            "STAMP=$(date -u +%Y%m%dT%H%M%SZ); mkdir -p r/$STAMP/c && timeout 1200 env A=1 pytest -vv t.py | tee r/$STAMP/c/p.log",
            Some("STAMP=$(date -u +%Y%m%dT%H%M%SZ); mkdir -p r/$STAMP/c && timeout 1200 env A=1 pytest -vv t.py | tee r/$STAMP/c/p.log"),
        ),
        ("run KMP=1 pytest -v tests/x.py once the patch is ready", Some("KMP=1 pytest -v tests/x.py")),
        ("run `STAMP=\\$(date -u +%Y) python x.py --out r/\\$STAMP/`", Some("STAMP=$(date -u +%Y) python x.py --out r/$STAMP/")),
        // Not commands: paths, identifiers, item tags, markdown, elisions, prose, assignments, heredoc heads.
        ("See `reports/.../phase_e/<loop_slug>/` and `triage_summary.md`.", None),
        ("Remove `_phi_carryover_cache` from the crystal.", None),
        ("Close `[TEST-SUITE-TRIAGE-001]` first.", None),
        ("Run `python -m nanobrag_torch ...` on the case.", None),
        ("Run the parity script after fixes and update artefacts.", None),
        ("make sure the plan is current — with the team", None),
        ("`<Action State>`: [ready_for_implementation]", None),
        ("set `STAMP=$(date -u +%Y%m%dT%H%M%SZ)` first", None),
        ("run `KMP=1 python - <<'PY'` (", None),
        ("run NB_C_BIN=./golden_suite_generator/nanoBragg with -dump_pixel", None),
        ("- Test: `tests/tools/test_cli.py::test_sla_watch_flags_breach`", None),
        ("build with `golden_suite_generator/nanoBragg -hkl x.hkl`", Some("golden_suite_generator/nanoBragg -hkl x.hkl")),
    ];
    for (text, want) in cases {
        assert_eq!(extract(text).as_deref(), *want, "{text}");
    }
}

#[test]
fn misses_of_the_history_sweep() {
    // Prose after an unquoted command is not its arguments.
    assert_eq!(
        extract(
            "run KMP_DUPLICATE_LIB_OK=TRUE pytest tests/test_cli_entrypoint.py -q after capturing C traces and memo"
        )
        .as_deref(),
        Some("KMP_DUPLICATE_LIB_OK=TRUE pytest tests/test_cli_entrypoint.py -q")
    );
    assert_eq!(
        extract("run pytest --collect-only -q tests/a.py::T and capture the selectors into the bundle").as_deref(),
        Some("pytest --collect-only -q tests/a.py::T")
    );
    assert_eq!(
        extract("run `pytest -k \"a and not b\" tests/x.py`").as_deref(),
        Some("pytest -k \"a and not b\" tests/x.py")
    );
    assert_eq!(
        extract("run pytest -k \"a and not b\" tests/x.py").as_deref(),
        Some("pytest -k \"a and not b\" tests/x.py")
    );
    // A parenthesis of prose (a narrow no-break space inside) is no command.
    assert_eq!(extract("(timeout 60\u{202f}min)"), None);
    assert_eq!(extract("run it — (timeout 60 min)"), None);
    // `Execute … with `CMD``: a command step.
    let s = step_of("DEMO-1 Phase B1 — Execute the parity sweep with `KMP=1 pytest -v tests/test_parity.py`");
    assert_eq!(s.command.as_deref(), Some("KMP=1 pytest -v tests/test_parity.py"));
}

#[test]
fn work_then_a_check_is_a_manual_step() {
    let s =
        step_of("CLI-FLAGS-003 M2g.2c — draft the memo, then run `pytest --collect-only tests/t.py -q` to confirm.");
    assert_eq!(s, Step { command: None, verify: vec!["pytest --collect-only tests/t.py -q".into()] });
    let s = step_of("[X-1] Phase D2 – Fix fluence scaling; after editing, run `pytest -v tests/a.py`");
    assert_eq!(s.command, None);
    let s = step_of("CLI-FLAGS-003 Handle -nonoise — run `pytest -v tests/a.py`");
    assert_eq!(s.command.as_deref(), Some("pytest -v tests/a.py"));
    let s = step_of("X-1 Phase F4 summary consolidation — run `pytest --collect-only -q` after drafting `summary.md`.");
    assert_eq!(s, Step { command: None, verify: vec!["pytest --collect-only -q".into()] });
    let s = step_of("[X-1] Phase B1 — capture the baseline via `python b.py --out r/`");
    assert_eq!(s.command.as_deref(), Some("python b.py --out r/"));
}

#[test]
fn a_lone_word_in_backticks_is_a_name_not_a_command() {
    // diffbragg's Do Now: "leave any supporting `rg`/diff output", "hoist `Detector/Crystal/Simulator`".
    assert_eq!(command_in("rg", true), None);
    assert_eq!(command_in("Detector/Crystal/Simulator", true), None);
    assert_eq!(command_in("create_detector_config/create_beam_config/create_crystal_config", true), None);
    assert_eq!(command_in("make", true).as_deref(), Some("make"));
    assert_eq!(command_in("pytest", true).as_deref(), Some("pytest"));
    assert_eq!(command_in("./run.sh", true).as_deref(), Some("./run.sh"));
    assert_eq!(command_in("rg -n x src", true).as_deref(), Some("rg -n x src"));
    assert_eq!(
        command_in("golden_suite_generator/nanoBragg -lambda 1", true).as_deref(),
        Some("golden_suite_generator/nanoBragg -lambda 1")
    );
}
