//! Scripted model servers on 127.0.0.1 for the real agent CLIs: the Anthropic Messages API
//! (SSE, `tool_use`) that Claude Code speaks and the OpenAI Responses API (SSE, function calls)
//! that Codex speaks. Each request that offers tools takes the next reply of the script (the
//! last one repeats); a request without tools (a CLI's side request) gets a short text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /v1/messages`, as Claude Code sends it.
    Anthropic,
    /// `POST /v1/responses`, as Codex sends it.
    OpenAi,
}

#[derive(Debug, Clone)]
pub enum Reply {
    /// The shell tool (Claude's `Bash`, Codex's `exec_command`) running this command line.
    Shell(String),
    /// Any tool by name with its input (Claude's `Write`, `Read`).
    Tool(&'static str, Value),
    /// The final answer.
    Text(String),
    /// An HTTP error: status, JSON body, extra headers.
    Status(u16, String, Vec<(&'static str, String)>),
    /// Read the request and never answer.
    HangBeforeHeaders,
    /// Answer the headers and the first event, then nothing more.
    HangMidStream,
    /// Read the request and close the connection.
    Close,
}

pub struct Server {
    pub url: String,
    requests: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Server {
    pub fn start(api: Api, script: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(Mutex::new((script, 0usize)));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, s, script) = (r.clone(), s.clone(), script.clone());
                std::thread::spawn(move || {
                    let _ = serve(api, conn, &r, &s, &script);
                });
            }
        });
        Server { url: format!("http://127.0.0.1:{port}"), requests, stop, port }
    }

    /// Every request body that offered tools, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

type Script = Mutex<(Vec<Reply>, usize)>;

fn serve(
    api: Api,
    conn: TcpStream,
    log: &Mutex<Vec<Value>>,
    stop: &AtomicBool,
    script: &Script,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request_line = line.trim().to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        if !request_line.starts_with("POST") {
            respond(&mut out, 404, "application/json", b"{}", &[])?;
            continue;
        }
        if path.contains("count_tokens") {
            respond(&mut out, 200, "application/json", br#"{"input_tokens":100}"#, &[])?;
            continue;
        }
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let offers_tools = req["tools"].as_array().is_some_and(|t| !t.is_empty());
        let reply = if offers_tools {
            log.lock().unwrap().push(req.clone());
            let mut s = script.lock().unwrap();
            let k = s.1.min(s.0.len() - 1);
            s.1 += 1;
            s.0[k].clone()
        } else {
            Reply::Text("ok".into())
        };
        match reply {
            Reply::Status(code, body, headers) => {
                respond(&mut out, code, "application/json", body.as_bytes(), &headers)?
            }
            Reply::Close => return Ok(()),
            Reply::HangBeforeHeaders => {
                idle_until(stop);
                return Ok(());
            }
            Reply::HangMidStream => {
                let events = stream(api, &Reply::Text("…".into()));
                let first = events.split("\n\n").next().unwrap_or_default();
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
                out.write_all(head.as_bytes())?;
                out.write_all(format!("{first}\n\n").as_bytes())?;
                out.flush()?;
                idle_until(stop);
                return Ok(());
            }
            r => {
                let events = stream(api, &r);
                respond(&mut out, 200, "text/event-stream", events.as_bytes(), &[])?;
            }
        }
    }
}

fn idle_until(stop: &AtomicBool) {
    let t = Instant::now();
    while !stop.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn respond(out: &mut TcpStream, code: u16, kind: &str, body: &[u8], headers: &[(&str, String)]) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {code} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// The reply as the API's server-sent events.
fn stream(api: Api, r: &Reply) -> String {
    let mut s = String::new();
    let mut ev = |name: &str, data: Value| s.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    match api {
        Api::Anthropic => {
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 100, "output_tokens": 1}}}),
            );
            let (block, delta, stop) = match r {
                Reply::Shell(cmd) => tool_block("Bash", json!({"command": cmd, "description": "run the step"})),
                Reply::Tool(name, input) => tool_block(name, input.clone()),
                Reply::Text(t) => {
                    (json!({"type": "text", "text": ""}), json!({"type": "text_delta", "text": t}), "end_turn")
                }
                _ => unreachable!(),
            };
            ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": block}));
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": delta}));
            ev("content_block_stop", json!({"type": "content_block_stop", "index": 0}));
            ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 20}}),
            );
            ev("message_stop", json!({"type": "message_stop"}));
        }
        Api::OpenAi => {
            ev("response.created", json!({"type": "response.created", "response": {"id": "resp_test"}}));
            let item = match r {
                Reply::Shell(cmd) => {
                    json!({"type": "function_call", "id": "fc_test", "call_id": call_id(), "name": "exec_command", "arguments": json!({"cmd": cmd}).to_string()})
                }
                Reply::Tool(name, input) => {
                    json!({"type": "function_call", "id": "fc_test", "call_id": call_id(), "name": name, "arguments": input.to_string()})
                }
                Reply::Text(t) => {
                    json!({"type": "message", "role": "assistant", "id": "msg_test", "content": [{"type": "output_text", "text": t}]})
                }
                _ => unreachable!(),
            };
            ev("response.output_item.done", json!({"type": "response.output_item.done", "item": item}));
            ev(
                "response.completed",
                json!({"type": "response.completed", "response": {"id": "resp_test", "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 120}}}),
            );
        }
    }
    s
}

/// Tool call ids, unique within a test run as the CLIs expect.
static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn call_id() -> String {
    format!("call_{}", CALLS.fetch_add(1, Ordering::SeqCst))
}

fn tool_block(name: &str, input: Value) -> (Value, Value, &'static str) {
    (
        json!({"type": "tool_use", "id": format!("toolu_{}", call_id()), "name": name, "input": {}}),
        json!({"type": "input_json_delta", "partial_json": input.to_string()}),
        "tool_use",
    )
}
