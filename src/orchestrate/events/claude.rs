//! Claude Code's `--output-format stream-json` events.

use chrono::DateTime;
use serde_json::Value;

use super::{clip, epoch, Class, Failure, Kind, Reading, LIMIT_WORDS};

impl Reading {
    pub(super) fn claude(&mut self, ty: &str, v: &Value) -> Kind {
        match (ty, v["subtype"].as_str()) {
            ("system", Some("init")) => {
                self.usage.model = v["model"].as_str().map(str::to_string).or(self.usage.model.take());
                self.awaiting_provider = true;
                Kind::Progress
            }
            ("system", Some("api_retry")) => {
                let status = v["error_status"].as_i64().map_or("no response".to_string(), |s| format!("HTTP {s}"));
                self.retrying = Some(format!(
                    "retry {}/{} ({status}, {})",
                    v["attempt"].as_i64().unwrap_or(0),
                    v["max_retries"].as_i64().unwrap_or(0),
                    v["error"].as_str().unwrap_or("error")
                ));
                self.awaiting_provider = true;
                Kind::Retry
            }
            ("assistant", _) => {
                self.retrying = None;
                if let Some(kind) = v["error"].as_str().filter(|k| !k.is_empty()) {
                    self.error_kind = Some(kind.to_string());
                }
                let content = v["message"]["content"].as_array();
                let tool = content.is_some_and(|c| c.iter().any(|b| b["type"] == "tool_use"));
                self.awaiting_provider = !tool;
                Kind::Progress
            }
            ("user", _) | ("stream_event", _) => {
                self.retrying = None;
                self.awaiting_provider = ty == "user" || self.awaiting_provider;
                Kind::Progress
            }
            ("rate_limit_event", _) => {
                let info = &v["rate_limit_info"];
                if info["status"] == "rejected" {
                    self.rejected = Some(epoch(&info["resetsAt"]));
                }
                Kind::Quiet
            }
            ("result", _) => {
                self.claude_result(v);
                Kind::Progress
            }
            _ => Kind::Quiet,
        }
    }

    fn claude_result(&mut self, v: &Value) {
        self.awaiting_provider = false;
        if let Some(c) = v["total_cost_usd"].as_f64().or(v["cost_usd"].as_f64()) {
            self.usage.cost_usd = Some(self.usage.cost_usd.unwrap_or(0.0) + c);
        }
        let u = &v["usage"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        self.usage.tokens_in += n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens");
        self.usage.tokens_cached += n("cache_read_input_tokens");
        self.usage.tokens_out += n("output_tokens");
        for d in v["permission_denials"].as_array().into_iter().flatten() {
            let tool = d["tool_name"].as_str().unwrap_or("tool");
            let input = &d["tool_input"];
            let what = input["command"].as_str().or(input["file_path"].as_str()).or(input["path"].as_str());
            self.denied.push(match what {
                Some(w) => format!("{tool}: {w}"),
                None => tool.to_string(),
            });
        }
        if v["is_error"].as_bool() != Some(true) {
            return;
        }
        let text = v["result"].as_str().unwrap_or_default();
        let message = if text.is_empty() {
            format!("{} (is_error)", v["subtype"].as_str().unwrap_or("error"))
        } else {
            clip(text)
        };
        let status = v["api_error_status"].as_u64();
        let subscription_limit = LIMIT_WORDS.is_match(text);
        let class = match (self.error_kind.as_deref(), status) {
            (Some("billing_error"), _) => Class::Limit,
            (Some("rate_limit"), _) if self.rejected.is_some() || subscription_limit => Class::Limit,
            (Some("rate_limit" | "overloaded" | "server_error"), _) => Class::Unavailable,
            (Some("unknown") | None, Some(429 | 500..=599)) => Class::Unavailable,
            // No status at all: the request never got an answer (refused, reset, timed out).
            (Some("unknown"), None) if text.starts_with("API Error") => Class::Unavailable,
            (None, None) if subscription_limit => Class::Limit,
            _ => Class::Agent,
        };
        let resets_at = self.rejected.flatten().or_else(|| {
            // The subscription's "Claude AI usage limit reached|1767225600".
            text.rsplit_once('|')
                .and_then(|(_, e)| e.trim().parse::<i64>().ok())
                .and_then(|e| DateTime::from_timestamp(e, 0))
        });
        self.failure = Some(Failure { class, message, resets_at });
    }
}
