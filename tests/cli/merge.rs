//! `loop merge`: the five real merges that conflicted under git's line merge, and two real
//! clones of a repository pulling each other's attempts and items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::*;

const MERGES: [&str; 5] = ["28b5d940", "3d751b79", "56c46b27", "5d5c411f", "7a53a388"];

fn merge_dir(name: &str) -> std::path::PathBuf {
    nanobragg("merges").join(name)
}

/// Merge one fixture with the driver into a temp workspace's docs/fix_plan.md; (exit code, dir).
fn drive(name: &str) -> (Option<i32>, tempfile::TempDir) {
    let (o, d) = drive_with(name, &[]);
    assert_ne!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
    (o.status.code(), d)
}

/// The same with more arguments (`--json`): the driver's output, and the dir.
fn drive_with(name: &str, extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let m = merge_dir(name);
    write(d.path(), "docs/fix_plan.md", &std::fs::read_to_string(m.join("ours.md")).unwrap());
    let ours = d.path().join("docs/fix_plan.md");
    let (base, theirs) = (m.join("base.md"), m.join("theirs.md"));
    let mut args = vec![
        "merge",
        "file",
        base.to_str().unwrap(),
        ours.to_str().unwrap(),
        theirs.to_str().unwrap(),
        "--path",
        "docs/fix_plan.md",
    ];
    args.extend(extra);
    (run(d.path(), &args), d)
}

fn items(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split(']').next())
        .map(str::to_string)
        .collect()
}

/// Lines a side added relative to base (by content).
fn added<'a>(base: &str, side: &'a str) -> Vec<&'a str> {
    let b: BTreeSet<&str> = base.lines().collect();
    side.lines().filter(|l| !b.contains(l) && !l.trim().is_empty()).collect()
}

/// Per item, the attempt numbers that appear more than once.
fn repeated_attempts(root: &Path) -> BTreeMap<(String, usize), usize> {
    let j = json(&run(root, &["status", "--json"]));
    let mut out = BTreeMap::new();
    for (k, item) in j["ledger"]["items"].as_array().unwrap().iter().enumerate() {
        let mut seen = BTreeSet::new();
        let dups = item["attempts"].as_array().unwrap().iter().filter(|a| !seen.insert(a["number"].as_u64())).count();
        out.insert((item["id"].as_str().unwrap().to_string(), k), dups);
    }
    out
}

fn lint_errors(root: &Path) -> BTreeSet<String> {
    let j = json(&run(root, &["lint", "--json"]));
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| format!("{} {}", f["code"], f["message"].as_str().unwrap().split(" at line ").next().unwrap()))
        .collect()
}

#[test]
fn the_five_real_merges_keep_everything_both_sides_added() {
    for name in MERGES {
        let m = merge_dir(name);
        let read = |f: &str| std::fs::read_to_string(m.join(f)).unwrap();
        let (base, ours, theirs) = (read("base.md"), read("ours.md"), read("theirs.md"));
        let (code, d) = drive(name);
        // Each conflicted under git's line merge; every side's change here is to different lines
        // or is an insertion both sides made at one place, so the driver merges cleanly.
        assert_eq!(code, Some(0), "{name}");
        let merged = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
        assert!(!merged.contains("<<<<<<<"), "{name}");
        let have: BTreeSet<&str> = merged.lines().collect();
        assert!(items(&ours).union(&items(&theirs)).all(|i| items(&merged).contains(i)), "{name}: an item was lost");
        for l in added(&base, &ours).into_iter().chain(added(&base, &theirs)) {
            assert!(have.contains(l) || l.contains("Attempt #"), "{name}: lost {l}");
        }
        // No attempt number twice within an item that was not already twice in a side.
        let mut sides = Vec::new();
        for side in [&ours, &theirs] {
            let s = tempfile::tempdir().unwrap();
            write(s.path(), "docs/fix_plan.md", side);
            sides.push(s);
        }
        let (ro, rt, rm) =
            (repeated_attempts(sides[0].path()), repeated_attempts(sides[1].path()), repeated_attempts(d.path()));
        let worst = |id: &str, map: &BTreeMap<(String, usize), usize>| {
            map.iter().filter(|((i, _), _)| i == id).map(|(_, n)| *n).sum::<usize>()
        };
        for ((id, _), _) in rm.iter() {
            assert!(
                worst(id, &rm) <= worst(id, &ro).max(worst(id, &rt)),
                "{name}: [{id}] has a new repeated attempt number"
            );
        }
        // status and lint read the result without new errors.
        assert_eq!(run(d.path(), &["status"]).status.code(), Some(0), "{name}");
        let before: BTreeSet<String> =
            lint_errors(sides[0].path()).union(&lint_errors(sides[1].path())).cloned().collect();
        let new: Vec<String> = lint_errors(d.path()).difference(&before).cloned().collect();
        assert!(new.is_empty(), "{name}: new lint errors {new:?}");
    }
}

#[test]
fn the_driver_keeps_what_the_peoples_resolutions_lost() {
    let resolved = |name: &str| std::fs::read_to_string(merge_dir(name).join("resolved.md")).unwrap();
    let merged = |name: &str| std::fs::read_to_string(drive(name).1.path().join("docs/fix_plan.md")).unwrap();
    // 28b5d940: people committed conflict markers into the ledger.
    assert!(resolved("28b5d940").lines().any(|l| l.starts_with("<<<<<<<")));
    assert!(!merged("28b5d940").contains("<<<<<<<"));
    // 3d751b79: people dropped the whole [META] item.
    assert!(!resolved("3d751b79").contains("## [META]"));
    assert!(merged("3d751b79").contains("## [META] Fix Plan Structure Refresh"));
    // 7a53a388: people dropped the CLI-DTYPE-002 Index row.
    let row = "| [CLI-DTYPE-002](#cli-dtype-002-cli-dtype-parity) | CLI dtype parity | High | in_progress |";
    assert!(!resolved("7a53a388").contains(row));
    assert!(merged("7a53a388").contains(row));
    // 56c46b27: people dropped a header line.
    let header = "**Last Updated:** 2025-10-05 (galph loop AM)";
    assert!(!resolved("56c46b27").contains(header));
    assert!(merged("56c46b27").contains(header));
}

const LEDGER: &str = "# Ledger\n\n**Last Updated:** 2026-01-01\n\n## Index\n| ID | Title | Priority | Status |\n| --- | --- | --- | --- |\n| [A-1](#a-1-one) | One | High | in_progress |\n\n## [A-1] One\n- Priority: High\n- Status: in_progress\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n- Next Actions:\n  1. go\n";

fn clone_pair() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let origin = d.path().join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    git_ok(&origin, &["init", "-q", "-b", "main"]);
    write(&origin, "docs/fix_plan.md", LEDGER);
    git_ok(&origin, &["add", "-A"]);
    git_ok(&origin, &["commit", "-qm", "base"]);
    git_ok(&origin, &["config", "receive.denyCurrentBranch", "ignore"]);
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    for c in [&a, &b] {
        git_ok(d.path(), &["clone", "-q", origin.to_str().unwrap(), c.file_name().unwrap().to_str().unwrap()]);
        let o = cmd(c).args(["merge", "install"]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        // .gitattributes is a new, untracked file: the user is told to commit it, and that each
        // clone needs the driver.
        assert!(stdout(&o).contains("Commit .gitattributes") && stdout(&o).contains("in each clone"), "{}", stdout(&o));
    }
    (d, a, b)
}

fn append_item(root: &Path, id: &str) {
    let p = root.join("docs/fix_plan.md");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{text}\n## [{id}] New from {id}\n- Status: open\n")).unwrap();
}

#[test]
fn two_clones_record_attempts_and_items_and_pull_cleanly() {
    let (_d, a, b) = clone_pair();
    // .gitattributes is idempotent and keeps what was there.
    let attrs = std::fs::read_to_string(a.join(".gitattributes")).unwrap();
    assert!(attrs.contains("docs/fix_plan.md merge=loop") && attrs.contains("plans/active/**/*.md merge=loop"));
    assert!(cmd(&a).args(["merge", "install"]).output().unwrap().status.success());
    assert_eq!(std::fs::read_to_string(a.join(".gitattributes")).unwrap(), attrs);
    for (c, who) in [(&a, "A-ONE"), (&b, "B-TWO")] {
        let o =
            cmd(c).args(["attempt", "A-1", "--result", "partial", "--note", &format!("from {who}")]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        append_item(c, who);
        git_ok(c, &["commit", "-qam", who]);
    }
    git_ok(&a, &["push", "-q", "origin", "main"]);
    let o = git(&b, &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"]);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(b.join("docs/fix_plan.md")).unwrap();
    assert!(!text.contains("<<<<<<<"), "{text}");
    assert!(text.contains("## [A-ONE]") && text.contains("## [B-TWO]"), "{text}");
    let a2 = text.lines().find(|l| l.contains("from A-ONE")).unwrap();
    let b2 = text.lines().find(|l| l.contains("from B-TWO")).unwrap();
    assert!(b2.contains("Attempt #2") && a2.contains("Attempt #3"), "{a2}\n{b2}");
    // `hook status` reports the driver; uninstall removes it.
    assert!(stdout(&cmd(&b).args(["hook", "status"]).output().unwrap()).contains("merge driver: installed"));
    let o = cmd(&b).args(["merge", "uninstall"]).output().unwrap();
    assert!(stdout(&o).contains("merge driver removed"));
    assert!(!std::fs::read_to_string(b.join(".gitattributes")).unwrap().contains("merge=loop"));
    assert!(git(&b, &["config", "merge.loop.driver"]).stdout.is_empty());
}

#[test]
fn a_real_conflict_is_marked_on_its_line_only_and_resolves_by_hand() {
    let (_d, a, b) = clone_pair();
    // Two identical-looking attempts on the same day are still two runs.
    let o = cmd(&a).args(["attempt", "A-1", "--result", "partial"]).output().unwrap();
    assert!(o.status.success());
    git_ok(&a, &["commit", "-qam", "same from a"]);
    let o = cmd(&b).args(["attempt", "A-1", "--result", "partial"]).output().unwrap();
    assert!(o.status.success());
    git_ok(&b, &["commit", "-qam", "same from b"]);
    for (c, status) in [(&a, "blocked"), (&b, "done")] {
        let o = cmd(c).args(["attempt", "A-1", "--result", "partial", "--status", status]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        git_ok(c, &["commit", "-qam", status]);
    }
    git_ok(&a, &["push", "-q", "origin", "main"]);
    let o = git(&b, &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"]);
    assert!(!o.status.success(), "a real conflict stops the merge");
    let text = std::fs::read_to_string(b.join("docs/fix_plan.md")).unwrap();
    assert_eq!(text.matches("<<<<<<<").count(), 2, "the Status field and its Index row: {text}");
    assert!(
        text.contains("- Priority: High\n<<<<<<< ours\n- Status: done\n=======\n- Status: blocked\n>>>>>>> theirs\n"),
        "{text}"
    );
    // All four attempts are there, numbered apart, outside the markers.
    for n in 2..=5 {
        assert_eq!(text.matches(&format!("Attempt #{n} ")).count(), 1, "#{n}: {text}");
    }
    // Resolve as a person (or `git mergetool`) would: pick a side, add, commit.
    let fixed = text
        .replace("<<<<<<< ours\n- Status: done\n=======\n- Status: blocked\n>>>>>>> theirs\n", "- Status: done\n")
        .replace("<<<<<<< ours\n| [A-1](#a-1-one) | One | High | done |\n=======\n| [A-1](#a-1-one) | One | High | blocked |\n>>>>>>> theirs\n", "| [A-1](#a-1-one) | One | High | done |\n");
    assert!(!fixed.contains("<<<<<<<"), "{fixed}");
    std::fs::write(b.join("docs/fix_plan.md"), fixed).unwrap();
    git_ok(&b, &["add", "docs/fix_plan.md"]);
    git_ok(&b, &["commit", "-qm", "resolved"]);
    assert_eq!(run(&b, &["lint"]).status.code(), Some(0), "{}", stdout(&run(&b, &["lint"])));
}

#[test]
fn bad_input_is_exit_2_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "base.md", "# x\n");
    write(d.path(), "ours.md", "# x\n");
    std::fs::write(d.path().join("theirs.md"), b"# x\n\xff\n").unwrap();
    let o = run(d.path(), &["merge", "file", "base.md", "ours.md", "theirs.md"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("theirs.md:2: not valid UTF-8"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(d.path().join("ours.md")).unwrap(), "# x\n");
    let o = run(d.path(), &["merge", "file", "base.md", "ours.md", "missing.md"]);
    assert_eq!(o.status.code(), Some(2));
}

/// 3d751b79: both sides added an item. The driver says what it resolved that git's line merge
/// would have left conflicted, and the two items come out in one order in the Index and in the
/// sections.
#[test]
fn both_sides_adding_an_item_is_said_and_ordered_alike() {
    let (o, d) = drive_with("3d751b79", &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let notes = json(&o)["notes"].to_string();
    assert!(
        notes.contains("[META] (theirs) and [AT-PARALLEL-012-REGRESSION] (ours) were added at the same place"),
        "{notes}"
    );
    assert!(notes.contains("Index: both sides added lines at the same place; kept both, ours first"), "{notes}");
    let text = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    let at = |s: &str| text.find(s).unwrap();
    assert!(at("- [AT-PARALLEL-012-REGRESSION]") < at("- [META]"));
    assert!(at("## [AT-PARALLEL-012-REGRESSION]") < at("## [META]"));
}
