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
    // What git's line merge would have left conflicted is said, with the rule that resolved it:
    // the renumbered attempt, Last Updated, both attempts kept, both items kept in one order.
    let notes = m.notes.join("\n");
    assert!(notes.contains("theirs' Attempt #2 renumbered to #3"), "{notes}");
    assert!(notes.contains("Last Updated; kept the later date"), "{notes}");
    assert!(notes.contains("both sides added lines at the same place; kept both, ours first"), "{notes}");
    assert!(notes.contains("[C-3] (theirs) and [B-2] (ours) were added at the same place"), "{notes}");
    assert!(m.text.find("## [B-2]") < m.text.find("## [C-3]"), "ours first, as the Index rows are");
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

/// Found by the `merge_returns_on_any_three_texts` property: with repeated lines the diff placed
/// an insertion before a deletion it follows, and the merge sliced backwards.
#[test]
fn an_insertion_after_a_deletion_of_repeated_lines_does_not_panic() {
    let b = "### [A-1] Attempt #3 — Result: x\n### [A-1] Attempt #3 — Result: x\n```\né✅—- Attempts History:\n### [A-1] Attempt #3 — Result: x\n### [A-1] Attempt #3 — Result: x\n### [A-1] Attempt #3 — Result: x\n### [A-1] Attempt #3 — Result: x\n## [A-1] Item\n```\n### [A-1] Attempt #3 — Result: x\n```\n## [A-1] Item\n### 2026-01-22T02:40Z — seed S1 (initial)\n\r\n| A1 | x | [D] | `true` |\n```\n";
    let o = "\né✅—- Attempts History:\n\r\n\r\n\n\u{feff}| A1 | x | [D] | `true` |\n> | A1 | x | [D] | `true` |\n| A1 | x | [D] | `true` |\n| A1 | x | [D] | `true` |\n\n| A1 | x | [D] | `true` |\n- Status: done\n| A1 | x | [D] | `true` |\n## [A-1] Item\n\n\n\n\n\n\n\n\n";
    let t = "";
    let m = merge(b, o, t, "docs/fix_plan.md");
    assert!(m.conflicts == 0 || m.text.contains("<<<<<<< "));
}

#[test]
fn a_side_left_as_base_gives_the_other_side_byte_for_byte() {
    // Found by the mutation fuzzer: theirs equal to base gave ours plus a final newline.
    for (base, ours) in [("## [A-1] One\n- Status: open", "## [A-1] One\n- Status: done"), ("a\r\nb", "a\r\nb\r\nc")] {
        assert_eq!(merge(base, ours, base, "l").text, ours);
        assert_eq!(merge(base, base, ours, "l").text, ours);
        assert_eq!(merge(base, ours, ours, "l").text, ours);
    }
}
