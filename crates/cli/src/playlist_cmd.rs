//! `moodtune playlist`: a mood's playlist as a file for other players (M3U8, XSPF, JSON),
//! or played by a running MPD (`--mpd`).

use anyhow::{bail, Context, Result};
use moodtune_app::open::{open_library_at, Missing};
use moodtune_app::player::{self, MpdTarget};
use moodtune_app::playlist::{playable, PlaylistRequest};
use moodtune_app::playlist_file::{render_playable, Format, Options};
use moodtune_core::{Emotion, Strategy};
use moodtune_recommend::DEFAULT_LIMIT;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    moodtune playlist --emotion happy --format m3u8 -o happy.m3u8\n  \
    moodtune playlist --photo me.jpg --format xspf -o ~/Music/mood.xspf --relative-to ~/Music\n  \
    moodtune playlist --emotion sad --strategy lift --limit 30 --format json\n  \
    moodtune playlist --emotion happy --mpd localhost:6600 --mpd-music-dir ~/Music\n\n\
    With --mpd the playlist replaces MPD's queue and plays. MPD names songs by their path\n\
    in its music folder: give that folder as this computer sees it with --mpd-music-dir;\n\
    songs outside it or without audio are left out and listed. Files MPD has not scanned\n\
    yet are scanned first (`update` of their folders). A password is read from\n\
    $MOODTUNE_MPD_PASSWORD.")]
pub struct PlaylistArgs {
    #[arg(long, value_name = "PATH", help = crate::library_cmd::DB_HELP)]
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
    /// Write the playlist as m3u8 (Extended M3U, UTF-8), xspf (XSPF version 1) or json
    /// (needed unless --mpd is given; with it, both are done).
    #[arg(
        long,
        short,
        value_name = "m3u8|xspf|json",
        required_unless_present = "mpd"
    )]
    pub format: Option<Format>,
    /// Write the playlist to this file (replaced atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE", requires = "format")]
    pub output: Option<PathBuf>,
    /// Write paths relative to this folder (usually the playlist's own), climbing with
    /// `..` where needed; a file with no relative path (another drive) stays absolute.
    #[arg(long, value_name = "DIR", requires = "format")]
    pub relative_to: Option<PathBuf>,
    /// Play the playlist in the MPD (Music Player Daemon) at this address: its queue is
    /// replaced and played. Port 6600 when none is given.
    #[arg(long, value_name = "HOST:PORT", requires = "mpd_music_dir")]
    pub mpd: Option<String>,
    /// MPD's music folder (its `music_directory`) as this computer sees it: songs are
    /// sent by their path inside it.
    #[arg(long, value_name = "DIR", requires = "mpd")]
    pub mpd_music_dir: Option<PathBuf>,
}

/// The MPD to play in, from --mpd, --mpd-music-dir and $MOODTUNE_MPD_PASSWORD.
pub fn mpd_target(addr: &str, music_dir: &Path) -> Result<MpdTarget> {
    let target = MpdTarget::new(addr, music_dir).context("--mpd-music-dir")?;
    let password = std::env::var("MOODTUNE_MPD_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    Ok(target.with_password(password))
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
    let mpd = match (&args.mpd, &args.mpd_music_dir) {
        (Some(addr), Some(dir)) => Some(mpd_target(addr, dir)?),
        _ => None,
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
    let mut request = PlaylistRequest::new(emotion);
    request.strategy = args.strategy;
    request.limit = args.limit;
    let (list, songs) = playable(&lib, &request)?;
    if let Some(format) = args.format {
        let title = format!("moodtune: {} ({})", emotion.key(), args.strategy.key());
        let relative_to = relative_to.as_deref();
        let opts = Options {
            format,
            relative_to,
            title,
        };
        let file = render_playable(&list, &songs, &opts, emotion)?;
        for note in file.notes() {
            eprintln!("{note}");
        }
        match &args.output {
            Some(path) => {
                moodtune_core::write_atomically(path, |w| w.write_all(&file.bytes))
                    .with_context(|| format!("writing {}", path.display()))?;
                let (n, key) = (file.tracks, emotion.key());
                eprintln!("wrote {n} songs for {key} to {}", path.display());
            }
            None => std::io::stdout()
                .lock()
                .write_all(&file.bytes)
                .context("writing the playlist")?,
        }
    }
    if let Some(target) = &mpd {
        let report = player::send(target, &list, &songs)?.report(emotion);
        // Standard output is the playlist's when it is written there.
        if args.format.is_none() || args.output.is_some() {
            std::io::stdout()
                .lock()
                .write_all(report.as_bytes())
                .context("writing the report")?;
        } else {
            eprint!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
