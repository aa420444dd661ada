//! `loop hotspots`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{out, out_json};
use ledger_loop::error::Result;

#[derive(Debug, Args)]
pub struct HotspotsArgs {
    /// Chrome trace-event JSON file.
    pub trace: PathBuf,
    /// Where hot_loops.csv and hotspots.md go.
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Rows to print (the CSV has all).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print the ranked spans as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_hotspots(a: &HotspotsArgs) -> Result<ExitCode> {
    use ledger_loop::evidence::hotspots;
    let report = hotspots::analyze(&a.trace)?;
    hotspots::write(&report, &a.outdir, &a.trace.display().to_string())?;
    if a.json {
        out_json(&report);
    } else {
        let mut s = format!(
            "{} events, {} thread(s)\n{:>4}  {:>10}  {:>10}  {:>6}  {:>8}  name\n",
            report.events, report.threads, "rank", "self ms", "total ms", "self %", "calls"
        );
        for h in report.hotspots.iter().take(a.top) {
            s.push_str(&format!(
                "{:>4}  {:>10.3}  {:>10.3}  {:>6.1}  {:>8}  {}\n",
                h.rank, h.self_ms, h.total_ms, h.percent, h.calls, h.name
            ));
        }
        let dir = a.outdir.display().to_string();
        s.push_str(&format!("wrote {0}/hot_loops.csv and {0}/hotspots.md\n", dir.trim_end_matches('/')));
        out(&s);
    }
    Ok(ExitCode::SUCCESS)
}
