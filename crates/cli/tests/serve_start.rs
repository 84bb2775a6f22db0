//! `moodtune serve` before it serves: the first run installs the demo library, a busy
//! port is a clear error, bad listen flags are refused, the hosts it answers to, and
//! every audio type the library links can be played.

mod support;

use moodtune_library::Library;
use std::path::{Path, PathBuf};
use support::{http, moodtune, serve};

#[test]
fn first_run_installs_the_demo_and_a_busy_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let db = dir.path().join("data/library.sqlite");
    let out = moodtune(&["serve", "--addr", &addr.to_string()], &db);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains(&format!("cannot listen on {addr}")), "{msg}");
    // The demo library was created beside the database before the bind failed.
    assert!(Library::open(&db).unwrap().len().unwrap() > 0);
    assert!(dir.path().join("data/demo-songs").is_dir());
    // --port is shorthand for a loopback address.
    let out = moodtune(&["serve", "--port", &addr.port().to_string()], &db);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains(&format!("cannot listen on {addr}")), "{msg}");
}

#[test]
fn the_server_plays_every_audio_type_the_library_links() {
    for ext in moodtune_library::AUDIO_EXTENSIONS {
        let path = PathBuf::from(format!("song.{ext}"));
        let mime = moodtune_server::audio_mime(&path)
            .unwrap_or_else(|| panic!("no media type for .{ext}"));
        assert_eq!(mime.type_(), "audio", ".{ext}");
        assert!(moodtune_library::is_audio_file(&path));
    }
    assert!(moodtune_server::audio_mime(Path::new("page.html")).is_none());
}

#[test]
fn listen_flags_are_checked_and_allowed_hosts_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("library.sqlite");
    let refused: [&[&str]; 3] = [
        &["serve", "--port", "9000", "--addr", "127.0.0.1:1"],
        &["serve", "--port", "70000"],
        &["serve", "--allow-host", "http://x/"],
    ];
    for args in refused {
        let out = moodtune(args, &db);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = moodtune(&["serve", "--allow-host", "http://x/"], &db);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("not a host name"), "{msg}");

    let s = serve::start_with(&db, &["--allow-host", "music.example.org"]);
    let port = s.addr().rsplit(':').next().unwrap().to_string();
    let named = format!("music.example.org:{port}");
    let ask = |host: &str| http::request(&s, "GET", "/api/info", &[("Host", host)], b"").0;
    assert_eq!(ask(&named), 200);
    assert_eq!(ask(&format!("localhost:{port}")), 200);
    assert_eq!(ask(&format!("evil.example:{port}")), 403);
}
