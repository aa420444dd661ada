//! Filling an attempt from a run folder of `loop next --run`: item, task, result, metrics and
//! every file the run left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Request, ResultWord};
use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::model::Model;
use crate::run_record::{RunRecord, LAST_RUN};

/// Files listed from a run folder at most; a folder with more says how many it left out.
const MAX_ARTIFACTS: usize = 40;

/// Fill the request from a run folder; true when the run's command succeeded.
pub(super) fn from_run(
    model: &Model,
    dir: &Path,
    req: &mut Request,
    metrics: &mut BTreeMap<String, f64>,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let abs = if dir.is_absolute() { dir.to_path_buf() } else { model.ws.root.join(dir) };
    let rec = RunRecord::load(&abs)?;
    req.item.get_or_insert(rec.item.clone());
    if req.phase.is_none() {
        req.phase = rec.task.clone().or(rec.phase.clone());
    }
    req.result.get_or_insert(if rec.exit_code == 0 { ResultWord::Success } else { ResultWord::Failed });
    let rel = model.ws.relative(&abs)?;
    let mut files = Vec::new();
    list_files(&abs, &rel, &mut files);
    files.sort_by_key(|f| (!f.ends_with("/run.json"), f.matches('/').count(), f.clone()));
    if files.len() > MAX_ARTIFACTS {
        warnings.push(format!("{rel}: {} files; the entry lists the first {MAX_ARTIFACTS}", files.len()));
        files.truncate(MAX_ARTIFACTS);
    }
    req.artifacts.splice(0..0, files);
    if let Some(log) = rec.blocked_log.as_ref().filter(|l| !req.artifacts.contains(l)) {
        req.artifacts.push(log.clone());
    }
    if rec.exit_code != 0 && req.note.is_none() {
        req.note = Some(format!("{}; see the If-Blocked log", rec.failure()));
    }
    if let Some((_, found)) = gates::run_metrics(&abs)? {
        metrics.extend(found);
    }
    if metrics.is_empty() {
        warnings.push(format!("{rel}: no metrics.json; the entry records no metrics"));
    }
    Ok(rec.exit_code == 0 && !rec.interrupted)
}

fn list_files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        match e.file_type() {
            Ok(t) if t.is_dir() => list_files(&e.path(), &path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// The run folder `loop next --run` wrote last.
pub fn last_run(model: &Model) -> Result<PathBuf> {
    let p = model.ws.path(&model.ws.config.reports.dir).join(LAST_RUN);
    let text = std::fs::read_to_string(&p).map_err(|_| {
        Error::Usage(format!("--last-run: no run recorded yet ({} missing); run `loop next --run`", p.display()))
    })?;
    Ok(PathBuf::from(text.trim()))
}
