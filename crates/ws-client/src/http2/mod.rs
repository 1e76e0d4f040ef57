//! WebSockets over HTTP/2 (RFC 8441, feature `http2`): many WebSockets on one connection.
//!
//! ```text
//!  connect (Http2::Prefer / Require) ─▶ H2Pool::acquire(origin, proxy, TLS config)
//!     new connection: TCP ─ proxy ─ TLS (ALPN h2) ─ h2 handshake ─ PING (SETTINGS applied)
//!                     └─ driver task (Runtime::spawn, one per connection) polls it
//!     each WebSocket:  extended CONNECT (:protocol websocket) ─ 2xx ─▶ H2Stream
//!  WebSocket<MaybeTlsStream::Http2(H2Stream)>: frames in the stream's DATA frames,
//!  flow control per stream, close = the closing handshake then END_STREAM
//! ```
//!
//! The choice is [`ConnectOptions::http2`](crate::ConnectOptions::http2) ([`Http2`], off by
//! default); [`H2Pool`] holds the shared connections. A WebSocket over HTTP/2 is the same
//! [`WebSocket`](crate::WebSocket) type as over HTTP/1.1: keepalive pings, compression,
//! limits, timeouts, redirects, proxies and reconnection work the same. Over HTTP/2 a
//! client does not wait for the server to end the stream after the closing handshake (some
//! servers never do): it ends its side (END_STREAM) and is done.
//!
//! A stream reset or GOAWAY reaches the user as an I/O error whose
//! [`Error::http2_error`](crate::Error::http2_error) is an [`Http2Error`] (reason code,
//! GOAWAY or not, which side); [`reconnect`](crate::reconnect) retries them.
//!
//! The server role: [`H2Server`] accepts WebSockets on one h2 connection (h2c, or h2 over
//! TLS), checking and negotiating each request as the HTTP/1.1
//! [`server_accept`](crate::handshake::server_accept) does. [`H2Stream::from_h2`] lets a
//! server built on `h2::server` directly run our WebSocket over an accepted extended CONNECT.

mod conn;
mod error;
mod open;
mod pool;
mod server;
mod stream;

pub use self::error::Http2Error;
pub(crate) use self::open::{mode_for, open_hop, Hop};
pub use self::pool::{
    H2Pool, DEFAULT_CONNECTION_WINDOW, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_STREAMS,
    DEFAULT_STREAM_WINDOW, HTTP1_MEMORY,
};
pub use self::server::{Accepted, H2Server, DEFAULT_SERVER_MAX_STREAMS};
pub use self::stream::H2Stream;

use crate::error::Error;

/// Whether WebSockets open over HTTP/2 (RFC 8441), set with
/// [`ConnectOptions::http2`](crate::ConnectOptions::http2).
///
/// | URL | `Off` (default) | `Prefer` | `Require` |
/// |---|---|---|---|
/// | `wss://` | HTTP/1.1, no ALPN sent | ALPN `h2, http/1.1`: HTTP/2 if the server picks `h2` **and** enables extended CONNECT; else HTTP/1.1 (on the same connection when ALPN picked `http/1.1` or nothing, on a new one otherwise, and that origin is remembered for 10 minutes) | ALPN `h2`; anything else fails with an [`Http2Error`] |
/// | `ws://` | HTTP/1.1 | HTTP/1.1 (no way to ask a plain server) | h2c with prior knowledge |
///
/// A native-tls connector given with
/// [`TlsConnector::native_tls`](crate::TlsConnector::native_tls) is used as is: it must
/// offer `h2` itself (`request_alpns(&["h2", "http/1.1"])`), else `Prefer` means HTTP/1.1.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Http2 {
    /// HTTP/1.1 only (the default in this release).
    #[default]
    Off,
    /// HTTP/2 where the server agrees, HTTP/1.1 otherwise.
    Prefer,
    /// HTTP/2 or an error.
    Require,
}

/// The HTTP/2 query of [`Error`], here with the type it reads.
impl Error {
    /// The HTTP/2 failure under this error (feature `http2`): a stream reset, a GOAWAY, a
    /// server that does not speak HTTP/2 or does not allow WebSockets over it.
    pub fn http2_error(&self) -> Option<&Http2Error> {
        self.io_error()?.get_ref()?.downcast_ref::<Http2Error>()
    }
}
