//! Simulation parameters, in nanoBragg's units at the edge (Å, mm, degrees, mrad, %) and checked
//! before anything is allocated. `options::read` fills it from a nanoBragg command line.

use std::path::PathBuf;

use crate::error::{Error, Result};

named_enum!(
    /// Crystal shape model for the lattice factor.
    Shape { Square = "square", Round = "round", Gauss = "gauss" | "gaussian", Tophat = "tophat" }
);

named_enum!(
    /// A detector convention: which lab axes the beam and detector follow and what the beam
    /// centre means (nanoBragg's `-mosflm -xds -adxv -dials -denzo`).
    Convention {
        Mosflm = "mosflm",
        Xds = "xds",
        Adxv = "adxv",
        Dials = "dials",
        Denzo = "denzo",
        Custom = "custom",
    }
);

impl Convention {
    /// The pivot nanoBragg uses with this convention.
    pub fn pivot(self) -> Pivot {
        match self {
            Convention::Xds | Convention::Dials => Pivot::Sample,
            // nanoBragg: whichever the last of -distance, -Xbeam, -ORGX, -close_distance, -pivot implied.
            Convention::Custom => Pivot::Beam,
            _ => Pivot::Beam,
        }
    }
}

named_enum!(
    /// The detector point that stays fixed when the detector rotates.
    Pivot { Beam = "beam", Sample = "sample" }
);

/// Lab vectors of the custom convention (`-fdet_vector` ...); unset ones keep nanoBragg's
/// defaults (MOSFLM's axes, two-theta about +y).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Vectors {
    pub beam: Option<[f64; 3]>,
    pub fdet: Option<[f64; 3]>,
    pub sdet: Option<[f64; 3]>,
    pub odet: Option<[f64; 3]>,
    pub polar: Option<[f64; 3]>,
    pub spindle: Option<[f64; 3]>,
    pub twotheta: Option<[f64; 3]>,
}

/// An -mask image, read once: which pixels to simulate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mask {
    pub path: PathBuf,
    pub fpixels: usize,
    pub spixels: usize,
    /// Row-major; false where the image is 0.
    #[serde(skip)]
    pub keep: std::sync::Arc<Vec<bool>>,
}

/// nanoBragg's default fluence (photons/m²).
pub const DEFAULT_FLUENCE: f64 = 125932015286227086360700780544.0;
/// Largest image this tool will allocate, in pixels (a 32768² detector).
pub const MAX_PIXELS: u64 = 1 << 30;
/// Most subpixels per pixel side, and most steps along any one sampling axis.
pub const MAX_OVERSAMPLE: u32 = 1000;
pub const MAX_STEPS: u32 = 1_000_000;
/// Most samples (pixels × subpixels × steps) one render may take: hours of work, not a hang.
pub const MAX_SAMPLES: f64 = 1e13;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    /// a b c (Å) α β γ (degrees).
    pub cell: [f64; 6],
    pub lambda_a: f64,
    pub distance_mm: f64,
    pub pixel_mm: f64,
    pub fpixels: usize,
    pub spixels: usize,
    pub n: [u32; 3],
    pub default_f: f64,
    pub hkl: Option<PathBuf>,
    /// None: nanoBragg's automatic choice from crystal size and pixel.
    pub oversample: Option<u32>,
    pub phi_deg: f64,
    pub osc_deg: Option<f64>,
    pub phisteps: Option<u32>,
    pub mosaic_deg: f64,
    pub mosaic_domains: Option<u32>,
    pub mosaic_seed: i64,
    pub misset_deg: [f64; 3],
    pub dispersion_pct: f64,
    pub dispsteps: Option<u32>,
    pub divergence_mrad: f64,
    pub divsteps: Option<u32>,
    /// Kahn polarization factor.
    pub polar: f64,
    pub nopolar: bool,
    pub fluence: f64,
    pub shape: Shape,
    pub fudge: f64,
    /// None: nanoBragg's automatic choice (on when any N ≤ 2).
    pub interpolate: Option<bool>,
    pub xbeam_mm: Option<f64>,
    pub ybeam_mm: Option<f64>,
    pub point_pixel: bool,
    pub convention: Convention,
    /// `c-parity`: reproduce nanoBragg's φ carry-over (a phi step whose phi is exactly 0 reuses
    /// the previous sample's last phi rotation); `spec` (default): phi 0 is phi 0.
    pub phi_carryover_c: bool,
    /// Detector rotations about the lab x, y, z axes, degrees (applied in that order).
    pub detector_rot_deg: [f64; 3],
    /// Detector swing about the two-theta axis (MOSFLM: −z), degrees.
    pub twotheta_deg: f64,
    /// What stays put when the detector rotates: the direct-beam spot or the point nearest the
    /// sample. None: the convention's (beam for MOSFLM, ADXV, DENZO; sample for XDS, DIALS), which
    /// nanoBragg always uses (it resets any pivot its options chose): `-pivot` in `--nb-args` is
    /// so ignored (with a warning), loop's own `--pivot` honoured.
    pub pivot: Option<Pivot>,
    /// XDS-style origin of the sample pivot, pixels (`-ORGX -ORGY`).
    pub orgx: Option<f64>,
    pub orgy: Option<f64>,
    /// Horizontal and vertical divergence ranges (mrad) and steps, when they differ from
    /// `divergence_mrad`/`divsteps` (`-hdivrange -vdivrange -hdivsteps -vdivsteps`).
    pub hdiv_mrad: Option<f64>,
    pub vdiv_mrad: Option<f64>,
    pub hdivsteps: Option<u32>,
    pub vdivsteps: Option<u32>,
    /// The full rectangular divergence grid (`-square_div`) instead of nanoBragg's ellipse.
    pub square_div: bool,
    /// Only these pixels are simulated, nanoBragg's `-roi xmin xmax ymin ymax` (inclusive); the
    /// rest of the image is 0.
    pub roi: Option<[usize; 4]>,
    /// Files to write (`-floatfile -intfile -noisefile -pgmfile`) and their scaling.
    pub outputs: Outputs,
    /// Sensor thickness (µm), its attenuation (1/m; None: 1/thickness) and layers.
    pub detector_thick_um: f64,
    pub detector_mu: Option<f64>,
    pub detector_thicksteps: Option<u32>,
    /// Recompute absorption, polarization, solid angle per subpixel (`-oversample_thick` ...),
    /// multiplying them into the running sum as nanoBragg does.
    pub oversample_thick: bool,
    pub oversample_polar: bool,
    pub oversample_omega: bool,
    /// Every pixel at the same distance from the sample (`-curved_det`).
    pub curved: bool,
    /// Water droplet diameter, µm: a flat background.
    pub water_um: f64,
    /// Sample to detector plane along its normal, mm (`-close_distance`).
    pub close_distance_mm: Option<f64>,
    /// The custom convention's lab vectors.
    pub vectors: Vectors,
    /// A MOSFLM orientation matrix (its nine numbers as in the file), and whether the `-cell`
    /// lengths still apply to it (nanoBragg's user_cell).
    pub mat: Option<[f64; 9]>,
    pub user_cell: bool,
    /// Sources from a file: position X Y Z (m, NaN: along the beam) and wavelength (m, NaN: -lambda).
    pub sources: Option<Vec<[f64; 4]>>,
    /// Divergence step sizes (mrad), nanoBragg's `-hdivstep -vdivstep`.
    pub hdivstep_mrad: Option<f64>,
    pub vdivstep_mrad: Option<f64>,
    /// Pixels that are 0 in this SMV image are not simulated.
    pub mask: Option<Mask>,
    /// The point nearest the sample, mm (`-Xclose -Yclose`): the custom convention's default
    /// beam centre.
    pub xclose_mm: Option<f64>,
    pub yclose_mm: Option<f64>,
    /// Phi step size, degrees (`-phistep`).
    pub phistep_deg: Option<f64>,
    /// Resolution cut-off, Å (`-dmin`; 0: none).
    pub dmin_a: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            cell: [100.0, 100.0, 100.0, 90.0, 90.0, 90.0],
            lambda_a: 1.0,
            distance_mm: 100.0,
            pixel_mm: 0.1,
            fpixels: 1024,
            spixels: 1024,
            n: [1, 1, 1],
            default_f: 0.0,
            hkl: None,
            oversample: None,
            phi_deg: 0.0,
            osc_deg: None,
            phisteps: None,
            mosaic_deg: 0.0,
            mosaic_domains: None,
            mosaic_seed: 12345678,
            misset_deg: [0.0; 3],
            dispersion_pct: 0.0,
            dispsteps: None,
            divergence_mrad: 0.0,
            divsteps: None,
            polar: 0.0,
            nopolar: false,
            fluence: DEFAULT_FLUENCE,
            shape: Shape::Square,
            fudge: 1.0,
            interpolate: None,
            xbeam_mm: None,
            ybeam_mm: None,
            point_pixel: false,
            convention: Convention::Mosflm,
            phi_carryover_c: false,
            detector_rot_deg: [0.0; 3],
            twotheta_deg: 0.0,
            pivot: None,
            orgx: None,
            orgy: None,
            hdiv_mrad: None,
            vdiv_mrad: None,
            hdivsteps: None,
            vdivsteps: None,
            square_div: false,
            roi: None,
            outputs: Outputs::new(),
            detector_thick_um: 0.0,
            detector_mu: None,
            detector_thicksteps: None,
            oversample_thick: false,
            oversample_polar: false,
            oversample_omega: false,
            curved: false,
            water_um: 0.0,
            close_distance_mm: None,
            vectors: Vectors::default(),
            mat: None,
            user_cell: true,
            sources: None,
            hdivstep_mrad: None,
            vdivstep_mrad: None,
            mask: None,
            xclose_mm: None,
            yclose_mm: None,
            phistep_deg: None,
            dmin_a: 0.0,
        }
    }
}

impl Params {
    /// The 4096² benchmark case of the upstream plans.
    pub fn benchmark(size: usize) -> Params {
        Params {
            cell: [100.0, 100.0, 100.0, 90.0, 90.0, 90.0],
            lambda_a: 6.2,
            distance_mm: 100.0,
            n: [5, 5, 5],
            default_f: 100.0,
            fpixels: size,
            spixels: size,
            ..Params::default()
        }
    }

    /// Refuse what cannot be simulated, before any allocation.
    pub fn validate(&self) -> Result<()> {
        self.check_values()?;
        self.check_placement()?;
        self.check_workload()
    }

    /// Each value in its range: positive lengths, angles of a cell, at most MAX_* of anything.
    fn check_values(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        let [a, b, c, al, be, ga] = self.cell;
        if !(a > 0.0 && b > 0.0 && c > 0.0) || [a, b, c].iter().any(|x| !x.is_finite()) {
            return bad(format!("--cell: lengths must be positive, got {a} {b} {c}"));
        }
        if [al, be, ga].iter().any(|x| !(*x > 0.0 && *x < 180.0)) {
            return bad(format!("--cell: angles must be between 0 and 180 degrees, got {al} {be} {ga}"));
        }
        if !(self.lambda_a > 0.0 && self.lambda_a.is_finite()) {
            return bad(format!("--lambda must be positive, got {}", self.lambda_a));
        }
        if self.distance_mm.is_nan() || self.distance_mm <= 0.0 || self.pixel_mm.is_nan() || self.pixel_mm <= 0.0 {
            return bad(format!(
                "--distance and --pixel must be positive, got {} and {}",
                self.distance_mm, self.pixel_mm
            ));
        }
        if self.fpixels == 0 || self.spixels == 0 {
            return bad("--detpixels must be at least 1".into());
        }
        let pixels = self.fpixels as u64 * self.spixels as u64;
        if pixels > MAX_PIXELS {
            return bad(format!(
                "{}x{} pixels is {:.1} GiB of image; the limit is {} pixels",
                self.fpixels,
                self.spixels,
                pixels as f64 * 8.0 / (1u64 << 30) as f64,
                MAX_PIXELS
            ));
        }
        if self.n.contains(&0) {
            return bad("--N/--Na/--Nb/--Nc must be at least 1".into());
        }
        if self.oversample == Some(0) {
            return bad("--oversample must be at least 1".into());
        }
        if self.oversample.is_some_and(|o| o > MAX_OVERSAMPLE) {
            return bad(format!(
                "--oversample {} is more than {MAX_OVERSAMPLE} subpixels per side",
                self.oversample.unwrap_or(0)
            ));
        }
        for (name, v) in [
            ("phisteps", self.phisteps),
            ("mosaic_dom", self.mosaic_domains),
            ("dispsteps", self.dispsteps),
            ("divsteps", self.divsteps),
            ("detector_thicksteps", self.detector_thicksteps),
        ] {
            if v.is_some_and(|v| v > MAX_STEPS) {
                return bad(format!("--{name} {} is more than {MAX_STEPS} steps", v.unwrap_or(0)));
            }
        }
        if self.hkl.is_none() && self.default_f == 0.0 && self.water_um == 0.0 {
            return bad("nothing to scatter: give --hkl FILE or a non-zero --default-F".into());
        }
        if !(self.detector_thick_um >= 0.0 && self.detector_thick_um.is_finite()) {
            return bad(format!("-detector_thick must be 0 or more µm, got {}", self.detector_thick_um));
        }
        if !(self.water_um >= 0.0 && self.water_um.is_finite()) {
            return bad(format!("-water must be 0 or more µm, got {}", self.water_um));
        }
        if !(0.0..=1.0).contains(&self.polar) {
            return bad(format!("--polar (Kahn factor) must be in [0, 1], got {}", self.polar));
        }
        Ok(())
    }

    /// The region of interest on the image, and a pivot that fits the beam centre given.
    fn check_placement(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        if let Some([x0, x1, y0, y1]) = self.roi {
            if x0 > x1 || y0 > y1 || x0 >= self.fpixels || y0 >= self.spixels {
                return bad(format!(
                    "-roi {x0} {x1} {y0} {y1} selects no pixel of the {}x{} image",
                    self.fpixels, self.spixels
                ));
            }
        }
        // In the custom convention -Xbeam/-Ybeam are the point nearest the sample too.
        let custom = self.convention == Convention::Custom;
        // Where the convention chose the pivot, nanoBragg ignores what does not fit it (the
        // reader warns); a pivot asked for explicitly (`--pivot`) must fit.
        if (self.orgx.is_some() || self.orgy.is_some()) && self.pivot == Some(Pivot::Beam) && !custom {
            return bad(
                "-ORGX/-ORGY place the sample pivot, but --pivot beam was asked for: drop it (or use -xds/-dials, where the sample pivots)"
                    .into(),
            );
        }
        if (self.xbeam_mm.is_some() || self.ybeam_mm.is_some()) && self.pivot == Some(Pivot::Sample) && !custom {
            return bad(
                "-Xbeam/-Ybeam place the beam pivot, but --pivot sample was asked for: give -ORGX/-ORGY (or drop --pivot)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Orientations and sources are held in memory: a million of each at most, and a bound on
    /// the steps per pixel.
    fn check_workload(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        let orientations = self.phisteps.unwrap_or(1).max(1) as u64 * self.mosaic_domains.unwrap_or(1).max(1) as u64;
        let div = |axis: Option<u32>| axis.or(self.divsteps).unwrap_or(1).max(1) as u64;
        let sources = self.dispsteps.unwrap_or(1).max(1) as u64 * div(self.hdivsteps) * div(self.vdivsteps);
        if orientations > 1_000_000 || sources > 1_000_000 {
            return bad(format!(
                "{orientations} orientations (phi × mosaic) and {sources} sources (dispersion × divergence²): at most a million of each"
            ));
        }
        let steps = self.phisteps.unwrap_or(1) as u64 * self.mosaic_domains.unwrap_or(1).max(1) as u64 * sources;
        if steps > 100_000_000 {
            return bad(format!("{steps} phi × mosaic × source steps per pixel is more than this tool will run"));
        }
        Ok(())
    }
}

/// What to write, and how to scale it (nanoBragg's `-floatfile -intfile -noisefile -pgmfile
/// -scale -pgmscale -adc -seed`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outputs {
    pub floatfile: Option<PathBuf>,
    pub intfile: Option<PathBuf>,
    pub noisefile: Option<PathBuf>,
    pub pgmfile: Option<PathBuf>,
    /// Counts per photon in the int file; 0: 55000 / the brightest pixel.
    pub scale: f64,
    /// Grey levels per photon in the PGM; 0: 250 / (5 · rmsd).
    pub pgmscale: f64,
    /// Added to every pixel of the SMV images.
    pub adc: f64,
    /// Noise seed; None: the clock, as nanoBragg.
    pub seed: Option<i64>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs { adc: 40.0, ..Default::default() }
    }

    pub fn any(&self) -> bool {
        self.floatfile.is_some() || self.intfile.is_some() || self.noisefile.is_some() || self.pgmfile.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_before_allocating() {
        type Case = (fn(&mut Params), &'static str);
        let cases: [Case; 5] = [
            (|p| p.cell[0] = -1.0, "--cell"),
            (|p| p.lambda_a = 0.0, "--lambda"),
            (|p| p.fpixels = 0, "--detpixels"),
            (|p| (p.fpixels, p.spixels) = (1 << 20, 1 << 20), "GiB"),
            (|p| p.default_f = 0.0, "--hkl"),
        ];
        for (f, want) in cases {
            let mut p = Params::benchmark(64);
            f(&mut p);
            let e = p.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(Params::benchmark(64).validate().is_ok());
    }
}
