//! A playlist played in a real player: MPD (Music Player Daemon), over its protocol
//! (`moodtune-mpd`).
//!
//! MPD names songs by their path relative to its music directory, and plays only files
//! in its database. So a song's absolute audio path is mapped to a URI under the music
//! folder MPD serves, as seen from here ([`MpdTarget::music_dir`]); songs without
//! audio, with a missing file, outside that folder, or that MPD cannot find even after
//! an update, are left out and reported in [`Sent::left_out`], never silently.
//!
//! Sending asks MPD which of the files its database holds; for the others it runs
//! `update` of their folders (of the closest common folder when they are many: MPD
//! queues at most 32 update jobs) and waits until that job finishes, then asks again.
//! An update only scans the folders named, so this stays quick on a large collection.
//! Then one command list clears the queue, adds the songs and starts playing. When no
//! song can be sent, the queue is left as it was.

use crate::playlist::Playlist;
use anyhow::{bail, Context};
use moodtune_core::{Emotion, Strategy};
use moodtune_library::{Song, SongId};
use moodtune_mpd::{Client, Command};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// More folders to update than this and their common folder is updated instead.
const MAX_UPDATE_JOBS: usize = 8;

/// Where the playlist goes.
#[derive(Debug, Clone)]
pub struct MpdTarget {
    /// `HOST:PORT` (MPD's port 6600 when none is given).
    pub addr: String,
    /// The folder MPD serves as its `music_directory`, as seen from this machine;
    /// absolute, links resolved (the library stores resolved paths too).
    pub music_dir: PathBuf,
    pub options: moodtune_mpd::Options,
    /// How long to wait for MPD to scan new files.
    pub update_timeout: Duration,
}

impl MpdTarget {
    /// A target at `addr` serving `music_dir`, which must be an existing folder here.
    pub fn new(addr: &str, music_dir: &Path) -> anyhow::Result<MpdTarget> {
        let resolved = music_dir
            .canonicalize()
            .with_context(|| format!("MPD's music folder {}", music_dir.display()))?;
        if !resolved.is_dir() {
            bail!("MPD's music folder {} is not a folder", music_dir.display());
        }
        Ok(MpdTarget {
            addr: moodtune_mpd::with_default_port(addr),
            music_dir: resolved,
            options: moodtune_mpd::Options::default(),
            update_timeout: Duration::from_secs(120),
        })
    }

    /// Sends `password` to MPD after connecting.
    pub fn with_password(mut self, password: Option<String>) -> Self {
        self.options.password = password;
        self
    }
}

/// Connects to the target's MPD and returns its protocol version: a check at start.
pub fn check(target: &MpdTarget) -> anyhow::Result<String> {
    let mut mpd = Client::connect(&target.addr, &target.options)?;
    mpd.ping()?;
    let version = mpd.version().to_string();
    mpd.close();
    Ok(version)
}

/// Why a song of the playlist was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftOutReason {
    /// The library links no audio file to it (or it was removed meanwhile).
    NoAudio,
    /// Its audio file is gone from disk.
    MissingFile,
    /// Its audio file is not under MPD's music folder.
    OutsideMusicDir,
    /// Its path is not UTF-8, which MPD's protocol cannot carry.
    UnnamableForMpd,
    /// MPD's database lacks it even after an update: MPD cannot read the file, or
    /// serves another folder than the one given.
    NotInMpdDatabase,
}

impl LeftOutReason {
    pub fn describe(self) -> &'static str {
        match self {
            LeftOutReason::NoAudio => "without audio",
            LeftOutReason::MissingFile => "whose audio file is missing",
            LeftOutReason::OutsideMusicDir => "outside MPD's music folder",
            LeftOutReason::UnnamableForMpd => "with a path MPD cannot be sent (not UTF-8)",
            LeftOutReason::NotInMpdDatabase => {
                "not in MPD's database after an update (is it the folder MPD serves? can MPD decode the file?)"
            }
        }
    }
}

/// A song put in MPD's queue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SentSong {
    pub id: SongId,
    pub title: String,
    pub artist: String,
    /// Relative to MPD's music folder.
    pub uri: String,
}

/// A song of the playlist that was not sent, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftOut {
    pub id: SongId,
    pub title: String,
    pub path: Option<PathBuf>,
    pub reason: LeftOutReason,
}

/// What [`send`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub addr: String,
    /// The queue now, in order; MPD plays it.
    pub songs: Vec<SentSong>,
    pub left_out: Vec<LeftOut>,
    /// Files MPD did not know before the update this send ran.
    pub imported_by_update: usize,
}

impl Sent {
    /// Left-out songs counted by reason.
    pub fn left_out_counts(&self) -> Vec<(LeftOutReason, usize)> {
        count_reasons(&self.left_out)
    }

    /// "sent 8 songs to MPD at HOST:PORT (left out 2: 1 without audio, 1 outside ...)".
    pub fn summary(&self) -> String {
        let n = self.songs.len();
        let mut s = format!(
            "sent {n} song{} to MPD at {}",
            if n == 1 { "" } else { "s" },
            self.addr
        );
        if !self.left_out.is_empty() {
            s.push_str(&format!(
                " (left out {}: {})",
                self.left_out.len(),
                describe_counts(&self.left_out)
            ));
        }
        s
    }

    /// The summary, then each song sent and each left out with why, one per line:
    /// what `playlist --mpd` prints.
    pub fn report(&self, emotion: moodtune_core::Emotion) -> String {
        let mut report = format!("{}: {}\n", emotion.key(), self.summary());
        for (i, s) in self.songs.iter().enumerate() {
            report.push_str(&format!("  {:>2}. {}\n", i + 1, s.uri));
        }
        for l in &self.left_out {
            let path = l.path.as_deref().map(|p| format!(" ({})", p.display()));
            report.push_str(&format!(
                "  left out: {}{}: {}\n",
                l.title,
                path.unwrap_or_default(),
                l.reason.describe()
            ));
        }
        report
    }
}

fn count_reasons(left: &[LeftOut]) -> Vec<(LeftOutReason, usize)> {
    let mut counts: Vec<(LeftOutReason, usize)> = Vec::new();
    for l in left {
        match counts.iter_mut().find(|(r, _)| *r == l.reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((l.reason, 1)),
        }
    }
    counts.sort();
    counts
}

fn describe_counts(left: &[LeftOut]) -> String {
    count_reasons(left)
        .into_iter()
        .map(|(r, n)| format!("{n} {}", r.describe()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The MPD URI of `audio` (absolute, links resolved) under `music_dir` (the same):
/// its components below the folder joined by `/`.
pub fn mpd_uri(audio: &Path, music_dir: &Path) -> Result<String, LeftOutReason> {
    let rel = audio
        .strip_prefix(music_dir)
        .map_err(|_| LeftOutReason::OutsideMusicDir)?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(part) => {
                let part = part.to_str().ok_or(LeftOutReason::UnnamableForMpd)?;
                // MPD's protocol is line based; its database never holds such a name.
                if part.contains('\n') {
                    return Err(LeftOutReason::UnnamableForMpd);
                }
                parts.push(part);
            }
            // Resolved paths hold none of these; anything else is not a plain file below.
            _ => return Err(LeftOutReason::OutsideMusicDir),
        }
    }
    if parts.is_empty() {
        return Err(LeftOutReason::OutsideMusicDir);
    }
    Ok(parts.join("/"))
}

/// The playlist's songs that can be sent (as URIs, in order) and those left out.
fn plan(list: &Playlist, songs: &[Song], music_dir: &Path) -> (Vec<SentSong>, Vec<LeftOut>) {
    let by_id: HashMap<SongId, &Song> = songs.iter().map(|s| (s.id, s)).collect();
    let mut send = Vec::new();
    let mut left = Vec::new();
    for entry in &list.entries {
        let id = entry.rec.id;
        let Some(song) = by_id.get(&id) else {
            left.push(LeftOut {
                id,
                title: entry.rec.title.clone(),
                path: None,
                reason: LeftOutReason::NoAudio,
            });
            continue;
        };
        let mut leave = |path: Option<&Path>, reason| {
            left.push(LeftOut {
                id,
                title: song.title.clone(),
                path: path.map(Path::to_path_buf),
                reason,
            })
        };
        let Some(audio) = song.audio_path.as_deref() else {
            leave(None, LeftOutReason::NoAudio);
            continue;
        };
        if !audio.is_file() {
            leave(Some(audio), LeftOutReason::MissingFile);
            continue;
        }
        match mpd_uri(audio, music_dir) {
            Ok(uri) => send.push(SentSong {
                id,
                title: song.title.clone(),
                artist: song.artist.clone(),
                uri,
            }),
            Err(reason) => leave(Some(audio), reason),
        }
    }
    (send, left)
}

/// The folders to update so that MPD finds `uris`: each one's folder (`None`: the
/// whole music folder), or their closest common folder when there are more than
/// [`MAX_UPDATE_JOBS`].
fn update_paths(uris: &[&str]) -> Vec<Option<String>> {
    let folder = |uri: &str| uri.rsplit_once('/').map(|(dir, _)| dir.to_string());
    let mut folders: Vec<Option<String>> = uris.iter().map(|u| folder(u)).collect();
    folders.sort();
    folders.dedup();
    if folders.len() <= MAX_UPDATE_JOBS {
        // A folder inside another one listed is scanned with it.
        let all = folders.clone();
        folders.retain(|f| {
            !all.iter().any(|other| match (other, f) {
                (None, Some(_)) => true,
                (Some(o), Some(f)) => f.starts_with(&format!("{o}/")),
                _ => false,
            })
        });
        return folders;
    }
    let mut common: Option<Vec<&str>> = None;
    for f in folders.iter() {
        let parts: Vec<&str> = f.as_deref().map_or(Vec::new(), |f| f.split('/').collect());
        common = Some(match common {
            None => parts,
            Some(c) => c
                .iter()
                .zip(&parts)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    let common = common.unwrap_or_default();
    vec![(!common.is_empty()).then(|| common.join("/"))]
}

/// The URIs of `uris` whose `known` flag (MPD's answer, in the same order) is false.
fn not_known<'a>(uris: &[&'a str], known: &[bool]) -> Vec<&'a str> {
    uris.iter()
        .zip(known)
        .filter(|(_, k)| !**k)
        .map(|(u, _)| *u)
        .collect()
}

/// The error when no song of `list` is left to send.
fn nothing_to_send(target: &MpdTarget, list: &Playlist, left_out: &[LeftOut]) -> anyhow::Error {
    anyhow::anyhow!(
        "none of the {} songs of the playlist can be sent to MPD at {}: {}",
        list.entries.len(),
        target.addr,
        describe_counts(left_out)
    )
}

/// Puts `list` (with the paths of `songs`, the library's songs) in MPD's queue in its
/// order and plays it. See the module documentation.
pub fn send(target: &MpdTarget, list: &Playlist, songs: &[Song]) -> anyhow::Result<Sent> {
    let (mut to_send, mut left_out) = plan(list, songs, &target.music_dir);
    if to_send.is_empty() {
        return Err(nothing_to_send(target, list, &left_out));
    }
    let mut mpd = Client::connect(&target.addr, &target.options)?;
    let uris: Vec<&str> = to_send.iter().map(|s| s.uri.as_str()).collect();
    let known = mpd.known(&uris)?;
    let unknown = not_known(&uris, &known);
    let mut imported_by_update = 0;
    if !unknown.is_empty() {
        let mut last_job = None;
        for path in update_paths(&unknown) {
            last_job = Some(mpd.update(path.as_deref())?);
        }
        if let Some(job) = last_job {
            // Jobs run in order: the last one done means all are.
            mpd.wait_for_update(job, target.update_timeout)?;
        }
        let found = mpd.known(&unknown)?;
        imported_by_update = found.iter().filter(|f| **f).count();
        let still: std::collections::HashSet<String> = not_known(&unknown, &found)
            .into_iter()
            .map(String::from)
            .collect();
        to_send.retain(|s| {
            if !still.contains(&s.uri) {
                return true;
            }
            left_out.push(LeftOut {
                id: s.id,
                title: s.title.clone(),
                path: Some(target.music_dir.join(&s.uri)),
                reason: LeftOutReason::NotInMpdDatabase,
            });
            false
        });
    }
    if to_send.is_empty() {
        return Err(nothing_to_send(target, list, &left_out));
    }
    // One list: no other client's command lands between the clear and the adds.
    let mut commands = vec![Command::new("clear")];
    commands.extend(to_send.iter().map(|s| Command::new("add").arg(&s.uri)));
    commands.push(Command::new("play"));
    mpd.run_list(&commands)?;
    mpd.close();
    Ok(Sent {
        addr: target.addr.clone(),
        songs: to_send,
        left_out,
        imported_by_update,
    })
}

/// What the follower reports after each send.
pub type FollowReport = Box<dyn Fn(Emotion, Strategy, anyhow::Result<Sent>) + Send>;

/// Keeps MPD playing the web page's playlist: [`MpdFollower::offer`] is called with
/// every playlist the page gets, and when its mood (or strategy) differs from the last
/// one sent, a background thread sends it, so a slow or absent MPD never holds up the
/// page. A burst of offers sends only the newest. A failed send is reported and
/// forgotten: the next playlist of that mood tries again.
pub struct MpdFollower {
    shared: Arc<(Mutex<FollowState>, Condvar)>,
}

struct Job {
    key: (Emotion, Strategy),
    list: Playlist,
    songs: Vec<Song>,
}

#[derive(Default)]
struct FollowState {
    /// The mood of the last playlist queued or sent.
    last: Option<(Emotion, Strategy)>,
    pending: Option<Job>,
    stop: bool,
}

fn lock(m: &Mutex<FollowState>) -> MutexGuard<'_, FollowState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MpdFollower {
    /// Starts the sending thread; `report` is called on it after each send.
    pub fn start(target: MpdTarget, report: FollowReport) -> MpdFollower {
        let shared = Arc::new((Mutex::new(FollowState::default()), Condvar::new()));
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("mpd-follower".into())
            .spawn(move || follow(&target, &worker, report))
            .expect("spawn the MPD thread");
        MpdFollower { shared }
    }

    /// The page's playlist for `emotion`: queued for MPD unless it is empty or its mood
    /// is the one sent last. Returns whether it was queued.
    pub fn offer(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        list: &Playlist,
        songs: &[Song],
    ) -> bool {
        if list.entries.is_empty() {
            return false;
        }
        let key = (emotion, strategy);
        let (state, wake) = &*self.shared;
        let mut s = lock(state);
        if s.last == Some(key) {
            return false;
        }
        s.last = Some(key);
        s.pending = Some(Job {
            key,
            list: list.clone(),
            songs: songs.to_vec(),
        });
        wake.notify_one();
        true
    }
}

impl Drop for MpdFollower {
    /// The thread ends after the send it is in, if any (not waited for).
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        lock(state).stop = true;
        wake.notify_one();
    }
}

fn follow(target: &MpdTarget, shared: &(Mutex<FollowState>, Condvar), report: FollowReport) {
    let (state, wake) = shared;
    loop {
        let job = {
            let mut s = lock(state);
            loop {
                if s.stop {
                    return;
                }
                if let Some(job) = s.pending.take() {
                    break job;
                }
                s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = send(target, &job.list, &job.songs);
        if result.is_err() {
            let mut s = lock(state);
            // Let the same mood try again, unless another one came meanwhile.
            if s.last == Some(job.key) && s.pending.is_none() {
                s.last = None;
            }
        }
        report(job.key.0, job.key.1, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playlist::Entry;
    use moodtune_recommend::Recommendation;

    fn song(id: SongId, audio: Option<&Path>) -> Song {
        Song {
            id,
            title: format!("song {id}"),
            artist: String::new(),
            album: None,
            duration_s: None,
            language: None,
            lyrics: None,
            audio_path: audio.map(Path::to_path_buf),
            tags: Vec::new(),
            manual_emotion: Some(Emotion::Happy),
            predicted: None,
            source: "test".into(),
            source_key: id.to_string(),
            added_at: 0,
            updated_at: 0,
        }
    }

    fn playlist(ids: &[SongId]) -> Playlist {
        Playlist {
            entries: ids
                .iter()
                .map(|&id| Entry {
                    rec: Recommendation {
                        id,
                        title: format!("song {id}"),
                        artist: String::new(),
                        emotion: Emotion::Happy,
                        score: 1.0,
                        cold_start: true,
                        step: 1,
                        steps: 1,
                        shared_tags: Vec::new(),
                        drivers: Vec::new(),
                        manual_label: true,
                        skips: 0,
                        explanation: String::new(),
                    },
                    filled_for: None,
                })
                .collect(),
            unlabelled: 0,
            library_len: ids.len(),
        }
    }

    #[test]
    fn uris_are_relative_to_the_music_folder_with_slashes() {
        let music = Path::new("/srv/music");
        assert_eq!(
            mpd_uri(Path::new("/srv/music/A b/\"c\".flac"), music),
            Ok("A b/\"c\".flac".to_string())
        );
        assert_eq!(
            mpd_uri(Path::new("/srv/musicals/x.mp3"), music),
            Err(LeftOutReason::OutsideMusicDir)
        );
        assert_eq!(
            mpd_uri(Path::new("/srv/music"), music),
            Err(LeftOutReason::OutsideMusicDir)
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bad = Path::new(std::ffi::OsStr::from_bytes(b"/srv/music/\xff.mp3"));
            assert_eq!(mpd_uri(bad, music), Err(LeftOutReason::UnnamableForMpd));
        }
    }

    #[test]
    fn songs_that_cannot_be_sent_are_left_out_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("music")).unwrap();
        let music = dir.path().join("music").canonicalize().unwrap();
        let inside = music.join("in.wav");
        std::fs::write(&inside, b"x").unwrap();
        let outside = dir.path().canonicalize().unwrap().join("out.wav");
        std::fs::write(&outside, b"x").unwrap();
        let songs = vec![
            song(1, Some(&inside)),
            song(2, Some(&outside)),
            song(3, None),
            song(4, Some(&music.join("gone.wav"))),
        ];
        // Song 5 was removed from the library since the playlist was made.
        let (send, left) = plan(&playlist(&[4, 1, 2, 3, 5]), &songs, &music);
        assert_eq!(
            send.iter().map(|s| s.uri.as_str()).collect::<Vec<_>>(),
            ["in.wav"]
        );
        let reasons: Vec<_> = left.iter().map(|l| (l.id, l.reason)).collect();
        assert_eq!(
            reasons,
            [
                (4, LeftOutReason::MissingFile),
                (2, LeftOutReason::OutsideMusicDir),
                (3, LeftOutReason::NoAudio),
                (5, LeftOutReason::NoAudio),
            ]
        );
        let sent = Sent {
            addr: "h:1".into(),
            songs: send,
            left_out: left,
            imported_by_update: 0,
        };
        assert_eq!(
            sent.summary(),
            "sent 1 song to MPD at h:1 (left out 4: 2 without audio, 1 whose audio file is missing, 1 outside MPD's music folder)"
        );
    }

    #[test]
    fn nothing_sendable_is_an_error_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        // Nobody listens on port 9 of a reserved address: connecting would fail
        // differently, and slowly.
        let target = MpdTarget::new("192.0.2.1:9", dir.path()).unwrap();
        let err = send(&target, &playlist(&[1]), &[song(1, None)]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("none of the 1 songs"), "{msg}");
        assert!(msg.contains("1 without audio"), "{msg}");
    }

    #[test]
    fn updates_name_few_folders_or_their_common_one() {
        assert_eq!(
            update_paths(&["a/x.wav", "a/y.wav", "a/b/z.wav", "c.wav"]),
            [None]
        );
        assert_eq!(
            update_paths(&["a/x.wav", "a/b/z.wav", "d/e/f.wav"]),
            [Some("a".to_string()), Some("d/e".to_string())]
        );
        let many: Vec<String> = (0..20).map(|i| format!("lib/artist{i}/s.wav")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(update_paths(&many), [Some("lib".to_string())]);
        let spread: Vec<String> = (0..20).map(|i| format!("x{i}/s.wav")).collect();
        let spread: Vec<&str> = spread.iter().map(String::as_str).collect();
        assert_eq!(update_paths(&spread), [None]);
    }

    #[test]
    fn a_missing_music_folder_is_named() {
        let err = MpdTarget::new("localhost", Path::new("/no/such/music")).unwrap_err();
        assert!(format!("{err:#}").contains("/no/such/music"), "{err:#}");
    }
}
