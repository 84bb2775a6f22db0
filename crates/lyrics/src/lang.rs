//! Script-based language detection: cheap enough to run on every song of a library.

use serde::{Deserialize, Serialize};

/// The language of a lyrics text, as far as the analyzer cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Chinese,
    English,
    /// Another script (Japanese kana, Korean, Cyrillic...), a Latin-script text with no
    /// English in it, or no letters at all (instrumental, empty).
    Other,
}

impl Language {
    pub fn key(self) -> &'static str {
        match self {
            Language::Chinese => "chinese",
            Language::English => "english",
            Language::Other => "other",
        }
    }
}

pub(crate) fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF | 0x2A700..=0x2EBEF)
}

fn is_kana(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x31F0..=0x31FF)
}

/// Frequent English function words; a Latin-script text must contain some to count as
/// English (so French or Spanish lyrics come out as `Other`).
pub(crate) const ENGLISH_MARKERS: &[&str] = &[
    "the", "and", "you", "i", "me", "my", "to", "of", "a", "in", "is", "it", "on", "we", "your",
    "be", "are", "for", "with", "that", "this", "was", "all", "so", "but", "not", "don't", "i'm",
    "can't", "no", "love", "she", "he", "they", "our", "will", "when", "what", "at", "from",
    "like", "just", "know", "never", "oh", "out", "up", "down",
];

/// Decides the language from the letters of `text`: Chinese when Han characters make up
/// a fair share of the letters (one Han character carries about a word), English when
/// Latin letters dominate and English function words appear, `Other` otherwise.
pub fn detect_language(text: &str) -> Language {
    detect(text)
}

/// Function words and fragments that say nothing about a song's emotion, left out of the
/// drivers shown to users (the model may still weigh them).
pub(crate) fn is_filler(word: &str) -> bool {
    if word.chars().any(is_han) {
        word.chars().count() < 2
    } else {
        word.len() < 3 || ENGLISH_MARKERS.contains(&word)
    }
}

/// Letters of a text counted by script.
#[derive(Debug, Default)]
struct Letters {
    han: usize,
    kana: usize,
    /// Part of `other`: counted apart only to name Korean.
    hangul: usize,
    latin: usize,
    other: usize,
}

impl Letters {
    fn count(text: &str) -> Letters {
        let mut n = Letters::default();
        for c in text.chars() {
            if is_han(c) {
                n.han += 1;
            } else if is_kana(c) {
                n.kana += 1;
            } else if c.is_ascii_alphabetic() {
                n.latin += 1;
            } else if c.is_alphabetic() {
                // Accented Latin letters count towards Latin script, other scripts not.
                if matches!(c as u32, 0x00C0..=0x024F) {
                    n.latin += 1;
                } else {
                    n.other += 1;
                    if matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F) {
                        n.hangul += 1;
                    }
                }
            }
        }
        n
    }

    /// Japanese mixes kana into its Han characters; Chinese never does.
    fn is_japanese(&self) -> bool {
        self.kana * 5 > self.han.max(1)
    }
}

/// The ISO 639-1 code a song library stores for `text`: `zh` and `en` as
/// [`detect_language`] decides, `ja` for kana, `ko` for mostly Hangul text, and `None`
/// for anything else (a French song, an instrumental) rather than a wrong guess.
pub fn language_code(text: &str) -> Option<&'static str> {
    let letters = Letters::count(text);
    match detect_counted(text, &letters) {
        Language::Chinese => Some("zh"),
        Language::English => Some("en"),
        Language::Other if letters.is_japanese() => Some("ja"),
        // A Hangul syllable is a few Latin letters' worth.
        Language::Other
            if letters.hangul > 0
                && letters.hangul * 2 >= letters.other
                && letters.hangul * 3 >= letters.latin =>
        {
            Some("ko")
        }
        Language::Other => None,
    }
}

fn detect(text: &str) -> Language {
    detect_counted(text, &Letters::count(text))
}

fn detect_counted(text: &str, letters: &Letters) -> Language {
    let &Letters {
        han, latin, other, ..
    } = letters;
    if letters.is_japanese() {
        return Language::Other;
    }
    // A Chinese word is 1-2 characters, an English one about 5 letters.
    let han_weight = han * 3;
    if han > 0 && han_weight >= latin && han_weight >= other {
        return Language::Chinese;
    }
    if latin == 0 || other > latin {
        return Language::Other;
    }
    let mut words = 0usize;
    let mut markers = 0usize;
    // A hundred words are plenty to tell; long lyrics need not be scanned to the end.
    for w in unicode_segmentation::UnicodeSegmentation::unicode_words(text).take(100) {
        words += 1;
        // Markers are short words: compare without allocating (a typographic apostrophe
        // is 3 bytes, so "don’t" is 7).
        if w.len() <= 8
            && ENGLISH_MARKERS.iter().any(|m| {
                m.eq_ignore_ascii_case(w)
                    || (w.contains('\u{2019}')
                        && m.eq_ignore_ascii_case(&w.replace('\u{2019}', "'")))
            })
        {
            markers += 1;
        }
    }
    // Very short texts ("Love", a title) get the benefit of the doubt.
    if words <= 3 || markers * 20 >= words {
        Language::English
    } else {
        Language::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language() {
        assert_eq!(detect_language("我今天非常开心"), Language::Chinese);
        assert_eq!(
            detect_language("I walked along the river and the night was cold"),
            Language::English
        );
        assert_eq!(detect_language("夜は静かに眠っている"), Language::Other);
        assert_eq!(detect_language("사랑해요 오늘 밤"), Language::Other);
        assert_eq!(
            detect_language("la nuit tombe sur la ville et je marche seul dans les rues"),
            Language::Other
        );
        assert_eq!(detect_language(""), Language::Other);
        assert_eq!(detect_language("  123 !!! ... "), Language::Other);
        // The one marker has a typographic apostrophe (7 bytes).
        assert_eq!(
            detect_language("don\u{2019}t stop believing hold tight streetlight people livin"),
            Language::English
        );
    }

    #[test]
    fn language_codes_name_only_what_is_known() {
        assert_eq!(language_code("我们一起看日出"), Some("zh"));
        assert_eq!(language_code("walking in the rain again"), Some("en"));
        assert_eq!(language_code("さくら さくら"), Some("ja"));
        assert_eq!(language_code("夜は静かに眠っている"), Some("ja"));
        assert_eq!(language_code("사랑해요 오늘 밤"), Some("ko"));
        // French is not English: no code rather than "en".
        assert_eq!(
            language_code("la nuit tombe sur la ville et je marche seul dans les rues"),
            None
        );
        assert_eq!(language_code("123 !!"), None);
        assert_eq!(language_code(""), None);
    }

    #[test]
    fn mixed_lyrics_follow_the_main_script() {
        // A Chinese song with an English hook is still Chinese.
        assert_eq!(
            detect_language("我们一起走过风雨的日子 oh baby 你是我的唯一"),
            Language::Chinese
        );
        // An English song with one Chinese word stays English.
        assert_eq!(
            detect_language("you whispered 爱 to me in the dark and I never forgot the sound"),
            Language::English
        );
    }
}
