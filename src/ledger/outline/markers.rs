//! The status markers fix plans are written with, in any language: closing and opening words,
//! signs (✅ ⏳), a heading's last segment, a `Status:` line.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::markdown::Document;
use crate::plan::TaskState;

/// Words that close an item or a task, in the languages fix plans are written in.
pub(super) const CLOSED: &[&str] = &[
    "done",
    "complete",
    "completed",
    "fixed",
    "resolved",
    "closed",
    "finished",
    "implemented",
    "merged",
    "shipped",
    "deferred",
    "wontfix",
    "skipped",
    "superseded",
    "obsolete",
    "cancelled",
    "canceled",
    "erledigt",
    "fertig",
    "abgeschlossen",
    "behoben",
    "выполнено",
    "готово",
    "сделано",
    "исправлено",
    "завершено",
    "решено",
    "완료",
    "해결",
    "完成",
    "已完成",
    "已修复",
    "已解决",
    "完了",
    "済",
    "مكتمل",
    "منجز",
    "تم",
    "hecho",
    "completado",
    "resuelto",
    "terminé",
    "fait",
    "corrigé",
];
/// Words that keep one open.
pub(super) const OPEN: &[&str] = &[
    "todo",
    "pending",
    "open",
    "in progress",
    "in_progress",
    "in-progress",
    "wip",
    "blocked",
    "not started",
    "planned",
    "queued",
    "proposed",
    "partial",
    "ongoing",
    "offen",
    "в работе",
    "진행 중",
    "进行中",
    "未完成",
    "قيد التنفيذ",
];
pub(super) const CLOSED_SIGNS: &[&str] = &["✅", "✔", "☑", "[x]", "[X]"];
pub(super) const OPEN_SIGNS: &[&str] = &["⏳", "🔄", "⬜", "☐", "🚧", "❌"];

pub(super) static STATUS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*+]\s+)?\**(?i:status|state|статус|состояние|stand|zustand|상태|状态|狀態|الحالة|estado|statut|stato)\**\s*(?:\([^)]*\))?\s*\**\s*:\s*\**\s*(\S.*?)\s*\**\s*$").unwrap()
});

/// Closed (`Some(true)`), open (`Some(false)`) or not a status at all, for a marker's text:
/// `✅`, `[x] Complete`, `FIXED`, `fixed on branch x`, `Proposed`, `مكتمل`.
pub(super) fn judge(text: &str) -> Option<bool> {
    let t = text.trim();
    if CLOSED_SIGNS.iter().any(|s| t.starts_with(s)) {
        return Some(true);
    }
    if OPEN_SIGNS.iter().any(|s| t.starts_with(s)) || t.starts_with("[ ]") {
        return Some(false);
    }
    let t = t.trim_matches(|c: char| matches!(c, '*' | '`' | '[' | ']' | '(' | ')' | ':' | '_') || c.is_whitespace());
    let lower = t.to_lowercase();
    let starts =
        |w: &&str| lower.starts_with(*w) && lower[w.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    if CLOSED.iter().any(starts) {
        Some(true)
    } else if OPEN.iter().any(starts) {
        Some(false)
    } else {
        None
    }
}

/// A status written in a heading: a sign anywhere (`### المرحلة 1 ✅`), a last segment
/// (`### 0.0 Title - Completed`, `## Fix: DONE`) or a last parenthesis (`(Proposed)`): its
/// range in `line`, and whether it closes.
pub(super) fn heading_status(line: &str) -> Option<(Range<usize>, bool)> {
    for (signs, closed) in [(CLOSED_SIGNS, true), (OPEN_SIGNS, false)] {
        if let Some((at, s)) = signs.iter().filter_map(|s| line.find(s).map(|at| (at, s))).min() {
            return Some((at..at + s.len(), closed));
        }
    }
    let body = line.trim_end().trim_end_matches('#').trim_end();
    let short = |s: &str| s.split_whitespace().count() <= 3;
    if let Some(open) = body.rfind(['(', '[']).filter(|_| body.ends_with([')', ']'])) {
        let inner = &body[open + 1..body.len() - 1];
        if let Some(c) = judge(inner).filter(|_| short(inner)) {
            return Some((open + 1..body.len() - 1, c));
        }
    }
    let cut = [" - ", " — ", " – ", ": "].iter().filter_map(|sep| body.rfind(sep).map(|at| at + sep.len())).max()?;
    let tail = &body[cut..];
    let tail_start = cut + (tail.len() - tail.trim_start().len());
    judge(tail).filter(|_| short(tail)).map(|c| (tail_start..body.len(), c))
}

/// Words that rank or date a group of items rather than name one (`High Priority TODO 🔴`).
const GROUP_WORDS: &[&str] = &["high", "medium", "low", "priority", "current", "previous", "session", "continued"];

/// A heading that is only a status — `## Completed ✅`, `## In Progress 🚧`, `### FIXED
/// (2025-09-25 - Current Session)`, `## High Priority TODO 🔴` — heads a group of items: whether
/// the group is closed. Parentheses, signs and ranking words aside, its words are one status.
pub(super) fn group_status(heading: &str) -> Option<bool> {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in heading.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 && (c.is_alphanumeric() || c.is_whitespace()) => plain.extend(c.to_lowercase()),
            _ if depth == 0 => plain.push(' '),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().filter(|w| !GROUP_WORDS.contains(w)).collect();
    if words.is_empty() || words.len() > 2 {
        return None;
    }
    let phrase = words.join(" ");
    let known = |list: &[&str]| list.contains(&phrase.as_str()) || (words.len() == 1 && list.contains(&words[0]));
    if known(CLOSED) {
        Some(true)
    } else if known(OPEN) {
        Some(false)
    } else {
        None
    }
}

/// A Status line in the lines `first..=last` outside code: its value's range and whether it closes.
pub(super) fn status_line(doc: &Document, first: usize, last: usize) -> Option<(Range<usize>, Option<bool>)> {
    (first..=last).filter(|&n| !in_code(doc, doc.line_start(n))).find_map(|n| {
        let c = STATUS_LINE.captures(doc.line_text(n))?;
        let v = c.get(1).unwrap();
        let start = doc.line_start(n);
        Some((start + v.start()..start + v.end(), judge(v.as_str())))
    })
}

pub(super) fn in_code(doc: &Document, at: usize) -> bool {
    doc.code_blocks.iter().any(|c| c.contains(&at))
}

/// The state of a task written in words or a box.
pub(super) fn task_state(text: &str) -> TaskState {
    match TaskState::parse(text) {
        TaskState::Unknown => {}
        s => return s,
    }
    let lower = text.trim().trim_matches('*').to_lowercase();
    match judge(text) {
        Some(true) => TaskState::Done,
        Some(false) if lower.starts_with("blocked") => TaskState::Blocked,
        Some(false) if lower.starts_with("in progress") || lower.starts_with("partial") || lower.starts_with("wip") => {
            TaskState::Partial
        }
        Some(false) => TaskState::Todo,
        None => TaskState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn headings_that_are_only_a_status_head_groups() {
        use super::group_status;
        assert_eq!(group_status("Completed ✅"), Some(true));
        assert_eq!(group_status("In Progress 🚧"), Some(false));
        assert_eq!(group_status("High Priority TODO 🔴"), Some(false));
        assert_eq!(group_status("FIXED (2025-09-25 - Current Session)"), Some(true));
        assert_eq!(group_status("Completed (continued) ✅"), Some(true));
        assert_eq!(group_status("AT-GEO-001: MOSFLM beam-center mapping"), None);
        assert_eq!(group_status("Status Summary (2025-09-25)"), None);
        assert_eq!(group_status("Phase 1 - Completed"), None);
    }

    use super::*;

    #[test]
    fn markers_people_write_read_as_closed_or_open() {
        for closed in ["✅", "[x] Complete", "FIXED", "fixed on `fix/x`.", "Completed", "DEFERRED", "مكتمل", "완료"]
        {
            assert_eq!(judge(closed), Some(true), "{closed}");
        }
        for open in ["Proposed", "[ ]", "in progress", "⏳ waiting", "Pending"] {
            assert_eq!(judge(open), Some(false), "{open}");
        }
        for neither in ["IMMEDIATE", "v2.6.0 Release", "Future", "Fixes"] {
            assert_eq!(judge(neither), None, "{neither}");
        }
    }

    #[test]
    fn a_heading_states_its_status_at_its_end_or_by_a_sign() {
        fn s(l: &str) -> Option<(&str, bool)> {
            heading_status(l).map(|(r, c)| (&l[r], c))
        }
        assert_eq!(s("0.0 Create Reusable Service - Completed"), Some(("Completed", true)));
        assert_eq!(s("المرحلة 1: تحديث HTML ✅"), Some(("✅", true)));
        assert_eq!(s("4. Theory & Model Improvements (Proposed)"), Some(("Proposed", false)));
        assert_eq!(s("1. Phase 1: Critical & High Priority (IMMEDIATE)"), None);
        assert_eq!(s("Phase 1: Core Pipeline & Connectivity"), None);
    }
}
