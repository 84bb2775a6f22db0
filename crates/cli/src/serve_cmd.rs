//! `moodtune serve`: the web app of moodtune-server over the real model, face detector,
//! song library and recommender.

use anyhow::Context;
use moodtune_app::open::{data_dir_of, install_demo_if_empty, open_library_at, Missing};
use moodtune_app::player::{self, MpdFollower, MpdTarget};
use moodtune_app::web::WebApp;
use moodtune_app::Error;
use moodtune_core::{Emotion, FeedbackKind};
use moodtune_server::{
    Analysis, Backend, BackendError, BackendInfo, BackendResult, FaceResult, HostAllowlist,
    ImportProgress, ImportSummary, Recommendation, Song, SongId, SongPage, Strategy,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite].
    /// An empty library gets the demo songs on first run.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Address to listen on. Only loopback addresses keep the app private to this computer.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Another host name (or address) the page may be reached by, beside localhost and
    /// the --addr address, optionally with :PORT: a LAN name or address when listening
    /// on 0.0.0.0, a reverse proxy's name. Repeatable. Requests naming any other host are
    /// refused (403), so a web site cannot reach the app through DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME", value_parser = parse_allowed_host)]
    allow_host: Vec<String>,
    /// Port to listen on, on loopback: shorthand for --addr 127.0.0.1:PORT.
    #[arg(long, value_name = "PORT", conflicts_with = "addr")]
    port: Option<u16>,
    /// Open the page in the default web browser.
    #[arg(long)]
    open: bool,
    /// Expression model file [default: the shipped model].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Let song lists uploaded from the page link the audio files their audio column
    /// names on this computer. Off by default: whoever can reach the server (another
    /// user of this machine, a proxy) could otherwise have any audio file here played
    /// back to them. `moodtune library import` always links them.
    #[arg(long)]
    link_uploaded_audio: bool,
    /// Play the page's playlist in the MPD (Music Player Daemon) at this address as well:
    /// each time the mood (or strategy) changes, MPD's queue is replaced with the new
    /// playlist and played. Port 6600 when none is given; a password is read from
    /// $MOODTUNE_MPD_PASSWORD. MPD trouble is printed here and never stops the page.
    #[arg(long, value_name = "HOST:PORT", requires = "mpd_music_dir")]
    mpd: Option<String>,
    /// MPD's music folder (its `music_directory`) as this computer sees it: songs are
    /// sent by their path inside it; songs outside it are left out.
    #[arg(long, value_name = "DIR", requires = "mpd")]
    mpd_music_dir: Option<PathBuf>,
}

/// Checks an --allow-host value when the command line is read.
fn parse_allowed_host(name: &str) -> Result<String, String> {
    HostAllowlist::loopback().allow(name)?;
    Ok(name.trim().to_string())
}

impl ServeArgs {
    /// The names requests may use: loopback, the --allow-host ones (the server adds the
    /// address it listens on).
    fn allowed_hosts(&self) -> anyhow::Result<HostAllowlist> {
        let mut hosts = HostAllowlist::loopback();
        for name in &self.allow_host {
            hosts.allow(name).map_err(anyhow::Error::msg)?;
        }
        Ok(hosts)
    }

    fn listen_addr(&self) -> SocketAddr {
        match self.port {
            Some(port) => SocketAddr::from(([127, 0, 0, 1], port)),
            None => self.addr,
        }
    }
}

/// glibc gives each thread that allocates concurrently its own arena, up to eight per
/// core, and keeps what was freed in each. The server's blocking threads take turns at
/// recommender loads (about 200 MB for 150,000 songs, freed at once), so every arena
/// that served one kept that much: the soak test saw the resident memory ratchet from
/// 110 MiB to 750 MiB. Two arenas still spread the frame decoders' small allocations,
/// and a load's memory is reused by the next.
fn share_freed_memory_between_threads() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before the server's
    // threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    share_freed_memory_between_threads();
    let addr = args.listen_addr();
    let allowed_hosts = args.allowed_hosts()?;
    let mpd = match (&args.mpd, &args.mpd_music_dir) {
        (Some(addr), Some(dir)) => Some(crate::playlist_cmd::mpd_target(addr, dir)?),
        _ => None,
    };
    let mut lib = open_library_at(args.db.as_deref(), Missing::Create)?;
    let db = lib.path().to_path_buf();
    if let Some(report) = install_demo_if_empty(&mut lib)? {
        eprintln!(
            "Installed {} demo songs in {} (import your own library from the page to replace them)",
            report.added,
            db.display()
        );
    }
    let classifier = moodtune_app::detect::load_classifier(args.model.as_deref())?;
    let model = moodtune_app::detect::model_name(args.model.as_deref());
    // `[::ffff:127.0.0.1]` is loopback too.
    let loopback = moodtune_server::is_loopback_ip(addr.ip());
    let mut app = WebApp::new(lib, Arc::new(classifier), model, data_dir_of(&db))?
        .with_upload_audio_links(args.link_uploaded_audio);
    if let Some(target) = mpd {
        app = app.with_mpd(follow_in_mpd(target));
    }
    let backend = Web(app);

    if !loopback {
        eprintln!(
            "warning: listening on {}, not on loopback: anyone who can reach this address can \
             use the app, see your library and send it images. Use only on a network you trust.",
            addr
        );
        if addr.ip().is_unspecified() && args.allow_host.is_empty() {
            eprintln!(
                "note: only requests to localhost or {addr} are answered; give the name or \
                 address other computers use with --allow-host NAME (e.g. --allow-host {})",
                if addr.is_ipv4() {
                    "192.168.1.20"
                } else {
                    "[fd00::20]"
                }
            );
        }
    }
    let config = moodtune_server::ServerConfig {
        allowed_hosts,
        ..Default::default()
    };
    let open = args.open;
    moodtune_server::run_blocking(Arc::new(backend), addr, config, |addr| {
        let url = if addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}/", addr.port())
        } else {
            format!("http://{addr}/")
        };
        println!("moodtune is running at {url}  (Ctrl-C stops it)");
        if open {
            open_browser(&url);
        }
    })
    .context("running the web server")?;
    Ok(ExitCode::SUCCESS)
}

/// The MPD follower, reporting on standard error; MPD is asked once at start so a wrong
/// address shows at once (the page runs either way).
fn follow_in_mpd(target: MpdTarget) -> MpdFollower {
    match player::check(&target) {
        Ok(version) => eprintln!(
            "mpd: playing the page's playlists in MPD {version} at {} (music folder {})",
            target.addr,
            target.music_dir.display()
        ),
        Err(e) => eprintln!("mpd: warning: {e:#}; trying again when the mood changes"),
    }
    MpdFollower::start(
        target,
        Box::new(|emotion, _strategy, result| match result {
            Ok(sent) => eprintln!("mpd: {}: {}", emotion.key(), sent.summary()),
            Err(e) => eprintln!("mpd: error: the {} playlist: {e:#}", emotion.key()),
        }),
    )
}

fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(cmd)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("could not open a browser ({cmd}: {e}); open {url} yourself");
    }
}

/// The web app behind the server's [`Backend`] trait: the one place where the app's
/// types become the server's wire types.
pub struct Web(pub WebApp);

fn wire_error(e: Error) -> BackendError {
    match e {
        Error::BadInput(m) => BackendError::BadInput(m),
        Error::NotFound(m) => BackendError::NotFound(m),
        Error::Busy(m) => BackendError::Busy(m),
        Error::Internal(m) => BackendError::Internal(m),
    }
}

fn wire_song(s: moodtune_library::Song) -> Song {
    Song {
        id: s.id,
        emotion: s.emotion(),
        has_audio: s.audio_path.is_some(),
        title: s.title,
        artist: s.artist,
        tags: s.tags,
    }
}

fn wire_face(f: &moodtune_faces::FaceResult) -> FaceResult {
    FaceResult {
        bbox: f.bbox,
        probs: f.probabilities,
        flags: f
            .flags
            .iter()
            .map(|flag| format!("{flag:?}").to_lowercase())
            .collect(),
    }
}

impl Backend for Web {
    fn info(&self) -> BackendResult<BackendInfo> {
        Ok(BackendInfo {
            library: self.0.library_name(),
            songs: self.0.song_count().map_err(wire_error)?,
            model: self.0.model_name().to_string(),
        })
    }

    fn analyze(&self, image: &[u8], stream: Option<&str>) -> BackendResult<Analysis> {
        let a = self.0.analyze(image, stream).map_err(wire_error)?;
        Ok(Analysis {
            width: a.width,
            height: a.height,
            faces: a.faces.iter().map(wire_face).collect(),
            main_face: a.main_face,
        })
    }

    fn playlist(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> BackendResult<Vec<Recommendation>> {
        let (list, songs) = self
            .0
            .playlist(emotion, strategy, exclude, limit)
            .map_err(wire_error)?;
        Ok(list
            .entries
            .into_iter()
            .filter_map(|e| {
                let song = songs.iter().find(|s| s.id == e.rec.id)?.clone();
                Some(Recommendation {
                    song: Song {
                        // The library it was recommended from (a `lift` step's).
                        emotion: Some(e.rec.emotion),
                        ..wire_song(song)
                    },
                    score: e.rec.score,
                    reason: e.rec.explanation,
                    filled: e.filled_for.is_some(),
                })
            })
            .collect())
    }

    fn songs(
        &self,
        query: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> BackendResult<SongPage> {
        let page = self
            .0
            .songs(query, emotion, offset, limit)
            .map_err(wire_error)?;
        Ok(SongPage {
            total: page.total,
            songs: page.songs.into_iter().map(wire_song).collect(),
        })
    }

    fn picks(&self, emotion: Emotion) -> BackendResult<Vec<Song>> {
        let songs = self.0.picks(emotion).map_err(wire_error)?;
        Ok(songs.into_iter().map(wire_song).collect())
    }

    fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> BackendResult<Vec<Song>> {
        let songs = self.0.set_picks(emotion, songs).map_err(wire_error)?;
        Ok(songs.into_iter().map(wire_song).collect())
    }

    fn feedback(&self, song: SongId, emotion: Emotion, kind: FeedbackKind) -> BackendResult<()> {
        self.0.feedback(song, emotion, kind).map_err(wire_error)
    }

    fn import_progress(&self) -> BackendResult<ImportProgress> {
        let p = self.0.upload_progress();
        Ok(ImportProgress {
            active: p.active,
            stage: p.stage,
            done: p.done,
            total: p.total,
            x_real_time: p.x_real_time,
        })
    }

    fn import(&self, filename: &str, bytes: &[u8]) -> BackendResult<ImportSummary> {
        let s = self.0.import_upload(filename, bytes).map_err(wire_error)?;
        Ok(ImportSummary {
            imported: s.imported,
            skipped: s.skipped,
            messages: s.messages,
        })
    }

    fn audio_path(&self, song: SongId) -> BackendResult<Option<PathBuf>> {
        self.0.audio_path(song).map_err(wire_error)
    }

    fn playlist_file(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        format: moodtune_server::PlaylistFileFormat,
        limit: usize,
    ) -> BackendResult<Option<(String, Vec<u8>)>> {
        use moodtune_app::playlist_file::Format;
        let format = match format {
            moodtune_server::PlaylistFileFormat::M3u8 => Format::M3u8,
            moodtune_server::PlaylistFileFormat::Xspf => Format::Xspf,
        };
        let file = self
            .0
            .playlist_file(emotion, strategy, format, limit)
            .map_err(wire_error)?;
        Ok(Some((format.content_type().to_string(), file.bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct ServeCli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn port_is_shorthand_for_a_loopback_address() {
        let parse = |args: &[&str]| {
            ServeCli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
        };
        let addr = |args: &[&str]| parse(args).unwrap().serve.listen_addr().to_string();
        assert_eq!(addr(&[]), "127.0.0.1:7878");
        assert_eq!(addr(&["--port", "9000"]), "127.0.0.1:9000");
        assert_eq!(addr(&["--addr", "0.0.0.0:80"]), "0.0.0.0:80");
        assert!(parse(&["--port", "9000", "--addr", "127.0.0.1:1"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
    }

    #[test]
    fn allowed_hosts_are_checked_when_read_and_mapped_loopback_is_loopback() {
        let parse = |args: &[&str]| {
            ServeCli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
        };
        let args = parse(&[
            "--addr",
            "0.0.0.0:7878",
            "--allow-host",
            "music.example.org",
            "--allow-host",
            "192.168.1.20:7878",
        ])
        .unwrap()
        .serve;
        let hosts = args.allowed_hosts().unwrap();
        assert!(hosts.allows_host("music.example.org:7878"));
        assert!(hosts.allows_host("192.168.1.20:7878"));
        assert!(hosts.allows_host("localhost:7878"));
        assert!(!hosts.allows_host("evil.example:7878"));
        let err = parse(&["--allow-host", "http://x/"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a host name"), "{err}");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:7878".parse().unwrap();
        assert!(moodtune_server::is_loopback_ip(mapped.ip()));
    }
}
