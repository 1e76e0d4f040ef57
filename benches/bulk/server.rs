//! The bulk mode of the echo bench's fixed servers (`echo/server.rs`: the same accept loop,
//! current-thread tokio, `TCP_NODELAY`, and the same upgrade for fastwebsockets): each
//! connection serves requests (`proto.rs`) one after another.
//!
//! - `ws`, fastwebsockets frame by frame (no reassembly): it reads each frame whole into its
//!   buffer (one read for all that the socket holds, up to the frame's end), unmasks it in
//!   place and drops it; it writes each frame with one `writev` of header and payload (no
//!   copy). The default: reading an upload it costs about what the TCP server does and less
//!   than any client (small runs on a 2-core VM: ~190-275 ms of CPU per GiB against the
//!   TCP server's ~160-250 and tokio-websockets' ~220-280); sending a download, every
//!   server's cost is the kernel's (the copy into the socket, and on loopback the
//!   receiver's TCP processing, which runs on the sender's CPU).
//! - `tws`, tokio-websockets message by message (its codec reads, unmasks and reassembles).
//! - `tcp`: reads of at most the message size (up), `size`-byte writes (down).
//!
//! What a download sends is built once per request (the payload pattern of the message
//! size) and written again for every message.

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::payload;
use crate::proto::{is_pattern, Dir, Request};
use crate::serve::upgrade;
use crate::server::{read_tcp_size, serve, ServerKind};

/// The server kinds with a bulk mode.
pub(crate) const KINDS: [ServerKind; 3] = [ServerKind::Ws, ServerKind::TokioWs, ServerKind::Tcp];

/// Runs the bulk server of `kind` until stdin closes or `max_secs` pass.
pub(crate) fn run(kind: ServerKind, max_secs: u64) -> Result<(), String> {
    if !KINDS.contains(&kind) {
        return Err(format!("the {} server has no bulk mode", kind.name()));
    }
    serve(max_secs, move |stream| {
        match kind {
            ServerKind::TokioWs => tokio::spawn(bulk_tokio_ws(stream)),
            ServerKind::Tcp => tokio::spawn(bulk_tcp(stream)),
            _ => tokio::spawn(bulk_ws(stream)),
        };
    })
}

/// Counts the payload bytes of an upload, the first payload checked against the pattern.
struct Counter {
    total: u64,
    got: u64,
}

impl Counter {
    fn new(total: u64) -> Counter {
        Counter { total, got: 0 }
    }

    /// Adds one payload; `Err` if it is not the pattern (the first) or overshoots.
    fn add(&mut self, payload: &[u8]) -> Result<(), ()> {
        if self.got == 0 && !is_pattern(payload) {
            return Err(());
        }
        self.got += payload.len() as u64;
        if self.got > self.total {
            return Err(());
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.got == self.total
    }

    /// The acknowledgement: the count, u64 little endian.
    fn ack(&self) -> [u8; 8] {
        self.got.to_le_bytes()
    }
}

/// fastwebsockets, frame by frame.
async fn bulk_ws(mut stream: TcpStream) {
    if upgrade(&mut stream).await.is_err() {
        return;
    }
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    loop {
        let Ok(frame) = ws.read_frame().await else {
            return;
        };
        let req = match frame.opcode {
            OpCode::Text => match Request::parse_text(&frame.payload) {
                Some(req) => req,
                None => return,
            },
            OpCode::Ping | OpCode::Pong => continue,
            _ => return,
        };
        match req.dir {
            Dir::Up => {
                let mut count = Counter::new(req.total);
                while !count.done() {
                    let Ok(frame) = ws.read_frame().await else {
                        return;
                    };
                    match frame.opcode {
                        OpCode::Binary | OpCode::Continuation => {
                            if count.add(&frame.payload).is_err() {
                                return;
                            }
                        }
                        OpCode::Ping | OpCode::Pong => {}
                        _ => return,
                    }
                }
                let ack = count.ack();
                if ws
                    .write_frame(Frame::binary(Payload::Borrowed(&ack)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Dir::Down => {
                let buf = payload(req.size, false, false);
                for _ in 0..req.messages() {
                    let frame = Frame::binary(Payload::Borrowed(&buf));
                    if ws.write_frame(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// tokio-websockets, message by message.
async fn bulk_tokio_ws(stream: TcpStream) {
    use tokio_websockets::Message;
    let Ok((_, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if !msg.is_text() {
            continue;
        }
        let Some(req) = Request::parse_text(msg.as_payload()) else {
            return;
        };
        match req.dir {
            Dir::Up => {
                let mut count = Counter::new(req.total);
                while !count.done() {
                    match ws.next().await {
                        Some(Ok(m)) if m.is_binary() => {
                            if count.add(m.as_payload()).is_err() {
                                return;
                            }
                        }
                        Some(Ok(m)) if m.is_ping() || m.is_pong() => {}
                        _ => return,
                    }
                }
                let ack = Message::binary(count.ack().to_vec());
                if ws.send(ack).await.is_err() {
                    return;
                }
            }
            Dir::Down => {
                let buf = payload(req.size, false, false);
                for _ in 0..req.messages() {
                    if ws.feed(Message::binary(buf.clone())).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Plain TCP: the echo client's size preamble, then requests.
async fn bulk_tcp(mut stream: TcpStream) {
    let Some(size) = read_tcp_size(&mut stream).await else {
        return;
    };
    let buf = payload(size, false, false);
    let mut chunk = vec![0u8; size];
    loop {
        let mut head = [0u8; 9];
        if stream.read_exact(&mut head).await.is_err() {
            return;
        }
        let Some(req) = Request::parse_tcp(head, size) else {
            return;
        };
        match req.dir {
            Dir::Up => {
                let mut count = Counter::new(req.total);
                while !count.done() {
                    let want = (req.total - count.got).min(size as u64) as usize;
                    match stream.read(&mut chunk[..want]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if count.add(&chunk[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
                if stream.write_all(&count.ack()).await.is_err() {
                    return;
                }
            }
            Dir::Down => {
                for _ in 0..req.messages() {
                    if stream.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
