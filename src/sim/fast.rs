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
//!
//! The row renderer is compiled twice: for the baseline target and for AVX2 with FMA, chosen
//! at run time by what the CPU has (`Simd::detect`); the FMA build fuses the dot products and
//! the sine polynomial.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::geometry::{Fcell, Setup};
use super::params::Shape;
use super::scalar;

/// The instruction set the renderer runs with: AVX2 and FMA, or what every CPU of the target
/// has (SSE2 on x86-64). Only detection makes the AVX2+FMA value (its field is private), so no
/// safe caller can reach the AVX2 kernel on a CPU without those features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simd(Isa);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Avx2Fma,
    Baseline,
}

impl Simd {
    pub const BASELINE: Simd = Simd(Isa::Baseline);

    /// The best the CPU running this has.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        let has = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        Simd::for_cpu(has)
    }

    /// What detection gives on a CPU that has AVX2 and FMA, or not.
    fn for_cpu(avx2_fma: bool) -> Simd {
        Simd(if avx2_fma { Isa::Avx2Fma } else { Isa::Baseline })
    }

    pub fn as_str(self) -> &'static str {
        match self.0 {
            Isa::Avx2Fma => "avx2-fma",
            Isa::Baseline => "baseline",
        }
    }
}

impl std::fmt::Display for Simd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Simd {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// a·b + c, fused or not: the AVX2 build fuses; the baseline has no FMA unit (fusing there
/// would be a library call).
pub trait MulAdd {
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T;
}

pub struct Plain;
pub struct Fused;

impl MulAdd for Plain {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        T::fused(a, b, c)
    }
}

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
    /// Coefficients of sin(πr)/r in powers of r², highest first, for |r| ≤ ½: as many terms as
    /// the type's precision needs.
    const SIN_PI: &'static [Self];
    /// Below this a factor's denominator sin²(πh) counts as 0 (the limit N² is taken): the
    /// product of three denominators must stay a normal number.
    const TINY: Self;
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;
    fn abs(self) -> Self;
    fn sqrt(self) -> Self;
    /// a·b + c with one rounding.
    fn fused(a: Self, b: Self, c: Self) -> Self;
}

/// The `Real` impl of f32 or f64; only the constants differ.
macro_rules! real_impl {
    ($t:ident, $rounder:expr, $tiny:expr, $sin:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const ROUNDER: Self = $rounder;
            const SIN_PI: &'static [Self] = &$sin;
            const TINY: Self = $tiny;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn fused(a: Self, b: Self, c: Self) -> Self {
                a.mul_add(b, c)
            }
        }
    };
}

// f32: a degree-9 minimax fit (Lawson's iteration on Chebyshev nodes), relative error 5.3e-9 on
// |r| ≤ ½, below f32's rounding; f64: the Taylor series of sin(πr) to r^19, error < 5e-14.
real_impl!(f32, 12582912.0, 1e-12, [0.077_560_43, -0.598_242_16, 2.550_069_8, -5.167_71, std::f32::consts::PI]);
real_impl!(
    f64,
    6755399441055744.0,
    1e-60,
    [
        -2.2948428997269873e-08,
        7.952054001475513e-07,
        -2.1915353447830217e-05,
        0.00046630280576761255,
        -0.0073704309457143504,
        0.08214588661112823,
        -0.5992645293207921,
        2.5501640398773455,
        -5.16771278004997,
        std::f64::consts::PI
    ]
);

/// sin(π·r) for |r| ≤ 1/2, by an odd polynomial.
#[inline(always)]
fn sin_pi_small<T: Real, M: MulAdd>(r: T) -> T {
    let r2 = r * r;
    let mut p = T::SIN_PI[0];
    for &c in &T::SIN_PI[1..] {
        p = M::mul_add(p, r2, c);
    }
    r * p
}

/// x − round(x), branch-free (valid while |x| < 2^22 in f32).
#[inline(always)]
fn frac<T: Real>(x: T) -> T {
    x - ((x + T::ROUNDER) - T::ROUNDER)
}

/// (sin Nπh / sin πh)², the squared lattice transform, as numerator and denominator (so that
/// three axes share one division); at a Bragg peak the limit N² over 1. Signs drop out of the
/// square, so both sines are taken of reduced arguments: sin(πh) = ±sin(πr), sin(Nπh) =
/// ±sin(Nπr), r = h − round h.
#[inline(always)]
fn sincg2_parts<T: Real, M: MulAdd>(h: T, n: T, nn: T) -> (T, T) {
    let r = frac(h);
    let s0 = sin_pi_small::<T, M>(r);
    let s1 = sin_pi_small::<T, M>(frac(n * r));
    let den = s0 * s0;
    if den > T::TINY {
        (s1 * s1, den)
    } else {
        (nn, T::ONE)
    }
}

#[cfg(test)]
fn sincg2<T: Real, M: MulAdd>(h: T, n: T, nn: T) -> T {
    let (a, b) = sincg2_parts::<T, M>(h, n, nn);
    a / b
}

/// Wall time one thread spent per stage (profile mode).
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    pub geometry: Duration,
    pub lattice: Duration,
    pub structure_factors: Duration,
    pub accumulation: Duration,
    pub scaling: Duration,
}

impl StageTimes {
    /// Each stage with its name, in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 5] {
        [
            ("geometry", self.geometry),
            ("lattice", self.lattice),
            ("structure_factors", self.structure_factors),
            ("accumulation", self.accumulation),
            ("scaling", self.scaling),
        ]
    }

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

/// What every row of one render shares.
struct Ctx<'a, T> {
    s: &'a Setup,
    /// Crystal axes per orientation, Å, row-major.
    axes: &'a [[T; 9]],
    /// Fast-axis subpixel coordinates (m) per subpixel column, the same for every row.
    fd: &'a [Vec<T>],
    nabc: [T; 3],
    nn: [T; 3],
    profile: bool,
}

/// Ask the kernel for 2 MB pages for a fresh image buffer: in 4 KB pages a 4096² float32 image
/// costs 16,384 first-touch page faults, which took as long as the lattice itself. Advice only,
/// ignored where the kernel has no transparent huge pages.
#[allow(unsafe_code)]
fn advise_huge_pages<T>(v: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(v);
        let first = (start + HUGE - 1) & !(HUGE - 1);
        if end >= first + HUGE {
            let len = (end - first) & !(HUGE - 1);
            // SAFETY: advice on whole pages inside this live allocation; nothing is read or moved.
            unsafe {
                libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Render the image in `T`, rows in parallel, with the instruction set `simd`. `on_row` is
/// called after each row (progress). With `profile`, the stage times of each worker thread
/// (indexed as rayon numbers them).
pub fn render<T: Real>(s: &Setup, simd: Simd, profile: bool, on_row: &(dyn Fn() + Sync)) -> (Vec<T>, Vec<StageTimes>) {
    let mut img = vec![T::ZERO; s.pixels()];
    advise_huge_pages(&mut img);
    render_into(s, simd, profile, on_row, img)
}

/// `render` into a buffer of the image's size that an earlier render filled (every pixel is
/// written anew): what a warm run of the profiler does, so it times the render, not the
/// kernel's first touch of fresh memory.
pub fn render_into<T: Real>(
    s: &Setup,
    simd: Simd,
    profile: bool,
    on_row: &(dyn Fn() + Sync),
    mut img: Vec<T>,
) -> (Vec<T>, Vec<StageTimes>) {
    let n = s.fpixels;
    img.resize(s.pixels(), T::ZERO);
    // Where the reference stops interpolating, found before any row needs it.
    scalar::interpolation_cutoff(s);
    if s.oversample_thick || s.oversample_polar || s.oversample_omega || s.dmin > 0.0 {
        // Factors multiplied into the running sum per sample do not separate from the sum, and
        // a resolution cut-off decides per pixel and source: the reference loop, one pixel at a
        // time, rows in parallel.
        img.par_chunks_mut(n).enumerate().for_each(|(spixel, row)| {
            for (f, px) in row.iter_mut().enumerate() {
                *px = T::of(scalar::pixel(s, f, spixel));
            }
            on_row();
        });
        return (img, Vec::new());
    }
    // Å and Å⁻¹ keep h = a·q well inside f32's comfortable range.
    let axes: Vec<[T; 9]> =
        s.orientations.iter().map(|a| std::array::from_fn(|i| T::of(a[i / 3][i % 3] * 1e10))).collect();
    let fd: Vec<Vec<T>> = (0..s.oversample)
        .map(|subf| (0..n).map(|p| T::of(s.subpixel * (p * s.oversample + subf) as f64 + s.subpixel / 2.0)).collect())
        .collect();
    let ctx = Ctx { s, axes: &axes, fd: &fd, nabc: s.n.map(T::of), nn: s.n.map(|x| T::of(x * x)), profile };
    let threads: Vec<std::sync::Mutex<StageTimes>> =
        (0..rayon::current_num_threads()).map(|_| Default::default()).collect();
    img.par_chunks_mut(n).enumerate().for_each_init(
        || Scratch::<T>::new(n),
        |sc, (spixel, row)| {
            render_row_on(simd, &ctx, spixel, row, sc);
            on_row();
            if profile {
                let k = rayon::current_thread_index().unwrap_or(0).min(threads.len() - 1);
                if let Ok(mut t) = threads[k].lock() {
                    t.add(&sc.times);
                }
                sc.times = StageTimes::default();
            }
        },
    );
    (img, threads.into_iter().map(|m| m.into_inner().unwrap_or_default()).collect())
}

fn render_row_on<T: Real>(simd: Simd, ctx: &Ctx<T>, spixel: usize, row: &mut [T], sc: &mut Scratch<T>) {
    #[cfg(target_arch = "x86_64")]
    if simd.0 == Isa::Avx2Fma {
        // SAFETY: only `Simd::detect` makes this value, and only when the CPU reports AVX2 and FMA.
        #[allow(unsafe_code)]
        unsafe {
            render_row_avx2(ctx, spixel, row, sc)
        };
        return;
    }
    let _ = simd;
    render_row::<T, Plain>(ctx, spixel, row, sc)
}

/// The row renderer compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn render_row_avx2<T: Real>(ctx: &Ctx<T>, spixel: usize, row: &mut [T], sc: &mut Scratch<T>) {
    render_row::<T, Fused>(ctx, spixel, row, sc)
}

#[inline(always)]
fn render_row<T: Real, M: MulAdd>(ctx: &Ctx<T>, spixel: usize, row: &mut [T], sc: &mut Scratch<T>) {
    let s = ctx.s;
    let n = row.len();
    let o = s.oversample;
    let mut clock = Clock::start(ctx.profile);
    let mut times = sc.times;
    sc.acc.iter_mut().for_each(|x| *x = T::ZERO);
    let constant_f = matches!(s.fcell, Fcell::Constant(_));
    let [fx, fy, fz] = s.fdet.map(T::of);
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
                // Every slice exactly n long: no bounds checks in the loops below.
                let fdv = &ctx.fd[subf][..n];
                let [dx, dy, dz] = &mut sc.d;
                let (dx, dy, dz) = (&mut dx[..n], &mut dy[..n], &mut dz[..n]);
                let omega = &mut sc.omega[..n];
                if s.curved {
                    // Per pixel in f64, through the reference's own position (rotations per pixel).
                    for p in 0..n {
                        let pos = s.subpixel_position(p, spixel, subf, subs, layer);
                        let r = super::geometry::norm(pos);
                        (dx[p], dy[p], dz[p]) = (T::of(pos[0] / r), T::of(pos[1] / r), T::of(pos[2] / r));
                        if first {
                            omega[p] = T::of(s.omega(r));
                        }
                    }
                } else if first {
                    // The solid angle from the same distance: one square root and one division.
                    for p in 0..n {
                        let ([x, y, z], inv) = direction::<T, M>(fdv[p], [fx, fy, fz], [bx, by, bz]);
                        (dx[p], dy[p], dz[p]) = (x, y, z);
                        let inv2 = inv * inv;
                        omega[p] = if s.point_pixel { inv2 } else { omega_k * inv2 * inv };
                    }
                } else {
                    for p in 0..n {
                        let ([x, y, z], _) = direction::<T, M>(fdv[p], [fx, fy, fz], [bx, by, bz]);
                        (dx[p], dy[p], dz[p]) = (x, y, z);
                    }
                }
                if capture {
                    for (p, c) in sc.capture[..n].iter_mut().enumerate() {
                        *c = T::of(s.capture_fraction([dx[p].f64(), dy[p].f64(), dz[p].f64()], layer));
                    }
                }
                for (si, src) in s.sources.iter().enumerate() {
                    let inv = T::of(1e-10 / src.lambda);
                    let [ix, iy, iz] = src.incident.map(T::of);
                    let [qx, qy, qz] = &mut sc.q;
                    let (qx, qy, qz) = (&mut qx[..n], &mut qy[..n], &mut qz[..n]);
                    for p in 0..n {
                        qx[p] = (dx[p] - ix) * inv;
                        qy[p] = (dy[p] - iy) * inv;
                        qz[p] = (dz[p] - iz) * inv;
                    }
                    if first && si == 0 {
                        polarization_row(s, src.incident, [dx, dy, dz], &mut sc.polar[..n]);
                    }
                    clock.lap(&mut times.geometry);
                    if s.shape == Shape::Square && constant_f {
                        lattice_accumulate::<T, M>(ctx, &sc.q, &mut sc.acc[..n]);
                        clock.lap(&mut times.lattice);
                    } else {
                        let at = [spixel, scalar::sample_index(s, layer, subs, subf, si) * s.orientations.len()];
                        general::<T, M>(ctx, &sc.q, at, &mut sc.lat[..n], &mut sc.acc[..n], &mut clock, &mut times);
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
    let (acc, polar, omega, capture) = (&sc.acc[..n], &sc.polar[..n], &sc.omega[..n], &sc.capture[..n]);
    // The scale (~1e-3 for the benchmark) keeps products well inside f32's range.
    for p in 0..n {
        row[p] = M::mul_add(k, acc[p], bg) * polar[p] * omega[p] * capture[p];
    }
    clock.lap(&mut times.scaling);
    sc.times = times;
}

#[inline(always)]
fn polarization_row<T: Real>(s: &Setup, incident: [f64; 3], d: [&mut [T]; 3], out: &mut [T]) {
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
    // With d a unit vector and (incident, E, B) orthonormal, e² + b² = 1 − cos²2θ = sin²2θ, so
    // cos 2ψ · sin²2θ = e² − b²: no division.
    for p in 0..out.len() {
        let cos2t = ix * dx[p] + iy * dy[p] + iz * dz[p];
        let e = ex * dx[p] + ey * dy[p] + ez * dz[p];
        let b = bx * dx[p] + by * dy[p] + bz * dz[p];
        out[p] = half * (T::ONE + cos2t * cos2t - kahn * (e * e - b * b));
    }
}

/// The unit direction from the sample to a flat detector's subpixel at fast coordinate `fd` (the
/// row's base point `b`, fast axis `f`), and 1/distance.
#[inline(always)]
fn direction<T: Real, M: MulAdd>(fd: T, f: [T; 3], b: [T; 3]) -> ([T; 3], T) {
    let x = M::mul_add(fd, f[0], b[0]);
    let y = M::mul_add(fd, f[1], b[1]);
    let z = M::mul_add(fd, f[2], b[2]);
    let inv = T::ONE / M::mul_add(x, x, M::mul_add(y, y, z * z)).sqrt();
    ([x * inv, y * inv, z * inv], inv)
}

/// h, k, l of orientation `a` at pixel `p`: A·q.
#[inline(always)]
fn miller<T: Real, M: MulAdd>(a: &[T; 9], qx: T, qy: T, qz: T) -> [T; 3] {
    std::array::from_fn(|r| M::mul_add(a[3 * r], qx, M::mul_add(a[3 * r + 1], qy, a[3 * r + 2] * qz)))
}

/// (sin Nπh/sin πh)² (sin Nπk/sin πk)² (sin Nπl/sin πl)².
#[inline(always)]
fn square_lattice<T: Real, M: MulAdd>(ctx: &Ctx<T>, [h, k, l]: [T; 3]) -> T {
    let (n, nn) = (ctx.nabc, ctx.nn);
    let (a, b) = sincg2_parts::<T, M>(h, n[0], nn[0]);
    let (c, d) = sincg2_parts::<T, M>(k, n[1], nn[1]);
    let (e, f) = sincg2_parts::<T, M>(l, n[2], nn[2]);
    (a * c * e) / (b * d * f)
}

/// The hot loop: square crystal, constant F. Orientation outer, pixels inner (SIMD).
#[inline(always)]
fn lattice_accumulate<T: Real, M: MulAdd>(ctx: &Ctx<T>, q: &[Vec<T>; 3], acc: &mut [T]) {
    let n = acc.len();
    let (qx, qy, qz) = (&q[0][..n], &q[1][..n], &q[2][..n]);
    for a in ctx.axes {
        for p in 0..n {
            acc[p] += square_lattice::<T, M>(ctx, miller::<T, M>(a, qx[p], qy[p], qz[p]));
        }
    }
}

/// Other shapes and HKL structure factors: the lattice still vectorized for the square shape,
/// the rest per pixel through the reference functions.
#[inline(always)]
fn general<T: Real, M: MulAdd>(
    ctx: &Ctx<T>,
    q: &[Vec<T>; 3],
    // The row, and the pixel's sample index of the first orientation (the reference's order).
    [spixel, first]: [usize; 2],
    lat: &mut [T],
    acc: &mut [T],
    clock: &mut Clock,
    times: &mut StageTimes,
) {
    let s = ctx.s;
    let n = lat.len();
    let (qx, qy, qz) = (&q[0][..n], &q[1][..n], &q[2][..n]);
    for (oi, (a, axes64)) in ctx.axes.iter().zip(&s.orientations).enumerate() {
        // Axes in meters, q in Å⁻¹: the 1e10 makes h dimensionless.
        let hkl_at = |p: usize| -> [f64; 3] {
            let (x, y, z) = (qx[p].f64(), qy[p].f64(), qz[p].f64());
            std::array::from_fn(|r| 1e10 * (axes64[r][0] * x + axes64[r][1] * y + axes64[r][2] * z))
        };
        if s.shape == Shape::Square {
            for p in 0..n {
                lat[p] = square_lattice::<T, M>(ctx, miller::<T, M>(a, qx[p], qy[p], qz[p]));
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
                let f = scalar::structure_factor(&s.fcell, hkl_at(p), [spixel, p, first + oi]);
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
    fn only_a_cpu_with_avx2_and_fma_gives_the_avx2_kernel() {
        // Detection forced off: the baseline, whatever this CPU has; and `BASELINE` and
        // `detect` are the only other ways to a `Simd` (its field is private).
        assert_eq!(Simd::for_cpu(false), Simd::BASELINE);
        assert_eq!(Simd::for_cpu(false).0, Isa::Baseline);
        assert_eq!(Simd::for_cpu(true).as_str(), "avx2-fma");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            Simd::detect().0 == Isa::Avx2Fma,
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        );
    }

    #[test]
    fn polynomial_sine_matches_the_library() {
        for i in -1000..=1000 {
            let x = i as f64 * 0.0137;
            let want = (std::f64::consts::PI * x).sin().powi(2);
            let r = frac(x);
            assert!((sin_pi_small::<f64, Plain>(r).powi(2) - want).abs() < 1e-13, "{x}");
            assert!((sin_pi_small::<f64, Fused>(r).powi(2) - want).abs() < 1e-13, "{x}");
            let r32 = frac(x as f32);
            assert!(((sin_pi_small::<f32, Plain>(r32) as f64).powi(2) - want).abs() < 2e-6, "{x}");
        }
    }

    #[test]
    fn sincg2_matches_the_reference_sincg() {
        for i in -400..=400 {
            // Off exact integers, where the library's sin(kπ) ≠ 0 makes the reference itself noisy.
            let h = i as f64 * 0.01 + 0.0013;
            for n in [1.0, 2.0, 5.0, 17.0] {
                let want = scalar::sincg(std::f64::consts::PI * h, n).powi(2);
                let got = sincg2::<f64, Plain>(h, n, n * n);
                assert!((got - want).abs() <= 1e-9 * want.max(1.0), "h={h} n={n}: {got} vs {want}");
            }
        }
    }
}
