//! The client side of a bulk transfer, for every client of the echo bench that takes part:
//! the echo bench's connections (`clients.rs`, `ours.rs`: the same connect code, default
//! configurations and `TCP_NODELAY`), opened with a payload of the message size, plus three
//! operations per WebSocket library ([`WsBulk`]) on which one transfer loop is built; plain
//! TCP writes and reads the same bytes with no framing.
//!
//! Payloads are built once (`Spec::payload`) and every message sends that buffer again (a
//! `Bytes` clone, or a borrow for fastwebsockets). A client must mask what it sends, so every
//! library copies the payload once per message into a masked buffer; fastwebsockets does it
//! by allocating a fresh `Vec` per frame (`Payload::Borrowed` is copied to be masked), which
//! its API forces.

use async_std::io::{ReadExt as _, WriteExt as _};
use fastwebsockets::{Frame, OpCode, Payload};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clients::{
    EchoConn, FastwsConn, SockudoConn, Spec, TcpAsyncStdConn, TcpConn, TokioWsConn,
    TungsteniteConn, YawcConn,
};
use crate::harness::{tokio_runtime, Sample, Snapshot};
use crate::ours::{OursAsyncStdConn, OursTokioConn};
use crate::proto::{Check, Dir, Request};

use aiowebsocket::Message as OursMessage;
use sockudo_ws::Message as SockudoMessage;
use tokio_tungstenite::tungstenite::Message as TungsteniteMessage;

/// One bulk transfer on an open connection.
pub(crate) trait Bulk {
    /// Runs `req` to the end: for `up`, until the server acknowledged every byte; for
    /// `down`, until every byte arrived.
    async fn transfer(&mut self, req: Request) -> Result<(), String>;
}

/// What a WebSocket library does in a transfer.
pub(crate) trait WsBulk {
    /// Sends the connection's payload as one binary message.
    async fn send_payload(&mut self) -> Result<(), String>;
    /// Sends a short text message (a request).
    async fn send_request(&mut self, text: String) -> Result<(), String>;
    /// Receives the next binary message (skipping pings and pongs), checks it, and returns
    /// its length.
    async fn recv_binary(&mut self, check: Check) -> Result<usize, String>;
}

impl<C: WsBulk> Bulk for C {
    async fn transfer(&mut self, req: Request) -> Result<(), String> {
        self.send_request(req.to_text()).await?;
        match req.dir {
            Dir::Up => {
                for _ in 0..req.messages() {
                    self.send_payload().await?;
                }
                self.recv_binary(Check::Ack(req.total)).await.map(drop)
            }
            Dir::Down => {
                for i in 0..req.messages() {
                    let check = if i == 0 { Check::Pattern } else { Check::Len };
                    let n = self.recv_binary(check).await?;
                    if n != req.size {
                        return Err(format!(
                            "message {i} of a download has {n} bytes, not {}",
                            req.size
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Libraries whose messages are an enum with `Binary`, `Ping` and `Pong` variants and a
/// `text` constructor, sent with `send` and received with `$recv` (an
/// `Option<Result<Message, E>>`).
macro_rules! enum_ws_bulk {
    ($conn:ty, $what:literal, $msg:ident, $recv:ident) => {
        impl WsBulk for $conn {
            async fn send_payload(&mut self) -> Result<(), String> {
                self.ws
                    .send(self.msg.clone())
                    .await
                    .map_err(|e| format!(concat!($what, " send: {}"), e))
            }

            async fn send_request(&mut self, text: String) -> Result<(), String> {
                self.ws
                    .send($msg::text(text))
                    .await
                    .map_err(|e| format!(concat!($what, " send: {}"), e))
            }

            async fn recv_binary(&mut self, check: Check) -> Result<usize, String> {
                loop {
                    match self.ws.$recv().await {
                        Some(Ok($msg::Binary(b))) => {
                            check.verify(&b)?;
                            return Ok(b.len());
                        }
                        Some(Ok($msg::Ping(_) | $msg::Pong(_))) => continue,
                        other => {
                            return Err(format!(
                                concat!($what, ": expected a binary message, got {:?}"),
                                other
                            ))
                        }
                    }
                }
            }
        }
    };
}

enum_ws_bulk!(OursTokioConn, "ours (tokio)", OursMessage, recv);
enum_ws_bulk!(OursAsyncStdConn, "ours (async-std)", OursMessage, recv);
enum_ws_bulk!(
    TungsteniteConn,
    "tokio-tungstenite",
    TungsteniteMessage,
    next
);
enum_ws_bulk!(SockudoConn, "sockudo-ws", SockudoMessage, next);

impl WsBulk for TokioWsConn {
    async fn send_payload(&mut self) -> Result<(), String> {
        self.ws
            .send(self.msg.clone())
            .await
            .map_err(|e| format!("tokio-websockets send: {e}"))
    }

    async fn send_request(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(tokio_websockets::Message::text(text))
            .await
            .map_err(|e| format!("tokio-websockets send: {e}"))
    }

    async fn recv_binary(&mut self, check: Check) -> Result<usize, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(m)) if m.is_ping() || m.is_pong() => continue,
                Some(Ok(m)) if m.is_binary() => {
                    check.verify(m.as_payload())?;
                    return Ok(m.as_payload().len());
                }
                other => {
                    return Err(format!(
                        "tokio-websockets: expected a binary message, got {other:?}"
                    ))
                }
            }
        }
    }
}

impl WsBulk for YawcConn {
    async fn send_payload(&mut self) -> Result<(), String> {
        self.ws
            .send(yawc::Frame::binary(self.payload.clone()))
            .await
            .map_err(|e| format!("yawc send: {e}"))
    }

    async fn send_request(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(yawc::Frame::text(text))
            .await
            .map_err(|e| format!("yawc send: {e}"))
    }

    async fn recv_binary(&mut self, check: Check) -> Result<usize, String> {
        loop {
            let frame = self
                .ws
                .next_frame()
                .await
                .map_err(|e| format!("yawc read: {e}"))?;
            match frame.opcode() {
                yawc::OpCode::Ping | yawc::OpCode::Pong => continue,
                yawc::OpCode::Binary => {
                    check.verify(frame.payload())?;
                    return Ok(frame.payload().len());
                }
                op => return Err(format!("yawc: expected a binary message, got {op:?}")),
            }
        }
    }
}

impl WsBulk for FastwsConn {
    async fn send_payload(&mut self) -> Result<(), String> {
        self.ws
            .write_frame(Frame::binary(Payload::Borrowed(&self.payload)))
            .await
            .map_err(|e| format!("fastwebsockets write: {e}"))
    }

    async fn send_request(&mut self, text: String) -> Result<(), String> {
        self.ws
            .write_frame(Frame::text(Payload::Owned(text.into_bytes())))
            .await
            .map_err(|e| format!("fastwebsockets write: {e}"))
    }

    async fn recv_binary(&mut self, check: Check) -> Result<usize, String> {
        loop {
            let frame = self
                .ws
                .read_frame()
                .await
                .map_err(|e| format!("fastwebsockets read: {e}"))?;
            match frame.opcode {
                OpCode::Ping | OpCode::Pong => continue,
                OpCode::Binary => {
                    check.verify(&frame.payload)?;
                    return Ok(frame.payload.len());
                }
                op => {
                    return Err(format!(
                        "fastwebsockets: expected a binary message, got {op:?}"
                    ))
                }
            }
        }
    }
}

/// Plain TCP on one runtime's stream: the request, then `size`-byte writes (up) or reads of
/// at most `size` bytes (down) of the same payload, no framing.
macro_rules! tcp_bulk {
    ($conn:ty) => {
        impl Bulk for $conn {
            async fn transfer(&mut self, req: Request) -> Result<(), String> {
                let io = |e: std::io::Error| format!("tcp: {e}");
                self.stream.write_all(&req.to_tcp()).await.map_err(io)?;
                match req.dir {
                    Dir::Up => {
                        for _ in 0..req.messages() {
                            self.stream.write_all(&self.payload).await.map_err(io)?;
                        }
                        let mut ack = [0u8; 8];
                        self.stream.read_exact(&mut ack).await.map_err(io)?;
                        Check::Ack(req.total).verify(&ack)
                    }
                    Dir::Down => {
                        let mut got = 0u64;
                        while got < req.total {
                            let want = (req.total - got).min(self.buf.len() as u64) as usize;
                            let n = self.stream.read(&mut self.buf[..want]).await.map_err(io)?;
                            if n == 0 {
                                return Err(format!(
                                    "tcp: end of stream after {got} of {} bytes",
                                    req.total
                                ));
                            }
                            if got == 0 {
                                Check::Pattern.verify(&self.buf[..n])?;
                            }
                            got += n as u64;
                        }
                        Ok(())
                    }
                }
            }
        }
    };
}

tcp_bulk!(TcpConn);
tcp_bulk!(TcpAsyncStdConn);

/// What one client process runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunParams {
    /// The measured transfer.
    pub(crate) req: Request,
    /// Bytes of the unmeasured transfer before it, on the same connection (0: none).
    pub(crate) warmup: u64,
    /// The server's pid, to report how busy it was.
    pub(crate) server_pid: Option<u32>,
}

/// Opens a connection, runs the warm-up transfer, then the measured one.
async fn run<C: EchoConn + Bulk>(spec: Spec, p: RunParams) -> Result<Sample, String> {
    if spec.payload.len() != p.req.size {
        return Err("the payload is not of the message size".into());
    }
    let mut conn = C::open(spec).await?;
    if p.warmup > 0 {
        conn.transfer(Request {
            total: p.warmup,
            ..p.req
        })
        .await?;
    }
    let a = Snapshot::take(0, p.server_pid);
    conn.transfer(p.req).await?;
    let b = Snapshot::take(p.req.total, p.server_pid);
    Ok(Sample::between(&a, &b))
}

/// One run on a current-thread tokio runtime.
pub(crate) fn on_tokio<C: EchoConn + Bulk>(spec: Spec, p: RunParams) -> Result<Sample, String> {
    tokio_runtime()?.block_on(run::<C>(spec, p))
}

/// One run on async-std, inside `block_on` (one thread, like the tokio runtime).
pub(crate) fn on_async_std<C: EchoConn + Bulk>(spec: Spec, p: RunParams) -> Result<Sample, String> {
    async_std::task::block_on(run::<C>(spec, p))
}
