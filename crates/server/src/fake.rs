//! An in-memory [`Backend`] for tests, the browser test and the load test.
//!
//! It behaves like the real one where the web app can tell: it really decodes the image
//! (so corrupt frames fail the same way), answers one face in the middle of any image
//! that is not flat, derives the probabilities from the face's brightness (brighter
//! reads happier, darker sadder), keeps picks and feedback, imports a simple CSV and can
//! write short WAV tones as the songs' audio files.

use crate::backend::*;
use moodtune_core::{Emotion, Valence};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct FakeSong {
    song: Song,
    audio: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    songs: Vec<FakeSong>,
    picks: HashMap<Emotion, Vec<SongId>>,
    feedback: Vec<(SongId, Emotion, FeedbackKind)>,
    library: String,
}

/// See the module documentation.
#[derive(Debug)]
pub struct FakeBackend {
    state: Mutex<State>,
    panic_marker: bool,
}

const TAGS: [&str; 6] = [
    "cheerful",
    "wild",
    "keyboard",
    "instrumental",
    "internet",
    "calm",
];

impl FakeBackend {
    /// A library of `per_emotion` songs for each of the seven emotions, without audio.
    pub fn new(per_emotion: usize) -> Self {
        let mut songs = Vec::new();
        for e in Emotion::ALL {
            for i in 0..per_emotion {
                let id = (songs.len() + 1) as SongId;
                let tags = (0..TAGS.len())
                    .filter(|t| (i + t + e.index()) % 3 != 0)
                    .map(|t| TAGS[t].to_string())
                    .collect();
                songs.push(FakeSong {
                    song: Song {
                        id,
                        title: format!("{} song {}", e.name(), i + 1),
                        artist: format!("Fake Artist {}", (i % 3) + 1),
                        emotion: Some(e),
                        tags,
                        has_audio: false,
                    },
                    audio: None,
                });
            }
        }
        Self {
            state: Mutex::new(State {
                songs,
                library: "fake in-memory library".into(),
                ..State::default()
            }),
            panic_marker: false,
        }
    }

    /// The same library without `emotion`'s songs: a mood with nothing to play.
    pub fn without_songs_of(self, emotion: Emotion) -> Self {
        self.state
            .lock()
            .expect("fake state")
            .songs
            .retain(|s| s.song.emotion != Some(emotion));
        self
    }

    /// Writes a WAV tone of `seconds` for every song into `dir` (each song its own pitch)
    /// and makes those the songs' audio files.
    pub fn with_audio(self, dir: &Path, seconds: f32) -> std::io::Result<Self> {
        {
            let mut st = self.state.lock().expect("fake state");
            for s in st.songs.iter_mut() {
                let path = dir.join(format!("song-{}.wav", s.song.id));
                let freq = 220.0 + 20.0 * s.song.id as f32;
                write_wav_tone(&path, freq, seconds)?;
                s.audio = Some(path);
                s.song.has_audio = true;
            }
        }
        Ok(self)
    }

    /// Points song `id` at `path`, whatever the file is.
    pub fn with_audio_path(self, id: SongId, path: &Path) -> Self {
        {
            let mut st = self.state.lock().expect("fake state");
            if let Some(s) = st.songs.iter_mut().find(|s| s.song.id == id) {
                s.audio = Some(path.to_path_buf());
                s.song.has_audio = true;
            }
        }
        self
    }

    /// Makes `analyze` panic on a body starting with `PANIC`, to test that the server
    /// survives a failing backend.
    pub fn with_panic_marker(mut self) -> Self {
        self.panic_marker = true;
        self
    }

    /// The likes and skips received so far.
    pub fn feedback_log(&self) -> Vec<(SongId, Emotion, FeedbackKind)> {
        self.state.lock().expect("fake state").feedback.clone()
    }

    fn song(st: &State, id: SongId) -> BackendResult<&FakeSong> {
        st.songs
            .iter()
            .find(|s| s.song.id == id)
            .ok_or_else(|| BackendError::not_found(format!("no song with id {id}")))
    }
}

impl Backend for FakeBackend {
    fn info(&self) -> BackendResult<BackendInfo> {
        let st = self.state.lock().expect("fake state");
        Ok(BackendInfo {
            library: st.library.clone(),
            songs: st.songs.len(),
            model: "fake brightness model".into(),
        })
    }

    fn analyze(&self, image: &[u8], _stream: Option<&str>) -> BackendResult<Analysis> {
        if self.panic_marker && image.starts_with(b"PANIC") {
            panic!("fake backend asked to panic");
        }
        let img = image::load_from_memory(image)
            .map_err(|e| BackendError::bad_input(format!("cannot decode the image: {e}")))?
            .to_luma8();
        let (w, h) = img.dimensions();
        let px = img.as_raw();
        let n = px.len().max(1) as f64;
        let mean = px.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
        let var = px
            .iter()
            .map(|&p| (f64::from(p) - mean).powi(2))
            .sum::<f64>()
            / n;
        // A flat image (lens cap, blank photo) has no face.
        if var < 4.0 || w < 8 || h < 8 {
            return Ok(Analysis {
                width: w,
                height: h,
                faces: vec![],
                main_face: None,
            });
        }
        let bbox = FaceBox {
            x: w / 4,
            y: h / 4,
            width: w / 2,
            height: h / 2,
        };
        let mut sum = 0.0f64;
        for y in bbox.y..bbox.y + bbox.height {
            for x in bbox.x..bbox.x + bbox.width {
                sum += f64::from(img.get_pixel(x, y)[0]);
            }
        }
        let b = (sum / bbox.area() as f64 / 255.0) as f32;
        let mut probs = [0.05f32; Emotion::COUNT];
        probs[Emotion::Happy.index()] += 0.7 * b;
        probs[Emotion::Sad.index()] += 0.7 * (1.0 - b);
        let total: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        Ok(Analysis {
            width: w,
            height: h,
            faces: vec![FaceResult {
                bbox,
                probs,
                flags: Vec::new(),
            }],
            main_face: Some(0),
        })
    }

    fn playlist(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> BackendResult<Vec<Recommendation>> {
        let st = self.state.lock().expect("fake state");
        let target = match (strategy, emotion.valence()) {
            (Strategy::Lift, Valence::Negative) => Emotion::Happy,
            _ => emotion,
        };
        let picked: HashSet<&str> = st
            .picks
            .get(&target)
            .into_iter()
            .flatten()
            .filter_map(|id| Self::song(&st, *id).ok())
            .flat_map(|s| s.song.tags.iter().map(String::as_str))
            .collect();
        let mut out: Vec<Recommendation> = st
            .songs
            .iter()
            .filter(|s| s.song.emotion == Some(target) && !exclude.contains(&s.song.id))
            .map(|s| {
                let shared = s
                    .song
                    .tags
                    .iter()
                    .filter(|t| picked.contains(t.as_str()))
                    .count();
                Recommendation {
                    song: s.song.clone(),
                    score: shared as f32 / s.song.tags.len().max(1) as f32,
                    reason: format!(
                        "{} library; shares {shared} tag(s) with your typical songs",
                        target.name()
                    ),
                    filled: false,
                }
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.song.id.cmp(&b.song.id)));
        out.truncate(limit);
        Ok(out)
    }

    fn songs(
        &self,
        query: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> BackendResult<SongPage> {
        let st = self.state.lock().expect("fake state");
        let q = query.trim().to_lowercase();
        let all: Vec<&FakeSong> = st
            .songs
            .iter()
            .filter(|s| emotion.is_none() || s.song.emotion == emotion)
            .filter(|s| {
                q.is_empty()
                    || s.song.title.to_lowercase().contains(&q)
                    || s.song.artist.to_lowercase().contains(&q)
                    || s.song.tags.iter().any(|t| t.to_lowercase().contains(&q))
            })
            .collect();
        Ok(SongPage {
            total: all.len(),
            songs: all
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|s| s.song.clone())
                .collect(),
        })
    }

    fn picks(&self, emotion: Emotion) -> BackendResult<Vec<Song>> {
        let st = self.state.lock().expect("fake state");
        st.picks
            .get(&emotion)
            .into_iter()
            .flatten()
            .map(|id| Self::song(&st, *id).map(|s| s.song.clone()))
            .collect()
    }

    fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> BackendResult<Vec<Song>> {
        let mut st = self.state.lock().expect("fake state");
        for id in songs {
            Self::song(&st, *id).map_err(|e| BackendError::bad_input(e.to_string()))?;
        }
        let mut ids = songs.to_vec();
        ids.dedup();
        st.picks.insert(emotion, ids);
        drop(st);
        self.picks(emotion)
    }

    fn feedback(
        &self,
        song: SongId,
        emotion: Emotion,
        feedback: FeedbackKind,
    ) -> BackendResult<()> {
        let mut st = self.state.lock().expect("fake state");
        Self::song(&st, song)?;
        st.feedback.push((song, emotion, feedback));
        Ok(())
    }

    /// Accepts `title,artist,emotion[,tags separated by ;]` with a header row.
    fn import(&self, filename: &str, bytes: &[u8]) -> BackendResult<ImportSummary> {
        if !filename.to_lowercase().ends_with(".csv") {
            return Err(BackendError::bad_input(format!(
                "{filename}: the fake backend only imports .csv files"
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| BackendError::bad_input(format!("{filename} is not UTF-8 text")))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().to_lowercase();
        if !header.starts_with("title,artist,emotion") {
            return Err(BackendError::bad_input(format!(
                "{filename}: the first row must be title,artist,emotion[,tags]"
            )));
        }
        let mut songs = Vec::new();
        let mut messages = Vec::new();
        let mut skipped = 0;
        for (i, line) in lines.enumerate() {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() < 3 || cols[0].is_empty() {
                skipped += 1;
                messages.push(format!(
                    "{filename} line {}: needs title,artist,emotion",
                    i + 2
                ));
                continue;
            }
            let emotion = match cols[2].parse::<Emotion>() {
                Ok(e) => e,
                Err(e) => {
                    skipped += 1;
                    messages.push(format!("{filename} line {}: {e}", i + 2));
                    continue;
                }
            };
            songs.push(FakeSong {
                song: Song {
                    id: songs.len() as SongId + 1,
                    title: cols[0].into(),
                    artist: cols[1].into(),
                    emotion: Some(emotion),
                    tags: cols
                        .get(3)
                        .map(|t| t.split(';').map(|s| s.trim().to_string()).collect())
                        .unwrap_or_default(),
                    has_audio: false,
                },
                audio: None,
            });
        }
        if songs.is_empty() {
            return Err(BackendError::bad_input(format!(
                "{filename}: no usable rows ({skipped} skipped)"
            )));
        }
        let mut st = self.state.lock().expect("fake state");
        let imported = songs.len();
        st.songs = songs;
        st.picks.clear();
        st.library = filename.to_string();
        messages.push(format!("replaced the library with {filename}"));
        Ok(ImportSummary {
            imported,
            skipped,
            messages,
        })
    }

    fn audio_path(&self, song: SongId) -> BackendResult<Option<PathBuf>> {
        let st = self.state.lock().expect("fake state");
        Ok(Self::song(&st, song)?.audio.clone())
    }
}

/// 16-bit mono PCM WAV of a soft sine tone with a fade in and out.
pub fn write_wav_tone(path: &Path, freq: f32, seconds: f32) -> std::io::Result<()> {
    const RATE: u32 = 16_000;
    let n = (seconds.max(0.1) * RATE as f32) as u32;
    let mut data = Vec::with_capacity(44 + 2 * n as usize);
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes()); // PCM
    data.extend_from_slice(&1u16.to_le_bytes()); // mono
    data.extend_from_slice(&RATE.to_le_bytes());
    data.extend_from_slice(&(RATE * 2).to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&(2 * n).to_le_bytes());
    let fade = (RATE / 20) as f32;
    for i in 0..n {
        let t = i as f32 / RATE as f32;
        let env = (i as f32 / fade).min((n - i) as f32 / fade).min(1.0);
        let s = (t * freq * std::f32::consts::TAU).sin() * 0.3 * env;
        data.extend_from_slice(&((s * i16::MAX as f32) as i16).to_le_bytes());
    }
    // A reader never sees half a file.
    moodtune_core::write_bytes_atomically(path, &data)
}
