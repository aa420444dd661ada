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
static PLAN_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_.\-]*plans?/[A-Za-z0-9_.\-/]+").unwrap());
static PHASE_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bPhase\s+([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[A-Za-z])\b").unwrap());
static DOLLAR_STAMP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$STAMP\b").unwrap());
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
    pub plan: Option<String>,
    pub phase: Option<PhaseRef>,
    pub checks: Vec<Check>,
    pub task: Option<TaskRef>,
    pub next_task: Option<TaskRef>,
    pub command: Option<String>,
    /// The command as written, `<STAMP>` unfilled.
    pub command_template: Option<String>,
    pub command_from: Option<Where>,
    /// The step names no runnable command: a person (or agent) does it by hand.
    pub manual: bool,
    /// What the manual step is, in the memo's or plan's words.
    pub manual_step: Option<String>,
    pub stamp: String,
    pub artifacts: String,
    /// The artifacts folder as written, `<STAMP>` unfilled.
    pub artifacts_template: String,
    pub blocked_log: String,
    /// Why no step can run, when it cannot.
    pub blocked: Option<String>,
    pub considered: Vec<Considered>,
    /// Things the user should know that do not stop the step, each with `file:line`.
    pub warnings: Vec<String>,
}

pub struct Request<'a> {
    pub item: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub stamp: String,
    /// Take the command and artifacts from the plan only, not from the memo (`loop brief`
    /// drafts the memo, so it must not read its own output).
    pub plan_only: bool,
}

/// The focus item: `--item`, else the memo's `Focus:` (its first ID that is an open item),
/// else the first open item that the ledger's Active Focus names, else the first open item of
/// the Index, else of the ledger.
pub fn focus<'m>(model: &'m Model, item: Option<&str>) -> Result<(&'m ledger::Item, String)> {
    focus_noting(model, item, &mut Vec::new())
}

fn focus_noting<'m>(
    model: &'m Model,
    item: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<(&'m ledger::Item, String)> {
    let ledger = &model.ledger;
    let pick = |id: &str| {
        let found = ledger.find(id);
        found.iter().find(|i| i.is_open()).or(found.first()).copied()
    };
    if let Some(id) = item {
        return pick(id).map(|i| (i, "--item".to_string())).ok_or_else(|| unknown_item(model, id));
    }
    if let Some((ids, line)) = model.memo.as_ref().and_then(|m| m.focus_ids()) {
        let memo = model.memo.as_ref().map_or("input.md", |m| m.path.as_str());
        if let Some(item) = ids.iter().filter_map(|id| pick(id)).find(|i| i.is_open()) {
            return Ok((item, format!("{memo}:{line} Focus")));
        }
        let why = match ids.iter().find_map(|id| pick(id)) {
            Some(i) => format!("[{}] is closed (status {})", i.id, i.status().unwrap_or("?")),
            None => format!("[{}] is not an item of {}", ids[0], ledger.doc.file),
        };
        warnings.push(format!("{memo}:{line}: Focus names {why}; using the ledger's focus"));
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

/// Field names that point at an item's plan.
const PLAN_FIELDS: &[&str] = &["Plan References", "Plan Reference", "Plans", "Plan"];

/// How an item's plan was found.
pub struct PlanChoice<'m> {
    pub plan: Option<&'m Plan>,
    /// Which reference was taken when there were several, and similar remarks (file:line).
    pub notes: Vec<String>,
    /// A reference that names no active plan: the item's plan cannot be read.
    pub broken: Option<Error>,
}

/// The plan paths an item's plan fields name, each with the field's line. Values may continue
/// in nested bullets; paths may be backticked or not, files or folders (`plans/active/x/`).
fn plan_references(model: &Model, item: &ledger::Item) -> Option<(usize, Vec<String>)> {
    let doc = &model.ledger.doc;
    let field = PLAN_FIELDS.iter().find_map(|k| item.field(k))?;
    let it = &doc.items[field.item];
    let text = &doc.text[field.value_range.start..it.range.end.max(field.value_range.end)];
    let mut paths = Vec::new();
    for m in PLAN_PATH.find_iter(text) {
        let p = m.as_str().trim_start_matches("./").trim_end_matches(['.', ',', ';', ':']);
        if !paths.iter().any(|q| q == p) {
            paths.push(p.to_string());
        }
    }
    Some((field.line, paths))
}

/// The item's plan: the plans its `Plan Reference(s)`/`Plan(s)` field names (the first with an
/// open phase when several), else — only when it has no such field — the plan whose
/// `Initiative:` is the item.
pub fn resolve_plan<'m>(model: &'m Model, item: &ledger::Item) -> PlanChoice<'m> {
    let file = &model.ledger.doc.file;
    let mut choice = PlanChoice { plan: None, notes: Vec::new(), broken: None };
    if let Some((line, paths)) = plan_references(model, item) {
        let found: Vec<&Plan> = paths
            .iter()
            .filter_map(|p| {
                let folder = format!("{}/plan.md", p.trim_end_matches('/'));
                model.plan(p).or_else(|| model.plan(&folder))
            })
            .collect();
        let open = found.iter().find(|p| p.phases.iter().any(|ph| !ph.is_done())).or(found.first()).copied();
        if let Some(plan) = open {
            if found.len() > 1 {
                let others: Vec<&str> = found.iter().filter(|p| p.path != plan.path).map(|p| p.path.as_str()).collect();
                choice.notes.push(format!(
                    "{file}:{line}: several plan references; using {} (it has open phases), not {}",
                    plan.path,
                    others.join(", ")
                ));
            }
            choice.plan = Some(plan);
        } else if let Some(first) = paths.first() {
            let why = if model.ws.path(first).exists() {
                format!("which is not an active plan (outside `{}`)", model.ws.config.plans)
            } else {
                "which does not exist".to_string()
            };
            choice.broken = Some(Error::input(file, line, format!("[{}]'s plan field names {first}, {why}", item.id)));
        }
        return choice;
    }
    choice.plan =
        model.plans.iter().find(|p| p.initiative.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&item.id)));
    choice
}

/// The item's plan, or why it has none.
pub fn plan_for<'m>(model: &'m Model, item: &ledger::Item) -> Result<&'m Plan> {
    let choice = resolve_plan(model, item);
    if let Some(e) = choice.broken {
        return Err(e);
    }
    choice.plan.ok_or_else(|| {
        Error::input(
            &model.ledger.doc.file,
            item.line,
            format!(
                "[{}] has no plan: no `Plan Reference:` to a plan file and no plan with `Initiative: {}`",
                item.id, item.id
            ),
        )
    })
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

/// The tasks of `plan` that `text` names, in plan order (`L1d`, `M2g.2c/M2g.2d`, `Phase F4`).
fn named_tasks<'p>(plan: &'p Plan, text: &str) -> Vec<(usize, &'p Task)> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, p) in plan.phases.iter().enumerate() {
        for t in &p.tasks {
            if !t.id.is_empty() && words.iter().any(|w| w.eq_ignore_ascii_case(&t.id)) {
                out.push((i, t));
            }
        }
    }
    out
}

/// A memo whose Do Now was already run by `loop next --run` and recorded by `loop attempt`
/// has done its job: the plan's next task comes next, until someone writes a new memo.
fn memo_consumed(model: &Model, item: &ledger::Item, memo_command: Option<&str>) -> Option<String> {
    let last = model.ws.path(&model.ws.config.reports).join(crate::run::LAST_RUN);
    let dir = std::fs::read_to_string(last).ok()?;
    // The folder is recorded relative to the workspace, which need not be the current directory.
    let rec = crate::run::RunRecord::load(&model.ws.root.join(dir.trim())).ok()?;
    let from_memo = rec.command_from.as_deref().is_some_and(|f| f.starts_with(&format!("{}:", model.ws.config.input)));
    if !from_memo || rec.command_template.as_deref() != memo_command || !rec.item.eq_ignore_ascii_case(&item.id) {
        return None;
    }
    let section = &model.ledger.doc.text[item.range.clone()];
    let artifacts = rec.artifacts.trim_end_matches('/');
    section.contains(artifacts).then(|| artifacts.to_string())
}

pub fn decide(model: &Model, req: &Request) -> Result<Decision> {
    let mut warnings = Vec::new();
    let (item, chosen_by) = focus_noting(model, req.item, &mut warnings)?;
    let ledger_file = &model.ledger.doc.file;
    // The memo speaks for this item when its Focus names it.
    let mut memo = model.memo.as_ref().filter(|m| {
        !req.plan_only
            && req.phase.is_none()
            && m.focus_ids().is_some_and(|(ids, _)| ids.iter().any(|id| id.eq_ignore_ascii_case(&item.id)))
    });
    let choice = resolve_plan(model, item);
    warnings.extend(choice.notes);
    let plan = match (choice.plan, choice.broken) {
        (Some(p), _) => Some(p),
        (None, Some(e)) if memo.is_none() => return Err(e),
        (None, Some(e)) => {
            warnings.push(format!("{e}; following the memo's Do Now"));
            None
        }
        (None, None) => None,
    };
    let mut d = Decision {
        item: ItemRef {
            id: item.id.clone(),
            title: item.title.clone(),
            status: item.status().map(str::to_string),
            line: item.line,
            chosen_by,
        },
        plan: plan.map(|p| p.path.clone()),
        phase: None,
        checks: Vec::new(),
        task: None,
        next_task: None,
        command: None,
        command_template: None,
        command_from: None,
        manual: false,
        manual_step: None,
        stamp: req.stamp.clone(),
        artifacts: String::new(),
        artifacts_template: String::new(),
        blocked_log: String::new(),
        blocked: None,
        considered: Vec::new(),
        warnings: Vec::new(),
    };
    let mut do_now = memo.and_then(|m| m.get("Do Now"));
    if let (Some(m), Some(f)) = (memo, do_now) {
        if let Some(dir) = memo_consumed(model, item, m.do_now().map(|c| c.0).as_deref()) {
            d.checks.push(Check {
                name: "memo".into(),
                outcome: Outcome::Unchecked,
                detail: format!(
                    "this Do Now already ran ({dir}) and is recorded in [{}]: following the plan (`loop brief --write` refreshes the memo)",
                    item.id
                ),
                file: m.path.clone(),
                line: f.line,
            });
            (memo, do_now) = (None, None);
        }
    }
    let mut phase_idx = None;
    if let Some(plan) = plan {
        // The task the memo is about: named in its Do Now, else its Focus, else a `Phase X`
        // (a phase or a task) in its Summary.
        let named = memo
            .map(|m| {
                let by_id = ["Do Now", "Focus"].iter().filter_map(|k| m.get(k)).map(|f| named_tasks(plan, &f.value));
                let summary = m.get("Summary").map(|f| {
                    let refs: Vec<&str> =
                        PHASE_WORD.captures_iter(&f.value).map(|c| c.get(1).unwrap().as_str()).collect();
                    let mut tasks = named_tasks(plan, &refs.join(" "));
                    for r in &refs {
                        if let Some((i, p)) = plan.phases.iter().enumerate().find(|(_, p)| p.id.eq_ignore_ascii_case(r))
                        {
                            tasks.extend(p.tasks.iter().map(|t| (i, t)));
                        }
                    }
                    tasks
                });
                by_id.chain(summary).find(|n| !n.is_empty()).unwrap_or_default()
            })
            .unwrap_or_default();
        let named = named.iter().find(|(_, t)| t.state.is_open()).or(named.first());
        if let Some((_, t)) = named.filter(|(_, t)| t.state == TaskState::Done) {
            warnings.push(format!(
                "{}:{}: the memo names task {}, which the plan marks [D]; doing it again as the memo says",
                plan.path, t.line, t.id
            ));
        }
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
            None => named.map(|(i, _)| *i).or_else(|| plan.phases.iter().position(|p| !p.is_done())),
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
        if let Some(t) = target {
            let phase = &plan.phases[t];
            phase_idx = Some(t);
            d.phase = Some(phase_ref(phase));
            gate_checks(model, item, plan, t, &mut d.checks);
            let mut open = phase.tasks.iter().filter(|t| t.state.is_open());
            let task = match named {
                Some((_, task)) => Some(*task),
                None => open.next(),
            };
            d.task = task.map(task_ref);
            let mut later = phase.tasks.iter().filter(|t| t.state.is_open() && task.is_none_or(|x| x.id != t.id));
            d.next_task = later
                .next()
                .or_else(|| plan.phases.get(t + 1).and_then(|n| n.tasks.iter().find(|t| t.state.is_open())))
                .map(task_ref);
        }
    }
    // The command: the memo's Do Now, else the task's cells, else the item's first Next Action.
    // (where a command is looked for, where that is, what the step is when it names none)
    let step = if let (Some(m), Some(f)) = (memo, do_now) {
        Some((f.value.clone(), Where { file: m.path.clone(), line: f.line }, f.value.clone()))
    } else if let (Some(task), Some(plan)) = (&d.task, plan) {
        Some((
            format!("{} | {}", task.guidance, task.description),
            Where { file: plan.path.clone(), line: task.line },
            format!("task {}: {}", task.id, task.description),
        ))
    } else if let Some((text, line)) = first_next_action(model, item).filter(|_| plan.is_none()) {
        Some((text.clone(), Where { file: ledger_file.clone(), line }, text))
    } else {
        None
    };
    let has_step = step.is_some();
    if let Some((text, from, what)) = step {
        match crate::command::extract(&text) {
            Some(cmd) => d.command = Some(cmd),
            None => {
                d.manual = true;
                d.manual_step = Some(crate::command::summary(&what));
            }
        }
        d.command_from = Some(from);
    }
    if plan.is_none() && memo.is_none() {
        warnings.push(format!(
            "{ledger_file}:{}: [{}] has no plan (no `Plan Reference:` field, no plan with `Initiative: {}`)",
            item.line, item.id, item.id
        ));
    }
    let phase = phase_idx.and_then(|t| plan.map(|p| &p.phases[t]));
    let (artifacts, note) = artifacts_template(model, item, memo, phase);
    warnings.extend(note);
    d.artifacts = fill(&artifacts, &req.stamp);
    d.artifacts_template = artifacts;
    check_inside(model, &d.artifacts, "artifacts folder")?;
    d.blocked_log = match memo.and_then(|m| m.blocked_log()).filter(|(l, _)| is_concrete(l)) {
        Some((log, _)) => fill(&log, &req.stamp),
        None => format!("{}/attempts/failed.log", d.artifacts.trim_end_matches('/')),
    };
    check_inside(model, &d.blocked_log, "If-Blocked log")?;
    d.command_template = d.command.clone();
    d.command = d.command.map(|c| fill(&c, &req.stamp));
    let failed = d.checks.iter().find(|c| c.outcome == Outcome::Fail);
    d.blocked = match (failed, memo.is_some()) {
        (Some(c), false) => Some(format!("{}:{}: {}: {}", c.file, c.line, c.name, c.detail)),
        (Some(c), true) => {
            // The supervisor wrote this step on purpose; the plan's bookkeeping may lag behind.
            warnings.push(format!(
                "{}:{}: gate `{}` fails ({}), but the memo's Do Now names this step, so it goes ahead",
                c.file, c.line, c.name, c.detail
            ));
            None
        }
        (None, _) if memo.is_some() || has_step => None,
        (None, _) => match (plan, phase) {
            (Some(p), None) => Some(format!("every phase of {} is done: close [{}] or add a phase", p.path, item.id)),
            (Some(p), Some(ph)) => {
                Some(format!("{}:{}: Phase {} has no open ([ ] or [P]) task", p.path, ph.line, ph.id))
            }
            (None, _) => Some(format!(
                "{ledger_file}:{}: [{}] has no plan, no memo naming it and no Next Actions to follow",
                item.line, item.id
            )),
        },
    };
    d.warnings = warnings;
    Ok(d)
}

/// The first entry of the item's `Next Actions` (a nested list, or the field's own text).
fn first_next_action(model: &Model, item: &ledger::Item) -> Option<(String, usize)> {
    let f = item.field("Next Actions")?;
    let first = model.ledger.field_entries(item, "Next Actions").into_iter().next();
    first.or_else(|| (!f.value.is_empty()).then(|| (f.value.clone(), f.line)))
}

/// Stamp placeholders that `fill` replaces.
const STAMP_MARKS: &[&str] = &["<STAMP>", "${STAMP}", "$STAMP", "<stamp>", "<timestamp>"];

/// A path with no placeholder left once the stamp is filled in (`<loop_slug>`, `...`, `$OUT`).
pub fn is_concrete(path: &str) -> bool {
    let filled = fill(path, "S");
    !(filled.contains(['<', '>', '$', '*', '{', '}']) || filled.contains("...") || filled.contains('…'))
}

/// A path pattern rather than a path: it holds a stamp or any other placeholder.
pub fn is_template(path: &str) -> bool {
    fill(path, "") != path || !is_concrete(path)
}

/// The artifacts folder as written: the memo's, else the item's `Artifacts Root:` with the
/// plan's phase naming (`phase_b`), else the reports path the phase's Exit Criteria names, else
/// `reports/<ITEM>/phase_<x>/<STAMP>/`. Always a fresh `<STAMP>` folder.
fn artifacts_template(
    model: &Model,
    item: &ledger::Item,
    memo: Option<&crate::memo::Memo>,
    phase: Option<&Phase>,
) -> (String, Option<String>) {
    let reports = model.ws.config.reports.trim_end_matches('/');
    let phase_dir = phase.map(|p| format!("phase_{}/", p.id.to_ascii_lowercase())).unwrap_or_default();
    let root = item
        .field("Artifacts Root")
        .and_then(|f| first_code(&f.value).or_else(|| f.value.split_whitespace().next().map(str::to_string)))
        .filter(|r| is_concrete(r) && r.contains('/'));
    let default = match &root {
        Some(r) => format!("{}/{phase_dir}<STAMP>/", r.trim_end_matches('/')),
        None => format!("{reports}/{}/{phase_dir}<STAMP>/", item.id),
    };
    let written = memo.and_then(|m| m.artifacts().map(|(a, line)| (a, format!("{}:{line}", m.path)))).or_else(|| {
        phase
            .and_then(|p| p.exit_criteria.as_ref())
            .and_then(|e| REPORTS_PATH.find(&e.value))
            .map(|m| (m.as_str().trim_end_matches('.').to_string(), String::new()))
    });
    let Some((path, at)) = written.filter(|_| root.is_none() || memo.is_some()) else {
        return (default, None);
    };
    if !is_concrete(&path) {
        let note = (!at.is_empty())
            .then(|| format!("{at}: artifacts path `{path}` has a placeholder loop cannot fill; using {default}"));
        return (default, note);
    }
    let mut path = path.trim_end_matches('/').to_string() + "/";
    if !STAMP_MARKS.iter().any(|m| path.contains(m)) {
        path.push_str("<STAMP>/");
    }
    (path, None)
}

/// Fill every stamp placeholder (`<STAMP>`, `$STAMP`, `${STAMP}`, `<timestamp>`) with the stamp.
pub fn fill(s: &str, stamp: &str) -> String {
    let mut out = s.replace("${STAMP}", stamp).replace("<STAMP>", stamp).replace("<stamp>", stamp);
    out = out.replace("<timestamp>", stamp);
    // `$STAMP` but not `$STAMP_DIR`.
    DOLLAR_STAMP.replace_all(&out, regex::NoExpand(stamp)).into_owned()
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
            let text = model.ledger.doc.slice(&last.text);
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
