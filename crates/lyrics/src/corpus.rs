//! Labelled lyrics corpora: the project's own (embedded) and user-supplied files.
//!
//! Format: UTF-8, one snippet per line, `emotion<TAB>lyrics`, where lines of the
//! snippet are separated by ` / `; blank lines and lines starting with `#` are skipped.
//! The emotion accepts anything [`Emotion`]'s `FromStr` does (English keys, ids 0-6,
//! Chinese names).

use moodtune_core::Emotion;
use std::path::Path;

/// One labelled snippet.
pub type Example = (String, Emotion);

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read corpus {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("corpus {name}, line {line}: {msg}")]
    Parse {
        name: String,
        line: usize,
        msg: String,
    },
}

/// Parses corpus text; `name` labels errors.
pub fn parse_corpus(text: &str, name: &str) -> Result<Vec<Example>, CorpusError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| CorpusError::Parse {
            name: name.to_string(),
            line: i + 1,
            msg,
        };
        let (label, lyrics) = line
            .split_once('\t')
            .ok_or_else(|| err("expected `emotion<TAB>lyrics`".into()))?;
        let emotion: Emotion = label.parse().map_err(|e| err(format!("{e}")))?;
        let lyrics = lyrics.trim();
        if lyrics.is_empty() {
            return Err(err("empty lyrics".into()));
        }
        out.push((lyrics.replace(" / ", "\n"), emotion));
    }
    Ok(out)
}

/// Reads a corpus file.
pub fn load_corpus(path: impl AsRef<Path>) -> Result<Vec<Example>, CorpusError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_corpus(&text, &path.display().to_string())
}

/// The project's own English corpus (data/corpus/lyrics_en.tsv), embedded.
pub fn builtin_english() -> Vec<Example> {
    parse_corpus(
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/corpus/lyrics_en.tsv"
        )),
        "lyrics_en.tsv",
    )
    .expect("the embedded corpus is valid (checked by tests)")
}

/// The project's own Chinese corpus (data/corpus/lyrics_zh.tsv), embedded.
pub fn builtin_chinese() -> Vec<Example> {
    parse_corpus(
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/corpus/lyrics_zh.tsv"
        )),
        "lyrics_zh.tsv",
    )
    .expect("the embedded corpus is valid (checked by tests)")
}

/// Both built-in corpora, English first.
pub fn builtin_corpus() -> Vec<Example> {
    let mut v = builtin_english();
    v.extend(builtin_chinese());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{detect_language, Language};

    #[test]
    fn builtin_corpus_is_large_balanced_and_in_its_language() {
        for (examples, lang) in [
            (builtin_english(), Language::English),
            (builtin_chinese(), Language::Chinese),
        ] {
            for e in Emotion::ALL {
                let n = examples.iter().filter(|(_, l)| *l == e).count();
                assert!(n >= 40, "{lang:?} {e}: only {n} snippets");
            }
            for (text, _) in &examples {
                assert_eq!(detect_language(text), lang, "{text}");
                let lines = text.lines().count();
                assert!((2..=6).contains(&lines), "{lines} lines: {text}");
            }
            // No snippet is duplicated.
            let mut texts: Vec<&String> = examples.iter().map(|(t, _)| t).collect();
            texts.sort();
            let before = texts.len();
            texts.dedup();
            assert_eq!(before, texts.len());
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = parse_corpus("# c\nhappy\tsun / shine\nbored\tx\n", "c.tsv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.tsv") && e.contains("line 3") && e.contains("bored"),
            "{e}"
        );
        let e = parse_corpus("happy no tab\n", "c.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        let ok = parse_corpus("开心\t我 / 你\n", "c.tsv").unwrap();
        assert_eq!(ok, vec![("我\n你".to_string(), Emotion::Happy)]);
        assert!(load_corpus("/nonexistent/corpus.tsv")
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/corpus.tsv"));
    }
}
