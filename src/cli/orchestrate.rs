//! `loop orchestrate`: this role's next turns, handing over to the other role between them.

use std::process::ExitCode;

use clap::Args;

use super::{out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::orchestrate::{self, config::RoleName, Options};
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct OrchestrateArgs {
    /// The role this process plays: supervisor or engineer.
    #[arg(long, value_name = "ROLE", value_parser = super::role)]
    pub role: RoleName,
    /// Take turns with other clones through the remote: state in refs/loop/state, pushes
    /// atomic and never forced.
    #[arg(long)]
    pub sync_via_git: bool,
    /// Turns to take, then exit 0 (default: orchestrate.iterations, else 1).
    #[arg(long, value_name = "N")]
    pub iterations: Option<u32>,
    /// Print the turns' records as JSON at the end.
    #[arg(long)]
    pub json: bool,
    /// Do not show agent output as it comes (it is in logs/ROLE/ either way).
    #[arg(long)]
    pub quiet: bool,
}

pub(super) fn cmd_orchestrate(cli: &Cli, a: &OrchestrateArgs) -> Result<ExitCode> {
    let ws = Workspace::find(cli.root.as_deref())?;
    let opts = Options {
        role: a.role,
        sync: a.sync_via_git,
        iterations: a.iterations,
        sink: super::terminal(!a.quiet && !a.json, true),
    };
    let report = orchestrate::orchestrate(&ws, &opts)?;
    if a.json {
        out_json(&report);
    } else {
        let mut s = String::new();
        for j in &report.turns {
            s.push_str(&super::turn::render(j));
        }
        if let (Some(why), Some(msg)) = (&report.stopped, &report.message) {
            s.push_str(&format!("stopped ({why}): {msg}\n"));
        }
        out(&s);
    }
    Ok(ExitCode::from(report.exit_code()))
}
