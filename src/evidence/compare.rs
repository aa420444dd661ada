//! Comparing two float images: correlation, sum ratio, RMSE, worst pixel. Accumulates in f64 over
//! parallel chunks, so a 4096² pair takes about as long as reading it.

use rayon::prelude::*;
use serde::Serialize;

use super::float_image::{read_image, FloatImage};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stats {
    pub pixels: usize,
    pub corr: f64,
    /// sum(A) / sum(B).
    pub sum_ratio: f64,
    pub rmse: f64,
    pub max_abs_err: f64,
    /// max |A−B| / max |B|.
    pub max_rel_err: f64,
    /// Index of the worst absolute difference.
    pub worst: usize,
    pub sum_a: f64,
    pub sum_b: f64,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    n: f64,
    sa: f64,
    sb: f64,
    saa: f64,
    sbb: f64,
    sab: f64,
    sdd: f64,
    max_abs: f64,
    worst: usize,
    max_b: f64,
}

impl Acc {
    fn push(&mut self, i: usize, a: f64, b: f64) {
        self.n += 1.0;
        self.sa += a;
        self.sb += b;
        self.saa += a * a;
        self.sbb += b * b;
        self.sab += a * b;
        let d = a - b;
        self.sdd += d * d;
        if d.abs() > self.max_abs {
            self.max_abs = d.abs();
            self.worst = i;
        }
        self.max_b = self.max_b.max(b.abs());
    }

    fn merge(mut self, o: Acc) -> Acc {
        if o.n == 0.0 {
            return self;
        }
        if self.n == 0.0 {
            return o;
        }
        self.n += o.n;
        self.sa += o.sa;
        self.sb += o.sb;
        self.saa += o.saa;
        self.sbb += o.sbb;
        self.sab += o.sab;
        self.sdd += o.sdd;
        if o.max_abs > self.max_abs {
            self.max_abs = o.max_abs;
            self.worst = o.worst;
        }
        self.max_b = self.max_b.max(o.max_b);
        self
    }

    fn stats(&self) -> Stats {
        let n = self.n.max(1.0);
        let cov = self.sab - self.sa * self.sb / n;
        let va = self.saa - self.sa * self.sa / n;
        let vb = self.sbb - self.sb * self.sb / n;
        let corr = if va > 0.0 && vb > 0.0 {
            cov / (va * vb).sqrt()
        } else if va == 0.0 && vb == 0.0 && self.sdd == 0.0 {
            1.0
        } else {
            0.0
        };
        Stats {
            pixels: self.n as usize,
            corr,
            sum_ratio: if self.sb != 0.0 {
                self.sa / self.sb
            } else if self.sa == 0.0 {
                1.0
            } else {
                f64::INFINITY
            },
            rmse: (self.sdd / n).sqrt(),
            max_abs_err: self.max_abs,
            max_rel_err: if self.max_b > 0.0 { self.max_abs / self.max_b } else { self.max_abs },
            worst: self.worst,
            sum_a: self.sa,
            sum_b: self.sb,
        }
    }
}

const CHUNK: usize = 1 << 16;

impl Stats {
    pub fn of(a: &[f64], b: &[f64]) -> Stats {
        Stats::of_fn(a.len().min(b.len()), |i| (a[i], b[i]))
    }

    /// Stats over `len` pixels whose values `at(i)` yields, in parallel chunks.
    pub fn of_fn(len: usize, at: impl Fn(usize) -> (f64, f64) + Sync) -> Stats {
        (0..len.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut acc = Acc::default();
                for i in c * CHUNK..((c + 1) * CHUNK).min(len) {
                    let (a, b) = at(i);
                    acc.push(i, a, b);
                }
                acc
            })
            .reduce(Acc::default, Acc::merge)
            .stats()
    }
}

/// Stats over two runs of little-endian float32 bytes of equal length: eight independent lanes
/// so the compiler can vectorize the f64 sums, the worst pixel found afterwards.
fn lane_stats(a: &[u8], b: &[u8], base: usize) -> Acc {
    const L: usize = 4;
    let mut sum = [[0f64; L]; 6];
    let mut maxd = [0f64; L];
    let mut maxb = [0f64; L];
    let f = |s: &[u8], k: usize| f32::from_le_bytes([s[4 * k], s[4 * k + 1], s[4 * k + 2], s[4 * k + 3]]) as f64;
    let blocks = a.len() / (4 * L);
    for blk in 0..blocks {
        let (ca, cb) = (&a[blk * 4 * L..(blk + 1) * 4 * L], &b[blk * 4 * L..(blk + 1) * 4 * L]);
        for l in 0..L {
            let (x, y) = (f(ca, l), f(cb, l));
            let d = x - y;
            sum[0][l] += x;
            sum[1][l] += y;
            sum[2][l] += x * x;
            sum[3][l] += y * y;
            sum[4][l] += x * y;
            sum[5][l] += d * d;
            // Compare-and-select, which maps to one SIMD max (f64::max also handles NaN, slowly).
            let (ad, ay) = (d.abs(), y.abs());
            maxd[l] = if ad > maxd[l] { ad } else { maxd[l] };
            maxb[l] = if ay > maxb[l] { ay } else { maxb[l] };
        }
    }
    let mut acc = Acc::default();
    for l in 0..L {
        let o = Acc {
            n: blocks as f64,
            sa: sum[0][l],
            sb: sum[1][l],
            saa: sum[2][l],
            sbb: sum[3][l],
            sab: sum[4][l],
            sdd: sum[5][l],
            max_abs: 0.0,
            worst: base,
            max_b: maxb[l],
        };
        acc = acc.merge(o);
    }
    acc.max_abs = maxd.iter().copied().fold(0.0, f64::max);
    for k in blocks * L..a.len() / 4 {
        acc.push(base + k, f(a, k), f(b, k));
    }
    // Where the largest difference is: rescan only when it came from the lanes.
    if acc.worst == base && acc.max_abs > 0.0 {
        if let Some(k) = (0..a.len() / 4).find(|&k| (f(a, k) - f(b, k)).abs() == acc.max_abs) {
            acc.worst = base + k;
        }
    }
    acc
}

/// Compare two images over a region (x0, y0, x1, y1 exclusive), in parallel.
pub fn compare_images(a: &FloatImage, b: &FloatImage, roi: [usize; 4]) -> Stats {
    let [x0, y0, x1, y1] = roi;
    let w = a.width;
    let (ra, rb) = (a.raw(), b.raw());
    let rw = x1 - x0;
    let acc = if x0 == 0 && x1 == w {
        let (start, end) = (y0 * w * 4, y1 * w * 4);
        let (ra, rb) = (&ra[start..end], &rb[start..end]);
        let bytes = CHUNK * 4;
        (0..ra.len().div_ceil(bytes))
            .into_par_iter()
            .map(|c| {
                let r = c * bytes..((c + 1) * bytes).min(ra.len());
                lane_stats(&ra[r.clone()], &rb[r], c * CHUNK)
            })
            .reduce(Acc::default, Acc::merge)
    } else {
        (y0..y1)
            .into_par_iter()
            .map(|y| {
                let r = (y * w + x0) * 4..(y * w + x1) * 4;
                lane_stats(&ra[r.clone()], &rb[r], (y - y0) * rw)
            })
            .reduce(Acc::default, Acc::merge)
    };
    acc.stats()
}

/// `x0,y0,x1,y1` (fast, slow; x1 and y1 exclusive), as `--roi` takes it.
pub fn parse_roi(s: &str) -> std::result::Result<[usize; 4], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse().map_err(|_| format!("`{x}` is not a pixel index")))
        .collect::<std::result::Result<_, _>>()?;
    match v[..] {
        [x0, y0, x1, y1] if x0 < x1 && y0 < y1 => Ok([x0, y0, x1, y1]),
        _ => Err("expected x0,y0,x1,y1 with x0<x1 and y0<y1".into()),
    }
}

/// `loop compare`: two images, how to read them, and what to check.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    /// The candidate (sum_ratio = sum(A)/sum(B)).
    pub a: std::path::PathBuf,
    /// The reference.
    pub b: std::path::PathBuf,
    /// Shape of raw files: (slow, fast).
    pub shape: Option<(usize, usize)>,
    /// Region of interest x0,y0,x1,y1 (fast, slow; x1 and y1 exclusive).
    pub roi: Option<[usize; 4]>,
    /// Gates, comma-separated: `corr>=0.999,sum_ratio=1±5e-3`.
    pub gate: Option<String>,
    /// Write |A−B| as an 8-bit PNG here.
    pub diff_png: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Pixel {
    pub slow: usize,
    pub fast: usize,
}

/// Image statistics and gate verdicts (`loop compare --json`).
#[derive(Debug, Serialize)]
pub struct CompareReport {
    pub a: std::path::PathBuf,
    pub b: std::path::PathBuf,
    /// (slow, fast).
    pub shape: [usize; 2],
    pub roi: [usize; 4],
    pub stats: Stats,
    pub worst_pixel: Pixel,
    pub gates: Vec<super::gates::Verdict>,
    pub pass: bool,
}

impl CompareReport {
    /// The statistics as a flat `metrics.json` (what `loop attempt --from-run` and `loop gate
    /// check` read), written whole.
    pub fn write_metrics(&self, path: &std::path::Path) -> Result<()> {
        let s = &self.stats;
        let v = serde_json::json!({
            "corr": s.corr, "sum_ratio": s.sum_ratio, "rmse": s.rmse,
            "max_abs_err": s.max_abs_err, "max_rel_err": s.max_rel_err, "pixels": s.pixels,
        });
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let text = serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }
}

/// Compare two images (read side by side) inside the region, then evaluate the gates; a gate no
/// statistic answers fails.
pub fn report(req: &CompareRequest) -> Result<CompareReport> {
    use super::gates;
    let gate_list = req.gate.as_deref().map(gates::parse_list).transpose()?;
    let (ia, ib) = rayon::join(|| read_image(&req.a, req.shape), || read_image(&req.b, req.shape));
    let (ia, ib) = (ia?, ib?);
    if (ia.width, ia.height) != (ib.width, ib.height) {
        return Err(Error::input(
            req.b.display().to_string(),
            0,
            format!("shape {}x{} differs from {} ({}x{})", ib.height, ib.width, req.a.display(), ia.height, ia.width),
        ));
    }
    let w = ia.width;
    let [x0, y0, x1, y1] = req.roi.unwrap_or([0, 0, w, ia.height]);
    if x1 > w || y1 > ia.height {
        return Err(Error::Usage(format!("--roi {x0},{y0},{x1},{y1} is outside the {}x{} image", ia.height, w)));
    }
    let rw = (x1 - x0).max(1);
    let stats = compare_images(&ia, &ib, [x0, y0, x1, y1]);
    if let Some(p) = &req.diff_png {
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
    let unanswered = gate_list.as_ref().is_some_and(|g| g.iter().any(|gate| !verdicts.iter().any(|v| v.gate == *gate)));
    let pass = verdicts.iter().all(|v| v.pass) && !unanswered;
    Ok(CompareReport {
        a: req.a.clone(),
        b: req.b.clone(),
        shape: [ia.height, w],
        roi: [x0, y0, x1, y1],
        worst_pixel: Pixel { slow: y0 + stats.worst / rw, fast: x0 + stats.worst % rw },
        stats,
        gates: verdicts,
        pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_are_perfect() {
        let a: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin().abs()).collect();
        let s = Stats::of(&a, &a);
        assert_eq!((s.corr, s.sum_ratio, s.rmse), (1.0, 1.0, 0.0));
    }

    #[test]
    fn known_correlation_and_ratio() {
        // b = a + noise with a known construction: corr computed independently below.
        let n = 200_000;
        let a: Vec<f64> = (0..n).map(|i| (i % 97) as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| 2.0 * a[i] + if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let s = Stats::of(&b, &a);
        let mean = a.iter().sum::<f64>() / n as f64;
        let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let want = 2.0 * var.sqrt() / (4.0 * var + 1.0).sqrt();
        assert!((s.corr - want).abs() < 1e-9, "{} vs {want}", s.corr);
        assert!((s.sum_ratio - 2.0).abs() < 1e-9);
        let rmse = ((0..n).map(|i| (b[i] - a[i]).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((s.rmse - rmse).abs() < 1e-9);
        assert_eq!(s.worst, 96);
    }
}
