//! `loop attempt`: append a numbered attempt entry to a ledger item, and optionally move the
//! pointers around it (task state, Next Actions, Status + Index row, Last Updated). Every change
//! is a byte splice; every other byte of every file stays as it was.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::ledger::{self, Ledger};
use crate::markdown::{splice, Document};
use crate::model::Model;
use crate::plan::TaskState;
use crate::run::RunRecord;
use crate::{gate, run};

static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d{4}-\d{2}-\d{2}").unwrap());
static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[[^\]]{0,3}\]").unwrap());
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\s*)(\d+)([.)])(\s+)").unwrap());

#[derive(Debug, Default, Clone)]
pub struct Request {
    pub item: Option<String>,
    pub line: Option<usize>,
    pub result: Option<String>,
    pub phase: Option<String>,
    pub metrics: Vec<(String, String)>,
    pub artifacts: Vec<String>,
    pub note: Option<String>,
    pub next: Option<String>,
    pub date: String,
    pub from_run: Option<PathBuf>,
    pub tasks: Vec<(String, TaskState)>,
    pub next_actions: Vec<String>,
    pub status: Option<String>,
    pub touch: bool,
    /// With a run folder whose gates pass: do not mark its task `[D]`.
    pub no_task: bool,
    /// Record a run folder that an earlier attempt already recorded.
    pub again: bool,
}

/// One file's change: its bytes before and after, and the spliced ranges.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub file: String,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    pub before: String,
    #[serde(skip)]
    pub after: String,
    /// Byte ranges of the original file that were replaced, with their new text.
    pub edits: Vec<EditOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EditOut {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub item: String,
    /// 0 when only pointers moved (`--task`, `--status` … without `--result`).
    pub number: u32,
    /// 1-based line of the new entry in the written ledger.
    pub line: usize,
    pub entry: String,
    /// Byte range of the new entry (its whole line) in the written ledger.
    pub byte_range: [usize; 2],
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    /// Tasks whose state this attempt set, e.g. `C1 [D]`.
    pub tasks: Vec<String>,
}

/// Text that goes into the ledger verbatim must not forge structure: a line break would start a
/// new entry, a `|` would split an Index row, a fence would swallow the rest of the file.
fn check_text(flag: &str, text: &str) -> Result<()> {
    let why = if text.contains(['\r', '\n']) {
        "contains a line break"
    } else if text.replace("\\|", "").contains('|') {
        "contains `|`, which would split a table row (write `\\|`)"
    } else if text.contains("```") || text.contains("~~~") {
        "opens a code fence"
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!("{flag} {why}; nothing written")))
}

fn check_request(req: &Request) -> Result<()> {
    let one = |flag: &str, v: &Option<String>| v.as_deref().map_or(Ok(()), |t| check_text(flag, t));
    one("--note", &req.note)?;
    one("--next", &req.next)?;
    one("--status", &req.status)?;
    one("--phase", &req.phase)?;
    for a in &req.next_actions {
        check_text("--next-action", a)?;
    }
    for (k, v) in &req.metrics {
        check_text("--metric", &format!("{k}={v}"))?;
    }
    for a in &req.artifacts {
        check_text("--artifact", a)?;
    }
    let mut ids = std::collections::BTreeSet::new();
    for (id, _) in &req.tasks {
        if !ids.insert(id.to_ascii_uppercase()) {
            return Err(Error::Usage(format!("--task {id} is given twice; give each task once")));
        }
    }
    Ok(())
}

/// Build every change the request asks for, reading the model; write nothing.
pub fn prepare(model: &Model, req: &Request) -> Result<Outcome> {
    check_request(req)?;
    let mut req = req.clone();
    let mut warnings = Vec::new();
    let mut run_metrics = BTreeMap::new();
    let mut run_passed = false;
    if let Some(dir) = req.from_run.clone() {
        run_passed = from_run(model, &dir, &mut req, &mut run_metrics, &mut warnings)?;
    }
    let pointers_only = req.result.is_none()
        && (!req.tasks.is_empty() || req.status.is_some() || !req.next_actions.is_empty() || req.touch);
    if req.result.is_none() && !pointers_only {
        return Err(Error::Usage(
            "--result is required (or --from-run / --last-run; --task/--status/--next-action/--touch alone move pointers only)"
                .into(),
        ));
    }
    let result = req.result.clone().unwrap_or_default();
    let ledger = &model.ledger;
    let item = pick_item(model, &req)?;
    let lpath = &ledger.doc.file;
    model.protected.check_writable(lpath)?;

    // Gates from the plan, when the item has one and the phase is known.
    let plan = gate::plan_for(model, item).ok();
    let gate_list = match (&plan, &req.phase) {
        (Some(p), Some(ph)) => gates::from_plan(p, ph),
        _ => Vec::new(),
    };
    if let Some(dir) = &req.from_run {
        let abs = if dir.is_absolute() { dir.clone() } else { model.ws.root.join(dir) };
        let rel = model.ws.relative(&abs)?;
        let section = &ledger.doc.text[item.range.clone()];
        if !req.again && section.contains(rel.trim_end_matches('/')) {
            return Err(Error::input(
                lpath,
                item.line,
                format!("[{}] already records the run {rel}; pass --again to record it twice", item.id),
            ));
        }
    }
    let mut metric_text = Vec::new();
    let mut gates_failed = false;
    let mut seen = std::collections::BTreeSet::new();
    let cli_metrics: Vec<(String, String)> = req.metrics.clone();
    let all: Vec<(String, String)> =
        cli_metrics.into_iter().chain(run_metrics.iter().map(|(k, v)| (k.clone(), gates::fmt_num(*v)))).collect();
    for (k, v) in all {
        if !seen.insert(k.clone()) {
            continue;
        }
        let mut s = format!("{k}={v}");
        if let Some(x) = gates::parse_number(&v) {
            let one: BTreeMap<String, f64> = [(k.clone(), x)].into_iter().collect();
            if let Some(verdict) = gates::evaluate(&gate_list, &one).first() {
                gates_failed |= !verdict.pass;
                let mark = if verdict.pass { "✅" } else { "❌" };
                s.push_str(&format!(" {mark} (threshold {})", verdict.gate.describe()));
            }
        }
        metric_text.push(s);
    }
    for a in &req.artifacts {
        check_artifact(model, a, &mut warnings)?;
    }

    // A run whose command succeeded and whose gates all pass finishes its task.
    if run_passed && !gates_failed && !req.no_task {
        if let (Some(p), Some(task)) = (&plan, &req.phase) {
            if p.task(task).is_some_and(|(_, t)| t.state != TaskState::Done)
                && !req.tasks.iter().any(|(id, _)| id.eq_ignore_ascii_case(task))
            {
                req.tasks.push((task.clone(), TaskState::Done));
            }
        }
    }

    let number = if pointers_only { 0 } else { item.next_attempt_number() };
    let mut entry = format!("[{}] Attempt #{number} — Result: {result}", req.date);
    if let Some(p) = &req.phase {
        entry.push_str(&format!(" (Phase {p})"));
    }
    entry.push('.');
    if !metric_text.is_empty() {
        entry.push_str(&format!(" {}.", metric_text.join(", ")));
    }
    if !req.artifacts.is_empty() {
        let list: Vec<String> = req.artifacts.iter().map(|a| format!("`{a}`")).collect();
        entry.push_str(&format!(" Artifacts: {}.", list.join(", ")));
    }
    if let Some(n) = &req.note {
        entry.push_str(&format!(" Observations: {}", sentence(n)));
    }
    if let Some(n) = &req.next {
        entry.push_str(&format!(" Next: {}", sentence(n)));
    }
    if entry.contains('\n') {
        return Err(Error::Usage("attempt text may not contain line breaks".into()));
    }

    let doc = &ledger.doc;
    let nl = doc.newline();
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let (at, text) = if pointers_only { (0, String::new()) } else { attempt_insertion(ledger, item, &entry, nl) };
    if !pointers_only {
        edits.push((at..at, text.clone()));
    }
    if let Some(status) = &req.status {
        let f = item.field("Status").ok_or_else(|| {
            Error::input(lpath, item.line, format!("[{}] has no `- Status:` field to update", item.id))
        })?;
        edits.push((f.value_range.clone(), status.clone()));
        match ledger.index.iter().find(|r| r.id.eq_ignore_ascii_case(&item.id)) {
            Some(row) => match &row.status_range {
                Some(r) => edits.push((r.clone(), status.clone())),
                None => warnings.push(format!("{lpath}:{}: Index row has no Status column", row.line)),
            },
            None => {
                warnings.push(format!("{lpath}: [{}] has no Index row; only its Status field was updated", item.id))
            }
        }
    }
    for action in &req.next_actions {
        edits.push(next_action_insertion(ledger, item, action, nl)?);
    }
    if req.touch {
        let h = ledger
            .last_updated
            .as_ref()
            .ok_or_else(|| Error::input(lpath, 0, "no `**Last Updated:**` line to touch"))?;
        let value = &doc.text[h.value_range.clone()];
        let (range, new) = match DATE.find(value) {
            Some(m) => (h.value_range.start + m.start()..h.value_range.start + m.end(), req.date.clone()),
            None => (h.value_range.clone(), req.date.clone()),
        };
        edits.push((range, new));
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    for w in edits.windows(2) {
        if w[0].0.end > w[1].0.start {
            return Err(Error::Usage("two requested edits touch the same bytes".into()));
        }
    }
    let after = splice(&doc.text, &edits);
    // Where the entry landed in the new text: shift by the edits before it.
    let shift: isize =
        edits.iter().filter(|(r, _)| r.start < at).map(|(r, t)| t.len() as isize - (r.end - r.start) as isize).sum();
    let new_at = (at as isize + shift) as usize;
    let lead = text.len() - text.trim_start_matches(['\r', '\n']).len();
    let entry_start = new_at + lead;
    let entry_end = new_at + text.trim_end_matches(['\r', '\n']).len();
    let line = if pointers_only { 0 } else { 1 + after[..entry_start].matches('\n').count() };
    let mut changes = Vec::new();
    if !edits.is_empty() {
        changes.push(change(model, lpath, &doc.text, after, &edits));
    }
    let mut task_notes = Vec::new();

    if !req.tasks.is_empty() {
        let plan = plan.ok_or_else(|| Error::Usage(format!("--task: [{}] has no plan", item.id)))?;
        model.protected.check_writable(&plan.path)?;
        let mut pedits = Vec::new();
        for (id, state) in &req.tasks {
            let (_, task) = plan
                .task(id)
                .ok_or_else(|| Error::input(&plan.path, 0, format!("--task: no task {id} in this plan")))?;
            let cell = plan.doc.slice(&task.state_range);
            let len = MARKER.find(cell).map_or(0, |m| m.end());
            let r = task.state_range.start..task.state_range.start + len;
            pedits.push((r, state.marker().to_string()));
            task_notes.push(format!("{} {}", task.id, state.marker()));
        }
        pedits.sort_by_key(|(r, _)| r.start);
        let after = splice(&plan.doc.text, &pedits);
        changes.push(change(model, &plan.path, &plan.doc.text, after, &pedits));
    }
    let (entry, byte_range) = if pointers_only { (String::new(), [0, 0]) } else { (entry, [entry_start, entry_end]) };
    Ok(Outcome { item: item.id.clone(), number, line, entry, byte_range, changes, warnings, tasks: task_notes })
}

fn change(model: &Model, file: &str, before: &str, after: String, edits: &[(Range<usize>, String)]) -> Change {
    Change {
        file: file.to_string(),
        path: model.ws.path(file),
        before: before.to_string(),
        after,
        edits: edits.iter().map(|(r, t)| EditOut { start: r.start, end: r.end, text: t.clone() }).collect(),
    }
}

/// Write every change, all or none: each file is checked (protected, writable, unchanged on
/// disk) before any is replaced, and a later failure puts the earlier files back. The caller
/// holds the ledger lock; the plans are locked here, after it, always in that order.
pub fn apply(model: &Model, outcome: &Outcome) -> Result<()> {
    let mut locks = Vec::new();
    for c in &outcome.changes {
        model.protected.check_writable(&c.file)?;
        crate::atomic::check_writable(&c.path, &c.file)?;
        if c.file != model.ledger.doc.file {
            locks.push(crate::atomic::Lock::exclusive(&c.path)?);
        }
    }
    let mut done: Vec<&Change> = Vec::new();
    for c in &outcome.changes {
        if let Err(e) = crate::atomic::replace(&c.path, &c.file, c.before.as_bytes(), c.after.as_bytes()) {
            for d in done.iter().rev() {
                let _ = crate::atomic::replace(&d.path, &d.file, d.after.as_bytes(), d.before.as_bytes());
            }
            return Err(e);
        }
        done.push(c);
    }
    Ok(())
}

/// Unified diffs of all changes, for `--dry-run`.
pub fn diff(outcome: &Outcome) -> String {
    let mut out = String::new();
    for c in &outcome.changes {
        let d = similar::TextDiff::from_lines(&c.before, &c.after);
        out.push_str(
            &d.unified_diff().context_radius(2).header(&format!("a/{}", c.file), &format!("b/{}", c.file)).to_string(),
        );
    }
    out
}

fn sentence(s: &str) -> String {
    let s = s.trim();
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

fn pick_item<'m>(model: &'m Model, req: &Request) -> Result<&'m ledger::Item> {
    let ledger = &model.ledger;
    let id = match &req.item {
        Some(id) => id.clone(),
        None => gate::focus(model, None)?.0.id.clone(),
    };
    let found = ledger.find(&id);
    if let Some(line) = req.line {
        return found
            .into_iter()
            .find(|i| i.line == line)
            .ok_or_else(|| Error::input(&ledger.doc.file, line, format!("no [{id}] item heading on this line")));
    }
    match found.as_slice() {
        [] => Err(gate::unknown_item(model, &id)),
        [one] => Ok(one),
        many => Err(Error::input(
            &ledger.doc.file,
            many[1].line,
            format!(
                "item [{id}] appears {} times (lines {}); choose one with --line N",
                many.len(),
                many.iter().map(|i| i.line.to_string()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

fn check_artifact(model: &Model, a: &str, warnings: &mut Vec<String>) -> Result<()> {
    let path = Path::new(a.split('{').next().unwrap_or(a));
    model.ws.relative(path).map_err(|_| {
        Error::input(a, 0, format!("artifact path is outside the workspace {}; refusing", model.ws.root.display()))
    })?;
    if !model.ws.root.join(path).exists() {
        warnings.push(format!("artifact {a} does not exist (yet); recorded anyway"));
    }
    Ok(())
}

/// Fill the request from a run folder; true when the run's command succeeded.
fn from_run(
    model: &Model,
    dir: &Path,
    req: &mut Request,
    metrics: &mut BTreeMap<String, f64>,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let abs = if dir.is_absolute() { dir.to_path_buf() } else { model.ws.root.join(dir) };
    let rec = RunRecord::load(&abs)?;
    req.item.get_or_insert(rec.item.clone());
    if req.phase.is_none() {
        req.phase = rec.task.clone().or(rec.phase.clone());
    }
    req.result.get_or_insert_with(|| if rec.exit_code == 0 { "success".into() } else { "failed".into() });
    let rel = model.ws.relative(&abs)?;
    let mut files = vec![format!("{rel}/run.json")];
    for sub in ["", "profile/", "hotspots/"] {
        for f in ["metrics.json", "summary.md", "trace.json", "hot_loops.csv"] {
            if abs.join(sub).join(f).is_file() {
                files.push(format!("{rel}/{sub}{f}"));
            }
        }
    }
    req.artifacts.splice(0..0, files);
    if let Some(log) = &rec.blocked_log {
        req.artifacts.push(log.clone());
    }
    if rec.exit_code != 0 && req.note.is_none() {
        req.note = Some(format!(
            "exit code {}{} after {:.1} s; see the If-Blocked log",
            rec.exit_code,
            if rec.interrupted { " (interrupted)" } else { "" },
            rec.duration_s
        ));
    }
    if let Some((_, found)) = gates::run_metrics(&abs)? {
        metrics.extend(found);
    }
    if metrics.is_empty() {
        warnings.push(format!("{rel}: no metrics.json; the entry records no metrics"));
    }
    Ok(rec.exit_code == 0 && !rec.interrupted)
}

/// The run folder `loop next --run` wrote last.
pub fn last_run(model: &Model) -> Result<PathBuf> {
    let p = model.ws.path(&model.ws.config.reports).join(run::LAST_RUN);
    let text = std::fs::read_to_string(&p).map_err(|_| {
        Error::Usage(format!("--last-run: no run recorded yet ({} missing); run `loop next --run`", p.display()))
    })?;
    Ok(PathBuf::from(text.trim()))
}

/// The last non-blank line of a range, as the offset just past its line ending.
fn after_last_line(doc: &Document, range: &Range<usize>) -> usize {
    let mut line = doc.line_of(range.end.saturating_sub(1).max(range.start));
    let first = doc.line_of(range.start);
    while line > first && doc.line_text(line).trim().is_empty() {
        line -= 1;
    }
    doc.line_start(line + 1)
}

/// Where the entry goes and the exact text to insert there.
fn attempt_insertion(ledger: &Ledger, item: &ledger::Item, entry: &str, nl: &str) -> (usize, String) {
    let doc = &ledger.doc;
    let prefix_of = |line: usize, text_start: usize| doc.text[doc.line_start(line)..text_start].to_string();
    // A file whose last line has no line ending needs one before anything appended after it.
    let fix_eof = |at: usize| if at == doc.text.len() && !doc.text.ends_with('\n') { nl } else { "" };
    if let Some(field) = item.field("Attempts History") {
        let fitem = &doc.items[field.item];
        let at = after_last_line(doc, &fitem.range);
        let listed = item.attempts.iter().rev().filter_map(|a| a.item.map(|i| (a, &doc.items[i])));
        let prefix = match listed.clone().find(|(_, it)| fitem.range.contains(&it.range.start)) {
            Some((a, it)) => prefix_of(a.line, it.text_range.start),
            None => format!("{}  * ", " ".repeat(indent_of(doc, fitem.line))),
        };
        return (at, format!("{}{prefix}{entry}{nl}", fix_eof(at)));
    }
    if let Some((last, it)) = item.attempts.iter().rev().find_map(|a| a.item.map(|i| (a, &doc.items[i]))) {
        let at = after_last_line(doc, &it.range);
        return (at, format!("{}{}{entry}{nl}", fix_eof(at), prefix_of(last.line, it.text_range.start)));
    }
    // No history yet: create the field after the item's last field (documented in README).
    let (at, indent, bullet) = match item.fields.last() {
        Some(f) => {
            let it = &doc.items[f.item];
            let marker = doc.text[doc.line_start(it.line)..it.text_range.start].trim().to_string();
            (after_last_line(doc, &(it.range.start..item.range.end.min(it.range.end))), indent_of(doc, it.line), marker)
        }
        None => (doc.line_start(item.line + 1), 0, "-".to_string()),
    };
    let pad = " ".repeat(indent);
    (at, format!("{}{pad}{bullet} Attempts History:{nl}{pad}  * {entry}{nl}", fix_eof(at)))
}

fn indent_of(doc: &Document, line: usize) -> usize {
    let t = doc.line_text(line);
    t.len() - t.trim_start().len()
}

fn next_action_insertion(
    ledger: &Ledger,
    item: &ledger::Item,
    action: &str,
    nl: &str,
) -> Result<(Range<usize>, String)> {
    let doc = &ledger.doc;
    let f = item
        .field("Next Actions")
        .ok_or_else(|| Error::input(&doc.file, item.line, format!("[{}] has no `- Next Actions:` field", item.id)))?;
    let fitem = &doc.items[f.item];
    let at = after_last_line(doc, &fitem.range);
    let last_line = doc.line_of(at.saturating_sub(1));
    let text = if last_line > fitem.line {
        let last = doc.line_text(last_line);
        match NUMBERED.captures(last) {
            Some(c) => {
                let n: u64 = c[2].parse().unwrap_or(0) + 1;
                format!("{}{n}{}{}{action}{nl}", &c[1], &c[3], &c[4])
            }
            None => {
                let t = last.trim_start();
                let marker = t.chars().next().filter(|c| matches!(c, '-' | '*' | '+')).unwrap_or('-');
                format!("{}{marker} {action}{nl}", &last[..last.len() - t.len()])
            }
        }
    } else {
        format!("{}  - {action}{nl}", " ".repeat(indent_of(doc, fitem.line)))
    };
    let eof = if at == doc.text.len() && !doc.text.ends_with('\n') { nl } else { "" };
    Ok((at..at, format!("{eof}{text}")))
}
