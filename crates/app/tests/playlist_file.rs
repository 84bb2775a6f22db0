//! Playlist files parse back with every path existing: M3U8 and XSPF, absolute and
//! relative, with XML special characters escaped and songs without audio counted.

use moodtune_app::playlist::{playable, Playlist, PlaylistRequest, Recommender};
use moodtune_app::playlist_file::{render, render_playable, Format, Options, Rendered};
use moodtune_core::{Emotion, ExpressionClassifier, Strategy};
use moodtune_library::{Library, NewSong, Song};
use moodtune_recommend::Session;
use quick_xml::events::Event;
use std::path::{Path, PathBuf};

const ODD_TITLE: &str = "Rock & <Roll> \"Live\" 'n' more";
const ODD_ARTIST: &str = "Sun & Moon";

fn tone(path: &Path, seconds: f32, hz: f32) {
    let rate = 8000;
    let samples: Vec<f32> = (0..(seconds * rate as f32) as usize)
        .map(|i| 0.3 * (i as f32 * hz * std::f32::consts::TAU / rate as f32).sin())
        .collect();
    moodtune_testkit::write_wav(path, &samples, rate);
}

/// A library of three imported WAVs (in a folder whose name needs percent-encoding),
/// a song with XML special characters linked to a fourth WAV, and a song without audio;
/// all in the happy library.
fn library(dir: &Path) -> Library {
    let music = dir.join("My Music #1");
    std::fs::create_dir_all(&music).unwrap();
    for (i, name) in ["one.wav", "two (live).wav", "drei %20 Ü.wav"]
        .iter()
        .enumerate()
    {
        tone(&music.join(name), 1.0 + i as f32, 220.0 * (i + 1) as f32);
    }
    let mut lib = Library::open(dir.join("library.sqlite")).unwrap();
    lib.import_path(&music).unwrap();
    let odd = dir.join("odd.wav");
    tone(&odd, 2.5, 330.0);
    lib.add_song(&NewSong {
        album: Some("<B-sides> & rarities".into()),
        duration_s: Some(2.5),
        audio_path: Some(odd.canonicalize().unwrap()),
        manual_emotion: Some(Emotion::Happy),
        ..NewSong::new(ODD_TITLE, ODD_ARTIST)
    })
    .unwrap();
    lib.add_song(&NewSong {
        manual_emotion: Some(Emotion::Happy),
        ..NewSong::new("Only a title", "Somebody")
    })
    .unwrap();
    for s in lib.songs().unwrap() {
        lib.set_manual_emotion(s.id, Some(Emotion::Happy)).unwrap();
    }
    assert_eq!(lib.songs().unwrap().len(), 5);
    lib
}

fn playlist(lib: &Library) -> (Playlist, Vec<Song>) {
    let rec = Recommender::load(lib).unwrap();
    let mut req = PlaylistRequest::new(Emotion::Happy);
    req.limit = 20;
    let list = rec.playlist(&req, &Session::new());
    assert_eq!(list.entries.len(), 5);
    (list, lib.songs().unwrap())
}

fn rendered(lib: &Library, format: Format, relative_to: Option<&Path>) -> Rendered {
    let (list, songs) = playlist(lib);
    let file = render(
        &list,
        &songs,
        &Options {
            format,
            relative_to,
            title: "moodtune: happy".into(),
        },
    );
    assert_eq!(file.tracks, 4);
    assert_eq!(file.without_audio, 1);
    assert_eq!(file.missing_files, 0);
    file
}

/// The (EXTINF, path) pairs of an Extended M3U file.
fn parse_m3u8(text: &str) -> Vec<(String, String)> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"));
    let mut out = Vec::new();
    let mut info = None;
    for line in lines {
        if let Some(i) = line.strip_prefix("#EXTINF:") {
            info = Some(i.to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            out.push((
                info.take().expect("an #EXTINF before each path"),
                line.into(),
            ));
        }
    }
    out
}

#[derive(Debug, Default)]
struct XspfTrack {
    location: String,
    title: String,
    creator: String,
    album: String,
    duration: String,
}

/// The tracks of an XSPF file, checking the root and namespace.
fn parse_xspf(text: &str) -> Vec<XspfTrack> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut tracks = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let decoder = reader.decoder();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if path.is_empty() {
                    assert_eq!(name, "playlist");
                    let attr = |k: &str| {
                        e.try_get_attribute(k)
                            .unwrap()
                            .map(|a| a.decode_and_unescape_value(decoder).unwrap().into_owned())
                    };
                    assert_eq!(attr("version").as_deref(), Some("1"));
                    assert_eq!(attr("xmlns").as_deref(), Some("http://xspf.org/ns/0/"));
                }
                if name == "track" {
                    tracks.push(XspfTrack::default());
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.decode().unwrap().into_owned();
                push_text(&path, &mut tracks, &text);
            }
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().unwrap();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .expect("only the predefined entities")
                            .to_string()
                    }
                };
                push_text(&path, &mut tracks, &text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    tracks
}

fn push_text(path: &[String], tracks: &mut [XspfTrack], text: &str) {
    let n = path.len();
    if n < 2 || path[n - 2] != "track" {
        return;
    }
    let t = tracks.last_mut().unwrap();
    match path[n - 1].as_str() {
        "location" => t.location.push_str(text),
        "title" => t.title.push_str(text),
        "creator" => t.creator.push_str(text),
        "album" => t.album.push_str(text),
        "duration" => t.duration.push_str(text),
        other => panic!("unexpected track element {other}"),
    }
}

fn percent_decode(s: &str) -> PathBuf {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            assert!(
                bytes[i].is_ascii_alphanumeric() || b"-._~/".contains(&bytes[i]),
                "{s}: {:?} not encoded",
                bytes[i] as char
            );
            out.push(bytes[i]);
            i += 1;
        }
    }
    PathBuf::from(String::from_utf8(out).unwrap())
}

#[test]
fn m3u8_paths_exist_absolute_and_relative() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());

    let file = rendered(&lib, Format::M3u8, None);
    let text = String::from_utf8(file.bytes).unwrap();
    let entries = parse_m3u8(&text);
    assert_eq!(entries.len(), 4);
    for (info, path) in &entries {
        let p = Path::new(path);
        assert!(p.is_absolute() && p.is_file(), "{path}");
        let (secs, name) = info.split_once(',').unwrap();
        assert!(secs.parse::<i64>().unwrap() >= 1, "{info}");
        assert!(!name.is_empty());
    }
    assert!(
        entries
            .iter()
            .any(|(info, _)| info == &format!("3,{ODD_ARTIST} - {ODD_TITLE}")),
        "{text}"
    );

    // From a folder beside the music: `..` climbs out of it.
    let lists = dir.path().join("lists/mine");
    std::fs::create_dir_all(&lists).unwrap();
    let lists = lists.canonicalize().unwrap();
    let file = rendered(&lib, Format::M3u8, Some(&lists));
    let text = String::from_utf8(file.bytes).unwrap();
    let entries = parse_m3u8(&text);
    assert_eq!(entries.len(), 4);
    for (_, path) in &entries {
        let p = Path::new(path);
        assert!(p.is_relative() && p.starts_with(".."), "{path}");
        assert!(lists.join(p).is_file(), "{path}");
    }
}

#[test]
fn xspf_locations_exist_and_text_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());

    let file = rendered(&lib, Format::Xspf, None);
    let text = String::from_utf8(file.bytes).unwrap();
    assert!(
        text.contains("Rock &amp; &lt;Roll&gt; &quot;Live&quot;"),
        "{text}"
    );
    let tracks = parse_xspf(&text);
    assert_eq!(tracks.len(), 4);
    for t in &tracks {
        let rest = t.location.strip_prefix("file://").expect("a file URI");
        let p = percent_decode(rest);
        assert!(p.is_absolute() && p.is_file(), "{}", t.location);
        assert!(t.duration.parse::<u64>().unwrap() >= 1000, "{t:?}");
        assert!(!t.title.is_empty());
    }
    let odd = tracks
        .iter()
        .find(|t| t.title == ODD_TITLE)
        .expect("{text}");
    assert_eq!(odd.creator, ODD_ARTIST);
    assert_eq!(odd.album, "<B-sides> & rarities");
    assert_eq!(odd.duration, "2500");
    assert!(tracks
        .iter()
        .any(|t| t.location.contains("My%20Music%20%231")));

    // Relative URI references resolve from the playlist's folder.
    let lists = dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    let lists = lists.canonicalize().unwrap();
    let file = rendered(&lib, Format::Xspf, Some(&lists));
    let tracks = parse_xspf(&String::from_utf8(file.bytes).unwrap());
    assert_eq!(tracks.len(), 4);
    for t in &tracks {
        assert!(!t.location.contains(':'), "{}", t.location);
        let p = percent_decode(&t.location);
        assert!(p.starts_with(".."), "{}", t.location);
        assert!(lists.join(&p).is_file(), "{}", t.location);
    }
}

#[test]
fn json_lists_paths_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let file = rendered(&lib, Format::Json, Some(dir.path()));
    let v: serde_json::Value = serde_json::from_slice(&file.bytes).unwrap();
    assert_eq!(v["without_audio"], 1);
    let tracks = v["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 4);
    let base = dir.path().canonicalize().unwrap();
    for t in tracks {
        let p = Path::new(t["path"].as_str().unwrap());
        assert!(base.join(p).is_file(), "{t}");
        assert_eq!(t["emotion"], "happy");
    }
}

#[test]
fn vanished_files_are_left_out_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    std::fs::remove_file(dir.path().join("odd.wav")).unwrap();
    let (list, songs) = playlist(&lib);
    let file = render(
        &list,
        &songs,
        &Options {
            format: Format::M3u8,
            relative_to: None,
            title: String::new(),
        },
    );
    assert_eq!(
        (file.tracks, file.without_audio, file.missing_files),
        (3, 1, 1)
    );
    let text = String::from_utf8(file.bytes).unwrap();
    assert!(!text.contains(ODD_TITLE));
    assert!(parse_m3u8(&text)
        .iter()
        .all(|(_, p)| Path::new(p).is_file()));
}

struct Fixed;
impl ExpressionClassifier for Fixed {
    fn classify_face(&self, _: &[u8], _: u32, _: u32) -> [f32; 7] {
        [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    }
}

#[test]
fn the_web_app_writes_the_playlist_file() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let app = moodtune_app::web::WebApp::new(
        lib,
        std::sync::Arc::new(Fixed),
        "fixed".into(),
        dir.path().to_path_buf(),
    )
    .unwrap();
    let file = app
        .playlist_file(Emotion::Happy, Strategy::Match, Format::M3u8, 50)
        .unwrap();
    assert_eq!((file.tracks, file.without_audio), (4, 1));
    let text = String::from_utf8(file.bytes).unwrap();
    assert!(parse_m3u8(&text)
        .iter()
        .all(|(_, p)| Path::new(p).is_file()));
    // No song has audio: a clear NotFound, not an empty file.
    let mut lib = Library::open(":memory:").unwrap();
    lib.add_song(&NewSong {
        manual_emotion: Some(Emotion::Sad),
        ..NewSong::new("Silent", "Nobody")
    })
    .unwrap();
    let app = moodtune_app::web::WebApp::new(
        lib,
        std::sync::Arc::new(Fixed),
        "fixed".into(),
        dir.path().to_path_buf(),
    )
    .unwrap();
    let err = app
        .playlist_file(Emotion::Sad, Strategy::Match, Format::Xspf, 50)
        .unwrap_err();
    assert!(matches!(err, moodtune_app::Error::NotFound(_)), "{err}");
}

#[test]
fn an_unplayable_library_is_an_error_that_says_what_to_do() {
    fn err<T>(r: anyhow::Result<T>) -> String {
        format!("{:#}", r.err().expect("an error"))
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(dir.path().join("library.sqlite")).unwrap();
    let happy = PlaylistRequest::new(Emotion::Happy);
    assert!(err(playable(&lib, &happy)).contains("library is empty"));

    let id = lib.add_song(&NewSong::new("Unsorted", "Nobody")).unwrap();
    let msg = err(playable(&lib, &happy));
    assert!(
        msg.contains("no songs to play for happy") && msg.contains("1 unlabelled"),
        "{msg}"
    );

    // Labelled, but without audio: a list, and no file to make of it.
    lib.set_manual_emotion(id, Some(Emotion::Happy)).unwrap();
    let (list, songs) = playable(&lib, &happy).unwrap();
    assert_eq!(list.entries.len(), 1);
    let opts = Options {
        format: Format::M3u8,
        relative_to: None,
        title: "t".into(),
    };
    let msg = err(render_playable(&list, &songs, &opts, Emotion::Happy));
    assert!(
        msg.contains("none of the 1 songs for happy has an audio file"),
        "{msg}"
    );

    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let lib = library(&full);
    let (list, songs) = playable(&lib, &happy).unwrap();
    assert_eq!(
        render_playable(&list, &songs, &opts, Emotion::Happy)
            .unwrap()
            .tracks,
        4
    );
}
