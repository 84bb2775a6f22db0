//! A Gabor filter bank: complex Gabor kernels at several wavelengths and orientations,
//! the magnitude of each response sampled every `stride` pixels and averaged over the
//! cells of a square grid. All responses of a face come from one im2col matrix product.

use crate::Descriptor;

#[derive(Debug, Clone)]
pub struct Gabor {
    pub wavelengths: Vec<f32>,
    pub orientations: usize,
    /// Kernel side (odd).
    pub size: usize,
    pub stride: usize,
    pub grid: usize,
    /// `size^2 x (2 * filters)` row-major: per filter a real and an imaginary column.
    kernels: Vec<f32>,
}

/// Envelope width relative to the wavelength (about one octave of bandwidth).
const SIGMA_PER_WAVELENGTH: f32 = 0.5;
/// Ratio of the envelope's width across the carrier to its width along it.
const ASPECT: f32 = 0.5;

/// The real and imaginary parts of one kernel, row-major `size x size`. The real part
/// has its mean removed so that flat regions give no response.
pub fn kernel(wavelength: f32, theta: f32, size: usize) -> (Vec<f32>, Vec<f32>) {
    let half = (size / 2) as f32;
    let sigma = SIGMA_PER_WAVELENGTH * wavelength;
    let (sin, cos) = theta.sin_cos();
    let mut re = Vec::with_capacity(size * size);
    let mut im = Vec::with_capacity(size * size);
    for row in 0..size {
        for col in 0..size {
            let (x, y) = (col as f32 - half, row as f32 - half);
            let along = x * cos + y * sin;
            let across = -x * sin + y * cos;
            let envelope = (-(along * along + ASPECT * ASPECT * across * across)
                / (2.0 * sigma * sigma))
                .exp();
            let phase = std::f32::consts::TAU * along / wavelength;
            re.push(envelope * phase.cos());
            im.push(envelope * phase.sin());
        }
    }
    let mean = re.iter().sum::<f32>() / re.len() as f32;
    re.iter_mut().for_each(|v| *v -= mean);
    (re, im)
}

impl Gabor {
    pub fn new(
        wavelengths: Vec<f32>,
        orientations: usize,
        size: usize,
        stride: usize,
        grid: usize,
    ) -> Gabor {
        let size = size | 1;
        let filters = wavelengths.len() * orientations;
        let taps = size * size;
        let mut kernels = vec![0f32; taps * 2 * filters];
        for (wi, &wavelength) in wavelengths.iter().enumerate() {
            for o in 0..orientations {
                let theta = std::f32::consts::PI * o as f32 / orientations as f32;
                let (re, im) = kernel(wavelength, theta, size);
                let f = wi * orientations + o;
                for t in 0..taps {
                    kernels[t * 2 * filters + 2 * f] = re[t];
                    kernels[t * 2 * filters + 2 * f + 1] = im[t];
                }
            }
        }
        Gabor {
            wavelengths,
            orientations,
            size,
            stride: stride.max(1),
            grid: grid.max(1),
            kernels,
        }
    }

    pub fn filters(&self) -> usize {
        self.wavelengths.len() * self.orientations
    }

    /// Response magnitudes: `filters` maps of `(h / stride) x (w / stride)`, map-major.
    pub fn magnitudes(&self, img: &[u8], w: usize, h: usize) -> Vec<f32> {
        assert_eq!(img.len(), w * h, "image is not {w}x{h}");
        let (mw, mh) = (w / self.stride, h / self.stride);
        let taps = self.size * self.size;
        let half = (self.size / 2) as isize;
        // Mirror indices past the border (without repeating the edge pixel).
        let mirror = |i: isize, n: usize| -> usize {
            let n = n as isize;
            let m = if i < 0 {
                -i
            } else if i >= n {
                2 * n - 2 - i
            } else {
                i
            };
            m.clamp(0, n - 1) as usize
        };
        let mut patches = vec![0f32; mw * mh * taps];
        for (p, patch) in patches.chunks_exact_mut(taps).enumerate() {
            let (cx, cy) = (
                ((p % mw) * self.stride) as isize,
                ((p / mw) * self.stride) as isize,
            );
            for (t, v) in patch.iter_mut().enumerate() {
                let dx = (t % self.size) as isize - half;
                let dy = (t / self.size) as isize - half;
                *v = img[mirror(cy + dy, h) * w + mirror(cx + dx, w)] as f32 / 255.0;
            }
        }
        let cols = 2 * self.filters();
        let mut responses = vec![0f32; mw * mh * cols];
        // SAFETY: patches is (mw*mh) x taps, kernels taps x cols, responses (mw*mh) x cols,
        // all row-major as the strides say.
        unsafe {
            matrixmultiply::sgemm(
                mw * mh,
                taps,
                cols,
                1.0,
                patches.as_ptr(),
                taps as isize,
                1,
                self.kernels.as_ptr(),
                cols as isize,
                1,
                0.0,
                responses.as_mut_ptr(),
                cols as isize,
                1,
            );
        }
        let mut maps = vec![0f32; self.filters() * mw * mh];
        for (p, row) in responses.chunks_exact(cols).enumerate() {
            for f in 0..self.filters() {
                let (re, im) = (row[2 * f], row[2 * f + 1]);
                maps[f * mw * mh + p] = (re * re + im * im).sqrt();
            }
        }
        maps
    }
}

impl Descriptor for Gabor {
    fn name(&self) -> String {
        format!(
            "Gabor {} wavelengths x {} orientations, {}x{} kernels, {}x{} cells",
            self.wavelengths.len(),
            self.orientations,
            self.size,
            self.size,
            self.grid,
            self.grid
        )
    }
    fn dim(&self) -> usize {
        self.filters() * self.grid * self.grid
    }
    fn extract(&self, img: &[u8], w: usize, h: usize, out: &mut [f32]) {
        let maps = self.magnitudes(img, w, h);
        let (mw, mh) = (w / self.stride, h / self.stride);
        let g = self.grid;
        out.fill(0.0);
        let mut counts = vec![0f32; g * g];
        for y in 0..mh {
            for x in 0..mw {
                counts[(y * g / mh) * g + x * g / mw] += 1.0;
            }
        }
        for (f, map) in maps.chunks_exact(mw * mh).enumerate() {
            let cells = &mut out[f * g * g..(f + 1) * g * g];
            for (p, &v) in map.iter().enumerate() {
                let (x, y) = (p % mw, p / mw);
                cells[(y * g / mh) * g + x * g / mw] += v;
            }
            for (c, n) in cells.iter_mut().zip(&counts) {
                *c /= n.max(1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_values_by_hand() {
        let (re, im) = kernel(4.0, 0.0, 5);
        // Imaginary part is odd: im(x, y) = -im(-x, -y); zero on the centre column.
        for t in 0..25 {
            assert!((im[t] + im[24 - t]).abs() < 1e-6);
        }
        assert_eq!(im[12], 0.0);
        // Real part has zero mean.
        assert!(re.iter().sum::<f32>().abs() < 1e-5);
        // Before mean removal, at (x=1, y=0): envelope exp(-1 / (2 * 2^2)) = 0.8825,
        // carrier cos(2 pi / 4) = 0: so re(1, 0) = -mean and re(0, 0) = 1 - mean.
        assert!((re[12] - re[13] - 1.0).abs() < 1e-5);
        // im(1, 0) = 0.8825 * sin(pi / 2).
        assert!((im[13] - (-1.0f32 / 8.0).exp()).abs() < 1e-5);
    }

    #[test]
    fn grating_excites_the_matching_orientation() {
        // Vertical stripes with a 6-pixel period: intensity varies along x only.
        let img: Vec<u8> = (0..48 * 48)
            .map(|i| {
                let x = (i % 48) as f32;
                (128.0 + 100.0 * (std::f32::consts::TAU * x / 6.0).cos()) as u8
            })
            .collect();
        let bank = Gabor::new(vec![6.0], 4, 11, 2, 2);
        let mut out = vec![0.0; bank.dim()];
        bank.extract(&img, 48, 48, &mut out);
        // Orientation 0 (carrier along x) responds most, 90 degrees least.
        let per_orientation: Vec<f32> = out.chunks(4).map(|c| c.iter().sum()).collect();
        assert!(
            per_orientation[0] > 2.0 * per_orientation[1],
            "{per_orientation:?}"
        );
        assert!(
            per_orientation[2] < 0.1 * per_orientation[0],
            "{per_orientation:?}"
        );
        // A flat face gives no response at all.
        bank.extract(&[90; 48 * 48], 48, 48, &mut out);
        assert!(out.iter().all(|&v| v.abs() < 1e-3), "{out:?}");
    }
}
