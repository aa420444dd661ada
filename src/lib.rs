//! ledger-loop: the library behind the `loop` command. Parsers return plain data; commands
//! consume it; the binary's `cli` module parses arguments and prints. The library knows
//! nothing of clap or progress bars.

/// A unit enum named on the command line: its `NAMES` (for help and value parsers), a
/// `FromStr` that says what it expected, and the same word for `Display` and serde. `word | alias` accepts an extra spelling.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $word:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s {
                    $($word $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!("`{s}`: expected one of {}", Self::NAMES.join(", "))),
                }
            }
        }
    };
}

pub mod artifacts;
pub mod atomic;
pub mod attempt;
pub mod brief;
pub mod clock;
pub mod command;
pub mod diag;
pub mod error;
pub mod evidence;
pub mod focus;
pub mod fsutil;
pub mod gate;
pub mod git;
pub mod guard;
pub mod hook;
pub mod id;
pub mod init;
pub mod insert;
pub mod ledger;
pub mod lint;
pub mod markdown;
pub mod memo;
pub mod merge;
pub mod model;
pub mod next;
pub mod orchestrate;
pub mod outcome;
pub mod plan;
pub mod process;
pub mod progress;
pub mod protect;
pub mod publish;
pub mod report;
pub mod run;
pub mod run_record;
pub mod shell;
pub mod sim;
pub mod status;
pub mod transaction;
pub mod workspace;

pub use error::{Error, Result};
