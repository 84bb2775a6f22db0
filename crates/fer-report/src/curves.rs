//! Training curves: loss and accuracy per epoch, train and validation, side by side.

use crate::{draw_err, ensure_font, Canvas, EpochRecord, FONT};
use anyhow::{bail, Result};
use plotters::prelude::*;
use std::path::Path;

pub const CURVES_SIZE: (u32, u32) = (1200, 480);

pub(crate) const TRAIN: RGBColor = RGBColor(31, 119, 180);
pub(crate) const VAL: RGBColor = RGBColor(255, 127, 14);
pub(crate) const EMA: RGBColor = RGBColor(44, 160, 44);

/// One value per line of a panel: train, validation, and the weight average's validation
/// (NaN when the run kept no average).
type Values = [f64; 3];

/// Draws loss (left) and accuracy in percent (right) per epoch, with a third line for the
/// weight average when the run kept one (`fer train --ema`). Records are sorted by epoch;
/// when an epoch appears twice (a resumed run appends again) the later line wins.
/// Non-finite values (a diverged epoch) are left out of the lines.
pub fn curves_png(records: &[EpochRecord], out: &Path) -> Result<()> {
    if records.is_empty() {
        bail!("no epoch records to plot into {}", out.display());
    }
    ensure_font()?;
    let mut recs: Vec<EpochRecord> = Vec::with_capacity(records.len());
    for r in records {
        match recs.iter_mut().find(|x| x.epoch == r.epoch) {
            Some(x) => *x = *r,
            None => recs.push(*r),
        }
    }
    recs.sort_by_key(|r| r.epoch);
    // Both trainers write fractions; a file with percentages is plotted as it is.
    let acc_max = recs
        .iter()
        .flat_map(|r| [r.train_acc, r.val_acc, r.ema_val_acc])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let acc_scale = if acc_max > 1.0 { 1.0 } else { 100.0 };

    let mut canvas = Canvas::new(CURVES_SIZE);
    {
        let root = canvas.backend().into_drawing_area();
        let err = draw_err("training curves");
        let (left, right) = root.split_horizontally(CURVES_SIZE.0 / 2);
        let loss = |r: &EpochRecord| [r.train_loss, r.val_loss, r.ema_val_loss];
        let acc = |r: &EpochRecord| [r.train_acc, r.val_acc, r.ema_val_acc].map(|v| v * acc_scale);
        panel(
            &left,
            &recs,
            "Loss per epoch",
            "cross-entropy loss",
            loss,
            false,
        )
        .map_err(&err)?;
        // The best epoch of either network, as the trainer picks best.safetensors.
        let best = recs
            .iter()
            .flat_map(|r| {
                [
                    (r.val_acc, r.epoch, ""),
                    (r.ema_val_acc, r.epoch, " (average)"),
                ]
            })
            .filter(|(acc, _, _)| acc.is_finite())
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let title = match best {
            Some((acc, epoch, which)) => format!(
                "Accuracy per epoch (best validation {:.1}%{which} at epoch {epoch})",
                acc * acc_scale,
            ),
            None => "Accuracy per epoch".to_string(),
        };
        panel(&right, &recs, &title, "accuracy (%)", acc, true).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    canvas.save(out)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type DrawResult = std::result::Result<
    (),
    DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
>;

fn panel(
    area: &Area<'_>,
    recs: &[EpochRecord],
    title: &str,
    y_desc: &str,
    value: impl Fn(&EpochRecord) -> Values,
    percent: bool,
) -> DrawResult {
    let first = recs[0].epoch as i64;
    let last = recs[recs.len() - 1].epoch as i64;
    // A single epoch still needs an x range to sit in.
    let (x0, x1) = if first == last {
        (first - 1, last + 1)
    } else {
        (first, last)
    };
    let finite: Vec<f64> = recs
        .iter()
        .flat_map(&value)
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = if finite.is_empty() {
        (0.0, 1.0)
    } else {
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if percent {
            // Whole tens, so the axis reads as round percentages.
            let lo = ((lo / 10.0).floor() * 10.0).max(0.0);
            let hi = ((hi / 10.0).ceil() * 10.0).min(100.0).max(lo + 10.0);
            (lo, hi)
        } else {
            (0.0, (hi * 1.08).max(1e-3))
        }
    };

    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 19))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(62)
        .build_cartesian_2d(x0..x1, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_labels(10)
        .y_labels(8)
        .light_line_style(RGBColor(246, 246, 246))
        .y_label_formatter(&|v| {
            if percent {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .draw()?;

    let markers = recs.len() <= 60;
    let lines = [
        (TRAIN, "train"),
        (VAL, "validation (PublicTest)"),
        (EMA, "weight average, validation"),
    ];
    for (which, (color, name)) in lines.into_iter().enumerate() {
        let pick = |r: &EpochRecord| value(r)[which];
        // Split at non-finite values so a diverged epoch is a gap, not a wild line.
        let mut runs: Vec<Vec<(i64, f64)>> = vec![Vec::new()];
        for r in recs {
            let v = pick(r);
            if v.is_finite() {
                runs.last_mut().unwrap().push((r.epoch as i64, v));
            } else if !runs.last().unwrap().is_empty() {
                runs.push(Vec::new());
            }
        }
        let style = color.stroke_width(2);
        let mut labelled = false;
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let s = chart.draw_series(LineSeries::new(run.iter().copied(), style))?;
            if !labelled {
                s.label(name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
                labelled = true;
            }
            if markers {
                chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(legend_corner(recs, &value, (x0, x1), (lo, hi)))
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

/// The plot corner whose legend-sized box (about 45% x 28% of the plot) covers the
/// fewest points of either line, sampled finely along each segment, so the legend hides
/// as little of the curves as possible.
fn legend_corner(
    recs: &[EpochRecord],
    value: &impl Fn(&EpochRecord) -> Values,
    (x0, x1): (i64, i64),
    (lo, hi): (f64, f64),
) -> SeriesLabelPosition {
    let nx = |x: f64| (x - x0 as f64) / (x1 - x0).max(1) as f64;
    let ny = |y: f64| (y - lo) / (hi - lo).max(1e-12);
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for w in 0..3 {
        let line: Vec<(f64, f64)> = recs
            .iter()
            .map(|r| (nx(r.epoch as f64), ny(value(r)[w])))
            .filter(|p| p.1.is_finite())
            .collect();
        pts.extend(line.iter().copied());
        for seg in line.windows(2) {
            for k in 1..20 {
                let t = k as f64 / 20.0;
                pts.push((
                    seg[0].0 + (seg[1].0 - seg[0].0) * t,
                    seg[0].1 + (seg[1].1 - seg[0].1) * t,
                ));
            }
        }
    }
    let (bw, bh) = (0.45, 0.28);
    let corners = [
        (SeriesLabelPosition::UpperRight, 1.0 - bw, 1.0 - bh),
        (SeriesLabelPosition::LowerRight, 1.0 - bw, 0.0),
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0 - bh),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0),
    ];
    let covered = |&(_, cx, cy): &(SeriesLabelPosition, f64, f64)| {
        pts.iter()
            .filter(|(x, y)| *x >= cx && *x <= cx + bw && *y >= cy && *y <= cy + bh)
            .count()
    };
    // Ties keep the order above: upper right first, as plots usually have it.
    let best = corners
        .iter()
        .min_by_key(|c| covered(c))
        .expect("four corners");
    best.0.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: usize, loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: loss,
            train_acc: 0.5,
            val_loss: loss,
            val_acc: 0.5,
            ema_val_loss: f64::NAN,
            ema_val_acc: f64::NAN,
        }
    }

    #[test]
    fn legend_avoids_the_lines() {
        let loss = |r: &EpochRecord| [r.train_loss, r.val_loss, r.ema_val_loss];
        // Falling lines: the usual upper right is free.
        let falling: Vec<_> = (1..=10).map(|e| rec(e, 2.0 / e as f64)).collect();
        let c = legend_corner(&falling, &loss, (1, 10), (0.0, 2.2));
        assert!(matches!(c, SeriesLabelPosition::UpperRight));
        // Rising lines fill the upper right and lower left corners.
        let rising: Vec<_> = (1..=10).map(|e| rec(e, e as f64)).collect();
        let c = legend_corner(&rising, &loss, (1, 10), (0.0, 10.0));
        assert!(matches!(c, SeriesLabelPosition::LowerRight), "{c:?}");
        // Flat lines high up: the legend goes low.
        let high: Vec<_> = (1..=10).map(|e| rec(e, 1.9)).collect();
        let c = legend_corner(&high, &loss, (1, 10), (0.0, 2.0));
        assert!(matches!(c, SeriesLabelPosition::LowerRight), "{c:?}");
    }
}
