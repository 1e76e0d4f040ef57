//! # ws-client — the WebSocket connection, sans-I/O core and async driver
//!
//! `ws-client` sits between the byte-level crates and the runtimes:
//!
//! ```text
//!  socket ─bytes─▶ ws_frame::HeaderDecoder ─▶ proto::Connection ─Message─▶ user
//!                  (headers, unmasking)       (UTF-8, inflate, assembly,
//!                                              limits, ping/close replies)
//!  user ─Message─▶ proto::Connection ─▶ header encode + mask ─bytes─▶ socket
//! ```
//!
//! * [`Connection`] ([`proto`]) is the deterministic state machine of one connection after
//!   the opening handshake: bytes and time in, [`Message`]s and bytes out, no I/O, no
//!   clock. Every rule of RFC 6455 (and RFC 7692 compression, feature `deflate`) lives there.
//! * [`Message`], [`Utf8Bytes`], [`CloseFrame`] ([`message`]) are what users send and get.
//! * [`Config`] ([`proto::config`]) holds limits, timeouts, keepalive and compression settings.
//! * [`Error`] ([`error`]) is the one error type: a kind, the step and target, the source.
//! * The async `WebSocket` over any `futures-io` stream, its split halves and the handshake
//!   drivers live in `stream`, `split` and `handshake`; runtime crates supply sockets and
//!   timers.
//! * [`connect`] is the client flow for every runtime: TCP, an optional proxy tunnel, TLS,
//!   the handshake, redirects, over two small traits: [`Runtime`] (DNS, TCP, time) and
//!   [`tls::TlsConnect`] (native-tls or rustls, features of the same names).
//!   [`reconnect`] keeps a logical connection alive across disconnects.
//!
//! ```
//! use ws_client::{CloseCode, Config, Connection, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//!
//! client.send(Message::text("ping me"))?;
//! client.close(CloseCode::NORMAL, "done")?;
//! server.receive_data(client.pending_output()); // a driver moves these bytes
//!
//! assert_eq!(server.poll_message()?, Some(Message::text("ping me")));
//! assert_eq!(server.poll_message()?, Some(Message::close(CloseCode::NORMAL, "done")));
//! assert!(server.wants_write()); // the echoed close, queued automatically
//! # Ok::<(), ws_client::Error>(())
//! ```
//!
//! # Feature `tracing`
//!
//! Off by default. With it, the crate logs through [`tracing`](https://docs.rs/tracing);
//! without it, no logging code is compiled at all. Targets are this crate's module paths
//! (`ws_client::connect`, `ws_client::proto`, ...), so `RUST_LOG=ws_client=debug` (with
//! `tracing-subscriber`'s `EnvFilter`) shows a connection's life:
//!
//! * a span `websocket` (level `INFO`) per client connection, from the first DNS lookup to
//!   the end of the WebSocket (redirect hops included), with fields `url`, `runtime`
//!   ([`Runtime::NAME`]) and `tls` ([`TlsConnect::name`](tls::TlsConnect::name), `none` for
//!   `ws://`). The span is not entered while messages flow: its events name it as their
//!   parent. A [`ReconnectingWebSocket`] adds a span `reconnecting` (`INFO`, field `url`)
//!   around its connections;
//! * `DEBUG`: each opening step (DNS result, the TCP address that won, the proxy tunnel,
//!   the TLS version and ALPN protocol, the HTTP status, redirects), the negotiated
//!   subprotocol and extensions, close frames sent and received (codes), the end of the
//!   connection, transport errors, a close the peer did not answer in time;
//! * `TRACE`: every frame received or queued (opcode, length, flags; never the payload),
//!   keepalive pings, each TCP attempt;
//! * `INFO`: reconnection attempts with their delay, and reconnections;
//! * `WARN`: the peer broke the protocol, no pong within the keepalive timeout, the write
//!   timeout, giving up on reconnecting.
//!
//! Secrets stay out: URLs are logged as `scheme://host:port/path` (no user info, and the
//! query, which often carries tokens, replaced by `?<redacted>`), and no header value, no
//! `Sec-WebSocket-Key`, no proxy credential, no payload and no close reason is ever logged.
#![forbid(unsafe_code)]
// The docs link to both TLS backends; with one or none compiled in, some links dangle.
#![cfg_attr(
    not(all(feature = "native-tls", feature = "rustls")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod connect;
mod driver;
pub mod error;
pub mod handshake;
#[cfg(feature = "http2")]
pub mod http2;
mod io;
pub mod message;
pub mod options;
pub mod proto;
pub mod reconnect;
pub mod rt;
mod runtime_api;
pub mod split;
pub mod stream;
pub mod tls;
mod trace;

pub use error::{Error, ErrorKind, ProtocolError, Step, UsageError};
pub use message::{CloseFrame, Message, Utf8Bytes};
pub use options::{ConnectOptions, ServerOptions};
pub use proto::config::{Config, Keepalive};
pub use proto::{Connection, Negotiated, State};
pub use reconnect::{ReconnectPolicy, Reconnecting, ReconnectingWebSocket};
pub use rt::{Runtime, Sleep, Timer};
pub use split::{ReuniteError, WsReceiver, WsSender};
pub use stream::WebSocket;
pub use tls::{MaybeTlsStream, TlsBackend, TlsConnector};
pub use ws_frame::{CloseCode, Role};
#[doc(no_inline)]
pub use ws_handshake;
pub use ws_handshake::proxy::{Proxy, ProxyConfig};
pub use ws_handshake::redirect::{HopDecision, RedirectHop, RedirectPolicy};
