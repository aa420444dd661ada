//! `loop guard`: refuse a commit whose staged changes put run artifacts (the reports folder)
//! into git, delete or rename a protected asset without unlisting it, modify a frozen one, or
//! stage a file over the size limit. The staged changes are read once (`staged`); each rule is
//! a function over them in the `RULES` table, as `lint` keeps its rules. Git is read through
//! git2 here, as in `git.rs`: the hook runs on every commit and must be fast and exact about the
//! index git hands it (`GIT_INDEX_FILE`); `orchestrate` drives the git CLI, whose push, fetch and
//! credential handling it needs.

use std::path::{Path, PathBuf};

use git2::{Delta, DiffFindOptions, DiffOptions, Repository};
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

/// What every rule looks at: the workspace, the staged changes, and what the index protects
/// before and after this commit. Read once, before any rule runs.
struct Staged<'r> {
    repo: &'r Repository,
    /// The work tree, canonical.
    workdir: PathBuf,
    ws: Workspace,
    /// The workspace's folder in the repository (`""` at the top).
    prefix: String,
    changes: Vec<Change>,
    protected: Protected,
    /// What the index listed at HEAD (for a first commit: what the staged index lists).
    head_links: Vec<String>,
    /// What the staged index lists.
    staged_links: Vec<String>,
    staged_index: Option<String>,
    index_rel: String,
    reports_allow: globset::GlobSet,
    /// `reports/`, by loop.yaml.
    reports: String,
    /// Whether .gitignore ignores the reports folder as a whole.
    reports_ignored: bool,
}

/// One staged change, repository paths and workspace paths (`None` outside the workspace).
struct Change {
    status: Delta,
    new_path: String,
    old_path: String,
    new_rel: Option<String>,
    old_rel: Option<String>,
    /// Size of the staged blob.
    size: u64,
    /// As a report, the policy's verdict (`Staged::report_verdict`), judged once.
    report: Option<std::result::Result<(), String>>,
}

impl Change {
    /// The change puts content at `new_path`.
    fn adds(&self) -> bool {
        matches!(self.status, Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange)
    }
}

/// The guard's rules, in the order their findings are listed. Each adds the violations it finds.
const RULES: &[fn(&Staged, &mut Vec<Violation>)] =
    &[write_pending, index_unreadable, reports, frozen, too_large, protected_removed, report_budget];

pub fn check(cwd: &Path, root: Option<&Path>) -> Result<Report> {
    let repo = open_repo(cwd)?;
    let s = staged(&repo, cwd, root)?;
    let mut violations = Vec::new();
    for rule in RULES {
        rule(&s, &mut violations);
    }
    Ok(Report { repository: s.workdir.display().to_string(), staged: s.changes.len(), violations })
}

/// Read the repository, the workspace and the index doc the rules need.
fn staged<'r>(repo: &'r Repository, cwd: &Path, root: Option<&Path>) -> Result<Staged<'r>> {
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
    let odb = repo.odb()?;
    let changes = diff
        .deltas()
        .map(|d| {
            let new_path = d.new_file().path().map(to_slash).unwrap_or_default();
            let old_path = d.old_file().path().map(to_slash).unwrap_or_default();
            Change {
                status: d.status(),
                new_rel: ws.from_repo_path(&workdir, &new_path),
                old_rel: ws.from_repo_path(&workdir, &old_path),
                size: odb.read_header(d.new_file().id()).map(|(n, _)| n as u64).unwrap_or(0),
                report: None,
                new_path,
                old_path,
            }
        })
        .collect();
    // Protected before this commit (HEAD's index doc, or the staged one for a first commit), and
    // what the staged index doc still lists.
    let index_rel = join(&prefix, &ws.config.index);
    let index_dir = Path::new(&ws.config.index).parent().unwrap_or(Path::new("")).to_path_buf();
    let blob_text = |id| repo.find_blob(id).ok().map(|b| String::from_utf8_lossy(b.content()).into_owned());
    let staged_index = index.get_path(Path::new(&index_rel), 0).and_then(|e| blob_text(e.id));
    let links_of = |text: &str| protect::links(text, &index_dir).into_iter().map(|l| l.0).collect::<Vec<_>>();
    let staged_links = staged_index.as_deref().map(links_of).unwrap_or_default();
    let head_links = match &head_tree {
        Some(t) => t.get_path(Path::new(&index_rel)).ok().and_then(|e| blob_text(e.id())).map(|t| links_of(&t)),
        None => Some(staged_links.clone()),
    }
    .unwrap_or_default();
    // A protection that cannot be read fails the commit: never guard with fewer rules than configured.
    let mut protected = Protected::load(&ws)?;
    protected.linked = head_links.iter().map(|p| (p.clone(), 0)).collect();
    let reports = format!("{}/", ws.config.reports.dir.trim_matches('/'));
    let mut s = Staged {
        repo,
        workdir,
        reports_allow: ws.globs(&ws.config.reports_allow, "reports_allow")?,
        reports_ignored: repo.is_path_ignored(join(&prefix, &format!("{reports}.loop-probe"))).unwrap_or(false),
        reports,
        ws,
        prefix,
        changes,
        protected,
        head_links,
        staged_links,
        staged_index,
        index_rel,
    };
    let verdicts: Vec<_> = s.changes.iter().map(|c| s.report_verdict(c)).collect();
    for (c, v) in s.changes.iter_mut().zip(verdicts) {
        c.report = v;
    }
    Ok(s)
}

impl Staged<'_> {
    fn violation(&self, path: &str, rule: Rule, message: String) -> Violation {
        Violation { path: path.to_string(), rule, message, fix: rule.advice(path, &self.ws.config.index) }
    }

    /// A staged report's verdict: `None` when the change is no report the policy judges (outside
    /// the folder, allowed by `reports_allow`, or un-ignored on purpose), else admitted or why not.
    fn report_verdict(&self, c: &Change) -> Option<std::result::Result<(), String>> {
        let rel = c.new_rel.as_deref().filter(|r| c.adds() && r.starts_with(&self.reports))?;
        if self.reports_allow.is_match(rel) {
            return None;
        }
        let ignored = self.repo.is_path_ignored(&c.new_path).unwrap_or(false);
        // Un-ignored on purpose (`!/reports/README.md` beside `/reports/*`): not a run artifact.
        if self.reports_ignored && !ignored {
            return None;
        }
        Some(match self.ws.config.reports.admits(rel, c.size) {
            Ok(()) if ignored => Err(
                ".gitignore ignores it (it was added with -f); reports are published only where .gitignore lets them"
                    .into(),
            ),
            other => other,
        })
    }
}

/// A two-file write that a kill cut short (its intent still recorded): committing now could take
/// a new ledger with an old plan. Refused until any loop command finishes it.
fn write_pending(s: &Staged, out: &mut Vec<Violation>) {
    let intent = s.ws.path(&s.ws.config.reports.dir).join(crate::transaction::INTENT);
    if intent.is_file() {
        let dir = s.ws.config.reports.dir.trim_end_matches('/');
        let rel = join(&s.prefix, &format!("{dir}/{}", crate::transaction::INTENT));
        let why =
            "a loop write to the ledger and a plan was cut short and is not finished; the staged pair may be torn";
        out.push(s.violation(&rel, Rule::WritePending, why.into()));
    }
}

/// Fail closed: an index whose links cannot all be read protects nothing we can know of.
fn index_unreadable(s: &Staged, out: &mut Vec<Violation>) {
    if let Some(d) = s.staged_index.as_deref().and_then(|t| protect::index_problem(&s.ws.config.index, t)) {
        let why = format!("line {}: {}; the protected assets it lists cannot be read", d.line, d.message);
        out.push(s.violation(&s.index_rel, Rule::IndexUnreadable, why));
    }
}

/// Run artifacts stay out of git, but as the `reports:` policy lets them in.
fn reports(s: &Staged, out: &mut Vec<Violation>) {
    for c in &s.changes {
        if let Some(Err(why)) = &c.report {
            out.push(s.violation(&c.new_path, Rule::Reports, why.clone()));
        }
    }
}

/// What the reports one commit may add, together.
fn report_budget(s: &Staged, out: &mut Vec<Violation>) {
    let bytes: u64 = s.changes.iter().filter(|c| matches!(c.report, Some(Ok(())))).map(|c| c.size).sum();
    let limit = s.ws.config.reports.max_turn_bytes;
    if bytes > limit {
        out.push(Violation {
            path: s.reports.clone(),
            rule: Rule::Reports,
            message: format!("{bytes} bytes of reports in one commit is over `reports.max_turn_bytes` ({limit})"),
            fix: "unstage some reports (`git restore --staged FILE`) or raise reports.max_turn_bytes in loop.yaml"
                .into(),
        });
    }
}

/// A frozen protected asset may not change at all.
fn frozen(s: &Staged, out: &mut Vec<Violation>) {
    for c in s.changes.iter().filter(|c| c.status == Delta::Modified) {
        if c.new_rel.as_deref().is_some_and(|r| s.protected.is_frozen(r)) {
            let why = "protected asset marked frozen in loop.yaml; it may not change";
            out.push(s.violation(&c.new_path, Rule::Frozen, why.into()));
        }
    }
}

fn too_large(s: &Staged, out: &mut Vec<Violation>) {
    let limit = s.ws.config.max_staged_bytes;
    for c in s.changes.iter().filter(|c| c.adds() && c.size > limit) {
        let why = format!("{} bytes is over the {limit}-byte limit (max_staged_bytes in loop.yaml)", c.size);
        out.push(s.violation(&c.new_path, Rule::TooLarge, why));
    }
}

/// A protected asset deleted or renamed, unless the same commit unlinks it from the index.
fn protected_removed(s: &Staged, out: &mut Vec<Violation>) {
    let index = &s.ws.config.index;
    for c in s.changes.iter().filter(|c| matches!(c.status, Delta::Deleted | Delta::Renamed)) {
        let Some(rel) = c.old_rel.as_deref() else { continue };
        let globbed = s.protected.by_glob(rel);
        // Listed before and still listed: removed without unlinking it on purpose.
        let still_listed = s.head_links.iter().any(|l| l == rel) && s.staged_links.iter().any(|l| l == rel);
        if !(globbed || still_listed) {
            continue;
        }
        let how = match globbed {
            true => "it matches loop.yaml `protected:` or an agent doc calls it a protected asset".to_string(),
            false => format!("unlink it from {index} in the same commit to do this on purpose"),
        };
        let mut v = match c.status {
            Delta::Deleted => {
                s.violation(&c.old_path, Rule::ProtectedDeleted, format!("protected asset deleted; {how}"))
            }
            _ => s.violation(&c.old_path, Rule::ProtectedRenamed, format!("protected asset renamed; {how}")),
        };
        if c.status == Delta::Renamed {
            // Undo both halves of the rename: restoring only the old path leaves the new one staged.
            v.fix = format!(
                "undo the rename: `git mv {} {}`; to rename on purpose, update its entry in {index} in the same commit",
                quote(&c.new_path),
                quote(&c.old_path)
            );
        }
        out.push(v);
    }
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
