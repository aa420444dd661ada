//! Which item a step is about (`--item`, the memo's Focus, the ledger's Active Focus, the
//! Index) and which plan is that item's.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::ledger;
use crate::model::Model;
use crate::plan::Plan;

static BRACKET_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\[({})\]", ledger::ID_PATTERN)).unwrap());
static BARE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\b({})\b", ledger::ID_PATTERN)).unwrap());
static PLAN_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_.\-]*plans?/[A-Za-z0-9_.\-/]+").unwrap());

/// The focus item: `--item`, else the memo's `Focus:` (its first ID that is an open item),
/// else the first open item that the ledger's Active Focus names, else the first open item of
/// the Index, else of the ledger.
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
    if let Some((ids, line)) = model.memo.as_ref().and_then(|m| m.focus_ids()) {
        let memo = model.memo.as_ref().map_or("input.md", |m| m.path.as_str());
        if let Some(item) = ids.iter().filter_map(|id| pick(id)).find(|i| i.is_open()) {
            return Ok((item, format!("{memo}:{line} Focus")));
        }
        let why = match ids.iter().find_map(|id| pick(id)) {
            Some(i) => format!("[{}] is closed (status {})", i.id, i.status().unwrap_or("?")),
            None => format!("[{}] is not an item of {}", ids[0], ledger.doc.file),
        };
        warnings.push(format!("{memo}:{line}: Focus names {why}; using the ledger's focus"));
    }
    for text in &ledger.active_focus {
        let ids = BRACKET_ID.captures_iter(text).chain(BARE_ID.captures_iter(text));
        for cap in ids {
            if let Some(item) = pick(&cap[1]).filter(|i| i.is_open()) {
                return Ok((item, format!("{} Active Focus", ledger.doc.file)));
            }
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
    Err(Error::input(
        &ledger.doc.file,
        0,
        "no focus item: no --item, no memo Focus line, and no open item in the ledger",
    ))
}

pub fn unknown_item(model: &Model, id: &str) -> Error {
    Error::input(&model.ledger.doc.file, 0, format!("unknown item [{id}] (see `loop status` for the items)"))
}

/// Field names that point at an item's plan.
const PLAN_FIELDS: &[&str] = &["Plan References", "Plan Reference", "Plans", "Plan"];

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
    let it = &doc.items[field.item];
    let text = &doc.text[field.value_range.start..it.range.end.max(field.value_range.end)];
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
                let folder = format!("{}/plan.md", p.trim_end_matches('/'));
                model.plan(p).or_else(|| model.plan(&folder))
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
    choice.plan =
        model.plans.iter().find(|p| p.initiative.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&item.id)));
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
