//! Comparing two float images: correlation, sum ratio, RMSE, worst pixel. Accumulates in f64 over
//! parallel chunks, so a 4096² pair takes about as long as reading it.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

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

/// A float image read from disk: raw float32 (nanoBragg `-floatfile`), `.npy` (float32/float64,
/// C order, 2-D) or 16-bit grayscale PNG. Pixels are kept as little-endian float32 bytes; raw
/// files and float32 `.npy` are memory-mapped, so comparing costs little more than reading.
pub struct FloatImage {
    pub width: usize,
    pub height: usize,
    bytes: Bytes,
}

enum Bytes {
    Mapped(memmap2::Mmap, usize),
    Owned(Vec<u8>),
}

impl FloatImage {
    fn owned(width: usize, height: usize, v: impl IntoIterator<Item = f32>) -> FloatImage {
        FloatImage { width, height, bytes: Bytes::Owned(v.into_iter().flat_map(f32::to_le_bytes).collect()) }
    }

    /// The pixels as little-endian float32 bytes.
    pub fn raw(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(m, off) => &m[*off..*off + self.width * self.height * 4],
            Bytes::Owned(v) => v,
        }
    }

    pub fn get(&self, i: usize) -> f32 {
        let b = &self.raw()[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

fn map(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the map is read-only and lives only while the command runs; a file truncated by
    // another process meanwhile would fault, which is the same risk every mmap-based tool
    // (ripgrep, ...) accepts for a large speed-up over copying the file.
    #[allow(unsafe_code)]
    let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(m)
}

/// An SMV image (nanoBragg's -intfile/-noisefile) starts `{\nHEADER_BYTES=`.
fn is_smv(path: &Path) -> bool {
    let mut head = [0u8; 15];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && head.starts_with(b"{\nHEADER_BYTES=")
}

pub fn read_image(path: &Path, shape: Option<(usize, usize)>) -> Result<FloatImage> {
    let shown = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "npy" => read_npy(map(path)?, &shown),
        "png" => read_png(&std::fs::read(path).map_err(|e| Error::io(path, e))?, &shown),
        _ if is_smv(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let (w, h, v) = crate::sim::output::read_smv(path, &bytes)?;
            Ok(FloatImage::owned(w, h, v.into_iter().map(|x| x as f32)))
        }
        _ => {
            let m = map(path)?;
            if m.len() % 4 != 0 {
                return Err(Error::input(
                    &shown,
                    0,
                    format!("{} bytes is not a whole number of float32 pixels (truncated?)", m.len()),
                ));
            }
            let n = m.len() / 4;
            let (h, w) = match shape {
                Some((s, f)) => (s, f),
                None => {
                    let side = (n as f64).sqrt().round() as usize;
                    if side * side != n {
                        return Err(Error::input(
                            &shown,
                            0,
                            format!("{n} pixels is not a square image; give --shape SLOWxFAST"),
                        ));
                    }
                    (side, side)
                }
            };
            if h * w != n {
                return Err(Error::input(
                    &shown,
                    0,
                    format!("--shape {h}x{w} needs {} pixels, the file holds {n} (truncated or wrong shape)", h * w),
                ));
            }
            Ok(FloatImage { width: w, height: h, bytes: Bytes::Mapped(m, 0) })
        }
    }
}

fn read_npy(bytes: memmap2::Mmap, file: &str) -> Result<FloatImage> {
    let bad = |m: &str| Error::input(file, 0, format!("not a readable .npy: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing magic"));
    }
    let (hlen, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        if bytes.len() < 12 {
            return Err(bad("short header"));
        }
        (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("short header"))?)
        .map_err(|_| bad("header"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order is not supported"));
    }
    let descr =
        header.split("'descr':").nth(1).and_then(|s| s.split('\'').nth(1)).ok_or_else(|| bad("no descr"))?.to_string();
    let shape_txt = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape_txt
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("shape")))
        .collect::<Result<_>>()?;
    let [h, w] = dims[..] else { return Err(bad("expected a 2-D array")) };
    let body = start + hlen;
    let width = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => return Err(bad(&format!("dtype {other} (float32 or float64 little-endian only)"))),
    };
    let have = (bytes.len() - body) / width;
    if have != h * w {
        return Err(Error::input(
            file,
            0,
            format!("shape {h}x{w} needs {} values, the file holds {have} (truncated?)", h * w),
        ));
    }
    if width == 4 {
        return Ok(FloatImage { width: w, height: h, bytes: Bytes::Mapped(bytes, body) });
    }
    let v = bytes[body..].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32);
    Ok(FloatImage::owned(w, h, v))
}

fn read_png(bytes: &[u8], file: &str) -> Result<FloatImage> {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().map_err(|e| Error::input(file, 0, format!("png: {e}")))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| Error::input(file, 0, format!("png: {e}")))?;
    let (w, h) = (info.width as usize, info.height as usize);
    match (info.color_type, info.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => Ok(FloatImage::owned(
            w,
            h,
            buf[..w * h * 2].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as f32),
        )),
        (png::ColorType::Grayscale, png::BitDepth::Eight) => {
            Ok(FloatImage::owned(w, h, buf[..w * h].iter().map(|&v| v as f32)))
        }
        other => Err(Error::input(file, 0, format!("png: {other:?} is not a grayscale image"))),
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
