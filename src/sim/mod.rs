//! The built-in diffraction simulator: a nanoBragg-compatible model (`params`, `geometry`,
//! `hkl`), a scalar reference renderer (`scalar`), the vectorized parallel renderer (`fast`),
//! image files (`image`) and the profiling mode (`profile`).

pub mod fast;
pub mod geometry;
pub mod hkl;
pub mod image;
pub mod options;
pub mod output;
pub mod params;
pub mod profile;
pub mod scalar;

use std::time::Instant;

use crate::error::{Error, Result};
use geometry::Setup;
use image::Image;
use params::Params;

named_enum!(
    /// Precision of the vectorized renderer.
    Dtype { Float32 = "float32", Float64 = "float64" }
);

/// A seed from the clock, as nanoBragg seeds its noise and random orientations by default.
pub fn clock_seed() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() as i64)
}

/// What one vectorized render produced and how long it took.
pub struct Rendered {
    pub image: Image,
    pub seconds: f64,
    /// Stage times per worker thread (profile mode; empty otherwise).
    pub threads: Vec<fast::StageTimes>,
    /// The instruction set it ran with.
    pub simd: fast::Simd,
}

/// Run `f` on a pool of `threads` threads (0: all cores).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    if threads == 0 {
        return Ok(f());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(format!("--threads {threads}: {e}")))?;
    Ok(pool.install(f))
}

/// Render with the vectorized path in the chosen precision, with the best instruction set the
/// CPU has.
pub fn render(setup: &Setup, dtype: Dtype, profile: bool, on_row: &(dyn Fn() + Sync)) -> Rendered {
    render_with(setup, dtype, fast::Simd::detect(), profile, on_row)
}

/// Render with a chosen instruction set: `Simd::detect()` or `Simd::BASELINE`.
pub fn render_with(
    setup: &Setup,
    dtype: Dtype,
    simd: fast::Simd,
    profile: bool,
    on_row: &(dyn Fn() + Sync),
) -> Rendered {
    render_again(setup, dtype, simd, profile, on_row, None)
}

/// `render_with`, reusing the pixel buffer of an earlier render of the same setup when given
/// (a warm run: no fresh memory to fault in).
pub fn render_again(
    setup: &Setup,
    dtype: Dtype,
    simd: fast::Simd,
    profile: bool,
    on_row: &(dyn Fn() + Sync),
    previous: Option<Image>,
) -> Rendered {
    use image::Pixels;
    let reuse = previous.map(Image::into_buffer);
    let t = Instant::now();
    let (image, threads) = match (dtype, reuse) {
        (Dtype::Float32, Some(Pixels::F32(a))) => {
            let (px, times) = fast::render_into::<f32>(setup, simd, profile, on_row, a.into_raw_vec_and_offset().0);
            (Image::f32(setup.fpixels, setup.spixels, px), times)
        }
        (Dtype::Float64, Some(Pixels::F64(a))) => {
            let (px, times) = fast::render_into::<f64>(setup, simd, profile, on_row, a.into_raw_vec_and_offset().0);
            (Image::f64(setup.fpixels, setup.spixels, px), times)
        }
        (Dtype::Float32, _) => {
            let (px, times) = fast::render::<f32>(setup, simd, profile, on_row);
            (Image::f32(setup.fpixels, setup.spixels, px), times)
        }
        (Dtype::Float64, _) => {
            let (px, times) = fast::render::<f64>(setup, simd, profile, on_row);
            (Image::f64(setup.fpixels, setup.spixels, px), times)
        }
    };
    Rendered { image: masked(setup, image), seconds: t.elapsed().as_secs_f64(), threads, simd }
}

/// Render with the scalar reference (slow; for checking).
pub fn render_scalar(setup: &Setup) -> Image {
    masked(setup, Image::f64(setup.fpixels, setup.spixels, scalar::render(setup)))
}

/// Pixels the -mask leaves out are 0, as nanoBragg never visits them.
fn masked(setup: &Setup, mut image: Image) -> Image {
    if let Some(mask) = &setup.mask {
        image.keep(|i| mask[i]);
    }
    image
}

/// Build the setup and render once: the `loop sim run` path.
pub fn simulate(params: &Params, dtype: Dtype, on_row: &(dyn Fn() + Sync)) -> Result<(Setup, Rendered)> {
    let setup = Setup::new(params)?;
    let r = render(&setup, dtype, false, on_row);
    Ok((setup, r))
}
