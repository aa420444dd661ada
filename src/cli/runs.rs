//! `loop runs`: the turns taken, from the state's history.

use std::process::ExitCode;

use clap::Args;

use super::{out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::orchestrate;
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Print the turns as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_runs(cli: &Cli, a: &RunsArgs) -> Result<ExitCode> {
    let ws = Workspace::find(cli.root.as_deref())?;
    let runs = orchestrate::runs(&ws)?;
    if a.json {
        out_json(&runs);
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = format!(
        "{:>4}  {:<10}  {:<12}  {:>9}  {:>9}  {:>9}  {:>9}  {:<12}  {}\n",
        "iter", "role", "outcome", "duration", "tokens in", "out", "cost", "commit", "at"
    );
    for r in &runs {
        let cost = r.cost_usd.map_or("-".to_string(), |c| format!("${c:.4}"));
        let commit = r.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]);
        s.push_str(&format!(
            "{:>4}  {:<10}  {:<12}  {:>8.1}s  {:>9}  {:>9}  {:>9}  {:<12}  {}\n",
            r.iteration,
            r.role.as_str(),
            r.outcome.as_str(),
            r.duration_s,
            r.tokens_in,
            r.tokens_out,
            cost,
            commit,
            r.at
        ));
    }
    if runs.is_empty() {
        s.push_str("(no turns yet)\n");
    }
    out(&s);
    Ok(ExitCode::SUCCESS)
}
