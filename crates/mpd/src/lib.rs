//! A small synchronous client for MPD, the Music Player Daemon
//! (<https://mpd.readthedocs.io/en/stable/protocol.html>): enough of the protocol to put
//! a playlist in MPD's queue and play it.
//!
//! One [`Client`] is one TCP connection (std::net, with connect and read/write
//! timeouts). Arguments are always quoted, with backslash and double quote escaped; an
//! `ACK [code@index] {command} message` answer becomes [`Error::Ack`], naming the
//! command that failed (in a command list, the one at `index`).
//!
//! The peer is not trusted with our memory: a response line may be at most
//! [`Options::max_line`] bytes (64 KiB by default) and a whole response at most
//! [`Options::max_response`] bytes (16 MiB by default, some 50,000 queued songs); past
//! either the connection is dropped with an error rather than read on.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

mod error;

pub use error::{code, Ack, Error};

pub type Result<T> = std::result::Result<T, Error>;

/// MPD's port when an address names none.
pub const DEFAULT_PORT: u16 = 6600;

/// Longest response line read by default (MPD's own lines are far shorter: a tag value,
/// a path).
pub const MAX_LINE: usize = 64 * 1024;

/// Largest whole response read by default.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Commands per command list: MPD refuses lists over its `max_command_list_size`
/// (2 MiB by default), so long batches are sent in several lists.
const LIST_CHUNK: usize = 1000;

/// How to connect, and the limits on what is read back.
#[derive(Debug, Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    /// For every read and write: an MPD that stops answering fails the command.
    pub io_timeout: Duration,
    /// Sent with `password` right after the greeting.
    pub password: Option<String>,
    pub max_line: usize,
    pub max_response: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            password: None,
            max_line: MAX_LINE,
            max_response: MAX_RESPONSE,
        }
    }
}

/// `HOST:PORT` with MPD's port added when none is given: `localhost` ->
/// `localhost:6600`, `::1` -> `[::1]:6600`; `[::1]:6601` and `host:6601` stay.
pub fn with_default_port(addr: &str) -> String {
    let addr = addr.trim();
    if let Some(rest) = addr.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, "")) => format!("{addr}:{DEFAULT_PORT}"),
            _ => addr.to_string(),
        };
    }
    match addr.matches(':').count() {
        0 => format!("{addr}:{DEFAULT_PORT}"),
        1 => addr.to_string(),
        // A bare IPv6 address.
        _ => format!("[{addr}]:{DEFAULT_PORT}"),
    }
}

/// One command line: a name and its arguments, each quoted when sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    name: &'static str,
    args: Vec<String>,
}

impl Command {
    pub fn new(name: &'static str) -> Self {
        Command {
            name,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn name(&self) -> &str {
        self.name
    }

    /// The line sent, without its newline. A line break cannot be escaped in MPD's
    /// protocol (it ends the command), so an argument holding one is refused.
    pub fn encode(&self) -> Result<String> {
        let mut line = self.name.to_string();
        for arg in &self.args {
            if arg.contains('\n') {
                return Err(Error::BadArgument {
                    command: self.name.to_string(),
                    arg: arg.clone(),
                });
            }
            line.push(' ');
            line.push_str(&quote(arg));
        }
        Ok(line)
    }
}

impl fmt::Display for Command {
    /// The command as sent, for messages; a password is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        for arg in &self.args {
            if self.name == "password" {
                f.write_str(" \"…\"")?;
            } else {
                write!(f, " {}", quote(arg))?;
            }
        }
        Ok(())
    }
}

/// An argument in double quotes with `\` and `"` escaped by a backslash, as MPD's
/// tokenizer reads it.
pub fn quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `key: value` pairs of one response, in order.
pub type Pairs = Vec<(String, String)>;

/// What `status` says (the fields this crate uses, and all of them in `fields`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `play`, `pause` or `stop`.
    pub state: String,
    pub playlist_length: usize,
    /// The queue's version: it changes with every change of the queue.
    pub playlist_version: Option<u32>,
    /// The running database update's job id.
    pub updating_db: Option<u32>,
    /// The last error MPD met (a file it could not decode, an output that failed).
    pub error: Option<String>,
    pub fields: Pairs,
}

/// One song of MPD's queue (`playlistinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSong {
    /// The URI relative to MPD's music directory.
    pub file: String,
    pub pos: Option<usize>,
    pub id: Option<u32>,
    pub title: Option<String>,
    pub artist: Option<String>,
}

/// A connection to MPD. See the crate documentation.
pub struct Client {
    stream: BufReader<TcpStream>,
    addr: String,
    version: String,
    opts: Options,
    /// Set when a response was not read to its end: what follows on the connection
    /// cannot be matched to a command any more.
    broken: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` (`HOST:PORT`; see [`with_default_port`]), checks MPD's
    /// greeting and sends the password if one is set.
    pub fn connect(addr: &str, opts: &Options) -> Result<Client> {
        let addr = with_default_port(addr);
        let targets: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| Error::Address {
                addr: addr.clone(),
                message: e.to_string(),
            })?
            .collect();
        if targets.is_empty() {
            return Err(Error::Address {
                addr,
                message: "the name has no address".into(),
            });
        }
        let mut last = None;
        let mut stream = None;
        for target in targets {
            match TcpStream::connect_timeout(&target, opts.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match stream {
            Some(s) => s,
            None => {
                return Err(Error::Connect {
                    addr,
                    source: last.expect("one address was tried"),
                })
            }
        };
        let set = |r: io::Result<()>| {
            r.map_err(|source| Error::Connect {
                addr: addr.clone(),
                source,
            })
        };
        set(stream.set_read_timeout(Some(opts.io_timeout)))?;
        set(stream.set_write_timeout(Some(opts.io_timeout)))?;
        // Commands are single short lines answered before the next: don't hold them back.
        set(stream.set_nodelay(true))?;
        let mut client = Client {
            stream: BufReader::new(stream),
            addr,
            version: String::new(),
            opts: opts.clone(),
            broken: false,
        };
        let mut budget = client.opts.max_response;
        let greeting = client.read_line("the greeting", &mut budget)?;
        match greeting.strip_prefix("OK MPD ") {
            Some(v) if !v.trim().is_empty() => client.version = v.trim().to_string(),
            _ => {
                return Err(Error::Greeting {
                    addr: client.addr,
                    line: shorten(&greeting),
                })
            }
        }
        if let Some(password) = opts.password.clone() {
            client.run(&Command::new("password").arg(password))?;
        }
        Ok(client)
    }

    /// The protocol version MPD greeted with (`0.23.5`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `HOST:PORT` as connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one command and reads its answer.
    pub fn run(&mut self, command: &Command) -> Result<Pairs> {
        let line = command.encode()?;
        self.send(&format!("{line}\n"), &command.to_string())?;
        let mut sections = self.read_response(std::slice::from_ref(command), false)?;
        Ok(sections.pop().unwrap_or_default())
    }

    /// Sends `commands` as command lists (`command_list_ok_begin`, one round trip per
    /// list) and returns each one's answer. MPD stops a list at its first failing
    /// command, whose [`Ack::index`] names it; commands before it took effect.
    pub fn run_list(&mut self, commands: &[Command]) -> Result<Vec<Pairs>> {
        let mut out = Vec::with_capacity(commands.len());
        for chunk in commands.chunks(LIST_CHUNK) {
            let mut text = String::from("command_list_ok_begin\n");
            for c in chunk {
                text.push_str(&c.encode()?);
                text.push('\n');
            }
            text.push_str("command_list_end\n");
            let what = format!("a list of {} commands", chunk.len());
            self.send(&text, &what)?;
            out.extend(self.read_response(chunk, true)?);
        }
        Ok(out)
    }

    /// Empties the queue.
    pub fn clear(&mut self) -> Result<()> {
        self.run(&Command::new("clear")).map(drop)
    }

    /// Appends one song (a URI relative to MPD's music directory) to the queue.
    pub fn add(&mut self, uri: &str) -> Result<()> {
        self.run(&Command::new("add").arg(uri)).map(drop)
    }

    /// Appends songs to the queue in command lists.
    pub fn add_all<S: AsRef<str>>(&mut self, uris: &[S]) -> Result<()> {
        let commands: Vec<Command> = uris
            .iter()
            .map(|u| Command::new("add").arg(u.as_ref()))
            .collect();
        self.run_list(&commands).map(drop)
    }

    /// Starts playing the queue from its start (or goes on playing).
    pub fn play(&mut self) -> Result<()> {
        self.run(&Command::new("play")).map(drop)
    }

    pub fn ping(&mut self) -> Result<()> {
        self.run(&Command::new("ping")).map(drop)
    }

    pub fn status(&mut self) -> Result<Status> {
        let command = Command::new("status");
        let fields = self.run(&command)?;
        let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let number = |key: &str| -> Result<Option<u64>> {
            get(key)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| Error::Protocol {
                        addr: self.addr.clone(),
                        command: command.to_string(),
                        line: shorten(&format!("{key}: {v}")),
                    })
                })
                .transpose()
        };
        let small = |v: Option<u64>| v.map(|v| v.min(u32::MAX as u64) as u32);
        Ok(Status {
            state: get("state").cloned().unwrap_or_default(),
            playlist_length: number("playlistlength")?.unwrap_or(0) as usize,
            playlist_version: small(number("playlist")?),
            updating_db: small(number("updating_db")?),
            error: get("error").cloned(),
            fields: fields.clone(),
        })
    }

    /// The queue, in order.
    pub fn playlistinfo(&mut self) -> Result<Vec<QueueSong>> {
        let pairs = self.run(&Command::new("playlistinfo"))?;
        let mut songs: Vec<QueueSong> = Vec::new();
        for (key, value) in pairs {
            // Each song's fields start with its `file`.
            if key == "file" {
                songs.push(QueueSong {
                    file: value,
                    pos: None,
                    id: None,
                    title: None,
                    artist: None,
                });
                continue;
            }
            let Some(song) = songs.last_mut() else {
                continue;
            };
            match key.as_str() {
                "Pos" => song.pos = value.parse().ok(),
                "Id" => song.id = value.parse().ok(),
                "Title" => song.title = Some(value),
                "Artist" => song.artist = Some(value),
                _ => {}
            }
        }
        Ok(songs)
    }

    /// Which of `uris` (files relative to the music directory) MPD's database holds,
    /// asked in command lists of exact `file ==` filters (MPD 0.21 or later).
    pub fn known<S: AsRef<str>>(&mut self, uris: &[S]) -> Result<Vec<bool>> {
        let commands: Vec<Command> = uris
            .iter()
            .map(|u| {
                // The filter is itself a quoted string inside the quoted argument.
                Command::new("find").arg(format!("(file == {})", quote(u.as_ref())))
            })
            .collect();
        Ok(self
            .run_list(&commands)?
            .iter()
            .map(|pairs| pairs.iter().any(|(k, _)| k == "file"))
            .collect())
    }

    /// Starts a database update of `path` (a file or folder relative to the music
    /// directory; `None`: all of it) and returns its job id.
    pub fn update(&mut self, path: Option<&str>) -> Result<u32> {
        let mut command = Command::new("update");
        if let Some(p) = path {
            command = command.arg(p);
        }
        let pairs = self.run(&command)?;
        pairs
            .iter()
            .find(|(k, _)| k == "updating_db")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| Error::Protocol {
                addr: self.addr.clone(),
                command: command.to_string(),
                line: "no updating_db in the answer".into(),
            })
    }

    /// Polls `status` until update job `job` has finished, or fails after `timeout`.
    /// Job ids grow (MPD runs queued jobs in order), so the job is done once no update
    /// runs or a later one does.
    pub fn wait_for_update(&mut self, job: u32, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.status()?.updating_db {
                Some(running) if running <= job => {}
                _ => return Ok(()),
            }
            if start.elapsed() >= timeout {
                return Err(Error::UpdateTimeout {
                    addr: self.addr.clone(),
                    timeout_s: timeout.as_secs_f64(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the session politely (MPD closes the connection without an answer).
    pub fn close(mut self) {
        let _ = self.stream.get_mut().write_all(b"close\n");
    }

    fn send(&mut self, text: &str, what: &str) -> Result<()> {
        if self.broken {
            return Err(Error::Broken {
                addr: self.addr.clone(),
            });
        }
        self.stream
            .get_mut()
            .write_all(text.as_bytes())
            .map_err(|e| {
                self.broken = true;
                io_error(&self.addr, what, e, self.opts.io_timeout)
            })
    }

    /// Reads one answer: `list_OK`-separated sections when `list`, ended by `OK`, or an
    /// `ACK`. Any failure but an ACK leaves the connection unusable.
    fn read_response(&mut self, sent: &[Command], list: bool) -> Result<Vec<Pairs>> {
        let what = match sent {
            [one] if !list => one.to_string(),
            _ => format!("a list of {} commands", sent.len()),
        };
        let mut budget = self.opts.max_response;
        let mut sections = Vec::new();
        let mut current = Pairs::new();
        loop {
            let line = self.read_line(&what, &mut budget)?;
            if line == "OK" {
                if !list || !current.is_empty() {
                    sections.push(current);
                }
                return Ok(sections);
            }
            if list && line == "list_OK" {
                sections.push(std::mem::take(&mut current));
                continue;
            }
            if line.starts_with("ACK ") {
                return match Ack::parse(&line) {
                    Some(mut ack) => {
                        // A list's ACK names its failing command by index.
                        let index = if list { ack.index } else { 0 };
                        ack.sent = sent
                            .get(index)
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| ack.command.clone());
                        Err(Error::Ack(ack))
                    }
                    None => Err(self.protocol(&what, &line)),
                };
            }
            match line.split_once(": ") {
                Some((k, v)) => current.push((k.to_string(), v.to_string())),
                None => return Err(self.protocol(&what, &line)),
            }
        }
    }

    fn protocol(&mut self, what: &str, line: &str) -> Error {
        self.broken = true;
        Error::Protocol {
            addr: self.addr.clone(),
            command: what.to_string(),
            line: shorten(line),
        }
    }

    /// One line without its `\n`, refusing lines over `max_line` and reads past
    /// `budget`: never more than that is held in memory.
    fn read_line(&mut self, what: &str, budget: &mut usize) -> Result<String> {
        let mut line = Vec::new();
        loop {
            let buf = match self.stream.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.broken = true;
                    return Err(io_error(&self.addr, what, e, self.opts.io_timeout));
                }
            };
            if buf.is_empty() {
                self.broken = true;
                return Err(Error::Closed {
                    addr: self.addr.clone(),
                    command: what.to_string(),
                });
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let content = line.len() + take - usize::from(done);
            if content > self.opts.max_line {
                self.broken = true;
                return Err(Error::LineTooLong {
                    addr: self.addr.clone(),
                    command: what.to_string(),
                    limit: self.opts.max_line,
                });
            }
            if take > *budget {
                self.broken = true;
                return Err(Error::ResponseTooLarge {
                    addr: self.addr.clone(),
                    command: what.to_string(),
                    limit: self.opts.max_response,
                });
            }
            line.extend_from_slice(&buf[..take]);
            self.stream.consume(take);
            *budget -= take;
            if done {
                line.pop();
                // MPD speaks UTF-8; a stray byte should not fail a whole listing.
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }
}

fn io_error(addr: &str, what: &str, e: io::Error, timeout: Duration) -> Error {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        Error::Timeout {
            addr: addr.to_string(),
            command: what.to_string(),
            timeout_s: timeout.as_secs_f64(),
        }
    } else {
        Error::Io {
            addr: addr.to_string(),
            command: what.to_string(),
            source: e,
        }
    }
}

/// A peer's line for a message: at most 200 characters.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests;
