//! Recognising attempts: numbered entries (`[2025-10-09] Attempt #4 — …`, `**Attempt #2**`),
//! timestamped headings (`### 2026-01-22T02:40Z — ID.TASK (label)`), and the attempt numbers an
//! item's own lists cite.

use std::sync::LazyLock;

use regex::Regex;

use super::{bracketed, head, ids_equal};

static ATTEMPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\*\*)?(?:\[([0-9]{4}-[0-9]{2}-[0-9]{2})[^\]]*\][ \t]*)?(?:\*\*)?Attempt[ \t]+#([0-9]+)").unwrap()
});
static TIMESTAMPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:?[0-9]{2}(?::?[0-9]{2})?(?:\.[0-9]+)?)Z[ \t]*(?:—|–|--|-)[ \t]*(.*)$",
    )
    .unwrap()
});
/// An entry that starts with its stamp: `2025-10-29T110900Z — …`, `2025-12-01T08:09Z (label) — …`,
/// `2025-10-28: …`.
static STAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\*\*)?([0-9]{4}-[0-9]{2}-[0-9]{2})(T[0-9]{2}:?[0-9]{2}(?::?[0-9]{2})?Z)?(?:\*\*)?(?:[ \t]+(?:—|–|-|\()|:)").unwrap()
});
static LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^(—]*\(([A-Za-z][A-Za-z _-]{0,30})\)").unwrap());
static CITED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Attempts?[ \t]+#([0-9]+)(?:[ \t]*(?:–|—|-|to)[ \t]*#?([0-9]+))?").unwrap());

/// A numbered attempt at the start of a list item or heading: its number (`None` when it does
/// not fit in 64 bits) and date. An undated `Attempt #N` only when what follows the number is
/// an entry's punctuation (` — `, `:`, `**`, a parenthetical), not prose ("Attempt #13 exposes…").
pub(crate) fn numbered(text: &str) -> Option<(Option<u64>, Option<String>)> {
    if !text.contains("Attempt") {
        return None;
    }
    let h = head(text, 96);
    let c = ATTEMPT.captures(h)?;
    let date = c.get(1).map(|m| m.as_str().to_string());
    if date.is_none() && !entry_tail(&text[c.get(0).unwrap().end()..]) {
        return None;
    }
    Some((c[2].parse().ok(), date))
}

/// What may follow `Attempt #N` in an undated entry.
fn entry_tail(rest: &str) -> bool {
    let mut r = rest.trim_start_matches('*');
    if let Some(p) = r.trim_start().strip_prefix('(') {
        match p.find(')') {
            Some(close) => r = p[close + 1..].trim_start_matches('*'),
            None => return false,
        }
    }
    let t = r.trim_start();
    t.is_empty()
        || r.starts_with(['.', ',', ';', ':'])
        || t.starts_with(['—', '–'])
        || t.starts_with("- ")
        || t.starts_with("Result")
        || rest.starts_with("**")
}

/// An unnumbered entry's day, and its time as written when it has one.
pub(crate) fn stamp(text: &str) -> Option<(String, Option<String>)> {
    let c = STAMP.captures(text)?;
    Some((c[1].to_string(), c.get(2).map(|t| format!("{}{}", &c[1], t.as_str()))))
}

/// The word in an entry's first parenthesis before its dash: `(implementation)`, `(planning)`.
pub(crate) fn label(text: &str) -> Option<String> {
    LABEL.captures(super::head(text, 120)).map(|c| c[1].trim().to_ascii_lowercase())
}

/// The parts of a timestamped attempt heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampedHeading {
    pub date: String,
    /// `2026-01-22T02:40Z` as written.
    pub time: String,
    pub id: String,
    pub task: Option<String>,
    /// The parenthetical after it (`shipped`, `initial`).
    pub label: Option<String>,
}

/// `2026-01-22T02:40Z — DEBUG-SIM-LINES-DOSE-001.F1 (follow-up sent)`, `… — seed S1–S2 (initial)`,
/// `2026-01-23T153500Z — ID`.
pub fn timestamped_heading(text: &str) -> Option<TimestampedHeading> {
    let c = TIMESTAMPED.captures(text.trim())?;
    let rest = c[3].trim();
    let (words, label) = match rest.find('(') {
        Some(p) => (rest[..p].trim(), Some(rest[p + 1..].trim_end().trim_end_matches(')').trim().to_string())),
        None => (rest, None),
    };
    let mut parts = words.split_whitespace();
    let first = parts.next()?.trim_end_matches([':', ',']);
    let (id, task) = match first.split_once('.') {
        Some((id, task)) if !id.is_empty() && !task.is_empty() => (id, Some(task.to_string())),
        _ => (first, parts.next().map(|t| t.trim_end_matches([':', ',']).to_string())),
    };
    if !super::is_item_id(id) {
        return None;
    }
    Some(TimestampedHeading {
        date: c[1].to_string(),
        time: format!("{}T{}Z", &c[1], &c[2]),
        id: id.to_string(),
        task: task.filter(|t| !t.is_empty()),
        label: label.filter(|l| !l.is_empty()),
    })
}

/// The attempt numbers `text` cites for `id` (`Attempt #20`, `Attempts #10–#21`), leaving out
/// citations that follow another item's `[ID]` in the same text.
pub fn cited_numbers(text: &str, id: &str) -> Vec<u64> {
    let owner_id = id.to_string();
    let brackets: Vec<(usize, bool)> = text
        .match_indices('[')
        .filter_map(|(i, _)| bracketed(&text[i..]).map(|(b, _)| (i, ids_equal(b.trim(), &owner_id))))
        .filter(|(i, _)| text[*i + 1..].starts_with(|c: char| c.is_ascii_alphabetic()))
        .collect();
    CITED
        .captures_iter(text)
        .filter_map(move |c| {
            let at = c.get(0).unwrap().start();
            let foreign = brackets.iter().rev().find(|(i, _)| *i < at).is_some_and(|(_, own)| !own);
            if foreign {
                return None;
            }
            let a: Option<u64> = c[1].parse().ok();
            let b: Option<u64> = c.get(2).and_then(|m| m.as_str().parse().ok());
            a.into_iter().chain(b).max()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_prose() {
        assert_eq!(numbered("[2025-10-09] Attempt #1 — Result: planning."), Some((Some(1), Some("2025-10-09".into()))));
        assert_eq!(numbered("**Attempt #2** — Result: **failed**"), Some((Some(2), None)));
        assert_eq!(numbered("Attempt #4 — y"), Some((Some(4), None)));
        assert_eq!(numbered("**Attempt #1 (2025-09-30 debug loop)**: SUCCEEDED ✓"), Some((Some(1), None)));
        assert_eq!(numbered("Attempt #13 exposes the race"), None);
        assert_eq!(numbered("**Attempt #75 misdiagnosis explained:** x"), None);
        assert_eq!(numbered("Attempt #24 (Phase E2/E3) shows C reuses"), None);
        assert_eq!(
            numbered("[2025-10-10] Attempt #22 (supervisor loop BD) — Result: x"),
            Some((Some(22), Some("2025-10-10".into())))
        );
        assert_eq!(numbered("[2025-10-10] Attempt #99999999999999999999999 — x").map(|a| a.0), Some(None));
    }

    #[test]
    fn timestamped_headings() {
        let h = timestamped_heading("2026-01-23T01:19Z — DEBUG-SIM-LINES-DOSE-001.F1 (follow-up sent)").unwrap();
        assert_eq!(
            (h.id.as_str(), h.task.as_deref(), h.label.as_deref()),
            ("DEBUG-SIM-LINES-DOSE-001", Some("F1"), Some("follow-up sent"))
        );
        assert_eq!(h.time, "2026-01-23T01:19Z");
        let h = timestamped_heading("2026-01-22T02:40Z — seed S1–S2 (initial)").unwrap();
        assert_eq!((h.id.as_str(), h.task.as_deref()), ("seed", Some("S1–S2")));
        let h = timestamped_heading("2026-01-23T153500Z — X-1 (plan reboot)").unwrap();
        assert_eq!((h.time.as_str(), h.task), ("2026-01-23T153500Z", None));
        assert!(timestamped_heading("Phase A — Manifest").is_none());
    }

    #[test]
    fn citations() {
        let n = cited_numbers("✅ COMPLETE (Attempt #20, STAMP x)", "T-1");
        assert_eq!(n, vec![20]);
        let n = cited_numbers("records Attempts #10–#21 here", "T-1");
        assert_eq!(n, vec![21]);
        let n = cited_numbers("Updated `[CLI-FLAGS-003]` Attempts History (Attempt #36)", "T-1");
        assert!(n.is_empty(), "{n:?}");
    }
}
