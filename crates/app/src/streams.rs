//! One face tracker per camera stream, so a webcam's frames cost a full detection only
//! every few frames. Bounded: a client inventing stream names cannot grow memory, the
//! least recently used stream is forgotten first (its next frame starts a new track).

use moodtune_faces::FaceTracker;
use std::collections::HashMap;
use std::sync::Mutex;

/// Streams followed at once; past it the least recently used is dropped.
pub const MAX_STREAMS: usize = 64;

pub(crate) struct Trackers {
    table: Mutex<Table>,
    new_tracker: fn() -> FaceTracker,
}

struct Table {
    map: HashMap<String, Entry>,
    /// Uses so far: a counter orders the streams by last use without a clock.
    uses: u64,
}

struct Entry {
    /// `None` while one of the stream's frames is being analysed with it.
    tracker: Option<FaceTracker>,
    last_used: u64,
}

impl Trackers {
    pub fn new(new_tracker: fn() -> FaceTracker) -> Self {
        Trackers {
            table: Mutex::new(Table {
                map: HashMap::new(),
                uses: 0,
            }),
            new_tracker,
        }
    }

    /// Runs `f` with the stream's tracker. The table is not locked while `f` runs; a
    /// second frame of the same stream arriving meanwhile gets a fresh tracker (a full
    /// scan) rather than waiting.
    pub fn with<T>(&self, stream: &str, f: impl FnOnce(&mut FaceTracker) -> T) -> T {
        let mut tracker = self
            .lock()
            .take(stream)
            .unwrap_or_else(|| (self.new_tracker)());
        let out = f(&mut tracker);
        self.lock().put(stream, tracker);
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A tracker holds no invariant a panic could break: a poisoned table is usable.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

impl Table {
    fn take(&mut self, stream: &str) -> Option<FaceTracker> {
        self.uses += 1;
        let uses = self.uses;
        let entry = self.map.get_mut(stream)?;
        entry.last_used = uses;
        entry.tracker.take()
    }

    fn put(&mut self, stream: &str, tracker: FaceTracker) {
        if !self.map.contains_key(stream) && self.map.len() >= MAX_STREAMS {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.map.remove(&oldest);
            }
        }
        self.uses += 1;
        let uses = self.uses;
        let entry = self.map.entry(stream.to_string()).or_insert(Entry {
            tracker: None,
            last_used: uses,
        });
        entry.tracker = Some(tracker);
        entry.last_used = uses;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moodtune_faces::SeetaConfig;

    fn tracker() -> FaceTracker {
        FaceTracker::new(SeetaConfig::live())
    }

    #[test]
    fn streams_are_bounded_and_the_least_recently_used_goes_first() {
        let t = Trackers::new(tracker);
        t.with("kept", |_| ());
        for i in 0..MAX_STREAMS * 3 {
            t.with(&format!("s{i}"), |_| ());
            // Used again between every new stream: never the least recently used.
            t.with("kept", |_| ());
        }
        assert_eq!(t.len(), MAX_STREAMS);
        assert!(t.lock().map.contains_key("kept"));
    }

    #[test]
    fn a_stream_keeps_its_tracker_between_frames() {
        let t = Trackers::new(tracker);
        t.with("cam", |tr| tr.full_scan_every = 3);
        assert_eq!(t.with("cam", |tr| tr.full_scan_every), 3);
        // A frame arriving while another of its stream is analysed gets a fresh one.
        let inner = t.with("cam", |_| t.with("cam", |tr| tr.full_scan_every));
        assert_eq!(inner, 15);
    }
}
