//! `moodtune analyze`: the mood of audio files outside the library.
//!
//! Exit codes: 0 every file analysed, 1 some file could not be (the others are still
//! done); 2 stays clap's, for a bad command line.

use moodtune_app::enrich::audio::analyze_files;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// Audio files (mp3, flac, ogg/vorbis, m4a/aac, wav).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print JSON (one object per file) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct FileJson {
    file: PathBuf,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Ok {
        duration_s: f64,
        tempo_bpm: Option<f32>,
        key: Option<String>,
        mode: Option<String>,
        valence: f32,
        arousal: f32,
        emotion: moodtune_core::Emotion,
        confidence: f32,
        drivers: Vec<String>,
    },
    Err {
        error: String,
    },
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let results = analyze_files(&args.files);
    let mut failed = false;
    let rows: Vec<FileJson> = args
        .files
        .iter()
        .zip(results)
        .map(|(file, r)| {
            let outcome = match r {
                Ok(a) => Outcome::Ok {
                    duration_s: a.duration_s,
                    tempo_bpm: a.tempo_bpm,
                    key: a.key,
                    mode: a.mode.map(|m| format!("{m:?}").to_lowercase()),
                    valence: a.valence,
                    arousal: a.arousal,
                    emotion: a.emotion,
                    confidence: a.confidence,
                    drivers: a.drivers,
                },
                Err(e) => {
                    failed = true;
                    Outcome::Err {
                        error: e.to_string(),
                    }
                }
            };
            FileJson {
                file: file.clone(),
                outcome,
            }
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for row in &rows {
            match &row.outcome {
                Outcome::Ok {
                    duration_s,
                    tempo_bpm,
                    key,
                    mode,
                    valence,
                    arousal,
                    emotion,
                    confidence,
                    drivers,
                } => {
                    let tempo = tempo_bpm.map_or("no clear beat".into(), |t| format!("{t:.0} bpm"));
                    let key = match (key, mode) {
                        (Some(k), Some(m)) => format!("{k} {m}"),
                        _ => "no clear key".into(),
                    };
                    println!(
                        "{}: {} ({:.0}%)  valence {valence:+.2}  arousal {arousal:+.2}  {tempo}, {key}, {}",
                        row.file.display(),
                        emotion.key(),
                        confidence * 100.0,
                        moodtune_app::text::minutes_seconds(*duration_s)
                    );
                    if !drivers.is_empty() {
                        println!("    {}", drivers.join(", "));
                    }
                }
                // The error names the file.
                Outcome::Err { error } => eprintln!("error: {error}"),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
