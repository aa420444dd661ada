//! `loop merge file|install|uninstall`: the structural merge driver.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{err, out, out_json, Cli};
use ledger_loop::error::{Error, Result};
use ledger_loop::merge;

#[derive(Debug, Subcommand)]
pub enum MergeAction {
    /// Merge three versions of a ledger or plan (git's %O %A %B); the result replaces OURS.
    #[command(
        after_help = "Examples:\n  # what git runs (after `loop merge install`)\n  loop merge file base.md ours.md theirs.md --path docs/fix_plan.md\n  # try it on a past merge, leaving the original alone\n  cp ours.md merged.md && loop merge file base.md merged.md theirs.md\n\nExit status: 0 merged cleanly, 1 a real conflict remains (markers only\naround it), 2 bad input. Renumbered attempts are reported on stderr."
    )]
    File {
        /// The common ancestor (git's %O).
        base: PathBuf,
        /// Our version (git's %A); the merge result is written here.
        ours: PathBuf,
        /// Their version (git's %B).
        theirs: PathBuf,
        /// The file's path in the repository (git's %P), for messages.
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
        /// Print the outcome (conflicts, notes) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Route the ledger and plans to this driver (.gitattributes + the repository's git config).
    #[command(
        after_help = "Examples:\n  loop merge install\n  git pull --no-rebase   # ledger and plan merges now go through loop\n\nAdds `docs/fix_plan.md merge=loop` and the plans glob to .gitattributes\n(keeping what is there) and sets merge.loop.driver, which runs `loop`\nfrom PATH, else the binary that installed it."
    )]
    Install,
    /// Remove the .gitattributes lines and the git config that `install` added.
    #[command(after_help = "Examples:\n  loop merge uninstall")]
    Uninstall,
}

pub(super) fn cmd_merge(cli: &Cli, m: &MergeAction) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    match m {
        MergeAction::File { base, ours, theirs, path, json } => {
            let outcome = merge::merge_files(base, ours, theirs, path.as_deref())?;
            let label = path.clone().unwrap_or_else(|| ours.display().to_string());
            for n in &outcome.notes {
                err(&format!("loop merge: {n}\n"));
            }
            if *json {
                out_json(&serde_json::json!({"file": label, "conflicts": outcome.conflicts, "notes": outcome.notes}));
            } else if outcome.conflicts > 0 {
                err(&format!("loop merge: {label}: {} conflict(s) left with markers\n", outcome.conflicts));
            }
            Ok(if outcome.conflicts > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        MergeAction::Install => {
            let st = merge::driver::install(&cwd, cli.root.as_deref())?;
            out(&format!(
                "merge driver installed: {}\n  driver: {}\nCommit .gitattributes (`git add .gitattributes && git commit -m 'Merge the ledger by structure'`) so every clone routes these files to the driver; the driver itself lives in .git/config, so run `loop merge install` once in each clone.\n",
                st.attributes.join(", "),
                st.driver.unwrap_or_default()
            ));
            Ok(ExitCode::SUCCESS)
        }
        MergeAction::Uninstall => {
            let before = merge::driver::status(&cwd, cli.root.as_deref())?;
            merge::driver::uninstall(&cwd, cli.root.as_deref())?;
            out(if before.driver.is_some() || !before.attributes.is_empty() {
                "merge driver removed (.gitattributes lines and merge.loop config)\n"
            } else {
                "nothing to remove: the merge driver was not installed\n"
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}
