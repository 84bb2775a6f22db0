//! The web app's operations over the real crates, as one object the server shares
//! between threads. It speaks the app's own types; the `serve` command converts them to
//! the server's wire types at one boundary.

use crate::detect::{pipeline, Scene};
use crate::error::{Error, Result};
use crate::mood::main_face;
use crate::playlist::{Playlist, PlaylistRequest, Recommender};
use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_faces::{load_image_bytes_within, DecodeLimits, FacePipeline, FaceResult};
use moodtune_library::FeedbackKind;
use moodtune_library::{Library, Song, SongId};
use moodtune_recommend::Session;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// The outcome of an uploaded song list.
#[derive(Debug, Clone)]
pub struct UploadSummary {
    pub imported: usize,
    pub skipped: usize,
    /// Skipped rows and why, warnings, the demo songs that were replaced, ...
    pub messages: Vec<String>,
}

/// See the module documentation.
pub struct WebApp {
    lib: Mutex<Library>,
    /// Held through one upload, from saving the file to the demo clean-up.
    uploads: Mutex<()>,
    /// The recommender and the library's `outside_changes` it was loaded at.
    recommender: Mutex<Option<(i64, Recommender)>>,
    /// Camera frames are small and show a close face; photos may be large group shots.
    live: FacePipeline,
    photo: FacePipeline,
    model: String,
    data_dir: PathBuf,
    /// Whether an uploaded sheet's audio column links songs to files here (`serve
    /// --link-uploaded-audio`). Off by default: a sender could otherwise have any audio
    /// file on this machine played back to it, or probe which files exist.
    upload_audio_links: bool,
    enrich: crate::enrich::Options,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves SQLite consistent (transactions) and the
    // caches at worst stale, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WebApp {
    /// `data_dir` keeps the uploaded song lists (under `imports/`).
    pub fn new(
        lib: Library,
        classifier: Arc<dyn ExpressionClassifier>,
        model: String,
        data_dir: PathBuf,
    ) -> Self {
        WebApp {
            lib: Mutex::new(lib),
            uploads: Mutex::new(()),
            recommender: Mutex::new(None),
            live: pipeline(Scene::Live, classifier.clone()),
            photo: pipeline(Scene::Photo, classifier),
            model,
            data_dir,
            upload_audio_links: false,
            enrich: crate::enrich::Options::default(),
        }
    }

    /// Lets uploaded sheets link audio files on this machine (see the field).
    pub fn with_upload_audio_links(mut self, link: bool) -> Self {
        self.upload_audio_links = link;
        self
    }

    /// The library connection, for reads and writes of one operation.
    pub fn library(&self) -> MutexGuard<'_, Library> {
        lock(&self.lib)
    }

    /// Where the library lives.
    pub fn library_name(&self) -> String {
        self.library().path().display().to_string()
    }

    pub fn song_count(&self) -> Result<usize> {
        Ok(self.library().len()?)
    }

    /// The expression model in use.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// Finds the faces in an encoded image (a camera frame or a photo, never stored)
    /// and reads each one's expression.
    pub fn analyze(&self, image: &[u8]) -> Result<FrameAnalysis> {
        // Tighter than for files: several requests may decode at once.
        let img =
            load_image_bytes_within(image, Path::new("the uploaded image"), DecodeLimits::UPLOAD)
                .map_err(Error::bad_input)?;
        let (width, height) = (img.width(), img.height());
        let pipeline = match Scene::for_size(width, height) {
            Scene::Live => &self.live,
            Scene::Photo => &self.photo,
        };
        let faces = pipeline.analyze(&img);
        Ok(FrameAnalysis {
            width,
            height,
            main_face: main_face(&faces),
            faces,
        })
    }

    /// Runs `f` on the recommender, reloading it first when another process changed
    /// the library since it was loaded.
    fn with_recommender<T>(
        &self,
        f: impl FnOnce(&mut Recommender, &mut Library) -> T,
    ) -> Result<T> {
        let mut slot = lock(&self.recommender);
        let mut lib = self.library();
        let version = lib.outside_changes()?;
        let fresh = matches!(&*slot, Some((at, _)) if *at == version);
        if !fresh {
            *slot = Some((version, Recommender::load(&lib)?));
        }
        let (_, rec) = slot.as_mut().expect("loaded above");
        Ok(f(rec, &mut lib))
    }

    /// Our own change of the songs: the recommender is loaded again on next use.
    fn songs_changed(&self) {
        *lock(&self.recommender) = None;
    }

    /// Up to `limit` songs for `emotion`, leaving out `exclude` (the songs this session
    /// heard or skipped); borrowed from the nearest moods when the mood's library is thin.
    pub fn playlist(
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

    /// Songs whose title, artist or tags contain `query`, optionally of one library.
    pub fn songs(
        &self,
        query: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> Result<SongPage> {
        let all = self.library().search(query)?;
        let matching: Vec<_> = all
            .into_iter()
            .filter(|s| emotion.is_none() || s.emotion() == emotion)
            .collect();
        Ok(SongPage {
            total: matching.len(),
            songs: matching.into_iter().skip(offset).take(limit).collect(),
        })
    }

    fn song_of(lib: &Library, id: SongId) -> Result<Song> {
        lib.song(id)?
            .ok_or_else(|| Error::not_found(format!("no song {id} in the library")))
    }

    /// The typical songs the user picked for `emotion`.
    pub fn picks(&self, emotion: Emotion) -> Result<Vec<Song>> {
        let lib = self.library();
        lib.picks(emotion)?
            .into_iter()
            .map(|id| Self::song_of(&lib, id))
            .collect()
    }

    /// Replaces the typical songs of `emotion`; returns them as stored.
    pub fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> Result<Vec<Song>> {
        // Stored under the recommender's lock, so no reload sees half of it.
        self.with_recommender(|rec, lib| -> Result<()> {
            lib.set_picks(emotion, songs).map_err(|e| match e {
                // An unknown id in the list is a bad request, not a missing page.
                moodtune_library::Error::SongNotFound(_) => Error::bad_input(e),
                e => e.into(),
            })?;
            rec.set_picks(emotion, songs.to_vec());
            Ok(())
        })??;
        self.picks(emotion)
    }

    /// Records a like or skip of `song` heard while the mood was `emotion`.
    pub fn feedback(&self, song: SongId, emotion: Emotion, kind: FeedbackKind) -> Result<()> {
        self.with_recommender(|rec, lib| -> Result<()> {
            lib.add_feedback_with(song, kind, Some(emotion), moodtune_core::now_unix())?;
            rec.add_feedback(song, kind);
            Ok(())
        })?
    }

    /// The audio file of a song, `None` when it has none; only paths the library owns.
    pub fn audio_path(&self, song: SongId) -> Result<Option<PathBuf>> {
        Ok(Self::song_of(&self.library(), song)?.audio_path)
    }

    /// Imports an uploaded spreadsheet or CSV (`filename` tells its format), gives its
    /// songs their emotion libraries, and replaces the demo songs with them.
    pub fn import_upload(&self, filename: &str, bytes: &[u8]) -> Result<UploadSummary> {
        // Uploads go one at a time: two of the same name must not overwrite each other's
        // file while the first one imports.
        let _one_upload = lock(&self.uploads);
        let summary = crate::upload::import_upload(
            &self.lib,
            &self.data_dir,
            filename,
            bytes,
            self.upload_audio_links,
            &self.enrich,
        )?;
        self.songs_changed();
        Ok(summary)
    }
}
