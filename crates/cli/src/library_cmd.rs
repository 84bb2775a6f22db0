//! `moodtune library ...`: import, inspect, label, classify and export the song library.

use crate::print_lines;
use crate::progress::{file_name, LazyBar};
use anyhow::{bail, Context, Result};
use moodtune_app::enrich::{self, import::import_source};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::songs::{self, text};
use moodtune_core::Emotion;
use moodtune_library::{split_tags, Library, WriteTagsOptions, WriteTagsReport};
use std::path::PathBuf;
use std::process::ExitCode;

pub const DB_HELP: &str =
    "Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite]";

/// The `--db` option every library command takes (before or after the command name).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DbArg {
    #[arg(long, global = true, value_name = "PATH", help = DB_HELP)]
    pub db: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct LibraryArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(subcommand)]
    command: LibraryCommand,
}

#[derive(clap::Subcommand)]
pub enum LibraryCommand {
    /// Import spreadsheets (xlsx, xls, ods), CSV files, audio files or music folders.
    #[command(
        after_help = "Re-importing a source updates its songs instead of adding them again. \
        Bad rows and unreadable files are listed and skipped; the rest is imported."
    )]
    Import {
        /// Files or folders to import.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print the import reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List songs, optionally of one emotion library or matching a search.
    List {
        /// Only songs of this emotion library (manual label, else prediction).
        #[arg(long, short)]
        emotion: Option<Emotion>,
        /// Only songs whose title, artist, album, tags or lyrics contain this text.
        #[arg(long, short)]
        search: Option<String>,
        /// Only songs with no label and no prediction.
        #[arg(long, conflicts_with = "emotion")]
        unlabelled: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show everything about one song (by id or title).
    Show {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add or remove tags of a song.
    Tag {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
        /// Tags to add (repeat, or separate with commas).
        #[arg(long, short, value_name = "TAG")]
        add: Vec<String>,
        /// Tags to remove (repeat, or separate with commas).
        #[arg(long, short, value_name = "TAG")]
        remove: Vec<String>,
    },
    /// Set your own emotion label for a song (it always wins over predictions), or remove
    /// it with --clear.
    Label {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
        /// angry, disgust, fear, happy, sad, surprise, neutral (or 0-6, or a Chinese name).
        #[arg(required_unless_present = "clear")]
        emotion: Option<Emotion>,
        /// Remove the manual label (the prediction, if any, applies again).
        #[arg(long, conflicts_with = "emotion")]
        clear: bool,
    },
    /// Remove a song from the library (its audio file is left alone).
    Remove {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
    },
    /// Export the library to an xlsx or CSV file (importable again).
    Export {
        /// Output file: .xlsx or .csv
        #[arg(value_name = "OUT.xlsx|OUT.csv")]
        out: PathBuf,
    },
    /// Give every song an emotion library: from its lyrics, its audio, its tags and your
    /// labels of similar songs. Manual labels always win. `import` runs this itself.
    Classify {
        /// A lyrics model saved by the lyrics trainer (default: the built-in model).
        #[arg(long, value_name = "MODEL.json")]
        model: Option<PathBuf>,
        /// Leave the audio files unanalysed (lyrics, tags and your labels only).
        #[arg(long)]
        no_audio: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write each song's emotion into its audio file as the mood (ID3 TMOO, Vorbis
    /// MOOD, the MP4 mood atom), so other players, and a library rebuilt from the files,
    /// see it.
    #[command(
        after_help = "The mood is the manual label, else the prediction, as a word (\"Happy\"). \
        Each file is written through a copy that is read back and checked before it \
        replaces the original; the original is kept as NAME.moodtune-bak unless \
        --no-backup. Files that are read-only, gone or of another format are listed and \
        left alone; the exit status is then 1. Formats: MP3, FLAC, Ogg Vorbis, Opus, M4A."
    )]
    WriteTags {
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep no NAME.moodtune-bak copy of each file written.
        #[arg(long)]
        no_backup: bool,
        /// Also add the song's tags to the file's genre, after the genre it has.
        #[arg(long)]
        with_tags: bool,
        /// Only the songs of this emotion library.
        #[arg(long, short)]
        emotion: Option<Emotion>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install the demo library: 21 synthesized songs, 3 per emotion.
    Demo {
        /// Where to write the demo audio [default: demo-songs/ beside the database].
        #[arg(long, value_name = "DIR")]
        audio_dir: Option<PathBuf>,
    },
}

fn open_library(db: &DbArg) -> Result<Library> {
    open_library_at(db.db.as_deref(), Missing::Refuse)
}

/// `value` as indented JSON on standard output.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Success, or failure when `failed`: the command went on past a bad item.
fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run(args: LibraryArgs) -> Result<ExitCode> {
    let db = args.db;
    match args.command {
        LibraryCommand::Import { paths, json } => {
            return import(
                &mut open_library_at(db.db.as_deref(), Missing::Create)?,
                &paths,
                json,
            )
        }
        LibraryCommand::List {
            emotion,
            search,
            unlabelled,
            json,
        } => {
            let filter = songs::Filter {
                emotion,
                search: search.as_deref(),
                unlabelled,
            };
            let songs = songs::list(&open_library(&db)?, &filter)?;
            if json {
                print_json(&songs)?;
            } else {
                print_lines(&text::table(&songs));
            }
        }
        LibraryCommand::Show { song, json } => {
            let song = open_library(&db)?.find(&song)?;
            if json {
                print_json(&song)?;
            } else {
                print_lines(&text::details(&song));
            }
        }
        LibraryCommand::Tag { song, add, remove } => {
            if add.is_empty() && remove.is_empty() {
                bail!("nothing to do: give --add TAG and/or --remove TAG");
            }
            let mut lib = open_library(&db)?;
            let s = lib.find(&song)?;
            let split = |v: &[String]| v.iter().flat_map(|t| split_tags(t)).collect::<Vec<_>>();
            let remove = split(&remove);
            for tag in songs::absent_tags(&s.tags, &remove) {
                eprintln!("note: {} has no tag {tag:?} to remove", s.title);
            }
            let tags = lib.edit_tags(s.id, &split(&add), &remove)?;
            println!("{}: {}", s.title, text::display_tags(&tags));
        }
        LibraryCommand::Label {
            song,
            emotion,
            clear,
        } => {
            let mut lib = open_library(&db)?;
            let s = lib.find(&song)?;
            lib.set_manual_emotion(s.id, if clear { None } else { emotion })?;
            let now = lib
                .song(s.id)?
                .with_context(|| format!("song {} vanished while it was labelled", s.id))?;
            println!("{}: {}", now.title, text::describe_emotion(&now));
        }
        LibraryCommand::Remove { song } => {
            let mut lib = open_library(&db)?;
            let s = lib.find(&song)?;
            lib.delete_song(s.id)?;
            println!("removed {}: {} - {}", s.id, s.artist, s.title);
        }
        LibraryCommand::Export { out } => {
            let n = open_library(&db)?.export(&out)?;
            println!("exported {n} songs to {}", out.display());
        }
        LibraryCommand::Classify {
            model,
            no_audio,
            json,
        } => {
            let opts = enrich::Options {
                lyrics_model: model,
                audio: !no_audio,
            };
            let summary = classify_with_bar(&mut open_library(&db)?, &opts)?;
            if json {
                print_json(&summary)?;
            } else {
                print_lines(&summary.lines());
            }
        }
        LibraryCommand::WriteTags {
            dry_run,
            no_backup,
            with_tags,
            emotion,
            json,
        } => {
            let opts = WriteTagsOptions {
                dry_run,
                no_backup,
                with_tags,
                emotion,
            };
            let report = write_tags_with_bar(&open_library(&db)?, &opts)?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            return Ok(exit_code(!report.skipped.is_empty()));
        }
        LibraryCommand::Demo { audio_dir } => {
            let mut lib = open_library_at(db.db.as_deref(), Missing::Create)?;
            let r = moodtune_app::open::install_demo(&mut lib, audio_dir.as_deref())?;
            println!(
                "demo library: {} songs added, {} already present, {} audio files written to {}",
                r.added,
                r.already_present,
                r.files_written,
                r.audio_dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import(lib: &mut Library, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut failed = false;
    let mut reports = Vec::new();
    for path in paths {
        // Only folders (many files) are worth a bar.
        let mut bar = LazyBar::new(
            "{spinner} reading audio {pos}/{len} [{bar:30}] {wide_msg}",
            1,
        );
        let source = import_source(lib, path, &mut |p| {
            bar.update(p.done, p.total, file_name(p.current))
        });
        bar.finish();
        if let (Some(report), false) = (&source.report, json) {
            println!("{}: {report}", path.display());
        }
        if let Some(e) = &source.error {
            eprintln!("error: {e}");
            failed = true;
        }
        reports.push(source.to_json());
    }
    // Every song gets a mood: what came in is classified before the command ends.
    let summary = classify_with_bar(lib, &enrich::Options::default())
        .context("classifying the imported songs")?;
    if json {
        print_json(&serde_json::json!({ "imports": reports, "classified": summary }))?;
    } else {
        print_lines(&summary.lines());
    }
    Ok(exit_code(failed))
}

/// `write-tags` with a progress bar over the files (on a terminal, for more than one).
fn write_tags_with_bar(lib: &Library, opts: &WriteTagsOptions) -> Result<WriteTagsReport> {
    let verb = if opts.dry_run { "checking" } else { "writing" };
    let mut bar = LazyBar::new(
        format!("{verb} moods {{pos}}/{{len}} [{{bar:30}}] {{wide_msg}}"),
        1,
    );
    let report = lib.write_tags(opts, &mut |p| {
        bar.update(p.done, p.total, file_name(p.current))
    });
    bar.finish();
    Ok(report?)
}

/// Classifies the library with a progress bar over the audio files to analyse (on a
/// terminal only): files, songs/s, times real time, time left.
fn classify_with_bar(lib: &mut Library, opts: &enrich::Options) -> Result<enrich::ClassifySummary> {
    let mut bar = LazyBar::new(
        "analysing audio {pos}/{len} [{bar:30}] {per_sec} {msg} ETA {eta}",
        0,
    );
    let summary = enrich::classify_with(lib, opts, &mut |p| {
        bar.update(p.done, p.total, format!("{:.0}x real time", p.x_real_time))
    });
    bar.finish();
    summary
}
