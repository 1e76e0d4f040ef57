//! Shared helpers for the `proto_*` tests: a hand-written frame encoder (independent of
//! `ws-frame`, so the bytes on the wire are checked against the RFC, not against our own
//! encoder) and an in-memory client/server [`Pair`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ws_client::{Config, Connection, Error, Message, Negotiated, Role};

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONT: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Encodes a frame byte by byte (RFC 6455 §5.2). `rsv` is the raw 0x70 bits of byte 0.
pub fn frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | rsv | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// An unmasked frame, as a server sends it (what a client receives).
pub fn sframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_rsv(fin, 0, opcode, payload, None)
}

/// A masked frame, as a client sends it (what a server receives).
pub fn cframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_rsv(fin, 0, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// A close frame payload.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A decoded frame, parsed by hand from output bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    /// Unmasked payload.
    pub payload: Vec<u8>,
}

/// Parses every complete frame in `bytes` by hand; panics on a truncated frame.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<Raw> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated header");
        let b0 = bytes[0];
        let b1 = bytes[1];
        let mut at = 2;
        let len = match b1 & 0x7f {
            126 => {
                at += 2;
                u16::from_be_bytes([bytes[2], bytes[3]]) as usize
            }
            127 => {
                at += 8;
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize
            }
            n => n as usize,
        };
        let mask = if b1 & 0x80 != 0 {
            let k: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            at += 4;
            Some(k)
        } else {
            None
        };
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(k) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        frames.push(Raw {
            fin: b0 & 0x80 != 0,
            rsv: b0 & 0x70,
            opcode: b0 & 0x0f,
            mask,
            payload,
        });
        bytes = &bytes[at + len..];
    }
    frames
}

/// Takes everything `conn` has queued, as a driver writing it all would.
pub fn drain_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        let ready = conn.pending_output();
        out.extend_from_slice(ready);
        let n = ready.len();
        conn.consume_output(n);
    }
    out
}

/// Takes and parses everything `conn` has queued.
pub fn drain_frames(conn: &mut Connection) -> Vec<Raw> {
    parse_frames(&drain_output(conn))
}

/// Polls until `Ok(None)`; returns the messages and the error, if any.
pub fn poll_all(conn: &mut Connection) -> (Vec<Message>, Option<Error>) {
    let mut msgs = Vec::new();
    loop {
        match conn.poll_message() {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => return (msgs, None),
            Err(e) => return (msgs, Some(e)),
        }
    }
}

/// Feeds `bytes` to `conn` and polls everything.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<Message>, Option<Error>) {
    conn.receive_data(bytes);
    poll_all(conn)
}

/// A client and a server joined in memory (in the spirit of quinn's `tests/util.rs`).
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    /// Messages each side received, in order.
    pub client_got: Vec<Message>,
    pub server_got: Vec<Message>,
    pub client_err: Option<Error>,
    pub server_err: Option<Error>,
    /// Bytes moved per step (both directions); `usize::MAX` moves everything.
    pub chunk: usize,
}

impl Pair {
    pub fn new(config: Config) -> Self {
        Self::with_configs(config.clone(), config)
    }

    pub fn with_configs(client: Config, server: Config) -> Self {
        Self::with_negotiated(client, server, Negotiated::default())
    }

    /// Both sides as if the handshake agreed on `negotiated`.
    pub fn with_negotiated(client: Config, server: Config, negotiated: Negotiated) -> Self {
        Pair {
            client: Connection::with_negotiated(Role::Client, client, negotiated.clone()),
            server: Connection::with_negotiated(Role::Server, server, negotiated),
            client_got: Vec::new(),
            server_got: Vec::new(),
            client_err: None,
            server_err: None,
            chunk: usize::MAX,
        }
    }

    /// Both sides see the same time.
    pub fn tick(&mut self, now: Instant) {
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
    }

    /// Moves bytes both ways and polls both sides until nothing moves.
    pub fn drive(&mut self) {
        loop {
            let mut moved = false;
            moved |= Self::transfer(&mut self.client, &mut self.server, self.chunk);
            moved |= Self::transfer(&mut self.server, &mut self.client, self.chunk);
            moved |= Self::poll(&mut self.client, &mut self.client_got, &mut self.client_err);
            moved |= Self::poll(&mut self.server, &mut self.server_got, &mut self.server_err);
            if !moved {
                break;
            }
        }
    }

    fn transfer(from: &mut Connection, to: &mut Connection, chunk: usize) -> bool {
        let n = from.pending_output().len().min(chunk);
        if n == 0 {
            return false;
        }
        to.receive_data(&from.pending_output()[..n]);
        from.consume_output(n);
        true
    }

    fn poll(conn: &mut Connection, got: &mut Vec<Message>, err: &mut Option<Error>) -> bool {
        let mut progressed = false;
        loop {
            match conn.poll_message() {
                Ok(Some(m)) => {
                    got.push(m);
                    progressed = true;
                }
                Ok(None) => return progressed,
                Err(e) => {
                    assert!(err.is_none(), "second error {e:?} after {err:?}");
                    *err = Some(e);
                    return true;
                }
            }
        }
    }
}
