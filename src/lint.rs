//! `loop lint`: what rots in a ledger and its plans — duplicated IDs, Index drift, attempt
//! numbering, future dates, unknown task states, dead links — each with file:line. `fix` repairs
//! the mechanical ones (Index status, missing Index rows) by splicing bytes.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::diag::Severity;
use crate::error::Result;
use crate::ledger::status_word;
use crate::markdown::splice;
use crate::model::Model;
use crate::plan::TaskState;

static REPORT_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`(reports/[^`{}\s]*)(\{[^`]*\})?`").unwrap());
static PLAN_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"plans/[A-Za-z0-9_./\-]+\.md").unwrap());
static DONE_TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\((complete|completed|done)\b|✅|\[D\]").unwrap());

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub fixable: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub errors: usize,
    pub warnings: usize,
    pub fixed: usize,
}

/// `#4` or `#1–#5`.
fn missing(from: u32, to: u32) -> String {
    if from == to {
        format!("#{from}")
    } else {
        format!("#{from}–#{to}")
    }
}

pub fn lint(model: &Model, today: &str) -> Report {
    let mut f: Vec<Finding> = Vec::new();
    let l = &model.ledger;
    let lf = l.doc.file.clone();
    let mut add = |file: &str, line: usize, severity, code, message: String, fixable| {
        f.push(Finding { file: file.to_string(), line, severity, code, message, fixable })
    };
    // Structural problems the parsers reported as errors (tables, fences, headings without ID).
    for d in model.diagnostics() {
        if d.severity == Severity::Error {
            add(&d.file, d.line, Severity::Error, "structure", d.message.clone(), false);
        }
    }
    let sections: Vec<&crate::ledger::Item> = l.items.iter().filter(|i| !i.archived).collect();
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in &sections {
        let key = i.id.to_ascii_uppercase();
        match first.get(&key) {
            Some(&line) => add(
                &lf,
                i.line,
                Severity::Error,
                "duplicate-id",
                format!("[{}] is already defined at line {line}", i.id),
                false,
            ),
            None => {
                first.insert(key, i.line);
            }
        }
    }
    let has_index = !l.index.is_empty();
    for row in &l.index {
        match l.find(&row.id).first() {
            None => add(
                &lf,
                row.line,
                Severity::Error,
                "index-without-section",
                format!("Index row [{}] has no `## [{}]` section", row.id, row.id),
                false,
            ),
            Some(item) => {
                let (a, b) = (row.status.as_deref().map(status_word), item.status().map(status_word));
                if let (Some(a), Some(b)) = (a, b) {
                    if a != b {
                        add(
                            &lf,
                            row.line,
                            Severity::Warning,
                            "index-status",
                            format!("Index says [{}] is `{a}`, its section (line {}) says `{b}`", row.id, item.line),
                            true,
                        );
                    }
                }
            }
        }
    }
    if has_index {
        let listed: BTreeSet<String> = l.index.iter().map(|r| r.id.to_ascii_uppercase()).collect();
        let mut seen = BTreeSet::new();
        for i in &sections {
            if !listed.contains(&i.id.to_ascii_uppercase()) && seen.insert(i.id.to_ascii_uppercase()) {
                add(
                    &lf,
                    i.line,
                    Severity::Warning,
                    "section-without-index",
                    format!("[{}] has no row in the Index", i.id),
                    true,
                );
            }
        }
    }
    for item in &l.items {
        let mut prev: Option<u32> = None;
        let mut numbers = BTreeSet::new();
        for a in &item.attempts {
            if !numbers.insert(a.number) {
                add(
                    &lf,
                    a.line,
                    Severity::Warning,
                    "attempt-repeated",
                    format!("[{}] Attempt #{} appears again", item.id, a.number),
                    false,
                );
            } else if let Some(p) = prev {
                if a.number < p {
                    add(
                        &lf,
                        a.line,
                        Severity::Warning,
                        "attempt-order",
                        format!("[{}] Attempt #{} comes after #{p}", item.id, a.number),
                        false,
                    );
                } else if a.number > p + 1 {
                    add(
                        &lf,
                        a.line,
                        Severity::Warning,
                        "attempt-skipped",
                        format!(
                            "[{}] Attempt #{} follows #{p} ({} missing)",
                            item.id,
                            a.number,
                            missing(p + 1, a.number - 1)
                        ),
                        false,
                    );
                }
            }
            prev = Some(prev.map_or(a.number, |p| p.max(a.number)));
            if let Some(d) = &a.date {
                if d.as_str() > today {
                    add(
                        &lf,
                        a.line,
                        Severity::Warning,
                        "attempt-future",
                        format!("[{}] Attempt #{} is dated {d}, after today ({today})", item.id, a.number),
                        false,
                    );
                }
            }
            let text = l.doc.slice(&a.text);
            for cap in REPORT_PATH.captures_iter(text) {
                let p = cap[1].trim_end_matches(['.', ',', ';']);
                // `reports/.../<STAMP>/x.md`, `$STAMP`, `<loop_slug>`: a pattern, not a file.
                if !crate::gate::is_template(p) && !model.ws.root.join(p).exists() {
                    add(
                        &lf,
                        a.line,
                        Severity::Warning,
                        "artifact-missing",
                        format!("artifact {p} does not exist here"),
                        false,
                    );
                }
            }
        }
        if let Some(refs) = item.field("Plan References") {
            for m in PLAN_PATH.find_iter(&refs.value) {
                if !model.ws.root.join(m.as_str()).is_file() {
                    add(
                        &lf,
                        refs.line,
                        Severity::Error,
                        "plan-missing",
                        format!("Plan References names {}, which does not exist", m.as_str()),
                        false,
                    );
                }
            }
        }
    }
    for plan in &model.plans {
        for phase in &plan.phases {
            for t in &phase.tasks {
                if t.state == TaskState::Unknown && !t.skipped {
                    add(
                        &plan.path,
                        t.line,
                        Severity::Warning,
                        "unknown-state",
                        format!(
                            "task {}: state `{}` is not [ ], [P], [D] or [B]",
                            t.id,
                            plan.doc.slice(&t.state_range)
                        ),
                        false,
                    );
                }
            }
            let open: Vec<&str> = phase
                .tasks
                .iter()
                .filter(|t| t.state != TaskState::Done && !t.skipped)
                .map(|t| t.id.as_str())
                .collect();
            if DONE_TITLE.is_match(&phase.title) && !open.is_empty() {
                add(
                    &plan.path,
                    phase.line,
                    Severity::Error,
                    "phase-done-open",
                    format!("Phase {} is marked done but tasks {} are not [D]", phase.id, open.join(", ")),
                    false,
                );
            }
        }
    }
    for (path, line) in &model.protected.linked {
        if !model.ws.root.join(path).exists() {
            add(
                &model.ws.config.index,
                *line,
                Severity::Error,
                "dead-link",
                format!("links {path}, which does not exist"),
                false,
            );
        }
    }
    f.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    let errors = f.iter().filter(|x| x.severity == Severity::Error).count();
    Report { warnings: f.len() - errors, errors, findings: f, fixed: 0 }
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.
fn anchor(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Apply the fixable findings to the ledger in one atomic write. Returns how many were fixed.
pub fn fix(model: &Model, report: &Report) -> Result<usize> {
    let l = &model.ledger;
    let doc = &l.doc;
    model.protected.check_writable(&doc.file)?;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut fixed = 0;
    for f in report.findings.iter().filter(|f| f.fixable && f.code == "index-status") {
        let Some(row) = l.index.iter().find(|r| r.line == f.line) else { continue };
        let found = l.find(&row.id);
        let (Some(range), Some(item)) = (&row.status_range, found.first()) else { continue };
        if let Some(status) = item.status() {
            edits.push((range.clone(), status_word(status)));
            fixed += 1;
        }
    }
    let missing: Vec<&Finding> =
        report.findings.iter().filter(|f| f.fixable && f.code == "section-without-index").collect();
    if let (false, Some(table)) = (missing.is_empty(), index_table(model)) {
        let nl = doc.newline();
        let header: Vec<String> = table.header.cells.iter().map(|c| doc.slice(c).trim().to_ascii_lowercase()).collect();
        let last = table.rows.last().map_or(table.header.line + 1, |r| r.line);
        let at = doc.line_start(last + 1);
        let mut text = String::new();
        if at == doc.text.len() && !doc.text.ends_with('\n') {
            text.push_str(nl);
        }
        for f in missing {
            let Some(item) = l.items.iter().find(|i| i.line == f.line) else { continue };
            let cells: Vec<String> = header
                .iter()
                .map(|h| match h.as_str() {
                    "id" => format!("[{}](#{})", item.id, anchor(&format!("{} {}", item.id, item.title))),
                    "title" => item.title.clone(),
                    "priority" => item.priority().map(status_word_keep_case).unwrap_or_default(),
                    "status" => item.status().map(status_word).unwrap_or_default(),
                    _ => String::new(),
                })
                .collect();
            text.push_str(&format!("| {} |{nl}", cells.join(" | ")));
            fixed += 1;
        }
        edits.push((at..at, text));
    }
    if edits.is_empty() {
        return Ok(0);
    }
    edits.sort_by_key(|(r, _)| r.start);
    let after = splice(&doc.text, &edits);
    crate::atomic::replace(&model.ws.ledger_path(), &doc.file, doc.text.as_bytes(), after.as_bytes())?;
    Ok(fixed)
}

fn status_word_keep_case(s: &str) -> String {
    s.split_whitespace().next().unwrap_or("").to_string()
}

fn index_table(model: &Model) -> Option<&crate::markdown::Table> {
    let doc = &model.ledger.doc;
    let first = model.ledger.index.first()?;
    doc.tables.iter().find(|t| t.rows.iter().any(|r| r.line == first.line))
}
