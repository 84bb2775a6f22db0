//! Classifies lyrics given as arguments (or stdin) with the embedded model and prints
//! each prediction and the lexicon rule's answer as JSON lines.
//!
//! cargo run -p moodtune-lyrics --example classify -- "I'm not afraid anymore" "我不开心"

use std::io::Read;

fn main() -> anyhow::Result<()> {
    let mut texts: Vec<String> = std::env::args().skip(1).collect();
    if texts.is_empty() {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        texts.push(s);
    }
    let analyzer = moodtune_lyrics::Analyzer::default();
    let model = moodtune_lyrics::EmotionModel::embedded();
    for t in &texts {
        let f = analyzer.features(t);
        let p = model.predict_features(&f);
        let rule = moodtune_lyrics::lexicon_rule(&f);
        println!(
            "{}",
            serde_json::json!({
                "text": t,
                "language": f.language,
                "emotion": p.emotion,
                "confidence": p.confidence,
                "drivers": p.drivers,
                "model_version": model.version(),
                "lexicon_rule": rule.emotion,
                "hits": f.hits.iter().map(|h| h.display()).collect::<Vec<_>>(),
            })
        );
    }
    Ok(())
}
