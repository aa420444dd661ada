//! Running an agent (or a check) for a turn so that a crash of `loop` loses nothing: the process
//! runs in its own process group under a small shell wrapper that takes the prompt on stdin,
//! appends all output to the turn's log and writes the exit code to a file when it ends. `loop`
//! only watches — the log for output (shown live, read for its events: progress, errors, usage) and the exit
//! file — so a restarted `loop` picks up a process that is still running, or the code of one that
//! ended meanwhile, instead of running it twice.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub use super::events::Kill;
use super::events::{Kind, Reading};

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

/// How the process ended, and what its output said.
#[derive(Debug, Clone, Default)]
pub struct End {
    pub exit_code: Option<i32>,
    pub killed: Option<Kill>,
    pub duration_s: f64,
    pub reading: Reading,
}

/// Limits while watching.
pub struct Watch<'a> {
    pub turn_timeout: Duration,
    pub idle_timeout: Duration,
    /// Where the output is shown as it comes.
    pub sink: &'a dyn crate::progress::Progress,
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
    crate::process::signal_group(pid, 0)
}

/// End the whole process group: TERM, then KILL after a moment.
pub fn kill_group(pid: u32) {
    crate::process::end_group(pid, Duration::from_secs(2));
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
    // A resumed watch keeps the turn's clock: what ran before this watch, then monotonic time.
    let before = (super::state::now() - started).to_std().unwrap_or_default();
    let t0 = Instant::now();
    let elapsed = || before + t0.elapsed();
    loop {
        if drain(&log, &mut offset, &mut partial, w.sink, &mut end.reading) {
            last_output = Instant::now();
        }
        if let Some(code) = read_exit(&exit_file) {
            drain(&log, &mut offset, &mut partial, w.sink, &mut end.reading);
            end.reading.feed(&String::from_utf8_lossy(&std::mem::take(&mut partial)));
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
            end.killed = Some(k);
            break;
        }
        if !alive(p.pid) {
            // Gone without an exit file: killed from outside. Give the wrapper's `mv` a moment.
            let since = *gone_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(500) && read_exit(&exit_file).is_none() {
                end.exit_code = None;
                end.killed = Some(Kill::Outside);
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

/// Read what the log gained; true when the turn moved (a retry notice or the CLI's own
/// diagnostics are not movement: they must not keep a hung provider's turn alive).
fn drain(
    log: &Path,
    offset: &mut u64,
    partial: &mut Vec<u8>,
    sink: &dyn crate::progress::Progress,
    reading: &mut Reading,
) -> bool {
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
    // The log holds the agent's stdout and stderr together.
    sink.output(&buf, true);
    partial.extend_from_slice(&buf);
    let mut moved = false;
    while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=pos).collect();
        moved |= reading.feed(String::from_utf8_lossy(&line).trim_end()) == Kind::Progress;
    }
    // Part of a line of plain text is movement too; part of an event is not yet anything.
    moved || (!partial.is_empty() && !partial.starts_with(b"{"))
}

/// The turn folder's path for a file, relative to the root.
pub fn rel(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}
