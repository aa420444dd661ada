//! `loop brief`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{err, load, out, out_json, Cli};
use ledger_loop::brief;
use ledger_loop::error::Result;
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct BriefArgs {
    /// Ledger item to brief (default: the focus item, chosen as `loop next` does).
    pub item: Option<String>,
    /// Template file (default: templates/input.md of the workspace, else the built-in one).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Write the memo to input.md instead of printing it.
    #[arg(long)]
    pub write: bool,
    /// Allow writing input.md when it is a protected asset (shows the diff first).
    #[arg(long)]
    pub force_protected: bool,
    /// Print the memo and the decision behind it as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_brief(cli: &Cli, a: &BriefArgs) -> Result<ExitCode> {
    if !a.write {
        let model = load(&cli.root)?;
        let (template, name) = brief::template(&model, a.template.as_deref())?;
        let stamp = ledger_loop::clock::stamp(&ledger_loop::clock::now()?);
        let b = brief::render(&model, a.item.as_deref(), &stamp, &template, &name)?;
        if a.json {
            out_json(&serde_json::json!({"memo": b.text, "decision": b.decision}));
        } else {
            out(&b.text);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ws = Workspace::find(cli.root.as_deref())?;
    let w = brief::write(ws, a.item.as_deref(), a.template.as_deref(), a.force_protected)?;
    if let Some(d) = &w.protected_diff {
        err(d);
    }
    if a.json {
        out_json(&serde_json::json!({"written": w.path, "bytes": w.text.len(), "decision": w.decision}));
    } else {
        out(&format!(
            "wrote {} ({} bytes): Do Now {} task {}\n",
            w.path,
            w.text.len(),
            w.decision.item.id,
            w.decision.task.as_ref().map_or("?", |t| t.id.as_str())
        ));
    }
    Ok(ExitCode::SUCCESS)
}
