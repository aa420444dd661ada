//! `loop report`: the loop's history as data — items and their attempts at HEAD (as `loop status`
//! reads them), every ledger state git holds, plans burning down, turns — and as one
//! self-contained page that draws it (`page`). Schema in docs/json.md.

mod history;
mod page;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::gates;
use crate::model::Model;

pub use history::{LedgerState, PlanPoint, SyncTurn};
pub use page::{html, write};

/// Attempts since the last sign of progress (a status change, a task closed) that flag an item.
pub const STALL_AFTER: usize = 3;

#[derive(Debug, Default)]
pub struct Options {
    /// Only what happened on or after this day (`YYYY-MM-DD`): attempts, states, points, turns.
    pub since: Option<String>,
    /// Only this item's attempts and metrics.
    pub item: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    pub generated_at: String,
    /// The workspace's folder name.
    pub name: String,
    pub head: Option<String>,
    pub ledger: String,
    pub since: Option<String>,
    pub now: Now,
    /// What loop could not read (or read with doubt), as `loop status` lists it.
    pub diagnostics: Vec<crate::diag::Diagnostic>,
    pub items: Vec<Item>,
    pub history: Vec<LedgerState>,
    pub plans: Vec<PlanBurn>,
    pub turns: Vec<crate::orchestrate::state::Summary>,
    pub sync_turns: Vec<SyncTurn>,
    pub budgets: Budgets,
    pub stalls: Vec<Stall>,
    /// Commits walked for `history`.
    pub commits: usize,
    /// The workspace root as seen from where the page is written (`../`): the prefix of the
    /// page's links to artifacts.
    pub root_href: String,
}

/// Where the loop stands: what `loop next` decides.
#[derive(Debug, Serialize)]
pub struct Now {
    pub focus: Option<String>,
    pub focus_title: Option<String>,
    pub focus_status: Option<String>,
    pub phase: Option<String>,
    pub task: Option<String>,
    pub step: Option<String>,
    pub command: Option<String>,
    pub blocked: Option<String>,
    /// Gate checks that do not pass, as `next` lists them.
    pub open_gates: Vec<String>,
    /// Why there is no decision, when `next` cannot make one.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub archived: bool,
    pub line: usize,
    pub attempts: Vec<Attempt>,
    /// Metric gates the item's plan states.
    pub gates: Vec<gates::Gate>,
    pub plan: Option<String>,
    /// The ledger states where this item's status word or attempt count changed.
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct Attempt {
    pub label: String,
    pub number: Option<u64>,
    /// The day the entry gives, else the day git first held it.
    pub date: Option<String>,
    pub time: Option<String>,
    pub result: Option<String>,
    pub task: Option<String>,
    pub line: usize,
    pub summary: String,
    pub metrics: BTreeMap<String, f64>,
    /// Paths the entry names that exist in the workspace.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub state: usize,
    pub status: String,
    pub attempts: usize,
}

#[derive(Debug, Serialize)]
pub struct PlanBurn {
    pub path: String,
    pub initiative: Option<String>,
    pub done: usize,
    pub total: usize,
    pub phases: Vec<PhaseNow>,
    pub points: Vec<PlanPoint>,
}

#[derive(Debug, Serialize)]
pub struct PhaseNow {
    pub id: String,
    pub title: String,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Budgets {
    pub cost_budget: Option<f64>,
    pub wall_budget_s: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Stall {
    pub item: String,
    /// Attempts added since the last progress.
    pub attempts: usize,
    /// When the item last moved (a status change or a task of its plan closed), if ever.
    pub since: Option<String>,
}

pub fn build(model: &Model, o: &Options) -> Result<Report> {
    if let Some(id) = &o.item {
        if model.ledger.find(id).is_empty() {
            return Err(Error::Usage(format!("no item [{id}] in {}", model.ledger.doc.file)));
        }
    }
    if let Some(s) = &o.since {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--since {s}: expected a day, YYYY-MM-DD")))?;
    }
    let ws = &model.ws;
    let repo = git2::Repository::discover(&ws.root).ok();
    let prefix = repo.as_ref().and_then(|r| r.workdir()).map(|w| workspace_prefix(w, &ws.root)).unwrap_or_default();
    let plan_paths: Vec<String> = model.plans.iter().map(|p| p.path.clone()).collect();
    let past = match &repo {
        Some(r) => history::walk(r, &prefix, &ws.config.ledger, &plan_paths)?,
        None => history::Past::default(),
    };
    let after = |date: &str| o.since.as_deref().is_none_or(|s| date.get(..10).is_some_and(|d| d >= s));
    let items = items(model, &past, o);
    let stalls = stalls(&items, &past, model);
    let plans = model
        .plans
        .iter()
        .map(|p| {
            let (done, total) = history::plan_counts(p);
            PlanBurn {
                path: p.path.clone(),
                initiative: p.initiative.clone(),
                done,
                total,
                phases: p
                    .phases
                    .iter()
                    .map(|ph| PhaseNow {
                        id: ph.id.clone(),
                        title: ph.title.clone(),
                        done: ph.tasks.iter().filter(|t| t.state.is_closed()).count(),
                        total: ph.tasks.len(),
                    })
                    .collect(),
                points: past.plans.get(&p.path).into_iter().flatten().filter(|pt| after(&pt.date)).cloned().collect(),
            }
        })
        .collect();
    let turns = match &repo {
        Some(r) => crate::orchestrate::recorded_turns(r)?.into_iter().filter(|t| after(&t.at)).collect(),
        None => Vec::new(),
    };
    let settings = ws.config.orchestrate.clone().unwrap_or_default();
    Ok(Report {
        schema: 1,
        generated_at: crate::clock::now()?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        name: ws.root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        head: repo.as_ref().and_then(|r| r.head().ok()).and_then(|h| h.target()).map(|t| t.to_string()),
        ledger: model.ledger.doc.file.clone(),
        since: o.since.clone(),
        now: now(model),
        diagnostics: model.diagnostics().into_iter().cloned().collect(),
        history: past.ledger.iter().filter(|s| after(&s.date)).cloned().collect(),
        items: items
            .into_iter()
            .filter(|i| o.item.as_deref().is_none_or(|id| crate::ledger::ids_equal(id, &i.id)))
            .collect(),
        plans,
        turns,
        sync_turns: past.sync_turns.iter().filter(|t| after(&t.ended)).cloned().collect(),
        budgets: Budgets {
            cost_budget: settings.cost_budget,
            wall_budget_s: settings.wall_budget.map(|b| b.0.as_secs_f64()),
        },
        stalls,
        commits: past.commits,
        root_href: String::new(),
    })
}

/// The workspace's folder inside the repository, with `/` (`""` at its top).
fn workspace_prefix(workdir: &Path, root: &Path) -> String {
    let (w, r) = (std::fs::canonicalize(workdir), std::fs::canonicalize(root));
    match (w, r) {
        (Ok(w), Ok(r)) => crate::workspace::to_slash(r.strip_prefix(&w).unwrap_or(Path::new(""))),
        _ => String::new(),
    }
}

fn now(model: &Model) -> Now {
    let mut n = Now {
        focus: None,
        focus_title: None,
        focus_status: None,
        phase: None,
        task: None,
        step: None,
        command: None,
        blocked: None,
        open_gates: Vec::new(),
        error: None,
    };
    match crate::next::decide_now(model, None, None) {
        Ok(d) => {
            n.focus = Some(d.item.id);
            n.focus_title = Some(d.item.title);
            n.focus_status = d.item.status;
            n.phase = d.phase.map(|p| format!("{} — {} ({}/{} done)", p.id, p.title, p.done, p.total));
            n.task = d.task.map(|t| format!("{} — {}", t.id, t.description));
            n.step = d.manual_step;
            n.command = d.command_template;
            n.blocked = d.blocked;
            n.open_gates = d
                .checks
                .iter()
                .filter(|c| c.outcome != crate::gate::Outcome::Pass)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
        }
        Err(e) => n.error = Some(e.to_string()),
    }
    n
}

static ARTIFACT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\b|`)((?:plans/[\w.\-/]+/)?reports/[\w.\-/]+)").unwrap());

fn items(model: &Model, past: &history::Past, o: &Options) -> Vec<Item> {
    let l = &model.ledger;
    let after = |date: &Option<String>| match (&o.since, date) {
        (Some(s), Some(d)) => d.get(..10).is_some_and(|d| d >= s.as_str()),
        (Some(_), None) => false,
        (None, _) => true,
    };
    l.items
        .iter()
        .map(|it| {
            let changes = changes_of(&it.id, &past.ledger);
            let plan = crate::focus::plan_for(model, it).ok();
            let attempts = it
                .attempts
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    let body = l.doc.slice(&a.body);
                    // The entry's own day (the ledger reads it from a stamp too), else the day git
                    // first held it.
                    let date = a.date.clone().or_else(|| appeared(&changes, k + 1, &past.ledger));
                    let artifacts = artifacts(&model.ws.root, body);
                    // What the entry writes, then what its run folders' metrics.json hold.
                    let mut metrics = metrics(body);
                    for dir in &artifacts {
                        if let Ok(Some((_, m))) = gates::run_metrics(&model.ws.root.join(dir)) {
                            for (k, v) in m {
                                metrics.entry(k).or_insert(v);
                            }
                        }
                    }
                    Attempt {
                        label: a.label(),
                        number: a.number,
                        date,
                        time: a.time.clone(),
                        result: a.result.clone(),
                        task: a.task.clone(),
                        line: a.line,
                        summary: summary(l.doc.slice(&a.text)),
                        metrics,
                        artifacts,
                    }
                })
                .filter(|a| after(&a.date))
                .collect();
            Item {
                id: it.id.clone(),
                title: it.title.clone(),
                status: it.status().map(str::to_string),
                archived: it.archived,
                line: it.line,
                attempts,
                gates: plan.map(|p| gates::find(&p.doc.text)).unwrap_or_default(),
                plan: plan.map(|p| p.path.clone()),
                changes,
            }
        })
        .collect()
}

/// The states where the item's status word or attempt count changed.
fn changes_of(id: &str, states: &[LedgerState]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for (i, s) in states.iter().enumerate() {
        let Some((status, n)) = s.per_item.get(id) else { continue };
        if out.last().is_none_or(|c| &c.status != status || c.attempts != *n) {
            out.push(Change { state: i, status: status.clone(), attempts: *n });
        }
    }
    out
}

/// The day git first held the item's `n`th attempt.
fn appeared(changes: &[Change], n: usize, states: &[LedgerState]) -> Option<String> {
    changes.iter().find(|c| c.attempts >= n).map(|c| states[c.state].date.get(..10).unwrap_or("").to_string())
}

/// `name=value` pairs an entry records (`corr=0.9999`, `speedup_warm=1.19×`): a lowercase name
/// that starts a word — not a `--flag=1`, not an `ENV_VAR=1` — and not a setting of a command.
static METRIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s(,;`])([a-z][A-Za-z0-9_]*)\s*=\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?)").unwrap()
});
const NOT_METRICS: &[&str] = &["exit", "timeout", "maxfail", "durations", "seed", "n", "workers", "jobs", "dim"];

fn metrics(body: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for c in METRIC.captures_iter(body) {
        let name = &c[1];
        if NOT_METRICS.contains(&name) {
            continue;
        }
        if let Ok(v) = c[2].parse::<f64>() {
            out.entry(name.to_string()).or_insert(v);
        }
    }
    out
}

fn artifacts(root: &Path, body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in ARTIFACT.captures_iter(body) {
        let p = c[1].trim_end_matches(['.', ',', ';', ':', ')']);
        if !out.iter().any(|o| o == p) && root.join(p).exists() {
            out.push(p.to_string());
        }
        if out.len() == 5 {
            break;
        }
    }
    out
}

/// The entry's first line without its bullet, at most 200 characters.
fn summary(text: &str) -> String {
    let t = text.trim().trim_start_matches(['*', '-', '+', '#']).trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// Open items whose attempts piled up since they last moved.
fn stalls(items: &[Item], past: &history::Past, model: &Model) -> Vec<Stall> {
    let mut out = Vec::new();
    for it in items.iter().filter(|i| !i.archived) {
        let Some(ledger_item) = model.ledger.items.iter().find(|l| l.id == it.id) else { continue };
        if !ledger_item.is_open() {
            continue;
        }
        // The last status change, and the last task its plan closed.
        let status_moved = it.changes.windows(2).rev().find(|w| w[0].status != w[1].status).map(|w| &w[1]);
        let plan_moved = it
            .plan
            .as_ref()
            .and_then(|p| past.plans.get(p))
            .and_then(|pts| pts.windows(2).rev().find(|w| w[1].done > w[0].done).map(|w| w[1].date.clone()));
        let status_date = status_moved.map(|c| past.ledger[c.state].date.clone());
        let since = match (status_date, plan_moved) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let base = match &since {
            Some(d) => it.changes.iter().rfind(|c| past.ledger[c.state].date <= *d).map_or(0, |c| c.attempts),
            None => 0,
        };
        let now = ledger_item.attempts.len();
        // An item git saw in one state only has no past to stall in.
        let seen_twice = it.changes.first().is_some_and(|c| c.state + 1 < past.ledger.len());
        if now >= base + STALL_AFTER && seen_twice {
            out.push(Stall { item: it.id.clone(), attempts: now - base, since });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_are_what_attempts_measured_not_flags_or_settings() {
        let m = super::metrics("corr=0.9999, speedup_warm=1.19× (sum_ratio=1.2e-3) `pytest --maxfail=1` NANOBRAGG_DISABLE_COMPILE=1 exit=1");
        let got: Vec<(&str, f64)> = m.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(got, [("corr", 0.9999), ("speedup_warm", 1.19), ("sum_ratio", 1.2e-3)]);
    }
}
