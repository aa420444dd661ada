//! The option lists in `docs/`, generated from the clap definitions: each command's page holds
//! a block between `<!-- options:NAME:begin -->` and `<!-- options:NAME:end -->` that must equal
//! what [`markdown`] makes of the command. `LOOP_BLESS=1 cargo test --release --bin loop
//! reference` rewrites the blocks after a change to the arguments.

use clap::{Command, CommandFactory};

use super::Cli;

/// The option list of `loop NAME` and of each of its subcommands, as markdown.
fn markdown(cmd: &Command) -> String {
    let mut out = String::new();
    leaf(cmd, &mut out);
    out
}

fn leaf(cmd: &Command, out: &mut String) {
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").lines().next().unwrap_or_default().trim();
    if !subs.is_empty() {
        for sub in subs {
            leaf(sub, out);
        }
        return;
    }
    out.push_str(&format!("`{usage}` — {}\n\n", one_line(cmd.get_about().map(|a| a.to_string()))));
    // `--root` and `--color` are global: said once on the page, not in every list.
    let args: Vec<_> = cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    if args.is_empty() {
        return;
    }
    out.push_str("| argument | what |\n| --- | --- |\n");
    for arg in args {
        let takes_values = arg.get_action().takes_values();
        let values: Vec<String> = match takes_values {
            true => arg.get_value_names().unwrap_or_default().iter().map(|v| format!("<{v}>")).collect(),
            false => Vec::new(),
        };
        let name = match (arg.get_long(), arg.get_short()) {
            (Some(l), Some(s)) => format!("-{s}, --{l}"),
            (Some(l), None) => format!("--{l}"),
            (None, Some(s)) => format!("-{s}"),
            (None, None) => values.join(" "),
        };
        let name = if arg.is_positional() || values.is_empty() { name } else { format!("{name} {}", values.join(" ")) };
        let mut what = one_line(arg.get_help().map(|h| h.to_string()));
        if !what.ends_with(['.', '?', ')']) {
            what.push('.');
        }
        let possible: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
        if !possible.is_empty() && takes_values {
            what.push_str(&format!(" One of: {}.", possible.join(", ")));
        }
        let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        if !defaults.is_empty() && takes_values {
            what.push_str(&format!(" Default: {}.", defaults.join(" ")));
        }
        out.push_str(&format!("| `{name}` | {} |\n", what.replace('|', "\\|")));
    }
    out.push('\n');
}

fn one_line(text: Option<String>) -> String {
    text.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The docs page that documents each top-level command.
const PAGES: &[(&str, &[&str])] = &[
    ("docs/commands.md", &["init", "status", "next", "run", "attempt", "brief", "lint", "compare", "hotspots", "gate"]),
    ("docs/guard.md", &["guard", "hook"]),
    ("docs/parallel.md", &["merge"]),
    ("docs/mcp.md", &["mcp"]),
    ("docs/orchestrate.md", &["turn", "orchestrate", "state", "runs"]),
    ("docs/report.md", &["report"]),
    ("docs/simulator.md", &["sim"]),
];

#[test]
fn docs_option_lists_match_the_clap_definitions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cli = Cli::command();
    cli.build();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
    let listed: Vec<&str> = PAGES.iter().flat_map(|(_, cmds)| cmds.iter().copied()).collect();
    for name in &names {
        assert!(listed.contains(name), "`loop {name}` is on no docs page: add it to PAGES");
    }
    let bless = std::env::var_os("LOOP_BLESS").is_some();
    let mut drift = Vec::new();
    for (page, cmds) in PAGES {
        let path = root.join(page);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for name in *cmds {
            let cmd = cli.find_subcommand(name).unwrap();
            let want = markdown(cmd);
            let (begin, end) = (format!("<!-- options:{name}:begin -->\n"), format!("<!-- options:{name}:end -->"));
            let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
                drift.push(format!("{page}: no {begin}"));
                continue;
            };
            let b = b + begin.len();
            if text[b..e] != want {
                drift.push(format!("{page}: the options of `loop {name}` changed"));
                text.replace_range(b..e, &want);
            }
        }
        if bless {
            std::fs::write(&path, &text).unwrap();
        }
    }
    assert!(
        bless || drift.is_empty(),
        "{}\nregenerate: LOOP_BLESS=1 cargo test --release --bin loop reference",
        drift.join("\n")
    );
}
