//! The decision as a straight pipeline: focus → plan → the memo's step → phase and task → the
//! step → artifacts → gates. Each stage runs once, in that order, and adds to one `Decision`;
//! what a stage needs from the ones before it is on the `Pipeline`.

use super::step::{
    done_by_hand, ledger_task, memo_consumed, memo_step, memo_task_texts, named_tasks, pointed_tasks, Step,
};
use super::{
    check_inside, digest, first_next_action, no_open_task, phase_ref, task_ref, Considered, Decision, ItemRef, Request,
    TaskRef, Where, PHASE_WORD,
};
use crate::artifacts::{artifacts_template, is_concrete};
use crate::diag::error_within;
use crate::error::{Error, Result};
use crate::focus::{focus_noting, memo_items, resolve_plan};
use crate::gate::{Check, Outcome};
use crate::ledger;
use crate::memo::Memo;
use crate::model::Model;
use crate::plan::{Plan, Task, TaskState};

/// The decision for the focus item (or `req.item`), with every reason.
pub fn decide(model: &Model, req: &Request) -> Result<Decision> {
    let mut p = Pipeline::focus(model, req)?;
    p.plan()?;
    p.memo_step();
    p.phase_and_task()?;
    p.step();
    p.artifacts()?;
    p.gates()?;
    p.d.warnings = p.warnings;
    Ok(p.d)
}

struct Pipeline<'m, 'r> {
    model: &'m Model,
    req: &'r Request<'r>,
    item: &'m ledger::Item,
    /// The memo, while it speaks for this item (its focus names it, and its Do Now is not done).
    memo: Option<&'m Memo>,
    plan: Option<&'m Plan>,
    /// The memo's Do Now as a step.
    from_memo: Option<Step>,
    /// The selected phase of the plan.
    phase: Option<usize>,
    has_step: bool,
    warnings: Vec<String>,
    d: Decision,
}

impl<'m, 'r> Pipeline<'m, 'r> {
    /// The focus item, readable, and whether the memo speaks for it.
    fn focus(model: &'m Model, req: &'r Request<'r>) -> Result<Self> {
        let mut warnings = Vec::new();
        let (item, chosen_by) = focus_noting(model, req.item, &mut warnings)?;
        if let Some(d) = error_within(&model.ledger.diagnostics, &item.range) {
            let why = format!("{} (in [{}], which `loop next` must read)", d.message, item.id);
            return Err(Error::input(&d.file, d.line, why));
        }
        let memo = model.memo.as_ref().filter(|_| {
            !req.plan_only
                && req.phase.is_none()
                && memo_items(model).is_some_and(|(items, _)| items.iter().any(|i| ledger::ids_equal(&i.id, &item.id)))
        });
        let item_ref = ItemRef {
            id: item.id.clone(),
            title: item.title.clone(),
            status: item.status().map(str::to_string),
            line: item.line,
            chosen_by,
        };
        Ok(Pipeline {
            model,
            req,
            item,
            memo,
            plan: None,
            from_memo: None,
            phase: None,
            has_step: false,
            warnings,
            d: Decision::new(item_ref, &req.stamp),
        })
    }

    /// The item's plan, readable; without one, the memo's Do Now may still be the step.
    fn plan(&mut self) -> Result<()> {
        let choice = resolve_plan(self.model, self.item);
        self.warnings.extend(choice.notes);
        self.plan = match (choice.plan, choice.broken) {
            (Some(p), _) => Some(p),
            (None, Some(e)) if self.memo.is_none() => return Err(e),
            (None, Some(e)) => {
                self.warnings.push(format!("{e}; following the memo's Do Now"));
                None
            }
            (None, None) => None,
        };
        if let Some(p) = self.plan {
            if let Some(d) = error_within(&p.diagnostics, &(0..p.doc.text.len())) {
                return Err(Error::input(&d.file, d.line, format!("{} (in [{}]'s plan)", d.message, self.item.id)));
            }
        }
        self.d.plan = self.plan.map(|p| p.path.clone());
        Ok(())
    }

    /// The memo's Do Now, unless a recorded run already did it.
    fn memo_step(&mut self) {
        let Some(m) = self.memo else { return };
        let Some(step) = memo_step(m) else { return };
        let dig = digest(&m.do_now.as_ref().map_or(String::new(), |n| n.text.clone()));
        let Some(dir) = memo_consumed(self.model, self.item, &dig, step.command.as_deref()) else {
            self.d.memo_step = Some(dig);
            self.from_memo = Some(step);
            return;
        };
        let id = &self.item.id;
        self.d.checks.push(Check {
            name: "memo".into(),
            outcome: Outcome::Unchecked,
            detail: format!("this Do Now already ran ({dir}) and is recorded in [{id}]"),
            file: m.path.clone(),
            line: step.from.line,
        });
        self.warnings.push(format!(
            "{}:{}: this Do Now already ran ({dir}) and is recorded in [{id}]; following the plan instead (`loop brief --write` drafts the next memo)",
            m.path, step.from.line
        ));
        self.memo = None;
    }

    /// The phase and the task: the one the memo names, else `--phase`, else the first unfinished
    /// phase's first open task; a ledger's own checklist when the plan has none left.
    fn phase_and_task(&mut self) -> Result<()> {
        let Some(plan) = self.plan else {
            let t = self.memo.and_then(|m| ledger_task(self.item, m));
            self.set_ledger_task(t.or_else(|| self.item.tasks.iter().find(|t| t.state.is_open())));
            return Ok(());
        };
        let named = self.named_task(plan);
        let mut ledger_named = if named.is_none() { self.memo.and_then(|m| ledger_task(self.item, m)) } else { None };
        let target = match self.req.phase {
            Some(id) => Some(plan.phases.iter().position(|p| p.id.eq_ignore_ascii_case(id)).ok_or_else(|| {
                let phases: Vec<&str> = plan.phases.iter().map(|p| p.id.as_str()).collect();
                Error::input(&plan.path, 0, format!("no Phase {id} in this plan (phases: {})", phases.join(", ")))
            })?),
            None if ledger_named.is_some() => None,
            None => named.map(|(i, _)| i).or_else(|| plan.phases.iter().position(|p| !p.is_done())),
        };
        // Every phase done but the item keeps a checklist of its own (the single-initiative
        // ledger): its first open task is the step, for `next` and `brief` alike.
        if target.is_none() && ledger_named.is_none() && self.req.phase.is_none() {
            ledger_named = self.item.tasks.iter().find(|t| t.state.is_open());
        }
        for (i, p) in plan.phases.iter().enumerate() {
            let verdict = match target {
                Some(t) if i < t && p.is_done() => "done",
                Some(t) if i < t => "not done",
                Some(t) if i == t => "selected",
                None => "done",
                _ => "later",
            };
            self.d.considered.push(Considered { phase: phase_ref(p), verdict: verdict.into() });
        }
        if let Some(t) = target {
            self.select(plan, t, named.map(|(_, task)| task));
        }
        self.set_ledger_task(ledger_named);
        Ok(())
    }

    /// The plan task the memo is about: named in its Do Now, else its Focus, else a `Phase X`
    /// (a phase or a task) in its Summary. A named task the plan marks done is done again, as
    /// the memo says — unless the memo's manual step is recorded as done, then the plan leads.
    fn named_task(&mut self, plan: &'m Plan) -> Option<(usize, &'m Task)> {
        let m = self.memo?;
        let item_id = &self.item.id;
        let by_id = memo_task_texts(m).into_iter().map(|t| named_tasks(plan, &t, item_id));
        let summary = m.get("Summary").map(|f| {
            let refs: Vec<&str> = PHASE_WORD.captures_iter(&f.value).map(|c| c.get(1).unwrap().as_str()).collect();
            let mut tasks = named_tasks(plan, &refs.join(" "), item_id);
            for r in &refs {
                if let Some((i, p)) = plan.phases.iter().enumerate().find(|(_, p)| p.id.eq_ignore_ascii_case(r)) {
                    tasks.extend(p.tasks.iter().map(|t| (i, t)));
                }
            }
            tasks
        });
        let pointed = std::iter::once_with(|| pointed_tasks(plan, m, item_id));
        let named = by_id.chain(summary).chain(pointed).find(|n| !n.is_empty()).unwrap_or_default();
        let named = named.iter().find(|(_, t)| t.state.is_open()).or(named.first()).copied()?;
        let t = named.1;
        if t.state != TaskState::Done {
            return Some(named);
        }
        // A manual Do Now has no run to find; its recorded success on the task is the sign.
        let manual = self.from_memo.as_ref().is_some_and(|s| s.command.is_none());
        match manual.then(|| done_by_hand(self.model, self.item, &t.id)).flatten() {
            Some(line) => {
                let ledger_file = &self.model.ledger.doc.file;
                self.warnings.push(format!(
                    "{}:{}: the memo's step, task {}, is done: the plan marks it [D] and [{item_id}]'s last attempt ({ledger_file}:{line}) records it; following the plan instead (`loop brief --write` drafts the next memo)",
                    plan.path, t.line, t.id
                ));
                (self.memo, self.from_memo) = (None, None);
                None
            }
            None => {
                self.warnings.push(format!(
                    "{}:{}: the memo names task {}, which the plan marks [D]; doing it again as the memo says",
                    plan.path, t.line, t.id
                ));
                Some(named)
            }
        }
    }

    /// Phase `t` is the one: its gates, its task (the named one, else its first open one), and
    /// what comes after.
    fn select(&mut self, plan: &'m Plan, t: usize, named: Option<&'m Task>) {
        let phase = &plan.phases[t];
        self.phase = Some(t);
        self.d.phase = Some(phase_ref(phase));
        crate::gate::checks(self.model, self.item, plan, t, &mut self.d.checks);
        let task = named.or_else(|| phase.tasks.iter().find(|t| t.state.is_open()));
        self.d.task = task.map(|t| task_ref(t, &plan.path));
        let mut later = phase.tasks.iter().filter(|t| t.state.is_open() && task.is_none_or(|x| x.id != t.id));
        self.d.next_task = later
            .next()
            .or_else(|| plan.phases[t + 1..].iter().find_map(|n| n.tasks.iter().find(|t| t.state.is_open())))
            .map(|t| task_ref(t, &plan.path));
    }

    /// A task of the ledger's own checklist is the task.
    fn set_ledger_task(&mut self, task: Option<&ledger::LedgerTask>) {
        if let Some(t) = task {
            self.d.task = Some(TaskRef {
                id: t.id.clone(),
                description: t.description.clone(),
                state: t.state,
                file: self.model.ledger.doc.file.clone(),
                line: t.line,
                guidance: String::new(),
            });
        }
    }

    /// The step: the memo's Do Now, else the task's cells, else the item's first Next Action.
    fn step(&mut self) {
        let ledger_file = &self.model.ledger.doc.file;
        let of = |text: &str, file: &str, line: usize, what: String| {
            let s = crate::command::step_of(text);
            Step { from: Where { file: file.to_string(), line }, what, command: s.command, verify: s.verify }
        };
        let summary = |t: &TaskRef| crate::command::summary(&format!("task {}: {}", t.id, t.description));
        let step = self.from_memo.take().or_else(|| match (&self.d.task, self.plan) {
            (Some(task), Some(plan)) if task.file == plan.path => {
                Some(of(&format!("{} | {}", task.guidance, task.description), &plan.path, task.line, summary(task)))
            }
            // A task of the item's own checklist in the ledger.
            (Some(task), _) if task.file == *ledger_file => {
                Some(of(&task.description, ledger_file, task.line, summary(task)))
            }
            _ => first_next_action(self.model, self.item)
                .filter(|_| self.plan.is_none())
                .map(|(text, line)| of(&text, ledger_file, line, crate::command::summary(&text))),
        });
        self.has_step = step.is_some();
        if let Some(s) = step {
            self.d.manual = s.command.is_none();
            if self.d.manual {
                self.d.manual_step = Some(s.what);
            }
            self.d.command_template = s.command;
            self.d.verify_template = s.verify;
            self.d.command_from = Some(s.from);
        }
        // An outline's item is its own plan: its tasks, else the item itself.
        if self.plan.is_none() && self.memo.is_none() && !self.model.ledger.reader().items_hold_tasks() {
            let id = &self.item.id;
            self.warnings.push(format!(
                "{ledger_file}:{}: [{id}] has no plan (no `Plan Reference:` field, no plan with `Initiative: {id}`)",
                self.item.line
            ));
        }
    }

    /// Where the step's artifacts and its If-Blocked log go, stamped, inside the workspace.
    fn artifacts(&mut self) -> Result<()> {
        let phase = self.phase.and_then(|t| self.plan.map(|p| &p.phases[t]));
        let (artifacts, note) = artifacts_template(self.model, self.item, self.memo, phase);
        self.warnings.extend(note);
        self.d.artifacts_template = artifacts;
        self.d.blocked_log_template = match self.memo.and_then(|m| m.blocked_log()).filter(|(l, _)| is_concrete(l)) {
            Some((log, _)) => log,
            None => format!("{}/attempts/failed.log", self.d.artifacts_template.trim_end_matches('/')),
        };
        self.d.restamp(&self.req.stamp);
        check_inside(self.model, &self.d.artifacts, "artifacts folder")?;
        check_inside(self.model, &self.d.blocked_log, "If-Blocked log")
    }

    /// Whether the step may run: the item is open, and no gate fails — unless the memo names
    /// this step on purpose, when a failed gate is a warning.
    fn gates(&mut self) -> Result<()> {
        let ledger_file = &self.model.ledger.doc.file;
        let (item, memo) = (self.item, self.memo.is_some());
        let failed = self.d.checks.iter().find(|c| c.outcome == Outcome::Fail);
        self.d.blocked = match (failed, memo) {
            _ if !item.is_open() => Some(format!(
                "{ledger_file}:{}: [{}] is closed (status {}); nothing to do for it",
                item.line,
                item.id,
                item.status().unwrap_or("?")
            )),
            (Some(c), false) => Some(format!("{}:{}: {}: {}", c.file, c.line, c.name, c.detail)),
            (Some(c), true) => {
                // The supervisor wrote this step on purpose; the plan's bookkeeping may lag behind.
                let warning = format!(
                    "{}:{}: gate `{}` fails ({}), but the memo's Do Now names this step, so it goes ahead",
                    c.file, c.line, c.name, c.detail
                );
                self.warnings.push(warning);
                None
            }
            (None, _) if memo || self.has_step => None,
            (None, _) => self.nothing_to_run()?,
        };
        Ok(())
    }

    /// Why there is no step: every phase done, no open task, or no plan at all.
    fn nothing_to_run(&self) -> Result<Option<String>> {
        let (item, ledger_file) = (self.item, &self.model.ledger.doc.file);
        let phase = self.phase.and_then(|t| self.plan.map(|p| &p.phases[t]));
        Ok(Some(match (self.plan, phase) {
            (Some(p), None) if p.phases.is_empty() => {
                let d = p.diagnostics.iter().find(|d| d.message == crate::plan::NO_PHASE);
                return Err(Error::input(
                    &p.path,
                    d.map_or(1, |d| d.line),
                    format!("[{}]'s plan: loop reads no phase in it (`### Phase X — Title` sections with task tables, or checklists under headings), so it cannot say what is next", item.id),
                ));
            }
            (Some(p), None) => format!("every phase of {} is done: close [{}] or add a phase", p.path, item.id),
            (Some(p), Some(ph)) => no_open_task(p, ph),
            (None, _) => {
                format!(
                    "{ledger_file}:{}: [{}] has no plan, no memo naming it and no Next Actions to follow",
                    item.line, item.id
                )
            }
        }))
    }
}
