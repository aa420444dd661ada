//! The command line: clap definitions, dispatch and printing. One file per subcommand; each
//! calls the library's operations (as `loop mcp` does) and prints what they return.

mod attempt;
mod brief;
mod compare;
mod gate;
mod guard;
mod hook;
mod hotspots;
mod init;
mod lint;
pub mod mcp;
mod merge;
mod next;
mod orchestrate;
#[cfg(test)]
mod reference;
mod report;
mod runs;
mod sim;
mod state;
mod status;
mod turn;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use attempt::AttemptArgs;
use brief::BriefArgs;
use compare::CompareArgs;
use gate::GateCommand;
use guard::GuardArgs;
use hook::HookAction;
use hotspots::HotspotsArgs;
use init::InitArgs;
use ledger_loop::error::{Error, Result};
use ledger_loop::model::Model;
use ledger_loop::{hook as hooks, run};
use lint::LintArgs;
pub use mcp::McpArgs;
use merge::MergeAction;
use next::{NextArgs, RunArgs};
use orchestrate::OrchestrateArgs;
use report::ReportArgs;
use runs::RunsArgs;
use sim::SimCommand;
use state::StateArgs;
use status::StatusArgs;
use turn::TurnArgs;

#[derive(Debug, Parser)]
#[command(
    name = "loop",
    version,
    about = "Plan-and-ledger automation: find the next gated step, run it, record the attempt, guard commits.",
    after_help = "Examples:\n  # what the ledger and plans say\n  loop status\n  # the next gated step and why\n  loop next\n  # run it, recording artifacts under reports/\n  loop next --run\n\nThe workspace is the first folder upward holding docs/fix_plan.md or\nloop.yaml. LOOP_NOW=2026-01-05T15:30:00Z fixes the clock for dates and\nSTAMPs."
)]
pub struct Cli {
    /// Workspace root (default: walk up from the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Colour output: auto (on a terminal, unless NO_COLOR is set), always, or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a workspace here: a small ledger, plan and memo, docs/index.md, loop.yaml, .gitignore lines.
    #[command(
        after_help = "Examples:\n  # in your project's folder\n  loop init\n  loop status && loop next\n  # see what it would write\n  loop init --dry-run\n\nOnly adds: a file that exists is kept (the ledger, plan and memo are\nwritten together, only when there is no ledger or memo yet), and\n.gitignore gets the lines for reports/ and logs/ it lacks."
    )]
    Init(InitArgs),
    /// Show the focus item, its plan and progress, protected assets and diagnostics.
    #[command(
        after_help = "Examples:\n  loop status\n  loop status --json | jq '.ledger.items[].id'\n  loop status --root ../other-workspace"
    )]
    Status(StatusArgs),
    /// Decide the next gated step (item, plan, phase, task, command); --run runs it.
    #[command(
        after_help = "Examples:\n  # the decision and its gate checks\n  loop next\n  # also every phase considered\n  loop next --explain\n  # the decision as data (schema: docs/json.md)\n  loop next --json\n  # run the command; artifacts into reports/.../<STAMP>/\n  loop next --run\n  # what would run and be written\n  loop next --run --dry-run\n\nExit status: 0 a step was found (or ran and succeeded, or is manual),\n1 blocked or the step failed, 2 bad input, 130 interrupted."
    )]
    Next(NextArgs),
    /// Run the next gated step: short for `loop next --run`.
    #[command(
        after_help = "Examples:\n  # run the step; artifacts into reports/.../<STAMP>/\n  loop run\n  # what would run and be written\n  loop run --dry-run\n  loop run --item LOOP-SIM-001 --json\n\nExit status: 0 the step succeeded, 1 it failed or is blocked or manual,\n2 bad input, 130 interrupted (Ctrl-C stops the step's process group)."
    )]
    Run(RunArgs),
    /// Append a numbered attempt entry to a ledger item (and move its pointers), changing no other byte.
    #[command(
        after_help = "Examples:\n  # record a failed run by hand\n  loop attempt LOOP-SIM-001 --result failed --phase C1 \\\n      --metric corr=0.721175 --note 'Parity regression confirmed'\n  # record the run `loop next --run` just made (marks its task [D]\n  # when every gate passes)\n  loop attempt --last-run\n  # the same, and bump Last Updated\n  loop attempt --last-run --touch\n  # move a pointer only: no entry\n  loop attempt LOOP-SIM-001 --task C1=D\n  # show the diff only\n  loop attempt LOOP-SIM-001 --result success --status done --dry-run\n\nThe entry goes at the end of the item's Attempts History list (created\nafter the item's last field when missing), numbered max+1, in the\nindentation and bullet style of the entries above it. The ledger is\nlocked for the whole read-modify-write and replaced atomically."
    )]
    Attempt(Box<AttemptArgs>),
    /// Check staged changes: refuse reports/ artifacts, removed protected assets, huge files.
    #[command(
        after_help = "Examples:\n  # quiet, exit 0 when the staged changes are fine\n  loop guard\n  # the findings as data\n  loop guard --json\n\nRun by the pre-commit hook that `loop hook install` writes. Exit 1 when\na commit must be refused, 2 when the repository or loop.yaml cannot be\nread."
    )]
    Guard(GuardArgs),
    /// Install, remove or show the pre-commit hook that runs `loop guard`.
    #[command(after_help = "Examples:\n  loop hook install\n  loop hook status\n  loop hook uninstall")]
    Hook {
        #[command(subcommand)]
        action: HookAction,
    },
    /// Compare two float images: correlation, sum ratio, RMSE, worst pixel; optional gates.
    #[command(
        after_help = "Examples:\n  # the C's golden image against loop's image of the same command line\n  loop sim run --floatfile out.bin --nb-args \"-default_F 100 \\\n      -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 \\\n      -pixel 1 -detpixels 64\"\n  loop compare tests/fixtures/golden/cubic.bin out.bin\n  loop compare tests/fixtures/golden/cubic.bin out.bin \\\n      --gate \"corr>=0.9999,sum_ratio=1±1e-4\" --json\n  loop compare tests/fixtures/golden/cubic.bin out.bin \\\n      --roi 16,16,48,48 --diff-png diff.png\n\nFormats: raw float32 (nanoBragg -floatfile; square unless --shape\nSLOWxFAST), .npy float32/float64, 16-bit PNG. Exit 1 when a --gate\nfails, 2 on unreadable or mismatched images."
    )]
    Compare(CompareArgs),
    /// Rank profiler hotspots (self and total time per span) from a Chrome trace; writes hot_loops.csv and hotspots.md.
    #[command(
        after_help = "Examples:\n  loop sim profile --sizes 256 --outdir out/profile/\n  loop hotspots out/profile/trace.json --outdir out/hotspots/\n  loop hotspots out/profile/trace.json --outdir out/hotspots/ --top 5 --json\n\nReads `traceEvents` (or a bare event array) with `X` complete events\nand `B`/`E` pairs, streaming."
    )]
    Hotspots(HotspotsArgs),
    /// Metric gates: evaluate the gates a plan states against a run's metrics.json.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Draft the next Do Now memo (input.md) from the ledger and plans.
    #[command(
        after_help = "Examples:\n  # print the memo for the focus item\n  loop brief\n  # for another item\n  loop brief LOOP-SIM-001\n  # replace input.md (atomically)\n  loop brief --write\n  # with your own template (see templates/README.md)\n  loop brief --template my.md\n\nRefuses to write a protected input.md unless --force-protected (which\nalso prints the diff on stderr)."
    )]
    Brief(BriefArgs),
    /// Check the ledger and plans for rot: duplicates, Index drift, attempt numbering, dead links.
    #[command(
        after_help = "Examples:\n  loop lint\n  loop lint --json\n  # sync Index statuses, add missing Index rows (byte splices)\n  loop lint --fix\n\nExit 1 when there are errors (warnings alone exit 0), 2 when a file does\nnot parse (an unclosed fence, a table without its delimiter row)."
    )]
    Lint(LintArgs),
    /// A git merge driver for the ledger and plans: merge by structure, not by line.
    #[command(subcommand)]
    Merge(MergeAction),
    /// Serve the workflow as Model Context Protocol tools on stdin/stdout (for coding agents).
    #[command(
        after_help = "Examples:\n  # what an agent's MCP configuration runs\n  loop mcp --root /path/to/workspace\n  # also let the agent run steps\n  loop mcp --allow-run\n\nTools: status, next, attempt, lint, brief, gate_check, compare, run.\nResources: ledger://items/{id}, plan://{path}. Logs go to stderr."
    )]
    Mcp(McpArgs),
    /// One supervisor or engineer turn in this clone, now: the agent's work, checked, recorded, committed.
    #[command(
        after_help = "Examples:\n  # the supervisor writes the next memo (builtin: loop brief --write)\n  loop turn --role supervisor\n  # the engineer does the memo's step; loop runs its checks and\n  # records the attempt from what it measured\n  loop turn --role engineer\n  loop turn --role engineer --json\n\nAgents, prompts and limits: `orchestrate:` in loop.yaml (README,\n\"Orchestrating agents\"). Exit status: 0 ok, 3 agent_failed, 4 timeout,\n5 idle, 6 limit, 8 blocked, 9 gate_failed, 10 stalled, 130 interrupted,\n2 bad input."
    )]
    Turn(TurnArgs),
    /// Run this role's next turns, taking turns with the other role (through git with --sync-via-git).
    #[command(
        after_help = "Examples:\n  # on the supervisor's clone\n  loop orchestrate --role supervisor --sync-via-git --iterations 3\n  # on the engineer's clone, at the same time\n  loop orchestrate --role engineer --sync-via-git --iterations 3\n  # both roles in one clone: one process each, at the same time\n  loop orchestrate --role supervisor --iterations 2 &\n  loop orchestrate --role engineer --iterations 2\n\nEach role waits while the other has the turn, so both must run. With\nno state yet the supervisor goes first. A turn killed at any phase\nis finished by the next start of its role. Exit status: 0 when the turns\nare done; else the outcome that stopped them (6 limit, 7 budget,\n8 blocked, 10 stalled, 130 interrupted), 1 a failed push, 2 bad input."
    )]
    Orchestrate(OrchestrateArgs),
    /// Show whose turn it is and who holds a running turn (expired leases too); repair by hand.
    #[command(
        after_help = "Examples:\n  loop state\n  loop state --json\n  # end the engineer's stuck turn by hand, handing over\n  loop state stamp engineer fail\n  loop state reset"
    )]
    State(StateArgs),
    /// List the turns taken: iteration, role, outcome, duration, cost, commit.
    #[command(after_help = "Examples:\n  loop runs\n  loop runs --json")]
    Runs(RunsArgs),
    /// Write the loop's history as one self-contained HTML page: attempts, metrics against their gates, plans, turns.
    #[command(
        after_help = "Examples:\n  # reports/loop-report.html, from the ledger, the plans and git history\n  loop report\n  loop report --out /tmp/loop.html --since 2025-10-01\n  loop report --item LOOP-SIM-001\n  # the page's data (schema: docs/json.md)\n  loop report --json\n\nThe page needs no server and no network: open it in any browser."
    )]
    Report(ReportArgs),
    /// The built-in nanoBragg-compatible diffraction simulator and its profiler.
    #[command(subcommand)]
    Sim(SimCommand),
}

impl Cli {
    /// Whether the command asked for JSON, so that an error is printed as JSON too.
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Command::Init(a) => a.json,
            Command::Status(a) => a.json,
            Command::Next(a) => a.json,
            Command::Run(a) => a.json,
            Command::Attempt(a) => a.json,
            Command::Guard(a) => a.json,
            Command::Hook { action } => matches!(action, HookAction::Status { json: true }),
            Command::Compare(a) => a.json,
            Command::Hotspots(a) => a.json,
            Command::Gate(GateCommand::Check(a)) => a.json,
            Command::Brief(a) => a.json,
            Command::Lint(a) => a.json,
            Command::Merge(MergeAction::File { json, .. }) => *json,
            Command::Merge(_) | Command::Mcp(_) => false,
            Command::Turn(a) => a.json,
            Command::Orchestrate(a) => a.json,
            Command::State(a) => a.json,
            Command::Runs(a) => a.json,
            Command::Report(a) => a.json,
            Command::Sim(s) => s.wants_json(),
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let choice = match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    match &cli.command {
        Command::Init(a) => init::cmd_init(&cli, a),
        Command::Status(a) => status::cmd_status(&cli, a),
        Command::Next(a) => next::cmd_next(&cli, a),
        Command::Run(a) => next::cmd_run(&cli, a),
        Command::Attempt(a) => attempt::cmd_attempt(&cli, a),
        Command::Guard(a) => guard::cmd_guard(&cli, a),
        Command::Hook { action } => hook::cmd_hook(action),
        Command::Compare(a) => compare::cmd_compare(a),
        Command::Hotspots(a) => hotspots::cmd_hotspots(a),
        Command::Gate(GateCommand::Check(a)) => gate::cmd_gate_check(&cli, a),
        Command::Brief(a) => brief::cmd_brief(&cli, a),
        Command::Lint(a) => lint::cmd_lint(&cli, a),
        Command::Merge(m) => merge::cmd_merge(&cli, m),
        // `main` serves MCP itself: the CLI does not call the other front end.
        Command::Mcp(_) => Err(Error::Usage("`loop mcp` is served by main".into())),
        Command::Sim(s) => sim::cmd_sim(s),
        Command::Turn(a) => turn::cmd_turn(&cli, a),
        Command::Orchestrate(a) => orchestrate::cmd_orchestrate(&cli, a),
        Command::State(a) => state::cmd_state(&cli, a),
        Command::Runs(a) => runs::cmd_runs(&cli, a),
        Command::Report(a) => report::cmd_report(&cli, a),
    }
}

/// Write to stdout. A closed pipe (`loop next --run | head`) loses the rest of the text, not
/// the work: the step still runs and is recorded. Colour codes are kept or stripped by anstream
/// (terminal, `--color`, `NO_COLOR`, `CLICOLOR_FORCE`).
pub(crate) fn out(s: &str) {
    let mut stdout = anstream::stdout().lock();
    let _ = stdout.write_all(s.as_bytes()).and_then(|_| stdout.flush());
}

pub(crate) fn out_json<T: serde::Serialize>(value: &T) {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    out(&s);
}

/// Write to stderr, never panicking: a closed stderr (`loop … 2>&1 | head`) loses the message,
/// not the work.
pub(crate) fn err(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Report a failed command: its message on stderr, and with `--json` also as one JSON document on
/// stdout (docs/json.md), so an agent reading stdout always gets JSON.
pub fn report_error(e: &Error, json: bool) {
    err(&format!("loop: {e}\n"));
    if json {
        out_json(&e.to_json());
    }
}

/// The terminal, as the library's progress sink: what a program prints to its stdout goes to
/// ours (to stderr when stdout carries JSON), the rest and loop's notes to stderr.
/// `show_output: false` keeps programs' output to their logs.
pub(crate) struct Terminal {
    pub show_output: bool,
    pub stdout_is_json: bool,
}

impl ledger_loop::progress::Progress for Terminal {
    fn output(&self, bytes: &[u8], stderr: bool) {
        if !self.show_output {
            return;
        }
        // A closed terminal must not stop the work.
        let _ = if stderr || self.stdout_is_json {
            std::io::stderr().lock().write_all(bytes)
        } else {
            std::io::stdout().lock().write_all(bytes)
        };
    }

    fn say(&self, line: &str) {
        err(line);
    }
}

pub(crate) fn terminal(show_output: bool, stdout_is_json: bool) -> ledger_loop::progress::Sink {
    std::sync::Arc::new(Terminal { show_output, stdout_is_json })
}

pub(crate) fn warn(w: &str) {
    err(&format!("loop: warning: {w}\n"));
}

/// `s` in `style`. Pad before painting: alignment counts visible characters, not escape codes.
fn paint(style: anstyle::Style, s: &str) -> String {
    format!("{style}{s}{style:#}")
}

const GREEN: anstyle::Style = anstyle::AnsiColor::Green.on_default();
const RED: anstyle::Style = anstyle::AnsiColor::Red.on_default();
const YELLOW: anstyle::Style = anstyle::AnsiColor::Yellow.on_default();
const BOLD: anstyle::Style = anstyle::Style::new().bold();

/// How a person runs this very `loop` again from their shell: `loop` when PATH has it, else
/// `cargo run --release --` inside the project that built this binary, else the binary's path;
/// with `--root DIR` when that was given.
pub(crate) fn invocation(root: &Option<PathBuf>) -> String {
    let exe = std::env::current_exe().ok();
    let base = if hooks::loop_on_path().is_some() {
        "loop".to_string()
    } else {
        let project = exe.as_ref().and_then(|e| {
            let dir = e.parent()?.parent()?.parent()?;
            let is_build = e.parent()?.file_name()? == "release" && e.parent()?.parent()?.file_name()? == "target";
            (is_build && dir.join("Cargo.toml").is_file()).then(|| dir.to_path_buf())
        });
        let cwd = std::env::current_dir().ok();
        match (project, exe) {
            (Some(p), _) if cwd.is_some_and(|c| c.starts_with(&p)) => "cargo run --release --".to_string(),
            (_, Some(e)) => shell_word(&e.display().to_string()),
            _ => "loop".to_string(),
        }
    };
    match root {
        Some(r) => format!("{base} --root {}", shell_word(&r.display().to_string())),
        None => base,
    }
}

pub(crate) fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        run::shell_quote(s)
    }
}

/// `--role supervisor|engineer`.
pub(crate) fn role(s: &str) -> std::result::Result<ledger_loop::orchestrate::config::RoleName, String> {
    s.parse()
}

pub(crate) fn load(cli_root: &Option<PathBuf>) -> Result<Model> {
    Model::open(cli_root.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
        if subs.is_empty() {
            out.push((path.clone(), cmd.clone()));
        }
        for sub in subs {
            leaves(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    /// Every leaf subcommand shows examples that paste whole; every option says what it takes.
    #[test]
    fn every_help_has_examples_and_every_option_a_description() {
        let mut all = Vec::new();
        leaves(&Cli::command(), "loop".into(), &mut all);
        assert!(all.len() >= 15, "{}", all.len());
        let mut problems = Vec::new();
        for (path, cmd) in all {
            let after = cmd.get_after_help().or(cmd.get_after_long_help()).map(|s| s.to_string()).unwrap_or_default();
            if !after.contains("Examples:") {
                problems.push(format!("{path}: no Examples"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    problems.push(format!("{path}: --{id} has no description"));
                }
            }
            // Examples paste as they are: no `<PLACEHOLDER>` a shell reads as a redirection, and
            // only items this repository's own ledger has.
            let ledger = include_str!("../../docs/fix_plan.md");
            for line in after.lines().filter(|l| l.trim_start().starts_with("loop ") || l.starts_with("      ")) {
                if line.contains('<') && !line.contains("--result <") {
                    problems.push(format!("{path}: example has a placeholder: {line}"));
                }
                for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                    let is_id = word.len() > 4
                        && word.chars().any(|c| c.is_ascii_digit())
                        && word.chars().any(|c| c.is_ascii_uppercase())
                        && word.split('-').count() >= 3
                        && word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
                    if is_id && !ledger.contains(&format!("[{word}]")) {
                        problems.push(format!("{path}: example names {word}, not an item of docs/fix_plan.md"));
                    }
                }
            }
            // Rendered at 80 columns, no example line is wrapped (which would cut a quoted argument).
            let rendered = cmd.clone().term_width(80).render_help().to_string();
            for line in after.lines().filter(|l| !l.trim().is_empty()) {
                if !rendered.lines().any(|r| r.trim_end() == line.trim_end()) {
                    problems.push(format!("{path}: example wraps at 80 columns: {line}"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
