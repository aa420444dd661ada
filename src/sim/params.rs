//! Simulation parameters, in nanoBragg's units at the edge (Å, mm, degrees, mrad, %) and checked
//! before anything is allocated. `from_nb_args` reads a nanoBragg command line verbatim.

use std::path::PathBuf;

use crate::error::{Error, Result};

named_enum!(
    /// Crystal shape model for the lattice factor.
    Shape { Square = "square", Round = "round", Gauss = "gauss" | "gaussian", Tophat = "tophat" }
);

named_enum!(
    /// A detector convention: which lab axes the beam and detector follow and what the beam
    /// centre means (nanoBragg's `-mosflm -xds -adxv -dials -denzo`).
    Convention { Mosflm = "mosflm", Xds = "xds", Adxv = "adxv", Dials = "dials", Denzo = "denzo" }
);

impl Convention {
    /// The pivot nanoBragg uses with this convention.
    pub fn pivot(self) -> Pivot {
        match self {
            Convention::Xds | Convention::Dials => Pivot::Sample,
            _ => Pivot::Beam,
        }
    }
}

named_enum!(
    /// The detector point that stays fixed when the detector rotates.
    Pivot { Beam = "beam", Sample = "sample" }
);

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
    /// nanoBragg always uses (it resets any pivot its options chose); `-pivot` is honoured here.
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
    pub outputs: super::output::Outputs,
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
            outputs: super::output::Outputs::new(),
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
        ] {
            if v.is_some_and(|v| v > MAX_STEPS) {
                return bad(format!("--{name} {} is more than {MAX_STEPS} steps", v.unwrap_or(0)));
            }
        }
        if self.hkl.is_none() && self.default_f == 0.0 {
            return bad("nothing to scatter: give --hkl FILE or a non-zero --default-F".into());
        }
        if !(0.0..=1.0).contains(&self.polar) {
            return bad(format!("--polar (Kahn factor) must be in [0, 1], got {}", self.polar));
        }
        // Orientations and sources are held in memory: a million of each at most.
        if let Some([x0, x1, y0, y1]) = self.roi {
            if x0 > x1 || y0 > y1 || x0 >= self.fpixels || y0 >= self.spixels {
                return bad(format!(
                    "-roi {x0} {x1} {y0} {y1} selects no pixel of the {}x{} image",
                    self.fpixels, self.spixels
                ));
            }
        }
        let pivot = self.pivot.unwrap_or(self.convention.pivot());
        if (self.orgx.is_some() || self.orgy.is_some()) && pivot != Pivot::Sample {
            return bad(
                "-ORGX/-ORGY place the sample pivot: give -pivot sample (or -xds/-dials, where the sample pivots)"
                    .into(),
            );
        }
        if (self.xbeam_mm.is_some() || self.ybeam_mm.is_some()) && pivot == Pivot::Sample {
            return bad(
                "-Xbeam/-Ybeam place the beam pivot, but the sample pivots here: give -ORGX/-ORGY (or -pivot beam)"
                    .into(),
            );
        }
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

    /// Read a nanoBragg command line (`-default_F 100 -cell 100 100 100 90 90 90 -N 5 ...`),
    /// output options included; an option this simulator does not implement is refused by name.
    pub fn from_nb_args(args: &str) -> Result<Params> {
        let words: Vec<&str> = args.split_whitespace().collect();
        let mut p = Params::default();
        let mut i = 0;
        // Options that combine with others once all are read (nanoBragg's units: mm, s).
        let (mut detsize_mm, mut detpixels_given) = (None::<f64>, false);
        let (mut flux, mut exposure, mut beamsize_mm, mut xtalsize_mm) = (0.0, 1.0, 0.1, None::<f64>);
        let (mut random_misset, mut misset_seed) = (false, None::<i64>);
        let err = |m: String| Error::Usage(format!("--nb-args: {m}"));
        while i < words.len() {
            let flag = words[i];
            let take = |k: usize| -> Result<Vec<f64>> {
                words
                    .get(i + 1..i + 1 + k)
                    .ok_or_else(|| err(format!("{flag} needs {k} value(s)")))?
                    .iter()
                    .map(|w| w.parse::<f64>().map_err(|_| err(format!("{flag}: `{w}` is not a number"))))
                    .collect()
            };
            let n = match flag {
                "-cell" => {
                    let v = take(6)?;
                    p.cell.copy_from_slice(&v);
                    6
                }
                "-lambda" | "-wave" => {
                    p.lambda_a = take(1)?[0];
                    1
                }
                "-energy" => {
                    p.lambda_a = 12398.42 / take(1)?[0];
                    1
                }
                "-distance" => {
                    p.distance_mm = take(1)?[0];
                    1
                }
                "-twotheta" => {
                    p.twotheta_deg = take(1)?[0];
                    1
                }
                "-detector_rotx" | "-detector_roty" | "-detector_rotz" => {
                    let k = match flag {
                        "-detector_rotx" => 0,
                        "-detector_roty" => 1,
                        _ => 2,
                    };
                    p.detector_rot_deg[k] = take(1)?[0];
                    1
                }
                "-pivot" => {
                    let w = words.get(i + 1).ok_or_else(|| err("-pivot needs beam or sample".into()))?;
                    p.pivot = Some(w.parse().map_err(|e: String| err(format!("-pivot {e}")))?);
                    1
                }
                "-ORGX" | "-ORGY" => {
                    let v = Some(take(1)?[0]);
                    if flag == "-ORGX" {
                        p.orgx = v;
                    } else {
                        p.orgy = v;
                    }
                    1
                }
                "-pixel" => {
                    p.pixel_mm = take(1)?[0];
                    1
                }
                "-detpixels" => {
                    detpixels_given = true;
                    let v = take(1)?[0] as usize;
                    p.fpixels = v;
                    p.spixels = v;
                    1
                }
                "-detpixels_f" | "-detpixels_x" => {
                    detpixels_given = true;
                    p.fpixels = take(1)?[0] as usize;
                    1
                }
                "-detpixels_s" | "-detpixels_y" => {
                    detpixels_given = true;
                    p.spixels = take(1)?[0] as usize;
                    1
                }
                "-N" => {
                    let v = take(1)?[0] as u32;
                    p.n = [v; 3];
                    1
                }
                "-Na" | "-Nb" | "-Nc" => {
                    let k = match flag {
                        "-Na" => 0,
                        "-Nb" => 1,
                        _ => 2,
                    };
                    p.n[k] = take(1)?[0] as u32;
                    1
                }
                "-default_F" => {
                    p.default_f = take(1)?[0];
                    1
                }
                "-hkl" => {
                    p.hkl = Some(PathBuf::from(words.get(i + 1).ok_or_else(|| err("-hkl needs a file".into()))?));
                    1
                }
                "-oversample" => {
                    p.oversample = Some(take(1)?[0] as u32);
                    1
                }
                "-phi" => {
                    p.phi_deg = take(1)?[0];
                    1
                }
                "-osc" => {
                    p.osc_deg = Some(take(1)?[0]);
                    1
                }
                "-phisteps" => {
                    p.phisteps = Some(take(1)?[0] as u32);
                    1
                }
                "-mosaic" | "-mosaic_spread" | "-mosaicity" => {
                    p.mosaic_deg = take(1)?[0];
                    1
                }
                "-mosaic_dom" | "-mosaic_domains" => {
                    p.mosaic_domains = Some(take(1)?[0] as u32);
                    1
                }
                "-mosaic_seed" => {
                    p.mosaic_seed = take(1)?[0] as i64;
                    1
                }
                "-misset" if words.get(i + 1).is_some_and(|w| w.contains("rand")) => {
                    random_misset = true;
                    1
                }
                "-misset" => {
                    let v = take(3)?;
                    p.misset_deg.copy_from_slice(&v);
                    random_misset = false;
                    3
                }
                "-misset_seed" => {
                    let v = take(1)?[0];
                    if v.fract() != 0.0 || v.abs() > i32::MAX as f64 {
                        return Err(err(format!("-misset_seed {v}: expected a whole number")));
                    }
                    misset_seed = Some(v as i64);
                    1
                }
                "-dispersion" => {
                    p.dispersion_pct = take(1)?[0];
                    1
                }
                "-dispsteps" => {
                    p.dispsteps = Some(take(1)?[0] as u32);
                    1
                }
                "-divergence" => {
                    p.divergence_mrad = take(1)?[0];
                    (p.hdiv_mrad, p.vdiv_mrad) = (None, None);
                    1
                }
                "-divsteps" => {
                    p.divsteps = Some(take(1)?[0] as u32);
                    (p.hdivsteps, p.vdivsteps) = (None, None);
                    1
                }
                "-polar" => {
                    p.polar = take(1)?[0];
                    1
                }
                "-nopolar" => {
                    p.nopolar = true;
                    0
                }
                "-fluence" => {
                    p.fluence = take(1)?[0];
                    1
                }
                "-Xbeam" => {
                    p.xbeam_mm = Some(take(1)?[0]);
                    1
                }
                "-Ybeam" => {
                    p.ybeam_mm = Some(take(1)?[0]);
                    1
                }
                "-round_xtal" => {
                    p.shape = Shape::Round;
                    0
                }
                "-square_xtal" => {
                    p.shape = Shape::Square;
                    0
                }
                "-gauss_xtal" => {
                    p.shape = Shape::Gauss;
                    0
                }
                "-tophat_spots" | "-binary_spots" => {
                    p.shape = Shape::Tophat;
                    0
                }
                "-fudge" => {
                    p.fudge = take(1)?[0];
                    1
                }
                "-interpolate" => {
                    p.interpolate = Some(true);
                    0
                }
                "-nointerpolate" => {
                    p.interpolate = Some(false);
                    0
                }
                "-point_pixel" => {
                    p.point_pixel = true;
                    0
                }
                "-mosflm" | "-xds" | "-adxv" | "-dials" | "-denzo" => {
                    p.convention = flag[1..].parse().map_err(err)?;
                    0
                }
                // loop writes only the files named; these switch nanoBragg's default files off.
                "-nonoise" | "-nopgm" => 0,
                "-floatfile" | "-floatimage" | "-intfile" | "-intimage" | "-noisefile" | "-noiseimage" | "-pgmfile"
                | "-pgmimage" => {
                    let path = PathBuf::from(words.get(i + 1).ok_or_else(|| err(format!("{flag} needs a file name")))?);
                    let o = &mut p.outputs;
                    let slot = match flag {
                        "-floatfile" | "-floatimage" => &mut o.floatfile,
                        "-intfile" | "-intimage" => &mut o.intfile,
                        "-noisefile" | "-noiseimage" => &mut o.noisefile,
                        _ => &mut o.pgmfile,
                    };
                    *slot = Some(path);
                    1
                }
                "-detsize" => {
                    detsize_mm = Some(take(1)?[0]);
                    1
                }
                "-flux" => {
                    flux = take(1)?[0];
                    1
                }
                "-exposure" => {
                    exposure = take(1)?[0];
                    1
                }
                "-beamsize" => {
                    beamsize_mm = take(1)?[0];
                    1
                }
                "-xtalsize" | "-xtal_size" => {
                    xtalsize_mm = Some(take(1)?[0]);
                    1
                }
                "-hdivrange" | "-vdivrange" => {
                    let v = Some(take(1)?[0]);
                    if flag == "-hdivrange" {
                        p.hdiv_mrad = v;
                    } else {
                        p.vdiv_mrad = v;
                    }
                    1
                }
                "-hdivsteps" | "-vdivsteps" => {
                    let v = Some(take(1)?[0] as u32);
                    if flag == "-hdivsteps" {
                        p.hdivsteps = v;
                    } else {
                        p.vdivsteps = v;
                    }
                    1
                }
                "-square_div" | "-round_div" => {
                    p.square_div = flag == "-square_div";
                    0
                }
                "-roi" => {
                    let v = take(4)?;
                    if v.iter().any(|x| *x < 0.0 || x.fract() != 0.0) || v[0] > v[1] || v[2] > v[3] {
                        return Err(err(format!("-roi {v:?}: expected pixel indices xmin xmax ymin ymax, min ≤ max")));
                    }
                    p.roi = Some([v[0] as usize, v[1] as usize, v[2] as usize, v[3] as usize]);
                    4
                }
                "-scale" => {
                    p.outputs.scale = take(1)?[0];
                    1
                }
                "-pgmscale" => {
                    p.outputs.pgmscale = take(1)?[0];
                    1
                }
                "-adc" => {
                    p.outputs.adc = take(1)?[0];
                    1
                }
                "-seed" => {
                    let v = take(1)?[0];
                    if v.fract() != 0.0 || v.abs() > i32::MAX as f64 {
                        return Err(err(format!("-seed {v}: expected a whole number")));
                    }
                    p.outputs.seed = Some(v as i64);
                    1
                }
                other => return Err(err(format!("unsupported nanoBragg option `{other}`"))),
            };
            i += 1 + n;
        }
        if random_misset {
            // nanoBragg's random orientation: a "90" (radian) spherical-cap rotation from the
            // misset seed (default: the clock; the C takes it before reading -seed), turned into
            // x, y, z misset angles.
            let seed = misset_seed.unwrap_or_else(super::clock_seed);
            let u = super::geometry::mosaic_rotation(90.0, &mut super::geometry::Ran1::new(seed));
            p.misset_deg = super::geometry::umat_to_misset(&u).map(f64::to_degrees);
        }
        if let (Some(d), false) = (detsize_mm, detpixels_given) {
            // nanoBragg rounds the detector to whole pixels: ceil(size/pixel − ½).
            let n = (d / p.pixel_mm - 0.5).ceil().max(1.0);
            if !n.is_finite() || n > 1e6 {
                return Err(err(format!("-detsize {d}: {n} pixels per side is too many")));
            }
            (p.fpixels, p.spixels) = (n as usize, n as usize);
        }
        if flux != 0.0 && exposure > 0.0 && beamsize_mm >= 0.0 {
            let b = beamsize_mm / 1000.0;
            p.fluence = flux * exposure / b / b;
        }
        if let Some(x) = xtalsize_mm {
            // A crystal of this size (mm) in unit cells, the beam clipping its height and width.
            let b = beamsize_mm;
            let sizes = [x, if b >= 0.0 { x.min(b) } else { x }, if b >= 0.0 { x.min(b) } else { x }];
            let (axes, _) = super::geometry::cell_axes(&p);
            for d in 0..3 {
                let len_mm = super::geometry::norm(axes[d]) * 1e-7;
                p.n[d] = ((sizes[d] / len_mm).ceil().max(1.0)).min(u32::MAX as f64) as u32;
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_benchmark_command_line() {
        let p = Params::from_nb_args(
            "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 4096",
        )
        .unwrap();
        assert_eq!(p.n, [5, 5, 5]);
        assert_eq!((p.fpixels, p.lambda_a, p.default_f), (4096, 6.2, 100.0));
        assert!(Params::from_nb_args("-cell 1 2").is_err());
        assert!(Params::from_nb_args("-frobnicate").is_err());
    }

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
