//! `fer bench`: timing loops, the CPU a figure was measured on, the PyTorch reference
//! run, and the latency of architectures and model files; [`table`] prints them.

pub mod live;
pub mod table;

use moodtune_core::Emotion;
use moodtune_fer::data::Dataset;
use moodtune_fer::model::{weights::random_safetensors, Arch, Tta};
use moodtune_fer::nn::Simd;
use moodtune_fer::Classifier;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn median_ms(mut f: impl FnMut(), seconds: f64) -> f64 {
    f();
    let mut times = vec![];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds || times.len() < 5 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// The CPU's name (and family, as virtual machines often shorten the name), its vector
/// extensions that matter to the engine, and the cores this process may use.
pub fn cpu_summary() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
    };
    let mut name = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    if let (Some(family), Some(model)) = (field("cpu family"), field("model")) {
        name = format!("{name} (family {family}, model {model})");
    }
    #[cfg(target_arch = "x86_64")]
    let vector = match Simd::detected() {
        Simd::Avx512 => "AVX2+FMA, AVX-512",
        Simd::Avx2 => "AVX2+FMA",
        Simd::Baseline => "no AVX2",
    }
    .to_string();
    #[cfg(not(target_arch = "x86_64"))]
    let vector = "vector extensions not checked".to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = Simd::active().name();
    let products = Simd::products_name();
    format!(
        "{name}; {vector}; {cores} cores available; engine loops at {engine} (MOODTUNE_SIMD); \
         products in {products} (MOODTUNE_PRECISION)"
    )
}

/// A synthetic 48x48 face and a batch of 64 copies: inputs for latency figures.
pub fn bench_faces() -> (image::GrayImage, Dataset) {
    let face =
        image::GrayImage::from_fn(48, 48, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]));
    let batch = Dataset {
        images: face.as_raw().repeat(64),
        labels: vec![Emotion::Neutral; 64],
        skipped: vec![],
    };
    (face, batch)
}

/// Mean milliseconds per face of each full round over `faces`, sorted: at least three
/// rounds, and as many as fit in `seconds`. Their median stands up to the bursts of load
/// a shared machine has, which a single mean over the whole time does not.
pub fn round_means_ms(
    faces: &[image::GrayImage],
    seconds: f64,
    mut f: impl FnMut(&image::GrayImage),
) -> Vec<f64> {
    let start = Instant::now();
    let mut rounds = Vec::new();
    while rounds.len() < 3 || start.elapsed().as_secs_f64() < seconds {
        let round = Instant::now();
        for face in faces {
            f(face);
        }
        rounds.push(round.elapsed().as_secs_f64() * 1000.0 / faces.len().max(1) as f64);
    }
    rounds.sort_by(|a, b| a.total_cmp(b));
    rounds
}

/// Where `MOODTUNE_SIMD` holds the engine below what the CPU has (to measure an
/// AVX2-only machine's path on an AVX-512 one), the settings that hold PyTorch's own
/// kernels (ATen's, oneDNN's, MKL's) to the same level, so the ratio compares the two at
/// one instruction set, as on such a machine. Empty where the engine runs what the CPU
/// has.
pub fn torch_isa_cap() -> Vec<(&'static str, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    {
        if Simd::active() < Simd::detected() {
            return match Simd::active() {
                Simd::Avx2 => vec![
                    ("ATEN_CPU_CAPABILITY", "avx2"),
                    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
                    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
                ],
                _ => vec![
                    ("ATEN_CPU_CAPABILITY", "default"),
                    ("ONEDNN_MAX_CPU_ISA", "SSE41"),
                    ("MKL_ENABLE_INSTRUCTIONS", "SSE4_2"),
                ],
            };
        }
    }
    Vec::new()
}

/// Runs scripts/reference/fer_torch.py bench in the torch venv; None (with a note) if absent.
pub fn torch_reference(
    arch: &str,
    seconds: f64,
    threads: usize,
    bf16: bool,
) -> Option<serde_json::Value> {
    let venv = std::env::var_os("MOODTUNE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/moodtune/venv")
        });
    let python = venv.join("bin/python");
    let script = Path::new("scripts/reference/fer_torch.py");
    if !python.exists() || !script.exists() {
        eprintln!(
            "note: no PyTorch reference (run scripts/setup-torch.sh, from the repository root)"
        );
        return None;
    }
    let mut command = std::process::Command::new(python);
    for (key, value) in torch_isa_cap() {
        // A cap the user set for PyTorch stands.
        if std::env::var_os(key).is_none() {
            command.env(key, value);
        }
    }
    let out = command
        .arg(script)
        .args([
            "bench",
            "--arch",
            arch,
            "--seconds",
            &seconds.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args(bf16.then_some("--bf16"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
}

/// One architecture's speed: training images/s (with the libtorch engine), batch-1 and
/// batch-64 inference milliseconds (on `pool`), and PyTorch's figures beside them.
pub struct ArchSpeed {
    pub train_images_per_s: Option<f64>,
    pub batch1_ms: f64,
    pub batch64_ms: f64,
    /// scripts/reference/fer_torch.py's JSON, when asked for and installed.
    pub reference: Option<serde_json::Value>,
}

/// Measures architecture `name` with random weights, `seconds` per measurement.
pub fn arch_speed(
    name: &str,
    seconds: f64,
    pool: &rayon::ThreadPool,
    bf16: bool,
    reference: bool,
) -> anyhow::Result<ArchSpeed> {
    let arch = Arch::by_name(name)?;
    let clf = Classifier::from_bytes(&random_safetensors(&arch, 1), name)?.with_tta(Tta::None);
    let (face, ds) = bench_faces();
    // Ours is timed before and after the reference and the two averaged, so a drift of
    // this shared machine's speed while the reference runs touches both sides alike.
    let ours = |seconds: f64| {
        let batch1_ms = median_ms(
            || {
                std::hint::black_box(clf.probabilities(&face));
            },
            seconds,
        );
        let batch64_ms = pool.install(|| {
            median_ms(
                || {
                    std::hint::black_box(clf.predict_dataset(&ds));
                },
                seconds,
            )
        });
        (batch1_ms, batch64_ms)
    };
    let before = ours(seconds / 4.0);
    let threads = pool.current_num_threads();
    let train_images_per_s = if moodtune_fer_train::engine_available() {
        Some(moodtune_fer_train::bench_training(
            name, 64, seconds, threads, bf16,
        )?)
    } else {
        None
    };
    let reference = if reference {
        torch_reference(name, seconds, threads, bf16)
    } else {
        None
    };
    let after = ours(seconds / 4.0);
    let (batch1_ms, batch64_ms) = ((before.0 + after.0) / 2.0, (before.1 + after.1) / 2.0);
    Ok(ArchSpeed {
        train_images_per_s,
        batch1_ms,
        batch64_ms,
        reference,
    })
}

/// Faces to time a model file on: a sample of 256 `public` faces (a cascade's cost
/// depends on the face), else one synthetic face; and a batch of up to 64 of them.
pub fn latency_faces(public: Option<&Dataset>) -> (Vec<image::GrayImage>, Dataset) {
    match public {
        Some(public) => {
            let sample = public.sample(256, 0);
            let faces = (0..sample.len())
                .map(|i| moodtune_fer::classifier::fer_image(sample.image(i)))
                .collect();
            let batch = sample.subset(&(0..64.min(sample.len())).collect::<Vec<_>>());
            (faces, batch)
        }
        None => {
            let (face, batch) = bench_faces();
            (vec![face], batch)
        }
    }
}

/// A model's cost per face under one test-time augmentation.
pub struct TtaLatency {
    /// Mean network passes per face: a cascade's varies with the face.
    pub mean_passes: f64,
    /// Batch-1 milliseconds per face of each round over the faces, sorted.
    pub batch1_rounds_ms: Vec<f64>,
    pub batch64_faces_per_s: f64,
}

/// The cost per face of the model file (or the shipped model) under `tta`, on `pool`:
/// batch-1 latency (what the live camera sees) and batch throughput.
pub fn tta_latency(
    model: Option<&Path>,
    tta: Tta,
    pool: &rayon::ThreadPool,
    seconds: f64,
    faces: &[image::GrayImage],
    batch: &Dataset,
) -> anyhow::Result<TtaLatency> {
    let clf = Classifier::shipped_or(model)?.with_tta(tta);
    let (mut passes, mut runs) = (0usize, 0usize);
    let (b1, b64) = pool.install(|| {
        let b1 = round_means_ms(faces, seconds / 2.0, |face| {
            passes += std::hint::black_box(clf.predict(face)).passes;
            runs += 1;
        });
        let b64 = median_ms(
            || {
                std::hint::black_box(clf.predict_dataset(batch));
            },
            seconds / 2.0,
        );
        (b1, b64)
    });
    Ok(TtaLatency {
        mean_passes: passes as f64 / runs as f64,
        batch1_rounds_ms: b1,
        batch64_faces_per_s: batch.len() as f64 * 1000.0 / b64,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_summary_names_the_cpu_and_the_cores_this_process_may_use() {
        let summary = super::cpu_summary();
        let cores = std::thread::available_parallelism().unwrap().get();
        assert!(
            summary.contains(&format!("; {cores} cores available; ")),
            "{summary}"
        );
        let engine = moodtune_fer::nn::Simd::active().name();
        assert!(
            summary.contains(&format!("; engine loops at {engine} (MOODTUNE_SIMD); ")),
            "{summary}"
        );
        let products = moodtune_fer::nn::Simd::products_name();
        assert!(
            summary.ends_with(&format!("; products in {products} (MOODTUNE_PRECISION)")),
            "{summary}"
        );
        if let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") {
            let name = info
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, v)| v.trim());
            if let Some(name) = name {
                assert!(summary.starts_with(name), "{summary}");
            }
        }
    }
}
