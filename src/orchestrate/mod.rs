//! `loop orchestrate`, `loop turn`, `loop state`, `loop runs`: the supervisor/engineer loop run
//! by loop itself. Turns take strict turns through a state that lives in git
//! (`refs/loop/state`, changed only by compare-and-swap); each turn is journaled phase by phase
//! in its run folder and finished by the next start after a crash; agents are external programs
//! with timeouts, and what a turn records and commits comes from what loop measured and checked.

pub mod agent;
pub mod changes;
pub mod config;
mod ctx;
pub mod events;
pub mod gitops;
pub mod journal;
pub mod state;
mod turn;
mod work;

use std::time::{Duration, Instant};

use serde::Serialize;

use config::{RoleName, Settings};
use ctx::Ctx;
use journal::{Journal, Phase};
use state::{State, Summary, STATE_REF};

use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::progress::Sink;
use crate::workspace::Workspace;

pub struct Options {
    pub role: RoleName,
    pub sync: bool,
    pub iterations: Option<u32>,
    /// Where agent output and loop's notes go.
    pub sink: Sink,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub role: RoleName,
    pub turns: Vec<Journal>,
    /// Why orchestrate stopped before its turns were done: an outcome, e.g. `budget`.
    pub stopped: Option<Outcome>,
    pub message: Option<String>,
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        self.stopped.map_or(0, Outcome::exit_code)
    }
}

fn settings(ws: &Workspace) -> Settings {
    ws.config.orchestrate.clone().unwrap_or_default()
}

fn context<'a>(ws: &'a Workspace, s: &'a Settings, role: RoleName, sync: bool, sink: Sink) -> Result<Ctx<'a>> {
    // A malformed LOOP_NOW is refused here, once, rather than read as the real time later.
    crate::clock::now()?;
    let top = gitops::toplevel(&ws.root)?;
    let current = gitops::current_branch(&top).ok_or_else(|| {
        Error::Usage("HEAD is detached: check out the branch turns go to (orchestrate.branch)".into())
    })?;
    let branch = s.branch.clone().unwrap_or_else(|| current.clone());
    if current != branch {
        return Err(Error::Usage(format!(
            "`{current}` is checked out but turns go to `{branch}` (orchestrate.branch in loop.yaml): `git switch {branch}`"
        )));
    }
    if sync {
        gitops::ok(&top, &["remote", "get-url", &s.remote]).map_err(|_| {
            Error::Usage(format!("--sync-via-git: no remote `{}` (orchestrate.remote in loop.yaml)", s.remote))
        })?;
    }
    Ok(Ctx { ws, settings: s, role, sync, holder: state::holder(&top), top, branch, sink })
}

/// Once per clone: the ledger merge driver before the first pull, and the agent logs kept out
/// of `git status`.
fn prepare_clone(ctx: &Ctx) -> Result<()> {
    crate::merge::driver::install_local(&ctx.top, Some(&ctx.ws.root))?;
    let exclude = gitops::git_dir(&ctx.top)?.join("info/exclude");
    let text = std::fs::read_to_string(&exclude).unwrap_or_default();
    let inside = crate::workspace::to_slash(ctx.ws.root.strip_prefix(&ctx.top).unwrap_or(std::path::Path::new("")));
    let logs = if inside.is_empty() { "/logs/".to_string() } else { format!("/{inside}/logs/") };
    if !text.lines().any(|l| l.trim() == logs) {
        if let Some(d) = exclude.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
        std::fs::write(&exclude, format!("{text}{sep}# agent logs of loop turns\n{logs}\n"))
            .map_err(|e| Error::io(&exclude, e))?;
    }
    Ok(())
}

/// `loop turn --role R`: one turn in this clone now, whatever the state says (no push).
pub fn take_turn(ws: &Workspace, role: RoleName, sink: Sink) -> Result<Journal> {
    let s = settings(ws);
    let ctx = context(ws, &s, role, false, sink)?;
    prepare_clone(&ctx)?;
    crate::run::catch_interrupts();
    if let Some(mut j) = journal::unfinished(ws, role)? {
        if j.reached(Phase::Claimed) {
            ctx.say(&format!("finishing the interrupted turn {} first\n", j.turn));
            turn::finish(&ctx, &mut j)?;
            return Ok(j);
        }
        journal::set_pointer(ws, role, None)?;
    }
    let repo = ctx.repo()?;
    let (parent, mut st) = state::current(&repo)?;
    // A person's turn out of order takes the iteration the state is at.
    st.running = None;
    let mut j = turn::claim(&ctx, parent, &st)?
        .ok_or_else(|| Error::Failed("the state changed meanwhile; try again".into()))?;
    turn::finish(&ctx, &mut j)?;
    Ok(j)
}

/// `loop orchestrate --role R`: this role's next N turns, waiting for the other role between them.
pub fn orchestrate(ws: &Workspace, o: &Options) -> Result<Report> {
    let s = settings(ws);
    let ctx = context(ws, &s, o.role, o.sync, o.sink.clone())?;
    prepare_clone(&ctx)?;
    crate::run::catch_interrupts();
    let want = o.iterations.unwrap_or(s.iterations) as usize;
    let mut report = Report { role: o.role, turns: Vec::new(), stopped: None, message: None };
    let t0 = Instant::now();
    let mut cost = 0.0;
    let mut said = String::new();
    // Turns that counted (not taken again), and provider failures in a row.
    let mut done = 0;
    let mut failures = 0u32;
    let stop = |r: &mut Report, outcome: Outcome, msg: String| {
        r.stopped = Some(outcome);
        r.message = Some(msg);
    };
    while done < want {
        if crate::run::interrupted() {
            stop(&mut report, Outcome::Interrupted, "interrupted while waiting for a turn".into());
            break;
        }
        if let Some(b) = s.wall_budget.filter(|b| t0.elapsed() >= b.0) {
            stop(&mut report, Outcome::Budget, format!("wall_budget {:.0} s spent", b.0.as_secs_f64()));
            break;
        }
        if let Some(b) = s.cost_budget.filter(|b| cost >= *b) {
            stop(&mut report, Outcome::Budget, format!("cost_budget {b} spent ({cost:.4} reported or priced)"));
            break;
        }
        let j = match journal::unfinished(ws, o.role)? {
            Some(j) => resume(&ctx, j)?,
            None => next_turn(&ctx, &mut said)?,
        };
        let Some(mut j) = j else {
            std::thread::sleep(s.poll.0.max(Duration::from_millis(100)));
            continue;
        };
        if !j.reached(Phase::Done) {
            turn::finish(&ctx, &mut j)?;
        }
        let w = j.work.clone().unwrap_or_default();
        cost += w.usage.cost_usd.unwrap_or(0.0);
        let outcome = j.outcome();
        ctx.say(&format!("turn {} ({}): {outcome} — {}\n", j.iteration, j.turn, w.detail));
        for d in &w.denied {
            ctx.say(&format!("  refused: {d}\n"));
        }
        report.turns.push(j);
        if w.provider && outcome != Outcome::Limit {
            failures += 1;
            if failures > s.provider_retries {
                let msg =
                    format!("{}; {} tries in a row (provider_retries: {})", w.detail, failures, s.provider_retries);
                stop(&mut report, Outcome::Unavailable, msg);
                break;
            }
            let pause = s.retry_pause.0.saturating_mul(1 << (failures - 1).min(16)).min(Duration::from_secs(1800));
            ctx.say(&format!("the provider failed; the turn is taken again in {:.1} s\n", pause.as_secs_f64()));
            if !pause_unless_interrupted(pause) {
                stop(&mut report, Outcome::Interrupted, "interrupted while waiting to retry".into());
                break;
            }
            continue;
        }
        failures = 0;
        if outcome == Outcome::Limit {
            match limit_wait(&s, &w, t0.elapsed()) {
                Ok(wait) => {
                    ctx.say(&format!(
                        "a usage limit; waiting {:.0} s for its reset ({})\n",
                        wait.as_secs_f64(),
                        w.resets_at.as_deref().unwrap_or("?")
                    ));
                    if !pause_unless_interrupted(wait) {
                        stop(&mut report, Outcome::Interrupted, "interrupted while waiting for a usage limit".into());
                        break;
                    }
                    continue;
                }
                Err(why) => {
                    stop(&mut report, Outcome::Limit, format!("{}; {why}", w.detail));
                    break;
                }
            }
        }
        if outcome.stops() {
            stop(&mut report, outcome, w.detail);
            break;
        }
        done += 1;
    }
    Ok(report)
}

/// How long to wait out a usage limit, or why not to.
fn limit_wait(s: &Settings, w: &journal::Work, spent: Duration) -> std::result::Result<Duration, String> {
    if s.on_limit == config::OnLimit::Stop {
        return Err("on_limit: stop".into());
    }
    let reset = w.resets_at.as_deref().and_then(state::parse_time).ok_or("the provider gave no reset time")?;
    let now = crate::clock::now().map_err(|e| e.to_string())?;
    let wait = (reset - now).to_std().unwrap_or_default() + Duration::from_secs(5);
    match s.wall_budget {
        Some(b) if spent + wait > b.0 => Err(format!("its reset ({reset}) falls after wall_budget")),
        _ => Ok(wait),
    }
}

/// Sleep `d`, waking early for an interrupt; false when interrupted.
fn pause_unless_interrupted(d: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < d {
        if crate::run::interrupted() {
            return false;
        }
        std::thread::sleep((d - t.elapsed()).min(Duration::from_millis(100)));
    }
    true
}

/// A turn a crash left: finish it if its claim took, drop it if not.
fn resume(ctx: &Ctx, mut j: Journal) -> Result<Option<Journal>> {
    if !j.reached(Phase::Claimed) {
        if ctx.sync {
            ctx.fetch()?;
        }
        let st = state::read(&ctx.repo()?, STATE_REF)?.map(|(_, s)| s);
        let took = st.and_then(|s| s.running).is_some_and(|c| c.turn == j.turn);
        if !took {
            journal::set_pointer(ctx.ws, ctx.role, None)?;
            let _ = std::fs::remove_dir_all(ctx.ws.root.join(&j.dir));
            return Ok(None);
        }
        j.mark(ctx.ws, &*ctx.sink, Phase::Claimed)?;
    }
    let at = j.phases.last().map_or("claimed", |m| m.phase.as_str());
    ctx.say(&format!("resuming the interrupted turn {} after its `{at}` phase\n", j.turn));
    Ok(Some(j))
}

/// Claim the role's next turn when the state says it is its turn; `None` to wait.
fn next_turn(ctx: &Ctx, said: &mut String) -> Result<Option<Journal>> {
    if ctx.sync {
        ctx.fetch()?;
        catch_up(ctx)?;
    }
    let repo = ctx.repo()?;
    let (parent, st) = state::current(&repo)?;
    let mut tell = |msg: String| {
        if *said != msg {
            ctx.say(&msg);
            *said = msg;
        }
    };
    if let Some(c) = &st.running {
        if c.role == ctx.role && c.holder == ctx.holder {
            return Err(Error::Failed(format!(
                "the state says this clone runs {} but its journal is gone; `loop state stamp {} fail` clears it",
                c.turn, c.role
            )));
        }
        match st.lease_expired(state::now()) {
            Some(c) => tell(format!(
                "waiting: the {} turn {} of {} has an expired lease (since {}); it resumes when that {} restarts (`loop state` shows it)\n",
                c.role, c.turn, c.holder, c.lease_expires_at, c.role
            )),
            None => tell(format!("waiting: the {} runs turn {} ({})\n", c.role, c.turn, c.holder)),
        }
        return Ok(None);
    }
    if st.next != ctx.role {
        tell(format!(
            "waiting for the {} (iteration {}): its turn is next; run `loop orchestrate --role {}` too (here, or in its clone with --sync-via-git)\n",
            st.next, st.iteration, st.next
        ));
        return Ok(None);
    }
    let dirty = gitops::ok(&ctx.top, &["status", "--porcelain", "--untracked-files=no"])?;
    if !dirty.trim().is_empty() {
        return Err(Error::Failed(format!(
            "uncommitted changes to tracked files:\n{}a turn commits what it changes, so commit or stash these first",
            dirty
        )));
    }
    said.clear();
    turn::claim(ctx, parent, &st)
}

/// Bring the branch up to the remote's before a turn (the ledger merges by structure).
fn catch_up(ctx: &Ctx) -> Result<()> {
    let theirs = format!("refs/remotes/{}/{}", ctx.settings.remote, ctx.branch);
    if gitops::rev(&ctx.top, &theirs).is_none() || gitops::is_ancestor(&ctx.top, &theirs, "HEAD") {
        return Ok(());
    }
    let o = gitops::run(&ctx.top, &["merge", "--quiet", "--no-edit", &theirs])?;
    if !o.status.success() {
        let _ = gitops::run(&ctx.top, &["merge", "--abort"]);
        return Err(Error::Failed(format!(
            "{theirs} does not merge into this clone: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(())
}

/// What `loop state` shows.
#[derive(Debug, Serialize)]
pub struct View {
    pub state: Option<State>,
    /// The running turn's lease ran out: said with the holder and since when.
    pub lease_expired: Option<String>,
    /// Where the state was read: `remote` (fetched now) or `local`.
    pub source: String,
    pub warning: Option<String>,
    /// Unfinished turns of this clone, by role.
    pub unfinished: Vec<String>,
}

fn state_ctx<'a>(ws: &'a Workspace, s: &'a Settings) -> Result<Ctx<'a>> {
    let top = gitops::toplevel(&ws.root)?;
    let sync = gitops::ok(&top, &["remote", "get-url", &s.remote]).is_ok();
    let branch = s.branch.clone().or_else(|| gitops::current_branch(&top)).unwrap_or_else(|| "main".into());
    Ok(Ctx {
        ws,
        settings: s,
        role: RoleName::Supervisor,
        sync,
        holder: state::holder(&top),
        top,
        branch,
        sink: crate::progress::quiet(),
    })
}

pub fn show_state(ws: &Workspace) -> Result<View> {
    let s = settings(ws);
    let ctx = state_ctx(ws, &s)?;
    let mut warning = None;
    let mut source = "local".to_string();
    if ctx.sync {
        match ctx.fetch() {
            Ok(()) => source = "remote".into(),
            Err(e) => warning = Some(format!("showing this clone's copy: {e}")),
        }
    }
    let st = state::read(&ctx.repo()?, STATE_REF)?.map(|(_, s)| s);
    let lease_expired = st.as_ref().and_then(|s| s.lease_expired(state::now())).map(|c| {
        format!(
            "the {} turn {} held by {} has an expired lease (since {})",
            c.role, c.turn, c.holder, c.lease_expires_at
        )
    });
    let mut unfinished = Vec::new();
    for r in [RoleName::Supervisor, RoleName::Engineer] {
        if let Ok(Some(j)) = journal::unfinished(ws, r) {
            unfinished.push(format!("{} after `{}`", j.turn, j.phases.last().map_or("start", |m| m.phase.as_str())));
        }
    }
    Ok(View { state: st, lease_expired, source, warning, unfinished })
}

/// Change the state by hand: `stamp ROLE ok|fail` ends the role's turn and hands over; `reset`
/// (role `None`) makes it the supervisor's turn with nothing running.
pub fn repair(ws: &Workspace, stamp: Option<(RoleName, bool)>) -> Result<State> {
    let s = settings(ws);
    let ctx = state_ctx(ws, &s)?;
    if ctx.sync {
        ctx.fetch()?;
    }
    let repo = ctx.repo()?;
    let (parent, mut st) = state::current(&repo)?;
    let now = state::now();
    let why = match stamp {
        Some((role, ok)) => {
            let claim = st.running.take().filter(|c| c.role == role);
            let turn = claim.as_ref().map_or(format!("i{:05}-{role}-by-hand", st.iteration), |c| c.turn.clone());
            let outcome = if ok { Outcome::Ok } else { Outcome::AgentFailed };
            st.last = Some(Summary {
                turn: turn.clone(),
                iteration: st.iteration,
                role,
                outcome,
                commit: None,
                holder: format!("by hand ({})", ctx.holder),
                duration_s: 0.0,
                cost_usd: None,
                tokens_in: 0,
                tokens_out: 0,
                at: state::rfc3339(now),
            });
            st.next = role.other();
            if role == RoleName::Engineer {
                st.iteration += 1;
            }
            if let Ok(Some(j)) = journal::unfinished(ws, role) {
                if j.turn == turn {
                    journal::set_pointer(ws, role, None)?;
                }
            }
            format!("{role} stamped {outcome} by hand")
        }
        None => {
            st.running = None;
            st.next = RoleName::Supervisor;
            st.idle_engineer_turns = 0;
            "reset by hand".to_string()
        }
    };
    st.updated_at = state::rfc3339(now);
    let oid = state::write(&repo, STATE_REF, parent, &st, &why)?;
    if ctx.sync {
        ctx.push(&[&format!("{oid}:{STATE_REF}")])?;
    }
    Ok(st)
}

/// Every turn the state's history records, oldest first.
pub fn runs(ws: &Workspace) -> Result<Vec<Summary>> {
    let s = settings(ws);
    let ctx = state_ctx(ws, &s)?;
    if ctx.sync {
        let _ = ctx.fetch();
    }
    recorded_turns(&ctx.repo()?)
}

/// The turns `refs/loop/state` records in this repository as it is (no fetch), oldest first.
pub fn recorded_turns(repo: &git2::Repository) -> Result<Vec<Summary>> {
    let mut out: Vec<Summary> = Vec::new();
    for st in state::history(repo, STATE_REF)?.into_iter().rev() {
        if let Some(l) = st.last {
            if !out.iter().any(|o| o.turn == l.turn) {
                out.push(l);
            }
        }
    }
    Ok(out)
}
