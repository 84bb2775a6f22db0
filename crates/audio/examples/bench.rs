//! Throughput of moodtune-audio next to bliss-audio (symphonia decoder, no ffmpeg) on the
//! same files in the same run: songs/s and x real time, files in parallel on a fixed
//! number of threads (default 2; `THREADS=n`), decode included.
//!
//! cargo run --release -p moodtune-audio --features bliss --example bench -- [FILE|DIR]...
//! Without arguments it uses the Debian game-music packages if installed.

use bliss_audio::decoder::symphonia::SymphoniaDecoder;
use bliss_audio::decoder::Decoder;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else if matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("ogg" | "mp3" | "flac" | "wav" | "m4a")
    ) {
        out.push(p.to_path_buf());
    }
}

struct Run {
    ok: usize,
    failed: usize,
    audio_s: f64,
    wall_s: f64,
    cpu_s: f64,
}

/// User + system CPU seconds of this process so far (Linux /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// `f` analyses one file and says whether it succeeded; `durations` are the files'
/// lengths (from moodtune-audio, since bliss does not always report one).
fn run(files: &[PathBuf], durations: &[f64], f: impl Fn(&Path) -> bool + Sync) -> Run {
    let (t, c) = (Instant::now(), cpu_seconds());
    let ok: Vec<bool> = files.par_iter().map(|p| f(p)).collect();
    let wall_s = t.elapsed().as_secs_f64();
    Run {
        ok: ok.iter().filter(|o| **o).count(),
        failed: ok.iter().filter(|o| !**o).count(),
        audio_s: ok
            .iter()
            .zip(durations)
            .filter(|(o, _)| **o)
            .map(|(_, d)| d)
            .sum(),
        wall_s,
        cpu_s: cpu_seconds() - c,
    }
}

fn report(name: &str, r: &Run) {
    println!(
        "{name:<16} {:>4} songs ({} failed) {:>8.1} s audio in {:>7.2} s wall ({:>7.2} s CPU): {:>6.2} songs/s, {:>7.1}x real time, {:>7.1}x per CPU second",
        r.ok,
        r.failed,
        r.audio_s,
        r.wall_s,
        r.cpu_s,
        r.ok as f64 / r.wall_s,
        r.audio_s / r.wall_s,
        r.audio_s / r.cpu_s.max(1e-9)
    );
}

fn main() {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        args = vec![
            "/usr/share/hyperrogue/music".into(),
            "/usr/share/scummvm/drascula/audio".into(),
        ];
    }
    let mut files = Vec::new();
    for a in &args {
        collect(a, &mut files);
    }
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();
    println!("{} files, {threads} threads", files.len());
    // Warm the page cache so neither side pays first-read I/O.
    for f in &files {
        let _ = std::fs::read(f);
    }
    let durations: Vec<f64> = files
        .par_iter()
        .map(|p| moodtune_audio::analyze_file(p).map_or(0.0, |a| a.duration_s))
        .collect();
    let ours = run(&files, &durations, |p| {
        match moodtune_audio::analyze_file(p) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("moodtune-audio: {e}");
                false
            }
        }
    });
    report("moodtune-audio", &ours);
    let bliss = run(
        &files,
        &durations,
        |p| match SymphoniaDecoder::song_from_path(p) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("bliss-audio: {}: {e}", p.display());
                false
            }
        },
    );
    report("bliss-audio", &bliss);
    println!(
        "moodtune-audio / bliss-audio speed: {:.2}x by wall time, {:.2}x by CPU time",
        (ours.audio_s / ours.wall_s) / (bliss.audio_s / bliss.wall_s),
        (ours.audio_s / ours.cpu_s) / (bliss.audio_s / bliss.cpu_s)
    );
}
