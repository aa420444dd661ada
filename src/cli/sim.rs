//! `loop sim run` and `loop sim profile`: arguments, progress bar and printing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};

use super::{out, out_json};
use ledger_loop::error::{Error, Result};
use ledger_loop::sim::params::{Convention, Pivot, Shape};
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
        after_help = "Examples:\n  loop sim profile --sizes 1024 --outdir reports/sim/<STAMP>/profile/\n  loop sim profile --sizes 1024,4096 --dtype float32 --iterations 3 \\\n      --threads 2 --outdir out/\n\nWrites trace.json (Chrome trace events), metrics.json, summary.md,\nimage_SIZE.bin and .png. Exit 1 when corr < 0.999 or |sum_ratio−1| >\n5e-3 against the scalar reference."
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
    /// Unit cells along a (overrides --N).
    #[arg(long = "Na")]
    pub na: Option<u32>,
    /// Unit cells along b (overrides --N).
    #[arg(long = "Nb")]
    pub nb: Option<u32>,
    /// Unit cells along c (overrides --N).
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
    /// Phi steps across the oscillation (count).
    #[arg(long)]
    pub phisteps: Option<u32>,
    /// Mosaic spread, degrees.
    #[arg(long)]
    pub mosaic: Option<f64>,
    /// Mosaic domains (count).
    #[arg(long = "mosaic-dom", alias = "mosaic-domains")]
    pub mosaic_dom: Option<u32>,
    /// Seed of the mosaic-domain generator (integer; nanoBragg's ran1).
    #[arg(long)]
    pub mosaic_seed: Option<i64>,
    /// Crystal misset rotations about x, y, z, degrees.
    #[arg(long, num_args = 3, allow_negative_numbers = true)]
    pub misset: Option<Vec<f64>>,
    /// Spectral dispersion, percent.
    #[arg(long)]
    pub dispersion: Option<f64>,
    /// Wavelength steps across the dispersion (count).
    #[arg(long)]
    pub dispsteps: Option<u32>,
    /// Beam divergence, mrad.
    #[arg(long)]
    pub divergence: Option<f64>,
    /// Divergence steps per axis (count).
    #[arg(long)]
    pub divsteps: Option<u32>,
    /// Crystal shape for the lattice factor.
    #[arg(long, value_parser = PossibleValuesParser::new(Shape::NAMES).map(|s| s.parse::<Shape>().unwrap()))]
    pub shape: Option<Shape>,
    /// Kahn polarization factor (0 unpolarized .. 1).
    #[arg(long)]
    pub polar: Option<f64>,
    /// Detector swing about the two-theta axis (MOSFLM: −z), degrees.
    #[arg(long)]
    pub twotheta: Option<f64>,
    /// Detector rotation about the lab x axis, degrees (applied before y and z).
    #[arg(long = "detector-rotx")]
    pub detector_rotx: Option<f64>,
    /// Detector rotation about the lab y axis, degrees.
    #[arg(long = "detector-roty")]
    pub detector_roty: Option<f64>,
    /// Detector rotation about the lab z axis, degrees.
    #[arg(long = "detector-rotz")]
    pub detector_rotz: Option<f64>,
    /// Phi step 0 at phi exactly 0: spec (the unrotated crystal) or c-parity (nanoBragg's carry-over of
    /// the previous sample's last phi rotation, to match images it made).
    #[arg(long = "phi-carryover", value_name = "MODE", default_value = "spec", value_parser = ["spec", "c-parity"])]
    pub phi_carryover: String,
    /// Detector convention: mosflm (default), xds, adxv, dials or denzo.
    #[arg(long, value_parser = PossibleValuesParser::new(Convention::NAMES).map(|s| s.parse::<Convention>().unwrap()))]
    pub convention: Option<Convention>,
    /// What stays fixed when the detector rotates: beam (the direct-beam spot) or sample.
    #[arg(long, value_parser = PossibleValuesParser::new(Pivot::NAMES).map(|s| s.parse::<Pivot>().unwrap()))]
    pub pivot: Option<Pivot>,
    /// Precision of the vectorized path.
    #[arg(long, default_value = "float32", value_parser = dtype_parser())]
    pub dtype: Dtype,
    /// Write nanoBragg's raw float image (little-endian float32, slow-axis rows).
    #[arg(long, value_name = "OUT")]
    pub floatfile: Option<PathBuf>,
    /// Write an 8-bit PNG preview.
    #[arg(long, value_name = "OUT")]
    pub png: Option<PathBuf>,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Render with the scalar reference instead (slow; for checking).
    #[arg(long)]
    pub scalar: bool,
    /// Print the run's numbers as JSON.
    #[arg(long)]
    pub json: bool,
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
    use ledger_loop::sim::params::Params;
    let mut p = match &a.nb_args {
        Some(args) => Params::from_nb_args(args)?,
        None => Params::default(),
    };
    if let Some(c) = &a.cell {
        p.cell.copy_from_slice(c);
    }
    if let Some(f) = &a.floatfile {
        p.outputs.floatfile = Some(f.clone());
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
        polar = a.polar,
        twotheta_deg = a.twotheta
    );
    for (k, v) in [a.detector_rotx, a.detector_roty, a.detector_rotz].into_iter().enumerate() {
        if let Some(v) = v {
            p.detector_rot_deg[k] = v;
        }
    }
    if a.pivot.is_some() {
        p.pivot = a.pivot;
    }
    if let Some(c) = a.convention {
        p.convention = c;
    }
    p.phi_carryover_c = a.phi_carryover == "c-parity";
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

pub(super) fn cmd_sim_run(a: &SimRunArgs) -> Result<ExitCode> {
    use ledger_loop::sim::profile::Progress;
    let p = sim_params(a)?;
    let bar = Bar::new();
    bar.start("simulating", p.spixels as u64);
    let t = std::time::Instant::now();
    let (setup, image) = ledger_loop::sim::with_threads(a.threads, || -> Result<_> {
        let setup = ledger_loop::sim::geometry::Setup::new(&p)?;
        let image = if a.scalar {
            ledger_loop::sim::image::Image::f64(setup.fpixels, setup.spixels, ledger_loop::sim::scalar::render(&setup))
        } else {
            ledger_loop::sim::render(&setup, a.dtype, false, &|| bar.tick()).image
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

pub(super) fn cmd_sim_profile(a: &SimProfileArgs) -> Result<ExitCode> {
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
        eprintln!("loop: parity gates failed (corr >= 0.999, |sum_ratio-1| <= 5e-3); see summary.md");
        Ok(ExitCode::from(1))
    }
}
