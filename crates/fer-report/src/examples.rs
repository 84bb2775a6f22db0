//! A grid of example faces: one row per class, a seeded random choice of faces in each,
//! every face at twice its size with its true and (optionally) predicted label.

use crate::{check_predictions, class_color, draw_err, ensure_font, Canvas, FONT};
use anyhow::{bail, Result};
use moodtune_core::Emotion;
use moodtune_fer::data::SIDE;
use moodtune_fer::metrics::argmax;
use moodtune_fer::Dataset;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

/// More faces per row than this makes an unwieldy image; the caller should sample.
pub const MAX_PER_CLASS: usize = 40;

const SCALE: usize = 2;
const FACE: i32 = (SIDE * SCALE) as i32;
const TITLE_H: i32 = 60;
const LEFT: i32 = 124;
const CELL_W: i32 = 140;
const LINE: i32 = 17;
const CELL_H: i32 = FACE + 8 + 2 * LINE + 12;
const MIN_W: i32 = 620;

pub(crate) const WRONG: RGBColor = RGBColor(205, 20, 20);
pub(crate) const RIGHT: RGBColor = RGBColor(20, 120, 40);

/// Pixel size of the grid for `per_class` faces per row.
pub fn examples_grid_size(per_class: usize) -> (u32, u32) {
    let w = (LEFT + per_class as i32 * CELL_W + 12).max(MIN_W);
    let h = TITLE_H + Emotion::COUNT as i32 * CELL_H + 8;
    (w as u32, h as u32)
}

/// Top-left corner of the face in row `row`, column `col`.
pub(crate) fn face_origin(row: usize, col: usize) -> (i32, i32) {
    (
        LEFT + col as i32 * CELL_W + (CELL_W - FACE) / 2,
        TITLE_H + row as i32 * CELL_H + 4,
    )
}

/// The dataset indices shown, per class: a seeded shuffle of that class's images, cut
/// to `per_class`. The same data and seed always give the same choice.
pub(crate) fn choose(ds: &Dataset, per_class: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Emotion::ALL
        .iter()
        .map(|&e| {
            let mut idx: Vec<usize> = (0..ds.len()).filter(|&i| ds.labels[i] == e).collect();
            let (chosen, _) = idx.partial_shuffle(&mut rng, per_class);
            chosen.to_vec()
        })
        .collect()
}

/// Writes the grid. With `predictions` (one probability row per dataset image) each face
/// gets its predicted class and confidence under it: green when right, red when wrong.
pub fn examples_grid_png(
    ds: &Dataset,
    predictions: Option<&[[f32; Emotion::COUNT]]>,
    per_class: usize,
    seed: u64,
    out: &Path,
) -> Result<()> {
    if per_class == 0 || per_class > MAX_PER_CLASS {
        bail!("faces per class must be 1 to {MAX_PER_CLASS}, got {per_class}");
    }
    if ds.is_empty() {
        bail!("no images to show in {}", out.display());
    }
    if let Some(p) = predictions {
        check_predictions(ds, p)?;
    }
    ensure_font()?;
    let chosen = choose(ds, per_class, seed);
    let counts = ds.label_counts();
    let size = examples_grid_size(per_class);
    let mut canvas = Canvas::new(size);
    {
        let root = canvas.backend().into_drawing_area();
        let err = draw_err("example grid");
        let text = |s: &str, at: (i32, i32), size: u32, color: RGBColor, pos: Pos| {
            Text::new(
                s.to_string(),
                at,
                (FONT, size).into_font().color(&color).pos(pos),
            )
        };
        let top_center = Pos::new(HPos::Center, VPos::Top);
        let mut title = format!("Example faces, {per_class} per class (seed {seed})");
        if let Some(p) = predictions {
            let shown: Vec<usize> = chosen.concat();
            let wrong = shown
                .iter()
                .filter(|&&i| argmax(&p[i]) != ds.labels[i].index())
                .count();
            title += &format!(": {wrong} of {} shown predicted wrongly", shown.len());
        }
        root.draw(&text(
            &title,
            (size.0 as i32 / 2, 14),
            19,
            BLACK,
            top_center,
        ))
        .map_err(&err)?;
        if predictions.is_some() {
            root.draw(&text(
                "under each face: true class, then prediction (green right, red wrong)",
                (size.0 as i32 / 2, 38),
                13,
                RGBColor(80, 80, 80),
                top_center,
            ))
            .map_err(&err)?;
        }
        for (row, &e) in Emotion::ALL.iter().enumerate() {
            let y = TITLE_H + row as i32 * CELL_H;
            if row > 0 {
                root.draw(&PathElement::new(
                    vec![(8, y - 4), (size.0 as i32 - 8, y - 4)],
                    RGBColor(220, 220, 220),
                ))
                .map_err(&err)?;
            }
            let left_middle = Pos::new(HPos::Left, VPos::Center);
            root.draw(&Rectangle::new(
                [(10, y + FACE / 2 - 16), (16, y + FACE / 2 + 16)],
                class_color(e).filled(),
            ))
            .map_err(&err)?;
            root.draw(&text(
                e.name(),
                (24, y + FACE / 2 - 7),
                17,
                BLACK,
                left_middle,
            ))
            .map_err(&err)?;
            root.draw(&text(
                &format!("{} images", counts[e.index()]),
                (24, y + FACE / 2 + 13),
                12,
                RGBColor(90, 90, 90),
                left_middle,
            ))
            .map_err(&err)?;
            if chosen[row].is_empty() {
                root.draw(&text(
                    "(no images of this class)",
                    (LEFT + 10, y + FACE / 2),
                    14,
                    RGBColor(120, 120, 120),
                    left_middle,
                ))
                .map_err(&err)?;
            }
            for (col, &i) in chosen[row].iter().enumerate() {
                let (fx, fy) = face_origin(row, col);
                let cx = fx + FACE / 2;
                root.draw(&Rectangle::new(
                    [(fx - 1, fy - 1), (fx + FACE, fy + FACE)],
                    RGBColor(170, 170, 170),
                ))
                .map_err(&err)?;
                let ty = fy + FACE + 6;
                root.draw(&text(
                    &format!("true {}", ds.labels[i].name()),
                    (cx, ty),
                    13,
                    BLACK,
                    top_center,
                ))
                .map_err(&err)?;
                if let Some(p) = predictions {
                    let pred = argmax(&p[i]);
                    let name = Emotion::from_index(pred).map_or("?", |e| e.name());
                    let ink = if pred == ds.labels[i].index() {
                        RIGHT
                    } else {
                        WRONG
                    };
                    root.draw(&text(
                        &format!("pred {name} {:.0}%", p[i][pred] * 100.0),
                        (cx, ty + LINE),
                        13,
                        ink,
                        top_center,
                    ))
                    .map_err(&err)?;
                }
            }
        }
        root.present().map_err(&err)?;
    }
    // Faces are copied in directly: exact pixels, each repeated SCALE x SCALE.
    let width = size.0 as usize;
    for (row, picks) in chosen.iter().enumerate() {
        for (col, &i) in picks.iter().enumerate() {
            let (fx, fy) = face_origin(row, col);
            let face = ds.image(i);
            for y in 0..SIDE * SCALE {
                for x in 0..SIDE * SCALE {
                    let v = face[(y / SCALE) * SIDE + x / SCALE];
                    let o = ((fy as usize + y) * width + fx as usize + x) * 3;
                    canvas.buf[o..o + 3].fill(v);
                }
            }
        }
    }
    canvas.save(out)
}
