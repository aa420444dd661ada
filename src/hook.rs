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
    /// The loop binary recorded in our hook, its fallback when `loop` is not on PATH.
    pub recorded: Option<String>,
    /// What the hook would run now: `loop` found on PATH, the recorded binary, or null (neither).
    pub runs: Option<String>,
    /// Things to know, e.g. a recorded binary inside a build folder.
    pub warnings: Vec<String>,
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

const RECORDED: &str = "LOOP_RECORDED=";

/// The hook prefers `loop` on PATH (an installed loop survives `cargo clean`), falls back to the
/// binary that installed it, and says so plainly when neither is there.
fn script(bin: &Path) -> String {
    let bin = crate::run::shell_quote(&bin.display().to_string());
    format!(
        r#"#!/bin/sh
{MARK} (remove with: loop hook uninstall)
hookdir=$(dirname "$0")
if [ -x "$hookdir/{CHAINED}" ]; then
  "$hookdir/{CHAINED}" "$@" || exit $?
fi
{RECORDED}{bin}
if command -v loop >/dev/null 2>&1; then
  exec loop guard
elif [ -x "$LOOP_RECORDED" ]; then
  exec "$LOOP_RECORDED" guard
fi
echo "loop guard: cannot check this commit: no \`loop\` on PATH and $LOOP_RECORDED is gone." >&2
echo "  Put loop on PATH (cargo install --path <ledger-loop checkout>), or run \`loop hook install\` again." >&2
echo "  Bypass once, deliberately: git commit --no-verify" >&2
exit 1
"#
    )
}

/// `loop` as the hook's `command -v loop` would find it.
pub fn loop_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("loop")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    p.is_file()
}

/// A binary that `cargo clean` or a rebuild in another profile takes away.
fn in_build_folder(bin: &Path) -> bool {
    let parts: Vec<String> = bin.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.windows(2).any(|w| w[0] == "target" && (w[1] == "release" || w[1] == "debug"))
}

pub fn status(cwd: &Path) -> Result<HookStatus> {
    let dir = hooks_dir(cwd)?;
    let path = dir.join("pre-commit");
    let text = std::fs::read_to_string(&path);
    let installed = match &text {
        Ok(t) if t.contains(MARK) => "loop",
        Ok(_) => "foreign",
        Err(_) if path.exists() => "foreign",
        Err(_) => "none",
    };
    let recorded = text.ok().filter(|_| installed == "loop").and_then(|t| {
        let line = t.lines().find_map(|l| l.strip_prefix(RECORDED))?;
        Some(line.trim_matches('\'').replace("'\\''", "'"))
    });
    let runs = match installed {
        "loop" => loop_on_path()
            .map(|p| p.display().to_string())
            .or_else(|| recorded.clone().filter(|r| is_executable(Path::new(r)))),
        _ => None,
    };
    let mut warnings = Vec::new();
    if installed == "loop" && runs.is_none() {
        warnings.push(format!(
            "the hook cannot run: no `loop` on PATH and {} is gone; every commit fails until you install loop or reinstall the hook",
            recorded.as_deref().unwrap_or("the recorded binary")
        ));
    }
    Ok(HookStatus {
        path: path.display().to_string(),
        installed: installed.into(),
        chained: dir.join(CHAINED).exists(),
        recorded,
        runs,
        warnings,
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
    let mut st = status(cwd)?;
    match loop_on_path() {
        None if in_build_folder(&bin) => st.warnings.push(format!(
            "the hook falls back to {}, inside a build folder that `cargo clean` empties; `cargo install --path .` puts loop on PATH, which the hook prefers",
            bin.display()
        )),
        // A build folder on PATH: the hook runs whatever that folder holds, or nothing after a clean.
        Some(on_path) if in_build_folder(&on_path) => st.warnings.push(format!(
            "the hook runs `loop` from PATH, {}, inside a build folder that `cargo clean` empties; `cargo install --path .` installs one that stays",
            on_path.display()
        )),
        _ => {}
    }
    Ok(st)
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
