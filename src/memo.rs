//! The Do Now memo (`input.md`): `Key: value` lines written by a supervisor for the next step.

use std::sync::LazyLock;

use regex::Regex;

use crate::markdown::Document;

static KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([A-Z][A-Za-z &/]{1,40}):[ \t]*(.*)$").unwrap());
static CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`]+)`").unwrap());
static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\[?({})\]?", crate::ledger::ID_PATTERN)).unwrap());

#[derive(Debug, Clone)]
pub struct MemoField {
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct Memo {
    pub path: String,
    pub fields: Vec<MemoField>,
}

impl Memo {
    pub fn parse(doc: &Document) -> Memo {
        let fields = (1..=doc.line_count())
            .filter_map(|n| {
                KEY.captures(doc.line_text(n)).map(|c| MemoField {
                    key: c[1].trim().to_string(),
                    value: c[2].trim().to_string(),
                    line: n,
                })
            })
            .collect();
        Memo { path: doc.file.clone(), fields }
    }

    pub fn get(&self, key: &str) -> Option<&MemoField> {
        self.fields.iter().find(|f| f.key.eq_ignore_ascii_case(key))
    }

    /// The item IDs the `Focus:` line names, in order (`CLI-FLAGS-003 / plans/... > Phase L`,
    /// `docs/fix_plan.md §[X-1]`, `T-2 (Next Action 9 – C-3 diagnostics)`).
    pub fn focus_ids(&self) -> Option<(Vec<String>, usize)> {
        let f = self.get("Focus")?;
        let ids: Vec<String> = ID.captures_iter(&f.value).map(|c| c[1].to_string()).collect();
        (!ids.is_empty()).then_some((ids, f.line))
    }

    /// The first item ID on the `Focus:` line.
    pub fn focus(&self) -> Option<(String, usize)> {
        self.focus_ids().map(|(ids, line)| (ids[0].clone(), line))
    }

    /// The runnable command of the `Do Now:` line, if it names one (see `command::extract`).
    pub fn do_now(&self) -> Option<(String, usize)> {
        let f = self.get("Do Now")?;
        crate::command::extract(&f.value).map(|c| (c, f.line))
    }

    /// The artifacts folder on the first `Artifacts:` line: its first path, cut before a
    /// `{a,b}` file list or a file name.
    pub fn artifacts(&self) -> Option<(String, usize)> {
        let f = self.get("Artifacts")?;
        let v = first_code(&f.value).unwrap_or_else(|| f.value.split_whitespace().next().unwrap_or("").to_string());
        let v = v.trim_end_matches([';', ',', '.']);
        let v = v.split('{').next().unwrap_or(v);
        let last = v.rsplit('/').next().unwrap_or("");
        // `reports/x/summary.md` names a file: its folder holds the run.
        let v = if last.contains('.') && !last.starts_with('.') { &v[..v.len() - last.len()] } else { v };
        (v.contains('/')).then(|| (v.to_string(), f.line))
    }

    /// The log file the `If Blocked:` line asks for.
    pub fn blocked_log(&self) -> Option<(String, usize)> {
        let f = self.get("If Blocked")?;
        CODE.captures_iter(&f.value)
            .map(|c| c[1].to_string())
            .find(|c| c.ends_with(".log") || c.ends_with(".txt") || c.ends_with(".md"))
            .map(|c| (c, f.line))
    }
}

pub fn first_code(s: &str) -> Option<String> {
    CODE.captures(s).map(|c| c[1].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_memo_shape() {
        let text = "Summary: x\nFocus: VECTOR-TRICUBIC-002 Vectorization relaunch backlog\nArtifacts: reports/a/<STAMP>/\nDo Now: VECTOR-TRICUBIC-002 — Run via `A=1 python s.py --outdir reports/a/<STAMP>/profile/`\nIf Blocked: Capture stdout/stderr to `reports/a/<STAMP>/attempts/failed_profile.log`, log it.\n";
        let m = Memo::parse(&Document::parse("input.md", text.into()));
        assert_eq!(m.focus().unwrap(), ("VECTOR-TRICUBIC-002".to_string(), 2));
        assert_eq!(m.artifacts().unwrap().0, "reports/a/<STAMP>/");
        assert_eq!(m.do_now().unwrap().0, "A=1 python s.py --outdir reports/a/<STAMP>/profile/");
        assert_eq!(m.blocked_log().unwrap().0, "reports/a/<STAMP>/attempts/failed_profile.log");
    }
}
