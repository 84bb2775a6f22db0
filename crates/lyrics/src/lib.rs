//! moodtune-lyrics: sorts songs into the seven emotion libraries by their lyrics
//! (Chinese and English), following the spec's design (segmentation, emotion lexicon
//! with degree and negation words, hierarchical SVM) with two baselines beside it.
//!
//! # Public API
//!
//! - [`detect_language`] -> [`Language`] (`Chinese`, `English`, `Other`);
//!   [`language_code`], the same decision as the code a song library stores.
//! - [`Analyzer::default`] (embedded lexicons) / [`Analyzer::from_dir`] (user lexicon
//!   files, same format, see data/lexicons/README.md); [`Analyzer::features`] ->
//!   [`Features`]: per-emotion values and positive/negative totals normalised by length,
//!   and the [`Hit`]s (word, degree, negation).
//! - [`EmotionModel::embedded`] (default trained model), [`EmotionModel::train`]
//!   (hierarchical SVM; [`EmotionModel::train_with`] for the flat one),
//!   [`EmotionModel::predict`] / [`EmotionModel::predict_batch`] -> [`Prediction`]
//!   (emotion, confidence, all probabilities, driver words), [`EmotionModel::version`]
//!   (store it beside predictions), [`EmotionModel::save`] (atomic) /
//!   [`EmotionModel::load`].
//! - [`lexicon_rule`]: the lexicon-only baseline.
//! - [`cross_validate`] -> [`Evaluation`] for the three methods; [`evaluate`] on a
//!   held-out set; [`report_markdown`] prints either.
//! - [`builtin_corpus`] / [`load_corpus`]: labelled snippets (`emotion<TAB>lyrics`).
//! - [`bench`]: classification throughput, for the CLI or the `bench` example.
//!
//! ```
//! use moodtune_lyrics::{Analyzer, EmotionModel};
//! let analyzer = Analyzer::default();
//! let model = EmotionModel::embedded();
//! let p = model.predict(&analyzer, "We dance all night, so happy and free\nThe sun is on our faces");
//! assert_eq!(p.emotion, moodtune_core::Emotion::Happy);
//! assert!(p.confidence > 0.0 && p.confidence <= 1.0);
//! ```

mod analyze;
mod corpus;
mod eval;
mod lang;
mod lexicon;
mod model;

pub use analyze::{Analyzer, Features, Hit};
pub use corpus::{
    builtin_chinese, builtin_corpus, builtin_english, load_corpus, parse_corpus, CorpusError,
    Example,
};
pub use eval::{
    cross_validate, cross_validate_with, evaluate, report_markdown, stratified_folds, Evaluation,
    MethodReport,
};
pub use lang::{detect_language, language_code, Language};
pub use lexicon::LexiconError;
pub use model::{
    lexicon_rule, EmotionModel, Method, ModelError, Prediction, TrainInfo, TrainOptions, DEFAULT_C,
    DEFAULT_LEX_SCALE, MODEL_FORMAT,
};
pub use moodtune_svm::{LinearSvm, SvmParams};

/// Seed used for the embedded default model and the documented evaluation.
pub const DEFAULT_SEED: u64 = 42;

/// Throughput measurement of [`EmotionModel::predict_batch`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub songs: usize,
    pub threads: usize,
    pub seconds: f64,
    pub songs_per_second: f64,
    /// Average characters of lyrics per song.
    pub avg_chars: usize,
}

/// Classifies `songs` synthetic songs with the embedded model on the current rayon
/// pool and times it. Each song is ten corpus snippets of one language (about 30
/// lines, like a full song's lyrics), English and Chinese alternating.
pub fn bench(songs: usize) -> BenchResult {
    let analyzer = Analyzer::default();
    let model = EmotionModel::embedded();
    let corpora = [builtin_english(), builtin_chinese()];
    // Warm up the lazily built jieba and lexicons so they are not timed.
    let _ = model.predict(&analyzer, "我们 warm up");
    let texts: Vec<String> = (0..songs)
        .map(|i| {
            let corpus = &corpora[i % 2];
            let mut s = String::new();
            for k in 0..10 {
                let (t, _) = &corpus[(i * 7 + k * 131) % corpus.len()];
                s.push_str(t);
                s.push('\n');
            }
            s
        })
        .collect();
    let avg_chars = texts.iter().map(|t| t.chars().count()).sum::<usize>() / songs.max(1);
    let start = std::time::Instant::now();
    let preds = model.predict_batch(&analyzer, &texts);
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(preds.len(), songs);
    BenchResult {
        songs,
        threads: rayon::current_num_threads(),
        seconds,
        songs_per_second: songs as f64 / seconds.max(1e-9),
        avg_chars,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bench_times_full_length_songs() {
        // A smoke test of the benchmark's set-up; what the predictions are is tested
        // against the corpus in the classifier's own tests.
        let r = super::bench(40);
        assert_eq!(r.songs, 40);
        assert!(r.seconds > 0.0 && r.songs_per_second > 0.0);
        // Ten snippets per song: full-length lyrics, not one-liners.
        assert!(r.avg_chars > 300, "{}", r.avg_chars);
    }
}
