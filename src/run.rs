//! Running a decided step: `bash -c COMMAND` (`sh` where there is no bash) from the workspace
//! root, in an artifacts folder of its own, output streamed live and
//! captured, and a complete record (run.json, logs, the If-Blocked log on failure) written into
//! the artifacts folder.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::next::Decision;
use crate::progress::Sink;
use crate::run_record::{EnvInfo, RunRecord, LAST_RUN};

/// Lines of stderr the If-Blocked log keeps.
const TAIL_LINES: usize = 50;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What a dry run would do, or what a real run did.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub command: String,
    /// `bash`, or `sh` where there is no bash.
    pub shell: String,
    pub cwd: String,
    pub artifacts: String,
    pub writes: Vec<String>,
}

pub fn preview(model: &Model, d: &Decision) -> Result<Preview> {
    let command = runnable(d)?;
    let dir = d.artifacts.trim_end_matches('/');
    let mut writes: Vec<String> =
        ["stdout.log", "stderr.log", "commands.txt", "run.json"].iter().map(|f| format!("{dir}/{f}")).collect();
    writes.push(format!("{} (only if the command fails)", d.blocked_log));
    for w in &writes {
        let rel = w.split(' ').next().unwrap_or(w);
        model.protected.check_writable(rel)?;
        let plan_file = model.plans.iter().any(|p| p.path == rel);
        if is_under(rel, &model.ws.config.ledger) || rel == model.ws.config.input || plan_file {
            return Err(Error::input(
                rel,
                0,
                "run artifacts may not overwrite the ledger, a plan or the memo (recording is `loop attempt`'s job)",
            ));
        }
    }
    Ok(Preview {
        command: command.to_string(),
        shell: shell_program().to_string(),
        cwd: model.ws.root.display().to_string(),
        artifacts: dir.to_string(),
        writes,
    })
}

fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

fn runnable(d: &Decision) -> Result<&str> {
    if let Some(why) = &d.blocked {
        return Err(Error::Failed(format!("blocked: {why}")));
    }
    if d.manual {
        return Err(Error::Failed(format!(
            "nothing to run: the step is manual ({})",
            d.manual_step.as_deref().unwrap_or("no command named")
        )));
    }
    d.command.as_deref().ok_or_else(|| Error::Failed("nothing to run: no command named".into()))
}

/// Run the step. Its output goes live to `sink` and into the artifacts folder.
pub fn execute(model: &Model, d: &Decision, sink: &Sink) -> Result<RunRecord> {
    execute_showing(model, d, sink, None)
}

/// `execute`; with a `limit`, the step's whole process group is ended once it runs longer (a
/// turn's `turn_timeout`).
pub fn execute_showing(model: &Model, d: &Decision, sink: &Sink, limit: Option<Duration>) -> Result<RunRecord> {
    runnable(d)?;
    let mut d = d.clone();
    let dir = reserve(model, &mut d)?;
    let d = &d;
    let command = runnable(d)?.to_string();
    let root = &model.ws.root;
    write(&dir.join("commands.txt"), format!("# cwd: {}\n{command}\n", root.display()).as_bytes())?;
    catch_interrupts();

    let start = clock::now()?;
    let t0 = Instant::now();
    let mut child = spawn(root, d, &dir, &command)?;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let out_thread = tee(child.stdout.take(), dir.join("stdout.log"), (sink.clone(), false), None)?;
    let err_thread = tee(child.stderr.take(), dir.join("stderr.log"), (sink.clone(), true), Some(tail.clone()))?;
    let (status, timed_out) = wait(&mut child, t0, limit)?;
    let _ = out_thread.join();
    let _ = err_thread.join();
    let duration = t0.elapsed().as_secs_f64();
    let exit_code = exit_code(&status);
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    let blocked_log = match exit_code {
        0 => None,
        _ => {
            let tail = tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
            Some(write_blocked_log(root, d, &command, exit_code, interrupted, &tail)?)
        }
    };
    let end = start + chrono::Duration::microseconds((duration * 1e6) as i64);
    let record = RunRecord {
        item: d.item.id.clone(),
        plan: d.plan.clone(),
        phase: d.phase.as_ref().map(|p| p.id.clone()),
        task: d.task.as_ref().map(|t| t.id.clone()),
        command,
        command_template: d.command_template.clone(),
        command_from: d.command_from.as_ref().map(|w| format!("{}:{}", w.file, w.line)),
        memo_step: d.memo_step.clone(),
        cwd: root.display().to_string(),
        stamp: d.stamp.clone(),
        artifacts: d.artifacts.trim_end_matches('/').to_string(),
        start: start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        end: end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_s: (duration * 1000.0).round() / 1000.0,
        exit_code,
        interrupted,
        timed_out,
        signal: if interrupted { Some("SIGINT".to_string()) } else { signal_name(&status) },
        blocked_log,
        git: crate::git::info(root),
        env: EnvInfo {
            os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loop_version: env!("CARGO_PKG_VERSION").to_string(),
        },
    };
    let json = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    write(&dir.join("run.json"), json.as_bytes())?;
    let reports = root.join(&model.ws.config.reports.dir);
    if reports.is_dir() || std::fs::create_dir_all(&reports).is_ok() {
        // Replaced whole, so a reader never sees half a path.
        let _ = crate::atomic::write(&reports.join(LAST_RUN), format!("{}\n", record.artifacts).as_bytes());
    }
    Ok(record)
}

/// Start the step under the shell, in its own process group (so an interrupt can end the whole
/// step, grandchildren included), with the stamp and folders in its environment.
fn spawn(root: &Path, d: &Decision, dir: &Path, command: &str) -> Result<std::process::Child> {
    let mut command_line = Command::new(shell_program());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command_line, 0);
    command_line
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .env("LOOP_STAMP", &d.stamp)
        // Memos write `$STAMP` in their shell snippets.
        .env("STAMP", &d.stamp)
        .env("LOOP_ARTIFACTS", dir)
        // Memos of other projects name the folder so.
        .env("ARTIFACT_DIR", d.artifacts.trim_end_matches('/'))
        .env("ARTIFACT_ROOT", d.artifacts.trim_end_matches('/'))
        .env("LOOP_ITEM", &d.item.id)
        .env("PATH", child_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("sh", e))
}

/// Wait for the step: a Ctrl-C is passed to its whole group (forced after 3 s), and past
/// `limit` the group is ended. Its exit status, and whether the limit ended it.
fn wait(
    child: &mut std::process::Child,
    t0: Instant,
    limit: Option<Duration>,
) -> Result<(std::process::ExitStatus, bool)> {
    let mut interrupted_at: Option<Instant> = None;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| Error::io("sh", e))? {
            break s;
        }
        if INTERRUPTED.load(Ordering::SeqCst) && interrupted_at.is_none() {
            // Pass the Ctrl-C on to the step's whole group, as a shell would; force it after 3 s.
            signal_group(child, crate::process::SIGINT);
            interrupted_at = Some(Instant::now());
        }
        if interrupted_at.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            signal_group(child, crate::process::SIGKILL);
            let _ = child.kill();
        }
        if !timed_out && limit.is_some_and(|l| t0.elapsed() > l) {
            timed_out = true;
            signal_group(child, crate::process::SIGKILL);
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if interrupted_at.is_some() || timed_out {
        // A Ctrl-C stops the whole step: what it left running (`cmd &`) would hold the log
        // pipes open and keep loop waiting.
        signal_group(child, crate::process::SIGKILL);
    }
    Ok((status, timed_out))
}

/// The memo's If-Blocked log for a failed step: the command, its exit, the tail of stderr.
fn write_blocked_log(
    root: &Path,
    d: &Decision,
    command: &str,
    exit_code: i32,
    interrupted: bool,
    tail: &str,
) -> Result<String> {
    let path = root.join(&d.blocked_log);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let body = format!(
        "# If Blocked: {item} Phase {phase} task {task}\ncommand: {command}\ncwd: {cwd}\nexit_code: {exit_code}{intr}\nstamp: {stamp}\nstdout: {dir}/stdout.log\nstderr: {dir}/stderr.log\n\n## last {TAIL_LINES} lines of stderr\n{tail}\n",
        item = d.item.id,
        phase = d.phase.as_ref().map_or("?", |p| p.id.as_str()),
        task = d.task.as_ref().map_or("?", |t| t.id.as_str()),
        cwd = root.display(),
        intr = if interrupted { " (interrupted)" } else { "" },
        stamp = d.stamp,
        dir = d.artifacts.trim_end_matches('/'),
    );
    write(&path, body.as_bytes())?;
    Ok(d.blocked_log.clone())
}

/// From now on a Ctrl-C sets a flag that running steps and turns look at,
/// instead of killing loop mid-write.
pub fn catch_interrupts() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

/// Whether a Ctrl-C came since `catch_interrupts`.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The shell steps run in: bash where it is installed (memos write bash: `|&`, `[[ ]]`), else sh.
pub fn shell_program() -> &'static str {
    static SHELL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    SHELL.get_or_init(|| {
        let found =
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("bash").is_file()));
        if found {
            "bash"
        } else {
            "sh"
        }
    })
}

/// Claim an artifacts folder of this run's own: the decision's, or — when another run made it
/// first (the same second, or at once) — the one a second later, and so on. Creating the last
/// folder is the claim, so two runs never share one.
fn reserve(model: &Model, d: &mut Decision) -> Result<PathBuf> {
    let first = d.stamp.clone();
    for k in 0..3600 {
        if k > 0 {
            d.restamp(&later_stamp(&first, k));
        }
        let dir = model.ws.root.join(d.artifacts.trim_end_matches('/'));
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    Err(Error::Failed(format!("no free artifacts folder near {}", d.artifacts)))
}

/// `20260105T153000Z` plus `k` seconds (a stamp of another form gets `-k`).
fn later_stamp(stamp: &str, k: i64) -> String {
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ") {
        Ok(t) => (t + chrono::Duration::seconds(k)).format("%Y%m%dT%H%M%SZ").to_string(),
        Err(_) => format!("{stamp}-{k}"),
    }
}

/// `s` as one single-quoted shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The child finds this very `loop` first on its PATH, so a plan can name `loop ...` steps on a
/// machine where loop is not installed (e.g. run through `cargo run`).
pub fn child_path() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> =
        std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)).into_iter().collect();
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

fn signal_group(child: &std::process::Child, signal: i32) {
    crate::process::signal_group(child.id(), signal);
}

/// `SIGKILL` for a child a signal stopped.
fn signal_name(status: &std::process::ExitStatus) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let names = [
            (1, "SIGHUP"),
            (2, "SIGINT"),
            (3, "SIGQUIT"),
            (6, "SIGABRT"),
            (9, "SIGKILL"),
            (11, "SIGSEGV"),
            (13, "SIGPIPE"),
            (15, "SIGTERM"),
        ];
        status
            .signal()
            .map(|n| names.iter().find(|(k, _)| *k == n).map_or(format!("signal {n}"), |(_, s)| s.to_string()))
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Copy a child's stream to our own and to a file; remember the last lines when asked.
fn tee(
    src: Option<impl Read + Send + 'static>,
    path: PathBuf,
    // Where it is shown too, and whether it is the child's stderr.
    (sink, stderr): (Sink, bool),
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) -> Result<std::thread::JoinHandle<()>> {
    let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let Some(mut src) = src else {
        return Ok(std::thread::spawn(|| {}));
    };
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut partial = Vec::new();
        while let Ok(n) = src.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let _ = file.write_all(chunk);
            sink.output(chunk, stderr);
            if let Some(tail) = &tail {
                partial.extend_from_slice(chunk);
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=pos).collect();
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
                }
            }
        }
        if let Some(tail) = &tail {
            if !partial.is_empty() {
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(String::from_utf8_lossy(&partial).into_owned());
            }
        }
    }))
}

/// The child's exit code as it is; a signal as 128+N, like a shell.
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    status.code().unwrap_or(-1)
}
