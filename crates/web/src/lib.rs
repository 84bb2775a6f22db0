//! moodtune's web app: [`moodtune_app::web::WebApp`] behind moodtune-server's
//! [`Backend`] trait. The one place where the app's types become the server's wire
//! types, so neither the server (HTTP over moodtune-core) nor the app (no HTTP) knows the
//! other; the binary only wires this to the command line.

use moodtune_app::web::WebApp;
use moodtune_app::Error;
use moodtune_core::{Emotion, FeedbackKind};
use moodtune_server::{
    Analysis, Backend, BackendError, BackendInfo, BackendResult, FaceResult, ImportProgress,
    ImportSummary, Recommendation, Song, SongId, SongPage, Strategy,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Serves `app` on `addr` until Ctrl-C; `on_ready` hears the address once it listens.
/// A process that serves should call [`share_freed_memory_between_threads`] first.
pub fn serve(
    app: WebApp,
    addr: SocketAddr,
    config: moodtune_server::ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    moodtune_server::run_blocking(Arc::new(Web(app)), addr, config, on_ready)
}

/// glibc gives each thread that allocates concurrently its own arena, up to eight per
/// core, and keeps what was freed in each. The server's blocking threads take turns at
/// recommender loads (about 200 MB for 150,000 songs, freed at once), so every arena
/// that served one kept that much: the soak test saw the resident memory ratchet from
/// 110 MiB to 750 MiB. Two arenas still spread the frame decoders' small allocations,
/// and a load's memory is reused by the next. Call it before the process starts
/// threads: arenas made before it are kept.
pub fn share_freed_memory_between_threads() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters (under glibc's own lock).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The web app, served.
pub struct Web(pub WebApp);

fn wire_error(e: Error) -> BackendError {
    match e {
        Error::BadInput(m) => BackendError::BadInput(m),
        Error::NotFound(m) => BackendError::NotFound(m),
        Error::Busy(m) => BackendError::Busy(m),
        Error::Internal(m) => BackendError::Internal(m),
    }
}

fn wire_song(s: moodtune_app::web::Song) -> Song {
    Song {
        id: s.id,
        emotion: s.emotion(),
        has_audio: s.audio_path.is_some(),
        title: s.title,
        artist: s.artist,
        tags: s.tags,
    }
}

fn wire_face(f: &moodtune_app::web::FaceResult) -> FaceResult {
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
