//! `moodtune library ...`: import, inspect, label, classify and export the song library.

use anyhow::{bail, Context, Result};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::{enrich, songs};
use moodtune_core::Emotion;
use moodtune_library::{
    split_tags, Library, PredictedEmotion, Song, WriteTagsOptions, WriteTagsReport,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// `println!` that ends the program quietly when stdout is closed (`... | head`)
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

const DB_HELP: &str =
    "Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite]";

/// The `--db` option every library command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DbArg {
    #[arg(long, global = true, value_name = "PATH", help = DB_HELP)]
    pub db: Option<PathBuf>,
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
        #[command(flatten)]
        db: DbArg,
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
        #[command(flatten)]
        db: DbArg,
    },
    /// Show everything about one song (by id or title).
    Show {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
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
        #[command(flatten)]
        db: DbArg,
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
        #[command(flatten)]
        db: DbArg,
    },
    /// Remove a song from the library (its audio file is left alone).
    Remove {
        /// The song: its id as #ID, or (part of) its title.
        song: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Export the library to an xlsx or CSV file (importable again).
    Export {
        /// Output file: .xlsx or .csv
        #[arg(value_name = "OUT.xlsx|OUT.csv")]
        out: PathBuf,
        #[command(flatten)]
        db: DbArg,
    },
    /// Predict every song's emotion from its lyrics. Manual labels always win; songs
    /// without lyrics stay unlabelled.
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
        #[command(flatten)]
        db: DbArg,
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
        #[command(flatten)]
        db: DbArg,
    },
    /// Install the demo library: 21 synthesized songs, 3 per emotion.
    Demo {
        /// Where to write the demo audio [default: demo-songs/ beside the database].
        #[arg(long, value_name = "DIR")]
        audio_dir: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
}

fn open_library(db: &DbArg) -> Result<Library> {
    open_library_at(db.db.as_deref(), Missing::Refuse)
}

pub fn run(cmd: LibraryCommand) -> Result<ExitCode> {
    match cmd {
        LibraryCommand::Import { paths, json, db } => import(
            &mut open_library_at(db.db.as_deref(), Missing::Create)?,
            &paths,
            json,
        ),
        LibraryCommand::List {
            emotion,
            search,
            unlabelled,
            json,
            db,
        } => {
            let lib = open_library(&db)?;
            let filter = songs::Filter {
                emotion,
                search: search.as_deref(),
                unlabelled,
            };
            let songs = songs::list(&lib, &filter)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&songs)?);
            } else {
                print_table(&songs);
            }
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Show { song, json, db } => {
            let lib = open_library(&db)?;
            let song = lib.find(&song)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&song)?);
            } else {
                print_song(&song);
            }
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Tag {
            song,
            add,
            remove,
            db,
        } => {
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
            say!("{}: {}", s.title, display_tags(&tags));
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Label {
            song,
            emotion,
            clear,
            db,
        } => {
            let mut lib = open_library(&db)?;
            let s = lib.find(&song)?;
            let emotion = if clear { None } else { emotion };
            lib.set_manual_emotion(s.id, emotion)?;
            let now = lib
                .song(s.id)?
                .with_context(|| format!("song {} vanished while it was labelled", s.id))?;
            say!("{}: {}", now.title, describe_emotion(&now));
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Remove { song, db } => {
            let mut lib = open_library(&db)?;
            let s = lib.find(&song)?;
            lib.delete_song(s.id)?;
            say!("removed {}: {} - {}", s.id, s.artist, s.title);
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Export { out, db } => {
            let lib = open_library(&db)?;
            let n = lib.export(&out)?;
            say!("exported {n} songs to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::Classify {
            model,
            no_audio,
            json,
            db,
        } => {
            let mut lib = open_library(&db)?;
            let opts = enrich::Options {
                lyrics_model: model,
                audio: !no_audio,
            };
            let summary = classify_with_bar(&mut lib, &opts)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_classify_summary(&summary);
            }
            Ok(ExitCode::SUCCESS)
        }
        LibraryCommand::WriteTags {
            dry_run,
            no_backup,
            with_tags,
            emotion,
            json,
            db,
        } => {
            let lib = open_library(&db)?;
            let opts = WriteTagsOptions {
                dry_run,
                no_backup,
                with_tags,
                emotion,
            };
            let report = write_tags_with_bar(&lib, &opts)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                say!("{report}");
            }
            Ok(if report.skipped.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LibraryCommand::Demo { audio_dir, db } => {
            let mut lib = open_library_at(db.db.as_deref(), Missing::Create)?;
            let r = moodtune_app::open::install_demo(&mut lib, audio_dir.as_deref())?;
            say!(
                "demo library: {} songs added, {} already present, {} audio files written to {}",
                r.added,
                r.already_present,
                r.files_written,
                r.audio_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn import(lib: &mut Library, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut failed = false;
    let mut reports = Vec::new();
    for path in paths {
        let bar = indicatif::ProgressBar::hidden();
        let mut started = false;
        let result = lib.import_path_with(path, &mut |p| {
            // Only folders (many files) are worth a bar; it draws on a terminal only.
            if !started && p.total > 1 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(p.total as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} reading audio {pos}/{len} [{bar:30}] {wide_msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                started = true;
            }
            bar.set_position(p.done as u64);
            bar.set_message(
                p.current
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        });
        bar.finish_and_clear();
        match result {
            Ok(report) => {
                if !json {
                    say!("{}: {report}", path.display());
                }
                // A source that gave no song at all is a failure for scripts too: a
                // folder without audio, a sheet whose every row was skipped.
                if report.added + report.updated + report.unchanged == 0 {
                    let what = if path.is_dir() && report.skipped.is_empty() {
                        format!(
                            "no audio files ({}) found under it",
                            moodtune_library::AUDIO_EXTENSIONS.join(", ")
                        )
                    } else {
                        "no song in it could be imported".to_string()
                    };
                    eprintln!("error: {}: {what}", path.display());
                    failed = true;
                }
                reports.push(serde_json::json!({ "path": path, "report": report }));
            }
            Err(e) => {
                // One bad source does not stop the others; it was rolled back on its own.
                eprintln!("error: {e}");
                reports.push(serde_json::json!({ "path": path, "error": e.to_string() }));
                failed = true;
            }
        }
    }
    // Every song gets a mood: what came in is classified before the command ends.
    let summary = classify_with_bar(lib, &enrich::Options::default())
        .context("classifying the imported songs")?;
    if json {
        let out = serde_json::json!({ "imports": reports, "classified": summary });
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_classify_summary(&summary);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn display_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        "(no tags)".into()
    } else {
        tags.join(", ")
    }
}

/// "happy (manual)", "sad (predicted 0.82 by lyrics-v3)", "unlabelled".
fn describe_emotion(s: &Song) -> String {
    match (s.manual_emotion, &s.predicted) {
        (Some(m), Some(p)) if p.emotion != m => format!(
            "{} (manual; lyrics model said {} {:.2})",
            m.key(),
            p.emotion.key(),
            p.confidence
        ),
        (Some(m), _) => format!("{} (manual)", m.key()),
        (None, Some(p)) => format!(
            "{} (predicted {:.2} by {})",
            p.emotion.key(),
            p.confidence,
            p.model_version
        ),
        (None, None) => "unlabelled".into(),
    }
}

fn print_table(songs: &[Song]) {
    if songs.is_empty() {
        say!("no songs");
        return;
    }
    say!(
        "{:>5}  {:<10} {:<32} {:<20} tags",
        "id",
        "emotion",
        "title",
        "artist"
    );
    for s in songs {
        let emo = match (s.manual_emotion, &s.predicted) {
            (Some(m), _) => m.key().to_string(),
            (None, Some(p)) => format!("{}?", p.emotion.key()),
            (None, None) => "-".into(),
        };
        say!(
            "{:>5}  {:<10} {} {} {}",
            s.id,
            emo,
            clip(&s.title, 32),
            clip(&s.artist, 20),
            s.tags.join(", ")
        );
    }
    say!(
        "{} songs (emotion: manual label; \"?\" marks a lyrics prediction)",
        songs.len()
    );
}

/// Terminal columns a character takes: CJK and full-width forms take two.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 => 2,
        _ => 1,
    }
}

/// Cuts `s` to at most `n` terminal columns and pads it to exactly `n`, so columns line
/// up with Chinese titles too.
fn clip(s: &str, n: usize) -> String {
    let total: usize = s.chars().map(char_width).sum();
    let mut out = String::new();
    let mut w = 0;
    if total <= n {
        out.push_str(s);
        w = total;
    } else {
        for c in s.chars() {
            if w + char_width(c) > n - 1 {
                break;
            }
            out.push(c);
            w += char_width(c);
        }
        out.push('…');
        w += 1;
    }
    out.extend(std::iter::repeat_n(' ', n.saturating_sub(w)));
    out
}

fn print_song(s: &Song) {
    say!("{}  {}", s.id, s.title);
    say!(
        "  artist    {}",
        if s.artist.is_empty() { "-" } else { &s.artist }
    );
    if let Some(a) = &s.album {
        say!("  album     {a}");
    }
    if let Some(d) = s.duration_s {
        say!("  duration  {}", minutes_seconds(d));
    }
    if let Some(l) = &s.language {
        say!("  language  {l}");
    }
    say!("  emotion   {}", describe_emotion(s));
    if let Some(PredictedEmotion {
        drivers, sources, ..
    }) = &s.predicted
    {
        if !drivers.is_empty() {
            say!("  drivers   {}", drivers.join(", "));
        }
        for e in sources {
            say!(
                "  evidence  {}: {} {:.0}% ({})",
                e.source.key(),
                e.emotion.key(),
                e.confidence * 100.0,
                e.why
            );
        }
    }
    say!("  tags      {}", display_tags(&s.tags));
    match &s.audio_path {
        Some(p) => say!("  audio     {}", p.display()),
        None => say!("  audio     -"),
    }
    say!("  source    {} [{}]", s.source, s.source_key);
    match &s.lyrics {
        Some(l) => {
            say!("  lyrics");
            for line in l.lines() {
                say!("    {line}");
            }
        }
        None => say!("  lyrics    -"),
    }
}

/// `write-tags` with a progress bar over the files (on a terminal, for more than one).
fn write_tags_with_bar(lib: &Library, opts: &WriteTagsOptions) -> Result<WriteTagsReport> {
    let bar = indicatif::ProgressBar::hidden();
    let mut started = false;
    let verb = if opts.dry_run { "checking" } else { "writing" };
    let report = lib.write_tags(opts, &mut |p| {
        if !started && p.total > 1 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(p.total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{verb} moods {{pos}}/{{len}} [{{bar:30}}] {{wide_msg}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            started = true;
        }
        bar.set_position(p.done as u64);
        bar.set_message(
            p.current
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    });
    bar.finish_and_clear();
    Ok(report?)
}

/// Classifies the library with a progress bar over the audio files to analyse (on a
/// terminal only): files, songs/s, times real time, time left.
fn classify_with_bar(lib: &mut Library, opts: &enrich::Options) -> Result<enrich::ClassifySummary> {
    let bar = indicatif::ProgressBar::hidden();
    let mut started = false;
    let summary = enrich::classify_with(lib, opts, &mut |p| {
        if !started {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(p.total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "analysing audio {pos}/{len} [{bar:30}] {per_sec} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            started = true;
        }
        bar.set_position(p.done as u64);
        bar.set_message(format!("{:.0}x real time", p.x_real_time));
    });
    bar.finish_and_clear();
    summary
}

fn print_classify_summary(s: &enrich::ClassifySummary) {
    let a = &s.audio;
    if a.analysed + a.failed > 0 {
        say!(
            "analysed {} audio files ({:.0}x real time), {} unchanged since their last analysis",
            a.analysed,
            a.x_real_time,
            a.reused
        );
    }
    if a.failed > 0 {
        say!("{} audio files could not be analysed:", a.failed);
        for e in &a.errors {
            say!("  {e}");
        }
        if a.failed > a.errors.len() {
            say!("  ... and {} more", a.failed - a.errors.len());
        }
    }
    say!(
        "classified {} songs ({}): {} by lyrics, {} by audio, {} by mood tags, {} by similar songs you labelled",
        s.classified,
        s.model_version,
        s.with_lyrics,
        s.with_audio,
        s.with_mood_tags,
        s.with_neighbours
    );
    if s.overridden_by_manual > 0 {
        say!(
            "{} of them disagree with your manual label, which wins over the prediction",
            s.overridden_by_manual
        );
    }
    say!("songs per emotion library now (manual labels included):");
    for (e, n) in &s.per_emotion {
        say!("  {:<9} {n}", e.key());
    }
    if s.unlabelled > 0 {
        say!(
            "{} songs have no emotion library yet: no lyrics, readable audio or mood tags (`moodtune library list --unlabelled`)",
            s.unlabelled
        );
    }
}

/// `m:ss`, rounded to the second first: 239.6 s is 4:00, not 3:60.
pub(crate) fn minutes_seconds(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", total / 60, total % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: LibraryCommand,
    }

    fn run_args(args: &[&str]) -> Result<ExitCode> {
        let mut full = vec!["library"];
        full.extend_from_slice(args);
        run(Cli::try_parse_from(full)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .cmd)
    }

    #[test]
    fn only_import_and_demo_create_a_library() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join("typo/lib.sqlite");
        let db = typo.to_str().unwrap();
        for args in [
            vec!["list", "--db", db],
            vec!["show", "#1", "--db", db],
            vec!["export", "out.csv", "--db", db],
        ] {
            let err = run_args(&args).unwrap_err().to_string();
            assert!(
                err.contains("no song library at") && err.contains(db),
                "{err}"
            );
        }
        assert!(!dir.path().join("typo").exists(), "nothing left behind");
        let csv = dir.path().join("songs.csv");
        std::fs::write(&csv, "title,artist\nHum,Cy\n").unwrap();
        run_args(&["import", csv.to_str().unwrap(), "--db", db]).unwrap();
        assert_eq!(run_args(&["list", "--db", db]).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn durations_round_before_they_split() {
        assert_eq!(minutes_seconds(239.6), "4:00");
        assert_eq!(minutes_seconds(225.0), "3:45");
        assert_eq!(minutes_seconds(59.4), "0:59");
        assert_eq!(minutes_seconds(3723.0), "62:03");
    }

    #[test]
    fn import_label_tag_classify_export() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lib.sqlite");
        let db_s = db.to_str().unwrap();
        let csv = dir.path().join("songs.csv");
        std::fs::write(
            &csv,
            "title,artist,tags,lyrics\n\
             Sunny Road,Ava,Cheerful,\"we dance all day, so happy and free, laughing in the sun\"\n\
             Grey Rain,Bo,Slow,\"tears fall alone, my heart is broken, I cry and miss you\"\n\
             Hum,Cy,Instrumental,\n",
        )
        .unwrap();
        let first = dir.path().join("first.csv");
        std::fs::write(&first, "title,artist\nHum,Cy\n").unwrap();
        run_args(&["import", first.to_str().unwrap(), "--db", db_s]).unwrap();
        // A missing file fails the command but imports the good one.
        let code = run_args(&["import", "nope.csv", csv.to_str().unwrap(), "--db", db_s]).unwrap();
        assert_eq!(code, ExitCode::FAILURE);
        assert!(Library::open(&db).unwrap().find("Sunny Road").is_ok());

        run_args(&["label", "grey rain", "happy", "--db", db_s]).unwrap();
        run_args(&[
            "tag",
            "Sunny Road",
            "--add",
            "Bright, Fast",
            "--remove",
            "cheerful",
            "--db",
            db_s,
        ])
        .unwrap();
        run_args(&["classify", "--db", db_s]).unwrap();

        let lib = Library::open(&db).unwrap();
        assert_eq!(lib.len().unwrap(), 3);
        let sunny = lib.find("Sunny Road").unwrap();
        assert_eq!(sunny.tags, vec!["Bright", "Fast"]);
        let p = sunny.predicted.clone().expect("classified");
        assert_eq!(p.emotion, Emotion::Happy);
        assert!(!p.model_version.is_empty());
        let grey = lib.find("Grey Rain").unwrap();
        assert_eq!(
            grey.predicted.as_ref().map(|p| p.emotion),
            Some(Emotion::Sad)
        );
        assert_eq!(grey.emotion(), Some(Emotion::Happy), "manual label wins");
        assert_eq!(
            lib.find("Hum").unwrap().emotion(),
            None,
            "no lyrics, no label"
        );
        let list = |emotion, search, unlabelled| {
            let filter = songs::Filter {
                emotion,
                search,
                unlabelled,
            };
            songs::list(&lib, &filter)
        };
        let happy = list(Some(Emotion::Happy), None, false).unwrap();
        assert_eq!(happy.len(), 2);
        assert_eq!(list(None, None, true).unwrap().len(), 1);
        assert_eq!(
            list(Some(Emotion::Happy), Some("rain"), false)
                .unwrap()
                .len(),
            1
        );
        drop(lib);

        run_args(&["label", "Grey Rain", "--clear", "--db", db_s]).unwrap();
        let out = dir.path().join("out.xlsx");
        run_args(&["export", out.to_str().unwrap(), "--db", db_s]).unwrap();
        let lib = Library::open(&db).unwrap();
        assert_eq!(lib.find("Grey Rain").unwrap().emotion(), Some(Emotion::Sad));
        let mut fresh = Library::open_in_memory().unwrap();
        assert_eq!(fresh.import_path(&out).unwrap().added, 3);

        assert!(run_args(&["show", "no such song", "--db", db_s]).is_err());
        assert!(run_args(&["tag", "Hum", "--db", db_s]).is_err());
        assert!(run_args(&["label", "Hum", "bored", "--db", db_s]).is_err());
        run_args(&["remove", "Hum", "--db", db_s]).unwrap();
        assert_eq!(Library::open(&db).unwrap().len().unwrap(), 2);
    }

    /// An MP3 made byte by byte: an ID3v2.3 title, then 40 silent MPEG frames.
    fn mp3(title: &str) -> Vec<u8> {
        let mut frame = b"TIT2".to_vec();
        frame.extend(((title.len() + 1) as u32).to_be_bytes());
        frame.extend([0, 0, 0]);
        frame.extend(title.as_bytes());
        let mut out = b"ID3\x03\x00\x00\x00\x00\x00".to_vec();
        out.push(frame.len() as u8);
        out.extend(frame);
        for _ in 0..40 {
            let mut f = vec![0xFF, 0xFB, 0x90, 0x64];
            f.resize(417, 0);
            out.extend(f);
        }
        out
    }

    #[test]
    fn write_tags_puts_the_labels_into_the_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let music = dir.path().join("music");
        std::fs::create_dir(&music).unwrap();
        let (a, b) = (music.join("a.mp3"), music.join("b.mp3"));
        std::fs::write(&a, mp3("Alpha")).unwrap();
        std::fs::write(&b, mp3("Beta")).unwrap();
        let db = dir.path().join("lib.sqlite");
        let db_s = db.to_str().unwrap();
        run_args(&["import", music.to_str().unwrap(), "--db", db_s]).unwrap();
        run_args(&["label", "Alpha", "happy", "--db", db_s]).unwrap();
        run_args(&["label", "Beta", "sad", "--db", db_s]).unwrap();
        let before = std::fs::read(&a).unwrap();

        let dry = run_args(&["write-tags", "--dry-run", "--db", db_s]).unwrap();
        assert_eq!(dry, ExitCode::SUCCESS);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            before,
            "a dry run writes nothing"
        );

        // Only the happy library: Beta stays as it was.
        let beta = std::fs::read(&b).unwrap();
        run_args(&["write-tags", "-e", "happy", "--db", db_s]).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), beta);
        assert_eq!(
            std::fs::read(music.join("a.mp3.moodtune-bak")).unwrap(),
            before
        );

        // A read-only file is listed and fails the command; the rest is written.
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o444)).unwrap();
        run_args(&["label", "Alpha", "fear", "--db", db_s]).unwrap();
        let code = run_args(&["write-tags", "--no-backup", "--db", db_s]).unwrap();
        assert_eq!(code, ExitCode::FAILURE);
        assert!(!music.join("b.mp3.moodtune-bak").exists());

        // A library rebuilt from the files alone has the moods as labels.
        let mut fresh = Library::open(dir.path().join("fresh.sqlite")).unwrap();
        fresh.import_path(&music).unwrap();
        assert_eq!(
            fresh.find("Alpha").unwrap().manual_emotion,
            Some(Emotion::Happy)
        );
        assert_eq!(
            fresh.find("Beta").unwrap().manual_emotion,
            Some(Emotion::Sad)
        );
    }

    #[test]
    fn clip_counts_terminal_columns() {
        assert_eq!(clip("晴天晴天晴天", 7), "晴天晴…");
        assert_eq!(clip("晴天", 6), "晴天  ");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc ");
    }
}
