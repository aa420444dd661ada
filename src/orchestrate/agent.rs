//! Running an agent (or a check) for a turn so that a crash of `loop` loses nothing: the process
//! runs in its own process group under a small shell wrapper that takes the prompt on stdin,
//! appends all output to the turn's log and writes the exit code to a file when it ends. `loop`
//! only watches — the log for output (shown live, read for cost and usage limits) and the exit
//! file — so a restarted `loop` picks up a process that is still running, or the code of one that
//! ended meanwhile, instead of running it twice.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::error::{Error, Result};

/// What agents print when their plan's quota ran out (Claude Code, Codex, Gemini CLI and the
/// APIs under them word it so).
static LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(usage limit|rate limit|limit reached|reached your limit|hit your limit|quota (exceeded|exhausted)|out of credits|credit balance is too low)\b").unwrap()
});

/// Why loop ended a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    Timeout,
    Idle,
    Interrupted,
}

impl Kill {
    pub fn word(self) -> &'static str {
        match self {
            Kill::Timeout => "timeout",
            Kill::Idle => "idle",
            Kill::Interrupted => "interrupted",
        }
    }
}

/// A started process: what a journal keeps to find it again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Proc {
    pub pid: u32,
    /// `agent` or `verify N`.
    pub what: String,
    pub started_at: String,
    pub log: String,
    pub exit_file: String,
}

/// How the process ended.
#[derive(Debug, Clone, Default)]
pub struct End {
    pub exit_code: Option<i32>,
    pub killed: Option<&'static str>,
    pub duration_s: f64,
    pub cost_usd: Option<f64>,
    /// The agent's own report of an error (stream-json `is_error`), or a usage-limit message.
    pub limit: Option<String>,
}

/// Limits while watching.
pub struct Watch<'a> {
    pub turn_timeout: Duration,
    pub idle_timeout: Duration,
    /// Show the output on stderr as it comes.
    pub echo: bool,
    /// Called now and then while the process runs (the lease's heartbeat).
    pub heartbeat: &'a mut dyn FnMut(),
    pub heartbeat_every: Duration,
    pub interrupted: &'a dyn Fn() -> bool,
}

/// Start `command` (a shell command line) in `root` with `stdin_file` on its stdin.
pub fn start(
    root: &Path,
    command: &str,
    stdin_file: &Path,
    log: &Path,
    exit_file: &Path,
    env: &[(&str, String)],
) -> Result<u32> {
    if let Some(d) = log.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let _ = std::fs::remove_file(exit_file);
    // The command runs in bash where there is one (memos write bash), as `loop next --run` does.
    let shell = crate::run::shell_program();
    let wrapper =
        format!(r#"{shell} -c "$1" < "$2" >> "$3" 2>&1; code=$?; echo "$code" > "$4.tmp" && mv "$4.tmp" "$4""#);
    let mut c = Command::new("sh");
    c.arg("-c").arg(&wrapper).arg("loop-agent").arg(command).arg(stdin_file).arg(log).arg(exit_file);
    c.current_dir(root).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let child = c.spawn().map_err(|e| Error::io("sh", e))?;
    let pid = child.id();
    // Reaped by a thread of its own, so it never lingers as a zombie that still looks alive.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(pid)
}

/// Whether any process of the group `pid` leads is alive.
pub fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// End the whole process group: TERM, then KILL after a moment.
pub fn kill_group(pid: u32) {
    let send = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    send("-TERM");
    let t = Instant::now();
    while alive(pid) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    send("-KILL");
}

fn read_exit(exit_file: &Path) -> Option<i32> {
    std::fs::read_to_string(exit_file).ok().and_then(|s| s.trim().parse().ok())
}

/// Watch a started process until it ends or a limit ends it. `started` is when it started
/// (from the journal, so a resumed watch keeps the turn's clock).
pub fn watch(p: &Proc, root: &Path, started: chrono::DateTime<chrono::Utc>, w: &mut Watch) -> Result<End> {
    let log = root.join(&p.log);
    let exit_file = root.join(&p.exit_file);
    let mut offset = 0u64;
    let mut partial = Vec::new();
    let mut end = End::default();
    let mut last_output = Instant::now();
    let mut last_beat = Instant::now();
    let mut gone_since: Option<Instant> = None;
    let elapsed = || (chrono::Utc::now() - started).to_std().unwrap_or_default();
    loop {
        let grew = drain(&log, &mut offset, &mut partial, w.echo, &mut end);
        if grew {
            last_output = Instant::now();
        }
        if let Some(code) = read_exit(&exit_file) {
            drain(&log, &mut offset, &mut partial, w.echo, &mut end);
            scan_line(&std::mem::take(&mut partial), &mut end);
            end.exit_code = Some(code);
            break;
        }
        let kill = if (w.interrupted)() {
            Some(Kill::Interrupted)
        } else if elapsed() > w.turn_timeout {
            Some(Kill::Timeout)
        } else if last_output.elapsed() > w.idle_timeout {
            Some(Kill::Idle)
        } else {
            None
        };
        if let Some(k) = kill {
            kill_group(p.pid);
            end.killed = Some(k.word());
            break;
        }
        if !alive(p.pid) {
            // Gone without an exit file: killed from outside. Give the wrapper's `mv` a moment.
            let since = *gone_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(500) && read_exit(&exit_file).is_none() {
                end.exit_code = None;
                end.killed = Some("killed");
                break;
            }
        }
        if last_beat.elapsed() >= w.heartbeat_every {
            (w.heartbeat)();
            last_beat = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    end.duration_s = (elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(end)
}

/// Read what the log gained; true when it grew.
fn drain(log: &Path, offset: &mut u64, partial: &mut Vec<u8>, echo: bool, end: &mut End) -> bool {
    let Ok(mut f) = std::fs::File::open(log) else { return false };
    if f.seek(SeekFrom::Start(*offset)).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let n = f.read_to_end(&mut buf).unwrap_or(0);
    if n == 0 {
        return false;
    }
    *offset += n as u64;
    if echo {
        crate::run::echo_stderr(&buf);
    }
    partial.extend_from_slice(&buf);
    while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=pos).collect();
        scan_line(&line, end);
    }
    true
}

/// Cost and errors from one line of output: stream-json's `result` event, or a limit message.
fn scan_line(line: &[u8], end: &mut End) {
    let text = String::from_utf8_lossy(line);
    let t = text.trim();
    if t.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
            if v.get("type").and_then(|x| x.as_str()) == Some("result") {
                if let Some(c) = v.get("total_cost_usd").or_else(|| v.get("cost_usd")).and_then(|c| c.as_f64()) {
                    end.cost_usd = Some(end.cost_usd.unwrap_or(0.0) + c);
                }
                if v.get("is_error").and_then(|e| e.as_bool()) == Some(true) {
                    let what = v.get("result").and_then(|r| r.as_str()).unwrap_or("is_error: true");
                    end.limit =
                        Some(format!("the agent reported an error: {}", what.chars().take(200).collect::<String>()));
                }
            }
            return;
        }
    }
    if end.limit.is_none() && LIMIT.is_match(t) {
        end.limit = Some(format!("the agent said: {}", t.chars().take(200).collect::<String>()));
    }
}

/// The turn folder's path for a file, relative to the root.
pub fn rel(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_errors_and_limits_are_read_from_the_output() {
        let mut e = End::default();
        scan_line(br#"{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.25}"#, &mut e);
        scan_line(br#"{"type":"result","is_error":false,"total_cost_usd":0.5}"#, &mut e);
        assert_eq!((e.cost_usd, e.limit.is_none()), (Some(0.75), true));
        scan_line(b"Claude AI usage limit reached|1760000000", &mut e);
        assert!(e.limit.as_deref().unwrap().contains("usage limit"));
        let mut e = End::default();
        scan_line(br#"{"type":"result","is_error":true,"result":"Prompt is too long"}"#, &mut e);
        assert!(e.limit.unwrap().contains("Prompt is too long"));
        let mut e = End::default();
        scan_line(b"fixed the rate limiter in src/net.rs", &mut e);
        assert!(e.limit.is_none());
    }
}
