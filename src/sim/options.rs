//! The one table of simulator options. Each row names an option's nanoBragg spellings, its long
//! option, its values, unit and help, and how it sets `Params`; the `--nb-args` reader, the
//! `loop sim run` long options and their help text are all made from it. Options nanoBragg reads
//! and never puts in its image are rows too: read, and ignored with a warning that says so.

use std::path::{Path, PathBuf};

use super::geometry::V3;
use super::params::{Convention, Mask, Params, Pivot, Shape};
use crate::error::{Error, Result};

/// What follows an option on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A switch.
    Flag,
    /// This many numbers.
    Numbers(usize),
    /// One word (a file, a name), shown as this.
    Word(&'static str),
    /// One keyword or this many numbers (`-misset random` or `-misset 10 20 30`).
    KeywordOr(&'static str, usize),
}

impl Value {
    /// Value names for help text.
    pub fn names(self, long: &str) -> Vec<String> {
        match self {
            Value::Flag => vec![],
            Value::Word(w) => vec![w.to_string()],
            Value::Numbers(1) | Value::KeywordOr(_, 1) => vec![long.to_uppercase().replace('-', "_")],
            Value::Numbers(n) | Value::KeywordOr(_, n) => (1..=n).map(|i| format!("V{i}")).collect(),
        }
    }
}

type Apply = fn(&mut Reader, &[&str]) -> std::result::Result<(), String>;

pub struct Opt {
    /// nanoBragg's spellings; empty for options only this tool has.
    pub nb: &'static [&'static str],
    /// The long option of `loop sim run` (without `--`); empty when there is none.
    pub long: &'static str,
    pub value: Value,
    /// Unit of the values ("" when they have none).
    pub unit: &'static str,
    pub help: &'static str,
    /// None: read and ignored, as nanoBragg ignores it; `help` says why.
    apply: Option<Apply>,
}

impl Opt {
    pub fn supported(&self) -> bool {
        self.apply.is_some()
    }

    /// Help text, capitalized, with the unit.
    pub fn help_text(&self) -> String {
        let mut h = self.help.to_string();
        if let Some(c) = h.get(..1) {
            h.replace_range(..1, &c.to_uppercase());
        }
        if self.unit.is_empty() {
            h
        } else {
            format!("{h} [{}]", self.unit)
        }
    }
}

/// Options that combine with others once all are read, and state nanoBragg keeps while reading.
pub struct Reader {
    pub p: Params,
    detsize_mm: [Option<f64>; 2],
    detpixels_given: bool,
    flux: f64,
    exposure: f64,
    beamsize_mm: f64,
    /// Crystal size along x, y, z (mm): sets N where given.
    xtalsize_mm: [Option<f64>; 3],
    random_misset: bool,
    misset_seed: Option<i64>,
    cell_given: bool,
    /// The last pivot an option implied (nanoBragg's rule, used by the custom convention).
    implied_pivot: Pivot,
    /// -nonoise/-nopgm in force (nanoBragg's calculate_noise and write_pgm, off).
    noise_off: bool,
    pgm_off: bool,
    /// Beam centre (mm) and XDS origin (pixels) from an -img/-mask header, used where the
    /// pivot gives them a meaning and no option set them.
    header_beam: [Option<f64>; 2],
    header_org: [Option<f64>; 2],
    /// Reading nanoBragg spellings (`--nb-args`), whose meaning is the C's.
    reading_nb: bool,
    /// The explicit pivot came from a nanoBragg spelling (`-pivot`).
    pivot_by_nb: bool,
    /// What nanoBragg ignores or overrides of what the command line asks, one line a case.
    pub warnings: Vec<String>,
}

fn num(w: &str) -> std::result::Result<f64, String> {
    w.parse::<f64>().map_err(|_| format!("`{w}` is not a number"))
}

fn whole(w: &str) -> std::result::Result<u32, String> {
    let v = num(w)?;
    if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
        return Err(format!("`{w}`: expected a whole number"));
    }
    Ok(v as u32)
}

fn seed(w: &str) -> std::result::Result<i64, String> {
    let v = num(w)?;
    if v.fract() != 0.0 || v.abs() > i32::MAX as f64 {
        return Err(format!("`{w}`: expected a whole number"));
    }
    Ok(v as i64)
}

fn vec3(v: &[&str]) -> std::result::Result<V3, String> {
    Ok([num(v[0])?, num(v[1])?, num(v[2])?])
}

fn custom(r: &mut Reader) -> &mut super::params::Vectors {
    r.p.convention = Convention::Custom;
    &mut r.p.vectors
}

macro_rules! opt {
    ($nb:expr, $long:expr, $value:expr, $unit:expr, $help:expr, $apply:expr) => {
        Opt { nb: $nb, long: $long, value: $value, unit: $unit, help: $help, apply: Some($apply) }
    };
}

macro_rules! ignored {
    ($nb:expr, $value:expr, $why:expr) => {
        Opt { nb: $nb, long: "", value: $value, unit: "", help: $why, apply: None }
    };
}

/// A row whose one number sets a field (`Some` for an optional one).
macro_rules! number {
    ($nb:expr, $long:expr, $unit:expr, $help:expr, Some $($f:ident).+) => {
        opt!($nb, $long, Numbers(1), $unit, $help, |r, v| {
            r.p.$($f).+ = Some(num(v[0])?);
            Ok(())
        })
    };
    ($nb:expr, $long:expr, $unit:expr, $help:expr, $($f:ident).+) => {
        opt!($nb, $long, Numbers(1), $unit, $help, |r, v| {
            r.p.$($f).+ = num(v[0])?;
            Ok(())
        })
    };
}

/// A row whose one whole number sets an optional count.
macro_rules! count {
    ($nb:expr, $long:expr, $unit:expr, $help:expr, $($f:ident).+) => {
        opt!($nb, $long, Numbers(1), $unit, $help, |r, v| {
            r.p.$($f).+ = Some(whole(v[0])?);
            Ok(())
        })
    };
}

/// A switch that sets a field to a value.
macro_rules! switch {
    ($nb:expr, $long:expr, $help:expr, $($f:ident).+ = $value:expr) => {
        opt!($nb, $long, Flag, "", $help, |r, _| {
            r.p.$($f).+ = $value;
            Ok(())
        })
    };
}

/// A lab vector of the custom convention.
macro_rules! vector {
    ($nb:expr, $long:expr, $help:expr, $f:ident) => {
        opt!($nb, $long, Numbers(3), "", $help, |r, v| {
            custom(r).$f = Some(vec3(v)?);
            Ok(())
        })
    };
}

use Value::{Flag, KeywordOr, Numbers, Word};

/// Every option, in the order of nanoBragg's usage text where it has one.
pub const OPTIONS: &[Opt] = &[
    opt!(&["-mat"], "mat", Word("FILE"), "", "MOSFLM orientation matrix: a*, b*, c* as columns, times the wavelength", |r, v| {
        r.p.mat = Some(read_mat(Path::new(v[0])).map_err(|e| e.to_string())?);
        Ok(())
    }),
    opt!(&["-hkl"], "hkl", Word("FILE"), "", "structure factors, `h k l F` per line", |r, v| {
        r.p.hkl = Some(PathBuf::from(v[0]));
        Ok(())
    }),
    opt!(&["-misset"], "misset", KeywordOr("random", 3), "degrees", "crystal rotation about x, y, z, or `random` (see -misset_seed)", |r, v| {
        if v.len() == 1 {
            r.random_misset = true;
        } else {
            r.p.misset_deg = vec3(v)?;
            r.random_misset = false;
        }
        Ok(())
    }),
    opt!(&["-cell"], "cell", Numbers(6), "Å, degrees", "unit cell a b c alpha beta gamma", |r, v| {
        for (c, w) in r.p.cell.iter_mut().zip(v) {
            *c = num(w)?;
        }
        r.cell_given = true;
        Ok(())
    }),
    number!(&["-default_F"], "default-F", "electrons", "structure factor of every reflection not in the HKL file", default_f),
    opt!(&["-distance"], "distance", Numbers(1), "mm", "sample to detector along the beam", |r, v| {
        r.p.distance_mm = num(v[0])?;
        r.implied_pivot = Pivot::Beam;
        Ok(())
    }),
    opt!(&["-close_distance"], "close-distance", Numbers(1), "mm", "sample to the detector plane along its normal (the sample pivots)", |r, v| {
        r.p.close_distance_mm = Some(num(v[0])?);
        r.implied_pivot = Pivot::Sample;
        Ok(())
    }),
    opt!(&["-detsize"], "detsize", Numbers(1), "mm", "detector width and height (whole pixels)", |r, v| {
        r.detsize_mm = [Some(num(v[0])?); 2];
        Ok(())
    }),
    opt!(&["-detsize_f"], "detsize-f", Numbers(1), "mm", "detector width along the fast axis", |r, v| {
        r.detsize_mm[0] = Some(num(v[0])?);
        Ok(())
    }),
    opt!(&["-detsize_s"], "detsize-s", Numbers(1), "mm", "detector height along the slow axis", |r, v| {
        r.detsize_mm[1] = Some(num(v[0])?);
        Ok(())
    }),
    opt!(&["-detpixels"], "detpixels", Numbers(1), "pixels", "detector pixels per side", |r, v| {
        let n = whole(v[0])? as usize;
        (r.p.fpixels, r.p.spixels, r.detpixels_given) = (n, n, true);
        Ok(())
    }),
    opt!(&["-detpixels_f", "-detpixels_x"], "detpixels-f", Numbers(1), "pixels", "detector pixels along the fast axis", |r, v| {
        (r.p.fpixels, r.detpixels_given) = (whole(v[0])? as usize, true);
        Ok(())
    }),
    opt!(&["-detpixels_s", "-detpixels_y"], "detpixels-s", Numbers(1), "pixels", "detector pixels along the slow axis", |r, v| {
        (r.p.spixels, r.detpixels_given) = (whole(v[0])? as usize, true);
        Ok(())
    }),
    number!(&["-pixel"], "pixel", "mm", "pixel size", pixel_mm),
    // -img and -mask are read before any other option, as nanoBragg does (Reader::read): the
    // detector from the image's header, and the mask's pixels.
    opt!(&["-img"], "img", Word("FILE"), "", "SMV image whose header gives the detector: size, pixel, distance, wavelength, beam centre, phi, osc (other options override)", |_, _| Ok(())),
    opt!(&["-mask"], "mask", Word("FILE"), "", "SMV image: its header as -img, and pixels that are 0 in it are not simulated (left 0)", |_, _| Ok(())),
    opt!(&["-detector_absorb", "-detector_abs"], "detector-absorb", Word("DEPTH"), "µm", "attenuation depth of the sensor (`inf` or 0: no absorption, no thickness)", |r, v| {
        if v[0].contains("inf") || num(v[0]).is_ok_and(|x| x == 0.0) {
            (r.p.detector_thick_um, r.p.detector_mu) = (0.0, Some(0.0));
        } else {
            r.p.detector_mu = Some(1.0 / (num(v[0])? * 1e-6));
        }
        Ok(())
    }),
    number!(&["-detector_thick"], "detector-thick", "µm", "sensor thickness", detector_thick_um),
    count!(&["-detector_thicksteps", "-thicksteps"], "detector-thicksteps", "layers", "sensor layers (default 2 when a thickness is given)", detector_thicksteps),
    opt!(&["-Xbeam"], "Xbeam", Numbers(1), "mm", "beam centre, the convention's X", |r, v| {
        r.p.xbeam_mm = Some(num(v[0])?);
        r.implied_pivot = Pivot::Beam;
        Ok(())
    }),
    opt!(&["-Ybeam"], "Ybeam", Numbers(1), "mm", "beam centre, the convention's Y", |r, v| {
        r.p.ybeam_mm = Some(num(v[0])?);
        r.implied_pivot = Pivot::Beam;
        Ok(())
    }),
    opt!(&["-mosflm", "-xds", "-adxv", "-dials", "-denzo"], "", Flag, "", "detector convention", |r, v| {
        r.p.convention = v[0].trim_start_matches('-').parse()?;
        Ok(())
    }),
    opt!(&[], "convention", Word("NAME"), "", "detector convention: mosflm, xds, adxv, dials, denzo or custom", |r, v| {
        r.p.convention = v[0].parse()?;
        Ok(())
    }),
    opt!(&["-ORGX"], "ORGX", Numbers(1), "pixels", "XDS origin along the fast axis (the sample pivots)", |r, v| {
        r.p.orgx = Some(num(v[0])?);
        r.implied_pivot = Pivot::Sample;
        Ok(())
    }),
    opt!(&["-ORGY"], "ORGY", Numbers(1), "pixels", "XDS origin along the slow axis (the sample pivots)", |r, v| {
        r.p.orgy = Some(num(v[0])?);
        r.implied_pivot = Pivot::Sample;
        Ok(())
    }),
    opt!(&["-pivot"], "pivot", Word("beam|sample"), "", "what stays put when the detector rotates", |r, v| {
        let p: Pivot = v[0].parse()?;
        (r.p.pivot, r.implied_pivot, r.pivot_by_nb) = (Some(p), p, r.reading_nb);
        Ok(())
    }),
    number!(&["-twotheta"], "twotheta", "degrees", "detector swing about the two-theta axis", twotheta_deg),
    opt!(&["-detector_rotx"], "detector-rotx", Numbers(1), "degrees", "detector rotation about x (first)", |r, v| {
        r.p.detector_rot_deg[0] = num(v[0])?;
        Ok(())
    }),
    opt!(&["-detector_roty"], "detector-roty", Numbers(1), "degrees", "detector rotation about y (second)", |r, v| {
        r.p.detector_rot_deg[1] = num(v[0])?;
        Ok(())
    }),
    opt!(&["-detector_rotz"], "detector-rotz", Numbers(1), "degrees", "detector rotation about z (third)", |r, v| {
        r.p.detector_rot_deg[2] = num(v[0])?;
        Ok(())
    }),
    opt!(&["-N"], "N", Numbers(1), "cells", "unit cells along each crystal axis", |r, v| {
        r.p.n = [whole(v[0])?; 3];
        Ok(())
    }),
    opt!(&["-Na"], "Na", Numbers(1), "cells", "unit cells along a", |r, v| {
        r.p.n[0] = whole(v[0])?;
        Ok(())
    }),
    opt!(&["-Nb"], "Nb", Numbers(1), "cells", "unit cells along b", |r, v| {
        r.p.n[1] = whole(v[0])?;
        Ok(())
    }),
    opt!(&["-Nc"], "Nc", Numbers(1), "cells", "unit cells along c", |r, v| {
        r.p.n[2] = whole(v[0])?;
        Ok(())
    }),
    opt!(&["-xtalsize", "-xtal_size", "-sample_size", "-samplesize"], "xtalsize", Numbers(1), "mm", "crystal size, sets N (the beam clips its height and width)", |r, v| {
        r.xtalsize_mm = [Some(num(v[0])?); 3];
        Ok(())
    }),
    opt!(&["-xtal_thick", "-xtal_x", "-sample_thick", "-sample_x"], "xtal-x", Numbers(1), "mm", "crystal size along x (sets Na)", |r, v| {
        r.xtalsize_mm[0] = Some(num(v[0])?);
        Ok(())
    }),
    opt!(&["-xtal_width", "-xtal_y", "-sample_width", "-sample_y", "-width"], "xtal-y", Numbers(1), "mm", "crystal size along y (sets Nb; the beam clips it)", |r, v| {
        r.xtalsize_mm[1] = Some(num(v[0])?);
        Ok(())
    }),
    opt!(&["-xtal_height", "-xtal_z", "-sample_height", "-sample_z", "-height"], "xtal-z", Numbers(1), "mm", "crystal size along z (sets Nc; the beam clips it)", |r, v| {
        r.xtalsize_mm[2] = Some(num(v[0])?);
        Ok(())
    }),
    switch!(&["-square_xtal"], "", "parallelepiped crystal (sincg lattice factor)", shape = Shape::Square),
    switch!(&["-round_xtal"], "", "spherical crystal", shape = Shape::Round),
    switch!(&["-gauss_xtal"], "", "Gaussian spots", shape = Shape::Gauss),
    switch!(&["-tophat_spots", "-binary_spots"], "", "flat-top spots", shape = Shape::Tophat),
    opt!(&[], "shape", Word("square|round|gauss|tophat"), "", "crystal shape for the lattice factor", |r, v| {
        r.p.shape = v[0].parse()?;
        Ok(())
    }),
    number!(&["-fudge"], "fudge", "", "spot-size fudge factor of the round, gauss and tophat shapes", fudge),
    count!(&["-oversample"], "oversample", "subpixels", "subpixels per pixel side (default: from crystal size)", oversample),
    switch!(&["-oversample_thick"], "oversample-thick", "absorption per subpixel, multiplied into the running sum as nanoBragg does", oversample_thick = true),
    switch!(&["-oversample_polar"], "oversample-polar", "polarization per subpixel, multiplied into the running sum as nanoBragg does", oversample_polar = true),
    switch!(&["-oversample_omega"], "oversample-omega", "solid angle per subpixel, multiplied into the running sum as nanoBragg does", oversample_omega = true),
    number!(&["-lambda", "-wave"], "lambda", "Å", "wavelength", lambda_a),
    opt!(&["-energy"], "energy", Numbers(1), "eV", "photon energy (sets the wavelength)", |r, v| {
        r.p.lambda_a = 12398.42 / num(v[0])?;
        Ok(())
    }),
    number!(&["-mosaic", "-mosaic_spread", "-mosaicity"], "mosaic", "degrees", "mosaic spread", mosaic_deg),
    count!(&["-mosaic_domains", "-mosaic_dom"], "mosaic-dom", "domains", "mosaic domains (default 10 with a spread)", mosaic_domains),
    number!(&["-dispersion"], "dispersion", "%", "spectral dispersion", dispersion_pct),
    count!(&["-dispsteps"], "dispsteps", "wavelengths", "wavelengths across the dispersion", dispsteps),
    opt!(&["-divergence"], "divergence", Numbers(1), "mrad", "beam divergence, both directions", |r, v| {
        r.p.divergence_mrad = num(v[0])?;
        (r.p.hdiv_mrad, r.p.vdiv_mrad) = (None, None);
        Ok(())
    }),
    number!(&["-hdivrange"], "hdivrange", "mrad", "horizontal divergence", Some hdiv_mrad),
    number!(&["-vdivrange"], "vdivrange", "mrad", "vertical divergence", Some vdiv_mrad),
    number!(&["-hdivstep"], "hdivstep", "mrad", "horizontal divergence step", Some hdivstep_mrad),
    number!(&["-vdivstep"], "vdivstep", "mrad", "vertical divergence step", Some vdivstep_mrad),
    opt!(&["-divsteps"], "divsteps", Numbers(1), "steps", "divergence steps in each direction", |r, v| {
        r.p.divsteps = Some(whole(v[0])?);
        (r.p.hdivsteps, r.p.vdivsteps) = (None, None);
        Ok(())
    }),
    count!(&["-hdivsteps"], "hdivsteps", "steps", "horizontal divergence steps", hdivsteps),
    count!(&["-vdivsteps"], "vdivsteps", "steps", "vertical divergence steps", vdivsteps),
    switch!(&["-square_div"], "square-div", "the whole rectangular divergence grid", square_div = true),
    switch!(&["-round_div"], "round-div", "the divergence grid trimmed to an ellipse (default)", square_div = false),
    opt!(&["-sourcefile"], "sourcefile", Word("FILE"), "m", "sources, `X Y Z [weight [lambda]]` per line (replaces divergence and dispersion)", |r, v| {
        r.p.sources = Some(read_sources(Path::new(v[0])).map_err(|e| e.to_string())?);
        Ok(())
    }),
    number!(&["-phi"], "phi", "degrees", "starting spindle angle", phi_deg),
    number!(&["-osc"], "osc", "degrees", "oscillation range", Some osc_deg),
    number!(&["-phistep"], "phistep", "degrees", "phi step size (with -osc sets the number of steps)", Some phistep_deg),
    count!(&["-phisteps"], "phisteps", "steps", "phi steps across the oscillation", phisteps),
    opt!(&[], "phi-carryover", Word("spec|c-parity"), "", "phi step at exactly 0: spec (unrotated) or c-parity (nanoBragg's carry-over of the previous sample's last phi)", |r, v| {
        r.p.phi_carryover_c = match v[0] {
            "spec" => false,
            "c-parity" => true,
            w => return Err(format!("`{w}`: expected spec or c-parity")),
        };
        Ok(())
    }),
    number!(&["-water"], "water", "µm", "water droplet around the crystal (a flat background)", water_um),
    opt!(&["-floatfile", "-floatimage"], "floatfile", Word("FILE"), "", "raw float32 image", |r, v| {
        r.p.outputs.floatfile = Some(PathBuf::from(v[0]));
        Ok(())
    }),
    opt!(&["-intfile", "-intimage"], "intfile", Word("FILE"), "", "SMV image, noiseless, scaled by -scale plus -adc", |r, v| {
        r.p.outputs.intfile = Some(PathBuf::from(v[0]));
        Ok(())
    }),
    number!(&["-scale"], "scale", "counts/photon", "scale of the SMV images (default 55000 / brightest pixel)", outputs.scale),
    number!(&["-adc"], "adc", "counts", "offset added to the SMV images", outputs.adc),
    number!(&["-polar"], "polar", "", "Kahn polarization factor (0 unpolarized .. 1)", polar),
    opt!(&["-noisefile", "-noiseimage"], "noisefile", Word("FILE"), "", "SMV image with Poisson noise (see -seed)", |r, v| {
        (r.p.outputs.noisefile, r.noise_off) = (Some(PathBuf::from(v[0])), false);
        Ok(())
    }),
    opt!(&["-pgmfile", "-pgmimage"], "pgmfile", Word("FILE"), "", "8-bit PGM image", |r, v| {
        (r.p.outputs.pgmfile, r.pgm_off) = (Some(PathBuf::from(v[0])), false);
        Ok(())
    }),
    opt!(&["-pgmscale"], "pgmscale", Numbers(1), "levels/photon", "scale of the PGM (default from the image's spread)", |r, v| {
        (r.p.outputs.pgmscale, r.pgm_off) = (num(v[0])?, false);
        Ok(())
    }),
    // As in nanoBragg, these switch off a noise or PGM file named before them (one named after
    // them is written); this tool never writes nanoBragg's default file names.
    opt!(&["-nopgm"], "nopgm", Flag, "", "no PGM file, unless -pgmfile or -pgmscale follows", |r, _| {
        r.pgm_off = true;
        Ok(())
    }),
    opt!(&["-nonoise"], "nonoise", Flag, "", "no noise file, unless -noisefile follows", |r, _| {
        r.noise_off = true;
        Ok(())
    }),
    opt!(&["-noprogress", "-progress"], "", Flag, "", "progress meter (loop shows one only on a terminal)", |_, _| Ok(())),
    opt!(&["-roi"], "roi", Numbers(4), "pixels", "simulate only xmin xmax ymin ymax (inclusive); the rest is 0", |r, v| {
        let w = [whole(v[0])?, whole(v[1])?, whole(v[2])?, whole(v[3])?].map(|x| x as usize);
        if w[0] > w[1] || w[2] > w[3] {
            return Err(format!("{v:?}: expected xmin xmax ymin ymax, min ≤ max"));
        }
        r.p.roi = Some(w);
        Ok(())
    }),
    ignored!(&["-printout", "-printout_pixel", "-trace_pixel"], Flag, "per-pixel debug printing, which changes nothing in the image and is not done here; `loop compare` and `loop sim run --scalar` serve for checking"),
    opt!(&["-seed"], "seed", Numbers(1), "", "noise seed (default: the clock)", |r, v| {
        r.p.outputs.seed = Some(seed(v[0])?);
        Ok(())
    }),
    opt!(&["-mosaic_seed"], "mosaic-seed", Numbers(1), "", "seed of the mosaic domains", |r, v| {
        r.p.mosaic_seed = seed(v[0])?;
        Ok(())
    }),
    opt!(&["-misset_seed"], "misset-seed", Numbers(1), "", "seed of -misset random (default: the clock)", |r, v| {
        r.misset_seed = Some(seed(v[0])?);
        Ok(())
    }),
    number!(&["-fluence"], "fluence", "photons/m²", "integrated beam intensity", fluence),
    opt!(&["-flux"], "flux", Numbers(1), "photons/s", "beam flux (with -exposure and -beamsize sets the fluence)", |r, v| {
        r.flux = num(v[0])?;
        Ok(())
    }),
    opt!(&["-beamsize"], "beamsize", Numbers(1), "mm", "beam width and height", |r, v| {
        r.beamsize_mm = num(v[0])?;
        Ok(())
    }),
    opt!(&["-exposure"], "exposure", Numbers(1), "s", "exposure time", |r, v| {
        r.exposure = num(v[0])?;
        Ok(())
    }),
    switch!(&["-nopolar"], "nopolar", "no polarization factor", nopolar = true),
    switch!(&["-nointerpolate"], "nointerpolate", "nearest structure factor (default when every N > 2)", interpolate = Some(false)),
    switch!(&["-interpolate"], "interpolate", "tricubic interpolation of structure factors", interpolate = Some(true)),
    switch!(&["-point_pixel"], "point-pixel", "inverse-square solid angle, no obliquity", point_pixel = true),
    switch!(&["-curved_det"], "curved-det", "every pixel at the same distance from the sample", curved = true),
    vector!(&["-fdet_vector"], "fdet-vector", "fast detector axis (custom convention)", fdet),
    vector!(&["-sdet_vector"], "sdet-vector", "slow detector axis (custom convention)", sdet),
    vector!(&["-odet_vector"], "odet-vector", "detector normal, away from the sample (custom convention)", odet),
    vector!(&["-beam_vector"], "beam-vector", "beam direction (custom convention)", beam),
    vector!(&["-polar_vector"], "polar-vector", "E-vector of the beam's polarization (custom convention)", polar),
    vector!(&["-spindle_axis"], "spindle-axis", "right-handed phi axis (custom convention)", spindle),
    vector!(&["-twotheta_axis"], "twotheta-axis", "two-theta axis (custom convention)", twotheta),
    ignored!(&["-pix0_vector"], Numbers(3), "nanoBragg reads it but places the first pixel from the beam centre anyway; give -Xbeam/-Ybeam or -ORGX/-ORGY"),
    ignored!(&["-stol", "-stolout", "-4stol", "-Q"], Word("FILE"), "an amorphous-scattering table, which nanoBragg reads and never puts in the image (-water gives its flat background)"),
    opt!(&["-Xclose"], "Xclose", Numbers(1), "mm", "point nearest the sample along the fast axis, custom convention (the sample pivots)", |r, v| {
        r.p.xclose_mm = Some(num(v[0])?);
        r.implied_pivot = Pivot::Sample;
        Ok(())
    }),
    opt!(&["-Yclose"], "Yclose", Numbers(1), "mm", "point nearest the sample along the slow axis, custom convention (the sample pivots)", |r, v| {
        r.p.yclose_mm = Some(num(v[0])?);
        r.implied_pivot = Pivot::Sample;
        Ok(())
    }),
    number!(&["-dmin"], "dmin", "Å", "resolution cut-off: a source's light is skipped where it diffracts beyond it", dmin_a),
    ignored!(&["-coherent"], Flag, "coherent source summation, which nanoBragg reads and never applies"),
    ignored!(&["-sample_den", "-density", "-MW", "-molecules", "-source_dist"], Numbers(1), "density, molecular weight and source distance: nanoBragg reads them and leaves them unused"),
];

/// The table as Markdown: every nanoBragg spelling, the long option, values and unit, and
/// whether it is supported (docs/simulator.md holds this text).
pub fn markdown() -> String {
    let mut s = String::from("| nanoBragg | `loop sim run` | values | meaning |\n| --- | --- | --- | --- |\n");
    for o in OPTIONS {
        let nb = if o.nb.is_empty() {
            "—".to_string()
        } else {
            o.nb.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" ")
        };
        let long = if o.long.is_empty() || !o.supported() { "—".to_string() } else { format!("`--{}`", o.long) };
        let values = match o.value {
            Value::Flag => String::new(),
            Value::Numbers(n) => format!("{n} number{}", if n > 1 { "s" } else { "" }),
            Value::Word(w) => w.to_string(),
            Value::KeywordOr(k, n) => format!("`{k}` or {n} numbers"),
        };
        let values = if o.unit.is_empty() { values } else { format!("{values} ({})", o.unit) }.replace('|', "\\|");
        let meaning =
            if o.supported() { o.help.replace('|', "\\|") } else { format!("**read and ignored**: {}", o.help) };
        s.push_str(&format!("| {nb} | {long} | {values} | {meaning} |\n"));
    }
    s
}

/// The table as JSON, for agents.
pub fn json() -> serde_json::Value {
    OPTIONS
        .iter()
        .map(|o| {
            serde_json::json!({
                "nanobragg": o.nb, "long": (!o.long.is_empty() && o.supported()).then(|| format!("--{}", o.long)),
                "values": o.value.names(o.long), "unit": o.unit, "help": o.help, "supported": o.supported(),
            })
        })
        .collect()
}

/// The row for a nanoBragg spelling (`-lambda`) or a long option (`--lambda`).
pub fn find(word: &str) -> Option<&'static Opt> {
    if let Some(long) = word.strip_prefix("--") {
        return OPTIONS.iter().find(|o| !o.long.is_empty() && o.long == long);
    }
    OPTIONS.iter().find(|o| o.nb.contains(&word))
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            p: Params::default(),
            detsize_mm: [None; 2],
            detpixels_given: false,
            flux: 0.0,
            exposure: 1.0,
            beamsize_mm: 0.1,
            xtalsize_mm: [None; 3],
            random_misset: false,
            misset_seed: None,
            cell_given: false,
            implied_pivot: Pivot::Beam,
            header_beam: [None; 2],
            header_org: [None; 2],
            noise_off: false,
            pgm_off: false,
            reading_nb: false,
            pivot_by_nb: false,
            warnings: Vec::new(),
        }
    }

    /// The detector from an SMV header, as nanoBragg's -img and -mask read it (the mask's
    /// BEAM_CENTER_Y counted from the far edge, as the C does).
    fn header(&mut self, file: &str, mask: bool) -> Result<()> {
        let path = Path::new(file);
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let smv = super::output::parse_smv(path, &bytes)?;
        let v = |k: &str| smv.value_as_nanobragg(k);
        let p = &mut self.p;
        if mask {
            let keep = smv.data.iter().map(|&x| x != 0.0).collect();
            let (fpixels, spixels) = (smv.width, smv.height);
            p.mask = Some(Mask { path: path.to_path_buf(), fpixels, spixels, keep: std::sync::Arc::new(keep) });
        }
        (p.fpixels, p.spixels, self.detpixels_given) = (smv.width, smv.height, true);
        if let Some(x) = v("PIXEL_SIZE") {
            p.pixel_mm = x;
        }
        if let Some(x) = v("DISTANCE") {
            p.distance_mm = x;
        }
        if let Some(x) = v("CLOSE_DISTANCE") {
            p.close_distance_mm = Some(x);
        }
        if let Some(x) = v("WAVELENGTH") {
            p.lambda_a = x;
        }
        let detsize_s = p.pixel_mm * p.spixels as f64;
        self.header_beam = [v("BEAM_CENTER_X"), v("BEAM_CENTER_Y").map(|y| if mask { detsize_s - y } else { y })];
        self.header_org = [v("ORGX"), v("ORGY")];
        if let Some(x) = v("PHI") {
            p.phi_deg = x;
        }
        if let Some(x) = v("OSC_RANGE") {
            p.osc_deg = Some(x);
        }
        // nanoBragg reads TWOTHETA into a variable its geometry never uses: no swing.
        Ok(())
    }

    /// Read words (nanoBragg spellings or long options, mixed) in order; later ones win.
    pub fn read(&mut self, words: &[&str]) -> Result<()> {
        // nanoBragg reads -mask, then -img, before every other option.
        for name in ["mask", "img"] {
            let at = words.iter().rposition(|w| w.strip_prefix('-').map(|w| w.trim_start_matches('-')) == Some(name));
            if let Some(file) = at.and_then(|i| words.get(i + 1)) {
                self.header(file, name == "mask")?;
            }
        }
        let mut i = 0;
        while i < words.len() {
            let flag = words[i];
            let err = |m: String| Error::Usage(format!("{flag}: {m}"));
            let opt = find(flag).ok_or_else(|| Error::Usage(format!("unsupported nanoBragg option `{flag}`")))?;
            let n = match opt.value {
                Value::Flag => 0,
                Value::Numbers(n) => n,
                Value::Word(_) => 1,
                Value::KeywordOr(k, n) => {
                    if words.get(i + 1).is_some_and(|w| w.contains(k)) {
                        1
                    } else {
                        n
                    }
                }
            };
            let values = words.get(i + 1..i + 1 + n).ok_or_else(|| err(format!("needs {n} value(s)")))?;
            self.reading_nb = !flag.starts_with("--");
            let Some(apply) = opt.apply else {
                self.warnings.push(format!("{flag}: {}; ignored here too", opt.help));
                i += 1 + n;
                continue;
            };
            // Switch-style rows that share one apply (the conventions) see their own spelling.
            let values: Vec<&str> = if n == 0 { vec![flag] } else { values.to_vec() };
            apply(self, &values).map_err(err)?;
            i += 1 + n;
        }
        Ok(())
    }

    /// Combine what needed every option read, as nanoBragg does after its parser, adding to
    /// `warnings` what nanoBragg overrides.
    pub fn finish(mut self, warnings: &mut Vec<String>) -> Result<Params> {
        let p = &mut self.p;
        let err = |m: String| Error::Usage(m);
        if self.noise_off {
            p.outputs.noisefile = None;
        }
        if self.pgm_off {
            p.outputs.pgmfile = None;
        }
        if p.mat.is_some() && !self.cell_given {
            p.user_cell = false;
        }
        if p.convention == Convention::Custom && p.pivot.is_none() {
            p.pivot = Some(self.implied_pivot);
        }
        c_overrides(p, self.pivot_by_nb, warnings);
        // A header's beam centre where the beam pivots (or in the custom convention), its
        // origin where the sample does; options given win.
        let pivot = p.pivot.unwrap_or(p.convention.pivot());
        if pivot == Pivot::Beam || p.convention == Convention::Custom {
            p.xbeam_mm = p.xbeam_mm.or(self.header_beam[0]);
            p.ybeam_mm = p.ybeam_mm.or(self.header_beam[1]);
        }
        if pivot == Pivot::Sample {
            p.orgx = p.orgx.or(self.header_org[0]);
            p.orgy = p.orgy.or(self.header_org[1]);
        }
        if self.random_misset {
            // nanoBragg's random orientation: a "90" (radian) spherical-cap rotation from the
            // misset seed (default: the clock), turned into x, y, z misset angles.
            let seed = self.misset_seed.unwrap_or_else(super::clock_seed);
            let u = super::geometry::mosaic_rotation(90.0, &mut super::geometry::Ran1::new(seed));
            p.misset_deg = super::geometry::umat_to_misset(&u).map(f64::to_degrees);
        }
        if !self.detpixels_given {
            // nanoBragg rounds the detector to whole pixels: ceil(size/pixel − ½).
            for (k, d) in self.detsize_mm.iter().enumerate() {
                if let Some(d) = *d {
                    let n = (d / p.pixel_mm - 0.5).ceil().max(1.0);
                    if !n.is_finite() || n > 1e6 {
                        return Err(err(format!("-detsize {d}: {n} pixels per side is too many")));
                    }
                    *[&mut p.fpixels, &mut p.spixels][k] = n as usize;
                }
            }
        }
        if self.flux != 0.0 && self.exposure > 0.0 && self.beamsize_mm >= 0.0 {
            let b = self.beamsize_mm / 1000.0;
            p.fluence = self.flux * self.exposure / b / b;
        }
        if self.xtalsize_mm.iter().any(Option::is_some) {
            // A crystal of this size (mm) in unit cells, the beam clipping its height and width.
            let b = self.beamsize_mm;
            let (axes, _) = super::geometry::cell_axes(p);
            for (d, size) in self.xtalsize_mm.into_iter().enumerate() {
                let size = size.unwrap_or(0.0);
                let size = if d > 0 && b >= 0.0 { size.min(b) } else { size };
                if size > 0.0 {
                    let len_mm = super::geometry::norm(axes[d]) * 1e-7;
                    p.n[d] = ((size / len_mm).ceil().max(1.0)).min(u32::MAX as f64) as u32;
                }
            }
        }
        Ok(self.p)
    }
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

/// Whitespace-separated numbers of a small text file, with the file and line of a bad one.
fn numbers_by_line(path: &Path) -> Result<Vec<(usize, Vec<f64>)>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let shown = path.display().to_string();
    let text = String::from_utf8(text).map_err(|_| Error::input(&shown, 0, "not UTF-8 text"))?;
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v = line
            .split(|c: char| c.is_whitespace() || ",;:!".contains(c))
            .filter(|w| !w.is_empty())
            .map(|w| w.parse::<f64>().map_err(|_| Error::input(&shown, k + 1, format!("`{w}` is not a number"))))
            .collect::<Result<Vec<f64>>>()?;
        out.push((k + 1, v));
    }
    Ok(out)
}

/// A MOSFLM matrix file: its first nine numbers, row by row.
pub fn read_mat(path: &Path) -> Result<[f64; 9]> {
    let all: Vec<f64> = numbers_by_line(path)?.into_iter().flat_map(|(_, v)| v).collect();
    if all.len() < 9 {
        return Err(Error::input(path.display().to_string(), 0, format!("expected 9 numbers, found {}", all.len())));
    }
    Ok(std::array::from_fn(|i| all[i]))
}

/// A nanoBragg source file: `X Y Z [weight [lambda]]` per line (source positions in m relative
/// to the sample, wavelength in m); missing values are NaN (the beam's direction, λ of -lambda).
pub fn read_sources(path: &Path) -> Result<Vec<[f64; 4]>> {
    let rows = numbers_by_line(path)?;
    if rows.is_empty() {
        return Err(Error::input(path.display().to_string(), 0, "no sources in the file"));
    }
    if rows.len() > 1_000_000 {
        return Err(Error::input(path.display().to_string(), 0, "more than a million sources"));
    }
    rows.into_iter()
        .map(|(line, v)| {
            if v.len() > 5 {
                return Err(Error::input(
                    path.display().to_string(),
                    line,
                    "expected at most 5 numbers: X Y Z weight lambda",
                ));
            }
            let at = |i: usize| v.get(i).copied().unwrap_or(f64::NAN);
            Ok([at(0), at(1), at(2), at(4)])
        })
        .collect()
}

/// Read a nanoBragg command line (`-default_F 100 -cell 100 100 100 90 90 90 -N 5 ...`),
/// output options included; an option this simulator does not implement is refused by name.
pub fn from_nb_args(args: &str) -> Result<Params> {
    read(Some(args), &[], false).map(|r| r.params)
}

/// What nanoBragg's convention blocks override once every option is read: MOSFLM, DENZO and
/// ADXV pivot on the beam spot and XDS and DIALS on the sample, whatever `-pivot` said; under a
/// sample pivot -Xbeam/-Ybeam move nothing, under a beam pivot -ORGX/-ORGY do not, and only the
/// custom convention reads -Xclose/-Yclose. loop does the same and says so, once a case.
fn c_overrides(p: &mut Params, pivot_by_nb: bool, warnings: &mut Vec<String>) {
    let conv = p.convention;
    let forced = match conv {
        Convention::Mosflm | Convention::Denzo | Convention::Adxv => Some(Pivot::Beam),
        Convention::Xds | Convention::Dials => Some(Pivot::Sample),
        Convention::Custom => None,
    };
    let Some(forced) = forced else { return };
    if let (Some(asked), true) = (p.pivot, pivot_by_nb) {
        if asked != forced {
            warnings.push(format!(
                "-pivot {asked}: nanoBragg's {conv} convention always pivots on the {}, whatever -pivot says, and so does loop; for a {asked} pivot use loop's own --pivot {asked}, or the custom convention (any -fdet_vector … option)",
                if forced == Pivot::Beam { "beam spot" } else { "sample" }
            ));
        }
        p.pivot = None;
    }
    if p.pivot.is_some() {
        return;
    }
    if forced == Pivot::Sample && (p.xbeam_mm.is_some() || p.ybeam_mm.is_some()) {
        warnings.push(format!(
            "-Xbeam/-Ybeam: under the {conv} convention nanoBragg pivots on the sample and places the detector from -ORGX/-ORGY (else its centre), so they move nothing but the header's beam centre, here too; to move the detector give -ORGX/-ORGY, or -mosflm for a beam-centred detector"
        ));
    }
    if forced == Pivot::Beam && (p.orgx.is_some() || p.orgy.is_some()) {
        warnings.push(format!(
            "-ORGX/-ORGY: under the {conv} convention nanoBragg pivots on the beam spot and never reads them, nor does loop; give -Xbeam/-Ybeam, or -xds for an origin-placed detector"
        ));
    }
    if p.xclose_mm.is_some() || p.yclose_mm.is_some() {
        warnings.push(format!(
            "-Xclose/-Yclose: nanoBragg reads them only in the custom convention, not under {conv}, nor does loop; give -ORGX/-ORGY (with -xds) instead"
        ));
    }
}

/// What `read` made of a command line: the parameters, and what nanoBragg (and so loop)
/// ignored or overrode of it.
pub struct Read {
    pub params: Params,
    pub warnings: Vec<String>,
}

/// A nanoBragg command line, then long options (`--lambda 1.2`) over it. With `strict`, what
/// nanoBragg would ignore or override is an error instead of a warning.
pub fn read(nb_args: Option<&str>, long: &[&str], strict: bool) -> Result<Read> {
    let mut r = Reader::new();
    if let Some(args) = nb_args {
        let words: Vec<&str> = args.split_whitespace().collect();
        r.read(&words).map_err(|e| Error::Usage(format!("--nb-args: {e}")))?;
    }
    r.read(long)?;
    let mut warnings = std::mem::take(&mut r.warnings);
    let params = r.finish(&mut warnings)?;
    if strict && !warnings.is_empty() {
        return Err(Error::Usage(format!("--strict: {}", warnings.join("; "))));
    }
    Ok(Read { params, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_benchmark_command_line() {
        let p =
            from_nb_args("-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 4096")
                .unwrap();
        assert_eq!(p.n, [5, 5, 5]);
        assert_eq!((p.fpixels, p.lambda_a, p.default_f), (4096, 6.2, 100.0));
        assert!(from_nb_args("-cell 1 2").is_err());
        assert!(from_nb_args("-frobnicate").is_err());
    }

    #[test]
    fn every_row_is_described_and_spelled_once() {
        let mut seen = std::collections::HashSet::new();
        for o in OPTIONS {
            assert!(!o.help.is_empty(), "{:?}", o.nb);
            assert!(!o.nb.is_empty() || !o.long.is_empty());
            for w in o.nb.iter().chain(std::iter::once(&o.long).filter(|l| !l.is_empty())) {
                assert!(seen.insert(*w), "{w} twice");
            }
            // A row with numbers says what they measure, unless they are counts of nothing.
            if matches!(o.value, Value::Numbers(_)) && o.supported() && o.unit.is_empty() {
                assert!(
                    ["fudge", "polar", "seed", "mosaic-seed", "misset-seed"].contains(&o.long)
                        || o.long.ends_with("vector")
                        || o.long.ends_with("axis"),
                    "{} has no unit",
                    o.long
                );
            }
        }
    }

    #[test]
    fn long_options_and_nanobragg_spellings_read_the_same() {
        let mut a = Reader::new();
        a.read(&["-lambda", "6.2", "-N", "5", "-Na", "3", "-detector_thick", "100", "-curved_det"]).unwrap();
        let mut b = Reader::new();
        b.read(&["--lambda", "6.2", "--N", "5", "--Na", "3", "--detector-thick", "100", "--curved-det"]).unwrap();
        // -nonoise switches off a noise file named before it, not one named after it (the C's order).
        let mut c = Reader::new();
        c.read(&["-noisefile", "n.img", "-nonoise", "-nopgm", "-pgmfile", "p.pgm"]).unwrap();
        let c = c.finish(&mut Vec::new()).unwrap();
        assert_eq!((c.outputs.noisefile, c.outputs.pgmfile), (None, Some(PathBuf::from("p.pgm"))));
        let (a, b) = (a.finish(&mut Vec::new()).unwrap(), b.finish(&mut Vec::new()).unwrap());
        assert_eq!((a.lambda_a, a.n, a.detector_thick_um, a.curved), (6.2, [3, 5, 5], 100.0, true));
        assert_eq!((b.lambda_a, b.n, b.detector_thick_um, b.curved), (6.2, [3, 5, 5], 100.0, true));
    }

    /// Every option nanoBragg's usage text lists (run the C with no arguments) has a row.
    #[test]
    fn covers_the_usage_text() {
        let usage = "-mat -hkl -misset -cell -default_F -distance -detsize -detpixels -pixel -img -mask \
            -detector_absorb -detector_thick -detector_thicksteps -Xbeam -Ybeam -mosflm -xds -ORGX -twotheta -N \
            -xtalsize -square_xtal -round_xtal -gauss_xtal -tophat_spots -oversample -oversample_thick \
            -oversample_polar -oversample_omega -lambda -mosaic -mosaic_domains -dispersion -dispsteps -hdivrange \
            -vdivrange -hdivstep -vdivstep -square_div -phi -osc -phisteps -water -floatfile -intfile -scale -adc \
            -polar -noisefile -pgmfile -pgmscale -nopgm -roi -printout -seed -mosaic_seed -misset_seed -fluence \
            -flux -beamsize -exposure -nonoise -noprogress -nopolar -nointerpolate -interpolate -point_pixel \
            -curved_det -fdet_vector -sdet_vector -odet_vector -beam_vector -polar_vector -spindle_axis -pix0_vector";
        for w in usage.split_whitespace() {
            assert!(find(w).is_some(), "{w} has no row");
        }
        let ignored: Vec<&str> = usage.split_whitespace().filter(|w| !find(w).is_some_and(Opt::supported)).collect();
        assert_eq!(ignored, ["-printout", "-pix0_vector"]);
    }

    #[test]
    fn ignored_options_say_why_and_unknown_ones_are_refused() {
        let mut r = Reader::new();
        r.read(&["-pix0_vector", "0", "0", "0", "-lambda", "2"]).unwrap();
        assert_eq!(r.p.lambda_a, 2.0, "the values of an ignored option are skipped, not read as options");
        assert!(r.warnings[0].starts_with("-pix0_vector: nanoBragg reads it but"), "{:?}", r.warnings);
        let e = Reader::new().read(&["-frobnicate"]).unwrap_err().to_string();
        assert!(e.contains("unsupported nanoBragg option `-frobnicate`"), "{e}");
        let e = Reader::new().read(&["-cell", "1", "2"]).unwrap_err().to_string();
        assert!(e.contains("needs 6"), "{e}");
    }
}
