//! `loop report`: the loop's history on one page.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{load, out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::report;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the page (default: the reports folder's loop-report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only what happened on or after this day: attempts, ledger states, plan points, turns.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
    /// Only this item's attempts and metrics.
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Print the page's data as JSON instead of writing the page (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_report(cli: &Cli, a: &ReportArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    let opts = report::Options { since: a.since.clone(), item: a.item.clone() };
    let mut r = report::build(&model, &opts)?;
    // As `loop status`: what loop could not read is never reported clean (the page says so too).
    let code = if model.has_errors() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    if a.json {
        out_json(&r);
        return Ok(code);
    }
    let path = report::write(&model.ws, &mut r, a.out.as_deref())?;
    let attempts: usize = r.items.iter().map(|i| i.attempts.len()).sum();
    let shown = path.strip_prefix(&model.ws.root).unwrap_or(&path).display().to_string();
    out(&format!(
        "wrote {shown}: {} items, {attempts} attempts, {} ledger states from {} commits, {} turns{}\n",
        r.items.iter().filter(|i| !i.archived).count(),
        r.history.len(),
        r.commits,
        r.turns.len() + r.sync_turns.len(),
        if r.stalls.is_empty() { String::new() } else { format!(", {} stalled", r.stalls.len()) }
    ));
    Ok(code)
}
