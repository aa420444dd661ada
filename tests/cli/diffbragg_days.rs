//! diffbragg_example on five more days (tests/fixtures/diffbragg/SOURCE.md: whole files, lengths
//! checked against the index). For each state, what a careful person reads in it — which item
//! is next, its attempts, the step — and where one more attempt goes, byte for byte.

use std::path::Path;

use super::common::*;

/// (ID, attempts, open) of every item, as `status --json` reads them.
fn items(p: &Path) -> Vec<(String, usize, bool)> {
    let st = json(&run(p, &["status", "--json"]));
    st["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["attempts"].as_array().unwrap().len(),
                i["open"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn own(id: &str, n: usize, open: bool) -> (String, usize, bool) {
    (id.to_string(), n, open)
}

/// `attempt ITEM --result partial --note x` adds exactly `line` before `anchor`.
fn adds_before(p: &Path, item: &str, anchor: &str, line: &str) {
    let ledger = p.join("docs/fix_plan.md");
    let before = std::fs::read_to_string(&ledger).unwrap();
    let o = run(p, &["attempt", item, "--result", "partial", "--note", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&ledger).unwrap();
    let at = before.find(anchor).unwrap_or_else(|| panic!("{anchor}"));
    assert_eq!(after, format!("{}{line}{}", &before[..at], &before[at..]));
}

fn state(sha: &str) -> tempfile::TempDir {
    copy_tree(&repo_root().join("tests/fixtures/diffbragg").join(sha))
}

/// 2025-10-28, the ledger's first state: four items, all pending, each with a `* _(pending)_`
/// placeholder. No attempt yet; the first item is next, and it has no plan, no memo and no Next
/// Actions, so there is no step to give — said, with its line.
#[test]
fn first_day_every_item_pending_and_placeholders_are_not_attempts() {
    let d = state("9939a33c");
    let p = d.path();
    let open = |id| own(id, 0, true);
    assert_eq!(
        items(p),
        [open("TORCH-BRIDGE-001"), open("TORCH-RUNTIME-002"), open("TORCH-CLI-003"), open("DOC-HARDEN-001")]
    );
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "BLOCKED docs/fix_plan.md:14: [TORCH-BRIDGE-001] has no plan, no memo naming it and no Next Actions"
        ),
        "{}",
        stdout(&o)
    );
    // The list holds no entry to copy the form of: the first attempt, numbered, after the
    // placeholder.
    adds_before(
        p,
        "TORCH-BRIDGE-001",
        "\n### [TORCH-RUNTIME-002]",
        "  * [2026-01-05] Attempt #1 — Result: partial. Observations: x.\n",
    );
}

/// 2025-11-21: items without a roadmap; the first open one (PERF-WARM-SIM-001) has four stamped
/// entries, newest first at the top of its list. Its plan is not in the copy: `next` names the
/// field's line. An attempt goes at the end of the list, stamped as the list is.
#[test]
fn items_without_a_roadmap_and_a_newest_first_list() {
    let d = state("8bf1ab2c");
    let p = d.path();
    assert_eq!(
        items(p),
        [
            own("PHYSICS-LOSS-001", 10, false),
            own("PERF-WARM-SIM-001", 4, true),
            own("ARCH-REFINE-FLOW-001", 1, true),
            own("TOOLING-VIS-001", 0, true),
            own("DOCS-ROADMAP-001", 0, true),
            own("PERF-SMOKE-DETSIZE", 8, false),
            own("REFINE-SMOKE-CANONICAL", 3, false)
        ]
    );
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("docs/fix_plan.md:47: [PERF-WARM-SIM-001]'s plan field names plans/active/PERF-WARM-SIM-001/implementation.md, which does not exist"), "{}", stderr(&o));
    let st = stdout(&run(p, &["status"]));
    assert!(st.contains("attempts  4 (last: the attempt of 2025-11-21T093152Z implementation, line 49)"), "{st}");
    adds_before(p, "PERF-WARM-SIM-001", "\n### [ARCH-REFINE-FLOW-001]", "  * 2026-01-05T153000Z (partial) — x.\n");
}

/// 2025-12-01: one item with a roadmap bullet that agrees (`**in_progress**`), two stamped
/// entries in its list with nested bullets, and the engineer's own log of the second loop under
/// `## Attempts History` (`### 2025-12-01T084505Z - ARCH-REFINE-001 Phase A.2: …`). Three attempt
/// records; the next one goes in the item's list, after the nested bullets of its last entry.
#[test]
fn an_attempt_logged_under_its_own_heading_counts_and_the_list_keeps_its_form() {
    let d = state("dc48d2cf");
    let p = d.path();
    let listed: Vec<_> = items(p).into_iter().filter(|i| i.2).collect();
    assert_eq!(listed, [own("ARCH-REFINE-001", 3, true)]);
    let st = stdout(&run(p, &["status"]));
    assert!(st.contains("[ARCH-REFINE-001] Refinement Engine Modularization & Torch IO"), "{st}");
    adds_before(p, "ARCH-REFINE-001", "\n## Attempts History", "  * 2026-01-05T153000Z (partial) — x.\n");
}

/// 2025-12-02 (after the ledger was trimmed): the roadmap says ARCH-REFINE-001 is **Done**
/// ("ready to archive") while its section still says `in_progress`; the next Tier 1 item,
/// ARCH-ENGINE-ARTIFACTS-001, is pending. `-### [ARCH-STAGE-CONTEXT-001]` is not a heading (a
/// stray `-`), and `### [PERF-WARM-SIM-001] Attempts History` is that item's only section: its
/// status and title are the roadmap's, its one stamped entry an attempt.
#[test]
fn the_roadmap_closes_an_item_its_section_left_open() {
    let d = state("cac6a3e7");
    let p = d.path();
    let o = run(p, &["next"]);
    // The item chosen is the pending one; its plan is not in the copy.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("docs/fix_plan.md:71: [ARCH-ENGINE-ARTIFACTS-001]'s plan field names"),
        "{}",
        stderr(&o)
    );
    let st = stdout(&run(p, &["status"]));
    assert!(
        st.contains("  docs/fix_plan.md:18: warning: [ARCH-REFINE-001] is `done` here and `in_progress` in its section (line 45); read as closed"),
        "{st}"
    );
    let s = json(&run(p, &["status", "--json"]));
    let refine =
        s["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "ARCH-REFINE-001").unwrap().clone();
    assert_eq!((refine["status"].as_str(), refine["open"].as_bool()), (Some("in_progress"), Some(false)));
    let perf =
        s["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "PERF-WARM-SIM-001").unwrap().clone();
    assert_eq!(perf["title"], "Warm Simulator");
    assert!(perf["status"].as_str().unwrap().starts_with("blocked — Stage C panel-loss path diverges"), "{perf}");
    assert_eq!(perf["attempts"].as_array().unwrap().len(), 1);
    let lint = stdout(&run(p, &["lint"]));
    assert!(
        lint.contains("docs/fix_plan.md:76: warning: `-###` is not a heading: a `-` stands before it, so its lines are read as part of [ARCH-ENGINE-ARTIFACTS-001] (line 61); delete the `-` [stray-heading]"),
        "{lint}"
    );
    // The blocked item's log takes one more entry, at the end of the file, in its form.
    let ledger = p.join("docs/fix_plan.md");
    let before = std::fs::read_to_string(&ledger).unwrap();
    let o = run(p, &["attempt", "PERF-WARM-SIM-001", "--result", "partial", "--note", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), format!("{before}  * 2026-01-05T153000Z (partial) — x.\n"));
}

/// 2025-12-03, with the memo and the plan of its focus: the memo names ARCH-LAZY-IMPORTS-001, its
/// Do Now is work by hand (`- Implement: …`) checked by "the three mapped selectors", which are
/// the `Mapped tests:` list; its Pointers name the plan's line 61 and "Phase B.3", so the task is
/// B3, not the plan's first unticked box (Phase A's, never ticked though the ledger says it is
/// complete — said as a failed gate the memo overrides).
#[test]
fn the_memo_points_into_the_plan_and_its_mapped_tests_are_the_checks() {
    let d = state("4dac69f8");
    let p = d.path();
    let o = run(p, &["next", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = json(&o);
    assert_eq!(n["item"]["id"], "ARCH-LAZY-IMPORTS-001");
    assert_eq!(n["task"]["id"], "B3");
    assert_eq!(n["manual"], true);
    let verify: Vec<&str> = n["verify"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(verify.len(), 3, "{verify:?}");
    for (v, test) in verify.iter().zip([
        "test_stage_a_expansion",
        "test_stage_a_engine_delegation_telemetry",
        "test_stage_c_detector_microslip",
    ]) {
        assert!(
            v.starts_with("AUTHORITATIVE_CMDS_DOC=./docs/TESTING_GUIDE.md ")
                && v.contains(&format!("::{test}"))
                && v.contains("| tee plans/active/ARCH-LAZY-IMPORTS-001/reports/2025-12-03T223500Z/"),
            "{v}"
        );
    }
    assert!(stderr(&o).contains("gate `earlier phases done` fails (Phase A is not done (0/3 tasks [D])), but the memo's Do Now names this step"), "{}", stderr(&o));
    // Without the memo: the roadmap's first Tier 0 item, whose plan is not in the copy.
    std::fs::remove_file(p.join("input.md")).unwrap();
    let o = run(p, &["next"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("docs/fix_plan.md:64: [ARCH-REFACTOR-001]'s plan field names"), "{}", stderr(&o));
    adds_before(
        p,
        "ARCH-LAZY-IMPORTS-001",
        "\n### [ARCH-ENGINE-ARTIFACTS-001]",
        "  * 2026-01-05T153000Z (partial) — x.\n",
    );
}
