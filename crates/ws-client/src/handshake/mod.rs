//! Async drivers of the opening handshake over any `futures-io` stream:
//! [`client_handshake`] (our client role) and [`server_accept`] (our server role).
//!
//! Both read the peer's head incrementally (each byte parsed once, the head bounded by
//! [`Limits`](ws_handshake::Limits)), negotiate permessage-deflate, and hand any bytes that
//! followed the head (a peer may send its first frame in the same packet) to the new
//! [`Connection`], so nothing is lost between the handshake and the first `recv`.
//!
//! `client.rs` and `server.rs` are the two roles; both end in `open`, which starts the
//! [`Connection`] with the bytes that followed the head.

mod client;
mod server;

use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use ws_frame::Role;

use crate::proto::config::Config;
use crate::proto::{Connection, Negotiated};
use crate::rt::Timer;
use crate::stream::WebSocket;

pub use self::client::client_handshake;
#[cfg(feature = "http2")]
pub(crate) use self::client::negotiate;
pub(crate) use self::client::{client_handshake_step, Handshake};
pub use self::server::server_accept;
#[cfg(feature = "http2")]
pub(crate) use self::server::{agree, Agreed, Refusal};

/// Bytes read per call while the head is incomplete.
const HEAD_READ: usize = 4 << 10;

/// Builds the open [`WebSocket`] in `role` from the stream and the bytes read past the head.
fn open<S>(
    stream: S,
    role: Role,
    config: Config,
    negotiated: Negotiated,
    rest: &[u8],
    timer: Option<Arc<dyn Timer>>,
) -> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::with_negotiated(role, config, negotiated);
    if !rest.is_empty() {
        conn.receive_data(rest);
    }
    WebSocket::from_connection(stream, conn, timer)
}
