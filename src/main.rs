//! The `loop` binary: parse arguments, dispatch to a front end (the command line, or the MCP
//! server), map errors to messages and exit codes.

mod cli;
mod mcp;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.wants_json();
    let result = match &cli.command {
        Command::Mcp(a) => ledger_loop::workspace::Workspace::find(cli.root.as_deref())
            .and_then(|ws| mcp::serve(ws, a.allow_run))
            .map(|()| ExitCode::SUCCESS),
        _ => cli::run(cli),
    };
    result.unwrap_or_else(|e| {
        cli::report_error(&e, json);
        ExitCode::from(e.exit_code())
    })
}
