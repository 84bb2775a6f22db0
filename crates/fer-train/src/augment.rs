//! Batch assembly: crops, flips, brightness/contrast jitter and random erasing on the
//! 48x48 u8 faces, written as normalised f32 planes. Pure Rust and driven by one seeded
//! generator per epoch, so a resumed run sees exactly the batches it would have seen.

use moodtune_fer::data::{Dataset, SIDE};
use rand::Rng;

/// Normalisation the exported model stores (mean/std of FER2013 Training in [0,1]).
pub const MEAN: f32 = 0.5077;
pub const STD: f32 = 0.2550;

/// Writes `indices`' faces as `[n, 1, crop, crop]` into `out`. With `rng`, random crop,
/// flip, jitter and erasing; without, the centre crop.
pub fn fill_batch(
    ds: &Dataset,
    indices: &[usize],
    crop: usize,
    rng: Option<&mut dyn rand::RngCore>,
    out: &mut Vec<f32>,
) {
    out.clear();
    out.reserve(indices.len() * crop * crop);
    let margin = SIDE - crop;
    let mut plane = vec![0f32; crop * crop];
    match rng {
        None => {
            for &i in indices {
                copy_crop(ds.image(i), margin / 2, margin / 2, crop, false, &mut plane);
                out.extend(plane.iter().map(|v| (v - MEAN) / STD));
            }
        }
        Some(rng) => {
            for &i in indices {
                let (oy, ox) = (rng.gen_range(0..=margin), rng.gen_range(0..=margin));
                let flip = rng.gen_bool(0.5);
                copy_crop(ds.image(i), oy, ox, crop, flip, &mut plane);
                let contrast: f32 = rng.gen_range(0.8..1.2);
                let bright: f32 = rng.gen_range(-0.1..0.1);
                let mean = plane.iter().sum::<f32>() / plane.len() as f32;
                for v in plane.iter_mut() {
                    *v = (*v - mean) * contrast + mean + bright;
                }
                if rng.gen_bool(0.5) {
                    let (eh, ew) = (
                        rng.gen_range(crop / 8..crop / 3),
                        rng.gen_range(crop / 8..crop / 3),
                    );
                    let (ey, ex) = (rng.gen_range(0..crop - eh), rng.gen_range(0..crop - ew));
                    let fill: f32 = rng.gen();
                    for y in ey..ey + eh {
                        plane[y * crop + ex..y * crop + ex + ew].fill(fill);
                    }
                }
                out.extend(plane.iter().map(|v| (v - MEAN) / STD));
            }
        }
    }
}

fn copy_crop(img: &[u8], oy: usize, ox: usize, crop: usize, flip: bool, plane: &mut [f32]) {
    for y in 0..crop {
        let row = &img[(oy + y) * SIDE + ox..(oy + y) * SIDE + ox + crop];
        for x in 0..crop {
            let src = if flip { row[crop - 1 - x] } else { row[x] };
            plane[y * crop + x] = src as f32 / 255.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moodtune_core::Emotion;
    use rand::SeedableRng;

    fn ds() -> Dataset {
        // Pixel value = column index, so crops and flips are visible in the output.
        let img: Vec<u8> = (0..SIDE * SIDE).map(|i| (i % SIDE) as u8).collect();
        Dataset {
            images: [img.clone(), img].concat(),
            labels: vec![Emotion::Happy; 2],
            skipped: vec![],
        }
    }

    #[test]
    fn centre_crop_is_exact() {
        let mut out = vec![];
        fill_batch(&ds(), &[0], 40, None, &mut out);
        assert_eq!(out.len(), 1600);
        // Column 0 of a centre crop of 40 from 48 is source column 4.
        assert!((out[0] * STD + MEAN - 4.0 / 255.0).abs() < 1e-6);
        assert!((out[39] * STD + MEAN - 43.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn augmentation_is_seeded_and_shaped() {
        let run = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut out = vec![];
            fill_batch(&ds(), &[0, 1], 40, Some(&mut rng), &mut out);
            out
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert_eq!(run(3).len(), 2 * 1600);
    }
}
