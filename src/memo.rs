//! The Do Now memo (`input.md`): `Key: value` lines written by a supervisor for the next step.
//!
//! Two shapes are read. A one-line `Do Now: …`; or a `Do Now` header (`Do Now (hard validity
//! contract)`, with or without a colon) followed by labelled bullets (`- Implement: …`, `- Test:
//! …`, `- Artifact target: …`). The focus is the `Focus:` line, else an older memo's `Header: … |
//! Active Focus: [ID]`, else the start of the Do Now.

use crate::markdown::Document;

/// `Key: value` (a capital, then letters, spaces, `&/()-`), also as `**Key:**`, `## Key: …`, or a
/// bullet `- Key: value` when `bullet` allows it: the key as written and the value. Regex-free:
/// every memo line goes through it.
fn key_value(line: &str, bullet: bool) -> Option<(&str, &str)> {
    let mut t = line;
    if let Some(r) = t.strip_prefix('#') {
        t = r.trim_start_matches('#');
        if !t.starts_with([' ', '\t']) {
            return None;
        }
        t = t.trim_start();
    } else if bullet {
        t = t.trim_start_matches([' ', '\t']);
        t = t.strip_prefix(['-', '*', '+'])?;
        if !t.starts_with([' ', '\t']) {
            return None;
        }
        t = t.trim_start();
    } else if let Some(r) = t.strip_prefix(['-', '*', '+']).filter(|r| r.starts_with([' ', '\t'])) {
        t = r.trim_start();
    }
    let t = t.trim_start_matches('*');
    if !t.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let end = t.find(|c: char| !(c.is_ascii_alphabetic() || matches!(c, ' ' | '&' | '/' | '(' | ')' | '-')))?;
    let key = t[..end].trim_end();
    let after = t[end..].trim_start_matches('*');
    let value = after.strip_prefix(':')?.trim_start_matches('*');
    (key.len() >= 2 && key.len() <= 61).then_some((key, value.trim()))
}

/// A `Do Now` header line: `Do Now`, `Do Now (hard validity contract)`, `## Do Now:` — nothing
/// after it on the line.
fn is_do_now_header(line: &str) -> bool {
    let t = line.trim().trim_start_matches('#').trim().trim_matches('*').trim_end_matches(':').trim_end_matches('*');
    t.starts_with("Do Now") && (t.len() == 6 || t[6..].trim_start().starts_with('(') && t.ends_with(')'))
}

/// `2026-01-23T123500Z`, `20260123T123500Z`, `2026-01-23T12:35Z`.
fn is_timestamp(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else { return false };
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    let date: String = date.chars().filter(|c| *c != '-').collect();
    let Some(time) = time.strip_suffix('Z') else { return false };
    let time: String = time.chars().filter(|c| *c != ':').collect();
    digits(&date, 8) && (digits(&time, 4) || digits(&time, 6))
}

#[derive(Debug, Clone)]
pub struct MemoField {
    /// The name without a parenthetical (`Do Now` for `Do Now (hard validity contract)`).
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The Do Now: its text and, in the header form, its labelled bullets.
#[derive(Debug, Clone)]
pub struct DoNow {
    pub line: usize,
    /// The whole instruction: the line's text, and the bullets below a header.
    pub text: String,
    pub bullets: Vec<MemoField>,
}

/// Words of bullet labels that name a check to run after the work (`Test:`, `Run Pytest:`).
const CHECKS: &[&str] =
    &["test", "tests", "pytest", "validate", "validation", "verify", "capture", "run", "command", "check"];
/// Words of bullet labels that name work to do by hand (`Implement:`, `Update:`).
const WORK: &[&str] =
    &["implement", "implementation", "update", "author", "fix", "edit", "write", "add", "draft", "patch"];

fn label_has(key: &str, words: &[&str]) -> bool {
    key.split(|c: char| !c.is_ascii_alphabetic()).any(|w| words.contains(&w.to_ascii_lowercase().as_str()))
}

impl DoNow {
    pub fn bullet(&self, key: &str) -> Option<&MemoField> {
        self.bullets.iter().find(|b| b.key.eq_ignore_ascii_case(key))
    }

    /// Bullets that ask for work by hand (`Implement:`).
    pub fn work(&self) -> Vec<&MemoField> {
        self.bullets.iter().filter(|b| label_has(&b.key, WORK)).collect()
    }

    /// Bullets that name checks (`Test:`, `Pytest:`, `Validate:`, `Capture:`).
    pub fn checks(&self) -> Vec<&MemoField> {
        self.bullets.iter().filter(|b| label_has(&b.key, CHECKS) && !label_has(&b.key, WORK)).collect()
    }
}

#[derive(Debug)]
pub struct Memo {
    pub path: String,
    pub fields: Vec<MemoField>,
    pub do_now: Option<DoNow>,
    /// The bullets under a `Key:` line with no value (`Mapped tests:`, `Pointers:`), each with
    /// that key: what the list holds, line by line.
    pub lists: Vec<MemoField>,
}

fn key_of(name: &str) -> String {
    name.split('(').next().unwrap_or(name).trim().to_string()
}

impl Memo {
    pub fn parse(doc: &Document) -> Memo {
        let mut fields = Vec::new();
        let mut lists = Vec::new();
        let mut do_now: Option<DoNow> = None;
        let n = doc.line_count();
        let mut line = 1;
        while line <= n {
            let text = doc.line_text(line);
            let header = is_do_now_header(text);
            let field = if header || text.starts_with([' ', '\t']) { None } else { key_value(text, false) };
            if header || field.is_some_and(|(k, _)| key_of(k).eq_ignore_ascii_case("Do Now")) {
                let first = field.map(|(_, v)| v.to_string()).unwrap_or_default();
                // A Do Now that is itself a bullet owns only the bullets indented below it.
                let bulleted = text.starts_with(['-', '*', '+']);
                let (mut bullets, mut last) = bullets_after(doc, line, bulleted);
                let mut first = first;
                if header && bullets.is_empty() && first.is_empty() {
                    // `## Do Now`, then numbered steps with labelled bullets nested under them.
                    (first, bullets, last) = numbered_steps(doc, line);
                }
                let mut text = first.clone();
                for b in &bullets {
                    text.push_str(&format!("\n{}: {}", b.key, b.value));
                }
                if do_now.is_none() {
                    do_now = Some(DoNow { line, text: text.trim().to_string(), bullets });
                }
                fields.push(MemoField { key: "Do Now".into(), value: first, line });
                line = last + 1;
                continue;
            }
            if let Some((k, v)) = field {
                if v.is_empty() {
                    lists.extend(list_after(doc, line, &key_of(k)));
                }
                fields.push(MemoField { key: key_of(k), value: v.to_string(), line });
            } else if let Some(f) = heading_focus(doc, line) {
                fields.push(f);
            }
            line += 1;
        }
        Memo { path: doc.file.clone(), fields, do_now, lists }
    }

    /// The entries of the memo's lists that hold checks (`Mapped tests:`, `Validation:`).
    pub fn check_lists(&self) -> Vec<&MemoField> {
        self.lists.iter().filter(|b| label_has(&b.key, CHECKS) && !label_has(&b.key, WORK)).collect()
    }

    pub fn get(&self, key: &str) -> Option<&MemoField> {
        self.fields.iter().find(|f| f.key.eq_ignore_ascii_case(key))
    }

    /// The texts that may name the memo's focus, in the order they count, each with its line:
    /// the `Focus:` line, what follows `Active Focus:` (its own line or a `Header: … |` line),
    /// and the start of the Do Now.
    pub fn focus_texts(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        if let Some(f) = self.get("Focus").filter(|f| !f.value.is_empty()) {
            out.push((f.value.clone(), f.line));
        }
        if let Some(f) = self.get("Active Focus") {
            out.push((f.value.clone(), f.line));
        }
        if let Some(f) = self.fields.iter().find(|f| f.value.contains("Active Focus:")) {
            let at = f.value.find("Active Focus:").unwrap_or(0) + "Active Focus:".len();
            out.push((f.value[at..].trim().to_string(), f.line));
        }
        if let Some(d) = &self.do_now {
            out.push((d.text.chars().take(120).collect(), d.line));
        }
        out
    }

    /// The first of `focus_texts`.
    pub fn focus_text(&self) -> Option<(String, usize)> {
        self.focus_texts().into_iter().next()
    }

    /// The artifacts folder: the Do Now's `Artifact target:` bullet, else the `Artifacts:` line;
    /// its first path, cut before a `{a,b}` file list or a file name. A last component that is a
    /// timestamp (`2026-01-23T123500Z`) is the stamp the supervisor chose: read as `<STAMP>`.
    pub fn artifacts(&self) -> Option<(String, usize)> {
        let f = self
            .do_now
            .as_ref()
            .and_then(|d| d.bullet("Artifact target").or_else(|| d.bullet("Artifacts target")))
            .or_else(|| self.get("Artifacts"))?;
        let v = first_code(&f.value).unwrap_or_else(|| f.value.split_whitespace().next().unwrap_or("").to_string());
        let v = v.trim_matches(['"', '\'']).trim_end_matches([';', ',', '.']);
        let v = v.split('{').next().unwrap_or(v);
        let last = v.rsplit('/').next().unwrap_or("");
        // `reports/x/summary.md` names a file: its folder holds the run.
        let v = if last.contains('.') && !last.starts_with('.') { &v[..v.len() - last.len()] } else { v };
        let trimmed = v.trim_end_matches('/');
        let tail = trimmed.rsplit('/').next().unwrap_or("");
        let v = if is_timestamp(tail) {
            format!("{}<STAMP>/", &trimmed[..trimmed.len() - tail.len()])
        } else {
            v.to_string()
        };
        (v.contains('/')).then_some((v, f.line))
    }

    /// The log file the `If Blocked:` line asks for.
    pub fn blocked_log(&self) -> Option<(String, usize)> {
        let f = self.get("If Blocked")?;
        crate::markdown::code_spans(&f.value)
            .into_iter()
            .map(|(_, c)| c.to_string())
            .find(|c| c.ends_with(".log") || c.ends_with(".txt") || c.ends_with(".md"))
            .map(|c| (c, f.line))
    }
}

/// The labelled bullets under a Do Now line or header, up to a blank line followed by a
/// non-bullet, or the next `Key:` line; with the last line they take.
fn bullets_after(doc: &Document, line: usize, indented_only: bool) -> (Vec<MemoField>, usize) {
    let mut out: Vec<MemoField> = Vec::new();
    let mut last = line;
    let mut n = line + 1;
    while n <= doc.line_count() {
        let text = doc.line_text(n);
        if text.trim().is_empty() {
            // A blank line ends the block unless bullets go on right after it.
            if out.is_empty() || !doc.line_text(n + 1).trim_start().starts_with(['-', '*', '+']) {
                break;
            }
            n += 1;
            continue;
        }
        if indented_only && !text.starts_with([' ', '\t']) {
            break;
        }
        if let Some((k, v)) = key_value(text, true) {
            out.push(MemoField { key: key_of(k), value: v.to_string(), line: n });
        } else if text.starts_with([' ', '\t']) && !out.is_empty() {
            // A wrapped bullet continues the last one.
            let b = out.last_mut().unwrap();
            b.value.push(' ');
            b.value.push_str(text.trim());
        } else {
            break;
        }
        last = n;
        n += 1;
    }
    (out, last)
}

/// The bullets right under `key`'s line, up to the first line that is neither a bullet nor
/// indented (a wrapped bullet goes on).
fn list_after(doc: &Document, line: usize, key: &str) -> Vec<MemoField> {
    let mut out: Vec<MemoField> = Vec::new();
    for n in line + 1..=doc.line_count() {
        let text = doc.line_text(n);
        let t = text.trim_start();
        match t.strip_prefix(['-', '*', '+']).filter(|r| r.starts_with([' ', '\t'])) {
            Some(r) => out.push(MemoField { key: key.to_string(), value: r.trim().to_string(), line: n }),
            None if !t.is_empty() && text.starts_with([' ', '\t']) && !out.is_empty() => {
                let b = out.last_mut().unwrap();
                b.value.push(' ');
                b.value.push_str(t);
            }
            None => break,
        }
    }
    out
}

/// `## Focus` (or `**Focus**`) alone on its line, the item on the next non-blank one.
fn heading_focus(doc: &Document, line: usize) -> Option<MemoField> {
    let t = doc.line_text(line).trim();
    let word = t.trim_start_matches('#').trim().trim_matches('*').trim_end_matches(':').trim();
    if !(t.starts_with('#') || t.starts_with("**")) || !word.eq_ignore_ascii_case("focus") {
        return None;
    }
    let next = (line + 1..=doc.line_count().min(line + 3)).find(|&n| !doc.line_text(n).trim().is_empty())?;
    let value = doc.line_text(next).trim().trim_start_matches(['-', '*', '+']).trim();
    (!value.starts_with('#') && !value.is_empty()).then(|| MemoField {
        key: "Focus".into(),
        value: value.to_string(),
        line: next,
    })
}

/// A Do Now header's section written as numbered steps (`1. **Write the plan**:`) with labelled
/// bullets nested under them (`- Run: …`, `- Test command: …`): the first step's title, every
/// labelled bullet of the section, and the section's last line (before the next heading).
fn numbered_steps(doc: &Document, header: usize) -> (String, Vec<MemoField>, usize) {
    let (mut title, mut bullets, mut last) = (String::new(), Vec::new(), header);
    for n in header + 1..=doc.line_count() {
        let text = doc.line_text(n);
        if text.starts_with('#') {
            break;
        }
        last = n;
        let t = text.trim_start();
        let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && t[digits..].starts_with(". ") {
            if title.is_empty() {
                let step = t[digits + 2..].trim().replace("**", "");
                title = step.trim_end_matches(':').trim().to_string();
            }
            continue;
        }
        if text.starts_with([' ', '\t']) {
            if let Some((k, v)) = key_value(text, true) {
                bullets.push(MemoField { key: key_of(k), value: v.to_string(), line: n });
            }
        }
    }
    (title, bullets, last)
}

pub fn first_code(s: &str) -> Option<String> {
    crate::markdown::code_spans(s).first().map(|(_, c)| c.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_memo_shape() {
        let text = "Summary: x\nFocus: VECTOR-TRICUBIC-002 Vectorization relaunch backlog\nArtifacts: reports/a/<STAMP>/\nDo Now: VECTOR-TRICUBIC-002 — Run via `A=1 python s.py --outdir reports/a/<STAMP>/profile/`\nIf Blocked: Capture stdout/stderr to `reports/a/<STAMP>/attempts/failed_profile.log`, log it.\n";
        let m = Memo::parse(&Document::parse("input.md", text.into()));
        assert_eq!(m.focus_text().unwrap(), ("VECTOR-TRICUBIC-002 Vectorization relaunch backlog".to_string(), 2));
        assert_eq!(m.artifacts().unwrap().0, "reports/a/<STAMP>/");
        assert!(m.do_now.as_ref().unwrap().text.starts_with("VECTOR-TRICUBIC-002 — Run via"));
        assert_eq!(m.blocked_log().unwrap().0, "reports/a/<STAMP>/attempts/failed_profile.log");
    }

    #[test]
    fn a_key_without_a_value_holds_the_list_below_it() {
        let text = "Focus: X-1 — t\nMapped tests:\n- A=1 pytest -vv t.py::a | tee r/a.log\n- pytest t.py::b\n  --maxfail=1\nArtifacts: r/\nPointers:\n- plans/x.md:61 — Phase B.3 checklist\nDo Now:\n- Implement: x\n- Tests: run the mapped selectors\n";
        let m = Memo::parse(&Document::parse("input.md", text.into()));
        let checks: Vec<(&str, usize)> = m.check_lists().iter().map(|b| (b.value.as_str(), b.line)).collect();
        assert_eq!(checks, [("A=1 pytest -vv t.py::a | tee r/a.log", 3), ("pytest t.py::b --maxfail=1", 4)]);
        let pointers: Vec<&str> = m.lists.iter().filter(|b| b.key == "Pointers").map(|b| b.value.as_str()).collect();
        assert_eq!(pointers, ["plans/x.md:61 — Phase B.3 checklist"]);
        assert_eq!(m.get("Artifacts").unwrap().value, "r/");
    }

    #[test]
    fn reads_the_header_shape() {
        let text = "Summary: s\nFocus: DEMO-001.F1 — Await ack\nArtifacts: plans/active/DEMO-001/reports/2026-01-23T123500Z/\n\nDo Now (hard validity contract):\n- Checklist IDs: F1 (follow-up)\n- Implement: bin/x.py::f\n- Test: `pytest tests/t.py::x -q`\n- Artifact target: `plans/active/DEMO-001/reports/2026-01-23T123500Z/`\n\nHow-To Map:\n1. Run things.\n";
        let m = Memo::parse(&Document::parse("input.md", text.into()));
        let d = m.do_now.as_ref().unwrap();
        assert_eq!(d.line, 5);
        assert_eq!(d.bullets.len(), 4);
        assert_eq!(d.work()[0].value, "bin/x.py::f");
        assert_eq!(d.checks()[0].value, "`pytest tests/t.py::x -q`");
        assert_eq!(m.artifacts().unwrap().0, "plans/active/DEMO-001/reports/<STAMP>/");
        assert!(m.get("How-To Map").is_some());
        let old = "Header: 2025-10-01 | Active Focus: [CLI-FLAGS-003] Handle -nonoise\nDo Now: [CLI-FLAGS-003] run `pytest -q`\n";
        let m = Memo::parse(&Document::parse("input.md", old.into()));
        assert_eq!(m.focus_text().unwrap().0, "[CLI-FLAGS-003] Handle -nonoise");
        let bullets = "Summary: s\n- Focus: X-1 Thing\n- Do Now: X-1 — run `pytest -q`\n- If Blocked: stop.\n";
        let m = Memo::parse(&Document::parse("input.md", bullets.into()));
        assert_eq!(m.focus_text().unwrap(), ("X-1 Thing".to_string(), 2));
        assert_eq!(m.do_now.as_ref().unwrap().text, "X-1 — run `pytest -q`");
        assert!(m.get("If Blocked").is_some());
    }

    #[test]
    fn reads_a_focus_heading_and_numbered_steps_with_labelled_bullets() {
        let text = "# Input\n\n## Focus\nARCH-1 — The thing\n\n## Do Now\n\n1. **Write the plan**:\n   - Run: `python p.py`\n   - Test command: `pytest -q t.py`\n2. **Then the rest**\n   - Validate: `true`\n\n## If Blocked\n- stop\n";
        let m = Memo::parse(&Document::parse("input.md", text.into()));
        assert_eq!(m.focus_text(), Some(("ARCH-1 — The thing".into(), 4)));
        let d = m.do_now.clone().unwrap();
        assert_eq!(d.text.lines().next(), Some("Write the plan"));
        let keys: Vec<&str> = d.bullets.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["Run", "Test command", "Validate"]);
        // The If Blocked section is not the Do Now's.
        assert!(m.get("If Blocked").is_some() || !d.text.contains("stop"));
    }
}
