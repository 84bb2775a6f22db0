//! A trained network together with the preprocessing it was trained with: grayscale
//! face crops in, calibrated probabilities of the seven emotions out.

use crate::data::{Dataset, PIXELS, SIDE};
use crate::metrics::views_to_probs;
use crate::model::weights::load_members;
use crate::model::{Arch, Cascade, ModelMeta, Network, Tta};
use anyhow::{Context, Result};
use image::{imageops, GrayImage};
use moodtune_core::{Emotion, ExpressionClassifier};
use rayon::prelude::*;
use std::path::Path;

/// The model shipped with moodtune (see docs/MODEL.md for how it was trained).
static SHIPPED: &[u8] = include_bytes!("../models/fer.safetensors");

pub struct Classifier {
    /// One network, or the members of an ensemble (same architecture and input), whose
    /// probabilities are averaged.
    pub nets: Vec<Network>,
    /// Test-time augmentation; starts as stored in the file.
    pub tta: Tta,
    /// Two-stage evaluation of an ensemble; starts as stored in the file.
    pub cascade: Option<Cascade>,
}

/// Faces per group in [`Classifier::predict_dataset`]: enough that the deep layers'
/// weights serve many faces per read, few enough that the threads share the work.
const DATASET_BATCH: usize = 16;

/// One face's probabilities and the network passes they took.
#[derive(Debug, Clone, Copy)]
pub struct Prediction {
    pub probs: [f32; Emotion::COUNT],
    pub passes: usize,
}

impl Classifier {
    pub fn shipped() -> Result<Classifier> {
        Self::from_bytes(SHIPPED, "shipped model")
    }

    /// The shipped model file's bytes, as compiled in: what `fer calibrate --write`
    /// copies when no model file is named.
    pub fn shipped_bytes() -> &'static [u8] {
        SHIPPED
    }

    pub fn load(path: &Path) -> Result<Classifier> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// The shipped model unless a path is given.
    pub fn shipped_or(path: Option<&Path>) -> Result<Classifier> {
        match path {
            Some(p) => Self::load(p),
            None => Self::shipped(),
        }
    }

    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Classifier> {
        let nets = load_members(bytes, origin)?;
        Ok(Classifier {
            tta: nets[0].meta.tta,
            cascade: nets[0].meta.cascade.clone(),
            nets,
        })
    }

    /// What every member shares: preprocessing, input, temperature (and, but for `arch`,
    /// the first member's metadata).
    pub fn meta(&self) -> &ModelMeta {
        &self.nets[0].meta
    }

    /// The first member (in an ensemble of several architectures, see
    /// [`Classifier::architectures`]).
    pub fn net(&self) -> &Network {
        &self.nets[0]
    }

    /// One line for tables: architecture, ensemble size, network input, test-time
    /// augmentation.
    pub fn describe(&self) -> String {
        let m = self.meta();
        let tta = match self.tta {
            Tta::None => "",
            Tta::Flip => ", flip TTA",
            Tta::TenCrop => ", ten-crop TTA",
        };
        let archs = self.architectures();
        // One architecture: "slimvgg CNN x4 ensemble"; several: "slimvgg x2 + widevgg CNN
        // ensemble".
        let (names, count) = match archs.as_slice() {
            [(arch, _)] => (arch.name.to_string(), format!(" x{}", self.nets.len())),
            _ => {
                let parts: Vec<String> = archs
                    .iter()
                    .map(|(arch, n)| match n {
                        1 => arch.name.to_string(),
                        n => format!("{} x{n}", arch.name),
                    })
                    .collect();
                (parts.join(" + "), String::new())
            }
        };
        let members = match (self.nets.len(), &self.cascade) {
            (1, _) => String::new(),
            (_, None) => format!("{count} ensemble"),
            (_, Some(c)) => format!("{count} ensemble (cascade: {})", cascade_summary(c)),
        };
        format!("{names} CNN{members}, {}x{} input{tta}", m.crop, m.crop)
    }

    /// The members' architectures in order of first appearance, with how many members
    /// have each.
    pub fn architectures(&self) -> Vec<(&Arch, usize)> {
        let mut out: Vec<(&Arch, usize)> = Vec::new();
        for net in &self.nets {
            match out.iter_mut().find(|(arch, _)| arch.name == net.arch.name) {
                Some((_, n)) => *n += 1,
                None => out.push((&net.arch, 1)),
            }
        }
        out
    }

    /// Networks evaluated per face: ensemble members x test-time views (the most a
    /// cascade runs).
    pub fn passes_per_face(&self) -> usize {
        self.nets.len() * self.views_per_member()
    }

    /// Views each member sees per face, as [`Classifier::views`] makes them: ten-crop
    /// needs room to move, so a network whose crop is its whole input (`paper`) gets
    /// only the centre and its mirror.
    pub fn views_per_member(&self) -> usize {
        let m = self.meta();
        match self.tta {
            Tta::TenCrop if m.input_size == m.crop => Tta::Flip.views(),
            tta => tta.views(),
        }
    }

    pub fn with_tta(mut self, tta: Tta) -> Self {
        self.tta = tta;
        self
    }

    /// Sets (or with `None` turns off) two-stage evaluation.
    pub fn with_cascade(mut self, cascade: Option<Cascade>) -> Self {
        self.cascade = cascade;
        self
    }

    /// Applies the stored preprocessing and resizes to the input size, normalised: the
    /// plane the network's crops are cut from (`input_size x input_size`).
    fn plane(&self, face: &GrayImage) -> Vec<f32> {
        let m = self.meta();
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
        let (side, crop) = (self.meta().input_size, self.meta().crop);
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
        let m = self.meta();
        let off = (m.input_size - m.crop) / 2;
        self.cut(&self.plane(face), off, off)
    }

    /// Every view the classifier averages, centre crop first.
    pub fn views(&self, face: &GrayImage) -> Vec<Vec<f32>> {
        let m = self.meta();
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

    /// Probabilities for one face crop of any size: the mean of the softmaxes of every
    /// member on every view (or of the first stage's, when a cascade stops there).
    pub fn probabilities(&self, face: &GrayImage) -> [f32; Emotion::COUNT] {
        self.predict(face).probs
    }

    /// [`Classifier::probabilities`] with the number of network passes they took.
    /// One face may use every thread of the current rayon pool.
    pub fn predict(&self, face: &GrayImage) -> Prediction {
        self.predict_on(face, rayon::current_num_threads())
    }

    /// [`Classifier::predict`] on `threads` threads: the passes run side by side and,
    /// when there are fewer of them than threads, each splits its layers.
    fn predict_on(&self, face: &GrayImage, threads: usize) -> Prediction {
        let views = self.views(face);
        let mut answers = self.staged(1, |members, _, logits| {
            logits[0].extend(self.member_logits(members, &views, threads))
        });
        answers.remove(0)
    }

    /// Predictions for `faces` faces, member by member as the cascade (if any) asks:
    /// `run(members, active, logits)` appends those members' logits of every view of
    /// the `active` faces to `logits[face]`. A face leaves the run at the first stage
    /// sure enough of it; faces unsure after every stage get the whole ensemble.
    fn staged(
        &self,
        faces: usize,
        mut run: impl FnMut(&[usize], &[usize], &mut [Vec<Vec<f32>>]),
    ) -> Vec<Prediction> {
        let answer = |logits: &[Vec<f32>], temperature: f32| Prediction {
            probs: views_to_probs(logits, temperature),
            passes: logits.len(),
        };
        let mut logits: Vec<Vec<Vec<f32>>> = vec![Vec::new(); faces];
        let mut answers: Vec<Option<Prediction>> = vec![None; faces];
        let mut active: Vec<usize> = (0..faces).collect();
        let everyone: Vec<usize> = (0..self.nets.len()).collect();
        let rest = match &self.cascade {
            Some(cascade) => {
                for stage in &cascade.stages {
                    if active.is_empty() {
                        break;
                    }
                    run(&stage.adds, &active, &mut logits);
                    active.retain(|&i| {
                        let sure = answer(&logits[i], stage.temperature);
                        let done =
                            sure.probs.iter().copied().fold(0.0, f32::max) >= stage.threshold;
                        if done {
                            answers[i] = Some(sure);
                        }
                        !done
                    });
                }
                let staged = cascade.staged_members();
                everyone
                    .into_iter()
                    .filter(|i| !staged.contains(i))
                    .collect()
            }
            None => everyone,
        };
        if !active.is_empty() {
            run(&rest, &active, &mut logits);
        }
        for i in active {
            answers[i] = Some(answer(&logits[i], self.meta().temperature));
        }
        answers
            .into_iter()
            .map(|a| a.expect("every face is answered"))
            .collect()
    }

    /// Raw logits of every member on every view the classifier averages, before
    /// temperature, member by member (member `i`'s views at `i * views ..`): what
    /// calibration fits on. A cascade's second stage always runs here.
    pub fn view_logits(&self, face: &GrayImage) -> Vec<Vec<f32>> {
        let everyone: Vec<usize> = (0..self.nets.len()).collect();
        self.member_logits(&everyone, &self.views(face), 1)
    }

    /// Logits of the given members on every view, member by member, on `threads`
    /// threads.
    fn member_logits(
        &self,
        members: &[usize],
        views: &[Vec<f32>],
        threads: usize,
    ) -> Vec<Vec<f32>> {
        let passes: Vec<(&Network, &Vec<f32>)> = members
            .iter()
            .flat_map(|&m| views.iter().map(move |v| (&self.nets[m], v)))
            .collect();
        // Members x views are independent: on a single face they share out over the
        // cores, and threads left over split each pass's layers.
        let ways = (threads / passes.len().max(1)).max(1);
        passes
            .par_iter()
            .map(|(net, v)| net.logits_split(v.to_vec(), ways))
            .collect()
    }

    /// Probabilities for every face of a FER2013 dataset, in parallel.
    pub fn predict_dataset(&self, ds: &Dataset) -> Vec<[f32; Emotion::COUNT]> {
        self.predict_dataset_with_passes(ds)
            .into_iter()
            .map(|p| p.probs)
            .collect()
    }

    /// [`Classifier::predict_dataset`] with each face's pass count: groups of 16 faces,
    /// one group per thread at a time.
    pub fn predict_dataset_with_passes(&self, ds: &Dataset) -> Vec<Prediction> {
        let indices: Vec<usize> = (0..ds.len()).collect();
        let groups: Vec<Vec<Prediction>> = indices
            .par_chunks(DATASET_BATCH)
            .map(|group| {
                let faces: Vec<GrayImage> = group.iter().map(|&i| fer_image(ds.image(i))).collect();
                self.predict_batch(&faces)
            })
            .collect();
        groups.into_iter().flatten().collect()
    }

    /// [`Classifier::predict`] of every face of `faces` on this thread, each network
    /// running on the whole group at once (`Network::logits_batch`); a cascade's later
    /// stages run on the faces the earlier ones were unsure of.
    pub fn predict_batch(&self, faces: &[GrayImage]) -> Vec<Prediction> {
        let views: Vec<Vec<Vec<f32>>> = faces.iter().map(|f| self.views(f)).collect();
        self.staged(faces.len(), |members, active, logits| {
            for &m in members {
                let inputs: Vec<Vec<f32>> = active
                    .iter()
                    .flat_map(|&i| views[i].iter().cloned())
                    .collect();
                let mut out = self.nets[m].logits_batch(inputs).into_iter();
                for &i in active {
                    logits[i].extend(out.by_ref().take(views[i].len()));
                }
            }
        })
    }
}

/// "member 1 first, the rest below 0.75 confidence", or with two stages "member 1
/// first, member 0 below 0.75, the rest below 0.55 confidence".
pub fn cascade_summary(cascade: &Cascade) -> String {
    let mut parts = vec![format!("{} first", member_list(cascade.first()))];
    for (i, stage) in cascade.stages.iter().enumerate() {
        let next = match cascade.stages.get(i + 1) {
            Some(later) => member_list(&later.adds),
            None => "the rest".to_string(),
        };
        parts.push(format!("{next} below {:.2}", stage.threshold));
    }
    format!("{} confidence", parts.join(", "))
}

/// "member 3" or "members 0, 2".
pub fn member_list(members: &[usize]) -> String {
    let list: Vec<String> = members.iter().map(usize::to_string).collect();
    match list.len() {
        1 => format!("member {}", list[0]),
        _ => format!("members {}", list.join(", ")),
    }
}

/// A 48x48 FER2013 row as an image.
pub fn fer_image(pixels: &[u8]) -> GrayImage {
    debug_assert_eq!(pixels.len(), PIXELS);
    GrayImage::from_raw(SIDE as u32, SIDE as u32, pixels.to_vec()).expect("48x48 pixels")
}

impl ExpressionClassifier for Classifier {
    fn classify_face(&self, gray: &[u8], width: u32, height: u32) -> [f32; Emotion::COUNT] {
        self.classify_buffer(gray, width, height, rayon::current_num_threads())
    }

    fn classify_faces(&self, faces: &[(&[u8], u32, u32)]) -> Vec<[f32; Emotion::COUNT]> {
        // A few faces (a webcam frame) leave threads over for each face's passes.
        let threads = (rayon::current_num_threads() / faces.len().max(1)).max(1);
        faces
            .par_iter()
            .map(|(g, w, h)| self.classify_buffer(g, *w, *h, threads))
            .collect()
    }
}

impl Classifier {
    fn classify_buffer(
        &self,
        gray: &[u8],
        width: u32,
        height: u32,
        threads: usize,
    ) -> [f32; Emotion::COUNT] {
        match GrayImage::from_raw(width, height, gray.to_vec()) {
            Some(img) => self.predict_on(&img, threads).probs,
            // A malformed buffer is a caller bug; answer "no information" rather than panic.
            None => [1.0 / Emotion::COUNT as f32; Emotion::COUNT],
        }
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
    fn a_batch_answers_each_face_as_it_would_alone() {
        // The shipped cascade, so later stages run on some faces and not on others.
        let clf = Classifier::shipped().unwrap();
        let faces: Vec<GrayImage> = (0..12u32)
            .map(|k| {
                GrayImage::from_fn(48, 48, |x, y| {
                    let wave = ((x * (k + 1) + y * (11 - k)) % 97) as f32 / 97.0;
                    let blob =
                        (((x as f32 - 24.0).powi(2) + (y as f32 - 20.0).powi(2)) / 300.0).min(1.0);
                    image::Luma([(255.0 * (0.6 * wave + 0.4 * blob)) as u8])
                })
            })
            .collect();
        let batched = clf.predict_batch(&faces);
        assert_eq!(batched.len(), faces.len());
        let mut passes = std::collections::HashSet::new();
        for (face, got) in faces.iter().zip(&batched) {
            let alone = clf.predict(face);
            assert_eq!(got.passes, alone.passes);
            for (a, b) in alone.probs.iter().zip(&got.probs) {
                assert!((a - b).abs() < 1e-4, "{:?} vs {:?}", alone.probs, got.probs);
            }
            passes.insert(got.passes);
        }
        assert!(
            passes.len() > 1,
            "some faces went past the first stage: {passes:?}"
        );
        assert!(clf.predict_batch(&[]).is_empty());
    }

    #[test]
    fn views_per_augmentation() {
        let face = GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 4 + y) as u8]));
        let clf = slim().with_tta(Tta::None);
        let centre = clf.prepare(&face);
        assert_eq!(clf.views(&face), vec![centre.clone()]);
        // The centre crop starts at (4, 4): pixel value 4 * 4 + 4, normalised.
        let m = clf.meta();
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

        // The count a cascade fit slices by is the count `views` makes, also where
        // ten-crop has no room to move (`paper`: the crop is the whole input).
        for arch in ["slimvgg", "paper"] {
            for tta in [Tta::None, Tta::Flip, Tta::TenCrop] {
                let bytes = random_safetensors(&Arch::by_name(arch).unwrap(), 3);
                let clf = Classifier::from_bytes(&bytes, arch).unwrap().with_tta(tta);
                let views = clf.views(&face).len();
                assert_eq!(views, clf.views_per_member(), "{arch} {tta:?}");
                assert_eq!(clf.passes_per_face(), clf.views_per_member());
            }
        }
    }

    /// Model files of slimvgg with random weights, one per seed, named by the seed.
    fn random_members(seeds: std::ops::Range<u64>) -> Vec<(Vec<u8>, String)> {
        let slim = Arch::by_name("slimvgg").unwrap();
        seeds
            .map(|seed| (random_safetensors(&slim, seed), seed.to_string()))
            .collect()
    }

    #[test]
    fn an_ensemble_averages_its_members() {
        use crate::model::weights::{ensemble_safetensors, Precision};
        let files = random_members(5..7);
        let ens = Classifier::from_bytes(
            &ensemble_safetensors(&files, Precision::Full).unwrap(),
            "ens",
        )
        .unwrap()
        .with_tta(Tta::Flip);
        assert_eq!(ens.passes_per_face(), 4);
        assert!(ens.describe().contains("x2 ensemble"), "{}", ens.describe());
        let face = GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 5 + y * 3) as u8]));
        let alone: Vec<[f32; 7]> = files
            .iter()
            .map(|(b, o)| {
                Classifier::from_bytes(b, o)
                    .unwrap()
                    .with_tta(Tta::Flip)
                    .probabilities(&face)
            })
            .collect();
        let p = ens.probabilities(&face);
        for k in 0..7 {
            assert!((p[k] - (alone[0][k] + alone[1][k]) / 2.0).abs() < 1e-6);
        }
        // Calibration sees every member on every view.
        assert_eq!(ens.view_logits(&face).len(), 4);
    }

    #[test]
    fn a_cascade_stops_at_the_first_stage_only_when_it_is_sure() {
        use crate::model::weights::{ensemble_safetensors, with_metadata, Precision};
        let files = random_members(5..8);
        let ens = ensemble_safetensors(&files, Precision::Full).unwrap();
        let face = GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 5 + y * 3) as u8]));
        let whole = Classifier::from_bytes(&ens, "ens")
            .unwrap()
            .with_tta(Tta::Flip);
        let member_2 = Classifier::from_bytes(&files[2].0, "m2")
            .unwrap()
            .with_tta(Tta::Flip);
        let with_threshold = |threshold: &str| {
            let set = [
                ("cascade_members", "2".to_string()),
                ("cascade_temperature", "1.5".to_string()),
                ("cascade_threshold", threshold.to_string()),
            ];
            Classifier::from_bytes(&with_metadata(&ens, "ens", &set).unwrap(), "cascade")
                .unwrap()
                .with_tta(Tta::Flip)
        };
        // Any first stage is at least 1/7 sure: member 2 alone answers, at its temperature.
        let early = with_threshold("0.1").predict(&face);
        assert_eq!(early.passes, 2);
        let alone: Vec<f32> = member_2.view_logits(&face).concat();
        let expected = views_to_probs(&[alone[..7].to_vec(), alone[7..].to_vec()], 1.5);
        for (got, want) in early.probs.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-6);
        }
        // Never sure enough: every member runs and the answer is the whole ensemble's.
        let late = with_threshold("1").predict(&face);
        assert_eq!(late.passes, 6);
        let full = whole.predict(&face);
        assert_eq!(full.passes, 6);
        for (got, want) in late.probs.iter().zip(&full.probs) {
            assert!((got - want).abs() < 1e-6);
        }
        let c = with_threshold("0.5");
        assert!(c.describe().contains("member 2 first"), "{}", c.describe());
        // Turned off, it is the plain ensemble again.
        assert_eq!(c.with_cascade(None).predict(&face).passes, 6);

        // Two stages: member 2, then members 2 and 0 together, then all three.
        let staged = |thresholds: &str| {
            let set = [
                ("cascade_members", "2;0".to_string()),
                ("cascade_temperature", "1.5;0.8".to_string()),
                ("cascade_threshold", thresholds.to_string()),
            ];
            Classifier::from_bytes(&with_metadata(&ens, "ens", &set).unwrap(), "staged")
                .unwrap()
                .with_tta(Tta::Flip)
        };
        assert_eq!(staged("0.1;0.1").predict(&face).passes, 2);
        // The first stage unsure, the second sure: members 2 and 0 answer at T 0.8.
        let second = staged("1;0.1").predict(&face);
        assert_eq!(second.passes, 4);
        let member_0 = Classifier::from_bytes(&files[0].0, "m0")
            .unwrap()
            .with_tta(Tta::Flip)
            .view_logits(&face);
        let mut both = member_2.view_logits(&face);
        both.extend(member_0);
        for (got, want) in second.probs.iter().zip(&views_to_probs(&both, 0.8)) {
            assert!((got - want).abs() < 1e-6);
        }
        let last = staged("1;1").predict(&face);
        assert_eq!(last.passes, 6);
        for (got, want) in last.probs.iter().zip(&full.probs) {
            assert!((got - want).abs() < 1e-6);
        }
        let described = staged("0.75;0.55").describe();
        assert!(
            described
                .contains("member 2 first, member 0 below 0.75, the rest below 0.55 confidence"),
            "{described}"
        );
    }

    #[test]
    fn tta_names_parse() {
        assert_eq!("flip".parse::<Tta>().unwrap(), Tta::Flip);
        assert_eq!("TenCrop".parse::<Tta>().unwrap(), Tta::TenCrop);
        assert_eq!("false".parse::<Tta>().unwrap(), Tta::None);
        assert!("sideways".parse::<Tta>().is_err());
    }
}
