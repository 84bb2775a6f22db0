//! Like/skip, the feedback a listener gives a song: stored by the library, weighed by
//! the recommender, sent by the web page, so one type serves all three.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the user said about a song.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackKind {
    Like,
    Skip,
}

impl FeedbackKind {
    /// Lower-case name, as stored in the library and sent as JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Like => "like",
            FeedbackKind::Skip => "skip",
        }
    }

    /// [`FeedbackKind::as_str`] under the name [`crate::Emotion::key`] and
    /// [`crate::Strategy::key`] use.
    pub fn key(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for FeedbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feedback {0:?}: expected like or skip")]
pub struct UnknownFeedback(pub String);

impl FromStr for FeedbackKind {
    type Err = UnknownFeedback;

    /// `like` or `skip`, in any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "like" => Ok(FeedbackKind::Like),
            "skip" => Ok(FeedbackKind::Skip),
            _ => Err(UnknownFeedback(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_name() {
        for k in [FeedbackKind::Like, FeedbackKind::Skip] {
            assert_eq!(k.as_str().parse::<FeedbackKind>().unwrap(), k);
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(
            " SKIP ".parse::<FeedbackKind>().unwrap(),
            FeedbackKind::Skip
        );
        let err = "love".parse::<FeedbackKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown feedback \"love\": expected like or skip"
        );
    }

    #[test]
    fn serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&FeedbackKind::Like).unwrap(),
            "\"like\""
        );
        let skip: FeedbackKind = serde_json::from_str("\"skip\"").unwrap();
        assert_eq!(skip, FeedbackKind::Skip);
    }
}
