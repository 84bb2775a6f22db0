//! `moodtune playlist` and the page's download on the binary: the demo library's
//! playlist written as M3U8 and XSPF parses back with every path existing, relative
//! paths resolve from `--relative-to`, and the served download is an attachment.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use support::moodtune;

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// The paths of an Extended M3U file.
fn m3u8_paths(text: &str) -> Vec<String> {
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let mut paths = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with('#') && !line.is_empty() {
            assert!(lines[i - 1].starts_with("#EXTINF:"), "{text}");
            paths.push(line.to_string());
        }
    }
    paths
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            out.push(u8::from_str_radix(&hex, 16).unwrap());
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn playlist_files_from_the_binary_parse_back_with_existing_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("library.sqlite");

    // No library yet: a clear error, and none is created.
    let out = moodtune(&["playlist", "--emotion", "happy", "--format", "m3u8"], &db);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no song library"));
    assert!(!db.exists());

    ok(&moodtune(&["library", "demo"], &db));

    // Absolute paths on standard output.
    let out = moodtune(
        &[
            "playlist", "-e", "happy", "--format", "m3u8", "--limit", "5",
        ],
        &db,
    );
    ok(&out);
    let paths = m3u8_paths(&String::from_utf8(out.stdout).unwrap());
    assert!(!paths.is_empty());
    for p in &paths {
        assert!(Path::new(p).is_absolute() && Path::new(p).is_file(), "{p}");
    }

    // Relative to the playlist's folder, written to a file.
    let lists = tmp.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    let file = lists.join("sad.m3u8");
    let stderr = ok(&moodtune(
        &[
            "playlist",
            "--emotion",
            "sad",
            "--strategy",
            "lift",
            "--format",
            "m3u8",
            "-o",
            file.to_str().unwrap(),
            "--relative-to",
            lists.to_str().unwrap(),
        ],
        &db,
    ));
    assert!(stderr.contains("wrote"), "{stderr}");
    let paths = m3u8_paths(&std::fs::read_to_string(&file).unwrap());
    assert!(!paths.is_empty());
    for p in &paths {
        assert!(p.starts_with(".."), "{p}");
        assert!(lists.join(p).is_file(), "{p}");
    }

    // XSPF: a version 1 playlist of file URIs.
    let out = moodtune(&["playlist", "-e", "neutral", "--format", "xspf"], &db);
    ok(&out);
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains(r#"<playlist version="1" xmlns="http://xspf.org/ns/0/">"#),
        "{xml}"
    );
    let locations: Vec<&str> = xml
        .split("<location>")
        .skip(1)
        .map(|s| s.split("</location>").next().unwrap())
        .collect();
    assert!(!locations.is_empty());
    for l in locations {
        let p = percent_decode(l.strip_prefix("file://").expect("a file URI"));
        assert!(Path::new(&p).is_file(), "{l}");
    }

    // The page's download, served from the same library.
    let server = support::serve::start(&db);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "GET /api/playlist/export?emotion=happy&strategy=match&format=m3u8 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{raw}");
    assert!(
        head.contains("content-disposition: attachment; filename=\"moodtune-happy.m3u8\""),
        "{head}"
    );
    assert!(head.contains("content-type: audio/x-mpegurl"), "{head}");
    for p in m3u8_paths(body) {
        assert!(Path::new(&p).is_file(), "{p}");
    }
}
