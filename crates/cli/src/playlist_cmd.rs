//! `moodtune playlist`: a mood's playlist as a file for other players (M3U8, XSPF, JSON).

use anyhow::{bail, Context, Result};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::playlist::{PlaylistRequest, Recommender};
use moodtune_app::playlist_file::{render, Format, Options};
use moodtune_core::{Emotion, Strategy};
use moodtune_recommend::{Session, DEFAULT_LIMIT};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    moodtune playlist --emotion happy --format m3u8 -o happy.m3u8\n  \
    moodtune playlist --photo me.jpg --format xspf -o ~/Music/mood.xspf --relative-to ~/Music\n  \
    moodtune playlist --emotion sad --strategy lift --limit 30 --format json")]
pub struct PlaylistArgs {
    #[arg(
        long,
        value_name = "PATH",
        help = "Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite]"
    )]
    pub db: Option<PathBuf>,
    /// The mood to make the playlist for (English name, FER2013 id 0-6, or Chinese name).
    #[arg(
        long,
        short,
        value_name = "EMOTION",
        conflicts_with = "photo",
        required_unless_present = "photo"
    )]
    pub emotion: Option<Emotion>,
    /// Read the mood from the main face in this photo.
    #[arg(long, value_name = "FACE.jpg")]
    pub photo: Option<PathBuf>,
    /// Expression model file to read the photo with instead of the shipped one.
    #[arg(long, value_name = "PATH", requires = "photo")]
    pub model: Option<PathBuf>,
    /// `match`: songs of the mood's library; `lift`: move toward calmer, happier ones.
    #[arg(long, short, default_value = "match", value_name = "match|lift")]
    pub strategy: Strategy,
    /// Number of songs asked of the recommender (those without audio are left out).
    #[arg(long, short = 'n', default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// m3u8 (Extended M3U, UTF-8), xspf (XSPF version 1) or json.
    #[arg(long, short, value_name = "m3u8|xspf|json")]
    pub format: Format,
    /// Write the playlist to this file (replaced atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write paths relative to this folder (usually the playlist's own), climbing with
    /// `..` where needed; a file with no relative path (another drive) stays absolute.
    #[arg(long, value_name = "DIR")]
    pub relative_to: Option<PathBuf>,
}

pub fn run(args: PlaylistArgs) -> Result<ExitCode> {
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let relative_to = match &args.relative_to {
        Some(dir) => Some(
            dir.canonicalize()
                .with_context(|| format!("--relative-to {}", dir.display()))?,
        ),
        None => None,
    };
    // Read the photo before touching the library.
    let emotion = match (&args.photo, args.emotion) {
        (Some(photo), _) => {
            let mood = crate::recommend_cmd::mood_of_photo(photo, args.model.as_deref())?;
            eprintln!(
                "mood from photo: {} ({:.0}%)",
                mood.emotion.key(),
                mood.confidence * 100.0
            );
            mood.emotion
        }
        (None, Some(e)) => e,
        (None, None) => {
            bail!("say what the playlist is for: --emotion EMOTION or --photo FACE.jpg")
        }
    };
    let lib = open_library_at(args.db.as_deref(), Missing::Refuse)?;
    let rec = Recommender::load(&lib).context("reading the library for the recommender")?;
    if rec.index().is_empty() {
        bail!("the library is empty: import songs with `moodtune library import PATH` or install the demo with `moodtune library demo`");
    }
    let mut request = PlaylistRequest::new(emotion);
    request.strategy = args.strategy;
    request.limit = args.limit;
    let list = rec.playlist(&request, &Session::new());
    if list.entries.is_empty() {
        bail!(
            "no songs to play for {}: no song has an emotion library yet ({} unlabelled); classify or label songs (`moodtune library classify`)",
            emotion.key(),
            list.unlabelled
        );
    }
    let songs = lib.songs().context("reading the library's songs")?;
    let file = render(
        &list,
        &songs,
        &Options {
            format: args.format,
            relative_to: relative_to.as_deref(),
            title: format!("moodtune: {} ({})", emotion.key(), args.strategy.key()),
        },
    );
    if file.without_audio > 0 {
        eprintln!("note: {} songs without audio left out", file.without_audio);
    }
    if file.missing_files > 0 {
        eprintln!(
            "note: {} songs whose audio file is missing left out",
            file.missing_files
        );
    }
    if file.tracks == 0 {
        bail!(
            "none of the {} songs for {} has an audio file: import music files (`moodtune library import FOLDER`) to make a playable playlist",
            list.entries.len(),
            emotion.key()
        );
    }
    match &args.output {
        Some(path) => {
            moodtune_core::write_atomically(path, |w| w.write_all(&file.bytes))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} songs for {} to {}",
                file.tracks,
                emotion.key(),
                path.display()
            );
        }
        None => std::io::stdout()
            .lock()
            .write_all(&file.bytes)
            .context("writing the playlist")?,
    }
    Ok(ExitCode::SUCCESS)
}
