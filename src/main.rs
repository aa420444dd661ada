use std::process::ExitCode;

use clap::Parser;
use ledger_loop::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            cli::report_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
