//! nanoBragg's output files: the raw float image, SMV integer images (noiseless, and with
//! Poisson noise from nanoBragg's own seeded generator, so `-seed 7` gives the C's image) and an
//! 8-bit PGM. Only the files asked for are written.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::geometry::{dot, Ran1, Setup};
use super::image::Image;
use super::params::Params;
use crate::error::{Error, Result};

/// What was written, for the report.
#[derive(Debug, Default, serde::Serialize)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub intfile_scale: Option<f64>,
    pub pgm_scale: Option<f64>,
    pub seed: Option<i64>,
    pub photons: Option<f64>,
    pub overloads: Option<u64>,
}

/// The float image as the C holds it (f32), and its statistics (max, mean, rms deviation).
struct Stats {
    max: f64,
    rmsd: f64,
}

fn stats(v: &[f32]) -> Stats {
    let n = v.len().max(1) as f64;
    let max = v.iter().fold(0.0f64, |m, &x| m.max(x as f64));
    let avg = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let dev: f64 = v.iter().map(|&x| (x as f64 - avg).powi(2)).sum();
    Stats { max, rmsd: (dev / (v.len().max(2) - 1) as f64).sqrt() }
}

pub fn write_all(p: &Params, setup: &Setup, image: &Image) -> Result<Written> {
    let o = &p.outputs;
    let mut w = Written::default();
    if let Some(f) = &o.floatfile {
        image.write_floatfile(f)?;
        w.files.push(f.clone());
    }
    if !(o.intfile.is_some() || o.noisefile.is_some() || o.pgmfile.is_some()) {
        return Ok(w);
    }
    let v: Vec<f32> = (0..image.len()).map(|i| image.get(i) as f32).collect();
    // Pixels outside nanoBragg's -roi are skipped: 0 in every file, left out of the statistics.
    let inside = |i: usize| {
        p.roi.is_none_or(|[x0, x1, y0, y1]| {
            let (f, s) = (i % setup.fpixels, i / setup.fpixels);
            (x0..=x1).contains(&f) && (y0..=y1).contains(&s)
        })
    };
    let in_roi: Vec<f32> = v.iter().enumerate().filter(|(i, _)| inside(*i)).map(|(_, &x)| x).collect();
    let st = stats(&in_roi);
    let int_scale = if o.scale > 0.0 {
        o.scale
    } else if st.max > 0.0 {
        55000.0 / st.max
    } else {
        1.0
    };
    let header = smv_header(p, setup);
    if let Some(f) = &o.intfile {
        let data = in_roi_only(&v, &inside, |x| {
            let t = (x as f64 * int_scale + o.adc).clamp(0.0, 65535.0);
            ((t + 0.5) as f32).floor() as u16
        });
        write_smv(f, &header, &data)?;
        w.files.push(f.clone());
        w.intfile_scale = Some(int_scale);
    }
    if let Some(f) = &o.pgmfile {
        let scale = if o.pgmscale > 0.0 {
            o.pgmscale
        } else if st.rmsd > 0.0 {
            250.0 / (5.0 * st.rmsd)
        } else {
            int_scale
        };
        let data = in_roi_only(&v, &inside, |x| (x as f64 * scale).min(255.0) as u8);
        let mut bytes =
            format!("P5\n{} {}\n# pixels scaled by {}\n255\n", setup.fpixels, setup.spixels, g(scale)).into_bytes();
        bytes.extend_from_slice(&data);
        std::fs::write(f, bytes).map_err(|e| Error::io(f, e))?;
        w.files.push(f.clone());
        w.pgm_scale = Some(scale);
    }
    if let Some(f) = &o.noisefile {
        let seed = o.seed.unwrap_or_else(super::clock_seed);
        let mut rng = Noise::new(seed);
        let (mut photons, mut overloads) = (0.0, 0u64);
        let data = in_roi_only(&v, &inside, |x| {
            let n = rng.poisson(x) as f64;
            photons += n;
            let t = n + o.adc;
            if t > 65535.0 {
                overloads += 1;
            }
            t.min(65535.0) as u16
        });
        write_smv(f, &header, &data)?;
        w.files.push(f.clone());
        (w.seed, w.photons, w.overloads) = (Some(seed), Some(photons), Some(overloads));
    }
    Ok(w)
}

/// Each pixel through `f`, in raster order; pixels outside the ROI are 0 (nanoBragg skips them).
fn in_roi_only<T: Default>(v: &[f32], inside: &dyn Fn(usize) -> bool, mut f: impl FnMut(f32) -> T) -> Vec<T> {
    v.iter().enumerate().map(|(i, &x)| if inside(i) { f(x) } else { T::default() }).collect()
}

/// C's `%g`: six significant digits, no trailing zeros.
fn g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{x:.5e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let digits = (5 - exp).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The SMV header nanoBragg writes.
fn smv_header(p: &Params, s: &Setup) -> String {
    let px = s.pixel;
    let beam = s.beam;
    let (fclose, sclose, close) = (-dot(s.pix0, s.fdet), -dot(s.pix0, s.sdet), dot(s.pix0, s.odet));
    let nv: [f64; 3] = std::array::from_fn(|i| s.distance * beam[i] - s.pix0[i]);
    let (fbeam, sbeam) = (dot(s.fdet, nv), dot(s.sdet, nv));
    let [xbeam, ybeam] = s.beam_center;
    let detsize_s = px * s.spixels as f64;
    let dials = [1000.0 * s.pix0[2], 1000.0 * s.pix0[1], -1000.0 * s.pix0[0]];
    let osc = s.osc_deg;
    let order = if cfg!(target_endian = "big") { "big_endian" } else { "little_endian" };
    let mut h = String::new();
    h.push_str(&format!("{{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER={order};\nTYPE=unsigned_short;\n"));
    h.push_str(&format!(
        "SIZE1={};\nSIZE2={};\nPIXEL_SIZE={};\nDISTANCE={};\n",
        s.fpixels,
        s.spixels,
        g(px * 1000.0),
        g(s.distance * 1000.0)
    ));
    h.push_str(&format!("WAVELENGTH={};\n", g(p.lambda_a)));
    h.push_str(&format!("BEAM_CENTER_X={};\nBEAM_CENTER_Y={};\n", g(xbeam * 1000.0), g(ybeam * 1000.0)));
    h.push_str(&format!("ADXV_CENTER_X={};\nADXV_CENTER_Y={};\n", g(fbeam * 1000.0), g((detsize_s - sbeam) * 1000.0)));
    h.push_str(&format!(
        "MOSFLM_CENTER_X={};\nMOSFLM_CENTER_Y={};\n",
        g((sbeam - 0.5 * px) * 1000.0),
        g((fbeam - 0.5 * px) * 1000.0)
    ));
    h.push_str(&format!("DENZO_X_BEAM={};\nDENZO_Y_BEAM={};\n", g(sbeam * 1000.0), g(fbeam * 1000.0)));
    h.push_str(&format!("DIALS_ORIGIN={},{},{}\n", g(dials[0]), g(dials[1]), g(dials[2])));
    h.push_str(&format!("XDS_ORGX={};\nXDS_ORGY={};\n", g(fclose / px + 0.5), g(sclose / px + 0.5)));
    h.push_str(&format!("CLOSE_DISTANCE={};\n", g(close * 1000.0)));
    h.push_str(&format!("PHI={0};\nOSC_START={0};\nOSC_RANGE={1};\n", g(p.phi_deg), g(osc)));
    h.push_str(&format!("TWOTHETA={};\nDETECTOR_SN=000;\nBEAMLINE=fake;\n}}\x0c", g(p.twotheta_deg)));
    h
}

fn write_smv(path: &Path, header: &str, data: &[u16]) -> Result<()> {
    let mut bytes = header.as_bytes().to_vec();
    if bytes.len() < 512 {
        bytes.resize(512, b' ');
    }
    for v in data {
        bytes.extend_from_slice(&v.to_ne_bytes());
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(&bytes).map_err(|e| Error::io(path, e))
}

/// An SMV image: its size, header and pixels.
pub struct Smv {
    pub width: usize,
    pub height: usize,
    header: String,
    pub data: Vec<f64>,
}

impl Smv {
    /// A header value (`KEY=value;`), as text.
    pub fn text(&self, k: &str) -> Option<&str> {
        self.header
            .split([';', '\n'])
            .find_map(|kv| kv.trim().strip_prefix(k).and_then(|r| r.strip_prefix('=')).map(str::trim))
    }

    /// A numeric header value.
    pub fn value(&self, k: &str) -> Option<f64> {
        self.text(k).and_then(|v| v.parse().ok())
    }

    /// A numeric value as nanoBragg reads headers: the number after the `=` that follows the
    /// *last* place the text `k` occurs anywhere (so `DISTANCE` finds `CLOSE_DISTANCE=` when
    /// that comes later, and `ORGX` finds `XDS_ORGX=`).
    pub fn value_as_nanobragg(&self, k: &str) -> Option<f64> {
        let at = self.header.rfind(k)? + k.len();
        let rest = &self.header[at..];
        let rest = rest[rest.find('=')? + 1..].trim_start();
        // atof: the longest prefix that is a number.
        let end = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(rest.len());
        (1..=end).rev().find_map(|n| rest[..n].parse().ok()).or(Some(0.0))
    }
}

/// Read an SMV image (nanoBragg's `-intfile`, ADSC-style): unsigned 16-bit pixels after a
/// `{ KEY=value; ... }` header.
pub fn parse_smv(path: &Path, bytes: &[u8]) -> Result<Smv> {
    let shown = path.display().to_string();
    let end = bytes
        .iter()
        .position(|&b| b == b'}')
        .ok_or_else(|| Error::input(&shown, 0, "not an SMV image: no `}` ending the header"))?;
    let mut smv =
        Smv { width: 0, height: 0, header: String::from_utf8_lossy(&bytes[..end]).into_owned(), data: Vec::new() };
    let num = |smv: &Smv, k: &str| {
        smv.text(k)
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| Error::input(&shown, 0, format!("SMV header has no {k}")))
    };
    let (header, w, h) = (num(&smv, "HEADER_BYTES")?, num(&smv, "SIZE1")?, num(&smv, "SIZE2")?);
    if smv.text("TYPE") != Some("unsigned_short") {
        return Err(Error::input(&shown, 0, "SMV TYPE is not unsigned_short"));
    }
    let big = smv.text("BYTE_ORDER") == Some("big_endian");
    let need = w.checked_mul(h).and_then(|n| n.checked_mul(2)).and_then(|n| n.checked_add(header));
    let need = need.filter(|n| *n <= bytes.len()).ok_or_else(|| {
        Error::input(&shown, 0, format!("SMV image is {} bytes, less than its header promises ({w}x{h})", bytes.len()))
    })?;
    smv.data = bytes[header..need]
        .chunks_exact(2)
        .map(|c| if big { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) } as f64)
        .collect();
    (smv.width, smv.height) = (w, h);
    Ok(smv)
}

/// Read an SMV image's size and pixels.
pub fn read_smv(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<f64>)> {
    let smv = parse_smv(path, bytes)?;
    Ok((smv.width, smv.height, smv.data))
}

/// nanoBragg's Poisson deviates (Numerical Recipes `poidev`, with its `gaussdev` above a million
/// photons), in the C's single precision, on the `ran1` stream seeded like `-seed`.
pub struct Noise {
    rng: Ran1,
    old: f32,
    g: f32,
    sq: f32,
    alxm: f32,
    spare: Option<f32>,
}

impl Noise {
    pub fn new(seed: i64) -> Noise {
        Noise { rng: Ran1::new(seed), old: -1.0, g: 0.0, sq: 0.0, alxm: 0.0, spare: None }
    }

    fn gauss(&mut self) -> f32 {
        if let Some(g) = self.spare.take() {
            return g;
        }
        loop {
            let v1 = 2.0 * self.rng.uniform() - 1.0;
            let v2 = 2.0 * self.rng.uniform() - 1.0;
            let rsq = v1 * v1 + v2 * v2;
            if rsq < 1.0 && rsq != 0.0 {
                let fac = (-2.0 * (rsq as f64).ln() / rsq as f64).sqrt() as f32;
                self.spare = Some(v1 * fac);
                return v2 * fac;
            }
        }
    }

    pub fn poisson(&mut self, xm: f32) -> f32 {
        if xm > 1.0e6 {
            return (xm as f64 + (xm as f64).sqrt() * self.gauss() as f64) as f32;
        }
        if xm < 12.0 {
            if xm != self.old {
                self.old = xm;
                self.g = (-(xm as f64)).exp() as f32;
            }
            let mut em: f32 = -1.0;
            let mut t: f32 = 1.0;
            loop {
                em += 1.0;
                t *= self.rng.uniform();
                if t <= self.g {
                    return em;
                }
            }
        }
        if xm != self.old {
            self.old = xm;
            self.sq = (2.0 * xm as f64).sqrt() as f32;
            self.alxm = (xm as f64).ln() as f32;
            self.g = (xm * self.alxm) - gammln(xm + 1.0);
        }
        loop {
            let (mut em, mut y);
            loop {
                y = (std::f64::consts::PI * self.rng.uniform() as f64).tan() as f32;
                em = self.sq * y + xm;
                if em >= 0.0 {
                    break;
                }
            }
            em = em.floor();
            let e = (em * self.alxm - gammln(em + 1.0) - self.g) as f64;
            let t = (0.9 * (1.0 + y as f64 * y as f64) * e.exp()) as f32;
            if self.rng.uniform() <= t {
                return em;
            }
        }
    }
}

/// ln Γ(x), Lanczos as in Numerical Recipes (the C's float in, float out).
fn gammln(xx: f32) -> f32 {
    const COF: [f64; 6] = [
        76.18009172947146,
        -86.50532032941677,
        24.01409824083091,
        -1.231739572450155,
        0.1208650973866179e-2,
        -0.5395239384953e-5,
    ];
    let x = xx as f64;
    let mut y = x;
    let tmp = x + 5.5;
    let tmp = tmp - (x + 0.5) * tmp.ln();
    let mut ser = 1.000000000190015;
    for c in COF {
        y += 1.0;
        ser += c / y;
    }
    (-tmp + (2.5066282746310005 * ser / x).ln()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g_like_c() {
        assert_eq!(g(100.0), "100");
        assert_eq!(g(0.1), "0.1");
        assert_eq!(g(51.25), "51.25");
        assert_eq!(g(1234567.0), "1.23457e+06");
        assert_eq!(g(0.00001234), "1.234e-05");
        assert_eq!(g(-0.5), "-0.5");
    }

    #[test]
    fn poisson_means_hold() {
        let mut n = Noise::new(-7);
        for mean in [0.5f32, 5.0, 40.0, 2e6] {
            let k = 4000;
            let avg: f64 = (0..k).map(|_| n.poisson(mean) as f64).sum::<f64>() / k as f64;
            assert!((avg - mean as f64).abs() < 5.0 * (mean as f64 / k as f64).sqrt() + 1e-9, "{mean}: {avg}");
        }
    }
}
