//! The web app's operations over the real crates, as one object the server shares
//! between threads. It speaks the app's own types; moodtune-web converts them to the
//! server's wire types at one boundary.

use crate::detect::{live_tracker, pipeline, Scene};
use crate::error::{Error, Result};
use crate::mood::main_face;
use crate::playlist::{Playlist, PlaylistRequest, Recommender};
use crate::streams::Trackers;
use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_faces::{load_luma_bytes_within, DecodeLimits, FacePipeline};
use moodtune_library::FeedbackKind;
use moodtune_library::{Library, SongId};
// The types of the web app's answers, so its adapter needs no domain crate of its own.
pub use moodtune_faces::FaceResult;
pub use moodtune_library::Song;
use moodtune_recommend::Session;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The faces of one image and the one that sets the mood.
#[derive(Debug, Clone)]
pub struct FrameAnalysis {
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceResult>,
    /// Index in `faces` of the main face ([`crate::mood::main_face`]).
    pub main_face: Option<usize>,
}

/// One page of a library listing.
#[derive(Debug, Clone)]
pub struct SongPage {
    /// Songs matching the query, over all pages.
    pub total: usize,
    pub songs: Vec<Song>,
}

/// Where the running (or last) upload is, for the page's progress display.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UploadProgress {
    /// An upload is being imported now.
    pub active: bool,
    /// "reading", "analysing audio", "classifying" or "done".
    pub stage: String,
    /// Files done and to do in the stage that counts them (audio analysis).
    pub done: usize,
    pub total: usize,
    /// Seconds of audio analysed per second, in the audio stage.
    pub x_real_time: f64,
}

/// The outcome of an uploaded song list.
#[derive(Debug, Clone)]
pub struct UploadSummary {
    pub imported: usize,
    pub skipped: usize,
    /// Skipped rows and why, warnings, the demo songs that were replaced, ...
    pub messages: Vec<String>,
}

/// See the module documentation.
///
/// Two connections to the library: writes (picks, feedback, uploads) go through one,
/// reads (listing, picks, audio, counts, recommender loads) through the other. SQLite's
/// WAL mode lets a reader go on while a writer writes, so the page keeps listing and
/// playing while an upload imports or a write waits out a CLI import's lock. Lock order:
/// `writer` before `reader`, `recommender` before `reader`; the reader is never held
/// across a write.
pub struct WebApp {
    writer: Mutex<Library>,
    /// `None` for an in-memory library (a second connection would be another
    /// database): its reads use the writer.
    reader: Option<Mutex<Library>>,
    /// Held through one upload, from saving the file to the demo clean-up.
    uploads: Mutex<()>,
    /// The loaded recommender (see [`Loaded`]).
    recommender: Mutex<Option<Loaded>>,
    /// Recommender loads begun plus loads ended: odd while one runs. A write that a
    /// load overlapped cannot tell whether the load saw it.
    loads: AtomicU64,
    /// Camera frames are small and show a close face; photos may be large group shots.
    live: FacePipeline,
    photo: FacePipeline,
    /// The faces each camera stream shows, followed between frames.
    trackers: Trackers,
    model: String,
    data_dir: PathBuf,
    /// Whether an uploaded sheet's audio column links songs to files here (`serve
    /// --link-uploaded-audio`). Off by default: a sender could otherwise have any audio
    /// file on this machine played back to it, or probe which files exist.
    upload_audio_links: bool,
    enrich: crate::enrich::Options,
    progress: Arc<Mutex<UploadProgress>>,
    /// Sends the page's playlist to MPD when its mood changes (`serve --mpd`).
    mpd: Option<crate::player::MpdFollower>,
    write_retry_budget: Duration,
}

/// How long a small write (a like, a skip, picks) keeps trying while another program
/// holds the library's write lock: a big CLI import writes in one transaction, and the
/// page's like should land once it commits rather than fail after the first busy wait.
pub const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(30);

/// Runs `write` again while it fails with [`Error::Busy`] (each try already waited the
/// library's busy timeout) until `budget` has passed; then the busy error stands.
fn retry_while_busy<T>(budget: Duration, mut write: impl FnMut() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    loop {
        match write() {
            Err(Error::Busy(_)) if started.elapsed() < budget => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// A recommender load this quick (a few thousand songs) is not worth serving a stale
/// one for.
const QUICK_LOAD: Duration = Duration::from_millis(50);

/// A recommender and when it was loaded.
struct Loaded {
    /// The reader's `outside_changes` it was loaded at (the reader sees the writer's
    /// commits as outside changes too); behind the library's while another program
    /// keeps writing (see [`Loaded::may_reload`]).
    at: i64,
    rec: Recommender,
    loaded: Instant,
    took: Duration,
}

impl Loaded {
    /// Whether a library changed since the load may be loaded again now. While another
    /// program writes to the library for a while (a CLI import commits its songs, then
    /// their predictions), every request would otherwise reload the whole library: with
    /// 150,000 songs a second per load, playlists waited seconds behind loads and each
    /// load's transient memory piled up in the allocator (1.4 GiB in the soak test).
    /// So a library that takes long to load is reloaded at most a fifth of the time:
    /// the previous recommender serves meanwhile, at most four loads' time behind. One
    /// that loads within [`QUICK_LOAD`] is reloaded on every change.
    fn may_reload(&self) -> bool {
        self.took < QUICK_LOAD || self.loaded.elapsed() >= self.took * 4
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves SQLite consistent (transactions) and the
    // caches at worst stale, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What [`WebApp::open`] did to the library besides opening it.
pub struct Opened {
    pub app: WebApp,
    /// The library file.
    pub db: PathBuf,
    /// The demo songs it installed, the library being empty.
    pub demo: Option<moodtune_library::demo::DemoReport>,
}

impl WebApp {
    /// The web app of `moodtune serve`: the library at `db` (the default one when
    /// `None`; created, with the demo songs when empty) and the expression model file
    /// (the shipped one when `None`).
    pub fn open(db: Option<&Path>, model: Option<&Path>) -> anyhow::Result<Opened> {
        use crate::open::{data_dir_of, install_demo_if_empty, open_library_at, Missing};
        let mut lib = open_library_at(db, Missing::Create)?;
        let db = lib.path().to_path_buf();
        let demo = install_demo_if_empty(&mut lib)?;
        let classifier = crate::detect::load_classifier(model)?;
        let name = crate::detect::model_name(model);
        let app = WebApp::new(lib, Arc::new(classifier), name, data_dir_of(&db))?;
        Ok(Opened { app, db, demo })
    }

    /// `data_dir` keeps the uploaded song lists (under `imports/`). Opens a second
    /// connection to `lib`'s file for reads.
    pub fn new(
        lib: Library,
        classifier: Arc<dyn ExpressionClassifier>,
        model: String,
        data_dir: PathBuf,
    ) -> Result<Self> {
        let reader = if lib.path() == Path::new(":memory:") {
            None
        } else {
            Some(Mutex::new(Library::open(lib.path())?))
        };
        crate::upload::recover_all(&data_dir);
        Ok(WebApp {
            writer: Mutex::new(lib),
            reader,
            uploads: Mutex::new(()),
            recommender: Mutex::new(None),
            loads: AtomicU64::new(0),
            live: pipeline(Scene::Live, classifier.clone()),
            photo: pipeline(Scene::Photo, classifier),
            trackers: Trackers::new(live_tracker),
            model,
            data_dir,
            upload_audio_links: false,
            enrich: crate::enrich::Options::default(),
            progress: Arc::default(),
            mpd: None,
            write_retry_budget: WRITE_RETRY_BUDGET,
        })
    }

    /// How long small writes retry while the library is busy ([`WRITE_RETRY_BUDGET`]).
    pub fn with_write_retry_budget(mut self, budget: Duration) -> Self {
        self.write_retry_budget = budget;
        self
    }

    /// Lets uploaded sheets link audio files on this machine (see the field).
    pub fn with_upload_audio_links(mut self, link: bool) -> Self {
        self.upload_audio_links = link;
        self
    }

    /// Lets MPD play what the page recommends: every playlist the page gets is offered
    /// to `follower`, which sends it when the mood changed.
    pub fn with_mpd(mut self, follower: crate::player::MpdFollower) -> Self {
        self.mpd = Some(follower);
        self
    }

    /// The write connection, for reads and writes of one operation. Held, it keeps
    /// the app's other writes waiting, not its reads.
    pub fn library(&self) -> MutexGuard<'_, Library> {
        lock(&self.writer)
    }

    /// The read connection. Only reads: a write here would wait behind a running
    /// read's lock order and break the recommender's bookkeeping.
    fn reader(&self) -> MutexGuard<'_, Library> {
        lock(self.reader.as_ref().unwrap_or(&self.writer))
    }

    /// Where the library lives.
    pub fn library_name(&self) -> String {
        self.reader().path().display().to_string()
    }

    pub fn song_count(&self) -> Result<usize> {
        Ok(self.reader().len()?)
    }

    /// The expression model in use.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// Finds the faces in an encoded image (a camera frame or a photo, never stored)
    /// and reads each one's expression. Frames of a camera `stream` (any name the
    /// client keeps for it) are searched where its faces were, with a full scan every
    /// few frames and whenever a face is lost; `None` scans the whole image.
    pub fn analyze(&self, image: &[u8], stream: Option<&str>) -> Result<FrameAnalysis> {
        // Tighter than for files: several requests may decode at once.
        let img =
            load_luma_bytes_within(image, Path::new("the uploaded image"), DecodeLimits::UPLOAD)
                .map_err(Error::bad_input)?;
        let (width, height) = (img.width(), img.height());
        let faces = match (Scene::for_size(width, height), stream) {
            (Scene::Live, Some(stream)) => self
                .trackers
                .with(stream, |tracker| self.live.analyze_tracked(tracker, &img)),
            (Scene::Live, None) => self.live.analyze_gray(&img),
            (Scene::Photo, _) => self.photo.analyze_gray(&img),
        };
        Ok(FrameAnalysis {
            width,
            height,
            main_face: main_face(&faces),
            faces,
        })
    }

    /// Runs `f` on the recommender with the read connection, reloading it first when
    /// the library changed (another process, or an upload) since it was loaded.
    fn with_recommender<T>(&self, f: impl FnOnce(&Recommender, &Library) -> T) -> Result<T> {
        let mut slot = lock(&self.recommender);
        let lib = self.reader();
        let version = lib.outside_changes()?;
        let usable = matches!(&*slot, Some(l) if l.at == version || !l.may_reload());
        if !usable {
            *slot = None;
            self.loads.fetch_add(1, Ordering::SeqCst);
            let started = Instant::now();
            let loaded = Recommender::load(&lib);
            self.loads.fetch_add(1, Ordering::SeqCst);
            // The version read before loading: a commit during the load is seen as a
            // change next time, and loaded again.
            *slot = Some(Loaded {
                at: version,
                rec: loaded?,
                loaded: Instant::now(),
                took: started.elapsed(),
            });
        }
        let loaded = slot.as_ref().expect("loaded above");
        Ok(f(&loaded.rec, &lib))
    }

    /// Runs `write` on the write connection, then `apply` to the loaded recommender,
    /// so that a like does not cost a reload of the whole library. Neither the reader
    /// nor the recommender is held while `write` runs (it may wait up to the busy
    /// timeout for a CLI import's lock): playlists go on meanwhile.
    fn write_then_apply<T>(
        &self,
        mut write: impl FnMut(&mut Library) -> Result<T>,
        apply: impl FnOnce(&mut Recommender),
    ) -> Result<T> {
        let mut w = self.library();
        // Commits of other processes show on the writer; the reader sees ours as well.
        let outside_before = w.outside_changes()?;
        let seen_before = self.reader().outside_changes()?;
        let loads_before = self.loads.load(Ordering::SeqCst);
        let out = retry_while_busy(self.write_retry_budget, || write(&mut w))?;
        let loads_after = self.loads.load(Ordering::SeqCst);
        let seen_after = self.reader().outside_changes()?;
        let outside_after = w.outside_changes()?;
        drop(w);
        // Only this write landed between `seen_before` and `seen_after`, and no load
        // ran across it.
        let alone = outside_before == outside_after
            && loads_before == loads_after
            && loads_before.is_multiple_of(2);
        let mut slot = lock(&self.recommender);
        match &mut *slot {
            Some(l) if alone && l.at == seen_before => {
                apply(&mut l.rec);
                l.at = seen_after;
            }
            // Loaded after the write: it holds it already.
            Some(l) if l.at == seen_after => {}
            // Loaded before the write and behind other writers' changes too: it gets
            // ours now and theirs on its next reload.
            Some(l) if loads_before == loads_after && loads_before.is_multiple_of(2) => {
                apply(&mut l.rec)
            }
            _ => *slot = None,
        }
        Ok(out)
    }

    /// Our own change of the songs: the recommender is loaded again on next use.
    fn songs_changed(&self) {
        *lock(&self.recommender) = None;
    }

    /// The page's playlist: up to `limit` songs for `emotion`, leaving out `exclude`
    /// (the songs this session heard or skipped); borrowed from the nearest moods when
    /// the mood's library is thin. With MPD attached ([`WebApp::with_mpd`]) a playlist
    /// of another mood than the last one is sent to it too, in the background.
    pub fn playlist(
        &self,
        emotion: Emotion,
        strategy: moodtune_core::Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> Result<(Playlist, Vec<Song>)> {
        let (list, songs) = self.recommend(emotion, strategy, exclude, limit)?;
        if let Some(mpd) = &self.mpd {
            mpd.offer(emotion, strategy, &list, &songs);
        }
        Ok((list, songs))
    }

    /// The playlist of [`WebApp::playlist`] without offering it to MPD.
    fn recommend(
        &self,
        emotion: Emotion,
        strategy: moodtune_core::Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> Result<(Playlist, Vec<Song>)> {
        let mut session = Session::new();
        for id in exclude {
            // The artist is not needed to exclude a song; an empty one clashes with none.
            session.mark_played(*id, "");
        }
        let mut req = PlaylistRequest::new(emotion);
        req.strategy = strategy;
        req.limit = limit;
        self.with_recommender(|rec, lib| {
            let list = rec.playlist(&req, &session);
            let songs = list
                .entries
                .iter()
                .map(|e| lib.song(e.rec.id))
                .collect::<moodtune_library::Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            Ok((list, songs))
        })?
    }

    /// The playlist for `emotion` as a file for other players (absolute paths: the
    /// player runs on this machine). Only songs with an audio file the library owns are
    /// written; none at all is `NotFound`.
    pub fn playlist_file(
        &self,
        emotion: Emotion,
        strategy: moodtune_core::Strategy,
        format: crate::playlist_file::Format,
        limit: usize,
    ) -> Result<crate::playlist_file::Rendered> {
        // A download is not the page's mood changing: MPD is not told.
        let (list, songs) = self.recommend(emotion, strategy, &HashSet::new(), limit)?;
        let opts = crate::playlist_file::Options {
            format,
            relative_to: None,
            title: format!("moodtune: {} ({})", emotion.key(), strategy.key()),
        };
        let file = crate::playlist_file::render(&list, &songs, &opts);
        if file.tracks == 0 {
            return Err(Error::not_found(format!(
                "no songs with audio files for the {} mood ({} in its playlist, {} without audio, {} with a missing file)",
                emotion.key(),
                list.entries.len(),
                file.without_audio,
                file.missing_files
            )));
        }
        Ok(file)
    }

    /// Songs whose title, artist or tags contain `query`, optionally of one library.
    pub fn songs(
        &self,
        query: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> Result<SongPage> {
        // Counted and cut in SQL: a page of a large library reads only its own rows.
        let (total, songs) = self.reader().search_page(query, emotion, offset, limit)?;
        Ok(SongPage { total, songs })
    }

    fn song_of(lib: &Library, id: SongId) -> Result<Song> {
        lib.song(id)?
            .ok_or_else(|| Error::not_found(format!("no song {id} in the library")))
    }

    /// The typical songs the user picked for `emotion`.
    pub fn picks(&self, emotion: Emotion) -> Result<Vec<Song>> {
        let lib = self.reader();
        lib.picks(emotion)?
            .into_iter()
            .map(|id| Self::song_of(&lib, id))
            .collect()
    }

    /// Replaces the typical songs of `emotion`; returns them as stored.
    pub fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> Result<Vec<Song>> {
        self.write_then_apply(
            |lib| {
                lib.set_picks(emotion, songs).map_err(|e| match e {
                    // An unknown id in the list is a bad request, not a missing page.
                    moodtune_library::Error::SongNotFound(_) => Error::bad_input(e),
                    e => e.into(),
                })
            },
            |rec| rec.set_picks(emotion, songs.to_vec()),
        )?;
        self.picks(emotion)
    }

    /// Records a like or skip of `song` heard while the mood was `emotion`.
    pub fn feedback(&self, song: SongId, emotion: Emotion, kind: FeedbackKind) -> Result<()> {
        self.write_then_apply(
            |lib| {
                Ok(lib.add_feedback_with(song, kind, Some(emotion), moodtune_core::now_unix())?)
            },
            |rec| rec.add_feedback(song, kind),
        )
    }

    /// The audio file of a song, `None` when it has none; only paths the library owns.
    pub fn audio_path(&self, song: SongId) -> Result<Option<PathBuf>> {
        Ok(Self::song_of(&self.reader(), song)?.audio_path)
    }

    /// Imports an uploaded spreadsheet or CSV (`filename` tells its format), gives its
    /// songs their emotion libraries, and replaces the demo songs with them.
    pub fn import_upload(&self, filename: &str, bytes: &[u8]) -> Result<UploadSummary> {
        // Uploads go one at a time: two of the same name must not overwrite each other's
        // file while the first one imports.
        let _one_upload = lock(&self.uploads);
        let progress = self.progress.clone();
        let report = move |p: UploadProgress| *lock(&progress) = p;
        report(UploadProgress {
            active: true,
            stage: "reading".into(),
            ..Default::default()
        });
        let result = crate::upload::import_upload(
            &self.writer,
            &self.data_dir,
            filename,
            bytes,
            self.upload_audio_links,
            &self.enrich,
            &report,
        );
        report(UploadProgress {
            active: false,
            stage: "done".into(),
            ..Default::default()
        });
        let summary = result?;
        self.songs_changed();
        Ok(summary)
    }

    /// Where the running upload is (the page polls it while its upload request runs).
    pub fn upload_progress(&self) -> UploadProgress {
        lock(&self.progress).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl ExpressionClassifier for Fixed {
        fn classify_face(&self, _: &[u8], _: u32, _: u32) -> [f32; 7] {
            [1.0 / 7.0; 7]
        }
    }

    /// Likes and picks update the loaded recommender in place (no reload of the whole
    /// library per like), yet a change from another process still reloads it.
    #[test]
    fn own_writes_update_the_recommender_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.sqlite");
        let mut lib = Library::open(&db).unwrap();
        moodtune_library::demo::install_into(&mut lib, &dir.path().join("demo-songs")).unwrap();
        let a = WebApp::new(lib, Arc::new(Fixed), "fixed".into(), dir.path().into()).unwrap();
        let none = HashSet::new();
        let strategy = moodtune_core::Strategy::Match;
        let loads = || a.loads.load(Ordering::SeqCst) / 2;
        let (list, _) = a.playlist(Emotion::Sad, strategy, &none, 50).unwrap();
        assert_eq!(loads(), 1);
        let song = list.entries[0].rec.id;
        a.feedback(song, Emotion::Sad, FeedbackKind::Like).unwrap();
        a.set_picks(Emotion::Happy, &[song]).unwrap();
        let (list, _) = a.playlist(Emotion::Sad, strategy, &none, 50).unwrap();
        assert_eq!(loads(), 1, "a like or a pick reloaded the library");
        assert!(list
            .entries
            .iter()
            .all(|e| e.rec.explanation.contains("liked")));
        let mut cli = Library::open(&db).unwrap();
        cli.add_feedback_with(song, FeedbackKind::Skip, None, 0)
            .unwrap();
        a.playlist(Emotion::Sad, strategy, &none, 50).unwrap();
        assert_eq!(loads(), 2, "another process's change was not seen");
    }

    /// While another program keeps writing to a big library, the recommender is not
    /// reloaded on every request: the loaded one serves until a fifth of the time has
    /// gone into loading, then the change is loaded.
    #[test]
    fn a_big_library_changing_outside_is_reloaded_at_most_a_fifth_of_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.sqlite");
        let csv = dir.path().join("big.csv");
        let rows: String = (0..40_000)
            .map(|i| format!("Song {i},Artist {},pop,sun and rain\n", i % 101))
            .collect();
        std::fs::write(&csv, format!("title,artist,genre,lyrics\n{rows}")).unwrap();
        let mut lib = Library::open(&db).unwrap();
        lib.import_path(&csv).unwrap();
        let a = WebApp::new(lib, Arc::new(Fixed), "fixed".into(), dir.path().into()).unwrap();
        let none = HashSet::new();
        let strategy = moodtune_core::Strategy::Match;
        let loads = || a.loads.load(Ordering::SeqCst) / 2;
        a.playlist(Emotion::Sad, strategy, &none, 5).unwrap();
        let took = lock(&a.recommender).as_ref().unwrap().took;
        assert!(
            took >= QUICK_LOAD,
            "a load of 40,000 songs took only {took:?}"
        );
        let mut cli = Library::open(&db).unwrap();
        cli.add_feedback_with(1, FeedbackKind::Skip, None, 0)
            .unwrap();
        a.playlist(Emotion::Sad, strategy, &none, 5).unwrap();
        assert_eq!(loads(), 1, "reloaded right after a load");
        std::thread::sleep(took * 4);
        a.playlist(Emotion::Sad, strategy, &none, 5).unwrap();
        assert_eq!(
            loads(),
            2,
            "the change was not loaded after four loads' time"
        );
    }
}
