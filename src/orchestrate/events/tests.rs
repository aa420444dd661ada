//! Events as the real CLIs print them (lines taken from Claude Code 2.1.197 and Codex 0.171.0).

use super::*;

fn read(lines: &[&str]) -> Reading {
    let mut r = Reading::default();
    for l in lines {
        r.feed(l);
    }
    r
}

const INIT: &str = r#"{"type":"system","subtype":"init","model":"claude-opus-4-8","session_id":"s"}"#;

#[test]
fn claude_success_with_cost_tokens_and_model() {
    let r = read(&[
        INIT,
        r#"{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.003,"usage":{"input_tokens":200,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":40},"permission_denials":[]}"#,
    ]);
    assert_eq!(r.verdict(Some(0), None, 1.0).outcome, Outcome::Ok);
    assert_eq!(
        r.usage,
        Usage {
            tokens_in: 215,
            tokens_cached: 5,
            tokens_out: 40,
            cost_usd: Some(0.003),
            model: Some("claude-opus-4-8".into())
        }
    );
}

#[test]
fn claude_provider_errors_are_unavailable_and_billing_is_a_limit() {
    for (kind, status, text, want) in [
        ("server_error", "500", "API Error: 500 Internal server error.", Outcome::Unavailable),
        ("overloaded", "529", "API Error: 529 Overloaded.", Outcome::Unavailable),
        ("rate_limit", "429", "API Error: Request rejected (429) · rate limit", Outcome::Unavailable),
        ("unknown", "null", "API Error: Unable to connect to API (ConnectionRefused)", Outcome::Unavailable),
        ("billing_error", "400", "Credit balance is too low", Outcome::Limit),
        ("authentication_failed", "401", "Invalid API key · Fix external API key", Outcome::AgentFailed),
    ] {
        let r = read(&[
            INIT,
            r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":2,"error_status":500,"error":"server_error"}"#,
            &format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{text}"}}]}},"error":"{kind}"}}"#
            ),
            &format!(
                r#"{{"type":"result","subtype":"success","is_error":true,"api_error_status":{status},"result":"{text}"}}"#
            ),
        ]);
        let v = r.verdict(Some(1), None, 2.0);
        assert_eq!(v.outcome, want, "{kind}");
        assert_eq!(v.provider, want != Outcome::AgentFailed, "{kind}");
    }
}

#[test]
fn a_subscription_usage_limit_with_its_reset() {
    let r = read(&[
        INIT,
        r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1767225600}}"#,
        r#"{"type":"assistant","message":{"content":[]},"error":"rate_limit"}"#,
        r#"{"type":"result","is_error":true,"api_error_status":429,"result":"You've hit your limit · resets 3pm"}"#,
    ]);
    let v = r.verdict(Some(1), None, 1.0);
    assert_eq!((v.outcome, v.resets_at.map(|t| t.timestamp())), (Outcome::Limit, Some(1767225600)));
}

#[test]
fn permission_denials_are_listed() {
    let r = read(&[
        INIT,
        r#"{"type":"result","is_error":false,"permission_denials":[{"tool_name":"Bash","tool_input":{"command":"pytest -q"}}]}"#,
    ]);
    let v = r.verdict(Some(0), None, 1.0);
    assert_eq!(v.outcome, Outcome::Denied);
    assert_eq!(r.denied, vec!["Bash: pytest -q".to_string()]);
}

#[test]
fn retry_notices_are_not_progress_and_a_hang_while_retrying_is_unavailable() {
    let mut r = Reading::default();
    assert_eq!(r.feed(INIT), Kind::Progress);
    assert_eq!(r.feed(r#"{"type":"system","subtype":"api_retry","attempt":3,"max_retries":10,"error_status":529,"error":"overloaded"}"#), Kind::Retry);
    let v = r.verdict(None, Some(Kill::Idle), 20.0);
    assert_eq!((v.outcome, v.provider), (Outcome::Unavailable, true));
    // A hang with no notice at all, waiting for the provider: idle, the provider's doing.
    let v = read(&[INIT]).verdict(None, Some(Kill::Idle), 20.0);
    assert_eq!((v.outcome, v.provider), (Outcome::Idle, true));
    // A hang inside the agent's own tool: idle, the agent's.
    let v = read(&[INIT, r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"sleep 999"}}]}}"#])
        .verdict(None, Some(Kill::Idle), 20.0);
    assert_eq!((v.outcome, v.provider), (Outcome::Idle, false));
}

#[test]
fn codex_events() {
    let ok = read(&[
        r#"{"type":"thread.started","thread_id":"t"}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"We hit a rate limit in the parser; usage limit tests pass."}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":50,"output_tokens":40}}"#,
    ]);
    assert_eq!(ok.verdict(Some(0), None, 1.0).outcome, Outcome::Ok);
    assert_eq!((ok.usage.tokens_in, ok.usage.tokens_cached, ok.usage.tokens_out), (200, 50, 40));
    let limit = read(&[
        r#"{"type":"turn.started"}"#,
        r#"{"type":"error","message":"You’ve hit your usage limit. Upgrade to Pro or try again at Jan 1st, 2030 12:00 AM."}"#,
        r#"{"type":"turn.failed","error":{"message":"You’ve hit your usage limit. Upgrade to Pro or try again at Jan 1st, 2030 12:00 AM."}}"#,
    ]);
    let v = limit.verdict(Some(1), None, 1.0);
    assert_eq!(v.outcome, Outcome::Limit);
    assert!(v.resets_at.is_some_and(|t| t.format("%Y").to_string().as_str() >= "2029"));
    for m in [
        "exceeded retry limit, last status: 429 Too Many Requests",
        "We’re currently experiencing high demand, which may cause temporary errors.",
        "unexpected status 503 Service Unavailable: overloaded, url: http://127.0.0.1:1/v1/responses",
    ] {
        let r =
            read(&[r#"{"type":"turn.started"}"#, &format!(r#"{{"type":"turn.failed","error":{{"message":"{m}"}}}}"#)]);
        assert_eq!(r.verdict(Some(1), None, 1.0).outcome, Outcome::Unavailable, "{m}");
    }
    let mut r = Reading::default();
    r.feed(r#"{"type":"turn.started"}"#);
    assert_eq!(r.feed(r#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}"#), Kind::Retry);
    assert_eq!(r.verdict(None, Some(Kill::Idle), 5.0).outcome, Outcome::Unavailable);
}

#[test]
fn plain_agents_are_read_by_words_only_when_they_fail() {
    let r = read(&["fixed the rate limiter", "Claude AI usage limit reached|1767225600"]);
    assert_eq!(r.verdict(Some(0), None, 1.0).outcome, Outcome::Ok);
    let v = r.verdict(Some(1), None, 1.0);
    assert_eq!((v.outcome, v.resets_at.map(|t| t.timestamp())), (Outcome::Limit, Some(1767225600)));
    assert_eq!(read(&["boom"]).verdict(Some(2), None, 1.0).outcome, Outcome::AgentFailed);
}

#[test]
fn codex_resets_today_tomorrow_or_on_a_date_at_the_end_of_the_stated_minute() {
    use chrono::{Local, TimeZone};
    let now = Local.with_ymd_and_hms(2026, 3, 4, 7, 14, 30).unwrap();
    let at = |m: &str| super::stated_reset(m, now).map(|t| t.with_timezone(&Local).format("%F %T").to_string());
    assert_eq!(at("or try again at 7:15 AM.").as_deref(), Some("2026-03-04 07:15:59"));
    // Rounded down to the minute just gone: still today.
    assert_eq!(at("or try again at 7:14 AM.").as_deref(), Some("2026-03-04 07:14:59"));
    assert_eq!(at("or try again at 2:05 AM.").as_deref(), Some("2026-03-05 02:05:59"));
    assert_eq!(at("or try again at Jan 1st, 2030 12:00 AM.").as_deref(), Some("2030-01-01 00:00:59"));
    assert_eq!(at("or wait for limits to reset."), None);
}
