//! # aiowebsocket — a fast, light, complete async WebSocket client
//!
//! RFC 6455 WebSockets with RFC 7692 permessage-deflate, for tokio (default), smol and
//! async-std, with TLS through rustls or native-tls. Connect, send, receive:
//!
//! ```no_run
//! # async fn demo() -> Result<(), aiowebsocket::Error> {
//! let mut ws = aiowebsocket::connect("wss://echo.example/").await?;
//! ws.send(aiowebsocket::Message::text("hello")).await?;
//! let reply = ws.recv().await; // Some(Ok(Message::Text("hello")))
//! # drop(reply); Ok(()) }
//! ```
//!
//! Headers, Origin, subprotocols, limits, timeouts and a custom TLS connector go through
//! [`builder`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), aiowebsocket::Error> {
//! use aiowebsocket::{CloseCode, Message};
//!
//! let mut ws = aiowebsocket::builder("ws://127.0.0.1:9001/chat")
//!     .header("X-Token", "s3cret")
//!     .subprotocol("chat.v1")
//!     .connect()
//!     .await?;
//! while let Some(msg) = ws.recv().await {
//!     match msg? {
//!         Message::Text(text) => println!("{text}"),
//!         Message::Close(_) => break,
//!         _ => {}
//!     }
//! }
//! ws.close(CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! ## How it is built
//!
//! ```text
//!  socket ─bytes─▶ ws_frame (headers, unmasking) ─▶ ws_client::Connection ─Message─▶ you
//!  you ─Message─▶ ws_client::Connection ─▶ ws_frame (encode, mask) ─bytes─▶ socket
//!  ws_handshake: the HTTP/1.1 upgrade, before any frame
//!  ws_client::connect: DNS, Happy Eyeballs, proxy, TLS, upgrade, redirects, timeouts,
//!    once, over Runtime (ws_tokio / ws_smol / ws_async_std: DNS, TCP, timers only)
//!    and TlsConnect (ws_client::tls: native-tls, rustls)
//! ```
//!
//! The protocol core is sans-I/O (no sockets, no clock) and shared by every runtime; this
//! crate re-exports it and picks runtimes and TLS libraries through cargo features.
//!
//! ## Features
//!
//! | feature        | default | what it adds |
//! |----------------|---------|--------------|
//! | `tokio`        | yes     | [`tokio`] module; the runtime of the top-level [`connect`] / [`builder`] |
//! | `smol`         | no      | `smol` module (async-io / async-net, any executor, no async-std in the tree) |
//! | `async-std`    | no      | `async_std` module (async-std is discontinued upstream: prefer `smol`) |
//! | `native-tls`   | yes     | `wss://` through the platform TLS library; re-exports [`native_tls`] |
//! | `rustls`       | no      | `wss://` through rustls (`ring`, the OS's roots); re-exports `rustls` |
//! | `webpki-roots` | no      | rustls trusts Mozilla's bundled roots instead of the OS's |
//! | `deflate`      | yes     | permessage-deflate (RFC 7692), offered by default |
//! | `tracing`      | no      | logs through `tracing`: a `websocket` span per connection (URL without user info or query, runtime, TLS backend), opening steps and closes at `debug`, frames at `trace`, reconnects at `info`, timeouts and protocol violations at `warn`; never secrets (see [`ws_client`'s docs](ws_client#feature-tracing)); nothing compiled without it |
//!
//! The top-level [`connect`], [`connect_with`], [`builder`]`(..).connect()`, [`WebSocket`]
//! and [`DefaultRuntime`] use tokio whenever the `tokio` feature is on, else smol, else
//! async-std, so turning a feature on never changes what the defaults do. Code written for
//! smol or async-std should call `aiowebsocket::smol::connect` (or
//! `builder(..).connect_smol()`, `.connect_async_std()`) explicitly: then another crate
//! turning `tokio` on cannot move it to a runtime it does not run.
//!
//! With no runtime feature the crate still builds and offers the runtime-neutral parts
//! ([`Message`], [`ConnectOptions`], [`WebSocketStream`] over any `futures-io` stream, the
//! sans-I/O [`ws_client::Connection`]), but nothing that opens a socket.
//!
//! TLS: with both libraries compiled in, `wss://` uses rustls unless the builder was given a
//! native-tls connector ([`ClientBuilder::tls_connector`]); [`ClientBuilder::tls_backend`]
//! tells which is used. With neither, a `wss://` URL fails with an error saying which
//! feature to enable. A rustls-only build (`default-features = false, features = ["tokio",
//! "rustls"]`) links no OpenSSL.
//!
//! ## Defaults
//!
//! | setting | default | change with |
//! |---------|---------|-------------|
//! | connect timeout (DNS + TCP) | 10 s | [`ClientBuilder::connect_timeout`] |
//! | open timeout (TLS + HTTP upgrade) | 10 s | [`ClientBuilder::open_timeout`] |
//! | close timeout (each wait of the closing handshake) | 10 s | [`ClientBuilder::close_timeout`] |
//! | keepalive | a ping every 20 s, fail if no pong within 20 s | [`ClientBuilder::keepalive`], [`ClientBuilder::no_keepalive`] |
//! | max message size (after decompression) | 64 MiB | [`ClientBuilder::max_message_size`] |
//! | max frame size | 16 MiB | [`ClientBuilder::max_frame_size`] |
//! | max fragments per message | 100 000 | [`Config::max_fragments`] |
//! | outgoing frame size (larger messages are fragmented) | 16 MiB | [`Config::write_frame_size`] |
//! | send waits while more than this is queued | 128 KiB | [`Config::write_buffer_high`] |
//! | handshake response head | 64 KiB, 128 headers | [`ClientBuilder::handshake_limits`] |
//! | compression | permessage-deflate offered, level 1, messages under 64 bytes sent plain | [`ClientBuilder::compression`], [`ClientBuilder::no_compression`] |
//! | TLS | rustls if compiled in, else native-tls; system trust roots, SNI on | [`ClientBuilder::rustls_config`], [`ClientBuilder::tls_connector`] |
//! | TCP | `TCP_NODELAY` on | — |
//! | proxy | none: the environment is read only after `.proxy_from_env()` | [`ClientBuilder::proxy_url`], [`ClientBuilder::proxy_from_env`] |
//! | User-Agent | `aiowebsocket/<version>` ([`DEFAULT_USER_AGENT`]), on every redirect hop; not on a proxy's `CONNECT` | [`ClientBuilder::header`]`("User-Agent", ..)`, [`ClientBuilder::no_user_agent`] |
//! | redirects | followed, up to 5 hops; never `wss` → `ws`; to another origin only `User-Agent`, `Origin` and portable headers follow | [`ClientBuilder::redirects`], [`ClientBuilder::no_redirects`], [`ClientBuilder::on_redirect`] |
//! | reconnection | off | [`ClientBuilder::reconnecting`] |
//!
//! ## Cancel safety
//!
//! * [`WebSocketStream::recv`] (and the `Stream` impl) is cancel safe: all progress lives in
//!   the WebSocket, so `recv` can sit in a `select!` loop and lose nothing.
//! * `send` never puts half a message on the wire. Cancelled while waiting for buffer
//!   space, the message was not queued; cancelled while flushing, it was queued whole and
//!   goes out with the next `send`, `flush`, `recv` or `close`. The `Sink` API tells which.
//! * `flush` and `close` are cancel safe: the next call continues where it stopped.
//! * `connect*` and `accept` are not meant to be resumed: dropping them abandons the
//!   attempt and closes the socket.
//! * The halves of [`WebSocketStream::split`] keep answering pings and closes while the
//!   other half is busy.
//!
//! ## Errors
//!
//! One [`Error`] type, grouped by who is at fault (peer, transport, handshake, timeout,
//! misuse); each message says what happened, at which step (and address, before the
//! connection is open) and what to do, naming settings as the builder's setters:
//!
//! ```text
//! DNS lookup of no-such.example failed: ...; check the host name in the URL (and your DNS settings)
//! TCP connect to 127.0.0.1:9001 failed: Connection refused (os error 111); is a server listening on that port? ...
//! the TLS handshake with example.com:443 timed out (limit 10 s); check that the server speaks TLS on this port ...
//! HTTP upgrade: the server answered 403 Forbidden instead of 101 Switching Protocols, saying "origin not allowed"; ...
//! the peer went over a limit: a message of at least 70000000 bytes exceeds the message size limit of 67108864 bytes (raise it with .max_message_size(..)); the connection was closed with code 1009 (message too big)
//! ```
//!
//! Use the queries ([`Error::is_timeout`], [`Error::step`], [`Error::target`],
//! [`Error::http_status`], [`Error::close_code`], ...) rather than matching every variant.
#![forbid(unsafe_code)]
// The docs link to items of the default features; with fewer features some links dangle.
#![cfg_attr(
    not(all(
        feature = "tokio",
        feature = "native-tls",
        feature = "rustls",
        feature = "deflate"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod builder;

pub use builder::{builder, ClientBuilder};
#[cfg(feature = "native-tls")]
pub use native_tls;
#[cfg(feature = "rustls")]
pub use rustls;
pub use ws_client::error::{ErrorKind, ProtocolError, Step, UsageError};
/// WebSockets over HTTP/2 (RFC 8441), feature `http2`: the [`ClientBuilder::http2`] choice,
/// the connection pool, the typed HTTP/2 error, and the server role on one h2 connection.
#[cfg(feature = "http2")]
pub use ws_client::http2::{H2Pool, H2Server, H2Stream, Http2, Http2Error};
pub use ws_client::options::{ConnectOptions, RequestCheck, ServerOptions};
pub use ws_client::reconnect::{
    Disconnect, Event, ReconnectPolicy, Reconnecting, ReconnectingWebSocket as ReconnectingStream,
};
pub use ws_client::split::{ReuniteError, WsReceiver, WsSender};
/// A WebSocket over any `futures-io` stream `S` (what [`WebSocket`] is for the default
/// runtime's `MaybeTlsStream`).
pub use ws_client::stream::WebSocket as WebSocketStream;
pub use ws_client::tls::{
    MaybeTlsStream, TlsBackend, TlsConnect, TlsConnector, TlsError, TlsErrorKind,
};
pub use ws_client::Runtime;
pub use ws_client::{
    CloseCode, CloseFrame, Config, Error, Keepalive, Message, Role, State, Utf8Bytes,
};
#[cfg(feature = "deflate")]
pub use ws_handshake::permessage_deflate::DeflateConfig;
pub use ws_handshake::proxy::{Credentials, Proxy, ProxyConfig, ProxyError, ProxyScheme};
pub use ws_handshake::redirect::{HopDecision, RedirectError, RedirectHop, RedirectPolicy};
pub use ws_handshake::{
    is_sensitive_header, redact_url, ClientRequest, HandshakeError, Limits, Request, Response,
    DEFAULT_USER_AGENT,
};
#[doc(no_inline)]
pub use {ws_client, ws_frame, ws_handshake};

#[cfg(feature = "tokio")]
use ws_tokio as default_runtime;

#[cfg(all(feature = "smol", not(feature = "tokio")))]
use ws_smol as default_runtime;

#[cfg(all(feature = "async-std", not(any(feature = "tokio", feature = "smol"))))]
use ws_async_std as default_runtime;

/// tokio: [`connect`](ws_tokio::connect), [`connect_with`](ws_tokio::connect_with),
/// [`connect_on`](ws_tokio::connect_on) (your own stream), [`accept`](ws_tokio::accept) (our
/// server role), the [`TokioRuntime`](ws_tokio::TokioRuntime) and the
/// [`TokioIo`](ws_tokio::TokioIo) adapter.
#[cfg(feature = "tokio")]
pub mod tokio {
    pub use ws_tokio::*;
}

/// smol (and any executor on the `async-io` reactor): [`connect`](ws_smol::connect),
/// [`connect_with`](ws_smol::connect_with), [`connect_on`](ws_smol::connect_on),
/// [`accept`](ws_smol::accept) and the [`SmolRuntime`](ws_smol::SmolRuntime).
#[cfg(feature = "smol")]
pub mod smol {
    pub use ws_smol::*;
}

/// async-std (discontinued upstream; prefer [`smol`](crate#features)):
/// [`connect`](ws_async_std::connect), [`connect_with`](ws_async_std::connect_with),
/// [`connect_on`](ws_async_std::connect_on), [`accept`](ws_async_std::accept) and the
/// [`AsyncStdRuntime`](ws_async_std::AsyncStdRuntime).
#[cfg(feature = "async-std")]
pub mod async_std {
    pub use ws_async_std::*;
}

/// The WebSocket [`connect`] returns: on the [`DefaultRuntime`].
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
pub type WebSocket = default_runtime::WebSocket;

/// The runtime of the top-level [`connect`], [`builder`]`(..).connect()` and
/// [`WebSocket`]: `TokioRuntime` when the `tokio` feature is on, else `SmolRuntime` with
/// `smol`, else `AsyncStdRuntime`.
#[cfg(feature = "tokio")]
pub type DefaultRuntime = ws_tokio::TokioRuntime;

/// The runtime of the top-level [`connect`], [`builder`]`(..).connect()` and
/// [`WebSocket`]: `TokioRuntime` when the `tokio` feature is on, else `SmolRuntime` with
/// `smol`, else `AsyncStdRuntime`.
#[cfg(all(feature = "smol", not(feature = "tokio")))]
pub type DefaultRuntime = ws_smol::SmolRuntime;

/// The runtime of the top-level [`connect`], [`builder`]`(..).connect()` and
/// [`WebSocket`]: `TokioRuntime` when the `tokio` feature is on, else `SmolRuntime` with
/// `smol`, else `AsyncStdRuntime`.
#[cfg(all(feature = "async-std", not(any(feature = "tokio", feature = "smol"))))]
pub type DefaultRuntime = ws_async_std::AsyncStdRuntime;

/// A reconnecting WebSocket on the default runtime, from
/// [`builder`]`(url).reconnecting()...connect()`: see [`ws_client::reconnect`].
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
pub type ReconnectingWebSocket = ws_client::reconnect::ReconnectingWebSocket<DefaultRuntime>;

/// Opens a WebSocket to `url` (`ws://` or `wss://`) with the [defaults](crate#defaults), on
/// the [`DefaultRuntime`].
///
/// Errors name the failing step (DNS lookup, TCP connect, proxy, TLS, HTTP upgrade, or a
/// timeout) and its address, and say what to check.
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
pub async fn connect(url: &str) -> Result<WebSocket, Error> {
    default_runtime::connect(url).await
}

/// Opens a WebSocket as `options` say and returns it with the server's handshake response,
/// on the [`DefaultRuntime`].
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
pub async fn connect_with(options: ConnectOptions) -> Result<(WebSocket, Response), Error> {
    default_runtime::connect_with(options).await
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
