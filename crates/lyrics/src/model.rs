//! The lyrics emotion classifiers: a hierarchical linear SVM (the spec's design), a
//! flat one-vs-rest SVM and the lexicon-only rule used as baselines.
//!
//! ## Hierarchy
//!
//! ```text
//! root (3-way, one-vs-rest): positive {Happy, Surprise} | negative {Angry, Disgust, Fear, Sad} | Neutral
//!   positive:  Happy | Surprise
//!   negative:  {Angry, Disgust} (hostile, turned outward) | {Fear, Sad} (withdrawn, turned inward)
//!     hostile:   Angry | Disgust
//!     withdrawn: Fear | Sad
//! ```
//!
//! The spec splits positive from negative first; Neutral ("little emotion") is the third
//! branch of that first decision. The negative group is split by direction (outward
//! hostility vs inward withdrawal) because those pairs share most vocabulary.
//!
//! ## Features
//!
//! Nine lexicon values ([`Features`]: six emotions, positive, negative, density of
//! emotion words), standardised with the training set's mean and spread, followed by a
//! hashed bag of words (Chinese words, English stems, negated terms marked) scaled to
//! unit length. The lexicon values carry the design's knowledge; the words let the SVM
//! learn imagery no lexicon lists ("storm", 雷声).

use crate::analyze::{Analyzer, Features};
use moodtune_core::Emotion;
use moodtune_svm::{LinearSvm, Sparse, SvmParams};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag written into every saved model.
pub const MODEL_FORMAT: &str = "moodtune-lyrics-model";
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// Dense lexicon features ahead of the hashed words.
pub const LEX_DIM: usize = 9;
const DEFAULT_HASH_DIM: usize = 1 << 13;
/// The largest `hash_dim` a model file may ask for (32x the default).
const MAX_HASH_DIM: usize = 1 << 18;
/// Softmax sharpness turning SVM scores into probabilities at each node: the scores are
/// multiplied by it (a temperature of 1/2).
const SHARPNESS: f32 = 2.0;
/// Default weight of the standardised lexicon block relative to the unit-length word
/// block, and default SVM cost (chosen by cross-validation, see docs/LYRICS.md).
pub const DEFAULT_LEX_SCALE: f32 = 0.35;
pub const DEFAULT_C: f32 = 1.0;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub method: Method,
    /// SVM cost of margin violations.
    pub c: f32,
    /// Weight of the nine lexicon values against the bag of words (0: words only).
    pub lex_scale: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            method: Method::Hierarchical,
            c: DEFAULT_C,
            lex_scale: DEFAULT_LEX_SCALE,
            seed: crate::DEFAULT_SEED,
        }
    }
}

/// Which classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Positive vs negative vs neutral first, then split again (the spec's design).
    Hierarchical,
    /// One-vs-rest over the seven emotions at once.
    Flat,
    /// No training: the strongest lexicon emotion, Neutral when there is little emotion.
    Lexicon,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Hierarchical, Method::Flat, Method::Lexicon];

    pub fn name(self) -> &'static str {
        match self {
            Method::Hierarchical => "hierarchical SVM",
            Method::Flat => "flat SVM",
            Method::Lexicon => "lexicon rule",
        }
    }
}

/// The emotion of one lyrics text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub emotion: Emotion,
    /// Probability of `emotion` in [0, 1].
    pub confidence: f32,
    /// Probabilities of all seven emotions in [`Emotion::ALL`] order (sum 1).
    pub probabilities: [f32; Emotion::COUNT],
    /// The words that pushed the decision most, strongest first ("not afraid", "storm").
    pub drivers: Vec<String>,
}

/// Errors of saving and loading models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read lyrics model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("lyrics model {path} is not a valid model file (truncated or corrupt?): {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("lyrics model {path} is invalid: {msg}")]
    Invalid { path: String, msg: String },
    #[error("cannot write lyrics model {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot train: {0}")]
    Train(String),
}

/// Sparse weights as stored on disk: only non-zero entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredWeights {
    idx: Vec<u32>,
    val: Vec<f32>,
    bias: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Node {
    /// The groups this node decides between.
    groups: Vec<Vec<Emotion>>,
    /// Index of the node that splits each group further; None for a single emotion.
    children: Vec<Option<usize>>,
    /// One SVM for a two-group node (positive = first group), one per group otherwise.
    #[serde(skip)]
    svms: Vec<LinearSvm>,
    weights: Vec<StoredWeights>,
}

/// A trained lyrics emotion model (hierarchical or flat SVM).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmotionModel {
    format: String,
    format_version: u32,
    version: String,
    method: Method,
    hash_dim: usize,
    lex_mean: Vec<f32>,
    lex_std: Vec<f32>,
    /// How it was trained: examples, seed, C.
    trained_on: TrainInfo,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainInfo {
    pub examples: usize,
    pub seed: u64,
    pub c: f32,
    pub lex_scale: f32,
}

/// A node's layout before training: its groups and the child node of each group.
type NodeSpec = (Vec<Vec<Emotion>>, Vec<Option<usize>>);

/// The tree of the hierarchical model (see the module docs).
fn hierarchy() -> Vec<NodeSpec> {
    use Emotion::*;
    vec![
        (
            vec![
                vec![Happy, Surprise],
                vec![Angry, Disgust, Fear, Sad],
                vec![Neutral],
            ],
            vec![Some(1), Some(2), None],
        ),
        (vec![vec![Happy], vec![Surprise]], vec![None, None]),
        (
            vec![vec![Angry, Disgust], vec![Fear, Sad]],
            vec![Some(3), Some(4)],
        ),
        (vec![vec![Angry], vec![Disgust]], vec![None, None]),
        (vec![vec![Fear], vec![Sad]], vec![None, None]),
    ]
}

fn flat() -> Vec<NodeSpec> {
    vec![(
        Emotion::ALL.iter().map(|&e| vec![e]).collect(),
        vec![None; Emotion::COUNT],
    )]
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The nine dense lexicon values of `f`, before standardisation.
pub fn lexicon_vector(f: &Features) -> [f32; LEX_DIM] {
    let e = |x: Emotion| f.emotion(x);
    let density = f.hits.len() as f32 / f.tokens.max(1) as f32;
    [
        e(Emotion::Angry),
        e(Emotion::Disgust),
        e(Emotion::Fear),
        e(Emotion::Happy),
        e(Emotion::Sad),
        e(Emotion::Surprise),
        f.positive,
        f.negative,
        density,
    ]
}

fn term_bucket(term: &str, hash_dim: usize) -> u32 {
    (LEX_DIM as u64 + fnv1a(term.as_bytes()) % hash_dim as u64) as u32
}

/// Stages of a vector: lexicon block then word block, sparse.
fn vectorize(f: &Features, mean: &[f32], std: &[f32], lex_scale: f32, hash_dim: usize) -> Sparse {
    let lex = lexicon_vector(f);
    let mut v: Sparse = Vec::with_capacity(LEX_DIM + f.terms.len());
    for k in 0..LEX_DIM {
        v.push((k as u32, (lex[k] - mean[k]) / std[k] * lex_scale));
    }
    let mut buckets: Vec<u32> = f.terms.iter().map(|t| term_bucket(t, hash_dim)).collect();
    buckets.sort_unstable();
    buckets.dedup();
    if !buckets.is_empty() {
        let w = 1.0 / (buckets.len() as f32).sqrt();
        v.extend(buckets.into_iter().map(|b| (b, w)));
    }
    v
}

fn softmax(scores: &[f32]) -> Vec<f32> {
    let m = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores.iter().map(|s| ((s - m) * SHARPNESS).exp()).collect();
    let z: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / z).collect()
}

impl Node {
    fn scores(&self, x: &[(u32, f32)]) -> Vec<f32> {
        if self.groups.len() == 2 {
            let s = self.svms[0].decision(x);
            vec![s / 2.0, -s / 2.0]
        } else {
            self.svms.iter().map(|m| m.decision(x)).collect()
        }
    }

    /// Per-feature contribution towards group `g` (same sparse layout as `x`).
    fn contribution(&self, g: usize, x: &[(u32, f32)]) -> Vec<f32> {
        let (svm, sign) = if self.groups.len() == 2 {
            (&self.svms[0], if g == 0 { 1.0 } else { -1.0 })
        } else {
            (&self.svms[g], 1.0)
        };
        x.iter()
            .map(|&(j, v)| sign * svm.weights.get(j as usize).copied().unwrap_or(0.0) * v)
            .collect()
    }
}

impl EmotionModel {
    /// The default model, trained on the project's corpus (data/corpus) with seed 42 by
    /// `cargo run -p moodtune-lyrics --example train_default`, embedded in the binary.
    pub fn embedded() -> EmotionModel {
        static MODEL: std::sync::OnceLock<EmotionModel> = std::sync::OnceLock::new();
        MODEL
            .get_or_init(|| {
                EmotionModel::from_json(
                    include_str!("../model/default.json"),
                    "embedded default model",
                )
                .expect("the embedded model is valid (checked by tests)")
            })
            .clone()
    }

    /// Trains the hierarchical SVM on labelled lyrics. Deterministic for a given seed.
    pub fn train(
        analyzer: &Analyzer,
        examples: &[(String, Emotion)],
        seed: u64,
    ) -> Result<EmotionModel, ModelError> {
        Self::train_with(analyzer, examples, Method::Hierarchical, seed)
    }

    /// Trains the hierarchical or the flat SVM.
    pub fn train_with(
        analyzer: &Analyzer,
        examples: &[(String, Emotion)],
        method: Method,
        seed: u64,
    ) -> Result<EmotionModel, ModelError> {
        let opts = TrainOptions {
            method,
            seed,
            ..Default::default()
        };
        Self::train_options(analyzer, examples, &opts)
    }

    /// Trains with explicit settings.
    pub fn train_options(
        analyzer: &Analyzer,
        examples: &[(String, Emotion)],
        opts: &TrainOptions,
    ) -> Result<EmotionModel, ModelError> {
        let feats: Vec<Features> = examples
            .par_iter()
            .map(|(t, _)| analyzer.features(t))
            .collect();
        let labels: Vec<Emotion> = examples.iter().map(|(_, e)| *e).collect();
        Self::train_features(&feats, &labels, opts)
    }

    pub(crate) fn train_features(
        feats: &[Features],
        labels: &[Emotion],
        opts: &TrainOptions,
    ) -> Result<EmotionModel, ModelError> {
        let TrainOptions {
            method,
            c,
            lex_scale,
            seed,
        } = *opts;
        if !(c > 0.0 && c.is_finite() && lex_scale >= 0.0 && lex_scale.is_finite()) {
            return Err(ModelError::Train(format!(
                "C must be positive and lex_scale non-negative (got {c}, {lex_scale})"
            )));
        }
        let tree = match method {
            Method::Hierarchical => hierarchy(),
            Method::Flat => flat(),
            Method::Lexicon => {
                return Err(ModelError::Train(
                    "the lexicon rule has nothing to train; use lexicon_rule()".into(),
                ))
            }
        };
        if feats.is_empty() {
            return Err(ModelError::Train("no labelled examples".into()));
        }
        let mut present = [false; Emotion::COUNT];
        for l in labels {
            present[l.index()] = true;
        }
        if present.iter().filter(|&&p| p).count() < 2 {
            return Err(ModelError::Train(
                "the examples need at least two different emotions".into(),
            ));
        }
        let hash_dim = DEFAULT_HASH_DIM;
        let lex: Vec<[f32; LEX_DIM]> = feats.iter().map(lexicon_vector).collect();
        let n = lex.len() as f32;
        let mut mean = vec![0.0f32; LEX_DIM];
        let mut std = vec![0.0f32; LEX_DIM];
        for l in &lex {
            for k in 0..LEX_DIM {
                mean[k] += l[k] / n;
            }
        }
        for l in &lex {
            for k in 0..LEX_DIM {
                std[k] += (l[k] - mean[k]).powi(2) / n;
            }
        }
        for s in std.iter_mut() {
            // A constant feature keeps unit scale instead of dividing by zero.
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let xs: Vec<Sparse> = feats
            .iter()
            .map(|f| vectorize(f, &mean, &std, lex_scale, hash_dim))
            .collect();
        let dim = LEX_DIM + hash_dim;
        let params = SvmParams {
            c,
            ..Default::default()
        };
        let nodes: Vec<Node> = tree
            .into_par_iter()
            .enumerate()
            .map(|(ni, (groups, children))| {
                let group_of = |e: Emotion| groups.iter().position(|g| g.contains(&e));
                let idx: Vec<usize> = (0..labels.len())
                    .filter(|&i| group_of(labels[i]).is_some())
                    .collect();
                let sub_x: Vec<Sparse> = idx.iter().map(|&i| xs[i].clone()).collect();
                let sub_g: Vec<usize> = idx.iter().map(|&i| group_of(labels[i]).unwrap()).collect();
                let node_seed = seed ^ ((ni as u64 + 1) << 32);
                let svms: Vec<LinearSvm> = if groups.len() == 2 {
                    let ys: Vec<bool> = sub_g.iter().map(|&g| g == 0).collect();
                    vec![LinearSvm::train(&sub_x, &ys, dim, params, node_seed)]
                } else {
                    (0..groups.len())
                        .map(|g| {
                            let ys: Vec<bool> = sub_g.iter().map(|&s| s == g).collect();
                            LinearSvm::train(&sub_x, &ys, dim, params, node_seed + g as u64)
                        })
                        .collect()
                };
                let weights = svms.iter().map(store).collect();
                Node {
                    groups,
                    children,
                    svms,
                    weights,
                }
            })
            .collect();
        let mut model = EmotionModel {
            format: MODEL_FORMAT.into(),
            format_version: MODEL_FORMAT_VERSION,
            version: String::new(),
            method,
            hash_dim,
            lex_mean: mean,
            lex_std: std,
            trained_on: TrainInfo {
                examples: feats.len(),
                seed,
                c,
                lex_scale,
            },
            nodes,
        };
        model.version = model.fingerprint();
        Ok(model)
    }

    /// "hsvm-1-1a2b3c4d": method, format version and a hash of the weights, so two
    /// different models never share a version and a retrain on the same data does.
    fn fingerprint(&self) -> String {
        let mut bytes = Vec::new();
        for node in &self.nodes {
            for w in &node.weights {
                for (i, v) in w.idx.iter().zip(&w.val) {
                    bytes.extend_from_slice(&i.to_le_bytes());
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                bytes.extend_from_slice(&w.bias.to_le_bytes());
            }
        }
        bytes.extend_from_slice(&self.trained_on.lex_scale.to_le_bytes());
        for v in self.lex_mean.iter().chain(&self.lex_std) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let tag = match self.method {
            Method::Flat => "fsvm",
            _ => "hsvm",
        };
        format!("{tag}-{}-{:08x}", self.format_version, fnv1a(&bytes) as u32)
    }

    /// Version string to store beside every prediction.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn train_info(&self) -> &TrainInfo {
        &self.trained_on
    }

    /// Classifies one lyrics text. Text without any words (instrumental, empty) is
    /// Neutral with confidence 1.
    pub fn predict(&self, analyzer: &Analyzer, text: &str) -> Prediction {
        self.predict_features(&analyzer.features(text))
    }

    /// Classifies many texts in parallel (rayon), in input order.
    pub fn predict_batch<S: AsRef<str> + Sync>(
        &self,
        analyzer: &Analyzer,
        texts: &[S],
    ) -> Vec<Prediction> {
        texts
            .par_iter()
            .map(|t| self.predict(analyzer, t.as_ref()))
            .collect()
    }

    pub fn predict_features(&self, f: &Features) -> Prediction {
        let mut probabilities = [0.0f32; Emotion::COUNT];
        if f.tokens == 0 {
            probabilities[Emotion::Neutral.index()] = 1.0;
            return Prediction {
                emotion: Emotion::Neutral,
                confidence: 1.0,
                probabilities,
                drivers: Vec::new(),
            };
        }
        let x = vectorize(
            f,
            &self.lex_mean,
            &self.lex_std,
            self.trained_on.lex_scale,
            self.hash_dim,
        );
        // Probability of each emotion = product of the branch probabilities on its path.
        let mut stack = vec![(0usize, 1.0f32)];
        let mut node_probs: Vec<Option<Vec<f32>>> = vec![None; self.nodes.len()];
        while let Some((ni, p)) = stack.pop() {
            let node = &self.nodes[ni];
            let probs = softmax(&node.scores(&x));
            for (g, group) in node.groups.iter().enumerate() {
                match node.children[g] {
                    Some(c) => stack.push((c, p * probs[g])),
                    None => probabilities[group[0].index()] += p * probs[g],
                }
            }
            node_probs[ni] = Some(probs);
        }
        let (best, &conf) = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("seven emotions");
        let emotion = Emotion::from_index(best).expect("index < 7");
        let drivers = self.drivers(f, &x, emotion);
        Prediction {
            emotion,
            confidence: conf.clamp(0.0, 1.0),
            probabilities,
            drivers,
        }
    }

    /// Words whose features pushed towards `emotion` along its path in the tree.
    fn drivers(&self, f: &Features, x: &Sparse, emotion: Emotion) -> Vec<String> {
        let mut contrib = vec![0.0f32; x.len()];
        let mut ni = Some(0usize);
        while let Some(i) = ni {
            let node = &self.nodes[i];
            let Some(g) = node.groups.iter().position(|grp| grp.contains(&emotion)) else {
                break;
            };
            for (c, v) in contrib.iter_mut().zip(node.contribution(g, x)) {
                *c += v;
            }
            ni = node.children[g];
        }
        // The word block of `x` is sorted by bucket: look contributions up by bisection.
        let word_block = &x[LEX_DIM..];
        let word_contrib = &contrib[LEX_DIM..];
        let bucket_score = |term: &str| -> f32 {
            let b = term_bucket(term, self.hash_dim);
            word_block
                .binary_search_by_key(&b, |&(j, _)| j)
                .map_or(0.0, |i| word_contrib[i])
        };
        // (score, index, is a hit): strings are only made for the few kept.
        let mut scored: Vec<(f32, usize, bool)> = Vec::new();
        // Lexicon hits share their emotion feature's push in proportion to their weight.
        let lex = &contrib[..LEX_DIM];
        let emo_order = [
            Emotion::Angry,
            Emotion::Disgust,
            Emotion::Fear,
            Emotion::Happy,
            Emotion::Sad,
            Emotion::Surprise,
        ];
        let mut totals = [0.0f32; 6];
        let (mut pos_total, mut neg_total) = (0.0f32, 0.0f32);
        for h in &f.hits {
            for (k, e) in emo_order.iter().enumerate() {
                totals[k] += h.emotions[e.index()].abs();
            }
            pos_total += h.valence.max(0.0);
            neg_total += (-h.valence).max(0.0);
        }
        let mut is_hit = vec![false; f.terms.len()];
        for (hi, h) in f.hits.iter().enumerate() {
            let mut s = 0.0;
            for (k, e) in emo_order.iter().enumerate() {
                if totals[k] > 0.0 {
                    s += lex[k] * h.emotions[e.index()].abs() / totals[k];
                }
            }
            if pos_total > 0.0 {
                s += lex[6] * h.valence.max(0.0) / pos_total;
            }
            if neg_total > 0.0 {
                s += lex[7] * (-h.valence).max(0.0) / neg_total;
            }
            if let Some(term) = f.terms.get(h.position) {
                s += bucket_score(term);
                is_hit[h.position] = true;
            }
            if s > 0.0 {
                scored.push((s, hi, true));
            }
        }
        for (i, term) in f.terms.iter().enumerate() {
            if is_hit[i] || crate::lang::is_filler(&f.words[i]) {
                continue;
            }
            let s = bucket_score(term);
            if s > 0.0 {
                scored.push((s, i, false));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<String> = Vec::new();
        for (_, i, hit) in scored {
            if out.len() >= 6 {
                break;
            }
            let w = if hit {
                f.hits[i].display()
            } else {
                f.words[i].clone()
            };
            if !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }

    /// Writes the model as JSON, atomically (temp file in the same folder, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let werr = |source| ModelError::Write {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_string(self).map_err(|e| werr(std::io::Error::other(e)))?;
        moodtune_core::write_bytes_atomically(path, json.as_bytes()).map_err(werr)
    }

    /// Reads a model written by [`EmotionModel::save`], checking it thoroughly.
    pub fn load(path: impl AsRef<Path>) -> Result<EmotionModel, ModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses and validates a model from JSON text; `name` labels errors.
    pub fn from_json(text: &str, name: &str) -> Result<EmotionModel, ModelError> {
        let mut m: EmotionModel =
            serde_json::from_str(text).map_err(|source| ModelError::Parse {
                path: name.to_string(),
                source,
            })?;
        let invalid = |msg: String| ModelError::Invalid {
            path: name.to_string(),
            msg,
        };
        if m.format != MODEL_FORMAT {
            return Err(invalid(format!(
                "format is {:?}, expected {MODEL_FORMAT:?}",
                m.format
            )));
        }
        if m.format_version != MODEL_FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {} is not supported (this build reads {MODEL_FORMAT_VERSION})",
                m.format_version
            )));
        }
        if m.method == Method::Lexicon {
            return Err(invalid("method lexicon is not a trained model".into()));
        }
        // Every weight vector is expanded to `hash_dim` floats, so these bounds (with the
        // node and group counts below) cap what a crafted file can make us allocate.
        if m.hash_dim == 0 || m.hash_dim > MAX_HASH_DIM {
            return Err(invalid(format!("hash_dim {} out of range", m.hash_dim)));
        }
        if m.lex_mean.len() != LEX_DIM || m.lex_std.len() != LEX_DIM {
            return Err(invalid("lexicon statistics have the wrong length".into()));
        }
        if m.lex_std.iter().chain(&m.lex_mean).any(|v| !v.is_finite())
            || m.lex_std.iter().any(|&s| s <= 0.0)
        {
            return Err(invalid(
                "lexicon statistics are not finite and positive".into(),
            ));
        }
        if !(m.trained_on.lex_scale >= 0.0 && m.trained_on.lex_scale.is_finite()) {
            return Err(invalid("lex_scale must be a non-negative number".into()));
        }
        if m.nodes.is_empty() || m.nodes.len() > Emotion::COUNT - 1 {
            return Err(invalid(format!(
                "{} nodes: a tree over {} emotions has 1 to {}",
                m.nodes.len(),
                Emotion::COUNT,
                Emotion::COUNT - 1
            )));
        }
        let dim = LEX_DIM + m.hash_dim;
        let mut seen = [0usize; Emotion::COUNT];
        let n_nodes = m.nodes.len();
        for (ni, node) in m.nodes.iter_mut().enumerate() {
            if node.groups.len() < 2
                || node.groups.len() > Emotion::COUNT
                || node.groups.iter().any(|g| g.is_empty())
                || node.children.len() != node.groups.len()
            {
                return Err(invalid(format!("node {ni} has a malformed group list")));
            }
            let want = if node.groups.len() == 2 {
                1
            } else {
                node.groups.len()
            };
            if node.weights.len() != want {
                return Err(invalid(format!(
                    "node {ni} has {} weight vectors, expected {want}",
                    node.weights.len()
                )));
            }
            for (g, child) in node.groups.iter().zip(&node.children) {
                match child {
                    // Children come after their parent, so the tree has no cycles.
                    Some(c) if *c <= ni || *c >= n_nodes => {
                        return Err(invalid(format!("node {ni} points to invalid child {c}")))
                    }
                    None if g.len() != 1 => {
                        return Err(invalid(format!(
                            "node {ni} has a leaf with several emotions"
                        )))
                    }
                    None => seen[g[0].index()] += 1,
                    Some(_) => {}
                }
            }
            let mut svms = Vec::with_capacity(node.weights.len());
            for w in &node.weights {
                if w.idx.len() != w.val.len() {
                    return Err(invalid(format!(
                        "node {ni}: weight index and value lists differ in length"
                    )));
                }
                let mut dense = vec![0.0f32; dim + 1];
                for (&i, &v) in w.idx.iter().zip(&w.val) {
                    if i as usize >= dim || !v.is_finite() {
                        return Err(invalid(format!(
                            "node {ni}: weight index {i} or value {v} out of range"
                        )));
                    }
                    dense[i as usize] = v;
                }
                if !w.bias.is_finite() {
                    return Err(invalid(format!("node {ni}: bias is not finite")));
                }
                dense[dim] = w.bias;
                svms.push(LinearSvm { weights: dense });
            }
            node.svms = svms;
        }
        if seen.iter().any(|&s| s != 1) {
            return Err(invalid(
                "every emotion must be exactly one leaf of the tree".into(),
            ));
        }
        // A tree: every node but the root hangs from exactly one group, and that group
        // holds exactly the emotions the node decides between (else the probabilities
        // down the tree would not add up to 1).
        let mut parents = vec![0usize; n_nodes];
        for (ni, node) in m.nodes.iter().enumerate() {
            for (g, child) in node.groups.iter().zip(&node.children) {
                let Some(c) = *child else { continue };
                parents[c] += 1;
                let mut below: Vec<Emotion> = m.nodes[c].groups.concat();
                let mut group = g.clone();
                below.sort();
                group.sort();
                if below != group {
                    return Err(invalid(format!(
                        "node {ni}'s group for node {c} does not hold that node's emotions"
                    )));
                }
            }
        }
        if parents[0] != 0 || parents[1..].iter().any(|&p| p != 1) {
            return Err(invalid(
                "every node but the first must have exactly one parent".into(),
            ));
        }
        let expected = m.fingerprint();
        if expected != m.version {
            return Err(invalid(format!(
                "version {:?} does not match its weights ({expected}); the file was altered",
                m.version
            )));
        }
        Ok(m)
    }
}

fn store(svm: &LinearSvm) -> StoredWeights {
    let dim = svm.dim();
    let mut idx = Vec::new();
    let mut val = Vec::new();
    for (i, &v) in svm.weights[..dim].iter().enumerate() {
        if v != 0.0 {
            idx.push(i as u32);
            val.push(v);
        }
    }
    StoredWeights {
        idx,
        val,
        bias: svm.weights[dim],
    }
}

/// Strength of emotion (sum of positive emotion weights per token) under which the
/// lexicon rule answers Neutral.
const RULE_MIN_EMOTION: f32 = 0.02;

/// The lexicon-only baseline: the emotion with the largest lexicon value; when the
/// emotion words are too sparse, the valence totals decide between Happy, Sad and
/// Neutral. Confidence is the winner's share of all positive emotion values.
pub fn lexicon_rule(f: &Features) -> Prediction {
    let mut probabilities = [0.0f32; Emotion::COUNT];
    let mut best = Emotion::Neutral;
    let mut best_v = 0.0f32;
    let mut total = 0.0f32;
    for e in Emotion::ALL {
        let v = f.emotion(e).max(0.0);
        total += v;
        if v > best_v {
            best_v = v;
            best = e;
        }
    }
    let emotion = if best_v >= RULE_MIN_EMOTION {
        best
    } else if f.negative > f.positive + RULE_MIN_EMOTION {
        Emotion::Sad
    } else if f.positive > f.negative + RULE_MIN_EMOTION {
        Emotion::Happy
    } else {
        Emotion::Neutral
    };
    let confidence = if emotion == best && total > 0.0 {
        best_v / total
    } else {
        0.5
    };
    probabilities[emotion.index()] = confidence;
    let rest = (1.0 - confidence) / (Emotion::COUNT - 1) as f32;
    for e in Emotion::ALL {
        if e != emotion {
            probabilities[e.index()] = rest;
        }
    }
    let drivers = f
        .hits
        .iter()
        .filter(|h| {
            h.emotions[emotion.index()] > 0.0
                || (emotion == Emotion::Sad && h.valence < 0.0)
                || (emotion == Emotion::Happy && h.valence > 0.0)
        })
        .map(|h| h.display())
        .take(6)
        .collect();
    Prediction {
        emotion,
        confidence,
        probabilities,
        drivers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{builtin_corpus, cross_validate, DEFAULT_SEED};

    fn small_model() -> (Analyzer, EmotionModel) {
        let a = Analyzer::default();
        let corpus = builtin_corpus();
        let m = EmotionModel::train(&a, &corpus, 7).unwrap();
        (a, m)
    }

    #[test]
    fn save_load_round_trip_keeps_predictions_and_version() {
        let (a, m) = small_model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lyrics.json");
        m.save(&path).unwrap();
        let back = EmotionModel::load(&path).unwrap();
        assert_eq!(back.version(), m.version());
        assert_eq!(back.train_info(), m.train_info());
        for text in [
            "I am so afraid of the dark",
            "我们一起欢笑吧",
            "the bus comes at nine",
        ] {
            assert_eq!(back.predict(&a, text), m.predict(&a, text));
        }
        // Saving over an existing file replaces it and leaves no temp files behind.
        m.save(&path).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn truncated_corrupt_or_altered_files_are_clear_errors() {
        let (_, m) = small_model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        m.save(&path).unwrap();
        let full = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("m.json") && e.contains("truncated or corrupt"),
            "{e}"
        );

        std::fs::write(&path, [0xffu8, 0x00, 0x13]).unwrap();
        assert!(EmotionModel::load(&path).is_err());

        // A changed weight no longer matches the version fingerprint.
        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        v["nodes"][0]["weights"][0]["bias"] = serde_json::json!(123.0);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("altered"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        v["format"] = serde_json::json!("something-else");
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(EmotionModel::load(&path)
            .unwrap_err()
            .to_string()
            .contains("format"));

        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        v["nodes"][0]["children"][0] = serde_json::json!(0);
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(EmotionModel::load(&path)
            .unwrap_err()
            .to_string()
            .contains("child"));

        // Fan-out a crafted file could use to make loading allocate without bound.
        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        let node = v["nodes"][0].clone();
        v["nodes"] = serde_json::Value::Array(vec![node; 500]);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("500 nodes"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        v["hash_dim"] = serde_json::json!(1u64 << 30);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("hash_dim"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        v["nodes"][0]["groups"][0] = serde_json::json!([]);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("malformed group"), "{e}");
        // A root group that lost one of the emotions of the node it points to.
        let mut v: serde_json::Value = serde_json::from_str(&full).unwrap();
        let k = v["nodes"][0]["children"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| !c.is_null())
            .expect("the root splits a group further");
        v["nodes"][0]["groups"][k].as_array_mut().unwrap().pop();
        std::fs::write(&path, v.to_string()).unwrap();
        let e = EmotionModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("does not hold that node's emotions"), "{e}");

        let e = EmotionModel::load(dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }

    #[test]
    fn embedded_model_is_the_documented_training_run() {
        let a = Analyzer::default();
        let m = EmotionModel::embedded();
        assert_eq!(m.method(), Method::Hierarchical);
        // SPEC 2c: positive against negative first (Neutral beside them), then each
        // group split again until single emotions remain.
        use Emotion::*;
        let root = &m.nodes[0];
        assert_eq!(
            root.groups,
            vec![
                vec![Happy, Surprise],
                vec![Angry, Disgust, Fear, Sad],
                vec![Neutral]
            ]
        );
        for node in &m.nodes {
            for (group, child) in node.groups.iter().zip(&node.children) {
                assert_eq!(child.is_none(), group.len() == 1, "{node:?}");
            }
        }
        assert_eq!(m.train_info().seed, DEFAULT_SEED);
        // Retraining with the fixed seed on the committed corpus reproduces it exactly;
        // if this fails, rerun `cargo run -p moodtune-lyrics --example train_default`.
        let again = EmotionModel::train(&a, &builtin_corpus(), DEFAULT_SEED).unwrap();
        assert_eq!(again.version(), m.version());
    }

    #[test]
    fn predictions_are_well_formed_and_sensible() {
        let a = Analyzer::default();
        let m = EmotionModel::embedded();
        // Unseen sentences, none of them in the corpus.
        let cases = [
            (
                "The party is on, we're laughing and dancing in the sun",
                Emotion::Happy,
            ),
            (
                "I miss you every night, the tears won't stop falling",
                Emotion::Sad,
            ),
            ("I hate your lies, get out, I'm furious", Emotion::Angry),
            ("我害怕黑暗，浑身发抖，不敢睡觉", Emotion::Fear),
            ("你真让人恶心，满嘴谎言的伪君子", Emotion::Disgust),
            ("哇，真没想到，简直不敢相信", Emotion::Surprise),
        ];
        for (text, want) in cases {
            let p = m.predict(&a, text);
            assert_eq!(p.emotion, want, "{text}: {p:?}");
            assert!(p.confidence > 0.0 && p.confidence <= 1.0);
            let sum: f32 = p.probabilities.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "{sum}");
            assert_eq!(p.probabilities[want.index()], p.confidence);
            assert!(!p.drivers.is_empty(), "{text}: no drivers");
        }
        let empty = m.predict(&a, "  ... ");
        assert_eq!((empty.emotion, empty.confidence), (Emotion::Neutral, 1.0));
        let texts = ["I am so afraid", "我很开心", "", "the train leaves at noon"];
        let batch = m.predict_batch(&a, &texts);
        for (t, p) in texts.iter().zip(&batch) {
            assert_eq!(&m.predict(&a, t), p);
        }
    }

    #[test]
    fn drivers_name_the_governed_words() {
        let a = Analyzer::default();
        let m = EmotionModel::embedded();
        let p = m.predict(&a, "I am so scared, I'm trembling in the dark");
        assert_eq!(p.emotion, Emotion::Fear);
        // Function words are never shown as drivers.
        assert!(
            !p.drivers
                .iter()
                .any(|d| ["the", "in", "i", "i'm", "am"].contains(&d.as_str())),
            "{:?}",
            p.drivers
        );
        assert!(
            p.drivers
                .iter()
                .any(|d| d.contains("scared") || d.contains("trembling")),
            "{:?}",
            p.drivers
        );
        let rule = lexicon_rule(&a.features("I'm not happy, I'm so sad"));
        assert_eq!(rule.emotion, Emotion::Sad);
        assert!(
            rule.drivers.iter().any(|d| d == "very sad"),
            "{:?}",
            rule.drivers
        );
        assert_eq!(lexicon_rule(&a.features("")).emotion, Emotion::Neutral);
    }

    #[test]
    fn cross_validation_beats_sane_floors() {
        let a = Analyzer::default();
        let ev = cross_validate(&a, &builtin_corpus(), 5, 3).unwrap();
        let h = ev.method(Method::Hierarchical).unwrap();
        let f = ev.method(Method::Flat).unwrap();
        let l = ev.method(Method::Lexicon).unwrap();
        // Chance is 1/7 = 14%.
        assert!(h.accuracy > 0.70 && h.macro_f1 > 0.70, "hierarchical {h:?}");
        assert!(f.accuracy > 0.70, "flat {f:?}");
        assert!(l.accuracy > 0.50, "lexicon {l:?}");
        assert!(h.accuracy > l.accuracy);
        let total: u32 = h.confusion.iter().flatten().sum();
        assert_eq!(total as usize, ev.examples);
        assert!(cross_validate(&a, &builtin_corpus()[..3], 5, 1).is_err());
    }

    #[test]
    fn training_rejects_degenerate_input() {
        let a = Analyzer::default();
        assert!(EmotionModel::train(&a, &[], 1).is_err());
        let one = vec![("happy day".to_string(), Emotion::Happy); 3];
        assert!(EmotionModel::train(&a, &one, 1).is_err());
        // Two emotions are enough; absent branches just never win.
        let two = vec![
            ("sunny happy day".to_string(), Emotion::Happy),
            ("sad rainy night".to_string(), Emotion::Sad),
        ];
        let m = EmotionModel::train_with(&a, &two, Method::Flat, 1).unwrap();
        assert_eq!(m.predict(&a, "so happy and sunny").emotion, Emotion::Happy);
    }
}
