//! `loop sim profile`: cold and warm timed runs of the benchmark case, the scalar reference on
//! the same case, a Chrome trace with one span per stage, metrics.json and summary.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use super::geometry::Setup;
use super::params::Params;
use super::{render, scalar, Dtype};
use crate::error::{Error, Result};
use crate::evidence::compare;

/// The profile's parity thresholds (the upstream spec's).
pub const CORR_MIN: f64 = 0.999;
pub const SUM_RATIO_TOL: f64 = 5e-3;
/// On larger detectors the scalar reference renders this many evenly spaced rows.
pub const REFERENCE_ROWS: usize = 128;
/// The main thread's track; worker k's stage spans are on track WORKER_TID + k.
const TID: u64 = 1;
const WORKER_TID: u64 = 100;

pub struct Request {
    pub sizes: Vec<usize>,
    pub dtype: Dtype,
    pub iterations: usize,
    pub outdir: PathBuf,
    pub threads: usize,
    /// Whole-image scalar reference up to this size; sampled rows above it.
    pub full_reference_max: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeMetrics {
    pub size: usize,
    pub dtype: Dtype,
    pub threads: usize,
    pub oversample: usize,
    pub cold_s: f64,
    pub warm_s: f64,
    pub pixels_per_s: f64,
    pub reference_s: f64,
    pub reference_rows: usize,
    pub corr_vs_reference: f64,
    pub sum_ratio: f64,
    pub max_rel_err: f64,
    /// Time per pixel of the scalar reference over the vectorized path, both on `threads` threads.
    pub speedup_vs_scalar: f64,
    /// The vectorized path's instruction set (avx2-fma or baseline).
    pub simd: super::fast::Simd,
    pub image: String,
    pub png: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub runs: Vec<SizeMetrics>,
    pub pass: bool,
}

struct Trace {
    t0: Instant,
    events: Vec<serde_json::Value>,
}

impl Trace {
    fn us(&self, t: Instant) -> f64 {
        (t - self.t0).as_secs_f64() * 1e6
    }
    fn name_track(&mut self, tid: u64, name: &str) {
        self.events.push(json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}));
    }
    fn span(&mut self, name: &str, tid: u64, start: f64, dur: f64, args: serde_json::Value) {
        self.events.push(
            json!({"name": name, "cat": "sim", "ph": "X", "ts": start, "dur": dur, "pid": 1, "tid": tid, "args": args}),
        );
    }
}

/// Where progress goes (a bar on stderr in the CLI); `tick` is called from worker threads.
pub trait Progress: Sync {
    fn start(&self, label: &str, len: u64);
    fn tick(&self);
}

/// No progress display.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn tick(&self) {}
}

pub fn run(req: &Request, progress: &dyn Progress) -> Result<Summary> {
    std::fs::create_dir_all(&req.outdir).map_err(|e| Error::io(&req.outdir, e))?;
    let threads = if req.threads == 0 { rayon::current_num_threads() } else { req.threads };
    let mut trace = Trace { t0: Instant::now(), events: Vec::new() };
    trace.name_track(TID, "main");
    for k in 0..threads {
        trace.name_track(WORKER_TID + k as u64, &format!("worker {k}"));
    }
    let mut runs = Vec::new();
    for &size in &req.sizes {
        runs.push(profile_size(req, size, threads, progress, &mut trace)?);
    }
    let pass = runs.iter().all(gates_pass);
    write_outputs(&req.outdir, &runs, &trace)?;
    Ok(Summary { runs, pass })
}

/// One size: setup, a cold run, the warm runs, the scalar reference on the same rows, the image.
fn profile_size(
    req: &Request,
    size: usize,
    threads: usize,
    progress: &dyn Progress,
    trace: &mut Trace,
) -> Result<SizeMetrics> {
    let params = Params::benchmark(size);
    let t_size = Instant::now();
    let t = Instant::now();
    let setup = Setup::new(&params)?;
    let setup_us = t.elapsed().as_secs_f64() * 1e6;
    trace.span("geometry (setup)", TID, trace.us(t), setup_us, json!({"size": size}));

    let cold_start = Instant::now();
    progress.start(&format!("{size}² cold"), size as u64);
    let cold = super::with_threads(req.threads, || render(&setup, req.dtype, false, &|| progress.tick()))?;
    let cold_s = cold.seconds + setup_us / 1e6;
    trace.span("cold run", TID, trace.us(cold_start), cold.seconds * 1e6, json!({"size": size}));

    let (last, warm) = warm_runs(req, &setup, size, threads, progress, trace, cold.image)?;
    let simd = last.simd;
    let image = last.image;
    let warm_s = warm.iter().sum::<f64>() / warm.len() as f64;

    let (rows, reference, reference_s) = scalar_reference(req, &setup, size, progress, trace)?;
    let ours: Vec<f64> =
        rows.iter().flat_map(|&r| (0..size).map(move |f| (r, f))).map(|(r, f)| image.get(r * size + f)).collect();
    let stats = compare::Stats::of(&ours, &reference);
    let scalar_per_px = reference_s / reference.len() as f64;
    let vector_per_px = warm_s / (size * size) as f64;

    let t = Instant::now();
    let bin = format!("image_{size}.bin");
    let png = format!("image_{size}.png");
    image.write_floatfile(&req.outdir.join(&bin))?;
    image.write_png(&req.outdir.join(&png))?;
    trace.span("output", TID, trace.us(t), t.elapsed().as_secs_f64() * 1e6, json!({"files": [&bin, &png]}));
    let total_us = t_size.elapsed().as_secs_f64() * 1e6;
    trace.span(&format!("profile {size}x{size}"), TID, trace.us(t_size), total_us, json!({}));
    Ok(SizeMetrics {
        size,
        dtype: req.dtype,
        threads,
        oversample: setup.oversample,
        cold_s: round(cold_s, 4),
        warm_s: round(warm_s, 4),
        pixels_per_s: ((size * size) as f64 / warm_s).round(),
        reference_s: round(reference_s, 4),
        reference_rows: rows.len(),
        corr_vs_reference: stats.corr,
        sum_ratio: stats.sum_ratio,
        max_rel_err: stats.max_rel_err,
        speedup_vs_scalar: round(scalar_per_px / vector_per_px, 2),
        simd,
        image: bin,
        png,
    })
}

/// The warm runs, each rendering into the buffer the run before filled: their time is the
/// render's, the cold run's also the first touch of the image's fresh memory. Returns the last
/// run and every run's seconds.
fn warm_runs(
    req: &Request,
    setup: &Setup,
    size: usize,
    threads: usize,
    progress: &dyn Progress,
    trace: &mut Trace,
    cold_image: super::image::Image,
) -> Result<(super::Rendered, Vec<f64>)> {
    let mut warm = Vec::new();
    let mut last: Option<super::Rendered> = None;
    let mut buffer = Some(cold_image);
    for it in 0..req.iterations.max(1) {
        let start = Instant::now();
        progress.start(&format!("{size}² warm {}", it + 1), size as u64);
        let previous = last.take().map(|r| r.image).or(buffer.take());
        let r = super::with_threads(req.threads, || {
            super::render_again(setup, req.dtype, super::fast::Simd::detect(), true, &|| progress.tick(), previous)
        })?;
        let ts = trace.us(start);
        trace.span(
            &format!("warm run {}", it + 1),
            TID,
            ts,
            r.seconds * 1e6,
            json!({"size": size, "threads": threads}),
        );
        // Stage spans per worker thread, each on its own track: the time that thread spent
        // in each stage, laid end to end inside its busy span from the run's start.
        for (k, t) in r.threads.iter().enumerate() {
            let tid = WORKER_TID + k as u64;
            let busy: f64 = t.stages().iter().map(|(_, d)| d.as_secs_f64() * 1e6).sum();
            trace.span(&format!("warm run {} rows", it + 1), tid, ts, busy, json!({"worker": k}));
            let mut at = ts;
            for (name, d) in t.stages() {
                let dur = d.as_secs_f64() * 1e6;
                trace.span(name, tid, at, dur, json!({"worker": k}));
                at += dur;
            }
        }
        warm.push(r.seconds);
        last = Some(r);
    }
    let last = last.ok_or_else(|| Error::Failed("no warm run".into()))?;
    Ok((last, warm))
}

/// The scalar reference: the whole image when small, evenly spaced rows when large, on the same
/// threads as the vectorized runs so the speed-up compares equal thread counts. Returns the rows,
/// their pixels and the seconds it took.
fn scalar_reference(
    req: &Request,
    setup: &Setup,
    size: usize,
    progress: &dyn Progress,
    trace: &mut Trace,
) -> Result<(Vec<usize>, Vec<f64>, f64)> {
    let rows: Vec<usize> = if size <= req.full_reference_max {
        (0..size).collect()
    } else {
        let step = size.div_ceil(REFERENCE_ROWS);
        (0..size).step_by(step).collect()
    };
    progress.start(&format!("{size}² scalar reference"), rows.len() as u64);
    let t = Instant::now();
    let reference: Vec<f64> = super::with_threads(req.threads, || {
        use rayon::prelude::*;
        let per_row: Vec<Vec<f64>> = rows
            .par_iter()
            .map(|&r| {
                let row = scalar::render_rows(setup, &[r]);
                progress.tick();
                row
            })
            .collect();
        per_row.concat()
    })?;
    let reference_s = t.elapsed().as_secs_f64();
    trace.span("reference (scalar)", TID, trace.us(t), reference_s * 1e6, json!({"rows": rows.len()}));
    Ok((rows, reference, reference_s))
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn gates_pass(r: &SizeMetrics) -> bool {
    r.corr_vs_reference >= CORR_MIN && (r.sum_ratio - 1.0).abs() <= SUM_RATIO_TOL
}

fn write_outputs(dir: &Path, runs: &[SizeMetrics], trace: &Trace) -> Result<()> {
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    let tj = json!({"traceEvents": trace.events, "displayTimeUnit": "ms", "otherData": {"tool": "loop sim profile", "version": env!("CARGO_PKG_VERSION")}});
    write("trace.json", serde_json::to_string(&tj).unwrap_or_default())?;
    // metrics.json: the largest size's numbers at the top level (what gates read), every size
    // under "runs".
    let top = runs.iter().max_by_key(|r| r.size).cloned();
    let mut m = serde_json::to_value(&top).unwrap_or_default();
    if let Some(o) = m.as_object_mut() {
        let sha = std::env::current_dir().ok().and_then(|d| crate::git::info(&d)).and_then(|g| g.sha);
        o.insert("git_sha".into(), json!(sha));
        o.insert("runs".into(), serde_json::to_value(runs).unwrap_or_default());
    }
    write("metrics.json", serde_json::to_string_pretty(&m).unwrap_or_default() + "\n")?;
    let mut s = String::from("# Simulator profile\n\nBenchmark case: `-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels SIZE`.\n\n");
    s.push_str("| size | dtype | simd | threads | cold s | warm s | Mpixel/s | corr vs scalar | sum ratio | max rel err | speed-up vs scalar | gates |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in runs {
        let c = if r.corr_vs_reference >= CORR_MIN { "✅" } else { "❌" };
        let sr = if (r.sum_ratio - 1.0).abs() <= SUM_RATIO_TOL { "✅" } else { "❌" };
        s.push_str(&format!(
            "| {0}² | {1} | {10} | {2} | {3:.3} | {4:.3} | {5:.1} | {6:.7} {c} | {7:.6} {sr} | {8:.2e} | {9:.1}× | corr ≥{CORR_MIN} {c}, abs(sum_ratio−1) ≤{SUM_RATIO_TOL} {sr} |\n",
            r.size, r.dtype, r.threads, r.cold_s, r.warm_s, r.pixels_per_s / 1e6, r.corr_vs_reference, r.sum_ratio, r.max_rel_err, r.speedup_vs_scalar, r.simd
        ));
    }
    s.push_str("\nThe scalar reference renders the whole image up to 1024², and 128 evenly spaced rows above; the speed-up compares time per pixel.\nThe scalar reference runs on the same threads as the vectorized path, so the speed-up compares equal thread counts.\nTrace: `trace.json` (open in Perfetto or chrome://tracing): one track per worker thread with the time it spent in each stage.\n");
    write("summary.md", s)
}
