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
/// Programs that do a step with no argument at all (`make` builds, `true` passes).
const LONE: &[&str] = &["make", "true", "false"];
/// Words that end an unquoted command when they trail it: prose, not arguments.
const PROSE: &[&str] = &[
    "once", "the", "a", "an", "is", "are", "was", "ready", "when", "after", "before", "until", "to", "and", "or",
    "then", "that", "this", "it", "so", "as", "if", "again", "for", "from", "into", "of", "on", "in", "at", "by",
    "with", "confirm", "verify", "capture", "record", "log", "save", "note", "patch", "done", "passes", "pass",
];

/// Words that start a clause of prose after an unquoted command (when a plain word follows).
const CLAUSE_WORDS: &[&str] = &["after", "once", "before", "when", "until", "while", "so", "then", "to", "and"];

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
    // "… -q after capturing the traces": a clause word followed by a plain word ends the command.
    // Not inside quotes: `-k "a and not b"` is one argument.
    let outside_quotes = |at: usize| text[..at].matches(['"', '\'']).count().is_multiple_of(2);
    let clause = words.windows(2).skip(1).position(|w| {
        CLAUSE_WORDS.contains(&w[0].1)
            && w[1].1.chars().all(|c| c.is_alphabetic() && c.is_lowercase())
            && outside_quotes(w[0].0)
    });
    let mut n = clause.map_or(words.len(), |k| k + 1);
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
    // A lone word that only backticks made a program is a name in prose (`rg`, `git`,
    // `Detector/Crystal/Simulator`), not a line to run.
    let lone = programs.len() == 1 && first_cmd.words.len() == 1 && !assigned;
    if lone && quoted && !known(first, false) && !LONE.contains(first) && !first.starts_with(['.', '/']) {
        return None;
    }
    // Every later program must be one too; prose in their place means this is no command line.
    if !programs.iter().skip(1).all(|p| known(p, true) || plausible_program(p)) {
        return None;
    }
    // `timeout DURATION PROGRAM …` runs a program; "(timeout 60 min)" is prose.
    let wraps_nothing = |c: &shell::Simple| {
        let rest: Vec<&str> = c.words.iter().skip(1).map(String::as_str).skip_while(|w| w.starts_with('-')).collect();
        let duration = |w: &str| {
            let d = w.trim_end_matches(['s', 'm', 'h', 'd']);
            !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.')
        };
        rest.len() < 2 || !duration(rest[0]) || !(known(rest[1], true) || rest[1].contains('/'))
    };
    if script.commands.iter().any(|c| c.words.first().is_some_and(|w| w == "timeout") && wraps_nothing(c)) {
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
mod tests;
