//! # ws-async-std — run `ws-client` WebSockets on async-std (and smol)
//!
//! The glue between the runtime-neutral `ws-client` and async-std, and nothing else: DNS +
//! TCP (with `TCP_NODELAY`), TLS for `wss://` through native-tls, and timers. The connect
//! flow (timeouts, which step failed, the opening handshake) is `ws_client::connect`,
//! shared with every runtime.
//!
//! ```text
//!  connect(url) ─▶ ws_client::connect::connect(&AsyncStdRuntime, options)
//!                    ├─ AsyncStdRuntime::connect_tcp  (async-std DNS, async-io TcpStream, nodelay)
//!                    ├─ AsyncStdRuntime::tls          (native-tls, wss:// only)
//!                    └─ client_handshake              (ws-client, over MaybeTlsStream)
//! ```
//!
//! ```no_run
//! use ws_client::Message;
//!
//! # async fn demo() -> Result<(), ws_client::Error> {
//! let mut ws = ws_async_std::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.recv().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(ws_client::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! ## smol and other `futures-io` executors
//!
//! Everything here is written against the `futures-io` traits, and async-std's sockets and
//! timers run on the `async-io` reactor, which needs no particular executor: the functions
//! work unchanged under `smol::block_on` or `futures::executor`. [`connect_on`] and
//! [`accept`] take any `futures-io` stream, e.g. a `smol::net::TcpStream` or
//! `async_net::TcpStream`. async-std itself is no longer developed upstream; smol users
//! lose nothing by using this crate.
//!
//! Features: `native-tls` (default) enables `wss://`; without it a `wss://` URL fails with
//! a clear error. `deflate` (default) enables permessage-deflate in `ws-client`.
#![forbid(unsafe_code)]
// The docs link to TLS items; without `native-tls` those links dangle.
#![cfg_attr(not(feature = "native-tls"), allow(rustdoc::broken_intra_doc_links))]

mod runtime;
mod stream;
mod tcp;
mod timer;
#[cfg(feature = "native-tls")]
pub mod tls;

use futures_io::{AsyncRead, AsyncWrite};
use ws_client::options::{ConnectOptions, ServerOptions};
use ws_client::Error;
use ws_handshake::Response;

pub use crate::runtime::AsyncStdRuntime;
pub use crate::stream::MaybeTlsStream;
pub use crate::tcp::TcpStream;
pub use crate::timer::AsyncStdTimer;

/// A WebSocket opened by [`connect`] / [`connect_with`]: plain or TLS over async-std TCP.
pub type WebSocket = ws_client::stream::WebSocket<MaybeTlsStream>;

/// Opens a WebSocket to `url` (`ws://` or `wss://`) with the default options: 10 s connect
/// and open timeouts, keepalive pings, permessage-deflate offered (feature `deflate`),
/// the system's trust roots for TLS.
///
/// Errors name the failing step and its address, and say what to check: the DNS lookup
/// (`DNS lookup of host failed: ...`), the TCP connect (`TCP connect to host:port failed:
/// ...`), TLS, the HTTP upgrade, or a timeout (`Error::step`, `Error::target`).
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect(url: &str) -> Result<WebSocket, Error> {
    connect_with(ConnectOptions::new(url))
        .await
        .map(|(ws, _)| ws)
}

/// Opens a WebSocket as `options` say (headers, Origin, subprotocols, limits, timeouts,
/// keepalive, compression) and returns it with the server's handshake response.
///
/// For a custom TLS connector (private root CA, client certificate) use
/// [`AsyncStdRuntime::with_tls_connector`] and [`AsyncStdRuntime::connect`].
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect_with(options: ConnectOptions) -> Result<(WebSocket, Response), Error> {
    AsyncStdRuntime::new().connect(options).await
}

/// Runs the client opening handshake over a `futures-io` stream you connected yourself (TLS
/// already done for `wss://`). The URL in `options` still gives the `Host` header and the
/// path; the open timeout, keepalive and close timeout run on [`AsyncStdTimer`].
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn connect_on<S>(
    stream: S,
    options: ConnectOptions,
) -> Result<(ws_client::stream::WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws_client::connect::connect_on(stream, &options, Some(timer())).await
}

/// Accepts a WebSocket in our server role on a `futures-io` stream (a `TcpStream` from a
/// `TcpListener`, a TLS stream from [`tls::accept`]): reads and checks the client's
/// request, runs the [`ServerOptions`] check hook, answers `101` (or an HTTP error, which is
/// then returned as the error), and returns the open WebSocket.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ws_client::options::ServerOptions;
///
/// let listener = async_std::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = ws_async_std::accept(tcp, &ServerOptions::new()).await?;
/// while let Some(msg) = ws.recv().await {
///     let msg = msg?;
///     if msg.is_data() {
///         ws.send(msg).await?;
///     }
/// }
/// # Ok(()) }
/// ```
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn accept<S>(
    stream: S,
    options: &ServerOptions,
) -> Result<ws_client::stream::WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws_client::handshake::server_accept(stream, options, Some(timer())).await
}

fn timer() -> std::sync::Arc<dyn ws_client::rt::Timer> {
    std::sync::Arc::new(AsyncStdTimer)
}

/// A TLS failure, worded for the user and keeping the native-tls error as its source.
#[cfg(feature = "native-tls")]
pub(crate) fn tls_error(domain: &str, e: native_tls::Error) -> Error {
    Error::Io(std::io::Error::other(TlsError {
        domain: domain.to_owned(),
        source: e,
    }))
}

/// The error `tls_error` wraps.
#[cfg(feature = "native-tls")]
#[derive(Debug)]
struct TlsError {
    domain: String,
    source: native_tls::Error,
}

#[cfg(feature = "native-tls")]
impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let domain = &self.domain;
        write!(f, "TLS handshake with {domain} failed: {}", self.source)?;
        // How to trust a private CA, for both ways of building a connection.
        let trust = "pass a native_tls::TlsConnector that trusts it: \
                     aiowebsocket::builder(url).tls_connector(..), or \
                     AsyncStdRuntime::with_tls_connector(..)";
        if self
            .source
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate")
        {
            write!(
                f,
                "; the server's certificate is not accepted for {domain}: check that the URL's \
                 host name is the one in the certificate, and if a private CA signed it, {trust}"
            )
        } else {
            write!(
                f,
                "; check that the server speaks TLS on this port (use ws:// for a plain \
                 server) and that its certificate is trusted (for a private CA, {trust})"
            )
        }
    }
}

#[cfg(feature = "native-tls")]
impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `wss://` without the `native-tls` feature.
#[cfg(not(feature = "native-tls"))]
pub(crate) fn no_tls_error(domain: &str) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "cannot open wss:// to {domain}: ws-async-std was built without TLS; enable its \
             `native-tls` feature (on by default)"
        ),
    ))
}
