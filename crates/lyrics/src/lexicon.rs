//! Emotion lexicons in moodtune's own plain-text format (see data/lexicons/README.md).
//!
//! One set of four tables per language, each a UTF-8 file of TAB-separated lines,
//! `#` starting a comment:
//! - `{lang}_emotion.tsv`: `word  emotion  [weight]` (emotion is a key such as `happy`;
//!   weight in (0, 1], default 1; a word may appear on several lines),
//! - `{lang}_valence.tsv`: `word  valence` with valence in -1..1,
//! - `{lang}_degree.tsv`: `word  multiplier` (degree adverbs: "very" 1.5, "slightly" 0.6),
//! - `{lang}_negation.tsv`: `word` (negators such as "not", 不).
//!
//! `lang` is `en` or `zh`. The defaults are embedded in the binary.

use crate::Language;
use moodtune_core::Emotion;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

/// FNV-1a: lexicon keys are short words, for which SipHash (the std default, built to
/// resist hash flooding, which trusted lexicon files do not need) costs several times more.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<Fnv>>;

/// Everything the lexicons say about one word.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entry {
    /// Weight per emotion, in [`Emotion::ALL`] order (Neutral stays 0).
    pub emotions: [f32; Emotion::COUNT],
    /// Sentiment in -1..1 (0: none known).
    pub valence: f32,
    /// Multiplier when the word is a degree adverb.
    pub degree: Option<f32>,
    pub negation: bool,
}

impl Entry {
    pub fn is_sentiment(&self) -> bool {
        self.valence != 0.0 || self.emotions.iter().any(|&w| w != 0.0)
    }
}

/// The four tables of one language, merged into one map for a single lookup per token.
#[derive(Debug, Clone, Default)]
pub(crate) struct LanguageLexicon {
    pub(crate) words: HashMap<String, Entry>,
    /// English only: entries keyed by Snowball stem, used when the surface form is not
    /// listed ("loved" finds "love").
    pub(crate) stems: HashMap<String, Entry>,
}

impl LanguageLexicon {
    /// Looks a token up by its surface form, then by its stem.
    pub(crate) fn lookup(&self, word: &str, stem: Option<&str>) -> Option<&Entry> {
        self.words
            .get(word)
            .or_else(|| stem.and_then(|s| self.stems.get(s)))
    }

    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }
}

/// Error reading a lexicon file; names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("cannot read lexicon file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lexicon {name}, line {line}: {msg}")]
    Parse {
        name: String,
        line: usize,
        msg: String,
    },
    #[error("lexicon directory {0} contains none of the lexicon files (expected e.g. en_emotion.tsv, zh_valence.tsv)")]
    EmptyDir(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Emotion,
    Valence,
    Degree,
    Negation,
}

impl Table {
    pub(crate) const ALL: [Table; 4] = [
        Table::Emotion,
        Table::Valence,
        Table::Degree,
        Table::Negation,
    ];

    fn suffix(self) -> &'static str {
        match self {
            Table::Emotion => "emotion",
            Table::Valence => "valence",
            Table::Degree => "degree",
            Table::Negation => "negation",
        }
    }

    pub(crate) fn file_name(self, lang: Language) -> String {
        let prefix = if lang == Language::Chinese {
            "zh"
        } else {
            "en"
        };
        format!("{prefix}_{}.tsv", self.suffix())
    }
}

macro_rules! lexicon_file {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/lexicons/",
            $name
        ))
    };
}

/// The embedded default text of one table.
pub(crate) fn embedded(lang: Language, table: Table) -> &'static str {
    match (lang, table) {
        (Language::Chinese, Table::Emotion) => lexicon_file!("zh_emotion.tsv"),
        (Language::Chinese, Table::Valence) => lexicon_file!("zh_valence.tsv"),
        (Language::Chinese, Table::Degree) => lexicon_file!("zh_degree.tsv"),
        (Language::Chinese, Table::Negation) => lexicon_file!("zh_negation.tsv"),
        (_, Table::Emotion) => lexicon_file!("en_emotion.tsv"),
        (_, Table::Valence) => lexicon_file!("en_valence.tsv"),
        (_, Table::Degree) => lexicon_file!("en_degree.tsv"),
        (_, Table::Negation) => lexicon_file!("en_negation.tsv"),
    }
}

fn normalize_word(w: &str, lang: Language) -> String {
    let w = w.trim();
    if lang == Language::Chinese {
        w.to_string()
    } else {
        w.to_lowercase().replace('\u{2019}', "'")
    }
}

/// Parses one table's text into `words`.
pub(crate) fn parse_table(
    text: &str,
    name: &str,
    lang: Language,
    table: Table,
    words: &mut HashMap<String, Entry>,
) -> Result<(), LexiconError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| LexiconError::Parse {
            name: name.to_string(),
            line: i + 1,
            msg,
        };
        let cols: Vec<&str> = line.split('\t').collect();
        let word = normalize_word(cols[0], lang);
        if word.is_empty() {
            return Err(err("empty word".into()));
        }
        let number = |idx: usize, what: &str| -> Result<f32, LexiconError> {
            let s = cols
                .get(idx)
                .ok_or_else(|| err(format!("missing {what} column (columns are TAB-separated)")))?;
            let v: f32 = s
                .trim()
                .parse()
                .map_err(|_| err(format!("{what} {s:?} is not a number")))?;
            if !v.is_finite() {
                return Err(err(format!("{what} {s:?} is not finite")));
            }
            Ok(v)
        };
        match table {
            Table::Emotion => {
                let key = cols
                    .get(1)
                    .ok_or_else(|| err("missing emotion column".into()))?;
                let e: Emotion = key.parse().map_err(|e| err(format!("{e}")))?;
                if e == Emotion::Neutral {
                    return Err(err("neutral is not an emotion word category".into()));
                }
                let w = if cols.len() > 2 {
                    number(2, "weight")?
                } else {
                    1.0
                };
                // A word weighs at most as much as a plain emotion word: a huge weight
                // would swamp every feature (and overflow once standardised).
                if !(w > 0.0 && w <= 1.0) {
                    let cell = cols.get(2).map_or("", |c| c.trim());
                    return Err(err(format!(
                        "weight {cell:?} must be above 0 and at most 1"
                    )));
                }
                let entry = words.entry(word).or_default();
                entry.emotions[e.index()] = entry.emotions[e.index()].max(w);
            }
            Table::Valence => {
                let v = number(1, "valence")?.clamp(-1.0, 1.0);
                words.entry(word).or_default().valence = v;
            }
            Table::Degree => {
                let m = number(1, "multiplier")?;
                if !(m > 0.0 && m <= crate::analyze::MAX_DEGREE) {
                    return Err(err(format!(
                        "multiplier {m} must be above 0 and at most {}",
                        crate::analyze::MAX_DEGREE
                    )));
                }
                words.entry(word).or_default().degree = Some(m);
            }
            Table::Negation => words.entry(word).or_default().negation = true,
        }
    }
    Ok(())
}

fn finish(lang: Language, words: HashMap<String, Entry>) -> LanguageLexicon {
    let mut stems: HashMap<String, Entry> = HashMap::default();
    if lang != Language::Chinese {
        let stemmer = Stemmer::create(Algorithm::English);
        // Sorted so that a stem shared by several words always maps to the same entry.
        let mut keys: Vec<&String> = words.keys().collect();
        keys.sort();
        for k in keys {
            let e = &words[k];
            let s = stemmer.stem(k).into_owned();
            stems
                .entry(s)
                .and_modify(|old| {
                    // Keep the stronger sentiment; merge emotions and function roles.
                    if e.valence.abs() > old.valence.abs() {
                        old.valence = e.valence;
                    }
                    for i in 0..Emotion::COUNT {
                        old.emotions[i] = old.emotions[i].max(e.emotions[i]);
                    }
                })
                .or_insert_with(|| e.clone());
        }
    }
    LanguageLexicon { words, stems }
}

/// Builds one language's lexicon from the embedded defaults.
pub(crate) fn embedded_lexicon(lang: Language) -> LanguageLexicon {
    let mut words = HashMap::default();
    for t in Table::ALL {
        parse_table(embedded(lang, t), &t.file_name(lang), lang, t, &mut words)
            .expect("embedded lexicons are valid (checked by tests)");
    }
    finish(lang, words)
}

/// Builds one language's lexicon from `dir`, using the embedded default for every
/// table file that `dir` lacks. Returns how many files were found in `dir`.
pub(crate) fn dir_lexicon(
    dir: &Path,
    lang: Language,
) -> Result<(LanguageLexicon, usize), LexiconError> {
    let mut words = HashMap::default();
    let mut found = 0;
    for t in Table::ALL {
        let path = dir.join(t.file_name(lang));
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|source| LexiconError::Io {
                path: path.clone(),
                source,
            })?;
            parse_table(&text, &path.display().to_string(), lang, t, &mut words)?;
            found += 1;
        } else {
            parse_table(embedded(lang, t), &t.file_name(lang), lang, t, &mut words)?;
        }
    }
    Ok((finish(lang, words), found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lexicons_parse_and_are_populated() {
        let zh = embedded_lexicon(Language::Chinese);
        let en = embedded_lexicon(Language::English);
        assert!(zh.len() > 10_000, "zh lexicon has {} words", zh.len());
        assert!(en.len() > 5_000, "en lexicon has {} words", en.len());
        let happy = zh.lookup("快乐", None).unwrap();
        assert!(happy.emotions[Emotion::Happy.index()] > 0.0);
        assert!(happy.valence > 0.0);
        assert!(zh.lookup("不", None).unwrap().negation);
        assert!(zh.lookup("非常", None).unwrap().degree.unwrap() > 1.0);
        assert!(en.lookup("not", None).unwrap().negation);
        assert!(en.lookup("very", None).unwrap().degree.unwrap() > 1.0);
        assert!(en.lookup("afraid", None).unwrap().emotions[Emotion::Fear.index()] > 0.0);
        // "screaming" is not listed itself; its stem is.
        let stemmer = Stemmer::create(Algorithm::English);
        let s = stemmer.stem("screaming");
        assert!(en.lookup("screaming", Some(&s)).is_some());
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let mut m = HashMap::default();
        let e = parse_table(
            "# c\nhappy\tjoyful\n",
            "x.tsv",
            Language::English,
            Table::Emotion,
            &mut m,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.tsv") && e.contains("line 2"), "{e}");
        let e = parse_table(
            "good\tabc\n",
            "v.tsv",
            Language::English,
            Table::Valence,
            &mut m,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a number"), "{e}");
        let e = parse_table(
            "very\t-2\n",
            "d.tsv",
            Language::English,
            Table::Degree,
            &mut m,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("-2 must be above 0"), "{e}");
        for weight in ["1e38", "-1", "0"] {
            let e = parse_table(
                &format!("love\thappy\t{weight}\n"),
                "e.tsv",
                Language::English,
                Table::Emotion,
                &mut m,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("e.tsv") && e.contains("line 1") && e.contains("at most 1"),
                "{e}"
            );
        }
        let e = parse_table(
            "very\t1e30\n",
            "d.tsv",
            Language::English,
            Table::Degree,
            &mut m,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("at most 8"), "{e}");
    }
}
