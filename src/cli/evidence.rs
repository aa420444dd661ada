//! `loop compare`, `loop hotspots`, `loop gate check`: arguments and printing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{load, out, out_json, Cli};
use ledger_loop::error::{Error, Result};
use ledger_loop::{gate, run};

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
    #[arg(long, value_parser = parse_roi)]
    pub roi: Option<[usize; 4]>,
    /// Gates, comma-separated: corr>=0.999,sum_ratio=1±5e-3
    #[arg(long)]
    pub gate: Option<String>,
    /// Write |A−B| as an 8-bit PNG.
    #[arg(long, value_name = "OUT")]
    pub diff_png: Option<PathBuf>,
    /// Print the statistics (and gate verdicts) as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> std::result::Result<(usize, usize), String> {
    let (a, b) = s.split_once(['x', 'X']).ok_or("expected SLOWxFAST, e.g. 4096x4096")?;
    Ok((a.trim().parse().map_err(|_| "bad number")?, b.trim().parse().map_err(|_| "bad number")?))
}

pub(crate) fn parse_roi(s: &str) -> std::result::Result<[usize; 4], String> {
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
    /// Print the ranked spans as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Check a run folder's metrics.json against the gates its plan task states (✅/❌ each).
    #[command(
        after_help = "Examples:\n  loop gate check reports/loop-sim/phase_b/<STAMP>/\n  loop gate check out/ --gate \"corr>=0.999,sum_ratio=1±5e-3\"\n  loop gate check out/ --item LOOP-SIM-001 --phase B1\n\nGates come from --gate, else from the plan task named in the folder's\nrun.json (or --item/--phase): its guidance, its phase's Exit Criteria,\nthen the rest of the plan. Exit 1 when a gate fails."
    )]
    Check(GateCheckArgs),
}

#[derive(Debug, Args, Default)]
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
    /// Print the verdicts as JSON (metrics file, gate source, verdicts, pass).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cmd_hotspots(a: &HotspotsArgs) -> Result<ExitCode> {
    use ledger_loop::evidence::hotspots;
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

/// The verdicts of a run folder's metrics against its gates, as `--json` prints them, and
/// whether a gate failed.
pub(crate) fn gate_check_report(root: &Option<PathBuf>, a: &GateCheckArgs) -> Result<(serde_json::Value, bool)> {
    use ledger_loop::evidence::gates;
    let (metrics_path, metrics) = gates::run_metrics(&a.dir)?
        .ok_or_else(|| Error::input(a.dir.display().to_string(), 0, "no metrics.json here or in profile/"))?;
    let (gate_list, source) = match &a.gate {
        Some(spec) => (gates::parse_list(spec)?, "--gate".to_string()),
        None => {
            let model = load(root)?;
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
    let report = serde_json::json!({"metrics": metrics_path, "gates_from": source, "verdicts": verdicts, "no_metric": unmatched, "pass": !failed});
    Ok((report, failed))
}

pub(super) fn cmd_gate_check(cli: &Cli, a: &GateCheckArgs) -> Result<ExitCode> {
    let (r, failed) = gate_check_report(&cli.root, a)?;
    if a.json {
        out_json(&r);
    } else {
        let mut s = format!(
            "metrics {}\ngates   {}\n",
            r["metrics"].as_str().unwrap_or(""),
            r["gates_from"].as_str().unwrap_or("")
        );
        for v in r["verdicts"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  {} {} = {}  (gate: {})\n",
                if v["pass"] == true { "✅" } else { "❌" },
                v["key"].as_str().unwrap_or(""),
                v["value"],
                v["gate"]["text"].as_str().unwrap_or("")
            ));
        }
        for g in r["no_metric"].as_array().into_iter().flatten() {
            s.push_str(&format!("  ·  {}: no such metric\n", g["text"].as_str().unwrap_or("")));
        }
        out(&s);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Image statistics (and gate verdicts) as `--json` prints them, and whether a gate failed.
pub(crate) fn compare_report(a: &CompareArgs) -> Result<(serde_json::Value, bool)> {
    use ledger_loop::evidence::{compare, gates};
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
        ledger_loop::sim::image::Image::f64(w, ia.height, diff).write_png(p)?;
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
    let report = serde_json::json!({
        "a": a.a, "b": a.b, "shape": [ia.height, w], "roi": [x0, y0, x1, y1], "stats": stats,
        "worst_pixel": {"slow": worst.0, "fast": worst.1}, "gates": verdicts, "pass": !failed,
    });
    Ok((report, failed))
}

pub(super) fn cmd_compare(a: &CompareArgs) -> Result<ExitCode> {
    let (r, failed) = compare_report(a)?;
    if a.json {
        out_json(&r);
    } else {
        let st = &r["stats"];
        let f = |k: &str| st[k].as_f64().unwrap_or(f64::NAN);
        let mut s = format!(
            "pixels       {}\ncorr         {:.9}\nsum_ratio    {:.9}  (sum A {:.6e}, sum B {:.6e})\nrmse         {:.6e}\nmax_abs_err  {:.6e} at slow {} fast {}\nmax_rel_err  {:.6e}\n",
            st["pixels"], f("corr"), f("sum_ratio"), f("sum_a"), f("sum_b"), f("rmse"), f("max_abs_err"),
            r["worst_pixel"]["slow"], r["worst_pixel"]["fast"], f("max_rel_err")
        );
        for v in r["gates"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "gate {} {}: {} = {}\n",
                if v["pass"] == true { "✅" } else { "❌" },
                v["gate"]["text"].as_str().unwrap_or(""),
                v["key"].as_str().unwrap_or(""),
                v["value"]
            ));
        }
        out(&s);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
