//! The taste as `profile pick` and `profile show` print it: the picks, the feedback and
//! the tag weights they give each emotion.

use crate::playlist::Recommender;
use moodtune_core::Emotion;
use moodtune_library::{Library, SongId};
use moodtune_recommend::{ProfileSummary, DEFAULT_PICKS};

/// `emotion`'s typical songs `ids` (as stored by [`super::set_picks`]), each with a note
/// when it is outside the emotion's library.
pub fn picks_lines(lib: &Library, emotion: Emotion, ids: &[SongId]) -> anyhow::Result<Vec<String>> {
    let mut lines = vec![format!("typical {} songs ({}):", emotion.key(), ids.len())];
    for id in ids {
        if let Some(song) = lib.song(*id)? {
            // A pick outside the emotion's library shapes the taste but is never played
            // for that emotion: say why.
            let e = emotion.key();
            let warn = match song.emotion() {
                Some(label) if label == emotion => String::new(),
                Some(label) => format!("  (note: labelled {}, not {e})", label.key()),
                None => format!("  (note: not labelled yet, so not in the {e} library)"),
            };
            lines.push(format!("  {id}: {} - {}{warn}", song.artist, song.title));
        }
    }
    if ids.len() != DEFAULT_PICKS {
        lines.push(format!(
            "(the design uses {DEFAULT_PICKS} typical songs per emotion; any number works)"
        ));
    }
    Ok(lines)
}

/// One emotion's profile as `profile show --json` prints it.
#[derive(serde::Serialize)]
pub struct ProfileJson {
    #[serde(flatten)]
    summary: ProfileSummary,
    pick_titles: Vec<String>,
}

/// "artist - title" of a song of the index, else "#ID".
fn title(rec: &Recommender, id: SongId) -> String {
    rec.index()
        .song(id)
        .map_or(format!("#{id}"), |s| format!("{} - {}", s.artist, s.title))
}

/// The profiles of `emotions`, with the picks' titles.
pub fn profiles_json(rec: &Recommender, emotions: &[Emotion]) -> Vec<ProfileJson> {
    emotions
        .iter()
        .map(|&e| {
            let summary = rec.index().profile(e, rec.taste());
            let pick_titles = summary.picks.iter().map(|&id| title(rec, id)).collect();
            ProfileJson {
                summary,
                pick_titles,
            }
        })
        .collect()
}

/// The profiles of `emotions` as text; `all`: every emotion was asked for, so those
/// without picks or feedback take one line.
pub fn profiles_lines(
    lib: &Library,
    rec: &Recommender,
    emotions: &[Emotion],
    all: bool,
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for &e in emotions {
        let p = rec.index().profile(e, rec.taste());
        let untouched = p.picks.is_empty() && p.missing_picks.is_empty() && p.likes + p.skips == 0;
        if untouched && all {
            lines.push(format!("{}: no picks or feedback yet", e.key()));
            continue;
        }
        lines.push(format!(
            "{} ({} songs in the library):",
            e.key(),
            rec.index().library_len(e)
        ));
        if p.picks.is_empty() {
            lines.push(format!(
                "  no typical songs picked (moodtune profile pick --emotion {} SONG...)",
                e.key()
            ));
        }
        for &id in &p.picks {
            let note = if !p.off_library_picks.contains(&id) {
                String::new()
            } else {
                match lib.song(id)?.and_then(|s| s.emotion()) {
                    Some(label) => format!("  (labelled {})", label.key()),
                    None => "  (not labelled yet)".to_string(),
                }
            };
            lines.push(format!("  pick {id}: {}{note}", title(rec, id)));
        }
        for id in &p.missing_picks {
            lines.push(format!("  pick {id}: no longer in the library"));
        }
        if p.likes + p.skips > 0 {
            lines.push(format!("  feedback: {} likes, {} skips", p.likes, p.skips));
        }
        if p.weights.is_empty() {
            lines
                .push("  tag weights: none (recommendations fall back to label confidence)".into());
        } else {
            let w: Vec<String> = p.weights.iter().map(|(t, w)| format!("{t} {w}")).collect();
            lines.push(format!("  tag weights: {}", w.join(", ")));
        }
    }
    Ok(lines)
}
