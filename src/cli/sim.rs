//! `loop sim run` and `loop sim profile`: arguments, progress bar and printing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};

use super::{err, out, out_json};
use ledger_loop::error::{Error, Result};
use ledger_loop::sim::fast::Simd;
use ledger_loop::sim::options;
use ledger_loop::sim::Dtype;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Render one image (vectorized, all cores).
    #[command(
        after_help = "Examples:\n  loop sim run --cell 100 100 100 90 90 90 --lambda 6.2 --N 5 \\\n      --default-F 100 --distance 100 --detpixels 1024 \\\n      --floatfile img.bin --png img.png\n  loop sim run --floatfile img.bin --nb-args \"-default_F 100 \\\n      -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 \\\n      -detpixels 4096\"\n\nUnits as nanoBragg: Å, mm, degrees, mrad, percent. MOSFLM convention."
    )]
    Run(Box<SimRunArgs>),
    /// Time cold and warm runs of the benchmark case against the scalar reference; write trace, metrics, summary.
    #[command(
        after_help = "Examples:\n  loop sim profile --sizes 1024 --outdir out/profile/\n  loop sim profile --sizes 1024,4096 --dtype float32 --iterations 3 \\\n      --threads 2 --outdir out/\n\nWrites trace.json (Chrome trace events), metrics.json, summary.md,\nimage_SIZE.bin and .png. Exit 1 when corr < 0.999 or |sum_ratio−1| >\n5e-3 against the scalar reference."
    )]
    Profile(SimProfileArgs),
    /// Every nanoBragg option: its long option here, values, unit, and whether it is supported.
    #[command(
        after_help = "Examples:\n  loop sim options\n  loop sim options --markdown\n  loop sim options --json | jq '.[] | select(.supported | not)'"
    )]
    Options(SimOptionsArgs),
}

#[derive(Debug, Args)]
pub struct SimOptionsArgs {
    /// Print the table as Markdown (the table in docs/simulator.md).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
}

impl SimCommand {
    pub(super) fn wants_json(&self) -> bool {
        match self {
            SimCommand::Run(a) => a.json,
            SimCommand::Profile(a) => a.json,
            SimCommand::Options(a) => a.json,
        }
    }
}

pub(super) fn cmd_sim(s: &SimCommand) -> Result<ExitCode> {
    match s {
        SimCommand::Run(a) => cmd_sim_run(a),
        SimCommand::Profile(a) => cmd_sim_profile(a),
        SimCommand::Options(a) => cmd_sim_options(a),
    }
}

fn cmd_sim_options(a: &SimOptionsArgs) -> Result<ExitCode> {
    if a.json {
        out_json(&options::json());
    } else if a.markdown {
        out(&options::markdown());
    } else {
        let mut s = String::new();
        for o in options::OPTIONS {
            let names =
                o.nb.iter()
                    .copied()
                    .chain((!o.long.is_empty() && o.supported()).then_some(o.long))
                    .map(|n| if o.nb.contains(&n) { n.to_string() } else { format!("--{n}") })
                    .collect::<Vec<_>>()
                    .join(", ");
            let what = if o.supported() { o.help_text() } else { format!("refused: {}", o.help) };
            s.push_str(&format!("{names}\n    {what}\n"));
        }
        out(&s);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct SimRunArgs {
    /// A nanoBragg command line, read verbatim with nanoBragg's meaning; the options below,
    /// given here, override it.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub nb_args: Option<String>,
    /// Refuse (exit 2, nothing written) what nanoBragg would silently ignore or override —
    /// -Xbeam under a sample pivot, -pivot under MOSFLM, options it reads and never uses —
    /// instead of warning and doing what it does.
    #[arg(long)]
    pub strict: bool,
    /// Precision of the vectorized path.
    #[arg(long, default_value = "float32", value_parser = dtype_parser())]
    pub dtype: Dtype,
    /// Write an 8-bit PNG preview.
    #[arg(long, value_name = "OUT")]
    pub png: Option<PathBuf>,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Render with the scalar reference instead (slow; for checking).
    #[arg(long)]
    pub scalar: bool,
    /// Instruction set: auto (AVX2+FMA where the CPU has them) or baseline (to measure the difference).
    #[arg(long, default_value = "auto", value_parser = ["auto", "baseline"])]
    pub simd: String,
    /// Print the run's numbers as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub options: NbOptions,
}

/// The simulator's long options, made from the option table (`sim::options::OPTIONS`), kept
/// as words in command-line order so that the table's reader applies them like `--nb-args`.
#[derive(Debug, Clone, Default)]
pub struct NbOptions {
    words: Vec<String>,
}

fn option_arg(o: &'static options::Opt) -> clap::Arg {
    use clap::{Arg, ArgAction};
    use options::Value;
    let names = o.value.names(o.long);
    let arg = Arg::new(o.long).long(o.long).help(o.help_text()).help_heading("Simulation (nanoBragg's options)");
    match o.value {
        Value::Flag => arg.action(ArgAction::SetTrue),
        Value::Numbers(n) => arg.num_args(n).value_names(names).allow_negative_numbers(true).action(ArgAction::Append),
        Value::Word(_) => arg.num_args(1).value_names(names).action(ArgAction::Append),
        Value::KeywordOr(_, n) => {
            arg.num_args(1..=n).value_names(names).allow_negative_numbers(true).action(ArgAction::Append)
        }
    }
}

fn long_options() -> impl Iterator<Item = &'static options::Opt> {
    options::OPTIONS.iter().filter(|o| !o.long.is_empty() && o.supported())
}

impl clap::FromArgMatches for NbOptions {
    fn from_arg_matches(m: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut found: Vec<(usize, Vec<String>)> = Vec::new();
        for o in long_options() {
            if m.value_source(o.long) != Some(clap::parser::ValueSource::CommandLine) {
                continue;
            }
            let flag = format!("--{}", o.long);
            if o.value == options::Value::Flag {
                found.push((m.index_of(o.long).unwrap_or(0), vec![flag]));
                continue;
            }
            let (Some(occurrences), Some(indices)) = (m.get_occurrences::<String>(o.long), m.indices_of(o.long)) else {
                continue;
            };
            let mut indices = indices;
            for occurrence in occurrences {
                let values: Vec<String> = occurrence.cloned().collect();
                let at = indices.next().unwrap_or(0);
                indices.by_ref().take(values.len().saturating_sub(1)).for_each(drop);
                found.push((at, std::iter::once(flag.clone()).chain(values).collect()));
            }
        }
        found.sort_by_key(|(i, _)| *i);
        Ok(NbOptions { words: found.into_iter().flat_map(|(_, w)| w).collect() })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for NbOptions {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(long_options().map(option_arg))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn dtype_parser() -> impl clap::builder::TypedValueParser<Value = Dtype> {
    PossibleValuesParser::new(Dtype::NAMES).map(|s| s.parse::<Dtype>().unwrap())
}

#[derive(Debug, Args)]
pub struct SimProfileArgs {
    /// Detector sizes (pixels per side), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1024")]
    pub sizes: Vec<usize>,
    /// Precision of the vectorized path.
    #[arg(long, default_value = "float32", value_parser = dtype_parser())]
    pub dtype: Dtype,
    /// Warm (timed) runs per size.
    #[arg(long, default_value_t = 1)]
    pub iterations: usize,
    /// Where trace.json, metrics.json, summary.md and the images go.
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Accepted for parity with the upstream command; only `cpu` exists here.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Upstream flags that this profiler always does (accepted, ignored).
    #[arg(long, hide = true)]
    pub profile: bool,
    /// Accepted for parity with the upstream command; artifacts are always kept.
    #[arg(long, hide = true)]
    pub keep_artifacts: bool,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

fn sim_params(a: &SimRunArgs) -> Result<ledger_loop::sim::params::Params> {
    let long: Vec<&str> = a.options.words.iter().map(String::as_str).collect();
    let r = ledger_loop::sim::options::read(a.nb_args.as_deref(), &long, a.strict)?;
    r.params.validate()?;
    for w in &r.warnings {
        super::warn(w);
    }
    Ok(r.params)
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

impl ledger_loop::sim::profile::Progress for Bar {
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
    use ledger_loop::sim::profile::Progress;
    let p = sim_params(a)?;
    let bar = Bar::new();
    bar.start("simulating", p.spixels as u64);
    let t = std::time::Instant::now();
    let simd = if a.simd == Simd::BASELINE.as_str() { Simd::BASELINE } else { Simd::detect() };
    let (setup, image) = ledger_loop::sim::with_threads(a.threads, || -> Result<_> {
        let setup = ledger_loop::sim::geometry::Setup::new(&p)?;
        let image = if a.scalar {
            ledger_loop::sim::render_scalar(&setup)
        } else {
            ledger_loop::sim::render_with(&setup, a.dtype, simd, false, &|| bar.tick()).image
        };
        Ok((setup, image))
    })??;
    let seconds = t.elapsed().as_secs_f64();
    bar.finish();
    let mut image = image;
    if let Some(roi) = p.roi {
        image.keep_roi(roi);
    }
    let written = ledger_loop::sim::output::write_all(&p, &setup, &image)?;
    if let Some(f) = &a.png {
        image.write_png(f)?;
    }
    let report = serde_json::json!({
        "fpixels": setup.fpixels, "spixels": setup.spixels, "oversample": setup.oversample,
        "sources": setup.sources.len(), "orientations": setup.orientations.len(), "steps": setup.steps,
        "simd": if a.scalar { serde_json::json!("scalar") } else { serde_json::json!(simd) },
        "seconds": seconds, "sum": image.sum(), "max": image.max(),
        "floatfile": p.outputs.floatfile, "png": a.png, "written": written,
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
        ledger_loop::sim::params::Params::benchmark(s).validate()?;
    }
    let req = ledger_loop::sim::profile::Request {
        sizes: a.sizes.clone(),
        dtype: a.dtype,
        iterations: a.iterations,
        outdir: a.outdir.clone(),
        threads: a.threads,
        full_reference_max: 1024,
    };
    let bar = Bar::new();
    let summary = ledger_loop::sim::profile::run(&req, &bar)?;
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
        err("loop: parity gates failed (corr >= 0.999, |sum_ratio-1| <= 5e-3); see summary.md\n");
        Ok(ExitCode::from(1))
    }
}
