//! Segmentation and lexicon scoring: lyrics text -> [`Features`].

use crate::lang::{detect_language, is_han, Language};
use crate::lexicon::{dir_lexicon, embedded_lexicon, Entry, LanguageLexicon, LexiconError};
use jieba_rs::Jieba;
use moodtune_core::Emotion;
use rust_stemmers::{Algorithm, Stemmer};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use unicode_segmentation::UnicodeSegmentation;

/// How many word tokens after a negator or degree adverb it still governs; a clause
/// break (punctuation, line end) ends the scope earlier.
const SCOPE: usize = 3;
/// Weight of a word governed by "negator + degree" ("not very happy", 不太开心): a
/// weakened flip, not a strong opposite.
const NEGATED_DEGREE: f32 = -0.5;
/// Most a run of degree adverbs can multiply a word's weight: "so so so ... happy" is
/// emphatic, not infinite (without a cap ~220 of them overflow f32 to inf and the
/// classifier's scores to NaN).
pub const MAX_DEGREE: f32 = 8.0;

/// One jieba instance for the whole process: loading its dictionary takes a noticeable
/// fraction of a second and tens of MiB, so it is built once, on first use.
pub(crate) fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// One lexicon word found in the text, with the modifiers that governed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub word: String,
    /// Index of the word in [`Features::words`] / [`Features::terms`].
    pub position: usize,
    /// Product of the degree adverbs before it (1 when none).
    pub degree: f32,
    /// Whether an odd number of negators governed it.
    pub negated: bool,
    /// Valence after degree and negation.
    pub valence: f32,
    /// Emotion weights after degree and negation (negative when negated), Neutral last.
    pub emotions: [f32; Emotion::COUNT],
}

impl Hit {
    /// The word with its modifiers, as shown to users: "not afraid", "very happy",
    /// 不开心, 很开心 (Chinese words get Chinese modifiers).
    pub fn display(&self) -> String {
        let chinese = self.word.chars().any(is_han);
        let (not, very, slightly, sep) = if chinese {
            ("不", "很", "有点", "")
        } else {
            ("not", "very", "slightly", " ")
        };
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if self.negated {
            parts.push(not);
        }
        if self.degree > 1.0 {
            parts.push(very);
        } else if self.degree < 1.0 {
            parts.push(slightly);
        }
        parts.push(&self.word);
        parts.join(sep)
    }
}

/// Lexicon features of one lyrics text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Features {
    pub language: Language,
    /// Number of word tokens (punctuation excluded); the normaliser of every value.
    pub tokens: usize,
    /// Per-emotion value in [`Emotion::ALL`] order: the sum of the governed weights of
    /// the emotion words, divided by `tokens`. Negated words subtract. Neutral is 0.
    pub emotions: [f32; Emotion::COUNT],
    /// Sum of positive valence after modifiers, divided by `tokens`.
    pub positive: f32,
    /// Sum of negative valence after modifiers (as a positive number), divided by `tokens`.
    pub negative: f32,
    pub hits: Vec<Hit>,
    /// Terms for the bag-of-words part of the model: Chinese words, English stems,
    /// prefixed with `!` inside a negation's scope.
    pub terms: Vec<String>,
    /// The surface form of each term's word (lower-cased), parallel to `terms`.
    pub words: Vec<String>,
}

impl Features {
    pub fn emotion(&self, e: Emotion) -> f32 {
        self.emotions[e.index()]
    }
}

#[derive(Debug)]
struct Token {
    text: String,
    stem: Option<String>,
    chinese: bool,
}

enum Piece {
    Word(Token),
    Break,
}

/// Turns lyrics into features using the Chinese and English lexicons. Cheap to clone
/// (the lexicons are shared).
#[derive(Clone)]
pub struct Analyzer {
    zh: Arc<LanguageLexicon>,
    en: Arc<LanguageLexicon>,
}

impl Default for Analyzer {
    /// The embedded default lexicons (DUTIR + HowNet for Chinese, VADER + the project's
    /// own emotion lists for English).
    fn default() -> Self {
        static DEFAULT: OnceLock<Analyzer> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Analyzer {
                zh: Arc::new(embedded_lexicon(Language::Chinese)),
                en: Arc::new(embedded_lexicon(Language::English)),
            })
            .clone()
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("zh_words", &self.zh.len())
            .field("en_words", &self.en.len())
            .finish()
    }
}

impl Analyzer {
    /// Loads user lexicons from `dir` (files named like the defaults, e.g.
    /// `en_emotion.tsv`, `zh_degree.tsv`); each table the directory lacks keeps its
    /// embedded default. A directory with none of the files is an error.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, LexiconError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(LexiconError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let (zh, nz) = dir_lexicon(dir, Language::Chinese)?;
        let (en, ne) = dir_lexicon(dir, Language::English)?;
        if nz + ne == 0 {
            return Err(LexiconError::EmptyDir(dir.to_path_buf()));
        }
        Ok(Analyzer {
            zh: Arc::new(zh),
            en: Arc::new(en),
        })
    }

    /// Splits text into word tokens and clause breaks: Han runs go through jieba, the
    /// rest through Unicode (UAX #29) word boundaries with Snowball stems for Latin words.
    fn tokenize(&self, text: &str, out: &mut Vec<Piece>) {
        let mut rest = text;
        while !rest.is_empty() {
            let first_han = rest.chars().next().is_some_and(is_han);
            let end = rest
                .char_indices()
                .find(|&(_, c)| is_han(c) != first_han)
                .map_or(rest.len(), |(i, _)| i);
            let run = &rest[..end];
            rest = &rest[end..];
            if first_han {
                for w in jieba().cut(run, true) {
                    out.push(Piece::Word(Token {
                        text: w.word.to_string(),
                        stem: None,
                        chinese: true,
                    }));
                }
                continue;
            }
            for seg in run.split_word_bounds() {
                if seg.chars().any(|c| c.is_alphanumeric()) {
                    // One allocation for the common ASCII case.
                    let lower = if seg.is_ascii() {
                        seg.to_ascii_lowercase()
                    } else {
                        seg.to_lowercase().replace('\u{2019}', "'")
                    };
                    let stem = if lower.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
                        Some(stem_cached(&lower))
                    } else {
                        None
                    };
                    out.push(Piece::Word(Token {
                        text: lower,
                        stem,
                        chinese: false,
                    }));
                } else if seg.chars().any(|c| {
                    c == '\n'
                        || (c.is_ascii_punctuation() && c != '\'' && c != '-')
                        || is_cjk_punct(c)
                }) {
                    out.push(Piece::Break);
                }
            }
        }
    }

    fn entry(&self, t: &Token) -> Option<&Entry> {
        if t.chinese {
            self.zh.lookup(&t.text, None)
        } else {
            self.en.lookup(&t.text, t.stem.as_deref())
        }
    }

    /// Lexicon features of `text`: segmentation, lookup, degree scaling and negation.
    pub fn features(&self, text: &str) -> Features {
        let mut pieces = Vec::with_capacity(text.len() / 4);
        self.tokenize(text, &mut pieces);
        let mut f = Features {
            language: detect_language(text),
            tokens: 0,
            emotions: [0.0; Emotion::COUNT],
            positive: 0.0,
            negative: 0.0,
            hits: Vec::new(),
            terms: Vec::new(),
            words: Vec::new(),
        };
        // Pending modifiers: the degree product, whether a negator came first, and how
        // many more tokens they govern.
        let mut degree = 1.0f32;
        let mut negated = false;
        let mut negation_first = false;
        let mut scope = 0usize;
        // Look every word up once; the degree rule below peeks at the next word's entry.
        let entries: Vec<Option<&Entry>> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Word(t) => Some(self.entry(t)),
                Piece::Break => None,
            })
            .collect();
        let mut wi = 0usize;
        for piece in pieces {
            let t = match piece {
                Piece::Break => {
                    degree = 1.0;
                    negated = false;
                    scope = 0;
                    continue;
                }
                Piece::Word(t) => t,
            };
            let entry = entries[wi];
            let position = wi;
            wi += 1;
            f.tokens += 1;
            let term = match &t.stem {
                Some(stem) => stem.clone(),
                None => t.text.clone(),
            };
            if negated && scope > 0 {
                f.terms.push(format!("!{term}"));
            } else {
                f.terms.push(term);
            }
            f.words.push(t.text);
            let Some(entry) = entry else {
                scope = scope.saturating_sub(1);
                if scope == 0 {
                    degree = 1.0;
                    negated = false;
                }
                continue;
            };
            if entry.negation {
                if scope == 0 {
                    degree = 1.0;
                    negated = false;
                }
                if !negated && degree == 1.0 {
                    negation_first = true;
                }
                negated = !negated;
                scope = SCOPE;
                continue;
            }
            // A degree adverb that is also a sentiment word (好 "good"/"very") acts as a
            // degree word only when a sentiment word follows it directly.
            if let Some(m) = entry.degree {
                let next_is_sentiment = entries
                    .get(wi)
                    .copied()
                    .flatten()
                    .is_some_and(|e| e.is_sentiment() || e.degree.is_some());
                if !entry.is_sentiment() || next_is_sentiment {
                    if scope == 0 {
                        negated = false;
                        negation_first = false;
                    }
                    degree = (degree * m).min(MAX_DEGREE);
                    scope = SCOPE;
                    continue;
                }
            }
            if !entry.is_sentiment() {
                continue;
            }
            let active = scope > 0;
            let (deg, neg) = if active {
                (degree, negated)
            } else {
                (1.0, false)
            };
            let factor = if neg && negation_first && deg != 1.0 {
                NEGATED_DEGREE
            } else if neg {
                -deg
            } else {
                deg
            };
            let mut emotions = [0.0; Emotion::COUNT];
            for (i, w) in entry.emotions.iter().enumerate() {
                emotions[i] = w * factor;
                f.emotions[i] += emotions[i];
            }
            // Words with emotions but no listed valence take the emotions' valence.
            let base_valence = if entry.valence != 0.0 {
                entry.valence
            } else {
                Emotion::ALL
                    .iter()
                    .map(|e| {
                        let s = match e.valence() {
                            moodtune_core::Valence::Positive => 1.0,
                            moodtune_core::Valence::Negative => -1.0,
                            moodtune_core::Valence::Neutral => 0.0,
                        };
                        s * entry.emotions[e.index()]
                    })
                    .sum::<f32>()
                    .clamp(-1.0, 1.0)
            };
            let valence = base_valence * factor;
            if valence > 0.0 {
                f.positive += valence;
            } else {
                f.negative -= valence;
            }
            f.hits.push(Hit {
                word: f.words[position].clone(),
                position,
                degree: deg,
                negated: neg,
                valence,
                emotions,
            });
            // A modifier governs one sentiment word.
            degree = 1.0;
            negated = false;
            negation_first = false;
            scope = 0;
        }
        let n = f.tokens.max(1) as f32;
        for v in f.emotions.iter_mut() {
            *v /= n;
        }
        f.positive /= n;
        f.negative /= n;
        f
    }
}

/// Snowball stem of a lower-case word, memoised per thread: lyrics repeat words a lot
/// and a lookup is several times cheaper than stemming.
fn stem_cached(word: &str) -> String {
    thread_local! {
        static STEMMER: Stemmer = Stemmer::create(Algorithm::English);
        static CACHE: std::cell::RefCell<crate::lexicon::HashMap<String, String>> =
            std::cell::RefCell::new(Default::default());
    }
    CACHE.with(|c| {
        if let Some(s) = c.borrow().get(word) {
            return s.clone();
        }
        let s = STEMMER.with(|st| st.stem(word).into_owned());
        let mut c = c.borrow_mut();
        // Bound the memory a long-running process spends on it.
        if c.len() >= 100_000 {
            c.clear();
        }
        c.insert(word.to_string(), s.clone());
        s
    })
}

fn is_cjk_punct(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '！'
            | '？'
            | '；'
            | '：'
            | '、'
            | '…'
            | '—'
            | '“'
            | '”'
            | '「'
            | '」'
            | '（'
            | '）'
            | '/'
            | '|'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Analyzer {
        Analyzer::default()
    }

    fn hit<'a>(f: &'a Features, word: &str) -> &'a Hit {
        f.hits
            .iter()
            .find(|h| h.word == word)
            .unwrap_or_else(|| panic!("no hit {word} in {:?}", f.hits))
    }

    #[test]
    fn english_negation_flips_and_degree_scales() {
        let plain = a().features("I am happy");
        let very = a().features("I am very happy");
        let not = a().features("I am not happy");
        let h = Emotion::Happy.index();
        let plain_raw = hit(&plain, "happy").emotions[h];
        assert!(plain_raw > 0.0);
        assert!(plain.positive > 0.0 && plain.negative == 0.0);
        let v = hit(&very, "happy");
        assert!(v.degree > 1.0 && !v.negated);
        assert!(v.emotions[h] > plain_raw);
        let n = hit(&not, "happy");
        assert!(n.negated);
        assert!(n.emotions[h] < 0.0 && not.emotion(Emotion::Happy) < 0.0);
        assert!(not.negative > 0.0 && not.positive == 0.0, "{not:?}");
        assert_eq!(n.display(), "not happy");
        assert_eq!(v.display(), "very happy");
    }

    #[test]
    fn a_long_run_of_degree_words_is_capped() {
        let text = format!("I am {}happy", "very ".repeat(400));
        let f = a().features(&text);
        let v = hit(&f, "happy");
        assert_eq!(v.degree, MAX_DEGREE);
        assert!(v.emotions.iter().all(|x| x.is_finite()));
        assert!(f.emotion(Emotion::Happy).is_finite() && f.emotion(Emotion::Happy) > 0.0);
    }

    #[test]
    fn english_negation_scope_and_clause_break() {
        let f = a().features("I'm not afraid anymore");
        let h = hit(&f, "afraid");
        assert!(h.negated && h.emotions[Emotion::Fear.index()] < 0.0);
        assert!(f.positive > 0.0);
        // A comma ends the negation's scope.
        let f = a().features("not now, I am afraid");
        assert!(!hit(&f, "afraid").negated);
        // Double negation cancels.
        let f = a().features("never not happy");
        assert!(!hit(&f, "happy").negated);
        // Stemming finds inflected forms; terms carry the negation mark.
        let f = a().features("she was screaming, I don't love you");
        assert!(f.emotion(Emotion::Angry) > 0.0 || f.emotion(Emotion::Fear) > 0.0);
        assert!(f.terms.iter().any(|t| t == "!love"), "{:?}", f.terms);
    }

    #[test]
    fn chinese_negation_flips_and_degree_scales() {
        let h = Emotion::Happy.index();
        let plain = a().features("我开心");
        let very = a().features("我非常开心");
        let not = a().features("我不开心");
        let p = hit(&plain, "开心").emotions[h];
        assert!(p > 0.0);
        let v = hit(&very, "开心");
        assert!(v.degree > 1.0 && v.emotions[h] > p);
        let n = hit(&not, "开心");
        assert!(n.negated && n.emotions[h] < 0.0);
        assert_eq!(
            (n.display(), v.display()),
            ("不开心".to_string(), "很开心".to_string())
        );
        assert!(not.negative > 0.0 && not.positive == 0.0);
        // 不太开心: negator before degree is a weak flip, weaker than 不开心.
        let weak = a().features("我不太开心");
        let w = hit(&weak, "开心");
        assert!(w.negated && w.emotions[h] < 0.0 && w.emotions[h] > n.emotions[h]);
        // 很不开心: degree before negator intensifies the flip.
        let strong = a().features("我很不开心");
        assert!(hit(&strong, "开心").emotions[h] < n.emotions[h]);
    }

    #[test]
    fn segmentation_and_normalisation() {
        let f = a().features("我们在雨中哭泣，悲伤的夜晚");
        assert!(f.terms.contains(&"我们".to_string()), "{:?}", f.terms);
        assert!(f.emotion(Emotion::Sad) > 0.0);
        // Values are normalised by length: padding with neutral words lowers them.
        let short = a().features("so sad");
        let long = a().features("so sad walking down the road to the town by the old station");
        assert!(short.emotion(Emotion::Sad) > long.emotion(Emotion::Sad) * 3.0);
        assert_eq!(a().features("").tokens, 0);
        assert_eq!(a().features("...!!!").hits.len(), 0);
    }

    #[test]
    fn mixed_scripts_use_both_lexicons() {
        let f = a().features("我今天真的很快乐 I am so afraid");
        assert!(f.emotion(Emotion::Happy) > 0.0);
        assert!(f.emotion(Emotion::Fear) > 0.0);
        assert_eq!(f.language, Language::Chinese);
    }

    #[test]
    fn user_lexicon_dir_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("en_emotion.tsv"),
            "# mine\nzorble\tsurprise\t1\n",
        )
        .unwrap();
        let an = Analyzer::from_dir(dir.path()).unwrap();
        let f = an.features("zorble");
        assert!(f.emotion(Emotion::Surprise) > 0.0);
        // The other tables keep their defaults.
        assert!(an.features("not zorble").emotion(Emotion::Surprise) < 0.0);
        let empty = tempfile::tempdir().unwrap();
        assert!(Analyzer::from_dir(empty.path()).is_err());
        assert!(Analyzer::from_dir(dir.path().join("missing")).is_err());
        std::fs::write(dir.path().join("zh_valence.tsv"), "好\tx\n").unwrap();
        let e = Analyzer::from_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("zh_valence.tsv") && e.contains("line 1"), "{e}");
    }
}
