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
fn missing(from: u64, to: u64) -> String {
    if from == to {
        format!("#{from}")
    } else {
        format!("#{from}–#{to}")
    }
}

/// What every rule reads.
struct Ctx<'m> {
    model: &'m Model,
    today: &'m str,
}

impl Ctx<'_> {
    fn ledger_file(&self) -> String {
        self.model.ledger.doc.file.clone()
    }
}

fn finding(file: &str, line: usize, severity: Severity, code: &'static str, message: String) -> Finding {
    Finding { file: file.to_string(), line, severity, code, message, fixable: false }
}

type Rule = fn(&Ctx, &mut Vec<Finding>);

/// Every finding code and the one function that looks for it.
const RULES: &[(&str, Rule)] = &[
    ("structure", structure),
    ("duplicate-id", duplicate_id),
    ("index-without-section", index_without_section),
    ("index-status", index_status),
    ("section-without-index", section_without_index),
    ("attempt-repeated", attempt_repeated),
    ("attempt-order", attempt_order),
    ("attempt-skipped", attempt_skipped),
    ("attempt-future", attempt_future),
    ("artifact-missing", artifact_missing),
    ("plan-missing", plan_missing),
    ("unknown-state", unknown_state),
    ("phase-done-open", phase_done_open),
    ("dead-link", dead_link),
];

pub fn lint(model: &Model, today: &str) -> Report {
    let ctx = Ctx { model, today };
    let mut f: Vec<Finding> = Vec::new();
    for (code, rule) in RULES {
        let before = f.len();
        rule(&ctx, &mut f);
        debug_assert!(f[before..].iter().all(|x| x.code == *code), "rule {code} reported another code");
    }
    f.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    let errors = f.iter().filter(|x| x.severity == Severity::Error).count();
    Report { warnings: f.len() - errors, errors, findings: f, fixed: 0 }
}

/// Structural problems the parsers reported as errors (tables, fences, headings without ID).
fn structure(c: &Ctx, f: &mut Vec<Finding>) {
    for d in c.model.diagnostics().into_iter().filter(|d| d.severity == Severity::Error) {
        f.push(finding(&d.file, d.line, Severity::Error, "structure", d.message.clone()));
    }
}

/// Item sections (not archive bullets).
fn sections<'m>(c: &Ctx<'m>) -> impl Iterator<Item = &'m crate::ledger::Item> {
    c.model.ledger.items.iter().filter(|i| !i.archived)
}

fn duplicate_id(c: &Ctx, f: &mut Vec<Finding>) {
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in sections(c) {
        match first.get(&i.id.to_ascii_uppercase()) {
            Some(&line) => f.push(finding(
                &c.ledger_file(),
                i.line,
                Severity::Error,
                "duplicate-id",
                format!("[{}] is already defined at line {line}", i.id),
            )),
            None => {
                first.insert(i.id.to_ascii_uppercase(), i.line);
            }
        }
    }
}

fn index_without_section(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    for row in l.index.iter().filter(|r| l.find(&r.id).is_empty()) {
        f.push(finding(
            &c.ledger_file(),
            row.line,
            Severity::Error,
            "index-without-section",
            format!("Index row [{}] has no `## [{}]` section", row.id, row.id),
        ));
    }
}

fn index_status(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    for row in &l.index {
        let Some(item) = l.find(&row.id).into_iter().next() else { continue };
        if let (Some(a), Some(b)) = (row.status.as_deref().map(status_word), item.status().map(status_word)) {
            if a != b {
                let mut x = finding(
                    &c.ledger_file(),
                    row.line,
                    Severity::Warning,
                    "index-status",
                    format!("Index says [{}] is `{a}`, its section (line {}) says `{b}`", row.id, item.line),
                );
                x.fixable = true;
                f.push(x);
            }
        }
    }
}

fn section_without_index(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    if l.index.is_empty() {
        return;
    }
    let listed: BTreeSet<String> = l.index.iter().map(|r| r.id.to_ascii_uppercase()).collect();
    let mut seen = BTreeSet::new();
    for i in sections(c) {
        if !listed.contains(&i.id.to_ascii_uppercase()) && seen.insert(i.id.to_ascii_uppercase()) {
            let mut x = finding(
                &c.ledger_file(),
                i.line,
                Severity::Warning,
                "section-without-index",
                format!("[{}] has no row in the Index", i.id),
            );
            x.fixable = true;
            f.push(x);
        }
    }
}

/// Each item's attempts with the highest number seen before each (None for the first), skipping
/// repeats: what the ordering rules compare.
fn attempt_runs<'m>(
    c: &Ctx<'m>,
) -> impl Iterator<Item = (&'m crate::ledger::Item, &'m crate::ledger::Attempt, u64, Option<u64>, bool)> {
    c.model.ledger.items.iter().flat_map(|item| {
        let mut prev: Option<u64> = None;
        let mut numbers = BTreeSet::new();
        item.attempts.iter().filter_map(move |a| {
            let n = a.number?;
            let repeated = !numbers.insert(n);
            let before = prev;
            if !repeated {
                prev = Some(prev.map_or(n, |p| p.max(n)));
            }
            Some((item, a, n, before, repeated))
        })
    })
}

fn attempt_repeated(c: &Ctx, f: &mut Vec<Finding>) {
    for (item, a, n, _, repeated) in attempt_runs(c) {
        if repeated {
            f.push(finding(
                &c.ledger_file(),
                a.line,
                Severity::Warning,
                "attempt-repeated",
                format!("[{}] Attempt #{n} appears again", item.id),
            ));
        }
    }
}

fn attempt_order(c: &Ctx, f: &mut Vec<Finding>) {
    for (item, a, n, prev, repeated) in attempt_runs(c) {
        if let (Some(p), false) = (prev, repeated) {
            if n < p {
                f.push(finding(
                    &c.ledger_file(),
                    a.line,
                    Severity::Warning,
                    "attempt-order",
                    format!("[{}] Attempt #{n} comes after #{p}", item.id),
                ));
            }
        }
    }
}

fn attempt_skipped(c: &Ctx, f: &mut Vec<Finding>) {
    for (item, a, n, prev, repeated) in attempt_runs(c) {
        if let (Some(p), false) = (prev, repeated) {
            if n > p + 1 {
                f.push(finding(
                    &c.ledger_file(),
                    a.line,
                    Severity::Warning,
                    "attempt-skipped",
                    format!("[{}] Attempt #{n} follows #{p} ({} missing)", item.id, missing(p + 1, n - 1)),
                ));
            }
        }
    }
}

fn attempt_future(c: &Ctx, f: &mut Vec<Finding>) {
    for item in &c.model.ledger.items {
        for a in &item.attempts {
            if let Some(d) = a.date.as_deref().filter(|d| *d > c.today) {
                f.push(finding(
                    &c.ledger_file(),
                    a.line,
                    Severity::Warning,
                    "attempt-future",
                    format!("[{}] {} is dated {d}, after today ({})", item.id, a.label(), c.today),
                ));
            }
        }
    }
}

fn artifact_missing(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    for a in l.items.iter().flat_map(|i| &i.attempts) {
        for cap in REPORT_PATH.captures_iter(l.doc.slice(&a.text)) {
            let p = cap[1].trim_end_matches(['.', ',', ';']);
            // `reports/.../<STAMP>/x.md`, `$STAMP`, `<loop_slug>`: a pattern, not a file.
            if !crate::artifacts::is_template(p) && !c.model.ws.root.join(p).exists() {
                f.push(finding(
                    &c.ledger_file(),
                    a.line,
                    Severity::Warning,
                    "artifact-missing",
                    format!("artifact {p} does not exist here"),
                ));
            }
        }
    }
}

/// An open item whose plan field names no active plan (a closed item's plan may be archived).
fn plan_missing(c: &Ctx, f: &mut Vec<Finding>) {
    for item in sections(c).filter(|i| i.is_open()) {
        match crate::focus::resolve_plan(c.model, item).broken {
            Some(crate::Error::Input { file, line, message }) => {
                f.push(finding(&file, line, Severity::Error, "plan-missing", message))
            }
            Some(e) => f.push(finding(&c.ledger_file(), item.line, Severity::Error, "plan-missing", e.to_string())),
            None => {}
        }
    }
}

fn unknown_state(c: &Ctx, f: &mut Vec<Finding>) {
    for plan in &c.model.plans {
        for t in plan.phases.iter().flat_map(|p| &p.tasks).filter(|t| t.state == TaskState::Unknown) {
            f.push(finding(
                &plan.path,
                t.line,
                Severity::Warning,
                "unknown-state",
                format!(
                    "task {}: state `{}` is not [ ], [P], [D], [B] or skipped",
                    t.id,
                    plan.doc.slice(&t.state_range)
                ),
            ));
        }
    }
}

fn phase_done_open(c: &Ctx, f: &mut Vec<Finding>) {
    for plan in &c.model.plans {
        for phase in &plan.phases {
            let open: Vec<&str> = phase.tasks.iter().filter(|t| !t.state.is_closed()).map(|t| t.id.as_str()).collect();
            if DONE_TITLE.is_match(&phase.title) && !open.is_empty() {
                f.push(finding(
                    &plan.path,
                    phase.line,
                    Severity::Error,
                    "phase-done-open",
                    format!("Phase {} is marked done but tasks {} are not [D]", phase.id, open.join(", ")),
                ));
            }
        }
    }
}

fn dead_link(c: &Ctx, f: &mut Vec<Finding>) {
    for (path, line) in &c.model.protected.linked {
        if !c.model.ws.root.join(path).exists() {
            f.push(finding(
                &c.model.ws.config.index,
                *line,
                Severity::Error,
                "dead-link",
                format!("links {path}, which does not exist"),
            ));
        }
    }
}

/// `loop lint [--fix]`: the findings, and with `fix` the mechanical ones repaired first (under the
/// ledger's lock) and the findings that are left.
pub fn run(ws: crate::workspace::Workspace, fix_them: bool) -> Result<Report> {
    let _lock = if fix_them { Some(crate::atomic::WorkspaceLock::acquire(&ws.root)?) } else { None };
    let model = Model::load(ws)?;
    let today = crate::clock::date(&crate::clock::now()?);
    let mut report = lint(&model, &today);
    if fix_them {
        let fixed = fix(&model, &report)?;
        if fixed > 0 {
            let model = Model::load(model.ws.clone())?;
            report = lint(&model, &today);
            report.fixed = fixed;
        }
    }
    Ok(report)
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
        if at == doc.text.len() && !doc.text.ends_with(['\n', '\r']) {
            text.push_str(nl);
        }
        for f in missing {
            let Some(item) = l.items.iter().find(|i| i.line == f.line) else { continue };
            let cells: Vec<String> = header
                .iter()
                .map(|h| match h.as_str() {
                    "id" => {
                        format!("[{}](#{})", item.id, crate::markdown::slug(&format!("{} {}", item.id, item.title)))
                    }
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
    let change = crate::transaction::change(&model.ws, &doc.file, &doc.text, after, &edits);
    crate::transaction::apply(&model.ws, &model.protected, &[change])?;
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
