//! Grid search of the SVM cost C and the lexicon-block weight by 10-fold
//! cross-validation on the project's corpus (how the defaults were chosen).
//!
//! cargo run --release -p moodtune-lyrics --example tune

use moodtune_lyrics::{
    builtin_corpus, cross_validate_with, Analyzer, Method, TrainOptions, DEFAULT_SEED,
};

fn main() -> anyhow::Result<()> {
    let analyzer = Analyzer::default();
    let corpus = builtin_corpus();
    println!(
        "| C | lex_scale | hierarchical acc | hierarchical macro-F1 | flat acc | flat macro-F1 |"
    );
    println!("|---|---|---|---|---|---|");
    for c in [0.1f32, 0.3, 1.0, 3.0, 10.0] {
        for lex_scale in [0.0f32, 0.2, 0.35, 0.6, 1.0] {
            let opts = TrainOptions {
                c,
                lex_scale,
                seed: DEFAULT_SEED,
                ..Default::default()
            };
            let ev = cross_validate_with(&analyzer, &corpus, 10, &opts)?;
            let h = ev.method(Method::Hierarchical).expect("evaluated");
            let f = ev.method(Method::Flat).expect("evaluated");
            println!(
                "| {c} | {lex_scale} | {:.1}% | {:.3} | {:.1}% | {:.3} |",
                h.accuracy * 100.0,
                h.macro_f1,
                f.accuracy * 100.0,
                f.macro_f1
            );
        }
    }
    Ok(())
}
