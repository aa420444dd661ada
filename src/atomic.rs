//! Writing workspace files safely: one exclusive lock per workspace, held across every
//! read-modify-write; a temp-file-plus-rename replace so a reader (or a crash) sees the old bytes
//! or the new ones, never half of each; and one rule for symlinks: a write goes through a link to
//! its target when the target lies inside the workspace, and is refused when it does not.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Test hook, compiled into unit tests only: when set, the writer creates this marker file after
/// writing the temp file and then waits (up to 60 s) before renaming, so a test can kill it at the
/// worst moment.
#[cfg(test)]
const PAUSE_ENV: &str = "LOOP_TEST_PAUSE_BEFORE_RENAME";

thread_local! {
    /// Roots whose lock this thread holds: taking it again is a no-op (a second flock from the
    /// same thread would wait for itself), while another thread's flock still waits for it.
    static HELD: RefCell<HashSet<PathBuf>> = RefCell::new(HashSet::new());
}

/// The workspace's write lock: an exclusive `flock` on the root directory itself, which no rename
/// ever replaces. Released on drop, and by the kernel when the process dies.
pub struct WorkspaceLock {
    file: Option<File>,
    root: PathBuf,
}

impl WorkspaceLock {
    /// Wait for the workspace's lock. Taking it again in a thread that holds it is a no-op.
    pub fn acquire(root: &Path) -> Result<WorkspaceLock> {
        Self::take(root, true).map(|l| l.expect("a blocking lock is always taken"))
    }

    /// The lock if no other process holds it now.
    pub fn try_acquire(root: &Path) -> Result<Option<WorkspaceLock>> {
        Self::take(root, false)
    }

    fn take(root: &Path, wait: bool) -> Result<Option<WorkspaceLock>> {
        let root = root.to_path_buf();
        if Self::held(&root) {
            return Ok(Some(WorkspaceLock { file: None, root }));
        }
        let file = File::open(&root).map_err(|e| Error::io(&root, e))?;
        if wait {
            file.lock().map_err(|e| Error::io(&root, e))?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&root, e)),
            }
        }
        HELD.with(|h| h.borrow_mut().insert(root.clone()));
        Ok(Some(WorkspaceLock { file: Some(file), root }))
    }

    /// Whether this thread holds the lock of `root`.
    pub fn held(root: &Path) -> bool {
        HELD.with(|h| h.borrow().contains(root))
    }
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            HELD.with(|h| h.borrow_mut().remove(&self.root));
            let _ = f.unlock();
        }
    }
}

/// A read-only file is refused, never replaced through a rename that its mode does not forbid.
pub fn check_writable(path: &Path, shown: &str) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly()) {
        return Err(Error::input(shown, 0, "is read-only; nothing written (make it writable, then run again)"));
    }
    Ok(())
}

/// The file a write to `path` lands in: `path` itself, or — through symlinks, of the file or of
/// a folder above it — the target, which must lie inside `root` (canonical).
pub fn write_target(root: &Path, path: &Path, shown: &str) -> Result<PathBuf> {
    let real = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => {
            // A file still to be made: its folder, resolved.
            let parent = path.parent().unwrap_or(Path::new("."));
            let name = path.file_name().ok_or_else(|| Error::input(shown, 0, "is not a file path"))?;
            std::fs::canonicalize(parent).map_err(|e| Error::io(parent, e))?.join(name)
        }
    };
    if !real.starts_with(root) {
        return Err(Error::input(
            shown,
            0,
            format!(
                "resolves through a symlink to {}, outside the workspace {}; loop writes only inside it (nothing written)",
                real.display(),
                root.display()
            ),
        ));
    }
    Ok(real)
}

/// The name of a temp file beside `target`, kept by a crash: `.NAME.loop-XXXXXX.tmp`.
pub fn is_temp_of_ours(name: &str) -> bool {
    name.starts_with('.') && name.contains(".loop-") && name.ends_with(".tmp")
}

/// Write `bytes` to a new temp file beside `target` (same folder, so the rename is atomic), with
/// the target's permissions, synced; the temp's path.
pub fn write_temp(target: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.loop-"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if let Ok(meta) = std::fs::metadata(target) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(tmp.path(), e))?;
    let (_, path) = tmp.keep().map_err(|e| Error::io(dir, e.error))?;
    Ok(path)
}

/// Put `bytes` at `target` whole or not at all: a synced temp file renamed over it, then the
/// folder synced. A new file is readable by all (0644), as one written plainly would be; an
/// existing one keeps its permissions. For loop's own files (journals, run records, pages).
pub fn write(target: &Path, bytes: &[u8]) -> Result<()> {
    let existed = target.exists();
    let tmp = write_temp(target, bytes)?;
    #[cfg(unix)]
    if !existed {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = existed;
    if let Err(e) = std::fs::rename(&tmp, target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(target, e));
    }
    sync_dir(target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    Ok(())
}

/// Put `bytes` at `target` only if nothing is there: a synced temp file hard-linked into place
/// (a link, unlike a rename, never replaces what appeared meanwhile), then the folder synced.
/// Whether it was written; `false` when `target` exists.
pub fn create(target: &Path, bytes: &[u8]) -> Result<bool> {
    let tmp = write_temp(target, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644));
    }
    let linked = std::fs::hard_link(&tmp, target);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")));
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io(target, e)),
    }
}

/// Make a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Replace `path` with `bytes`: temp file in the same folder, fsync, rename, fsync the folder.
/// `expected` is what the caller read; if the file no longer holds it, nothing is written. For
/// files outside a workspace transaction (git's merge files, `.gitattributes`).
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
    // Through a symlink to its target, so the link stays a link.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let tmp = write_temp(&target, bytes)?;
    #[cfg(test)]
    if let Some(marker) = std::env::var_os(PAUSE_ENV) {
        let _ = std::fs::write(&marker, b"paused\n");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&target, e));
    }
    sync_dir(target.parent().unwrap_or(Path::new(".")));
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
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp files left");
    }

    #[test]
    fn the_workspace_lock_is_one_per_root_and_reentrant() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let a = WorkspaceLock::acquire(&root).unwrap();
        assert!(WorkspaceLock::held(&root));
        // Again in this process: no deadlock.
        let b = WorkspaceLock::try_acquire(&root).unwrap();
        assert!(b.is_some());
        drop(b);
        assert!(WorkspaceLock::held(&root), "the inner guard does not release the outer");
        drop(a);
        assert!(!WorkspaceLock::held(&root));
    }

    #[cfg(unix)]
    #[test]
    fn writes_go_through_links_inside_and_stop_at_links_outside() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(root.join("real.md"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("real.md"), root.join("link.md")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("docs")).unwrap();
        assert_eq!(write_target(&root, &root.join("link.md"), "link.md").unwrap(), root.join("real.md"));
        let e = write_target(&root, &root.join("docs/fix_plan.md"), "docs/fix_plan.md").unwrap_err();
        assert!(e.to_string().contains("outside the workspace"), "{e}");
        replace(&root.join("link.md"), "link.md", b"x", b"y").unwrap();
        assert!(std::fs::symlink_metadata(root.join("link.md")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(root.join("real.md")).unwrap(), "y");
    }

    const CHILD_TARGET: &str = "LOOP_TEST_ATOMIC_TARGET";

    /// Run by `killed_between_temp_write_and_rename_leaves_the_original` in a child process.
    #[test]
    #[ignore = "run as a child process by another test"]
    fn writer_child() {
        let Some(path) = std::env::var_os(CHILD_TARGET) else { return };
        let path = std::path::PathBuf::from(path);
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
        replace(&p, "f.md", b"original\n", b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
    }
}
