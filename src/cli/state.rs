//! `loop state`: whose turn it is, who holds a running turn, and hand repairs.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{out, out_json, warn, Cli};
use ledger_loop::error::Result;
use ledger_loop::orchestrate::{self, config::RoleName};
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub action: Option<StateAction>,
    /// Print the state as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// End ROLE's turn by hand with ok or fail, and hand over to the other role.
    #[command(after_help = "Examples:\n  loop state stamp engineer ok\n  loop state stamp supervisor fail")]
    Stamp {
        /// The role whose turn ends.
        #[arg(value_parser = super::role)]
        role: RoleName,
        /// How it ended.
        #[arg(value_parser = ["ok", "fail"])]
        result: String,
    },
    /// Start over: the supervisor's turn, nothing running (the history stays).
    #[command(after_help = "Examples:\n  loop state reset\n  loop state")]
    Reset,
}

pub(super) fn cmd_state(cli: &Cli, a: &StateArgs) -> Result<ExitCode> {
    let ws = Workspace::find(cli.root.as_deref())?;
    if let Some(action) = &a.action {
        let st = match action {
            StateAction::Stamp { role, result } => orchestrate::repair(&ws, Some((*role, result == "ok")))?,
            StateAction::Reset => orchestrate::repair(&ws, None)?,
        };
        if a.json {
            out_json(&st);
        } else {
            out(&format!("next: the {} (iteration {})\n", st.next, st.iteration));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let v = orchestrate::show_state(&ws)?;
    if let Some(w) = &v.warning {
        warn(w);
    }
    if a.json {
        out_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = String::new();
    match &v.state {
        None => s.push_str("no turn taken yet: the supervisor goes first\n"),
        Some(st) => {
            s.push_str(&format!(
                "next      the {} (iteration {}), read from the {} state\n",
                st.next, st.iteration, v.source
            ));
            if let Some(c) = &st.running {
                s.push_str(&format!(
                    "running   {} turn {} by {} since {}, lease until {}\n",
                    c.role, c.turn, c.holder, c.started_at, c.lease_expires_at
                ));
            }
            if let Some(l) = &st.last {
                s.push_str(&format!("last      {} turn {}: {} at {}\n", l.role, l.iteration, l.outcome, l.at));
            }
        }
    }
    if let Some(e) = &v.lease_expired {
        s.push_str(&format!("EXPIRED   {e}\n          the turn resumes when its role restarts there; `loop state stamp ROLE fail` ends it by hand\n"));
    }
    for u in &v.unfinished {
        s.push_str(&format!("unfinished here: {u} (the next `loop orchestrate` of that role finishes it)\n"));
    }
    out(&s);
    Ok(ExitCode::SUCCESS)
}
