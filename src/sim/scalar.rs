//! The scalar reference renderer: one pixel at a time, f64, library `sin`, written to be read
//! next to the model. The vectorized renderer must agree with it.

use super::geometry::{dot, norm, unit, Fcell, Setup};
use super::params::Shape;

/// sin(N·x)/sin(x), the lattice transform of N cells (N at x = 0).
pub fn sincg(x: f64, n: f64) -> f64 {
    if x == 0.0 {
        n
    } else {
        (n * x).sin() / x.sin()
    }
}

pub fn sinc3(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        3.0 * (x.sin() / x - x.cos()) / (x * x)
    }
}

/// The lattice factor F_latt at fractional Miller indices.
pub fn lattice(s: &Setup, hkl: [f64; 3]) -> f64 {
    let [na, nb, nc] = s.n;
    let pi = std::f64::consts::PI;
    if s.shape == Shape::Square {
        let mut f = 1.0;
        for d in 0..3 {
            if s.n[d] > 1.0 {
                f *= sincg(pi * hkl[d], s.n[d]);
            }
        }
        return f;
    }
    let frac: [f64; 3] = std::array::from_fn(|d| hkl[d] - (hkl[d] - 0.5).ceil());
    match s.shape {
        Shape::Round => {
            let hrad = frac[0] * frac[0] * na * na + frac[1] * frac[1] * nb * nb + frac[2] * frac[2] * nc * nc;
            na * nb * nc * 0.723601254558268 * sinc3(pi * (hrad * s.fudge).sqrt())
        }
        _ => {
            let r = s.reciprocal;
            let dr: [f64; 3] = std::array::from_fn(|i| frac[0] * r[0][i] + frac[1] * r[1][i] + frac[2] * r[2][i]);
            let rad = dot(dr, dr) * na * na * nb * nb * nc * nc;
            if s.shape == Shape::Gauss {
                na * nb * nc * (-(rad / 0.63 * s.fudge)).exp()
            } else if rad * s.fudge < 0.3969 {
                na * nb * nc
            } else {
                0.0
            }
        }
    }
}

/// The nearest integer Miller indices, rounding halves down as the reference does.
fn nearest(hkl: [f64; 3]) -> [i32; 3] {
    hkl.map(|x| (x - 0.5).ceil().clamp(i32::MIN as f64, i32::MAX as f64) as i32)
}

/// The structure factor F_cell at fractional Miller indices, for the sample `at` (slow pixel,
/// fast pixel, sample within the pixel in nanoBragg's loop order). nanoBragg interpolates until
/// the first sample whose 4×4×4 neighbourhood leaves the table and, having switched its
/// `interpolate` flag off there, takes the nearest table value (default_F outside the table)
/// for that sample and every one after it.
pub fn structure_factor(fcell: &Fcell, hkl: [f64; 3], at: [usize; 3]) -> f64 {
    match fcell {
        Fcell::Constant(f) => *f,
        Fcell::Grid { hkl: grid, interpolate: true, default_f, until }
            if until.get().copied().flatten().is_none_or(|u| at < u) =>
        {
            grid.interpolate(hkl).or_else(|| grid.get(nearest(hkl))).unwrap_or(*default_f)
        }
        Fcell::Grid { hkl: grid, default_f, .. } => grid.get(nearest(hkl)).unwrap_or(*default_f),
    }
}

/// The sample from which nanoBragg stops interpolating, found once per setup: the first, in its
/// order (rows, pixels the ROI and mask let through, then layers, subpixels, sources past the
/// resolution cut-off, orientations — only samples with a lattice term, which is where it looks
/// the structure factor up), whose neighbourhood leaves the table. `None`: it never stops.
/// The reference run on one thread is what this reproduces; on several its shared flag races.
pub fn interpolation_cutoff(s: &Setup) -> Option<[usize; 3]> {
    use rayon::prelude::*;
    let Fcell::Grid { hkl: grid, interpolate: true, until, .. } = &s.fcell else { return None };
    *until.get_or_init(|| {
        (0..s.spixels).into_par_iter().find_map_first(|sp| {
            (0..s.fpixels)
                .filter(|&fp| visited(s, fp, sp))
                .find_map(|fp| leaves_table(s, grid, fp, sp).map(|k| [sp, fp, k]))
        })
    })
}

/// Whether nanoBragg visits the pixel at all (its -roi and -mask).
fn visited(s: &Setup, fpixel: usize, spixel: usize) -> bool {
    let in_roi = s.roi.is_none_or(|[x0, x1, y0, y1]| (x0..=x1).contains(&fpixel) && (y0..=y1).contains(&spixel));
    in_roi && s.mask.as_ref().is_none_or(|m| m[spixel * s.fpixels + fpixel])
}

/// The first sample of a pixel whose interpolation neighbourhood leaves the table.
fn leaves_table(s: &Setup, grid: &super::hkl::Hkl, fpixel: usize, spixel: usize) -> Option<usize> {
    let o = s.oversample;
    let nori = s.orientations.len();
    for layer in 0..s.thicksteps {
        for subs in 0..o {
            for subf in 0..o {
                let d = unit(s.subpixel_position(fpixel, spixel, subf, subs, layer));
                for (si, src) in s.sources.iter().enumerate() {
                    let q: [f64; 3] = std::array::from_fn(|i| (d[i] - src.incident[i]) / src.lambda);
                    let stol = 0.5 * norm(q);
                    if s.dmin > 0.0 && stol > 0.0 && s.dmin > 0.5 / stol {
                        continue;
                    }
                    for (oi, axes) in s.orientations.iter().enumerate() {
                        let hkl = [dot(axes[0], q), dot(axes[1], q), dot(axes[2], q)];
                        if lattice(s, hkl) == 0.0 && s.background == 0.0 {
                            continue;
                        }
                        if !grid.can_interpolate(hkl) {
                            return Some(sample_index(s, layer, subs, subf, si) * nori + oi);
                        }
                    }
                }
            }
        }
    }
    None
}

/// The index of a pixel's first sample for (layer, subpixel, source), counting orientations
/// innermost: nanoBragg's loop order.
pub fn sample_index(s: &Setup, layer: usize, subs: usize, subf: usize, source: usize) -> usize {
    ((layer * s.oversample + subs) * s.oversample + subf) * s.sources.len() + source
}

/// Render the whole image, slow axis rows, in f64.
pub fn render(s: &Setup) -> Vec<f64> {
    let rows: Vec<usize> = (0..s.spixels).collect();
    render_rows(s, &rows)
}

/// Render only the given rows (concatenated), for sampled comparisons on large detectors.
pub fn render_rows(s: &Setup, rows: &[usize]) -> Vec<f64> {
    interpolation_cutoff(s);
    let mut out = Vec::with_capacity(rows.len() * s.fpixels);
    for &spixel in rows {
        for fpixel in 0..s.fpixels {
            out.push(pixel(s, fpixel, spixel));
        }
    }
    out
}

/// One pixel of the image, in nanoBragg's order of loops and with its caching: solid angle and
/// polarization from the pixel's first sample, absorption from each layer's first subpixel
/// (the last layer's multiplies the sum), unless the -oversample_* switches ask for them per
/// sample; those multiply the running sum, as nanoBragg does.
pub fn pixel(s: &Setup, fpixel: usize, spixel: usize) -> f64 {
    let o = s.oversample;
    let mut sum = s.background;
    let mut polar: Option<f64> = None;
    let mut omega: Option<f64> = None;
    let mut capture = 1.0;
    for layer in 0..s.thicksteps {
        let mut layer_capture: Option<f64> = None;
        for subs in 0..o {
            for subf in 0..o {
                let pos = s.subpixel_position(fpixel, spixel, subf, subs, layer);
                let airpath = norm(pos);
                let d = unit(pos);
                if omega.is_none() || s.oversample_omega {
                    omega = Some(s.omega(airpath));
                }
                if layer_capture.is_none() || s.oversample_thick {
                    layer_capture = Some(s.capture_fraction(d, layer));
                }
                capture = layer_capture.unwrap_or(1.0);
                for (si, src) in s.sources.iter().enumerate() {
                    let q: [f64; 3] = std::array::from_fn(|i| (d[i] - src.incident[i]) / src.lambda);
                    // Beyond the resolution cut-off this source adds nothing (and sets no polarization).
                    let stol = 0.5 * norm(q);
                    if s.dmin > 0.0 && stol > 0.0 && s.dmin > 0.5 / stol {
                        continue;
                    }
                    if polar.is_none() || s.oversample_polar {
                        polar = Some(s.polarization(src.incident, d));
                    }
                    let first_sample = sample_index(s, layer, subs, subf, si) * s.orientations.len();
                    for (oi, axes) in s.orientations.iter().enumerate() {
                        let hkl = [dot(axes[0], q), dot(axes[1], q), dot(axes[2], q)];
                        let f_latt = lattice(s, hkl);
                        if f_latt == 0.0 && s.background == 0.0 {
                            continue;
                        }
                        let f_cell = structure_factor(&s.fcell, hkl, [spixel, fpixel, first_sample + oi]);
                        sum += f_cell * f_cell * f_latt * f_latt;
                        if s.oversample_thick {
                            sum *= capture;
                        }
                        if s.oversample_polar {
                            sum *= polar.unwrap_or(1.0);
                        }
                        if s.oversample_omega {
                            sum *= omega.unwrap_or(0.0);
                        }
                    }
                }
            }
        }
    }
    let mut v = s.scale * sum;
    if !s.oversample_thick {
        v *= capture;
    }
    if !s.oversample_polar {
        v *= polar.unwrap_or(1.0);
    }
    if !s.oversample_omega {
        v *= omega.unwrap_or(0.0);
    }
    v
}
