use crate::common::*;
use ledger_loop::evidence::compare::Stats;
use ledger_loop::sim::fast::Simd;
use ledger_loop::sim::geometry::Setup;
use ledger_loop::sim::params::{Params, Shape};
use ledger_loop::sim::{fast, scalar};

fn golden_dir() -> std::path::PathBuf {
    fixtures().join("golden")
}

fn vectorized(p: &Params, f64_path: bool, simd: Simd) -> Vec<f64> {
    let s = Setup::new(p).unwrap();
    if f64_path {
        fast::render::<f64>(&s, simd, false, &|| ()).0
    } else {
        fast::render::<f32>(&s, simd, false, &|| ()).0.into_iter().map(|x| x as f64).collect()
    }
}

fn small(size: usize) -> Params {
    Params {
        cell: [70.0, 80.0, 90.0, 75.0, 85.0, 95.0],
        lambda_a: 1.5,
        distance_mm: 80.0,
        pixel_mm: 0.4,
        fpixels: size,
        spixels: size,
        n: [3, 4, 5],
        default_f: 50.0,
        misset_deg: [10.0, 20.0, 30.0],
        ..Params::default()
    }
}

fn cases() -> Vec<(&'static str, Params)> {
    let hkl = golden_dir().join("small.hkl");
    vec![
        ("triclinic+misset", small(48)),
        ("oversample 3", Params { oversample: Some(3), ..small(40) }),
        ("phi steps", Params { phi_deg: 0.5, osc_deg: Some(2.0), phisteps: Some(4), ..small(40) }),
        ("mosaic", Params { mosaic_deg: 1.0, mosaic_domains: Some(5), ..small(40) }),
        (
            "hkl interpolated",
            Params {
                cell: [20.0, 20.0, 20.0, 90.0, 90.0, 90.0],
                lambda_a: 1.0,
                distance_mm: 60.0,
                pixel_mm: 0.2,
                n: [2, 2, 2],
                hkl: Some(hkl.clone()),
                default_f: 0.0,
                misset_deg: [3.0, 7.0, 11.0],
                ..small(48)
            },
        ),
        (
            "hkl nearest",
            Params {
                n: [5, 5, 5],
                hkl: Some(hkl),
                interpolate: Some(false),
                cell: [20.0, 20.0, 20.0, 90.0, 90.0, 90.0],
                ..small(48)
            },
        ),
        ("round", Params { shape: Shape::Round, ..small(40) }),
        ("gauss", Params { shape: Shape::Gauss, ..small(40) }),
        (
            "sources+polar",
            Params {
                dispersion_pct: 2.0,
                dispsteps: Some(3),
                divergence_mrad: 1.0,
                divsteps: Some(3),
                polar: 0.9,
                ..small(40)
            },
        ),
        (
            "thick sensor, rotated",
            Params {
                detector_thick_um: 300.0,
                detector_mu: Some(1.0 / 500e-6),
                detector_thicksteps: Some(3),
                twotheta_deg: 8.0,
                detector_rot_deg: [2.0, 3.0, 4.0],
                ..small(40)
            },
        ),
        ("curved", Params { curved: true, ..small(40) }),
        ("water", Params { water_um: 20.0, ..small(40) }),
    ]
}

#[test]
fn vectorized_agrees_with_the_scalar_reference() {
    for (name, p) in cases() {
        let reference = scalar::render(&Setup::new(&p).unwrap());
        assert!(reference.iter().sum::<f64>() > 0.0, "{name}: empty image");
        // Both builds of the row renderer: the baseline and, where the CPU has them, AVX2+FMA.
        for simd in [Simd::BASELINE, Simd::detect()] {
            let s64 = Stats::of(&vectorized(&p, true, simd), &reference);
            assert!(s64.corr >= 0.99999 && (s64.sum_ratio - 1.0).abs() <= 1e-5, "{name} f64 {simd:?}: {s64:?}");
            let s32 = Stats::of(&vectorized(&p, false, simd), &reference);
            assert!(s32.corr >= 0.999 && (s32.sum_ratio - 1.0).abs() <= 5e-3, "{name} f32 {simd:?}: {s32:?}");
        }
    }
}

#[test]
fn matches_nanobragg_golden_images() {
    let dir = golden_dir();
    let out = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "cmd") {
            continue;
        }
        let cmd = std::fs::read_to_string(&path).unwrap();
        let args = nb_args(&cmd, true);
        let name = path.file_stem().unwrap().to_str().unwrap();
        let mine = out.path().join(format!("{name}.bin"));
        let o = cmd_in(&dir)
            .args(["sim", "run", "--nb-args", &args, "--floatfile", mine.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let golden = dir.join(format!("{name}.bin"));
        let o = cmd_in(&dir)
            .args([
                "compare",
                mine.to_str().unwrap(),
                golden.to_str().unwrap(),
                "--gate",
                "corr>=0.9999,sum_ratio=1±1e-4",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stdout(&o));
        let j = json(&o);
        assert!(j["stats"]["corr"].as_f64().unwrap() >= 0.9999, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 39);
}

/// nanoBragg's output files from one command line, verbatim: the SMV integer image, the noise
/// image from its seeded generator, and the PGM (golden/outputs/run.cmd).
#[test]
fn writes_nanobragg_output_files_like_the_c() {
    let dir = golden_dir().join("outputs");
    let cmd_line = std::fs::read_to_string(dir.join("run.cmd")).unwrap();
    let args = nb_args(&cmd_line, false);
    let out = tempfile::tempdir().unwrap();
    let o = cmd(out.path()).args(["sim", "run", "--dtype", "float64", "--json", "--nb-args", &args]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["written"]["seed"], 7);
    for f in ["float.bin", "int.img", "noise.img", "image.pgm"] {
        assert!(out.path().join(f).is_file(), "{f} written");
    }
    // The SMV header is the C's, byte for byte.
    let mine = std::fs::read(out.path().join("int.img")).unwrap();
    let theirs = std::fs::read(dir.join("int.img")).unwrap();
    assert_eq!(String::from_utf8_lossy(&mine[..512]), String::from_utf8_lossy(&theirs[..512]));
    for f in ["int.img", "noise.img"] {
        let (a, b) = (std::fs::read(out.path().join(f)).unwrap(), std::fs::read(dir.join(f)).unwrap());
        assert_eq!(a.len(), b.len());
        let px = |v: &[u8]| v[512..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as i32).collect::<Vec<_>>();
        let (pa, pb) = (px(&a), px(&b));
        let off: Vec<i32> = pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).filter(|d| *d > 0).collect();
        assert!(off.iter().all(|d| *d <= 1) && off.len() * 100 <= pa.len(), "{f}: {} pixels differ", off.len());
        // And `loop compare` reads SMV.
        let o = cmd(out.path())
            .args(["compare", f, dir.join(f).to_str().unwrap(), "--gate", "corr>=0.9999,sum_ratio=1±1e-4"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{f}: {}", stdout(&o));
    }
    let (a, b) = (std::fs::read(out.path().join("image.pgm")).unwrap(), std::fs::read(dir.join("image.pgm")).unwrap());
    assert!(a.starts_with(b"P5\n64 64\n# pixels scaled by ") && a.len() == b.len());
    let same = a.iter().rev().zip(b.iter().rev()).take(64 * 64).filter(|(x, y)| x == y).count();
    assert!(same * 100 >= 99 * 64 * 64, "{same} of 4096 PGM pixels equal");
}

#[test]
fn oversized_sampling_is_refused_before_allocating() {
    let d = tempfile::tempdir().unwrap();
    for (args, want) in [
        ("-default_F 1 -cell 10 10 10 90 90 90 -N 2 -detpixels 64 -oversample 20000", "--oversample 20000"),
        ("-default_F 1 -cell 10 10 10 90 90 90 -N 2 -detpixels 64 -oversample 4e9", "--oversample"),
        ("-default_F 1 -cell 10 10 10 90 90 90 -N 2 -detpixels 4096 -oversample 999 -phisteps 1000", "samples"),
        (
            "-default_F 1 -cell 10 10 10 90 90 90 -N 2 -detpixels 64 -phisteps 100000 -mosaic 1 -mosaic_dom 1000",
            "orientations",
        ),
        // Step sizes that imply billions of steps.
        ("-default_F 1 -detpixels 8 -osc 10 -phistep 1e-9 -mosaic 1 -mosaic_dom 1000", "orientations"),
        ("-default_F 1 -detpixels 8 -hdivrange 1 -hdivstep 1e-9 -vdivrange 1 -vdivstep 1e-9", "sources"),
        ("-default_F 1 -detpixels 8 -detector_thick 100 -detector_thicksteps 2000000", "detector_thicksteps"),
    ] {
        let o = cmd(d.path()).args(["sim", "run", "--nb-args", args]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args}: {}", stderr(&o));
    }
    write(d.path(), "big.hkl", "0 0 0 1\n0 0 99999999999 2\n");
    let o = cmd(d.path())
        .args(["sim", "run", "--nb-args", "-hkl big.hkl -cell 10 10 10 90 90 90 -N 2 -detpixels 8"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("big.hkl:2: Miller index out of range"), "{}", stderr(&o));
}

/// The nanoBragg arguments of a golden's stored command line, without its `-floatfile` when asked.
fn nb_args(cmd_line: &str, drop_floatfile: bool) -> String {
    let args = cmd_line.split("nanoBragg").nth(1).unwrap();
    let args = if drop_floatfile { args.split("-floatfile").next().unwrap() } else { args };
    args.trim().to_string()
}

fn cmd_in(dir: &std::path::Path) -> assert_cmd::Command {
    cmd(dir)
}

#[test]
fn bragg_peak_lands_where_braggs_law_says() {
    // Cubic 100 Å cell, beam along x: reflection (0,0,1) diffracts toward +z (the fast axis) at
    // sin θ = λ / 2a, i.e. a diffracted direction with z-component λ/a.
    let size = 256;
    let p = Params {
        n: [5, 5, 5],
        default_f: 100.0,
        lambda_a: 6.2,
        fpixels: size,
        spixels: size,
        ..Params::benchmark(size)
    };
    let img = vectorized(&p, true, Simd::detect());
    let (d, px) = (100.0, 0.1);
    let z = d * (6.2 / 100.0) / (1.0 - (0.062f64).powi(2)).sqrt();
    let fbeam = (size as f64 * px + px) / 2.0 + px / 2.0;
    let want_f = (z + fbeam) / px - 0.5;
    let want_s = fbeam / px - 0.5;
    // The brightest pixel on the +z side, away from the direct beam.
    let (best, _) = img
        .iter()
        .enumerate()
        .filter(|(i, _)| i % size > size / 2 + 20)
        .fold((0, f64::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
    let (s, f) = ((best / size) as f64, (best % size) as f64);
    assert!(
        (f - want_f).abs() <= 1.5 && (s - want_s).abs() <= 1.0,
        "peak at ({s},{f}), Bragg's law says ({want_s},{want_f})"
    );
}

#[test]
fn image_is_symmetric_where_the_geometry_is() {
    // Cubic, unrotated, unpolarized: mirror images across the beam in both detector axes.
    let size = 64;
    let p = Params {
        cell: [30.0; 3].into_iter().chain([90.0; 3]).collect::<Vec<_>>().try_into().unwrap(),
        n: [4, 4, 4],
        default_f: 10.0,
        lambda_a: 1.0,
        distance_mm: 50.0,
        pixel_mm: 0.25,
        fpixels: size,
        spixels: size,
        oversample: Some(1),
        ..Params::default()
    };
    let img = vectorized(&p, true, Simd::detect());
    // The MOSFLM beam centre sits between pixels size/2 and size/2+1: pixel i mirrors to size+1-i.
    for s in 2..size {
        for f in 2..size {
            let a = img[s * size + f];
            let b = img[(size + 1 - s) * size + (size + 1 - f)];
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-30), "({s},{f}): {a} vs {b}");
        }
    }
}

#[test]
fn peak_intensity_scales_as_n_to_the_sixth() {
    // Beam centre on a pixel centre: that pixel sees q = 0, where F_latt = Na·Nb·Nc exactly.
    let at = |n: u32| {
        let p = Params {
            n: [n; 3],
            default_f: 1.0,
            fpixels: 33,
            spixels: 33,
            pixel_mm: 0.1,
            xbeam_mm: Some(1.6),
            ybeam_mm: Some(1.6),
            oversample: Some(1),
            ..Params::default()
        };
        vectorized(&p, true, Simd::detect())[16 * 33 + 16]
    };
    let ratio = at(6) / at(2);
    assert!((ratio - 3f64.powi(6)).abs() / 729.0 < 1e-9, "{ratio}");
}

#[test]
fn solid_angle_falloff_matches_the_formula() {
    // N = 1 and no polarization: every pixel is r_e²·fluence·F²·Ω with Ω = p²·D/R³.
    let size = 32;
    let p = Params {
        n: [1, 1, 1],
        default_f: 3.0,
        nopolar: true,
        fpixels: size,
        spixels: size,
        pixel_mm: 1.0,
        distance_mm: 40.0,
        oversample: Some(1),
        ..Params::default()
    };
    let img = vectorized(&p, true, Simd::detect());
    let (px, d) = (1e-3, 0.04);
    let beam = (size as f64 * px + px) / 2.0 + px / 2.0;
    for s in 0..size {
        for f in 0..size {
            let (y, z) = ((s as f64 + 0.5) * px - beam, (f as f64 + 0.5) * px - beam);
            let r = (d * d + y * y + z * z).sqrt();
            let want = 7.94079248018965e-30 * ledger_loop::sim::params::DEFAULT_FLUENCE * 9.0 * px * px * d / r.powi(3);
            let got = img[s * size + f];
            assert!((got - want).abs() / want < 1e-9, "({s},{f}) {got} vs {want}");
        }
    }
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let sim = |args: &[&str]| cmd(d.path()).args(["sim", "run"]).args(args).output().unwrap();
    for (args, want) in [
        (vec!["--cell", "-1", "100", "100", "90", "90", "90", "--default-F", "1"], "--cell"),
        (vec!["--lambda", "0", "--default-F", "1"], "--lambda"),
        (vec!["--detpixels", "0", "--default-F", "1"], "--detpixels"),
        (vec!["--detpixels", "1000000", "--default-F", "1"], "GiB"),
    ] {
        let o = sim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    write(d.path(), "bad.hkl", "1 2 3 40\n1 2 3\n");
    let o = sim(&["--hkl", "bad.hkl", "--detpixels", "8"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.hkl:2: expected `h k l F`"), "{}", stderr(&o));
    // Matrix and source files: a word where a number belongs is refused with file and line.
    write(d.path(), "bad.mat", "0.01 0 0\n0 zero 0\n0 0 0.01\n");
    write(d.path(), "bad.src", "-10 0 0 1 1e-10\n-10 0 0 1 1e-10 7\n");
    for (args, want) in [
        (vec!["--mat", "bad.mat", "--default-F", "1", "--floatfile", "x.bin"], "bad.mat:2: `zero` is not a number"),
        (vec!["--sourcefile", "bad.src", "--default-F", "1", "--floatfile", "x.bin"], "bad.src:2: expected at most 5"),
        (
            vec!["--strict", "--nb-args", "-default_F 1 -pix0_vector 0 0 0", "--floatfile", "x.bin"],
            "--strict: -pix0_vector: nanoBragg reads it",
        ),
        (vec!["--detector-thick", "-5", "--default-F", "1", "--floatfile", "x.bin"], "-detector_thick"),
    ] {
        let o = sim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!d.path().join("x.bin").exists(), "nothing written");
    }
    let o = cmd(d.path()).args(["sim", "profile", "--sizes", "200000", "--outdir", "p"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.path().join("p").exists(), "nothing written before refusing");
    let o = cmd(d.path()).args(["sim", "profile", "--device", "cuda", "--outdir", "p"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only `cpu`"));
}

#[test]
fn profile_writes_trace_metrics_and_summary() {
    let d = tempfile::tempdir().unwrap();
    let o = cmd(d.path())
        .args(["sim", "profile", "--sizes", "64,96", "--iterations", "2", "--outdir", "prof", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = d.path().join("prof");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["size"], 96);
    assert!(m["corr_vs_reference"].as_f64().unwrap() >= 0.999);
    assert!((m["sum_ratio"].as_f64().unwrap() - 1.0).abs() <= 5e-3);
    for k in ["dtype", "threads", "cold_s", "warm_s", "pixels_per_s", "max_rel_err", "speedup_vs_scalar", "git_sha"] {
        assert!(m.get(k).is_some(), "metrics.json lacks {k}");
    }
    assert_eq!(m["runs"].as_array().unwrap().len(), 2);
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("trace.json")).unwrap()).unwrap();
    let names: Vec<&str> = t["traceEvents"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for stage in ["geometry", "lattice", "accumulation", "scaling", "output", "reference (scalar)", "warm run 2"] {
        assert!(names.contains(&stage), "trace lacks {stage}: {names:?}");
    }
    let events = t["traceEvents"].as_array().unwrap();
    assert!(events.iter().filter(|e| e["ph"] == "X").all(|e| e["dur"].as_f64().unwrap() >= 0.0));
    // One named track per worker thread, each with its own lattice span.
    let workers = events.iter().filter(|e| e["ph"] == "M" && e["args"]["name"].as_str().unwrap().starts_with("worker"));
    let tracks: Vec<&serde_json::Value> = workers.map(|e| &e["tid"]).collect();
    assert!(!tracks.is_empty());
    for tid in tracks {
        assert!(events.iter().any(|e| &e["tid"] == tid && e["name"] == "lattice"), "track {tid} has no lattice span");
    }
    assert_eq!(
        m["simd"].as_str().unwrap(),
        if std::is_x86_feature_detected!("avx2") { "avx2-fma" } else { "baseline" }
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| 96² |") && summary.contains("✅"), "{summary}");
    assert_eq!(std::fs::metadata(dir.join("image_96.bin")).unwrap().len(), 96 * 96 * 4);
    assert!(dir.join("image_96.png").is_file());
}

#[test]
fn next_run_on_the_embedded_workspace_runs_the_profile() {
    let ws = embedded_workspace();
    let o = run(ws.path(), &["next", "--run", "--json"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let rec = json(&o);
    assert_eq!(rec["exit_code"], 0);
    assert_eq!(rec["item"], "LOOP-SIM-001");
    let dir = ws.path().join(rec["artifacts"].as_str().unwrap());
    assert!(dir.join("run.json").is_file());
    assert!(dir.join("profile/metrics.json").is_file());
    assert!(dir.join("profile/trace.json").is_file());
    // And the attempt records it with the plan's gates evaluated.
    let o = run(ws.path(), &["attempt", "--last-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ledger = std::fs::read_to_string(ws.path().join("docs/fix_plan.md")).unwrap();
    let entry = ledger.lines().find(|l| l.contains("Attempt #2")).unwrap();
    assert!(
        entry.contains("Result: success (Phase B1)") && entry.contains("corr_vs_reference=") && entry.contains("✅"),
        "{entry}"
    );
}

/// An image nanoBragg made with phi starting at exactly 0 carries its φ carry-over; `c-parity`
/// reproduces it, `spec` (the default) does not (golden/carryover/phi0.cmd).
#[test]
fn phi_carryover_c_parity_matches_images_made_from_phi_zero() {
    let dir = golden_dir().join("carryover");
    let cmd_line = std::fs::read_to_string(dir.join("phi0.cmd")).unwrap();
    let args = nb_args(&cmd_line, true);
    let out = tempfile::tempdir().unwrap();
    let mut corr = Vec::new();
    for mode in ["c-parity", "spec"] {
        let o = cmd(out.path())
            .args(["sim", "run", "--phi-carryover", mode, "--nb-args", &args, "--floatfile", "mine.bin"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let o = cmd(out.path())
            .args(["compare", "mine.bin", dir.join("phi0.bin").to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        let j = json(&o);
        corr.push((j["stats"]["corr"].as_f64().unwrap(), j["stats"]["sum_ratio"].as_f64().unwrap()));
    }
    let (c, r) = corr[0];
    assert!(c >= 0.9999 && (r - 1.0).abs() <= 1e-4, "c-parity: corr {c}, sum_ratio {r}");
    assert!(corr[1].0 < 0.999, "spec differs from the C here: {:?}", corr[1]);
}

/// -mask: pixels that are 0 in the SMV mask are left 0; the others are as without it (the
/// header's geometry, which -mask reads first as nanoBragg does, overridden by the options).
#[test]
fn mask_skips_the_pixels_it_zeroes() {
    let d = tempfile::tempdir().unwrap();
    let base = "-default_F 100 -cell 70 80 90 90 90 90 -lambda 1 -N 6 -distance 80 -pixel 0.4 -detpixels 32 \
        -misset 5 5 5 -Xbeam 6.6 -Ybeam 6.6";
    // A mask from this tool's own SMV writer: no offset, one count per photon, so dim pixels are 0.
    let o = cmd_in(d.path())
        .args(["sim", "run", "--nb-args", &format!("{base} -intfile mask.img -scale 1 -adc 0 -floatfile all.bin")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cmd_in(d.path())
        .args(["sim", "run", "--nb-args", &format!("{base} -mask mask.img -close_distance 80 -floatfile masked.bin")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |f: &str| -> Vec<f32> {
        std::fs::read(d.path().join(f))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let (all, masked) = (read("all.bin"), read("masked.bin"));
    let bytes = std::fs::read(d.path().join("mask.img")).unwrap();
    let (_, _, mask) = ledger_loop::sim::output::read_smv(std::path::Path::new("mask.img"), &bytes).unwrap();
    let zeros = mask.iter().filter(|m| **m == 0.0).count();
    assert!(zeros > 0 && zeros < mask.len(), "{zeros} of {}", mask.len());
    for i in 0..all.len() {
        let want = if mask[i] == 0.0 { 0.0 } else { all[i] };
        assert_eq!(masked[i], want, "pixel {i}");
    }
    // A mask of the wrong size is refused, naming the file.
    let o = cmd_in(d.path())
        .args(["sim", "run", "--nb-args", &base.replace("-detpixels 32", "-detpixels 16 -mask mask.img")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("mask.img") && stderr(&o).contains("32x32"), "{}", stderr(&o));
}

/// docs/simulator.md's option table is the one `loop sim options --markdown` prints.
#[test]
fn docs_list_every_nanobragg_option_from_the_table() {
    let readme = std::fs::read_to_string(repo_root().join("docs/simulator.md")).unwrap();
    let start = readme.find("<!-- sim-options:begin -->\n").unwrap() + "<!-- sim-options:begin -->\n".len();
    let end = readme.find("<!-- sim-options:end -->").unwrap();
    assert_eq!(
        &readme[start..end],
        ledger_loop::sim::options::markdown(),
        "regenerate with `loop sim options --markdown`"
    );
    let o = cmd(&repo_root()).args(["sim", "options", "--json"]).output().unwrap();
    let rows = json(&o);
    let ignored: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["supported"] == false)
        .map(|r| r["nanobragg"][0].as_str().unwrap())
        .collect();
    assert!(ignored.contains(&"-printout") && ignored.contains(&"-pix0_vector"), "{ignored:?}");
    assert!(!ignored.contains(&"-img"), "{ignored:?}");
}

/// `--simd baseline` runs the baseline build of the row renderer, auto the best the CPU has;
/// the images agree.
#[test]
fn simd_choice_is_reported_and_agrees() {
    let d = tempfile::tempdir().unwrap();
    let args =
        "-default_F 100 -cell 70 80 90 90 90 90 -lambda 1 -N 6 -distance 80 -pixel 0.4 -detpixels 48 -misset 5 5 5";
    let run = |simd: &str| {
        json(&cmd(d.path()).args(["sim", "run", "--nb-args", args, "--simd", simd, "--json"]).output().unwrap())
    };
    let (base, auto) = (run("baseline"), run("auto"));
    assert_eq!(base["simd"], "baseline");
    assert_eq!(auto["simd"], if std::is_x86_feature_detected!("avx2") { "avx2-fma" } else { "baseline" });
    let (a, b) = (base["sum"].as_f64().unwrap(), auto["sum"].as_f64().unwrap());
    assert!(a > 0.0 && ((a - b) / a).abs() < 1e-5, "{a} vs {b}");
}

/// Where nanoBragg ignores or overrides what its command line says (-Xbeam under DIALS's sample
/// pivot, -pivot sample under MOSFLM, options it reads and never uses), `--nb-args` does what
/// it does (the goldens dials_xbeam and mosflm_pivot_sample) and warns once a case;
/// `--strict` refuses instead and writes nothing. loop's own `--pivot` is honoured.
#[test]
fn what_nanobragg_ignores_is_ignored_with_a_warning_or_refused_when_strict() {
    let d = tempfile::tempdir().unwrap();
    let base = "-default_F 100 -cell 50 60 70 90 90 90 -lambda 1.0 -N 5 -distance 100 -detpixels 32 -pixel 0.75";
    let sim = |extra: &[&str]| {
        let mut c = cmd(d.path());
        c.args(["sim", "run", "--floatfile", "x.bin"]).args(extra);
        c.output().unwrap()
    };
    let cases = [
        ("-dials -Xbeam 10 -Ybeam 14", "-Xbeam/-Ybeam: under the dials convention nanoBragg pivots on the sample"),
        (
            "-pivot sample -twotheta 5 -detector_rotz 4",
            "-pivot sample: nanoBragg's mosflm convention always pivots on the beam spot",
        ),
        ("-density 1.2 -printout", "-density: density, molecular weight and source distance"),
    ];
    for (extra, warning) in cases {
        let args = format!("{base} {extra}");
        let o = sim(&["--nb-args", &args]);
        assert_eq!(o.status.code(), Some(0), "{extra}: {}", stderr(&o));
        assert_eq!(stderr(&o).matches(warning).count(), 1, "{extra}: {}", stderr(&o));
        assert!(d.path().join("x.bin").is_file());
        std::fs::remove_file(d.path().join("x.bin")).unwrap();
        let o = sim(&["--strict", "--nb-args", &args]);
        assert_eq!(o.status.code(), Some(2), "{extra}");
        assert!(stderr(&o).contains("--strict: ") && stderr(&o).contains(warning), "{extra}: {}", stderr(&o));
        assert!(!d.path().join("x.bin").exists(), "{extra}: nothing written");
    }
    assert!(stderr(&sim(&["--nb-args", &format!("{base} -density 1.2 -printout")]))
        .contains("-printout: per-pixel debug printing"));
    // The same pivot asked for with loop's own option is honoured: another image, no warning.
    let read = |f: &str| std::fs::read(d.path().join(f)).unwrap();
    let o = sim(&["--nb-args", &format!("{base} -twotheta 5 -detector_rotz 4")]);
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));
    let beam = read("x.bin");
    let o = sim(&["--nb-args", &format!("{base} -twotheta 5 -detector_rotz 4"), "--pivot", "sample"]);
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));
    assert_ne!(read("x.bin"), beam);
}
