//! `moodtune analyze`: the mood of audio files outside the library.
//!
//! Exit codes: 0 every file analysed, 1 some file could not be (the others are still
//! done); 2 stays clap's, for a bad command line.

use crate::print_lines;
use moodtune_app::enrich::files;
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

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let rows = files::analyze(&args.files);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for row in &rows {
            print_lines(&row.lines());
            if let Some(error) = row.error() {
                eprintln!("error: {error}");
            }
        }
    }
    let failed = rows.iter().any(|r| r.error().is_some());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
