//! Recommendation time and memory on synthetic libraries.
//!
//! `cargo run --release -p moodtune-recommend --example recommend_bench [-- --sizes 10000,100000 --requests 50]`
//!
//! Songs get 3-10 tags from a 1,000-tag vocabulary with a skewed (Zipf-like) popularity,
//! one of the 7 emotions at random (1 in 50 unlabelled), one of n/8 artists, and a
//! random label confidence. Each request picks 3 random typical songs of a random
//! emotion and asks for 10 songs; everything runs on one thread. The last line repeats
//! the largest size with every song in one library, the worst case for one request.

use moodtune_core::Emotion;
use moodtune_recommend::{Candidate, Index, Request, Session, Strategy, Taste};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

const VOCAB: usize = 1000;

/// CPU time of this thread in ms: the machine may be shared, and wall time then
/// measures the neighbours as much as the code.
#[cfg(target_os = "linux")]
fn thread_cpu_ms() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct we pass, which has the C layout of
    // `struct timespec` on 64-bit Linux.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ms() -> f64 {
    f64::NAN
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn library(n: usize, one_library: bool, rng: &mut ChaCha8Rng) -> Vec<Candidate> {
    let vocab: Vec<String> = (0..VOCAB).map(|t| format!("tag{t}")).collect();
    let artists = (n / 8).max(1);
    (0..n)
        .map(|i| {
            let k = rng.gen_range(3..=10);
            let tags = (0..k)
                .map(|_| {
                    // u^3 skews toward low ids: a few tags are very common, most are rare.
                    let u: f64 = rng.gen();
                    vocab[((u * u * u) * VOCAB as f64) as usize].clone()
                })
                .collect();
            let emotion = if one_library {
                Some(Emotion::Happy)
            } else if rng.gen_range(0..50) == 0 {
                None
            } else {
                Emotion::from_index(rng.gen_range(0..Emotion::COUNT))
            };
            Candidate {
                id: i as i64,
                title: format!("Song {i}"),
                artist: format!("Artist {}", rng.gen_range(0..artists)),
                tags,
                emotion,
                confidence: rng.gen(),
                manual: false,
                drivers: Vec::new(),
            }
        })
        .collect()
}

/// Three random typical songs for the mood and for the libraries `lift` moves through.
fn random_taste(emotion: Emotion, by_emotion: &[Vec<i64>], rng: &mut ChaCha8Rng) -> Taste {
    let mut taste = Taste::default();
    for e in [emotion, Emotion::Neutral, Emotion::Happy] {
        let library = &by_emotion[e.index()];
        let picks = (0..3)
            .filter(|_| !library.is_empty())
            .map(|_| library[rng.gen_range(0..library.len())])
            .collect();
        taste.set_picks(e, picks);
    }
    taste
}

fn bench(n: usize, one_library: bool, requests: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    let rss0 = rss_kib();
    let songs = library(n, one_library, &mut rng);
    let mut by_emotion: Vec<Vec<i64>> = vec![Vec::new(); Emotion::COUNT];
    for s in &songs {
        if let Some(e) = s.emotion {
            by_emotion[e.index()].push(s.id);
        }
    }
    let t = Instant::now();
    let index = Index::build(songs).expect("synthetic ids are unique");
    let build = t.elapsed();
    let rss1 = rss_kib();

    // The first requests after the build are slow (page faults on the freshly written
    // index; on the development VM up to ~100 ms at 1M songs); steady state is what a
    // running app sees, so warm every library three times first and report the worst.
    let mut cold = 0f64;
    for e in Emotion::ALL
        .iter()
        .cycle()
        .take(3 * Emotion::COUNT)
        .copied()
    {
        let c = thread_cpu_ms();
        let taste = random_taste(e, &by_emotion, &mut rng);
        std::hint::black_box(index.recommend(&Request::new(e), &taste, &Session::new()));
        cold = cold.max(thread_cpu_ms() - c);
    }
    println!("{n:>9} songs: slowest warm-up request {cold:.3} ms CPU");

    for strategy in [Strategy::Match, Strategy::Lift] {
        let mut times = Vec::with_capacity(requests);
        let mut cpu = Vec::with_capacity(requests);
        let mut served = 0usize;
        for _ in 0..requests {
            let emotion = if one_library {
                Emotion::Happy
            } else {
                Emotion::from_index(rng.gen_range(0..Emotion::COUNT)).unwrap()
            };
            let taste = random_taste(emotion, &by_emotion, &mut rng);
            let req = Request::new(emotion).strategy(strategy).limit(10);
            let c = thread_cpu_ms();
            let t = Instant::now();
            let recs = index.recommend(&req, &taste, &Session::new());
            times.push(t.elapsed().as_secs_f64() * 1e3);
            cpu.push(thread_cpu_ms() - c);
            if std::env::var_os("BENCH_TRACE").is_some() {
                eprintln!("{emotion:?} {strategy} cpu {:.3} ms", cpu[cpu.len() - 1]);
            }
            served += recs.len();
            std::hint::black_box(recs);
        }
        times.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        let max = times[times.len() - 1];
        let cpu_mean = cpu.iter().sum::<f64>() / cpu.len() as f64;
        println!(
            "{:>9} songs{} {:<5} per request: CPU mean {:>7.3} ms, p50 {:>7.3} ms, max {:>7.3} ms; wall p50 {:>7.3} ms, max {:>7.3} ms ({} songs served)",
            n,
            if one_library { " (one library)" } else { "" },
            strategy.key(),
            cpu_mean,
            cpu[cpu.len() / 2],
            cpu[cpu.len() - 1],
            p50,
            max,
            served
        );
    }
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "{:>9} songs: index built in {:.2} s, index heap {:.1} MiB, {} tags; RSS {} -> {} MiB",
        n,
        build.as_secs_f64(),
        index.heap_bytes() as f64 / (1024.0 * 1024.0),
        index.tag_count(),
        rss0.map_or("?".into(), |k| format!("{:.1}", mib(k))),
        rss1.map_or("?".into(), |k| format!("{:.1}", mib(k))),
    );
}

fn main() {
    let mut sizes = vec![10_000usize, 100_000, 1_000_000];
    let mut requests = 50usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--sizes", Some(v)) => {
                sizes = v
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .expect("--sizes takes numbers like 10000,100000")
                    })
                    .collect()
            }
            ("--requests", Some(v)) => requests = v.parse().expect("--requests takes a number"),
            _ => {
                eprintln!("usage: bench [--sizes 10000,100000,1000000] [--requests 50]");
                std::process::exit(2);
            }
        }
    }
    let requests = requests.max(1);
    for &n in &sizes {
        bench(n, false, requests);
    }
    if let Some(&n) = sizes.iter().max() {
        bench(n, true, requests);
    }
}
