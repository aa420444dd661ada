//! The built-in diffraction simulator: a nanoBragg-compatible model (`params`, `geometry`,
//! `hkl`), a scalar reference renderer (`scalar`), the vectorized parallel renderer (`fast`),
//! image files (`image`) and the profiling mode (`profile`).

pub mod fast;
pub mod geometry;
pub mod hkl;
pub mod image;
pub mod output;
pub mod params;
pub mod profile;
pub mod scalar;

use std::time::Instant;

use crate::error::{Error, Result};
use geometry::Setup;
use image::Image;
use params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Float32,
    Float64,
}

impl Dtype {
    pub const NAMES: [&'static str; 2] = ["float32", "float64"];
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "float32" => Ok(Dtype::Float32),
            "float64" => Ok(Dtype::Float64),
            _ => Err(format!("`{s}`: expected float32 or float64")),
        }
    }
}

/// What one vectorized render produced and how long it took.
pub struct Rendered {
    pub image: Image,
    pub seconds: f64,
    pub times: fast::StageTimes,
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

/// Render with the vectorized path in the chosen precision.
pub fn render(setup: &Setup, dtype: Dtype, profile: bool, on_row: &(dyn Fn() + Sync)) -> Rendered {
    let t = Instant::now();
    let (image, times) = match dtype {
        Dtype::Float32 => {
            let (px, times) = fast::render::<f32>(setup, profile, on_row);
            (Image::f32(setup.fpixels, setup.spixels, px), times)
        }
        Dtype::Float64 => {
            let (px, times) = fast::render::<f64>(setup, profile, on_row);
            (Image::f64(setup.fpixels, setup.spixels, px), times)
        }
    };
    Rendered { image, seconds: t.elapsed().as_secs_f64(), times }
}

/// Build the setup and render once: the `loop sim run` path.
pub fn simulate(params: &Params, dtype: Dtype, on_row: &(dyn Fn() + Sync)) -> Result<(Setup, Rendered)> {
    let setup = Setup::new(params)?;
    let r = render(&setup, dtype, false, on_row);
    Ok((setup, r))
}
