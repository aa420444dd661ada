//! Float images as `loop compare` reads them: raw float32, `.npy`, SMV and 16-bit PNG.

use std::path::Path;

use crate::error::{Error, Result};

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
