//! `orchestrate:` in loop.yaml: the agent of each role, what each may write, turn limits and
//! budgets. Durations read like `90s`, `20m`, `2h`, `1h30m` (a bare number is seconds).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_yaml_ng::Value", into = "String")]
pub struct Span(pub Duration);

impl Span {
    pub fn secs(s: u64) -> Span {
        Span(Duration::from_secs(s))
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        format!("{}s", s.0.as_secs_f64())
    }
}

/// `90s`, `20m`, `2h`, `1h30m`, `1.5s`, `250ms`, or seconds as a number.
pub fn parse_span(text: &str) -> Result<Span, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        return (n >= 0.0).then(|| Span(Duration::from_secs_f64(n))).ok_or_else(|| format!("`{t}`: negative"));
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| digits + i);
        let n: f64 = rest[..digits].parse().map_err(|_| format!("`{t}`: expected a duration like 90s, 20m, 2h"))?;
        let scale = match &rest[digits..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            u => return Err(format!("`{t}`: unknown unit `{u}` (ms, s, m, h, d)")),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    if t.is_empty() {
        return Err("empty duration".into());
    }
    Ok(Span(Duration::from_secs_f64(total)))
}

impl TryFrom<serde_yaml_ng::Value> for Span {
    type Error = String;
    fn try_from(v: serde_yaml_ng::Value) -> Result<Span, String> {
        match v {
            serde_yaml_ng::Value::Number(n) => parse_span(&n.to_string()),
            serde_yaml_ng::Value::String(s) => parse_span(&s),
            _ => Err("expected a duration like 90s, 20m, 2h".into()),
        }
    }
}

named_enum!(
    /// Who takes a turn.
    RoleName {
        Supervisor = "supervisor",
        Engineer = "engineer",
    }
);

impl RoleName {
    pub fn other(self) -> RoleName {
        match self {
            RoleName::Supervisor => RoleName::Engineer,
            RoleName::Engineer => RoleName::Supervisor,
        }
    }
}

/// One role: its agent command line (prompt on stdin), prompt file and writable globs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Role {
    /// A command line run by the shell, its prompt on stdin; `builtin` (the supervisor only)
    /// is `loop brief --write`.
    pub agent: Option<String>,
    /// A prompt file, relative to the root; the engineer's is followed by the memo.
    pub prompt: Option<String>,
    /// Globs this role may change; unset: the role's default.
    pub may_write: Option<Vec<String>>,
    /// The model the agent uses, for `prices:` when its CLI names none (Codex does not).
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    pub supervisor: Role,
    pub engineer: Role,
}

impl Roles {
    pub fn get(&self, r: RoleName) -> &Role {
        match r {
            RoleName::Supervisor => &self.supervisor,
            RoleName::Engineer => &self.engineer,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The branch turns are pushed to; unset: the branch checked out.
    pub branch: Option<String>,
    pub remote: String,
    pub roles: Roles,
    /// A turn's agent is ended after this long.
    pub turn_timeout: Span,
    /// … or after this long without printing anything.
    pub idle_timeout: Span,
    /// How long a claimed turn's lease lasts without a heartbeat.
    pub lease: Span,
    /// Turns `loop orchestrate` takes when `--iterations` is not given.
    pub iterations: u32,
    /// Wall-clock time one `loop orchestrate` may spend; no new turn starts after it.
    pub wall_budget: Option<Span>,
    /// Agent cost (as the agent reports it, e.g. stream-json `total_cost_usd`) one
    /// `loop orchestrate` may spend.
    pub cost_budget: Option<f64>,
    /// How often a waiting role looks at the remote.
    pub poll: Span,
    /// Engineer turns in a row with no new attempt and no task change that make `stalled`.
    pub stall_turns: u32,
    /// Pushes tried before a turn gives up (with a growing pause between them).
    pub push_retries: u32,
    /// Turns the provider failed (`unavailable`) taken again before `loop orchestrate` stops.
    pub provider_retries: u32,
    /// The pause before the first such retry; it doubles with each (at most 30 min).
    pub retry_pause: Span,
    /// At a usage limit: `wait` until the reset the provider gives (when it gives one and it
    /// falls within `wall_budget`), or `stop`.
    pub on_limit: OnLimit,
    /// Dollars per million tokens, per model, for CLIs that report tokens but no cost.
    pub prices: std::collections::BTreeMap<String, Price>,
}

/// A model's price in dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens; unset: the input price.
    pub cached_input: Option<f64>,
}

named_enum!(
    /// What `loop orchestrate` does at a usage limit.
    OnLimit {
        Wait = "wait",
        Stop = "stop",
    }
);

impl<'de> Deserialize<'de> for OnLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            branch: None,
            remote: "origin".into(),
            roles: Roles::default(),
            turn_timeout: Span::secs(2 * 3600),
            idle_timeout: Span::secs(20 * 60),
            lease: Span::secs(10 * 60),
            iterations: 1,
            wall_budget: None,
            cost_budget: None,
            poll: Span::secs(2),
            stall_turns: 3,
            push_retries: 5,
            provider_retries: 3,
            retry_pause: Span::secs(30),
            on_limit: OnLimit::Wait,
            prices: Default::default(),
        }
    }
}

impl Settings {
    /// The role's agent command line; the supervisor's is `builtin` unless configured.
    pub fn agent(&self, r: RoleName) -> Option<&str> {
        match (self.roles.get(r).agent.as_deref(), r) {
            (None, RoleName::Supervisor) => Some(BUILTIN),
            (a, _) => a.map(str::trim).filter(|a| !a.is_empty()),
        }
    }
}

impl Settings {
    /// A turn's cost from its tokens, when the CLI reported none: the model the CLI named,
    /// else the role's `model:`, else the agent command line's `--model`/`-m`, else the one
    /// model `prices:` lists.
    pub fn price(&self, r: RoleName, usage: &super::events::Usage) -> Option<f64> {
        if usage.cost_usd.is_some() {
            return usage.cost_usd;
        }
        let from_line = || {
            let words: Vec<&str> = self.agent(r)?.split_whitespace().collect();
            words
                .windows(2)
                .find(|w| w[0] == "--model" || w[0] == "-m")
                .map(|w| w[1].trim_matches(['"', '\'']))
                .or_else(|| words.iter().find_map(|w| w.strip_prefix("--model=")))
        };
        let model = usage.model.as_deref().or(self.roles.get(r).model.as_deref()).or_else(from_line);
        let p = match model {
            Some(m) => self.prices.get(m)?,
            None if self.prices.len() == 1 => self.prices.values().next()?,
            None => return None,
        };
        let m = 1e6;
        let fresh = usage.tokens_in.saturating_sub(usage.tokens_cached) as f64;
        let cached = usage.tokens_cached as f64;
        Some(
            fresh * p.input / m
                + cached * p.cached_input.unwrap_or(p.input) / m
                + usage.tokens_out as f64 * p.output / m,
        )
    }
}

/// The supervisor agent that is `loop brief --write`.
pub const BUILTIN: &str = "builtin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_span("90s").unwrap().0.as_secs(), 90);
        assert_eq!(parse_span("20m").unwrap().0.as_secs(), 1200);
        assert_eq!(parse_span("1h30m").unwrap().0.as_secs(), 5400);
        assert_eq!(parse_span("250ms").unwrap().0.as_millis(), 250);
        assert_eq!(parse_span("12").unwrap().0.as_secs(), 12);
        assert!(parse_span("5 parsecs").unwrap_err().contains("unit"));
        let s: Settings =
            serde_yaml_ng::from_str("idle_timeout: 2s\nroles: {engineer: {agent: codex exec -}}").unwrap();
        assert_eq!(s.idle_timeout.0.as_secs(), 2);
        assert_eq!(s.agent(RoleName::Supervisor), Some("builtin"));
        assert_eq!(s.agent(RoleName::Engineer), Some("codex exec -"));
        let s: Settings = serde_yaml_ng::from_str(
            "roles: {engineer: {agent: codex exec --json -m gpt-5 -}}\nprices: {gpt-5: {input: 1.25, output: 10, cached_input: 0.125}, other: {input: 1, output: 1}}",
        )
        .unwrap();
        let u = crate::orchestrate::events::Usage {
            tokens_in: 1_000_000,
            tokens_cached: 400_000,
            tokens_out: 100_000,
            ..Default::default()
        };
        let cost = s.price(RoleName::Engineer, &u).unwrap();
        assert!((cost - (0.6 * 1.25 + 0.4 * 0.125 + 0.1 * 10.0)).abs() < 1e-9, "{cost}");
        assert_eq!(s.price(RoleName::Supervisor, &u), None, "builtin names no model and two are priced");
        assert!(serde_yaml_ng::from_str::<Settings>("on_limit: later").is_err());
        assert!(serde_yaml_ng::from_str::<Settings>("turn_timout: 2s")
            .unwrap_err()
            .to_string()
            .contains("turn_timout"));
    }
}
