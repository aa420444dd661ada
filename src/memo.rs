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

    /// The item ID on the `Focus:` line.
    pub fn focus(&self) -> Option<(String, usize)> {
        let f = self.get("Focus")?;
        ID.captures(&f.value).map(|c| (c[1].to_string(), f.line))
    }

    /// The backticked command on the `Do Now:` line (the last one when several).
    pub fn do_now(&self) -> Option<(String, usize)> {
        let f = self.get("Do Now")?;
        first_code(&f.value).map(|c| (c, f.line))
    }

    /// The artifacts folder on the `Artifacts:` line.
    pub fn artifacts(&self) -> Option<(String, usize)> {
        let f = self.get("Artifacts")?;
        let v = first_code(&f.value).unwrap_or_else(|| f.value.split_whitespace().next().unwrap_or("").to_string());
        (!v.is_empty()).then_some((v, f.line))
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
