//! The workspace's past as git holds it: every state of the ledger, every state of each plan,
//! and the upstream harness's `[SYNC i=N]` commits. Git is walked once; each distinct file
//! version is parsed once, in parallel, whatever number of commits carry it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use git2::{Oid, Repository, Sort};
use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::markdown::Document;
use crate::plan::Plan;

/// One state of the ledger: a commit that changed it.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerState {
    pub commit: String,
    pub date: String,
    pub items: usize,
    pub open: usize,
    pub attempts: usize,
    /// Items by the first word of their status (`done`, `in_progress`, …; `none` unset).
    pub by_status: BTreeMap<String, usize>,
    /// Not UTF-8: nothing of it is counted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
    /// Each item's status word and attempt count here (not in the page: items carry their own
    /// changes).
    #[serde(skip)]
    pub per_item: HashMap<String, (String, usize)>,
}

/// One state of a plan: tasks done (or skipped) of all.
#[derive(Debug, Clone, Serialize)]
pub struct PlanPoint {
    pub commit: String,
    pub date: String,
    pub done: usize,
    pub total: usize,
}

/// A turn of the upstream harness, from its `[SYNC i=N] actor=A status=running` commit and the
/// `[SYNC i=N] actor=A … status=S` that ends it. History to show; never used to decide.
#[derive(Debug, Clone, Serialize)]
pub struct SyncTurn {
    pub iteration: u64,
    pub role: String,
    pub outcome: String,
    pub started: Option<String>,
    pub ended: String,
    pub duration_s: Option<f64>,
    pub commit: String,
}

#[derive(Debug, Default)]
pub struct Past {
    pub ledger: Vec<LedgerState>,
    /// Plan path (as the workspace names it) → its states, oldest first.
    pub plans: BTreeMap<String, Vec<PlanPoint>>,
    pub sync_turns: Vec<SyncTurn>,
    /// Commits walked.
    pub commits: usize,
}

static SYNC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[SYNC i=(\d+)\]\s+actor=(\w+)(?:\s+→\s+next=\w+)?\s+status=(\w+)").unwrap());

/// The first word of a status, lowercased: what the page groups items by.
pub fn status_word(status: Option<&str>) -> String {
    let s = status.unwrap_or("none").trim().trim_start_matches(['*', '`', '_']);
    let w: String = s.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect();
    if w.is_empty() {
        "none".into()
    } else {
        w.to_lowercase()
    }
}

/// Walk HEAD's history (every parent) once. `prefix` is the workspace's folder inside the
/// repository (`""` at its top); `ledger` and `plans` are workspace paths.
pub fn walk(repo: &Repository, prefix: &str, ledger: &str, plans: &[String]) -> Result<Past> {
    let in_repo = |p: &str| if prefix.is_empty() { p.to_string() } else { format!("{prefix}/{p}") };
    let ledger_path = in_repo(ledger);
    let plan_paths: Vec<(String, String)> = plans.iter().map(|p| (p.clone(), in_repo(p))).collect();
    // The folder that holds every plan: when its tree did not change, no plan did.
    let plan_dir = common_dir(&plan_paths.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>());

    let mut past = Past::default();
    let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else { return Ok(past) };
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE)?;
    walk.push(head.id())?;
    let entry = |tree: &git2::Tree, path: &str| tree.get_path(Path::new(path)).ok().map(|e| e.id());
    let mut ledger_versions: Vec<(Oid, String, Oid)> = Vec::new();
    let mut plan_versions: BTreeMap<String, Vec<(Oid, String, Oid)>> = BTreeMap::new();
    let mut running: HashMap<(u64, String), (String, i64)> = HashMap::new();
    for oid in walk {
        let c = repo.find_commit(oid?)?;
        past.commits += 1;
        let tree = c.tree()?;
        let parents: Vec<git2::Tree> = c.parents().filter_map(|p| p.tree().ok()).collect();
        let parent = parents.first();
        let date = rfc3339(&c.time());
        // A new state when no parent holds the same version (as `git log -- PATH` counts: a
        // merge that takes one side's file adds no state).
        let changed = |path: &str| {
            let now = entry(&tree, path)?;
            (!parents.iter().any(|t| entry(t, path) == Some(now))).then_some(now)
        };
        if let Some(blob) = changed(&ledger_path) {
            ledger_versions.push((c.id(), date.clone(), blob));
        }
        let plans_moved = match &plan_dir {
            Some(d) => parent.and_then(|t| entry(t, d)) != entry(&tree, d) || parents.len() > 1,
            None => !plan_paths.is_empty(),
        };
        if plans_moved {
            for (shown, path) in &plan_paths {
                if let Some(blob) = changed(path) {
                    plan_versions.entry(shown.clone()).or_default().push((c.id(), date.clone(), blob));
                }
            }
        }
        if let Some(m) = c.summary().and_then(|s| SYNC.captures(s)) {
            let (i, role, status) = (m[1].parse::<u64>().unwrap_or(0), m[2].to_string(), m[3].to_string());
            let t = c.time().seconds();
            if status == "running" {
                running.insert((i, role), (date, t));
            } else {
                let start = running.remove(&(i, role.clone()));
                past.sync_turns.push(SyncTurn {
                    iteration: i,
                    role,
                    outcome: status,
                    duration_s: start.as_ref().map(|s| (t - s.1).max(0) as f64),
                    started: start.map(|s| s.0),
                    ended: date,
                    commit: c.id().to_string(),
                });
            }
        }
    }
    let root = repo.path().to_path_buf();
    past.ledger =
        parse_all(&root, &ledger_versions, |text, file| Some(ledger_state(Ledger::parse(Document::parse(file, text)))))
            .into_iter()
            .zip(&ledger_versions)
            .map(|(s, (commit, date, _))| {
                let mut s = s.unwrap_or_else(|| LedgerState { unreadable: true, ..LedgerState::empty() });
                s.commit = commit.to_string();
                s.date = date.clone();
                s
            })
            .collect();
    for (shown, versions) in plan_versions {
        let points =
            parse_all(&root, &versions, |text, file| Some(plan_counts(&Plan::parse(Document::parse(file, text)))))
                .into_iter()
                .zip(&versions)
                .filter_map(|(counts, (commit, date, _))| {
                    counts.map(|(done, total)| PlanPoint {
                        commit: commit.to_string(),
                        date: date.clone(),
                        done,
                        total,
                    })
                })
                .collect();
        past.plans.insert(shown, points);
    }
    Ok(past)
}

/// Parse each distinct blob once, in parallel (one repository handle per thread: git2's is not
/// shared across threads); `None` for a blob that is not UTF-8 or cannot be read.
fn parse_all<T: Clone + Send>(
    git_dir: &Path,
    versions: &[(Oid, String, Oid)],
    parse: impl Fn(String, &str) -> Option<T> + Sync,
) -> Vec<Option<T>> {
    let mut distinct: Vec<Oid> = versions.iter().map(|v| v.2).collect();
    distinct.sort();
    distinct.dedup();
    let parsed: HashMap<Oid, Option<T>> = distinct
        .par_iter()
        .map_init(
            || Repository::open(git_dir).ok(),
            |repo, oid| {
                let text = repo
                    .as_ref()
                    .and_then(|r| r.find_blob(*oid).ok())
                    .and_then(|b| String::from_utf8(b.content().to_vec()).ok());
                (*oid, text.and_then(|t| parse(t, "")))
            },
        )
        .collect();
    versions.iter().map(|v| parsed.get(&v.2).cloned().flatten()).collect()
}

impl LedgerState {
    fn empty() -> LedgerState {
        LedgerState {
            commit: String::new(),
            date: String::new(),
            items: 0,
            open: 0,
            attempts: 0,
            by_status: BTreeMap::new(),
            unreadable: false,
            per_item: HashMap::new(),
        }
    }
}

fn ledger_state(l: Ledger) -> LedgerState {
    let mut s = LedgerState::empty();
    for it in &l.items {
        let word = status_word(it.status());
        s.attempts += it.attempts.len();
        if !it.archived {
            s.items += 1;
            s.open += usize::from(it.is_open());
            *s.by_status.entry(word.clone()).or_default() += 1;
        }
        s.per_item.entry(it.id.clone()).or_insert((word, it.attempts.len()));
    }
    s
}

/// Tasks closed (done or skipped) and all tasks of a plan.
pub fn plan_counts(p: &Plan) -> (usize, usize) {
    let tasks: Vec<_> = p.phases.iter().flat_map(|ph| &ph.tasks).collect();
    (tasks.iter().filter(|t| t.state.is_closed()).count(), tasks.len())
}

/// The deepest folder holding every path.
fn common_dir(paths: &[&str]) -> Option<String> {
    let first = paths.first()?;
    let mut parts: Vec<&str> = first.split('/').collect();
    parts.pop();
    for p in &paths[1..] {
        let other: Vec<&str> = p.split('/').collect();
        let same = parts.iter().zip(&other).take_while(|(a, b)| a == b).count();
        parts.truncate(same.min(other.len().saturating_sub(1)));
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// A commit's time in UTC (`2025-10-15T20:17:48Z`), so that times compare as strings.
pub fn rfc3339(t: &git2::Time) -> String {
    chrono::DateTime::from_timestamp(t.seconds(), 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_and_common_dirs() {
        assert_eq!(status_word(Some("in_progress — Phase C")), "in_progress");
        assert_eq!(status_word(Some("**Done** (2025-10-01)")), "done");
        assert_eq!(status_word(None), "none");
        assert_eq!(common_dir(&["plans/active/a.md", "plans/active/b/c.md"]).as_deref(), Some("plans/active"));
        assert_eq!(common_dir(&["plans/a.md", "docs/b.md"]), None);
        assert_eq!(common_dir(&["plans/active/a.md"]).as_deref(), Some("plans/active"));
    }

    #[test]
    fn sync_subjects_start_and_end_turns() {
        let c = SYNC.captures("[SYNC i=510] actor=galph → next=ralph status=ok galph_commit=40115778").unwrap();
        assert_eq!((&c[1], &c[2], &c[3]), ("510", "galph", "ok"));
        let c = SYNC.captures("[SYNC i=510] actor=ralph status=running").unwrap();
        assert_eq!(&c[3], "running");
        assert!(SYNC.captures("SYNC i=5 without brackets").is_none());
    }
}
