//! Item and task IDs in an outline: the ones written (`[C-01]`, `W1:`, `BUG-DV-015`) or ones made
//! from a title's words, and the title without numbering or status.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

pub(super) static NUMBERING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+(?:\.\d+)*[.)]?\s+").unwrap());
pub(super) static UPPER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z][A-Z0-9]*(?:[-_.][A-Z0-9]+)*)(?:[:\s]|$)").unwrap());
/// An ID the heading or cell writes: `[C-01] …`, `W1: …`, `1.1 BUG-DV-015 + …: …`; with the
/// title that follows it.
pub(super) fn explicit_id(text: &str) -> Option<(String, String)> {
    let t = text.trim().trim_start_matches('*').trim_start();
    let t = NUMBERING.find(t).map_or(t, |m| &t[m.end()..]);
    if let Some((id, rest)) = crate::ledger::bracketed(t) {
        let id = id.trim();
        if crate::ledger::is_item_id(id) && id.chars().any(|c| c.is_ascii_digit()) && id.len() <= 40 {
            return Some((id.to_string(), title_after_id(rest)));
        }
        return None;
    }
    let c = UPPER_ID.captures(t)?;
    let id = c.get(1).unwrap().as_str();
    (id.chars().any(|c| c.is_ascii_digit()) && id.len() <= 40).then(|| (id.to_string(), title_after_id(&t[id.len()..])))
}

/// `: Title`, ` + BUG-2: Title` → `Title`.
pub(super) fn title_after_id(rest: &str) -> String {
    let r = rest.trim().trim_start_matches('*').trim();
    let r = if r.starts_with(['+', ',', '/']) { r.split_once(": ").map_or(r, |(_, t)| t) } else { r };
    r.trim_start_matches([':', '—', '–', '-', ' ']).trim_end_matches('*').trim().to_string()
}

/// The heading as a title: numbering, a status marker and its separator left out.
pub(super) fn title_of(text: &str, status: Option<&Range<usize>>) -> String {
    let mut t = text.trim_end().trim_end_matches('#').trim_end().to_string();
    if let Some(r) = status.filter(|r| r.end <= t.len()) {
        t.replace_range(r.clone(), "");
    }
    let t = t.trim_end().trim_end_matches(['-', '—', '–', ':', '(', '[']).trim();
    let t = t.replace("()", "").replace("[]", "");
    NUMBERING.find(&t).map_or(t.as_str(), |m| &t[m.end()..]).trim().to_string()
}

/// An ID made from the words of a title: its first four words in capitals when they are mostly
/// Latin letters (`PHASE-1-CORE-PIPELINE`), else a short hash of it (`S-3F2A`).
pub(super) fn synthesised_id(title: &str) -> String {
    let plain: String = title.split(['(', '[']).next().unwrap_or(title).to_string();
    let letters = plain.chars().filter(|c| c.is_alphabetic()).count();
    let latin = plain.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let words: Vec<String> = plain
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    if latin * 2 >= letters && latin > 0 && !words.is_empty() {
        return words.join("-");
    }
    // FNV-1a: stable across runs and machines, unlike the std hasher.
    let h = title.trim().bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    format!("S-{:04X}", h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_or_made_from_the_title() {
        assert_eq!(
            explicit_id("W1: Phase time tracking broken"),
            Some(("W1".into(), "Phase time tracking broken".into()))
        );
        assert_eq!(
            explicit_id("1.1 BUG-DV-015 + BUG-DV-016: WebSocket Auth Bypass"),
            Some(("BUG-DV-015".into(), "WebSocket Auth Bypass".into()))
        );
        assert_eq!(explicit_id("**[C-01] Fix Destination Path**").map(|x| x.0), Some("C-01".into()));
        assert_eq!(explicit_id("Phase 1: Core"), None);
        assert_eq!(synthesised_id("Phase 1: Core Pipeline & Connectivity"), "PHASE-1-CORE-PIPELINE");
        assert_eq!(synthesised_id("Possible dead code (lower confidence)"), "POSSIBLE-DEAD-CODE");
        let arabic = synthesised_id("المرحلة 1: تحديث HTML");
        assert!(arabic.starts_with("S-") && arabic.len() == 6, "{arabic}");
        assert_eq!(arabic, synthesised_id("المرحلة 1: تحديث HTML"));
        assert_eq!(title_of("8. Possible dead code", None), "Possible dead code");
    }
}
