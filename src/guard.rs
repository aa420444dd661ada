//! `loop guard`: refuse a commit whose staged changes put run artifacts (the reports folder)
//! into git, delete or rename a protected asset without unlisting it, modify a frozen one, or
//! stage a file over the size limit.

use std::path::{Path, PathBuf};

use git2::{Delta, DiffFindOptions, DiffOptions, Repository};
use globset::{Glob, GlobSetBuilder};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::protect::{self, Protected};
use crate::workspace::{to_slash, Workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Reports,
    ProtectedDeleted,
    ProtectedRenamed,
    Frozen,
    TooLarge,
    /// The index the commit leaves does not parse: the protections it lists cannot be read.
    IndexUnreadable,
    /// A loop write across two files was cut short: the ledger may be new and the plan old.
    WritePending,
}

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// Repository-relative path.
    pub path: String,
    pub rule: Rule,
    pub message: String,
    /// How to fix it, for this rule.
    pub fix: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub repository: String,
    pub staged: usize,
    pub violations: Vec<Violation>,
}

/// Open the repository git itself would use here (honours GIT_DIR and GIT_INDEX_FILE, which git
/// sets for hooks — `git commit -a` and partial commits stage into a temporary index).
pub fn open_repo(cwd: &Path) -> Result<Repository> {
    let repo =
        if std::env::var_os("GIT_DIR").is_some() { Repository::open_from_env()? } else { Repository::discover(cwd)? };
    if let Some(index) = std::env::var_os("GIT_INDEX_FILE") {
        let p = PathBuf::from(index);
        let p = if p.is_absolute() { p } else { cwd.join(p) };
        let mut idx = git2::Index::open(&p)?;
        repo.set_index(&mut idx)?;
    }
    Ok(repo)
}

pub fn check(cwd: &Path, root: Option<&Path>) -> Result<Report> {
    let repo = open_repo(cwd)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| Error::Git("bare repository: nothing is staged from a work tree".into()))?
        .to_path_buf();
    let workdir = std::fs::canonicalize(&workdir).map_err(|e| Error::io(&workdir, e))?;
    // The loop workspace may be the repository or a folder inside it.
    let ws = match Workspace::discover(cwd, root) {
        Ok(ws) if ws.root.starts_with(&workdir) => ws,
        Ok(_) | Err(Error::Usage(_)) => Workspace { root: workdir.clone(), config: Default::default() },
        Err(e) => return Err(e),
    };
    let prefix = to_slash(ws.root.strip_prefix(&workdir).unwrap_or(Path::new("")));
    let in_ws = |repo_path: &str| ws.from_repo_path(&workdir, repo_path);

    let head_tree = match repo.head() {
        Ok(h) => Some(h.peel_to_tree()?),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch || e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let index = repo.index()?;
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    let mut diff = repo.diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut opts))?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;

    // Protected before this commit (HEAD's index doc, or the staged one for a first commit), and
    // what the staged index doc still lists.
    let index_rel = join(&prefix, &ws.config.index);
    let index_dir = Path::new(&ws.config.index).parent().unwrap_or(Path::new("")).to_path_buf();
    let staged_index = index.get_path(Path::new(&index_rel), 0).and_then(|e| repo.find_blob(e.id).ok());
    let staged_text = staged_index.as_ref().map(|b| String::from_utf8_lossy(b.content()).into_owned());
    let staged_links: Vec<String> = staged_text
        .as_deref()
        .map(|t| protect::links(t, &index_dir).into_iter().map(|l| l.0).collect())
        .unwrap_or_default();
    let head_links: Vec<String> = match &head_tree {
        Some(t) => t
            .get_path(Path::new(&index_rel))
            .ok()
            .and_then(|e| repo.find_blob(e.id()).ok())
            .map(|b| {
                protect::links(&String::from_utf8_lossy(b.content()), &index_dir).into_iter().map(|l| l.0).collect()
            })
            .unwrap_or_default(),
        None => staged_links.clone(),
    };
    // A protection that cannot be read fails the commit: never guard with fewer rules than configured.
    let mut protected = Protected::load(&ws)?;
    protected.linked = head_links.iter().map(|p| (p.clone(), 0)).collect();
    let globbed = |p: &str| protected.by_glob(p);
    let mut allow = GlobSetBuilder::new();
    for g in &ws.config.reports_allow {
        allow.add(Glob::new(g).map_err(|e| Error::input("loop.yaml", 0, format!("reports_allow: {e}")))?);
    }
    let allow = allow.build().map_err(|e| Error::input("loop.yaml", 0, format!("reports_allow: {e}")))?;
    let reports = format!("{}/", ws.config.reports.dir.trim_matches('/'));
    let odb = repo.odb()?;
    let reports_ignored = repo.is_path_ignored(join(&prefix, &format!("{reports}.loop-probe"))).unwrap_or(false);
    let mut report_bytes = 0u64;

    let mut violations = Vec::new();
    // A two-file write that a kill cut short (its intent still recorded): committing now could
    // take a new ledger with an old plan. Refused until any loop command finishes it.
    let intent = ws.path(&ws.config.reports.dir).join(crate::transaction::INTENT);
    if intent.is_file() {
        let rel =
            join(&prefix, &format!("{}/{}", ws.config.reports.dir.trim_end_matches('/'), crate::transaction::INTENT));
        violations.push(Violation {
            path: rel.clone(),
            rule: Rule::WritePending,
            message:
                "a loop write to the ledger and a plan was cut short and is not finished; the staged pair may be torn"
                    .into(),
            fix: Rule::WritePending.advice(&rel, &ws.config.index),
        });
    }
    // Fail closed: an index whose links cannot all be read protects nothing we can know of.
    if let Some(d) = staged_text.as_deref().and_then(|t| protect::index_problem(&ws.config.index, t)) {
        violations.push(Violation {
            path: index_rel.clone(),
            rule: Rule::IndexUnreadable,
            message: format!("line {}: {}; the protected assets it lists cannot be read", d.line, d.message),
            fix: Rule::IndexUnreadable.advice(&index_rel, &ws.config.index),
        });
    }
    let mut staged = 0;
    for delta in diff.deltas() {
        staged += 1;
        let new_path = delta.new_file().path().map(to_slash).unwrap_or_default();
        let old_path = delta.old_file().path().map(to_slash).unwrap_or_default();
        let status = delta.status();
        let index = &ws.config.index;
        let mut push = |path: &str, rule: Rule, message: String| {
            violations.push(Violation { path: path.to_string(), rule, message, fix: rule.advice(path, index) })
        };
        let adds =
            matches!(status, Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange);
        if adds {
            if let Some(rel) = in_ws(&new_path) {
                if rel.starts_with(&reports) && !allow.is_match(&rel) {
                    let ignored = repo.is_path_ignored(&new_path).unwrap_or(false);
                    let size = odb.read_header(delta.new_file().id()).map(|(n, _)| n as u64).unwrap_or(0);
                    // Un-ignored on purpose (`!/reports/README.md` beside `/reports/*`): not a run artifact.
                    if !reports_ignored || ignored {
                        match ws.config.reports.admits(&rel, size) {
                            Err(why) => push(&new_path, Rule::Reports, why),
                            Ok(()) if ignored => push(
                                &new_path,
                                Rule::Reports,
                                ".gitignore ignores it (it was added with -f); reports are published only where .gitignore lets them".into(),
                            ),
                            Ok(()) => report_bytes += size,
                        }
                    }
                }
                if status == Delta::Modified && protected.is_frozen(&rel) {
                    push(
                        &new_path,
                        Rule::Frozen,
                        "protected asset marked frozen in loop.yaml; it may not change".into(),
                    );
                }
            }
            let size = odb.read_header(delta.new_file().id()).map(|(n, _)| n as u64).unwrap_or(0);
            if size > ws.config.max_staged_bytes {
                push(
                    &new_path,
                    Rule::TooLarge,
                    format!(
                        "{} bytes is over the {}-byte limit (max_staged_bytes in loop.yaml)",
                        size, ws.config.max_staged_bytes
                    ),
                );
            }
        }
        if matches!(status, Delta::Deleted | Delta::Renamed) {
            if let Some(rel) = in_ws(&old_path) {
                let listed_before = head_links.contains(&rel);
                let still_listed = staged_links.contains(&rel);
                let blocked = globbed(&rel) || (listed_before && still_listed);
                if blocked {
                    let (rule, verb) = if status == Delta::Deleted {
                        (Rule::ProtectedDeleted, "deleted")
                    } else {
                        (Rule::ProtectedRenamed, "renamed")
                    };
                    let how = if globbed(&rel) {
                        "it matches loop.yaml `protected:` or an agent doc calls it a protected asset".to_string()
                    } else {
                        format!("unlink it from {} in the same commit to do this on purpose", ws.config.index)
                    };
                    push(&old_path, rule, format!("protected asset {verb}; {how}"));
                    if status == Delta::Renamed {
                        // Undo both halves of the rename: restoring only the old path would
                        // leave the new one staged.
                        if let Some(v) = violations.last_mut() {
                            v.fix = format!(
                                "undo the rename: `git mv {} {}`; to rename on purpose, update its entry in {index} in the same commit",
                                quote(&new_path),
                                quote(&old_path)
                            );
                        }
                    }
                }
            }
        }
    }
    if report_bytes > ws.config.reports.max_turn_bytes {
        let dir = reports.trim_end_matches('/');
        violations.push(Violation {
            path: format!("{dir}/"),
            rule: Rule::Reports,
            message: format!(
                "{report_bytes} bytes of reports in one commit is over `reports.max_turn_bytes` ({})",
                ws.config.reports.max_turn_bytes
            ),
            fix: "unstage some reports (`git restore --staged FILE`) or raise reports.max_turn_bytes in loop.yaml"
                .into(),
        });
    }
    Ok(Report { repository: workdir.display().to_string(), staged, violations })
}

fn join(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

impl Rule {
    /// What to do about it: a fix that matches the rule, with the command.
    pub fn advice(self, path: &str, index: &str) -> String {
        let p = quote(path);
        match self {
            Rule::Reports => format!(
                "unstage the report: `git restore --staged {p}` (`git rm --cached {p}` before the first commit); keep reports/ in .gitignore, or publish small reports with loop.yaml `reports: {{policy: publish}}`"
            ),
            Rule::ProtectedDeleted => format!(
                "restore the file: `git restore --staged --worktree {p}`; to retire it on purpose, remove it from {index} in the same commit"
            ),
            Rule::ProtectedRenamed => format!(
                "undo the rename: move it back to {p} (`git mv NEW {p}`); to rename on purpose, update its entry in {index} in the same commit"
            ),
            Rule::Frozen => format!(
                "restore the frozen file: `git restore --staged --worktree {p}`; it changes only when loop.yaml `frozen:` stops listing it"
            ),
            Rule::IndexUnreadable => format!(
                "fix {p} (close the code fence, finish the table), stage it again, then commit"
            ),
            Rule::WritePending => {
                "run any loop command (`loop status` finishes the write), stage the ledger and the plan again, then commit".to_string()
            }
            Rule::TooLarge => format!(
                "unstage it (`git restore --staged {p}`) and track it with Git LFS (`git lfs track {p}`), or raise max_staged_bytes in loop.yaml"
            ),
        }
    }
}

/// The refusal as a person reads it: each path, the rule, and the fix for that rule.
pub fn render(report: &Report) -> String {
    let mut s = format!(
        "loop guard: commit refused ({} problem(s) in {} staged change(s)):\n",
        report.violations.len(),
        report.staged
    );
    for v in &report.violations {
        s.push_str(&format!("  {}: {}\n    fix: {}\n", quote(&v.path), v.message, v.fix));
    }
    s.push_str("Bypass once, deliberately: `git commit --no-verify`.\n");
    s
}

fn quote(p: &str) -> String {
    if p.contains(char::is_whitespace) {
        format!("'{p}'")
    } else {
        p.to_string()
    }
}
