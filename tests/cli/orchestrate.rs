//! `loop orchestrate`, `loop turn`, `loop state`, `loop runs`: turns taken in strict
//! alternation, what an agent may change, what a turn commits, budgets and stalls — in real git
//! repositories (a bare remote and clones) with the scripted stand-in agent.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::clones::*;
use super::common::*;

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
    // A1 becomes a command step: loop runs it as `loop next --run` does.
    let row = "| A1 | Write notes/A1.md | [ ] | `mkdir -p notes && echo done > notes/A1.md` |";
    command_demo(d.path(), &format!("calls {} fail", calls.display()), "", row);
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
