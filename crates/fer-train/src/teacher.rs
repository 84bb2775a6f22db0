//! Knowledge distillation: the teacher's soft targets for each training batch.
//!
//! Two ways to get them. *Cached*: the teacher (any model file, with its own test-time
//! augmentation) labels every training face once, in the pure-Rust engine, and the
//! targets are kept in the run directory. *Online*: the teacher's networks run on
//! libtorch beside the student and label each augmented batch exactly as the student
//! sees it. Online costs one teacher pass per member per batch, but the targets are not
//! the teacher's verdicts on faces it memorised during its own training: on a shifted,
//! flipped or erased view it is less sure, and says where its doubt lies.

use crate::config::TrainConfig;
use crate::net::{params_channels_last, TorchNet};
use crate::train::{copy_tensor, write_tensors, CLASSES};
use anyhow::{bail, Context, Result};
use moodtune_fer::data::Dataset;
use moodtune_fer::model::weights::load_members;
use moodtune_fer::model::Arch;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

pub(crate) enum Teacher {
    /// `len x 7` probabilities, row-major, one row per training face.
    Cached(Vec<f32>),
    Online(OnlineTeacher),
}

impl Teacher {
    /// The teacher `cfg` names, ready to label batches; `None` without one.
    pub(crate) fn load(cfg: &TrainConfig, train: &Dataset) -> Result<Option<Teacher>> {
        let Some(path) = &cfg.teacher else {
            return Ok(None);
        };
        Ok(Some(if cfg.online_teacher {
            Teacher::Online(OnlineTeacher::load(path, cfg)?)
        } else {
            Teacher::Cached(cached_targets(
                path,
                cfg.distill_temperature,
                train,
                &cfg.run_dir,
            )?)
        }))
    }

    /// Soft targets `[N, 7]` for the batch of training faces `idx`, whose (augmented)
    /// network input is `x`.
    pub(crate) fn targets(&self, idx: &[usize], x: &Tensor) -> Tensor {
        match self {
            Teacher::Cached(probs) => {
                let rows: Vec<f32> = idx
                    .iter()
                    .flat_map(|&i| probs[i * CLASSES..(i + 1) * CLASSES].iter().copied())
                    .collect();
                Tensor::from_slice(&rows).view([idx.len() as i64, CLASSES as i64])
            }
            Teacher::Online(t) => t.targets(x),
        }
    }
}

/// The networks of a teacher file (one model or an ensemble) on libtorch, in eval mode.
pub(crate) struct OnlineTeacher {
    // Each member keeps its own store alive: the nets' parameters live there.
    members: Vec<(VarStore, TorchNet)>,
    temperature: f64,
}

impl OnlineTeacher {
    pub(crate) fn load(path: &Path, cfg: &TrainConfig) -> Result<OnlineTeacher> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("reading teacher {origin}"))?;
        // The inference loader checks architecture, names and shapes of every member.
        let nets = load_members(&bytes, &origin)?;
        let meta = &nets[0].meta;
        let student = Arch::by_name(&cfg.arch)?;
        if meta.crop != student.input
            || meta.mean != crate::augment::MEAN
            || meta.std != crate::augment::STD
            || meta.preprocess.to_text() != cfg.preprocess
        {
            bail!(
                "teacher {origin} takes {}x{} input normalised by mean {} std {} after \
                 preprocessing {:?}; the student gets {}x{} by mean {} std {} after {:?}: \
                 an online teacher must see the student's batches as it was trained to",
                meta.crop,
                meta.crop,
                meta.mean,
                meta.std,
                meta.preprocess.to_text(),
                student.input,
                student.input,
                crate::augment::MEAN,
                crate::augment::STD,
                cfg.preprocess
            );
        }
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        let members = nets
            .iter()
            .map(|member| {
                let vs = VarStore::new(Device::Cpu);
                let net = TorchNet::new(&vs.root(), &member.arch, 0.0);
                for (name, mut dst) in vs.variables() {
                    let stored = format!("{}{name}", member.tensor_prefix);
                    copy_tensor(&st, &stored, &mut dst, path)?;
                }
                params_channels_last(&vs);
                Ok((vs, net))
            })
            .collect::<Result<Vec<_>>>()?;
        eprintln!(
            "online teacher {origin}: {} network(s) ({}), temperature {}",
            members.len(),
            nets.iter()
                .map(|n| n.arch.name)
                .collect::<Vec<_>>()
                .join(", "),
            cfg.distill_temperature
        );
        Ok(OnlineTeacher {
            members,
            temperature: cfg.distill_temperature,
        })
    }

    /// The mean over members of softmax(logits / T) on `x` `[N, 1, S, S]` -> `[N, 7]`:
    /// the same averaging the inference engine does for an ensemble.
    pub(crate) fn targets(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let sum = self
                .members
                .iter()
                .map(|(_, net)| {
                    (net.forward_t(x, false) / self.temperature).softmax(1, Kind::Float)
                })
                .reduce(|a, b| a + b)
                .expect("a teacher file holds at least one network");
            sum / self.members.len() as f64
        })
    }
}

/// Mean over the batch of `-sum_k target_k * log softmax(logits)_k`: cross-entropy
/// against a teacher's probabilities.
pub(crate) fn soft_cross_entropy(logits: &Tensor, targets: &Tensor) -> Tensor {
    -(targets * logits.log_softmax(1, Kind::Float))
        .sum_dim_intlist(&[1i64][..], false, Kind::Float)
        .mean(Kind::Float)
}

/// The teacher's probabilities at `temperature` for every (unaugmented) training face (`len x 7`,
/// row-major), computed once by the pure-Rust engine and kept in the run directory, so a
/// resumed run reuses exactly the same targets. A cache made for another teacher file (by
/// path, size and modification time) or temperature is recomputed.
pub(crate) fn cached_targets(
    teacher: &Path,
    temperature: f64,
    train: &Dataset,
    run_dir: &Path,
) -> Result<Vec<f32>> {
    let cache = run_dir.join("teacher.safetensors");
    // The file's size and time too: a teacher rebuilt in place is another teacher.
    let meta = std::fs::metadata(teacher)
        .with_context(|| format!("reading teacher {}", teacher.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = HashMap::from([
        ("teacher".to_string(), teacher.display().to_string()),
        ("teacher_bytes".to_string(), meta.len().to_string()),
        ("teacher_modified_ns".to_string(), modified.to_string()),
        ("temperature".to_string(), temperature.to_string()),
    ]);
    if let Ok(bytes) = std::fs::read(&cache) {
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: corrupt ({e}); delete it", cache.display()))?;
        if header.metadata().as_ref() == Some(&key) {
            let st = safetensors::SafeTensors::deserialize(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: corrupt ({e}); delete it", cache.display()))?;
            let t = st
                .tensor("probs")
                .map_err(|_| anyhow::anyhow!("{}: no probs tensor; delete it", cache.display()))?;
            if t.shape() != [train.len(), CLASSES] {
                bail!(
                    "{}: targets for {:?} faces, the data has {}; delete it",
                    cache.display(),
                    t.shape(),
                    train.len()
                );
            }
            eprintln!("teacher targets from {}", cache.display());
            return moodtune_fer::model::weights::f32_values(&t)
                .with_context(|| format!("{}: tensor probs", cache.display()));
        }
        eprintln!(
            "{} was made for another teacher or temperature: recomputing",
            cache.display()
        );
    }
    let origin = teacher.display().to_string();
    let bytes = std::fs::read(teacher).with_context(|| format!("reading teacher {origin}"))?;
    let bytes = moodtune_fer::model::weights::with_metadata(
        &bytes,
        &origin,
        &[("temperature", temperature.to_string())],
    )?;
    let clf = moodtune_fer::Classifier::from_bytes(&bytes, &origin)?;
    eprintln!(
        "teacher {origin} ({}, temperature {temperature}): labelling {} training faces...",
        clf.describe(),
        train.len()
    );
    let t = Instant::now();
    let probs: Vec<f32> = clf.predict_dataset(train).into_iter().flatten().collect();
    eprintln!("teacher targets in {:.0}s", t.elapsed().as_secs_f64());
    let bytes: Vec<u8> = probs.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_tensors(
        &cache,
        vec![("probs".into(), (vec![train.len(), CLASSES], bytes))],
        key,
    )?;
    Ok(probs)
}
