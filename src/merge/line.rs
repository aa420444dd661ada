//! One line both sides changed: Last Updated takes the later date, a table row merges cell by
//! cell (a task state takes the further one).

use std::sync::LazyLock;

use regex::Regex;

use super::Line;
use crate::plan::TaskState;

static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").unwrap());

/// One line both sides may have changed, and the rule that merged it when both did.
pub(super) fn line_merge(b: &str, o: &str, t: &str) -> Option<(Line, Option<&'static str>)> {
    if o == t || t == b {
        return Some((Line { text: o.to_string(), theirs: false }, None));
    }
    if o == b {
        return Some((Line { text: t.to_string(), theirs: true }, None));
    }
    if o.contains("Last Updated") && t.contains("Last Updated") {
        let date = |s: &str| DATE.find(s).map(|m| m.as_str().to_string()).unwrap_or_default();
        let line = if date(t) > date(o) {
            Line { text: t.to_string(), theirs: true }
        } else {
            Line { text: o.to_string(), theirs: false }
        };
        return Some((line, Some("both sides changed Last Updated; kept the later date")));
    }
    if o.trim_start().starts_with('|') && t.trim_start().starts_with('|') && b.trim_start().starts_with('|') {
        return row_merge(b, o, t).map(|text| {
            (
                Line { text, theirs: false },
                Some("both sides changed one table row; merged cell by cell, a task state takes the further one"),
            )
        });
    }
    None
}

fn rank(s: TaskState) -> u8 {
    match s {
        TaskState::Todo => 1,
        TaskState::Partial => 2,
        TaskState::Done => 3,
        TaskState::Skipped => 3,
        TaskState::Blocked => 4,
        TaskState::Unknown => 0,
    }
}

/// A table row both sides changed: cell by cell; a state cell changed on both sides takes the
/// further state. Built on OURS' bytes.
fn row_merge(b: &str, o: &str, t: &str) -> Option<String> {
    let (bc, oc, tc): (Vec<&str>, Vec<&str>, Vec<&str>) =
        (b.split('|').collect(), o.split('|').collect(), t.split('|').collect());
    if bc.len() != oc.len() || oc.len() != tc.len() || oc.get(1).map(|c| c.trim()) != tc.get(1).map(|c| c.trim()) {
        return None;
    }
    let mut cells = Vec::with_capacity(oc.len());
    for k in 0..oc.len() {
        let (bk, ok, tk) = (bc[k], oc[k], tc[k]);
        let cell = if ok == tk || tk == bk {
            ok.to_string()
        } else if ok == bk {
            tk.to_string()
        } else {
            let (so, st) = (TaskState::parse(ok), TaskState::parse(tk));
            if so == TaskState::Unknown || st == TaskState::Unknown {
                return None;
            }
            // `[B]` against `[D]`: one says it is finished, the other that it cannot be.
            if matches!((so, st), (TaskState::Blocked, TaskState::Done) | (TaskState::Done, TaskState::Blocked)) {
                return None;
            }
            if rank(st) > rank(so) {
                tk.to_string()
            } else {
                ok.to_string()
            }
        };
        cells.push(cell);
    }
    Some(cells.join("|"))
}
