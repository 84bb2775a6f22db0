//! Histograms of oriented gradients (Dalal and Triggs, 2005): centred-difference
//! gradients, unsigned orientation histograms per cell with each vote split linearly
//! between the two nearest bin centres, and overlapping blocks of cells normalised with
//! L2-Hys.

use crate::Descriptor;

#[derive(Debug, Clone)]
pub struct Hog {
    /// Cell side in pixels.
    pub cell: usize,
    /// Block side in cells (blocks step by one cell).
    pub block: usize,
    /// Orientation bins over 0-180 degrees.
    pub bins: usize,
}

impl Default for Hog {
    fn default() -> Self {
        Hog {
            cell: 8,
            block: 2,
            bins: 9,
        }
    }
}

/// Per-cell orientation histograms, `cells_y x cells_x x bins`, gradient magnitude as
/// the vote. Gradients at the border use the border pixel itself as the missing
/// neighbour.
pub fn cell_histograms(img: &[u8], w: usize, h: usize, cell: usize, bins: usize) -> Vec<f32> {
    assert_eq!(img.len(), w * h, "image is not {w}x{h}");
    let (cx, cy) = (w / cell, h / cell);
    let mut hist = vec![0f32; cx * cy * bins];
    let at = |x: usize, y: usize| img[y * w + x] as f32;
    let bin_width = 180.0 / bins as f32;
    for y in 0..cy * cell {
        for x in 0..cx * cell {
            let gx = at((x + 1).min(w - 1), y) - at(x.saturating_sub(1), y);
            let gy = at(x, (y + 1).min(h - 1)) - at(x, y.saturating_sub(1));
            let magnitude = (gx * gx + gy * gy).sqrt();
            if magnitude == 0.0 {
                continue;
            }
            let angle = gy.atan2(gx).to_degrees().rem_euclid(180.0);
            // Bin centres sit at (b + 0.5) * width; split the vote between the two
            // nearest, wrapping around 0/180.
            let pos = angle / bin_width - 0.5;
            let lower = pos.floor();
            let frac = pos - lower;
            let b0 = (lower as isize).rem_euclid(bins as isize) as usize;
            let b1 = (b0 + 1) % bins;
            let base = ((y / cell) * cx + x / cell) * bins;
            hist[base + b0] += magnitude * (1.0 - frac);
            hist[base + b1] += magnitude * frac;
        }
    }
    hist
}

/// L2-Hys: L2-normalise, clip at 0.2, normalise again.
pub fn l2_hys(v: &mut [f32]) {
    let normalise = |v: &mut [f32]| {
        let norm = (v.iter().map(|x| x * x).sum::<f32>() + 1e-6).sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
    };
    normalise(v);
    v.iter_mut().for_each(|x| *x = x.min(0.2));
    normalise(v);
}

impl Hog {
    fn blocks(&self, w: usize, h: usize) -> (usize, usize) {
        let (cx, cy) = (w / self.cell, h / self.cell);
        (
            (cx + 1).saturating_sub(self.block),
            (cy + 1).saturating_sub(self.block),
        )
    }
}

impl Descriptor for Hog {
    fn name(&self) -> String {
        format!(
            "HOG {0}x{0}-pixel cells, {1}x{1}-cell blocks, {2} bins",
            self.cell, self.block, self.bins
        )
    }
    fn dim(&self) -> usize {
        let (bx, by) = self.blocks(crate::SIDE, crate::SIDE);
        bx * by * self.block * self.block * self.bins
    }
    fn extract(&self, img: &[u8], w: usize, h: usize, out: &mut [f32]) {
        let hist = cell_histograms(img, w, h, self.cell, self.bins);
        let cx = w / self.cell;
        let (bx, by) = self.blocks(w, h);
        let block_len = self.block * self.block * self.bins;
        for (b, block) in out.chunks_exact_mut(block_len).take(bx * by).enumerate() {
            let (x0, y0) = (b % bx, b / bx);
            for dy in 0..self.block {
                for dx in 0..self.block {
                    let cell = (y0 + dy) * cx + x0 + dx;
                    let k = (dy * self.block + dx) * self.bins;
                    block[k..k + self.bins]
                        .copy_from_slice(&hist[cell * self.bins..(cell + 1) * self.bins]);
                }
            }
            l2_hys(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertical_edge_votes_at_zero_degrees() {
        // 4x4, one cell: columns 0-1 dark (0), columns 2-3 bright (100).
        let img: Vec<u8> = (0..16).map(|i| if i % 4 >= 2 { 100 } else { 0 }).collect();
        let h = cell_histograms(&img, 4, 4, 4, 9);
        // gx = I(x+1) - I(x-1): 100 at x = 1 and x = 2 (and 0 elsewhere), 4 rows each:
        // 8 votes of 100 at 0 degrees. 0 degrees lies halfway between the centres of
        // bin 8 (170) and bin 0 (10): 400 each.
        assert_eq!(h.len(), 9);
        assert!((h[0] - 400.0).abs() < 1e-3, "{h:?}");
        assert!((h[8] - 400.0).abs() < 1e-3, "{h:?}");
        assert_eq!(h[1..8].iter().sum::<f32>(), 0.0);
    }

    #[test]
    fn diagonal_gradient_goes_to_the_45_degree_bins() {
        // I = 10 (x + y) on 6x6 with 2x2 cells. In the central cell every pixel is
        // interior: gx = gy = 20, magnitude m = sqrt(800), angle 45 degrees. 45 lies a
        // quarter of the way from the centre of bin 2 (50) to that of bin 1 (30), so
        // each of the 4 pixels gives 0.25 m to bin 1 and 0.75 m to bin 2.
        let img: Vec<u8> = (0..36).map(|i| (10 * (i % 6 + i / 6)) as u8).collect();
        let h = cell_histograms(&img, 6, 6, 2, 9);
        let centre = &h[4 * 9..5 * 9];
        let m = 800f32.sqrt();
        assert!((centre[1] - m).abs() < 1e-3, "{centre:?}");
        assert!((centre[2] - 3.0 * m).abs() < 1e-3, "{centre:?}");
        assert_eq!(centre.iter().sum::<f32>(), centre[1] + centre[2]);
    }

    #[test]
    fn l2_hys_clips_dominant_entries() {
        let mut v = [10.0, 0.0, 0.0, 0.0];
        l2_hys(&mut v);
        // After the first normalisation [1, 0, 0, 0] clips to 0.2, then renormalises to 1.
        assert!((v[0] - 1.0).abs() < 1e-4);
        let mut v = [3.0, 4.0];
        l2_hys(&mut v);
        let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
        assert!(
            (n - 1.0).abs() < 1e-4 && (v[0] - v[1]).abs() < 1e-4,
            "{v:?}"
        );
        let hog = Hog::default();
        assert_eq!(hog.dim(), 5 * 5 * 4 * 9);
    }

    #[test]
    fn flat_image_gives_zero_descriptor() {
        let hog = Hog::default();
        let mut out = vec![1.0; hog.dim()];
        hog.extract(&[128; 48 * 48], 48, 48, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
