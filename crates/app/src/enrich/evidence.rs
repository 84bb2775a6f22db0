//! One vote per source of evidence, and how the votes make one prediction.
//!
//! Each source gives probabilities over the seven emotions and a weight: tags and mood
//! words say what people called the song, lyrics what it is about, audio how it sounds,
//! neighbours what the user said of similar songs. The weights rank how directly each
//! source names a mood; docs/AUDIO.md ("Evidence") gives the reasons.

use moodtune_core::Emotion;
use moodtune_library::{Evidence, EvidenceSource};

/// How much each source counts, before its own confidence.
pub fn weight(source: EvidenceSource) -> f32 {
    match source {
        // A mood word a person or a tagger chose names the mood outright.
        EvidenceSource::Tags => 1.0,
        EvidenceSource::Lyrics => 0.8,
        // The user's own word about songs like this one: their moods, not a model's.
        EvidenceSource::Neighbours => 1.0,
        // Cues of tempo, mode and timbre predict perceived mood less surely than words.
        EvidenceSource::Audio => 0.7,
    }
}

/// A source's opinion of one song.
#[derive(Debug, Clone)]
pub struct Vote {
    pub source: EvidenceSource,
    /// Probabilities in [`Emotion::ALL`] order; they need not sum to one (neighbour
    /// votes can be negative for an emotion a skip argued against).
    pub scores: [f32; Emotion::COUNT],
    /// How sure the source is, 0-1; scales its weight.
    pub strength: f32,
    /// Why, in words ("fast, loud, minor key"; "tags: melancholy").
    pub why: String,
}

impl Vote {
    /// The emotion this vote favours and its share of the vote.
    pub fn top(&self) -> (Emotion, f32) {
        let (e, v) = moodtune_core::top_emotion(&self.scores);
        let total: f32 = self.scores.iter().map(|s| s.max(0.0)).sum();
        (e, if total > 0.0 { v.max(0.0) / total } else { 0.0 })
    }

    /// The vote as the library stores it.
    pub fn evidence(&self) -> Evidence {
        let (emotion, share) = self.top();
        Evidence {
            source: self.source,
            emotion,
            confidence: (share * self.strength).clamp(0.0, 1.0),
            why: self.why.clone(),
        }
    }
}

/// The combined prediction: the emotion with the largest weighted score and its share of
/// the positive total. `None` when no vote says anything.
pub fn combine(votes: &[Vote]) -> Option<(Emotion, f32)> {
    let mut total = [0.0f32; Emotion::COUNT];
    for v in votes {
        let w = weight(v.source) * v.strength.clamp(0.0, 1.0);
        for (t, s) in total.iter_mut().zip(v.scores) {
            *t += w * s;
        }
    }
    let positive: f32 = total.iter().map(|t| t.max(0.0)).sum();
    if positive <= 1e-6 {
        return None;
    }
    let (e, v) = moodtune_core::top_emotion(&total);
    Some((e, (v / positive).clamp(0.0, 1.0)))
}

/// Probabilities that fall off with the distance from a (valence, arousal) point to each
/// emotion's place in the circumplex.
pub fn circumplex_scores(valence: f32, arousal: f32) -> [f32; Emotion::COUNT] {
    // About the distance between neighbouring emotions: near ones share the vote.
    const SPREAD: f32 = 0.3;
    let mut s = [0.0f32; Emotion::COUNT];
    for e in Emotion::ALL {
        let (v, a) = e.circumplex();
        let d2 = (v - valence).powi(2) + (a - arousal).powi(2);
        s[e.index()] = (-d2 / (2.0 * SPREAD * SPREAD)).exp();
    }
    let sum: f32 = s.iter().sum();
    s.iter_mut().for_each(|x| *x /= sum);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(source: EvidenceSource, e: Emotion, strength: f32) -> Vote {
        let mut scores = [0.0; 7];
        scores[e.index()] = 1.0;
        Vote {
            source,
            scores,
            strength,
            why: String::new(),
        }
    }

    #[test]
    fn votes_combine_by_weight_and_strength() {
        assert_eq!(combine(&[]), None);
        // Tags outweigh audio of equal strength.
        let (e, c) = combine(&[
            vote(EvidenceSource::Audio, Emotion::Happy, 0.9),
            vote(EvidenceSource::Tags, Emotion::Sad, 0.9),
        ])
        .unwrap();
        assert_eq!(e, Emotion::Sad);
        assert!(c > 0.5 && c < 1.0, "{c}");
        // A sure audio vote beats an unsure lyrics one.
        let (e, _) = combine(&[
            vote(EvidenceSource::Audio, Emotion::Angry, 1.0),
            vote(EvidenceSource::Lyrics, Emotion::Neutral, 0.3),
        ])
        .unwrap();
        assert_eq!(e, Emotion::Angry);
    }

    #[test]
    fn circumplex_scores_peak_at_the_nearest_emotion() {
        for e in Emotion::ALL {
            let (v, a) = e.circumplex();
            let s = circumplex_scores(v, a);
            assert_eq!(moodtune_core::top_emotion(&s).0, e);
            assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}
