//! What can go wrong talking to MPD; every message names the server and the command.

use std::fmt;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach MPD at {addr}: {message}")]
    Address { addr: String, message: String },
    #[error("cannot reach MPD at {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("{addr} did not greet as MPD does (it sent {line:?}): is it an MPD server?")]
    Greeting { addr: String, line: String },
    #[error("MPD at {addr} did not answer `{command}` within {timeout_s} s")]
    Timeout {
        addr: String,
        command: String,
        timeout_s: f64,
    },
    #[error("MPD at {addr}: `{command}`: {source}")]
    Io {
        addr: String,
        command: String,
        source: io::Error,
    },
    #[error("MPD at {addr} closed the connection during `{command}`")]
    Closed { addr: String, command: String },
    #[error("{0}")]
    Ack(Ack),
    #[error("MPD at {addr} answered `{command}` with a line over {limit} bytes; refused")]
    LineTooLong {
        addr: String,
        command: String,
        limit: usize,
    },
    #[error("MPD at {addr} answered `{command}` with over {limit} bytes; refused")]
    ResponseTooLarge {
        addr: String,
        command: String,
        limit: usize,
    },
    #[error("MPD at {addr} answered `{command}` with {line:?}, which is not MPD's protocol")]
    Protocol {
        addr: String,
        command: String,
        line: String,
    },
    #[error("cannot send `{command}` to MPD: its argument {arg:?} holds a line break, which the protocol cannot carry")]
    BadArgument { command: String, arg: String },
    #[error("MPD at {addr} was still updating its database after {timeout_s} s")]
    UpdateTimeout { addr: String, timeout_s: f64 },
    #[error("the connection to MPD at {addr} is unusable after an earlier error")]
    Broken { addr: String },
}

impl Error {
    /// The ACK, when MPD refused a command (the connection is still usable).
    pub fn ack(&self) -> Option<&Ack> {
        match self {
            Error::Ack(a) => Some(a),
            _ => None,
        }
    }
}

/// MPD's error codes (`ACK_ERROR_*` in its sources) that callers branch on.
pub mod code {
    pub const ARG: u32 = 2;
    pub const PASSWORD: u32 = 3;
    pub const PERMISSION: u32 = 4;
    pub const UNKNOWN: u32 = 5;
    /// No such file, folder or song.
    pub const NO_EXIST: u32 = 50;
}

/// MPD refused a command: `ACK [code@index] {command} message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub code: u32,
    /// The failing command's position in a command list (0 outside lists).
    pub index: usize,
    /// The command as MPD names it.
    pub command: String,
    pub message: String,
    /// The command as sent, with its arguments (a password hidden).
    pub sent: String,
}

impl Ack {
    /// Parses an `ACK` line; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Ack> {
        let rest = line.strip_prefix("ACK [")?;
        let (numbers, rest) = rest.split_once(']')?;
        let (code, index) = numbers.split_once('@')?;
        let rest = rest.trim_start().strip_prefix('{')?;
        let (command, message) = rest.split_once('}')?;
        Some(Ack {
            code: code.trim().parse().ok()?,
            index: index.trim().parse().ok()?,
            command: command.to_string(),
            message: message.trim().to_string(),
            sent: command.to_string(),
        })
    }
}

impl fmt::Display for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sent = if self.sent.is_empty() {
            &self.command
        } else {
            &self.sent
        };
        write!(f, "MPD refused `{sent}`: {}", self.message)?;
        write!(f, " (error {})", self.code)
    }
}
