//! A change to one or more workspace files (the ledger and a plan) as one unit: every file is
//! checked before any is replaced, and they land together or not at all.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::Result;
use crate::model::Model;

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
    model: &Model,
    file: &str,
    before: &str,
    after: String,
    edits: &[(Range<usize>, String)],
) -> Change {
    Change {
        file: file.to_string(),
        path: model.ws.path(file),
        before: before.to_string(),
        after,
        edits: edits.iter().map(|(r, t)| EditOut { start: r.start, end: r.end, text: t.clone() }).collect(),
    }
}

/// Write every change, all or none: each file is checked (protected, writable, unchanged on
/// disk) before any is replaced, and a later failure puts the earlier files back. The caller
/// holds the ledger lock; the plans are locked here, after it, always in that order.
pub fn apply(model: &Model, changes: &[Change]) -> Result<()> {
    let mut locks = Vec::new();
    for c in changes {
        model.protected.check_writable(&c.file)?;
        crate::atomic::check_writable(&c.path, &c.file)?;
        if c.file != model.ledger.doc.file {
            locks.push(crate::atomic::Lock::exclusive(&c.path)?);
        }
    }
    let mut done: Vec<&Change> = Vec::new();
    for c in changes {
        if let Err(e) = crate::atomic::replace(&c.path, &c.file, c.before.as_bytes(), c.after.as_bytes()) {
            for d in done.iter().rev() {
                let _ = crate::atomic::replace(&d.path, &d.file, d.after.as_bytes(), d.before.as_bytes());
            }
            return Err(e);
        }
        done.push(c);
    }
    Ok(())
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
