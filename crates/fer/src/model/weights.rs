//! Loading a trained network from safetensors. The file's metadata names the
//! architecture and the preprocessing it was trained with, so a weight file is
//! self-describing: `arch`, `crop`, `mean`, `std`, `preprocess`, and optionally
//! `temperature` (calibration) and `tta` (test-time augmentation: `none`, `flip`,
//! `tencrop`).

use super::arch::{Arch, LayerSpec};
use crate::nn::{self, Conv2d, Epilogue, Int8Stack, Linear, Simd, Tensor, TileStack, Winograd};
use crate::preprocess::Pipeline;
use anyhow::{anyhow, bail, Context, Result};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Test-time augmentation: which views of a face are classified and averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tta {
    /// The centre crop only.
    #[default]
    None,
    /// The centre crop and its mirror image.
    Flip,
    /// The centre and four corner crops, each with its mirror image.
    TenCrop,
}

impl Tta {
    /// Crops classified per face.
    pub fn views(self) -> usize {
        match self {
            Tta::None => 1,
            Tta::Flip => 2,
            Tta::TenCrop => 10,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Tta::None => "none",
            Tta::Flip => "flip",
            Tta::TenCrop => "tencrop",
        }
    }
}

impl std::str::FromStr for Tta {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Tta> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" | "false" => Ok(Tta::None),
            "flip" | "on" | "true" => Ok(Tta::Flip),
            "tencrop" | "ten-crop" | "10crop" => Ok(Tta::TenCrop),
            _ => bail!("unknown test-time augmentation {s:?}: expected none, flip or tencrop"),
        }
    }
}

/// How to turn a face crop into network input, read from the weight file.
#[derive(Debug, Clone)]
pub struct ModelMeta {
    pub arch: String,
    pub preprocess: Pipeline,
    /// Side the preprocessed face is resized to before the centre crop (48 for FER2013).
    pub input_size: usize,
    pub crop: usize,
    pub mean: f32,
    pub std: f32,
    /// Logits are divided by this before softmax (temperature scaling); 1 = none.
    pub temperature: f32,
    /// Test-time augmentation the model was calibrated with.
    pub tta: Tta,
    /// An ensemble whose first members answer alone when they are sure (`fer cascade`).
    pub cascade: Option<Cascade>,
    /// Everything in the file's metadata, for `moodtune fer info`.
    pub raw: HashMap<String, String>,
}

enum Layer {
    /// A direct convolution (im2col), and how a batch runs it.
    Conv(Conv2d, BatchForm),
    /// A convolution run by Winograd's minimal filtering (`nn::Winograd`: same outputs
    /// up to rounding, fewer multiplies).
    Winograd(Winograd),
    Pool,
    Dense(Linear, bool),
}

/// The Winograd form a batch runs a direct convolution by, where one image keeps the
/// direct form but a batch gains from fewer multiplies ([`Winograd::for_batches`]):
/// made by the first batch that runs the layer in f32, so passes one image at a time
/// (the live camera) never hold its larger filters.
struct BatchForm {
    /// The side of the maps entering the layer.
    side: usize,
    winograd: OnceLock<Option<Winograd>>,
}

impl BatchForm {
    fn winograd(&self, conv: &Conv2d) -> Option<&Winograd> {
        self.winograd
            .get_or_init(|| Winograd::for_batches(conv, self.side))
            .as_ref()
    }
}

/// Multiply-adds from which a pass on the tiles splits its layers over idle cores:
/// widevgg has 0.18 G, paper 0.70 G (`Arch::cost`).
const TILES_SPLIT_MIN_MACS: usize = 400_000_000;

/// Images a batch runs through the tile stack together, layer by layer: `layer_profile`,
/// 64 images in bf16, slimvgg 0.28-0.29 ms each one at a time, 0.25 in groups of 4,
/// 0.24 in groups of 8 (widevgg 0.60-0.62, 0.57-0.64, 0.56-0.58; Intel Xeon with AMX,
/// release, 2026-12-07).
const TILE_GROUP: usize = 8;

/// A network ready for inference.
pub struct Network {
    pub arch: Arch,
    pub meta: ModelMeta,
    /// What this network's tensor names start with in its file: `""` for a plain model
    /// file, `m{i}.` for member `i` of an ensemble.
    pub tensor_prefix: String,
    layers: Vec<Layer>,
    /// The convolutions and pools in the tiles' form (AMX, bf16), run instead of
    /// `layers`' where products run in bf16.
    tiles: Option<TileStack>,
    /// The convolutions and pools in 8 bits (AVX-512 VNNI or AVX2), run instead of
    /// `layers`' where products run in int8.
    int8: Option<Int8Stack>,
}

impl Network {
    /// Parses safetensors bytes holding one network; `origin` names the source in errors.
    /// An ensemble file is refused here: [`load_members`] reads those.
    pub fn from_safetensors(bytes: &[u8], origin: &str) -> Result<Network> {
        let mut members = load_members(bytes, origin)?;
        if members.len() != 1 {
            bail!(
                "{origin}: holds an ensemble of {} networks where one is expected",
                members.len()
            );
        }
        Ok(members.remove(0))
    }

    /// Logits for one normalised input plane of `crop * crop` values.
    pub fn logits(&self, input: Vec<f32>) -> Vec<f32> {
        self.logits_split(input, 1)
    }

    /// [`Self::logits`] with each layer's products split `ways` ways over the rayon
    /// pool: for one image on idle cores (the live camera's face). Same results.
    pub fn logits_split(&self, input: Vec<f32>, ways: usize) -> Vec<f32> {
        // On the tiles the vgg networks' passes take a third to three quarters of a
        // millisecond: keeping another thread awake for them costs more than it saves
        // (slimvgg in `layer_profile`: 0.33 ms on one thread, 0.42 split); paper's still
        // pays (`fer bench` batch 1: 4.67 ms unsplit, 2.54 split; Intel Xeon with AMX,
        // release, 2026-12-07).
        let worth_it = self.tile_stack().is_none() || self.arch.cost().1 >= TILES_SPLIT_MIN_MACS;
        if ways > 1 && worth_it {
            return nn::keeping_pool_awake(ways, || self.logits_on(input, ways));
        }
        self.logits_on(input, 1)
    }

    /// [`Self::logits_split`] without keeping the pool awake.
    fn logits_on(&self, input: Vec<f32>, ways: usize) -> Vec<f32> {
        let dense = self.first_dense();
        let x = self.features(self.input_plane(input), ways);
        let mut flat = x.data;
        for layer in &self.layers[dense..] {
            if let Layer::Dense(l, relu) = layer {
                flat = l.forward_split(&flat, ways);
                if *relu {
                    nn::relu(&mut flat);
                }
            }
        }
        flat
    }

    /// The tile stack, where the convolutions run on it: products in bf16, and the
    /// network has one.
    fn tile_stack(&self) -> Option<&TileStack> {
        self.tiles.as_ref().filter(|_| Simd::bf16_products())
    }

    /// The 8-bit stack, where the convolutions run on it: products in int8, and the
    /// network has one.
    fn int8_stack(&self) -> Option<&Int8Stack> {
        self.int8.as_ref().filter(|_| Simd::int8_products())
    }

    /// The convolutions and pools on one image: on the tile stack or the 8-bit stack
    /// where one runs, else layer by layer.
    fn features(&self, x: Tensor, ways: usize) -> Tensor {
        if let Some(tiles) = self.tile_stack() {
            return tiles.forward(&x, ways);
        }
        match self.int8_stack() {
            Some(int8) => int8.forward(&x, ways),
            None => self.convolve(&self.layers[..self.first_dense()], x, ways),
        }
    }

    /// Where the dense layers start: convolutions and pools come before.
    fn first_dense(&self) -> usize {
        self.layers
            .iter()
            .position(|l| matches!(l, Layer::Dense(..)))
            .unwrap_or(self.layers.len())
    }

    fn input_plane(&self, data: Vec<f32>) -> Tensor {
        let side = self.meta.crop;
        Tensor {
            c: 1,
            h: side,
            w: side,
            data,
        }
    }

    /// `x` through `layers` (convolutions and pools), each product split `ways` ways.
    fn convolve(&self, layers: &[Layer], mut x: Tensor, ways: usize) -> Tensor {
        let mut i = 0;
        while i < layers.len() {
            match &layers[i] {
                Layer::Conv(c, _) => {
                    x = c.forward_split(&x, ways);
                    nn::relu(&mut x.data);
                }
                Layer::Winograd(c) => {
                    let epilogue = Self::winograd_epilogue(c, layers.get(i + 1));
                    x = c.forward_fused(&x, ways, epilogue);
                    i += usize::from(epilogue.pool);
                }
                Layer::Pool => x = nn::max_pool2(&x),
                Layer::Dense(..) => unreachable!("dense layers come after the convolutions"),
            }
            i += 1;
        }
        x
    }

    /// A Winograd layer's ReLU, and the pool that follows it where its tiles can take
    /// it (the caller then skips the pool).
    fn winograd_epilogue(conv: &Winograd, next: Option<&Layer>) -> Epilogue {
        Epilogue {
            relu: true,
            pool: matches!(next, Some(Layer::Pool)) && conv.pools(),
        }
    }

    /// [`Self::logits`] of every input, on this thread, layer by layer over the batch:
    /// each layer's weights are read once per group of images instead of once per
    /// image (`nn::batch`). Same results up to the order of float sums.
    pub fn logits_batch(&self, inputs: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
        let mut xs: Vec<Tensor> = inputs.into_iter().map(|x| self.input_plane(x)).collect();
        // With bf16 products on AMX tiles the convolutions are fast enough that a whole
        // batch's activations, going through memory layer by layer, cost more than each
        // image's own pass reading the weights again: they run in small groups on the
        // tile stack (its compact bf16 maps stay in cache), image by image where the
        // network has none, and only the dense layers (paper's 75 MB) over the batch
        // (`layer_profile`, docs/RESULTS.md).
        let mut start = 0;
        if let Some(int8) = self.int8_stack() {
            // Each image's 8-bit maps stay in cache through its pass.
            start = self.first_dense();
            xs = xs.iter().map(|x| int8.forward(x, 1)).collect();
        } else if Simd::bf16_products() {
            start = self.first_dense();
            xs = match self.tile_stack() {
                Some(tiles) => xs
                    .chunks(TILE_GROUP)
                    .flat_map(|group| tiles.forward_group(group, 1))
                    .collect(),
                None => xs
                    .into_iter()
                    .map(|x| self.convolve(&self.layers[..start], x, 1))
                    .collect(),
            };
        }
        let mut flat: Option<Vec<Vec<f32>>> = None;
        let layers = &self.layers[start..];
        let mut i = 0;
        while i < layers.len() {
            match &layers[i] {
                Layer::Conv(c, batch) => match batch.winograd(c) {
                    Some(fast) => {
                        let epilogue = Self::winograd_epilogue(fast, layers.get(i + 1));
                        xs = fast.forward_batch(&xs, epilogue);
                        i += usize::from(epilogue.pool);
                    }
                    None => {
                        xs = c.forward_batch(&xs);
                        xs.iter_mut().for_each(|x| nn::relu(&mut x.data));
                    }
                },
                Layer::Winograd(c) => {
                    let epilogue = Self::winograd_epilogue(c, layers.get(i + 1));
                    xs = c.forward_batch(&xs, epilogue);
                    i += usize::from(epilogue.pool);
                }
                Layer::Pool => xs = xs.iter().map(nn::max_pool2).collect(),
                Layer::Dense(l, relu) => {
                    let input = flat
                        .take()
                        .unwrap_or_else(|| xs.drain(..).map(|x| x.data).collect());
                    let mut y = l.forward_batch(&input);
                    if *relu {
                        y.iter_mut().for_each(|v| nn::relu(v));
                    }
                    flat = Some(y);
                }
            }
            i += 1;
        }
        flat.unwrap_or_default()
    }
}

/// An ensemble run in stages: the first stage's members run on every face; each later
/// stage's members only when every stage before it was unsure (its top probability, at
/// its own temperature, below its threshold); past the last stage the remaining
/// members run and the answer is the whole ensemble's, at the file's temperature.
/// Confident faces, most of them, cost a fraction of the passes; the unsure ones, where
/// the ensemble's extra accuracy lies, get every member.
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    pub stages: Vec<Stage>,
}

/// One stage of a [`Cascade`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Members this stage runs on top of the earlier stages' ones.
    pub adds: Vec<usize>,
    /// Calibration temperature of the averaged probabilities of every member run so far.
    pub temperature: f32,
    /// The stage answers when its top probability reaches this.
    pub threshold: f32,
}

impl Cascade {
    /// Metadata keys, in the order [`Cascade::to_metadata`] writes them. Each holds one
    /// entry per stage, separated by `;` (a file of one stage reads as before stages).
    pub const KEYS: [&'static str; 3] = [
        "cascade_members",
        "cascade_temperature",
        "cascade_threshold",
    ];

    /// The first stage's members.
    pub fn first(&self) -> &[usize] {
        &self.stages[0].adds
    }

    /// Every member some stage runs, stage by stage.
    pub fn staged_members(&self) -> Vec<usize> {
        self.stages.iter().flat_map(|s| s.adds.clone()).collect()
    }

    /// The `moodtune fer cascade` options that choose these stages: "--first 1", or
    /// "--first 1 --then 0,2".
    pub fn stage_options(&self) -> String {
        self.stages
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let option = if k == 0 { "--first" } else { "--then" };
                format!("{option} {}", indices(&s.adds))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn to_metadata(&self) -> Vec<(&'static str, String)> {
        let [members, temperature, threshold] = Self::KEYS;
        let each =
            |f: &dyn Fn(&Stage) -> String| self.stages.iter().map(f).collect::<Vec<_>>().join(";");
        vec![
            (members, each(&|s| indices(&s.adds))),
            (temperature, each(&|s| format!("{:.2}", s.temperature))),
            (threshold, each(&|s| format!("{:.2}", s.threshold))),
        ]
    }

    /// The cascade a file's metadata describes, if any, checked against its member count.
    fn from_metadata(
        raw: &HashMap<String, String>,
        members: usize,
        origin: &str,
    ) -> Result<Option<Cascade>> {
        let [members_key, temperature_key, threshold_key] = Self::KEYS;
        if Self::KEYS.iter().all(|k| !raw.contains_key(*k)) {
            return Ok(None);
        }
        let get = |k: &str| {
            raw.get(k)
                .ok_or_else(|| anyhow!("{origin}: metadata has cascade settings but no {k}"))
        };
        let numbers = |k: &str| -> Result<Vec<f32>> {
            let v = get(k)?;
            v.split(';')
                .map(|x| x.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| anyhow!("{origin}: metadata {k}={v:?} is not a number per stage"))
        };
        let listed = get(members_key)?;
        let not_members = || {
            anyhow!(
                "{origin}: metadata {members_key}={listed:?} is not a list of member indices below {members} per stage"
            )
        };
        let groups = listed
            .split(';')
            .map(|group| {
                let mut adds = group
                    .split(',')
                    .map(|i| i.trim().parse::<usize>().ok().filter(|&i| i < members))
                    .collect::<Option<Vec<usize>>>()?;
                adds.sort_unstable();
                adds.dedup();
                Some(adds)
            })
            .collect::<Option<Vec<Vec<usize>>>>()
            .ok_or_else(not_members)?;
        let (temperatures, thresholds) = (numbers(temperature_key)?, numbers(threshold_key)?);
        if temperatures.len() != groups.len() || thresholds.len() != groups.len() {
            bail!(
                "{origin}: metadata {members_key}, {temperature_key} and {threshold_key} name different numbers of stages ({}, {} and {})",
                groups.len(),
                temperatures.len(),
                thresholds.len()
            );
        }
        let mut staged: Vec<usize> = groups.concat();
        staged.sort_unstable();
        staged.dedup();
        if staged.len() != groups.iter().map(Vec::len).sum::<usize>() {
            bail!("{origin}: metadata {members_key}={listed:?} runs a member in two stages");
        }
        if staged.len() >= members {
            bail!(
                "{origin}: metadata {members_key}={listed:?} leaves no member for the last stage"
            );
        }
        let mut stages = Vec::with_capacity(groups.len());
        for ((adds, temperature), threshold) in groups.into_iter().zip(temperatures).zip(thresholds)
        {
            if !(0.05..=20.0).contains(&temperature) {
                bail!("{origin}: metadata {temperature_key} {temperature} is outside 0.05-20");
            }
            if !(threshold > 0.0 && threshold <= 1.0) {
                bail!(
                    "{origin}: metadata {threshold_key} {threshold} is not a probability in (0, 1]"
                );
            }
            stages.push(Stage {
                adds,
                temperature,
                threshold,
            });
        }
        Ok(Some(Cascade { stages }))
    }
}

/// "0,2": member indices as the metadata and `--first` write them.
fn indices(members: &[usize]) -> String {
    members
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Metadata key of an ensemble file: how many networks it holds. Member `i`'s tensors
/// are named `m{i}.<tensor>`; all members share the file's preprocessing and input.
pub const MEMBERS_KEY: &str = "members";

/// Most networks an ensemble file may hold (each is a full pass per face).
pub const MAX_MEMBERS: usize = 16;

/// Largest face side a model may ask the preprocessing to resize to.
const MAX_INPUT_SIDE: usize = 512;

/// Every network in a safetensors file: one for a plain model file, `members` for an
/// ensemble (see [`ensemble_safetensors`]). They share the file's metadata.
pub fn load_members(bytes: &[u8], origin: &str) -> Result<Vec<Network>> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow!("{origin}: not a valid safetensors file ({e}); was it truncated?"))?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow!("{origin}: not a valid safetensors file ({e}); was it truncated?"))?;
    let raw: HashMap<String, String> = header.metadata().clone().unwrap_or_default();
    let (arch, meta) = read_meta(raw, origin)?;
    let prefixes: Vec<String> = match meta.raw.get(MEMBERS_KEY) {
        None => vec![String::new()],
        Some(n) => {
            let n: usize = n
                .parse()
                .ok()
                .filter(|&n| (1..=MAX_MEMBERS).contains(&n))
                .ok_or_else(|| {
                    anyhow!("{origin}: metadata members={n:?} is not a count of 1-{MAX_MEMBERS}")
                })?;
            (0..n).map(|i| format!("m{i}.")).collect()
        }
    };
    let mut meta = meta;
    meta.cascade = Cascade::from_metadata(&meta.raw, prefixes.len(), origin)?;
    prefixes
        .iter()
        .map(|prefix| {
            // An ensemble of different networks names each member's (`m0.arch`, ...);
            // without that key a member has the file's.
            let arch = match meta.raw.get(&member_arch_key(prefix)) {
                None => arch.clone(),
                Some(name) => {
                    let member = Arch::by_name(name)
                        .with_context(|| format!("{origin}: metadata {prefix}arch"))?;
                    if member.input != meta.crop {
                        bail!(
                            "{origin}: member {prefix}arch {name} takes {}x{} input, the file's crop is {}x{}",
                            member.input,
                            member.input,
                            meta.crop,
                            meta.crop
                        );
                    }
                    member
                }
            };
            let mut member_meta = meta.clone();
            member_meta.arch = arch.name.to_string();
            let (layers, tiles, int8) = read_layers(&st, &arch, prefix, origin)?;
            Ok(Network {
                layers,
                tiles,
                int8,
                arch,
                meta: member_meta,
                tensor_prefix: prefix.clone(),
            })
        })
        .collect()
}

/// The metadata key of a member's architecture: `m0.arch` for the tensor prefix `m0.`.
fn member_arch_key(prefix: &str) -> String {
    format!("{prefix}arch")
}

/// The architecture and input description stored in a file's metadata, checked.
fn read_meta(raw: HashMap<String, String>, origin: &str) -> Result<(Arch, ModelMeta)> {
    let get = |k: &str| raw.get(k).map(String::as_str);
    let arch_name = get("arch").ok_or_else(|| anyhow!("{origin}: metadata has no `arch`"))?;
    let arch = Arch::by_name(arch_name).with_context(|| format!("{origin}: metadata"))?;
    let num = |k: &str, default: f32| -> Result<f32> {
        match get(k) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow!("{origin}: metadata {k}={v:?} is not a number")),
        }
    };
    let side = |k: &str, default: usize| -> Result<usize> {
        match get(k) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=MAX_INPUT_SIDE).contains(n))
                .ok_or_else(|| {
                    anyhow!(
                        "{origin}: metadata {k}={v:?} is not a side of 1-{MAX_INPUT_SIDE} pixels"
                    )
                }),
        }
    };
    let meta = ModelMeta {
        arch: arch_name.to_string(),
        preprocess: Pipeline::parse(get("preprocess").unwrap_or(""))
            .with_context(|| format!("{origin}: metadata preprocess"))?,
        input_size: side("input_size", 48)?,
        crop: side("crop", arch.input)?,
        mean: num("mean", 0.0)?,
        std: num("std", 1.0)?,
        temperature: num("temperature", 1.0)?,
        tta: match get("tta") {
            None => Tta::None,
            Some(v) => v
                .parse()
                .with_context(|| format!("{origin}: metadata tta"))?,
        },
        // Needs the member count: read by `load_members`.
        cascade: None,
        raw: raw.clone(),
    };
    if meta.crop != arch.input || meta.crop > meta.input_size {
        bail!(
            "{origin}: inconsistent metadata (crop {}, input {}, arch input {})",
            meta.crop,
            meta.input_size,
            arch.input
        );
    }
    // Out of these ranges every probability would be NaN or one-hot: refused at load
    // rather than silently recommending for the wrong mood.
    if !(meta.mean.is_finite() && meta.std.is_finite() && meta.std > 1e-6) {
        bail!(
            "{origin}: metadata normalisation mean {} std {} is not usable",
            meta.mean,
            meta.std
        );
    }
    if !(0.05..=20.0).contains(&meta.temperature) {
        bail!(
            "{origin}: metadata temperature {} is outside 0.05-20",
            meta.temperature
        );
    }
    Ok((arch, meta))
}

/// The layers of `arch` from the tensors named `{prefix}<layer tensor>`, and its
/// convolutions and pools as stacks where the CPU runs them (AMX tiles, 8 bits).
fn read_layers(
    st: &SafeTensors,
    arch: &Arch,
    prefix: &str,
    origin: &str,
) -> Result<(Vec<Layer>, Option<TileStack>, Option<Int8Stack>)> {
    let tensor = |name: String, shape: &[usize]| -> Result<Vec<f32>> {
        let name = format!("{prefix}{name}");
        let t = st
            .tensor(&name)
            .map_err(|_| anyhow!("{origin}: missing tensor {name}"))?;
        if t.shape() != shape {
            bail!(
                "{origin}: tensor {name} has shape {:?}, {} expects {shape:?}",
                t.shape(),
                arch.name
            );
        }
        let values = f32_values(&t).with_context(|| format!("{origin}: tensor {name}"))?;
        if values.iter().any(|v| !v.is_finite()) {
            bail!("{origin}: tensor {name} holds NaN or infinite values");
        }
        // A variance is never negative; its square root would be NaN.
        if name.ends_with("running_var") && values.iter().any(|&v| v < 0.0) {
            bail!("{origin}: tensor {name} holds negative variances");
        }
        Ok(values)
    };
    let mut layers = Vec::new();
    // The convolutions as loaded, for the stacks (tiles, 8 bits), with whether a pool
    // follows each.
    let mut stack_sources: Vec<(Conv2d, bool)> = Vec::new();
    let stacks_wanted = TileStack::available() || Int8Stack::available();
    let mut stacks_fit = true;
    // The side of the maps entering each layer, for choosing how a convolution runs.
    let mut side = arch.input;
    for spec in &arch.layers {
        layers.push(match *spec {
            LayerSpec::Conv {
                name,
                cin,
                cout,
                k,
                pad,
                batchnorm,
            } => {
                let shape = [cout, cin, k, k];
                let conv = if batchnorm {
                    let mut conv = Conv2d::new(
                        cin,
                        cout,
                        k,
                        pad,
                        tensor(format!("{name}.conv.weight"), &shape)?,
                        vec![0.0; cout],
                    );
                    let bn = |p: &str| tensor(format!("{name}.bn.{p}"), &[cout]);
                    conv.fold_batchnorm(
                        &bn("weight")?,
                        &bn("bias")?,
                        &bn("running_mean")?,
                        &bn("running_var")?,
                        1e-5,
                    );
                    // Finite parts can still fold to infinity (a huge scale over a zero
                    // variance), which would turn every prediction into NaN.
                    if conv.weight.iter().chain(&conv.bias).any(|v| !v.is_finite()) {
                        bail!("{origin}: layer {name}'s batch norm folds into infinite weights");
                    }
                    conv
                } else {
                    Conv2d::new(
                        cin,
                        cout,
                        k,
                        pad,
                        tensor(format!("{name}.weight"), &shape)?,
                        tensor(format!("{name}.bias"), &[cout])?,
                    )
                };
                if stacks_wanted {
                    stack_sources.push((conv.clone(), false));
                }
                let fast = Winograd::from_conv(&conv, side);
                let batch = BatchForm {
                    side,
                    winograd: OnceLock::new(),
                };
                side = side + 2 * pad + 1 - k;
                match fast {
                    Some(fast) => Layer::Winograd(fast),
                    None => Layer::Conv(conv, batch),
                }
            }
            LayerSpec::MaxPool2 => {
                side /= 2;
                // A stack pools after a convolution, once: a pool first or twice in a
                // row leaves the network without one.
                match stack_sources.last_mut() {
                    Some(last) if !last.1 => last.1 = true,
                    _ => stacks_fit = false,
                }
                Layer::Pool
            }
            LayerSpec::Dense {
                name,
                inputs,
                outputs,
                relu,
            } => Layer::Dense(
                Linear {
                    inputs,
                    outputs,
                    weight: tensor(format!("{name}.weight"), &[outputs, inputs])?,
                    bias: tensor(format!("{name}.bias"), &[outputs])?,
                },
                relu,
            ),
        });
    }
    let (tiles, int8) = if stacks_wanted && stacks_fit {
        let sources: Vec<(&Conv2d, bool)> = stack_sources.iter().map(|(c, p)| (c, *p)).collect();
        (TileStack::new(&sources), Int8Stack::new(&sources))
    } else {
        (None, None)
    };
    Ok((layers, tiles, int8))
}

/// How an ensemble file stores its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// As the members store them (F32): the file is the sum of the members' sizes.
    #[default]
    Full,
    /// IEEE half precision: half the size, so more members fit under the repository's
    /// 20 MiB per-file limit. Inference still computes in f32.
    Half,
}

/// One ensemble file from several model files of the same input (crop, preprocessing,
/// normalisation), of one architecture or several: the members' tensors under `m{i}.`,
/// each member's architecture as `m{i}.arch`, the first file's metadata with `members`
/// set and the temperature reset to 1 (an ensemble is calibrated as a whole:
/// `fer calibrate`).
pub fn ensemble_safetensors(files: &[(Vec<u8>, String)], precision: Precision) -> Result<Vec<u8>> {
    if files.len() < 2 {
        bail!("an ensemble needs at least two model files");
    }
    let first = Network::from_safetensors(&files[0].0, &files[0].1)?.meta;
    let mut archs = Vec::with_capacity(files.len());
    let parsed: Vec<SafeTensors> = files
        .iter()
        .map(|(bytes, origin)| {
            let meta = Network::from_safetensors(bytes, origin)?.meta;
            archs.push(meta.arch.clone());
            let same = meta.input_size == first.input_size
                && meta.crop == first.crop
                && meta.preprocess.to_text() == first.preprocess.to_text()
                && (meta.mean - first.mean).abs() < 1e-4
                && (meta.std - first.std).abs() < 1e-4;
            if !same {
                bail!(
                    "{origin}: {} on [{}] with mean {} std {} does not match {}: {} on [{}] with mean {} std {}",
                    meta.arch,
                    meta.preprocess.to_text(),
                    meta.mean,
                    meta.std,
                    files[0].1,
                    first.arch,
                    first.preprocess.to_text(),
                    first.mean,
                    first.std
                );
            }
            SafeTensors::deserialize(bytes).map_err(|e| anyhow!("{origin}: {e}"))
        })
        .collect::<Result<_>>()?;
    // (name, dtype, shape, little-endian bytes) of every member tensor, converted first
    // so the views below can borrow them.
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for ((st, (_, origin)), i) in parsed.iter().zip(files).zip(0..) {
        for (name, view) in st.tensors() {
            let name = format!("m{i}.{name}");
            owned.push(match precision {
                Precision::Full => (
                    name,
                    view.dtype(),
                    view.shape().to_vec(),
                    view.data().to_vec(),
                ),
                Precision::Half => {
                    let values =
                        f32_values(&view).with_context(|| format!("{origin}: tensor {name}"))?;
                    let halves: Vec<half::f16> =
                        values.iter().map(|&v| half::f16::from_f32(v)).collect();
                    // Past f16's range (65504) a value would load as infinite and be refused.
                    if let Some(v) = values.iter().zip(&halves).find(|(_, h)| !h.is_finite()) {
                        bail!(
                            "{origin}: tensor {name} holds {}, outside half precision's range",
                            v.0
                        );
                    }
                    let bytes = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
                    (name, safetensors::Dtype::F16, view.shape().to_vec(), bytes)
                }
            });
        }
    }
    let tensors = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| anyhow!("{name}: {e}"))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut meta = first.raw.clone();
    // A cascade names members of the file it came from, not of this one.
    for k in Cascade::KEYS {
        meta.remove(k);
    }
    meta.insert(MEMBERS_KEY.to_string(), files.len().to_string());
    meta.insert("temperature".to_string(), "1".to_string());
    for (i, arch) in archs.into_iter().enumerate() {
        meta.insert(member_arch_key(&format!("m{i}.")), arch);
    }
    let bytes = safetensors::serialize(tensors, &Some(meta))
        .map_err(|e| anyhow!("cannot write the ensemble: {e}"))?;
    load_members(&bytes, "ensemble")?;
    Ok(bytes)
}

/// The values of a floating-point tensor as f32. Model files store F32; half-precision
/// ensembles ([`Precision::Half`]) store F16; BF16 is read too. Little-endian, as
/// safetensors stores them.
pub fn f32_values(t: &safetensors::tensor::TensorView) -> Result<Vec<f32>> {
    use safetensors::Dtype;
    let data = t.data();
    Ok(match t.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => bail!("is {other:?}, expected F32, F16 or BF16"),
    })
}

/// A copy of a safetensors file with metadata entries set (e.g. `temperature`, `tta`),
/// tensors untouched.
pub fn with_metadata(bytes: &[u8], origin: &str, set: &[(&str, String)]) -> Result<Vec<u8>> {
    let (n, _) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow!("{origin}: not a valid safetensors file ({e})"))?;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n])?;
    let meta = header
        .as_object_mut()
        .ok_or_else(|| anyhow!("{origin}: header is not an object"))?
        .entry("__metadata__")
        .or_insert_with(|| serde_json::json!({}));
    for (k, v) in set {
        meta[*k] = serde_json::Value::String(v.clone());
    }
    let mut h = serde_json::to_vec(&header)?;
    // The data section must start 8-byte aligned; pad the header with spaces.
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[8 + n..]);
    load_members(&out, origin)?;
    Ok(out)
}

/// A safetensors file for `arch` with seeded pseudo-random weights (He-scaled) and
/// identity BatchNorm: for benchmarks and tests that need a network of the right shape.
pub fn random_safetensors(arch: &Arch, seed: u64) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, f: &mut dyn FnMut() -> f32| {
        let n: usize = shape.iter().product();
        let bytes = (0..n).flat_map(|_| f().to_le_bytes()).collect();
        tensors.push((name, shape, bytes));
    };
    for spec in &arch.layers {
        match *spec {
            LayerSpec::Conv {
                name,
                cin,
                cout,
                k,
                batchnorm,
                ..
            } => {
                let scale = (2.0 / (cin * k * k) as f32).sqrt();
                let w = if batchnorm {
                    format!("{name}.conv.weight")
                } else {
                    format!("{name}.weight")
                };
                push(w, vec![cout, cin, k, k], &mut || {
                    rng.gen_range(-scale..scale)
                });
                if batchnorm {
                    for (p, v) in [
                        ("weight", 1.0),
                        ("bias", 0.0),
                        ("running_mean", 0.0),
                        ("running_var", 1.0),
                    ] {
                        push(format!("{name}.bn.{p}"), vec![cout], &mut || v);
                    }
                } else {
                    push(format!("{name}.bias"), vec![cout], &mut || 0.0);
                }
            }
            LayerSpec::MaxPool2 => {}
            LayerSpec::Dense {
                name,
                inputs,
                outputs,
                ..
            } => {
                let scale = (2.0 / inputs as f32).sqrt();
                push(format!("{name}.weight"), vec![outputs, inputs], &mut || {
                    rng.gen_range(-scale..scale)
                });
                push(format!("{name}.bias"), vec![outputs], &mut || 0.0);
            }
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("consistent shape"),
            )
        })
        .collect();
    let meta = HashMap::from([
        ("arch".to_string(), arch.name.to_string()),
        ("crop".to_string(), arch.input.to_string()),
        ("input_size".to_string(), arch.input.max(48).to_string()),
    ]);
    safetensors::serialize(views, &Some(meta)).expect("serialisable tensors")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_architecture_runs_from_random_weights() {
        for name in Arch::NAMES {
            let arch = Arch::by_name(name).unwrap();
            let net = Network::from_safetensors(&random_safetensors(&arch, 1), name).unwrap();
            let logits = net.logits(vec![0.5; arch.input * arch.input]);
            assert_eq!(logits.len(), 7, "{name}");
            assert!(logits.iter().all(|v| v.is_finite()));
        }
    }

    /// Each architecture's stacks, as loaded (the tile stack where the CPU has AMX, the
    /// 8-bit one where it has AVX2), compute its convolutions and pools as the layers do,
    /// up to bf16 or 8-bit rounding: the stacks' layers, pools and borders follow the
    /// registry. paper-table's 7x7 kernels get none.
    #[test]
    fn the_stacks_follow_the_layers_of_every_architecture() {
        let (tiles_here, int8_here) = (TileStack::available(), Int8Stack::available());
        if !tiles_here {
            eprintln!("this CPU (or kernel) gives no AMX tiles: no network has a tile stack here");
        }
        if !int8_here {
            eprintln!(
                "no AVX2 and FMA here (or MOODTUNE_SIMD below AVX2): no network has an 8-bit stack"
            );
        }
        for name in Arch::NAMES {
            let arch = Arch::by_name(name).unwrap();
            let net = Network::from_safetensors(&random_safetensors(&arch, 5), name).unwrap();
            let side = net.meta.crop;
            let input: Vec<f32> = (0..side * side)
                .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
                .collect();
            let want = net.convolve(
                &net.layers[..net.first_dense()],
                net.input_plane(input.clone()),
                1,
            );
            let plane = net.input_plane(input);
            let stacks = [
                (
                    "tile",
                    tiles_here,
                    net.tiles.as_ref().map(|t| t.forward(&plane, 1)),
                ),
                (
                    "8-bit",
                    int8_here,
                    net.int8.as_ref().map(|s| s.forward(&plane, 1)),
                ),
            ];
            for (stack, here, got) in stacks {
                let Some(got) = got else {
                    assert!(
                        !here || name == "paper-table",
                        "{name} has no {stack} stack"
                    );
                    continue;
                };
                assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w), "{name}");
                let scale = want.data.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "{name}: features are not all zero");
                for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
                    assert!(
                        (g - w).abs() <= 0.05 * scale,
                        "{name}'s {stack} stack, value {i}: {g} vs {w} (largest {scale})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_batch_gives_each_image_its_own_logits() {
        for name in Arch::NAMES {
            let arch = Arch::by_name(name).unwrap();
            let net = Network::from_safetensors(&random_safetensors(&arch, 2), name).unwrap();
            let side = net.meta.crop;
            // Batches of 1, of a few (one group) and of many (several groups on the
            // wide layers); each image different.
            for batch in [1, 3, 40] {
                let inputs: Vec<Vec<f32>> = (0..batch)
                    .map(|b| {
                        (0..side * side)
                            .map(|i| ((i * 7 + b * 13) % 23) as f32 / 23.0 - 0.5)
                            .collect()
                    })
                    .collect();
                let batched = net.logits_batch(inputs.clone());
                assert_eq!(batched.len(), batch, "{name}");
                for (input, got) in inputs.into_iter().zip(&batched) {
                    let alone = net.logits(input);
                    let scale = alone.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                    for (a, b) in alone.iter().zip(got) {
                        assert!(
                            (a - b).abs() <= 1e-4 * scale,
                            "{name} b{batch}: {alone:?} vs {got:?}"
                        );
                    }
                }
            }
            assert!(net.logits_batch(Vec::new()).is_empty());
        }
    }

    #[test]
    fn an_ensemble_file_holds_each_member_unchanged() {
        let slim = Arch::by_name("slimvgg").unwrap();
        let files: Vec<(Vec<u8>, String)> = (1..=3)
            .map(|seed| {
                (
                    random_safetensors(&slim, seed),
                    format!("s{seed}.safetensors"),
                )
            })
            .collect();
        let bytes = ensemble_safetensors(&files, Precision::Full).unwrap();
        let members = load_members(&bytes, "ens").unwrap();
        assert_eq!(members.len(), 3);
        let input: Vec<f32> = (0..40 * 40).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect();
        for (member, (file, origin)) in members.iter().zip(&files) {
            let alone = Network::from_safetensors(file, origin).unwrap();
            assert_eq!(member.logits(input.clone()), alone.logits(input.clone()));
        }
        // Members of one file differ (different seeds), so averaging means something.
        assert_ne!(
            members[0].logits(input.clone()),
            members[1].logits(input.clone())
        );
        assert_eq!(members[0].meta.raw[MEMBERS_KEY], "3");

        let err = Network::from_safetensors(&bytes, "ens.safetensors")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("ensemble of 3"), "{err}");
        // Calibration can rewrite an ensemble's metadata.
        with_metadata(&bytes, "ens", &[("temperature", "0.9".into())]).unwrap();
    }

    #[test]
    fn a_half_precision_ensemble_is_half_the_size_and_agrees_with_full() {
        let slim = Arch::by_name("slimvgg").unwrap();
        let files: Vec<(Vec<u8>, String)> = (1..=2)
            .map(|seed| (random_safetensors(&slim, seed), format!("s{seed}")))
            .collect();
        let full = ensemble_safetensors(&files, Precision::Full).unwrap();
        let half = ensemble_safetensors(&files, Precision::Half).unwrap();
        let ratio = half.len() as f64 / full.len() as f64;
        assert!((0.49..0.52).contains(&ratio), "{ratio}");
        let st = SafeTensors::deserialize(&half).unwrap();
        assert_eq!(
            st.tensor("m1.fc2.weight").unwrap().dtype(),
            safetensors::Dtype::F16
        );
        let input: Vec<f32> = (0..40 * 40).map(|i| (i % 13) as f32 / 13.0 - 0.5).collect();
        let (full, half) = (
            load_members(&full, "full").unwrap(),
            load_members(&half, "half").unwrap(),
        );
        for (f, h) in full.iter().zip(&half) {
            let (f, h) = (f.logits(input.clone()), h.logits(input.clone()));
            let scale = f.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in f.iter().zip(&h) {
                assert!((a - b).abs() < 0.01 * scale, "{f:?} vs {h:?}");
            }
        }

        // A value past f16's range is refused, naming the file and tensor.
        let mut big = random_safetensors(&slim, 3);
        let (n, _) = SafeTensors::read_metadata(&big).unwrap();
        let st = SafeTensors::deserialize(&big).unwrap();
        let bias = st.tensor("fc2.bias").unwrap();
        let offset = bias.data().as_ptr() as usize - big.as_ptr() as usize;
        assert!(offset > 8 + n);
        big[offset..offset + 4].copy_from_slice(&1e6f32.to_le_bytes());
        let err = ensemble_safetensors(&[files[0].clone(), (big, "big".into())], Precision::Half)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("big: tensor m1.fc2.bias holds 1000000"),
            "{err}"
        );

        // Integer or f64 tensors are refused by name, not reinterpreted.
        let good = random_safetensors(&slim, 4);
        let st = SafeTensors::deserialize(&good).unwrap();
        let f64_bias = vec![0u8; 7 * 8];
        let tensors: Vec<_> = st
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                if name == "fc2.bias" {
                    let v = safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F64,
                        vec![7],
                        &f64_bias,
                    );
                    (name, v.unwrap())
                } else {
                    (name, view)
                }
            })
            .collect();
        let (_, header) = SafeTensors::read_metadata(&good).unwrap();
        let bytes = safetensors::serialize(tensors, header.metadata()).unwrap();
        let err = Network::from_safetensors(&bytes, "f64.safetensors")
            .err()
            .unwrap();
        let err = format!("{err:#}");
        assert!(
            err.contains("f64.safetensors: tensor fc2.bias") && err.contains("F64"),
            "{err}"
        );
    }

    #[test]
    fn an_ensemble_may_mix_architectures_of_one_input() {
        let slim = Arch::by_name("slimvgg").unwrap();
        let wide = Arch::by_name("widevgg").unwrap();
        let files = [
            (random_safetensors(&slim, 1), "slim".to_string()),
            (random_safetensors(&wide, 2), "wide".to_string()),
        ];
        let bytes = ensemble_safetensors(&files, Precision::Full).unwrap();
        let members = load_members(&bytes, "mixed").unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(
            (members[0].arch.name, members[1].arch.name),
            ("slimvgg", "widevgg")
        );
        assert_eq!(members[1].meta.arch, "widevgg");
        // Each member computes what its own file does.
        let face: Vec<f32> = (0..40 * 40).map(|i| (i % 37) as f32 / 37.0 - 0.5).collect();
        for (member, (file, origin)) in members.iter().zip(&files) {
            let alone = Network::from_safetensors(file, origin).unwrap();
            assert_eq!(member.logits(face.clone()), alone.logits(face.clone()));
        }
        // A member whose architecture takes another input is refused, naming the key.
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        meta.insert("m1.arch".into(), "paper".into());
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let bad = safetensors::serialize(st.tensors(), &Some(meta)).unwrap();
        let err = load_members(&bad, "bad.safetensors")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("bad.safetensors: member m1.arch paper"),
            "{err}"
        );
    }

    #[test]
    fn an_ensemble_needs_matching_models() {
        let slim = random_safetensors(&Arch::by_name("slimvgg").unwrap(), 1);
        let paper = random_safetensors(&Arch::by_name("paper").unwrap(), 1);
        let err = ensemble_safetensors(
            &[(slim.clone(), "a".into()), (paper, "b".into())],
            Precision::Full,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.starts_with("b: paper") && err.contains("does not match a: slimvgg"),
            "{err}"
        );
        let err = ensemble_safetensors(&[(slim.clone(), "a".into())], Precision::Full)
            .err()
            .unwrap();
        assert!(err.to_string().contains("at least two"), "{err}");
        let half = slim[..slim.len() / 2].to_vec();
        let err = ensemble_safetensors(
            &[(slim, "a".into()), (half, "half".into())],
            Precision::Full,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("half") && err.contains("truncated"), "{err}");
    }

    /// Finite values can still fold into infinite weights: a huge batch-norm scale over
    /// a zero variance. Such a file is refused, not run into NaN probabilities.
    #[test]
    fn batch_norm_that_folds_to_infinity_is_refused() {
        let arch = Arch::by_name("slimvgg").unwrap();
        let mut bytes = random_safetensors(&arch, 1);
        let (n, _) = SafeTensors::read_metadata(&bytes).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let scale = header
            .as_object()
            .unwrap()
            .keys()
            .find(|k| k.ends_with(".bn.weight"))
            .unwrap()
            .clone();
        let layer = scale.trim_end_matches(".bn.weight").to_string();
        for (tensor, value) in [(scale, 1e38f32), (format!("{layer}.bn.running_var"), 0.0)] {
            let at = |i: usize| header[&tensor]["data_offsets"][i].as_u64().unwrap() as usize;
            for x in bytes[8 + n + at(0)..8 + n + at(1)].chunks_mut(4) {
                x.copy_from_slice(&value.to_le_bytes());
            }
        }
        let err = load_members(&bytes, "w.safetensors")
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("w.safetensors") && err.contains(&layer) && err.contains("infinite"),
            "{err}"
        );
    }

    /// A weight file is input: metadata and values that would give NaN probabilities,
    /// a zero-size resize or a huge allocation are refused when it loads.
    #[test]
    fn hostile_metadata_and_values_are_refused_at_load() {
        let arch = Arch::by_name("slimvgg").unwrap();
        let good = random_safetensors(&arch, 1);
        let refused = |set: &[(&str, &str)]| -> String {
            let set: Vec<(&str, String)> = set.iter().map(|(k, v)| (*k, v.to_string())).collect();
            // Rewriting metadata checks the result too.
            let bytes = match with_metadata(&good, "w.safetensors", &set) {
                Err(e) => return e.to_string(),
                Ok(b) => b,
            };
            load_members(&bytes, "w.safetensors")
                .err()
                .unwrap_or_else(|| panic!("{set:?} was accepted"))
                .to_string()
        };
        for (set, says) in [
            (&[("input_size", "4294967336")][..], "input_size"),
            (&[("input_size", "100000")][..], "input_size"),
            (&[("crop", "0")][..], "crop"),
            (&[("members", "1000000000000")][..], "members"),
            (&[("std", "NaN")][..], "std"),
            (&[("std", "0")][..], "std"),
            (&[("mean", "inf")][..], "mean"),
            (&[("temperature", "1e-40")][..], "temperature"),
            (&[("temperature", "NaN")][..], "temperature"),
        ] {
            let err = refused(set);
            assert!(
                err.contains("w.safetensors") && err.contains(says),
                "{set:?}: {err}"
            );
        }
        // Sane values still load.
        let ok = with_metadata(&good, "w", &[("temperature", "0.8".into())]).unwrap();
        load_members(&ok, "w").unwrap();

        // Cascade settings are checked against the members the file holds.
        let two = ensemble_safetensors(
            &[
                (good.clone(), "a".into()),
                (random_safetensors(&arch, 2), "b".into()),
            ],
            Precision::Full,
        )
        .unwrap();
        /// `file` with cascade settings (members, temperature, threshold), named `name`.
        fn with_cascade(file: &[u8], name: &str, settings: (&str, &str, &str)) -> Result<Vec<u8>> {
            let set = [
                ("cascade_members", settings.0.to_string()),
                ("cascade_temperature", settings.1.to_string()),
                ("cascade_threshold", settings.2.to_string()),
            ];
            with_metadata(file, name, &set)
        }
        /// Every setting refused says which file and key.
        fn refused_cascades(file: &[u8], name: &str, cases: &[((&str, &str, &str), &str)]) {
            for (settings, says) in cases {
                let err = with_cascade(file, name, *settings).unwrap_err().to_string();
                assert!(
                    err.contains(name) && err.contains(says),
                    "{settings:?}: {err}"
                );
            }
        }
        with_cascade(&two, "c.safetensors", ("1", "0.9", "0.7")).unwrap();
        refused_cascades(
            &two,
            "c.safetensors",
            &[
                (("0,1", "0.9", "0.7"), "leaves no member"),
                (("2", "0.9", "0.7"), "cascade_members"),
                (("first", "0.9", "0.7"), "cascade_members"),
                (("0", "0", "0.7"), "cascade_temperature"),
                (("0", "0.9", "1.5"), "cascade_threshold"),
                (("0", "0.9", "NaN"), "cascade_threshold"),
            ],
        );
        // Stages are separated by ';', one entry per stage in each key.
        let three = ensemble_safetensors(
            &[
                (good.clone(), "a".into()),
                (random_safetensors(&arch, 2), "b".into()),
                (random_safetensors(&arch, 3), "c".into()),
            ],
            Precision::Full,
        )
        .unwrap();
        let bytes = with_cascade(&three, "s.safetensors", ("2;0", "0.9;0.8", "0.7;0.55")).unwrap();
        let meta = &load_members(&bytes, "s").unwrap()[0].meta;
        let cascade = meta.cascade.as_ref().unwrap();
        assert_eq!(cascade.stages.len(), 2);
        assert_eq!(
            (
                cascade.first(),
                cascade.staged_members(),
                cascade.stage_options()
            ),
            (&[2][..], vec![2, 0], "--first 2 --then 0".to_string())
        );
        assert_eq!(
            (cascade.stages[1].temperature, cascade.stages[1].threshold),
            (0.8, 0.55)
        );
        // What it writes, it reads back.
        let again = with_metadata(&three, "s", &cascade.to_metadata()).unwrap();
        assert_eq!(
            load_members(&again, "s").unwrap()[0].meta.cascade.as_ref(),
            Some(cascade)
        );
        refused_cascades(
            &three,
            "s.safetensors",
            &[
                (("2;2", "0.9;0.8", "0.7;0.6"), "two stages"),
                (("2;0,1", "0.9;0.8", "0.7;0.6"), "leaves no member"),
                (("2;0", "0.9", "0.7;0.6"), "numbers of stages"),
                (("2;", "0.9;0.8", "0.7;0.6"), "cascade_members"),
                (("2;0", "0.9;0.8", "0.7;x"), "cascade_threshold"),
            ],
        );
        let partial = with_metadata(
            &two,
            "c.safetensors",
            &[("cascade_threshold", "0.5".into())],
        );
        assert!(partial
            .unwrap_err()
            .to_string()
            .contains("no cascade_members"));

        // A NaN weight: the first 4 bytes of the data section.
        let header = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let mut nan = good.clone();
        nan[8 + header..8 + header + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let err = load_members(&nan, "nan.safetensors")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("nan.safetensors") && err.contains("NaN"),
            "{err}"
        );
    }

    #[test]
    fn wrong_shapes_and_missing_tensors_are_named() {
        let slim = random_safetensors(&Arch::by_name("slimvgg").unwrap(), 1);
        // slimvgg tensors under a paper header: the first paper tensor is missing.
        let (n, _) = SafeTensors::read_metadata(&slim).unwrap();
        let mut header: serde_json::Value = serde_json::from_slice(&slim[8..8 + n]).unwrap();
        header["__metadata__"]["arch"] = "paper".into();
        header["__metadata__"]["crop"] = "48".into();
        let h = serde_json::to_vec(&header).unwrap();
        let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&h);
        bytes.extend_from_slice(&slim[8 + n..]);
        let err = Network::from_safetensors(&bytes, "x.safetensors")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("x.safetensors") && err.contains("missing tensor conv1.weight"),
            "{err}"
        );
    }
}
