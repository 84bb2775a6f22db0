//! moodtune playing its playlists in a real MPD: Debian's `mpd`, started here on a free
//! loopback port with its own configuration, a null audio output and a music folder
//! it has not scanned yet. `moodtune playlist --mpd` replaces MPD's queue with exactly
//! the playlist's songs inside MPD's folder (MPD's database updated for them first),
//! leaves out and reports a song outside it, and MPD plays; `moodtune serve --mpd`
//! sends the page's playlist when the mood changes and only then.

mod support;

use moodtune_core::Emotion;
use moodtune_library::Library;
use moodtune_mpd::{Client, Options};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::moodtune;

const MPD: &str = "/usr/bin/mpd";

/// An `mpd --no-daemon` child, killed when dropped.
struct Mpd {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Mpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mpd {
    fn client(&self) -> Client {
        Client::connect(&self.addr, &Options::default()).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts MPD serving `music` with its state under `dir`, and waits until it answers
/// and has finished its first scan. A port taken between choosing and binding is
/// retried.
fn start_mpd(dir: &Path, music: &Path) -> Mpd {
    for attempt in 0..3 {
        let port = free_port();
        let conf = dir.join("mpd.conf");
        let log = dir.join(format!("mpd{attempt}.log"));
        let q = |p: &Path| moodtune_mpd::quote(p.to_str().unwrap());
        std::fs::write(
            &conf,
            format!(
                "music_directory {}\ndb_file {}\nstate_file {}\npid_file {}\nlog_file {}\n\
                 bind_to_address \"127.0.0.1\"\nport \"{port}\"\nauto_update \"no\"\n\
                 zeroconf_enabled \"no\"\n\
                 audio_output {{\n    type \"null\"\n    name \"null\"\n}}\n",
                q(music),
                q(&dir.join("database")),
                q(&dir.join("state")),
                q(&dir.join("pid")),
                q(&log),
            ),
        )
        .unwrap();
        let child = Command::new(MPD)
            .arg("--no-daemon")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mpd");
        let mut mpd = Mpd {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(status) = mpd.child.try_wait().unwrap() {
                eprintln!("mpd exited ({status}): {}", mpd.log());
                break;
            }
            if let Ok(mut c) = Client::connect(&mpd.addr, &Options::default()) {
                // A fresh database is scanned at start; wait for it to end.
                while c.status().unwrap().updating_db.is_some() {
                    assert!(start.elapsed() < Duration::from_secs(30), "mpd scan");
                    std::thread::sleep(Duration::from_millis(50));
                }
                return mpd;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(mpd);
    }
    panic!("mpd did not start on loopback");
}

/// Two seconds of a sine tone.
fn write_tone(path: &Path, hz: f32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let rate = 22_050;
    let samples: Vec<f32> = (0..rate * 2)
        .map(|i| 0.3 * (i as f32 * hz * std::f32::consts::TAU / rate as f32).sin())
        .collect();
    moodtune_testkit::write_wav(path, &samples, rate);
}

/// MPD's queue as URIs, and whether it plays.
fn queue(mpd: &Mpd) -> (Vec<String>, String, Option<u32>) {
    let mut c = mpd.client();
    let files = c
        .playlistinfo()
        .unwrap()
        .into_iter()
        .map(|s| s.file)
        .collect();
    let status = c.status().unwrap();
    (files, status.state, status.playlist_version)
}

/// The URI MPD knows `path` by, for a path under `music`.
fn uri(path: &Path, music: &Path) -> Option<String> {
    let rel = path.strip_prefix(music).ok()?;
    Some(rel.to_str()?.to_string())
}

#[test]
fn playlists_play_in_a_real_mpd() {
    if !Path::new(MPD).is_file() {
        moodtune_testkit::missing(
            "Debian's mpd (/usr/bin/mpd)",
            "run scripts/setup-test-mpd.sh",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let music = root.join("music");
    std::fs::create_dir(&music).unwrap();
    // Started on an empty folder: every song below is new to its database.
    let mpd = start_mpd(&root, &music);

    let files = [
        ("calm/one.wav", Emotion::Happy),
        ("calm/two \"quoted\" \\ song.wav", Emotion::Happy),
        ("wild/three.wav", Emotion::Sad),
    ];
    for (i, (name, _)) in files.iter().enumerate() {
        write_tone(&music.join(name), 220.0 * (i + 1) as f32);
    }
    let outside = root.join("elsewhere/four.wav");
    write_tone(&outside, 330.0);

    let db = root.join("library.sqlite");
    let out = moodtune(
        &[
            "library",
            "import",
            music.to_str().unwrap(),
            outside.to_str().unwrap(),
        ],
        &db,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Labels make the moods certain: happy has three songs, one outside MPD's folder.
    let mut lib = Library::open(&db).unwrap();
    let songs = lib.songs().unwrap();
    assert_eq!(songs.len(), 4);
    for s in &songs {
        let path = s.audio_path.clone().expect("an imported file");
        let emotion = files
            .iter()
            .find(|(name, _)| path == music.join(name))
            .map_or(Emotion::Happy, |(_, e)| *e);
        lib.set_manual_emotion(s.id, Some(emotion)).unwrap();
    }
    drop(lib);

    // One-off: the playlist as JSON on standard output, and played by MPD.
    let addr = mpd.addr.clone();
    let out = moodtune(
        &[
            "playlist",
            "--emotion",
            "happy",
            "--format",
            "json",
            "--mpd",
            &addr,
            "--mpd-music-dir",
            music.to_str().unwrap(),
        ],
        &db,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}\n{}", mpd.log());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tracks: Vec<PathBuf> = json["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| PathBuf::from(t["path"].as_str().unwrap()))
        .collect();
    assert_eq!(tracks.len(), 3, "{json}");
    let expected: Vec<String> = tracks.iter().filter_map(|p| uri(p, &music)).collect();
    assert_eq!(expected.len(), 2, "{json}");
    let (playing, state, _) = queue(&mpd);
    assert_eq!(playing, expected, "{stderr}");
    assert_eq!(state, "play");
    assert!(
        stderr.contains(&format!(
            "happy: sent 2 songs to MPD at {addr} (left out 1: 1 outside MPD's music folder)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(outside.to_str().unwrap()), "{stderr}");

    // Without --format the report is the output.
    let out = moodtune(
        &[
            "playlist",
            "-e",
            "happy",
            "--mpd",
            &addr,
            "--mpd-music-dir",
            music.to_str().unwrap(),
        ],
        &db,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("happy: sent 2 songs to MPD"), "{stdout}");
    assert!(stdout.contains("left out: four"), "{stdout}");

    // A folder MPD does not serve: nothing MPD knows, a clear error, the queue left
    // alone.
    let before = queue(&mpd);
    let out = moodtune(
        &[
            "playlist",
            "-e",
            "happy",
            "--mpd",
            &addr,
            "--mpd-music-dir",
            root.join("elsewhere").to_str().unwrap(),
        ],
        &db,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("2 outside MPD's music folder, 1 not in MPD's database"),
        "{stderr}"
    );
    assert_eq!(queue(&mpd), before);
    let out = moodtune(
        &[
            "playlist",
            "-e",
            "happy",
            "--mpd",
            &addr,
            "--mpd-music-dir",
            "/nonexistent-music",
        ],
        &db,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent-music"), "{stderr}");

    // Nobody at the address: the error names it.
    let nobody = format!("127.0.0.1:{}", free_port());
    let out = moodtune(
        &[
            "playlist",
            "-e",
            "happy",
            "--mpd",
            &nobody,
            "--mpd-music-dir",
            music.to_str().unwrap(),
        ],
        &db,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot reach MPD at {nobody}")),
        "{stderr}"
    );

    served_playlists_follow_the_mood(&mpd, &db, &music);
}

/// `moodtune serve --mpd`: the page's playlist goes to MPD when its mood changes.
fn served_playlists_follow_the_mood(mpd: &Mpd, db: &Path, music: &Path) {
    mpd.client().clear().unwrap();
    let server = Serve::start(db, &mpd.addr, music);
    let lib = Library::open(db).unwrap();
    // The page's playlist for a mood, as the URIs MPD should play.
    let page = |emotion: &str| -> Vec<String> {
        let body = server.get(&format!("/api/playlist?emotion={emotion}&limit=10"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["songs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let song = lib.song(s["id"].as_i64().unwrap()).unwrap().unwrap();
                uri(&song.audio_path?, music)
            })
            .collect()
    };
    let wait_for = |want: &[String]| {
        let start = Instant::now();
        loop {
            let (files, state, version) = queue(mpd);
            if files == want && state == "play" {
                return version;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "MPD plays {files:?} ({state}), not {want:?}\n{}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let happy = page("happy");
    assert_eq!(happy.len(), 2);
    let version = wait_for(&happy);
    // The same mood again (a like, a reload): MPD's queue is not touched.
    assert_eq!(page("happy"), happy);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(queue(mpd).2, version, "resent for an unchanged mood");

    let sad = page("sad");
    assert!(sad.contains(&"wild/three.wav".to_string()), "{sad:?}");
    let after = wait_for(&sad);
    assert_ne!(after, version);
    // The follower reports after MPD took the queue: the line may trail the queue.
    let start = Instant::now();
    let log = loop {
        let log = server.stderr();
        if log.contains("mpd: sad: sent") || start.elapsed() > Duration::from_secs(10) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.contains("mpd: sad: sent"), "{log}");
    assert!(!log.contains("mpd: error"), "{log}");
}

/// `moodtune serve --mpd` on a free port, its standard error kept.
struct Serve {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(db: &Path, mpd: &str, music: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_moodtune"))
            .args(["serve", "--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(["--mpd", mpd, "--mpd-music-dir"])
            .arg(music)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moodtune serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let keep = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = keep.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                panic!("moodtune serve printed no URL: {}", stderr.lock().unwrap())
            });
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Serve {
            child,
            addr,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{raw}");
        body.to_string()
    }
}
