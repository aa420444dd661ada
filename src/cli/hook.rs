//! `loop hook install|uninstall|status`.

use std::process::ExitCode;

use clap::Subcommand;

use super::{out, out_json, warn};
use ledger_loop::error::{Error, Result};
use ledger_loop::hook;

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write the pre-commit hook.
    #[command(
        after_help = "Examples:\n  # write .git/hooks/pre-commit (or into core.hooksPath)\n  loop hook install\n  # keep an existing hook and run it first\n  loop hook install --chain\n\nThe hook runs `loop` from PATH, else the binary that installed it."
    )]
    Install {
        /// Keep an existing hook that loop did not write, and run it before loop guard.
        #[arg(long)]
        chain: bool,
    },
    /// Remove the hook loop installed (a chained hook is put back).
    #[command(after_help = "Examples:\n  # remove loop's hook; a chained hook is put back\n  loop hook uninstall")]
    Uninstall,
    /// Say what is installed and which binary the hook would run.
    #[command(after_help = "Examples:\n  loop hook status\n  loop hook status --json")]
    Status {
        /// Print the hook's state as JSON (path, installed, chained, recorded, runs, warnings).
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn cmd_hook(action: &HookAction) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let st = match action {
        HookAction::Install { chain } => {
            let st = hook::install(&cwd, *chain)?;
            out(&format!(
                "installed: {} runs loop guard{}\n",
                st.path,
                if st.chained { " (chained after the previous hook)" } else { "" }
            ));
            st
        }
        HookAction::Uninstall => {
            let before = hook::status(&cwd)?;
            let after = hook::uninstall(&cwd)?;
            out(&match (before.installed.as_str(), after.installed.as_str()) {
                ("loop", "foreign") => format!("removed loop's hook from {}; the chained hook is back\n", after.path),
                ("loop", _) => format!("removed loop's hook from {}\n", after.path),
                _ => format!("nothing to remove: no loop hook at {}\n", after.path),
            });
            return Ok(ExitCode::SUCCESS);
        }
        HookAction::Status { json } => {
            let st = hook::status(&cwd)?;
            if *json {
                out_json(&st);
                return Ok(ExitCode::SUCCESS);
            }
            out(&match st.installed.as_str() {
                "loop" => format!(
                    "{}: loop's hook{}\n  runs      {}\n  fallback  {}\n",
                    st.path,
                    if st.chained { " (after the chained previous hook)" } else { "" },
                    st.runs.as_deref().unwrap_or("nothing: neither `loop` on PATH nor the recorded binary exists"),
                    st.recorded.as_deref().unwrap_or("(none recorded)")
                ),
                "foreign" => format!("{}: a hook loop did not write (`loop hook install --chain` keeps it)\n", st.path),
                _ => format!("{}: no pre-commit hook (`loop hook install` adds one)\n", st.path),
            });
            match ledger_loop::merge::driver::status(&cwd, None) {
                Ok(m) if m.installed => out(&format!("merge driver: installed for {}\n", m.attributes.join(", "))),
                Ok(_) => out("merge driver: not installed (`loop merge install` adds it)\n"),
                Err(_) => {}
            }
            st
        }
    };
    for w in &st.warnings {
        warn(w);
    }
    Ok(ExitCode::SUCCESS)
}
