//! One echo connection per client library, all behind [`EchoConn`]: open a connection to the
//! fixed server, then `echo()` sends one message and waits for its echo (checking its kind and
//! length). Every client gets the same input: a `Bytes` payload (or the same bytes as text),
//! `TCP_NODELAY` on the socket, the library's default configuration.
//!
//! In the compressed cases every client with permessage-deflate uses our defaults where its
//! API lets it (see [`deflate_settings`]): compression level 1, messages under 64 bytes sent
//! plain, 15-bit windows and context takeover both ways (what our server role agrees to for
//! every offer made here; the server reports the agreed parameters of every connection).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use async_std::io::{ReadExt as _, WriteExt as _};
use base64::Engine;
use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use futures_util::{SinkExt, StreamExt};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The clients we measure, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// `aiowebsocket` on tokio.
    OursTokio,
    /// `aiowebsocket` on async-std, on one thread (the loops inside `block_on`).
    OursAsyncStd,
    /// `aiowebsocket` on async-std's global executor (`task::spawn`: worker and reactor
    /// threads).
    OursAsyncStdSpawn,
    /// `tokio-tungstenite`.
    Tungstenite,
    /// `fastwebsockets` (hand-made upgrade, `FragmentCollector` for whole messages).
    Fastws,
    /// `tokio-websockets`.
    TokioWs,
    /// `sockudo-ws` (HTTP/1.1 client, `connect_raw` on the `TcpStream`, default config;
    /// compressed: `CompressedWebSocketStream::client` after an upgrade offering
    /// permessage-deflate, see [`SockudoDeflateConn`]).
    Sockudo,
    /// `yawc` (`WebSocket::handshake` on the `TcpStream`, default options but the payload
    /// limit, raised from 1 MiB to our 64 MiB so that the large cases run; compressed: our
    /// level and threshold added).
    Yawc,
    /// Plain TCP: write S bytes, read S bytes (the ceiling; the bare-socket memory baseline).
    Tcp,
    /// Plain TCP on async-std (its own `TcpStream`, one thread): async-std's ceiling.
    TcpAsyncStd,
    /// Python `websockets` (asyncio; `echo/python_client.py`): a peer with
    /// permessage-deflate (its defaults), run in the "deflate" cases only.
    PythonWebsockets,
}

impl ClientKind {
    /// Every client, in table order.
    pub(crate) const ALL: [ClientKind; 11] = [
        ClientKind::OursTokio,
        ClientKind::OursAsyncStd,
        ClientKind::OursAsyncStdSpawn,
        ClientKind::Tungstenite,
        ClientKind::Fastws,
        ClientKind::TokioWs,
        ClientKind::Sockudo,
        ClientKind::Yawc,
        ClientKind::Tcp,
        ClientKind::TcpAsyncStd,
        ClientKind::PythonWebsockets,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ClientKind::OursTokio => "ours-tokio",
            ClientKind::OursAsyncStd => "ours-async-std",
            ClientKind::OursAsyncStdSpawn => "ours-async-std-spawn",
            ClientKind::Tungstenite => "tokio-tungstenite",
            ClientKind::Fastws => "fastwebsockets",
            ClientKind::TokioWs => "tokio-websockets",
            ClientKind::Sockudo => "sockudo-ws",
            ClientKind::Yawc => "yawc",
            ClientKind::Tcp => "tcp",
            ClientKind::TcpAsyncStd => "tcp-async-std",
            ClientKind::PythonWebsockets => "python-websockets",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Parses a comma-separated list of client names.
    pub(crate) fn parse_list(list: &str) -> Result<Vec<ClientKind>, String> {
        list.split(',')
            .map(|s| {
                ClientKind::parse(s.trim()).ok_or_else(|| {
                    let known: Vec<&str> = ClientKind::ALL.iter().map(|c| c.name()).collect();
                    format!("unknown client {s:?}; known: {}", known.join(", "))
                })
            })
            .collect()
    }

    /// Whether this client is ours (on any runtime).
    pub(crate) fn is_ours(self) -> bool {
        matches!(
            self,
            ClientKind::OursTokio | ClientKind::OursAsyncStd | ClientKind::OursAsyncStdSpawn
        )
    }

    /// The peers (not ours, not plain TCP, not Python) that ours is compared with.
    pub(crate) fn is_peer(self) -> bool {
        self.is_ws() && self.is_rust() && !self.is_ours()
    }

    /// Whether this client speaks WebSocket (else it talks to the TCP server).
    pub(crate) fn is_ws(self) -> bool {
        !matches!(self, ClientKind::Tcp | ClientKind::TcpAsyncStd)
    }

    /// Whether this client negotiates permessage-deflate (runs the "deflate" cases).
    pub(crate) fn has_deflate(self) -> bool {
        matches!(
            self,
            ClientKind::OursTokio
                | ClientKind::OursAsyncStd
                | ClientKind::OursAsyncStdSpawn
                | ClientKind::Sockudo
                | ClientKind::Yawc
                | ClientKind::PythonWebsockets
        )
    }

    /// Whether the client is a Rust client of this binary (else a Python process).
    pub(crate) fn is_rust(self) -> bool {
        self != ClientKind::PythonWebsockets
    }
}

/// What every connection of one run sends.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) addr: SocketAddr,
    pub(crate) payload: Bytes,
    /// Send text messages (the payload is valid UTF-8) instead of binary ones.
    pub(crate) text: bool,
    /// Negotiate permessage-deflate (and fail if the server does not accept it).
    pub(crate) deflate: bool,
}

impl Spec {
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

/// An S-byte payload: arbitrary bytes, mixed 1-3 byte UTF-8 for text messages, or for the
/// compressed cases JSON trades with varying prices (compresses to about a third, as
/// market data does).
pub(crate) fn payload(size: usize, text: bool, deflate: bool) -> Bytes {
    if deflate {
        use std::fmt::Write;
        let mut s = String::with_capacity(size + 128);
        let mut x: u32 = 0x2545_f491;
        let mut i: u64 = 0;
        s.push('[');
        while s.len() < size {
            // xorshift32: deterministic, so every client sends the same bytes.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let _ = write!(
                s,
                r#"{{"e":"trade","s":"BTCUSDT","p":"{}.{:02}","q":"0.{:04}","t":{}}},"#,
                43_000 + (x >> 20) % 500,
                (x >> 8) % 100,
                x % 10_000,
                1_700_000_000_000 + i * 7
            );
            i += 1;
        }
        // ASCII: cutting anywhere leaves valid UTF-8.
        s.truncate(size);
        Bytes::from(s)
    } else if text {
        let pattern = "websocket écho ✓ données ";
        let mut s = String::with_capacity(size);
        'fill: while s.len() < size {
            for ch in pattern.chars() {
                if s.len() + ch.len_utf8() > size {
                    break 'fill;
                }
                s.push(ch);
            }
        }
        while s.len() < size {
            s.push('x');
        }
        Bytes::from(s)
    } else {
        (0..size)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }
}

/// One open echo connection of some client library.
pub(crate) trait EchoConn: Sized + Send + 'static {
    /// Connects (TCP + upgrade) to the server in `spec`.
    fn open(spec: Spec) -> impl Future<Output = Result<Self, String>> + Send;
    /// Sends one message and waits for its echo.
    fn echo(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// A connection that can wait for the server's next data message: the clients of the scale
/// benchmark (which count a broadcast's arrivals), and the echo of those clients.
pub(crate) trait RecvConn: EchoConn {
    /// Waits for the next data message, skipping pings and pongs; returns whether it is
    /// text and its length.
    fn next_data(&mut self) -> impl Future<Output = Result<(bool, usize), String>> + Send;
}

/// The check of an echo: the message `got` from [`RecvConn::next_data`] is of the kind sent
/// (`text`) and `len` bytes long.
pub(crate) fn expect_echo(got: (bool, usize), text: bool, len: usize) -> Result<(), String> {
    if got == (text, len) {
        Ok(())
    } else {
        let kind = |t| if t { "text" } else { "binary" };
        Err(format!(
            "expected the echo of a {len}-byte {} message, got a {}-byte {} one",
            kind(text),
            got.1,
            kind(got.0)
        ))
    }
}

async fn tcp_connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    Ok(stream)
}

fn unexpected(what: impl std::fmt::Debug, spec_len: usize) -> String {
    format!("expected the echo of a {spec_len}-byte message, got {what:?}")
}

async fn async_std_tcp_connect(addr: SocketAddr) -> Result<async_std::net::TcpStream, String> {
    let stream = async_std::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    Ok(stream)
}

/// A plain TCP client on one runtime's stream: the same bytes with no framing (after a
/// one-time size preamble, so that the server echoes whole messages like the WebSocket
/// server does). `write_all`/`read_exact` come from tokio's or async-std's extension traits,
/// whichever the stream implements (both are in scope).
macro_rules! plain_tcp_conn {
    ($(#[$doc:meta])* $name:ident, $stream:ty, $connect:ident) => {
        $(#[$doc])*
        pub(crate) struct $name {
            pub(crate) stream: $stream,
            pub(crate) payload: Bytes,
            pub(crate) buf: Vec<u8>,
        }

        impl EchoConn for $name {
            async fn open(spec: Spec) -> Result<Self, String> {
                let mut stream = $connect(spec.addr).await?;
                // The server's preamble: our message size, so that it echoes whole messages.
                let size = spec.payload.len() as u64;
                stream
                    .write_all(&size.to_le_bytes())
                    .await
                    .map_err(|e| format!("tcp write: {e}"))?;
                let buf = vec![0; spec.payload.len()];
                Ok($name {
                    stream,
                    payload: spec.payload,
                    buf,
                })
            }

            async fn echo(&mut self) -> Result<(), String> {
                self.stream
                    .write_all(&self.payload)
                    .await
                    .map_err(|e| format!("tcp write: {e}"))?;
                self.stream
                    .read_exact(&mut self.buf)
                    .await
                    .map_err(|e| format!("tcp read: {e}"))?;
                Ok(())
            }
        }
    };
}

plain_tcp_conn!(
    /// Plain TCP on tokio: the ceiling of the tokio clients.
    TcpConn,
    TcpStream,
    tcp_connect
);
plain_tcp_conn!(
    /// Plain TCP on async-std's own `TcpStream`: the ceiling of async-std.
    TcpAsyncStdConn,
    async_std::net::TcpStream,
    async_std_tcp_connect
);

/// tokio-tungstenite over a plain `TcpStream` (`client_async`, default config).
pub(crate) struct TungsteniteConn {
    pub(crate) ws: tokio_tungstenite::WebSocketStream<TcpStream>,
    pub(crate) msg: tokio_tungstenite::tungstenite::Message,
    len: usize,
    text: bool,
}

impl EchoConn for TungsteniteConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
        let stream = tcp_connect(spec.addr).await?;
        let (ws, _) = tokio_tungstenite::client_async(spec.url(), stream)
            .await
            .map_err(|e| format!("tokio-tungstenite handshake: {e}"))?;
        let len = spec.payload.len();
        let msg = if spec.text {
            let text = Utf8Bytes::try_from(spec.payload).map_err(|e| e.to_string())?;
            Message::Text(text)
        } else {
            Message::Binary(spec.payload)
        };
        Ok(TungsteniteConn {
            ws,
            msg,
            len,
            text: spec.text,
        })
    }

    async fn echo(&mut self) -> Result<(), String> {
        self.ws
            .send(self.msg.clone())
            .await
            .map_err(|e| format!("tokio-tungstenite send: {e}"))?;
        expect_echo(self.next_data().await?, self.text, self.len)
    }
}

impl RecvConn for TungsteniteConn {
    async fn next_data(&mut self) -> Result<(bool, usize), String> {
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) => return Ok((false, b.len())),
                Some(Ok(Message::Text(t))) => return Ok((true, t.len())),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return Err(format!("expected a data message, got {other:?}")),
            }
        }
    }
}

/// tokio-websockets (`ClientBuilder::connect_on`, default config).
pub(crate) struct TokioWsConn {
    pub(crate) ws: tokio_websockets::WebSocketStream<TcpStream>,
    pub(crate) msg: tokio_websockets::Message,
    len: usize,
    text: bool,
}

impl EchoConn for TokioWsConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        use tokio_websockets::Message;
        let stream = tcp_connect(spec.addr).await?;
        let builder = tokio_websockets::ClientBuilder::new()
            .uri(&spec.url())
            .map_err(|e| e.to_string())?;
        let (ws, _) = builder
            .connect_on(stream)
            .await
            .map_err(|e| format!("tokio-websockets handshake: {e}"))?;
        let len = spec.payload.len();
        let msg = if spec.text {
            let text = String::from_utf8(spec.payload.to_vec()).map_err(|e| e.to_string())?;
            Message::text(text)
        } else {
            Message::binary(spec.payload)
        };
        Ok(TokioWsConn {
            ws,
            msg,
            len,
            text: spec.text,
        })
    }

    async fn echo(&mut self) -> Result<(), String> {
        self.ws
            .send(self.msg.clone())
            .await
            .map_err(|e| format!("tokio-websockets send: {e}"))?;
        expect_echo(self.next_data().await?, self.text, self.len)
    }
}

impl RecvConn for TokioWsConn {
    async fn next_data(&mut self) -> Result<(bool, usize), String> {
        loop {
            match self.ws.next().await {
                Some(Ok(m)) if m.is_ping() || m.is_pong() => continue,
                Some(Ok(m)) if m.is_text() || m.is_binary() => {
                    return Ok((m.is_text(), m.as_payload().len()))
                }
                other => return Err(format!("expected a data message, got {other:?}")),
            }
        }
    }
}

/// The permessage-deflate settings the peers copy from ours: our client's default offer,
/// compression level and threshold (`aiowebsocket::Config` / `DeflateConfig` defaults).
pub(crate) struct DeflateSettings {
    /// Our `Sec-WebSocket-Extensions` offer: `permessage-deflate; client_max_window_bits`.
    pub(crate) offer: String,
    /// zlib level of our compressor (1).
    pub(crate) level: u32,
    /// Messages shorter than this go out uncompressed (64; the cases' messages are longer).
    pub(crate) threshold: usize,
}

/// Our defaults, for the peers to use the same.
pub(crate) fn deflate_settings() -> DeflateSettings {
    let config = aiowebsocket::Config::default();
    DeflateSettings {
        offer: aiowebsocket::DeflateConfig::default().offer(),
        level: config.compression_level,
        threshold: config.compression_threshold,
    }
}

/// sockudo-ws over a plain `TcpStream`. Uncompressed: `WebSocketClient::<Http1>::connect_raw`
/// with the default config. Compressed ([`SockudoDeflateConn`]): its HTTP/1.1 client offers no
/// extensions, so the upgrade is made by hand with our offer, and the answer's parameters
/// (`DeflateConfig::from_params`, our level and threshold) go to
/// `CompressedWebSocketStream::client` (otherwise its default config).
pub(crate) struct SockudoConn<W = sockudo_ws::WebSocketStream<TcpStream>> {
    pub(crate) ws: W,
    pub(crate) msg: sockudo_ws::Message,
    len: usize,
    text: bool,
}

/// sockudo-ws with permessage-deflate.
pub(crate) type SockudoDeflateConn = SockudoConn<sockudo_ws::CompressedWebSocketStream<TcpStream>>;

impl<W> SockudoConn<W>
where
    W: futures_util::Sink<sockudo_ws::Message, Error = sockudo_ws::Error>
        + futures_util::Stream<Item = Result<sockudo_ws::Message, sockudo_ws::Error>>
        + Unpin
        + Send,
{
    fn new(ws: W, spec: Spec) -> Self {
        use sockudo_ws::Message;
        let len = spec.payload.len();
        let msg = if spec.text {
            Message::Text(spec.payload)
        } else {
            Message::Binary(spec.payload)
        };
        SockudoConn {
            ws,
            msg,
            len,
            text: spec.text,
        }
    }

    async fn echo_once(&mut self) -> Result<(), String> {
        use sockudo_ws::Message;
        self.ws
            .send(self.msg.clone())
            .await
            .map_err(|e| format!("sockudo-ws send: {e}"))?;
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) if !self.text && b.len() == self.len => return Ok(()),
                Some(Ok(Message::Text(t))) if self.text && t.len() == self.len => return Ok(()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return Err(unexpected(other, self.len)),
            }
        }
    }
}

impl EchoConn for SockudoConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        use sockudo_ws::client::WebSocketClient;
        use sockudo_ws::{Config, Http1};
        // Calibrates its clock once (up to 200 ms), before the measured window.
        sockudo_ws::init_clock();
        let stream = tcp_connect(spec.addr).await?;
        let host = spec.addr.to_string();
        let (ws, _) = WebSocketClient::<Http1>::new(Config::default())
            .connect_raw(stream, &host, "/", None)
            .await
            .map_err(|e| format!("sockudo-ws handshake: {e}"))?;
        Ok(SockudoConn::new(ws, spec))
    }

    async fn echo(&mut self) -> Result<(), String> {
        self.echo_once().await
    }
}

impl EchoConn for SockudoDeflateConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        use sockudo_ws::deflate::{parse_deflate_offer, DeflateConfig};
        use sockudo_ws::{CompressedWebSocketStream, Config};
        sockudo_ws::init_clock();
        let mut stream = tcp_connect(spec.addr).await?;
        let settings = deflate_settings();
        let answer = client_upgrade(&mut stream, spec.addr, "sockudo-ws", Some(&settings.offer))
            .await?
            .ok_or("sockudo-ws: the server did not accept permessage-deflate")?;
        let params = parse_deflate_offer(&answer).ok_or_else(|| {
            format!("sockudo-ws: the server did not accept permessage-deflate: {answer:?}")
        })?;
        let mut deflate = DeflateConfig::from_params(&params)
            .map_err(|e| format!("sockudo-ws: the server's answer {answer:?}: {e}"))?;
        deflate.compression_level = settings.level;
        deflate.compression_threshold = settings.threshold;
        let ws = CompressedWebSocketStream::client(stream, Config::default(), deflate);
        Ok(SockudoConn::new(ws, spec))
    }

    async fn echo(&mut self) -> Result<(), String> {
        self.echo_once().await
    }
}

/// yawc over a plain `TcpStream` (`WebSocket::handshake`). Default options except the
/// payload limit: 1 MiB by default, raised to 64 MiB (our default) for the large cases.
/// Text is not UTF-8 validated (yawc's default). Compressed: permessage-deflate with our level
/// (its default is 6) and threshold (its default is 0); its offer is a bare
/// `permessage-deflate` (it names no window bits unless told to), which our server agrees to
/// with the same parameters as our offer. yawc does not say what was agreed: the server does.
pub(crate) struct YawcConn {
    pub(crate) ws: yawc::WebSocket<TcpStream>,
    pub(crate) payload: Bytes,
    text: bool,
}

impl EchoConn for YawcConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        let stream = tcp_connect(spec.addr).await?;
        let url = url::Url::parse(&spec.url()).map_err(|e| e.to_string())?;
        let mut options = yawc::Options::default().with_max_payload_read(64 << 20);
        if spec.deflate {
            let settings = deflate_settings();
            options = options
                .with_compression_level(yawc::CompressionLevel::new(settings.level))
                .with_compression_threshold(settings.threshold);
        }
        let ws = yawc::WebSocket::handshake(url, stream, options)
            .await
            .map_err(|e| format!("yawc handshake: {e}"))?;
        Ok(YawcConn {
            ws,
            payload: spec.payload,
            text: spec.text,
        })
    }

    async fn echo(&mut self) -> Result<(), String> {
        use yawc::{Frame, OpCode};
        let frame = if self.text {
            Frame::text(self.payload.clone())
        } else {
            Frame::binary(self.payload.clone())
        };
        self.ws
            .send(frame)
            .await
            .map_err(|e| format!("yawc send: {e}"))?;
        let want = if self.text {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        loop {
            let frame = self
                .ws
                .next_frame()
                .await
                .map_err(|e| format!("yawc read: {e}"))?;
            match frame.opcode() {
                OpCode::Ping | OpCode::Pong => continue,
                op if op == want && frame.payload().len() == self.payload.len() => return Ok(()),
                op => return Err(unexpected((op, frame.payload().len()), self.payload.len())),
            }
        }
    }
}

/// fastwebsockets: the HTTP upgrade by hand (no hyper), then `FragmentCollector` so that
/// `read_frame` yields whole messages like the other clients.
pub(crate) struct FastwsConn {
    pub(crate) ws: FragmentCollector<TcpStream>,
    pub(crate) payload: Bytes,
    text: bool,
}

impl EchoConn for FastwsConn {
    async fn open(spec: Spec) -> Result<Self, String> {
        let mut stream = tcp_connect(spec.addr).await?;
        client_upgrade(&mut stream, spec.addr, "fastwebsockets", None).await?;
        let ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Client));
        Ok(FastwsConn {
            ws,
            payload: spec.payload,
            text: spec.text,
        })
    }

    async fn echo(&mut self) -> Result<(), String> {
        let payload = Payload::Borrowed(&self.payload);
        let frame = if self.text {
            Frame::text(payload)
        } else {
            Frame::binary(payload)
        };
        self.ws
            .write_frame(frame)
            .await
            .map_err(|e| format!("fastwebsockets write: {e}"))?;
        let want = if self.text {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        loop {
            let frame = self
                .ws
                .read_frame()
                .await
                .map_err(|e| format!("fastwebsockets read: {e}"))?;
            match frame.opcode {
                OpCode::Ping | OpCode::Pong => continue,
                op if op == want && frame.payload.len() == self.payload.len() => return Ok(()),
                op => return Err(unexpected((op, frame.payload.len()), self.payload.len())),
            }
        }
    }
}

/// The client side of the HTTP/1.1 upgrade for fastwebsockets (which leaves it to hyper) and
/// for sockudo-ws with permessage-deflate: offers `extensions` if given and returns the
/// server's `Sec-WebSocket-Extensions` answer, if any. `who` names the client in errors.
async fn client_upgrade(
    stream: &mut TcpStream,
    addr: SocketAddr,
    who: &str,
    extensions: Option<&str>,
) -> Result<Option<String>, String> {
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    static NONCE: AtomicU64 = AtomicU64::new(0x5eed_1234_abcd_0001);
    let nonce = NONCE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&nonce.to_le_bytes());
    raw[8..].copy_from_slice(&nonce.rotate_left(29).to_be_bytes());
    let key = base64::engine::general_purpose::STANDARD.encode(raw);
    let offer = extensions.map_or(String::new(), |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    });
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{who} upgrade write: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{who} upgrade read: {e}"))?;
        if n == 0 {
            return Err(format!("{who} upgrade: eof before the response head"));
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if pos + 4 != head.len() {
                return Err(format!("{who} upgrade: frames before our first message"));
            }
            break;
        }
        if head.len() > 16 * 1024 {
            return Err(format!("{who} upgrade: response head too large"));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(&head).map_err(|e| e.to_string())?;
    if resp.code != Some(101) {
        return Err(format!("{who} upgrade: status {:?}", resp.code));
    }
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let accept = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|h| h.value);
    if accept != Some(expected.as_bytes()) {
        return Err(format!("{who} upgrade: bad Sec-WebSocket-Accept"));
    }
    let answer = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned());
    if extensions.is_none() && answer.is_some() {
        return Err(format!("{who} upgrade: an extension we did not offer"));
    }
    Ok(answer)
}
