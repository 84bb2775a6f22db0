//! The client against a scripted fake MPD on a loopback listener: what it sends, byte
//! for byte, and how it reads answers, refusals and hostile ones.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

/// One exchange: the lines the fake expects (each checked), then the bytes it answers.
type Step = (Vec<&'static str>, Vec<u8>);

/// A fake server that greets with `greeting`, plays `steps` and returns the lines it
/// received.
fn fake(greeting: &'static [u8], steps: Vec<Step>) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer.write_all(greeting).unwrap();
        let mut seen = Vec::new();
        for (expect, answer) in steps {
            for want in expect {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert_eq!(line.strip_suffix('\n'), Some(want));
                seen.push(want.to_string());
            }
            // The client may have closed on a refused answer.
            let _ = writer.write_all(&answer);
        }
        // Hold the connection until the client is done.
        let _ = reader.read_to_end(&mut Vec::new());
        seen
    });
    (addr, handle)
}

fn opts() -> Options {
    Options {
        io_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

#[test]
fn arguments_are_quoted_and_escaped() {
    assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    assert_eq!(quote(""), r#""""#);
    let cmd = Command::new("add").arg(r#"Rock & "Roll"/x\y.wav"#);
    assert_eq!(cmd.encode().unwrap(), r#"add "Rock & \"Roll\"/x\\y.wav""#);
    let err = Command::new("add").arg("a\nplay").encode().unwrap_err();
    assert!(matches!(err, Error::BadArgument { .. }), "{err}");
    // A password is never shown in messages.
    let shown = Command::new("password").arg("secret").to_string();
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn default_port_is_added_only_when_missing() {
    assert_eq!(with_default_port("localhost"), "localhost:6600");
    assert_eq!(with_default_port("host:6601"), "host:6601");
    assert_eq!(with_default_port("::1"), "[::1]:6600");
    assert_eq!(with_default_port("[::1]"), "[::1]:6600");
    assert_eq!(with_default_port("[::1]:6601"), "[::1]:6601");
}

#[test]
fn acks_parse_and_name_the_command() {
    let ack = Ack::parse("ACK [50@2] {add} No such directory").unwrap();
    assert_eq!(
        (
            ack.code,
            ack.index,
            ack.command.as_str(),
            ack.message.as_str()
        ),
        (50, 2, "add", "No such directory")
    );
    assert_eq!(
        Ack::parse("ACK [5@0] {} unknown command \"x\"")
            .unwrap()
            .code,
        5
    );
    assert!(Ack::parse("ACK garbage").is_none());
    assert!(Ack::parse("ACK [x@0] {a} b").is_none());
}

#[test]
fn a_session_sends_exact_lines_and_reads_the_answers() {
    let (addr, server) = fake(
        b"OK MPD 0.23.5\n",
        vec![
            (vec![r#"password "p\"w""#], b"OK\n".to_vec()),
            (vec!["clear"], b"OK\n".to_vec()),
            (
                vec![
                    "command_list_ok_begin",
                    r#"add "a b/c \"d\".wav""#,
                    r#"add "e.wav""#,
                    "command_list_end",
                ],
                b"list_OK\nlist_OK\nOK\n".to_vec(),
            ),
            (vec!["play"], b"OK\n".to_vec()),
            (
                vec!["status"],
                b"volume: -1\nplaylist: 7\nplaylistlength: 2\nstate: play\nsong: 0\nOK\n".to_vec(),
            ),
            (
                vec!["playlistinfo"],
                b"file: a b/c \"d\".wav\nTitle: C: the song\nPos: 0\nId: 1\nfile: e.wav\nPos: 1\nId: 2\nOK\n"
                    .to_vec(),
            ),
        ],
    );
    let mut c = Client::connect(
        &addr,
        &Options {
            password: Some("p\"w".into()),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(c.version(), "0.23.5");
    c.clear().unwrap();
    c.add_all(&["a b/c \"d\".wav", "e.wav"]).unwrap();
    c.play().unwrap();
    let status = c.status().unwrap();
    assert_eq!(status.state, "play");
    assert_eq!(status.playlist_length, 2);
    assert_eq!(status.playlist_version, Some(7));
    assert_eq!(status.updating_db, None);
    let queue = c.playlistinfo().unwrap();
    let files: Vec<_> = queue.iter().map(|s| s.file.as_str()).collect();
    assert_eq!(files, ["a b/c \"d\".wav", "e.wav"]);
    // A value keeps its own ": ".
    assert_eq!(queue[0].title.as_deref(), Some("C: the song"));
    assert_eq!((queue[1].pos, queue[1].id), (Some(1), Some(2)));
    drop(c);
    assert_eq!(server.join().unwrap().len(), 9);
}

#[test]
fn a_refused_command_in_a_list_names_that_command_and_the_connection_goes_on() {
    let (addr, server) = fake(
        b"OK MPD 0.23.5\n",
        vec![
            (
                vec![
                    "command_list_ok_begin",
                    r#"add "here.wav""#,
                    r#"add "gone.wav""#,
                    "command_list_end",
                ],
                b"list_OK\nACK [50@1] {add} No such directory\n".to_vec(),
            ),
            (vec!["ping"], b"OK\n".to_vec()),
        ],
    );
    let mut c = Client::connect(&addr, &opts()).unwrap();
    let err = c.add_all(&["here.wav", "gone.wav"]).unwrap_err();
    let ack = err.ack().expect("an ACK");
    assert_eq!((ack.code, ack.index), (error::code::NO_EXIST, 1));
    assert_eq!(
        err.to_string(),
        r#"MPD refused `add "gone.wav"`: No such directory (error 50)"#
    );
    c.ping().unwrap();
    drop(c);
    server.join().unwrap();
}

#[test]
fn known_files_are_asked_with_exact_filters() {
    let (addr, server) = fake(
        b"OK MPD 0.23.5\n",
        vec![(
            vec![
                "command_list_ok_begin",
                r#"find "(file == \"a \\\"b\\\".wav\")""#,
                r#"find "(file == \"c.wav\")""#,
                "command_list_end",
            ],
            b"file: a \"b\".wav\nTime: 3\nlist_OK\nlist_OK\nOK\n".to_vec(),
        )],
    );
    let mut c = Client::connect(&addr, &opts()).unwrap();
    assert_eq!(c.known(&["a \"b\".wav", "c.wav"]).unwrap(), [true, false]);
    drop(c);
    server.join().unwrap();
}

#[test]
fn an_update_is_waited_for_until_its_job_is_done() {
    let (addr, server) = fake(
        b"OK MPD 0.23.5\n",
        vec![
            (vec![r#"update "new""#], b"updating_db: 4\nOK\n".to_vec()),
            (
                vec!["status"],
                b"state: stop\nupdating_db: 3\nOK\n".to_vec(),
            ),
            (
                vec!["status"],
                b"state: stop\nupdating_db: 4\nOK\n".to_vec(),
            ),
            (vec!["status"], b"state: stop\nOK\n".to_vec()),
        ],
    );
    let mut c = Client::connect(&addr, &opts()).unwrap();
    let job = c.update(Some("new")).unwrap();
    assert_eq!(job, 4);
    c.wait_for_update(job, Duration::from_secs(5)).unwrap();
    drop(c);
    assert_eq!(server.join().unwrap().len(), 4);
}

#[test]
fn a_peer_that_is_not_mpd_is_refused_at_the_greeting() {
    let (addr, server) = fake(b"HTTP/1.1 400 Bad Request\r\n\r\n", vec![]);
    let err = Client::connect(&addr, &opts()).unwrap_err();
    assert!(matches!(err, Error::Greeting { .. }), "{err}");
    assert!(err.to_string().contains(&addr), "{err}");
    server.join().unwrap();
}

#[test]
fn an_oversized_line_is_refused_without_reading_it_all() {
    let mut long = b"file: ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 200_000));
    long.extend_from_slice(b"\nOK\n");
    let (addr, server) = fake(b"OK MPD 0.23.5\n", vec![(vec!["playlistinfo"], long)]);
    let mut c = Client::connect(&addr, &opts()).unwrap();
    let err = c.playlistinfo().unwrap_err();
    assert!(
        matches!(err, Error::LineTooLong { limit, .. } if limit == MAX_LINE),
        "{err}"
    );
    assert!(err.to_string().contains("playlistinfo"), "{err}");
    // What follows on the connection belongs to no command any more.
    assert!(matches!(c.ping().unwrap_err(), Error::Broken { .. }));
    drop(c);
    server.join().unwrap();
}

#[test]
fn a_response_over_the_cap_is_refused() {
    let mut many = Vec::new();
    for i in 0..1000 {
        many.extend_from_slice(format!("file: song{i:04}.wav\n").as_bytes());
    }
    many.extend_from_slice(b"OK\n");
    let (addr, server) = fake(b"OK MPD 0.23.5\n", vec![(vec!["playlistinfo"], many)]);
    let mut c = Client::connect(
        &addr,
        &Options {
            max_response: 4096,
            ..opts()
        },
    )
    .unwrap();
    let err = c.playlistinfo().unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 4096, .. }),
        "{err}"
    );
    drop(c);
    server.join().unwrap();
}

#[test]
fn garbage_and_silence_are_clear_errors() {
    let (addr, server) = fake(
        b"OK MPD 0.23.5\n",
        vec![(vec!["status"], b"this is not a pair\n".to_vec())],
    );
    let mut c = Client::connect(&addr, &opts()).unwrap();
    let err = c.status().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    drop(c);
    server.join().unwrap();

    // A server that greets and then says nothing: a timeout naming the command.
    let (addr, server) = fake(b"OK MPD 0.23.5\n", vec![(vec!["status"], Vec::new())]);
    let mut c = Client::connect(
        &addr,
        &Options {
            io_timeout: Duration::from_millis(200),
            ..opts()
        },
    )
    .unwrap();
    let err = c.status().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("`status`"), "{err}");
    drop(c);
    server.join().unwrap();
}

#[test]
fn nobody_listening_is_a_clear_error_naming_the_address() {
    // A port just freed: nothing listens there.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let err = Client::connect(&addr, &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach MPD at {addr}: ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}
