//! `moodtune recommend` and `moodtune profile`: the recommender over the song library.
//!
//! The library (SQLite) holds songs, picks and feedback; this module converts them into
//! the recommender's own types and prints the result.

use crate::library_cmd::{DbArg, DB_HELP};
use crate::print_lines;
use anyhow::{bail, Context, Result};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::playlist::{text::PlaylistJson, PlaylistRequest, Recommender};
use moodtune_app::taste::{self, profile};
use moodtune_core::Emotion;
use moodtune_library::Library;
use moodtune_recommend::{Session, Strategy, DEFAULT_LIMIT};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    moodtune recommend --emotion sad --strategy lift\n  \
    moodtune recommend --photo me.jpg --limit 5 --json\n  \
    moodtune recommend --like \"Brass\" --skip 12        (record feedback only)\n  \
    moodtune recommend --emotion happy --skip 12       (record, then recommend)")]
pub struct RecommendArgs {
    #[arg(long, value_name = "PATH", help = DB_HELP)]
    pub db: Option<PathBuf>,
    /// The mood to recommend for (English name, FER2013 id 0-6, or Chinese name).
    #[arg(long, short, value_name = "EMOTION", conflicts_with = "photo")]
    pub emotion: Option<Emotion>,
    /// Detect the mood from the largest clear face in this photo (one not flagged small
    /// or blurry; else the largest face, with a note).
    #[arg(long, value_name = "FACE.jpg")]
    pub photo: Option<PathBuf>,
    /// Expression model file to read the photo with instead of the shipped one.
    #[arg(long, value_name = "PATH", requires = "photo")]
    pub model: Option<PathBuf>,
    /// `match`: songs of the mood's library; `lift`: start with the mood and move toward
    /// calmer, happier libraries (see docs/RECOMMEND.md).
    #[arg(long, short, default_value = "match", value_name = "match|lift")]
    pub strategy: Strategy,
    /// Number of songs.
    #[arg(long, short = 'n', default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Let songs by the same artist play back to back (pure similarity order).
    #[arg(long)]
    pub same_artist_ok: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Record that you liked a song (id or title): its tags are added to the profile of
    /// its emotion. Repeatable.
    #[arg(long, value_name = "SONG")]
    pub like: Vec<String>,
    /// Record that you skipped a song (id or title): its tags count a little against the
    /// profile and the song itself is demoted. Repeatable.
    #[arg(long, value_name = "SONG")]
    pub skip: Vec<String>,
}

#[derive(clap::Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(clap::Subcommand)]
pub enum ProfileCommand {
    /// Set the typical songs for an emotion (ids or titles; three by default in the
    /// design, any number allowed). Replaces the earlier picks unless --add.
    Pick {
        /// The emotion whose typical songs these are.
        #[arg(long, short, value_name = "EMOTION")]
        emotion: Emotion,
        /// Keep the existing picks and add these.
        #[arg(long)]
        add: bool,
        /// The songs: each an id as #ID, or (part of) a title.
        #[arg(required = true, value_name = "SONG")]
        songs: Vec<String>,
    },
    /// Show the picks and the resulting tag weights (all emotions, or one).
    Show {
        /// Only this emotion's profile (default: all seven).
        #[arg(long, short, value_name = "EMOTION")]
        emotion: Option<Emotion>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove the picks of an emotion (feedback is kept).
    Clear {
        /// The emotion whose typical songs these are.
        #[arg(long, short, value_name = "EMOTION")]
        emotion: Emotion,
    },
}

fn open_library(db: Option<&Path>) -> Result<Library> {
    open_library_at(db, Missing::Refuse)
}

/// The mood of the main face of a photo read by `model` (or the shipped model), with a
/// note on stderr when that face may be misread. `recommend` and `playlist` share it.
pub(crate) fn mood_of_photo(
    photo: &Path,
    model: Option<&Path>,
) -> Result<moodtune_app::mood::PhotoMood> {
    let mood = moodtune_app::mood::PhotoMood::read(photo, model)?;
    if let Some(note) = mood.caution(photo) {
        eprintln!("note: {note}");
    }
    Ok(mood)
}

/// Everything the recommender needs from the library, read once.
fn load(lib: &Library) -> Result<Recommender> {
    Recommender::load(lib).context("reading the library for the recommender")
}

pub fn run(args: RecommendArgs) -> Result<ExitCode> {
    let feedback_only = args.emotion.is_none() && args.photo.is_none();
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    if feedback_only && args.like.is_empty() && args.skip.is_empty() {
        bail!("say what to recommend for: --emotion EMOTION or --photo FACE.jpg (or give --like/--skip SONG to record feedback)");
    }
    // Read the photo before touching the library, so a bad photo changes nothing.
    let (emotion, photo_confidence) = match (&args.photo, args.emotion) {
        (Some(photo), _) => {
            let mood = mood_of_photo(photo, args.model.as_deref())?;
            (Some(mood.emotion), Some(mood.confidence))
        }
        (None, e) => (e, None),
    };
    let mut lib = open_library(args.db.as_deref())?;
    let given = taste::record_feedback(&mut lib, &args.like, &args.skip, emotion)?;
    if !args.json {
        for (song, kind) in &given {
            println!("recorded {}: {} - {}", kind.key(), song.artist, song.title);
        }
    }
    let Some(emotion) = emotion else {
        return Ok(ExitCode::SUCCESS);
    };
    let rec = load(&lib)?;
    let mut request = PlaylistRequest::new(emotion);
    request.strategy = args.strategy;
    request.limit = args.limit;
    request.separate_artists = !args.same_artist_ok;
    let list = rec.playlist(&request, &Session::new());
    if args.json {
        let out = PlaylistJson::new(&list, emotion, photo_confidence, args.strategy);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        use moodtune_app::playlist::text;
        print_lines(&text::lines(&rec, &list, emotion, photo_confidence));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_profile(args: ProfileArgs) -> Result<ExitCode> {
    let db = args.db;
    match args.command {
        ProfileCommand::Pick {
            emotion,
            add,
            songs,
        } => {
            let mut lib = open_library(db.db.as_deref())?;
            let ids = taste::set_picks(&mut lib, emotion, add, &songs)?;
            print_lines(&profile::picks_lines(&lib, emotion, &ids)?);
        }
        ProfileCommand::Show { emotion, json } => {
            let lib = open_library(db.db.as_deref())?;
            let rec = load(&lib)?;
            let emotions = emotion.map_or(Emotion::ALL.to_vec(), |e| vec![e]);
            if json {
                let out = profile::profiles_json(&rec, &emotions);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let all = emotion.is_none();
                print_lines(&profile::profiles_lines(&lib, &rec, &emotions, all)?);
            }
        }
        ProfileCommand::Clear { emotion } => {
            let mut lib = open_library(db.db.as_deref())?;
            let had = lib.picks(emotion)?.len();
            lib.set_picks(emotion, &[]).context("clearing the picks")?;
            println!("cleared {had} typical {} songs", emotion.key());
        }
    }
    Ok(ExitCode::SUCCESS)
}
