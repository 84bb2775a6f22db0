//! A classification run as the lines `library classify` and `library import` print.

use super::ClassifySummary;

impl ClassifySummary {
    /// The audio step, the evidence behind the predictions and the songs per library.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let a = &self.audio;
        if a.analysed + a.failed > 0 {
            lines.push(format!(
                "analysed {} audio files ({:.0}x real time), {} unchanged since their last analysis",
                a.analysed, a.x_real_time, a.reused
            ));
        }
        if a.failed > 0 {
            lines.push(format!("{} audio files could not be analysed:", a.failed));
            lines.extend(a.errors.iter().map(|e| format!("  {e}")));
            if a.failed > a.errors.len() {
                lines.push(format!("  ... and {} more", a.failed - a.errors.len()));
            }
        }
        lines.push(format!(
            "classified {} songs ({}): {} by lyrics, {} by audio, {} by mood tags, {} by similar songs you labelled",
            self.classified,
            self.model_version,
            self.with_lyrics,
            self.with_audio,
            self.with_mood_tags,
            self.with_neighbours
        ));
        if self.overridden_by_manual > 0 {
            lines.push(format!(
                "{} of them disagree with your manual label, which wins over the prediction",
                self.overridden_by_manual
            ));
        }
        lines.push("songs per emotion library now (manual labels included):".into());
        lines.extend(
            self.per_emotion
                .iter()
                .map(|(e, n)| format!("  {:<9} {n}", e.key())),
        );
        if self.unlabelled > 0 {
            lines.push(format!(
                "{} songs have no emotion library yet: no lyrics, readable audio or mood tags (`moodtune library list --unlabelled`)",
                self.unlabelled
            ));
        }
        lines
    }
}
