//! The `loop` binary: parse arguments, dispatch, map errors to messages and exit codes.

mod cli;
mod mcp;

use std::process::ExitCode;

use clap::Parser;
use cli::Cli;

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            cli::report_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
