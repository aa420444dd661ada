//! Structure factors from an HKL text file (`h k l F` per line) on a dense grid, with
//! nearest-neighbour lookup and nanoBragg-style tricubic (4×4×4 Lagrange) interpolation.

use std::path::Path;

use ndarray::{s, Array3};

use crate::error::{Error, Result};

/// F on the dense (h, k, l) grid from `min` to `max`, standard layout (l fastest).
pub struct Hkl {
    pub min: [i32; 3],
    pub max: [i32; 3],
    grid: Array3<f64>,
}

impl Hkl {
    /// Grid points the file does not name hold `fill` (the reference's default_F).
    pub fn load(path: &Path, fill: f64) -> Result<Hkl> {
        let shown = path.display().to_string();
        let text = crate::fsutil::read_utf8(path, &shown)?;
        Hkl::parse(&text, &shown, fill)
    }

    /// Parse `h k l F` lines; blank lines and `#` comments are skipped, anything else is an
    /// error naming the line.
    pub fn parse(text: &str, file: &str, fill: f64) -> Result<Hkl> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            let f: Vec<&str> = t.split_whitespace().collect();
            let parsed = (f.len() == 4).then(|| {
                let idx: Option<Vec<f64>> =
                    f[..3].iter().map(|x| x.parse::<f64>().ok().filter(|v| v.fract() == 0.0)).collect();
                let idx = idx?;
                if idx.iter().any(|v| v.abs() > MAX_INDEX as f64) {
                    return Some(Err(format!("Miller index out of range (|h|, |k|, |l| ≤ {MAX_INDEX}): `{t}`")));
                }
                let idx: Option<Vec<i32>> = Some(idx.iter().map(|&v| v as i32).collect());
                Some(Ok((idx?, f[3].parse::<f64>().ok().filter(|v| v.is_finite())?)))
            });
            match parsed.flatten() {
                Some(Ok((idx, v))) => rows.push(([idx[0], idx[1], idx[2]], v)),
                Some(Err(m)) => return Err(Error::input(file, i + 1, m)),
                None => {
                    return Err(Error::input(
                        file,
                        i + 1,
                        format!("expected `h k l F` (three integers and a number), got `{t}`"),
                    ))
                }
            }
        }
        if rows.is_empty() {
            return Err(Error::input(file, 0, "no `h k l F` lines"));
        }
        let mut min = [i32::MAX; 3];
        let mut max = [i32::MIN; 3];
        for (idx, _) in &rows {
            for d in 0..3 {
                min[d] = min[d].min(idx[d]);
                max[d] = max[d].max(idx[d]);
            }
        }
        let dims: [usize; 3] = std::array::from_fn(|d| (max[d] - min[d] + 1) as usize);
        let cells = dims.iter().map(|&d| d as u64).product::<u64>();
        if cells > 1 << 28 {
            return Err(Error::input(file, 0, format!("index ranges span {cells} grid points; too large")));
        }
        let mut grid = Array3::from_elem(dims, fill);
        for (idx, v) in rows {
            grid[std::array::from_fn::<usize, 3, _>(|d| (idx[d] - min[d]) as usize)] = v;
        }
        Ok(Hkl { min, max, grid })
    }

    fn at(&self, idx: [i32; 3]) -> [usize; 3] {
        std::array::from_fn(|d| (idx[d] - self.min[d]) as usize)
    }

    /// F at an integer index, or None outside the grid.
    pub fn get(&self, idx: [i32; 3]) -> Option<f64> {
        (0..3).all(|d| idx[d] >= self.min[d] && idx[d] <= self.max[d]).then(|| self.grid[self.at(idx)])
    }

    /// Whether the 4×4×4 neighbourhood of (h, k, l) lies inside the grid, by the reference's
    /// own bounds test.
    pub fn can_interpolate(&self, hkl: [f64; 3]) -> bool {
        (0..3).all(|d| {
            let x = hkl[d];
            !(x - 2.0 < self.min[d] as f64 || x - self.min[d] as f64 + 3.0 > self.grid.shape()[d] as f64)
        })
    }

    /// Tricubic interpolation at fractional (h, k, l), or None when the 4×4×4 neighbourhood
    /// leaves the grid (the caller then uses default_F).
    pub fn interpolate(&self, hkl: [f64; 3]) -> Option<f64> {
        if !self.can_interpolate(hkl) {
            return None;
        }
        let base: [i32; 3] = std::array::from_fn(|d| hkl[d].floor() as i32 - 1);
        let w: [[f64; 4]; 3] = std::array::from_fn(|d| lagrange4(hkl[d] - base[d] as f64));
        let [h, k, l] = self.at(base);
        let cube = self.grid.slice(s![h..h + 4, k..k + 4, l..l + 4]);
        let mut sum = 0.0;
        for (i, wi) in w[0].iter().enumerate() {
            for (j, wj) in w[1].iter().enumerate() {
                let inner: f64 = cube.slice(s![i, j, ..]).iter().zip(&w[2]).map(|(f, wk)| f * wk).sum();
                sum += wi * wj * inner;
            }
        }
        Some(sum)
    }
}

/// Cubic Lagrange weights for samples at 0, 1, 2, 3 evaluated at `t`.
fn lagrange4(t: f64) -> [f64; 4] {
    [
        -(t - 1.0) * (t - 2.0) * (t - 3.0) / 6.0,
        t * (t - 2.0) * (t - 3.0) / 2.0,
        -t * (t - 1.0) * (t - 3.0) / 2.0,
        t * (t - 1.0) * (t - 2.0) / 6.0,
    ]
}

/// Largest |h|, |k|, |l| a table may hold: far beyond any real crystal, and small enough that
/// index arithmetic cannot overflow.
const MAX_INDEX: i32 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn cubic_grid() -> Hkl {
        // F = 1 + h + 2k² + l³ is reproduced exactly by cubic interpolation.
        let mut s = String::from("# test\n");
        for h in -4..=4 {
            for k in -4..=4 {
                for l in -4..=4 {
                    s.push_str(&format!("{h} {k} {l} {}\n", 1 + h + 2 * k * k + l * l * l));
                }
            }
        }
        Hkl::parse(&s, "t.hkl", 0.0).unwrap()
    }

    #[test]
    fn interpolation_is_exact_for_cubics() {
        let g = cubic_grid();
        let (h, k, l) = (0.3, -1.7, 1.25);
        let want = 1.0 + h + 2.0 * k * k + l * l * l;
        assert!((g.interpolate([h, k, l]).unwrap() - want).abs() < 1e-9);
        assert_eq!(g.get([1, 2, 3]), Some(1.0 + 1.0 + 8.0 + 27.0));
        assert_eq!(g.get([5, 0, 0]), None);
        assert!(g.interpolate([3.5, 0.0, 0.0]).is_none());
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = Hkl::parse("1 2 3 4\n1 2 x 4\n", "f.hkl", 0.0).err().unwrap().to_string();
        assert_eq!(e, "f.hkl:2: expected `h k l F` (three integers and a number), got `1 2 x 4`");
        let e = Hkl::parse("1 2 3 4\n0 0 99999999999 1\n", "f.hkl", 0.0).err().unwrap().to_string();
        assert!(e.starts_with("f.hkl:2: Miller index out of range"), "{e}");
    }
}
