//! ledger-loop: the library behind the `loop` command. Parsers return plain data; commands
//! consume it; the binary's `cli` module parses arguments and prints. The library knows
//! nothing of clap or progress bars.

pub mod atomic;
pub mod attempt;
pub mod brief;
pub mod clock;
pub mod command;
pub mod diag;
pub mod error;
pub mod evidence;
pub mod fsutil;
pub mod gate;
pub mod git;
pub mod guard;
pub mod hook;
pub mod ledger;
pub mod lint;
pub mod markdown;
pub mod memo;
pub mod merge;
pub mod model;
pub mod plan;
pub mod protect;
pub mod run;
pub mod sim;
pub mod status;
pub mod workspace;

pub use error::{Error, Result};
