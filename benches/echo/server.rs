//! The fixed echo servers every client talks to: two WebSocket ones (fastwebsockets' server
//! role behind a minimal hand-written HTTP upgrade, echoing frame by frame; tokio-websockets'
//! server role, echoing message by message), a plain TCP one for the ceiling, and for the
//! compressed cases our own server role (fastwebsockets has no permessage-deflate), which
//! agrees to every client's offer as it comes (`ServerOptions::new()`).
//!
//! Both run on a current-thread tokio runtime, one task per connection, `TCP_NODELAY` on. The
//! server prints `LISTENING <addr>` on stdout and exits when its stdin closes (the driver
//! holds the pipe) or after `max_secs`, whichever comes first.
//!
//! Our server role also counts, for the compressed cases, what each connection agreed on and
//! the bytes it read and wrote on its socket (the frames, without the HTTP upgrade and the
//! first echo), committed after each completed echo: the client of a closed loop sends its
//! next message only once it has the echo, so at that point the server has read exactly the
//! frames of the messages it echoed, and written their echoes. A `STATS` line on stdin makes it print the totals (see
//! [`Totals::line`]); the driver takes them before and after each client run.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::serve::{announce, upgrade, watch_stdin};

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// WebSocket echo (text and binary messages, frame by frame): fastwebsockets.
    Ws,
    /// WebSocket echo, message by message: tokio-websockets' server role (default config).
    TokioWs,
    /// WebSocket echo with permessage-deflate: our server role (`ServerOptions::new()`,
    /// compression accepted with the client's parameters), message by message.
    Ours,
    /// Byte echo.
    Tcp,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Ws => "ws",
            ServerKind::TokioWs => "tws",
            ServerKind::Ours => "ours",
            ServerKind::Tcp => "tcp",
        }
    }

    /// Its label in the tables: the library that serves.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ServerKind::Ws => "fastwebsockets",
            ServerKind::TokioWs => "tokio-websockets",
            ServerKind::Ours => "ours",
            ServerKind::Tcp => "tcp",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ServerKind> {
        match s {
            "ws" => Some(ServerKind::Ws),
            "tws" => Some(ServerKind::TokioWs),
            "ours" => Some(ServerKind::Ours),
            "tcp" => Some(ServerKind::Tcp),
            _ => None,
        }
    }
}

/// Runs a server until stdin closes or `max_secs` pass.
pub(crate) fn run(kind: ServerKind, max_secs: u64) -> Result<(), String> {
    serve(max_secs, move |stream| {
        match kind {
            ServerKind::Ws => tokio::spawn(serve_ws(stream)),
            ServerKind::TokioWs => tokio::spawn(serve_tokio_ws(stream)),
            ServerKind::Ours => tokio::spawn(serve_ours(stream)),
            ServerKind::Tcp => tokio::spawn(serve_tcp(stream)),
        };
    })
}

/// The server loop: binds 127.0.0.1, announces the address, hands every accepted
/// connection (`TCP_NODELAY` on) to `spawn` (which spawns its task), until stdin closes or
/// `max_secs` pass.
pub(crate) fn serve(max_secs: u64, spawn: impl Fn(TcpStream)) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("server: cannot build the tokio runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("server: cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("server: no local address: {e}"))?;
        announce(&[addr])?;
        watch_stdin(answer_stats);
        let serve = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(pair) => pair,
                    // EMFILE and friends: back off briefly instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                spawn(stream);
            }
        };
        // The accept loop never ends; the lifetime cap stops the process.
        let _ = tokio::time::timeout(Duration::from_secs(max_secs), serve).await;
        Ok(())
    })
}

/// Answers a `STATS` line on stdin with the totals of our server role.
fn answer_stats(line: &str) {
    if line.trim() == "STATS" {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", TOTALS.line()).and_then(|()| out.flush());
    }
}

/// What our server role counted since it started, over all its connections.
struct Totals {
    /// Connections accepted (TCP) and not yet ended.
    open: AtomicU64,
    /// Connections that opened without permessage-deflate.
    plain: AtomicU64,
    /// Completed echoes.
    msgs: AtomicU64,
    /// Bytes read from the clients' sockets in those echoes (their frames).
    bytes_in: AtomicU64,
    /// Bytes written to the clients' sockets in those echoes.
    bytes_out: AtomicU64,
    /// Connections with permessage-deflate, by agreed parameters ([`params_token`]).
    agreed: Mutex<BTreeMap<String, u64>>,
}

static TOTALS: Totals = Totals {
    open: AtomicU64::new(0),
    plain: AtomicU64::new(0),
    msgs: AtomicU64::new(0),
    bytes_in: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    agreed: Mutex::new(BTreeMap::new()),
};

impl Totals {
    /// `STATS open=N plain=N msgs=N in=N out=N agreed=TOKEN:N,..` (`agreed=-` when none), the
    /// line the driver parses.
    fn line(&self) -> String {
        let agreed = self.agreed.lock().map_or_else(
            |_| "-".to_string(),
            |m| {
                let list: Vec<String> = m.iter().map(|(k, n)| format!("{k}:{n}")).collect();
                if list.is_empty() {
                    "-".into()
                } else {
                    list.join(",")
                }
            },
        );
        format!(
            "STATS open={} plain={} msgs={} in={} out={} agreed={agreed}",
            self.open.load(Ordering::Relaxed),
            self.plain.load(Ordering::Relaxed),
            self.msgs.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

/// The agreed permessage-deflate parameters as one token: `c<bits>s<bits>`, the client's and
/// the server's maximum window bits, each followed by `n` when that side keeps no context
/// between messages (`c15s15`: 32 KiB windows, context takeover both ways).
fn params_token(p: &aiowebsocket::ws_handshake::permessage_deflate::DeflateParams) -> String {
    let n = |no_takeover: bool| if no_takeover { "n" } else { "" };
    format!(
        "c{}{}s{}{}",
        p.client_max_window_bits,
        n(p.client_no_context_takeover),
        p.server_max_window_bits,
        n(p.server_no_context_takeover)
    )
}

/// One open connection in [`Totals::open`], from TCP accept to the end of its task.
struct OpenGuard;

impl OpenGuard {
    fn enter() -> OpenGuard {
        TOTALS.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        TOTALS.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that counts the bytes read from and written to it (every write path forwarded
/// as is, vectored writes included, so the server's I/O does not change).
struct Counted<S> {
    inner: S,
    read: u64,
    written: u64,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.read += (buf.filled().len() - before) as u64;
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.written += n as u64;
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.written += n as u64;
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The TCP ceiling: the client first sends its message size (u64, little endian), then each
/// message is read whole and written back whole, as the WebSocket server does with a frame.
async fn serve_tcp(mut stream: TcpStream) {
    let Some(size) = read_tcp_size(&mut stream).await else {
        return;
    };
    // Grows with what arrives (as the WebSocket server's buffer does), not with the claim.
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; size.min(64 * 1024)];
    loop {
        buf.clear();
        while buf.len() < size {
            let want = (size - buf.len()).min(chunk.len());
            match stream.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// The TCP client's preamble: its message size (u64, little endian; 1 to 64 MiB).
pub(crate) async fn read_tcp_size(stream: &mut TcpStream) -> Option<usize> {
    let mut size = [0u8; 8];
    stream.read_exact(&mut size).await.ok()?;
    let size = usize::try_from(u64::from_le_bytes(size)).ok()?;
    (size > 0 && size <= MAX_TCP_MESSAGE).then_some(size)
}

/// The largest message the TCP echo server accepts (the benchmark's largest is 16 MiB).
const MAX_TCP_MESSAGE: usize = 64 << 20;

async fn serve_ws(mut stream: TcpStream) {
    if upgrade(&mut stream).await.is_err() {
        return;
    }
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    // Echo frame by frame (continuations keep their order, so fragmented messages echo too).
    while let Ok(frame) = ws.read_frame().await {
        match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                // A received frame keeps its masking key after `read_frame` unmasked it; a
                // server must send unmasked frames, so rebuild the frame without the key.
                let frame = Frame::new(frame.fin, frame.opcode, None, frame.payload);
                if ws.write_frame(frame).await.is_err() {
                    return;
                }
            }
            OpCode::Ping | OpCode::Pong => {}
        }
    }
}

/// tokio-websockets' server role: echo every data message (pings are answered by the
/// library).
async fn serve_tokio_ws(stream: TcpStream) {
    use futures_util::{SinkExt, StreamExt};
    let Ok((_, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

/// Our server role: accept (permessage-deflate if offered), echo every data message, count
/// into [`TOTALS`].
async fn serve_ours(stream: TcpStream) {
    let _open = OpenGuard::enter();
    let options = aiowebsocket::ServerOptions::new();
    let stream = Counted {
        inner: stream,
        read: 0,
        written: 0,
    };
    let Ok(mut ws) = aiowebsocket::tokio::accept(stream, &options).await else {
        return;
    };
    match &ws.connection().negotiated().deflate {
        Some(params) => {
            if let Ok(mut agreed) = TOTALS.agreed.lock() {
                *agreed.entry(params_token(params)).or_default() += 1;
            }
        }
        None => {
            TOTALS.plain.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Neither the upgrade's bytes nor the first echo's are counted: that one compresses with
    // empty windows (at 1 KiB some 300 bytes more each way, once per connection), which
    // would weigh more on a slow client's figure, with fewer echoes, than on a fast one's.
    let counts = |c: &Counted<TcpStream>| (c.read, c.written);
    let (mut read, mut written) = counts(ws.get_ref().inner());
    let mut first = true;
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_text() || msg.is_binary() {
            if ws.send(msg).await.is_err() {
                return;
            }
            let (r, w) = counts(ws.get_ref().inner());
            if !first {
                TOTALS.msgs.fetch_add(1, Ordering::Relaxed);
                TOTALS.bytes_in.fetch_add(r - read, Ordering::Relaxed);
                TOTALS.bytes_out.fetch_add(w - written, Ordering::Relaxed);
            }
            (read, written, first) = (r, w, false);
        }
    }
}
