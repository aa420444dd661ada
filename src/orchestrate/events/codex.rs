//! Codex's `exec --json` events. Its errors carry only a message: the words of that message
//! (never the agent's output) tell a usage limit from a provider's trouble.

use serde_json::Value;

use super::{clip, try_again_at, Class, Failure, Kind, Reading, LIMIT_WORDS, UNAVAILABLE_WORDS};

impl Reading {
    pub(super) fn codex(&mut self, ty: &str, v: &Value) -> Kind {
        let item = &v["item"];
        let tool =
            |item: &Value| matches!(item["type"].as_str(), Some("command_execution" | "mcp_tool_call" | "web_search"));
        match ty {
            "thread.started" | "turn.started" => {
                self.awaiting_provider = true;
                Kind::Progress
            }
            "item.started" | "item.updated" | "item.completed" if item["type"] == "error" => Kind::Quiet,
            "item.started" | "item.updated" => {
                self.retrying = None;
                self.awaiting_provider = !tool(item);
                Kind::Progress
            }
            "item.completed" => {
                self.retrying = None;
                if item["type"] == "command_execution" && item["status"] == "declined" {
                    self.denied.push(format!("exec: {}", item["command"].as_str().unwrap_or("?")));
                }
                self.awaiting_provider = true;
                Kind::Progress
            }
            "error" => {
                let m = v["message"].as_str().unwrap_or_default();
                if m.starts_with("Reconnecting") {
                    self.retrying = Some(clip(m));
                    Kind::Retry
                } else {
                    Kind::Quiet
                }
            }
            "turn.completed" => {
                let u = &v["usage"];
                let n = |k: &str| u[k].as_u64().unwrap_or(0);
                self.usage.tokens_in += n("input_tokens");
                self.usage.tokens_cached += n("cached_input_tokens");
                self.usage.tokens_out += n("output_tokens");
                self.awaiting_provider = false;
                Kind::Progress
            }
            "turn.failed" => {
                let m = v["error"]["message"].as_str().unwrap_or("turn.failed");
                let class = if LIMIT_WORDS.is_match(m) {
                    Class::Limit
                } else if UNAVAILABLE_WORDS.is_match(m) {
                    Class::Unavailable
                } else {
                    Class::Agent
                };
                self.failure = Some(Failure { class, message: clip(m), resets_at: try_again_at(m) });
                self.awaiting_provider = false;
                Kind::Progress
            }
            _ => Kind::Quiet,
        }
    }
}
