//! Choosing what to run next: the focus item, its plan, the first phase whose gate opens, and
//! that phase's next task and command.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ledger;
use crate::memo::first_code;
use crate::model::Model;
use crate::plan::{Phase, Plan, Task, TaskState};

static BRACKET_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\[({})\]", ledger::ID_PATTERN)).unwrap());
static BARE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\b({})\b", ledger::ID_PATTERN)).unwrap());
static PHASE_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bPhases?\s+([A-Z][0-9]*(?:\.[0-9]+)?)\b").unwrap());
static PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_./<>\-]+\.md").unwrap());
static ATTEMPT_PHASE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\(Phase ([A-Za-z0-9.]+)").unwrap());
static REPORTS_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"reports/[^\s;,`)'\x22]+").unwrap());

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unchecked,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Where {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemRef {
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub line: usize,
    /// Why this item: `--item`, the memo's Focus line, or the ledger's Active Focus.
    pub chosen_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseRef {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub id: String,
    pub description: String,
    pub state: TaskState,
    pub line: usize,
    pub guidance: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    pub phase: PhaseRef,
    pub verdict: String,
}

/// The answer to "what do I run now?", with every reason.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub item: ItemRef,
    pub plan: String,
    pub phase: Option<PhaseRef>,
    pub checks: Vec<Check>,
    pub task: Option<TaskRef>,
    pub next_task: Option<TaskRef>,
    pub command: Option<String>,
    /// The command as written, `<STAMP>` unfilled.
    pub command_template: Option<String>,
    pub command_from: Option<Where>,
    pub stamp: String,
    pub artifacts: String,
    /// The artifacts folder as written, `<STAMP>` unfilled.
    pub artifacts_template: String,
    pub blocked_log: String,
    /// Why no step can run, when it cannot.
    pub blocked: Option<String>,
    pub considered: Vec<Considered>,
}

pub struct Request<'a> {
    pub item: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub stamp: String,
    /// Take the command and artifacts from the plan only, not from the memo (`loop brief`
    /// drafts the memo, so it must not read its own output).
    pub plan_only: bool,
}

/// The focus item: `--item`, else the memo's `Focus:`, else the first open item that the
/// ledger's Active Focus names, else the first open item of the Index, else of the ledger.
pub fn focus<'m>(model: &'m Model, item: Option<&str>) -> Result<(&'m ledger::Item, String)> {
    let ledger = &model.ledger;
    let pick = |id: &str| {
        let found = ledger.find(id);
        found.iter().find(|i| i.is_open()).or(found.first()).copied()
    };
    if let Some(id) = item {
        return pick(id).map(|i| (i, "--item".to_string())).ok_or_else(|| unknown_item(model, id));
    }
    if let Some(memo) = &model.memo {
        if let Some((id, line)) = memo.focus() {
            let item = pick(&id).ok_or_else(|| {
                Error::input(
                    &memo.path,
                    line,
                    format!("Focus names [{id}], which is not an item of {}", ledger.doc.file),
                )
            })?;
            return Ok((item, format!("{}:{line} Focus", memo.path)));
        }
    }
    for text in &ledger.active_focus {
        let ids = BRACKET_ID.captures_iter(text).chain(BARE_ID.captures_iter(text));
        for cap in ids {
            if let Some(item) = pick(&cap[1]).filter(|i| i.is_open()) {
                return Ok((item, format!("{} Active Focus", ledger.doc.file)));
            }
        }
    }
    for row in &ledger.index {
        if let Some(item) = pick(&row.id).filter(|i| i.is_open()) {
            return Ok((item, format!("{}:{} first open Index row", ledger.doc.file, row.line)));
        }
    }
    if let Some(item) = ledger.items.iter().find(|i| i.is_open() && !i.archived) {
        return Ok((item, format!("{}:{} first open item", ledger.doc.file, item.line)));
    }
    Err(Error::input(
        &ledger.doc.file,
        0,
        "no focus item: no --item, no memo Focus line, and no open item in the ledger",
    ))
}

pub fn unknown_item(model: &Model, id: &str) -> Error {
    Error::input(&model.ledger.doc.file, 0, format!("unknown item [{id}] (see `loop status` for the items)"))
}

/// The item's plan: the first plan path in its `Plan References` that the plans glob covers,
/// else the plan whose `Initiative:` is the item's ID.
pub fn plan_for<'m>(model: &'m Model, item: &ledger::Item) -> Result<&'m Plan> {
    let glob = globset::Glob::new(&model.ws.config.plans).map(|g| g.compile_matcher()).ok();
    if let Some(field) = item.field("Plan References") {
        for m in PATH.find_iter(&field.value) {
            let path = m.as_str().trim_start_matches("./");
            if glob.as_ref().is_some_and(|g| g.is_match(path)) {
                return model.plan(path).ok_or_else(|| {
                    Error::input(
                        &model.ledger.doc.file,
                        field.line,
                        format!("Plan References names {path}, which does not exist"),
                    )
                });
            }
        }
    }
    model.plans.iter().find(|p| p.initiative.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&item.id))).ok_or_else(
        || {
            Error::input(
                &model.ledger.doc.file,
                item.line,
                format!(
                    "[{}] has no plan: no `Plan References` to a plan file and no plan with `Initiative: {}`",
                    item.id, item.id
                ),
            )
        },
    )
}

fn phase_ref(p: &Phase) -> PhaseRef {
    PhaseRef { id: p.id.clone(), title: p.title.clone(), line: p.line, done: p.done_count(), total: p.tasks.len() }
}

fn task_ref(t: &Task) -> TaskRef {
    TaskRef {
        id: t.id.clone(),
        description: t.description.clone(),
        state: t.state,
        line: t.line,
        guidance: t.guidance.clone(),
    }
}

pub fn decide(model: &Model, req: &Request) -> Result<Decision> {
    let (item, chosen_by) = focus(model, req.item)?;
    let plan = plan_for(model, item)?;
    let memo_matches =
        model.memo.as_ref().and_then(|m| m.focus()).is_some_and(|(id, _)| id.eq_ignore_ascii_case(&item.id));
    let mut d = Decision {
        item: ItemRef {
            id: item.id.clone(),
            title: item.title.clone(),
            status: item.status().map(str::to_string),
            line: item.line,
            chosen_by,
        },
        plan: plan.path.clone(),
        phase: None,
        checks: Vec::new(),
        task: None,
        next_task: None,
        command: None,
        command_template: None,
        command_from: None,
        stamp: req.stamp.clone(),
        artifacts: String::new(),
        artifacts_template: String::new(),
        blocked_log: String::new(),
        blocked: None,
        considered: Vec::new(),
    };
    let target = match req.phase {
        Some(id) => Some(plan.phases.iter().position(|p| p.id.eq_ignore_ascii_case(id)).ok_or_else(|| {
            Error::input(
                &plan.path,
                0,
                format!(
                    "no Phase {id} in this plan (phases: {})",
                    plan.phases.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?),
        None => plan.phases.iter().position(|p| !p.is_done()),
    };
    for (i, p) in plan.phases.iter().enumerate() {
        let verdict = match target {
            Some(t) if i < t && p.is_done() => "done",
            Some(t) if i < t => "not done",
            Some(t) if i == t => "selected",
            None => "done",
            _ => "later",
        };
        d.considered.push(Considered { phase: phase_ref(p), verdict: verdict.into() });
    }
    let Some(t) = target else {
        d.blocked = Some(format!("every phase of {} is done: close [{}] or add a phase", plan.path, item.id));
        return Ok(d);
    };
    let phase = &plan.phases[t];
    d.phase = Some(phase_ref(phase));
    gate_checks(model, item, plan, t, &mut d.checks);
    let open = phase.tasks.iter().filter(|t| t.state.is_open());
    let mut open = open.map(task_ref);
    d.task = open.next();
    d.next_task = open
        .next()
        .or_else(|| plan.phases.get(t + 1).and_then(|n| n.tasks.iter().find(|t| t.state.is_open())).map(task_ref));
    // The memo a human wrote for this very step wins over the plan's guidance — unless it names
    // another task of this plan, i.e. it was written for a step that is already past.
    let mut memo = model.memo.as_ref().filter(|_| memo_matches && !req.plan_only);
    if let (Some(m), Some(task)) = (memo, &d.task) {
        if let Some(f) = m.get("Do Now") {
            let names =
                |id: &str| Regex::new(&format!(r"\b{}\b", regex::escape(id))).is_ok_and(|r| r.is_match(&f.value));
            let other = plan.phases.iter().flat_map(|p| &p.tasks).find(|t| t.id != task.id && names(&t.id));
            if let (Some(other), false) = (other, names(&task.id)) {
                d.checks.push(Check {
                    name: "memo".into(),
                    outcome: Outcome::Unchecked,
                    detail: format!("the Do Now names task {}, the plan's next task is {}: using the plan's command (`loop brief --write` refreshes the memo)", other.id, task.id),
                    file: m.path.clone(),
                    line: f.line,
                });
                memo = None;
            }
        }
    }
    if let Some((cmd, line)) = memo.and_then(|m| m.do_now()) {
        d.command = Some(cmd);
        d.command_from = Some(Where { file: model.ws.config.input.clone(), line });
    } else if let Some(task) = &d.task {
        d.command = first_code(&task.guidance);
        d.command_from = d.command.as_ref().map(|_| Where { file: plan.path.clone(), line: task.line });
    }
    let artifacts = memo
        .and_then(|m| m.artifacts())
        .map(|a| a.0)
        .or_else(|| {
            phase
                .exit_criteria
                .as_ref()
                .and_then(|e| REPORTS_PATH.find(&e.value))
                .map(|m| m.as_str().trim_end_matches('.').to_string())
        })
        .unwrap_or_else(|| {
            format!("{}/{}/{}/<STAMP>/", model.ws.config.reports.trim_end_matches('/'), item.id, phase.id)
        });
    d.artifacts = fill(&artifacts, &req.stamp);
    d.artifacts_template = artifacts;
    check_inside(model, &d.artifacts, "artifacts folder")?;
    d.blocked_log = match memo.and_then(|m| m.blocked_log()) {
        Some((log, _)) => fill(&log, &req.stamp),
        None => format!("{}/attempts/failed.log", d.artifacts.trim_end_matches('/')),
    };
    check_inside(model, &d.blocked_log, "If-Blocked log")?;
    d.command_template = d.command.clone();
    d.command = d.command.map(|c| fill(&c, &req.stamp));
    d.blocked = if let Some(c) = d.checks.iter().find(|c| c.outcome == Outcome::Fail) {
        Some(format!("{}:{}: {}: {}", c.file, c.line, c.name, c.detail))
    } else if let Some(task) = d.task.as_ref().filter(|_| d.command.is_none()) {
        Some(format!("{}:{}: task {} names no backticked command in its guidance", plan.path, task.line, task.id))
    } else if d.task.is_none() {
        Some(format!("{}:{}: Phase {} has no open ([ ] or [P]) task", plan.path, phase.line, phase.id))
    } else {
        None
    };
    Ok(d)
}

fn gate_checks(model: &Model, item: &ledger::Item, plan: &Plan, t: usize, checks: &mut Vec<Check>) {
    let phase = &plan.phases[t];
    let at = |line: usize| (plan.path.clone(), line);
    let mut push = |name: &str, outcome, detail: String, (file, line): (String, usize)| {
        checks.push(Check { name: name.into(), outcome, detail, file, line })
    };
    let unfinished: Vec<&Phase> = plan.phases[..t].iter().filter(|p| !p.is_done()).collect();
    match unfinished.first() {
        None => push(
            "earlier phases done",
            Outcome::Pass,
            if t == 0 { "first phase".into() } else { format!("{} earlier phase(s) fully [D]", t) },
            at(phase.line),
        ),
        Some(p) => push(
            "earlier phases done",
            Outcome::Fail,
            format!("Phase {} is not done ({}/{} tasks [D])", p.id, p.done_count(), p.tasks.len()),
            at(p.line),
        ),
    }
    if let Some(pre) = &phase.prereqs {
        let mut any = false;
        for cap in PHASE_REF.captures_iter(&pre.value) {
            any = true;
            let id = &cap[1];
            match plan.phase(id) {
                Some(p) if p.is_done() => {
                    push(&format!("prereq Phase {id}"), Outcome::Pass, "done".into(), at(pre.line))
                }
                Some(p) => push(
                    &format!("prereq Phase {id}"),
                    Outcome::Fail,
                    format!("Phase {id} is not done ({}/{} tasks [D])", p.done_count(), p.tasks.len()),
                    at(pre.line),
                ),
                None => push(
                    &format!("prereq Phase {id}"),
                    Outcome::Unchecked,
                    "no such phase in this plan".into(),
                    at(pre.line),
                ),
            }
        }
        for cap in BRACKET_ID.captures_iter(&pre.value) {
            any = true;
            let id = &cap[1];
            match model.ledger.find(id).first() {
                Some(i) if !i.is_open() => push(
                    &format!("prereq [{id}]"),
                    Outcome::Pass,
                    format!("status {}", i.status().unwrap_or("?")),
                    at(pre.line),
                ),
                Some(i) => push(
                    &format!("prereq [{id}]"),
                    Outcome::Fail,
                    format!("status is {}", i.status().unwrap_or("unset")),
                    at(pre.line),
                ),
                None => push(
                    &format!("prereq [{id}]"),
                    Outcome::Unchecked,
                    "not an item of the ledger".into(),
                    at(pre.line),
                ),
            }
        }
        if !any {
            push("prereqs", Outcome::Unchecked, pre.value.clone(), at(pre.line));
        }
    }
    // Evidence: the item's last attempt, if it failed a gate (❌) on an earlier task of this
    // phase, blocks the tasks after it until that task is run again.
    {
        if let Some(last) = item.attempts.iter().max_by_key(|a| a.number) {
            let text = model.ledger.doc.item_text(&model.ledger.doc.items[last.item]);
            let label = ATTEMPT_PHASE.captures(text).map(|c| c[1].to_string());
            let on_this_phase = label.as_deref().and_then(|l| plan.task(l)).filter(|(p, _)| p.id == phase.id);
            let next_open = phase.tasks.iter().find(|t| t.state.is_open()).map(|t| t.id.as_str());
            if let (Some((_, task)), true) = (on_this_phase, text.contains('❌')) {
                if next_open != Some(task.id.as_str()) {
                    push(
                        &format!("evidence of task {}", task.id),
                        Outcome::Fail,
                        format!(
                            "Attempt #{} failed a metric gate (❌); rerun {} before moving on",
                            last.number, task.id
                        ),
                        (model.ledger.doc.file.clone(), last.line),
                    );
                } else {
                    push(
                        &format!("evidence of task {}", task.id),
                        Outcome::Unchecked,
                        format!("Attempt #{} failed a gate; this step reruns it", last.number),
                        (model.ledger.doc.file.clone(), last.line),
                    );
                }
            }
        }
    }
    for task in phase.tasks.iter().filter(|t| t.state == TaskState::Blocked) {
        push(
            &format!("task {} not blocked", task.id),
            Outcome::Fail,
            format!("task {} is [B]: {}", task.id, task.description),
            at(task.line),
        );
    }
}

/// Replace every `<STAMP>` with the run's stamp.
pub fn fill(s: &str, stamp: &str) -> String {
    s.replace("<STAMP>", stamp)
}

fn check_inside(model: &Model, rel: &str, what: &str) -> Result<()> {
    let rel_path = std::path::Path::new(rel);
    if model.ws.relative(rel_path).is_err() {
        return Err(Error::input(
            rel,
            0,
            format!("{what} resolves outside the workspace {}; refusing", model.ws.root.display()),
        ));
    }
    Ok(())
}
