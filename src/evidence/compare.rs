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

    pub fn of_f32(a: &[f32], b: &[f32]) -> Stats {
        Stats::of_fn(a.len().min(b.len()), |i| (a[i] as f64, b[i] as f64))
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
/// C order, 2-D) or 16-bit grayscale PNG.
pub struct FloatImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

pub fn read_image(path: &Path, shape: Option<(usize, usize)>) -> Result<FloatImage> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "npy" => read_npy(&bytes, &shown),
        "png" => read_png(&bytes, &shown),
        _ => {
            if bytes.len() % 4 != 0 {
                return Err(Error::input(
                    &shown,
                    0,
                    format!("{} bytes is not a whole number of float32 pixels (truncated?)", bytes.len()),
                ));
            }
            let n = bytes.len() / 4;
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
            let data = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            Ok(FloatImage { width: w, height: h, data })
        }
    }
}

fn read_npy(bytes: &[u8], file: &str) -> Result<FloatImage> {
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
    let descr = header.split("'descr':").nth(1).and_then(|s| s.split('\'').nth(1)).ok_or_else(|| bad("no descr"))?;
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
    let body = &bytes[start + hlen..];
    let data: Vec<f32> = match descr {
        "<f4" => body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        "<f8" => body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        other => return Err(bad(&format!("dtype {other} (float32 or float64 little-endian only)"))),
    };
    if data.len() != h * w {
        return Err(Error::input(
            file,
            0,
            format!("shape {h}x{w} needs {} values, the file holds {} (truncated?)", h * w, data.len()),
        ));
    }
    Ok(FloatImage { width: w, height: h, data })
}

fn read_png(bytes: &[u8], file: &str) -> Result<FloatImage> {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().map_err(|e| Error::input(file, 0, format!("png: {e}")))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| Error::input(file, 0, format!("png: {e}")))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let data = match (info.color_type, info.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => {
            buf[..w * h * 2].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as f32).collect()
        }
        (png::ColorType::Grayscale, png::BitDepth::Eight) => buf[..w * h].iter().map(|&v| v as f32).collect(),
        other => return Err(Error::input(file, 0, format!("png: {other:?} is not a grayscale image"))),
    };
    Ok(FloatImage { width: w, height: h, data })
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
