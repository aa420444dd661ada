//! `loop guard`.

use std::process::ExitCode;

use clap::Args;

use super::{err, out_json, Cli};
use ledger_loop::error::{Error, Result};
use ledger_loop::guard;

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_guard(cli: &Cli, a: &GuardArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let report = guard::check(&cwd, cli.root.as_deref())?;
    let failed = !report.violations.is_empty();
    if a.json {
        out_json(&report);
    } else if failed {
        err(&guard::render(&report));
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
