//! Helpers for integration tests: temp copies of real workspaces and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub const NOW: &str = "2026-01-05T15:30:00Z";
pub const STAMP: &str = "20260105T153000Z";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn nanobragg(name: &str) -> PathBuf {
    fixtures().join("nanobragg").join(name)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy a folder tree into a fresh temp dir and return the dir.
pub fn copy_tree(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_into(src, dir.path());
    dir
}

pub fn copy_into(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_into(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// The embedded workspace of this repository (docs, plans, input.md, templates) in a temp dir.
pub fn embedded_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["docs", "plans", "templates"] {
        if repo_root().join(sub).is_dir() {
            copy_into(&repo_root().join(sub), &dir.path().join(sub));
        }
    }
    std::fs::copy(repo_root().join("input.md"), dir.path().join("input.md")).unwrap();
    dir
}

pub fn cmd(root: &Path) -> Command {
    let mut c = Command::cargo_bin("loop").unwrap();
    c.current_dir(root).env("LOOP_NOW", NOW).env("NO_COLOR", "1");
    c
}

pub fn run(root: &Path, args: &[&str]) -> Output {
    cmd(root).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad json ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// Every file below `dir` with its bytes, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                out.push((p.strip_prefix(base).unwrap().to_path_buf(), Vec::new()));
                walk(&p, base, out);
            } else {
                out.push((p.strip_prefix(base).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

pub fn git(dir: &Path, args: &[&str]) -> Output {
    let o = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    o
}

pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let o = git(dir, args);
    assert!(o.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `loop run` in `root`, returned once the step has printed "started" to the stdout log of the
/// run folder `log_dir` (bounded wait): a step to interrupt.
pub fn run_until_started(root: &Path, log_dir: &str) -> (std::process::Child, PathBuf) {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loop"))
        .args(["run"])
        .current_dir(root)
        .env("LOOP_NOW", NOW)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = root.join(log_dir).join("stdout.log");
    for _ in 0..2000 {
        if std::fs::read_to_string(&out).is_ok_and(|s| s.contains("started")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (child, out)
}

/// The command lines of the processes still running in `dir` (by their working folder): what a
/// step left behind.
#[cfg(target_os = "linux")]
pub fn processes_in(dir: &Path) -> Vec<String> {
    let dir = std::fs::canonicalize(dir).unwrap();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == dir))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}
