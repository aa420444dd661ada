//! The vectorized renderer. Rows of the detector run in parallel (rayon); within a row every
//! stage is a loop over the fast axis on plain arrays, which the compiler turns into SIMD:
//!
//! * geometry — per subpixel, the diffracted direction, solid angle and polarization of every
//!   pixel of the row, then the scattering vector per source; computed once and reused for
//!   every phi step and mosaic domain;
//! * lattice — for each crystal orientation, h·k·l = A·q and the squared lattice transform
//!   (sin Nπh / sin πh)², with a branch-free polynomial sin(πx) instead of a library call;
//! * structure factors — constant `default_F` folds into the final scale; an HKL grid is looked
//!   up (or interpolated) per pixel;
//! * accumulation and scaling — sums per pixel, then r_e²·fluence/steps·Ω·P.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::geometry::{Fcell, Setup};
use super::params::Shape;
use super::scalar;

/// A float type the renderer can run in (f32 or f64).
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// 1.5·2^(mantissa bits): adding and subtracting it rounds to the nearest integer.
    const ROUNDER: Self;
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;
    fn abs(self) -> Self;
    fn sqrt(self) -> Self;
    /// sin(π·r) for |r| ≤ 1/2, by an odd polynomial.
    fn sin_pi_small(r: Self) -> Self;
}

/// What f32 and f64 share in their `Real` impls; only the rounding constant and the sine
/// polynomial differ.
macro_rules! real_common {
    ($t:ident, $rounder:expr) => {
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;
        const ROUNDER: Self = $rounder;
        fn of(x: f64) -> Self {
            x as $t
        }
        fn f64(self) -> f64 {
            self as f64
        }
        fn abs(self) -> Self {
            $t::abs(self)
        }
        fn sqrt(self) -> Self {
            $t::sqrt(self)
        }
    };
}

impl Real for f32 {
    real_common!(f32, 12582912.0);
    #[inline(always)]
    fn sin_pi_small(r: f32) -> f32 {
        // Taylor series of sin(y), y = πr ∈ [-π/2, π/2], to y^13: error < 1e-9.
        let y = r * std::f32::consts::PI;
        let y2 = y * y;
        let p = 1.0 / 6227020800.0;
        let p = p * y2 - 1.0 / 39916800.0;
        let p = p * y2 + 1.0 / 362880.0;
        let p = p * y2 - 1.0 / 5040.0;
        let p = p * y2 + 1.0 / 120.0;
        let p = p * y2 - 1.0 / 6.0;
        y + y * y2 * p
    }
}

impl Real for f64 {
    real_common!(f64, 6755399441055744.0);
    #[inline(always)]
    fn sin_pi_small(r: f64) -> f64 {
        // Taylor series to y^19: error < 5e-14 on [-π/2, π/2].
        let y = r * std::f64::consts::PI;
        let y2 = y * y;
        let p = -1.0 / 121645100408832000.0;
        let p = p * y2 + 1.0 / 355687428096000.0;
        let p = p * y2 - 1.0 / 1307674368000.0;
        let p = p * y2 + 1.0 / 6227020800.0;
        let p = p * y2 - 1.0 / 39916800.0;
        let p = p * y2 + 1.0 / 362880.0;
        let p = p * y2 - 1.0 / 5040.0;
        let p = p * y2 + 1.0 / 120.0;
        let p = p * y2 - 1.0 / 6.0;
        y + y * y2 * p
    }
}

/// x − round(x), branch-free (valid while |x| < 2^22 in f32).
#[inline(always)]
fn frac<T: Real>(x: T) -> T {
    x - ((x + T::ROUNDER) - T::ROUNDER)
}

/// (sin Nπh / sin πh)²: the squared lattice transform. Signs drop out of the square, so both
/// sines are taken of reduced arguments: sin(πh) = ±sin(πr), sin(Nπh) = ±sin(Nπr), r = h − round h.
#[inline(always)]
fn sincg2<T: Real>(h: T, n: T, nn: T) -> T {
    let r = frac(h);
    let s0 = T::sin_pi_small(r);
    let s1 = T::sin_pi_small(frac(n * r));
    let den = s0 * s0;
    if den > T::ZERO {
        s1 * s1 / den
    } else {
        nn
    }
}

/// Wall time spent per stage, summed over threads (profile mode).
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    pub geometry: Duration,
    pub lattice: Duration,
    pub structure_factors: Duration,
    pub accumulation: Duration,
    pub scaling: Duration,
}

impl StageTimes {
    fn add(&mut self, o: &StageTimes) {
        self.geometry += o.geometry;
        self.lattice += o.lattice;
        self.structure_factors += o.structure_factors;
        self.accumulation += o.accumulation;
        self.scaling += o.scaling;
    }
}

struct Scratch<T> {
    q: [Vec<T>; 3],
    d: [Vec<T>; 3],
    acc: Vec<T>,
    lat: Vec<T>,
    omega: Vec<T>,
    polar: Vec<T>,
    capture: Vec<T>,
    times: StageTimes,
}

impl<T: Real> Scratch<T> {
    fn new(n: usize) -> Self {
        let v = || vec![T::ZERO; n];
        Scratch {
            q: [v(), v(), v()],
            d: [v(), v(), v()],
            acc: v(),
            lat: v(),
            omega: v(),
            polar: v(),
            capture: vec![T::ONE; n],
            times: StageTimes::default(),
        }
    }
}

/// Clock a stage only when profiling, so the plain path pays nothing.
struct Clock(Option<Instant>);

impl Clock {
    fn start(on: bool) -> Clock {
        Clock(on.then(Instant::now))
    }
    fn lap(&mut self, into: &mut Duration) {
        if let Some(t) = self.0 {
            let now = Instant::now();
            *into += now - t;
            self.0 = Some(now);
        }
    }
}

/// Render the image in `T`, rows in parallel. `on_row` is called after each row (progress).
pub fn render<T: Real>(s: &Setup, profile: bool, on_row: &(dyn Fn() + Sync)) -> (Vec<T>, StageTimes) {
    let n = s.fpixels;
    let mut img = vec![T::ZERO; s.pixels()];
    let axes: Vec<[T; 9]> = s
        .orientations
        .iter()
        .map(|a| {
            // Å and Å⁻¹ keep h = a·q well inside f32's comfortable range.
            std::array::from_fn(|i| T::of(a[i / 3][i % 3] * 1e10))
        })
        .collect();
    let nabc = s.n.map(T::of);
    let nn = s.n.map(|x| T::of(x * x));
    // Fast-axis subpixel coordinates, the same for every row.
    let fd: Vec<Vec<T>> = (0..s.oversample)
        .map(|subf| (0..n).map(|p| T::of(s.subpixel * (p * s.oversample + subf) as f64 + s.subpixel / 2.0)).collect())
        .collect();
    if s.oversample_thick || s.oversample_polar || s.oversample_omega {
        // Factors multiplied into the running sum per sample do not separate from the sum:
        // the reference loop, one pixel at a time, rows in parallel.
        img.par_chunks_mut(n).enumerate().for_each(|(spixel, row)| {
            for (f, px) in row.iter_mut().enumerate() {
                *px = T::of(scalar::pixel(s, f, spixel));
            }
            on_row();
        });
        return (img, StageTimes::default());
    }
    let times = std::sync::Mutex::new(StageTimes::default());
    img.par_chunks_mut(n).enumerate().for_each_init(
        || Scratch::<T>::new(n),
        |sc, (spixel, row)| {
            render_row(s, spixel, row, sc, &axes, &fd, nabc, nn, profile);
            on_row();
            if profile {
                if let Ok(mut t) = times.lock() {
                    t.add(&sc.times);
                }
                sc.times = StageTimes::default();
            }
        },
    );
    (img, times.into_inner().unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
fn render_row<T: Real>(
    s: &Setup,
    spixel: usize,
    row: &mut [T],
    sc: &mut Scratch<T>,
    axes: &[[T; 9]],
    fd: &[Vec<T>],
    nabc: [T; 3],
    nn: [T; 3],
    profile: bool,
) {
    let n = row.len();
    let o = s.oversample;
    let mut clock = Clock::start(profile);
    let mut times = sc.times;
    sc.acc.iter_mut().for_each(|x| *x = T::ZERO);
    let constant_f = matches!(s.fcell, Fcell::Constant(_));
    let (fx, fy, fz) = (T::of(s.fdet[0]), T::of(s.fdet[1]), T::of(s.fdet[2]));
    let omega_k = T::of(s.pixel * s.pixel * s.close_distance);
    for layer in 0..s.thicksteps {
        let od = s.thickstep * layer as f64;
        for subs in 0..o {
            for subf in 0..o {
                // Solid angle and polarization from the pixel's first sample, absorption from
                // the last layer's first subpixel (nanoBragg's caching).
                let first = layer == 0 && subs == 0 && subf == 0;
                let capture = s.thick && layer + 1 == s.thicksteps && subs == 0 && subf == 0;
                let sd = s.subpixel * (spixel * o + subs) as f64 + s.subpixel / 2.0;
                let [bx, by, bz]: [T; 3] = std::array::from_fn(|i| T::of(sd * s.sdet[i] + od * s.odet[i] + s.pix0[i]));
                let fdv = &fd[subf][..n];
                let [dx, dy, dz] = &mut sc.d;
                if s.curved {
                    for p in 0..n {
                        let flat = [bx, by, bz].map(T::f64);
                        let f = fdv[p].f64();
                        let pos = s.curve([flat[0] + f * s.fdet[0], flat[1] + f * s.fdet[1], flat[2] + f * s.fdet[2]]);
                        let r = super::geometry::norm(pos);
                        (dx[p], dy[p], dz[p]) = (T::of(pos[0] / r), T::of(pos[1] / r), T::of(pos[2] / r));
                        if first {
                            sc.omega[p] = T::of(s.omega(r));
                        }
                    }
                } else {
                    for p in 0..n {
                        let x = bx + fdv[p] * fx;
                        let y = by + fdv[p] * fy;
                        let z = bz + fdv[p] * fz;
                        let r2 = x * x + y * y + z * z;
                        let inv = T::ONE / r2.sqrt();
                        dx[p] = x * inv;
                        dy[p] = y * inv;
                        dz[p] = z * inv;
                        if first {
                            sc.omega[p] = if s.point_pixel { T::ONE / r2 } else { omega_k * inv * inv * inv };
                        }
                    }
                }
                if capture {
                    for (p, c) in sc.capture.iter_mut().enumerate() {
                        *c = T::of(s.capture_fraction([dx[p].f64(), dy[p].f64(), dz[p].f64()], layer));
                    }
                }
                for (si, src) in s.sources.iter().enumerate() {
                    let inv = T::of(1e-10 / src.lambda);
                    let [ix, iy, iz] = src.incident.map(T::of);
                    let [qx, qy, qz] = &mut sc.q;
                    for p in 0..n {
                        qx[p] = (dx[p] - ix) * inv;
                        qy[p] = (dy[p] - iy) * inv;
                        qz[p] = (dz[p] - iz) * inv;
                    }
                    if first && si == 0 {
                        polarization_row(s, src.incident, [dx, dy, dz], &mut sc.polar);
                    }
                    clock.lap(&mut times.geometry);
                    if s.shape == Shape::Square && constant_f {
                        lattice_accumulate(axes, &sc.q, nabc, nn, &mut sc.acc);
                        clock.lap(&mut times.lattice);
                    } else {
                        general(s, axes, &sc.q, nabc, nn, &mut sc.lat, &mut sc.acc, &mut clock, &mut times);
                    }
                }
            }
        }
    }
    let k = T::of(
        s.scale
            * match s.fcell {
                Fcell::Constant(f) => f * f,
                _ => 1.0,
            },
    );
    // The water background joins the sum before scaling, as in nanoBragg.
    let bg = T::of(s.scale * s.background);
    // The scale (~1e-3 for the benchmark) keeps products well inside f32's range.
    for (p, px) in row.iter_mut().enumerate() {
        *px = (k * sc.acc[p] + bg) * sc.polar[p] * sc.omega[p] * sc.capture[p];
    }
    clock.lap(&mut times.scaling);
    sc.times = times;
}

fn polarization_row<T: Real>(s: &Setup, incident: [f64; 3], d: [&mut Vec<T>; 3], out: &mut [T]) {
    if s.nopolar {
        out.iter_mut().for_each(|x| *x = T::ONE);
        return;
    }
    let [dx, dy, dz] = d;
    // cos 2ψ from the projections on the E and B axes, without an atan2.
    let b_in = super::geometry::unit(super::geometry::cross(s.polar_axis, incident));
    let e_in = super::geometry::unit(super::geometry::cross(incident, b_in));
    let [ix, iy, iz] = incident.map(T::of);
    let [ex, ey, ez] = e_in.map(T::of);
    let [bx, by, bz] = b_in.map(T::of);
    let (half, kahn) = (T::of(0.5), T::of(s.kahn));
    for p in 0..out.len() {
        let cos2t = ix * dx[p] + iy * dy[p] + iz * dz[p];
        let sin2t = T::ONE - cos2t * cos2t;
        let e = ex * dx[p] + ey * dy[p] + ez * dz[p];
        let b = bx * dx[p] + by * dy[p] + bz * dz[p];
        let m = e * e + b * b;
        let cos2psi = if m > T::ZERO { (e * e - b * b) / m } else { T::ONE };
        out[p] = half * (T::ONE + cos2t * cos2t - kahn * cos2psi * sin2t);
    }
}

/// The hot loop: square crystal, constant F. Orientation outer, pixels inner (SIMD).
fn lattice_accumulate<T: Real>(axes: &[[T; 9]], q: &[Vec<T>; 3], nabc: [T; 3], nn: [T; 3], acc: &mut [T]) {
    let (qx, qy, qz) = (&q[0][..acc.len()], &q[1][..acc.len()], &q[2][..acc.len()]);
    for a in axes {
        for p in 0..acc.len() {
            let h = a[0] * qx[p] + a[1] * qy[p] + a[2] * qz[p];
            let k = a[3] * qx[p] + a[4] * qy[p] + a[5] * qz[p];
            let l = a[6] * qx[p] + a[7] * qy[p] + a[8] * qz[p];
            acc[p] += sincg2(h, nabc[0], nn[0]) * sincg2(k, nabc[1], nn[1]) * sincg2(l, nabc[2], nn[2]);
        }
    }
}

/// Other shapes and HKL structure factors: the lattice still vectorized for the square shape,
/// the rest per pixel through the reference functions.
#[allow(clippy::too_many_arguments)]
fn general<T: Real>(
    s: &Setup,
    axes: &[[T; 9]],
    q: &[Vec<T>; 3],
    nabc: [T; 3],
    nn: [T; 3],
    lat: &mut [T],
    acc: &mut [T],
    clock: &mut Clock,
    times: &mut StageTimes,
) {
    for (a, axes64) in axes.iter().zip(&s.orientations) {
        // Axes in meters, q in Å⁻¹: the 1e10 makes h dimensionless.
        let hkl_at = |p: usize| -> [f64; 3] {
            let (x, y, z) = (q[0][p].f64(), q[1][p].f64(), q[2][p].f64());
            std::array::from_fn(|r| 1e10 * (axes64[r][0] * x + axes64[r][1] * y + axes64[r][2] * z))
        };
        if s.shape == Shape::Square {
            for p in 0..lat.len() {
                let h = a[0] * q[0][p] + a[1] * q[1][p] + a[2] * q[2][p];
                let k = a[3] * q[0][p] + a[4] * q[1][p] + a[5] * q[2][p];
                let l = a[6] * q[0][p] + a[7] * q[1][p] + a[8] * q[2][p];
                lat[p] = sincg2(h, nabc[0], nn[0]) * sincg2(k, nabc[1], nn[1]) * sincg2(l, nabc[2], nn[2]);
            }
        } else {
            for (p, l) in lat.iter_mut().enumerate() {
                let f = scalar::lattice(s, hkl_at(p));
                *l = T::of(f * f);
            }
        }
        clock.lap(&mut times.lattice);
        if !matches!(s.fcell, Fcell::Constant(_)) {
            for (p, l) in lat.iter_mut().enumerate() {
                let f = scalar::structure_factor(&s.fcell, hkl_at(p));
                *l = *l * T::of(f * f);
            }
            clock.lap(&mut times.structure_factors);
        }
        for (x, l) in acc.iter_mut().zip(lat.iter()) {
            *x += *l;
        }
        clock.lap(&mut times.accumulation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_sine_matches_the_library() {
        for i in -1000..=1000 {
            let x = i as f64 * 0.0137;
            let want = (std::f64::consts::PI * x).sin().powi(2);
            let r = frac(x);
            assert!((f64::sin_pi_small(r).powi(2) - want).abs() < 1e-13, "{x}");
            let r32 = frac(x as f32);
            assert!(((f32::sin_pi_small(r32) as f64).powi(2) - want).abs() < 2e-6, "{x}");
        }
    }

    #[test]
    fn sincg2_matches_the_reference_sincg() {
        for i in -400..=400 {
            // Off exact integers, where the library's sin(kπ) ≠ 0 makes the reference itself noisy.
            let h = i as f64 * 0.01 + 0.0013;
            for n in [1.0, 2.0, 5.0, 17.0] {
                let want = scalar::sincg(std::f64::consts::PI * h, n).powi(2);
                let got = sincg2(h, n, n * n);
                assert!((got - want).abs() <= 1e-9 * want.max(1.0), "h={h} n={n}: {got} vs {want}");
            }
        }
    }
}
