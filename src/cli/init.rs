//! `loop init`.

use std::process::ExitCode;

use clap::Args;

use super::{out, out_json, warn, Cli};
use ledger_loop::error::{Error, Result};
use ledger_loop::init::{self, Action};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Say what would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was written and kept as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_init(cli: &Cli, a: &InitArgs) -> Result<ExitCode> {
    let root = match &cli.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().map_err(|e| Error::io(".", e))?,
    };
    let report = init::init(&root, a.dry_run)?;
    if a.json {
        out_json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for f in &report.files {
        let verb = match (f.action, report.dry_run) {
            (Action::Created, false) => "created",
            (Action::Created, true) => "would create",
            (Action::Extended, false) => "extended",
            (Action::Extended, true) => "would extend",
            (Action::Kept, _) => "kept",
        };
        let detail = if f.detail.is_empty() { String::new() } else { format!("  ({})", f.detail) };
        text.push_str(&format!("{verb:<13}{}{detail}\n", f.path));
    }
    if let Some(up) = &report.inside {
        warn(&format!(
            "{} is inside the workspace {}; loop commands here now read this folder's files",
            root.display(),
            up.display()
        ));
    }
    if report.files.iter().all(|f| f.action == Action::Kept) {
        text.push_str("nothing to add: the workspace has every file loop init writes\n");
    } else if !report.dry_run {
        text.push_str("\nNext: loop status && loop next\n");
    }
    out(&text);
    Ok(ExitCode::SUCCESS)
}
