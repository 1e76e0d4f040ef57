//! The WebSocket opening handshake (RFC 6455 section 4, and RFC 8441 over HTTP/2) as plain
//! bytes and fields in and out.
//!
//! Before any frame, a WebSocket client sends an HTTP/1.1 `GET` asking to upgrade and the
//! server answers `101 Switching Protocols`. This crate builds and checks those two heads,
//! for the client role (the main use) and a small server role (for tests, examples and the
//! CLI). It does no I/O and never reads the clock: the caller moves the bytes.
//!
//! ```text
//!  client                                                        server
//!  RequestBuilder::new(url)..build() ── ClientRequest::as_bytes() ──▶ RequestParser::feed()
//!                                                                     Request::validate()
//!  ResponseParser::feed() ◀────────────────── Request::accept(..) / reject(..)
//!  ClientRequest::check(&Response) ──▶ Accepted { subprotocol, extensions }
//!  Response::rest() ──▶ first frame bytes, for the frame layer
//! ```
//!
//! Both parsers are incremental and bounded: feed them bytes as they arrive; each byte is
//! scanned once for the end of the head, the HTTP parser ([`httparse`]) runs once on the
//! complete head, and [`Limits`] (64 KiB, 128 headers by default) are enforced before the
//! head is complete. Bytes that arrive after the head (a server may send its first frame in
//! the same packet) are kept in [`Response::rest`].
//!
//! # HTTP/2
//!
//! Over HTTP/2 (RFC 8441) a WebSocket is a stream opened with an extended CONNECT
//! (`:protocol websocket`) and accepted with a 2xx; there is no key, `Upgrade` or
//! `Connection`. [`RequestBuilder::build_h2`] checks the request as `build` does and gives
//! its fields as plain strings; the transport sends them with its HTTP/2 library and hands
//! the answer back as [`Response::from_h2`]; [`H2Request::check`] applies the same
//! subprotocol, extension and redirect rules as over HTTP/1.1. The server role reads a
//! request with [`Request::from_h2`], checks it with [`Request::validate_h2`] and answers
//! 200 with the fields of [`Request::accept_h2`].
//!
//! ```text
//!  client                                                        server
//!  RequestBuilder::new(url)..build_h2() ── H2Request::{scheme,authority,path,headers}()
//!                                          ──▶ Request::from_h2(..), validate_h2()
//!  Response::from_h2(status, fields, body) ◀── 200 + Request::accept_h2(..)
//!  H2Request::check(&Response) ──▶ Accepted { subprotocol, extensions }
//!  (the stream's DATA carry the frames)
//! ```
//!
//! Extensions are offered and answered as raw `Sec-WebSocket-Extensions` values, parsed by
//! [`parse_extensions`]; [`permessage_deflate`] negotiates RFC 7692 compression on top.
//!
//! Two more sans-I/O pieces serve the connect flow: [`proxy`] chooses a proxy (explicit or
//! from `HTTPS_PROXY`/`NO_PROXY`-style variables) and speaks HTTP `CONNECT` and SOCKS5 to
//! open a tunnel; [`redirect`] decides whether and where a 3xx answer is followed and which
//! headers may go along.
//!
//! Every failure is a [`HandshakeError`] variant whose `Display` says what went wrong, at which
//! step, and what to do; the [`proxy`] and [`redirect`] modules fail with their own
//! [`ProxyError`](proxy::ProxyError) and [`RedirectError`](redirect::RedirectError), which it
//! wraps. Nothing here panics on network input.
//!
//! # Example: a full handshake in memory
//!
//! ```
//! use ws_handshake::{Limits, RequestBuilder, RequestParser, ResponseParser};
//!
//! // Client: build the request; write `request.as_bytes()` to the connection.
//! let request = RequestBuilder::new("ws://example.com/chat")?
//!     .subprotocol("chat")
//!     .build()?;
//!
//! // Server: read the request, check it, answer.
//! let mut server = RequestParser::new(Limits::default());
//! let incoming = server.feed(request.as_bytes())?.expect("whole request arrived");
//! incoming.validate()?;
//! assert_eq!(incoming.subprotocols(), ["chat"]);
//! let mut answer = incoming.accept(Some("chat"), None);
//! answer.extend_from_slice(b"\x81\x05hello"); // a first frame in the same packet
//!
//! // Client: read the answer as it arrives (here in two pieces) and check it.
//! let mut client = ResponseParser::new(Limits::default());
//! let (first, second) = answer.split_at(10);
//! assert!(client.feed(first)?.is_none());
//! let response = client.feed(second)?.expect("whole response arrived");
//! let accepted = request.check(&response)?;
//! assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
//! assert_eq!(response.rest(), b"\x81\x05hello"); // hand these to the frame decoder
//! # Ok::<(), ws_handshake::HandshakeError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
mod extensions;
mod h2;
mod head;
pub mod permessage_deflate;
pub mod proxy;
mod redact;
pub mod redirect;
mod response;
mod server;
mod status;

pub use client::{accept_key, Accepted, ClientRequest, RequestBuilder, Target};
pub use error::HandshakeError;
pub use extensions::{parse_extensions, Extension};
pub use h2::H2Request;
pub use head::Limits;
pub use redact::{is_sensitive_header, redact_url, REDACTED};
pub use response::{HttpVersion, Response, ResponseParser, BODY_EXCERPT};
pub use server::{reject, Request, RequestParser};

/// The `User-Agent` a client request carries unless the caller gives one or turns it off
/// ([`RequestBuilder::no_user_agent`]): `aiowebsocket/` and the version of the aiowebsocket
/// crates (all released together with one version), e.g. `aiowebsocket/0.1.0`.
///
/// ```
/// assert!(ws_handshake::DEFAULT_USER_AGENT.starts_with("aiowebsocket/"));
/// ```
pub const DEFAULT_USER_AGENT: &str = concat!("aiowebsocket/", env!("CARGO_PKG_VERSION"));

/// The GUID appended to the key before hashing (RFC 6455 section 1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
