//! Trains the default (embedded) lyrics model on the project's corpus with the fixed
//! seed and writes it to crates/lyrics/model/default.json; prints the cross-validated
//! comparison of the three methods as Markdown (paste into docs/LYRICS.md).
//!
//! cargo run --release -p moodtune-lyrics --example train_default [-- --no-eval]

use moodtune_lyrics::{
    builtin_corpus, cross_validate, report_markdown, Analyzer, EmotionModel, DEFAULT_SEED,
};

fn main() -> anyhow::Result<()> {
    let no_eval = std::env::args().any(|a| a == "--no-eval");
    let analyzer = Analyzer::default();
    let corpus = builtin_corpus();
    let model = EmotionModel::train(&analyzer, &corpus, DEFAULT_SEED)?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("model/default.json");
    model.save(&path)?;
    println!(
        "trained on {} snippets, version {}, wrote {}",
        corpus.len(),
        model.version(),
        path.display()
    );
    if !no_eval {
        let t = std::time::Instant::now();
        let ev = cross_validate(&analyzer, &corpus, 10, DEFAULT_SEED)?;
        println!(
            "{}",
            report_markdown(
                &format!(
                    "10-fold cross-validation, {} snippets (English + Chinese), seed {}",
                    ev.examples, ev.seed
                ),
                &ev.methods
            )
        );
        for (name, part) in [
            ("English", moodtune_lyrics::builtin_english()),
            ("Chinese", moodtune_lyrics::builtin_chinese()),
        ] {
            let ev = cross_validate(&analyzer, &part, 10, DEFAULT_SEED)?;
            println!(
                "{}",
                report_markdown(
                    &format!(
                        "10-fold cross-validation, {name} only ({} snippets)",
                        ev.examples
                    ),
                    &ev.methods
                )
            );
        }
        eprintln!("evaluation took {:.1}s", t.elapsed().as_secs_f64());
    }
    Ok(())
}
