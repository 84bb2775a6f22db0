//! The training loop: seeded, checkpointed every epoch (atomically), resumable exactly,
//! keeping the best PublicTest model as an inference-ready safetensors file.

use crate::augment::{fill_batch, MEAN, STD};
use crate::config::TrainConfig;
use crate::net::{channels_last, params_channels_last, TorchNet};
use crate::optim::Optim;
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
use std::path::Path;
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
}

const CHECKPOINT: &str = "checkpoint.safetensors";

pub fn run(requested: &TrainConfig) -> Result<()> {
    std::fs::create_dir_all(&requested.run_dir).with_context(|| {
        format!(
            "cannot create run directory {}",
            requested.run_dir.display()
        )
    })?;
    let config_path = requested.run_dir.join("config.json");
    let ckpt_path = requested.run_dir.join(CHECKPOINT);
    // A run directory with a checkpoint is resumed with the settings it was started with.
    let cfg: TrainConfig = if ckpt_path.exists() && config_path.exists() {
        let stored: TrainConfig = serde_json::from_slice(&std::fs::read(&config_path)?)
            .with_context(|| format!("{}: unreadable", config_path.display()))?;
        eprintln!(
            "resuming {} (settings from its config.json)",
            requested.run_dir.display()
        );
        stored
    } else {
        write_atomic(&config_path, &serde_json::to_vec_pretty(requested)?)?;
        requested.clone()
    };
    tch::set_num_threads(cfg.threads as i32);
    let arch = Arch::by_name(&cfg.arch)?;
    let crop = arch.input;

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
    let train = load(Usage::Training)?;
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

    tch::manual_seed(cfg.seed as i64);
    let vs = VarStore::new(Device::Cpu);
    let dropout = if arch.layers.iter().any(|l| {
        matches!(
            l,
            moodtune_fer::model::LayerSpec::Conv {
                batchnorm: true,
                ..
            }
        )
    }) {
        0.3
    } else {
        0.0
    };
    let net = TorchNet::new(&vs.root(), &arch, dropout);
    params_channels_last(&vs);
    let mut optim = Optim::new(cfg.optimizer, &vs);

    if let (Some(init), false) = (&cfg.init, ckpt_path.exists()) {
        load_weights(init, &vs)?;
        eprintln!("initialised from {}", init.display());
    }
    let mut start_epoch = 0;
    let mut best = 0.0f64;
    if ckpt_path.exists() {
        let (epoch, b) = load_checkpoint(&ckpt_path, &vs, &mut optim)?;
        start_epoch = epoch;
        best = b;
        truncate_metrics(&cfg.run_dir.join("metrics.jsonl"), epoch)?;
        eprintln!(
            "resumed after epoch {epoch} (best PublicTest {:.2}%)",
            best * 100.0
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
    let mut batch_buf = Vec::new();
    for epoch in start_epoch..cfg.epochs {
        // One generator per epoch: resuming at an epoch boundary replays the same stream.
        let epoch_seed = cfg.seed.wrapping_mul(1000).wrapping_add(epoch as u64);
        tch::manual_seed(epoch_seed as i64);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(epoch_seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);

        let bar = ProgressBar::new(per_epoch as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
        let started = Instant::now();
        let (mut seen, mut correct, mut loss_sum, mut lr) = (0usize, 0i64, 0f64, 0f64);
        for b in 0..per_epoch {
            let idx = &order[b * cfg.batch..(b + 1) * cfg.batch];
            fill_batch(
                &train,
                idx,
                crop,
                if cfg.augment { Some(&mut rng) } else { None },
                &mut batch_buf,
            );
            let x = channels_last(&Tensor::from_slice(&batch_buf).view([
                idx.len() as i64,
                1,
                crop as i64,
                crop as i64,
            ]));
            let y = Tensor::from_slice(
                &idx.iter()
                    .map(|&i| train.labels[i].index() as i64)
                    .collect::<Vec<_>>(),
            );
            let logits = net.forward_t(&x, true);
            let loss = logits.cross_entropy_loss::<Tensor>(
                &y,
                None,
                Reduction::Mean,
                -100,
                cfg.label_smoothing,
            );
            optim.zero_grad();
            loss.backward();
            lr = cfg.lr_at(epoch * per_epoch + b, total_steps);
            optim.step(lr, cfg.weight_decay);
            seen += idx.len();
            loss_sum += loss.double_value(&[]) * idx.len() as f64;
            correct += logits
                .argmax(1, false)
                .eq_tensor(&y)
                .sum(Kind::Int64)
                .int64_value(&[]);
            bar.inc(1);
            if b % 10 == 0 {
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    loss_sum / seen as f64,
                    correct as f64 * 100.0 / seen as f64,
                    seen as f64 / started.elapsed().as_secs_f64()
                ));
            }
        }
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_acc) = evaluate(&net, &val, crop);
        let m = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_acc,
            lr,
            seconds,
            images_per_s: seen as f64 / seconds,
        };
        eprintln!(
            "epoch {}/{}: train loss {:.4} acc {:.2}% | PublicTest loss {:.4} acc {:.2}% | {:.0} img/s, {:.0}s",
            m.epoch, cfg.epochs, m.train_loss, m.train_acc * 100.0, val_loss, val_acc * 100.0, m.images_per_s, seconds
        );
        if val_acc > best {
            best = val_acc;
            export(
                &vs,
                &cfg,
                &cfg.run_dir.join("best.safetensors"),
                &[
                    ("val_acc", val_acc.to_string()),
                    ("epoch", m.epoch.to_string()),
                ],
            )?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(cfg.run_dir.join("metrics.jsonl"))?;
        writeln!(f, "{}", serde_json::to_string(&m)?)?;
        save_checkpoint(&ckpt_path, &vs, &optim, epoch + 1, best)?;
    }
    export(&vs, &cfg, &cfg.run_dir.join("final.safetensors"), &[])?;
    eprintln!(
        "done: best PublicTest {:.2}% -> {}",
        best * 100.0,
        cfg.run_dir.join("best.safetensors").display()
    );
    Ok(())
}

/// (loss, accuracy) on centre crops.
fn evaluate(net: &TorchNet, ds: &Dataset, crop: usize) -> (f64, f64) {
    tch::no_grad(|| {
        let (mut loss, mut correct) = (0f64, 0i64);
        let mut buf = Vec::new();
        let idx: Vec<usize> = (0..ds.len()).collect();
        for chunk in idx.chunks(256) {
            fill_batch(ds, chunk, crop, None, &mut buf);
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

fn write_tensors(
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
    for (k, v) in extra {
        meta.insert(k.to_string(), v.clone());
    }
    write_tensors(path, tensors, meta)
}

fn save_checkpoint(
    path: &Path,
    vs: &VarStore,
    optim: &Optim,
    epoch: usize,
    best: f64,
) -> Result<()> {
    let mut tensors = Vec::new();
    for (name, t) in vs.variables() {
        tensors.push((format!("model.{name}"), to_f32(&t)?));
    }
    for (name, t) in &optim.m {
        tensors.push((format!("optim.m.{name}"), to_f32(t)?));
    }
    for (name, t) in &optim.v {
        tensors.push((format!("optim.v.{name}"), to_f32(t)?));
    }
    let meta = HashMap::from([
        ("epoch".to_string(), epoch.to_string()),
        ("best".to_string(), best.to_string()),
        ("step".to_string(), optim.step.to_string()),
    ]);
    write_tensors(path, tensors, meta)
}

fn load_checkpoint(path: &Path, vs: &VarStore, optim: &mut Optim) -> Result<(usize, f64)> {
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
fn copy_tensor(
    st: &safetensors::SafeTensors,
    name: &str,
    dst: &mut Tensor,
    path: &Path,
) -> Result<()> {
    let t = st
        .tensor(name)
        .map_err(|_| anyhow::anyhow!("{}: missing tensor {name}", path.display()))?;
    let v: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
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
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place", path.display()))
}

/// Images/s of full training steps (forward, backward, SGD) on random data.
pub fn bench(arch_name: &str, batch: usize, seconds: f64, threads: usize) -> Result<f64> {
    tch::set_num_threads(threads as i32);
    tch::manual_seed(0);
    let arch = Arch::by_name(arch_name)?;
    let vs = VarStore::new(Device::Cpu);
    let net = TorchNet::new(&vs.root(), &arch, 0.3);
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
