//! The `loop` binary: parse arguments, dispatch to a front end (the command line, or the MCP
//! server), map errors to messages and exit codes.

mod cli;
mod mcp;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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

/// clap's refusal of the arguments; with `--json` anywhere among them, also the one JSON error
/// document every failure prints (docs/json.md), so an agent reading stdout gets JSON.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args().skip(1).any(|a| a == "--json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let text = e.render().to_string();
    let message = text.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ").to_string();
    let err = ledger_loop::error::Error::Usage(message);
    cli::err(&text);
    cli::out_json(&err.to_json());
    ExitCode::from(err.exit_code())
}
