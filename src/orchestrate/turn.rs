//! One turn, phase by phase: claim it, do the work, record what loop measured, review and
//! commit the changes, hand over. Every phase is journaled before the next starts and is
//! idempotent against the world (an attempt already in the ledger, a commit already carrying the
//! turn's trailer, a state already naming the turn), so a turn killed anywhere is finished by
//! the next start without running or recording anything twice.

use super::changes;
use super::ctx::Ctx;
use super::gitops;
use super::journal::{self, Journal, Phase, Work};
use super::state::{self, Claim, State, Summary, STATE_REF};
use super::work;
use crate::attempt::{self, ResultWord};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::outcome::Outcome;
use crate::plan::TaskState;

/// Claim the next turn from `state` (read from the ref at `parent`). `None` when another
/// process changed the state first.
pub fn claim(ctx: &Ctx, parent: Option<git2::Oid>, st: &State) -> Result<Option<Journal>> {
    let now = super::state::now();
    let stamp = crate::clock::stamp(&crate::clock::now()?);
    let iteration = st.iteration;
    let role = ctx.role;
    // A turn taken again in the same second (a retry, a fixed clock) gets a folder of its own.
    let turns = format!("{}/turns", ctx.ws.config.reports.dir.trim_end_matches('/'));
    let stamp = (1..)
        .map(|k| if k == 1 { stamp.clone() } else { format!("{stamp}-{k}") })
        .find(|s| !ctx.ws.root.join(&turns).join(format!("i{iteration:05}-{role}-{s}")).exists())
        .expect("an unbounded range");
    let turn = format!("i{iteration:05}-{role}-{stamp}");
    let dir = format!("{turns}/{turn}");
    let base = gitops::rev(&ctx.top, "HEAD").ok_or_else(|| Error::Git("the branch has no commit yet".into()))?;
    let mut j = Journal {
        turn: turn.clone(),
        role,
        iteration,
        holder: ctx.holder.clone(),
        dir: dir.clone(),
        log: format!("logs/{role}/iter-{iteration:05}_{stamp}.log"),
        sync: ctx.sync,
        base,
        started_at: state::rfc3339(now),
        phases: Vec::new(),
        proc: None,
        step: None,
        idle_before: st.idle_engineer_turns,
        work: None,
        review: None,
        commit: None,
        attempt: None,
        outcome: None,
    };
    std::fs::create_dir_all(ctx.ws.root.join(&dir)).map_err(|e| Error::io(&dir, e))?;
    j.save(ctx.ws)?;
    journal::set_pointer(ctx.ws, role, Some(&dir))?;
    let mut next = st.clone();
    next.running = Some(Claim {
        role,
        holder: ctx.holder.clone(),
        turn: turn.clone(),
        iteration,
        started_at: state::rfc3339(now),
        lease_expires_at: state::rfc3339(now + ctx.settings.lease.0),
    });
    next.updated_at = state::rfc3339(now);
    let repo = ctx.repo()?;
    let oid = state::write(&repo, STATE_REF, parent, &next, &format!("{role} claims {turn}"))?;
    if ctx.sync && ctx.push(&[&format!("{oid}:{STATE_REF}")]).is_err() {
        // Someone moved the state first (or the push failed): this claim never happened, here
        // either — the local state goes back to what it was.
        let _ = match parent {
            Some(p) => repo.reference_matching(STATE_REF, p, true, oid, "claim withdrawn").map(|_| ()),
            None => repo.find_reference(STATE_REF).and_then(|mut r| r.delete()),
        };
        journal::set_pointer(ctx.ws, role, None)?;
        let _ = std::fs::remove_dir_all(ctx.ws.root.join(&dir));
        return Ok(None);
    }
    j.mark(ctx.ws, &*ctx.sink, Phase::Claimed)?;
    Ok(Some(j))
}

/// Carry the turn from wherever its journal stands to its end.
pub fn finish(ctx: &Ctx, j: &mut Journal) -> Result<()> {
    if j.work.is_none() {
        j.mark(ctx.ws, &*ctx.sink, Phase::Running)?;
        let w = work::run(ctx, j)?;
        j.work = Some(w);
        j.save(ctx.ws)?;
    }
    if !j.reached(Phase::Recorded) {
        if ctx.role == super::config::RoleName::Engineer {
            record(ctx, j)?;
        }
        j.mark(ctx.ws, &*ctx.sink, Phase::Recorded)?;
    }
    if !j.reached(Phase::Committed) {
        commit(ctx, j)?;
        j.mark(ctx.ws, &*ctx.sink, Phase::Committed)?;
    }
    if !j.reached(Phase::Pushed) {
        hand_over(ctx, j)?;
        j.mark(ctx.ws, &*ctx.sink, Phase::Pushed)?;
    }
    j.outcome = Some(j.outcome());
    j.mark(ctx.ws, &*ctx.sink, Phase::Done)?;
    let run = ctx.ws.root.join(&j.dir).join("run.json");
    let json = serde_json::to_string_pretty(&*j).unwrap_or_default() + "\n";
    crate::atomic::write(&run, json.as_bytes())?;
    journal::set_pointer(ctx.ws, ctx.role, None)
}

/// Whether the turn's work is the engineer's to answer for in the ledger. A provider that
/// failed, a usage limit, an interrupt or a check that could not run at all is not an attempt.
fn is_attempt(w: &Work) -> bool {
    !(w.provider
        || matches!(w.outcome, Outcome::Unavailable | Outcome::Limit | Outcome::Interrupted | Outcome::Environment))
}

/// The engineer's attempt, from what loop measured. Its artifacts name the turn's run.json,
/// which is how a restarted turn knows the attempt is already in.
fn record(ctx: &Ctx, j: &mut Journal) -> Result<()> {
    let (Some(step), Some(w)) = (j.step.clone(), j.work.clone()) else { return Ok(()) };
    if !is_attempt(&w) {
        return Ok(());
    }
    let mark = format!("{}/run.json", j.dir);
    let ledger = std::fs::read_to_string(ctx.ws.ledger_path()).unwrap_or_default();
    if !ledger.contains(&mark) {
        let req = attempt_request(&ctx.ws.root, j.iteration, &step, &w, mark);
        let done = attempt::record(ctx.ws.clone(), &req)?;
        j.attempt = Some(format!("{}:{}", done.ledger, done.outcome.line));
    }
    let model = Model::load(ctx.ws.clone())?;
    let (attempts, tasks) = work::fingerprint(&model);
    if let Some(w) = j.work.as_mut() {
        w.progress = tasks != step.tasks_before || attempts > step.attempts_before + 1;
        let counts = matches!(w.outcome, Outcome::Ok | Outcome::Failed);
        if !w.progress && counts && j.idle_before + 1 >= ctx.settings.stall_turns {
            w.outcome = Outcome::Stalled;
            w.detail = format!(
                "{}; {} engineer turns in a row changed no task and added no attempt",
                w.detail,
                j.idle_before + 1
            );
        }
    }
    j.save(ctx.ws)
}

/// The attempt a turn's work makes: what the agent did and what loop's checks measured.
fn attempt_request(
    root: &std::path::Path,
    iteration: u64,
    step: &super::journal::Step,
    w: &Work,
    mark: String,
) -> attempt::Request {
    let mut req = attempt::Request {
        item: Some(step.item.clone()),
        phase: step.task.clone(),
        artifacts: vec![mark],
        ..Default::default()
    };
    let checks: Vec<String> = w
        .verify
        .iter()
        .map(|c| format!("`{}` exit {}", c.command, c.exit_code.map_or("none".into(), |c| c.to_string())))
        .collect();
    let checks = if checks.is_empty() { String::new() } else { format!("; checks: {}", checks.join(", ")) };
    let (result, note) = match (w.by.as_str(), w.outcome) {
        ("command", _) => {
            req.from_run = w.run_folder.as_ref().map(|f| root.join(f));
            (None, None)
        }
        (_, Outcome::GateFailed) => (Some(ResultWord::Blocked), Some(w.detail.clone())),
        (_, Outcome::Ok) if !step.verify.is_empty() => {
            if let Some(t) = &step.task {
                req.tasks.push((t.clone(), TaskState::Done));
            }
            (Some(ResultWord::Success), Some(format!("{}{checks}", w.detail)))
        }
        (_, Outcome::Ok) => {
            (Some(ResultWord::Partial), Some(format!("{}; unverified: the memo names no check", w.detail)))
        }
        // The agent's permissions stopped it: a person must widen them, the step is not failed.
        (_, Outcome::Denied) => (Some(ResultWord::Blocked), Some(format!("{}{checks}", w.detail))),
        (_, o) => (Some(ResultWord::Failed), Some(format!("{} ({o}){checks}", w.detail))),
    };
    req.result = result;
    req.note = note.map(|n| format!("loop turn {iteration}: {n}"));
    for c in &w.verify {
        req.artifacts.push(c.log.clone());
    }
    req
}

/// Review what the turn changed and commit what may go in, with trailers.
fn commit(ctx: &Ctx, j: &mut Journal) -> Result<()> {
    let trailer = format!("Loop-Turn: {}", j.turn);
    // Already committed by a turn that was killed before it could say so.
    let log = gitops::ok(&ctx.top, &["log", "--format=%H%x00%B%x01", &format!("{}..HEAD", j.base)])?;
    if let Some(sha) = log.split('\x01').find_map(|c| {
        let (sha, body) = c.trim_start().split_once('\0')?;
        body.lines().any(|l| l.trim() == trailer).then(|| sha.to_string())
    }) {
        j.commit = Some(sha);
        return Ok(());
    }
    // Work that did not happen (the provider failed, a limit, an interrupt) commits nothing:
    // what the agent left stays in the working tree for the turn taken again.
    if j.work.as_ref().is_some_and(|w| !is_attempt(w) && w.outcome != Outcome::Environment) {
        return Ok(());
    }
    let model = Model::load(ctx.ws.clone())?;
    let review = changes::review(ctx.ws, ctx.settings, ctx.role, &model.protected, &j.base)?;
    let w = j.work.get_or_insert_with(Work::default);
    if !review.refused.is_empty() {
        w.outcome = Outcome::Blocked;
        let list: Vec<String> = review.refused.iter().map(|(p, why)| format!("{p} ({why})")).collect();
        w.detail = format!("the turn changed what it may not: {}", list.join("; "));
        j.review = Some(review);
        return j.save(ctx.ws);
    }
    if !review.stage.is_empty() {
        let list = ctx.ws.root.join(&j.dir).join("stage.txt");
        let mut spec = review.stage.join("\0");
        spec.push('\0');
        std::fs::write(&list, spec).map_err(|e| Error::io(&list, e))?;
        let from = format!("--pathspec-from-file={}", list.display());
        gitops::ok(&ctx.top, &["add", "-A", &from, "--pathspec-file-nul"])?;
    }
    let staged = !gitops::run(&ctx.top, &["diff", "--cached", "--quiet"])?.status.success();
    if !staged {
        // Nothing to commit: the agent's own commits (if any) are the turn's.
        let head = gitops::rev(&ctx.top, "HEAD");
        j.commit = head.filter(|h| *h != j.base);
        j.review = Some(review);
        return j.save(ctx.ws);
    }
    let w = j.work.clone().unwrap_or_default();
    let what = match (&w.item, &w.task) {
        (Some(i), Some(t)) => format!(" [{i}] {t}"),
        (Some(i), None) => format!(" [{i}]"),
        _ => String::new(),
    };
    let subject = format!("loop: {} turn {}{what}: {}", j.role, j.iteration, w.outcome);
    let body = format!(
        "{}\n\nLoop-Iteration: {}\nLoop-Role: {}\nLoop-Result: {}\n{trailer}\n",
        w.detail, j.iteration, j.role, w.outcome
    );
    let o = gitops::run(&ctx.top, &["commit", "--quiet", "-m", &subject, "-m", &body])?;
    if !o.status.success() {
        // The pre-commit guard (or another hook) refused: nothing is committed.
        let w = j.work.get_or_insert_with(Work::default);
        w.outcome = Outcome::Blocked;
        w.detail = format!("the commit was refused: {}", String::from_utf8_lossy(&o.stderr).trim());
        let _ = gitops::run(&ctx.top, &["reset", "--quiet"]);
        j.review = Some(review);
        return j.save(ctx.ws);
    }
    j.commit = gitops::rev(&ctx.top, "HEAD");
    j.review = Some(review);
    j.save(ctx.ws)
}

/// Stamp the turn's end into the state and, when syncing, push the branch and the state
/// together (atomically), retrying a refused push.
fn hand_over(ctx: &Ctx, j: &Journal) -> Result<()> {
    let repo = ctx.repo()?;
    let (parent, st) = state::current(&repo)?;
    let already = st.last.as_ref().is_some_and(|l| l.turn == j.turn);
    let state_oid = if let (true, Some(oid)) = (already, parent) {
        oid
    } else {
        let outcome = j.outcome();
        let stays = j.stays();
        let w = j.work.clone().unwrap_or_default();
        let now = super::state::now();
        let mut next = st.clone();
        next.running = None;
        next.next = if stays { j.role } else { j.role.other() };
        if !stays && j.role == super::config::RoleName::Engineer {
            next.iteration = j.iteration + 1;
        }
        if j.role == super::config::RoleName::Engineer {
            next.idle_engineer_turns = if w.progress { 0 } else { j.idle_before + 1 };
        }
        let started = state::parse_time(&j.started_at).unwrap_or(now);
        next.last = Some(Summary {
            turn: j.turn.clone(),
            iteration: j.iteration,
            role: j.role,
            outcome,
            commit: j.commit.clone(),
            holder: j.holder.clone(),
            duration_s: ((now - started).num_milliseconds() as f64 / 1000.0).max(0.0),
            cost_usd: w.usage.cost_usd,
            tokens_in: w.usage.tokens_in,
            tokens_out: w.usage.tokens_out,
            at: state::rfc3339(now),
        });
        next.updated_at = state::rfc3339(now);
        state::write(&repo, STATE_REF, parent, &next, &format!("{} {} ends: {}", j.role, j.turn, j.outcome()))?
    };
    if !ctx.sync {
        return Ok(());
    }
    let branch = format!("HEAD:refs/heads/{}", ctx.branch);
    let state_spec = format!("{state_oid}:{STATE_REF}");
    let mut last_err = None;
    for k in 0..=ctx.settings.push_retries {
        if k > 0 {
            let pause = std::time::Duration::from_millis((250u64 << k.min(6)).min(10_000));
            ctx.say(&format!(
                "push refused ({}); trying again in {:.1} s\n",
                last_err.as_ref().map_or(String::new(), |e: &Error| e.to_string()),
                pause.as_secs_f64()
            ));
            std::thread::sleep(pause);
            let r = &ctx.settings.remote;
            let b = &ctx.branch;
            gitops::ok(&ctx.top, &["fetch", "--quiet", r, &format!("+refs/heads/{b}:refs/remotes/{r}/{b}")])?;
            let theirs = format!("refs/remotes/{r}/{b}");
            if gitops::rev(&ctx.top, &theirs).is_some() && !gitops::is_ancestor(&ctx.top, &theirs, "HEAD") {
                // Someone pushed to the branch meanwhile: take their commits in (the ledger merges by structure).
                if gitops::run(&ctx.top, &["merge", "--quiet", "--no-edit", &theirs])?.status.success() {
                    ctx.say("merged the branch's new commits before pushing\n");
                } else {
                    let _ = gitops::run(&ctx.top, &["merge", "--abort"]);
                    return Err(Error::Failed(format!("the remote branch moved and does not merge cleanly; the turn is committed ({}) and waits: merge {theirs} by hand, then run loop orchestrate again", j.commit.as_deref().unwrap_or("?"))));
                }
            }
        }
        match ctx.push(&[&branch, &state_spec]) {
            Ok(()) => return Ok(()),
            Err(e) => last_err = Some(e),
        }
    }
    Err(Error::Failed(format!(
        "the turn is committed but its push failed {} times ({}); run loop orchestrate again to push it",
        ctx.settings.push_retries + 1,
        last_err.map_or(String::new(), |e| e.to_string())
    )))
}
