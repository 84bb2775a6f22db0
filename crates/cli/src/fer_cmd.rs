//! `moodtune fer ...`: train, evaluate, inspect, benchmark and plot expression models.

use crate::print_lines;
use anyhow::{bail, Context, Result};
use moodtune_app::fer_tools::bench::table;
use moodtune_app::fer_tools::{bench, calibrate, cascade, data, eval, info, train};
use moodtune_fer::classifier::cascade_summary;
use moodtune_fer::data::Dataset;
use moodtune_fer::model::{Arch, Tta};
use moodtune_fer::{Classifier, Evaluation};
use moodtune_fer_train::TrainConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum FerCommand {
    /// Train a network on FER2013 Training, selecting on PublicTest (needs the `train` build).
    Train(TrainConfig),
    /// Accuracy, per-class precision/recall/F1, confusion matrix and calibration of a model.
    Eval(EvalArgs),
    /// Architecture, size, cost and stored preprocessing of a model.
    Info(InfoArgs),
    /// Training images/s and inference latency per architecture, next to PyTorch.
    Bench(BenchArgs),
    /// Figures: training curves, confusion matrix, label histogram, example faces.
    Report(ReportArgs),
    /// Fit temperature scaling on half of PublicTest, report calibration on the other half.
    Calibrate(CalibrateArgs),
    /// Combine trained models into an ensemble file (then calibrate it).
    Ensemble(EnsembleArgs),
    /// Make a calibrated ensemble two-stage: some members first, the rest only for faces
    /// they are unsure of; picks the confidence threshold on PublicTest.
    Cascade(CascadeArgs),
    /// LBP/HOG/Gabor + SVM baselines beside the CNNs; writes the table to docs/RESULTS.md.
    Compare(crate::fer_compare::CompareArgs),
}

#[derive(clap::Args)]
pub struct CalibrateArgs {
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    data: Option<PathBuf>,
    /// Calibrate with this test-time augmentation (none, flip, tencrop) and store it
    /// with the model; `--tta` alone means flip. Default: as stored in the model.
    #[arg(long, num_args = 0..=1, default_missing_value = "flip")]
    tta: Option<Tta>,
    /// Write a copy of the model (by default the shipped one) with the fitted temperature
    /// and the test-time augmentation stored in it.
    #[arg(long)]
    write: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CascadeArgs {
    /// A calibrated ensemble file; the shipped model when omitted.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    data: Option<PathBuf>,
    /// Members of the first stage, by index (e.g. 3, or 0,2): typically the best single
    /// network. `fer info` lists the members.
    #[arg(long, value_delimiter = ',', required = true)]
    first: Vec<usize>,
    /// Members a second stage adds when the first is unsure (e.g. 0, or 0,2); the rest
    /// run only when it is unsure too. Typically the cheapest good member.
    #[arg(long, value_delimiter = ',')]
    then: Vec<usize>,
    /// PublicTest accuracy, in percentage points, the cascade may give up against the
    /// whole ensemble at its thresholds and every combination of higher ones.
    #[arg(long, default_value_t = 0.0)]
    max_drop: f64,
    /// Write a copy of the model with the cascade stored in it.
    #[arg(long)]
    write: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct EnsembleArgs {
    /// Model files to combine (two or more; architectures may differ, input size, crop and
    /// preprocessing must match).
    #[arg(long = "model", required = true, num_args = 1..)]
    models: Vec<PathBuf>,
    /// The ensemble file to write.
    #[arg(long)]
    out: PathBuf,
    /// Store the weights in half precision (F16): half the file size, so four or more
    /// members fit under 20 MiB. Inference still computes in f32; check the accuracy
    /// with `fer eval` after calibrating.
    #[arg(long)]
    half: bool,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model weights (.safetensors); the shipped model when omitted.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value = "PublicTest")]
    usage: String,
    /// Test-time augmentation: none, flip or tencrop (default: as stored with the model).
    #[arg(long)]
    tta: Option<Tta>,
    /// Also report accuracy under brightness/contrast changes and horizontal flips.
    #[arg(long)]
    robustness: bool,
    /// Skip malformed rows (reported on stderr) instead of stopping at the first one.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct InfoArgs {
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Architectures to measure (default: all).
    #[arg(long, value_delimiter = ',')]
    arch: Vec<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip the PyTorch reference (it needs scripts/setup-torch.sh).
    #[arg(long)]
    no_reference: bool,
    /// Time training steps in bfloat16 (`fer train --bf16`), PyTorch's under CPU autocast.
    #[arg(long)]
    bf16: bool,
    /// Measure only this model file's cost per test-time augmentation (instead of the
    /// architecture table and the shipped model).
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run directory whose metrics.jsonl gives the training curves.
    #[arg(long)]
    run_dir: Option<PathBuf>,
    #[arg(long, default_value = "docs/figures")]
    out: PathBuf,
}

/// `matches`: the whole command line's, to tell typed flags from defaults.
pub fn run(cmd: FerCommand, matches: &clap::ArgMatches) -> Result<ExitCode> {
    match cmd {
        FerCommand::Train(a) => train(a, &typed_train_settings(matches)),
        FerCommand::Eval(a) => eval(a),
        FerCommand::Info(a) => info(a),
        FerCommand::Bench(a) => bench(a),
        FerCommand::Report(a) => report(a),
        FerCommand::Calibrate(a) => calibrate(a),
        FerCommand::Ensemble(a) => ensemble(a),
        FerCommand::Cascade(a) => cascade(a),
        FerCommand::Compare(a) => crate::fer_compare::compare(a),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// The `fer train` settings given on the command line (not left at their defaults), by
/// their names in [`TrainConfig`].
fn typed_train_settings(root: &clap::ArgMatches) -> Vec<String> {
    let Some(train) = root
        .subcommand_matches("fer")
        .and_then(|fer| fer.subcommand_matches("train"))
    else {
        return Vec::new();
    };
    // The matches also hold the derive's group named after the struct: only flags count.
    let flags = <TrainConfig as clap::Args>::augment_args(clap::Command::new("train"));
    flags
        .get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| train.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
}

/// `typed`: the settings given on the command line, by their names in [`TrainConfig`].
fn train(cfg: TrainConfig, typed: &[String]) -> Result<()> {
    moodtune_fer_train::train(&train::settle(cfg, typed)?)
}

pub(crate) fn load_split(data: Option<PathBuf>, usage: &str) -> Result<Dataset> {
    load_split_with(data, usage, false)
}

/// [`data::load_split`], reporting skipped rows and the load on stderr.
fn load_split_with(data: Option<PathBuf>, usage: &str, skip_bad_rows: bool) -> Result<Dataset> {
    let split = data::load_split(data, usage, skip_bad_rows)?;
    for reason in &split.dataset.skipped {
        eprintln!("skipped {reason}");
    }
    split.ensure_rows()?;
    eprintln!(
        "loaded {} {} faces from {} in {:.1}s",
        split.dataset.len(),
        split.usage.name(),
        split.path.display(),
        split.seconds
    );
    Ok(split.dataset)
}

/// How a command names the model: its file, or `shipped`.
fn model_name(model: Option<&Path>) -> String {
    model.map_or("shipped".to_string(), |p| p.display().to_string())
}

fn eval(a: EvalArgs) -> Result<()> {
    let mut clf = Classifier::shipped_or(a.model.as_deref())?;
    if let Some(t) = a.tta {
        clf = clf.with_tta(t);
    }
    let ds = load_split_with(a.data, &a.usage, a.skip_bad_rows)?;
    let report = eval::evaluate(&clf, &ds, a.robustness);
    let model = model_name(a.model.as_deref());
    if a.json {
        let out = report.to_json(&model, &a.usage, &clf);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report.text(&model, &clf, ds.len()));
    }
    Ok(())
}

fn info(a: InfoArgs) -> Result<()> {
    print_lines(&info::describe(&Classifier::shipped_or(
        a.model.as_deref(),
    )?));
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    let archs: Vec<String> = if a.arch.is_empty() {
        Arch::NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        a.arch
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    // Figures differ from one CPU to the next (AVX-512 or not): say which one made them.
    println!("CPU: {}", bench::cpu_summary());
    let say = &mut |line: String| println!("{line}");
    if a.model.is_none() {
        table::arch_table(&archs, a.seconds, &pool, a.bf16, !a.no_reference, say)?;
    }
    let public = || load_split(None, "PublicTest").ok();
    table::model_latency(&pool, a.seconds, a.model.as_deref(), public, say)?;
    let model = std::sync::Arc::new(Classifier::shipped_or(a.model.as_deref())?);
    pool.install(|| bench::live::live_frames(model, a.seconds, say))
}

fn report(a: ReportArgs) -> Result<()> {
    let clf = Classifier::shipped_or(a.model.as_deref())?;
    let ds = load_split(a.data, "PublicTest")?;
    let probs = clf.predict_dataset(&ds);
    let ev = Evaluation::new(&ds.labels, &probs);
    let records = match &a.run_dir {
        Some(dir) => Some(moodtune_fer_report::read_metrics(
            &dir.join("metrics.jsonl"),
        )?),
        None => None,
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let written =
        moodtune_fer_report::write_all(&a.out, records.as_deref(), Some(&ev), &ds, Some(&probs))?;
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(())
}

fn ensemble(a: EnsembleArgs) -> Result<()> {
    let bytes = data::ensemble_bytes(&a.models, a.half)?;
    data::write_atomic(&a.out, &bytes)?;
    println!(
        "wrote {} ({} networks, {:.1} MB); calibrate it next: moodtune fer calibrate --model {} --write {}",
        a.out.display(),
        a.models.len(),
        bytes.len() as f64 / 1e6,
        a.out.display(),
        a.out.display()
    );
    Ok(())
}

fn calibrate(a: CalibrateArgs) -> Result<()> {
    let mut clf = Classifier::shipped_or(a.model.as_deref())?;
    if let Some(tta) = a.tta {
        clf = clf.with_tta(tta);
    }
    let ds = load_split(a.data, "PublicTest")?;
    let bar = progress_bar(&ds);
    let c = calibrate::calibrate(&clf, &ds, &|| bar.inc(1));
    bar.finish_and_clear();
    print_lines(&c.lines(clf.tta));
    if let Some(out) = a.write {
        let set = [
            ("temperature", format!("{:.2}", c.temperature)),
            ("tta", clf.tta.key().to_string()),
        ];
        data::write_atomic(&out, &data::with_metadata(a.model.as_deref(), &set)?)?;
        println!("wrote {}", out.display());
        if let Some(note) = calibrate::stale_cascade_note(&clf, &out) {
            println!("{note}");
        }
    }
    Ok(())
}

fn cascade(a: CascadeArgs) -> Result<()> {
    let name = a
        .model
        .as_ref()
        .map_or("the shipped model".to_string(), |p| p.display().to_string());
    let clf = Classifier::shipped_or(a.model.as_deref())?.with_cascade(None);
    let stages = cascade::stages(&clf, &name, &a.first, &a.then, a.max_drop)?;
    let ds = load_split(a.data, "PublicTest")?;
    let bar = progress_bar(&ds);
    let fit = cascade::fit(&clf, &ds, &stages, a.max_drop, &|| bar.inc(1));
    bar.finish_and_clear();
    let fit = fit?;
    print_lines(&cascade::report(
        &name,
        &clf,
        &stages,
        &fit,
        ds.len(),
        a.max_drop,
    ));
    let Some(chosen) = fit.cascade else {
        bail!(
            "no thresholds up to 0.99 keep the ensemble's accuracy within {} points: a stage is too often sure and wrong (try other --first/--then members or a larger --max-drop)",
            a.max_drop
        );
    };
    println!("chosen: {}", cascade_summary(&chosen));
    if let Some(out) = a.write {
        let updated = data::with_metadata(a.model.as_deref(), &chosen.to_metadata())?;
        data::write_atomic(&out, &updated)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// A bar over the faces of `ds`, for the minute or more an ensemble's logits take.
fn progress_bar(ds: &Dataset) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(ds.len() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_train_flags_are_told_from_defaults() {
        use clap::CommandFactory;
        let typed = |args: &[&str]| {
            let line = ["moodtune", "fer", "train"].iter().chain(args);
            let matches = crate::Cli::command().try_get_matches_from(line).unwrap();
            let mut names = super::typed_train_settings(&matches);
            names.sort();
            names
        };
        assert_eq!(typed(&["--run-dir", "r"]), ["run_dir"]);
        // 14 is the default number of epochs: typed, it still counts as asked for.
        assert_eq!(
            typed(&["--epochs", "14", "--no-augment"]),
            ["augment", "epochs"]
        );
        let other = crate::Cli::command().try_get_matches_from(["moodtune", "fer", "info"]);
        assert!(super::typed_train_settings(&other.unwrap()).is_empty());
    }
}
