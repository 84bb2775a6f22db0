//! Which songs of the library a listing shows, and checks on edits of their tags;
//! [`text`] renders them.

pub mod text;

use moodtune_core::Emotion;
use moodtune_library::{Library, Song};

/// What `library list` narrows the library to.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only songs of this emotion library (manual label, else prediction).
    pub emotion: Option<Emotion>,
    /// Only songs whose title, artist, album, tags or lyrics contain this text.
    pub search: Option<&'a str>,
    /// Only songs with no label and no prediction.
    pub unlabelled: bool,
}

/// The songs that pass `filter`: the narrowest query the store answers, then the rest.
pub fn list(lib: &Library, filter: &Filter) -> moodtune_library::Result<Vec<Song>> {
    let mut songs = match (filter.emotion, filter.search) {
        (_, Some(text)) => lib.search(text)?,
        (Some(e), None) => lib.songs_in(e)?,
        (None, None) if filter.unlabelled => lib.unlabelled()?,
        (None, None) => lib.songs()?,
    };
    if let Some(e) = filter.emotion {
        songs.retain(|s| s.emotion() == Some(e));
    }
    if filter.unlabelled {
        songs.retain(|s| s.emotion().is_none());
    }
    Ok(songs)
}

/// The tags of `remove` that the song does not have (matched as the store matches them:
/// trimmed, ignoring case), so that a typo in a removal is not silently a no-op.
pub fn absent_tags<'a>(current: &[String], remove: &'a [String]) -> Vec<&'a str> {
    remove
        .iter()
        .map(|t| t.trim())
        .filter(|t| !current.iter().any(|c| c.eq_ignore_ascii_case(t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_tag_the_song_lacks_is_reported() {
        let current = vec!["Cheerful".to_string(), "Fast".to_string()];
        let remove = vec!["cheerful".to_string(), " Slow ".to_string()];
        assert_eq!(absent_tags(&current, &remove), vec!["Slow"]);
        assert!(absent_tags(&current, &[]).is_empty());
    }
}
