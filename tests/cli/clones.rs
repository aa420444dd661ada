//! Real git repositories for the orchestration tests: a bare remote seeded with a small
//! workspace and a clone per role, the scripted stand-in agent of tests/agents/stand-in, and
//! `loop` run in them with a fixed identity and PATH.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

pub(super) fn stand_in() -> String {
    repo_root().join("tests/agents/stand-in").display().to_string()
}

pub(super) fn path_env() -> String {
    let bin = assert_cmd::cargo::cargo_bin("loop");
    format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default())
}

pub(super) fn with_env(c: &mut Command) -> &mut Command {
    c.env("PATH", path_env())
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .env_remove("LOOP_NOW")
}

pub(super) fn sh(dir: &Path, line: &str) -> String {
    let o = with_env(Command::new("bash").args(["-c", line]).current_dir(dir)).output().unwrap();
    assert!(o.status.success(), "{line}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(super) fn looped(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("loop"));
    with_env(c.args(args).current_dir(dir));
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

pub(super) fn lp(dir: &Path, args: &[&str]) -> Output {
    looped(dir, args, &[]).output().unwrap()
}

pub(super) fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    looped(dir, args, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

pub(super) fn finish(child: Child, secs: u64) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("loop did not finish in {secs} s");
        }
    }
}

pub(super) fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A three-task workspace whose manual tasks name their checks, in git, with `orchestrate:`
/// settings: the engineer's agent is the stand-in with `engineer` as its arguments.
pub(super) fn demo(dir: &Path, engineer: &str, settings: &str) {
    write(dir, "docs/fix_plan.md", "# Fix Plan\n\n## [DEMO-001] Write the notes\n- Status: in_progress\n- Plan Reference: plans/active/demo.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning. Plan written.\n");
    let mut plan = String::from("# Demo plan\n- Initiative: DEMO-001\n\n### Phase A — Notes\nGoal: three notes.\nPrereqs: None.\nExit Criteria: the notes exist.\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n");
    for t in ["A1", "A2", "A3"] {
        plan.push_str(&format!("| {t} | Write notes/{t}.md by hand | [ ] | then run `test -s notes/{t}.md` |\n"));
    }
    write(dir, "plans/active/demo.md", &plan);
    write(dir, "docs/index.md", "# Index\n- [Spec](spec.md) — the spec.\n");
    write(dir, "docs/spec.md", "The spec.\n");
    write(dir, ".gitignore", "/reports/\n");
    let agent = format!("{} {engineer}", stand_in());
    let mut yaml = format!("orchestrate:\n  roles:\n    engineer: {{agent: {agent:?}}}\n{settings}");
    for (k, v) in [("idle_timeout", "20s"), ("lease", "2s"), ("poll", "100ms")] {
        if !settings.contains(k) {
            yaml.push_str(&format!("  {k}: {v}\n"));
        }
    }
    write(dir, "loop.yaml", &yaml);
}

/// The demo workspace in git with its memo written, A1 rewritten as `row` (a command step).
pub(super) fn command_demo(dir: &Path, engineer: &str, settings: &str, row: &str) {
    demo(dir, engineer, settings);
    let plan = std::fs::read_to_string(dir.join("plans/active/demo.md")).unwrap();
    let plan = plan.replace("| A1 | Write notes/A1.md by hand | [ ] | then run `test -s notes/A1.md` |", row);
    std::fs::write(dir.join("plans/active/demo.md"), plan).unwrap();
    sh(dir, "loop brief --write >/dev/null && git init -q -b main && git add -A && git commit -qm demo");
}

pub(super) struct Remote {
    _tmp: tempfile::TempDir,
    pub bare: PathBuf,
    pub supervisor: PathBuf,
    pub engineer: PathBuf,
    pub calls: PathBuf,
}

/// A bare repository seeded with the demo workspace, and a clone for each role.
pub(super) fn remote(engineer: &str, settings: &str) -> Remote {
    remote_of(|seed, calls| demo(seed, &format!("calls {} {engineer}", calls.display()), settings))
}

/// A bare repository seeded by `seed(folder, calls file)`, and a clone for each role.
pub(super) fn remote_of(seed_with: impl FnOnce(&Path, &Path)) -> Remote {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let calls = t.join("calls.txt");
    let seed = t.join("seed");
    seed_with(&seed, &calls);
    sh(t, "git init -q --bare -b main remote.git");
    sh(
        &seed,
        "git init -q -b main && git add -A && git commit -qm 'The demo workspace' && git push -q ../remote.git main",
    );
    sh(t, "git clone -q remote.git supervisor && git clone -q remote.git engineer");
    Remote {
        bare: t.join("remote.git"),
        supervisor: t.join("supervisor"),
        engineer: t.join("engineer"),
        calls,
        _tmp: tmp,
    }
}

/// Each commit on the remote's main, oldest first: (subject, Loop-Role, Loop-Iteration, Loop-Result).
pub(super) fn turns_on(bare: &Path) -> Vec<(String, String, String, String)> {
    let log = sh(bare, "git log --reverse --format='%s%x1f%(trailers:key=Loop-Role,valueonly)%x1f%(trailers:key=Loop-Iteration,valueonly)%x1f%(trailers:key=Loop-Result,valueonly)%x1e' main");
    log.split('\x1e')
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let f: Vec<String> = r.trim().split('\x1f').map(|x| x.trim().to_string()).collect();
            (f[0].clone(), f[1].clone(), f[2].clone(), f[3].clone())
        })
        .collect()
}

pub(super) fn ledger_of(bare: &Path) -> String {
    sh(bare, "git show main:docs/fix_plan.md")
}

pub(super) fn loop_attempts(ledger: &str) -> Vec<&str> {
    ledger.lines().filter(|l| l.contains("Observations: loop turn")).collect()
}

pub(super) fn engineer_turn(dir: &Path) -> (Output, serde_json::Value) {
    let o = lp(dir, &["turn", "--role", "engineer", "--json"]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    (o, v)
}

/// One clone, the memo written: ready for an engineer turn.
pub(super) fn one_clone(engineer: &str, settings: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), engineer, settings);
    sh(d.path(), "git init -q -b main && git add -A && git commit -qm 'The demo workspace'");
    let o = lp(d.path(), &["turn", "--role", "supervisor", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    d
}
