//! Evaluation and benchmark helpers of the `fer` commands: robustness to perturbed
//! faces, timing loops, the CPU a figure was measured on, and the PyTorch reference run.

use moodtune_core::Emotion;
use moodtune_fer::data::Dataset;
use moodtune_fer::{Classifier, Evaluation};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Accuracy on perturbed copies of the data: the same faces a little brighter, darker,
/// flatter, harsher, or mirrored.
pub fn robustness(clf: &Classifier, ds: &Dataset) -> Vec<(String, f64)> {
    let perturb = |f: &dyn Fn(u8, usize) -> u8| -> f64 {
        let mut copy = ds.clone();
        for (i, p) in copy.images.iter_mut().enumerate() {
            *p = f(*p, i);
        }
        Evaluation::new(&copy.labels, &clf.predict_dataset(&copy)).accuracy
    };
    let side = moodtune_fer::data::SIDE;
    let flipped = |_: u8, i: usize| {
        let (img, pos) = (i / (side * side), i % (side * side));
        let (y, x) = (pos / side, pos % side);
        ds.images[img * side * side + y * side + (side - 1 - x)]
    };
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    vec![
        ("clean".into(), perturb(&|p, _| p)),
        (
            "brightness +20".into(),
            perturb(&|p, _| clamp(p as f32 + 20.0)),
        ),
        (
            "brightness -20".into(),
            perturb(&|p, _| clamp(p as f32 - 20.0)),
        ),
        (
            "contrast x0.8".into(),
            perturb(&|p, _| clamp((p as f32 - 128.0) * 0.8 + 128.0)),
        ),
        (
            "contrast x1.2".into(),
            perturb(&|p, _| clamp((p as f32 - 128.0) * 1.2 + 128.0)),
        ),
        ("horizontal flip".into(), perturb(&flipped)),
    ]
}

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
    let vector = {
        let mut have = Vec::new();
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            have.push("AVX2+FMA");
        }
        if is_x86_feature_detected!("avx512f") {
            have.push("AVX-512");
        }
        if have.is_empty() {
            "no AVX2".to_string()
        } else {
            have.join(", ")
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let vector = "vector extensions not checked".to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{name}; {vector}; {cores} cores available")
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
    let out = std::process::Command::new(python)
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

/// Every member's logits on every view of every face (what temperatures and cascades are
/// fitted on), in parallel; `on_face` is called after each face (a progress bar: a
/// minute or more for an ensemble).
pub fn dataset_view_logits(
    clf: &Classifier,
    ds: &Dataset,
    on_face: &(dyn Fn() + Sync),
) -> Vec<Vec<Vec<f32>>> {
    use moodtune_fer::classifier::fer_image;
    use rayon::prelude::*;
    (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let l = clf.view_logits(&fer_image(ds.image(i)));
            on_face();
            l
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_summary_names_the_cpu_and_the_cores_this_process_may_use() {
        let summary = super::cpu_summary();
        let cores = std::thread::available_parallelism().unwrap().get();
        assert!(
            summary.ends_with(&format!("; {cores} cores available")),
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
