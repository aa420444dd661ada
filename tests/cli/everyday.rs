//! Everyday use: hints that run as printed, colours that keep columns, hooks that survive a
//! missing binary, and fixes that match the rule.

use std::path::Path;

use crate::common::*;

fn demo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "docs/fix_plan.md",
        "# L\n\n## [DEMO-001] Demo\n- Status: in_progress\n- Plan Reference: plans/active/demo.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n",
    );
    write(
        d.path(),
        "plans/active/demo.md",
        "### Phase A — Go\nPrereqs: the team's sign-off\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | do it | [ ] | `echo done > out.txt` |\n",
    );
    d
}

/// The command after `prefix` on the line that starts with it.
fn hint(text: &str, prefix: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no `{prefix}` in {text}")).to_string()
}

#[test]
fn hints_run_as_printed() {
    let d = demo();
    // PATH without loop: the hint names this very binary.
    let o = cmd(d.path()).env("PATH", "/usr/bin:/bin").args(["next"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run_it = hint(&stdout(&o), "Run it with: ");
    assert!(run_it.ends_with(" next --run") && !run_it.starts_with("loop "), "{run_it}");
    let o = std::process::Command::new("sh")
        .args(["-c", &run_it])
        .current_dir(d.path())
        .env("PATH", "/usr/bin:/bin")
        .env("LOOP_NOW", NOW)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(d.path().join("out.txt")).unwrap(), "done\n");
    let record = hint(&stderr(&o), "Record it with: ");
    let o = std::process::Command::new("sh")
        .args(["-c", &record])
        .current_dir(d.path())
        .env("LOOP_NOW", NOW)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(d.path().join("docs/fix_plan.md"))
        .unwrap()
        .contains("Attempt #2 — Result: success"));
    // With `loop` on PATH the hint is plain `loop`.
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let dir = bin.parent().unwrap().display().to_string();
    let d = demo();
    let o = cmd(d.path()).env("PATH", format!("{dir}:/usr/bin:/bin")).args(["next"]).output().unwrap();
    assert_eq!(hint(&stdout(&o), "Run it with: "), "loop next --run");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colours_keep_the_columns_aligned() {
    let d = demo();
    let coloured = stdout(&cmd(d.path()).env_remove("NO_COLOR").args(["--color", "always", "next"]).output().unwrap());
    assert!(coloured.contains('\x1b'), "colour was asked for");
    let plain = stdout(&cmd(d.path()).args(["--color", "never", "next"]).output().unwrap());
    assert!(!plain.contains('\x1b'));
    assert_eq!(strip_ansi(&coloured), plain, "colour adds codes, never spaces");
    // The gate lines' name column starts at the same place whatever the outcome word.
    let gates: Vec<&str> = plain.lines().filter(|l| l.starts_with("  gate ")).collect();
    assert!(gates.len() >= 2, "{plain}");
    assert!(gates.iter().any(|l| l.contains("unchecked")) && gates.iter().any(|l| l.contains("pass")), "{plain}");
    assert!(gates.iter().all(|l| l.as_bytes()[19] == b' ' && l.as_bytes()[20] != b' '), "{plain}");
    // NO_COLOR wins over auto.
    let auto = stdout(&cmd(d.path()).env("NO_COLOR", "1").args(["next"]).output().unwrap());
    assert!(!auto.contains('\x1b'));
}

fn git_repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    git_ok(d.path(), &["init", "-q", "-b", "main"]);
    write(d.path(), "docs/fix_plan.md", "# L\n");
    write(d.path(), "docs/index.md", "* [Guide](./guide.md)\n");
    write(d.path(), "docs/guide.md", "g\n");
    d
}

fn commit_with_path(p: &Path, path: &str, msg: &str) -> std::process::Output {
    std::process::Command::new("git")
        .args(["commit", "-qm", msg])
        .current_dir(p)
        .env("PATH", path)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", p)
        .output()
        .unwrap()
}

#[test]
fn the_hook_prefers_path_falls_back_to_the_recorded_binary_and_says_when_both_are_gone() {
    let d = git_repo();
    let p = d.path();
    // Install from a copy of the binary, as if it were a build that later disappears.
    let bins = tempfile::tempdir().unwrap();
    let copy = bins.path().join("loop-copy");
    std::fs::copy(assert_cmd::cargo::cargo_bin("loop"), &copy).unwrap();
    let o = std::process::Command::new(&copy)
        .args(["hook", "install"])
        .current_dir(p)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let sys = "/usr/local/bin:/usr/bin:/bin";
    // No loop on PATH: the recorded binary guards the commit.
    write(p, "reports/r.json", "{}");
    git_ok(p, &["add", "-A"]);
    let o = commit_with_path(p, sys, "with a report");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("reports/r.json"), "{}", String::from_utf8_lossy(&o.stderr));
    // A `loop` on PATH is preferred.
    let on_path = tempfile::tempdir().unwrap();
    write(on_path.path(), "loop", "#!/bin/sh\necho path-loop-ran >&2\nexit 0\n");
    std::process::Command::new("chmod").args(["755", on_path.path().join("loop").to_str().unwrap()]).status().unwrap();
    let o = commit_with_path(p, &format!("{}:{sys}", on_path.path().display()), "path loop");
    assert!(String::from_utf8_lossy(&o.stderr).contains("path-loop-ran"));
    // Neither: a clear message naming both, and the commit is refused.
    write(p, "reports/s.json", "{}");
    git_ok(p, &["add", "-A"]);
    std::fs::remove_file(&copy).unwrap();
    let o = commit_with_path(p, sys, "nothing to run");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no `loop` on PATH") && err.contains(&copy.display().to_string()), "{err}");
    // `hook status` says the same.
    let o = cmd(p).env("PATH", sys).args(["hook", "status"]).output().unwrap();
    assert!(stdout(&o).contains("nothing: neither `loop` on PATH nor the recorded binary exists"), "{}", stdout(&o));
    assert!(stderr(&o).contains("the hook cannot run"), "{}", stderr(&o));
}

#[test]
fn install_warns_about_a_build_folder_and_uninstall_says_what_was_there() {
    let d = git_repo();
    let p = d.path();
    // The test binary lives in target/release (or target/debug): a build folder.
    let o = cmd(p).env("PATH", "/usr/bin:/bin").args(["hook", "install"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("inside a build folder") && stderr(&o).contains("cargo install --path ."),
        "{}",
        stderr(&o)
    );
    let o = cmd(p).args(["hook", "uninstall"]).output().unwrap();
    assert!(stdout(&o).starts_with("removed loop's hook from"), "{}", stdout(&o));
    let o = cmd(p).args(["hook", "uninstall"]).output().unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("nothing to remove: no loop hook at"), "{}", stdout(&o));
    let o = cmd(p).args(["hook", "status"]).output().unwrap();
    assert!(stdout(&o).contains("no pre-commit hook"), "{}", stdout(&o));
}

#[test]
fn guard_advice_matches_the_rule() {
    let d = git_repo();
    let p = d.path();
    git_ok(p, &["add", "-A"]);
    git_ok(p, &["commit", "-qm", "base"]);
    git_ok(p, &["rm", "-q", "docs/guide.md"]);
    write(p, "reports/x.json", "{}");
    std::fs::write(p.join("big.bin"), vec![1u8; 6_000_000]).unwrap();
    git_ok(p, &["add", "-A"]);
    let o = cmd(p).args(["guard", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    let fix = |rule: &str| -> String {
        j["violations"].as_array().unwrap().iter().find(|v| v["rule"] == rule).unwrap()["fix"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(fix("protected_deleted").starts_with("restore the file: `git restore --staged --worktree docs/guide.md`"));
    assert!(fix("protected_deleted").contains("docs/index.md"));
    assert!(fix("reports").starts_with("unstage the report: `git restore --staged reports/x.json`"));
    assert!(fix("too_large").contains("Git LFS"));
    let text = stderr(&cmd(p).args(["guard"]).output().unwrap());
    assert!(text.contains("    fix: restore the file"), "{text}");
}

#[test]
fn a_blocked_step_says_why_once() {
    let d = demo();
    let plan = d.path().join("plans/active/demo.md");
    let text = std::fs::read_to_string(&plan).unwrap().replace("| [ ] |", "| [ ] |\n| A2 | wait | [B] | `true` |");
    std::fs::write(&plan, text).unwrap();
    let o = run(d.path(), &["next", "--run"]);
    assert_eq!(o.status.code(), Some(1));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(all.matches("task A2 is [B]").count(), 2, "the gate line and the BLOCKED line: {all}");
    assert_eq!(all.matches("BLOCKED").count(), 1, "{all}");
    assert!(!stderr(&o).contains("blocked:"), "no second report on stderr: {}", stderr(&o));
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
