//! `loop hook install|uninstall|status`: the pre-commit hook that runs `loop guard`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::guard::open_repo;

const MARK: &str = "# ledger-loop pre-commit hook";
const CHAINED: &str = "pre-commit.loop-chained";

#[derive(Debug, Serialize)]
pub struct HookStatus {
    pub path: String,
    /// `none`, `loop` (ours) or `foreign` (someone else's hook).
    pub installed: String,
    pub chained: bool,
}

fn hooks_dir(cwd: &Path) -> Result<PathBuf> {
    let repo = open_repo(cwd)?;
    let configured = repo.config().ok().and_then(|c| c.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo.workdir().unwrap_or(repo.path()).join(p),
        // Worktrees share the main repository's hooks.
        None => repo.commondir().join("hooks"),
    })
}

fn script(bin: &Path) -> String {
    let bin = bin.display().to_string().replace('\'', "'\\''");
    format!(
        "#!/bin/sh\n{MARK} (remove with: loop hook uninstall)\nhookdir=$(dirname \"$0\")\nif [ -x \"$hookdir/{CHAINED}\" ]; then\n  \"$hookdir/{CHAINED}\" \"$@\" || exit $?\nfi\nLOOP_BIN='{bin}'\n[ -x \"$LOOP_BIN\" ] || LOOP_BIN=loop\nexec \"$LOOP_BIN\" guard\n"
    )
}

pub fn status(cwd: &Path) -> Result<HookStatus> {
    let dir = hooks_dir(cwd)?;
    let path = dir.join("pre-commit");
    let installed = match std::fs::read_to_string(&path) {
        Ok(t) if t.contains(MARK) => "loop",
        Ok(_) => "foreign",
        Err(_) if path.exists() => "foreign",
        Err(_) => "none",
    };
    Ok(HookStatus {
        path: path.display().to_string(),
        installed: installed.into(),
        chained: dir.join(CHAINED).exists(),
    })
}

/// Install; an existing foreign hook is refused unless `chain`, which keeps it and runs it first.
pub fn install(cwd: &Path, chain: bool) -> Result<HookStatus> {
    let dir = hooks_dir(cwd)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join("pre-commit");
    let st = status(cwd)?;
    if st.installed == "foreign" {
        if !chain {
            return Err(Error::input(
                path.display().to_string(),
                0,
                "a pre-commit hook that loop did not write is already there; use `loop hook install --chain` to keep it and run both",
            ));
        }
        let backup = dir.join(CHAINED);
        if backup.exists() {
            return Err(Error::input(
                backup.display().to_string(),
                0,
                "a chained hook is already saved here; remove it first",
            ));
        }
        std::fs::rename(&path, &backup).map_err(|e| Error::io(&path, e))?;
    }
    let bin = std::env::current_exe().map_err(|e| Error::io("loop", e))?;
    std::fs::write(&path, script(&bin)).map_err(|e| Error::io(&path, e))?;
    make_executable(&path)?;
    status(cwd)
}

/// Remove only what loop installed, putting a chained hook back in place.
pub fn uninstall(cwd: &Path) -> Result<HookStatus> {
    let dir = hooks_dir(cwd)?;
    let path = dir.join("pre-commit");
    let st = status(cwd)?;
    match st.installed.as_str() {
        "loop" => {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            let backup = dir.join(CHAINED);
            if backup.exists() {
                std::fs::rename(&backup, &path).map_err(|e| Error::io(&backup, e))?;
            }
            status(cwd)
        }
        "foreign" => Err(Error::input(
            path.display().to_string(),
            0,
            "this pre-commit hook was not written by loop; leaving it alone",
        )),
        _ => Ok(st),
    }
}

fn make_executable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
