//! Commands in prose: which text of a memo's Do Now, a plan task's cell or a Next Action a
//! shell would run, and whether the step is a command or work by hand with a check to run after.
//!
//! A command is in backticks, or follows "run"/"running"/"with"/"via"/an em dash. It must parse
//! as a shell command line (`shell::parse`: compound lines, subshells and pipes are one
//! command; a here-document needs its body) and start with a program: `NAME=value` words, `env`,
//! a known executable, or `./script`. A path, an identifier, an item tag, an elided command
//! (`python -m x ...`), a bare assignment, or prose in the program's place is not one; prose
//! after an unquoted command is left out of it.

use std::sync::LazyLock;

use regex::Regex;

use crate::shell;

/// Words after which an unquoted command may follow.
static LEAD_IN: LazyLock<Regex> = LazyLock::new(|| {
    // Spelled-out capitals instead of `(?i)`: Unicode case folding makes this 10× dearer to build.
    Regex::new(r"(?:(?-u:\b)(?:[Rr]e-?run|[Rr]un|[Rr]unning|[Ee]xecute|[Ee]xecuting|[Vv]erify with|[Ww]ith|[Vv]ia)[ \t]+|[ \t][—–][ \t]+|^[ \t]*)").unwrap()
});
/// Where an unquoted command certainly ends: a clause break in the prose around it.
static CLAUSE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"`|[ \t][—–][ \t]|\.[ \t]+[A-Z]|,[ \t]+(?:then|and|so|once|after|before|to)(?-u:\b)|[ \t]+then[ \t]|\.[ \t]*$",
    )
    .unwrap()
});
/// Words that say an instruction asks for work before its command (which then checks it);
/// a word matches when it is one of these or starts with one of the stems after `*`.
const WORK_WORDS: &[&str] = &[
    "then",
    "after",
    "once",
    "before",
    "add",
    "adds",
    "adding",
    "write",
    "fix",
    "fixes",
    "fixing",
    "land",
    "apply",
    "applies",
    "wire",
    "wiring",
    "thread",
    "port",
    "finish*",
    "implement*",
    "author*",
    "draft*",
    "patch*",
    "extend*",
    "refactor*",
    "remove*",
    "delete*",
    "edit*",
    "rebuild*",
    "instrument*",
    "revert*",
    "restore*",
    "repair*",
    "rewire*",
    "update*",
    "modify*",
    "create*",
    "migrate*",
    "deprecate*",
    "switch*",
    "replace*",
    "standardis*",
    "standardiz*",
    "publish*",
    "document*",
];

fn asks_for_work(instruction: &str) -> bool {
    instruction.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()).any(|w| {
        let w = w.to_ascii_lowercase();
        WORK_WORDS.iter().any(|k| match k.strip_suffix('*') {
            Some(stem) => w.starts_with(stem),
            None => w == *k,
        })
    })
}

/// "`pytest …` after drafting …", "… once the patch lands": a command that checks work.
fn checks_work_after(rest: &str) -> bool {
    let mut words = rest.split_whitespace();
    let lead = words.next().unwrap_or("").to_ascii_lowercase();
    let next = words.next().unwrap_or("").trim_end_matches([',', '.', ';']);
    matches!(lead.as_str(), "after" | "once" | "when") && (next.ends_with("ing") || next.ends_with("ed"))
}

/// Programs that start a command line. Unquoted text must start with one of these (or an
/// assignment, `env`, `./x`); quoted text may also start with a shell builtin or a coreutil.
const PROGRAMS: &[&str] = &[
    "pytest",
    "py.test",
    "python",
    "python3",
    "pip",
    "pip3",
    "uv",
    "uvx",
    "poetry",
    "conda",
    "cargo",
    "rustc",
    "loop",
    "bash",
    "sh",
    "zsh",
    "cmake",
    "ctest",
    "ninja",
    "npm",
    "npx",
    "node",
    "yarn",
    "pnpm",
    "go",
    "java",
    "mvn",
    "gradle",
    "docker",
    "nanoBragg",
    "nb-compare",
    "torchrun",
    "mpirun",
    "srun",
    "hyperfine",
    "valgrind",
    "perf",
    "gcc",
    "clang",
    "nvidia-smi",
    "timeout",
    "time",
    "pyrefly",
    "mypy",
    "ruff",
];
const QUOTED_ONLY: &[&str] = &[
    "make",
    "git",
    "echo",
    "printf",
    "true",
    "false",
    "test",
    "cat",
    "ls",
    "cp",
    "mv",
    "mkdir",
    "rm",
    "tee",
    "grep",
    "rg",
    "sed",
    "awk",
    "jq",
    "diff",
    "cmp",
    "find",
    "head",
    "tail",
    "wc",
    "sort",
    "xargs",
    "tar",
    "sha256sum",
    "md5sum",
    "export",
    "cd",
    "source",
    "nproc",
    "date",
    "sleep",
    "kill",
    "exit",
    "env",
    "touch",
    "ln",
    "chmod",
    "cut",
    "tr",
    "uniq",
    "set",
    "unset",
    "nice",
    "stdbuf",
    "[",
];
/// Words that end an unquoted command when they trail it: prose, not arguments.
const PROSE: &[&str] = &[
    "once", "the", "a", "an", "is", "are", "was", "ready", "when", "after", "before", "until", "to", "and", "or",
    "then", "that", "this", "it", "so", "as", "if", "again", "for", "from", "into", "of", "on", "in", "at", "by",
    "with", "confirm", "verify", "capture", "record", "log", "save", "note", "patch", "done", "passes", "pass",
];

/// A command found in text, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub command: String,
    /// Byte offset of the command's text in the searched text.
    pub start: usize,
    pub quoted: bool,
}

/// The first runnable command in `text`, in reading order.
pub fn extract(text: &str) -> Option<String> {
    find_all(text).into_iter().next().map(|f| f.command)
}

/// Every runnable command in `text`, in reading order, each once.
pub fn find_all(text: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let spans = crate::markdown::code_spans(text);
    // The spans with their backticks, for telling what stands outside them.
    let quoted: Vec<std::ops::Range<usize>> = spans.iter().map(|(r, _)| r.start - 1..r.end + 1).collect();
    for (r, inner) in &spans {
        if let Some(cmd) = command_in(inner, true) {
            found.push(Found { command: cmd, start: r.start, quoted: true });
        }
    }
    // Unquoted candidates outside backticks only.
    let mut covered = 0;
    for m in LEAD_IN.find_iter(text) {
        let start = m.end();
        if start >= text.len() || start < covered || quoted.iter().any(|q| q.contains(&start) || q.contains(&m.start()))
        {
            continue;
        }
        let rest = &text[start..];
        let end = CLAUSE_END.find(rest).map_or(rest.len(), |e| e.start());
        if let Some(cmd) = longest_command(&rest[..end]) {
            covered = start + cmd.len();
            found.push(Found { command: cmd, start, quoted: false });
        }
    }
    found.sort_by_key(|f| f.start);
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(f.command.clone()));
    found
}

/// The longest run of words at the start of unquoted `text` that is a command, with trailing
/// prose and punctuation left out (`pytest -v tests/x.py once the patch is ready`).
fn longest_command(text: &str) -> Option<String> {
    let text = unescape_markdown(text.trim());
    let words: Vec<(usize, &str)> =
        text.split_whitespace().map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w)).collect();
    let mut n = words.len();
    while n > 0 {
        let last = words[n - 1].1.trim_end_matches([',', ';', ':', '.']);
        if last.is_empty() || PROSE.contains(&last.to_ascii_lowercase().as_str()) {
            n -= 1;
            continue;
        }
        let end = words[n - 1].0 + words[n - 1].1.len();
        let cand = text[..end].trim_end_matches([',', ';', ':', '.']);
        if let Some(cmd) = command_in(cand, false) {
            // Prose words right after a command that parses mean the sentence went on.
            return Some(cmd);
        }
        n -= 1;
    }
    None
}

/// Markdown's backslash escapes outside code (`\$`, `\_`, `\*`) read as the character.
fn unescape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| matches!(n, '$' | '_' | '*' | '[' | ']' | '#' | '`')) {
            continue;
        }
        out.push(c);
    }
    out
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn known(program: &str, quoted: bool) -> bool {
    let p = program.trim_matches(['"', '\'']);
    let base = basename(p);
    if p.starts_with("./") || p.starts_with("../") || (p.starts_with('/') && p.len() > 1) {
        return p.len() > 2 && !p.contains(['<', '>', '[', ']', '*']) && !p.ends_with('/');
    }
    PROGRAMS.contains(&base)
        || base.starts_with("python3.")
        || (quoted && (QUOTED_ONLY.contains(&base) || runnable_path(p)))
}

/// `golden_suite_generator/nanoBragg`, `scripts/run.sh`: a relative path a shell runs. A test
/// selector (`tests/x.py::test_y`) or a data file names no program.
fn runnable_path(p: &str) -> bool {
    const DATA: &[&str] = &["md", "py", "json", "log", "txt", "csv", "npy", "npz", "bin", "yaml", "yml", "toml", "png"];
    let ext = p.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.contains('/')).unwrap_or("");
    p.contains('/') && !p.ends_with('/') && !p.contains(['<', '>', '*', ':', '{', '$']) && !DATA.contains(&ext)
}

/// The command line in `text` as a shell would run it (markdown escapes read when the text as
/// written does not parse), or `None` when it is not one. `quoted`: it stood in backticks.
pub fn command_in(text: &str, quoted: bool) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.contains("...") || text.contains('…') {
        return None;
    }
    let (cmd, script) = match shell::parse(text) {
        Ok(s) => (text.to_string(), s),
        Err(_) if text.contains('\\') => {
            let u = unescape_markdown(text);
            let s = shell::parse(&u).ok()?;
            (u, s)
        }
        Err(_) => return None,
    };
    let programs: Vec<&str> = script.commands.iter().filter_map(|c| c.words.first().map(String::as_str)).collect();
    let Some(first) = programs.first() else {
        // Only assignments: `STAMP=$(date …)` sets a variable and runs nothing.
        return None;
    };
    let first_cmd = script.commands.iter().find(|c| !c.words.is_empty()).unwrap();
    let assigned = !first_cmd.assignments.is_empty();
    let compound = programs.len() > 1;
    let lead_ok = if *first == "env" {
        first_cmd.words.len() > 1 && first_cmd.words[1..].iter().any(|w| !shell::is_assignment(w))
    } else if assigned || compound {
        // After `NAME=value`, or in a compound line, the program must still be one.
        known(first, true) && (quoted || known(first, false) || programs.iter().any(|p| known(p, false)))
    } else {
        known(first, quoted)
    };
    if !lead_ok {
        return None;
    }
    // Every later program must be one too; prose in their place means this is no command line.
    if !programs.iter().skip(1).all(|p| known(p, true) || plausible_program(p)) {
        return None;
    }
    Some(cmd)
}

/// A word that could name a program on PATH.
fn plausible_program(p: &str) -> bool {
    let base = basename(p);
    !PROSE.contains(&base)
        && base.len() > 1
        && base.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
        && base.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// Would a shell run this as written? `quoted`: it stood in backticks.
pub fn is_command(text: &str, quoted: bool) -> bool {
    command_in(text, quoted).is_some()
}

/// The step a Do Now line describes: its command, or — when its words ask for work first
/// ("implement …, then run `pytest …`") — no command and the checks to run after the work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub command: Option<String>,
    pub verify: Vec<String>,
}

pub fn step_of(text: &str) -> Step {
    let all = find_all(text);
    let Some(first) = all.first() else { return Step::default() };
    // The instruction: after the `ITEM Phase X —` label, up to the command.
    let lead = &text[..first.start];
    let instruction =
        [" — ", " – ", " - "].iter().find_map(|s| lead.find(s).map(|i| &lead[i + s.len()..])).unwrap_or(lead);
    // "… run `pytest` after drafting the summary": the command checks work done before it.
    let after_cmd = text[first.start + first.command.len()..].trim_start_matches(['`', ' ']);
    if asks_for_work(instruction) || checks_work_after(after_cmd) {
        return Step { command: None, verify: all.into_iter().map(|f| f.command).collect() };
    }
    Step { command: Some(first.command.clone()), verify: Vec::new() }
}

/// A one-line summary of a manual step's text, for "manual step: …".
pub fn summary(text: &str) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 200 {
        format!("{}…", t.chars().take(199).collect::<String>())
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_the_upstream_memos_write() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "CLI-FLAGS-003 M2g.2c — draft the memo, then run `KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only tests/t.py -q` to confirm.",
                Some("KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only tests/t.py -q"),
            ),
            (
                "CLI-FLAGS-003 L1d — KMP_DUPLICATE_LIB_OK=TRUE PYTHONPATH=src python s.py --out a.md",
                Some("KMP_DUPLICATE_LIB_OK=TRUE PYTHONPATH=src python s.py --out a.md"),
            ),
            (
                "[V-1] Next Actions #1 — update `scripts/debug.py` for `--taps intensity` via `A=1 python scripts/debug.py --out \"$OUT\"` (repeat)",
                Some("A=1 python scripts/debug.py --out \"$OUT\""),
            ),
            (
                "[CLI-FLAGS-003] Handle -nonoise and -pix0_vector_mm — env KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only",
                Some("env KMP_DUPLICATE_LIB_OK=TRUE pytest --collect-only"),
            ),
            ("[S-2] Run `KMP=1 pytest -v tests/a.py -x`", Some("KMP=1 pytest -v tests/a.py -x")),
            ("X-1 Phase F4 — run `pytest --collect-only -q` after drafting `summary.md`.", Some("pytest --collect-only -q")),
            ("verify with pytest -v tests/x.py::T; then log it.", Some("pytest -v tests/x.py::T")),
            ("Run it via `./scripts/go.sh --fast`.", Some("./scripts/go.sh --fast")),
            ("`true`", Some("true")),
            // Compound lines are one command.
            (
                "X-1 — run export RUN_DIR=r/a && mkdir -p \"$RUN_DIR\" && KMP=1 python x.py --out \"$RUN_DIR/x.log\"",
                Some("export RUN_DIR=r/a && mkdir -p \"$RUN_DIR\" && KMP=1 python x.py --out \"$RUN_DIR/x.log\""),
            ),
            (
                "X-1 — `(/usr/bin/time -v timeout 3600 env A=1 pytest -vv tests/) 2>r/time.txt | tee r/log`",
                Some("(/usr/bin/time -v timeout 3600 env A=1 pytest -vv tests/) 2>r/time.txt | tee r/log"),
            ),
            (
                "STAMP=$(date -u +%Y%m%dT%H%M%SZ); mkdir -p r/$STAMP/c && timeout 1200 env A=1 pytest -vv t.py | tee r/$STAMP/c/p.log",
                Some("STAMP=$(date -u +%Y%m%dT%H%M%SZ); mkdir -p r/$STAMP/c && timeout 1200 env A=1 pytest -vv t.py | tee r/$STAMP/c/p.log"),
            ),
            ("run KMP=1 pytest -v tests/x.py once the patch is ready", Some("KMP=1 pytest -v tests/x.py")),
            ("run `STAMP=\\$(date -u +%Y) python x.py --out r/\\$STAMP/`", Some("STAMP=$(date -u +%Y) python x.py --out r/$STAMP/")),
            // Not commands: paths, identifiers, item tags, markdown, elisions, prose, assignments, heredoc heads.
            ("See `reports/.../phase_e/<loop_slug>/` and `triage_summary.md`.", None),
            ("Remove `_phi_carryover_cache` from the crystal.", None),
            ("Close `[TEST-SUITE-TRIAGE-001]` first.", None),
            ("Run `python -m nanobrag_torch ...` on the case.", None),
            ("Run the parity script after fixes and update artefacts.", None),
            ("make sure the plan is current — with the team", None),
            ("`<Action State>`: [ready_for_implementation]", None),
            ("set `STAMP=$(date -u +%Y%m%dT%H%M%SZ)` first", None),
            ("run `KMP=1 python - <<'PY'` (", None),
            ("run NB_C_BIN=./golden_suite_generator/nanoBragg with -dump_pixel", None),
            ("- Test: `tests/tools/test_cli.py::test_sla_watch_flags_breach`", None),
            ("build with `golden_suite_generator/nanoBragg -hkl x.hkl`", Some("golden_suite_generator/nanoBragg -hkl x.hkl")),
        ];
        for (text, want) in cases {
            assert_eq!(extract(text).as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn work_then_a_check_is_a_manual_step() {
        let s = step_of(
            "CLI-FLAGS-003 M2g.2c — draft the memo, then run `pytest --collect-only tests/t.py -q` to confirm.",
        );
        assert_eq!(s, Step { command: None, verify: vec!["pytest --collect-only tests/t.py -q".into()] });
        let s = step_of("[X-1] Phase D2 – Fix fluence scaling; after editing, run `pytest -v tests/a.py`");
        assert_eq!(s.command, None);
        let s = step_of("CLI-FLAGS-003 Handle -nonoise — run `pytest -v tests/a.py`");
        assert_eq!(s.command.as_deref(), Some("pytest -v tests/a.py"));
        let s =
            step_of("X-1 Phase F4 summary consolidation — run `pytest --collect-only -q` after drafting `summary.md`.");
        assert_eq!(s, Step { command: None, verify: vec!["pytest --collect-only -q".into()] });
        let s = step_of("[X-1] Phase B1 — capture the baseline via `python b.py --out r/`");
        assert_eq!(s.command.as_deref(), Some("python b.py --out r/"));
    }
}
