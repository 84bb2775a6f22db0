//! One baseline = descriptor -> standardisation -> (random Fourier map for the RBF
//! kernel) -> one-vs-rest linear SVM. The SVM cost and the kernel width are chosen on a
//! seeded held-out part of Training, then the model is refitted on all of Training.

use crate::{describe_all, Descriptor, Gabor, Hog, Lbp, SIDE};
use anyhow::{bail, Result};
use moodtune_core::Emotion;
use moodtune_fer::Dataset;
use moodtune_svm::{OneVsRest, RandomFourier, Standardizer, SvmParams};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Lbp,
    Hog,
    Gabor,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Gabor, Method::Lbp, Method::Hog];

    pub fn key(self) -> &'static str {
        match self {
            Method::Lbp => "lbp",
            Method::Hog => "hog",
            Method::Gabor => "gabor",
        }
    }

    /// The descriptor with the settings the comparison uses.
    pub fn descriptor(self) -> Box<dyn Descriptor> {
        match self {
            // 6x6 cells of 8x8 pixels: the usual grid for 48x48 faces.
            Method::Lbp => Box::new(Lbp::new(6)),
            Method::Hog => Box::new(Hog::default()),
            // Four octave-spaced scales, eight orientations, responses every 2 pixels,
            // pooled on 6x6 cells.
            Method::Gabor => Box::new(Gabor::new(vec![3.0, 4.5, 6.5, 9.0], 8, 17, 2, 6)),
        }
    }
}

impl std::str::FromStr for Method {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Method> {
        match s.to_ascii_lowercase().as_str() {
            "lbp" => Ok(Method::Lbp),
            "hog" => Ok(Method::Hog),
            "gabor" => Ok(Method::Gabor),
            _ => bail!("unknown baseline {s:?}: expected lbp, hog or gabor"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Linear,
    /// RBF, approximated with random Fourier features.
    Rbf,
}

impl Kernel {
    pub fn key(self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Rbf => "rbf",
        }
    }
}

impl std::str::FromStr for Kernel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Kernel> {
        match s.to_ascii_lowercase().as_str() {
            "linear" => Ok(Kernel::Linear),
            "rbf" => Ok(Kernel::Rbf),
            _ => bail!("unknown kernel {s:?}: expected linear or rbf"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Share of Training held out to choose the hyper-parameters.
    pub holdout: f64,
    /// SVM costs tried with the linear kernel.
    pub linear_costs: Vec<f32>,
    /// SVM costs tried with the RBF kernel (its features are bounded, so larger).
    pub rbf_costs: Vec<f32>,
    /// RBF widths tried, as multiples of 1 / dim (standardised rows lie about
    /// sqrt(2 dim) apart, so gamma = g / dim gives kernel values near exp(-2g)).
    pub gammas: Vec<f32>,
    /// Random Fourier features for the RBF kernel.
    pub fourier_dim: usize,
    /// Passes of dual coordinate descent per binary SVM.
    pub max_epochs: usize,
    pub seed: u64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            holdout: 0.2,
            linear_costs: vec![0.00003, 0.0001, 0.001, 0.01],
            rbf_costs: vec![0.1, 1.0, 10.0],
            gammas: vec![0.1, 0.3, 1.0],
            fourier_dim: 2048,
            max_epochs: 15,
            seed: 7,
        }
    }
}

/// One hyper-parameter setting tried on the held-out part.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    pub cost: f32,
    pub gamma: Option<f32>,
    pub holdout_accuracy: f64,
}

pub struct Baseline {
    pub method: Method,
    pub kernel: Kernel,
    descriptor: Box<dyn Descriptor>,
    standardizer: Standardizer,
    fourier: Option<RandomFourier>,
    svm: OneVsRest,
    /// Every setting tried, the chosen one first.
    pub trials: Vec<Trial>,
}

fn labels_of(ds: &Dataset) -> Vec<usize> {
    ds.labels.iter().map(|e| e.index()).collect()
}

fn params(cost: f32, opts: &TuneOptions) -> SvmParams {
    SvmParams {
        c: cost,
        tolerance: 0.1,
        max_epochs: opts.max_epochs,
    }
}

fn accuracy(svm: &OneVsRest, rows: &[&[f32]], labels: &[usize]) -> f64 {
    let correct = rows
        .par_iter()
        .zip(labels)
        .filter(|(x, &l)| svm.predict(**x) == l)
        .count();
    correct as f64 / labels.len().max(1) as f64
}

impl Baseline {
    /// Tunes on a held-out part of `train`, then fits on all of it. `log` hears progress.
    pub fn train(
        method: Method,
        kernel: Kernel,
        train: &Dataset,
        opts: &TuneOptions,
        log: &mut dyn FnMut(&str),
    ) -> Result<Baseline> {
        if train.len() < 20 {
            bail!("{} training faces are too few for a baseline", train.len());
        }
        let descriptor = method.descriptor();
        log(&format!(
            "describing {} faces: {}",
            train.len(),
            descriptor.name()
        ));
        let mut raw = describe_all(descriptor.as_ref(), train);
        // Standardisation is unsupervised, so fitting it on all of Training (hold-out
        // included) leaks no labels into the tuning.
        let standardizer = Standardizer::fit(&raw, descriptor.dim());
        standardizer.apply(&mut raw);
        let labels = labels_of(train);

        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(opts.seed));
        let held = ((train.len() as f64 * opts.holdout).round() as usize).clamp(1, train.len() - 1);
        let (held_idx, fit_idx) = order.split_at(held);

        let gammas: Vec<Option<f32>> = match kernel {
            Kernel::Linear => vec![None],
            Kernel::Rbf => opts.gammas.iter().map(|&g| Some(g)).collect(),
        };
        let mut trials = Vec::new();
        let mut best: Option<(Trial, Option<RandomFourier>)> = None;
        for gamma in gammas {
            let (fourier, rows_data, dim) = match gamma {
                None => (None, None, descriptor.dim()),
                Some(g) => {
                    let map = RandomFourier::new(
                        descriptor.dim(),
                        opts.fourier_dim,
                        g / descriptor.dim() as f32,
                        opts.seed ^ 0x5eed,
                    );
                    let z = map.transform(&raw);
                    (Some(map), Some(z), opts.fourier_dim)
                }
            };
            let data = rows_data.as_deref().unwrap_or(&raw);
            let rows: Vec<&[f32]> = data.chunks_exact(dim).collect();
            let pick = |idx: &[usize]| -> (Vec<&[f32]>, Vec<usize>) {
                (
                    idx.iter().map(|&i| rows[i]).collect(),
                    idx.iter().map(|&i| labels[i]).collect(),
                )
            };
            let (fit_rows, fit_labels) = pick(fit_idx);
            let (held_rows, held_labels) = pick(held_idx);
            let costs = match kernel {
                Kernel::Linear => &opts.linear_costs,
                Kernel::Rbf => &opts.rbf_costs,
            };
            for &cost in costs {
                let svm = OneVsRest::train(
                    &fit_rows,
                    &fit_labels,
                    Emotion::COUNT,
                    dim,
                    params(cost, opts),
                    opts.seed,
                );
                let trial = Trial {
                    cost,
                    gamma,
                    holdout_accuracy: accuracy(&svm, &held_rows, &held_labels),
                };
                log(&format!(
                    "C = {cost}{}: {:.2}% on the held-out {} faces",
                    gamma
                        .map(|g| format!(", gamma = {g}/dim"))
                        .unwrap_or_default(),
                    trial.holdout_accuracy * 100.0,
                    held_rows.len()
                ));
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| trial.holdout_accuracy > b.holdout_accuracy)
                {
                    best = Some((trial.clone(), fourier.clone()));
                }
                trials.push(trial);
            }
        }
        let Some((chosen, fourier)) = best else {
            bail!("no SVM cost to try");
        };
        let mapped = fourier.as_ref().map(|f| f.transform(&raw));
        let data = mapped.as_deref().unwrap_or(&raw);
        let dim = fourier.as_ref().map_or(descriptor.dim(), |f| f.output_dim);
        let rows: Vec<&[f32]> = data.chunks_exact(dim).collect();
        log(&format!(
            "refitting on all {} training faces with C = {}",
            rows.len(),
            chosen.cost
        ));
        let svm = OneVsRest::train(
            &rows,
            &labels,
            Emotion::COUNT,
            dim,
            params(chosen.cost, opts),
            opts.seed,
        );
        trials.retain(|t| *t != chosen);
        trials.insert(0, chosen);
        Ok(Baseline {
            method,
            kernel,
            descriptor,
            standardizer,
            fourier,
            svm,
            trials,
        })
    }

    /// The SVM's input rows for `ds` (described, standardised, mapped).
    fn features(&self, ds: &Dataset) -> (Vec<f32>, usize) {
        let mut raw = describe_all(self.descriptor.as_ref(), ds);
        self.standardizer.apply(&mut raw);
        match &self.fourier {
            None => (raw, self.descriptor.dim()),
            Some(map) => (map.transform(&raw), map.output_dim),
        }
    }

    /// Predicted class index of every face of `ds`.
    pub fn predict_dataset(&self, ds: &Dataset) -> Vec<usize> {
        let (data, dim) = self.features(ds);
        data.par_chunks_exact(dim)
            .map(|row| self.svm.predict(row))
            .collect()
    }

    /// Predicted class index of one 48x48 face, start to finish (for latency figures).
    pub fn predict(&self, face: &[u8]) -> usize {
        let mut raw = vec![0f32; self.descriptor.dim()];
        self.descriptor.extract(face, SIDE, SIDE, &mut raw);
        self.standardizer.apply(&mut raw);
        match &self.fourier {
            None => self.svm.predict(raw.as_slice()),
            Some(map) => self.svm.predict(map.transform(&raw).as_slice()),
        }
    }

    /// "LBP + linear SVM" style label.
    pub fn label(&self) -> String {
        let kernel = match self.kernel {
            Kernel::Linear => "linear SVM",
            Kernel::Rbf => "RBF SVM",
        };
        let method = match self.method {
            Method::Lbp => "LBP",
            Method::Hog => "HOG",
            Method::Gabor => "Gabor",
        };
        format!("{method} + {kernel}")
    }

    /// Descriptor settings, SVM input size and chosen hyper-parameters, for the table.
    pub fn detail(&self) -> String {
        let chosen = &self.trials[0];
        let mut s = format!("{}; {} dims", self.descriptor.name(), self.descriptor.dim());
        if let Some(map) = &self.fourier {
            s += &format!(
                ", {} random Fourier features, gamma {}/dim",
                map.output_dim,
                chosen.gamma.unwrap_or_default()
            );
        }
        s + &format!(
            "; C {} ({:.1}% on held-out Training)",
            chosen.cost,
            chosen.holdout_accuracy * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Faces whose class is the orientation of a noisy stripe pattern.
    fn stripes(per_class: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ds = Dataset::default();
        for k in 0..Emotion::COUNT {
            let theta = std::f32::consts::PI * k as f32 / Emotion::COUNT as f32;
            for _ in 0..per_class {
                let phase: f32 = rng.gen_range(0.0..6.3);
                for i in 0..SIDE * SIDE {
                    let (x, y) = ((i % SIDE) as f32, (i / SIDE) as f32);
                    let t = (x * theta.cos() + y * theta.sin()) * 0.9 + phase;
                    let noise: f32 = rng.gen_range(-40.0..40.0);
                    ds.images
                        .push((128.0 + 70.0 * t.sin() + noise).clamp(0.0, 255.0) as u8);
                }
                ds.labels.push(Emotion::ALL[k]);
            }
        }
        ds
    }

    #[test]
    fn baselines_learn_stripe_orientations() {
        let (train, test) = (stripes(20, 1), stripes(6, 2));
        let opts = TuneOptions {
            fourier_dim: 256,
            gammas: vec![0.3],
            ..Default::default()
        };
        for (method, kernel) in [
            (Method::Hog, Kernel::Linear),
            (Method::Gabor, Kernel::Linear),
            (Method::Hog, Kernel::Rbf),
        ] {
            let mut lines = Vec::new();
            let model = Baseline::train(method, kernel, &train, &opts, &mut |l| {
                lines.push(l.to_string())
            })
            .unwrap();
            let predicted = model.predict_dataset(&test);
            let correct = predicted
                .iter()
                .zip(&test.labels)
                .filter(|(p, l)| **p == l.index())
                .count();
            assert!(
                correct as f64 >= 0.9 * test.len() as f64,
                "{}: {correct}/{} ({lines:?})",
                model.label(),
                test.len()
            );
            // One face at a time agrees with the batched path.
            assert_eq!(model.predict(test.image(3)), predicted[3]);
            // Every cost (and width) was tried, the chosen one is listed first.
            let tried = match kernel {
                Kernel::Linear => opts.linear_costs.len(),
                Kernel::Rbf => opts.rbf_costs.len(),
            };
            assert_eq!(model.trials.len(), tried);
            assert!(model
                .trials
                .iter()
                .all(|t| t.holdout_accuracy <= model.trials[0].holdout_accuracy));
        }
    }

    #[test]
    fn too_few_faces_is_an_error() {
        let err = Baseline::train(
            Method::Lbp,
            Kernel::Linear,
            &stripes(1, 1),
            &TuneOptions::default(),
            &mut |_| {},
        );
        let message = err
            .err()
            .expect("7 faces cannot train a baseline")
            .to_string();
        assert!(
            message.contains("7 training faces are too few"),
            "{message}"
        );
    }
}
