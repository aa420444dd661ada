//! A step's artifacts folder (`reports/<ITEM>/phase_x/<STAMP>/`, or what the memo, the item or
//! the phase names) and the stamp placeholders filled into paths and commands.

use std::sync::LazyLock;

use regex::Regex;

use crate::ledger;
use crate::memo::first_code;
use crate::model::Model;
use crate::plan::Phase;

static DOLLAR_STAMP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$STAMP\b").unwrap());
static REPORTS_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"reports/[^\s;,`)'\x22]+").unwrap());

/// Stamp placeholders that `fill` replaces.
const STAMP_MARKS: &[&str] = &["<STAMP>", "${STAMP}", "$STAMP", "<stamp>", "<timestamp>"];

/// A path with no placeholder left once the stamp is filled in (`<loop_slug>`, `...`, `$OUT`).
pub fn is_concrete(path: &str) -> bool {
    let filled = fill(path, "S");
    !(filled.contains(['<', '>', '$', '*', '{', '}']) || filled.contains("...") || filled.contains('…'))
}

/// A path pattern rather than a path: it holds a stamp or any other placeholder.
pub fn is_template(path: &str) -> bool {
    fill(path, "") != path || !is_concrete(path)
}

/// The artifacts folder as written: the memo's, else the item's `Artifacts Root:` with the
/// plan's phase naming (`phase_b`), else the reports path the phase's Exit Criteria names, else
/// `reports/<ITEM>/phase_<x>/<STAMP>/`. Always a fresh `<STAMP>` folder.
pub(crate) fn artifacts_template(
    model: &Model,
    item: &ledger::Item,
    memo: Option<&crate::memo::Memo>,
    phase: Option<&Phase>,
) -> (String, Option<String>) {
    let reports = model.ws.config.reports.dir.trim_end_matches('/');
    let phase_dir = phase.map(|p| format!("phase_{}/", p.id.to_ascii_lowercase())).unwrap_or_default();
    let root = item
        .field("Artifacts Root")
        .and_then(|f| first_code(&f.value).or_else(|| f.value.split_whitespace().next().map(str::to_string)))
        .filter(|r| is_concrete(r) && r.contains('/'));
    let default = match &root {
        Some(r) => format!("{}/{phase_dir}<STAMP>/", r.trim_end_matches('/')),
        None => format!("{reports}/{}/{phase_dir}<STAMP>/", item.id),
    };
    let written = memo.and_then(|m| m.artifacts().map(|(a, line)| (a, format!("{}:{line}", m.path)))).or_else(|| {
        phase
            .and_then(|p| p.exit_criteria.as_ref())
            .and_then(|e| REPORTS_PATH.find(&e.value))
            .map(|m| (m.as_str().trim_end_matches('.').to_string(), String::new()))
    });
    let Some((path, at)) = written.filter(|_| root.is_none() || memo.is_some()) else {
        return (default, None);
    };
    if !is_concrete(&path) {
        let note = (!at.is_empty())
            .then(|| format!("{at}: artifacts path `{path}` has a placeholder loop cannot fill; using {default}"));
        return (default, note);
    }
    let mut path = path.trim_end_matches('/').to_string() + "/";
    if !STAMP_MARKS.iter().any(|m| path.contains(m)) {
        path.push_str("<STAMP>/");
    }
    (path, None)
}

/// Fill the stamp into a command line: `<STAMP>`-style placeholders everywhere (a shell would
/// read `<STAMP>` as a redirection), `$STAMP` and `${STAMP}` only where the shell would expand
/// them — not in single quotes, not after a backslash, and not at all when the line sets
/// `STAMP` itself. Whatever is left, the shell expands from the exported `STAMP`.
pub fn fill_command(cmd: &str, stamp: &str) -> String {
    let marks = cmd.replace("<STAMP>", stamp).replace("<stamp>", stamp).replace("<timestamp>", stamp);
    let Ok(script) = crate::shell::parse(&marks) else { return marks };
    let sets_stamp = script.commands.iter().any(|c| {
        // `STAMP=…`, `export STAMP=…`, `read STAMP`: the line's own stamp.
        c.assignments.iter().any(|w| w.starts_with("STAMP="))
            || c.words.first().is_some_and(|p| matches!(p.as_str(), "export" | "read" | "local" | "declare"))
                && c.words.iter().skip(1).any(|w| w == "STAMP" || w.starts_with("STAMP="))
    });
    if sets_stamp {
        return marks;
    }
    let mut out = String::with_capacity(marks.len());
    let mut at = 0;
    for (range, name) in script.expansions.iter().filter(|(_, n)| n == "STAMP") {
        let _ = name;
        out.push_str(&marks[at..range.start]);
        out.push_str(stamp);
        at = range.end;
    }
    out.push_str(&marks[at..]);
    out
}

/// Fill every stamp placeholder (`<STAMP>`, `$STAMP`, `${STAMP}`, `<timestamp>`) with the stamp.
pub fn fill(s: &str, stamp: &str) -> String {
    let mut out = s.replace("${STAMP}", stamp).replace("<STAMP>", stamp).replace("<stamp>", stamp);
    out = out.replace("<timestamp>", stamp);
    // `$STAMP` but not `$STAMP_DIR`.
    DOLLAR_STAMP.replace_all(&out, regex::NoExpand(stamp)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_goes_where_the_shell_expands_it() {
        assert_eq!(
            fill_command("python x --out r/<STAMP>/ --log r/$STAMP/l", "S1"),
            "python x --out r/S1/ --log r/S1/l"
        );
        assert_eq!(fill_command("echo '$STAMP' \\$STAMP ${STAMP}", "S1"), "echo '$STAMP' \\$STAMP S1");
        let own = "STAMP=$(date -u +%Y); mkdir -p r/$STAMP && pytest";
        assert_eq!(fill_command(own, "S1"), own);
        assert_eq!(fill("reports/x/<STAMP>/", "S1"), "reports/x/S1/");
    }
}
