//! Mood and genre words in a song's tags ("Melancholy", "Cheerful", ID3 TMOO, Vorbis
//! MOOD/GENRE) as evidence, read through the lyrics lexicons plus the mood vocabulary of
//! music taggers that the lexicons, made for lyrics, lack.

use super::evidence::Vote;
use moodtune_core::Emotion;
use moodtune_library::EvidenceSource;
use moodtune_lyrics::Analyzer;

/// Mood words of music tagging (AllMusic-style moods, common genre words with a clear
/// mood) with the emotion each points to. Lower case; matched as whole tags or words.
const MOOD_WORDS: &[(&str, Emotion)] = &[
    ("cheerful", Emotion::Happy),
    ("upbeat", Emotion::Happy),
    ("happy", Emotion::Happy),
    ("joyful", Emotion::Happy),
    ("joyous", Emotion::Happy),
    ("uplifting", Emotion::Happy),
    ("playful", Emotion::Happy),
    ("feel-good", Emotion::Happy),
    ("sunny", Emotion::Happy),
    ("party", Emotion::Happy),
    ("euphoric", Emotion::Happy),
    ("melancholy", Emotion::Sad),
    ("melancholic", Emotion::Sad),
    ("sad", Emotion::Sad),
    ("sorrowful", Emotion::Sad),
    ("gloomy", Emotion::Sad),
    ("mournful", Emotion::Sad),
    ("bittersweet", Emotion::Sad),
    ("lonely", Emotion::Sad),
    ("heartbreak", Emotion::Sad),
    ("blues", Emotion::Sad),
    ("elegy", Emotion::Sad),
    ("requiem", Emotion::Sad),
    ("aggressive", Emotion::Angry),
    ("angry", Emotion::Angry),
    ("furious", Emotion::Angry),
    ("rage", Emotion::Angry),
    ("intense", Emotion::Angry),
    ("hostile", Emotion::Angry),
    ("metal", Emotion::Angry),
    ("thrash", Emotion::Angry),
    ("hardcore", Emotion::Angry),
    ("punk", Emotion::Angry),
    ("scary", Emotion::Fear),
    ("creepy", Emotion::Fear),
    ("eerie", Emotion::Fear),
    ("ominous", Emotion::Fear),
    ("tense", Emotion::Fear),
    ("suspense", Emotion::Fear),
    ("suspenseful", Emotion::Fear),
    ("haunting", Emotion::Fear),
    ("horror", Emotion::Fear),
    ("anxious", Emotion::Fear),
    ("disturbing", Emotion::Disgust),
    ("grotesque", Emotion::Disgust),
    ("sleazy", Emotion::Disgust),
    ("gross", Emotion::Disgust),
    ("surprising", Emotion::Surprise),
    ("whimsical", Emotion::Surprise),
    ("quirky", Emotion::Surprise),
    ("exciting", Emotion::Surprise),
    ("energetic", Emotion::Surprise),
    ("calm", Emotion::Neutral),
    ("chill", Emotion::Neutral),
    ("relaxing", Emotion::Neutral),
    ("relaxed", Emotion::Neutral),
    ("peaceful", Emotion::Neutral),
    ("ambient", Emotion::Neutral),
    ("meditative", Emotion::Neutral),
    ("soothing", Emotion::Neutral),
    ("easy listening", Emotion::Neutral),
    ("lounge", Emotion::Neutral),
    ("background", Emotion::Neutral),
];

/// The tags' vote, `None` when no tag carries a mood word.
pub fn vote(analyzer: &Analyzer, tags: &[String]) -> Option<Vote> {
    let mut scores = [0.0f32; Emotion::COUNT];
    let mut words = Vec::new();
    for tag in tags {
        let lower = tag.trim().to_lowercase();
        if lower.is_empty() {
            continue;
        }
        // A tag that names one of the seven emotions ("sad", "愤怒") says it plainly.
        // (Not a number: "3" is a FER2013 id to the parser, but a track number here.)
        let parsed = lower.parse::<Emotion>().ok();
        if let Some(e) = parsed.filter(|_| !lower.chars().all(|c| c.is_ascii_digit())) {
            scores[e.index()] += 1.0;
            words.push(lower);
            continue;
        }
        let known = MOOD_WORDS.iter().find(|(w, _)| {
            lower == *w
                || lower
                    .split(|c: char| !c.is_alphanumeric() && c != '-')
                    .any(|p| p == *w)
        });
        if let Some((w, e)) = known {
            scores[e.index()] += 1.0;
            words.push((*w).to_string());
            continue;
        }
        // Everything else through the lyrics lexicons (Chinese and English mood words).
        let f = analyzer.features(&lower);
        let best = moodtune_core::top_emotion(&f.emotions);
        if best.1 > 0.0 && !f.hits.is_empty() {
            let total: f32 = f.emotions.iter().map(|v| v.max(0.0)).sum();
            for (s, v) in scores.iter_mut().zip(f.emotions) {
                *s += v.max(0.0) / total;
            }
            words.push(lower);
        }
    }
    let total: f32 = scores.iter().sum();
    if total <= 0.0 {
        return None;
    }
    scores.iter_mut().for_each(|s| *s /= total);
    let top = moodtune_core::top_emotion(&scores).1;
    Some(Vote {
        source: EvidenceSource::Tags,
        scores,
        // Several tags that agree are surer than one; disagreeing ones less sure.
        strength: (0.6 + 0.2 * words.len() as f32).min(1.0) * top,
        why: words.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mood_tags_vote_and_plain_tags_do_not() {
        let a = Analyzer::default();
        let v = vote(&a, &tags(&["Melancholy", "Piano"])).unwrap();
        assert_eq!(v.top().0, Emotion::Sad);
        assert!(v.why.contains("melancholy"), "{}", v.why);
        assert_eq!(
            vote(&a, &tags(&["Cheerful", "Keyboard"])).unwrap().top().0,
            Emotion::Happy
        );
        assert_eq!(
            vote(&a, &tags(&["Heavy Metal"])).unwrap().top().0,
            Emotion::Angry
        );
        assert_eq!(vote(&a, &tags(&["angry"])).unwrap().top().0, Emotion::Angry);
        assert!(vote(&a, &tags(&["Piano", "Instrumental", "2009"])).is_none());
        assert!(vote(&a, &[]).is_none());
    }
}
