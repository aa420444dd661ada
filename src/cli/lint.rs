//! `loop lint`.

use std::process::ExitCode;

use clap::Args;

use super::{out, out_json, Cli};
use ledger_loop::error::Result;
use ledger_loop::workspace::Workspace;

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Fix the mechanical findings (Index status sync, missing Index rows).
    #[arg(long)]
    pub fix: bool,
    /// Print the findings as JSON (file, line, severity, code, message, fixable).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_lint(cli: &Cli, a: &LintArgs) -> Result<ExitCode> {
    let report = ledger_loop::lint::run(Workspace::find(cli.root.as_deref())?, a.fix)?;
    if a.json {
        out_json(&report);
    } else {
        let mut s = format!("{} read as {}\n", report.ledger, report.read_as);
        for f in &report.findings {
            s.push_str(&format!(
                "{}:{}: {}: {} [{}]{}\n",
                f.file,
                f.line,
                f.severity,
                f.message,
                f.code,
                if f.fixable { " (fixable with --fix)" } else { "" }
            ));
        }
        s.push_str(&format!(
            "{} error(s), {} warning(s){}\n",
            report.errors,
            report.warnings,
            if report.fixed > 0 { format!(", {} fixed", report.fixed) } else { String::new() }
        ));
        out(&s);
    }
    // A file that does not parse is bad input, as status, next and attempt say (exit 2).
    let broken =
        report.findings.iter().any(|f| f.code == "structure" && f.severity == ledger_loop::diag::Severity::Error);
    Ok(if broken {
        ExitCode::from(2)
    } else if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
