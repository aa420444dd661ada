//! A change to one or more workspace files (the ledger and a plan) as one unit: every file is
//! checked before any is replaced, and they land together or not at all.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::protect::Protected;
use crate::workspace::Workspace;

/// One file's change: its bytes before and after, and the spliced ranges.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub file: String,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    pub before: String,
    #[serde(skip)]
    pub after: String,
    /// Byte ranges of the original file that were replaced, with their new text.
    pub edits: Vec<EditOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EditOut {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

pub(crate) fn change(
    ws: &Workspace,
    file: &str,
    before: &str,
    after: String,
    edits: &[(Range<usize>, String)],
) -> Change {
    Change {
        file: file.to_string(),
        path: ws.path(file),
        before: before.to_string(),
        after,
        edits: edits.iter().map(|(r, t)| EditOut { start: r.start, end: r.end, text: t.clone() }).collect(),
    }
}

/// Where an unfinished transaction's intent is kept, under the reports folder (never committed).
pub const INTENT: &str = ".loop-intent.json";

#[derive(Debug, Serialize, serde::Deserialize)]
struct Intent {
    /// Each file: the temp that holds its new bytes, and the file it replaces.
    files: Vec<(PathBuf, PathBuf)>,
}

/// Test hook, compiled into unit tests only: sleep this many milliseconds between the steps of
/// a commit, so a test's kill -9 lands inside it.
#[cfg(test)]
pub(crate) const STEP_DELAY_ENV: &str = "LOOP_TEST_COMMIT_STEP_MS";

fn step_pause() {
    #[cfg(test)]
    if let Some(ms) = std::env::var(STEP_DELAY_ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Write every change, all or none, across a crash at any instant. The caller holds the
/// workspace lock. Each file is checked first (protected, writable, unchanged on disk, inside the
/// workspace through any symlink); then the new bytes go to synced temp files; then the intent —
/// which temp replaces which file — is recorded; then the temps are renamed over their files;
/// then the intent is cleared. A crash before the intent leaves only temps, which `recover`
/// removes (nothing changed); a crash after it is finished by `recover` (everything changed).
pub fn apply(ws: &Workspace, protected: &Protected, changes: &[Change]) -> Result<()> {
    let root = &ws.root;
    let mut targets = Vec::new();
    for c in changes {
        protected.check_writable(&c.file)?;
        let target = crate::atomic::write_target(root, &c.path, &c.file)?;
        crate::atomic::check_writable(&target, &c.file)?;
        let now = match std::fs::read(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            other => other.map_err(|e| Error::io(&target, e))?,
        };
        if now != c.before.as_bytes() {
            return Err(Error::input(
                &c.file,
                0,
                "changed on disk while loop was editing it; nothing written, run again",
            ));
        }
        targets.push(target);
    }
    let mut files = Vec::new();
    for (c, target) in changes.iter().zip(&targets) {
        match crate::atomic::write_temp(target, c.after.as_bytes()) {
            Ok(tmp) => files.push((tmp, target.clone())),
            Err(e) => {
                for (tmp, _) in &files {
                    let _ = std::fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
        step_pause();
    }
    let intent = ws.path(&ws.config.reports.dir).join(INTENT);
    let single = files.len() == 1;
    // A reports folder made only to hold the intent goes again with it.
    let made_dir = !single && intent.parent().is_some_and(|d| !d.exists());
    if !single {
        // One file needs no journal: its rename is the commit.
        let text = serde_json::to_string(&Intent { files: files.clone() }).unwrap_or_default();
        if let Some(dir) = intent.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = crate::atomic::write_temp(&intent, text.as_bytes())?;
        std::fs::rename(&tmp, &intent).map_err(|e| Error::io(&intent, e))?;
        crate::atomic::sync_dir(intent.parent().unwrap_or(Path::new(".")));
        step_pause();
    }
    for (tmp, target) in &files {
        std::fs::rename(tmp, target).map_err(|e| Error::io(target, e))?;
        crate::atomic::sync_dir(target.parent().unwrap_or(Path::new(".")));
        step_pause();
    }
    if !single {
        std::fs::remove_file(&intent).map_err(|e| Error::io(&intent, e))?;
        crate::atomic::sync_dir(intent.parent().unwrap_or(Path::new(".")));
        if made_dir {
            // Only if still empty: writes are serialized by the workspace lock, but a person
            // may have put something there meanwhile.
            let _ = intent.parent().map(std::fs::remove_dir);
        }
    }
    Ok(())
}

/// What `recover` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Files a recorded intent had yet to replace, now replaced.
    pub finished: usize,
    /// Temp files of a write that never recorded its intent, removed.
    pub removed: usize,
}

/// Finish what a killed command left: a recorded intent is carried out, stray temp files in the
/// folders loop writes (`dirs`) are removed. Only with the workspace lock — a live writer's temps
/// are its own — so a reader that cannot have the lock leaves everything for the next writer.
pub fn recover(ws: &Workspace, dirs: &[PathBuf]) -> Result<Recovered> {
    let intent = ws.path(&ws.config.reports.dir).join(INTENT);
    let has_intent = intent.is_file();
    let strays = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| crate::atomic::is_temp_of_ours(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect()
    };
    let mut dirs: Vec<PathBuf> = dirs.to_vec();
    dirs.push(ws.path(&ws.config.reports.dir));
    dirs.sort();
    dirs.dedup();
    if !has_intent && dirs.iter().all(|d| strays(d).is_empty()) {
        return Ok(Recovered::default());
    }
    let Some(_lock) = crate::atomic::WorkspaceLock::try_acquire(&ws.root)? else {
        return Ok(Recovered::default());
    };
    let mut done = Recovered::default();
    if intent.is_file() {
        let text = std::fs::read_to_string(&intent).map_err(|e| Error::io(&intent, e))?;
        // An intent is written whole (temp + rename) before any file is replaced.
        let rec: Intent = serde_json::from_str(&text)
            .map_err(|e| Error::input(intent.display().to_string(), e.line(), format!("unreadable intent: {e}")))?;
        for (tmp, target) in &rec.files {
            if tmp.is_file() {
                std::fs::rename(tmp, target).map_err(|e| Error::io(target, e))?;
                crate::atomic::sync_dir(target.parent().unwrap_or(Path::new(".")));
                done.finished += 1;
            }
        }
        std::fs::remove_file(&intent).map_err(|e| Error::io(&intent, e))?;
    }
    for d in &dirs {
        for p in strays(d) {
            if std::fs::remove_file(&p).is_ok() {
                done.removed += 1;
            }
        }
    }
    Ok(done)
}

/// Unified diffs of all changes, for `--dry-run`.
pub fn diff(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let d = similar::TextDiff::from_lines(&c.before, &c.after);
        out.push_str(
            &d.unified_diff().context_radius(2).header(&format!("a/{}", c.file), &format!("b/{}", c.file)).to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEDGER: &str = "# L\n\n## [X-1] Thing\n- Status: in_progress\n- Plan Reference: plans/active/x.md\n- Attempts History:\n  * [2026-01-01] Attempt #1 — Result: planning.\n";
    const PLAN: &str = "- Initiative: X-1\n\n### Phase A — Do\n\n| ID | Task Description | State | How/Why & Guidance |\n| --- | --- | --- | --- |\n| A1 | one | [ ] | `true` |\n";
    const ROOT_ENV: &str = "LOOP_TEST_TXN_ROOT";

    fn workspace(dir: &Path) {
        for (rel, text) in [("docs/fix_plan.md", LEDGER), ("plans/active/x.md", PLAN)] {
            std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
            std::fs::write(dir.join(rel), text).unwrap();
        }
    }

    fn request() -> crate::attempt::Request {
        crate::attempt::Request {
            item: Some("X-1".into()),
            result: Some(crate::attempt::ResultWord::Partial),
            tasks: vec![("A1".into(), crate::plan::TaskState::Done)],
            ..Default::default()
        }
    }

    /// Run by `kill_nine_at_any_instant_never_tears_the_pair` in a child process.
    #[test]
    #[ignore = "run as a child process by another test"]
    fn commit_child() {
        let Some(root) = std::env::var_os(ROOT_ENV) else { return };
        let root = PathBuf::from(root);
        let ws = Workspace::discover(&root, Some(&root)).unwrap();
        std::fs::write(root.join("started"), b"").unwrap();
        crate::attempt::record(ws, &request()).unwrap();
    }

    /// kill -9 of `attempt --task` at random instants: afterwards (and after the next command's
    /// recovery) the ledger and the plan are both old or both new, neither is cut short, and no
    /// temp file or intent is left.
    #[cfg(unix)]
    #[test]
    fn kill_nine_at_any_instant_never_tears_the_pair() {
        // What a whole write makes, for comparison.
        let done = tempfile::tempdir().unwrap();
        workspace(done.path());
        std::env::set_var("LOOP_NOW", "2026-01-05T15:30:00Z");
        let ws = Workspace::discover(done.path(), Some(done.path())).unwrap();
        crate::attempt::record(ws, &request()).unwrap();
        let new_ledger = std::fs::read_to_string(done.path().join("docs/fix_plan.md")).unwrap();
        let new_plan = std::fs::read_to_string(done.path().join("plans/active/x.md")).unwrap();
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let (mut old, mut new, mut recovered) = (0, 0, 0);
        // Kill instants spread over how long an uncut child takes here, so a slow or busy
        // machine still sees kills before, inside and after the commit.
        let spawn = |dir: &Path| {
            let child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "transaction::tests::commit_child", "--ignored", "--quiet"])
                .env(ROOT_ENV, dir)
                .env("LOOP_NOW", "2026-01-05T15:30:00Z")
                .env(STEP_DELAY_ENV, "2")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            for _ in 0..20_000 {
                if dir.join("started").exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            (child, std::time::Instant::now())
        };
        let calibration = tempfile::tempdir().unwrap();
        workspace(calibration.path());
        let (mut child, started) = spawn(calibration.path());
        child.wait().unwrap();
        let span = (started.elapsed().as_micros() as u64).max(1000) * 3 / 2;
        for _ in 0..60 {
            let dir = tempfile::tempdir().unwrap();
            workspace(dir.path());
            let (mut child, _) = spawn(dir.path());
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            std::thread::sleep(std::time::Duration::from_micros((seed >> 33) % span));
            let _ = child.kill();
            let _ = child.wait();
            // The next command recovers before it reads.
            let ws = Workspace::discover(dir.path(), Some(dir.path())).unwrap();
            let dirs = [dir.path().join("docs"), dir.path().join("plans/active")];
            if recover(&ws, &dirs).unwrap() != Recovered::default() {
                recovered += 1;
            }
            let l = std::fs::read_to_string(dir.path().join("docs/fix_plan.md")).unwrap();
            let p = std::fs::read_to_string(dir.path().join("plans/active/x.md")).unwrap();
            match (l == LEDGER, p == PLAN) {
                (true, true) => old += 1,
                (false, false) => {
                    assert_eq!((l.as_str(), p.as_str()), (new_ledger.as_str(), new_plan.as_str()), "cut short");
                    new += 1;
                }
                torn => panic!("torn pair {torn:?}:\n{l}\n{p}"),
            }
            for d in dirs.iter().chain([&dir.path().join("reports")]) {
                for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    assert!(!name.ends_with(".tmp") && name != INTENT, "{name} left behind");
                }
            }
        }
        eprintln!("kill -9 x60: {old} left old, {new} new, {recovered} finished or cleaned by recovery");
        // The kills landed before, inside and after the commit.
        assert!(old > 0 && new > 0, "old {old}, new {new}, recovered {recovered}");
        assert!(recovered > 0, "no kill landed inside a commit (old {old}, new {new})");
    }
}
