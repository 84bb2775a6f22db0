//! The user's own word spreads: a manual label, or a like or skip given in a mood, is
//! evidence for the songs most like that song (nearest neighbours over the audio
//! features and the tags), so correcting a few songs improves the rest.

use super::evidence::Vote;
use moodtune_core::Emotion;
use moodtune_library::EvidenceSource;
use std::collections::HashSet;

/// What the user said of one song: `+1` for the emotion it belongs to (a manual label,
/// a like in that mood), `-1` against one (a skip in that mood).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub song: usize,
    pub emotion: Emotion,
    pub sign: f32,
}

/// What a song looks like to the neighbour search.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Audio feature vector ([`moodtune_audio::Features::vector`]), when analysed.
    pub audio: Option<Vec<f32>>,
    /// Lower-cased tags.
    pub tags: HashSet<String>,
}

/// Neighbours that vote for one song.
pub const NEIGHBOURS: usize = 5;
/// Below this similarity a labelled song is no neighbour.
pub const MIN_SIMILARITY: f32 = 0.5;

fn audio_distance(x: &[f32], y: &[f32]) -> f32 {
    let d2: f32 = x.iter().zip(y).map(|(p, q)| (p - q).powi(2)).sum();
    (d2 / x.len().max(1) as f32).sqrt()
}

/// Similarity of two songs in [0, 1]: the mean of what both have. Audio closeness is
/// `exp(-(d / typical)^2)` over standardised features, where `typical` is the library's
/// median distance between two songs (so "close" means close for this library); tag
/// overlap is Jaccard.
pub fn similarity(a: &Profile, b: &Profile, typical: f32) -> Option<f32> {
    let mut parts = Vec::new();
    if let (Some(x), Some(y)) = (&a.audio, &b.audio) {
        let d = audio_distance(x, y) / typical.max(1e-6);
        parts.push((-d * d).exp());
    }
    if !a.tags.is_empty() && !b.tags.is_empty() {
        let inter = a.tags.intersection(&b.tags).count() as f32;
        let union = a.tags.union(&b.tags).count() as f32;
        parts.push(inter / union);
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.iter().sum::<f32>() / parts.len() as f32)
}

/// Standardises each audio feature over the songs (zero mean, unit spread), so no one
/// feature's scale decides the distance, and returns the median distance between two
/// songs' audio (1 when fewer than two songs have audio).
pub fn standardise(profiles: &mut [Profile]) -> f32 {
    let vecs: Vec<&Vec<f32>> = profiles.iter().filter_map(|p| p.audio.as_ref()).collect();
    let Some(dim) = vecs.first().map(|v| v.len()) else {
        return 1.0;
    };
    let n = vecs.len() as f32;
    let mut mean = vec![0.0f32; dim];
    for v in &vecs {
        for (m, x) in mean.iter_mut().zip(v.iter()) {
            *m += x / n;
        }
    }
    let mut sd = vec![0.0f32; dim];
    for v in &vecs {
        for ((s, x), m) in sd.iter_mut().zip(v.iter()).zip(&mean) {
            *s += (x - m).powi(2) / n;
        }
    }
    for p in profiles.iter_mut() {
        if let Some(v) = &mut p.audio {
            if v.len() != dim {
                p.audio = None;
                continue;
            }
            for ((x, m), s) in v.iter_mut().zip(&mean).zip(&sd) {
                *x = (*x - m) / s.sqrt().max(1e-6);
            }
        }
    }
    typical_distance(profiles)
}

/// Most pairs measured for the median distance: a fixed stride through all pairs keeps
/// a large library's cost bounded and the answer deterministic.
const MAX_PAIRS: usize = 20_000;

fn typical_distance(profiles: &[Profile]) -> f32 {
    let vecs: Vec<&Vec<f32>> = profiles.iter().filter_map(|p| p.audio.as_ref()).collect();
    let n = vecs.len();
    if n < 2 {
        return 1.0;
    }
    let pairs = n * (n - 1) / 2;
    let stride = pairs.div_ceil(MAX_PAIRS).max(1);
    let mut d = Vec::with_capacity(pairs.min(MAX_PAIRS));
    // Every `stride`-th pair in row order: `skip` counts down to the next one taken.
    let mut skip = 0usize;
    for i in 0..n {
        for j in i + 1..n {
            if skip == 0 {
                d.push(audio_distance(vecs[i], vecs[j]));
                skip = stride;
            }
            skip -= 1;
        }
    }
    d.sort_by(f32::total_cmp);
    d[d.len() / 2].max(1e-6)
}

/// The neighbours' vote for song `i`, from the anchors of other songs.
pub fn vote(
    i: usize,
    profiles: &[Profile],
    typical: f32,
    anchors: &[Anchor],
    titles: &[String],
) -> Option<Vote> {
    let mut near: Vec<(f32, &Anchor)> = anchors
        .iter()
        .filter(|a| a.song != i)
        .filter_map(|a| {
            let s = similarity(&profiles[i], &profiles[a.song], typical)?;
            (s >= MIN_SIMILARITY).then_some((s, a))
        })
        .collect();
    if near.is_empty() {
        return None;
    }
    near.sort_by(|x, y| y.0.total_cmp(&x.0));
    near.truncate(NEIGHBOURS);
    let mut scores = [0.0f32; Emotion::COUNT];
    let mut weight = 0.0;
    // The closest count most: a fourth power lets one near twin outvote several
    // songs that are merely alike.
    for (s, a) in &near {
        let w = s.powi(4);
        scores[a.emotion.index()] += a.sign * w;
        weight += w;
    }
    scores.iter_mut().for_each(|x| *x /= weight);
    let (best, _) = moodtune_core::top_emotion(&scores);
    let named: Vec<String> = near
        .iter()
        .filter(|(_, a)| a.emotion == best && a.sign > 0.0)
        .take(3)
        .map(|(_, a)| titles[a.song].clone())
        .collect();
    let why = if named.is_empty() {
        "similar songs you skipped in other moods".to_string()
    } else {
        format!("like {} (your {})", named.join(", "), best.key())
    };
    Some(Vote {
        source: EvidenceSource::Neighbours,
        scores,
        // A near twin the user labelled is about as sure as evidence gets.
        strength: (1.5 * near[0].0).min(1.0),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(audio: &[f32], tags: &[&str]) -> Profile {
        Profile {
            audio: Some(audio.to_vec()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn a_label_reaches_similar_songs_only() {
        let profiles = vec![
            profile(&[0.0, 0.0], &["piano"]),
            profile(&[0.05, 0.0], &["piano"]),
            profile(&[5.0, 5.0], &["metal"]),
        ];
        let titles: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let anchors = [Anchor {
            song: 0,
            emotion: Emotion::Sad,
            sign: 1.0,
        }];
        let v = vote(1, &profiles, 1.0, &anchors, &titles).unwrap();
        assert_eq!(v.top().0, Emotion::Sad);
        assert!(v.why.contains('a'), "{}", v.why);
        assert!(
            vote(2, &profiles, 1.0, &anchors, &titles).is_none(),
            "too far"
        );
        assert!(
            vote(0, &profiles, 1.0, &anchors, &titles).is_none(),
            "not its own neighbour"
        );
    }
}
