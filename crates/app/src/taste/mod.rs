//! The user's taste as the library stores it: typical songs per emotion and like/skip
//! feedback, given by song names (ids as #ID, or part of a title) on the command line;
//! [`profile`] shows what they make of each emotion.

pub mod profile;

use anyhow::Context;
use moodtune_core::Emotion;
use moodtune_library::{FeedbackKind, Library, Song, SongId};

/// Every name of `names`, found before anything is written so one bad name changes
/// nothing; an error names the song.
fn find_all(lib: &Library, names: &[String]) -> anyhow::Result<Vec<Song>> {
    names
        .iter()
        .map(|s| {
            lib.find(s)
                .with_context(|| format!("finding the song {s:?}"))
        })
        .collect()
}

/// Records that the user liked `likes` and skipped `skips` while in `emotion` (if
/// known). All of it is one transaction: a typo in the last name must not leave the
/// first ones recorded (and recorded twice once the command is run again).
pub fn record_feedback(
    lib: &mut Library,
    likes: &[String],
    skips: &[String],
    emotion: Option<Emotion>,
) -> anyhow::Result<Vec<(Song, FeedbackKind)>> {
    let mut given = Vec::new();
    for (names, kind) in [(likes, FeedbackKind::Like), (skips, FeedbackKind::Skip)] {
        given.extend(find_all(lib, names)?.into_iter().map(|song| (song, kind)));
    }
    if !given.is_empty() {
        let ids: Vec<_> = given.iter().map(|(song, kind)| (song.id, *kind)).collect();
        lib.add_feedback_all(&ids, emotion, moodtune_core::now_unix())
            .context("recording the feedback")?;
    }
    Ok(given)
}

/// Makes `names` the typical songs of `emotion` (after the earlier ones with `add`);
/// returns the picks now stored.
pub fn set_picks(
    lib: &mut Library,
    emotion: Emotion,
    add: bool,
    names: &[String],
) -> anyhow::Result<Vec<SongId>> {
    let found = find_all(lib, names)?;
    let mut ids = if add { lib.picks(emotion)? } else { Vec::new() };
    for song in &found {
        if !ids.contains(&song.id) {
            ids.push(song.id);
        }
    }
    lib.set_picks(emotion, &ids).context("saving the picks")?;
    Ok(ids)
}
