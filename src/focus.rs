//! Which item a step is about (`--item`, the memo's Focus, the ledger's Active Focus, the
//! Index) and which plan is that item's.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::ledger;
use crate::model::Model;
use crate::plan::Plan;

static PLAN_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_.\-]*plans?/[A-Za-z0-9_.\-/]+").unwrap());

/// The items the memo is about, in the order it names them, with the memo's line: the `Focus:`
/// line's IDs (`[ID]`, `ID`, `ID.TASK`, `ID / Phase X`, a `docs/fix_plan.md#slug` anchor), else
/// an older memo's `Active Focus:` header, else the IDs the Do Now starts with.
pub fn memo_items(model: &Model) -> Option<(Vec<&ledger::Item>, usize)> {
    let memo = model.memo.as_ref()?;
    memo.focus_texts().into_iter().find_map(|(text, line)| items_in(model, &text).map(|items| (items, line)))
}

/// `#slug` anchors in text (`docs/fix_plan.md#x-1-title`): each slug and the byte range of
/// `#slug`.
fn anchors(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices('#') {
        let start = i + 1;
        if !b.get(start).is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let len = b[start..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_').count();
        out.push((i..start + len, &text[start..start + len]));
    }
    out
}

/// The items a piece of memo text names: anchors first, then IDs.
fn items_in<'m>(model: &'m Model, text: &str) -> Option<Vec<&'m ledger::Item>> {
    let ledger = &model.ledger;
    let mut items: Vec<&ledger::Item> = Vec::new();
    let found = anchors(text);
    for (_, a) in &found {
        let slug = a.to_ascii_lowercase();
        let heading = ledger.doc.headings.iter().find(|h| crate::markdown::slug(&h.text) == slug);
        // A title edited since the memo was written: the item whose ID starts the anchor.
        let by_id = || {
            ledger.items.iter().filter(|i| slug.starts_with(&crate::markdown::slug(&i.id))).max_by_key(|i| i.id.len())
        };
        if let Some(item) = heading.and_then(|h| ledger.items.iter().find(|i| i.line == h.line)).or_else(by_id) {
            items.push(item);
        }
    }
    let mut without_anchors = text.to_string();
    for (r, _) in found.iter().rev() {
        without_anchors.replace_range(r.clone(), " ");
    }
    for item in ledger.items_named_in(&without_anchors) {
        if !items.iter().any(|i| std::ptr::eq(*i, item)) {
            items.push(item);
        }
    }
    (!items.is_empty()).then_some(items)
}

/// The IDs the memo's focus text names that the ledger does not have (for the warning).
fn unknown_memo_ids(model: &Model) -> Option<(String, usize)> {
    let (text, line) = model.memo.as_ref()?.focus_text()?;
    let re = Regex::new(&format!(r"\[?({})\]?", ledger::ID_PATTERN)).ok()?;
    re.captures(&text).map(|c| (c[1].to_string(), line))
}

/// The focus item: `--item`, else the memo's focus (its first item that is open), else the
/// first open item that the ledger's Active Focus (or Current Focus) names, else the first open
/// item of the Index, else of the ledger.
pub fn focus<'m>(model: &'m Model, item: Option<&str>) -> Result<(&'m ledger::Item, String)> {
    focus_noting(model, item, &mut Vec::new())
}

pub(crate) fn focus_noting<'m>(
    model: &'m Model,
    item: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<(&'m ledger::Item, String)> {
    let ledger = &model.ledger;
    let pick = |id: &str| {
        let found = ledger.find(id);
        found.iter().find(|i| i.is_open()).or(found.first()).copied()
    };
    if let Some(id) = item {
        return pick(id).map(|i| (i, "--item".to_string())).ok_or_else(|| unknown_item(model, id));
    }
    let memo = model.memo.as_ref().map_or("input.md", |m| m.path.as_str());
    match memo_items(model) {
        Some((items, line)) => {
            if let Some(item) = items.iter().map(|i| pick(&i.id).unwrap_or(i)).find(|i| i.is_open()) {
                return Ok((item, format!("{memo}:{line} Focus")));
            }
            let i = items[0];
            warnings.push(format!(
                "{memo}:{line}: Focus names [{}], which is closed (status {}); using the ledger's focus",
                i.id,
                i.status().unwrap_or("?")
            ));
        }
        None => {
            if let Some((id, line)) = unknown_memo_ids(model) {
                warnings.push(format!(
                    "{memo}:{line}: Focus names [{id}], which is not an item of {}{}; using the ledger's focus",
                    ledger.doc.file,
                    did_you_mean(model, &id)
                ));
            }
        }
    }
    for text in &ledger.active_focus {
        if let Some(item) = ledger.items_named_in(text).into_iter().filter_map(|i| pick(&i.id)).find(|i| i.is_open()) {
            return Ok((item, format!("{} Active Focus", ledger.doc.file)));
        }
    }
    for row in &ledger.index {
        if let Some(item) = pick(&row.id).filter(|i| i.is_open()) {
            return Ok((item, format!("{}:{} first open Index row", ledger.doc.file, row.line)));
        }
    }
    if let Some(item) = ledger.items.iter().find(|i| i.is_open() && !i.archived) {
        return Ok((item, format!("{}:{} first open item", ledger.doc.file, item.line)));
    }
    if ledger.items.is_empty() {
        // The reader said why, with the line: that is the answer.
        if let Some(d) = ledger.diagnostics.iter().find(|d| d.message.starts_with("loop reads no item")) {
            return Err(Error::input(&d.file, d.line, d.message.clone()));
        }
        return Err(Error::input(
            &ledger.doc.file,
            0,
            format!(
                "no items: the ledger has neither `## [ID] Title` sections nor a `## Current Focus` naming `**ID — Title**` ({})",
                ledger.describe()
            ),
        ));
    }
    Err(Error::Failed(format!(
        "nothing to do: every item of {} is closed ({} item(s)); open one, or name one with --item",
        ledger.doc.file,
        ledger.items.len()
    )))
}

pub fn unknown_item(model: &Model, id: &str) -> Error {
    let ledger = &model.ledger;
    // An ID that stands in a part of the ledger that could not be read: that is the answer.
    let hidden = ledger.diagnostics.iter().find(|d| {
        d.is_error() && d.range.as_ref().is_some_and(|r| ledger.doc.text[r.clone()].contains(&format!("[{id}]")))
    });
    if let Some(d) = hidden {
        return Error::input(&d.file, d.line, format!("{}; so [{id}] cannot be read", d.message));
    }
    Error::input(
        &ledger.doc.file,
        0,
        format!("unknown item [{id}]{} (see `loop status` for the items)", did_you_mean(model, id)),
    )
}

/// `; did you mean LOOP-SIM-001?` when some IDs are close to `wanted`.
fn did_you_mean(model: &Model, wanted: &str) -> String {
    let w = ledger::normalize_id(wanted);
    let mut near: Vec<(usize, &str)> = Vec::new();
    for i in &model.ledger.items {
        let id = ledger::normalize_id(&i.id);
        let d = edit_distance(&w, &id);
        let close = d <= (w.len().max(id.len()) / 4).max(2) || (w.len() >= 4 && (id.contains(&w) || w.contains(&id)));
        if close && !near.iter().any(|(_, n)| *n == i.id) {
            near.push((d, &i.id));
        }
    }
    near.sort();
    let names: Vec<&str> = near.iter().take(3).map(|(_, n)| *n).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        many => format!("; did you mean one of {}?", many.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Field names that point at an item's plan.
const PLAN_FIELDS: &[&str] = &["Plan References", "Plan Reference", "Plans", "Plan", "Working Plan", "Plan File"];

/// How an item's plan was found.
pub struct PlanChoice<'m> {
    pub plan: Option<&'m Plan>,
    /// Which reference was taken when there were several, and similar remarks (file:line).
    pub notes: Vec<String>,
    /// A reference that names no active plan: the item's plan cannot be read.
    pub broken: Option<Error>,
}

/// The plan paths an item's plan fields name, each with the field's line. Values may continue
/// in nested bullets; paths may be backticked or not, files or folders (`plans/active/x/`).
fn plan_references(model: &Model, item: &ledger::Item) -> Option<(usize, Vec<String>)> {
    let doc = &model.ledger.doc;
    let field = PLAN_FIELDS.iter().find_map(|k| item.field(k))?;
    let end = field.item.map_or(field.value_range.end, |i| doc.items[i].range.end.max(field.value_range.end));
    let text = &doc.text[field.value_range.start..end];
    let mut paths = Vec::new();
    for m in PLAN_PATH.find_iter(text) {
        let p = m.as_str().trim_start_matches("./").trim_end_matches(['.', ',', ';', ':']);
        if !paths.iter().any(|q| q == p) {
            paths.push(p.to_string());
        }
    }
    Some((field.line, paths))
}

/// The item's plan: the plans its `Plan Reference(s)`/`Plan(s)` field names (the first with an
/// open phase when several), else — only when it has no such field — the plan whose
/// `Initiative:` is the item.
pub fn resolve_plan<'m>(model: &'m Model, item: &ledger::Item) -> PlanChoice<'m> {
    let file = &model.ledger.doc.file;
    let mut choice = PlanChoice { plan: None, notes: Vec::new(), broken: None };
    if let Some((line, paths)) = plan_references(model, item) {
        let found: Vec<&Plan> = paths
            .iter()
            .filter_map(|p| {
                let dir = p.trim_end_matches('/');
                model
                    .plan(p)
                    .or_else(|| model.plan(&format!("{dir}/plan.md")))
                    .or_else(|| model.plan(&format!("{dir}/implementation.md")))
            })
            .collect();
        let open = found.iter().find(|p| p.phases.iter().any(|ph| !ph.is_done())).or(found.first()).copied();
        if let Some(plan) = open {
            if found.len() > 1 {
                let others: Vec<&str> = found.iter().filter(|p| p.path != plan.path).map(|p| p.path.as_str()).collect();
                choice.notes.push(format!(
                    "{file}:{line}: several plan references; using {} (it has open phases), not {}",
                    plan.path,
                    others.join(", ")
                ));
            }
            choice.plan = Some(plan);
        } else if let Some(first) = paths.first() {
            let why = if model.ws.path(first).exists() {
                format!("which is not an active plan (outside `{}`)", model.ws.config.plans)
            } else {
                "which does not exist".to_string()
            };
            choice.broken = Some(Error::input(file, line, format!("[{}]'s plan field names {first}, {why}", item.id)));
        }
        return choice;
    }
    choice.plan = model.plans.iter().find(|p| p.initiative.as_deref().is_some_and(|i| ledger::ids_equal(i, &item.id)));
    choice
}

/// The item's plan, or why it has none.
pub fn plan_for<'m>(model: &'m Model, item: &ledger::Item) -> Result<&'m Plan> {
    let choice = resolve_plan(model, item);
    if let Some(e) = choice.broken {
        return Err(e);
    }
    choice.plan.ok_or_else(|| {
        Error::input(
            &model.ledger.doc.file,
            item.line,
            format!(
                "[{}] has no plan: no `Plan Reference:` to a plan file and no plan with `Initiative: {}`",
                item.id, item.id
            ),
        )
    })
}
