//! `moodtune serve`: the web app of moodtune-server over the real model, face detector,
//! song library and recommender.

use crate::library_cmd::{open_library_at, Missing};
use anyhow::Context;
use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_faces::{
    load_image_bytes_within, DecodeLimits, FacePipeline, SeetaConfig, SeetaDetector,
};
use moodtune_library::{demo, FeedbackKind, Library};
use moodtune_recommend::{Index, Request, Session, Taste};
use moodtune_server::{
    Analysis, Backend, BackendError, BackendInfo, BackendResult, FaceBox, FaceResult, Feedback,
    ImportSummary, Recommendation, Song, SongId, SongPage, Strategy,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

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
    let data_dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    if lib.is_empty().context("reading the library")? {
        let report = demo::install_into(&mut lib, &data_dir.join("demo-songs"))
            .context("installing the demo library")?;
        eprintln!(
            "Installed {} demo songs in {} (import your own library from the page to replace them)",
            report.added,
            db.display()
        );
    }
    let classifier = crate::recognize_cmd::load_classifier(args.model.as_deref())?;
    let model = match &args.model {
        Some(p) => p.display().to_string(),
        None => "shipped FER model".to_string(),
    };
    let loopback = addr.ip().is_loopback();
    let backend = RealBackend::new(lib, Arc::new(classifier), model, data_dir)
        .with_upload_audio_links(args.link_uploaded_audio);

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

/// The web app's operations over the real crates. The library connection is not `Sync`,
/// so it sits behind a mutex; the recommender index is rebuilt lazily after a change,
/// ours or another process's (the CLI importing while the server runs).
pub struct RealBackend {
    lib: Mutex<Library>,
    /// Held through one upload, from saving the file to the demo clean-up.
    uploads: Mutex<()>,
    /// The index and the library's `outside_changes` it was built at.
    index: Mutex<Option<(i64, Arc<Recommender>)>>,
    /// Camera frames are small and show a close face; photos may be large group shots.
    live: FacePipeline,
    photo: FacePipeline,
    model: String,
    data_dir: PathBuf,
    /// Whether an uploaded sheet's audio column links songs to files here (`serve
    /// --link-uploaded-audio`). Off by default: a sender could otherwise have any audio
    /// file on this machine played back to it, or probe which files exist.
    upload_audio_links: bool,
}

/// The recommender index with the taste (picks, feedback) it ranks for.
type Recommender = (Index, Taste);

fn internal(e: impl std::fmt::Display) -> BackendError {
    BackendError::internal(e)
}

/// Library errors about the request (unknown song, bad file) are the client's; the rest
/// are ours.
fn lib_err(e: moodtune_library::Error) -> BackendError {
    use moodtune_library::Error as E;
    match e {
        E::SongNotFound(_) => BackendError::not_found(e),
        E::Import { .. } | E::Invalid(_) | E::Ambiguous(..) => BackendError::bad_input(e),
        _ => BackendError::internal(e),
    }
}

impl RealBackend {
    pub fn new(
        lib: Library,
        classifier: Arc<dyn ExpressionClassifier>,
        model: String,
        data_dir: PathBuf,
    ) -> Self {
        let live = FacePipeline::new(
            Arc::new(SeetaDetector::new(SeetaConfig::live())),
            classifier.clone(),
        );
        let photo = FacePipeline::new(
            Arc::new(SeetaDetector::new(SeetaConfig::photo())),
            classifier,
        );
        RealBackend {
            lib: Mutex::new(lib),
            uploads: Mutex::new(()),
            index: Mutex::new(None),
            live,
            photo,
            model,
            data_dir,
            upload_audio_links: false,
        }
    }

    /// Lets uploaded sheets link audio files on this machine (see the field).
    pub fn with_upload_audio_links(mut self, link: bool) -> Self {
        self.upload_audio_links = link;
        self
    }

    fn lib(&self) -> std::sync::MutexGuard<'_, Library> {
        // A panic while holding the lock leaves SQLite consistent (transactions), so
        // a poisoned lock is still usable.
        self.lib.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn invalidate(&self) {
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn index(&self) -> BackendResult<Arc<Recommender>> {
        let mut slot = self.index.lock().unwrap_or_else(|p| p.into_inner());
        let lib = self.lib();
        let version = lib.outside_changes().map_err(lib_err)?;
        if let Some((built_at, i)) = &*slot {
            if *built_at == version {
                return Ok(i.clone());
            }
        }
        let songs = lib.songs().map_err(lib_err)?;
        let index = Index::build(
            songs
                .into_iter()
                .map(crate::recommend_cmd::candidate)
                .collect(),
        )
        .map_err(internal)?;
        let mut taste = Taste::default();
        for (emotion, ids) in lib.all_picks().map_err(lib_err)? {
            taste.set_picks(emotion, ids);
        }
        for f in lib.feedback().map_err(lib_err)? {
            taste.add_feedback(f.song_id, feedback_kind(f.kind));
        }
        let built = Arc::new((index, taste));
        *slot = Some((version, built.clone()));
        Ok(built)
    }

    fn song_of(lib: &Library, id: SongId) -> BackendResult<Song> {
        lib.song(id)
            .map_err(lib_err)?
            .map(web_song)
            .ok_or_else(|| BackendError::not_found(format!("no song {id} in the library")))
    }
}

fn feedback_kind(k: FeedbackKind) -> moodtune_recommend::FeedbackKind {
    match k {
        FeedbackKind::Like => moodtune_recommend::FeedbackKind::Like,
        FeedbackKind::Skip => moodtune_recommend::FeedbackKind::Skip,
    }
}

fn web_song(s: moodtune_library::Song) -> Song {
    Song {
        id: s.id,
        emotion: s.emotion(),
        has_audio: s.audio_path.is_some(),
        title: s.title,
        artist: s.artist,
        tags: s.tags,
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The base name of an uploaded file, made safe to use as a file name here.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || ":*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

impl Backend for RealBackend {
    fn info(&self) -> BackendResult<BackendInfo> {
        let lib = self.lib();
        Ok(BackendInfo {
            library: lib.path().display().to_string(),
            songs: lib.len().map_err(lib_err)?,
            model: self.model.clone(),
        })
    }

    fn analyze(&self, image: &[u8]) -> BackendResult<Analysis> {
        // Tighter than for files: several requests may decode at once.
        let img =
            load_image_bytes_within(image, Path::new("the uploaded image"), DecodeLimits::UPLOAD)
                .map_err(BackendError::bad_input)?;
        let (width, height) = (img.width(), img.height());
        let pipeline = if width.max(height) <= 640 {
            &self.live
        } else {
            &self.photo
        };
        let faces = pipeline
            .analyze(&img)
            .into_iter()
            .map(|f| FaceResult {
                bbox: FaceBox {
                    x: f.bbox.x,
                    y: f.bbox.y,
                    width: f.bbox.width,
                    height: f.bbox.height,
                },
                probs: f.probabilities,
            })
            .collect();
        Ok(Analysis {
            width,
            height,
            faces,
        })
    }

    fn playlist(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> BackendResult<Vec<Recommendation>> {
        let built = self.index()?;
        let (index, taste) = &*built;
        let mut session = Session::new();
        for id in exclude {
            // The artist is not needed to exclude a song; an empty one clashes with none.
            session.mark_played(*id, "");
        }
        let recs = index.recommend(
            &Request::new(emotion).strategy(strategy).limit(limit),
            taste,
            &session,
        );
        let lib = self.lib();
        Ok(recs
            .into_iter()
            .map(|r| {
                let tags = index
                    .song(r.id)
                    .map(|s| s.tags.iter().map(|t| t.to_string()).collect())
                    .unwrap_or_default();
                Recommendation {
                    song: Song {
                        id: r.id,
                        title: r.title,
                        artist: r.artist,
                        emotion: Some(r.emotion),
                        tags,
                        has_audio: lib.audio_path(r.id).is_some(),
                    },
                    score: r.score,
                    reason: r.explanation,
                }
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
        let all = self.lib().search(query).map_err(lib_err)?;
        let matching: Vec<_> = all
            .into_iter()
            .filter(|s| emotion.is_none() || s.emotion() == emotion)
            .collect();
        Ok(SongPage {
            total: matching.len(),
            songs: matching
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(web_song)
                .collect(),
        })
    }

    fn picks(&self, emotion: Emotion) -> BackendResult<Vec<Song>> {
        let lib = self.lib();
        lib.picks(emotion)
            .map_err(lib_err)?
            .into_iter()
            .map(|id| Self::song_of(&lib, id))
            .collect()
    }

    fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> BackendResult<Vec<Song>> {
        self.lib().set_picks(emotion, songs).map_err(|e| match e {
            // An unknown id in the list is a bad request, not a missing page.
            moodtune_library::Error::SongNotFound(_) => BackendError::bad_input(e),
            e => lib_err(e),
        })?;
        self.invalidate();
        self.picks(emotion)
    }

    fn feedback(&self, song: SongId, emotion: Emotion, feedback: Feedback) -> BackendResult<()> {
        let kind = match feedback {
            Feedback::Like => FeedbackKind::Like,
            Feedback::Skip => FeedbackKind::Skip,
        };
        self.lib()
            .add_feedback_with(song, kind, Some(emotion), now_unix())
            .map_err(lib_err)?;
        self.invalidate();
        Ok(())
    }

    fn import(&self, filename: &str, bytes: &[u8]) -> BackendResult<ImportSummary> {
        // The library imports from files and remembers where songs came from, so the
        // upload is kept under the data folder (temp file, then rename).
        let name = safe_file_name(filename);
        // Only a file the library can import is written at all.
        if !moodtune_library::is_importable_file(Path::new(&name)) {
            return Err(BackendError::BadInput(format!(
                "{name}: not a song list moodtune imports (CSV, TSV, XLSX, XLSM, XLSB, XLS or ODS)"
            )));
        }
        let dir = self.data_dir.join("imports");
        std::fs::create_dir_all(&dir)
            .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(&name);
        // Uploads go one at a time: two of the same name must not overwrite each
        // other's file while the first one imports. The library itself is locked only
        // to write, so the page keeps playing while a big sheet is read.
        let _one_upload = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| internal(format!("cannot write in {}: {e}", dir.display())))?;
        {
            use std::io::Write;
            let f = tmp.as_file_mut();
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .map_err(|e| internal(format!("cannot save the upload: {e}")))?;
        }
        // A failed re-upload must not cost the copy of the last good one.
        let previous = if path.exists() {
            let kept = tempfile::NamedTempFile::new_in(&dir)
                .map_err(|e| internal(format!("cannot write in {}: {e}", dir.display())))?
                .into_temp_path();
            std::fs::rename(&path, &kept)
                .map_err(|e| internal(format!("cannot set {} aside: {e}", path.display())))?;
            Some(kept)
        } else {
            None
        };
        if let Err(e) = tmp.persist(&path) {
            if let Some(previous) = &previous {
                let _ = std::fs::rename(previous, &path);
            }
            return Err(internal(format!("cannot save {}: {e}", path.display())));
        }

        let shown = path.display().to_string();
        let batch = if self.upload_audio_links {
            moodtune_library::ImportBatch::read(&path, &mut |_| {})
        } else {
            moodtune_library::ImportBatch::read_without_audio_links(&path)
        };
        let mut lib = self.lib();
        let report = batch
            .and_then(|batch| lib.import_batch(batch))
            .map_err(|e| {
                // A file that did not import is not kept; the one it replaced comes back.
                let _ = std::fs::remove_file(&path);
                if let Some(previous) = &previous {
                    let _ = std::fs::rename(previous, &path);
                }
                let msg = e.to_string().replace(&shown, &name);
                match lib_err(e) {
                    BackendError::Internal(_) => BackendError::Internal(msg),
                    _ => BackendError::BadInput(msg),
                }
            })?;
        let mut messages: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("skipped {s}"))
            .chain(report.warnings.iter().map(|w| format!("warning {w}")))
            .map(|m| m.replace(&shown, &name))
            .collect();
        // "A user's own library replaces the demo with one import." Demo songs the
        // upload merged into (an edited export, say) are the user's now and stay.
        // The import is committed by now: a failed clean-up (the database busy with a
        // CLI import, say) is reported beside it, not as a failed import.
        let imported = report.added + report.updated + report.unchanged;
        if imported > 0 {
            let source = moodtune_library::source_of(&path);
            match lib.replace_source(demo::SOURCE, &report.song_ids, &source) {
                Ok(0) => {}
                Ok(removed) => messages.push(format!("removed the {removed} demo songs")),
                Err(e) => messages.push(format!("the demo songs were kept: {e}")),
            }
        }
        drop(lib);
        self.invalidate();
        Ok(ImportSummary {
            imported,
            skipped: report.skipped.len(),
            messages,
        })
    }

    fn audio_path(&self, song: SongId) -> BackendResult<Option<PathBuf>> {
        let lib = self.lib();
        let s = lib
            .song(song)
            .map_err(lib_err)?
            .ok_or_else(|| BackendError::not_found(format!("no song {song} in the library")))?;
        Ok(s.audio_path)
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

    /// Always the same probabilities: the tests here are about the wiring, not the model.
    struct Fixed;
    impl ExpressionClassifier for Fixed {
        fn classify_face(&self, _: &[u8], _: u32, _: u32) -> [f32; 7] {
            let mut p = [0.0; 7];
            p[Emotion::Surprise.index()] = 1.0;
            p
        }
    }

    fn backend(dir: &Path) -> RealBackend {
        let mut lib = Library::open(dir.join("library.sqlite")).unwrap();
        demo::install_into(&mut lib, &dir.join("demo-songs")).unwrap();
        RealBackend::new(lib, Arc::new(Fixed), "fixed".into(), dir.to_path_buf())
    }

    #[test]
    fn playlist_picks_feedback_and_audio_over_the_demo_library() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path());
        let info = b.info().unwrap();
        assert!(info.songs >= 14, "demo library has songs: {}", info.songs);

        let list = b
            .playlist(Emotion::Happy, Strategy::Match, &HashSet::new(), 5)
            .unwrap();
        assert!(!list.is_empty());
        assert!(list.iter().all(|r| r.song.emotion == Some(Emotion::Happy)));
        assert!(list
            .iter()
            .all(|r| r.song.has_audio && !r.reason.is_empty()));
        let first = list[0].song.id;
        let exclude: HashSet<_> = [first].into();
        let again = b
            .playlist(Emotion::Happy, Strategy::Match, &exclude, 5)
            .unwrap();
        assert!(again.iter().all(|r| r.song.id != first));

        let path = b.audio_path(first).unwrap().unwrap();
        assert!(path.is_file());
        assert!(matches!(
            b.audio_path(99_999),
            Err(BackendError::NotFound(_))
        ));

        let picked = b.set_picks(Emotion::Happy, &[first]).unwrap();
        assert_eq!(picked[0].id, first);
        assert_eq!(b.picks(Emotion::Happy).unwrap().len(), 1);
        // A pick is never recommended: the index was rebuilt after the change.
        let after = b
            .playlist(Emotion::Happy, Strategy::Match, &HashSet::new(), 50)
            .unwrap();
        assert!(after.iter().all(|r| r.song.id != first));
        assert!(matches!(
            b.set_picks(Emotion::Happy, &[first, 99_999]),
            Err(BackendError::BadInput(_))
        ));

        // A like is stored with the mood it was given in and reaches the next playlist:
        // Sad has no picks, so its list is cold until the like gives it a profile.
        let sad_before = b
            .playlist(Emotion::Sad, Strategy::Match, &HashSet::new(), 50)
            .unwrap();
        assert!(sad_before
            .iter()
            .all(|r| r.reason.contains("no typical sad songs")));
        let liked = sad_before.last().unwrap().song.id;
        b.feedback(liked, Emotion::Sad, Feedback::Like).unwrap();
        let stored = b.lib().feedback().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].song_id, stored[0].kind, stored[0].emotion),
            (liked, FeedbackKind::Like, Some(Emotion::Sad))
        );
        let sad_after = b
            .playlist(Emotion::Sad, Strategy::Match, &HashSet::new(), 50)
            .unwrap();
        assert!(sad_after
            .iter()
            .all(|r| r.reason.contains("liked sad songs")));
        let best = sad_after.iter().map(|r| r.score).fold(f32::MIN, f32::max);
        let liked_score = sad_after.iter().find(|r| r.song.id == liked).unwrap().score;
        assert_eq!(
            liked_score, best,
            "a liked song is as close as any to its own tags"
        );
        assert!(matches!(
            b.feedback(99_999, Emotion::Happy, Feedback::Skip),
            Err(BackendError::NotFound(_))
        ));

        let page = b.songs("", Some(Emotion::Sad), 0, 100).unwrap();
        assert!(page.total > 0);
        assert!(page.songs.iter().all(|s| s.emotion == Some(Emotion::Sad)));
    }

    #[test]
    fn analyze_rejects_garbage_and_finds_no_face_in_a_blank_frame() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path());
        assert!(matches!(
            b.analyze(b"definitely not a jpeg"),
            Err(BackendError::BadInput(_))
        ));
        let mut png = Vec::new();
        image::GrayImage::from_pixel(64, 48, image::Luma([120u8]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let a = b.analyze(&png).unwrap();
        assert_eq!((a.width, a.height), (64, 48));
        assert!(a.faces.is_empty());
    }

    #[test]
    fn import_replaces_the_demo_songs_and_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path());
        let csv =
            "title,artist,emotion,tags\nMy Song,Me,happy,Keyboard;Cheerful\nOther,You,sad,Piano\n";
        let s = b.import("../../evil/my songs.csv", csv.as_bytes()).unwrap();
        assert_eq!(s.imported, 2, "{s:?}");
        assert!(s.messages.iter().any(|m| m.contains("demo")), "{s:?}");
        assert_eq!(b.info().unwrap().songs, 2);
        // Kept inside the data folder, whatever the client called it.
        assert!(dir.path().join("imports/my songs.csv").is_file());
        assert!(!dir.path().join("evil").exists());
        let list = b
            .playlist(Emotion::Happy, Strategy::Match, &HashSet::new(), 5)
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].song.title, "My Song");

        let err = b
            .import("broken.xlsx", b"PK\x03\x04 not really a zip")
            .unwrap_err();
        assert!(matches!(err, BackendError::BadInput(_)), "{err:?}");
        assert!(err.to_string().contains("broken.xlsx"), "{err}");
        assert!(
            !err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        let err = b.import("notes.txt", b"hello").unwrap_err();
        assert!(matches!(err, BackendError::BadInput(_)), "{err:?}");
        let err = b.import("page.html", b"<script></script>").unwrap_err();
        assert!(err.to_string().contains("not a song list"), "{err}");
        assert_eq!(b.info().unwrap().songs, 2, "failed imports change nothing");
        // Nothing that failed is left in the imports folder.
        let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("imports"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept, ["my songs.csv"]);

        // A failed re-upload of a name keeps the copy of the last one that imported.
        let err = b.import("my songs.csv", b"1,2,3\n").unwrap_err();
        assert!(err.to_string().contains("my songs.csv"), "{err}");
        let kept = std::fs::read_to_string(dir.path().join("imports/my songs.csv")).unwrap();
        assert_eq!(kept, csv);
    }

    /// An upload names files on the server's disk: they are linked (and so played to
    /// the page) only when the server was started with `--link-uploaded-audio`.
    #[test]
    fn uploaded_sheets_link_audio_only_when_asked() {
        let outside = tempfile::tempdir().unwrap();
        let wav = outside.path().join("private.wav");
        moodtune_server::fake::write_wav_tone(&wav, 440.0, 0.2).unwrap();
        let sheet = format!(
            "title,artist,emotion,audio\nTone,Me,happy,{}\nQuiet,Me,sad,{}\n",
            wav.display(),
            outside.path().join("missing.wav").display()
        );
        for link in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let b = backend(dir.path()).with_upload_audio_links(link);
            let s = b.import("sheet.csv", sheet.as_bytes()).unwrap();
            assert_eq!(s.imported, 2, "{s:?}");
            let lib = b.lib();
            let tone = lib.find("Tone").unwrap();
            let told_missing = s.messages.iter().any(|m| m.contains("not found"));
            let told_ignored = s.messages.iter().filter(|m| m.contains("not read")).count();
            if link {
                assert_eq!(tone.audio_path, Some(wav.canonicalize().unwrap()));
                assert!(told_missing && told_ignored == 0, "{s:?}");
            } else {
                assert_eq!(tone.audio_path, None);
                // No word on which files exist; one note that the column was not read.
                assert!(!told_missing && told_ignored == 1, "{s:?}");
            }
        }
    }

    #[test]
    fn songs_another_process_adds_are_recommended_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path());
        let happy = |b: &RealBackend| {
            b.playlist(Emotion::Happy, Strategy::Match, &HashSet::new(), 100)
                .unwrap()
                .into_iter()
                .map(|r| r.song.title)
                .collect::<Vec<_>>()
        };
        assert!(!happy(&b).contains(&"From the CLI".to_string()));
        // Another connection to the same file, as `moodtune library import` would be.
        let mut cli = Library::open(dir.path().join("library.sqlite")).unwrap();
        let mut song = moodtune_library::NewSong::new("From the CLI", "Me").tags(["Cheerful"]);
        song.manual_emotion = Some(Emotion::Happy);
        cli.add_song(&song).unwrap();
        assert!(happy(&b).contains(&"From the CLI".to_string()));
    }

    #[test]
    fn an_upload_merged_into_demo_songs_keeps_them_as_the_users_own() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path());
        let demo_songs = b.info().unwrap().songs;
        let edited = b.lib().songs().unwrap()[0].clone();
        let sheet = format!(
            "moodtune_id,title,artist,tags\n{},{},{},Mine\nNew Song,Me,Calm\n",
            edited.id, edited.title, edited.artist
        );
        let s = b.import("edited export.csv", sheet.as_bytes()).unwrap();
        assert_eq!(s.imported, 2, "{s:?}");
        let removed = format!("removed the {} demo songs", demo_songs - 1);
        assert!(s.messages.contains(&removed), "{s:?}");
        let lib = b.lib();
        assert_eq!(lib.len().unwrap(), 2);
        let kept = lib.song(edited.id).unwrap().unwrap();
        assert!(kept.has_tag("Mine"), "{kept:?}");
        assert!(
            kept.source.ends_with("edited export.csv"),
            "{}",
            kept.source
        );
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

    #[test]
    fn upload_names_are_made_safe() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\me\\songs.xlsx"), "songs.xlsx");
        assert_eq!(safe_file_name(".hidden.csv"), "hidden.csv");
        assert_eq!(safe_file_name("a\u{0}b?.csv"), "a_b_.csv");
        assert_eq!(safe_file_name(""), "upload");
    }
}
