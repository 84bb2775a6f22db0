//! Lyrics classification throughput with the embedded model.
//!
//! cargo run --release -p moodtune-lyrics --example lyrics_bench [-- SONGS]   (default 100000)

/// Resident memory in MiB (Linux), to show what the lexicons, jieba and model cost.
fn rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) this process used so far (Linux), so the figure can be
/// read even when other jobs compete for the cores.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let songs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rss0 = rss_mib();
    let t = std::time::Instant::now();
    let analyzer = moodtune_lyrics::Analyzer::default();
    let lexicons = t.elapsed().as_secs_f64();
    let rss1 = rss_mib();
    let t = std::time::Instant::now();
    // The first Chinese text builds the shared jieba instance.
    let _ = analyzer.features("我们");
    let jieba = t.elapsed().as_secs_f64();
    let rss2 = rss_mib();
    let t = std::time::Instant::now();
    let _ = moodtune_lyrics::EmotionModel::embedded();
    let model = t.elapsed().as_secs_f64();
    if let (Some(a), Some(b), Some(c)) = (rss0, rss1, rss2) {
        println!(
            "load: lexicons {lexicons:.2}s (+{:.0} MiB), jieba {jieba:.2}s (+{:.0} MiB), model {model:.2}s",
            b - a,
            c - b
        );
    }
    let cpu0 = cpu_seconds();
    let r = moodtune_lyrics::bench(songs);
    let cpu1 = cpu_seconds();
    println!(
        "classified {} songs (avg {} chars of lyrics) in {:.2}s on {} threads: {:.0} songs/s",
        r.songs, r.avg_chars, r.seconds, r.threads, r.songs_per_second
    );
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        // Includes building the synthetic texts, so it slightly overstates the cost.
        println!(
            "CPU time {:.2}s: {:.0} songs per CPU-second, {:.1}s for 100,000 songs on 2 idle cores",
            b - a,
            r.songs as f64 / (b - a),
            100_000.0 * (b - a) / r.songs as f64 / 2.0
        );
    }
}
