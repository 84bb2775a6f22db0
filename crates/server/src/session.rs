//! Per-browser-tab state: the smoothed mood and the songs already heard.
//!
//! Smoothing is done here rather than in the page so that every client (the web page,
//! a script posting frames, the load test) gets the same behaviour, and it is tested in
//! Rust. Only seven numbers per session are kept: never a frame.

use crate::backend::{top_emotion, SongId};
use moodtune_core::Emotion;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Exponential moving average of the emotion probabilities with hysteresis, so a
/// flicker of one frame neither changes the mood nor the playlist.
#[derive(Debug, Clone)]
pub struct MoodSmoother {
    alpha: f32,
    margin: f32,
    avg: Option<[f32; Emotion::COUNT]>,
    current: Option<Emotion>,
    frames: u64,
}

/// The smoothed mood a session is in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mood {
    pub emotion: Emotion,
    /// Smoothed probabilities keyed by emotion key.
    pub probabilities: HashMap<&'static str, f32>,
    /// Smoothed probability of `emotion`.
    pub confidence: f32,
    /// Frames with a face seen so far.
    pub frames: u64,
    /// True when this frame changed the mood.
    pub changed: bool,
}

impl Default for MoodSmoother {
    fn default() -> Self {
        // At 4 frames/s, alpha 0.3 forgets a frame's weight to a tenth in about 1.6 s: fast
        // enough to follow a real change of expression, slow enough to ignore a blink.
        Self::new(0.3, 0.1)
    }
}

impl MoodSmoother {
    /// `alpha`: weight of the newest frame (0-1]. `margin`: how much the smoothed
    /// probability of a new top emotion must exceed the current mood's to replace it.
    pub fn new(alpha: f32, margin: f32) -> Self {
        Self {
            alpha: alpha.clamp(0.01, 1.0),
            margin: margin.max(0.0),
            avg: None,
            current: None,
            frames: 0,
        }
    }

    /// Adds one frame's probabilities and returns the mood after it.
    pub fn update(&mut self, probs: &[f32; Emotion::COUNT]) -> Mood {
        let avg = match self.avg {
            None => *probs,
            Some(mut a) => {
                for (x, p) in a.iter_mut().zip(probs) {
                    *x += self.alpha * (p - *x);
                }
                a
            }
        };
        self.avg = Some(avg);
        self.frames += 1;
        let top = top_emotion(&avg);
        let previous = self.current;
        let next = match previous {
            Some(cur) if cur != top && avg[top.index()] - avg[cur.index()] < self.margin => cur,
            _ => top,
        };
        self.current = Some(next);
        self.mood(previous != Some(next)).expect("set above")
    }

    /// The mood now, without a new frame; `None` before the first face.
    pub fn current(&self) -> Option<Mood> {
        self.mood(false)
    }

    fn mood(&self, changed: bool) -> Option<Mood> {
        let (avg, emotion) = (self.avg?, self.current?);
        Some(Mood {
            emotion,
            probabilities: Emotion::ALL
                .iter()
                .map(|e| (e.key(), avg[e.index()]))
                .collect(),
            confidence: avg[emotion.index()],
            frames: self.frames,
            changed,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    pub smoother: MoodSmoother,
    /// Songs played, skipped or liked in this session: not offered again.
    pub heard: HashSet<SongId>,
    /// When the session was last used, in `Sessions::get` calls: a counter, unlike a
    /// clock, never gives two sessions the same time.
    last_seen: u64,
}

/// Most songs a session remembers as heard: a client posting made-up song ids cannot
/// grow it without bound; past it a new round starts, as when everything was heard.
pub(crate) const MAX_HEARD: usize = 10_000;

impl Session {
    pub fn mark_heard(&mut self, song: SongId) {
        if self.heard.len() >= MAX_HEARD && !self.heard.contains(&song) {
            self.heard.clear();
        }
        self.heard.insert(song);
    }
}

/// All sessions, bounded: the least recently seen is dropped when the table is full, so a
/// client inventing session ids cannot grow memory.
#[derive(Debug)]
pub(crate) struct Sessions {
    map: HashMap<String, Session>,
    cap: usize,
    calls: u64,
}

impl Sessions {
    pub fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap: cap.max(1),
            calls: 0,
        }
    }

    pub fn get(&mut self, id: &str) -> &mut Session {
        if !self.map.contains_key(id) && self.map.len() >= self.cap {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        let s = self.map.entry(id.to_string()).or_insert_with(|| Session {
            smoother: MoodSmoother::default(),
            heard: HashSet::new(),
            last_seen: 0,
        });
        self.calls += 1;
        s.last_seen = self.calls;
        s
    }

    /// A session that exists, without creating one: for GET requests, which any web
    /// page can make the browser send, so they must not evict real sessions.
    pub fn existing(&mut self, id: &str) -> Option<&mut Session> {
        self.map.get_mut(id)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Session ids come from the page; keep them short and plain so they are safe as map keys
/// and in messages.
pub(crate) fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(e: Emotion, p: f32) -> [f32; 7] {
        let rest = (1.0 - p) / 6.0;
        let mut a = [rest; 7];
        a[e.index()] = p;
        a
    }

    #[test]
    fn first_frame_sets_mood() {
        let mut s = MoodSmoother::default();
        assert!(s.current().is_none());
        let m = s.update(&one_hot(Emotion::Sad, 0.7));
        assert_eq!(m.emotion, Emotion::Sad);
        assert!(m.changed);
        assert!((m.confidence - 0.7).abs() < 1e-6);
        assert_eq!(m.frames, 1);
    }

    #[test]
    fn single_flicker_does_not_change_mood() {
        let mut s = MoodSmoother::default();
        for _ in 0..10 {
            s.update(&one_hot(Emotion::Happy, 0.8));
        }
        let m = s.update(&one_hot(Emotion::Angry, 0.9));
        assert_eq!(m.emotion, Emotion::Happy);
        assert!(!m.changed);
        // Back to happy: still happy, the flicker left no trace in the mood.
        assert_eq!(
            s.update(&one_hot(Emotion::Happy, 0.8)).emotion,
            Emotion::Happy
        );
    }

    #[test]
    fn sustained_change_switches_mood_once() {
        let mut s = MoodSmoother::default();
        for _ in 0..10 {
            s.update(&one_hot(Emotion::Happy, 0.8));
        }
        let mut changes = 0;
        let mut switched_at = None;
        for i in 0..12 {
            let m = s.update(&one_hot(Emotion::Surprise, 0.8));
            if m.changed {
                changes += 1;
                switched_at = Some(i);
            }
        }
        assert_eq!(s.current().unwrap().emotion, Emotion::Surprise);
        assert_eq!(changes, 1);
        // Needs a few frames (hysteresis), but not many (responsive).
        let at = switched_at.unwrap();
        assert!((1..=5).contains(&at), "switched after {at} frames");
    }

    #[test]
    fn hysteresis_holds_between_close_emotions() {
        let mut s = MoodSmoother::new(1.0, 0.1);
        let mut a = [0.0; 7];
        a[Emotion::Neutral.index()] = 0.5;
        a[Emotion::Sad.index()] = 0.45;
        assert_eq!(s.update(&a).emotion, Emotion::Neutral);
        // Sad now slightly ahead, but within the margin: stay neutral.
        a[Emotion::Neutral.index()] = 0.46;
        a[Emotion::Sad.index()] = 0.5;
        assert_eq!(s.update(&a).emotion, Emotion::Neutral);
        // Clearly ahead: switch.
        a[Emotion::Neutral.index()] = 0.3;
        a[Emotion::Sad.index()] = 0.6;
        assert_eq!(s.update(&a).emotion, Emotion::Sad);
    }

    #[test]
    fn sessions_are_bounded_and_evict_the_oldest() {
        let mut t = Sessions::new(3);
        t.get("a").mark_heard(1);
        t.get("b");
        t.get("c");
        t.get("a"); // refresh a: b is now the oldest
        t.get("d");
        assert_eq!(t.len(), 3);
        assert!(t.get("a").heard.contains(&1), "a was kept");
        assert!(t.map.contains_key("c"));
        assert!(!t.map.contains_key("b"), "b was the least recently seen");
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(valid_session_id("tab-1a2B_3"));
        assert!(!valid_session_id(""));
        assert!(!valid_session_id("../etc"));
        assert!(!valid_session_id(&"x".repeat(65)));
    }

    #[test]
    fn the_heard_set_is_bounded() {
        let mut t = Sessions::new(1);
        let s = t.get("a");
        for id in 0..MAX_HEARD as SongId {
            s.mark_heard(id);
        }
        assert_eq!(s.heard.len(), MAX_HEARD);
        // Seen again: nothing changes.
        s.mark_heard(5);
        assert_eq!(s.heard.len(), MAX_HEARD);
        // One more: a new round.
        s.mark_heard(-1);
        assert_eq!(s.heard.len(), 1);
        assert!(s.heard.contains(&-1));
    }
}
