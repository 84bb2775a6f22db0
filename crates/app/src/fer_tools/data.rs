//! FER2013 splits and model files: what the `fer` commands read and write.

use anyhow::{bail, Context, Result};
use moodtune_fer::data::{Dataset, LoadOptions, Usage};
use moodtune_fer::model::weights::{ensemble_safetensors, Precision};
use moodtune_fer::Classifier;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where FER2013 sits beside a checkout (as in CI), used when --data is not given.
pub const DEFAULT_DATA: &str = "../shared/data/fer2013/fer2013.csv.gz";

/// The data file given, else the default one if it is there.
pub fn data_path(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let p = PathBuf::from(DEFAULT_DATA);
    if p.exists() {
        Ok(p)
    } else {
        bail!("no FER2013 data: pass --data FILE (fer2013.csv, .csv.gz, or an image folder)")
    }
}

/// One usage of FER2013 as loaded, with what the caller reports about it.
pub struct Split {
    /// Its rows; `dataset.skipped` holds the reasons of the rows left out.
    pub dataset: Dataset,
    pub path: PathBuf,
    pub usage: Usage,
    pub seconds: f64,
}

impl Split {
    /// An error when no row of the usage was found. Separate from loading, so that the
    /// skipped rows can be reported first: they are often why.
    pub fn ensure_rows(&self) -> Result<()> {
        if self.dataset.is_empty() {
            bail!("{}: no {} rows", self.path.display(), self.usage.name());
        }
        Ok(())
    }
}

/// Loads one usage (`PublicTest`, `Training`, ...) of the data at `data` or the default
/// path; `skip_bad_rows` skips malformed rows instead of stopping at the first.
pub fn load_split(data: Option<PathBuf>, usage: &str, skip_bad_rows: bool) -> Result<Split> {
    let path = data_path(data)?;
    let usage: Usage = usage.parse()?;
    let t = Instant::now();
    let dataset = Dataset::load(
        &path,
        &LoadOptions {
            usages: vec![usage],
            skip_bad_rows,
        },
    )?;
    Ok(Split {
        dataset,
        path,
        usage,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Writes `bytes` to `path` atomically (`moodtune_core::write_bytes_atomically`),
/// creating its folder first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    moodtune_core::write_bytes_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A model file's bytes and name for errors; the shipped model's (compiled in) when no
/// file is named, so commands that write a changed copy leave the binary unchanged.
pub fn model_bytes(model: Option<&Path>) -> Result<(Vec<u8>, String)> {
    Ok(match model {
        Some(p) => (
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (
            Classifier::shipped_bytes().to_vec(),
            "shipped model".to_string(),
        ),
    })
}

/// A copy of the model file (or the shipped model) with metadata keys set.
pub fn with_metadata(model: Option<&Path>, set: &[(&str, String)]) -> Result<Vec<u8>> {
    let (bytes, origin) = model_bytes(model)?;
    moodtune_fer::model::weights::with_metadata(&bytes, &origin, set)
}

/// The model files combined into one ensemble file; `half` stores its weights in F16.
pub fn ensemble_bytes(models: &[PathBuf], half: bool) -> Result<Vec<u8>> {
    let files = models
        .iter()
        .map(|p| {
            let bytes =
                std::fs::read(p).with_context(|| format!("cannot read model {}", p.display()))?;
            Ok((bytes, p.display().to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let precision = if half {
        Precision::Half
    } else {
        Precision::Full
    };
    ensemble_safetensors(&files, precision)
}
