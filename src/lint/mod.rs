//! `loop lint`: what rots in a ledger and its plans — duplicated IDs, Index drift, attempt
//! numbering, future dates, unknown task states, dead links — each with file:line. `fix` repairs
//! the mechanical ones (Index status, missing Index rows) by splicing bytes.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

mod fix;

pub use fix::fix;

use regex::Regex;
use serde::Serialize;

use crate::diag::Severity;
use crate::error::Result;
use crate::ledger::status_word;
use crate::model::Model;
use crate::plan::TaskState;

static REPORT_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`(reports/[^`{}\s]*)(\{[^`]*\})?`").unwrap());
static DONE_TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\((complete|completed|done)\b|✅|\[D\]").unwrap());
/// "✅ MOSTLY COMPLETE", "(partially done)": a title that says the phase is not finished.
static NOT_DONE_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(mostly|partially|partial|nearly|almost|largely|in progress|pending)\b").unwrap()
});
/// `summary.md:257-365`, `x.py#L10`: a place in a file, after the file's name.
static LINE_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(:[0-9]+(-[0-9]+)?|#L[0-9]+(-L?[0-9]+)?)$").unwrap());

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
    /// The ledger, and how its reader took it (`sections: 7 ``## [ID]`` item(s) …`).
    pub ledger: String,
    pub read_as: String,
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
    ("plan-unread", plan_unread),
    ("stray-heading", stray_heading),
    ("ledger-absent", ledger_absent),
    ("duplicate-id", duplicate_id),
    ("index-without-section", index_without_section),
    ("index-status", index_status),
    ("index-duplicate", index_duplicate),
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
    Report {
        ledger: model.ledger.doc.file.clone(),
        read_as: model.ledger.describe(),
        warnings: f.len() - errors,
        errors,
        findings: f,
        fixed: 0,
    }
}

/// Structural problems the parsers reported as errors (tables, fences, headings without ID).
fn structure(c: &Ctx, f: &mut Vec<Finding>) {
    for d in c.model.diagnostics().into_iter().filter(|d| d.severity == Severity::Error) {
        f.push(finding(&d.file, d.line, Severity::Error, "structure", d.message.clone()));
    }
}

/// Plans in which loop reads no phase: never "done", always said.
fn plan_unread(c: &Ctx, f: &mut Vec<Finding>) {
    for p in c.model.plans.iter().filter(|p| p.phases.is_empty()) {
        for d in p.diagnostics.iter().filter(|d| d.message == crate::plan::NO_PHASE) {
            f.push(finding(&d.file, d.line, Severity::Warning, "plan-unread", d.message.clone()));
        }
    }
}

/// `-### [ID]`: an item heading that Markdown reads as text, so the item is not there.
fn stray_heading(c: &Ctx, f: &mut Vec<Finding>) {
    let not_heading = |d: &&crate::diag::Diagnostic| d.message.contains(crate::ledger::NOT_A_HEADING);
    for d in c.model.ledger.diagnostics.iter().filter(not_heading) {
        f.push(finding(&d.file, d.line, Severity::Warning, "stray-heading", d.message.clone()));
    }
}

/// A workspace with plans or a memo and no ledger yet: nothing recorded can be checked.
fn ledger_absent(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    if l.dialect == crate::ledger::Dialect::Absent {
        f.push(finding(&l.doc.file, 0, Severity::Warning, "ledger-absent", l.describe()));
    }
}

/// Item sections (not archive bullets).
fn sections<'m>(c: &Ctx<'m>) -> impl Iterator<Item = &'m crate::ledger::Item> {
    c.model.ledger.items.iter().filter(|i| !i.archived)
}

/// The entries whose ID (any case) an earlier entry has: (ID, line, the earlier line).
fn repeats<'a>(entries: impl Iterator<Item = (&'a str, usize)>) -> Vec<(&'a str, usize, usize)> {
    let mut first: HashMap<String, usize> = HashMap::new();
    entries
        .filter_map(|(id, line)| match first.get(&id.to_ascii_uppercase()) {
            Some(&at) => Some((id, line, at)),
            None => {
                first.insert(id.to_ascii_uppercase(), line);
                None
            }
        })
        .collect()
}

fn duplicate_id(c: &Ctx, f: &mut Vec<Finding>) {
    for (id, line, at) in repeats(sections(c).map(|i| (i.id.as_str(), i.line))) {
        let message = format!("[{id}] is already defined at line {at}");
        f.push(finding(&c.ledger_file(), line, Severity::Error, "duplicate-id", message));
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
            if a != b && !b.is_empty() {
                // The section is the item's own word, unless it says two things (two Status
                // fields): then a person decides, and --fix leaves it.
                let statuses = item.fields.iter().filter(|f| f.key.eq_ignore_ascii_case("Status")).count();
                // A roadmap bullet's stated status is prose loop does not rewrite.
                let fixable = statuses == 1 && row.status_range.is_some();
                let what = if fixable {
                    format!("`loop lint --fix` sets the Index row to `{b}`")
                } else if statuses == 1 {
                    "the row states it in prose; fix by hand".to_string()
                } else {
                    format!("the section has {statuses} Status fields; fix by hand")
                };
                let mut x = finding(
                    &c.ledger_file(),
                    row.line,
                    Severity::Warning,
                    "index-status",
                    format!("Index says [{}] is `{a}`, its section (line {}) says `{b}`; {what}", row.id, item.line),
                );
                x.fixable = fixable;
                f.push(x);
            }
        }
    }
}

fn index_duplicate(c: &Ctx, f: &mut Vec<Finding>) {
    for (id, line, at) in repeats(c.model.ledger.index.iter().map(|r| (r.id.as_str(), r.line))) {
        let message = format!("Index row [{id}] repeats the row at line {at}");
        f.push(finding(&c.ledger_file(), line, Severity::Warning, "index-duplicate", message));
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

fn attempt_repeated(c: &Ctx, f: &mut Vec<Finding>) {
    for item in &c.model.ledger.items {
        let mut seen = BTreeSet::new();
        for (a, n) in item.attempts.iter().filter_map(|a| a.number.map(|n| (a, n))) {
            if !seen.insert(n) {
                let message = format!("[{}] Attempt #{n} appears again", item.id);
                f.push(finding(&c.ledger_file(), a.line, Severity::Warning, "attempt-repeated", message));
            }
        }
    }
}

/// Entries out of place, each reported once: the attempts outside the longest run of increasing
/// numbers (one #77 among #9 and #10 is one finding, not one for every entry after it).
fn attempt_order(c: &Ctx, f: &mut Vec<Finding>) {
    for item in &c.model.ledger.items {
        let mut seen = BTreeSet::new();
        let numbered: Vec<(&crate::ledger::Attempt, u64)> =
            item.attempts.iter().filter_map(|a| a.number.map(|n| (a, n))).filter(|(_, n)| seen.insert(*n)).collect();
        let numbers: Vec<u64> = numbered.iter().map(|(_, n)| *n).collect();
        // Some items list their attempts newest first: the direction is the item's own, the one
        // most of its entries follow.
        let up = increasing_run(&numbers);
        let reversed: Vec<u64> = numbers.iter().rev().copied().collect();
        let mut down = increasing_run(&reversed);
        down.reverse();
        let count = |v: &[bool]| v.iter().filter(|k| **k).count();
        let newest_first = count(&down) > count(&up);
        let keep = if newest_first { down } else { up };
        let misplaced = keep.iter().filter(|k| !**k).count();
        // A list kept in blocks (some oldest first, some newest first) has no one order to
        // measure entries against: one finding for the item says so.
        if misplaced > 3 && misplaced * 5 > numbers.len() {
            if let Some((a, _)) = numbered.first() {
                f.push(finding(
                    &c.ledger_file(),
                    a.line,
                    Severity::Warning,
                    "attempt-order",
                    format!(
                        "[{}] attempts follow no one order: {misplaced} of {} entries are out of sequence (blocks oldest first and newest first)",
                        item.id,
                        numbers.len()
                    ),
                ));
            }
            continue;
        }
        for (k, (a, n)) in numbered.iter().enumerate() {
            if keep[k] {
                continue;
            }
            let before = numbers[..k].iter().zip(&keep).rev().find(|(_, kept)| **kept).map(|(n, _)| *n);
            let after = numbers[k + 1..].iter().zip(&keep[k + 1..]).find(|(_, kept)| **kept).map(|(n, _)| *n);
            let place = match (before, after) {
                (Some(b), Some(a)) => format!("between #{b} and #{a}"),
                (Some(b), None) => format!("after #{b}"),
                (None, Some(a)) => format!("before #{a}"),
                (None, None) => String::new(),
            };
            let place = if newest_first { format!("{place}, in a list kept newest first") } else { place };
            f.push(finding(
                &c.ledger_file(),
                a.line,
                Severity::Warning,
                "attempt-order",
                format!("[{}] Attempt #{n} is out of order ({place})", item.id),
            ));
        }
    }
}

/// Which numbers belong to a longest strictly increasing subsequence (patience sorting).
fn increasing_run(numbers: &[u64]) -> Vec<bool> {
    let mut tails: Vec<usize> = Vec::new();
    let mut prev = vec![usize::MAX; numbers.len()];
    for (i, &n) in numbers.iter().enumerate() {
        let at = tails.partition_point(|&t| numbers[t] < n);
        if at > 0 {
            prev[i] = tails[at - 1];
        }
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut keep = vec![false; numbers.len()];
    let mut k = tails.last().copied().unwrap_or(usize::MAX);
    while k != usize::MAX {
        keep[k] = true;
        k = prev[k];
    }
    keep
}

/// Numbers no entry of the item has, below its highest: each gap once, at the entry that follows
/// it in number (an entry merely out of place is attempt-order's, not a gap).
fn attempt_skipped(c: &Ctx, f: &mut Vec<Finding>) {
    for item in &c.model.ledger.items {
        let by_number: std::collections::BTreeMap<u64, usize> =
            item.attempts.iter().rev().filter_map(|a| a.number.map(|n| (n, a.line))).collect();
        let mut prev: Option<u64> = None;
        for (&n, &line) in &by_number {
            if let Some(p) = prev.filter(|p| n > p + 1) {
                f.push(finding(
                    &c.ledger_file(),
                    line,
                    Severity::Warning,
                    "attempt-skipped",
                    format!("[{}] Attempt #{n} follows #{p} ({} missing)", item.id, missing(p + 1, n - 1)),
                ));
            }
            prev = Some(n);
        }
    }
}

/// Attempts dated after today, once per item (an agent whose clock ran ahead dates every entry
/// so: one finding says it).
fn attempt_future(c: &Ctx, f: &mut Vec<Finding>) {
    for item in &c.model.ledger.items {
        let ahead: Vec<&crate::ledger::Attempt> =
            item.attempts.iter().filter(|a| a.date.as_deref().is_some_and(|d| d > c.today)).collect();
        let Some(first) = ahead.first() else { continue };
        let latest = ahead.iter().filter_map(|a| a.date.as_deref()).max().unwrap_or_default();
        let message = if ahead.len() == 1 {
            format!("[{}] {} is dated {latest}, after today ({})", item.id, first.label(), c.today)
        } else {
            format!(
                "[{}] {} attempts are dated after today ({}), the latest {latest}; first: {}",
                item.id,
                ahead.len(),
                c.today,
                first.label()
            )
        };
        f.push(finding(&c.ledger_file(), first.line, Severity::Warning, "attempt-future", message));
    }
}

fn artifact_missing(c: &Ctx, f: &mut Vec<Finding>) {
    let l = &c.model.ledger;
    for a in l.items.iter().flat_map(|i| &i.attempts) {
        for cap in REPORT_PATH.captures_iter(l.doc.slice(&a.text)) {
            let p = cap[1].trim_end_matches(['.', ',', ';']);
            let p = LINE_SUFFIX.replace(p, "");
            let p = p.as_ref();
            // `reports/.../<STAMP>/x.md`, `$STAMP`, `<loop_slug>`: a pattern, not a file.
            // Run folders stay out of git, so another clone's artifacts are simply not here; a
            // file missing from a folder that is here is what went wrong.
            let path = c.model.ws.root.join(p.trim_end_matches('/'));
            let folder_here =
                path.parent().is_some_and(|d| d.is_dir() && d != c.model.ws.path(&c.model.ws.config.reports.dir));
            if !crate::artifacts::is_template(p) && folder_here && !path.exists() {
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
                crate::plan::state_problem(&plan.doc, t),
            ));
        }
    }
}

fn phase_done_open(c: &Ctx, f: &mut Vec<Finding>) {
    for plan in &c.model.plans {
        for phase in &plan.phases {
            let open: Vec<&str> = phase.tasks.iter().filter(|t| !t.state.is_closed()).map(|t| t.id.as_str()).collect();
            if DONE_TITLE.is_match(&phase.title) && !NOT_DONE_TITLE.is_match(&phase.title) && !open.is_empty() {
                // A title is prose: it disagrees with the task table, it does not break a read.
                f.push(finding(
                    &plan.path,
                    phase.line,
                    Severity::Warning,
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
