//! Commands in prose: which text of a memo's Do Now, a plan task's cell or a Next Action a
//! shell would run. A command is in backticks, or follows "run"/"running"/"with"/"via"/an em
//! dash, and starts with `NAME=value`, `env`, a known executable or `./script`. A path, an
//! identifier, an item tag or an elided command (`python -m x ...`) is not one.

use std::sync::LazyLock;

use regex::Regex;

static CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`]+)`").unwrap());
/// Words after which an unquoted command may follow.
static LEAD_IN: LazyLock<Regex> = LazyLock::new(|| {
    // Spelled-out capitals instead of `(?i)`: Unicode case folding makes this 10× dearer to build.
    Regex::new(r"(?:(?-u:\b)(?:[Rr]e-?run|[Rr]un|[Rr]unning|[Ee]xecute|[Ee]xecuting|[Vv]erify with|[Ww]ith|[Vv]ia)[ \t]+|[ \t][—–][ \t]+|^[ \t]*)").unwrap()
});
/// Where an unquoted command ends: a clause break in the prose around it.
static CLAUSE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"`|[ \t][—–][ \t]|;[ \t]|\.[ \t]+[A-Z(]|,[ \t]+(?:then|and)(?-u:\b)|[ \t]+then[ \t]|[ \t]\(|\.[ \t]*$")
        .unwrap()
});
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*=[^ \t]*$").unwrap());

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
];

/// The first runnable command in `text`, in reading order.
pub fn extract(text: &str) -> Option<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for c in CODE.captures_iter(text) {
        let m = c.get(1).unwrap();
        if is_command(m.as_str(), true) {
            found.push((m.start(), m.as_str().trim().to_string()));
            break;
        }
    }
    // Unquoted candidates outside backticks only.
    let quoted: Vec<std::ops::Range<usize>> = CODE.find_iter(text).map(|m| m.range()).collect();
    for m in LEAD_IN.find_iter(text) {
        let start = m.end();
        if start >= text.len() || quoted.iter().any(|q| q.contains(&start) || q.contains(&m.start())) {
            continue;
        }
        if found.first().is_some_and(|(at, _)| *at < start) {
            break;
        }
        let rest = &text[start..];
        let end = CLAUSE_END.find(rest).map_or(rest.len(), |e| e.start());
        let cand = rest[..end].trim().trim_end_matches([',', ';', ':', '.']);
        if is_command(cand, false) {
            found.push((start, cand.to_string()));
            break;
        }
    }
    found.into_iter().min_by_key(|(at, _)| *at).map(|(_, c)| c)
}

/// Would a shell run this as written? `quoted`: it stood in backticks.
pub fn is_command(text: &str, quoted: bool) -> bool {
    let text = text.trim();
    if text.is_empty() || text.contains("...") || text.contains('…') {
        return false;
    }
    let mut words = text.split_whitespace().peekable();
    let mut assigned = false;
    while words.peek().is_some_and(|w| ASSIGNMENT.is_match(w)) {
        words.next();
        assigned = true;
    }
    let Some(first) = words.next() else {
        return false;
    };
    if assigned || first == "env" {
        // `A=B cmd` or `env A=B cmd`: whatever follows is the program.
        return first != "env" || words.next().is_some();
    }
    if first.starts_with("./") || first.starts_with("../") {
        return first.len() > 2 && !first.contains(['<', '>', '[', ']']);
    }
    PROGRAMS.contains(&first) || (quoted && QUOTED_ONLY.contains(&first))
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
            // Not commands: paths, identifiers, item tags, markdown, elisions, prose.
            ("See `reports/.../phase_e/<loop_slug>/` and `triage_summary.md`.", None),
            ("Remove `_phi_carryover_cache` from the crystal.", None),
            ("Close `[TEST-SUITE-TRIAGE-001]` first.", None),
            ("Run `python -m nanobrag_torch ...` on the case.", None),
            ("Run the parity script after fixes and update artefacts.", None),
            ("make sure the plan is current — with the team", None),
            ("`<Action State>`: [ready_for_implementation]", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract(text).as_deref(), *want, "{text}");
        }
    }
}
