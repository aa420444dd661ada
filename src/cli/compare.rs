//! `loop compare`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{out, out_json};
use ledger_loop::error::Result;
use ledger_loop::evidence::compare::{self, CompareRequest};

#[derive(Debug, Args, Default)]
pub struct CompareArgs {
    /// First image (the candidate; sum_ratio = sum(A)/sum(B)).
    pub a: PathBuf,
    /// Second image (the reference).
    pub b: PathBuf,
    /// Shape of raw files: SLOWxFAST.
    #[arg(long, value_parser = parse_shape)]
    pub shape: Option<(usize, usize)>,
    /// Region of interest x0,y0,x1,y1 (fast, slow; x1 and y1 exclusive).
    #[arg(long, value_parser = compare::parse_roi)]
    pub roi: Option<[usize; 4]>,
    /// Gates, comma-separated: corr>=0.999,sum_ratio=1±5e-3
    #[arg(long)]
    pub gate: Option<String>,
    /// Write |A−B| as an 8-bit PNG.
    #[arg(long, value_name = "OUT")]
    pub diff_png: Option<PathBuf>,
    /// Also write the statistics as a flat metrics.json here (for `loop attempt --from-run`).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Print the statistics (and gate verdicts) as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> std::result::Result<(usize, usize), String> {
    let (a, b) = s.split_once(['x', 'X']).ok_or("expected SLOWxFAST, e.g. 4096x4096")?;
    Ok((a.trim().parse().map_err(|_| "bad number")?, b.trim().parse().map_err(|_| "bad number")?))
}

pub(super) fn cmd_compare(a: &CompareArgs) -> Result<ExitCode> {
    let req = CompareRequest {
        a: a.a.clone(),
        b: a.b.clone(),
        shape: a.shape,
        roi: a.roi,
        gate: a.gate.clone(),
        diff_png: a.diff_png.clone(),
    };
    let report = compare::report(&req)?;
    if let Some(m) = &a.metrics {
        report.write_metrics(m)?;
    }
    let failed = !report.pass;
    if a.json {
        out_json(&report);
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let st = &report.stats;
    let mut s = format!(
        "pixels       {}\ncorr         {:.9}\nsum_ratio    {:.9}  (sum A {:.6e}, sum B {:.6e})\nrmse         {:.6e}\nmax_abs_err  {:.6e} at slow {} fast {}\nmax_rel_err  {:.6e}\n",
        st.pixels, st.corr, st.sum_ratio, st.sum_a, st.sum_b, st.rmse, st.max_abs_err,
        report.worst_pixel.slow, report.worst_pixel.fast, st.max_rel_err
    );
    for v in &report.gates {
        s.push_str(&format!("gate {} {}: {} = {}\n", if v.pass { "✅" } else { "❌" }, v.gate.text, v.key, v.value));
    }
    out(&s);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
