//! The async [`WebSocket`]: the sans-I/O [`Connection`] driven over any `futures-io`
//! stream, with timers from a [`Timer`].
//!
//! Everything is built on four poll functions (`poll_recv`, `poll_ready`, `poll_flush`,
//! `poll_close`), used by the async methods, by the [`Stream`] and [`Sink`] impls and by the
//! [`split`](WebSocket::split) halves. All state lives in the `WebSocket` (none in the
//! futures), which is what makes [`recv`](WebSocket::recv) cancel safe.
//!
//! # What happens without the user asking
//! - Pings are answered, and the peer's close frame is echoed, while receiving: owed replies
//!   are written before the next read from the socket (a pong never waits for a `send`).
//! - Keepalive pings and the pong deadline, and the close timeout, run from the
//!   connection's deadlines with one [`Sleep`](crate::rt::Sleep) per distinct deadline.
//! - After the close handshake a client waits (bounded by the close timeout) for the
//!   server to close TCP, as RFC 6455 §7.1.1 asks; a server closes TCP at once.
//!
//! Input is processed, and timers run, only while someone receives. Keep a task in
//! [`recv`](WebSocket::recv) (or on a split [`WsReceiver`](crate::split::WsReceiver)), as with any WebSocket library:
//! that task answers the server's pings and runs our keepalive. A connection that only
//! sends sends no keepalive pings and never fails on their account (it cannot read the
//! pongs); the server's own keepalive then decides its fate.
//!
//!
//! The engine (reading, writing, timers) is the crate-private `driver` module.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;
use ws_frame::{CloseCode, Role};

use crate::error::Error;
use crate::message::{CloseFrame, Message};
use crate::proto::config::Config;
use crate::proto::{Connection, State};
use crate::rt::Timer;

use crate::driver::Core;

/// An open WebSocket over the stream `S` (TCP, TLS, or any `futures-io` stream).
///
/// Obtain one from a runtime crate's `connect`, from
/// [`client_handshake`](crate::handshake::client_handshake) /
/// [`server_accept`](crate::handshake::server_accept), or with [`from_raw`](Self::from_raw)
/// on a stream whose handshake already happened.
///
/// Receive with [`recv`](Self::recv) (or as a [`Stream`]), send with
/// [`send`](Self::send) (or as a [`Sink`]), end with [`close`](Self::close). For one task
/// that reads while another writes, [`split`](Self::split) it.
pub struct WebSocket<S> {
    pub(crate) core: Core<S>,
}

impl<S> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.core.role())
            .field("state", &self.core.state())
            .field("subprotocol", &self.core.subprotocol)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `role` is our role. Without a
    /// `timer` there are no keepalive pings and no timeouts.
    pub fn from_raw(stream: S, role: Role, config: Config, timer: Option<Arc<dyn Timer>>) -> Self {
        Self::from_connection(stream, Connection::new(role, config), timer)
    }

    /// Wraps a stream and a [`Connection`] already fed with any bytes that followed the
    /// handshake. The close timeout, write timeout and output high-water mark are the
    /// connection's [`Config`]'s.
    pub fn from_connection(stream: S, conn: Connection, timer: Option<Arc<dyn Timer>>) -> Self {
        WebSocket {
            core: Core::new(stream, conn, timer),
        }
    }

    pub(crate) fn set_subprotocol(&mut self, proto: Option<String>) {
        self.core.subprotocol = proto;
    }

    /// After a clean closing handshake, ends the stream without waiting for the server to
    /// end it first (HTTP/2, where the server may never do so).
    #[cfg(feature = "http2")]
    pub(crate) fn skip_eof_wait(&mut self) {
        self.core.wait_eof_on_close = false;
    }

    /// Makes `span` the parent of this WebSocket's events.
    #[cfg(feature = "tracing")]
    pub(crate) fn set_span(&mut self, span: tracing::Span) {
        self.core.conn.set_span(span);
    }

    /// Receives the next message: `None` once the connection is over.
    ///
    /// Pings arrive as [`Message::Ping`] after their pong was queued (and written when the
    /// stream allows); the peer's close arrives as [`Message::Close`] after our reply was
    /// queued. After that (or after an error, reported once), the connection winds down and
    /// `recv` returns `None`.
    ///
    /// # Cancel safety
    /// Cancel safe: all progress (bytes read, partial frames, partial messages) is kept in
    /// the `WebSocket`, none in the future. Dropping the future (e.g. in `select!`) loses
    /// nothing; the next `recv` continues where it stopped.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.core.poll_recv(cx)).await
    }

    /// Sends a message and flushes it (and anything queued before it) to the stream.
    ///
    /// Waits first while the output buffer holds more than `write_buffer_high` bytes.
    /// Text and binary messages are fragmented after `write_frame_size` and compressed when
    /// negotiated; `Message::Close` starts the closing handshake (prefer [`close`](Self::close)).
    ///
    /// # Cancel safety
    /// Not cancel safe in the sense that the message can be resent: if the future is dropped
    /// while waiting for buffer space, the message was not queued and is lost; if it is
    /// dropped while flushing, the message was queued whole and goes out with the next
    /// `send`, `flush`, `recv` or `close`. A message is never sent partially by
    /// cancellation. Use the [`Sink`] API (`poll_ready` then `start_send`) to know which.
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// Queues a message without flushing: for batches, `feed` several then
    /// [`flush`](Self::flush) once (one write for the batch). Waits while the output buffer
    /// holds more than `write_buffer_high` bytes.
    ///
    /// # Cancel safety
    /// Cancel safe up to losing the message: dropped before it resolves, the message was
    /// not queued. Once it resolves the message is queued.
    pub async fn feed(&mut self, msg: Message) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_ready(cx)).await?;
        self.core.start_send(msg)
    }

    /// Writes everything queued to the stream and flushes it.
    ///
    /// # Cancel safety
    /// Cancel safe: what was written stays written, the rest stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_flush(cx)).await
    }

    /// Closes the connection: sends a close frame with `code` and `reason`, waits for the
    /// peer's close frame (messages that arrive meanwhile are discarded), then for TCP to
    /// close, each wait bounded by the close timeout. Returns `Ok` once the connection is
    /// over, whether the peer answered or not; only an invalid `code` or `reason` (nothing
    /// is sent then) is an error. [`close_frame`](Self::close_frame) then tells what the peer
    /// answered, if anything.
    ///
    /// Closing a connection that is already closing or closed just waits for its end.
    ///
    /// # Cancel safety
    /// Cancel safe: once started, the closing handshake continues with the next `recv` or
    /// `close`; the close frame is queued once.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.core.start_close(code, reason)?;
        poll_fn(|cx| self.core.poll_closed(cx)).await;
        Ok(())
    }
}

impl<S> WebSocket<S> {
    /// The subprotocol the server selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.core.subprotocol()
    }

    /// The peer's close frame, once it arrived.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.core.close_frame()
    }

    /// The connection's state (open, closing, closed).
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.core.role()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.core.stream
    }

    /// The sans-I/O connection (for inspection).
    pub fn connection(&self) -> &Connection {
        &self.core.conn
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().core.poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_flush(cx)
    }

    /// Starts the closing handshake with 1000 (if not started) and runs the connection to
    /// its end, like [`WebSocket::close`].
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let core = &mut self.get_mut().core;
        core.start_close(CloseCode::NORMAL, "")?;
        ready!(core.poll_closed(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::task::Waker;
    use std::time::{Duration, Instant};

    use crate::rt::Sleep;
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::driver::test_io::Feed;
    use crate::proto::config::Keepalive;

    /// A timer whose sleeps count their polls and fire on demand.
    #[derive(Debug, Default)]
    struct CountingTimer {
        polls: Arc<AtomicUsize>,
        fire: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    struct CountingSleep {
        polls: Arc<AtomicUsize>,
        fire: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Future for CountingSleep {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.fire.swap(false, Ordering::SeqCst) {
                // One sleep fires; the next one (the next deadline) stays pending.
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    impl Sleep for CountingSleep {}

    impl Timer for CountingTimer {
        fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
            Box::pin(CountingSleep {
                polls: Arc::clone(&self.polls),
                fire: Arc::clone(&self.fire),
                waker: Arc::clone(&self.waker),
            })
        }
    }

    #[test]
    fn a_quiet_sleep_is_polled_once_per_wake_up_not_per_recv() {
        // Ten unmasked binary frames from the server, "m0".."m9".
        let mut input = VecDeque::new();
        for i in 0..10u8 {
            input.extend([0x82, 2, b'm', b'0' + i]);
        }
        let timer = Arc::new(CountingTimer::default());
        let polls = Arc::clone(&timer.polls);
        let fire = Arc::clone(&timer.fire);
        let sleep_waker = Arc::clone(&timer.waker);
        let keepalive = Keepalive::new(Duration::from_secs(20), Duration::from_secs(20));
        let config = Config::default().keepalive(Some(keepalive));
        let feed = Feed {
            input,
            output: Vec::new(),
            chunk: usize::MAX,
        };
        let mut ws = WebSocket::from_raw(feed, Role::Client, config, Some(timer));
        let task = futures::task::noop_waker();
        let mut cx = Context::from_waker(&task);
        for i in 0..10u8 {
            match ws.core.poll_recv(&mut cx) {
                Poll::Ready(Some(Ok(Message::Binary(b)))) => assert_eq!(b, [b'm', b'0' + i][..]),
                other => panic!("expected message {i}, got {other:?}"),
            }
        }
        assert!(ws.core.poll_recv(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1, "one poll to arm the sleep");

        // The sleep fires: its waker (the alarm) is woken, the next recv polls it and pings.
        fire.store(true, Ordering::SeqCst);
        let alarm = sleep_waker.lock().unwrap().take().unwrap();
        alarm.wake();
        assert!(ws.core.poll_recv(&mut cx).is_pending());
        // The fired sleep, then the new one for the next deadline.
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        assert!(ws.core.poll_recv(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        let out = &ws.get_ref().output;
        assert_eq!(
            out.first(),
            Some(&0x89),
            "a keepalive ping was written: {out:?}"
        );
    }
}
