use std::path::Path;

use crate::common::*;

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn write_npy_f64(path: &Path, h: usize, w: usize, v: &[f64]) {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({h}, {w}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// Pearson correlation computed the plain way, independent of the tool.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn compare_reports_known_correlation_and_sum_ratio() {
    let d = tempfile::tempdir().unwrap();
    let n = 64;
    let a: Vec<f64> = (0..n * n).map(|i| ((i * 7919) % 1000) as f64 / 10.0).collect();
    let b: Vec<f64> = a.iter().enumerate().map(|(i, x)| 1.01 * x + ((i * 104729) % 97) as f64 / 10.0).collect();
    write_f32(&d.path().join("a.bin"), &a.iter().map(|&x| x as f32).collect::<Vec<_>>());
    write_npy_f64(&d.path().join("b.npy"), n, n, &b);
    // The .npy holds f64; the tool reads images as f32, so compare against f32-rounded values.
    let b32: Vec<f64> = b.iter().map(|&x| x as f32 as f64).collect();
    let o = run(d.path(), &["compare", "a.bin", "b.npy", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&o);
    let want_corr = pearson(&a, &b32);
    let want_ratio = a.iter().sum::<f64>() / b32.iter().sum::<f64>();
    assert!((j["stats"]["corr"].as_f64().unwrap() - want_corr).abs() < 1e-9);
    assert!((j["stats"]["sum_ratio"].as_f64().unwrap() - want_ratio).abs() < 1e-9);
    // Gates: corr passes, the sum ratio is far from 1.
    let o = run(d.path(), &["compare", "a.bin", "b.npy", "--gate", "corr>=0.9", "--diff-png", "d.png"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(d.path().join("d.png").is_file());
    let o = run(d.path(), &["compare", "a.bin", "b.npy", "--gate", "corr>=0.9,sum_ratio=1±5e-3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("gate ❌ sum_ratio=1±5e-3"), "{}", stdout(&o));
    // ROI: a window of the same images.
    let o = run(d.path(), &["compare", "a.bin", "b.npy", "--roi", "8,8,24,24", "--json"]);
    assert_eq!(json(&o)["stats"]["pixels"], 256);
}

#[test]
fn an_image_against_itself_is_perfect() {
    let d = tempfile::tempdir().unwrap();
    let v: Vec<f32> = (0..100).map(|i| (i as f32).sin().abs()).collect();
    write_f32(&d.path().join("x.bin"), &v);
    let j = json(&run(d.path(), &["compare", "x.bin", "x.bin", "--json"]));
    assert_eq!(
        (j["stats"]["corr"].as_f64(), j["stats"]["sum_ratio"].as_f64(), j["stats"]["rmse"].as_f64()),
        (Some(1.0), Some(1.0), Some(0.0))
    );
}

#[test]
fn compare_refuses_mismatched_or_truncated_images() {
    let d = tempfile::tempdir().unwrap();
    write_f32(&d.path().join("a.bin"), &[1.0; 16]);
    write_f32(&d.path().join("b.bin"), &[1.0; 25]);
    let o = run(d.path(), &["compare", "a.bin", "b.bin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("shape 5x5 differs"), "{}", stderr(&o));
    std::fs::write(d.path().join("t.bin"), [0u8; 18]).unwrap();
    let o = run(d.path(), &["compare", "a.bin", "t.bin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("t.bin: 18 bytes is not a whole number of float32 pixels"), "{}", stderr(&o));
    let o = run(d.path(), &["compare", "a.bin", "a.bin", "--shape", "3x5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("truncated or wrong shape"));
}

#[test]
fn hotspots_from_a_sim_profile_trace() {
    let d = tempfile::tempdir().unwrap();
    assert!(run(d.path(), &["sim", "profile", "--sizes", "64", "--outdir", "p"]).status.success());
    let o = run(d.path(), &["hotspots", "p/trace.json", "--outdir", "h", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.path().join("h/hot_loops.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("rank,name,calls,total_ms,self_ms,percent"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert!(rows.iter().any(|r| r[1] == "lattice"));
    // Ranks are ordered by self time and the percentages add to 100.
    let selfs: Vec<f64> = rows.iter().map(|r| r[4].parse().unwrap()).collect();
    assert!(selfs.windows(2).all(|w| w[0] >= w[1]));
    let pct: f64 = rows.iter().map(|r| r[5].parse::<f64>().unwrap()).sum();
    assert!((pct - 100.0).abs() < 0.1, "{pct}");
    // Each worker's rows span contains its stages, so its self time is below its total.
    let j = json(&o);
    let warm = j["hotspots"].as_array().unwrap().iter().find(|h| h["name"] == "warm run 1 rows").unwrap();
    assert!(warm["self_ms"].as_f64().unwrap() < warm["total_ms"].as_f64().unwrap());
    assert!(std::fs::read_to_string(d.path().join("h/hotspots.md")).unwrap().contains("| rank | name |"));
}

#[test]
fn gate_phrases_from_the_real_plans_parse() {
    use ledger_loop::evidence::gates;
    let plan = std::fs::read_to_string(nanobragg("workspace").join("plans/active/vectorization.md")).unwrap();
    let found = gates::find(&plan);
    let corr = found.iter().find(|g| g.metric == "corr").expect("corr ≥0.999 in the plan");
    assert_eq!((corr.op, corr.threshold), (gates::Op::Ge, 0.999));
    let sr = found.iter().find(|g| g.metric == "sum_ratio").expect("|sum_ratio−1| ≤5e-3 in the plan");
    assert_eq!((sr.center, sr.op), (Some(1.0), gates::Op::Le));
    assert!((sr.threshold - 5e-3).abs() < 1e-15);
    let ledger = std::fs::read_to_string(nanobragg("workspace").join("docs/fix_plan.md")).unwrap();
    let g = gates::find(&ledger);
    assert!(
        g.iter().any(|g| g.metric == "sum_ratio" && (g.threshold - 5e-3).abs() < 1e-15 && g.text.contains("5×10⁻³")),
        "{g:?}"
    );
}

#[test]
fn gate_check_evaluates_the_plans_gates_against_metrics() {
    let ws = embedded_workspace();
    let dir = ws.path().join("reports/run1");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "metrics.json", "{\"corr_vs_reference\": 0.9999, \"sum_ratio\": 1.01}");
    let o = run(ws.path(), &["gate", "check", "reports/run1", "--item", "LOOP-SIM-001", "--phase", "B1"]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(s.contains("✅ corr_vs_reference = 0.9999") && s.contains("❌ sum_ratio = 1.01"), "{s}");
    write(&dir, "metrics.json", "{\"corr_vs_reference\": 0.9999, \"sum_ratio\": 1.001}");
    assert!(run(ws.path(), &["gate", "check", "reports/run1", "--item", "LOOP-SIM-001", "--phase", "B1"])
        .status
        .success());
    let o = run(ws.path(), &["gate", "check", "reports/nothing"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn next_is_blocked_by_failed_evidence_on_an_earlier_task() {
    let ws = copy_tree(&nanobragg("after-attempt"));
    // The after-attempt ledger records Attempt #3 on C1 with corr ❌; put it in the full workspace.
    let full = copy_tree(&nanobragg("workspace"));
    std::fs::copy(ws.path().join("docs/fix_plan.md"), full.path().join("docs/fix_plan.md")).unwrap();
    // C1 still open: the next step reruns it, so the evidence does not block.
    let j = json(&run(full.path(), &["next", "--json"]));
    assert_eq!(j["task"]["id"], "C1");
    assert!(j["blocked"].is_null());
    // Mark C1 done: C2 would run on evidence that failed its gate.
    let plan = full.path().join("plans/active/vectorization.md");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("| C1 | Capture warm-run profiler | [ ] |", "| C1 | Capture warm-run profiler | [D] |");
    std::fs::write(&plan, text).unwrap();
    std::fs::write(full.path().join("input.md"), "Summary: none\n").unwrap();
    let o = run(full.path(), &["next", "--item", "VECTOR-TRICUBIC-002"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("evidence of task C1: Attempt #3 failed a metric gate"), "{}", stdout(&o));
}

#[test]
fn sixteen_bit_png_reads_as_floats() {
    let d = tempfile::tempdir().unwrap();
    let (w, h) = (5u32, 3u32);
    let vals: Vec<u16> = (0..w * h).map(|i| (i * 4000) as u16).collect();
    let mut buf = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut buf, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut wr = enc.write_header().unwrap();
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        wr.write_image_data(&bytes).unwrap();
    }
    std::fs::write(d.path().join("a.png"), buf).unwrap();
    write_f32(&d.path().join("a.bin"), &vals.iter().map(|&v| v as f32).collect::<Vec<_>>());
    let j = json(&run(d.path(), &["compare", "a.png", "a.bin", "--shape", "3x5", "--json"]));
    assert_eq!(j["shape"], serde_json::json!([3, 5]));
    assert_eq!(j["stats"]["rmse"], 0.0);
    assert_eq!(j["stats"]["sum_a"].as_f64().unwrap(), vals.iter().map(|&v| v as f64).sum::<f64>());
}

#[test]
fn hotspots_refuses_a_cut_trace_and_summary_words_match_metrics() {
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["sim", "profile", "--sizes", "32", "--outdir", "p"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("p/metrics.json")).unwrap()).unwrap();
    let summary = std::fs::read_to_string(d.path().join("p/summary.md")).unwrap();
    let row = summary.lines().find(|l| l.starts_with("| 32² |")).unwrap();
    for key in ["dtype", "simd"] {
        let word = metrics[key].as_str().unwrap();
        assert!(row.contains(&format!("| {word} |")), "{key} {word}: {row}");
    }
    let trace = std::fs::read(d.path().join("p/trace.json")).unwrap();
    std::fs::write(d.path().join("cut.json"), &trace[..trace.len() / 2]).unwrap();
    let o = run(d.path(), &["hotspots", "cut.json", "--outdir", "h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cut.json: the trace ends early"), "{}", stderr(&o));
    assert!(!d.path().join("h").exists());
}
