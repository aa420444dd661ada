//! The text of an attempt entry in the ledger's own form — a numbered bullet, or a timestamped
//! `###` entry — and the checks that keep text given on the command line from forging structure.

use super::Request;
use crate::error::{Error, Result};
use crate::ledger::{self, Ledger};
use crate::markdown::Document;

/// What an entry says.
pub(super) struct Parts<'a> {
    pub date: &'a str,
    pub result: &'a str,
    pub phase: Option<&'a str>,
    pub metrics: &'a [String],
    pub artifacts: &'a [String],
    pub note: Option<&'a str>,
    pub next: Option<&'a str>,
}

fn sentence(s: &str) -> String {
    let s = s.trim();
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// `[2026-01-05] Attempt #3 — Result: failed (Phase C1). corr=0.7 ❌ (…). Artifacts: `a`. …`
pub(super) fn numbered(number: u64, p: &Parts) -> String {
    let mut entry = format!("[{}] Attempt #{number} — Result: {}", p.date, p.result);
    if let Some(ph) = p.phase {
        entry.push_str(&format!(" (Phase {ph})"));
    }
    entry.push('.');
    entry + &tail(p, "Observations: ")
}

/// What follows an entry's head: metrics, artifacts, the note (after `note_label`), what is next.
fn tail(p: &Parts, note_label: &str) -> String {
    let mut t = String::new();
    if !p.metrics.is_empty() {
        t.push_str(&format!(" {}.", p.metrics.join(", ")));
    }
    if !p.artifacts.is_empty() {
        let list: Vec<String> = p.artifacts.iter().map(|a| format!("`{a}`")).collect();
        t.push_str(&format!(" Artifacts: {}.", list.join(", ")));
    }
    if let Some(n) = p.note {
        t.push_str(&format!(" {note_label}{}", sentence(n)));
    }
    if let Some(n) = p.next {
        t.push_str(&format!(" Next: {}", sentence(n)));
    }
    t
}

/// `2026-01-05T153000Z (failed) — Phase C1. corr=0.7. …`: an unnumbered entry stamped as the
/// list's last one is (`sample`: its time as written, or `None` for a day alone).
pub(super) fn stamped(date: &str, now: &chrono::DateTime<chrono::Utc>, sample: Option<&str>, p: &Parts) -> String {
    let stamp = match sample {
        Some(t) if t.matches(':').count() >= 2 => format!("{date}T{}Z", now.format("%H:%M:%S")),
        Some(t) if t.contains(':') => format!("{date}T{}Z", now.format("%H:%M")),
        Some(t) if t.len() >= "2025-01-01T0000".len() + 3 => format!("{date}T{}Z", now.format("%H%M%S")),
        Some(_) => format!("{date}T{}Z", now.format("%H%M")),
        None => date.to_string(),
    };
    let mut entry = format!("{stamp} ({}) —", p.result);
    if let Some(ph) = p.phase {
        entry.push_str(&format!(" Phase {ph}."));
    }
    entry + &tail(p, "")
}

/// `### 2026-01-05T15:30Z — ID.TASK (result)` and its paragraphs, as the single-initiative
/// ledgers write them.
pub(super) fn timestamped(time: &str, id: &str, p: &Parts) -> Vec<String> {
    let task = p.phase.map(|t| format!(".{t}")).unwrap_or_default();
    let mut lines = vec![format!("### {time} — {id}{task} ({})", p.result)];
    let para = |lines: &mut Vec<String>, s: String| {
        lines.push(String::new());
        lines.push(s);
    };
    let mut result = format!("**Result:** {}.", p.result);
    if !p.metrics.is_empty() {
        result.push_str(&format!(" {}.", p.metrics.join(", ")));
    }
    lines.push(result);
    if let Some(n) = p.note {
        para(&mut lines, format!("**Observations:** {}", sentence(n)));
    }
    if !p.artifacts.is_empty() {
        para(&mut lines, "**Artifacts:**".into());
        for a in p.artifacts {
            lines.push(format!("- `{a}`"));
        }
    }
    if let Some(n) = p.next {
        para(&mut lines, "**Next Actions:**".into());
        lines.push(format!("- {}", sentence(n)));
    }
    lines
}

/// Every text the request puts into the ledger, checked before anything is read or written.
pub(super) fn check_request(req: &Request) -> Result<()> {
    let f = |name: &str| req.field(name);
    let one = |name: &str, v: &Option<String>| v.as_deref().map_or(Ok(()), |t| check_text(&f(name), t, false));
    one("note", &req.note)?;
    one("next", &req.next)?;
    one("status", &req.status)?;
    one("phase", &req.phase)?;
    for a in &req.next_actions {
        check_text(&f("next-action"), a, true)?;
    }
    for (k, v) in &req.metrics {
        check_text(&f("metric"), &format!("{k}={v}"), false)?;
    }
    for a in &req.artifacts {
        check_text(&f("artifact"), a, false)?;
        if a.contains('`') {
            return Err(Error::Usage(format!(
                "{} {a}: a path with a backtick cannot be quoted; nothing written",
                f("artifact")
            )));
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for (id, _) in &req.tasks {
        if !ids.insert(id.to_ascii_uppercase()) {
            return Err(Error::Usage(format!("{} {id} is given twice; give each task once", f("task"))));
        }
    }
    Ok(())
}

/// Text that goes into the ledger verbatim must not forge structure: a line break would start a
/// new entry, a fence would swallow the rest of the file, and a Next Action that begins with
/// markdown's block syntax (`## `, `* `, `1. `, `> `) would become a heading or a nested entry.
pub(super) fn check_text(flag: &str, text: &str, starts_a_line: bool) -> Result<()> {
    let t = text.trim_start();
    let block_start = t.starts_with('#')
        || t.starts_with('>')
        || t.starts_with('|')
        || t.starts_with('<')
        || t.starts_with("---")
        || t.starts_with("===")
        || (t.starts_with(['-', '*', '+']) && t[1..].starts_with([' ', '\t']))
        || t.split_once(['.', ')'])
            .is_some_and(|(n, rest)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with(' '));
    let why = if text.contains(['\r', '\n']) {
        "contains a line break"
    } else if text.contains("```") || text.contains("~~~") {
        "opens a code fence"
    } else if starts_a_line && block_start {
        "starts with markdown block syntax (a heading, list marker, quote or table row), which would change the ledger's structure; write it as plain text"
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!("{flag} {why}; nothing written")))
}

/// Text for a table cell: `|` escaped.
pub(super) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = ' ';
    for c in text.chars() {
        if c == '|' && prev != '\\' {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// The written ledger must read as the old one plus the new entry: the same items, each with
/// the attempts it had, and one more for `item` when an entry was added. Anything else means
/// some text forged structure.
pub(super) fn check_structure(before: &Ledger, after_text: &str, item: &ledger::Item, added: bool) -> Result<()> {
    let after = Ledger::parse(Document::parse(&before.doc.file, after_text.to_string()));
    let shape =
        |l: &Ledger| l.items.iter().map(|i| (ledger::normalize_id(&i.id), i.attempts.len())).collect::<Vec<_>>();
    let mut want = shape(before);
    if added {
        let k = before.items.iter().position(|i| std::ptr::eq(i, item)).unwrap_or(usize::MAX);
        if let Some(w) = want.get_mut(k) {
            w.1 += 1;
        }
    }
    let got = shape(&after);
    let new_errors = after.diagnostics.iter().filter(|d| d.is_error()).count()
        > before.diagnostics.iter().filter(|d| d.is_error()).count();
    if got != want || new_errors {
        return Err(Error::Usage(format!(
            "the text given would change the ledger's structure (items {} → {}, or a new parse error); nothing written",
            want.len(),
            got.len()
        )));
    }
    Ok(())
}

/// The last entry of an item whose attempts are all unnumbered stamped list entries
/// (`* 2025-10-29T110900Z — …`); `None` when any is numbered, or there is none.
pub(super) fn stamped_list(item: &crate::ledger::Item) -> Option<&crate::ledger::Attempt> {
    // Entries logged under a heading of their own elsewhere (`### 2025-12-01T084505Z - ID …`)
    // do not decide the list's form.
    let listed: Vec<&crate::ledger::Attempt> = item.attempts.iter().filter(|a| a.item.is_some()).collect();
    let numbered = item.attempts.iter().any(|a| a.number.is_some());
    (!listed.is_empty() && !numbered && listed.iter().all(|a| a.date.is_some()) && item.cited == 0)
        .then(|| listed.into_iter().max_by_key(|a| a.line))
        .flatten()
}
