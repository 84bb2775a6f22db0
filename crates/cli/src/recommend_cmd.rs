//! `moodtune recommend` and `moodtune profile`: the recommender over the song library.
//!
//! The library (SQLite) holds songs, picks and feedback; this module converts them into
//! the recommender's own types and prints the result.

use anyhow::{bail, Context, Result};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::playlist::{Entry, PlaylistRequest, Recommender};
use moodtune_app::taste;
use moodtune_core::Emotion;
use moodtune_library::Library;
use moodtune_recommend::{ProfileSummary, Session, Strategy, DEFAULT_LIMIT, DEFAULT_PICKS};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DB_HELP: &str =
    "Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite]";

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

#[derive(clap::Subcommand)]
pub enum ProfileCommand {
    /// Set the typical songs for an emotion (ids or titles; three by default in the
    /// design, any number allowed). Replaces the earlier picks unless --add.
    Pick {
        #[arg(long, value_name = "PATH", help = DB_HELP)]
        db: Option<PathBuf>,
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
        #[arg(long, value_name = "PATH", help = DB_HELP)]
        db: Option<PathBuf>,
        /// Only this emotion's profile (default: all seven).
        #[arg(long, short, value_name = "EMOTION")]
        emotion: Option<Emotion>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove the picks of an emotion (feedback is kept).
    Clear {
        #[arg(long, value_name = "PATH", help = DB_HELP)]
        db: Option<PathBuf>,
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
    let classifier = moodtune_app::detect::load_classifier(model)?;
    let mood = moodtune_app::mood::mood_from_photo(photo, std::sync::Arc::new(classifier))?;
    if let Some(note) = mood.caution(photo) {
        eprintln!("note: {note}");
    }
    Ok(mood)
}

/// Everything the recommender needs from the library, read once.
fn load(lib: &Library) -> Result<Recommender> {
    Recommender::load(lib).context("reading the library for the recommender")
}

#[derive(Serialize)]
struct JsonOut<'a> {
    emotion: Emotion,
    /// Set when the emotion came from a photo.
    photo_confidence: Option<f32>,
    strategy: Strategy,
    songs: &'a [Entry],
    /// Songs of the library with no emotion library yet.
    unlabelled: usize,
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
    let (index, taste) = (rec.index(), rec.taste());
    let mut request = PlaylistRequest::new(emotion);
    request.strategy = args.strategy;
    request.limit = args.limit;
    request.separate_artists = !args.same_artist_ok;
    let list = rec.playlist(&request, &Session::new());

    if args.json {
        let out = JsonOut {
            emotion,
            photo_confidence,
            strategy: args.strategy,
            songs: &list.entries,
            unlabelled: list.unlabelled,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    match photo_confidence {
        Some(c) => println!("mood from photo: {} ({:.0}%)", emotion.key(), c * 100.0),
        None => println!("mood: {}", emotion.key()),
    }
    if index.is_empty() {
        println!("the library is empty: import songs with `moodtune library import PATH` or install the demo with `moodtune library demo`");
        return Ok(ExitCode::SUCCESS);
    }
    if list.unlabelled > 0 {
        println!(
            "note: {} songs have no emotion library yet and are never recommended (`moodtune library list --unlabelled`)",
            list.unlabelled
        );
    }
    if list.entries.is_empty() {
        println!(
            "no songs to recommend: the {} library has {} songs and your picks are excluded; label or classify more songs (`moodtune library classify`)",
            emotion.key(),
            list.library_len
        );
        return Ok(ExitCode::SUCCESS);
    }
    if list.filled() > 0 {
        println!(
            "note: the {} library has {} songs; {} more come from the nearest moods",
            emotion.key(),
            list.library_len,
            list.filled()
        );
    }
    let recs: Vec<_> = list.entries.iter().map(|e| &e.rec).collect();
    if let Some(cold) = recs.iter().find(|r| r.cold_start) {
        let e = cold.emotion;
        if index.profile(e, taste).picks.is_empty() {
            println!(
                "tip: pick typical songs to personalise: moodtune profile pick --emotion {} SONG...",
                e.key()
            );
        } else {
            println!(
                "tip: your typical {} songs leave no tags to match (they have none, or skips outweigh them); add tags: moodtune library tag SONG --add TAG",
                e.key()
            );
        }
    }
    for (i, r) in recs.iter().enumerate() {
        let artist = if r.artist.is_empty() {
            "unknown artist"
        } else {
            &r.artist
        };
        println!(
            "{:>3}. [{}] {} - {}  (id {})",
            i + 1,
            r.emotion.key(),
            artist,
            r.title,
            r.id
        );
        println!("     {}", r.explanation);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_profile(cmd: ProfileCommand) -> Result<ExitCode> {
    match cmd {
        ProfileCommand::Pick {
            db,
            emotion,
            add,
            songs,
        } => pick(db.as_deref(), emotion, add, &songs),
        ProfileCommand::Show { db, emotion, json } => show(db.as_deref(), emotion, json),
        ProfileCommand::Clear { db, emotion } => {
            let mut lib = open_library(db.as_deref())?;
            let had = lib.picks(emotion)?.len();
            lib.set_picks(emotion, &[]).context("clearing the picks")?;
            println!("cleared {had} typical {} songs", emotion.key());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pick(db: Option<&Path>, emotion: Emotion, add: bool, songs: &[String]) -> Result<ExitCode> {
    let mut lib = open_library(db)?;
    let ids = taste::set_picks(&mut lib, emotion, add, songs)?;
    println!("typical {} songs ({}):", emotion.key(), ids.len());
    for id in &ids {
        if let Some(song) = lib.song(*id)? {
            // A pick outside the emotion's library shapes the taste but is never played
            // for that emotion: say why.
            let e = emotion.key();
            let warn = match song.emotion() {
                Some(label) if label == emotion => String::new(),
                Some(label) => format!("  (note: labelled {}, not {e})", label.key()),
                None => format!("  (note: not labelled yet, so not in the {e} library)"),
            };
            println!("  {id}: {} - {}{warn}", song.artist, song.title);
        }
    }
    if ids.len() != DEFAULT_PICKS {
        println!("(the design uses {DEFAULT_PICKS} typical songs per emotion; any number works)");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ProfileJson {
    #[serde(flatten)]
    summary: ProfileSummary,
    pick_titles: Vec<String>,
}

fn show(db: Option<&Path>, emotion: Option<Emotion>, json: bool) -> Result<ExitCode> {
    let lib = open_library(db)?;
    let rec = load(&lib)?;
    let (index, taste) = (rec.index(), rec.taste());
    let emotions: Vec<Emotion> = match emotion {
        Some(e) => vec![e],
        None => Emotion::ALL.to_vec(),
    };
    let title = |id: i64| {
        index
            .song(id)
            .map_or(format!("#{id}"), |s| format!("{} - {}", s.artist, s.title))
    };
    if json {
        let out: Vec<ProfileJson> = emotions
            .iter()
            .map(|&e| {
                let summary = index.profile(e, taste);
                let pick_titles = summary.picks.iter().map(|&id| title(id)).collect();
                ProfileJson {
                    summary,
                    pick_titles,
                }
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for e in emotions {
        let p = index.profile(e, taste);
        let untouched = p.picks.is_empty() && p.missing_picks.is_empty() && p.likes + p.skips == 0;
        if untouched && emotion.is_none() {
            println!("{}: no picks or feedback yet", e.key());
            continue;
        }
        println!(
            "{} ({} songs in the library):",
            e.key(),
            index.library_len(e)
        );
        if p.picks.is_empty() {
            println!(
                "  no typical songs picked (moodtune profile pick --emotion {} SONG...)",
                e.key()
            );
        }
        for &id in &p.picks {
            let note = if !p.off_library_picks.contains(&id) {
                String::new()
            } else {
                match lib.song(id)?.and_then(|s| s.emotion()) {
                    Some(label) => format!("  (labelled {})", label.key()),
                    None => "  (not labelled yet)".to_string(),
                }
            };
            println!("  pick {id}: {}{note}", title(id));
        }
        for id in &p.missing_picks {
            println!("  pick {id}: no longer in the library");
        }
        if p.likes + p.skips > 0 {
            println!("  feedback: {} likes, {} skips", p.likes, p.skips);
        }
        if p.weights.is_empty() {
            println!("  tag weights: none (recommendations fall back to label confidence)");
        } else {
            let w: Vec<String> = p.weights.iter().map(|(t, w)| format!("{t} {w}")).collect();
            println!("  tag weights: {}", w.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use moodtune_library::NewSong;

    /// A library file in the temp dir, removed (with SQLite's side files) on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> TempDb {
            let p = std::env::temp_dir().join(format!(
                "moodtune-recommend-cmd-{}-{name}.sqlite",
                std::process::id()
            ));
            let db = TempDb(p);
            db.remove();
            db
        }

        fn remove(&self) {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut s = self.0.clone().into_os_string();
                s.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(s));
            }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            self.remove();
        }
    }

    /// The SPEC.md worked example, manually labelled Happy, one artist per song.
    fn spec_library(db: &TempDb) -> Library {
        let mut lib = Library::open(&db.0).unwrap();
        for (i, (title, tags)) in moodtune_recommend::WORKED_EXAMPLE_SONGS.iter().enumerate() {
            let song = NewSong::new(*title, format!("artist {i}"))
                .tags(tags.iter().copied())
                .emotion(Emotion::Happy);
            lib.add_song(&song).unwrap();
        }
        lib
    }

    fn args(db: &TempDb) -> RecommendArgs {
        RecommendArgs {
            db: Some(db.0.clone()),
            emotion: None,
            photo: None,
            model: None,
            strategy: Strategy::Match,
            limit: DEFAULT_LIMIT,
            same_artist_ok: false,
            json: false,
            like: Vec::new(),
            skip: Vec::new(),
        }
    }

    #[test]
    fn feedback_alone_is_recorded_and_clear_removes_the_picks() {
        let db = TempDb::new("feedback");
        drop(spec_library(&db));
        let mut a = args(&db);
        a.like = vec!["Temptation".into()];
        a.skip = vec!["Light".into()];
        run(a).unwrap();
        assert_eq!(Library::open(&db.0).unwrap().feedback().unwrap().len(), 2);
        pick(Some(&db.0), Emotion::Happy, false, &["Rise".to_string()]).unwrap();
        run_profile(ProfileCommand::Clear {
            db: Some(db.0.clone()),
            emotion: Emotion::Happy,
        })
        .unwrap();
        assert!(Library::open(&db.0)
            .unwrap()
            .picks(Emotion::Happy)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn missing_mood_and_bad_photo_are_clear_errors() {
        let db = TempDb::new("errors");
        let err = run(args(&db)).unwrap_err();
        assert!(format!("{err:#}").contains("--emotion"));
        let mut a = args(&db);
        a.photo = Some(PathBuf::from("/nonexistent/face.jpg"));
        let err = run(a).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/face.jpg"),
            "{err:#}"
        );
        // A readable photo with a missing --model: the error names the model file.
        let photo = std::env::temp_dir().join(format!("moodtune-face-{}.png", std::process::id()));
        image::GrayImage::from_pixel(64, 64, image::Luma([128u8]))
            .save(&photo)
            .unwrap();
        let mut a = args(&db);
        a.photo = Some(photo.clone());
        a.model = Some(PathBuf::from("/nonexistent/model.safetensors"));
        let err = run(a).unwrap_err();
        std::fs::remove_file(&photo).ok();
        assert!(
            format!("{err:#}").contains("/nonexistent/model.safetensors"),
            "{err:#}"
        );
    }
}
