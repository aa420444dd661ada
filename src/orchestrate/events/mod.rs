//! What an agent CLI's output says about its turn, read from the CLI's structured events:
//! Claude Code's `--output-format stream-json` (`system/init`, `system/api_retry`, `assistant`,
//! `user`, `result` with `is_error`, `api_error_status`, `permission_denials`, usage and cost)
//! and Codex's `exec --json` (`turn.started`, `item.*`, `error` retry notices, `turn.failed`,
//! `turn.completed` with usage). Words are searched only where a CLI gives nothing structured —
//! the text of its own error — and never in what the agent's commands printed: those reach the
//! log inside tool results, which are read for nothing but progress.
//!
//! Each line also says whether the turn moved (`Kind::Progress`) or only waited: a retry notice
//! does not reset the idle clock, so a hung or failing provider is recognised within
//! `idle_timeout` however often the CLI says it is retrying.

mod claude;
mod codex;

use std::collections::VecDeque;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outcome::Outcome;

/// Which CLI's events the output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Plain text: an agent loop cannot read events from.
    #[default]
    Plain,
    Claude,
    Codex,
}

/// What one line of output was, for the idle clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The turn moved: the model answered, a tool ran, the agent printed.
    Progress,
    /// The CLI retrying the provider: waiting, not progress.
    Retry,
    /// The CLI's own diagnostics, or events that say nothing about progress.
    Quiet,
}

/// Tokens and cost of a turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub tokens_in: u64,
    /// Of `tokens_in`, those read from the provider's cache (priced lower).
    pub tokens_cached: u64,
    pub tokens_out: u64,
    /// As the CLI reports it (Claude), else from `prices:` in loop.yaml.
    pub cost_usd: Option<f64>,
    /// The model the CLI named (Claude's init event), else the role's `model:`.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The provider failed: transient.
    Unavailable,
    /// A usage quota.
    Limit,
    /// The agent's own failure, or its configuration's.
    Agent,
}

#[derive(Debug, Clone)]
struct Failure {
    class: Class,
    message: String,
    resets_at: Option<DateTime<Utc>>,
}

/// Everything read so far from one agent's output.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub dialect: Dialect,
    pub usage: Usage,
    /// Commands (or edits) the agent asked for and was refused.
    pub denied: Vec<String>,
    failure: Option<Failure>,
    /// Claude's error kind on its synthetic message (`rate_limit`, `billing_error`, …).
    error_kind: Option<String>,
    /// The last retry notice, while the CLI is retrying.
    retrying: Option<String>,
    /// A quota the provider reported as exhausted (Claude's `rate_limit_event`), with its reset.
    rejected: Option<Option<DateTime<Utc>>>,
    /// The agent waits for the provider (a request is out) rather than for a tool it runs.
    awaiting_provider: bool,
    /// The last lines of plain output, for an agent that gives no events.
    tail: VecDeque<String>,
}

/// How the agent's part of a turn ended, in loop's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub detail: String,
    /// The provider, not the agent, ended it: no attempt is recorded, the turn is taken again.
    pub provider: bool,
    pub resets_at: Option<DateTime<Utc>>,
}

/// How loop's watch ended the process, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    Timeout,
    Idle,
    Interrupted,
    /// It vanished without an exit code: killed from outside.
    Outside,
}

impl Kill {
    pub fn word(self) -> &'static str {
        match self {
            Kill::Timeout => "timeout",
            Kill::Idle => "idle",
            Kill::Interrupted => "interrupted",
            Kill::Outside => "killed",
        }
    }
}

/// What agents print when their plan's quota ran out, for agents without events.
static LIMIT_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(usage limit|limit reached|reached your limit|hit your (usage )?limit|quota (exceeded|exhausted)|insufficient_quota|out of credits|credit balance is too low)\b").unwrap()
});

/// A provider's transient trouble, as Codex words its own errors.
static UNAVAILABLE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(reconnecting|retry limit|high demand|overloaded|too many requests|rate limit|status (429|5\d\d)|connection (failed|refused|reset|closed)|error sending request|stream disconnected|timed out|temporarily|service unavailable|internal server error|bad gateway|unable to connect)").unwrap()
});

/// Codex's "try again at Jan 1st, 2030 12:00 AM", or "try again at 7:15 AM" for a reset today.
static TRY_AGAIN_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"try again at (?:([A-Z][a-z]{2}) (\d{1,2})(?:st|nd|rd|th)?, (\d{4}) )?(\d{1,2}):(\d{2}) ?([AP]M)")
        .unwrap()
});

const TAIL: usize = 20;

impl Reading {
    /// Read one line of output (without its newline).
    pub fn feed(&mut self, line: &str) -> Kind {
        let t = line.trim();
        let event = t.starts_with('{').then(|| serde_json::from_str::<Value>(t).ok()).flatten();
        let Some(v) = event.filter(|v| v.get("type").and_then(Value::as_str).is_some()) else {
            if self.dialect != Dialect::Plain {
                return Kind::Quiet;
            }
            if !t.is_empty() {
                if self.tail.len() == TAIL {
                    self.tail.pop_front();
                }
                self.tail.push_back(t.to_string());
            }
            return Kind::Progress;
        };
        let ty = v["type"].as_str().unwrap_or_default();
        if ty.contains('.') || ty == "error" {
            self.dialect = Dialect::Codex;
            self.codex(ty, &v)
        } else {
            self.dialect = Dialect::Claude;
            self.claude(ty, &v)
        }
    }

    /// The agent's part of the turn, from how its process ended and what it said.
    pub fn verdict(&self, exit_code: Option<i32>, killed: Option<Kill>, took: f64) -> Verdict {
        let after = format!("after {took:.1} s");
        let v = |outcome, detail: String, provider| Verdict { outcome, detail, provider, resets_at: None };
        let events = self.dialect != Dialect::Plain;
        match killed {
            Some(Kill::Interrupted) => return v(Outcome::Interrupted, format!("interrupted {after}"), false),
            Some(Kill::Outside) => {
                return v(Outcome::AgentFailed, format!("the agent was killed from outside {after}"), false)
            }
            Some(k @ (Kill::Timeout | Kill::Idle)) => {
                let (outcome, limit) =
                    if k == Kill::Idle { (Outcome::Idle, "idle_timeout") } else { (Outcome::Timeout, "turn_timeout") };
                if events && self.awaiting_provider {
                    return match &self.retrying {
                        Some(r) => v(Outcome::Unavailable, format!("the provider did not answer: the agent was still retrying it ({r}) when {limit} ended it {after}"), true),
                        None => v(outcome, format!("the provider did not answer: the agent waited for it until {limit} ended it {after}"), true),
                    };
                }
                let waiting = if events { " while a tool of the agent's ran" } else { "" };
                return v(outcome, format!("loop ended the agent's process group ({limit}){waiting} {after}"), false);
            }
            None => {}
        }
        if let Some(f) = &self.failure {
            let mut r = match f.class {
                Class::Unavailable => v(Outcome::Unavailable, format!("the provider failed: {}", f.message), true),
                Class::Limit => v(Outcome::Limit, format!("a usage limit: {}", f.message), true),
                Class::Agent => v(Outcome::AgentFailed, format!("the agent reported an error: {}", f.message), false),
            };
            r.resets_at = f.resets_at;
            return r;
        }
        match exit_code {
            Some(0) if !self.denied.is_empty() => v(
                Outcome::Denied,
                format!("the agent was refused {}: {}", plural(self.denied.len(), "request"), self.denied.join("; ")),
                false,
            ),
            Some(0) => v(Outcome::Ok, format!("the agent exited 0 {after}"), false),
            code => {
                let code = code.map_or("without a code".to_string(), |c| c.to_string());
                // Words only where the agent gave no events, and only from an agent that failed.
                if let Some(l) = (!events).then(|| self.tail.iter().rev().find(|l| LIMIT_WORDS.is_match(l))).flatten() {
                    let mut r = v(Outcome::Limit, format!("a usage limit: the agent said: {}", clip(l)), true);
                    r.resets_at = l
                        .rsplit_once('|')
                        .and_then(|(_, e)| e.trim().parse().ok())
                        .and_then(|e| DateTime::from_timestamp(e, 0));
                    return r;
                }
                v(Outcome::AgentFailed, format!("the agent exited {code} {after}"), false)
            }
        }
    }
}

fn epoch(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).and_then(|e| DateTime::from_timestamp(e, 0))
}

/// The reset Codex states, at the end of its minute (it gives no seconds). Codex writes it in the
/// machine's local time, and without a date when it falls today; a time-only reset more than
/// an hour gone is tomorrow's.
fn try_again_at(m: &str) -> Option<DateTime<Utc>> {
    stated_reset(m, crate::clock::now().ok()?.with_timezone(&chrono::Local))
}

fn stated_reset(m: &str, now: DateTime<chrono::Local>) -> Option<DateTime<Utc>> {
    use chrono::{Local, NaiveDate, NaiveTime, TimeZone};
    let c = TRY_AGAIN_AT.captures(m)?;
    let time = NaiveTime::parse_from_str(&format!("{}:{} {}", &c[4], &c[5], &c[6]), "%I:%M %p").ok()?;
    let date = match (c.get(1), c.get(2), c.get(3)) {
        (Some(mon), Some(day), Some(year)) => {
            NaiveDate::parse_from_str(&format!("{} {} {}", mon.as_str(), day.as_str(), year.as_str()), "%b %d %Y")
                .ok()?
        }
        _ if now.time() - time > chrono::TimeDelta::hours(1) => now.date_naive().succ_opt()?,
        _ => now.date_naive(),
    };
    let at = Local.from_local_datetime(&date.and_time(time)).earliest()?;
    Some(at.with_timezone(&Utc) + chrono::TimeDelta::seconds(59))
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests;
