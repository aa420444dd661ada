//! `loop status`.

use std::process::ExitCode;

use clap::Args;

use super::{load, out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::status;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_status(cli: &Cli, a: &StatusArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    if a.json {
        out_json(&status::status(&model));
    } else {
        out(&status::render(&model));
    }
    Ok(if model.has_errors() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
