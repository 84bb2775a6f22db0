//! Bar chart of how many images each class has.

use crate::{class_color, draw_err, ensure_font, Canvas, FONT};
use anyhow::Result;
use moodtune_core::Emotion;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub const HISTOGRAM_SIZE: (u32, u32) = (820, 520);

/// One bar per class in FER2013 id order, with the count and its share above each bar.
pub fn label_histogram_png(
    counts: &[usize; Emotion::COUNT],
    title: &str,
    out: &Path,
) -> Result<()> {
    ensure_font()?;
    let total: usize = counts.iter().sum();
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut canvas = Canvas::new(HISTOGRAM_SIZE);
    {
        let root = canvas.backend().into_drawing_area();
        let err = draw_err("label histogram");
        // Headroom above the tallest bar for its two label lines.
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..6.5f64, 0f64..max * 1.18)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(Emotion::COUNT)
            .x_label_formatter(&|x| {
                let i = x.round();
                match Emotion::from_index(i as usize) {
                    Some(e) if (x - i).abs() < 1e-6 && i >= 0.0 => e.name().to_string(),
                    _ => String::new(),
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("images")
            .x_desc("class")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .light_line_style(WHITE)
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(Emotion::ALL.iter().map(|&e| {
                let i = e.index() as f64;
                Rectangle::new(
                    [(i - 0.36, 0.0), (i + 0.36, counts[e.index()] as f64)],
                    class_color(e).filled(),
                )
            }))
            .map_err(&err)?;
        let label = (FONT, 14)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(Emotion::ALL.iter().map(|&e| {
                let n = counts[e.index()];
                let share = if total > 0 {
                    format!("{:.1}%", 100.0 * n as f64 / total as f64)
                } else {
                    String::new()
                };
                EmptyElement::at((e.index() as f64, n as f64))
                    + Text::new(n.to_string(), (0, -22), label.clone())
                    + Text::new(share, (0, -5), label.clone())
            }))
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    canvas.save(out)
}
