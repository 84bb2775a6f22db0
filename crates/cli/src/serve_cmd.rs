//! `moodtune serve`: the web app of moodtune-server over the real model, face detector,
//! song library and recommender.

use anyhow::Context;
use moodtune_app::open::{data_dir_of, install_demo_if_empty, open_library_at, Missing};
use moodtune_app::web::WebApp;
use moodtune_app::Error;
use moodtune_core::{Emotion, FeedbackKind};
use moodtune_server::{
    Analysis, Backend, BackendError, BackendInfo, BackendResult, FaceResult, ImportSummary,
    Recommendation, Song, SongId, SongPage, Strategy,
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
}

impl ServeArgs {
    fn listen_addr(&self) -> SocketAddr {
        match self.port {
            Some(port) => SocketAddr::from(([127, 0, 0, 1], port)),
            None => self.addr,
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let addr = args.listen_addr();
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
    let loopback = addr.ip().is_loopback();
    let app = WebApp::new(lib, Arc::new(classifier), model, data_dir_of(&db))
        .with_upload_audio_links(args.link_uploaded_audio);
    let backend = Web(app);

    if !loopback {
        eprintln!(
            "warning: listening on {}, not on loopback: anyone who can reach this address can \
             use the app, see your library and send it images. Use only on a network you trust.",
            addr
        );
    }
    let config = moodtune_server::ServerConfig {
        loopback_hosts_only: loopback,
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

    fn analyze(&self, image: &[u8]) -> BackendResult<Analysis> {
        let a = self.0.analyze(image).map_err(wire_error)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use moodtune_library::Library;
    use std::path::Path;

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
    fn first_run_installs_the_demo_and_a_busy_port_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = busy.local_addr().unwrap();
        let db = dir.path().join("data/library.sqlite");
        let err = run(ServeArgs {
            db: Some(db.clone()),
            addr,
            port: None,
            open: false,
            model: None,
            link_uploaded_audio: false,
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("cannot listen on {addr}")), "{msg}");
        // The demo library was created beside the database before the bind failed.
        assert!(Library::open(&db).unwrap().len().unwrap() > 0);
        assert!(dir.path().join("data/demo-songs").is_dir());
    }

    #[test]
    fn the_server_plays_every_audio_type_the_library_links() {
        for ext in moodtune_library::AUDIO_EXTENSIONS {
            let path = PathBuf::from(format!("song.{ext}"));
            let mime = moodtune_server::audio_mime(&path)
                .unwrap_or_else(|| panic!("no media type for .{ext}"));
            assert_eq!(mime.type_(), "audio", ".{ext}");
            assert!(moodtune_library::is_audio_file(&path));
        }
        assert!(moodtune_server::audio_mime(Path::new("page.html")).is_none());
    }
}
