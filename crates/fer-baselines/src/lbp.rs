//! Uniform local binary patterns (Ojala et al., 2002): each pixel's 8 neighbours at radius
//! 1 are thresholded against it; the 58 "uniform" codes (at most two 0/1 transitions
//! around the circle) keep their own bin and all others share one, giving 59 bins. The
//! descriptor is one histogram per cell of a square grid.

use crate::Descriptor;

/// Neighbour offsets (dx, dy), clockwise from the top-left; neighbour i sets bit i.
const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
];

pub const UNIFORM_BINS: usize = 59;

/// LBP code of every pixel whose 8 neighbours lie inside the image, row-major:
/// `(w - 2) x (h - 2)` codes. A neighbour at least as bright as the centre sets its bit.
pub fn codes(img: &[u8], w: usize, h: usize) -> Vec<u8> {
    assert_eq!(img.len(), w * h, "image is not {w}x{h}");
    let mut out = Vec::with_capacity(w.saturating_sub(2) * h.saturating_sub(2));
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let centre = img[y * w + x];
            let mut code = 0u8;
            for (bit, (dx, dy)) in NEIGHBOURS.iter().enumerate() {
                let n = img[(y as isize + dy) as usize * w + (x as isize + dx) as usize];
                code |= ((n >= centre) as u8) << bit;
            }
            out.push(code);
        }
    }
    out
}

/// Circular 0/1 transitions in an 8-bit code.
pub fn transitions(code: u8) -> u32 {
    (code ^ code.rotate_right(1)).count_ones()
}

/// Bin of each code: uniform codes in ascending order get 0..58, the rest 58.
pub fn uniform_bins() -> [u8; 256] {
    let mut map = [(UNIFORM_BINS - 1) as u8; 256];
    let mut next = 0u8;
    for code in 0..=255u8 {
        if transitions(code) <= 2 {
            map[code as usize] = next;
            next += 1;
        }
    }
    map
}

/// Uniform-LBP histograms on a `grid x grid` layout of cells, each normalised to sum 1
/// and square-rooted (the Hellinger mapping, so a linear SVM compares them sensibly).
#[derive(Debug, Clone)]
pub struct Lbp {
    pub grid: usize,
    bins: [u8; 256],
}

impl Lbp {
    pub fn new(grid: usize) -> Lbp {
        Lbp {
            grid: grid.max(1),
            bins: uniform_bins(),
        }
    }
}

impl Descriptor for Lbp {
    fn name(&self) -> String {
        format!("LBP u2 (8,1), {0}x{0} cells", self.grid)
    }
    fn dim(&self) -> usize {
        self.grid * self.grid * UNIFORM_BINS
    }
    fn extract(&self, img: &[u8], w: usize, h: usize, out: &mut [f32]) {
        out.fill(0.0);
        let codes = codes(img, w, h);
        let inner_w = w - 2;
        for (i, &code) in codes.iter().enumerate() {
            // Cell of the pixel the code belongs to (interior pixel x+1, y+1).
            let (x, y) = (i % inner_w + 1, i / inner_w + 1);
            let cell = (y * self.grid / h) * self.grid + x * self.grid / w;
            out[cell * UNIFORM_BINS + self.bins[code as usize] as usize] += 1.0;
        }
        for hist in out.chunks_exact_mut(UNIFORM_BINS) {
            let total: f32 = hist.iter().sum();
            if total > 0.0 {
                hist.iter_mut().for_each(|v| *v = (*v / total).sqrt());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_of_a_hand_made_neighbourhood() {
        // Centre 50. Neighbours clockwise from top-left: 60 40 50 / 10 / 90 50 20 / 70.
        #[rustfmt::skip]
        let img = [
            60, 40, 50,
            70, 50, 10,
            20, 50, 90,
        ];
        // Bits: TL 60>=50 (1), T 40 (0), TR 50 (1), R 10 (0), BR 90 (1), B 50 (1),
        // BL 20 (0), L 70 (1) -> 0b1011_0101.
        assert_eq!(codes(&img, 3, 3), vec![0b1011_0101]);
        // A flat patch: every neighbour equals the centre.
        assert_eq!(codes(&[7; 9], 3, 3), vec![0xFF]);
    }

    #[test]
    fn fifty_eight_uniform_codes() {
        let map = uniform_bins();
        assert_eq!((0..=255u8).filter(|&c| transitions(c) <= 2).count(), 58);
        assert_eq!(map[0], 0); // 00000000
        assert_eq!(map[1], 1); // 00000001
        assert_eq!(map[2], 2); // 00000010
        assert_eq!(map[3], 3); // 00000011
        assert_eq!(map[4], 4); // 00000100
        assert_eq!(map[5], 58); // 00000101: four transitions
        assert_eq!(map[255], 57);
        assert_eq!(transitions(0b1011_0101), 6);
    }

    #[test]
    fn histograms_per_cell() {
        // 4x4 image, one cell: the four interior pixels' codes.
        #[rustfmt::skip]
        let img = [
            0, 0, 0, 0,
            0, 9, 9, 0,
            0, 9, 9, 0,
            0, 0, 0, 0,
        ];
        // Each interior 9 sees three 9s and five 0s: e.g. top-left interior pixel has
        // R, BR, B set = bits 3,4,5 = 0b0011_1000 (uniform). All four are uniform codes
        // with three set bits, each in its own bin: 4 bins of 1/4 -> sqrt = 0.5.
        let lbp = Lbp::new(1);
        let mut out = vec![0.0; lbp.dim()];
        lbp.extract(&img, 4, 4, &mut out);
        let nonzero: Vec<f32> = out.iter().copied().filter(|&v| v > 0.0).collect();
        assert_eq!(nonzero, vec![0.5; 4]);
        assert_eq!(out[uniform_bins()[0b0011_1000] as usize], 0.5);
    }
}
