//! Batch assembly: crops, flips, brightness/contrast jitter and random erasing on the
//! 48x48 u8 faces, written as normalised f32 planes. Pure Rust and driven by one seeded
//! generator per epoch, so a resumed run sees exactly the batches it would have seen.

use moodtune_fer::data::{Dataset, SIDE};
use rand::Rng;

/// Normalisation the exported model stores (mean/std of FER2013 Training in [0,1]).
pub const MEAN: f32 = 0.5077;
pub const STD: f32 = 0.2550;

/// Largest rotation of `affine` augmentation, degrees either way.
pub const MAX_ROTATION_DEGREES: f32 = 10.0;
/// Largest zoom of `affine` augmentation, as a fraction either way.
pub const MAX_ZOOM: f32 = 0.1;

/// The geometric part of training augmentation beyond the random crop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Geometry {
    /// A random rotation (up to [`MAX_ROTATION_DEGREES`]) and zoom (up to [`MAX_ZOOM`])
    /// about the crop's centre.
    pub affine: bool,
    /// A random translation of up to this many pixels either way, border pixels
    /// repeating: the shifts a network whose input is the whole face cannot get from
    /// crops.
    pub shift: usize,
}

/// Writes `indices`' faces as `[n, 1, crop, crop]` into `out`. With `rng`, random crop,
/// flip, jitter and erasing, plus the random warps `geometry` asks for; without `rng`,
/// the centre crop.
pub fn fill_batch(
    ds: &Dataset,
    indices: &[usize],
    crop: usize,
    rng: Option<&mut dyn rand::RngCore>,
    geometry: Geometry,
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
                if geometry != Geometry::default() {
                    let mut warp = Warp::NONE;
                    if geometry.affine {
                        let degrees = rng.gen_range(-MAX_ROTATION_DEGREES..=MAX_ROTATION_DEGREES);
                        warp.radians = degrees.to_radians();
                        warp.zoom = rng.gen_range(1.0 - MAX_ZOOM..=1.0 + MAX_ZOOM);
                    }
                    if geometry.shift > 0 {
                        let reach = geometry.shift as i32;
                        warp.shift = (
                            rng.gen_range(-reach..=reach) as f32,
                            rng.gen_range(-reach..=reach) as f32,
                        );
                    }
                    warp_crop(ds.image(i), (oy, ox), crop, flip, warp, &mut plane);
                } else {
                    copy_crop(ds.image(i), oy, ox, crop, flip, &mut plane);
                }
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

/// A rotation (counter-clockwise on the picture), zoom (above 1 enlarges the face) and
/// translation (`(dy, dx)` source pixels the window's centre moves by).
#[derive(Debug, Clone, Copy)]
struct Warp {
    radians: f32,
    zoom: f32,
    shift: (f32, f32),
}

impl Warp {
    const NONE: Warp = Warp {
        radians: 0.0,
        zoom: 1.0,
        shift: (0.0, 0.0),
    };
}

/// [`copy_crop`] through a [`Warp`] about the crop window's centre: each output pixel
/// samples the 48x48 face bilinearly, the border pixels repeating outside it.
fn warp_crop(
    img: &[u8],
    (oy, ox): (usize, usize),
    crop: usize,
    flip: bool,
    warp: Warp,
    plane: &mut [f32],
) {
    let half = (crop as f32 - 1.0) / 2.0;
    let (cy, cx) = (
        oy as f32 + half + warp.shift.0,
        ox as f32 + half + warp.shift.1,
    );
    let (sin, cos) = warp.radians.sin_cos();
    let last = (SIDE - 1) as f32;
    let at = |y: usize, x: usize| img[y * SIDE + x] as f32;
    for y in 0..crop {
        for x in 0..crop {
            let dx = if flip {
                half - x as f32
            } else {
                x as f32 - half
            };
            let dy = y as f32 - half;
            let sx = (cx + (cos * dx + sin * dy) / warp.zoom).clamp(0.0, last);
            let sy = (cy + (cos * dy - sin * dx) / warp.zoom).clamp(0.0, last);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(SIDE - 1), (y0 + 1).min(SIDE - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            plane[y * crop + x] = (top * (1.0 - fy) + bottom * fy) / 255.0;
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
        fill_batch(&ds(), &[0], 40, None, Geometry::default(), &mut out);
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
            fill_batch(
                &ds(),
                &[0, 1],
                40,
                Some(&mut rng),
                Geometry::default(),
                &mut out,
            );
            out
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert_eq!(run(3).len(), 2 * 1600);
    }

    #[test]
    fn a_plain_warp_is_the_crop_and_a_half_turn_reverses_it() {
        let img: Vec<u8> = (0..SIDE * SIDE).map(|p| (p * 7 % 251) as u8).collect();
        let (mut plain, mut warped) = (vec![0f32; 1600], vec![0f32; 1600]);
        let none = Warp::NONE;
        for flip in [false, true] {
            copy_crop(&img, 3, 5, 40, flip, &mut plain);
            warp_crop(&img, (3, 5), 40, flip, none, &mut warped);
            assert!(plain.iter().zip(&warped).all(|(a, b)| (a - b).abs() < 1e-5));
        }
        // Half a turn about the centre maps pixel (y, x) to (39 - y, 39 - x).
        let half_turn = Warp {
            radians: std::f32::consts::PI,
            ..Warp::NONE
        };
        copy_crop(&img, 3, 5, 40, false, &mut plain);
        warp_crop(&img, (3, 5), 40, false, half_turn, &mut warped);
        for (i, v) in warped.iter().enumerate() {
            assert!((v - plain[1599 - i]).abs() < 1e-4, "pixel {i}");
        }
        // Zooming in by 2 samples the middle: the centre 2x2 of the window spreads out.
        let zoom = Warp {
            zoom: 2.0,
            ..Warp::NONE
        };
        warp_crop(&img, (4, 4), 40, false, zoom, &mut warped);
        let centre = 23.5f32; // source coordinate of the window's centre
        let at = |y: f32, x: f32| {
            let (y0, x0) = (y.floor() as usize, x.floor() as usize);
            let (fy, fx) = (y - y0 as f32, x - x0 as f32);
            let p = |y: usize, x: usize| img[y * SIDE + x] as f32 / 255.0;
            (p(y0, x0) * (1.0 - fx) + p(y0, x0 + 1) * fx) * (1.0 - fy)
                + (p(y0 + 1, x0) * (1.0 - fx) + p(y0 + 1, x0 + 1) * fx) * fy
        };
        // Output (0, 0) is 19.5 px up-left of the centre: 9.75 px in the source.
        assert!((warped[0] - at(centre - 9.75, centre - 9.75)).abs() < 1e-4);
    }

    #[test]
    fn affine_augmentation_changes_the_batch_and_stays_seeded() {
        let run = |affine| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            let mut out = vec![];
            let geometry = Geometry { affine, shift: 0 };
            fill_batch(&ds(), &[0, 1], 40, Some(&mut rng), geometry, &mut out);
            out
        };
        assert_eq!(run(true), run(true));
        assert_ne!(run(true), run(false));
        assert!(run(true).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn a_shift_moves_the_whole_face_and_repeats_the_border() {
        let img: Vec<u8> = (0..SIDE * SIDE).map(|p| (p * 7 % 251) as u8).collect();
        let mut shifted = vec![0f32; SIDE * SIDE];
        let warp = Warp {
            shift: (2.0, -3.0),
            ..Warp::NONE
        };
        warp_crop(&img, (0, 0), SIDE, false, warp, &mut shifted);
        let source = |y: usize, x: usize| img[y * SIDE + x] as f32 / 255.0;
        // Output (y, x) shows source (y + 2, x - 3), clamped to the face.
        for (y, x) in [(0, 3), (10, 20), (45, 47)] {
            let got = shifted[y * SIDE + x];
            assert!((got - source(y + 2, x - 3)).abs() < 1e-5, "({y}, {x})");
        }
        assert!((shifted[0] - source(2, 0)).abs() < 1e-5);
        assert!((shifted[47 * SIDE] - source(47, 0)).abs() < 1e-5);
    }

    #[test]
    fn shifting_whole_faces_changes_the_batch() {
        let run = |shift| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
            let mut out = vec![];
            let geometry = Geometry {
                affine: false,
                shift,
            };
            fill_batch(&ds(), &[0, 1], SIDE, Some(&mut rng), geometry, &mut out);
            out
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(0));
    }
}
