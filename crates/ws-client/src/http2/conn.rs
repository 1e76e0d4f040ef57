//! One h2 connection: the client handshake over an open transport, the wait for the
//! server's SETTINGS, and the driver task that runs the connection.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::Poll;

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use h2::client::{Connection, SendRequest};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

use super::pool::{ConnShared, PoolInner, PoolKey, PoolSettings};
use super::Http2Error;
use crate::rt::{Runtime, Sleep, Timer};

/// A new h2 connection whose server enabled extended CONNECT, with its driver running.
pub(crate) struct Connected {
    pub(crate) send: SendRequest<Bytes>,
    pub(crate) shared: Arc<ConnShared>,
}

/// Runs the h2 client handshake over `io`, spawns the connection's driver with `rt`, waits
/// for one PING to come back (the server's SETTINGS come first, so they are then applied)
/// and checks that the server allows extended CONNECT.
///
/// Not bounded here: the caller bounds it with the open timeout. Errors are I/O errors,
/// with an [`Http2Error`] inside for the HTTP/2 ones (extended CONNECT disabled included).
///
/// # Cancel safety
/// Dropping the future drops the connection (the driver ends with it).
pub(crate) async fn connect<R, S>(
    rt: &R,
    io: S,
    settings: PoolSettings,
    pool: Weak<PoolInner>,
    key: PoolKey,
    timer: Arc<dyn Timer>,
) -> std::io::Result<Connected>
where
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut conn) = h2::client::Builder::new()
        .initial_window_size(settings.stream_window)
        .initial_connection_window_size(settings.connection_window)
        // Push is for browsers' resources, never for WebSockets.
        .enable_push(false)
        .handshake::<_, Bytes>(io.compat())
        .await
        .map_err(Http2Error::from_h2)?;
    let mut ping_pong = conn
        .ping_pong()
        .ok_or_else(|| Http2Error::other("h2 gave no PING handle".to_owned()).into_io())?;
    let shared = ConnShared::new();
    rt.spawn(Box::pin(drive(
        conn,
        shared.clone(),
        pool,
        key,
        timer,
        settings.idle_timeout,
    )));
    ping_pong
        .ping(h2::Ping::opaque())
        .await
        .map_err(Http2Error::from_h2)?;
    drop(ping_pong);
    if !send.is_extended_connect_protocol_enabled() {
        return Err(Http2Error::extended_connect_disabled().into_io());
    }
    crate::trace::debug!(
        max_streams = send.current_max_send_streams(),
        "HTTP/2 connection open, extended CONNECT enabled"
    );
    Ok(Connected { send, shared })
}

/// The connection's driver task: polls the h2 connection until it ends, publishes the
/// server's stream limit, evicts the connection from the pool once it carried no WebSocket
/// for the idle timeout (the pool's handle dropped, h2 sends GOAWAY and the connection
/// ends when its last stream does), and marks it dead at the end.
async fn drive<S>(
    conn: Connection<Compat<S>, Bytes>,
    shared: Arc<ConnShared>,
    pool: Weak<PoolInner>,
    key: PoolKey,
    timer: Arc<dyn Timer>,
    idle_timeout: Option<std::time::Duration>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Box::pin(conn);
    let mut idle: Option<Pin<Box<dyn Sleep>>> = None;
    let mut evicted = false;
    let result = poll_fn(|cx| loop {
        shared.register_driver(cx.waker());
        let polled = conn.as_mut().poll(cx);
        shared.set_max_streams(conn.max_concurrent_send_streams());
        if let Poll::Ready(result) = polled {
            return Poll::Ready(result);
        }
        if evicted {
            return Poll::Pending;
        }
        if shared.active() > 0 {
            idle = None;
            return Poll::Pending;
        }
        let due = match (idle_timeout, idle.as_mut()) {
            (None, _) => true,
            (Some(_), Some(sleep)) => sleep.as_mut().poll(cx).is_ready(),
            (Some(timeout), None) => {
                idle = timer
                    .now()
                    .checked_add(timeout)
                    .map(|at| timer.sleep_until(at));
                // Poll the new sleep so that it can wake us.
                continue;
            }
        };
        if !due {
            return Poll::Pending;
        }
        idle = None;
        match pool.upgrade() {
            Some(pool) if pool.evict(&key, &shared, true) => {
                crate::trace::debug!("HTTP/2 connection idle: closing it");
                evicted = true;
                // Polled again: with the handle gone, h2 may end the connection.
            }
            // A stream was opened meanwhile.
            Some(_) => return Poll::Pending,
            None => {
                evicted = true;
            }
        }
    })
    .await;
    shared.mark_dead();
    if let Some(pool) = pool.upgrade() {
        pool.evict(&key, &shared, false);
    }
    if let Err(_e) = result {
        crate::trace::debug!(error = %_e, "HTTP/2 connection failed");
    } else {
        crate::trace::debug!("HTTP/2 connection closed");
    }
}
