//! A trained network together with the preprocessing it was trained with: grayscale
//! face crops in, calibrated probabilities of the seven emotions out.

use crate::data::{Dataset, PIXELS, SIDE};
use crate::model::Network;
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
    /// Overrides the file's own flip test-time augmentation setting when set.
    pub flip_tta: bool,
}

impl Classifier {
    pub fn shipped() -> Result<Classifier> {
        Self::from_bytes(SHIPPED, "shipped model")
    }

    pub fn load(path: &Path) -> Result<Classifier> {
        let net = Network::load(path)?;
        Ok(Classifier {
            flip_tta: net.meta.flip_tta,
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
            flip_tta: net.meta.flip_tta,
            net,
        })
    }

    /// One line for tables: architecture, network input, test-time augmentation.
    pub fn describe(&self) -> String {
        let m = &self.net.meta;
        let tta = if self.flip_tta { ", flip TTA" } else { "" };
        format!("{} CNN, {}x{} input{tta}", m.arch, m.crop, m.crop)
    }

    pub fn with_flip_tta(mut self, on: bool) -> Self {
        self.flip_tta = on;
        self
    }

    /// Applies the stored preprocessing, resizes to the input size and takes the centre
    /// crop, normalised: the network's input plane.
    pub fn prepare(&self, face: &GrayImage) -> Vec<f32> {
        let m = &self.net.meta;
        let mut img = m.preprocess.apply(face);
        let side = m.input_size as u32;
        if img.dimensions() != (side, side) {
            img = imageops::resize(&img, side, side, imageops::FilterType::Triangle);
        }
        let off = (m.input_size - m.crop) / 2;
        let mut out = Vec::with_capacity(m.crop * m.crop);
        for y in 0..m.crop {
            for x in 0..m.crop {
                let v = img.get_pixel((x + off) as u32, (y + off) as u32)[0] as f32 / 255.0;
                out.push((v - m.mean) / m.std);
            }
        }
        out
    }

    /// Probabilities for one face crop of any size.
    pub fn probabilities(&self, face: &GrayImage) -> [f32; Emotion::COUNT] {
        let input = self.prepare(face);
        if !self.flip_tta {
            return self.probs_of(&input);
        }
        let side = self.net.meta.crop;
        let flipped: Vec<f32> = input
            .chunks_exact(side)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        // The two views are independent: on a single face they use both cores.
        let (mut p, q) = rayon::join(|| self.probs_of(&input), || self.probs_of(&flipped));
        for (a, b) in p.iter_mut().zip(q) {
            *a = (*a + b) / 2.0;
        }
        p
    }

    /// Raw logits of each view the classifier averages (the face, and its mirror image
    /// with flip TTA), before temperature: what calibration fits on.
    pub fn view_logits(&self, face: &GrayImage) -> Vec<Vec<f32>> {
        let input = self.prepare(face);
        let mut views = vec![self.net.logits(input.clone())];
        if self.flip_tta {
            let side = self.net.meta.crop;
            let flipped: Vec<f32> = input
                .chunks_exact(side)
                .flat_map(|row| row.iter().rev().copied())
                .collect();
            views.push(self.net.logits(flipped));
        }
        views
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
