//! The library's songs as text: the `library list` table and `library show` details.

use crate::text::{clip, minutes_seconds};
use moodtune_library::{PredictedEmotion, Song};

/// A song's tags for display: "(no tags)" when it has none.
pub fn display_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        "(no tags)".into()
    } else {
        tags.join(", ")
    }
}

/// "happy (manual)", "sad (predicted 0.82 by lyrics-v3)", "unlabelled".
pub fn describe_emotion(s: &Song) -> String {
    match (s.manual_emotion, &s.predicted) {
        (Some(m), Some(p)) if p.emotion != m => format!(
            "{} (manual; lyrics model said {} {:.2})",
            m.key(),
            p.emotion.key(),
            p.confidence
        ),
        (Some(m), _) => format!("{} (manual)", m.key()),
        (None, Some(p)) => format!(
            "{} (predicted {:.2} by {})",
            p.emotion.key(),
            p.confidence,
            p.model_version
        ),
        (None, None) => "unlabelled".into(),
    }
}

/// The listing's lines: a header, one line per song (columns cut to fit), a count.
pub fn table(songs: &[Song]) -> Vec<String> {
    if songs.is_empty() {
        return vec!["no songs".into()];
    }
    let mut lines = vec![format!(
        "{:>5}  {:<10} {:<32} {:<20} tags",
        "id", "emotion", "title", "artist"
    )];
    for s in songs {
        let emo = match (s.manual_emotion, &s.predicted) {
            (Some(m), _) => m.key().to_string(),
            (None, Some(p)) => format!("{}?", p.emotion.key()),
            (None, None) => "-".into(),
        };
        lines.push(format!(
            "{:>5}  {:<10} {} {} {}",
            s.id,
            emo,
            clip(&s.title, 32),
            clip(&s.artist, 20),
            s.tags.join(", ")
        ));
    }
    lines.push(format!(
        "{} songs (emotion: manual label; \"?\" marks a lyrics prediction)",
        songs.len()
    ));
    lines
}

/// Everything about one song, a field a line; the lyrics last, indented.
pub fn details(s: &Song) -> Vec<String> {
    let mut lines = vec![format!("{}  {}", s.id, s.title)];
    let artist = if s.artist.is_empty() { "-" } else { &s.artist };
    lines.push(format!("  artist    {artist}"));
    if let Some(a) = &s.album {
        lines.push(format!("  album     {a}"));
    }
    if let Some(d) = s.duration_s {
        lines.push(format!("  duration  {}", minutes_seconds(d)));
    }
    if let Some(l) = &s.language {
        lines.push(format!("  language  {l}"));
    }
    lines.push(format!("  emotion   {}", describe_emotion(s)));
    if let Some(PredictedEmotion {
        drivers, sources, ..
    }) = &s.predicted
    {
        if !drivers.is_empty() {
            lines.push(format!("  drivers   {}", drivers.join(", ")));
        }
        for e in sources {
            lines.push(format!(
                "  evidence  {}: {} {:.0}% ({})",
                e.source.key(),
                e.emotion.key(),
                e.confidence * 100.0,
                e.why
            ));
        }
    }
    lines.push(format!("  tags      {}", display_tags(&s.tags)));
    match &s.audio_path {
        Some(p) => lines.push(format!("  audio     {}", p.display())),
        None => lines.push("  audio     -".into()),
    }
    lines.push(format!("  source    {} [{}]", s.source, s.source_key));
    match &s.lyrics {
        Some(l) => {
            lines.push("  lyrics".into());
            lines.extend(l.lines().map(|line| format!("    {line}")));
        }
        None => lines.push("  lyrics    -".into()),
    }
    lines
}
