//! `loop mcp` driven as an agent's client would: a child process, JSON-RPC lines on its stdin,
//! answers on its stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    next_id: u64,
}

impl Client {
    fn start(root: &Path, extra: &[&str]) -> Client {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loop"))
            .arg("mcp")
            .args(extra)
            .arg("--root")
            .arg(root)
            .env("LOOP_NOW", NOW)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut c = Client { child, stdin, lines, next_id: 1 };
        let init = c.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "ledger-loop", "{init}");
        c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
        c
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Every stdout line is a JSON-RPC message; wait (bounded) for the one with this id.
    fn wait(&mut self, id: Option<u64>) -> Value {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60)).expect("no answer within 60 s");
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout is not protocol: {line} ({e})"));
            if v["id"].as_u64() == id {
                return v;
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string());
        self.wait(Some(id))
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        r["result"].clone()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_agent_drives_the_workflow_over_mcp() {
    let ws = copy_tree(&nanobragg("workspace"));
    let ledger = std::fs::read(ws.path().join("docs/fix_plan.md")).unwrap();
    let mut c = Client::start(ws.path(), &[]);
    let tools = c.request("tools/list", json!({}));
    let mut names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["attempt", "brief", "compare", "gate_check", "lint", "next", "run", "status"]);
    let attempt_tool = tools["result"]["tools"].as_array().unwrap().iter().find(|t| t["name"] == "attempt").unwrap();
    assert_eq!(attempt_tool["inputSchema"]["required"], json!(["item", "result"]));

    let st = c.call("status", json!({}));
    assert_eq!(st["isError"], false);
    assert!(st["structuredContent"]["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == "VECTOR-TRICUBIC-002"));
    assert!(st["content"][0]["text"].as_str().unwrap().contains("VECTOR-TRICUBIC-002"));

    let next = c.call("next", json!({}));
    assert_eq!(next["structuredContent"]["plan"], "plans/active/vectorization.md");
    assert_eq!(next["structuredContent"]["task"]["id"], "C1");
    assert_eq!(next["structuredContent"]["item"]["id"], "VECTOR-TRICUBIC-002");

    let dry = c.call("attempt", json!({"item": "VECTOR-TRICUBIC-002", "result": "failed", "phase": "C1", "metrics": {"corr_warm": "0.721175"}, "dry_run": true}));
    assert_eq!(dry["isError"], false, "{dry}");
    assert!(
        dry["structuredContent"]["diff"].as_str().unwrap().contains("Attempt #3 — Result: failed (Phase C1)"),
        "{dry}"
    );
    assert_eq!(std::fs::read(ws.path().join("docs/fix_plan.md")).unwrap(), ledger, "dry run wrote nothing");

    let unknown = c.call("attempt", json!({"item": "NOPE-404", "result": "failed"}));
    assert_eq!(unknown["isError"], true);
    assert!(unknown["content"][0]["text"].as_str().unwrap().contains("unknown item [NOPE-404]"));

    let forged = c.call("attempt", json!({"item": "VECTOR-TRICUBIC-002", "result": "failed", "note": "two\nlines"}));
    assert_eq!(forged["isError"], true);
    let text = forged["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("line break"), "{text}");
    // Named as the tool's argument, not as a command-line option.
    assert!(text.contains("`note`") && !text.contains("--note"), "{text}");
    let bogus = c.call("attempt", json!({"item": "VECTOR-TRICUBIC-002", "result": "bogus"}));
    let text = bogus["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("success, failed, partial, blocked"), "{text}");
    let plan = c.request("resources/read", json!({"uri": "plan://plans/active/vectorization.md"}));
    assert_eq!(plan["result"]["contents"][0]["mimeType"], "text/markdown", "{plan}");
    assert_eq!(std::fs::read(ws.path().join("docs/fix_plan.md")).unwrap(), ledger);

    let run = c.call("run", json!({}));
    assert_eq!(run["isError"], true);
    assert!(run["content"][0]["text"].as_str().unwrap().contains("--allow-run"));

    // A malformed request gets a JSON-RPC error; the server keeps serving.
    c.send("{not json");
    let err = c.wait(None);
    assert!(err["error"]["code"].is_i64(), "{err}");
    let lint = c.call("lint", json!({}));
    assert!(lint["structuredContent"]["findings"].is_array());

    // Paths stay inside the workspace.
    let out = c.call("gate_check", json!({"dir": "../../etc"}));
    assert_eq!(out["isError"], true);
    assert!(out["content"][0]["text"].as_str().unwrap().contains("outside the workspace"));

    let brief = c.call("brief", json!({}));
    assert!(brief["structuredContent"]["memo"].as_str().unwrap().contains("Do Now: VECTOR-TRICUBIC-002"));

    let res = c.request("resources/read", json!({"uri": "ledger://items/VECTOR-TRICUBIC-002"}));
    assert!(res["result"]["contents"][0]["text"].as_str().unwrap().starts_with("## [VECTOR-TRICUBIC-002]"), "{res}");
    // The real write works too, and is what the CLI would write.
    let done = c.call("attempt", json!({"item": "VECTOR-TRICUBIC-002", "result": "partial", "note": "via mcp"}));
    assert_eq!(done["structuredContent"]["number"], 3, "{done}");
    assert!(std::fs::read_to_string(ws.path().join("docs/fix_plan.md"))
        .unwrap()
        .contains("Attempt #3 — Result: partial. Observations: via mcp."));
}

#[test]
fn with_allow_run_the_run_tool_returns_run_json() {
    let ws = embedded_workspace();
    let mut c = Client::start(ws.path(), &["--allow-run"]);
    let run = c.call("run", json!({}));
    assert_eq!(run["isError"], false, "{run}");
    let rec = &run["structuredContent"];
    assert_eq!(rec["exit_code"], 0, "{rec}");
    assert_eq!(rec["item"], "LOOP-SIM-001");
    let dir = ws.path().join(rec["artifacts"].as_str().unwrap());
    assert!(dir.join("run.json").is_file() && dir.join("profile/metrics.json").is_file());
}
