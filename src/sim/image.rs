//! Float images: nanoBragg's `-floatfile` format (raw little-endian float32, slow-axis rows, no
//! header) and an 8-bit PNG preview.

use std::io::Write;
use std::path::Path;

use ndarray::{s, Array2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Pixels per parallel work unit.
const CHUNK: usize = 1 << 16;

/// Pixels as a (slow, fast) array in standard row-major order.
pub enum Pixels {
    F32(Array2<f32>),
    F64(Array2<f64>),
}

pub struct Image {
    pub fpixels: usize,
    pub spixels: usize,
    pub pixels: Pixels,
}

/// Slow-axis rows of `fpixels` values each.
fn rows<T>(fpixels: usize, spixels: usize, v: Vec<T>) -> Array2<T> {
    Array2::from_shape_vec((spixels, fpixels), v).unwrap_or_else(|e| panic!("{spixels}x{fpixels} image: {e}"))
}

impl Image {
    pub fn f32(fpixels: usize, spixels: usize, v: Vec<f32>) -> Image {
        Image { fpixels, spixels, pixels: Pixels::F32(rows(fpixels, spixels, v)) }
    }

    /// The pixels as a flat row-major buffer of their precision, to render into again.
    pub fn into_buffer(self) -> Pixels {
        self.pixels
    }

    pub fn f64(fpixels: usize, spixels: usize, v: Vec<f64>) -> Image {
        Image { fpixels, spixels, pixels: Pixels::F64(rows(fpixels, spixels, v)) }
    }

    /// Pixel `i` in row-major order.
    pub fn get(&self, i: usize) -> f64 {
        let at = (i / self.fpixels, i % self.fpixels);
        match &self.pixels {
            Pixels::F32(v) => v[at] as f64,
            Pixels::F64(v) => v[at],
        }
    }

    pub fn len(&self) -> usize {
        self.fpixels * self.spixels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Zero every pixel outside nanoBragg's `-roi xmin xmax ymin ymax` (inclusive): the image
    /// keeps only its view of the region.
    pub fn keep_roi(&mut self, [x0, x1, y0, y1]: [usize; 4]) {
        let (x1, y1) = (x1.min(self.fpixels - 1), y1.min(self.spixels - 1));
        fn only<T: Clone + Default>(a: &mut Array2<T>, [x0, x1, y0, y1]: [usize; 4]) {
            let mut out = Array2::<T>::default(a.raw_dim());
            out.slice_mut(s![y0..=y1, x0..=x1]).assign(&a.slice(s![y0..=y1, x0..=x1]));
            *a = out;
        }
        match &mut self.pixels {
            Pixels::F32(v) => only(v, [x0, x1, y0, y1]),
            Pixels::F64(v) => only(v, [x0, x1, y0, y1]),
        }
    }

    /// Zero every pixel where `keep` (of the row-major index) is false.
    pub fn keep(&mut self, keep: impl Fn(usize) -> bool + Sync) {
        match &mut self.pixels {
            Pixels::F32(v) => {
                flat_mut(v).par_iter_mut().enumerate().filter(|(i, _)| !keep(*i)).for_each(|(_, x)| *x = 0.0)
            }
            Pixels::F64(v) => {
                flat_mut(v).par_iter_mut().enumerate().filter(|(i, _)| !keep(*i)).for_each(|(_, x)| *x = 0.0)
            }
        }
    }

    /// Sum over fixed chunks in parallel, added in order: the same total whatever the threads.
    pub fn sum(&self) -> f64 {
        let parts: Vec<f64> = match &self.pixels {
            Pixels::F32(v) => flat(v).par_chunks(CHUNK).map(|c| c.iter().map(|&x| x as f64).sum()).collect(),
            Pixels::F64(v) => flat(v).par_chunks(CHUNK).map(|c| c.iter().sum()).collect(),
        };
        parts.iter().sum()
    }

    pub fn max(&self) -> f64 {
        match &self.pixels {
            Pixels::F32(v) => flat(v).par_iter().map(|&x| x as f64).reduce(|| f64::MIN, f64::max),
            Pixels::F64(v) => flat(v).par_iter().copied().reduce(|| f64::MIN, f64::max),
        }
    }

    /// nanoBragg `-floatfile`: raw little-endian float32. float32 pixels on a little-endian
    /// machine are written as they lie in memory (no 64 MB copy of a 4096² image); anything else
    /// is converted a chunk at a time.
    pub fn write_floatfile(&self, path: &Path) -> Result<()> {
        let mut f = create(path)?;
        let io = |e| Error::io(path, e);
        match &self.pixels {
            Pixels::F32(v) if cfg!(target_endian = "little") => {
                f.write_all(zerocopy::IntoBytes::as_bytes(flat(v))).map_err(io)?;
            }
            pixels => {
                let mut bytes = Vec::with_capacity(CHUNK * 4);
                for start in (0..self.len()).step_by(CHUNK) {
                    bytes.clear();
                    for i in start..(start + CHUNK).min(self.len()) {
                        let x = match pixels {
                            Pixels::F32(v) => flat(v)[i],
                            Pixels::F64(v) => flat(v)[i] as f32,
                        };
                        bytes.extend_from_slice(&x.to_le_bytes());
                    }
                    f.write_all(&bytes).map_err(io)?;
                }
            }
        }
        Ok(())
    }

    /// An 8-bit grayscale preview, brightness scaled so the 99.9th percentile is white.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let mut sample: Vec<f64> =
            (0..self.len()).step_by((self.len() / 100_000).max(1)).map(|i| self.get(i)).collect();
        sample.sort_by(|a, b| a.total_cmp(b));
        let top = sample.get(sample.len().saturating_sub(1).min(sample.len() * 999 / 1000)).copied().unwrap_or(1.0);
        let k = if top > 0.0 { 255.0 / top } else { 0.0 };
        let data: Vec<u8> = (0..self.len()).map(|i| (self.get(i) * k).clamp(0.0, 255.0) as u8).collect();
        let mut buf = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut buf, self.fpixels as u32, self.spixels as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut w = enc.write_header().map_err(|e| Error::Usage(format!("png: {e}")))?;
            w.write_image_data(&data).map_err(|e| Error::Usage(format!("png: {e}")))?;
        }
        write_file(path, &buf)
    }
}

/// The pixels as one row-major slice (images are built in standard layout).
fn flat<T>(a: &Array2<T>) -> &[T] {
    a.as_slice().unwrap_or_else(|| unreachable!("images are row-major"))
}

fn flat_mut<T>(a: &mut Array2<T>) -> &mut [T] {
    a.as_slice_mut().unwrap_or_else(|| unreachable!("images are row-major"))
}

fn create(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::File::create(path).map_err(|e| Error::io(path, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    create(path)?.write_all(bytes).map_err(|e| Error::io(path, e))
}
