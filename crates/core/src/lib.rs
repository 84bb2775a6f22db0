//! The vocabulary every moodtune crate shares: the seven emotions of FER2013.
//!
//! Label ids follow FER2013 (0 Angry ... 6 Neutral), so a model's output index, a
//! library's emotion column and a recommendation all mean the same thing. It also holds
//! [`write_atomically`], how moodtune writes its output files.

mod atomic;
mod circumplex;
mod face_box;
mod feedback;
pub mod metrics;
pub mod mood;
mod time;

pub use atomic::{write_atomically, write_bytes_atomically};
pub use face_box::FaceBox;
pub use feedback::{FeedbackKind, UnknownFeedback};
pub use mood::{top_emotion, Mood, MoodSmoother};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
pub use time::now_unix;

/// One of the seven expression classes of FER2013, also used as the seven emotion
/// libraries songs are sorted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Angry = 0,
    Disgust = 1,
    Fear = 2,
    Happy = 3,
    Sad = 4,
    Surprise = 5,
    Neutral = 6,
}

impl Emotion {
    pub const COUNT: usize = 7;
    /// All emotions in FER2013 label order.
    pub const ALL: [Emotion; 7] = [
        Emotion::Angry,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Surprise,
        Emotion::Neutral,
    ];

    /// FER2013 label id (0-6).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<Emotion> {
        Self::ALL.get(index).copied()
    }

    /// Capitalised display name, as FER2013 names the class.
    pub fn name(self) -> &'static str {
        match self {
            Emotion::Angry => "Angry",
            Emotion::Disgust => "Disgust",
            Emotion::Fear => "Fear",
            Emotion::Happy => "Happy",
            Emotion::Sad => "Sad",
            Emotion::Surprise => "Surprise",
            Emotion::Neutral => "Neutral",
        }
    }

    /// Lower-case identifier used on the command line, in JSON and in the database.
    pub fn key(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Surprise => "surprise",
            Emotion::Neutral => "neutral",
        }
    }

    /// Valence used by mood regulation and by the first level of the hierarchical
    /// lyrics classifier: Happy and Surprise are positive, Neutral is neither.
    pub fn valence(self) -> Valence {
        match self {
            Emotion::Happy | Emotion::Surprise => Valence::Positive,
            Emotion::Neutral => Valence::Neutral,
            _ => Valence::Negative,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Valence {
    Positive,
    Neutral,
    Negative,
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown emotion {0:?}: expected one of angry, disgust, fear, happy, sad, surprise, neutral (or 0-6)")]
pub struct UnknownEmotion(pub String);

impl FromStr for Emotion {
    type Err = UnknownEmotion;

    /// Accepts the English key in any case, the FER2013 id, and common Chinese names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(i) = t.parse::<usize>() {
            return Emotion::from_index(i).ok_or_else(|| UnknownEmotion(s.to_string()));
        }
        let lower = t.to_lowercase();
        let e = match lower.as_str() {
            "angry" | "anger" | "愤怒" | "生气" => Emotion::Angry,
            "disgust" | "disgusted" | "厌恶" => Emotion::Disgust,
            "fear" | "afraid" | "fearful" | "恐惧" | "害怕" => Emotion::Fear,
            "happy" | "happiness" | "joy" | "快乐" | "开心" | "高兴" => Emotion::Happy,
            "sad" | "sadness" | "悲伤" | "伤心" => Emotion::Sad,
            "surprise" | "surprised" | "惊讶" | "惊喜" => Emotion::Surprise,
            "neutral" | "calm" | "平静" | "中性" => Emotion::Neutral,
            _ => return Err(UnknownEmotion(s.to_string())),
        };
        Ok(e)
    }
}

/// How a detected mood becomes a playlist; shared by the recommender, the web app and
/// the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The design's: songs of the detected emotion's library.
    #[default]
    Match,
    /// Mood regulation (iso principle): start with songs that match a negative mood and
    /// move step by step to calmer, more positive libraries.
    Lift,
}

impl Strategy {
    pub fn key(self) -> &'static str {
        match self {
            Strategy::Match => "match",
            Strategy::Lift => "lift",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown strategy {0:?}: expected match or lift")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "match" => Ok(Strategy::Match),
            "lift" => Ok(Strategy::Lift),
            _ => Err(UnknownStrategy(s.to_string())),
        }
    }
}

/// A model that turns one grayscale face crop into the probabilities of the seven
/// emotions. Implemented by `moodtune-fer`; the face pipeline only sees this trait, so
/// it can be tested with a stand-in and any model can be plugged in.
pub trait ExpressionClassifier: Send + Sync {
    /// `gray` is a row-major `width * height` grayscale crop of one face, framed like
    /// FER2013 (square, some margin around the face). Returns probabilities in
    /// [`Emotion::ALL`] order, summing to 1.
    fn classify_face(&self, gray: &[u8], width: u32, height: u32) -> [f32; Emotion::COUNT];

    /// Several faces at once; models override this to batch the work.
    fn classify_faces(&self, faces: &[(&[u8], u32, u32)]) -> Vec<[f32; Emotion::COUNT]> {
        faces
            .iter()
            .map(|(g, w, h)| self.classify_face(g, *w, *h))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_fer2013() {
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(*e));
        }
        assert_eq!(Emotion::from_index(7), None);
    }

    #[test]
    fn parses_names_ids_and_chinese() {
        assert_eq!("Happy".parse::<Emotion>().unwrap(), Emotion::Happy);
        assert_eq!("4".parse::<Emotion>().unwrap(), Emotion::Sad);
        assert_eq!("恐惧".parse::<Emotion>().unwrap(), Emotion::Fear);
        assert!("bored".parse::<Emotion>().is_err());
        assert!("9".parse::<Emotion>().is_err());
    }

    #[test]
    fn round_trips_through_key() {
        for e in Emotion::ALL {
            assert_eq!(e.key().parse::<Emotion>().unwrap(), e);
        }
    }
}
