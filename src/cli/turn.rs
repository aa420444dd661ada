//! `loop turn`: one supervisor or engineer turn in this clone, now.

use std::process::ExitCode;

use clap::Args;

use super::{out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::orchestrate::{self, config::RoleName, journal::Journal};
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct TurnArgs {
    /// Whose turn: supervisor (writes the memo and plans) or engineer (does the step).
    #[arg(long, value_name = "ROLE", value_parser = super::role)]
    pub role: RoleName,
    /// Print the turn's record (its run.json) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Do not show the agent's output as it comes (it is in logs/ROLE/ either way).
    #[arg(long)]
    pub quiet: bool,
}

pub(super) fn cmd_turn(cli: &Cli, a: &TurnArgs) -> Result<ExitCode> {
    let ws = Workspace::find(cli.root.as_deref())?;
    let j = orchestrate::take_turn(&ws, a.role, super::terminal(!a.quiet && !a.json, true))?;
    if a.json {
        out_json(&j);
    } else {
        out(&render(&j));
    }
    Ok(ExitCode::from(j.outcome().exit_code()))
}

/// A finished turn in a few lines.
pub(super) fn render(j: &Journal) -> String {
    let w = j.work.clone().unwrap_or_default();
    let mut s = format!("{} turn {} ({}): {}\n  {}\n", j.role, j.iteration, j.turn, j.outcome(), w.detail);
    for d in &w.denied {
        s.push_str(&format!("  refused: {d}\n"));
    }
    if w.usage.tokens_in + w.usage.tokens_out > 0 || w.usage.cost_usd.is_some() {
        let cost = w.usage.cost_usd.map_or("cost unknown".to_string(), |c| format!("${c:.4}"));
        s.push_str(&format!("  tokens {} in, {} out; {cost}\n", w.usage.tokens_in, w.usage.tokens_out));
    }
    if let Some(r) = &w.resets_at {
        s.push_str(&format!("  the limit resets at {r}\n"));
    }
    for c in &w.verify {
        s.push_str(&format!(
            "  check `{}`: exit {}\n",
            c.command,
            c.exit_code.map_or("none".into(), |c| c.to_string())
        ));
    }
    if let Some(a) = &j.attempt {
        s.push_str(&format!("  attempt recorded at {a}\n"));
    }
    if let Some(r) = &j.review {
        for (p, why) in &r.refused {
            s.push_str(&format!("  refused: {p}: {why}\n"));
        }
        for (p, why) in &r.left_out {
            s.push_str(&format!("  left out: {p}: {why}\n"));
        }
    }
    match &j.commit {
        Some(c) => s.push_str(&format!("  commit {}\n", &c[..c.len().min(12)])),
        None => s.push_str("  nothing committed\n"),
    }
    s.push_str(&format!("  record: {}/run.json, agent log: {}\n", j.dir, j.log));
    s
}
