//! From per-frame expression probabilities to a steady mood.
//!
//! One smoother for every client of the web app (the page, a script posting frames, the
//! load test), so they all behave alike. It keeps seven numbers, never a frame.

use crate::Emotion;
use serde::Serialize;
use std::collections::HashMap;

/// The most probable emotion and its probability; the first one on ties, so results
/// are stable.
pub fn top_emotion(probs: &[f32; Emotion::COUNT]) -> (Emotion, f32) {
    let mut best = 0;
    for i in 1..Emotion::COUNT {
        if probs[i] > probs[best] {
            best = i;
        }
    }
    (Emotion::ALL[best], probs[best])
}

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
        let (top, _) = top_emotion(&avg);
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
}
