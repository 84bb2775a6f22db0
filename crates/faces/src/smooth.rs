//! Per-frame expression probabilities in, a calm mood out.
//!
//! A single frame's classification flickers (blinks, motion blur, talking), so the
//! mood is an exponential moving average of the probabilities. The average is
//! time-based (a half-life in seconds), so it behaves the same at 5 or 30 frames per
//! second. On top of it, hysteresis: the shown emotion only changes when another one
//! leads it by a margin for a while. Without a face, the evidence fades and after a
//! timeout the mood becomes unknown.

use crate::pipeline::top_emotion;
use moodtune_core::Emotion;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmootherConfig {
    /// Seconds after which a frame's weight in the average has halved.
    pub half_life_s: f32,
    /// Another emotion must lead the current one by this much probability...
    pub switch_margin: f32,
    /// ...continuously for this many seconds before the mood switches.
    pub switch_hold_s: f32,
    /// The mood counts as stable once unchanged and unchallenged this long.
    pub stable_after_s: f32,
    /// After this many seconds without a face the mood is unknown.
    pub absence_timeout_s: f32,
}

impl Default for SmootherConfig {
    fn default() -> Self {
        SmootherConfig {
            half_life_s: 0.6,
            switch_margin: 0.1,
            switch_hold_s: 0.5,
            stable_after_s: 1.5,
            absence_timeout_s: 2.0,
        }
    }
}

/// What the smoother reports after each frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmoothedMood {
    /// The current mood, `None` before the first face and after a face has been
    /// absent for `absence_timeout_s`.
    pub emotion: Option<Emotion>,
    /// Smoothed probabilities in `Emotion::ALL` order (uniform when unknown).
    pub probabilities: [f32; Emotion::COUNT],
    /// True once the mood has held, unchallenged, for `stable_after_s`: a good moment
    /// to (re)build a playlist.
    pub stable: bool,
}

const UNIFORM: [f32; Emotion::COUNT] = [1.0 / Emotion::COUNT as f32; Emotion::COUNT];

/// Smooths a stream of per-frame probabilities; one per video stream.
#[derive(Debug, Clone)]
pub struct MoodSmoother {
    config: SmootherConfig,
    probs: [f32; Emotion::COUNT],
    emotion: Option<Emotion>,
    last_t: Option<f64>,
    last_face_t: Option<f64>,
    /// Since when the current emotion has been shown without a challenger.
    settled_since: f64,
    /// A challenger and since when it has led by the margin.
    challenger: Option<(Emotion, f64)>,
}

impl MoodSmoother {
    pub fn new(config: SmootherConfig) -> Self {
        MoodSmoother {
            config,
            probs: UNIFORM,
            emotion: None,
            last_t: None,
            last_face_t: None,
            settled_since: 0.0,
            challenger: None,
        }
    }

    /// Forgets everything (e.g. the camera was switched).
    pub fn reset(&mut self) {
        *self = MoodSmoother::new(self.config);
    }

    /// The mood as of the last push, without adding a frame.
    pub fn current(&self) -> SmoothedMood {
        let stable = match (self.emotion, self.last_t) {
            (Some(_), Some(t)) => {
                self.challenger.is_none()
                    && t - self.settled_since >= self.config.stable_after_s as f64
            }
            _ => false,
        };
        SmoothedMood {
            emotion: self.emotion,
            probabilities: self.probs,
            stable,
        }
    }

    /// Adds one frame: `Some(probabilities)` of the main face, or `None` when no face
    /// was seen. `timestamp_s` is in seconds on any monotonic clock; a timestamp that
    /// goes backwards counts as no time passing.
    pub fn push(&mut self, frame: Option<[f32; Emotion::COUNT]>, timestamp_s: f64) -> SmoothedMood {
        let dt = match self.last_t {
            Some(prev) => (timestamp_s - prev).max(0.0),
            None => 0.0,
        };
        let now = self.last_t.map_or(timestamp_s, |p| p.max(timestamp_s));
        self.last_t = Some(now);
        // Weight of the new evidence for a time step dt: 1 - 2^(-dt / half_life).
        let half_life = self.config.half_life_s.max(1e-3) as f64;
        let alpha = (1.0 - (-dt * std::f64::consts::LN_2 / half_life).exp()) as f32;

        match frame {
            Some(p) => {
                let p = normalised(p);
                let fresh = match self.last_face_t {
                    None => true,
                    Some(t) => now - t > self.config.absence_timeout_s as f64,
                };
                self.last_face_t = Some(now);
                if fresh || self.emotion.is_none() {
                    // First face (or first after an absence): start from it rather
                    // than averaging with stale or uniform history.
                    self.probs = p;
                    self.emotion = Some(top_emotion(&p).0);
                    self.settled_since = now;
                    self.challenger = None;
                } else {
                    // A frame repeating the previous timestamp adds no weight:
                    // the average depends on time, not on how many frames came.
                    for (s, v) in self.probs.iter_mut().zip(p) {
                        *s += alpha * (v - *s);
                    }
                    self.update_emotion(now);
                }
            }
            None => {
                // Evidence fades toward "no idea" at the same rate as it builds.
                for s in self.probs.iter_mut() {
                    *s += alpha * (UNIFORM[0] - *s);
                }
                let absent_for = self.last_face_t.map_or(f64::INFINITY, |t| now - t);
                if absent_for >= self.config.absence_timeout_s as f64 {
                    self.emotion = None;
                    self.probs = UNIFORM;
                    self.challenger = None;
                } else {
                    // Still within the grace period: keep the mood but it is not
                    // stable while nobody is looking.
                    self.challenger = None;
                    self.settled_since = now;
                }
            }
        }
        self.current()
    }

    fn update_emotion(&mut self, now: f64) {
        let (top, top_p) = top_emotion(&self.probs);
        let Some(cur) = self.emotion else {
            self.emotion = Some(top);
            self.settled_since = now;
            return;
        };
        if top == cur || top_p - self.probs[cur.index()] < self.config.switch_margin {
            self.challenger = None;
            return;
        }
        match self.challenger {
            Some((c, since)) if c == top => {
                if now - since >= self.config.switch_hold_s as f64 {
                    self.emotion = Some(top);
                    self.settled_since = now;
                    self.challenger = None;
                }
            }
            _ => self.challenger = Some((top, now)),
        }
    }
}

fn normalised(p: [f32; Emotion::COUNT]) -> [f32; Emotion::COUNT] {
    let mut q = p.map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 });
    let sum: f32 = q.iter().sum();
    if sum <= 0.0 {
        return UNIFORM;
    }
    q.iter_mut().for_each(|v| *v /= sum);
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(e: Emotion, p: f32) -> [f32; 7] {
        let mut v = [(1.0 - p) / 6.0; 7];
        v[e.index()] = p;
        v
    }

    /// Pushes `frames` at 10 fps starting at `t0`; returns the last mood and end time.
    fn feed(
        s: &mut MoodSmoother,
        frame: Option<[f32; 7]>,
        t0: f64,
        n: usize,
    ) -> (SmoothedMood, f64) {
        let mut last = s.current();
        let mut t = t0;
        for i in 0..n {
            t = t0 + i as f64 * 0.1;
            last = s.push(frame, t);
        }
        (last, t)
    }

    #[test]
    fn starts_unknown_and_takes_first_face() {
        let mut s = MoodSmoother::new(SmootherConfig::default());
        assert_eq!(s.current().emotion, None);
        let m = s.push(Some(one_hot(Emotion::Happy, 0.8)), 0.0);
        assert_eq!(m.emotion, Some(Emotion::Happy));
        assert!(!m.stable);
        let (m, _) = feed(&mut s, Some(one_hot(Emotion::Happy, 0.8)), 0.1, 20);
        assert!(m.stable, "{m:?}");
        assert!((m.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn single_odd_frames_do_not_flip_the_mood() {
        let mut s = MoodSmoother::new(SmootherConfig::default());
        let (_, mut t) = feed(&mut s, Some(one_hot(Emotion::Happy, 0.7)), 0.0, 20);
        // Every third frame says Sad strongly: the mood must stay Happy throughout.
        for i in 0..30 {
            t += 0.1;
            let f = if i % 3 == 0 {
                one_hot(Emotion::Sad, 0.9)
            } else {
                one_hot(Emotion::Happy, 0.7)
            };
            let m = s.push(Some(f), t);
            assert_eq!(m.emotion, Some(Emotion::Happy), "frame {i}: {m:?}");
        }
    }

    #[test]
    fn a_lasting_change_switches_after_the_hold() {
        let mut s = MoodSmoother::new(SmootherConfig::default());
        let (_, t) = feed(&mut s, Some(one_hot(Emotion::Happy, 0.8)), 0.0, 20);
        let mut switched_at = None;
        for i in 1..=40 {
            let now = t + i as f64 * 0.1;
            let m = s.push(Some(one_hot(Emotion::Surprise, 0.8)), now);
            if m.emotion == Some(Emotion::Surprise) && switched_at.is_none() {
                switched_at = Some(now - t);
            }
        }
        let after = switched_at.expect("mood never switched");
        // Not instant (hysteresis) but well within 2 s.
        assert!((0.5..=2.0).contains(&after), "switched after {after}");
        assert!(s.current().stable);
    }

    #[test]
    fn no_face_decays_to_unknown() {
        let cfg = SmootherConfig::default();
        let mut s = MoodSmoother::new(cfg);
        let (_, t) = feed(&mut s, Some(one_hot(Emotion::Angry, 0.9)), 0.0, 10);
        // A short dropout keeps the mood but not its stability.
        let m = s.push(None, t + 0.3);
        assert_eq!(m.emotion, Some(Emotion::Angry));
        assert!(!m.stable);
        assert!(m.probabilities[Emotion::Angry.index()] < 0.9);
        let m = s.push(None, t + cfg.absence_timeout_s as f64 + 0.1);
        assert_eq!(m.emotion, None);
        assert!(!m.stable);
        assert!(m.probabilities.iter().all(|p| (p - 1.0 / 7.0).abs() < 1e-6));
        // A new face afterwards starts fresh, not averaged with the old Angry.
        let m = s.push(Some(one_hot(Emotion::Neutral, 0.6)), t + 5.0);
        assert_eq!(m.emotion, Some(Emotion::Neutral));
        assert!((m.probabilities[Emotion::Neutral.index()] - 0.6).abs() < 1e-5);
    }

    #[test]
    fn rate_independent_smoothing() {
        // The same 1 s of a changed signal moves the average equally at 5 and 30 fps.
        let run = |fps: f64| {
            let mut s = MoodSmoother::new(SmootherConfig::default());
            s.push(Some(one_hot(Emotion::Happy, 1.0)), 0.0);
            let n = fps as usize;
            let mut m = s.current();
            for i in 1..=n {
                m = s.push(Some(one_hot(Emotion::Sad, 1.0)), i as f64 / fps);
            }
            m.probabilities[Emotion::Sad.index()]
        };
        let (a, b) = (run(5.0), run(30.0));
        assert!((a - b).abs() < 0.01, "{a} vs {b}");
        // Half-life 0.6 s: after 1 s about 1 - 2^(-1/0.6) = 0.685 of the way.
        assert!((a - 0.685).abs() < 0.02, "{a}");
    }

    #[test]
    fn garbage_probabilities_are_tolerated() {
        let mut s = MoodSmoother::new(SmootherConfig::default());
        let m = s.push(Some([f32::NAN, -1.0, 0.0, 2.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(m.emotion, Some(Emotion::Happy));
        assert!((m.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Time going backwards must not panic or extrapolate.
        let m = s.push(Some(one_hot(Emotion::Happy, 0.5)), -10.0);
        assert!(m.probabilities.iter().all(|p| p.is_finite()));
    }
}
