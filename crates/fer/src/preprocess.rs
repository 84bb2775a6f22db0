//! Composable preprocessing steps of the design (SPEC.md section 1). A model stores the
//! steps it was trained with (as text in its weight file's metadata) and [`Pipeline`]
//! replays exactly those at inference.

use anyhow::{bail, Result};
use image::{imageops, GrayImage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Global histogram equalization.
    Equalize,
    /// 3x3 median filter (removes salt-and-pepper noise, keeps edges).
    Median3,
    /// Linear grayscale stretch of the 1st..99th percentile to 0..255.
    Stretch,
    /// Bilinear resize to a square of this side.
    Resize(u32),
}

impl Step {
    pub fn name(&self) -> String {
        match self {
            Step::Equalize => "equalize".into(),
            Step::Median3 => "median3".into(),
            Step::Stretch => "stretch".into(),
            Step::Resize(n) => format!("resize{n}"),
        }
    }

    pub fn parse(s: &str) -> Result<Step> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "equalize" | "histeq" => Step::Equalize,
            "median3" | "median" => Step::Median3,
            "stretch" => Step::Stretch,
            _ => match s.strip_prefix("resize").and_then(|n| n.parse().ok()) {
                Some(n) if (8..=512).contains(&n) => Step::Resize(n),
                _ => bail!("unknown preprocessing step {s:?} (expected equalize, median3, stretch or resizeN)"),
            },
        })
    }

    pub fn apply(&self, img: &GrayImage) -> GrayImage {
        match *self {
            Step::Equalize => equalize(img),
            Step::Median3 => median3(img),
            Step::Stretch => stretch(img),
            Step::Resize(n) if img.dimensions() == (n, n) => img.clone(),
            Step::Resize(n) => imageops::resize(img, n, n, imageops::FilterType::Triangle),
        }
    }
}

/// Ordered steps; grayscale conversion is implicit (faces arrive as grayscale crops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline(pub Vec<Step>);

impl Pipeline {
    /// Parses a comma-separated list such as `equalize,median3,resize48`.
    pub fn parse(text: &str) -> Result<Pipeline> {
        let steps = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Step::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(Pipeline(steps))
    }

    pub fn to_text(&self) -> String {
        self.0.iter().map(Step::name).collect::<Vec<_>>().join(",")
    }

    pub fn apply(&self, img: &GrayImage) -> GrayImage {
        self.0.iter().fold(img.clone(), |acc, s| s.apply(&acc))
    }
}

fn equalize(img: &GrayImage) -> GrayImage {
    let mut hist = [0u32; 256];
    for p in img.as_raw() {
        hist[*p as usize] += 1;
    }
    let total = img.as_raw().len() as u32;
    let mut cdf = [0u32; 256];
    let mut acc = 0;
    for (i, h) in hist.iter().enumerate() {
        acc += h;
        cdf[i] = acc;
    }
    let cdf_min = cdf.iter().copied().find(|&c| c > 0).unwrap_or(0);
    // One grey level only: nothing to spread (the formula would turn it black).
    if cdf_min == total {
        return img.clone();
    }
    let denom = total.saturating_sub(cdf_min).max(1) as f32;
    let lut: Vec<u8> = cdf
        .iter()
        .map(|&c| ((c.saturating_sub(cdf_min)) as f32 * 255.0 / denom).round() as u8)
        .collect();
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        image::Luma([lut[img.get_pixel(x, y)[0] as usize]])
    })
}

fn median3(img: &GrayImage) -> GrayImage {
    let (w, h) = img.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let mut v = [0u8; 9];
        let mut k = 0;
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                // Edge pixels replicate the border.
                let sx = (x as i64 + dx).clamp(0, w as i64 - 1) as u32;
                let sy = (y as i64 + dy).clamp(0, h as i64 - 1) as u32;
                v[k] = img.get_pixel(sx, sy)[0];
                k += 1;
            }
        }
        v.sort_unstable();
        image::Luma([v[4]])
    })
}

fn stretch(img: &GrayImage) -> GrayImage {
    let mut sorted = img.as_raw().clone();
    if sorted.is_empty() {
        return img.clone();
    }
    sorted.sort_unstable();
    let lo = sorted[sorted.len() / 100] as f32;
    let hi = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)] as f32;
    if hi <= lo {
        return img.clone();
    }
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = (img.get_pixel(x, y)[0] as f32 - lo) * 255.0 / (hi - lo);
        image::Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, px: &[u8]) -> GrayImage {
        GrayImage::from_raw(w, h, px.to_vec()).unwrap()
    }

    #[test]
    fn parse_round_trip_and_errors() {
        let p = Pipeline::parse("equalize, median3,stretch,resize48").unwrap();
        assert_eq!(
            p.0,
            vec![
                Step::Equalize,
                Step::Median3,
                Step::Stretch,
                Step::Resize(48)
            ]
        );
        assert_eq!(Pipeline::parse(&p.to_text()).unwrap(), p);
        assert!(Pipeline::parse("sharpen").is_err());
        assert!(Pipeline::parse("resize0").is_err());
        assert_eq!(Pipeline::parse("").unwrap().0, vec![]);
    }

    #[test]
    fn equalize_spreads_two_levels_to_full_range() {
        // Two grey levels, half the pixels each: equalization maps them to 0 and 255.
        let out = Step::Equalize.apply(&img(2, 2, &[100, 100, 101, 101]));
        assert_eq!(out.as_raw(), &vec![0, 0, 255, 255]);
        // A single level has nothing to spread and keeps its grey.
        let flat = Step::Equalize.apply(&img(2, 2, &[90; 4]));
        assert_eq!(flat.as_raw(), &vec![90; 4]);
    }

    #[test]
    fn median_removes_an_outlier() {
        let mut px = vec![10u8; 9];
        px[4] = 250;
        let out = Step::Median3.apply(&img(3, 3, &px));
        assert_eq!(out.get_pixel(1, 1)[0], 10);
    }

    #[test]
    fn stretch_maps_range_to_0_255() {
        let px: Vec<u8> = (0..100).map(|i| 100 + (i % 51) as u8).collect();
        let out = Step::Stretch.apply(&img(10, 10, &px));
        assert_eq!(*out.as_raw().iter().min().unwrap(), 0);
        assert_eq!(*out.as_raw().iter().max().unwrap(), 255);
    }

    #[test]
    fn resize_is_bilinear_and_identity_at_size() {
        let src = img(2, 2, &[0, 0, 200, 200]);
        assert_eq!(Step::Resize(2).apply(&src), src);
        let out = Step::Resize(4).apply(&src);
        assert_eq!(out.dimensions(), (4, 4));
        // Top rows stay dark, bottom rows bright, values in between interpolated.
        assert!(out.get_pixel(0, 0)[0] < out.get_pixel(0, 2)[0]);
        assert!(out.get_pixel(0, 1)[0] > 0 && out.get_pixel(0, 1)[0] < 200);
    }
}
