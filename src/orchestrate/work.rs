//! The work of a turn. The engineer: a command step is run by loop itself, as `loop next --run`;
//! a manual step goes to the agent with the memo, after which loop runs the step's checks
//! itself. The supervisor: `builtin` (`loop brief --write`) or its agent writes the next memo.
//! Either way the outcome comes from what loop measured.

use std::path::Path;

use super::agent::{self, End, Proc, Watch};
use super::config::{RoleName, BUILTIN};
use super::ctx::Ctx;
use super::events::Kill;
use super::journal::{Check, Journal, Step, Work};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::next;
use crate::outcome::Outcome;

const ENGINEER_PROMPT: &str = "You are the engineer of this repository's plan-and-ledger loop. Do the Do Now step of \
the memo below, here, and nothing else. Do not edit input.md or any protected asset (docs/index.md lists them). Put run \
artifacts where the memo says. When the work is done, stop: loop runs the memo's checks itself and records the attempt \
in the ledger from what it measures.\n";

const SUPERVISOR_PROMPT: &str = "You are the supervisor of this repository's plan-and-ledger loop. Read the ledger \
(docs/fix_plan.md), the plans under plans/active/ and the latest attempts, then write the next Do Now in input.md \
(Focus, one step with its exact command or the manual work and its checks, Artifacts, If Blocked) and update the plans. \
Change nothing else; do not run the step.\n";

/// How many attempts the ledger holds and every task's state, for telling progress.
pub fn fingerprint(model: &Model) -> (usize, String) {
    let attempts = model.ledger.items.iter().map(|i| i.attempts.len()).sum();
    let mut tasks = String::new();
    for p in &model.plans {
        for ph in &p.phases {
            for t in &ph.tasks {
                tasks.push_str(&format!("{}:{}:{}\n", p.path, t.id, t.state.marker()));
            }
        }
    }
    for i in &model.ledger.items {
        for t in &i.tasks {
            tasks.push_str(&format!("{}:{}:{}\n", i.id, t.id, t.state.marker()));
        }
    }
    (attempts, tasks)
}

/// Do the role's work, or carry on with it after a crash.
pub fn run(ctx: &Ctx, j: &mut Journal) -> Result<Work> {
    match ctx.role {
        RoleName::Engineer => engineer(ctx, j),
        RoleName::Supervisor => supervisor(ctx, j),
    }
}

fn supervisor(ctx: &Ctx, j: &mut Journal) -> Result<Work> {
    let agent = ctx.settings.agent(RoleName::Supervisor).unwrap_or(BUILTIN).to_string();
    if agent == BUILTIN {
        let t = std::time::Instant::now();
        // The memo is the supervisor's product: listed as protected it must not be deleted
        // (nanoBragg's index: "rewritten and committed each supervisor run; treat as a
        // protected asset"), but it is rewritten; only `frozen:` stops that.
        let protected = crate::protect::Protected::load(ctx.ws)?;
        let rewrite = !protected.is_frozen(&ctx.ws.config.input);
        return Ok(match crate::brief::write(ctx.ws.clone(), None, None, rewrite) {
            Ok(w) => Work {
                outcome: Outcome::Ok,
                detail: format!("wrote {} for [{}]", w.path, w.decision.item.id),
                item: Some(w.decision.item.id.clone()),
                task: w.decision.task.as_ref().map(|t| t.id.clone()),
                by: BUILTIN.into(),
                duration_s: t.elapsed().as_secs_f64(),
                ..Work::default()
            },
            Err(e @ (Error::Failed(_) | Error::Input { .. })) => Work {
                outcome: Outcome::GateFailed,
                detail: format!("no memo written: {e}"),
                by: BUILTIN.into(),
                ..Work::default()
            },
            Err(e) => return Err(e),
        });
    }
    let prompt = prompt_text(ctx, RoleName::Supervisor, SUPERVISOR_PROMPT)?;
    let end = run_proc(ctx, j, "agent", &agent, Some(&prompt))?;
    Ok(agent_work(ctx, &end))
}

fn engineer(ctx: &Ctx, j: &mut Journal) -> Result<Work> {
    let step = match &j.step {
        Some(s) => s.clone(),
        None => {
            let model = Model::load(ctx.ws.clone())?;
            let d = next::decide_now(&model, None, None)?;
            let (attempts_before, tasks_before) = fingerprint(&model);
            let s = Step {
                item: d.item.id.clone(),
                task: d.task.as_ref().map(|t| t.id.clone()).or(d.phase.as_ref().map(|p| p.id.clone())),
                blocked: d.blocked.clone(),
                manual: d.manual,
                command: d.command.clone(),
                verify: d.verify.clone(),
                artifacts: d.artifacts.trim_end_matches('/').to_string(),
                attempts_before,
                tasks_before,
            };
            j.step = Some(s.clone());
            j.save(ctx.ws)?;
            s
        }
    };
    let base = Work { item: Some(step.item.clone()), task: step.task.clone(), ..Work::default() };
    if let Some(why) = &step.blocked {
        return Ok(Work {
            outcome: Outcome::GateFailed,
            detail: format!("the step is blocked: {why}"),
            by: "loop".into(),
            ..base
        });
    }
    if !step.manual {
        return command_step(ctx, j, base);
    }
    let agent = ctx.settings.agent(RoleName::Engineer).ok_or_else(|| {
        Error::Usage("the step is manual and loop.yaml sets no `orchestrate.roles.engineer.agent` to do it".into())
    })?;
    let memo = std::fs::read_to_string(ctx.ws.path(&ctx.ws.config.input)).unwrap_or_default();
    let prompt = format!("{}\n{memo}", prompt_text(ctx, RoleName::Engineer, ENGINEER_PROMPT)?);
    let end = run_proc(ctx, j, "agent", agent, Some(&prompt))?;
    let mut work = agent_work(ctx, &end);
    work.item = base.item;
    work.task = base.task;
    // The checks run after an agent that did its part, and after one refused something: the
    // step may not have needed it, which the checks tell.
    if !matches!(work.outcome, Outcome::Ok | Outcome::Denied) {
        return Ok(work);
    }
    for (k, v) in step.verify.iter().enumerate() {
        let what = format!("verify {}", k + 1);
        let end = run_proc(ctx, j, &what, v, None)?;
        let log = agent::rel(&j.dir, &format!("verify-{}.log", k + 1)).display().to_string();
        work.verify.push(Check { command: v.clone(), exit_code: end.exit_code, log });
        if let Some(k) = end.killed {
            // A check ended by loop's limits ends the turn so; one killed from outside failed.
            work.outcome = match k {
                Kill::Timeout => Outcome::Timeout,
                Kill::Idle => Outcome::Idle,
                Kill::Interrupted => Outcome::Interrupted,
                Kill::Outside => Outcome::Failed,
            };
            work.detail = format!("{}; the check `{v}` was ended ({})", work.detail, k.word());
            return Ok(work);
        }
    }
    judge_checks(&mut work);
    Ok(work)
}

/// The turn's outcome from the checks loop ran: `environment` when one could not run at all,
/// `failed` when one failed (`denied` when the agent was also refused something), else as the
/// agent's part ended.
fn judge_checks(work: &mut Work) {
    let exit = |c: &Check| c.exit_code.map_or("none".to_string(), |c| c.to_string());
    let of = |c: &Check| c.exit_code.map_or(Outcome::Failed, Outcome::of_exit);
    if let Some(c) = work.verify.iter().find(|c| of(c) == Outcome::Environment) {
        work.outcome = Outcome::Environment;
        work.detail = format!(
            "{}; the check `{}` could not run (exit {}: {}): the environment lacks it, which is not the engineer's failure",
            work.detail,
            c.command,
            exit(c),
            if c.exit_code == Some(127) { "command not found" } else { "not executable" }
        );
    } else if let Some(c) = work.verify.iter().find(|c| of(c) != Outcome::Ok) {
        if work.outcome == Outcome::Ok {
            work.outcome = Outcome::Failed;
        }
        work.detail = format!("{}; the check `{}` failed (exit {})", work.detail, c.command, exit(c));
    } else if !work.verify.is_empty() && work.outcome == Outcome::Denied {
        // Refused something the step did not need: the checks pass.
        work.outcome = Outcome::Ok;
        work.detail = format!("{}; the checks pass all the same", work.detail);
    }
}

/// A command step: run by loop, exactly as `loop next --run`, with the lease renewed meanwhile.
fn command_step(ctx: &Ctx, j: &mut Journal, base: Work) -> Result<Work> {
    let model = Model::load(ctx.ws.clone())?;
    let d = next::decide_now(&model, None, None)?;
    let record = std::thread::scope(|s| {
        let limit = Some(ctx.settings.turn_timeout.0);
        let sink = ctx.sink.clone();
        let h = s.spawn(move || crate::run::execute_showing(&model, &d, &sink, limit));
        let mut last = std::time::Instant::now();
        while !h.is_finished() {
            if last.elapsed() >= ctx.heartbeat_every() {
                ctx.heartbeat(j);
                last = std::time::Instant::now();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        h.join().unwrap_or_else(|_| Err(Error::Failed("the step's runner panicked".into())))
    })?;
    let outcome = if record.timed_out {
        Outcome::Timeout
    } else if record.ended_by_interrupt() {
        Outcome::Interrupted
    } else {
        Outcome::of_exit(record.exit_code)
    };
    let detail = if record.exit_code == 0 {
        format!("loop ran `{}`: exit 0 after {:.1} s", record.command, record.duration_s)
    } else {
        format!("loop ran `{}`: {}", record.command, record.failure())
    };
    Ok(Work {
        outcome,
        detail,
        exit_code: Some(record.exit_code),
        duration_s: record.duration_s,
        by: "command".into(),
        run_folder: Some(record.artifacts.clone()),
        ..base
    })
}

fn prompt_text(ctx: &Ctx, role: RoleName, default: &str) -> Result<String> {
    match &ctx.settings.roles.get(role).prompt {
        Some(p) => crate::fsutil::read_utf8(&ctx.ws.path(p), p),
        None => Ok(default.to_string()),
    }
}

/// The outcome an agent's end makes, with its tokens and cost.
fn agent_work(ctx: &Ctx, end: &End) -> Work {
    let v = end.reading.verdict(end.exit_code, end.killed, end.duration_s);
    let mut usage = end.reading.usage.clone();
    usage.cost_usd = ctx.settings.price(ctx.role, &usage);
    Work {
        outcome: v.outcome,
        detail: v.detail,
        exit_code: end.exit_code,
        duration_s: end.duration_s,
        usage,
        denied: end.reading.denied.clone(),
        provider: v.provider,
        resets_at: v.resets_at.map(super::state::rfc3339),
        by: "agent".into(),
        ..Work::default()
    }
}

/// Start a process (or find the one a crashed loop left running) and watch it to its end.
fn run_proc(ctx: &Ctx, j: &mut Journal, what: &str, command: &str, stdin: Option<&str>) -> Result<End> {
    let root = &ctx.ws.root;
    let p = match j.proc.clone().filter(|p| p.what == what) {
        Some(p) => {
            ctx.say(&format!("resuming: {what} (pid {}) from the interrupted turn {}\n", p.pid, j.turn));
            p
        }
        None => {
            let (log, exit_file, input) = if what == "agent" {
                let input = agent::rel(&j.dir, "prompt.txt");
                write(&root.join(&input), stdin.unwrap_or(""))?;
                (j.log.clone().into(), agent::rel(&j.dir, "agent.exit"), input)
            } else {
                let n = what.trim_start_matches("verify ");
                (
                    agent::rel(&j.dir, &format!("verify-{n}.log")),
                    agent::rel(&j.dir, &format!("verify-{n}.exit")),
                    "/dev/null".into(),
                )
            };
            let started_at = super::state::rfc3339(super::state::now());
            let env = ctx.env(j);
            let pid = agent::start(root, command, &root.join(&input), &root.join(&log), &root.join(&exit_file), &env)?;
            let p = Proc {
                pid,
                what: what.into(),
                started_at,
                log: log.display().to_string(),
                exit_file: exit_file.display().to_string(),
            };
            j.proc = Some(p.clone());
            j.save(ctx.ws)?;
            p
        }
    };
    let started = super::state::parse_time(&p.started_at).unwrap_or_else(chrono::Utc::now);
    let every = ctx.heartbeat_every();
    let mut beat = || ctx.heartbeat(j);
    let interrupted = crate::run::interrupted;
    let mut w = Watch {
        turn_timeout: ctx.settings.turn_timeout.0,
        idle_timeout: ctx.settings.idle_timeout.0,
        sink: &*ctx.sink,
        heartbeat: &mut beat,
        heartbeat_every: every,
        interrupted: &interrupted,
    };
    let end = agent::watch(&p, root, started, &mut w)?;
    // Whatever the process left running goes with it.
    agent::kill_group(p.pid);
    j.proc = None;
    j.save(ctx.ws)?;
    Ok(end)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}
