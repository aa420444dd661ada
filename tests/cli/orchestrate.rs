//! `loop orchestrate`, `loop turn`, `loop state`, `loop runs` against real git repositories (a
//! bare remote and clones), with the scripted stand-in agent of tests/agents/stand-in.

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

#[test]
fn two_clones_take_three_iterations_in_strict_alternation() {
    let r = remote("work", "");
    let args = |role: &'static str| ["orchestrate", "--role", role, "--sync-via-git", "--iterations", "3", "--quiet"];
    let eng = spawn(&r.engineer, &args("engineer"), &[]);
    let sup = spawn(&r.supervisor, &args("supervisor"), &[]);
    let (eo, so) = (finish(eng, 120), finish(sup, 120));
    assert_eq!(so.status.code(), Some(0), "supervisor: {}", stderr(&so));
    assert_eq!(eo.status.code(), Some(0), "engineer: {}", stderr(&eo));
    let turns: Vec<_> = turns_on(&r.bare).into_iter().skip(1).collect();
    let roles: Vec<(&str, &str, &str)> = turns.iter().map(|t| (t.1.as_str(), t.2.as_str(), t.3.as_str())).collect();
    assert_eq!(
        roles,
        [
            ("supervisor", "1", "ok"),
            ("engineer", "1", "ok"),
            ("supervisor", "2", "ok"),
            ("engineer", "2", "ok"),
            ("supervisor", "3", "ok"),
            ("engineer", "3", "ok")
        ],
        "{turns:?}"
    );
    // Every engineer turn: an attempt from loop's own check, and its task closed.
    let ledger = ledger_of(&r.bare);
    let recorded = loop_attempts(&ledger);
    assert_eq!(recorded.len(), 3, "{ledger}");
    for (n, t) in ["A1", "A2", "A3"].iter().enumerate() {
        assert!(recorded[n].contains(&format!("success (Phase {t})")), "{}", recorded[n]);
        assert!(recorded[n].contains(&format!("`test -s notes/{t}.md` exit 0")), "{}", recorded[n]);
    }
    let plan = sh(&r.bare, "git show main:plans/active/demo.md");
    assert_eq!(plan.matches("| [D] |").count(), 3, "{plan}");
    // Nothing but the workspace's own files is committed: no reports, no logs.
    let files = sh(&r.bare, "git ls-tree -r --name-only main");
    let mut files: Vec<&str> = files.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            ".gitignore",
            "docs/fix_plan.md",
            "docs/index.md",
            "docs/spec.md",
            "input.md",
            "loop.yaml",
            "notes/A1.md",
            "notes/A2.md",
            "notes/A3.md",
            "plans/active/demo.md"
        ]
    );
    // The agent ran once per engineer turn.
    assert_eq!(std::fs::read_to_string(&r.calls).unwrap().lines().count(), 3);
    // Both clones list the same six turns.
    let runs = json(&lp(&r.supervisor, &["runs", "--json"]));
    let listed: Vec<(u64, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["iteration"].as_u64().unwrap(), t["role"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(listed.len(), 6, "{runs}");
    assert_eq!(listed[5], (3, "engineer".to_string()));
    let st = json(&lp(&r.engineer, &["state", "--json"]));
    assert_eq!(
        (st["state"]["next"].as_str(), st["state"]["iteration"].as_u64()),
        (Some("supervisor"), Some(4)),
        "{st}"
    );
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

#[test]
fn a_hanging_agent_is_ended_at_the_idle_timeout_with_its_child() {
    let d = one_clone("hang", "  idle_timeout: 1s\n");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(v["outcome"], "idle", "{v}");
    let pid = std::fs::read_to_string(d.path().join(v["dir"].as_str().unwrap()).join("child.pid")).unwrap();
    let alive = Command::new("kill").args(["-0", pid.trim()]).status().unwrap().success();
    assert!(!alive, "the agent's child {pid} outlived the idle kill");
    // The measured failure is recorded, not the agent's word.
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert!(loop_attempts(&ledger)[0].contains("Result: failed (Phase A1)"), "{ledger}");
    assert!(loop_attempts(&ledger)[0].contains("(idle)"), "{ledger}");
}

#[test]
fn a_usage_limit_said_by_a_failing_plain_agent_is_a_limit_with_no_attempt_and_a_cost_is_read() {
    let d = one_clone("limit", "");
    let before = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert_eq!(v["outcome"], "limit");
    assert!(v["work"]["detail"].as_str().unwrap().contains("usage limit reached"), "{v}");
    assert_eq!(v["work"]["resets_at"], "2026-01-01T00:00:00.000Z", "{v}");
    assert_eq!(std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap(), before, "a limit is no attempt");
    assert!(v["commit"].is_null(), "{v}");
    let st = json(&lp(d.path(), &["state", "--json"]));
    assert_eq!(
        (st["state"]["next"].as_str(), st["state"]["last"]["outcome"].as_str()),
        (Some("engineer"), Some("limit"))
    );
    let d = one_clone("work cost 0.42", "");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(v["work"]["cost_usd"], 0.42);
    let runs = json(&lp(d.path(), &["runs", "--json"]));
    assert_eq!(runs[1]["cost_usd"], 0.42, "{runs}");
}

#[test]
fn environments_and_big_files_stay_out_of_the_commit() {
    let d = one_clone("work venv", "");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = sh(d.path(), "git show --name-only --format= HEAD");
    assert!(files.contains("notes/A1.md"), "{files}");
    assert!(!files.contains(".venv") && !files.contains("big.bin"), "{files}");
    let left: Vec<&str> = v["review"]["left_out"].as_array().unwrap().iter().map(|p| p[0].as_str().unwrap()).collect();
    assert!(left.contains(&".venv/") && left.contains(&"big.bin"), "{left:?}");
}

#[test]
fn editing_a_protected_asset_blocks_the_turn_and_commits_nothing() {
    let d = one_clone("work protected", "");
    let head = sh(d.path(), "git rev-parse HEAD");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert_eq!(v["outcome"], "blocked");
    assert!(v["work"]["detail"].as_str().unwrap().contains("docs/spec.md (a protected asset, modified)"), "{v}");
    assert_eq!(sh(d.path(), "git rev-parse HEAD"), head);
    // The state keeps the turn with its role, for a person to look at.
    let st = json(&lp(d.path(), &["state", "--json"]));
    assert_eq!(
        (st["state"]["next"].as_str(), st["state"]["last"]["outcome"].as_str()),
        (Some("engineer"), Some("blocked"))
    );
}

#[test]
fn an_agents_own_commits_and_protocol_subjects_do_not_fool_the_record() {
    let d = one_clone("work attempt commit subject", "");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(v["iteration"], 1);
    let log = sh(d.path(), "git log --format=%s");
    assert!(log.contains("[SYNC i=99]") && log.lines().next().unwrap().starts_with("loop: engineer turn 1"), "{log}");
    let runs = json(&lp(d.path(), &["runs", "--json"]));
    let iters: Vec<u64> = runs.as_array().unwrap().iter().map(|t| t["iteration"].as_u64().unwrap()).collect();
    assert_eq!(iters, [1, 1], "{runs}");
    // The agent's own attempt stays; loop's measured one is there too.
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert!(ledger.contains("the agent's own account") && loop_attempts(&ledger).len() == 1, "{ledger}");
}

#[test]
fn turns_that_change_nothing_stall_and_budgets_stop_the_loop() {
    let d = one_clone("", "  stall_turns: 2\n");
    // An agent that does nothing: its check fails, so the turn is not `ok`.
    let (o, v) = engineer_turn(d.path());
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(1), Some("failed")), "{v}");
    let (o, v) = engineer_turn(d.path());
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(10), Some("stalled")), "{v}");
    let d = one_clone("work", "  wall_budget: 0s\n");
    let o = lp(d.path(), &["orchestrate", "--role", "engineer", "--iterations", "2", "--json"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!((v["stopped"].as_str(), v["turns"].as_array().unwrap().len()), (Some("budget"), 0));
}

/// Beside the clone, not in it: the resumed turn commits what the clone holds.
fn pause_mark(dir: &Path, phase: &str) -> PathBuf {
    PathBuf::from(format!("{}.paused-{phase}", dir.display()))
}

fn paused(dir: &Path, phase: &str) -> bool {
    pause_mark(dir, phase).is_file()
}

const VICTIM: &str = "LOOP_CRASH_VICTIM";

/// `loop orchestrate --role R --sync-via-git` run by this test binary through the library, with
/// a sink that, once the turn's journal is on disk at the phase `VICTIM` names (`ROLE:PHASE`),
/// says so in `CLONE.paused-PHASE` beside the clone and waits to be killed: a kill -9 exactly there,
/// with no pause compiled into `loop` itself. The orchestrator writes this binary into the
/// clone's merge driver config; the restart by the real `loop` writes its own back.
fn victim(dir: &Path, role: &str, phase: &str) -> Child {
    with_env(&mut Command::new(std::env::current_exe().unwrap()))
        .args(["--exact", "orchestrate::crash_victim", "--ignored", "--nocapture"])
        .current_dir(dir)
        .env(VICTIM, format!("{role}:{phase}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
#[ignore = "the child that killed_after kills; does nothing on its own"]
fn crash_victim() {
    use ledger_loop::orchestrate::{config::RoleName, orchestrate, Options};
    use ledger_loop::progress::Progress;
    struct PauseAt(PathBuf, String);
    impl Progress for PauseAt {
        fn output(&self, _: &[u8], _: bool) {}
        fn say(&self, _: &str) {}
        fn journaled(&self, _turn: &str, phase: &str) {
            if phase == self.1 {
                std::fs::write(pause_mark(&self.0, phase), "").unwrap();
                std::thread::sleep(Duration::from_secs(120));
            }
        }
    }
    let Ok(what) = std::env::var(VICTIM) else { return };
    let (role, phase) = what.split_once(':').unwrap();
    let dir = std::env::current_dir().unwrap();
    let ws = ledger_loop::workspace::Workspace::find(None).unwrap();
    let role = if role == "engineer" { RoleName::Engineer } else { RoleName::Supervisor };
    let sink = std::sync::Arc::new(PauseAt(dir, phase.to_string()));
    orchestrate(&ws, &Options { role, sync: true, iterations: Some(1), sink }).unwrap();
    panic!("the turn never reached `{phase}`");
}

/// Kill `role`'s loop with SIGKILL right after it journals `phase`, start it again: the
/// iteration completes once — one agent run, one attempt, one commit per turn.
fn killed_after(role: &str, phase: &str) {
    let r = remote("work", "");
    let dir = |x: &str| if x == "engineer" { r.engineer.clone() } else { r.supervisor.clone() };
    let other = if role == "engineer" { "supervisor" } else { "engineer" };
    let args = |x: &'static str| ["orchestrate", "--role", x, "--sync-via-git", "--iterations", "1", "--quiet"];
    let role: &'static str = if role == "engineer" { "engineer" } else { "supervisor" };
    let partner = spawn(&dir(other), &args(if other == "engineer" { "engineer" } else { "supervisor" }), &[]);
    let mut victim = victim(&dir(role), role, phase);
    wait_for(&format!("{role} to pause after {phase}"), 60, || paused(&dir(role), phase));
    victim.kill().unwrap();
    victim.wait().unwrap();
    let again = finish(spawn(&dir(role), &args(role), &[]), 120);
    assert_eq!(again.status.code(), Some(0), "{role} after {phase}: {}", stderr(&again));
    let p = finish(partner, 120);
    assert_eq!(p.status.code(), Some(0), "{other} ({role} killed after {phase}): {}", stderr(&p));
    let turns: Vec<(String, String)> = turns_on(&r.bare).into_iter().skip(1).map(|t| (t.1, t.3)).collect();
    let want = [("supervisor".to_string(), "ok".to_string()), ("engineer".to_string(), "ok".to_string())];
    assert_eq!(turns, want, "{role} killed after {phase}");
    assert_eq!(
        std::fs::read_to_string(&r.calls).unwrap().lines().count(),
        1,
        "{role} killed after {phase}: agent runs"
    );
    assert_eq!(loop_attempts(&ledger_of(&r.bare)).len(), 1, "{role} killed after {phase}: attempts");
    let st = json(&lp(&dir(role), &["state", "--json"]));
    assert_eq!(
        (st["state"]["next"].as_str(), st["state"]["iteration"].as_u64()),
        (Some("supervisor"), Some(2)),
        "{st}"
    );
    assert!(st["unfinished"].as_array().unwrap().is_empty(), "{st}");
}

#[test]
fn an_engineer_killed_at_any_phase_resumes_without_a_double_run() {
    for phase in ["claimed", "running", "recorded", "committed", "pushed"] {
        killed_after("engineer", phase);
    }
}

#[test]
fn a_supervisor_killed_at_any_phase_resumes_without_a_double_turn() {
    for phase in ["claimed", "running", "recorded", "committed", "pushed"] {
        killed_after("supervisor", phase);
    }
}

#[test]
fn an_agent_still_running_when_loop_dies_is_waited_for_not_run_again() {
    let d = one_clone("sleep 1 work", "");
    let d = d.path();
    let mut victim = spawn(d, &["turn", "--role", "engineer", "--quiet"], &[]);
    wait_for("the agent to start", 30, || {
        std::fs::read_dir(d.join("reports/turns")).into_iter().flatten().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("journal.json")).is_ok_and(|j| j.contains("\"what\": \"agent\""))
        })
    });
    victim.kill().unwrap();
    victim.wait().unwrap();
    let (o, v) = engineer_turn(d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("finishing the interrupted turn"), "{}", stderr(&o));
    assert_eq!(v["work"]["verify"][0]["exit_code"], 0, "{v}");
    let ledger = std::fs::read_to_string(d.join("docs/fix_plan.md")).unwrap();
    assert_eq!(loop_attempts(&ledger).len(), 1, "{ledger}");
    assert!(loop_attempts(&ledger)[0].contains("success (Phase A1)"), "{ledger}");
}

#[test]
fn a_push_refused_by_a_hook_is_retried_and_an_expired_lease_is_reported() {
    let r = remote("work", "");
    // The remote refuses the first claim (a push of the state alone) and the first push to
    // main, once each.
    let hook = r.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read old new ref; do\n  m=\"$GIT_DIR/refused-$(basename $ref)\"\n  if [ ! -f \"$m\" ]; then\n    touch \"$m\"; echo 'refused for the test' >&2; exit 1\n  fi\ndone\nexit 0\n",
    )
    .unwrap();
    sh(&r.bare, "chmod +x hooks/pre-receive");
    let o = lp(&r.supervisor, &["orchestrate", "--role", "supervisor", "--sync-via-git", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("push refused"), "{}", stderr(&o));
    assert!(r.bare.join("refused-state").is_file() && r.bare.join("refused-main").is_file());
    assert_eq!(turns_on(&r.bare).len(), 2);
    let st = json(&lp(&r.engineer, &["state", "--json"]));
    assert_eq!(st["state"]["next"], "engineer", "{st}");
    // An engineer that dies holding its turn: its lease runs out, and `loop state` says so.
    let mut victim = victim(&r.engineer, "engineer", "running");
    wait_for("the engineer to pause", 60, || paused(&r.engineer, "running"));
    victim.kill().unwrap();
    victim.wait().unwrap();
    // An hour on, by the one clock: no waiting for the 2 s lease to run out.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let o = looped(&r.supervisor, &["state"], &[("LOOP_NOW", &later)]).output().unwrap();
    assert!(stdout(&o).contains("EXPIRED") && stdout(&o).contains("engineer"), "{}", stdout(&o));
    let v = json(&looped(&r.supervisor, &["state", "--json"], &[("LOOP_NOW", &later)]).output().unwrap());
    assert!(v["lease_expired"].as_str().unwrap().contains(&r.engineer.display().to_string()), "{v}");
    // The supervisor does not take the turn over; the engineer's restart finishes it.
    let o = lp(&r.engineer, &["orchestrate", "--role", "engineer", "--sync-via-git", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming the interrupted turn"), "{}", stderr(&o));
    assert_eq!(turns_on(&r.bare).last().unwrap().1, "engineer");
}

#[test]
fn a_turn_timeout_and_an_interrupt_end_the_agent() {
    let d = one_clone("sleep 30", "  turn_timeout: 1s\n");
    let (o, v) = engineer_turn(d.path());
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(4), Some("timeout")), "{}", stderr(&o));
    let d = one_clone("hang", "");
    let child = spawn(d.path(), &["turn", "--role", "engineer", "--json"], &[]);
    wait_for("the agent to start", 30, || {
        std::fs::read_dir(d.path().join("reports/turns"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("child.pid").is_file())
    });
    sh(d.path(), &format!("kill -INT {}", child.id()));
    let o = finish(child, 30);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_eq!(json(&o)["outcome"], "interrupted");
}

#[test]
fn a_supervisor_agent_may_write_the_memo_and_plans_only() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), "work", "");
    let yaml = format!("orchestrate:\n  roles:\n    supervisor: {{agent: \"{} memo\"}}\n", stand_in());
    std::fs::write(d.path().join("loop.yaml"), yaml).unwrap();
    sh(d.path(), "loop brief --write >/dev/null && git init -q -b main && git add -A && git commit -qm demo");
    let o = lp(d.path(), &["turn", "--role", "supervisor", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(sh(d.path(), "git show --name-only --format= HEAD").contains("input.md"));
    let yaml = std::fs::read_to_string(d.path().join("loop.yaml")).unwrap();
    std::fs::write(d.path().join("loop.yaml"), yaml.replace("memo", "work")).unwrap();
    sh(d.path(), "git commit -qam 'supervisor writes notes now'");
    let o = lp(d.path(), &["turn", "--role", "supervisor", "--json"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let v = json(&o);
    assert!(v["work"]["detail"].as_str().unwrap().contains("(added outside the supervisor's may_write)"), "{v}");
}

#[test]
fn the_state_is_repaired_by_hand() {
    let d = one_clone("work", "");
    let o = lp(d.path(), &["state", "stamp", "engineer", "ok", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let st = json(&o);
    assert_eq!((st["next"].as_str(), st["iteration"].as_u64()), (Some("supervisor"), Some(2)), "{st}");
    assert_eq!(st["last"]["outcome"], "ok");
    let o = lp(d.path(), &["state", "reset"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("next: the supervisor"), "{}", stdout(&o));
    let o = lp(d.path(), &["state", "stamp", "boss", "ok"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_turn_publishes_reports_by_the_guards_policy() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), "work report", "");
    std::fs::write(d.path().join(".gitignore"), "").unwrap();
    let yaml = std::fs::read_to_string(d.path().join("loop.yaml")).unwrap();
    std::fs::write(d.path().join("loop.yaml"), format!("reports: {{policy: publish}}\n{yaml}")).unwrap();
    sh(d.path(), "loop brief --write >/dev/null && git init -q -b main && git add -A && git commit -qm demo && loop hook install");
    let (o, v) = engineer_turn(d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = sh(d.path(), "git show --name-only --format= HEAD");
    assert!(files.contains("reports/DEMO-001/summary.md") && !files.contains("trace.bin"), "{files}");
    assert!(!files.contains("reports/turns"), "loop's own journal stays out: {files}");
    let left = v["review"]["left_out"].to_string();
    assert!(left.contains("trace.bin") && left.contains("not a kind"), "{left}");
    // The tree is clean after the turn: nothing of it waits to be committed.
    assert_eq!(sh(d.path(), "git status --porcelain --untracked-files=no"), "");
}

#[test]
fn a_command_step_is_run_by_loop_itself_not_by_the_agent() {
    let d = tempfile::tempdir().unwrap();
    let calls = d.path().join("calls.txt");
    demo(d.path(), &format!("calls {} fail", calls.display()), "");
    // A1 becomes a command step: loop runs it as `loop next --run` does.
    let plan = std::fs::read_to_string(d.path().join("plans/active/demo.md")).unwrap();
    let plan = plan.replace(
        "| A1 | Write notes/A1.md by hand | [ ] | then run `test -s notes/A1.md` |",
        "| A1 | Write notes/A1.md | [ ] | `mkdir -p notes && echo done > notes/A1.md` |",
    );
    std::fs::write(d.path().join("plans/active/demo.md"), plan).unwrap();
    sh(d.path(), "loop brief --write >/dev/null && git init -q -b main && git add -A && git commit -qm demo");
    // Run from elsewhere with --root: the run folder is the workspace's, not the current directory's.
    let elsewhere = tempfile::tempdir().unwrap();
    let root = d.path().display().to_string();
    let o = looped(elsewhere.path(), &["--root", &root, "turn", "--role", "engineer", "--json"], &[]).output().unwrap();
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!((v["work"]["by"].as_str(), v["outcome"].as_str()), (Some("command"), Some("ok")), "{v}");
    assert!(!calls.exists(), "the agent was not run for a command step");
    let run = v["work"]["run_folder"].as_str().unwrap();
    assert!(d.path().join(run).join("run.json").is_file());
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert!(ledger.contains("Attempt #2 — Result: success (Phase A1)") && ledger.contains(run), "{ledger}");
    assert!(sh(d.path(), "git show --name-only --format= HEAD").contains("notes/A1.md"));
}

#[test]
fn a_long_turn_keeps_its_lease_alive() {
    let d = one_clone("sleep 4 work", "  lease: 2s\n");
    let child = spawn(d.path(), &["turn", "--role", "engineer", "--quiet"], &[]);
    wait_for("the agent to start", 30, || {
        std::fs::read_dir(d.path().join("reports/turns")).into_iter().flatten().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("journal.json")).is_ok_and(|j| j.contains("\"what\": \"agent\""))
        })
    });
    // The heartbeat renews the 2 s lease: past the first expiry, nothing is reported expired.
    let lease = || json(&lp(d.path(), &["state", "--json"]))["state"]["running"]["lease_expires_at"].clone();
    let first = lease();
    assert!(first.is_string(), "{first}");
    wait_for("the heartbeat to renew the lease", 30, || lease() != first);
    let past =
        chrono::DateTime::parse_from_rfc3339(first.as_str().unwrap()).unwrap() + chrono::Duration::milliseconds(100);
    let v = json(&looped(d.path(), &["state", "--json"], &[("LOOP_NOW", &past.to_rfc3339())]).output().unwrap());
    assert!(v["state"]["running"]["turn"].is_string(), "{v}");
    assert!(v["lease_expired"].is_null(), "{v}");
    assert_eq!(finish(child, 60).status.code(), Some(0));
}

#[test]
fn a_cost_budget_stops_the_loop_before_the_next_turn() {
    let d = one_clone("work cost 0.6", "  cost_budget: 1.0\n");
    // The memo is written and it is the engineer's turn: both roles, one process each.
    let sup = spawn(d.path(), &["orchestrate", "--role", "supervisor", "--iterations", "1", "--quiet"], &[]);
    let eng = spawn(d.path(), &["orchestrate", "--role", "engineer", "--iterations", "3", "--json"], &[]);
    let (e, s) = (finish(eng, 60), finish(sup, 60));
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert_eq!(e.status.code(), Some(7), "{}", stderr(&e));
    let v = json(&e);
    assert_eq!((v["stopped"].as_str(), v["turns"].as_array().unwrap().len()), (Some("budget"), 2), "{v}");
    assert!(v["message"].as_str().unwrap().contains("cost_budget 1"), "{v}");
}

#[test]
fn the_first_turn_may_start_a_new_remote() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    sh(t, "git init -q --bare -b main remote.git");
    demo(&t.join("a"), "work", "");
    sh(&t.join("a"), "git init -q -b main && git add -A && git commit -qm demo && git remote add origin ../remote.git");
    let o = lp(&t.join("a"), &["orchestrate", "--role", "supervisor", "--sync-via-git", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let turns = turns_on(&t.join("remote.git"));
    assert_eq!((turns.len(), turns[1].1.as_str()), (2, "supervisor"), "{turns:?}");
}

/// nanoBragg's index lists the memo as a protected asset ("rewritten and committed each
/// supervisor run; treat as a protected asset"): the supervisor rewrites it, nobody deletes it.
#[test]
fn a_memo_listed_as_protected_is_still_the_supervisors_to_rewrite() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), "work", "");
    write(
        d.path(),
        "docs/index.md",
        "# Index\n- [Spec](spec.md)\n- [input.md](../input.md) — rewritten each supervisor run; protected.\n",
    );
    sh(d.path(), "git init -q -b main && git add -A && git commit -qm demo");
    let o = lp(d.path(), &["turn", "--role", "supervisor", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(sh(d.path(), "git show --name-only --format= HEAD").contains("input.md"));
    // A supervisor agent that deletes the memo is blocked.
    let yaml = "orchestrate:\n  roles:\n    supervisor: {agent: \"rm input.md\"}\n";
    std::fs::write(d.path().join("loop.yaml"), yaml).unwrap();
    sh(d.path(), "git commit -qam 'a deleting supervisor'");
    let o = lp(d.path(), &["turn", "--role", "supervisor", "--json"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(json(&o)["work"]["detail"].as_str().unwrap().contains("input.md (a protected asset, deleted)"));
}

/// Every real workspace state of tests/fixtures, in a git repository of its own: a builtin
/// supervisor turn, then an engineer turn with the stand-in, each ending as it should.
#[test]
fn turns_run_on_every_real_fixture_state() {
    let mut states: Vec<PathBuf> = Vec::new();
    for dir in [fixtures().join("nanobragg/history"), fixtures().join("ptychopinn")] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().join("docs").is_dir() {
                states.push(e.path());
            }
        }
    }
    states.sort();
    assert_eq!(states.len(), 20);
    let mut briefed = 0;
    for state in &states {
        let d = copy_tree(state);
        let p = d.path();
        let yaml = std::fs::read_to_string(p.join("loop.yaml")).unwrap_or_default();
        let agent = format!("{} work", stand_in());
        std::fs::write(
            p.join("loop.yaml"),
            format!("{yaml}\norchestrate:\n  roles:\n    engineer: {{agent: {agent:?}}}\n"),
        )
        .unwrap();
        sh(p, "echo /reports/ >> .gitignore && git init -q -b main && git add -A && git commit -qm state");
        let name = state.file_name().unwrap().to_string_lossy().into_owned();
        let o = finish(spawn(p, &["turn", "--role", "supervisor", "--json"], &[]), 60);
        let v = json(&o);
        match v["outcome"].as_str() {
            Some("ok") => briefed += 1,
            // Nothing to brief: the focus plan's phases are all done.
            Some("gate_failed") => {
                assert!(v["work"]["detail"].as_str().unwrap().contains("every phase"), "{name}: {v}")
            }
            other => panic!("{name}: supervisor {other:?}: {}", stderr(&o)),
        }
        let ledger = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap_or_default();
        let o = finish(spawn(p, &["turn", "--role", "engineer", "--json"], &[]), 60);
        let v = json(&o);
        let w = &v["work"];
        let exits: Vec<i64> = w["verify"].as_array().unwrap().iter().filter_map(|c| c["exit_code"].as_i64()).collect();
        let exits: Vec<i64> =
            exits.into_iter().chain(w["exit_code"].as_i64().filter(|_| w["by"] == "command")).collect();
        // The turn's outcome is what loop measured, and only the engineer's own work is an attempt.
        match v["outcome"].as_str().unwrap() {
            "ok" => assert!(exits.iter().all(|&e| e == 0) && v["attempt"].is_string(), "{name}: {v}"),
            "failed" => assert!(exits.iter().any(|&e| e != 0) && v["attempt"].is_string(), "{name}: {v}"),
            "environment" => {
                assert!(exits.iter().any(|&e| e == 127 || e == 126), "{name}: {v}");
                assert!(v["attempt"].is_null(), "{name}: {v}");
                let after = std::fs::read_to_string(p.join("docs/fix_plan.md")).unwrap_or_default();
                assert_eq!(after, ledger, "{name}: an environment's failure wrote to the ledger");
            }
            other => panic!("{name}: engineer {other}: {}", stderr(&o)),
        }
        assert_eq!(
            o.status.code().map(i64::from),
            Some(match v["outcome"].as_str().unwrap() {
                "ok" => 0,
                "failed" => 1,
                _ => 13,
            }),
            "{name}"
        );
    }
    // Every nanoBragg state's memo is written although its index lists input.md as protected.
    assert!(briefed >= 12, "{briefed}");
}

#[test]
fn a_command_step_is_ended_at_the_turn_timeout() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), "work", "  turn_timeout: 1s\n");
    let plan = std::fs::read_to_string(d.path().join("plans/active/demo.md")).unwrap();
    let plan = plan.replace(
        "| A1 | Write notes/A1.md by hand | [ ] | then run `test -s notes/A1.md` |",
        "| A1 | Wait | [ ] | `sleep 30 && touch slept` |",
    );
    std::fs::write(d.path().join("plans/active/demo.md"), plan).unwrap();
    sh(d.path(), "loop brief --write >/dev/null && git init -q -b main && git add -A && git commit -qm demo");
    let (o, v) = engineer_turn(d.path());
    // Ended, not waited for: the step never reached its second command.
    assert!(!d.path().join("slept").exists(), "the step ran to its end");
    #[cfg(target_os = "linux")]
    assert_eq!(processes_in(d.path()), Vec::<String>::new(), "the step's group outlived the turn");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(4), Some("timeout")), "{v}");
    let ledger = std::fs::read_to_string(d.path().join("docs/fix_plan.md")).unwrap();
    assert!(ledger.contains("ended at the turn's time limit"), "{ledger}");
}

/// A role whose partner is not running says who it waits for and how to start it, instead of
/// waiting in silence.
#[test]
fn a_waiting_role_names_the_role_to_start() {
    use std::io::BufRead;
    let d = one_clone("work", "");
    // The supervisor took its turn: the engineer is next, and no engineer runs.
    let mut child = spawn(d.path(), &["orchestrate", "--role", "supervisor", "--iterations", "1"], &[]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("no word from the waiting supervisor");
    let _ = Command::new("kill").args(["-9", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(line.starts_with("loop supervisor: waiting for the engineer"), "{line}");
    assert!(line.contains("run `loop orchestrate --role engineer` too"), "{line}");
}
