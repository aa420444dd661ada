//! What a user sees, whole: `--help`, `status`, `next` and `brief` as text on real workspaces,
//! compared with the files in tests/cli/snapshots/ (insta). The clock is fixed, colour is off,
//! and the temp folder and the binary's path read `[ROOT]` and `loop`. After a deliberate
//! change, `INSTA_UPDATE=always cargo test --release snapshots` rewrites them, and `git diff`
//! shows a reviewer what a user will see differently.

use std::path::Path;

use super::common::*;

/// The command's stdout and stderr, exit code first, with the paths that change from run to run
/// replaced.
fn seen(root: &Path, args: &[&str]) -> String {
    let o = run(root, args);
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let mut text = format!("$ loop {}\nexit {}\n", args.join(" "), o.status.code().unwrap_or(-1));
    for (name, out) in [("stdout", stdout(&o)), ("stderr", stderr(&o))] {
        if !out.is_empty() {
            text.push_str(&format!("--- {name}\n{out}"));
        }
    }
    // The temp folder may be reached through a symlink (macOS /var → /private/var).
    let real = root.canonicalize().unwrap();
    text.replace(&bin.display().to_string(), "loop")
        .replace(&real.display().to_string(), "[ROOT]")
        .replace(&root.display().to_string(), "[ROOT]")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

macro_rules! assert_seen {
    ($name:expr, $text:expr) => {
        settings().bind(|| insta::assert_snapshot!($name, $text))
    };
}

#[test]
fn help_pages() {
    let root = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help_next", &["next", "--help"]),
        ("help_attempt", &["attempt", "--help"]),
        ("help_status", &["status", "--help"]),
    ] {
        assert_seen!(name, seen(root.path(), args));
    }
}

/// Each real dialect's state: nanoBragg's workspace, a PtychoPINN state and a diffbragg state.
#[test]
fn status_next_and_brief_on_real_states() {
    let states = [
        ("nanobragg", nanobragg("workspace")),
        ("ptychopinn", fixtures().join("ptychopinn/86ba9a98")),
        ("diffbragg", fixtures().join("diffbragg/85a9e387")),
    ];
    for (name, src) in states {
        let d = copy_tree(&src);
        for cmd in ["status", "next", "brief"] {
            assert_seen!(format!("{cmd}_{name}"), seen(d.path(), &[cmd]));
        }
    }
}

/// What loop says where there is nothing it can read: an empty folder, and a ledger with no
/// items it recognises.
#[test]
fn what_loop_says_when_it_cannot_read() {
    let d = tempfile::tempdir().unwrap();
    assert_seen!("status_empty_folder", seen(d.path(), &["status"]));
    write(d.path(), "docs/fix_plan.md", "# Fix plan\n\nNothing here is an item.\n");
    assert_seen!("next_no_items", seen(d.path(), &["next"]));
}
