//! Per-browser-tab state: the smoothed mood and the songs already heard.
//!
//! Smoothing is done here rather than in the page so that every client (the web page,
//! a script posting frames, the load test) gets the same behaviour, and it is tested in
//! Rust. Only seven numbers per session are kept: never a frame.

use crate::backend::SongId;
pub use moodtune_core::{Mood, MoodSmoother};
use std::collections::{HashMap, HashSet};

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
