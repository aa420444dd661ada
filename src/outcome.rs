//! How a turn ends, and every exit status `loop` gives, in one table.
//!
//! | exit | meaning |
//! | ---: | --- |
//! | 0 | ok |
//! | 1 | the step, a gate or a check failed (`failed`) |
//! | 2 | bad input or usage: nothing was written |
//! | 3 | `agent_failed`: the agent itself failed (its own error, a bad configuration) |
//! | 4 | `timeout`: `turn_timeout` ended the turn |
//! | 5 | `idle`: nothing happened for `idle_timeout` |
//! | 6 | `limit`: a usage quota ran out (the provider gives a reset time, or not) |
//! | 7 | `budget`: `wall_budget` or `cost_budget` spent |
//! | 8 | `blocked`: the turn changed what it may not, or a hook refused its commit |
//! | 9 | `gate_failed`: the step's gates are closed; nothing to do |
//! | 10 | `stalled`: engineer turns in a row without progress |
//! | 11 | `denied`: the agent was refused what the step needed (its permissions) |
//! | 12 | `unavailable`: the provider failed, was overloaded, rate-limited or unreachable |
//! | 13 | `environment`: a check or the step could not run at all (exit 126/127: a missing tool) |
//! | 130 | `interrupted` (Ctrl-C, SIGTERM) |

named_enum!(
    /// A turn's outcome.
    Outcome {
        Ok = "ok",
        Failed = "failed",
        AgentFailed = "agent_failed",
        Timeout = "timeout",
        Idle = "idle",
        Limit = "limit",
        Budget = "budget",
        Blocked = "blocked",
        GateFailed = "gate_failed",
        Stalled = "stalled",
        Denied = "denied",
        Unavailable = "unavailable",
        Environment = "environment",
        Interrupted = "interrupted",
    }
);

/// Exit status of any command whose input or usage was bad.
pub const EXIT_USAGE: u8 = 2;
/// Exit status of any command whose work (a step, gate or check) failed.
pub const EXIT_FAILED: u8 = 1;

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => EXIT_FAILED,
            Outcome::AgentFailed => 3,
            Outcome::Timeout => 4,
            Outcome::Idle => 5,
            Outcome::Limit => 6,
            Outcome::Budget => 7,
            Outcome::Blocked => 8,
            Outcome::GateFailed => 9,
            Outcome::Stalled => 10,
            Outcome::Denied => 11,
            Outcome::Unavailable => 12,
            Outcome::Environment => 13,
            Outcome::Interrupted => 130,
        }
    }

    /// After these `loop orchestrate` stops: a person (or time) is needed. `unavailable` is
    /// retried first, `limit` waited out when the provider says until when.
    pub fn stops(self) -> bool {
        matches!(
            self,
            Outcome::Limit
                | Outcome::Budget
                | Outcome::Blocked
                | Outcome::Stalled
                | Outcome::Interrupted
                | Outcome::Denied
                | Outcome::Unavailable
                | Outcome::Environment
        )
    }

    /// What a step's or a check's exit code says: 0 ok, 126/127 the environment (it could not
    /// run: not found, not executable), anything else failed.
    pub fn of_exit(code: i32) -> Outcome {
        match code {
            0 => Outcome::Ok,
            126 | 127 => Outcome::Environment,
            _ => Outcome::Failed,
        }
    }

    /// The turn did not happen as far as the work goes: the same role takes it again.
    pub fn stays(self) -> bool {
        matches!(
            self,
            Outcome::Blocked
                | Outcome::Unavailable
                | Outcome::Limit
                | Outcome::Interrupted
                | Outcome::Environment
                | Outcome::Denied
        )
    }
}

impl<'de> serde::Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A turn not known to have ended otherwise was interrupted (named_enum! cannot mark a
/// variant `#[default]`).
#[allow(clippy::derivable_impls)]
impl Default for Outcome {
    fn default() -> Self {
        Outcome::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_exit_code_and_the_module_doc_lists_it() {
        let doc = include_str!("outcome.rs");
        let mut seen = std::collections::BTreeSet::new();
        for name in Outcome::NAMES {
            let o: Outcome = name.parse().unwrap();
            assert!(seen.insert(o.exit_code()), "{name} shares its exit code");
            let row = format!("//! | {} | `{name}`", o.exit_code());
            assert!(doc.contains(&row) || o == Outcome::Ok || o == Outcome::Failed, "no doc row `{row}`");
        }
        assert!(!seen.contains(&EXIT_USAGE));
        let of: Vec<Outcome> = [0, 1, 2, 126, 127, 130].into_iter().map(Outcome::of_exit).collect();
        use Outcome::*;
        assert_eq!(of, [Ok, Failed, Failed, Environment, Environment, Failed]);
    }
}
