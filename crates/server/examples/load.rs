//! Bounded load test on loopback: N clients post camera frames to /api/analyze for a
//! fixed time over keep-alive connections, like N browser tabs at full speed. With
//! `--mix` each client also asks for playlists and likes songs, as the page does when
//! the mood changes (two frames, a playlist, a like). Prints throughput and latency
//! percentiles per request kind and the server's memory over time; fails (exit 1) when
//! a request failed or the memory grew during the run.
//!
//!   cargo run --release -p moodtune-server --example load -- [--clients 8] [--seconds 10]
//!       [--mix] [--image FRAME.jpg] [--url http://127.0.0.1:7878 --pid PID]
//!
//! scripts/soak.sh runs it with --mix against the real `moodtune serve` while a CLI
//! import writes a large song list into the same library.
//!
//! Without --url it serves the fake backend in this process (measures the web layer);
//! with --url and --pid it loads a running `moodtune serve` (the whole pipeline) and
//! reads that process's memory. Only loopback addresses are accepted.

use moodtune_server::fake::FakeBackend;
use moodtune_server::{router, serve, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Opts {
    clients: usize,
    seconds: f64,
    image: Option<String>,
    url: Option<String>,
    pid: Option<u32>,
    mix: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        clients: 8,
        seconds: 10.0,
        image: None,
        url: None,
        pid: None,
        mix: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--clients" => o.clients = val()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--image" => o.image = Some(val()?),
            "--url" => o.url = Some(val()?),
            "--pid" => o.pid = Some(val()?.parse().map_err(|e| format!("--pid: {e}"))?),
            "--mix" => o.mix = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if !(1..=256).contains(&o.clients) || !(0.5..=600.0).contains(&o.seconds) {
        return Err("use 1-256 clients and 0.5-600 seconds".into());
    }
    Ok(o)
}

/// Resident memory of a process in KiB (Linux), from /proc.
fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let s = std::fs::read_to_string(path).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A 480x360 JPEG with a bright face-like patch: what the page sends at 4 frames/s.
fn default_frame() -> Vec<u8> {
    let img = image::GrayImage::from_fn(480, 360, |x, y| {
        let dx = (x as f32 - 240.0) / 90.0;
        let dy = (y as f32 - 180.0) / 120.0;
        image::Luma([if dx * dx + dy * dy < 1.0 {
            200
        } else {
            (60 + (x * 7 + y * 3) % 90) as u8
        }])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .to_rgb8()
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    out
}

/// Scales a photo to 480 px wide and encodes it as JPEG, as the page does with the
/// camera picture.
fn as_frame(img: &image::DynamicImage) -> Vec<u8> {
    let h = (img.height() * 480 / img.width().max(1)).max(1);
    let small = img.resize_exact(480, h, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    small
        .to_rgb8()
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    out
}

/// Sends one POST of a camera frame on a keep-alive connection and reads the whole
/// response.
async fn post(
    conn: &mut BufReader<TcpStream>,
    host: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    Ok(send(conn, "POST", host, path, "image/jpeg", body).await?.0)
}

/// Sends one request on a keep-alive connection; returns the status and the body.
async fn send(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    host: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // One write: a second small write would wait for the first one's delayed ACK
    // (Nagle), adding 40 ms to every request.
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    conn.get_mut().write_all(&request).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await?;
    Ok((status, body))
}

/// The request kinds of a `--mix` client, in the order it sends them.
const MIX: [&str; 4] = ["analyze", "analyze", "playlist", "feedback"];
const MOODS: [&str; 7] = [
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
];

/// One request of kind `op` for client `i` on its `round`-th turn; `liked` carries the
/// first song of the last playlist to the next like. Returns the status.
async fn mixed_request(
    conn: &mut BufReader<TcpStream>,
    host: &str,
    frame: &[u8],
    (i, round, op): (usize, usize, &str),
    liked: &mut Option<i64>,
) -> std::io::Result<u16> {
    let mood = MOODS[(i + round) % MOODS.len()];
    match op {
        "playlist" => {
            let path = format!("/api/playlist?emotion={mood}&session=load-{i}&limit=10");
            let (status, body) = send(conn, "GET", host, &path, "text/plain", b"").await?;
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            *liked = v["songs"][0]["id"].as_i64().or(*liked);
            Ok(status)
        }
        "feedback" => {
            let Some(song) = *liked else { return Ok(200) };
            let body = format!(
                r#"{{"song_id":{song},"emotion":"{mood}","action":"like","session":"load-{i}"}}"#
            );
            let (status, _) = send(
                conn,
                "POST",
                host,
                "/api/feedback",
                "application/json",
                body.as_bytes(),
            )
            .await?;
            Ok(status)
        }
        _ => post(conn, host, &format!("/api/analyze?session=load-{i}"), frame).await,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let frame = Arc::new(match &o.image {
        Some(p) => match image::open(p) {
            Ok(img) => as_frame(&img),
            Err(e) => {
                eprintln!("error: cannot read the image {p}: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => default_frame(),
    });

    // The target: a running server on loopback, or the fake backend in this process.
    let (addr, pid, stop) = match &o.url {
        Some(url) => {
            let hostport = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            let addr: SocketAddr = match hostport.replace("localhost", "127.0.0.1").parse() {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: --url must be http://IP:PORT ({e})");
                    return std::process::ExitCode::from(2);
                }
            };
            if !addr.ip().is_loopback() {
                eprintln!("error: this load test only targets loopback addresses");
                return std::process::ExitCode::from(2);
            }
            (addr, o.pid, None)
        }
        None => {
            let backend = FakeBackend::new(10);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let config = ServerConfig::default();
            let limits = config.connections;
            let app = router(Arc::new(backend), config);
            tokio::spawn(serve(listener, app, limits, async move {
                let _ = rx.await;
            }));
            (addr, None, Some(tx))
        }
    };
    let host = addr.to_string();
    println!(
        "load: {} clients x {:.1} s, {} KiB frames, target {} ({})",
        o.clients,
        o.seconds,
        frame.len() / 1024,
        addr,
        if o.url.is_some() {
            "external server"
        } else {
            "in-process fake backend"
        }
    );

    // Warm-up, so one-off allocations (model buffers, thread pools) are not "growth".
    {
        let mut c = BufReader::new(TcpStream::connect(addr).await.expect("connect"));
        for _ in 0..20 {
            let _ = post(&mut c, &host, "/api/analyze?session=warmup", &frame).await;
        }
    }
    let rss_start = rss_kib(pid);

    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(o.seconds);
    // Memory is sampled through the run: a leak grows steadily, while allocator arenas
    // settle in the first seconds.
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            if let Some(r) = rss_kib(pid) {
                samples.push(r);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        samples
    });
    let mut tasks = Vec::new();
    let mix = o.mix;
    for i in 0..o.clients {
        let frame = frame.clone();
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<(&'static str, Duration)> = Vec::new();
            let mut failures = Vec::new();
            let mut conn = match TcpStream::connect(addr).await {
                Ok(s) => BufReader::new(s),
                Err(e) => return (lat, vec![format!("connect: {e}")]),
            };
            let mut liked = None;
            let mut round = 0;
            while Instant::now() < deadline {
                let op = if mix {
                    MIX[round % MIX.len()]
                } else {
                    "analyze"
                };
                let t = Instant::now();
                match mixed_request(&mut conn, &host, &frame, (i, round, op), &mut liked).await {
                    Ok(200) => lat.push((op, t.elapsed())),
                    Ok(s) => failures.push(format!("{op}: HTTP {s}")),
                    Err(e) => {
                        failures.push(format!("{op}: {e}"));
                        break;
                    }
                }
                round += 1;
            }
            (lat, failures)
        }));
    }
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut failures = Vec::new();
    for t in tasks {
        let (l, f) = t.await.unwrap();
        for (op, d) in l {
            by_kind.entry(op).or_default().push(d);
        }
        failures.extend(f);
    }
    let mut all: Vec<Duration> = by_kind.values().flatten().copied().collect();
    let elapsed = t0.elapsed().as_secs_f64();
    let samples = sampler.await.unwrap_or_default();
    all.sort();

    println!(
        "requests: {} ok, {} failed in {:.1} s -> {:.1} requests/s",
        all.len(),
        failures.len(),
        elapsed,
        all.len() as f64 / elapsed
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (op, lat) in by_kind.iter_mut().map(|(k, v)| (*k, v)) {
        lat.sort();
        println!(
            "latency {op} ({} ok): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lat.len(),
            ms(percentile(lat, 0.50)),
            ms(percentile(lat, 0.90)),
            ms(percentile(lat, 0.99)),
            ms(lat.last().copied().unwrap_or_default()),
        );
    }
    let mut ok = failures.is_empty() && !all.is_empty();
    if !samples.is_empty() {
        // One sample in 20: every 5 s.
        let series: Vec<String> = samples
            .iter()
            .step_by(20)
            .map(|k| format!("{:.0}", *k as f64 / 1024.0))
            .collect();
        println!("memory (RSS, MiB, every 5 s): {}", series.join(" "));
    }
    for f in failures.iter().take(5) {
        println!("failure: {f}");
    }
    match rss_start {
        Some(start) if samples.len() >= 4 => {
            let half = samples.len() / 2;
            let first = *samples[..half].iter().max().unwrap();
            let last = *samples[samples.len() * 3 / 4..].iter().max().unwrap();
            let peak = *samples.iter().max().unwrap();
            let grew = last.saturating_sub(first);
            // Allocator noise is a few MiB; a leak of even 1 KiB per frame over a
            // 10 s run at 100 frames/s shows as steady growth past that.
            let flat = grew < 4 * 1024;
            let mib = |k: u64| k as f64 / 1024.0;
            println!(
                "memory (RSS): {:.1} MiB after warm-up, peak {:.1} MiB; last quarter vs first half \
                 {:+.1} MiB: {}",
                mib(start),
                mib(peak),
                mib(last) as f64 - mib(first) as f64,
                if flat { "flat" } else { "GREW" }
            );
            ok &= flat;
        }
        _ => println!("memory: not measured (pass --pid for an external server on Linux)"),
    }
    if let Some(tx) = stop {
        let _ = tx.send(());
    }
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
