//! Lyrics classification throughput with the embedded model.
//!
//! cargo run --release -p moodtune-lyrics --example bench [-- SONGS]   (default 100000)

fn main() {
    let songs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let t = std::time::Instant::now();
    let _ = moodtune_lyrics::Analyzer::default();
    let _ = moodtune_lyrics::EmotionModel::embedded();
    let load = t.elapsed().as_secs_f64();
    let r = moodtune_lyrics::bench(songs);
    println!(
        "classified {} songs (avg {} chars of lyrics) in {:.2}s on {} threads: {:.0} songs/s (lexicons + model load {:.2}s, not counted)",
        r.songs, r.avg_chars, r.seconds, r.threads, r.songs_per_second, load
    );
}
