//! `loop gate check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{load, out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::evidence::gates::{self, CheckRequest};

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Check a run folder's metrics.json against the gates its plan task states (✅/❌ each).
    #[command(
        after_help = "Examples:\n  # the folder `loop next --run` just made\n  loop gate check \"$(cat reports/.last_run)\"\n  loop gate check \"$(cat reports/.last_run)\" \\\n      --gate \"corr>=0.999,sum_ratio=1±5e-3\"\n  loop gate check \"$(cat reports/.last_run)\" --item LOOP-SIM-001 --phase B1\n\nGates come from --gate, else from the plan task named in the folder's\nrun.json (or --item/--phase): its guidance, its phase's Exit Criteria,\nthen the rest of the plan. Exit 1 when a gate fails."
    )]
    Check(GateCheckArgs),
}

#[derive(Debug, Args, Default)]
pub struct GateCheckArgs {
    /// Run folder holding metrics.json (or profile/metrics.json).
    pub dir: PathBuf,
    /// Explicit gates instead of the plan's.
    #[arg(long)]
    pub gate: Option<String>,
    /// Item whose plan states the gates (default: run.json's, else the focus item).
    #[arg(long)]
    pub item: Option<String>,
    /// Task or phase whose gates apply (default: run.json's task).
    #[arg(long)]
    pub phase: Option<String>,
    /// Print the verdicts as JSON (metrics file, gate source, verdicts, pass).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_gate_check(cli: &Cli, a: &GateCheckArgs) -> Result<ExitCode> {
    let req = CheckRequest { dir: a.dir.clone(), gate: a.gate.clone(), item: a.item.clone(), phase: a.phase.clone() };
    let report = gates::check(&req, || load(&cli.root))?;
    let failed = !report.pass;
    if a.json {
        out_json(&report);
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let mut s = format!("metrics {}\ngates   {}\n", report.metrics.display(), report.gates_from);
    for v in &report.verdicts {
        s.push_str(&format!(
            "  {} {} = {}  (gate: {})\n",
            if v.pass { "✅" } else { "❌" },
            v.key,
            v.value,
            v.gate.text
        ));
    }
    for g in &report.no_metric {
        s.push_str(&format!("  ·  {}: no such metric\n", g.text));
    }
    out(&s);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
