//! `loop next` and `loop run`: the decision, its rendering, and running the step.

use std::process::ExitCode;

use clap::Args;

use super::{err, invocation, load, out, out_json, paint, warn, Cli, BOLD, GREEN, RED, YELLOW};
use ledger_loop::error::Result;
use ledger_loop::gate::Outcome;
use ledger_loop::model::Model;
use ledger_loop::next::{self as decision, Decision};
use ledger_loop::run;

/// Which step: shared by `loop next` and `loop run`.
#[derive(Debug, Args, Clone, Default)]
pub struct StepArgs {
    /// Focus on this ledger item instead of the memo's or ledger's focus.
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Consider this phase instead of the first unfinished one.
    #[arg(long, value_name = "ID")]
    pub phase: Option<String>,
    /// Also list every phase considered.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct NextArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Print the decision as JSON (with --run: the run record).
    #[arg(long)]
    pub json: bool,
    /// Run the command, capturing output, timing and environment into the artifacts folder.
    #[arg(long)]
    pub run: bool,
    /// Show what the step would run and write, and write nothing (with or without --run).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Print the run record (run.json) as JSON on stdout; the step's output goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Show what would run and be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) fn cmd_run(cli: &Cli, a: &RunArgs) -> Result<ExitCode> {
    cmd_next(cli, &NextArgs { step: a.step.clone(), json: a.json, run: true, dry_run: a.dry_run })
}

pub(super) fn cmd_next(cli: &Cli, a: &NextArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    let d = decision::decide_now(&model, a.step.item.as_deref(), a.step.phase.as_deref())?;
    for w in &d.warnings {
        warn(w);
    }
    let inv = invocation(&cli.root);
    if a.run || a.dry_run {
        return run_step(&model, &d, a, &inv);
    }
    if a.json {
        out_json(&d);
    } else {
        let mut s = render_decision(&model, &d, a.step.explain);
        if d.blocked.is_none() && d.manual {
            s.push_str(&manual_hint(&model, &d, &inv));
        } else if d.blocked.is_none() {
            s.push_str(&format!("\nRun it with: {inv} next --run\n"));
        }
        out(&s);
    }
    Ok(if d.blocked.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// What to do after a manual step: the checks to run, and the command that records it (naming
/// the item, so it lands on this item whatever the ledger's focus).
fn manual_hint(model: &Model, d: &Decision, inv: &str) -> String {
    let mut s = String::from("\nmanual step: do the work by hand");
    if !d.verify.is_empty() {
        s.push_str(", then run the check(s) above");
    }
    if model.ledger.dialect == ledger_loop::ledger::Dialect::Absent {
        return format!("{s}.\nTo record it: {}\n", model.ledger.absent_help(model.ws.stated("ledger")));
    }
    // The hint moves the cycle on: the task is marked done with the attempt (a state loop may
    // write: a plan's task, or a ledger's checkbox, not a word in a table cell).
    let phase = d
        .task
        .as_ref()
        .map(|t| {
            let id = super::shell_word(&t.id);
            let tickable = t.file != model.ledger.doc.file
                || model.ledger.items.iter().flat_map(|i| &i.tasks).any(|x| x.line == t.line && x.checkbox);
            if tickable {
                format!(" --phase {id} --task {}", super::shell_word(&format!("{}=D", t.id)))
            } else {
                format!(" --phase {id}")
            }
        })
        .unwrap_or_default();
    s.push_str(&format!(
        ".\nRecord it with:\n  {inv} attempt {}{phase} --result success --note 'what was done'\n",
        super::shell_word(&d.item.id)
    ));
    s
}

fn run_step(model: &Model, d: &Decision, a: &NextArgs, inv: &str) -> Result<ExitCode> {
    if !a.json {
        out(&render_decision(model, d, a.step.explain));
    }
    // A blocked step was explained just above (or is in the JSON): say it once, exit 1.
    if d.blocked.is_some() {
        if a.json {
            out_json(d);
        }
        return Ok(ExitCode::from(1));
    }
    let plan = run::preview(model, d)?;
    if a.dry_run {
        if a.json {
            out_json(&serde_json::json!({"decision": d, "dry_run": plan}));
        } else {
            let mut s = format!(
                "\ndry run: would run in {}\n  {} -c {}\nand write:\n",
                plan.cwd,
                plan.shell,
                run::shell_quote(&plan.command)
            );
            for w in &plan.writes {
                s.push_str(&format!("  {w}\n"));
            }
            out(&s);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.json {
        out(&format!("\n$ {}\n", plan.command));
    }
    let record = run::execute(model, d, &super::terminal(true, a.json))?;
    if record.ended_by_interrupt() {
        if a.json {
            out_json(&record);
        }
        err(&format!("interrupted; record: {}/run.json\n", record.artifacts));
        // 128 + SIGINT, as a shell reports a Ctrl-C.
        return Ok(ExitCode::from(130));
    }
    if a.json {
        out_json(&record);
    } else {
        let mut s = format!(
            "\nexit {} after {:.2} s; record: {}/run.json\n",
            record.exit_code, record.duration_s, record.artifacts
        );
        if record.exit_code != 0 {
            s.push_str(&format!("{}\n", record.failure()));
        }
        if let Some(log) = &record.blocked_log {
            s.push_str(&format!("If-Blocked log: {log}\n"));
        }
        s.push_str(&format!("Record it with: {inv} attempt --last-run\n"));
        err(&s);
    }
    Ok(if record.exit_code == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn render_decision(model: &Model, d: &Decision, explain: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let plan = d.plan.as_deref().unwrap_or("(none)");
    let _ = writeln!(
        s,
        "item      [{}] {}  ({}, chosen by {})",
        d.item.id,
        d.item.title,
        model.ledger.place(d.item.line),
        d.item.chosen_by
    );
    let _ = writeln!(s, "status    {}", d.item.status.as_deref().unwrap_or("(none)"));
    let _ = writeln!(s, "plan      {plan}");
    if explain {
        for c in &d.considered {
            let _ = writeln!(
                s,
                "            Phase {:<4} {:>2}/{:<2} {:<9} {plan}:{}",
                c.phase.id, c.phase.done, c.phase.total, c.verdict, c.phase.line
            );
        }
    }
    if let Some(p) = &d.phase {
        let _ = writeln!(s, "phase     {} — {}  ({plan}:{}, {}/{} tasks done)", p.id, p.title, p.line, p.done, p.total);
    }
    for c in &d.checks {
        let mark = match c.outcome {
            Outcome::Pass => paint(GREEN, "pass     "),
            Outcome::Fail => paint(RED, "FAIL     "),
            Outcome::Unchecked => paint(YELLOW, "unchecked"),
        };
        // The whole detail, on its own line when long: it says what to do.
        if c.detail.chars().count() + c.name.len() > 70 {
            let _ = writeln!(s, "  gate    {mark} {}  ({}:{})\n            {}", c.name, c.file, c.line, c.detail);
        } else {
            let _ = writeln!(s, "  gate    {mark} {}: {}  ({}:{})", c.name, c.detail, c.file, c.line);
        }
    }
    if let Some(t) = &d.task {
        let _ = writeln!(s, "task      {} {} {}  ({}:{})", t.id, t.state.marker(), t.description, t.file, t.line);
    }
    let from = d.command_from.as_ref().map(|w| format!("{}:{}", w.file, w.line)).unwrap_or_default();
    if let Some(c) = &d.command {
        let _ = writeln!(s, "command   {}  (from {from})", paint(BOLD, c));
    } else if let Some(m) = &d.manual_step {
        let _ = writeln!(s, "command   none — a manual step (from {from}):");
        let _ = writeln!(s, "          {m}");
    }
    for v in &d.verify {
        let _ = writeln!(s, "verify    {}", paint(BOLD, v));
    }
    if !d.artifacts.is_empty() {
        let _ = writeln!(s, "artifacts {}", d.artifacts);
    }
    if let Some(n) = &d.next_task {
        let _ = writeln!(s, "next up   {} {}", n.id, n.description);
    }
    if let Some(why) = &d.blocked {
        let _ = writeln!(s, "\n{} {why}", paint(RED, "BLOCKED"));
    }
    s
}
