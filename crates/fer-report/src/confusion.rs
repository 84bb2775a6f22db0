//! The row-normalised confusion matrix as a heat map, drawn cell by cell so the layout
//! (class names on both axes, value and count in every cell) stays fixed and readable.

use crate::{draw_err, ensure_font, Canvas, FONT};
use anyhow::Result;
use moodtune_core::Emotion;
use moodtune_fer::Evaluation;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub const CONFUSION_SIZE: (u32, u32) = (820, 716);

const K: usize = Emotion::COUNT;
pub(crate) const CELL: i32 = 80;
/// Top-left corner of the matrix.
pub(crate) const X0: i32 = 150;
pub(crate) const Y0: i32 = 66;

/// White (0) to dark blue (1).
pub(crate) fn heat(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Rows are true classes, columns predicted ones; each cell shows the share of its row
/// and, below it, the count. A class without samples gets a grey row marked "no samples".
pub fn confusion_png(eval: &Evaluation, out: &Path) -> Result<()> {
    ensure_font()?;
    let norm = eval.normalized_confusion();
    let mut canvas = Canvas::new(CONFUSION_SIZE);
    {
        let root = canvas.backend().into_drawing_area();
        let err = draw_err("confusion matrix");
        let text = |s: &str, (x, y): (i32, i32), size: u32, color: RGBColor, pos: Pos| {
            Text::new(
                s.to_string(),
                (x, y),
                (FONT, size).into_font().color(&color).pos(pos),
            )
        };
        let center = Pos::new(HPos::Center, VPos::Center);
        let side = CELL * K as i32;
        root.draw(&text(
            &format!(
                "Confusion matrix, rows normalised (accuracy {:.1}%, {} images)",
                eval.accuracy * 100.0,
                eval.samples
            ),
            (CONFUSION_SIZE.0 as i32 / 2, 28),
            20,
            BLACK,
            center,
        ))
        .map_err(&err)?;
        for (r, (counts, shares)) in eval.confusion.iter().zip(&norm).enumerate() {
            let support: usize = counts.iter().sum();
            for (c, (&count, &v)) in counts.iter().zip(shares).enumerate() {
                let (x, y) = (X0 + c as i32 * CELL, Y0 + r as i32 * CELL);
                let fill = if support == 0 {
                    RGBColor(225, 225, 225)
                } else {
                    heat(v)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    fill.filled(),
                ))
                .map_err(&err)?;
                if support == 0 {
                    continue;
                }
                let ink = if v > 0.5 { WHITE } else { BLACK };
                root.draw(&text(
                    &format!("{v:.2}"),
                    (x + CELL / 2, y + CELL / 2 - 8),
                    19,
                    ink,
                    center,
                ))
                .map_err(&err)?;
                root.draw(&text(
                    &count.to_string(),
                    (x + CELL / 2, y + CELL / 2 + 16),
                    13,
                    ink,
                    center,
                ))
                .map_err(&err)?;
            }
            if support == 0 {
                root.draw(&text(
                    "no samples",
                    (X0 + side / 2, Y0 + r as i32 * CELL + CELL / 2),
                    15,
                    RGBColor(90, 90, 90),
                    center,
                ))
                .map_err(&err)?;
            }
        }
        // Thin grid lines between cells and a frame around the matrix.
        for i in 0..=K as i32 {
            let grid = RGBColor(255, 255, 255).stroke_width(1);
            root.draw(&PathElement::new(
                vec![(X0, Y0 + i * CELL), (X0 + side, Y0 + i * CELL)],
                grid,
            ))
            .map_err(&err)?;
            root.draw(&PathElement::new(
                vec![(X0 + i * CELL, Y0), (X0 + i * CELL, Y0 + side)],
                grid,
            ))
            .map_err(&err)?;
        }
        root.draw(&Rectangle::new(
            [(X0, Y0), (X0 + side, Y0 + side)],
            RGBColor(120, 120, 120).stroke_width(1),
        ))
        .map_err(&err)?;
        for e in Emotion::ALL {
            let i = e.index() as i32;
            let right_middle = Pos::new(HPos::Right, VPos::Center);
            root.draw(&text(
                e.name(),
                (X0 - 10, Y0 + i * CELL + CELL / 2),
                15,
                BLACK,
                right_middle,
            ))
            .map_err(&err)?;
            root.draw(&text(
                e.name(),
                (X0 + i * CELL + CELL / 2, Y0 + side + 16),
                15,
                BLACK,
                center,
            ))
            .map_err(&err)?;
        }
        root.draw(&text(
            "predicted class",
            (X0 + side / 2, Y0 + side + 48),
            16,
            BLACK,
            center,
        ))
        .map_err(&err)?;
        root.draw(&Text::new(
            "true class".to_string(),
            (28, Y0 + side / 2),
            (FONT, 16)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(center),
        ))
        .map_err(&err)?;
        // Colour bar: 0 at the bottom, 1 at the top.
        let (bx, bw) = (X0 + side + 24, 18);
        for py in 0..side {
            let v = 1.0 - py as f64 / (side - 1) as f64;
            root.draw(&Rectangle::new(
                [(bx, Y0 + py), (bx + bw, Y0 + py + 1)],
                heat(v).filled(),
            ))
            .map_err(&err)?;
        }
        root.draw(&Rectangle::new(
            [(bx, Y0), (bx + bw, Y0 + side)],
            RGBColor(120, 120, 120).stroke_width(1),
        ))
        .map_err(&err)?;
        for k in 0..=4 {
            let v = k as f64 / 4.0;
            let y = Y0 + side - (v * side as f64).round() as i32;
            root.draw(&text(
                &format!("{v:.2}"),
                (bx + bw + 6, y),
                13,
                BLACK,
                Pos::new(HPos::Left, VPos::Center),
            ))
            .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    canvas.save(out)
}
