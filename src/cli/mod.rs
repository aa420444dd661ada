//! The command line: clap definitions, dispatch, and all printing. The workflow commands live
//! here; `evidence` and `sim` hold the image, trace and simulator commands.

pub(crate) mod evidence;
mod sim;

pub use evidence::{CompareArgs, GateCommand, HotspotsArgs};
pub use sim::SimCommand;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use ledger_loop::error::{Error, Result};
use ledger_loop::gate::{self, Decision, Outcome};
use ledger_loop::model::Model;
use ledger_loop::plan::TaskState;
use ledger_loop::run;
use ledger_loop::status;
use ledger_loop::workspace::Workspace;
use ledger_loop::{atomic, attempt, clock, guard, hook};

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
        after_help = "Examples:\n  # run the step; artifacts into reports/.../<STAMP>/\n  loop run\n  # what would run and be written\n  loop run --dry-run\n  loop run --item VECTOR-TRICUBIC-002 --json\n\nExit status: 0 the step succeeded, 1 it failed or is blocked or manual,\n2 bad input, 130 interrupted (Ctrl-C stops the step's process group)."
    )]
    Run(RunArgs),
    /// Append a numbered attempt entry to a ledger item (and move its pointers), changing no other byte.
    #[command(
        after_help = "Examples:\n  # record a failed run by hand\n  loop attempt VECTOR-TRICUBIC-002 --result failed --phase C1 \\\n      --metric corr_warm=0.721175 --note 'Parity regression confirmed'\n  # record the run `loop next --run` just made (marks its task [D]\n  # when every gate passes)\n  loop attempt --last-run\n  # the same, and bump Last Updated\n  loop attempt --last-run --touch\n  # move a pointer only: no entry\n  loop attempt X-1 --task C1=D\n  # show the diff only\n  loop attempt X-1 --result success --status done --dry-run\n\nThe entry goes at the end of the item's Attempts History list (created\nafter the item's last field when missing), numbered max+1, in the\nindentation and bullet style of the entries above it. The ledger is\nlocked for the whole read-modify-write and replaced atomically."
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
        after_help = "Examples:\n  loop compare c.bin rust.bin\n  loop compare c.bin rust.bin --gate \"corr>=0.999,sum_ratio=1±5e-3\"\n  loop compare a.npy b.npy --roi 1792,1792,2304,2304 --json\n  loop compare a.bin b.bin --shape 2527x2463 --diff-png diff.png\n\nFormats: raw float32 (nanoBragg -floatfile; square unless --shape\nSLOWxFAST), .npy float32/float64, 16-bit PNG. Exit 1 when a --gate\nfails, 2 on unreadable or mismatched images."
    )]
    Compare(CompareArgs),
    /// Rank profiler hotspots (self and total time per span) from a Chrome trace; writes hot_loops.csv and hotspots.md.
    #[command(
        after_help = "Examples:\n  loop hotspots reports/sim/<STAMP>/profile/trace.json \\\n      --outdir reports/sim/<STAMP>/hotspots/\n  loop hotspots pytorch_trace.json --outdir out --top 10 --json\n\nReads `traceEvents` (or a bare event array) with `X` complete events\nand `B`/`E` pairs, streaming."
    )]
    Hotspots(HotspotsArgs),
    /// Metric gates: evaluate the gates a plan states against a run's metrics.json.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Draft the next Do Now memo (input.md) from the ledger and plans.
    #[command(
        after_help = "Examples:\n  # print the memo for the focus item\n  loop brief\n  # for another item\n  loop brief VECTOR-TRICUBIC-002\n  # replace input.md (atomically)\n  loop brief --write\n  # with your own template (see templates/README.md)\n  loop brief --template my.md\n\nRefuses to write a protected input.md unless --force-protected (which\nshows the diff first)."
    )]
    Brief(BriefArgs),
    /// Check the ledger and plans for rot: duplicates, Index drift, attempt numbering, dead links.
    #[command(
        after_help = "Examples:\n  loop lint\n  loop lint --json\n  # sync Index statuses, add missing Index rows (byte splices)\n  loop lint --fix\n\nExit 1 when there are errors (warnings alone exit 0)."
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
    /// The built-in nanoBragg-compatible diffraction simulator and its profiler.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Args)]
pub struct BriefArgs {
    /// Ledger item to brief (default: the focus item, chosen as `loop next` does).
    pub item: Option<String>,
    /// Template file (default: templates/input.md of the workspace, else the built-in one).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Write the memo to input.md instead of printing it.
    #[arg(long)]
    pub write: bool,
    /// Allow writing input.md when it is a protected asset (shows the diff first).
    #[arg(long)]
    pub force_protected: bool,
    /// Print the memo and the decision behind it as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Fix the mechanical findings (Index status sync, missing Index rows).
    #[arg(long)]
    pub fix: bool,
    /// Print the findings as JSON (file, line, severity, code, message, fixable).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write the pre-commit hook.
    #[command(
        after_help = "Examples:\n  # write .git/hooks/pre-commit (or into core.hooksPath)\n  loop hook install\n  # keep an existing hook and run it first\n  loop hook install --chain\n\nThe hook runs `loop` from PATH, else the binary that installed it."
    )]
    Install {
        /// Keep an existing hook that loop did not write, and run it before loop guard.
        #[arg(long)]
        chain: bool,
    },
    /// Remove the hook loop installed (a chained hook is put back).
    #[command(after_help = "Examples:\n  # remove loop's hook; a chained hook is put back\n  loop hook uninstall")]
    Uninstall,
    /// Say what is installed and which binary the hook would run.
    #[command(after_help = "Examples:\n  loop hook status\n  loop hook status --json")]
    Status {
        /// Print the hook's state as JSON (path, installed, chained, recorded, runs, warnings).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Enable the `run` tool, which runs the next step's command (off by default).
    #[arg(long)]
    pub allow_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum MergeAction {
    /// Merge three versions of a ledger or plan (git's %O %A %B); the result replaces OURS.
    #[command(
        after_help = "Examples:\n  # what git runs (after `loop merge install`)\n  loop merge file base.md ours.md theirs.md --path docs/fix_plan.md\n  # try it on a past merge, leaving the original alone\n  cp ours.md merged.md && loop merge file base.md merged.md theirs.md\n\nExit status: 0 merged cleanly, 1 a real conflict remains (markers only\naround it), 2 bad input. Renumbered attempts are reported on stderr."
    )]
    File {
        /// The common ancestor (git's %O).
        base: PathBuf,
        /// Our version (git's %A); the merge result is written here.
        ours: PathBuf,
        /// Their version (git's %B).
        theirs: PathBuf,
        /// The file's path in the repository (git's %P), for messages.
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
        /// Print the outcome (conflicts, notes) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Route the ledger and plans to this driver (.gitattributes + the repository's git config).
    #[command(
        after_help = "Examples:\n  loop merge install\n  git pull --no-rebase   # ledger and plan merges now go through loop\n\nAdds `docs/fix_plan.md merge=loop` and the plans glob to .gitattributes\n(keeping what is there) and sets merge.loop.driver, which runs `loop`\nfrom PATH, else the binary that installed it."
    )]
    Install,
    /// Remove the .gitattributes lines and the git config that `install` added.
    #[command(after_help = "Examples:\n  loop merge uninstall")]
    Uninstall,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ResultWord {
    Success,
    Failed,
    Partial,
    Blocked,
    Planning,
}

#[derive(Debug, Args, Default)]
pub struct AttemptArgs {
    /// Ledger item ID (default: the focus item, chosen as `loop next` does).
    pub item: Option<String>,
    /// The attempt's result.
    #[arg(long, value_enum)]
    pub result: Option<ResultWord>,
    /// Phase or task this attempt worked on, e.g. C1.
    #[arg(long)]
    pub phase: Option<String>,
    /// A metric, repeatable: --metric corr_warm=0.721175
    #[arg(long = "metric", value_name = "KEY=VALUE", value_parser = parse_metric)]
    pub metrics: Vec<(String, String)>,
    /// An artifact pointer (inside the workspace), repeatable.
    #[arg(long = "artifact", value_name = "PATH")]
    pub artifacts: Vec<String>,
    /// Observations.
    #[arg(long)]
    pub note: Option<String>,
    /// What comes next, in the entry's own text.
    #[arg(long)]
    pub next: Option<String>,
    /// Entry date, YYYY-MM-DD (default: today, UTC; LOOP_NOW overrides the clock).
    #[arg(long)]
    pub date: Option<String>,
    /// Take item, phase, result, artifacts and metrics from a run folder of `loop next --run`.
    #[arg(long, value_name = "DIR", conflicts_with = "last_run")]
    pub from_run: Option<PathBuf>,
    /// Like --from-run with the folder of the last `loop next --run`.
    #[arg(long)]
    pub last_run: bool,
    /// Set a plan task's state, repeatable: --task C1=D (D, P, B or ' ').
    #[arg(long = "task", value_name = "ID=STATE", value_parser = parse_task)]
    pub tasks: Vec<(String, TaskState)>,
    /// Append an entry to the item's Next Actions list, repeatable.
    #[arg(long = "next-action", value_name = "TEXT")]
    pub next_actions: Vec<String>,
    /// Set the item's Status field and its Index row.
    #[arg(long)]
    pub status: Option<String>,
    /// Set the ledger's **Last Updated:** date to the entry date.
    #[arg(long)]
    pub touch: bool,
    /// With --from-run/--last-run: do not mark the run's task [D] even when its gates pass.
    #[arg(long)]
    pub no_task: bool,
    /// Record a run folder that an earlier attempt already recorded.
    #[arg(long)]
    pub again: bool,
    /// Which of several same-ID items: the line of its heading.
    #[arg(long, value_name = "N")]
    pub line: Option<usize>,
    /// Print the unified diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the entry, its byte range and every edit as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_metric(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(format!("`{s}`: expected KEY=VALUE")),
    }
}

pub(crate) fn parse_task(s: &str) -> std::result::Result<(String, TaskState), String> {
    let (id, st) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected ID=STATE, e.g. C1=D"))?;
    let state = match st.trim() {
        "D" | "d" => TaskState::Done,
        "P" | "p" => TaskState::Partial,
        "B" | "b" => TaskState::Blocked,
        "" | " " | "todo" => TaskState::Todo,
        other => return Err(format!("`{other}`: state must be D, P, B or empty")),
    };
    Ok((id.trim().to_string(), state))
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// Which step: shared by `loop next` and `loop run`.
#[derive(Debug, Args, Clone, Default)]
pub struct StepArgs {
    /// Focus on this ledger item instead of the memo's or ledger's focus.
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Consider this phase instead of the first unfinished one.
    #[arg(long, value_name = "ID")]
    pub phase: Option<String>,
    /// Also list every phase considered.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct NextArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Print the decision as JSON (with --run: the run record).
    #[arg(long)]
    pub json: bool,
    /// Run the command, capturing output, timing and environment into the artifacts folder.
    #[arg(long)]
    pub run: bool,
    /// With --run: show what would run and be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Print the run record (run.json) as JSON on stdout; the step's output goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Show what would run and be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Write to stdout; a closed pipe (`loop status | head`) ends the program quietly. Colour codes
/// are kept or stripped by anstream (terminal, `--color`, `NO_COLOR`, `CLICOLOR_FORCE`).
pub(crate) fn out(s: &str) {
    let mut stdout = anstream::stdout().lock();
    if let Err(e) = stdout.write_all(s.as_bytes()).and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub(crate) fn out_json<T: serde::Serialize>(value: &T) {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    out(&s);
}

pub fn report_error(e: &Error) {
    eprintln!("loop: {e}");
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
    let base = if hook::loop_on_path().is_some() {
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

fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        run::shell_quote(s)
    }
}

pub(crate) fn load(cli_root: &Option<PathBuf>) -> Result<Model> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Model::load(Workspace::discover(&cwd, cli_root.as_deref())?)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let choice = match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    match &cli.command {
        Command::Status(a) => cmd_status(&cli, a),
        Command::Next(a) => cmd_next(&cli, a),
        Command::Attempt(a) => cmd_attempt(&cli, a),
        Command::Guard(a) => cmd_guard(&cli, a),
        Command::Hook { action } => cmd_hook(action),
        Command::Compare(a) => evidence::cmd_compare(a),
        Command::Brief(a) => cmd_brief(&cli, a),
        Command::Lint(a) => cmd_lint(&cli, a),
        Command::Hotspots(a) => evidence::cmd_hotspots(a),
        Command::Gate(GateCommand::Check(a)) => evidence::cmd_gate_check(&cli, a),
        Command::Merge(m) => cmd_merge(&cli, m),
        Command::Mcp(a) => {
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            let ws = Workspace::discover(&cwd, cli.root.as_deref())?;
            crate::mcp::serve(ws, a.allow_run)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(SimCommand::Run(a)) => sim::cmd_sim_run(a),
        Command::Sim(SimCommand::Profile(a)) => sim::cmd_sim_profile(a),
        Command::Sim(SimCommand::Options(a)) => sim::cmd_sim_options(a),
        Command::Run(a) => {
            cmd_next(&cli, &NextArgs { step: a.step.clone(), json: a.json, run: true, dry_run: a.dry_run })
        }
    }
}

fn cmd_status(cli: &Cli, a: &StatusArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    if a.json {
        out_json(&status::status(&model));
    } else {
        out(&status::render(&model));
    }
    Ok(if model.has_errors() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

pub(crate) fn decide(model: &Model, a: &NextArgs) -> Result<Decision> {
    let now = clock::now()?;
    gate::decide(
        model,
        &gate::Request {
            item: a.step.item.as_deref(),
            phase: a.step.phase.as_deref(),
            stamp: clock::stamp(&now),
            plan_only: false,
        },
    )
}

fn cmd_next(cli: &Cli, a: &NextArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    let d = decide(&model, a)?;
    print_warnings(&d);
    let inv = invocation(&cli.root);
    if a.run || a.dry_run {
        return run_step(&model, &d, a, &inv);
    }
    if a.json {
        out_json(&d);
    } else {
        let mut s = render_decision(&model, &d, a.step.explain);
        if d.blocked.is_none() && d.manual {
            s.push_str(&format!(
                "\nmanual step: do it by hand, then record it with: {inv} attempt --result success --note '...'\n"
            ));
        } else if d.blocked.is_none() {
            s.push_str(&format!("\nRun it with: {inv} next --run\n"));
        }
        out(&s);
    }
    Ok(if d.blocked.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_step(model: &Model, d: &Decision, a: &NextArgs, inv: &str) -> Result<ExitCode> {
    if !a.json {
        out(&render_decision(model, d, a.step.explain));
    }
    // A blocked step was explained just above (or is in the JSON): say it once, exit 1.
    if d.blocked.is_some() {
        if a.json {
            out_json(d);
        }
        return Ok(ExitCode::from(1));
    }
    let plan = run::preview(model, d)?;
    if a.dry_run {
        if a.json {
            out_json(&serde_json::json!({"decision": d, "dry_run": plan}));
        } else {
            let mut s = format!(
                "\ndry run: would run in {}\n  sh -c {}\nand write:\n",
                plan.cwd,
                run::shell_quote(&plan.command)
            );
            for w in &plan.writes {
                s.push_str(&format!("  {w}\n"));
            }
            out(&s);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.json {
        out(&format!("\n$ {}\n", plan.command));
    }
    let record = run::execute(model, d, a.json)?;
    if record.interrupted {
        if a.json {
            out_json(&record);
        }
        eprintln!("interrupted; record: {}/run.json", record.artifacts);
        // 128 + SIGINT, as a shell reports a Ctrl-C.
        return Ok(ExitCode::from(130));
    }
    if a.json {
        out_json(&record);
    } else {
        let mut s = format!(
            "\nexit {} after {:.2} s; record: {}/run.json\n",
            record.exit_code, record.duration_s, record.artifacts
        );
        if let Some(log) = &record.blocked_log {
            s.push_str(&format!("If-Blocked log: {log}\n"));
        }
        s.push_str(&format!("Record it with: {inv} attempt --last-run\n"));
        eprint!("{s}");
    }
    Ok(if record.exit_code == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What `loop attempt` did (or, dry run, would do).
pub(crate) struct AttemptDone {
    pub outcome: attempt::Outcome,
    pub ledger: String,
    /// The unified diff, for a dry run (nothing was written).
    pub diff: Option<String>,
}

impl AttemptDone {
    /// The `--json` form.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.diff {
            Some(d) => serde_json::json!({"dry_run": true, "attempt": &self.outcome, "diff": d}),
            None => serde_json::to_value(&self.outcome).unwrap_or_default(),
        }
    }
}

/// Record an attempt: lock the ledger, read, build every change, write all or none.
pub(crate) fn record_attempt(root: &Option<PathBuf>, a: &AttemptArgs) -> Result<AttemptDone> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let ws = Workspace::discover(&cwd, root.as_deref())?;
    let ledger = ws.ledger_path();
    // Read, modify and write under one lock, so concurrent attempts get distinct numbers.
    let _lock = if ledger.is_file() { Some(atomic::Lock::exclusive(&ledger)?) } else { None };
    let model = Model::load(ws)?;
    let date = match &a.date {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|_| d.clone())
            .map_err(|_| Error::Usage(format!("--date {d}: expected YYYY-MM-DD")))?,
        None => clock::date(&clock::now()?),
    };
    let from_run = match (&a.from_run, a.last_run) {
        (Some(d), _) => Some(d.clone()),
        (None, true) => Some(attempt::last_run(&model)?),
        _ => None,
    };
    let req = attempt::Request {
        item: a.item.clone(),
        line: a.line,
        result: a.result.map(|r| format!("{r:?}").to_lowercase()),
        phase: a.phase.clone(),
        metrics: a.metrics.clone(),
        artifacts: a.artifacts.clone(),
        note: a.note.clone(),
        next: a.next.clone(),
        date,
        from_run,
        tasks: a.tasks.clone(),
        next_actions: a.next_actions.clone(),
        status: a.status.clone(),
        touch: a.touch,
        no_task: a.no_task,
        again: a.again,
    };
    let outcome = attempt::prepare(&model, &req)?;
    let diff = if a.dry_run { Some(attempt::diff(&outcome)) } else { None };
    if diff.is_none() {
        attempt::apply(&model, &outcome)?;
    }
    Ok(AttemptDone { outcome, ledger: model.ledger.doc.file.clone(), diff })
}

fn cmd_attempt(cli: &Cli, a: &AttemptArgs) -> Result<ExitCode> {
    let done = record_attempt(&cli.root, a)?;
    for w in &done.outcome.warnings {
        eprintln!("loop: warning: {w}");
    }
    if a.json {
        out_json(&done.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(d) = &done.diff {
        out(d);
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = &done.outcome;
    let files: Vec<&str> = outcome.changes.iter().map(|c| c.file.as_str()).collect();
    let mut s = if outcome.number == 0 {
        format!("[{}] pointers moved in {}\n", outcome.item, files.join(", "))
    } else {
        format!(
            "[{}] Attempt #{} appended at {}:{}{}\n",
            outcome.item,
            outcome.number,
            done.ledger,
            outcome.line,
            if files.len() > 1 { format!(" (also changed {})", files[1..].join(", ")) } else { String::new() }
        )
    };
    if !outcome.tasks.is_empty() {
        s.push_str(&format!("task {} set in the plan\n", outcome.tasks.join(", ")));
    }
    out(&s);
    Ok(ExitCode::SUCCESS)
}

fn cmd_guard(cli: &Cli, a: &GuardArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let report = guard::check(&cwd, cli.root.as_deref())?;
    let failed = !report.violations.is_empty();
    if a.json {
        out_json(&report);
    } else if failed {
        eprint!("{}", guard::render(&report));
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn cmd_hook(action: &HookAction) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let st = match action {
        HookAction::Install { chain } => {
            let st = hook::install(&cwd, *chain)?;
            out(&format!(
                "installed: {} runs loop guard{}\n",
                st.path,
                if st.chained { " (chained after the previous hook)" } else { "" }
            ));
            st
        }
        HookAction::Uninstall => {
            let before = hook::status(&cwd)?;
            let after = hook::uninstall(&cwd)?;
            out(&match (before.installed.as_str(), after.installed.as_str()) {
                ("loop", "foreign") => format!("removed loop's hook from {}; the chained hook is back\n", after.path),
                ("loop", _) => format!("removed loop's hook from {}\n", after.path),
                _ => format!("nothing to remove: no loop hook at {}\n", after.path),
            });
            return Ok(ExitCode::SUCCESS);
        }
        HookAction::Status { json } => {
            let st = hook::status(&cwd)?;
            if *json {
                out_json(&st);
                return Ok(ExitCode::SUCCESS);
            }
            out(&match st.installed.as_str() {
                "loop" => format!(
                    "{}: loop's hook{}\n  runs      {}\n  fallback  {}\n",
                    st.path,
                    if st.chained { " (after the chained previous hook)" } else { "" },
                    st.runs.as_deref().unwrap_or("nothing: neither `loop` on PATH nor the recorded binary exists"),
                    st.recorded.as_deref().unwrap_or("(none recorded)")
                ),
                "foreign" => format!("{}: a hook loop did not write (`loop hook install --chain` keeps it)\n", st.path),
                _ => format!("{}: no pre-commit hook (`loop hook install` adds one)\n", st.path),
            });
            match ledger_loop::merge::driver::status(&cwd, None) {
                Ok(m) if m.installed => out(&format!("merge driver: installed for {}\n", m.attributes.join(", "))),
                Ok(_) => out("merge driver: not installed (`loop merge install` adds it)\n"),
                Err(_) => {}
            }
            st
        }
    };
    for w in &st.warnings {
        eprintln!("loop: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_merge(cli: &Cli, m: &MergeAction) -> Result<ExitCode> {
    use ledger_loop::merge;
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    match m {
        MergeAction::File { base, ours, theirs, path, json } => {
            let read = |p: &PathBuf| {
                if !p.is_file() {
                    return Err(Error::input(p.display().to_string(), 0, "no such file"));
                }
                ledger_loop::fsutil::read_utf8(p, &p.display().to_string())
            };
            let (b, o, t) = (read(base)?, read(ours)?, read(theirs)?);
            let label = path.clone().unwrap_or_else(|| ours.display().to_string());
            let outcome = merge::merge(&b, &o, &t, &label);
            if outcome.text != o {
                ledger_loop::atomic::replace(ours, &label, o.as_bytes(), outcome.text.as_bytes())?;
            }
            for n in &outcome.notes {
                eprintln!("loop merge: {n}");
            }
            if *json {
                out_json(&serde_json::json!({"file": label, "conflicts": outcome.conflicts, "notes": outcome.notes}));
            } else if outcome.conflicts > 0 {
                eprintln!("loop merge: {label}: {} conflict(s) left with markers", outcome.conflicts);
            }
            Ok(if outcome.conflicts > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        MergeAction::Install => {
            let st = merge::driver::install(&cwd, cli.root.as_deref())?;
            out(&format!(
                "merge driver installed: {}\n  driver: {}\n",
                st.attributes.join(", "),
                st.driver.unwrap_or_default()
            ));
            Ok(ExitCode::SUCCESS)
        }
        MergeAction::Uninstall => {
            let before = merge::driver::status(&cwd, cli.root.as_deref())?;
            merge::driver::uninstall(&cwd, cli.root.as_deref())?;
            out(if before.driver.is_some() || !before.attributes.is_empty() {
                "merge driver removed (.gitattributes lines and merge.loop config)\n"
            } else {
                "nothing to remove: the merge driver was not installed\n"
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The memo template and its name: `--template`, else the workspace's templates/input.md, else
/// the built-in one.
pub(crate) fn brief_template(model: &Model, given: Option<&std::path::Path>) -> Result<(String, String)> {
    Ok(match given {
        Some(p) => (ledger_loop::fsutil::read_utf8(p, &p.display().to_string())?, p.display().to_string()),
        None => {
            let p = model.ws.path("templates/input.md");
            if p.is_file() {
                (ledger_loop::fsutil::read_utf8(&p, "templates/input.md")?, "templates/input.md".to_string())
            } else {
                (ledger_loop::brief::DEFAULT_TEMPLATE.to_string(), "(built-in template)".to_string())
            }
        }
    })
}

fn cmd_brief(cli: &Cli, a: &BriefArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let ws = Workspace::discover(&cwd, cli.root.as_deref())?;
    let input = ws.path(&ws.config.input);
    let _lock = if a.write && input.is_file() { Some(atomic::Lock::exclusive(&input)?) } else { None };
    let model = Model::load(ws)?;
    let (template, name) = brief_template(&model, a.template.as_deref())?;
    let stamp = clock::stamp(&clock::now()?);
    let b = ledger_loop::brief::render(&model, a.item.as_deref(), &stamp, &template, &name)?;
    let rel = model.ws.config.input.clone();
    if !a.write {
        if a.json {
            out_json(&serde_json::json!({"memo": b.text, "decision": b.decision}));
        } else {
            out(&b.text);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let before = std::fs::read_to_string(&input).unwrap_or_default();
    if model.protected.contains(&rel) {
        if !a.force_protected {
            model.protected.check_writable(&rel)?;
        }
        let d = similar::TextDiff::from_lines(&before, &b.text);
        eprint!("{}", d.unified_diff().header(&format!("a/{rel}"), &format!("b/{rel}")));
    }
    atomic::replace(&input, &rel, before.as_bytes(), b.text.as_bytes())?;
    if a.json {
        out_json(&serde_json::json!({"written": rel, "bytes": b.text.len(), "decision": b.decision}));
    } else {
        out(&format!(
            "wrote {rel} ({} bytes): Do Now {} task {}\n",
            b.text.len(),
            b.decision.item.id,
            b.decision.task.as_ref().map_or("?", |t| t.id.as_str())
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_lint(cli: &Cli, a: &LintArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let ws = Workspace::discover(&cwd, cli.root.as_deref())?;
    let ledger = ws.ledger_path();
    let _lock = if a.fix && ledger.is_file() { Some(atomic::Lock::exclusive(&ledger)?) } else { None };
    let model = Model::load(ws)?;
    let now = clock::now()?;
    let mut report = ledger_loop::lint::lint(&model, &clock::date(&now));
    if a.fix {
        let fixed = ledger_loop::lint::fix(&model, &report)?;
        if fixed > 0 {
            // Report what is left after the fix.
            let model = Model::load(model.ws.clone())?;
            report = ledger_loop::lint::lint(&model, &clock::date(&now));
            report.fixed = fixed;
        }
    }
    if a.json {
        out_json(&report);
    } else {
        let mut s = String::new();
        for f in &report.findings {
            s.push_str(&format!(
                "{}:{}: {}: {} [{}]{}\n",
                f.file,
                f.line,
                f.severity,
                f.message,
                f.code,
                if f.fixable { " (fixable with --fix)" } else { "" }
            ));
        }
        s.push_str(&format!(
            "{} error(s), {} warning(s){}\n",
            report.errors,
            report.warnings,
            if report.fixed > 0 { format!(", {} fixed", report.fixed) } else { String::new() }
        ));
        out(&s);
    }
    Ok(if report.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn render_decision(model: &Model, d: &Decision, explain: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let ledger = &model.ledger.doc.file;
    let plan = d.plan.as_deref().unwrap_or("(none)");
    let _ = writeln!(
        s,
        "item      [{}] {}  ({ledger}:{}, chosen by {})",
        d.item.id, d.item.title, d.item.line, d.item.chosen_by
    );
    let _ = writeln!(s, "status    {}", d.item.status.as_deref().unwrap_or("(none)"));
    let _ = writeln!(s, "plan      {plan}");
    if explain {
        for c in &d.considered {
            let _ = writeln!(
                s,
                "            Phase {:<4} {:>2}/{:<2} {:<9} {plan}:{}",
                c.phase.id, c.phase.done, c.phase.total, c.verdict, c.phase.line
            );
        }
    }
    if let Some(p) = &d.phase {
        let _ = writeln!(s, "phase     {} — {}  ({plan}:{}, {}/{} tasks done)", p.id, p.title, p.line, p.done, p.total);
    }
    for c in &d.checks {
        let mark = match c.outcome {
            Outcome::Pass => paint(GREEN, "pass     "),
            Outcome::Fail => paint(RED, "FAIL     "),
            Outcome::Unchecked => paint(YELLOW, "unchecked"),
        };
        let _ =
            writeln!(s, "  gate    {mark} {}: {}  ({}:{})", c.name, status::ellipsize(&c.detail, 90), c.file, c.line);
    }
    if let Some(t) = &d.task {
        let _ = writeln!(s, "task      {} {} {}  ({plan}:{})", t.id, t.state.marker(), t.description, t.line);
    }
    let from = d.command_from.as_ref().map(|w| format!("{}:{}", w.file, w.line)).unwrap_or_default();
    if let Some(c) = &d.command {
        let _ = writeln!(s, "command   {}  (from {from})", paint(BOLD, c));
    } else if let Some(m) = &d.manual_step {
        let _ = writeln!(s, "command   none: manual step: {m}  (from {from})");
    }
    if !d.artifacts.is_empty() {
        let _ = writeln!(s, "artifacts {}", d.artifacts);
    }
    if let Some(n) = &d.next_task {
        let _ = writeln!(s, "next up   {} {}", n.id, n.description);
    }
    if let Some(why) = &d.blocked {
        let _ = writeln!(s, "\n{} {why}", paint(RED, "BLOCKED"));
    }
    s
}

fn print_warnings(d: &Decision) {
    for w in &d.warnings {
        eprintln!("loop: warning: {w}");
    }
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
