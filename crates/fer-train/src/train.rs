//! The training loop: seeded, checkpointed every epoch (atomically), resumable exactly,
//! keeping the best PublicTest model as an inference-ready safetensors file.

use crate::augment::{fill_batch, Geometry, MEAN, STD};
use crate::config::{TrainConfig, CHECKPOINT_FILE as CHECKPOINT, CONFIG_FILE};
use crate::ema::Ema;
use crate::net::{channels_last, params_channels_last, TorchNet};
use crate::optim::Optim;
use crate::teacher::{soft_cross_entropy, Teacher};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use moodtune_fer::data::{Dataset, LoadOptions, Usage};
use moodtune_fer::model::Arch;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A named tensor as f32 bytes: (name, (shape, little-endian data)).
type NamedBytes = (String, (Vec<usize>, Vec<u8>));
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Reduction, Tensor};

#[derive(Serialize)]
struct EpochMetrics {
    epoch: usize,
    train_loss: f64,
    train_acc: f64,
    val_loss: f64,
    val_acc: f64,
    lr: f64,
    seconds: f64,
    images_per_s: f64,
    /// The weight average's PublicTest figures, when the run keeps one (`--ema`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ema_val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ema_val_acc: Option<f64>,
}

/// The files of a run directory that the loop writes.
struct RunFiles {
    config: PathBuf,
    checkpoint: PathBuf,
    metrics: PathBuf,
    best: PathBuf,
}

impl RunFiles {
    fn in_dir(dir: &Path) -> RunFiles {
        RunFiles {
            config: dir.join(CONFIG_FILE),
            checkpoint: dir.join(CHECKPOINT),
            metrics: dir.join("metrics.jsonl"),
            best: dir.join("best.safetensors"),
        }
    }
}

/// Which of a run's two networks: the trained weights or their moving average.
#[derive(Clone, Copy)]
enum Weights {
    Live,
    Averaged,
}

impl Weights {
    /// The name best.safetensors records in its `weights` field.
    fn name(self) -> &'static str {
        match self {
            Weights::Live => "live",
            Weights::Averaged => "ema",
        }
    }
}

/// One epoch's training figures, before evaluation.
struct TrainedEpoch {
    seen: usize,
    correct: i64,
    loss_sum: f64,
    /// The learning rate of the epoch's last step.
    lr: f64,
    seconds: f64,
}

/// One epoch after evaluation: its metrics line and, when it beat the best so far, the
/// weights that did.
struct EvaluatedEpoch {
    metrics: EpochMetrics,
    new_best: Option<Weights>,
}

/// Everything a run carries from epoch to epoch.
struct Run {
    cfg: TrainConfig,
    files: RunFiles,
    crop: usize,
    /// Preprocessed as the student will see faces in use.
    train: Dataset,
    val: Dataset,
    teacher: Option<Teacher>,
    vs: VarStore,
    net: TorchNet,
    optim: Optim,
    ema: Option<Ema>,
    /// The best PublicTest accuracy so far (checkpointed, so a resume keeps competing
    /// against it).
    best: f64,
    per_epoch: usize,
    total_steps: usize,
    /// Reused by every batch, so the run allocates its input buffer once.
    batch_buf: Vec<f32>,
}

pub fn run(requested: &TrainConfig) -> Result<()> {
    run_until(requested, None)
}

/// [`run`], stopping after `stop_after` epochs as if the process had been killed there
/// (what the resume test needs).
fn run_until(requested: &TrainConfig, stop_after: Option<usize>) -> Result<()> {
    let cfg = settings(requested)?;
    let (mut run, start_epoch) = Run::prepare(cfg)?;
    let epochs = run.cfg.epochs;
    let last_epoch = stop_after.map_or(epochs, |n| n.min(epochs));
    for epoch in start_epoch..last_epoch {
        let trained = run.train_epoch(epoch);
        let evaluated = run.evaluate_epoch(epoch, trained);
        run.checkpoint(&evaluated)?;
    }
    if last_epoch < epochs {
        return Ok(());
    }
    run.export_final()
}

/// The settings the run in `requested.run_dir` trains with: those it was started with
/// when it has a checkpoint to resume, else `requested`, written down for a later resume.
fn settings(requested: &TrainConfig) -> Result<TrainConfig> {
    std::fs::create_dir_all(&requested.run_dir).with_context(|| {
        format!(
            "cannot create run directory {}",
            requested.run_dir.display()
        )
    })?;
    let files = RunFiles::in_dir(&requested.run_dir);
    if let Some(stored) = TrainConfig::resumable(&requested.run_dir)? {
        eprintln!(
            "resuming {} (settings from its config.json)",
            requested.run_dir.display()
        );
        let ignored = stored.ignored_on_resume(requested);
        if !ignored.is_empty() {
            eprintln!(
                "warning: the run keeps its own settings; ignored: {} (start a new run directory to change them)",
                ignored.join(", ")
            );
        }
        // A moved or copied run directory goes on where it is now.
        return Ok(TrainConfig {
            run_dir: requested.run_dir.clone(),
            ..stored
        });
    }
    write_atomic(&files.config, &serde_json::to_vec_pretty(requested)?)?;
    // A run killed before its first checkpoint may have logged its first epoch:
    // a fresh start must not append a second one after it.
    if !files.checkpoint.exists() {
        truncate_metrics(&files.metrics, 0)?;
    }
    Ok(requested.clone())
}

/// The Training and PublicTest faces, preprocessed, and the teacher if the run has one.
fn load_data(cfg: &TrainConfig) -> Result<(Dataset, Dataset, Option<Teacher>)> {
    let t0 = Instant::now();
    let load = |u: Usage| {
        Dataset::load(
            &cfg.data,
            &LoadOptions {
                usages: vec![u],
                skip_bad_rows: false,
            },
        )
    };
    let mut train = load(Usage::Training)?;
    let mut val = load(Usage::PublicTest)?;
    if cfg.max_eval > 0 && val.len() > cfg.max_eval {
        val = val.sample(cfg.max_eval, 0);
    }
    if train.is_empty() || val.is_empty() {
        bail!(
            "{}: need both Training and PublicTest rows",
            cfg.data.display()
        );
    }
    eprintln!(
        "loaded {} training and {} PublicTest faces in {:.1}s",
        train.len(),
        val.len(),
        t0.elapsed().as_secs_f64()
    );

    // A cached teacher labels the raw faces through its own stored preprocessing; the
    // student then trains on what its stored preprocessing will show it in use.
    let teacher = Teacher::load(cfg, &train)?;
    let pipeline = moodtune_fer::Pipeline::parse(&cfg.preprocess)?;
    train.preprocess(&pipeline);
    val.preprocess(&pipeline);
    Ok((train, val, teacher))
}

/// The dropout a network trains with: what the run asks for, else 0.3 for those with
/// BatchNorm and none otherwise.
fn dropout_for(arch: &Arch, asked: Option<f64>) -> f64 {
    if let Some(p) = asked {
        return p;
    }
    let batchnorm = arch.layers.iter().any(|l| {
        matches!(
            l,
            moodtune_fer::model::LayerSpec::Conv {
                batchnorm: true,
                ..
            }
        )
    });
    if batchnorm {
        0.3
    } else {
        0.0
    }
}

impl Run {
    /// Loads the data and builds the network, its optimizer and average, restored from the
    /// checkpoint when there is one; also returns the first epoch left to train.
    fn prepare(cfg: TrainConfig) -> Result<(Run, usize)> {
        let files = RunFiles::in_dir(&cfg.run_dir);
        crate::malloc::keep_freed_memory();
        tch::set_num_threads(cfg.threads as i32);
        let arch = Arch::by_name(&cfg.arch)?;
        let (train, val, teacher) = load_data(&cfg)?;

        // Seeded before the first weight is drawn: the live network, then the average.
        tch::manual_seed(cfg.seed as i64);
        let vs = VarStore::new(Device::Cpu);
        let dropout = dropout_for(&arch, cfg.dropout);
        let net = TorchNet::new(&vs.root(), &arch, dropout).with_bf16(cfg.bf16);
        if cfg.bf16 && !native_bf16() {
            eprintln!(
                "note: this CPU has no AVX512-BF16: bfloat16 training runs emulated, slower than float32"
            );
        }
        params_channels_last(&vs);
        let mut optim = Optim::new(cfg.optimizer, &vs);
        let mut ema = (cfg.ema > 0.0).then(|| Ema::new(&vs, &arch, dropout, cfg.ema));

        // `--init` only seeds a new run: a resumed one has its own weights.
        if let (Some(init), false) = (&cfg.init, files.checkpoint.exists()) {
            load_weights(init, &vs)?;
            if let Some(ema) = ema.as_mut() {
                ema.copy_live();
            }
            eprintln!("initialised from {}", init.display());
        }
        let mut start_epoch = 0;
        let mut best = 0.0f64;
        if files.checkpoint.exists() {
            let (epoch, b) = load_checkpoint(&files.checkpoint, &vs, &mut optim, ema.as_mut())?;
            start_epoch = epoch;
            best = b;
            truncate_metrics(&files.metrics, epoch)?;
            eprintln!(
                "resumed after epoch {epoch} (best PublicTest {:.2}%)",
                best * 100.0
            );
        }

        if cfg.batch == 0 || cfg.batch > train.len() {
            bail!(
                "batch {} does not fit {} training faces",
                cfg.batch,
                train.len()
            );
        }
        let per_epoch = {
            let full = train.len() / cfg.batch;
            if cfg.max_batches > 0 {
                full.min(cfg.max_batches)
            } else {
                full
            }
        };
        let total_steps = per_epoch * cfg.epochs;
        let run = Run {
            files,
            crop: arch.input,
            train,
            val,
            teacher,
            vs,
            net,
            optim,
            ema,
            best,
            per_epoch,
            total_steps,
            batch_buf: Vec::new(),
            cfg,
        };
        Ok((run, start_epoch))
    }

    /// One pass over a shuffled subset of the Training faces, updating the weights (and
    /// their average) after every batch.
    fn train_epoch(&mut self, epoch: usize) -> TrainedEpoch {
        // One generator per epoch: resuming at an epoch boundary replays the same stream.
        let epoch_seed = self.cfg.seed.wrapping_mul(1000).wrapping_add(epoch as u64);
        tch::manual_seed(epoch_seed as i64);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(epoch_seed);
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut rng);

        let bar = ProgressBar::new(self.per_epoch as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, self.cfg.epochs));
        let started = Instant::now();
        let mut done = TrainedEpoch {
            seen: 0,
            correct: 0,
            loss_sum: 0.0,
            lr: 0.0,
            seconds: 0.0,
        };
        let batch = self.cfg.batch;
        for b in 0..self.per_epoch {
            let idx = &order[b * batch..(b + 1) * batch];
            done.lr = self.cfg.lr_at(epoch * self.per_epoch + b, self.total_steps);
            let (loss, correct) = self.train_batch(idx, done.lr, &mut rng);
            done.seen += idx.len();
            done.loss_sum += loss * idx.len() as f64;
            done.correct += correct;
            bar.inc(1);
            if b % 10 == 0 {
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    done.loss_sum / done.seen as f64,
                    done.correct as f64 * 100.0 / done.seen as f64,
                    done.seen as f64 / started.elapsed().as_secs_f64()
                ));
            }
        }
        bar.finish_and_clear();
        done.seconds = started.elapsed().as_secs_f64();
        done
    }

    /// One optimizer step on the Training faces `idx`; returns the batch's mean loss and
    /// how many faces it got right.
    fn train_batch(
        &mut self,
        idx: &[usize],
        lr: f64,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> (f64, i64) {
        let (cfg, crop) = (&self.cfg, self.crop);
        fill_batch(
            &self.train,
            idx,
            crop,
            if cfg.augment { Some(rng) } else { None },
            Geometry {
                affine: cfg.affine,
                shift: cfg.shift,
            },
            &mut self.batch_buf,
        );
        let x = channels_last(&Tensor::from_slice(&self.batch_buf).view([
            idx.len() as i64,
            1,
            crop as i64,
            crop as i64,
        ]));
        let y = Tensor::from_slice(
            &idx.iter()
                .map(|&i| self.train.labels[i].index() as i64)
                .collect::<Vec<_>>(),
        );
        let logits = self.net.forward_t(&x, true);
        let hard = logits.cross_entropy_loss::<Tensor>(
            &y,
            None,
            Reduction::Mean,
            -100,
            cfg.label_smoothing,
        );
        let loss = match &self.teacher {
            Some(teacher) => {
                let soft = teacher.targets(idx, &x);
                let t = cfg.distill_temperature;
                // The T^2 factor keeps the soft gradients' scale independent of T.
                hard * (1.0 - cfg.distill)
                    + soft_cross_entropy(&(&logits / t), &soft) * (cfg.distill * t * t)
            }
            None => hard,
        };
        self.optim.zero_grad();
        loss.backward();
        self.optim.step(lr, cfg.weight_decay);
        if let Some(ema) = self.ema.as_mut() {
            ema.update();
        }
        let loss = loss.double_value(&[]);
        let correct = logits
            .argmax(1, false)
            .eq_tensor(&y)
            .sum(Kind::Int64)
            .int64_value(&[]);
        (loss, correct)
    }

    /// Evaluates the live network, and the average if there is one, on PublicTest; prints
    /// the epoch's line and records whether either beat the best so far.
    fn evaluate_epoch(&mut self, epoch: usize, trained: TrainedEpoch) -> EvaluatedEpoch {
        let (val_loss, val_acc) = evaluate(&self.net, &self.val, self.crop);
        let averaged = self
            .ema
            .as_ref()
            .map(|e| evaluate(&e.net, &self.val, self.crop));
        let m = EpochMetrics {
            epoch: epoch + 1,
            train_loss: trained.loss_sum / trained.seen.max(1) as f64,
            train_acc: trained.correct as f64 / trained.seen.max(1) as f64,
            val_loss,
            val_acc,
            lr: trained.lr,
            seconds: trained.seconds,
            images_per_s: trained.seen as f64 / trained.seconds,
            ema_val_loss: averaged.map(|a| a.0),
            ema_val_acc: averaged.map(|a| a.1),
        };
        let ema_note = averaged.map_or(String::new(), |(l, a)| {
            format!(" | EMA loss {l:.4} acc {:.2}%", a * 100.0)
        });
        eprintln!(
            "epoch {}/{}: train loss {:.4} acc {:.2}% | PublicTest loss {:.4} acc {:.2}%{ema_note} | {:.0} img/s, {:.0}s",
            m.epoch, self.cfg.epochs, m.train_loss, m.train_acc * 100.0, val_loss, val_acc * 100.0, m.images_per_s, m.seconds
        );
        // The better of the live and the averaged weights competes for best.safetensors
        // (the live ones on a tie).
        let (epoch_acc, weights) = match averaged {
            Some((_, a)) if a > val_acc => (a, Weights::Averaged),
            _ => (val_acc, Weights::Live),
        };
        let new_best = if epoch_acc > self.best {
            self.best = epoch_acc;
            Some(weights)
        } else {
            None
        };
        EvaluatedEpoch {
            metrics: m,
            new_best,
        }
    }

    /// Writes an epoch's results: best.safetensors when it improved, its metrics line, then
    /// the checkpoint. The checkpoint comes last, so a run killed in between redoes the
    /// epoch and `truncate_metrics` drops the line it had logged.
    fn checkpoint(&self, evaluated: &EvaluatedEpoch) -> Result<()> {
        let m = &evaluated.metrics;
        if let Some(weights) = evaluated.new_best {
            export(
                self.varstore(weights),
                &self.cfg,
                &self.files.best,
                &[
                    ("val_acc", self.best.to_string()),
                    ("epoch", m.epoch.to_string()),
                    ("weights", weights.name().to_string()),
                ],
            )?;
        }
        let metrics_path = &self.files.metrics;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(metrics_path)
            .and_then(|mut f| writeln!(f, "{}", serde_json::to_string(m)?))
            .with_context(|| format!("cannot append to {}", metrics_path.display()))?;
        save_checkpoint(
            &self.files.checkpoint,
            &self.vs,
            &self.optim,
            self.ema.as_ref(),
            m.epoch,
            self.best,
        )
    }

    fn varstore(&self, weights: Weights) -> &VarStore {
        match (weights, &self.ema) {
            (Weights::Averaged, Some(ema)) => &ema.vs,
            _ => &self.vs,
        }
    }

    /// After the last epoch: the final live weights, and the final average if any.
    fn export_final(&self) -> Result<()> {
        let dir = &self.cfg.run_dir;
        export(&self.vs, &self.cfg, &dir.join("final.safetensors"), &[])?;
        if let Some(ema) = &self.ema {
            export(
                &ema.vs,
                &self.cfg,
                &dir.join("final-ema.safetensors"),
                &[("weights", "ema".to_string())],
            )?;
        }
        eprintln!(
            "done: best PublicTest {:.2}% -> {}",
            self.best * 100.0,
            self.files.best.display()
        );
        Ok(())
    }
}

pub(crate) const CLASSES: usize = moodtune_core::Emotion::COUNT;

/// (loss, accuracy) on centre crops.
fn evaluate(net: &TorchNet, ds: &Dataset, crop: usize) -> (f64, f64) {
    tch::no_grad(|| {
        let (mut loss, mut correct) = (0f64, 0i64);
        let mut buf = Vec::new();
        let idx: Vec<usize> = (0..ds.len()).collect();
        for chunk in idx.chunks(256) {
            fill_batch(ds, chunk, crop, None, Geometry::default(), &mut buf);
            let x = channels_last(&Tensor::from_slice(&buf).view([
                chunk.len() as i64,
                1,
                crop as i64,
                crop as i64,
            ]));
            let y = Tensor::from_slice(
                &chunk
                    .iter()
                    .map(|&i| ds.labels[i].index() as i64)
                    .collect::<Vec<_>>(),
            );
            let logits = net.forward_t(&x, false);
            loss += logits
                .cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, -100, 0.0)
                .double_value(&[]);
            correct += logits
                .argmax(1, false)
                .eq_tensor(&y)
                .sum(Kind::Int64)
                .int64_value(&[]);
        }
        (loss / ds.len() as f64, correct as f64 / ds.len() as f64)
    })
}

fn to_f32(t: &Tensor) -> Result<(Vec<usize>, Vec<u8>)> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let v: Vec<f32> = Vec::<f32>::try_from(t.contiguous().view(-1).to_kind(Kind::Float))?;
    Ok((shape, v.iter().flat_map(|f| f.to_le_bytes()).collect()))
}

pub(crate) fn write_tensors(
    path: &Path,
    tensors: Vec<NamedBytes>,
    meta: HashMap<String, String>,
) -> Result<()> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, (s, b))| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
        .collect::<Result<_>>()?;
    let bytes = safetensors::serialize(views, &Some(meta))?;
    write_atomic(path, &bytes)
}

/// An inference-ready weight file: the model's tensors and how to feed it.
fn export(vs: &VarStore, cfg: &TrainConfig, path: &Path, extra: &[(&str, String)]) -> Result<()> {
    let mut tensors = Vec::new();
    for (name, t) in vs.variables() {
        tensors.push((name, to_f32(&t)?));
    }
    let arch = Arch::by_name(&cfg.arch)?;
    let mut meta: HashMap<String, String> = [
        ("arch", cfg.arch.clone()),
        ("input_size", "48".into()),
        ("crop", arch.input.to_string()),
        ("mean", MEAN.to_string()),
        ("std", STD.to_string()),
        ("preprocess", cfg.preprocess.clone()),
        (
            "classes",
            "Angry,Disgust,Fear,Happy,Sad,Surprise,Neutral".into(),
        ),
        ("trained_by", "moodtune fer train".into()),
        ("seed", cfg.seed.to_string()),
        ("epochs", cfg.epochs.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(teacher) = &cfg.teacher {
        meta.insert("teacher".into(), teacher.display().to_string());
        meta.insert("distill".into(), cfg.distill.to_string());
        meta.insert(
            "distill_temperature".into(),
            cfg.distill_temperature.to_string(),
        );
        meta.insert("online_teacher".into(), cfg.online_teacher.to_string());
    }
    if cfg.ema > 0.0 {
        meta.insert("ema_decay".into(), cfg.ema.to_string());
    }
    for (k, v) in extra {
        meta.insert(k.to_string(), v.clone());
    }
    write_tensors(path, tensors, meta)
}

fn save_checkpoint(
    path: &Path,
    vs: &VarStore,
    optim: &Optim,
    ema: Option<&Ema>,
    epoch: usize,
    best: f64,
) -> Result<()> {
    let mut tensors = Vec::new();
    for (name, t) in vs.variables() {
        tensors.push((format!("model.{name}"), to_f32(&t)?));
    }
    if let Some(ema) = ema {
        for (name, t) in ema.vs.variables() {
            tensors.push((format!("ema.{name}"), to_f32(&t)?));
        }
    }
    for (name, t) in &optim.m {
        tensors.push((format!("optim.m.{name}"), to_f32(t)?));
    }
    for (name, t) in &optim.v {
        tensors.push((format!("optim.v.{name}"), to_f32(t)?));
    }
    let mut meta = HashMap::from([
        ("epoch".to_string(), epoch.to_string()),
        ("best".to_string(), best.to_string()),
        ("step".to_string(), optim.step.to_string()),
    ]);
    if let Some(ema) = ema {
        meta.insert("ema_updates".to_string(), ema.updates.to_string());
    }
    write_tensors(path, tensors, meta)
}

fn load_checkpoint(
    path: &Path,
    vs: &VarStore,
    optim: &mut Optim,
    ema: Option<&mut Ema>,
) -> Result<(usize, f64)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: corrupt checkpoint ({e})", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: corrupt checkpoint ({e})", path.display()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let num = |k: &str| {
        meta.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("{}: no {k}", path.display()))
    };
    let restore = |name: &str, dst: &mut Tensor| copy_tensor(&st, name, dst, path);
    for (name, mut t) in vs.variables() {
        restore(&format!("model.{name}"), &mut t)?;
    }
    for (name, t) in optim.m.iter_mut() {
        restore(&format!("optim.m.{name}"), t)?;
    }
    for (name, t) in optim.v.iter_mut() {
        restore(&format!("optim.v.{name}"), t)?;
    }
    optim.step = num("step")? as i64;
    if let Some(ema) = ema {
        for (name, mut t) in ema.vs.variables() {
            restore(&format!("ema.{name}"), &mut t)?;
        }
        ema.updates = num("ema_updates")? as i64;
    }
    Ok((num("epoch")? as usize, num("best")?))
}

/// Copies an exported model's tensors (same names as the VarStore's) into the network.
fn load_weights(path: &Path, vs: &VarStore) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Validates architecture, names and shapes with the inference loader first.
    moodtune_fer::model::Network::from_safetensors(&bytes, &path.display().to_string())?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (name, mut dst) in vs.variables() {
        copy_tensor(&st, &name, &mut dst, path)?;
    }
    Ok(())
}

/// Copies tensor `name` of a safetensors file into `dst`, checking its shape.
pub(crate) fn copy_tensor(
    st: &safetensors::SafeTensors,
    name: &str,
    dst: &mut Tensor,
    path: &Path,
) -> Result<()> {
    let t = st
        .tensor(name)
        .map_err(|_| anyhow::anyhow!("{}: missing tensor {name}", path.display()))?;
    let v: Vec<f32> = moodtune_fer::model::weights::f32_values(&t)
        .with_context(|| format!("{}: tensor {name}", path.display()))?;
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    if shape != dst.size() {
        bail!(
            "{}: tensor {name} has shape {shape:?}, the network expects {:?}",
            path.display(),
            dst.size()
        );
    }
    tch::no_grad(|| dst.copy_(&Tensor::from_slice(&v).view(shape.as_slice())));
    Ok(())
}

/// Drops metric lines of epochs after the checkpoint (a run killed between the two writes).
fn truncate_metrics(path: &Path, epoch: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["epoch"].as_u64())
                .is_some_and(|e| e as usize <= epoch)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    moodtune_core::write_bytes_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Whether this CPU computes bfloat16 products natively (what makes `bf16` training fast).
pub fn native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Images/s of full training steps (forward, backward, SGD) on random data.
pub fn bench(
    arch_name: &str,
    batch: usize,
    seconds: f64,
    threads: usize,
    bf16: bool,
) -> Result<f64> {
    crate::malloc::keep_freed_memory();
    tch::set_num_threads(threads as i32);
    tch::manual_seed(0);
    let arch = Arch::by_name(arch_name)?;
    let vs = VarStore::new(Device::Cpu);
    let net = TorchNet::new(&vs.root(), &arch, 0.3).with_bf16(bf16);
    params_channels_last(&vs);
    let mut optim = Optim::new(crate::config::Optimizer::Sgd, &vs);
    let s = arch.input as i64;
    let x = channels_last(&Tensor::randn(
        [batch as i64, 1, s, s],
        (Kind::Float, Device::Cpu),
    ));
    let y = Tensor::randint(7, [batch as i64], (Kind::Int64, Device::Cpu));
    let mut step = || {
        let loss = net.forward_t(&x, true).cross_entropy_loss::<Tensor>(
            &y,
            None,
            Reduction::Mean,
            -100,
            0.0,
        );
        optim.zero_grad();
        loss.backward();
        optim.step(0.01, 0.0);
    };
    step();
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < seconds {
        step();
        n += 1;
    }
    Ok((n * batch) as f64 / t.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Optimizer, Schedule};
    use crate::torch_turn;
    use rand::Rng;

    /// A small FER2013-format CSV: bright faces labelled Happy, dark ones Sad, with noise,
    /// 96 Training rows and 32 PublicTest rows.
    fn synthetic_csv(dir: &Path) -> std::path::PathBuf {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut csv = String::from("emotion,pixels,Usage\n");
        for (n, usage) in [(96, "Training"), (32, "PublicTest")] {
            for i in 0..n {
                let (label, base) = if i % 2 == 0 { (3, 170.0) } else { (4, 70.0) };
                let pixels: Vec<String> = (0..48 * 48)
                    .map(|p| {
                        let v: f64 = base + (p % 48) as f64 * 0.5 + rng.gen_range(-40.0..40.0);
                        (v.clamp(0.0, 255.0) as u8).to_string()
                    })
                    .collect();
                csv += &format!("{label},{},{usage}\n", pixels.join(" "));
            }
        }
        let path = dir.join("fer.csv");
        std::fs::write(&path, csv).unwrap();
        path
    }

    fn config(data: &Path, run_dir: &Path, epochs: usize) -> TrainConfig {
        TrainConfig {
            arch: "slimvgg".into(),
            data: data.into(),
            run_dir: run_dir.into(),
            epochs,
            batch: 16,
            lr: 0.02,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            optimizer: Optimizer::Sgd,
            schedule: Schedule::OneCycle,
            augment: true,
            seed: 11,
            // One thread: libtorch's CPU kernels are then bit-for-bit repeatable.
            threads: 1,
            max_batches: 0,
            max_eval: 0,
            preprocess: String::new(),
            init: None,
            teacher: None,
            distill: 0.0,
            distill_temperature: 2.0,
            online_teacher: false,
            ema: 0.0,
            bf16: false,
            affine: false,
            shift: 0,
            dropout: None,
        }
    }

    fn split(data: &Path, usage: Usage) -> Dataset {
        Dataset::load(
            data,
            &LoadOptions {
                usages: vec![usage],
                skip_bad_rows: false,
            },
        )
        .unwrap()
    }

    fn metrics(run_dir: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(run_dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
        let bytes = std::fs::read(path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut out: Vec<(String, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.data().to_vec()))
            .collect();
        out.sort();
        out
    }

    /// Trains 4 epochs with `settings` applied; checks that the loss falls and that the
    /// exported model, run by the pure-Rust engine, tells bright faces from dark. Returns
    /// the temporary folder and the run directory in it.
    fn a_short_run_learns(
        settings: impl FnOnce(TrainConfig) -> TrainConfig,
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_csv(dir.path());
        let run_dir = dir.path().join("run");
        run(&settings(config(&data, &run_dir, 4))).unwrap();
        let m = metrics(&run_dir);
        assert_eq!(m.len(), 4);
        let loss = |e: usize| m[e]["train_loss"].as_f64().unwrap();
        assert!(
            loss(3) < loss(0) * 0.8,
            "train loss {} -> {}",
            loss(0),
            loss(3)
        );
        let clf = moodtune_fer::Classifier::load(&run_dir.join("final.safetensors")).unwrap();
        let val = split(&data, Usage::PublicTest);
        let eval = moodtune_fer::Evaluation::new(&val.labels, &clf.predict_dataset(&val));
        assert!(eval.accuracy > 0.8, "PublicTest accuracy {}", eval.accuracy);
        (dir, run_dir)
    }

    #[test]
    fn a_short_run_lowers_the_loss_and_exports_a_loadable_model() {
        let _turn = torch_turn();
        a_short_run_learns(|cfg| cfg);
    }

    #[test]
    fn a_bfloat16_run_learns_and_exports_float32_weights() {
        let _turn = torch_turn();
        let (_dir, run_dir) = a_short_run_learns(|cfg| TrainConfig { bf16: true, ..cfg });
        let bytes = std::fs::read(run_dir.join("final.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        for (name, t) in st.tensors() {
            assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        }
    }

    #[test]
    fn a_killed_run_resumes_to_the_same_weights() {
        let _turn = torch_turn();
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_csv(dir.path());
        let straight = dir.path().join("straight");
        run(&config(&data, &straight, 2)).unwrap();
        let resumed = dir.path().join("resumed");
        run_until(&config(&data, &resumed, 2), Some(1)).unwrap();
        assert_eq!(metrics(&resumed).len(), 1);
        assert!(!resumed.join("final.safetensors").exists());
        run(&config(&data, &resumed, 2)).unwrap();
        assert_eq!(
            tensors(&straight.join("final.safetensors")),
            tensors(&resumed.join("final.safetensors"))
        );
        let loss = |d: &Path| -> Vec<f64> {
            metrics(d)
                .iter()
                .map(|m| m["train_loss"].as_f64().unwrap())
                .collect()
        };
        assert_eq!(loss(&straight), loss(&resumed));
    }

    #[test]
    fn a_run_with_a_weight_average_evaluates_it_and_resumes_it_exactly() {
        let _turn = torch_turn();
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_csv(dir.path());
        let cfg = |run_dir: &Path| TrainConfig {
            ema: 0.9,
            ..config(&data, run_dir, 2)
        };
        let straight = dir.path().join("straight");
        run(&cfg(&straight)).unwrap();
        let resumed = dir.path().join("resumed");
        run_until(&cfg(&resumed), Some(1)).unwrap();
        run(&cfg(&resumed)).unwrap();
        // The average is checkpointed with its update count: resuming changes nothing.
        assert_eq!(
            tensors(&straight.join("final-ema.safetensors")),
            tensors(&resumed.join("final-ema.safetensors"))
        );
        // It is a different network from the live one, evaluated every epoch.
        assert_ne!(
            tensors(&straight.join("final.safetensors")),
            tensors(&straight.join("final-ema.safetensors"))
        );
        // Both are inference-ready; best.safetensors holds the epoch and the weights
        // (live or averaged) with the highest PublicTest accuracy in the log.
        moodtune_fer::Classifier::load(&straight.join("final-ema.safetensors")).unwrap();
        let mut expected: Option<(f64, u64, &str)> = None;
        for m in metrics(&straight) {
            let live = m["val_acc"].as_f64().unwrap();
            let averaged = m["ema_val_acc"].as_f64().expect("EMA accuracy logged");
            let epoch = m["epoch"].as_u64().unwrap();
            let (acc, which) = if averaged > live {
                (averaged, "ema")
            } else {
                (live, "live")
            };
            if expected.is_none_or(|(best, _, _)| acc > best) {
                expected = Some((acc, epoch, which));
            }
        }
        let bytes = std::fs::read(straight.join("best.safetensors")).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().as_ref().unwrap();
        let stored = (
            meta["val_acc"].parse::<f64>().unwrap(),
            meta["epoch"].parse::<u64>().unwrap(),
            meta["weights"].as_str(),
        );
        assert_eq!(Some(stored), expected);
    }

    #[test]
    fn soft_cross_entropy_against_hand_computed_value() {
        // softmax([0, ln 3]) = [1/4, 3/4]; targets [1/4, 3/4]: the entropy of (1/4, 3/4).
        let logits = Tensor::from_slice(&[0.0f32, 3f32.ln()]).view([1, 2]);
        let targets = Tensor::from_slice(&[0.25f32, 0.75]).view([1, 2]);
        let v = soft_cross_entropy(&logits, &targets).double_value(&[]);
        let expected = -(0.25 * 0.25f64.ln() + 0.75 * 0.75f64.ln());
        assert!((v - expected).abs() < 1e-6, "{v} vs {expected}");
    }

    #[test]
    fn distillation_caches_the_teachers_targets() {
        let _turn = torch_turn();
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_csv(dir.path());
        let teacher_run = dir.path().join("teacher");
        run(&config(&data, &teacher_run, 2)).unwrap();
        let student = dir.path().join("student");
        let mut cfg = config(&data, &student, 1);
        cfg.teacher = Some(teacher_run.join("final.safetensors"));
        cfg.distill = 0.7;
        run(&cfg).unwrap();
        let cache = student.join("teacher.safetensors");
        let bytes = std::fs::read(&cache).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let probs = st.tensor("probs").unwrap();
        assert_eq!(probs.shape(), [96, CLASSES]);
        let values: Vec<f32> = moodtune_fer::model::weights::f32_values(&probs).unwrap();
        for row in values.chunks(CLASSES) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        let exported = std::fs::read(student.join("final.safetensors")).unwrap();
        let meta = moodtune_fer::Classifier::from_bytes(&exported, "student").unwrap();
        assert_eq!(meta.meta().raw["distill"], "0.7");
        assert_eq!(meta.meta().raw["distill_temperature"], "2");
        // The targets are the teacher's softmax at the distillation temperature: softer
        // (higher entropy) than at temperature 1, and recomputed when it changes.
        let entropy = |v: &[f32]| -> f64 {
            v.iter()
                .filter(|&&p| p > 0.0)
                .map(|&p| -(p as f64) * (p as f64).ln())
                .sum()
        };
        let sharp = crate::teacher::cached_targets(
            cfg.teacher.as_ref().unwrap(),
            1.0,
            &split(&data, Usage::Training),
            &student,
        )
        .unwrap();
        assert_eq!(sharp.len(), values.len());
        assert!(entropy(&sharp) < entropy(&values));
        let bytes = std::fs::read(&cache).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["temperature"], "1");
        // A teacher rebuilt in place (here: another network under the same name) is not
        // mistaken for the cached one.
        std::fs::copy(
            teacher_run.join("best.safetensors"),
            cfg.teacher.as_ref().unwrap(),
        )
        .unwrap();
        let file = std::fs::File::options()
            .append(true)
            .open(cfg.teacher.as_ref().unwrap())
            .unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        drop(file);
        crate::teacher::cached_targets(
            cfg.teacher.as_ref().unwrap(),
            1.0,
            &split(&data, Usage::Training),
            &student,
        )
        .unwrap();
        let bytes = std::fs::read(&cache).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let modified = &header.metadata().as_ref().unwrap()["teacher_modified_ns"];
        let now = std::fs::metadata(cfg.teacher.as_ref().unwrap())
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        assert_eq!(modified, &now.to_string());
        // A teacher that does not exist is named in the error.
        let mut bad = config(&data, &dir.path().join("bad"), 1);
        bad.teacher = Some(dir.path().join("missing.safetensors"));
        let err = run(&bad).err().unwrap().to_string();
        assert!(err.contains("missing.safetensors"), "{err}");
    }

    #[test]
    fn an_online_teacher_labels_batches_as_the_inference_engine_does() {
        let _turn = torch_turn();
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_csv(dir.path());
        let teacher_run = dir.path().join("teacher");
        run(&config(&data, &teacher_run, 2)).unwrap();
        // An ensemble of two different networks (after 1 and 2 epochs) covers the
        // members' tensor prefixes and the averaging.
        let read = |p: &Path| (std::fs::read(p).unwrap(), p.display().to_string());
        let after_one = dir.path().join("one");
        run(&config(&data, &after_one, 1)).unwrap();
        let ensemble = dir.path().join("ensemble.safetensors");
        std::fs::write(
            &ensemble,
            // Half precision: a teacher file as `fer ensemble --half` writes it.
            moodtune_fer::model::weights::ensemble_safetensors(
                &[
                    read(&teacher_run.join("final.safetensors")),
                    read(&after_one.join("final.safetensors")),
                ],
                moodtune_fer::model::weights::Precision::Half,
            )
            .unwrap(),
        )
        .unwrap();

        let student = dir.path().join("student");
        let mut cfg = config(&data, &student, 1);
        cfg.teacher = Some(ensemble.clone());
        cfg.online_teacher = true;
        cfg.distill = 0.5;
        // At temperature 1 the targets are exactly what the classifier reports.
        cfg.distill_temperature = 1.0;
        let teacher = crate::teacher::OnlineTeacher::load(&ensemble, &cfg).unwrap();
        let val = split(&data, Usage::PublicTest);
        let idx: Vec<usize> = (0..8).collect();
        let mut buf = Vec::new();
        fill_batch(&val, &idx, 40, None, Geometry::default(), &mut buf);
        let x = channels_last(&Tensor::from_slice(&buf).view([8, 1, 40, 40]));
        let online: Vec<f32> = Vec::try_from(teacher.targets(&x).view(-1)).unwrap();
        let clf = moodtune_fer::Classifier::load(&ensemble).unwrap();
        for (i, row) in online.chunks(CLASSES).enumerate() {
            let expected = clf.probabilities(&moodtune_fer::classifier::fer_image(val.image(i)));
            for (a, b) in row.iter().zip(expected) {
                assert!((a - b).abs() < 1e-4, "face {i}: {row:?} vs {expected:?}");
            }
        }

        // A run with it trains, caches nothing and records how it was taught.
        run(&cfg).unwrap();
        assert!(!student.join("teacher.safetensors").exists());
        let exported = std::fs::read(student.join("final.safetensors")).unwrap();
        let clf = moodtune_fer::Classifier::from_bytes(&exported, "student").unwrap();
        assert_eq!(clf.meta().raw["online_teacher"], "true");

        // A teacher fed differently from the student is refused, naming the file.
        let shifted = dir.path().join("shifted.safetensors");
        let bytes = moodtune_fer::model::weights::with_metadata(
            &std::fs::read(&ensemble).unwrap(),
            "ensemble",
            &[("mean", "0.25".to_string())],
        )
        .unwrap();
        std::fs::write(&shifted, bytes).unwrap();
        let err = crate::teacher::OnlineTeacher::load(&shifted, &cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("shifted.safetensors") && err.contains("mean"),
            "{err}"
        );
    }
}
