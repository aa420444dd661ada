//! The crate's shape: no import circle between its modules, one file per subcommand under
//! `src/cli/`, and no file over 500 lines outside the simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo_root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/sim/params.rs` → `sim::params`; the binary's files live under `bin`.
fn module_of(rel: &Path) -> String {
    let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    let mut parts: Vec<String> = parts.into_iter().filter(|p| p != "mod").collect();
    let binary = ["main", "cli", "mcp"].contains(&parts[0].as_str());
    if parts == ["lib"] {
        return "crate".into();
    }
    if parts == ["main"] {
        parts.clear();
    }
    let path = parts.join("::");
    match (binary, path.is_empty()) {
        (true, true) => "bin".into(),
        (true, false) => format!("bin::{path}"),
        (false, _) => path,
    }
}

/// `a::{b, c::d}` → `a::b`, `a::c::d` (one level of braces, as this crate writes them).
fn expand(path: &str) -> Vec<String> {
    match (path.find('{'), path.rfind('}')) {
        (Some(open), Some(close)) if open < close => {
            let head = &path[..open];
            path[open + 1..close]
                .split(',')
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| format!("{head}{s}"))
                .collect()
        }
        _ => vec![path.to_string()],
    }
}

/// The modules a file's code refers to (its tests left out).
fn references(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let path_re = regex::Regex::new(r"\b(crate|super|ledger_loop)((?:::(?:\w+|\{[^}]*\}))+)").unwrap();
    let crate_root = if module.starts_with("bin") { "bin" } else { "crate" };
    let mut out = BTreeSet::new();
    for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//") && !l.starts_with("mod ")) {
        for c in path_re.captures_iter(line) {
            for full in expand(&format!("{}{}", &c[1], &c[2])) {
                let mut segs: Vec<&str> = full.split("::").collect();
                let base: Vec<String> = match segs[0] {
                    "crate" => vec![],
                    "ledger_loop" => vec![],
                    _ => {
                        // super: the parent of this file's module.
                        let mut m: Vec<String> = module.split("::").map(str::to_string).collect();
                        if m.first().is_some_and(|s| s == "bin") {
                            m.remove(0);
                        }
                        m.pop();
                        m
                    }
                };
                let in_bin = segs[0] != "ledger_loop" && crate_root == "bin";
                segs.remove(0);
                let mut target = base;
                let mut best = if in_bin { "bin".to_string() } else { "crate".to_string() };
                for s in segs {
                    target.push(s.to_string());
                    let name = target.join("::");
                    let name = if in_bin { format!("bin::{name}") } else { name };
                    if modules.contains(&name) {
                        best = name;
                    } else {
                        break;
                    }
                }
                if best != module {
                    out.insert(best);
                }
            }
        }
    }
    out
}

#[test]
fn the_crate_has_no_import_circle() {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let texts: BTreeMap<String, String> =
        files.iter().map(|f| (module_of(f.strip_prefix(&src).unwrap()), std::fs::read_to_string(f).unwrap())).collect();
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    assert!(modules.contains("sim::params") && modules.contains("bin::cli::next"), "{modules:?}");
    let edges: BTreeMap<String, BTreeSet<String>> =
        texts.iter().map(|(m, t)| (m.clone(), references(m, t, &modules))).collect();
    // The module graph must be acyclic: a depth-first search finds no back edge.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for n in edges.get(m).into_iter().flatten() {
            match state.get(n.as_str()).copied().unwrap_or(0) {
                0 => visit(n, edges, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|s| s == n).unwrap();
                    cycles.push(format!("{} -> {n}", stack[from..].join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for m in &modules {
        if !state.contains_key(m.as_str()) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
    // The front ends are two faces of the library: neither calls the other.
    assert!(!edges["bin::mcp"].iter().any(|e| e.starts_with("bin::cli")), "{:?}", edges["bin::mcp"]);
    assert!(!edges.iter().any(|(m, e)| m.starts_with("bin::cli") && e.contains("bin::mcp")));
}

#[test]
fn every_subcommand_has_its_file_and_no_file_is_long() {
    let cli = repo_root().join("src/cli");
    for name in [
        "status",
        "next",
        "attempt",
        "guard",
        "hook",
        "compare",
        "hotspots",
        "gate",
        "brief",
        "lint",
        "merge",
        "mcp",
        "sim",
        "turn",
        "orchestrate",
        "state",
        "runs",
    ] {
        assert!(cli.join(format!("{name}.rs")).is_file(), "src/cli/{name}.rs");
    }
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    for f in files.iter().filter(|f| !f.components().any(|c| c.as_os_str() == "sim")) {
        let lines = std::fs::read_to_string(f).unwrap().lines().count();
        assert!(lines <= 500, "{} has {lines} lines", f.display());
    }
}

/// The longest a function may be, in lines from its signature to its closing brace.
const FN_LIMIT: usize = 100;

/// Each function's name and length: rustfmt closes a body with a `}` at the indent its `fn`
/// line has, so the first such line after the signature ends it.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let sig = regex::Regex::new(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(c) = sig.captures(line) else { continue };
        if line.trim_end().ends_with('}') || line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{}}}", &c[1]);
        let end = lines[i + 1..].iter().position(|l| *l == close).map_or(lines.len(), |j| i + 1 + j);
        out.push((c[2].to_string(), end - i + 1));
    }
    out
}

/// Short functions with named steps (outside the simulator's per-pixel kernels, whose one long
/// loop is the point).
#[test]
fn no_function_is_long() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let kernels = ["src/sim/fast.rs", "src/sim/scalar.rs"];
    let mut problems = Vec::new();
    for f in files {
        let rel = f.strip_prefix(repo_root()).unwrap().to_string_lossy().into_owned();
        if kernels.contains(&rel.as_str()) {
            continue;
        }
        for (name, lines) in function_lengths(&std::fs::read_to_string(&f).unwrap()) {
            if lines > FN_LIMIT {
                problems.push(format!(
                    "{rel}: fn {name} has {lines} lines (at most {FN_LIMIT}): split it into named steps"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Test hooks (`LOOP_TEST_*` variables) exist only in unit-test builds: the `loop` a user runs
/// has none to trip over.
#[test]
fn the_binary_holds_no_test_hook() {
    let bin = std::fs::read(assert_cmd::cargo::cargo_bin("loop")).unwrap();
    let hooks = memchr::memmem::find_iter(&bin, b"LOOP_TEST").count();
    assert_eq!(hooks, 0, "`LOOP_TEST` appears {hooks} times in the loop binary");
}
