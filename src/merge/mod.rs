//! `loop merge`: a git merge driver that merges the ledger and plans the way they mean.
//!
//! The three versions are cut into level-2 sections (`## [ID] …` items, `## Index`, other
//! headings, the header before them). Sections are matched by key: added on either side → kept,
//! deleted on one side and unchanged on the other → deleted. A section both sides changed is
//! merged line by line (diff3) with the workflow's rules where git would stop:
//! - both sides inserted lines at the same place (an attempt, an item, an Index row) → both kept;
//! - both sides changed the same lines one for one → line by line: one side changed → taken,
//!   `Last Updated` → the later date, a plan task row → the further state (`[D]` over `[P]` over
//!   `[ ]`; `[B]` against `[D]` conflicts), anything else → a conflict on that line only;
//! - otherwise → conflict markers around that region only.
//!
//! Attempts THEIRS added whose number OURS already uses are renumbered to the next free number.
//! Sections nobody changed are OURS' bytes, untouched.

pub mod driver;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use similar::{capture_diff_slices, Algorithm, DiffOp};

static ATTEMPT_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"Attempt #([0-9]+)").unwrap());
static ATTEMPT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t]*(?:[-*+][ \t]+|###[ \t]+\[[^\]]*\][ \t]*)(?:\*\*)?(?:\[[0-9]{4}-[0-9]{2}-[0-9]{2}[^\]]*\][ \t]*)?(?:\*\*)?Attempt #[0-9]+").unwrap()
});
static ROW_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[ \t]*(?:\|[ \t]*|[-*][ \t]+)\[([^\]]+)\]").unwrap());

/// What a merge did.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub text: String,
    /// Regions left with conflict markers.
    pub conflicts: usize,
    /// Things resolved by rule that a person may want to know (renumbered attempts …).
    pub notes: Vec<String>,
}

/// One output line and where it came from.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    theirs: bool,
}

fn lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// A level-2 section: its key and its lines.
struct Section<'a> {
    key: String,
    lines: Vec<&'a str>,
}

/// Cut a markdown file into the part before the first `## ` heading and one section per
/// `## ` heading (fenced code is skipped). Keys: `pre`, `[ID]`, `#Heading`, with `~N` for repeats.
fn sections(text: &str) -> Vec<Section<'_>> {
    let mut out = vec![Section { key: "pre".into(), lines: Vec::new() }];
    let mut fence: Option<&str> = None;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in lines(text) {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
        } else if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
        } else if let Some(h) = line.strip_prefix("## ") {
            let h = h.trim();
            let base = match crate::ledger::bracketed(h) {
                Some((id, _)) => format!("[{}]", id.trim().to_ascii_uppercase()),
                None => format!("#{h}"),
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}~{n}") };
            out.push(Section { key, lines: Vec::new() });
        }
        out.last_mut().unwrap().lines.push(line);
    }
    out
}

/// `loop merge file`: merge the three files and replace OURS with the result (atomically, only
/// when it differs).
pub fn merge_files(
    base: &std::path::Path,
    ours: &std::path::Path,
    theirs: &std::path::Path,
    label: Option<&str>,
) -> crate::error::Result<Outcome> {
    use crate::error::Error;
    let read = |p: &std::path::Path| {
        if !p.is_file() {
            return Err(Error::input(p.display().to_string(), 0, "no such file"));
        }
        crate::fsutil::read_utf8(p, &p.display().to_string())
    };
    let (b, o, t) = (read(base)?, read(ours)?, read(theirs)?);
    let label = label.map_or_else(|| ours.display().to_string(), str::to_string);
    let outcome = merge(&b, &o, &t, &label);
    if outcome.text != o {
        crate::atomic::replace(ours, &label, o.as_bytes(), outcome.text.as_bytes())?;
    }
    Ok(outcome)
}

/// Merge three versions of a ledger or plan. `label` names the file in notes.
pub fn merge(base: &str, ours: &str, theirs: &str, label: &str) -> Outcome {
    // One side unchanged: the other side, byte for byte (as git's merge gives it).
    let take = |s: &str| Outcome { text: s.to_string(), conflicts: 0, notes: Vec::new() };
    if theirs == base || ours == theirs {
        return take(ours);
    }
    if ours == base {
        return take(theirs);
    }
    // Lines are merged whole: a side whose last line has no line ending gets one, so that text
    // added after it starts on a line of its own. The result ends as OURS does when neither
    // side's text ends in a line break.
    fn ended(s: &str) -> std::borrow::Cow<'_, str> {
        if s.is_empty() || s.ends_with('\n') {
            std::borrow::Cow::Borrowed(s)
        } else {
            std::borrow::Cow::Owned(format!("{s}{}", if s.contains("\r\n") { "\r\n" } else { "\n" }))
        }
    }
    let (base_e, ours_e, theirs_e) = (ended(base), ended(ours), ended(theirs));
    let mut out = merge_lines(&base_e, &ours_e, &theirs_e, label);
    let unended = |s: &str| !s.is_empty() && !s.ends_with('\n');
    if unended(ours) && (unended(theirs) || theirs.is_empty()) {
        let trimmed = out.text.strip_suffix("\r\n").or_else(|| out.text.strip_suffix('\n')).map(str::to_string);
        if let Some(t) = trimmed {
            out.text = t;
        }
    }
    out
}

fn merge_lines(base: &str, ours: &str, theirs: &str, label: &str) -> Outcome {
    let (b, o, t) = (sections(base), sections(ours), sections(theirs));
    let find = |v: &[Section], k: &str| v.iter().position(|s| s.key == k);
    // Section order: OURS', with THEIRS-only sections after their predecessor in THEIRS — and
    // after the sections OURS added there, so that items come out in the order their Index
    // rows do (both added at one place: ours first).
    let mut out = Outcome::default();
    let mut order: Vec<String> = o.iter().map(|s| s.key.clone()).collect();
    let ours_added = |k: &str| find(&b, k).is_none() && find(&t, k).is_none();
    for (i, s) in t.iter().enumerate() {
        if order.contains(&s.key) {
            continue;
        }
        let mut at = t[..i].iter().rev().find_map(|p| order.iter().position(|k| *k == p.key)).map_or(0, |a| a + 1);
        let skipped = order[at..].iter().take_while(|k| ours_added(k)).count();
        if skipped > 0 && s.key.starts_with('[') && order[at].starts_with('[') {
            out.notes.push(format!(
                "{label}: {} (theirs) and {} (ours) were added at the same place; kept both, ours first",
                s.key, order[at]
            ));
        }
        at += skipped;
        order.insert(at, s.key.clone());
    }
    // Keys of sections deleted on one side: they are dropped from the order below if unchanged.
    for key in order {
        let bs = find(&b, &key).map(|i| &b[i].lines);
        let os = find(&o, &key).map(|i| &o[i].lines);
        let ts = find(&t, &key).map(|i| &t[i].lines);
        let merged: Vec<Line> = match (bs, os, ts) {
            (_, Some(o), None) if bs == Some(o) => continue, // THEIRS deleted it, OURS did not touch it
            (_, None, Some(t)) if bs == Some(t) => continue,
            (_, None, None) => continue,
            (None, Some(o), None) => plain(o, false),
            (None, None, Some(t)) => plain(t, true),
            (Some(_), Some(o), None) => {
                out.notes.push(format!("{label}: {key} was deleted by theirs and changed by ours"));
                out.conflicts += 1;
                conflict(o, &[])
            }
            (Some(_), None, Some(t)) => {
                out.notes.push(format!("{label}: {key} was deleted by ours and changed by theirs"));
                out.conflicts += 1;
                conflict(&[], t)
            }
            (None, Some(o), Some(t)) if o != t => {
                // Both added a section with this key, differently.
                out.notes.push(format!("{label}: {key} was added by both sides, differently"));
                out.conflicts += 1;
                conflict(o, t)
            }
            (b, Some(o), Some(t)) => {
                let empty = Vec::new();
                let b = b.unwrap_or(&empty);
                // Identical sections are one — unless both recorded an attempt: two runs.
                let adds_attempt = || o.iter().any(|l| ATTEMPT_LINE.is_match(l) && !b.contains(l));
                if b == t || (o == t && !adds_attempt()) {
                    plain(o, false)
                } else if b == o {
                    plain(t, true)
                } else {
                    let mut m = diff3(b, o, t, &mut Said { out: &mut out, label, key: &key });
                    if key.starts_with('[') {
                        renumber(&mut m, &key, label, &mut out.notes);
                    }
                    if key == "#Index" {
                        dedupe_rows(&mut m, &mut out.conflicts);
                    }
                    m
                }
            }
        };
        for l in merged {
            out.text.push_str(&l.text);
        }
    }
    out
}

fn plain(v: &[&str], theirs: bool) -> Vec<Line> {
    v.iter().map(|l| Line { text: l.to_string(), theirs }).collect()
}

fn ensure_nl(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

fn conflict(o: &[&str], t: &[&str]) -> Vec<Line> {
    let mut v = vec![Line { text: "<<<<<<< ours\n".into(), theirs: false }];
    v.extend(o.iter().map(|l| Line { text: ensure_nl(l), theirs: false }));
    v.push(Line { text: "=======\n".into(), theirs: false });
    v.extend(t.iter().map(|l| Line { text: ensure_nl(l), theirs: true }));
    v.push(Line { text: ">>>>>>> theirs\n".into(), theirs: false });
    v
}

/// A change one side made: base lines `base` replaced by that side's lines `new`.
#[derive(Debug, Clone)]
struct Hunk {
    base: Range<usize>,
    new: Range<usize>,
    theirs: bool,
}

fn hunks(base: &[&str], side: &[&str], theirs: bool) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::new();
    // Where the ops have got to in `base`: an Insert's own `old_index` can lag behind (seen with
    // repeated lines), so an insertion is placed after what came before it.
    let mut old_at = 0;
    for op in capture_diff_slices(Algorithm::Myers, base, side) {
        let (b, n) = match op {
            DiffOp::Equal { old_index, len, .. } => {
                old_at = old_index + len;
                continue;
            }
            DiffOp::Delete { old_index, old_len, new_index } => (old_index..old_index + old_len, new_index..new_index),
            DiffOp::Insert { new_index, new_len, .. } => (old_at..old_at, new_index..new_index + new_len),
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                (old_index..old_index + old_len, new_index..new_index + new_len)
            }
        };
        old_at = b.end;
        match out.last_mut() {
            Some(h) if h.base.end == b.start && h.new.end == n.start => {
                h.base.end = b.end;
                h.new.end = n.end;
            }
            _ => out.push(Hunk { base: b, new: n, theirs }),
        }
    }
    out
}

/// Do two changes touch the same base lines (or insert at the same point)?
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    if a.is_empty() && b.is_empty() {
        return a.start == b.start;
    }
    if a.is_empty() {
        return b.start < a.start && a.start < b.end;
    }
    if b.is_empty() {
        return a.start < b.start && b.start < a.end;
    }
    a.start < b.end && b.start < a.end
}

/// A side's version of base lines `range`, given its hunks inside that range.
fn side_region<'a>(base: &[&'a str], side: &[&'a str], hs: &[&Hunk], range: &Range<usize>) -> Vec<&'a str> {
    let mut v = Vec::new();
    let mut at = range.start;
    for h in hs {
        v.extend_from_slice(&base[at..h.base.start]);
        v.extend_from_slice(&side[h.new.clone()]);
        at = h.base.end;
    }
    v.extend_from_slice(&base[at..range.end]);
    v
}

/// Where a merge's conflicts and notes go, and what they name.
struct Said<'a> {
    out: &'a mut Outcome,
    label: &'a str,
    key: &'a str,
}

impl Said<'_> {
    /// A region git's line merge would have left conflicted, resolved by `rule`.
    fn resolved(&mut self, rule: &str) {
        let note = format!("{}: {}: {rule}", self.label, self.key.trim_start_matches('#'));
        if !self.out.notes.contains(&note) {
            self.out.notes.push(note);
        }
    }
}

fn diff3(base: &[&str], ours: &[&str], theirs: &[&str], said: &mut Said) -> Vec<Line> {
    let mut all: Vec<Hunk> = hunks(base, ours, false);
    all.extend(hunks(base, theirs, true));
    all.sort_by_key(|h| (h.base.start, h.base.end, h.theirs));
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while i < all.len() {
        // A group: hunks that overlap one another, transitively.
        let mut range = all[i].base.clone();
        let mut j = i + 1;
        while j < all.len() && (overlaps(&range, &all[j].base) || (range.end > all[j].base.start)) {
            range.end = range.end.max(all[j].base.end);
            j += 1;
        }
        let group = &all[i..j];
        out.extend(base[at..range.start].iter().map(|l| Line { text: l.to_string(), theirs: false }));
        let os: Vec<&Hunk> = group.iter().filter(|h| !h.theirs).collect();
        let ts: Vec<&Hunk> = group.iter().filter(|h| h.theirs).collect();
        let o = side_region(base, ours, &os, &range);
        let t = side_region(base, theirs, &ts, &range);
        let b = &base[range.clone()];
        if ts.is_empty() || (o == t && !(b.is_empty() && o.iter().any(|l| ATTEMPT_LINE.is_match(l)))) {
            out.extend(plain(&o, false));
        } else if os.is_empty() {
            out.extend(plain(&t, true));
        } else {
            out.extend(resolve(b, &o, &t, said));
        }
        at = range.end;
        i = j;
    }
    out.extend(base[at..].iter().map(|l| Line { text: l.to_string(), theirs: false }));
    out
}

/// Both sides changed the same base region differently.
fn resolve(b: &[&str], o: &[&str], t: &[&str], said: &mut Said) -> Vec<Line> {
    if b.is_empty() {
        said.resolved("both sides added lines at the same place; kept both, ours first");
        // Both inserted here (an attempt, an item, an Index row): keep both, OURS first.
        // A line both added is one line — except an attempt: two agents' runs are two attempts.
        let mut v = plain(o, false);
        v.extend(
            t.iter()
                .filter(|l| !o.contains(l) || ATTEMPT_LINE.is_match(l))
                .map(|l| Line { text: l.to_string(), theirs: true }),
        );
        return v;
    }
    if o.len() == b.len() && t.len() == b.len() {
        let mut v = Vec::new();
        for k in 0..b.len() {
            match line::line_merge(b[k], o[k], t[k]) {
                Some((l, rule)) => {
                    if let Some(rule) = rule {
                        said.resolved(rule);
                    }
                    v.push(l)
                }
                None => {
                    said.out.conflicts += 1;
                    v.extend(conflict(&[o[k]], &[t[k]]));
                }
            }
        }
        return v;
    }
    // Keep what both sides share at the ends outside the markers.
    let head = o.iter().zip(t).take_while(|(x, y)| x == y).count();
    let tail = o[head..].iter().rev().zip(t[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut v = plain(&o[..head], false);
    said.out.conflicts += 1;
    v.extend(conflict(&o[head..o.len() - tail], &t[head..t.len() - tail]));
    v.extend(plain(&o[o.len() - tail..], false));
    v
}

/// THEIRS' new attempts whose number OURS' side of this item already uses get the next free one.
fn renumber(lines: &mut [Line], key: &str, label: &str, notes: &mut Vec<String>) {
    let number = |l: &Line| {
        ATTEMPT_LINE
            .is_match(&l.text)
            .then(|| ATTEMPT_NUMBER.captures(&l.text))
            .flatten()
            .and_then(|c| c[1].parse::<u32>().ok())
    };
    let mut used: BTreeSet<u32> = lines.iter().filter(|l| !l.theirs).filter_map(number).collect();
    for l in lines.iter_mut().filter(|l| l.theirs) {
        let Some(n) = number(l) else { continue };
        if used.insert(n) {
            continue;
        }
        let next = used.iter().next_back().copied().unwrap_or(0) + 1;
        used.insert(next);
        l.text = l.text.replacen(&format!("Attempt #{n}"), &format!("Attempt #{next}"), 1);
        notes.push(format!("{label}: {key} theirs' Attempt #{n} renumbered to #{next} (ours has #{n})"));
    }
}

/// Index rows are one per item: THEIRS' added row for an ID OURS already lists is dropped when
/// identical, a conflict when not.
fn dedupe_rows(lines: &mut Vec<Line>, conflicts: &mut usize) {
    let id = |l: &Line| ROW_ID.captures(&l.text).map(|c| c[1].trim().to_ascii_uppercase());
    let ours: HashMap<String, String> =
        lines.iter().filter(|l| !l.theirs).filter_map(|l| id(l).map(|i| (i, l.text.clone()))).collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut in_conflict = false;
    for l in lines.drain(..) {
        if l.text.starts_with("<<<<<<< ") || l.text.starts_with(">>>>>>> ") {
            in_conflict = l.text.starts_with("<<<<<<< ");
            out.push(l);
            continue;
        }
        if in_conflict {
            out.push(l);
            continue;
        }
        match (l.theirs, id(&l).and_then(|i| ours.get(&i))) {
            (true, Some(o)) if o.trim() == l.text.trim() => {}
            (true, Some(_)) => {
                *conflicts += 1;
                // OURS' row stays where it is; the disagreeing row is marked next to it.
                out.extend(conflict(&[], &[l.text.as_str()]));
            }
            _ => out.push(l),
        }
    }
    *lines = out;
}

mod line;
#[cfg(test)]
mod tests;
