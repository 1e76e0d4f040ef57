//! What a bulk client and the bulk server say to each other.
//!
//! On a WebSocket, a request is one short text message, `up TOTAL SIZE` or `down TOTAL
//! SIZE`; over plain TCP (after the echo client's size preamble, which gives SIZE) it is 9
//! bytes, `u` or `d` and TOTAL (u64, little endian).
//! - up: the client sends TOTAL / SIZE binary messages (TCP: writes) of SIZE bytes; the
//!   server reads and discards them, and once it has counted exactly TOTAL payload bytes it
//!   answers with the count (an 8-byte binary message; TCP: 8 bytes, u64 little endian). It
//!   answers nothing if it counts more (the client then times out: a loud failure).
//! - down: the server sends TOTAL / SIZE binary messages (TCP: writes) of SIZE bytes; the
//!   client reads until it has TOTAL bytes.
//!
//! Every payload is the echo bench's binary pattern (`clients::payload`): the first message
//! (TCP: the first read) of each transfer is compared with it on the receiving side.

use crate::clients::payload;

/// The direction of a transfer, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    /// The client sends.
    Up,
    /// The client receives.
    Down,
}

impl Dir {
    pub(crate) const ALL: [Dir; 2] = [Dir::Up, Dir::Down];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dir::Up => "up",
            Dir::Down => "down",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Dir> {
        Dir::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The first byte of the TCP request.
    fn tcp_code(self) -> u8 {
        match self {
            Dir::Up => b'u',
            Dir::Down => b'd',
        }
    }
}

/// One transfer of `total` bytes in `size`-byte messages (`total` a multiple of `size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) dir: Dir,
    pub(crate) total: u64,
    pub(crate) size: usize,
}

impl Request {
    /// The WebSocket request (a text message).
    pub(crate) fn to_text(self) -> String {
        format!("{} {} {}", self.dir.name(), self.total, self.size)
    }

    pub(crate) fn parse_text(text: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(text).ok()?;
        let mut words = text.split(' ');
        let dir = Dir::parse(words.next()?)?;
        let total = words.next()?.parse().ok()?;
        let size: usize = words.next()?.parse().ok()?;
        Request { dir, total, size }.valid()
    }

    /// The TCP request (`size` went ahead in the preamble).
    pub(crate) fn to_tcp(self) -> [u8; 9] {
        let mut out = [0u8; 9];
        out[0] = self.dir.tcp_code();
        out[1..].copy_from_slice(&self.total.to_le_bytes());
        out
    }

    pub(crate) fn parse_tcp(bytes: [u8; 9], size: usize) -> Option<Request> {
        let dir = Dir::ALL.into_iter().find(|d| d.tcp_code() == bytes[0])?;
        let total = u64::from_le_bytes(bytes[1..].try_into().ok()?);
        Request { dir, total, size }.valid()
    }

    /// Whole messages of 1 byte to 64 MiB.
    fn valid(self) -> Option<Request> {
        (self.size > 0 && self.size <= 64 << 20 && self.total.is_multiple_of(self.size as u64))
            .then_some(self)
    }

    /// Messages in the transfer.
    pub(crate) fn messages(self) -> u64 {
        self.total / self.size as u64
    }
}

/// What the receiver checks on one received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Only its length (counted by the caller).
    Len,
    /// Its bytes: the benchmark's payload pattern.
    Pattern,
    /// The server's acknowledgement of an upload: the count it took.
    Ack(u64),
}

impl Check {
    pub(crate) fn verify(self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Check::Len => Ok(()),
            Check::Pattern if is_pattern(bytes) => Ok(()),
            Check::Pattern => Err(format!(
                "a {}-byte payload is not the benchmark's pattern",
                bytes.len()
            )),
            Check::Ack(total) if bytes == total.to_le_bytes() => Ok(()),
            Check::Ack(total) => Err(format!(
                "the server acknowledged {bytes:?}, not the {total} bytes sent"
            )),
        }
    }
}

/// Whether `bytes` are the start of the payload pattern.
pub(crate) fn is_pattern(bytes: &[u8]) -> bool {
    bytes == &payload(bytes.len(), false, false)[..]
}
