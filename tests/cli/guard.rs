use std::path::Path;

use crate::common::*;

/// A git repository holding a small workspace, with loop's hook installed.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git_ok(p, &["init", "-q", "-b", "main"]);
    write(p, "docs/fix_plan.md", "# L\n\n## [A-1] One\n- Status: open\n");
    write(p, "docs/index.md", "* [Guide](./guide.md) — protected\n* [Script](<../run me.sh>) — protected\n");
    write(p, "docs/guide.md", "guide\n");
    write(p, "run me.sh", "echo\n");
    write(p, "src/ünï.txt", "x\n");
    let o = cmd(p).args(["hook", "install"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    d
}

fn commit(p: &Path, msg: &str) -> std::process::Output {
    git(p, &["commit", "-qm", msg])
}

#[test]
fn initial_commit_is_checked_and_reports_block() {
    let d = repo();
    let p = d.path();
    write(p, "reports/x/trace.json", "{}");
    git_ok(p, &["add", "-A"]);
    // Unborn HEAD: the first commit is checked too.
    let o = commit(p, "first");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    // No loop.yaml: the refusal is the default's, not a policy the repository does not have.
    assert!(
        err.contains("reports/x/trace.json: run artifacts under reports/ stay out of git (the default `reports:` policy, refuse)"),
        "{err}"
    );
    assert!(err.contains("git restore --staged") && err.contains("--no-verify"), "{err}");
    git_ok(p, &["rm", "-q", "--cached", "reports/x/trace.json"]);
    let o = commit(p, "first");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(git_ok(p, &["ls-files", "reports"]), "");
}

#[test]
fn reports_allow_list_lets_a_readme_through() {
    let d = repo();
    let p = d.path();
    write(p, "loop.yaml", "reports: {policy: refuse}\nreports_allow: ['reports/**/README.md']\n");
    write(p, "reports/README.md", "artifacts live here\n");
    write(p, "reports/run/trace.json", "{}");
    git_ok(p, &["add", "-A"]);
    // The allowed README passes; the trace beside it does not.
    let o = commit(p, "first");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("reports/run/trace.json"), "{err}");
    assert!(err.contains("(loop.yaml `reports:` policy refuse)"), "{err}");
    assert!(!err.contains("reports/README.md"), "{err}");
    git_ok(p, &["rm", "-q", "--cached", "reports/run/trace.json"]);
    let o = commit(p, "first");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(git_ok(p, &["ls-files", "reports"]).trim(), "reports/README.md");
}

#[test]
fn a_loop_yaml_path_outside_the_workspace_is_refused_not_a_panic() {
    let d = repo();
    let p = d.path();
    write(p, "loop.yaml", "index: ../outside/x.md\n");
    git_ok(p, &["add", "-A"]);
    let o = cmd(p).arg("guard").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("loop.yaml:1: index: `../outside/x.md` leaves the workspace"), "{}", stderr(&o));
}

fn committed() -> tempfile::TempDir {
    let d = repo();
    git_ok(d.path(), &["add", "-A"]);
    let o = commit(d.path(), "base");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    d
}

#[test]
fn deleting_a_protected_asset_blocks_unless_unlisted() {
    let d = committed();
    let p = d.path();
    git_ok(p, &["rm", "-q", "docs/guide.md"]);
    let o = commit(p, "drop guide");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("docs/guide.md: protected asset deleted"));
    // Unlinking it from the index in the same commit makes it deliberate.
    write(p, "docs/index.md", "* [Script](<../run me.sh>) — protected\n");
    git_ok(p, &["add", "docs/index.md"]);
    let o = commit(p, "drop guide and its index line");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn agent_docs_can_name_protected_assets() {
    let d = committed();
    let p = d.path();
    write(p, "CLAUDE.md", "- `src/ünï.txt` is a protected asset: never delete it.\n");
    git_ok(p, &["add", "CLAUDE.md"]);
    assert!(commit(p, "rules").status.success());
    git_ok(p, &["rm", "-q", "src/ünï.txt"]);
    let o = commit(p, "drop");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("an agent doc calls it a protected asset"));
}

#[test]
fn renaming_a_protected_asset_blocks_even_with_spaces_in_the_name() {
    let d = committed();
    let p = d.path();
    git_ok(p, &["mv", "run me.sh", "run.sh"]);
    let o = commit(p, "rename");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("'run me.sh': protected asset renamed"), "{err}");
}

#[test]
fn works_from_a_subdirectory_with_non_ascii_paths() {
    let d = committed();
    let p = d.path();
    write(p, "src/ünï.txt", "changed\n");
    write(p, "reports/ä ö/trace.json", "{}");
    git_ok(p, &["add", "-A"]);
    let o = cmd(&p.join("src")).args(["guard", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j = json(&o);
    let v = j["violations"].as_array().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["path"], "reports/ä ö/trace.json");
    assert_eq!(v[0]["rule"], "reports");
    assert_eq!(j["staged"], 2);
}

#[test]
fn large_files_block() {
    let d = committed();
    let p = d.path();
    std::fs::write(p.join("big.bin"), vec![7u8; 6_000_000]).unwrap();
    git_ok(p, &["add", "big.bin"]);
    let o = commit(p, "big");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("big.bin: 6000000 bytes is over the 5000000-byte limit"));
}

#[test]
fn frozen_assets_may_not_change() {
    let d = committed();
    let p = d.path();
    write(p, "loop.yaml", "frozen: ['docs/guide.md']\n");
    write(p, "docs/guide.md", "edited\n");
    git_ok(p, &["add", "docs/guide.md"]);
    let o = cmd(p).args(["guard"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("docs/guide.md: protected asset marked frozen"), "{}", stderr(&o));
    // Without frozen, humans edit protected docs on purpose.
    std::fs::remove_file(p.join("loop.yaml")).unwrap();
    assert!(cmd(p).args(["guard"]).output().unwrap().status.success());
}

#[test]
fn chains_with_an_existing_hook_and_uninstall_restores_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git_ok(p, &["init", "-q"]);
    write(p, "docs/fix_plan.md", "# L\n");
    let hook = p.join(".git/hooks/pre-commit");
    let theirs = "#!/bin/sh\necho theirs-ran >> \"$(git rev-parse --show-toplevel)/hook.log\"\n";
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, theirs).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&hook).unwrap().permissions(), 0o755);
    std::process::Command::new("chmod").args(["755", hook.to_str().unwrap()]).status().unwrap();
    // Refused without --chain.
    let o = cmd(p).args(["hook", "install"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--chain"));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
    let o = cmd(p).args(["hook", "install", "--chain"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("chained"));
    // Both run: theirs first, then the guard refuses reports/.
    write(p, "reports/a.json", "{}");
    git_ok(p, &["add", "reports/a.json", "docs/fix_plan.md"]);
    let o = commit(p, "x");
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(p.join("hook.log")).unwrap(), "theirs-ran\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("reports/a.json"));
    let o = cmd(p).args(["hook", "uninstall"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
    assert!(!p.join(".git/hooks/pre-commit.loop-chained").exists());
    // Uninstall leaves a foreign hook alone.
    assert_eq!(cmd(p).args(["hook", "uninstall"]).output().unwrap().status.code(), Some(2));
}

#[test]
fn hooks_path_and_worktrees() {
    let d = committed();
    let p = d.path();
    // A worktree shares the hook and is guarded too.
    let wt = tempfile::tempdir().unwrap();
    let wt_path = wt.path().join("wt");
    git_ok(p, &["worktree", "add", "-q", wt_path.to_str().unwrap()]);
    write(&wt_path, "reports/r.txt", "x");
    git_ok(&wt_path, &["add", "-A"]);
    let o = commit(&wt_path, "in worktree");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("reports/r.txt"));
    // core.hooksPath is honoured.
    git_ok(p, &["config", "core.hooksPath", ".githooks"]);
    let o = cmd(p).args(["hook", "install"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(p.join(".githooks/pre-commit").is_file());
    let st = json(&cmd(p).args(["hook", "status", "--json"]).output().unwrap());
    assert_eq!(st["installed"], "loop");
}

#[test]
fn outside_a_repository_is_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let o = cmd(d.path()).env("GIT_CEILING_DIRECTORIES", d.path().parent().unwrap()).args(["guard"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("git:"), "{}", stderr(&o));
}

#[test]
fn an_unignored_reports_readme_passes_and_publish_lets_small_reports_in() {
    let d = repo();
    let p = d.path();
    // A project that ignores its run folders but tracks the folder's README.
    write(p, ".gitignore", "/reports/*\n!/reports/README.md\n");
    write(p, "reports/README.md", "# Reports\n");
    git_ok(p, &["add", "-A"]);
    let o = commit(p, "first");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    write(p, "reports/x/trace.json", "{}");
    git_ok(p, &["add", "-f", "reports/x/trace.json"]);
    assert!(!commit(p, "forced").status.success(), "a forced run artifact still stops the commit");
    git_ok(p, &["rm", "-q", "--cached", "reports/x/trace.json"]);
    // `publish`: small files of the listed kinds go in; other kinds, big files and logs do not.
    write(p, "loop.yaml", "reports: {policy: publish, extensions: [md, json], max_file_bytes: 100}\n");
    write(p, ".gitignore", "*.log\n");
    write(p, "reports/r1/summary.md", "fine\n");
    write(p, "reports/r1/metrics.json", "{\"corr\": 1}\n");
    git_ok(p, &["add", "-A"]);
    let o = commit(p, "publish");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    write(p, "reports/r2/trace.bin", "x");
    write(p, "reports/r2/big.json", &"x".repeat(200));
    write(p, "reports/r2/run.log", "x");
    git_ok(p, &["add", "-A"]);
    git_ok(p, &["add", "-f", "reports/r2/run.log"]);
    let o = commit(p, "too much");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("reports/r2/trace.bin: not a kind `reports.extensions` publishes (.md, .json)"), "{err}");
    assert!(err.contains("reports/r2/big.json: 200 bytes is over `reports.max_file_bytes` (100)"), "{err}");
    assert!(err.contains("reports/r2/run.log: a .log file"), "{err}");
}

#[test]
fn a_write_cut_short_is_refused_until_loop_finishes_it() {
    let d = committed();
    let p = d.path();
    // What a kill between the ledger's and the plan's rename leaves: the recorded intent.
    write(p, "reports/.loop-intent.json", "{\"files\": []}");
    write(p, "docs/fix_plan.md", "# L\n\n## [A-1] One\n- Status: done\n");
    git_ok(p, &["add", "docs/fix_plan.md"]);
    let o = commit(p, "torn");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("reports/.loop-intent.json: a loop write"), "{err}");
    assert!(err.contains("`loop status` finishes the write"), "{err}");
    // Any loop command finishes (here: clears) it; then the commit goes through.
    cmd(p).arg("status").output().unwrap();
    assert!(!p.join("reports/.loop-intent.json").exists());
    let o = commit(p, "whole");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_guard_hint_for_a_renamed_asset_undoes_both_halves() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git_ok(p, &["init", "-q"]);
    write(p, "docs/fix_plan.md", "# Ledger\n\n## [A-1] Thing\n- Status: open\n");
    write(p, "docs/index.md", "# Index\n- [Run](../ci/run)\n");
    write(p, "ci/run", "#!/bin/sh\n");
    git_ok(p, &["add", "-A"]);
    git_ok(p, &["commit", "-qm", "base"]);
    git_ok(p, &["mv", "ci/run", "ci/run2"]);
    let o = cmd(p).args(["guard", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j = json(&o);
    let fix = j["violations"][0]["fix"].as_str().unwrap().to_string();
    let command = fix.split('`').nth(1).unwrap();
    assert_eq!(command, "git mv ci/run2 ci/run", "{fix}");
    // Pasted as printed, it leaves nothing staged and the guard passes.
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    git_ok(p, &args);
    assert_eq!(git_ok(p, &["status", "--porcelain"]), "");
    assert_eq!(cmd(p).args(["guard"]).output().unwrap().status.code(), Some(0));
}

/// A `loop` on PATH that lives in a build folder runs until the next `cargo clean`: installing
/// the hook says so.
#[cfg(unix)]
#[test]
fn hook_install_warns_about_a_loop_on_path_in_a_build_folder() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("repo");
    std::fs::create_dir_all(&p).unwrap();
    git_ok(&p, &["init", "-q", "-b", "main"]);
    let bin = d.path().join("proj/target/release");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("loop"), bin.join("loop")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = cmd(&p).env("PATH", &path).args(["hook", "install"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(said.contains("inside a build folder that `cargo clean` empties"), "{said}");
    assert!(said.contains("proj/target/release/loop"), "{said}");
    // A loop installed outside any build folder draws no warning.
    let installed = d.path().join("bin");
    std::fs::create_dir_all(&installed).unwrap();
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("loop"), installed.join("loop")).unwrap();
    let path = format!("{}:/usr/bin:/bin", installed.display());
    let o = cmd(&p).env("PATH", &path).args(["hook", "install"]).output().unwrap();
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!said.contains("build folder"), "{said}");
}
