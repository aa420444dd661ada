//! The command line: clap definitions, dispatch, and all printing.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::gate::{self, Decision, Outcome};
use crate::model::Model;
use crate::plan::TaskState;
use crate::run;
use crate::status;
use crate::workspace::Workspace;
use crate::{atomic, attempt, clock, guard, hook};

#[derive(Debug, Parser)]
#[command(
    name = "loop",
    version,
    about = "Plan-and-ledger automation: find the next gated step, run it, record the attempt, guard commits.",
    after_help = "Examples:\n  loop status                 what the ledger and plans say\n  loop next                   the next gated step and why\n  loop next --run             run it, recording artifacts under reports/\n\nThe workspace is the first folder upward holding docs/fix_plan.md or loop.yaml.\nLOOP_NOW=2026-01-05T15:30:00Z fixes the clock for dates and STAMPs."
)]
pub struct Cli {
    /// Workspace root (default: walk up from the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
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
        after_help = "Examples:\n  loop next                   show the decision and its gate checks\n  loop next --explain         also every phase considered\n  loop next --json            the decision as data\n  loop next --run             run the command, artifacts into reports/.../<STAMP>/\n  loop next --run --dry-run   show what would run and be written\n\nExit status: 0 a step was found (or ran and succeeded), 1 blocked or the step failed, 2 bad input."
    )]
    Next(NextArgs),
    /// Run the next gated step: short for `loop next --run`.
    #[command(
        after_help = "Examples:\n  loop run\n  loop run --dry-run\n  loop run --item VECTOR-TRICUBIC-002 --json"
    )]
    Run(NextArgs),
    /// Append a numbered attempt entry to a ledger item (and move its pointers), changing no other byte.
    #[command(
        after_help = "Examples:\n  loop attempt VECTOR-TRICUBIC-002 --result failed --phase C1 --metric corr_warm=0.721175 \\\n      --artifact reports/2026-01-vectorization-gap/phase_b/20251010T043632Z/summary.md --note 'Parity regression confirmed'\n  loop attempt --last-run                      record the run `loop next --run` just made\n  loop attempt --last-run --task B1=D --touch  ... and mark its task done, bump Last Updated\n  loop attempt X-1 --result success --status done --dry-run   show the diff only\n\nThe entry goes at the end of the item's Attempts History list (created after the item's last\nfield when missing), numbered max+1, in the indentation and bullet style of the entries above it.\nThe ledger is locked for the whole read-modify-write and replaced atomically."
    )]
    Attempt(Box<AttemptArgs>),
    /// Check staged changes: refuse reports/ artifacts, removed protected assets, huge files.
    #[command(
        after_help = "Examples:\n  loop guard                  quiet and exit 0 when the staged changes are fine\n  loop guard --json           the findings as data\n\nRun by the pre-commit hook that `loop hook install` writes. Exit 1 when a commit must be\nrefused, 2 when the repository cannot be read."
    )]
    Guard(GuardArgs),
    /// Install, remove or show the pre-commit hook that runs `loop guard`.
    #[command(
        after_help = "Examples:\n  loop hook install           write .git/hooks/pre-commit (or into core.hooksPath)\n  loop hook install --chain   keep an existing hook and run it first\n  loop hook uninstall         remove loop's hook, restoring a chained one\n  loop hook status"
    )]
    Hook {
        #[command(subcommand)]
        action: HookAction,
    },
    /// Compare two float images: correlation, sum ratio, RMSE, worst pixel; optional gates.
    #[command(
        after_help = "Examples:\n  loop compare c.bin rust.bin\n  loop compare c.bin rust.bin --gate \"corr>=0.999,sum_ratio=1±5e-3\"\n  loop compare a.npy b.npy --roi 1792,1792,2304,2304 --json\n  loop compare a.bin b.bin --shape 2527x2463 --diff-png diff.png\n\nFormats: raw float32 (nanoBragg -floatfile; square unless --shape SLOWxFAST), .npy float32/float64, 16-bit PNG.\nExit 1 when a --gate fails, 2 on unreadable or mismatched images."
    )]
    Compare(CompareArgs),
    /// Rank profiler hotspots (self and total time per span) from a Chrome trace; writes hot_loops.csv and hotspots.md.
    #[command(
        after_help = "Examples:\n  loop hotspots reports/sim/<STAMP>/profile/trace.json --outdir reports/sim/<STAMP>/hotspots/\n  loop hotspots pytorch_trace.json --outdir out --top 10 --json\n\nReads `traceEvents` (or a bare event array) with `X` complete events and `B`/`E` pairs, streaming."
    )]
    Hotspots(HotspotsArgs),
    /// Metric gates: evaluate the gates a plan states against a run's metrics.json.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Draft the next Do Now memo (input.md) from the ledger and plans.
    #[command(
        after_help = "Examples:\n  loop brief                       print the memo for the focus item\n  loop brief VECTOR-TRICUBIC-002   for another item\n  loop brief --write               replace input.md (atomically)\n  loop brief --template my.md      with your own template (see templates/README.md)\n\nRefuses to write a protected input.md unless --force-protected (which shows the diff first)."
    )]
    Brief(BriefArgs),
    /// Check the ledger and plans for rot: duplicates, Index drift, attempt numbering, dead links.
    #[command(
        after_help = "Examples:\n  loop lint\n  loop lint --json\n  loop lint --fix        sync Index statuses and add missing Index rows (atomic, byte splices)\n\nExit 1 when there are errors (warnings alone exit 0)."
    )]
    Lint(LintArgs),
    /// The built-in nanoBragg-compatible diffraction simulator and its profiler.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// First image (the candidate; sum_ratio = sum(A)/sum(B)).
    pub a: PathBuf,
    /// Second image (the reference).
    pub b: PathBuf,
    /// Shape of raw files: SLOWxFAST.
    #[arg(long, value_parser = parse_shape)]
    pub shape: Option<(usize, usize)>,
    /// Region of interest x0,y0,x1,y1 (fast, slow; x1 and y1 exclusive).
    #[arg(long, value_parser = parse_roi)]
    pub roi: Option<[usize; 4]>,
    /// Gates, comma-separated: corr>=0.999,sum_ratio=1±5e-3
    #[arg(long)]
    pub gate: Option<String>,
    /// Write |A−B| as an 8-bit PNG.
    #[arg(long, value_name = "OUT")]
    pub diff_png: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> std::result::Result<(usize, usize), String> {
    let (a, b) = s.split_once(['x', 'X']).ok_or("expected SLOWxFAST, e.g. 4096x4096")?;
    Ok((a.trim().parse().map_err(|_| "bad number")?, b.trim().parse().map_err(|_| "bad number")?))
}

fn parse_roi(s: &str) -> std::result::Result<[usize; 4], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse().map_err(|_| format!("`{x}` is not a pixel index")))
        .collect::<std::result::Result<_, _>>()?;
    match v[..] {
        [x0, y0, x1, y1] if x0 < x1 && y0 < y1 => Ok([x0, y0, x1, y1]),
        _ => Err("expected x0,y0,x1,y1 with x0<x1 and y0<y1".into()),
    }
}

#[derive(Debug, Args)]
pub struct HotspotsArgs {
    /// Chrome trace-event JSON file.
    pub trace: PathBuf,
    /// Where hot_loops.csv and hotspots.md go.
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Rows to print (the CSV has all).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Check a run folder's metrics.json against the gates its plan task states (✅/❌ each).
    #[command(
        after_help = "Examples:\n  loop gate check reports/loop-sim/phase_b/<STAMP>/\n  loop gate check out/ --gate \"corr>=0.999,sum_ratio=1±5e-3\"\n  loop gate check out/ --item LOOP-SIM-001 --phase B1\n\nGates come from --gate, else from the plan task named in the folder's run.json (or --item/--phase):\nits guidance, its phase's Exit Criteria, then the rest of the plan. Exit 1 when a gate fails."
    )]
    Check(GateCheckArgs),
}

#[derive(Debug, Args)]
pub struct GateCheckArgs {
    /// Run folder holding metrics.json (or profile/metrics.json).
    pub dir: PathBuf,
    /// Explicit gates instead of the plan's.
    #[arg(long)]
    pub gate: Option<String>,
    /// Item whose plan states the gates (default: run.json's, else the focus item).
    #[arg(long)]
    pub item: Option<String>,
    /// Task or phase whose gates apply (default: run.json's task).
    #[arg(long)]
    pub phase: Option<String>,
    #[arg(long)]
    pub json: bool,
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Fix the mechanical findings (Index status sync, missing Index rows).
    #[arg(long)]
    pub fix: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Render one image (vectorized, all cores).
    #[command(
        after_help = "Examples:\n  loop sim run --cell 100 100 100 90 90 90 --lambda 6.2 --N 5 --default-F 100 --distance 100 --detpixels 1024 --floatfile img.bin --png img.png\n  loop sim run --nb-args \"-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 4096\" --floatfile img.bin\n\nUnits as nanoBragg: Å, mm, degrees, mrad, percent. MOSFLM convention."
    )]
    Run(Box<SimRunArgs>),
    /// Time cold and warm runs of the benchmark case against the scalar reference; write trace, metrics, summary.
    #[command(
        after_help = "Examples:\n  loop sim profile --sizes 1024 --outdir reports/sim/<STAMP>/profile/\n  loop sim profile --sizes 1024,4096 --dtype float32 --iterations 3 --threads 2 --outdir out/\n\nWrites trace.json (Chrome trace events), metrics.json, summary.md, image_SIZE.bin and .png.\nExit 1 when corr < 0.999 or |sum_ratio−1| > 5e-3 against the scalar reference."
    )]
    Profile(SimProfileArgs),
}

#[derive(Debug, Args)]
pub struct SimRunArgs {
    /// A nanoBragg command line, read verbatim; other options given here override it.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub nb_args: Option<String>,
    /// Unit cell: a b c (Å) alpha beta gamma (degrees).
    #[arg(long, num_args = 6, value_names = ["A", "B", "C", "AL", "BE", "GA"], allow_negative_numbers = true)]
    pub cell: Option<Vec<f64>>,
    /// Wavelength, Å.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Sample-to-detector distance, mm.
    #[arg(long)]
    pub distance: Option<f64>,
    /// Pixel size, mm.
    #[arg(long)]
    pub pixel: Option<f64>,
    /// Detector pixels per side.
    #[arg(long)]
    pub detpixels: Option<usize>,
    /// Unit cells along each axis (sets Na, Nb, Nc).
    #[arg(long = "N")]
    pub n: Option<u32>,
    #[arg(long = "Na")]
    pub na: Option<u32>,
    #[arg(long = "Nb")]
    pub nb: Option<u32>,
    #[arg(long = "Nc")]
    pub nc: Option<u32>,
    /// Structure factor of every reflection not in the HKL file.
    #[arg(long = "default-F", alias = "default_F", allow_negative_numbers = true)]
    pub default_f: Option<f64>,
    /// Structure factors, `h k l F` per line.
    #[arg(long)]
    pub hkl: Option<PathBuf>,
    /// Subpixels per pixel side (default: nanoBragg's automatic choice).
    #[arg(long)]
    pub oversample: Option<u32>,
    /// Starting spindle angle, degrees.
    #[arg(long, allow_negative_numbers = true)]
    pub phi: Option<f64>,
    /// Oscillation range, degrees.
    #[arg(long)]
    pub osc: Option<f64>,
    #[arg(long)]
    pub phisteps: Option<u32>,
    /// Mosaic spread, degrees.
    #[arg(long)]
    pub mosaic: Option<f64>,
    #[arg(long = "mosaic-dom", alias = "mosaic-domains")]
    pub mosaic_dom: Option<u32>,
    #[arg(long)]
    pub mosaic_seed: Option<i64>,
    /// Crystal misset rotations about x, y, z, degrees.
    #[arg(long, num_args = 3, allow_negative_numbers = true)]
    pub misset: Option<Vec<f64>>,
    /// Spectral dispersion, percent.
    #[arg(long)]
    pub dispersion: Option<f64>,
    #[arg(long)]
    pub dispsteps: Option<u32>,
    /// Beam divergence, mrad.
    #[arg(long)]
    pub divergence: Option<f64>,
    #[arg(long)]
    pub divsteps: Option<u32>,
    /// Crystal shape for the lattice factor.
    #[arg(long, value_enum)]
    pub shape: Option<crate::sim::params::Shape>,
    /// Kahn polarization factor (0 unpolarized .. 1).
    #[arg(long)]
    pub polar: Option<f64>,
    /// Precision of the vectorized path.
    #[arg(long, value_enum, default_value = "float32")]
    pub dtype: crate::sim::Dtype,
    /// Write nanoBragg's raw float image (little-endian float32, slow-axis rows).
    #[arg(long, value_name = "OUT")]
    pub floatfile: Option<PathBuf>,
    /// Write an 8-bit PNG preview.
    #[arg(long, value_name = "OUT")]
    pub png: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Render with the scalar reference instead (slow; for checking).
    #[arg(long)]
    pub scalar: bool,
    /// Print the run's numbers as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimProfileArgs {
    /// Detector sizes (pixels per side), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1024")]
    pub sizes: Vec<usize>,
    #[arg(long, value_enum, default_value = "float32")]
    pub dtype: crate::sim::Dtype,
    /// Warm (timed) runs per size.
    #[arg(long, default_value_t = 1)]
    pub iterations: usize,
    /// Where trace.json, metrics.json, summary.md and the images go.
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Accepted for parity with the upstream command; only `cpu` exists here.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Upstream flags that this profiler always does (accepted, ignored).
    #[arg(long, hide = true)]
    pub profile: bool,
    #[arg(long, hide = true)]
    pub keep_artifacts: bool,
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
    Install {
        /// Keep an existing hook that loop did not write, and run it before loop guard.
        #[arg(long)]
        chain: bool,
    },
    /// Remove the hook loop installed (a chained hook is put back).
    Uninstall,
    /// Say what is installed.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ResultWord {
    Success,
    Failed,
    Partial,
    Blocked,
    Planning,
}

#[derive(Debug, Args)]
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

fn parse_task(s: &str) -> std::result::Result<(String, TaskState), String> {
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

#[derive(Debug, Args, Clone)]
pub struct NextArgs {
    /// Focus on this ledger item instead of the memo's or ledger's focus.
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Consider this phase instead of the first unfinished one.
    #[arg(long, value_name = "ID")]
    pub phase: Option<String>,
    /// Also list every phase considered.
    #[arg(long)]
    pub explain: bool,
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

/// Write to stdout; a closed pipe (`loop status | head`) ends the program quietly.
pub fn out(s: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(s.as_bytes()).and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

fn out_json<T: serde::Serialize>(value: &T) {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    out(&s);
}

pub fn report_error(e: &Error) {
    eprintln!("loop: {e}");
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(code: &str, s: &str) -> String {
    if color() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn load(cli_root: &Option<PathBuf>) -> Result<Model> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Model::load(Workspace::discover(&cwd, cli_root.as_deref())?)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Status(a) => cmd_status(&cli, a),
        Command::Next(a) => cmd_next(&cli, a),
        Command::Attempt(a) => cmd_attempt(&cli, a),
        Command::Guard(a) => cmd_guard(&cli, a),
        Command::Hook { action } => cmd_hook(action),
        Command::Compare(a) => cmd_compare(a),
        Command::Brief(a) => cmd_brief(&cli, a),
        Command::Lint(a) => cmd_lint(&cli, a),
        Command::Hotspots(a) => cmd_hotspots(a),
        Command::Gate(GateCommand::Check(a)) => cmd_gate_check(&cli, a),
        Command::Sim(SimCommand::Run(a)) => cmd_sim_run(a),
        Command::Sim(SimCommand::Profile(a)) => cmd_sim_profile(a),
        Command::Run(a) => cmd_next(&cli, &NextArgs { run: true, ..a.clone() }),
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

fn decide(model: &Model, a: &NextArgs) -> Result<Decision> {
    let now = clock::now()?;
    gate::decide(
        model,
        &gate::Request {
            item: a.item.as_deref(),
            phase: a.phase.as_deref(),
            stamp: clock::stamp(&now),
            plan_only: false,
        },
    )
}

fn cmd_next(cli: &Cli, a: &NextArgs) -> Result<ExitCode> {
    let model = load(&cli.root)?;
    let d = decide(&model, a)?;
    if a.run || a.dry_run {
        return run_step(&model, &d, a);
    }
    if a.json {
        out_json(&d);
    } else {
        out(&render_decision(&model, &d, a.explain));
    }
    Ok(if d.blocked.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_step(model: &Model, d: &Decision, a: &NextArgs) -> Result<ExitCode> {
    if !a.json {
        out(&render_decision(model, d, a.explain).replace("\nRun it with: loop next --run\n", ""));
    }
    let plan = run::preview(model, d)?;
    if a.dry_run {
        if a.json {
            out_json(&serde_json::json!({"decision": d, "dry_run": plan}));
        } else {
            let mut s =
                format!("\ndry run: would run in {}\n  sh -c {}\nand write:\n", plan.cwd, shell_quote(&plan.command));
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
    if a.json {
        out_json(&record);
    } else {
        let mut s = format!(
            "\nexit {} after {:.2} s{}; record: {}/run.json\n",
            record.exit_code,
            record.duration_s,
            if record.interrupted { " (interrupted)" } else { "" },
            record.artifacts
        );
        if let Some(log) = &record.blocked_log {
            s.push_str(&format!("If-Blocked log: {log}\n"));
        }
        s.push_str("Record it with: loop attempt --last-run\n");
        eprint!("{s}");
    }
    Ok(if record.exit_code == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn cmd_attempt(cli: &Cli, a: &AttemptArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let ws = Workspace::discover(&cwd, cli.root.as_deref())?;
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
    };
    let outcome = attempt::prepare(&model, &req)?;
    for w in &outcome.warnings {
        eprintln!("loop: warning: {w}");
    }
    if a.dry_run {
        if a.json {
            out_json(&serde_json::json!({"dry_run": true, "attempt": &outcome, "diff": attempt::diff(&outcome)}));
        } else {
            out(&attempt::diff(&outcome));
        }
        return Ok(ExitCode::SUCCESS);
    }
    attempt::apply(&model, &outcome)?;
    if a.json {
        out_json(&outcome);
    } else {
        let files: Vec<&str> = outcome.changes.iter().map(|c| c.file.as_str()).collect();
        out(&format!(
            "[{}] Attempt #{} appended at {}:{}{}\n",
            outcome.item,
            outcome.number,
            model.ledger.doc.file,
            outcome.line,
            if files.len() > 1 { format!(" (also changed {})", files[1..].join(", ")) } else { String::new() }
        ));
    }
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
    let (st, verb) = match action {
        HookAction::Install { chain } => (hook::install(&cwd, *chain)?, "installed"),
        HookAction::Uninstall => (hook::uninstall(&cwd)?, "uninstalled"),
        HookAction::Status { json: true } => {
            out_json(&hook::status(&cwd)?);
            return Ok(ExitCode::SUCCESS);
        }
        HookAction::Status { json: false } => (hook::status(&cwd)?, "status"),
    };
    let what = match st.installed.as_str() {
        "loop" if st.chained => "loop guard (chained after the previous hook)",
        "loop" => "loop guard",
        "foreign" => "a hook loop did not write",
        _ => "no hook",
    };
    out(&format!("{verb}: {} runs {what}\n", st.path));
    Ok(ExitCode::SUCCESS)
}

fn cmd_brief(cli: &Cli, a: &BriefArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let ws = Workspace::discover(&cwd, cli.root.as_deref())?;
    let input = ws.path(&ws.config.input);
    let _lock = if a.write && input.is_file() { Some(atomic::Lock::exclusive(&input)?) } else { None };
    let model = Model::load(ws)?;
    let (template, name) = match &a.template {
        Some(p) => (crate::markdown::read_utf8(p, &p.display().to_string())?, p.display().to_string()),
        None => {
            let p = model.ws.path("templates/input.md");
            if p.is_file() {
                (crate::markdown::read_utf8(&p, "templates/input.md")?, "templates/input.md".to_string())
            } else {
                (crate::brief::DEFAULT_TEMPLATE.to_string(), "(built-in template)".to_string())
            }
        }
    };
    let stamp = clock::stamp(&clock::now()?);
    let b = crate::brief::render(&model, a.item.as_deref(), &stamp, &template, &name)?;
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
    let mut report = crate::lint::lint(&model, &clock::date(&now));
    if a.fix {
        let fixed = crate::lint::fix(&model, &report)?;
        if fixed > 0 {
            // Report what is left after the fix.
            let model = Model::load(model.ws.clone())?;
            report = crate::lint::lint(&model, &clock::date(&now));
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

fn cmd_hotspots(a: &HotspotsArgs) -> Result<ExitCode> {
    use crate::evidence::hotspots;
    let report = hotspots::analyze(&a.trace)?;
    hotspots::write(&report, &a.outdir, &a.trace.display().to_string())?;
    if a.json {
        out_json(&report);
    } else {
        let mut s = format!(
            "{} events, {} thread(s)\n{:>4}  {:>10}  {:>10}  {:>6}  {:>8}  name\n",
            report.events, report.threads, "rank", "self ms", "total ms", "self %", "calls"
        );
        for h in report.hotspots.iter().take(a.top) {
            s.push_str(&format!(
                "{:>4}  {:>10.3}  {:>10.3}  {:>6.1}  {:>8}  {}\n",
                h.rank, h.self_ms, h.total_ms, h.percent, h.calls, h.name
            ));
        }
        let dir = a.outdir.display().to_string();
        s.push_str(&format!("wrote {0}/hot_loops.csv and {0}/hotspots.md\n", dir.trim_end_matches('/')));
        out(&s);
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_gate_check(cli: &Cli, a: &GateCheckArgs) -> Result<ExitCode> {
    use crate::evidence::gates;
    let (metrics_path, metrics) = gates::run_metrics(&a.dir)?
        .ok_or_else(|| Error::input(a.dir.display().to_string(), 0, "no metrics.json here or in profile/"))?;
    let (gate_list, source) = match &a.gate {
        Some(spec) => (gates::parse_list(spec)?, "--gate".to_string()),
        None => {
            let model = load(&cli.root)?;
            let rec = run::RunRecord::load(&a.dir).ok();
            let item_id = a.item.clone().or(rec.as_ref().map(|r| r.item.clone()));
            let item = match item_id {
                Some(id) => model.ledger.find(&id).into_iter().next().ok_or_else(|| gate::unknown_item(&model, &id))?,
                None => gate::focus(&model, None)?.0,
            };
            let plan = gate::plan_for(&model, item)?;
            let phase = a.phase.clone().or(rec.and_then(|r| r.task.or(r.phase))).ok_or_else(|| {
                Error::Usage("which task's gates? give --phase (the folder has no run.json naming one)".into())
            })?;
            (gates::from_plan(plan, &phase), format!("{} (task {phase})", plan.path))
        }
    };
    if gate_list.is_empty() {
        return Err(Error::input(source, 0, "states no metric gates (write e.g. `corr >= 0.999`)"));
    }
    let verdicts = gates::evaluate(&gate_list, &metrics);
    let unmatched: Vec<&gates::Gate> = gate_list.iter().filter(|g| !verdicts.iter().any(|v| v.gate == **g)).collect();
    let failed = verdicts.iter().any(|v| !v.pass);
    if a.json {
        out_json(
            &serde_json::json!({"metrics": metrics_path, "gates_from": source, "verdicts": verdicts, "no_metric": unmatched, "pass": !failed}),
        );
    } else {
        let mut s = format!("metrics {}\ngates   {source}\n", metrics_path.display());
        for v in &verdicts {
            s.push_str(&format!(
                "  {} {} = {}  (gate: {})\n",
                if v.pass { "✅" } else { "❌" },
                v.key,
                v.value,
                v.gate.text
            ));
        }
        for g in unmatched {
            s.push_str(&format!("  ·  {}: no such metric\n", g.text));
        }
        out(&s);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn cmd_compare(a: &CompareArgs) -> Result<ExitCode> {
    use crate::evidence::{compare, gates};
    let gate_list = a.gate.as_deref().map(gates::parse_list).transpose()?;
    let (ia, ib) = rayon::join(|| compare::read_image(&a.a, a.shape), || compare::read_image(&a.b, a.shape));
    let (ia, ib) = (ia?, ib?);
    if (ia.width, ia.height) != (ib.width, ib.height) {
        return Err(Error::input(
            a.b.display().to_string(),
            0,
            format!("shape {}x{} differs from {} ({}x{})", ib.height, ib.width, a.a.display(), ia.height, ia.width),
        ));
    }
    let w = ia.width;
    let [x0, y0, x1, y1] = a.roi.unwrap_or([0, 0, w, ia.height]);
    if x1 > w || y1 > ia.height {
        return Err(Error::Usage(format!("--roi {x0},{y0},{x1},{y1} is outside the {}x{} image", ia.height, w)));
    }
    let rw = x1 - x0;
    let stats = compare::compare_images(&ia, &ib, [x0, y0, x1, y1]);
    let worst = ((y0 + stats.worst / rw.max(1)), (x0 + stats.worst % rw.max(1)));
    if let Some(p) = &a.diff_png {
        let diff: Vec<f64> = (0..w * ia.height).map(|i| (ia.get(i) as f64 - ib.get(i) as f64).abs()).collect();
        crate::sim::image::Image::f64(w, ia.height, diff).write_png(p)?;
    }
    let metrics: std::collections::BTreeMap<String, f64> = [
        ("corr", stats.corr),
        ("sum_ratio", stats.sum_ratio),
        ("rmse", stats.rmse),
        ("max_abs_err", stats.max_abs_err),
        ("max_rel_err", stats.max_rel_err),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let verdicts = gate_list.as_ref().map(|g| gates::evaluate(g, &metrics)).unwrap_or_default();
    let failed = verdicts.iter().any(|v| !v.pass)
        || gate_list.as_ref().is_some_and(|g| g.iter().any(|gate| !verdicts.iter().any(|v| v.gate == *gate)));
    if a.json {
        out_json(&serde_json::json!({
            "a": a.a, "b": a.b, "shape": [ia.height, w], "roi": [x0, y0, x1, y1], "stats": stats,
            "worst_pixel": {"slow": worst.0, "fast": worst.1}, "gates": verdicts, "pass": !failed,
        }));
    } else {
        let mut s = format!(
            "pixels       {}\ncorr         {:.9}\nsum_ratio    {:.9}  (sum A {:.6e}, sum B {:.6e})\nrmse         {:.6e}\nmax_abs_err  {:.6e} at slow {} fast {}\nmax_rel_err  {:.6e}\n",
            stats.pixels, stats.corr, stats.sum_ratio, stats.sum_a, stats.sum_b, stats.rmse, stats.max_abs_err, worst.0, worst.1, stats.max_rel_err
        );
        for v in &verdicts {
            s.push_str(&format!(
                "gate {} {}: {} = {}\n",
                if v.pass { "✅" } else { "❌" },
                v.gate.text,
                v.key,
                v.value
            ));
        }
        out(&s);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn sim_params(a: &SimRunArgs) -> Result<crate::sim::params::Params> {
    use crate::sim::params::Params;
    let mut p = match &a.nb_args {
        Some(args) => Params::from_nb_args(args)?,
        None => Params::default(),
    };
    if let Some(c) = &a.cell {
        p.cell.copy_from_slice(c);
    }
    macro_rules! set {
        ($($field:ident = $value:expr),* $(,)?) => { $( if let Some(v) = $value { p.$field = v; } )* };
    }
    set!(
        lambda_a = a.lambda,
        distance_mm = a.distance,
        pixel_mm = a.pixel,
        default_f = a.default_f,
        phi_deg = a.phi,
        mosaic_deg = a.mosaic,
        mosaic_seed = a.mosaic_seed,
        dispersion_pct = a.dispersion,
        divergence_mrad = a.divergence,
        shape = a.shape,
        polar = a.polar
    );
    if let Some(d) = a.detpixels {
        p.fpixels = d;
        p.spixels = d;
    }
    if let Some(n) = a.n {
        p.n = [n; 3];
    }
    for (i, v) in [a.na, a.nb, a.nc].into_iter().enumerate() {
        if let Some(v) = v {
            p.n[i] = v;
        }
    }
    if let Some(m) = &a.misset {
        p.misset_deg.copy_from_slice(m);
    }
    p.hkl = a.hkl.clone().or(p.hkl);
    p.oversample = a.oversample.or(p.oversample);
    p.osc_deg = a.osc.or(p.osc_deg);
    p.phisteps = a.phisteps.or(p.phisteps);
    p.mosaic_domains = a.mosaic_dom.or(p.mosaic_domains);
    p.dispsteps = a.dispsteps.or(p.dispsteps);
    p.divsteps = a.divsteps.or(p.divsteps);
    p.validate()?;
    Ok(p)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
struct Bar(std::sync::Mutex<Option<indicatif::ProgressBar>>);

impl Bar {
    fn new() -> Bar {
        Bar(std::sync::Mutex::new(None))
    }
    fn finish(&self) {
        if let Some(b) = self.0.lock().ok().and_then(|mut g| g.take()) {
            b.finish_and_clear();
        }
    }
}

impl crate::sim::profile::Progress for Bar {
    fn start(&self, label: &str, len: u64) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(b) = g.take() {
                b.finish_and_clear();
            }
            let b = indicatif::ProgressBar::new(len);
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} rows {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_message(label.to_string());
            *g = Some(b);
        }
    }
    fn tick(&self) {
        if let Ok(g) = self.0.lock() {
            if let Some(b) = g.as_ref() {
                b.inc(1);
            }
        }
    }
}

fn cmd_sim_run(a: &SimRunArgs) -> Result<ExitCode> {
    use crate::sim::profile::Progress;
    let p = sim_params(a)?;
    let bar = Bar::new();
    bar.start("simulating", p.spixels as u64);
    let t = std::time::Instant::now();
    let (setup, image) = crate::sim::with_threads(a.threads, || -> Result<_> {
        let setup = crate::sim::geometry::Setup::new(&p)?;
        let image = if a.scalar {
            crate::sim::image::Image::f64(setup.fpixels, setup.spixels, crate::sim::scalar::render(&setup))
        } else {
            crate::sim::render(&setup, a.dtype, false, &|| bar.tick()).image
        };
        Ok((setup, image))
    })??;
    let seconds = t.elapsed().as_secs_f64();
    bar.finish();
    if let Some(f) = &a.floatfile {
        image.write_floatfile(f)?;
    }
    if let Some(f) = &a.png {
        image.write_png(f)?;
    }
    let report = serde_json::json!({
        "fpixels": setup.fpixels, "spixels": setup.spixels, "oversample": setup.oversample,
        "sources": setup.sources.len(), "orientations": setup.orientations.len(), "steps": setup.steps,
        "seconds": seconds, "sum": image.sum(), "max": image.max(),
        "floatfile": a.floatfile, "png": a.png,
    });
    if a.json {
        out_json(&report);
    } else {
        out(&format!(
            "{}x{} pixels, oversample {}, {} source(s) × {} orientation(s): {:.3} s; sum {:.6e}, max {:.6e}\n",
            setup.fpixels,
            setup.spixels,
            setup.oversample,
            setup.sources.len(),
            setup.orientations.len(),
            seconds,
            image.sum(),
            image.max()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_sim_profile(a: &SimProfileArgs) -> Result<ExitCode> {
    if a.device != "cpu" {
        return Err(Error::Usage(format!(
            "--device {}: only `cpu` is available (this simulator has no GPU backend)",
            a.device
        )));
    }
    if a.sizes.is_empty() || a.sizes.contains(&0) {
        return Err(Error::Usage("--sizes: give detector sizes like 1024,4096".into()));
    }
    for &s in &a.sizes {
        crate::sim::params::Params::benchmark(s).validate()?;
    }
    let req = crate::sim::profile::Request {
        sizes: a.sizes.clone(),
        dtype: a.dtype,
        iterations: a.iterations,
        outdir: a.outdir.clone(),
        threads: a.threads,
        full_reference_max: 1024,
    };
    let bar = Bar::new();
    let summary = crate::sim::profile::run(&req, &bar)?;
    bar.finish();
    if a.json {
        out_json(&summary);
    } else {
        let mut s = String::new();
        for r in &summary.runs {
            s.push_str(&format!(
                "{0}²: warm {1:.3} s ({2:.1} Mpixel/s, {3} threads), cold {4:.3} s; vs scalar: corr {5:.7}, sum_ratio {6:.6}, speed-up {7:.1}×\n",
                r.size, r.warm_s, r.pixels_per_s / 1e6, r.threads, r.cold_s, r.corr_vs_reference, r.sum_ratio, r.speedup_vs_scalar
            ));
        }
        let dir = a.outdir.display().to_string();
        s.push_str(&format!("artifacts: {}/{{trace.json,metrics.json,summary.md}}\n", dir.trim_end_matches('/')));
        out(&s);
    }
    if summary.pass {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("loop: parity gates failed (corr >= 0.999, |sum_ratio-1| <= 5e-3); see summary.md");
        Ok(ExitCode::from(1))
    }
}

fn render_decision(model: &Model, d: &Decision, explain: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let ledger = &model.ledger.doc.file;
    let _ = writeln!(
        s,
        "item      [{}] {}  ({ledger}:{}, chosen by {})",
        d.item.id, d.item.title, d.item.line, d.item.chosen_by
    );
    let _ = writeln!(s, "status    {}", d.item.status.as_deref().unwrap_or("(none)"));
    let _ = writeln!(s, "plan      {}", d.plan);
    if explain {
        for c in &d.considered {
            let _ = writeln!(
                s,
                "            Phase {:<4} {:>2}/{:<2} {:<9} {}:{}",
                c.phase.id, c.phase.done, c.phase.total, c.verdict, d.plan, c.phase.line
            );
        }
    }
    if let Some(p) = &d.phase {
        let _ =
            writeln!(s, "phase     {} — {}  ({}:{}, {}/{} tasks done)", p.id, p.title, d.plan, p.line, p.done, p.total);
    }
    for c in &d.checks {
        let mark = match c.outcome {
            Outcome::Pass => paint("32", "pass"),
            Outcome::Fail => paint("31", "FAIL"),
            Outcome::Unchecked => paint("33", "unchecked"),
        };
        let _ = writeln!(
            s,
            "  gate    {mark:<9} {}: {}  ({}:{})",
            c.name,
            status::ellipsize(&c.detail, 90),
            c.file,
            c.line
        );
    }
    if let Some(t) = &d.task {
        let _ = writeln!(s, "task      {} {} {}  ({}:{})", t.id, t.state.marker(), t.description, d.plan, t.line);
    }
    if let Some(c) = &d.command {
        let from = d.command_from.as_ref().map(|w| format!("{}:{}", w.file, w.line)).unwrap_or_default();
        let _ = writeln!(s, "command   {}  (from {from})", paint("1", c));
    }
    if !d.artifacts.is_empty() {
        let _ = writeln!(s, "artifacts {}", d.artifacts);
    }
    if let Some(n) = &d.next_task {
        let _ = writeln!(s, "next up   {} {}", n.id, n.description);
    }
    match &d.blocked {
        Some(why) => {
            let _ = writeln!(s, "\n{} {why}", paint("31", "BLOCKED"));
        }
        None => {
            let _ = writeln!(s, "\nRun it with: loop next --run");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
