//! Unit tests of the structural merge.

use super::*;

const BASE: &str = "# L\n\n**Last Updated:** 2026-01-01\n\n## Index\n| ID | Title | Status |\n| --- | --- | --- |\n| [A-1](#a) | A | open |\n\n## [A-1] A\n- Priority: High\n- Status: open\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n";

#[test]
fn both_append_an_attempt_and_add_an_item() {
    let ours = BASE.replace("**Last Updated:** 2026-01-01", "**Last Updated:** 2026-01-03")
        + "  * [2026-01-03] Attempt #2 — Result: ours.\n\n## [B-2] B\n- Status: open\n";
    let theirs = BASE.replace("**Last Updated:** 2026-01-01", "**Last Updated:** 2026-01-02")
        + "  * [2026-01-02] Attempt #2 — Result: theirs.\n\n## [C-3] C\n- Status: open\n";
    let m = merge(BASE, &ours, &theirs, "f.md");
    assert_eq!(m.conflicts, 0, "{}", m.text);
    assert!(m.text.contains("**Last Updated:** 2026-01-03"));
    assert!(m.text.contains("Attempt #2 — Result: ours."));
    assert!(m.text.contains("Attempt #3 — Result: theirs."), "{}", m.text);
    assert!(m.text.contains("## [B-2] B") && m.text.contains("## [C-3] C"));
    assert_eq!(m.notes.len(), 1);
}

#[test]
fn neighbouring_fields_merge_and_one_field_changed_twice_conflicts_alone() {
    let ours = BASE.replace("- Priority: High", "- Priority: Low");
    let theirs = BASE.replace("- Status: open\n- Attempts", "- Status: done\n- Attempts");
    let m = merge(BASE, &ours, &theirs, "f.md");
    assert_eq!(m.conflicts, 0, "{}", m.text);
    assert!(m.text.contains("- Priority: Low\n- Status: done\n"));
    let ours = BASE.replace("- Status: open\n- Attempts", "- Status: blocked\n- Attempts");
    let m = merge(BASE, &ours, &theirs, "f.md");
    assert_eq!(m.conflicts, 1);
    assert!(
        m.text.contains(
            "- Priority: High\n<<<<<<< ours\n- Status: blocked\n=======\n- Status: done\n>>>>>>> theirs\n- Attempts"
        ),
        "{}",
        m.text
    );
}

#[test]
fn task_states_take_the_further_one() {
    let base = "### Phase A — x\n\n| ID | Task | State | How |\n| --- | --- | --- | --- |\n| A1 | a | [ ] | g |\n";
    let o = base.replace("| [ ] |", "| [P] |");
    let t = base.replace("| [ ] |", "| [D] |");
    assert!(merge(base, &o, &t, "p.md").text.contains("| A1 | a | [D] | g |"));
    let o = base.replace("| [ ] |", "| [B] |");
    assert_eq!(merge(base, &o, &t, "p.md").conflicts, 1);
}

#[test]
fn index_rows_are_one_per_item() {
    let row = |st: &str| format!("| [B-2](#b) | B | {st} |\n");
    let add = |st: &str| BASE.replace("| [A-1](#a) | A | open |\n", &format!("| [A-1](#a) | A | open |\n{}", row(st)));
    // The same new row on both sides is one row.
    let m = merge(BASE, &add("open"), &add("open"), "f.md");
    assert_eq!((m.conflicts, m.text.matches("[B-2]").count()), (0, 1), "{}", m.text);
    // The same item's row added with two statuses is a conflict on THEIRS' row only.
    let m = merge(BASE, &add("open"), &add("done"), "f.md");
    assert_eq!(m.conflicts, 1, "{}", m.text);
    assert!(
        m.text.contains(&format!("{}<<<<<<< ours\n=======\n{}>>>>>>> theirs\n", row("open"), row("done"))),
        "{}",
        m.text
    );
}

#[test]
fn deleted_unchanged_is_deleted() {
    let ours = BASE.replace("## [A-1] A\n- Priority: High\n- Status: open\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n", "");
    let m = merge(BASE, &ours, BASE, "f.md");
    assert!(!m.text.contains("## [A-1]"));
    assert_eq!(m.text, ours);
}
