//! A trained network together with the preprocessing it was trained with: grayscale
//! face crops in, calibrated probabilities of the seven emotions out.

use crate::data::{Dataset, PIXELS, SIDE};
use crate::model::{Network, Tta};
use crate::nn::softmax;
use anyhow::Result;
use image::{imageops, GrayImage};
use moodtune_core::{Emotion, ExpressionClassifier};
use rayon::prelude::*;
use std::path::Path;

/// The model shipped with moodtune (see docs/MODEL.md for how it was trained).
static SHIPPED: &[u8] = include_bytes!("../models/fer.safetensors");

pub struct Classifier {
    pub net: Network,
    /// Test-time augmentation; starts as stored in the file.
    pub tta: Tta,
}

impl Classifier {
    pub fn shipped() -> Result<Classifier> {
        Self::from_bytes(SHIPPED, "shipped model")
    }

    pub fn load(path: &Path) -> Result<Classifier> {
        let net = Network::load(path)?;
        Ok(Classifier {
            tta: net.meta.tta,
            net,
        })
    }

    /// The shipped model unless a path is given.
    pub fn shipped_or(path: Option<&Path>) -> Result<Classifier> {
        match path {
            Some(p) => Self::load(p),
            None => Self::shipped(),
        }
    }

    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Classifier> {
        let net = Network::from_safetensors(bytes, origin)?;
        Ok(Classifier {
            tta: net.meta.tta,
            net,
        })
    }

    /// One line for tables: architecture, network input, test-time augmentation.
    pub fn describe(&self) -> String {
        let m = &self.net.meta;
        let tta = match self.tta {
            Tta::None => "",
            Tta::Flip => ", flip TTA",
            Tta::TenCrop => ", ten-crop TTA",
        };
        format!("{} CNN, {}x{} input{tta}", m.arch, m.crop, m.crop)
    }

    pub fn with_tta(mut self, tta: Tta) -> Self {
        self.tta = tta;
        self
    }

    /// Applies the stored preprocessing and resizes to the input size, normalised: the
    /// plane the network's crops are cut from (`input_size x input_size`).
    fn plane(&self, face: &GrayImage) -> Vec<f32> {
        let m = &self.net.meta;
        let mut img = m.preprocess.apply(face);
        let side = m.input_size as u32;
        if img.dimensions() != (side, side) {
            img = imageops::resize(&img, side, side, imageops::FilterType::Triangle);
        }
        img.pixels()
            .map(|p| (p[0] as f32 / 255.0 - m.mean) / m.std)
            .collect()
    }

    /// The `crop x crop` window of `plane` at (`left`, `top`).
    fn cut(&self, plane: &[f32], left: usize, top: usize) -> Vec<f32> {
        let (side, crop) = (self.net.meta.input_size, self.net.meta.crop);
        (top..top + crop)
            .flat_map(|y| {
                plane[y * side + left..y * side + left + crop]
                    .iter()
                    .copied()
            })
            .collect()
    }

    /// The network's input for the centre crop: what a single-view prediction sees.
    pub fn prepare(&self, face: &GrayImage) -> Vec<f32> {
        let m = &self.net.meta;
        let off = (m.input_size - m.crop) / 2;
        self.cut(&self.plane(face), off, off)
    }

    /// Every view the classifier averages, centre crop first.
    pub fn views(&self, face: &GrayImage) -> Vec<Vec<f32>> {
        let m = &self.net.meta;
        let plane = self.plane(face);
        let (centre, far) = ((m.input_size - m.crop) / 2, m.input_size - m.crop);
        let mut offsets = vec![(centre, centre)];
        if self.tta == Tta::TenCrop && far > 0 {
            offsets.extend([(0, 0), (far, 0), (0, far), (far, far)]);
        }
        let mut views = Vec::with_capacity(2 * offsets.len());
        for (left, top) in offsets {
            let view = self.cut(&plane, left, top);
            let mirrored = (self.tta != Tta::None).then(|| {
                view.chunks_exact(m.crop)
                    .flat_map(|row| row.iter().rev().copied())
                    .collect()
            });
            views.push(view);
            views.extend(mirrored);
        }
        views
    }

    /// Probabilities for one face crop of any size: the mean of the views' softmaxes.
    pub fn probabilities(&self, face: &GrayImage) -> [f32; Emotion::COUNT] {
        let views = self.views(face);
        // The views are independent: on a single face they share out over the cores.
        let probs: Vec<[f32; Emotion::COUNT]> =
            views.par_iter().map(|v| self.probs_of(v)).collect();
        let mut mean = [0.0; Emotion::COUNT];
        for p in &probs {
            for (m, v) in mean.iter_mut().zip(p) {
                *m += v / probs.len() as f32;
            }
        }
        mean
    }

    /// Raw logits of each view the classifier averages, before temperature: what
    /// calibration fits on.
    pub fn view_logits(&self, face: &GrayImage) -> Vec<Vec<f32>> {
        self.views(face)
            .into_iter()
            .map(|v| self.net.logits(v))
            .collect()
    }

    fn probs_of(&self, input: &[f32]) -> [f32; Emotion::COUNT] {
        let t = self.net.meta.temperature;
        let logits: Vec<f32> = self
            .net
            .logits(input.to_vec())
            .iter()
            .map(|v| v / t)
            .collect();
        let mut out = [0.0; Emotion::COUNT];
        out.copy_from_slice(&softmax(&logits));
        out
    }

    /// Probabilities for every face of a FER2013 dataset, in parallel.
    pub fn predict_dataset(&self, ds: &Dataset) -> Vec<[f32; Emotion::COUNT]> {
        (0..ds.len())
            .into_par_iter()
            .map(|i| self.probabilities(&fer_image(ds.image(i))))
            .collect()
    }
}

/// A 48x48 FER2013 row as an image.
pub fn fer_image(pixels: &[u8]) -> GrayImage {
    debug_assert_eq!(pixels.len(), PIXELS);
    GrayImage::from_raw(SIDE as u32, SIDE as u32, pixels.to_vec()).expect("48x48 pixels")
}

impl ExpressionClassifier for Classifier {
    fn classify_face(&self, gray: &[u8], width: u32, height: u32) -> [f32; Emotion::COUNT] {
        match GrayImage::from_raw(width, height, gray.to_vec()) {
            Some(img) => self.probabilities(&img),
            // A malformed buffer is a caller bug; answer "no information" rather than panic.
            None => [1.0 / Emotion::COUNT as f32; Emotion::COUNT],
        }
    }

    fn classify_faces(&self, faces: &[(&[u8], u32, u32)]) -> Vec<[f32; Emotion::COUNT]> {
        faces
            .par_iter()
            .map(|(g, w, h)| self.classify_face(g, *w, *h))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{weights::random_safetensors, Arch};

    /// slimvgg (40x40 crops of 48x48 faces) with random weights.
    fn slim() -> Classifier {
        let bytes = random_safetensors(&Arch::by_name("slimvgg").unwrap(), 3);
        Classifier::from_bytes(&bytes, "test").unwrap()
    }

    #[test]
    fn views_per_augmentation() {
        let face = GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 4 + y) as u8]));
        let clf = slim().with_tta(Tta::None);
        let centre = clf.prepare(&face);
        assert_eq!(clf.views(&face), vec![centre.clone()]);
        // The centre crop starts at (4, 4): pixel value 4 * 4 + 4, normalised.
        let m = &clf.net.meta;
        assert_eq!(centre[0], (20.0 / 255.0 - m.mean) / m.std);

        let flip = slim().with_tta(Tta::Flip).views(&face);
        assert_eq!(flip.len(), 2);
        assert_eq!(flip[0], centre);
        // The mirror's first pixel is the centre crop's last pixel of row 0.
        assert_eq!(flip[1][0], centre[39]);

        let ten = slim().with_tta(Tta::TenCrop).views(&face);
        assert_eq!(ten.len(), 10);
        assert_eq!(ten[0], centre);
        // Crops 2..: top-left (0,0), top-right (8,0), bottom-left (0,8), bottom-right (8,8).
        let value = |x: f32, y: f32| ((x * 4.0 + y) / 255.0 - m.mean) / m.std;
        assert_eq!(ten[2][0], value(0.0, 0.0));
        assert_eq!(ten[4][0], value(8.0, 0.0));
        assert_eq!(ten[6][0], value(0.0, 8.0));
        assert_eq!(ten[8][40 * 40 - 1], value(47.0, 47.0));

        // Probabilities are the mean over the views and sum to one.
        let p = slim().with_tta(Tta::TenCrop).probabilities(&face);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn tta_names_parse() {
        assert_eq!("flip".parse::<Tta>().unwrap(), Tta::Flip);
        assert_eq!("TenCrop".parse::<Tta>().unwrap(), Tta::TenCrop);
        assert_eq!("false".parse::<Tta>().unwrap(), Tta::None);
        assert!("sideways".parse::<Tta>().is_err());
    }
}
