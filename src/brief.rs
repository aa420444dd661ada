//! `loop brief`: draft the next Do Now memo (`input.md`) from the ledger and plans, through a
//! minijinja template, so that `loop next` reads it back to the same decision.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::focus;
use crate::gate::Outcome;
use crate::model::Model;
use crate::next::{self, Decision};

/// A Next Action marked done ("incomplete" is not "complete").
static DONE_MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)✅|✔|^\s*\[x\]|\b(complete|completed|done)\b").unwrap());

#[derive(Debug, Serialize)]
struct Ctx {
    item: serde_json::Value,
    plan: String,
    phase: serde_json::Value,
    task: serde_json::Value,
    next_task: serde_json::Value,
    stamp: String,
    artifacts: String,
    blocked_log: String,
    branch: String,
    mode: String,
    mapped_tests: String,
    summary: String,
    next_up: String,
    priorities: Vec<String>,
    /// How to record the result: `--last-run` after a command, an explicit attempt otherwise.
    record: String,
    how_to: Vec<String>,
    pitfalls: Vec<String>,
    pointers: Vec<String>,
}

pub struct Brief {
    pub text: String,
    pub decision: Decision,
}

pub fn render(model: &Model, item: Option<&str>, stamp: &str, template: &str, template_name: &str) -> Result<Brief> {
    let d = next::decide(model, &next::Request { item, phase: None, stamp: stamp.to_string(), plan_only: true })?;
    if let Some(why) = &d.blocked {
        return Err(Error::Failed(format!("no memo to write, the item is blocked: {why}")));
    }
    let Some(task) = &d.task else { return Err(Error::Failed("no open task to brief".into())) };
    let (phase, plan_path) = place(model, &d, task)?;
    let plan_path = plan_path.as_str();
    let command = d.command_template.clone().unwrap_or_default();
    let ledger = &model.ledger;
    let litem = ledger.find(&d.item.id).into_iter().next().ok_or_else(|| focus::unknown_item(model, &d.item.id))?;
    let (mode, mapped_tests) = mode_of(&command);
    let (record, how_to) = how_to(&d, task, &command);
    let ctx = Ctx {
        item: serde_json::json!({"id": d.item.id, "title": d.item.title, "status": d.item.status, "line": d.item.line}),
        plan: plan_path.to_string(),
        phase: serde_json::json!({"id": phase.id, "title": phase.title, "line": phase.line}),
        task: serde_json::json!({"id": task.id, "description": task.description, "command": command, "line": task.line, "checks": d.verify_template}),
        next_task: serde_json::to_value(&d.next_task).unwrap_or_default(),
        stamp: d.stamp.clone(),
        artifacts: d.artifacts_template.clone(),
        blocked_log: format!("{}/attempts/failed.log", d.artifacts_template.trim_end_matches('/')),
        branch: branch(model),
        mode: mode.into(),
        mapped_tests,
        summary: format!("{} — Phase {} task {}: {}.", d.item.title, phase.id, task.id, task.description),
        next_up: match &d.next_task {
            Some(n) => format!("{} {}.", n.id, n.description),
            None => "close the phase and brief again.".into(),
        },
        priorities: priorities(model, &d, litem, plan_path, &phase),
        record,
        how_to,
        pitfalls: pitfalls(model, litem),
        pointers: vec![
            format!("{plan_path}:{}", phase.line),
            format!("{plan_path}:{}", task.line),
            format!("{}:{}", ledger.doc.file, d.item.line),
        ],
    };
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    let tmpl_err = |e: minijinja::Error| Error::input(template_name, e.line().unwrap_or(0), format!("template: {e}"));
    env.add_template("memo", template).map_err(tmpl_err)?;
    let text = env.get_template("memo").map_err(tmpl_err)?.render(&ctx).map_err(tmpl_err)?;
    Ok(Brief { text, decision: d })
}

/// The task's phase and the file that holds it: a plan's phase, or — for a task of the item's
/// own checklist in the ledger — the task's place there.
fn place(model: &Model, d: &Decision, task: &next::TaskRef) -> Result<(Where, String)> {
    let phase = match &d.phase {
        Some(p) => Where { id: p.id.clone(), title: p.title.clone(), line: p.line },
        None if task.file == model.ledger.doc.file => {
            Where { id: task.id.clone(), title: format!("[{}] checklist", d.item.id), line: task.line }
        }
        None => return Err(Error::Failed("no open task to brief".into())),
    };
    let plan_path = match (&d.plan, &d.phase) {
        (Some(p), Some(_)) => p.clone(),
        (_, None) => task.file.clone(),
        (None, Some(_)) => return Err(Error::Failed(format!("[{}] has no plan to brief from", d.item.id))),
    };
    Ok((phase, plan_path))
}

/// The memo's Mode and Mapped tests, by what the command runs.
fn mode_of(command: &str) -> (&'static str, String) {
    let lower = command.to_ascii_lowercase();
    let mode = if lower.contains("profile") || lower.contains("bench") {
        "Perf"
    } else if lower.contains("test") {
        "TDD"
    } else {
        "Evidence"
    };
    let mapped = if lower.contains("pytest") || lower.contains("cargo test") {
        format!("`{command}`")
    } else {
        "none — evidence-only".to_string()
    };
    (mode, mapped)
}

/// Why this step: the phase's gate verdict, each check, and the item's first Next Action still
/// to do (not marked done, not about a task the plan has closed).
fn priorities(model: &Model, d: &Decision, litem: &crate::ledger::Item, plan_path: &str, phase: &Where) -> Vec<String> {
    let unchecked = d.checks.iter().filter(|c| c.outcome == Outcome::Unchecked).count();
    let verdict = if d.checks.iter().any(|c| c.outcome == Outcome::Fail) {
        "a check fails".to_string()
    } else if unchecked > 0 {
        format!("no check fails; {unchecked} unchecked")
    } else {
        "every check passes".to_string()
    };
    let mut out = vec![format!("{}:{} – Phase {} is the next gate ({verdict}).", plan_path, phase.line, phase.id)];
    for c in &d.checks {
        let mark = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Unchecked => "unchecked",
        };
        out.push(format!("{}:{} – {}: {mark} ({}).", c.file, c.line, c.name, c.detail));
    }
    let entries = model.ledger.field_entries(litem, "Next Actions");
    if let Some((first, line)) = entries.into_iter().find(|(text, _)| !next_action_is_done(text, model.plan(plan_path)))
    {
        let first = crate::status::ellipsize(&first, 140);
        out.push(format!("{}:{line} – [{}] Next Actions: {first}", model.ledger.doc.file, d.item.id));
    }
    out
}

/// The item's Risks/Assumptions, then the workflow's standing rules.
fn pitfalls(model: &Model, litem: &crate::ledger::Item) -> Vec<String> {
    let mut out: Vec<String> =
        model.ledger.field_entries(litem, "Risks/Assumptions").into_iter().map(|(t, _)| t).collect();
    let reports = model.ws.config.reports.dir.trim_end_matches('/');
    out.push(format!("Do not commit `{reports}/` artifacts; reference them only."));
    out.push(format!("Do not modify protected assets listed in {}.", model.ws.config.index));
    out.push(
        "Keep the focus on this step; record the result as an attempt rather than editing task states by hand.".into(),
    );
    out
}

/// How to record the result, and the steps: run the command, or do the work by hand and check it.
fn how_to(d: &Decision, task: &next::TaskRef, command: &str) -> (String, Vec<String>) {
    if !command.is_empty() {
        let record = "`loop attempt --last-run`".to_string();
        let steps = vec![
            format!("Run `{command}` from the workspace root; `loop next --run` does it and records run.json, logs and the environment."),
            "Replace `<STAMP>` with a UTC stamp such as `20260105T153000Z` (loop does this for you); keep every artifact under that folder.".into(),
            format!("Record the result with {record} (metrics and gates come from the run folder)."),
        ];
        return (record, steps);
    }
    let record =
        format!("`loop attempt {} --phase {} --result <success|partial|blocked> --note '…'`", d.item.id, task.id);
    let what = d.manual_step.clone().unwrap_or_else(|| task.description.clone());
    let mut steps = vec![format!("Do it by hand (no command to run): {what}")];
    steps.extend(d.verify_template.iter().map(|v| format!("Check it with `{v}`.")));
    steps.push(format!("Record the result with {record}."));
    (record, steps)
}

/// The branch the memo is for, or why there is none.
fn branch(model: &Model) -> String {
    match crate::git::info(&model.ws.root) {
        None => "(not a git repository)".to_string(),
        Some(g) => match (g.branch, g.sha) {
            (Some(b), _) => b,
            (None, Some(sha)) => format!("(detached HEAD at {})", &sha[..sha.len().min(7)]),
            (None, None) => "(no commit yet)".to_string(),
        },
    }
}

/// Where the briefed task stands: its phase, or its own place in a ledger checklist.
struct Where {
    id: String,
    title: String,
    line: usize,
}

/// Whether a Next Action is already done: marked so (✅, `[x]`, "complete", "done" as words), or
/// about tasks (`B1`, `Phase B1`) that the plan has all closed.
fn next_action_is_done(text: &str, plan: Option<&crate::plan::Plan>) -> bool {
    if DONE_MARK.is_match(text) {
        return true;
    }
    let Some(plan) = plan else { return false };
    let named: Vec<&crate::plan::Task> = plan
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .filter(|t| text.split(|c: char| !c.is_ascii_alphanumeric() && c != '.').any(|w| w == t.id))
        .collect();
    !named.is_empty() && named.iter().all(|t| !t.state.is_open())
}

/// The memo template and its name: `given`, else the workspace's templates/input.md, else the
/// built-in one.
pub fn template(model: &Model, given: Option<&std::path::Path>) -> Result<(String, String)> {
    Ok(match given {
        Some(p) => (crate::fsutil::read_utf8(p, &p.display().to_string())?, p.display().to_string()),
        None => {
            let p = model.ws.path("templates/input.md");
            if p.is_file() {
                (crate::fsutil::read_utf8(&p, "templates/input.md")?, "templates/input.md".to_string())
            } else {
                (DEFAULT_TEMPLATE.to_string(), "(built-in template)".to_string())
            }
        }
    })
}

/// What `write` wrote.
#[derive(Debug)]
pub struct Written {
    /// The memo's path, relative to the root.
    pub path: String,
    pub text: String,
    pub decision: Decision,
    /// The unified diff against the old memo when it is a protected asset written anyway.
    pub protected_diff: Option<String>,
}

/// Draft the memo and replace the workspace's memo with it, locked and atomically. A protected
/// memo is refused unless `force_protected`.
pub fn write(
    ws: crate::workspace::Workspace,
    item: Option<&str>,
    template_path: Option<&std::path::Path>,
    force_protected: bool,
) -> Result<Written> {
    let input = ws.path(&ws.config.input);
    let _lock = crate::atomic::WorkspaceLock::acquire(&ws.root)?;
    let model = Model::load(ws)?;
    let (tmpl, name) = template(&model, template_path)?;
    let stamp = crate::clock::stamp(&crate::clock::now()?);
    let b = render(&model, item, &stamp, &tmpl, &name)?;
    let rel = model.ws.config.input.clone();
    let before = std::fs::read_to_string(&input).unwrap_or_default();
    let mut protected_diff = None;
    // The protected list must be readable even to force past it (fail closed).
    model.protected.check_readable()?;
    let mut protected = model.protected.clone();
    // The memo is the workflow's own: rewritten even where the index lists it, unless frozen.
    if !model.protected.may_edit(&rel) {
        if !force_protected {
            return Err(Error::input(
                &rel,
                0,
                "is frozen (loop.yaml `frozen:`), so loop does not write it; `loop brief` prints the draft, and `loop brief --write --force-protected` replaces it anyway (shows the diff)",
            ));
        }
        protected = protected.allowing(&rel);
        let d = similar::TextDiff::from_lines(&before, &b.text);
        protected_diff = Some(d.unified_diff().header(&format!("a/{rel}"), &format!("b/{rel}")).to_string());
    }
    let change = crate::transaction::change(&model.ws, &rel, &before, b.text.clone(), &[]);
    crate::transaction::apply(&model.ws, &protected, &[change])?;
    Ok(Written { path: rel, text: b.text, decision: b.decision, protected_diff })
}

/// The default template, for workspaces without `templates/input.md`.
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/input.md");

#[cfg(test)]
mod tests {
    #[test]
    fn a_next_action_is_done_when_it_says_so_in_words() {
        for t in ["✅ A1 done", "[x] capture baseline", "Phase B COMPLETE (Attempt #4)", "done: rerun"] {
            assert!(super::next_action_is_done(t, None), "{t}");
        }
        for t in ["Investigate the incomplete ROI", "Rerun the C1 comparison", "Abandon nothing"] {
            assert!(!super::next_action_is_done(t, None), "{t}");
        }
    }
}
