//! Writing workspace files safely: an exclusive lock held across read-modify-write, and a
//! temp-file-plus-rename replace so a reader (or a crash) sees the old bytes or the new ones,
//! never half of each.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Test hook, compiled into unit tests only: when set, the writer creates this marker file after
/// writing the temp file and then waits (up to 60 s) before renaming, so a test can kill it at the
/// worst moment.
#[cfg(test)]
const PAUSE_ENV: &str = "LOOP_TEST_PAUSE_BEFORE_RENAME";

/// An exclusive lock on a file, released on drop.
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Lock `path` exclusively, waiting for other holders. Because writers replace the file by
    /// rename, a lock taken on an inode that was meanwhile replaced is retried on the new one.
    pub fn exclusive(path: &Path) -> Result<Lock> {
        loop {
            let file = File::options().read(true).open(path).map_err(|e| Error::io(path, e))?;
            file.lock().map_err(|e| Error::io(path, e))?;
            if same_file(&file, path) {
                return Ok(Lock { file, path: path.to_path_buf() });
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

/// A read-only file is refused, never replaced through a rename that its mode does not forbid.
pub fn check_writable(path: &Path, shown: &str) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly()) {
        return Err(Error::input(shown, 0, "is read-only; nothing written (make it writable, then run again)"));
    }
    Ok(())
}

/// Replace `path` with `bytes`: temp file in the same folder, fsync, rename, fsync the folder.
/// `expected` is what the caller read; if the file no longer holds it, nothing is written.
pub fn replace(path: &Path, shown: &str, expected: &[u8], bytes: &[u8]) -> Result<()> {
    // A missing file counts as empty, so new files go through the same path.
    let now = match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        other => other.map_err(|e| Error::io(path, e))?,
    };
    check_writable(path, shown)?;
    if now != expected {
        return Err(Error::input(shown, 0, "changed on disk while loop was editing it; nothing written, run again"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.loop-"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(tmp.path(), e))?;
    #[cfg(test)]
    if let Some(marker) = std::env::var_os(PAUSE_ENV) {
        let _ = std::fs::write(&marker, b"paused\n");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_refuses_a_file_changed_underneath() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.md");
        std::fs::write(&p, "new").unwrap();
        assert!(replace(&p, "f.md", b"old", b"x").is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        replace(&p, "f.md", b"new", b"x").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "x");
        let _l = Lock::exclusive(&p).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp files left");
    }

    const CHILD_TARGET: &str = "LOOP_TEST_ATOMIC_TARGET";

    /// Run by `killed_between_temp_write_and_rename_leaves_the_original` in a child process.
    #[test]
    #[ignore = "run as a child process by another test"]
    fn writer_child() {
        let Some(path) = std::env::var_os(CHILD_TARGET) else { return };
        let path = std::path::PathBuf::from(path);
        let _lock = Lock::exclusive(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        replace(&path, "f.md", &before, b"half-written new content").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn killed_between_temp_write_and_rename_leaves_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.md");
        std::fs::write(&p, "original\n").unwrap();
        let marker = dir.path().join("paused");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "atomic::tests::writer_child", "--ignored", "--quiet"])
            .env(CHILD_TARGET, &p)
            .env(PAUSE_ENV, &marker)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..4000 {
            if marker.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(marker.exists(), "writer never reached the rename");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "original\n");
        // The lock died with the process: the next writer gets it.
        let _l = Lock::exclusive(&p).unwrap();
        replace(&p, "f.md", b"original\n", b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
    }
}
