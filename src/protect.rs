//! Protected assets: files that `docs/index.md` links (markdown links and backticked paths)
//! plus `protected:` globs from loop.yaml. `loop` never writes one — except the workflow's own
//! files (the ledger, the plans, the memo), which the workflow edits every turn: the project's
//! rule (nanoBragg's CLAUDE.md, "Protected Assets Rule") is that what the index lists is never
//! deleted or renamed, and that still holds for them. `frozen:` keeps even those unwritten.

use std::collections::BTreeSet;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use pulldown_cmark::{Event, Parser, Tag};

use crate::error::{Error, Result};
use crate::workspace::{normalize, to_slash, Workspace};

#[derive(Debug, Clone)]
pub struct Protected {
    /// Files the index names, relative to the root, with the index line that names each.
    pub linked: Vec<(String, usize)>,
    /// Paths agent instruction files call protected assets in prose.
    pub prose: Vec<String>,
    globs: GlobSet,
    frozen: GlobSet,
    /// The workflow's own files: the ledger, the memo, the plans.
    own: GlobSet,
    /// Why the index could not be read whole (an unclosed fence hides every link after it): then
    /// nothing may be written, since loop cannot tell what is protected.
    pub unreadable: Option<crate::diag::Diagnostic>,
    /// A path written anyway (`brief --write --force-protected`).
    allowed: Option<String>,
}

impl Protected {
    pub fn load(ws: &Workspace) -> Result<Protected> {
        let index = ws.path(&ws.config.index);
        let mut unreadable = None;
        let linked = if index.is_file() {
            let text = crate::fsutil::read_utf8(&index, &ws.config.index)?;
            let dir = Path::new(&ws.config.index).parent().unwrap_or(Path::new(""));
            unreadable = index_problem(&ws.config.index, &text);
            links(&text, dir)
        } else {
            Vec::new()
        };
        // Agent instruction files name protected assets in prose ("... is a protected asset").
        let mut prose = Vec::new();
        for doc in AGENT_DOCS {
            if let Ok(text) = std::fs::read_to_string(ws.path(doc)) {
                prose.extend(prose_mentions(&text).into_iter().map(|(p, _)| p));
            }
        }
        Ok(Protected {
            linked,
            prose,
            globs: ws.globs(&ws.config.protected, "protected")?,
            frozen: ws.globs(&ws.config.frozen, "frozen")?,
            own: own_files(ws),
            unreadable,
            allowed: None,
        })
    }

    pub fn empty() -> Protected {
        Protected {
            linked: Vec::new(),
            prose: Vec::new(),
            globs: GlobSet::empty(),
            frozen: GlobSet::empty(),
            own: GlobSet::empty(),
            unreadable: None,
            allowed: None,
        }
    }

    /// The same list, with one protected path that may be written anyway.
    pub fn allowing(mut self, rel: &str) -> Protected {
        self.allowed = Some(rel.to_string());
        self
    }

    /// The list is whole: an index that does not parse cleanly protects nothing loop can know of,
    /// so every write is refused until it is fixed.
    pub fn check_readable(&self) -> Result<()> {
        match &self.unreadable {
            Some(d) => Err(Error::input(
                &d.file,
                d.line,
                format!(
                    "{}; the protected assets it lists cannot be read, so loop writes nothing until it is fixed",
                    d.message
                ),
            )),
            None => Ok(()),
        }
    }

    /// Whether `rel` (relative to the root, `/`-separated) may not be written by loop.
    pub fn contains(&self, rel: &str) -> bool {
        self.linked.iter().any(|(p, _)| p == rel) || self.prose.iter().any(|p| p == rel) || self.globs.is_match(rel)
    }

    /// Protected by a loop.yaml `protected:` glob or agent-doc prose (no index edit lifts it).
    pub fn by_glob(&self, rel: &str) -> bool {
        self.globs.is_match(rel) || self.prose.iter().any(|p| p == rel)
    }

    pub fn is_frozen(&self, rel: &str) -> bool {
        self.contains(rel) && self.frozen.is_match(rel)
    }

    /// One of the workflow's own files (ledger, memo, plans): edited by the workflow even when
    /// listed, unless frozen; never deleted or renamed when listed.
    pub fn is_workflow(&self, rel: &str) -> bool {
        self.own.is_match(rel)
    }

    /// Whether loop and the turns may change (not delete) `rel`.
    pub fn may_edit(&self, rel: &str) -> bool {
        !self.contains(rel) || (self.is_workflow(rel) && !self.frozen.is_match(rel))
    }

    /// Sorted, distinct named paths (index links and agent-doc prose).
    pub fn paths(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.linked.iter().map(|(p, _)| p).chain(&self.prose).collect();
        set.into_iter().cloned().collect()
    }

    /// Refuse to write a protected file.
    pub fn check_writable(&self, rel: &str) -> Result<()> {
        self.check_readable()?;
        if !self.may_edit(rel) && self.allowed.as_deref() != Some(rel) {
            return Err(Error::input(
                rel,
                0,
                "is a protected asset (linked from the docs index or matched by loop.yaml `protected:`); loop never writes it",
            ));
        }
        Ok(())
    }
}

/// The ledger, the memo and the plans, by the workspace's configuration.
fn own_files(ws: &Workspace) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in [&ws.config.ledger, &ws.config.input, &ws.config.plans] {
        // A plans glob that does not compile is reported where plans are read.
        if let Ok(g) = Glob::new(p) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Why an index text cannot be read whole (an unclosed fence, an unterminated table), if it cannot.
pub fn index_problem(file: &str, text: &str) -> Option<crate::diag::Diagnostic> {
    let doc = crate::markdown::Document::parse(file, text.to_string());
    doc.diagnostics.into_iter().find(|d| d.is_error())
}

/// Files at the root whose prose may call paths protected assets.
const AGENT_DOCS: &[&str] = &["CLAUDE.md", "AGENTS.md"];

/// Paths linked or backticked on lines that say "protected asset".
pub fn prose_mentions(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.to_ascii_lowercase().contains("protected asset") {
            out.extend(links(line, Path::new("")).into_iter().map(|(p, _)| (p, i + 1)));
        }
    }
    out
}

/// Repository files an index links: `[t](./x.md#frag)` resolved against the index's folder, and
/// backticked `path/like.ext` resolved against the root. Folders, URLs and anchors are skipped,
/// as is anything that leaves the root.
pub fn links(text: &str, index_dir: &Path) -> Vec<(String, usize)> {
    let line_of = |offset: usize| 1 + text[..offset].matches('\n').count();
    let mut out = Vec::new();
    for (event, range) in Parser::new(text).into_offset_iter() {
        let (target, base) = match &event {
            Event::Start(Tag::Link { dest_url, .. }) => (dest_url.to_string(), index_dir),
            Event::Code(code) if looks_like_path(code) => (code.to_string(), Path::new("")),
            _ => continue,
        };
        if target.contains("://") || target.starts_with("mailto:") || target.starts_with('#') {
            continue;
        }
        let target = target.split('#').next().unwrap_or("").trim();
        if target.is_empty() || target.ends_with('/') {
            continue;
        }
        // normalize() pops past the start silently, so check the walk stays inside first.
        if escapes(&base.join(target)) {
            continue;
        }
        let joined = normalize(&base.join(target));
        out.push((to_slash(&joined), line_of(range.start)));
    }
    out
}

fn escapes(p: &Path) -> bool {
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::CurDir => {}
            _ => return true,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

fn looks_like_path(s: &str) -> bool {
    !s.contains(char::is_whitespace)
        && !s.contains(['*', '<', '>', '(', ')', '=', '$'])
        && s.contains('/')
        && Path::new(s).extension().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_links_against_the_index_folder() {
        let text = "* [A](./development/a.md#x) and [R](../README.md)\n* [Dir](../history/) [U](https://x.y/z.md) [out](../../etc/passwd)\n* see `scripts/run.py` and `not a path` and `docs/x`\n";
        let got = links(text, Path::new("docs"));
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["docs/development/a.md", "README.md", "scripts/run.py"]);
        assert_eq!(got[2].1, 3);
    }

    #[test]
    fn prose_names_protected_assets() {
        let text =
            "# Rules\n- `scripts/run.sh` is a Protected Asset; never delete it.\n- `scripts/other.sh` is fine.\n";
        assert_eq!(prose_mentions(text), vec![("scripts/run.sh".to_string(), 2)]);
    }
}
