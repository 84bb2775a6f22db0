//! `moodtune fer compare`: the classic baselines and the CNNs side by side, written into
//! docs/RESULTS.md.

use crate::fer_cmd::load_split;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use moodtune_app::fer_tools::compare::{load_models, note, rewrite_file, Run};
use moodtune_fer_baselines::compare::{self, Progress};
use moodtune_fer_baselines::{Kernel, Method};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct CompareArgs {
    #[arg(long)]
    data: Option<PathBuf>,
    /// CNN models to include (default: the shipped model).
    #[arg(long)]
    model: Vec<PathBuf>,
    /// Baselines to train: gabor, lbp, hog.
    #[arg(long, value_delimiter = ',', default_value = "gabor,lbp,hog")]
    methods: Vec<Method>,
    /// SVM kernels: linear, rbf (random Fourier features).
    #[arg(long, value_delimiter = ',', default_value = "linear,rbf")]
    kernels: Vec<Kernel>,
    /// Train the baselines on a fixed sample of this many Training faces (0 = all).
    #[arg(long, default_value_t = 0)]
    max_train: usize,
    /// Results file whose generated comparison section is replaced (created if missing).
    #[arg(long, default_value = "docs/RESULTS.md")]
    write: PathBuf,
    /// Print the table only; leave the results file alone.
    #[arg(long)]
    no_write: bool,
    /// Print the rows as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let start = Instant::now();
    let mut train = load_split(a.data.clone(), "Training")?;
    if a.max_train > 0 && a.max_train < train.len() {
        train = train.sample(a.max_train, 1);
        eprintln!(
            "training the baselines on a sample of {} faces",
            train.len()
        );
    }
    let test = load_split(a.data.clone(), "PublicTest")?;
    let models = load_models(&a.model)?;
    let steps = a.methods.len() * a.kernels.len() + models.len();
    let bar = ProgressBar::new(steps as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} methods, {elapsed} {wide_msg}")
            .expect("static template"),
    );
    let mut show = |p: Progress| match p {
        Progress::Step(message) => bar.set_message(message),
        // indicatif draws nothing when stderr is not a terminal; logs still need the lines.
        Progress::Log(line) if bar.is_hidden() => eprintln!("{line}"),
        Progress::Log(line) => bar.println(line),
        Progress::Done => bar.inc(1),
    };
    let rows = compare::run_all(&models, &a.methods, &a.kernels, &train, &test, &mut show)?;
    bar.finish_and_clear();

    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    let note = note(&Run {
        data: a.data.as_deref(),
        models: &a.model,
        methods: a.methods.iter().map(|m| m.key()).collect(),
        kernels: a.kernels.iter().map(|k| k.key()).collect(),
        max_train: a.max_train,
        train_faces: train.len(),
        seconds: start.elapsed().as_secs_f64(),
    });
    let table = compare::markdown(&rows, test.len(), &note);
    if !a.json {
        print!("{table}");
    }
    if !a.no_write {
        rewrite_file(&a.write, |doc| compare::splice(doc, &table))?;
        eprintln!("wrote the comparison into {}", a.write.display());
    }
    Ok(())
}
