//! [`WsSender`] and [`WsReceiver`]: the two halves of a [`WebSocket`], for one task that
//! reads while another writes.
//!
//! Both halves share the connection behind a `std::sync::Mutex`, held only for the duration
//! of one poll (never across an `await`). The receiver keeps answering pings and the
//! peer's close while the sender waits on a slow peer: a full stream never blocks reading.
//!
//! # Wake-ups
//! A `futures-io` stream keeps one waker per direction, and the timer one per sleep; if each
//! half registered its own waker there, the second registration would silently replace the
//! first and one half could sleep forever. So every poll of the stream or timer uses one
//! shared waker that wakes *both* halves (spurious wake-ups are cheap, lost ones are
//! hangs), and a half that changes something the other may wait for (the connection state,
//! a drained output buffer) wakes the other explicitly.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;
use ws_frame::{CloseCode, Role};

use crate::driver::Core;
use crate::error::Error;
use crate::message::{CloseFrame, Message};
use crate::proto::State;
use crate::stream::WebSocket;

/// Which half is polling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    Sender = 0,
    Receiver = 1,
}

impl Half {
    fn other(self) -> Half {
        match self {
            Half::Sender => Half::Receiver,
            Half::Receiver => Half::Sender,
        }
    }
}

/// The wakers of both halves; waking it wakes both.
#[derive(Debug, Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wakers {
    fn lock(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, half: Half, waker: &Waker) {
        let mut slots = self.lock();
        let slot = &mut slots[half as usize];
        match slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    fn wake_half(&self, half: Half) {
        let waker = self.lock()[half as usize].take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Take both under the lock, wake outside it (a waker may run code that polls).
        let [a, b] = {
            let mut slots = self.lock();
            [slots[0].take(), slots[1].take()]
        };
        if let Some(w) = a {
            w.wake();
        }
        if let Some(w) = b {
            w.wake();
        }
    }
}

struct Shared<S> {
    core: Mutex<Core<S>>,
    wakers: Arc<Wakers>,
    /// A waker for `wakers`, made once.
    waker: Waker,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Core<S>> {
        // A panic while polling leaves the core consistent enough to report errors.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the core (no polling); wakes the other half if `f` changed something it
    /// may wait for.
    fn with<T>(&self, half: Half, f: impl FnOnce(&mut Core<S>) -> T) -> T {
        let (out, changed) = {
            let mut core = self.lock();
            let before = core.events;
            let out = f(&mut core);
            (out, core.events != before)
        };
        if changed {
            self.wakers.wake_half(half.other());
        }
        out
    }

    /// Runs `f` on the core with the shared waker, after registering `half`'s waker; wakes
    /// the other half if `f` changed something it may wait for.
    fn poll_with<T>(
        &self,
        half: Half,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &mut Context<'_>) -> T,
    ) -> T {
        self.wakers.register(half, cx.waker());
        let mut shared_cx = Context::from_waker(&self.waker);
        let (out, changed) = {
            let mut core = self.lock();
            let before = (core.events, core.drained);
            let out = f(&mut core, &mut shared_cx);
            // Output drained by the receiver (pong flushes) lets a sender waiting in
            // `flush` finish; the sender's own drains concern nobody else.
            let drained = half == Half::Receiver && core.drained != before.1;
            (out, core.events != before.0 || drained)
        };
        if changed {
            self.wakers.wake_half(half.other());
        }
        out
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Splits into a sending and a receiving half, usable from two tasks. The receiver keeps
    /// answering pings and closes while the sender waits on a slow peer.
    /// [`WsSender::reunite`] puts them back together.
    pub fn split(self) -> (WsSender<S>, WsReceiver<S>) {
        split(self.core)
    }
}

fn split<S>(core: Core<S>) -> (WsSender<S>, WsReceiver<S>) {
    let wakers = Arc::new(Wakers::default());
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        waker: Waker::from(wakers.clone()),
        wakers,
    });
    (
        WsSender {
            shared: shared.clone(),
        },
        WsReceiver { shared },
    )
}

/// The sending half of a split [`WebSocket`]. Also a [`Sink<Message>`].
pub struct WsSender<S> {
    shared: Arc<Shared<S>>,
}

/// The receiving half of a split [`WebSocket`]. Also a [`Stream`] of messages.
///
/// Keep receiving: this half answers pings, echoes the peer's close, runs keepalive and
/// the close timeout, and reports the end of the connection.
pub struct WsReceiver<S> {
    shared: Arc<Shared<S>>,
}

impl<S> fmt::Debug for WsSender<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSender").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WsReceiver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsReceiver").finish_non_exhaustive()
    }
}

/// The two halves given to [`WsSender::reunite`] come from different WebSockets.
pub struct ReuniteError<S>(pub WsSender<S>, pub WsReceiver<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different WebSockets")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

macro_rules! getters {
    ($t:ident) => {
        impl<S> $t<S> {
            /// The connection's state.
            pub fn state(&self) -> State {
                self.shared.lock().state()
            }

            /// The peer's close frame, once it arrived.
            pub fn close_frame(&self) -> Option<CloseFrame> {
                self.shared.lock().close_frame().cloned()
            }

            /// The subprotocol the server selected, if any.
            pub fn subprotocol(&self) -> Option<String> {
                self.shared.lock().subprotocol().map(str::to_owned)
            }

            /// Our role.
            pub fn role(&self) -> Role {
                self.shared.lock().role()
            }
        }
    };
}

getters!(WsSender);
getters!(WsReceiver);

impl<S: AsyncRead + AsyncWrite + Unpin> WsSender<S> {
    /// Sends a message and flushes; see [`WebSocket::send`] (same cancel safety: dropped
    /// while waiting for buffer space, the message is lost; dropped while flushing, it was
    /// queued whole and goes out with the next write of either half).
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// Queues a message without flushing; see [`WebSocket::feed`].
    ///
    /// # Cancel safety
    /// Dropped before it resolves, the message was not queued.
    pub async fn feed(&mut self, msg: Message) -> Result<(), Error> {
        poll_fn(|cx| {
            self.shared
                .poll_with(Half::Sender, cx, |c, cx| c.poll_ready(cx))
        })
        .await?;
        self.shared.with(Half::Sender, |c| c.start_send(msg))
    }

    /// Writes everything queued and flushes the stream.
    ///
    /// # Cancel safety
    /// Cancel safe: the rest stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            self.shared
                .poll_with(Half::Sender, cx, |c, cx| c.poll_flush(cx))
        })
        .await
    }

    /// Starts the closing handshake: queues a close frame with `code` and `reason` and
    /// flushes it. Unlike [`WebSocket::close`] it does not wait for the peer's answer: the
    /// [`WsReceiver`] sees the peer's close frame and then the end of the stream (bounded by
    /// the close timeout).
    ///
    /// # Cancel safety
    /// Cancel safe: the close frame is queued once, before the first wait.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared
            .with(Half::Sender, |c| c.start_close(code, reason))?;
        match self.flush().await {
            Err(e) if e.is_closed() => Ok(()),
            other => other,
        }
    }

    /// Puts the halves back together. Fails (returning both) when `receiver` belongs to
    /// another WebSocket.
    pub fn reunite(self, receiver: WsReceiver<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &receiver.shared) {
            return Err(ReuniteError(self, receiver));
        }
        drop(receiver);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => {
                let core = shared
                    .core
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner);
                Ok(WebSocket { core })
            }
            // Unreachable: the halves hold the only two references. Rebuild both.
            Err(shared) => Err(ReuniteError(
                WsSender {
                    shared: shared.clone(),
                },
                WsReceiver { shared },
            )),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReceiver<S> {
    /// Receives the next message; `None` once the connection is over. See
    /// [`WebSocket::recv`].
    ///
    /// # Cancel safety
    /// Cancel safe: all progress is kept in the shared connection.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| {
            self.shared
                .poll_with(Half::Receiver, cx, |c, cx| c.poll_recv(cx))
        })
        .await
    }

    /// Puts the halves back together; see [`WsSender::reunite`].
    pub fn reunite(self, sender: WsSender<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        sender.reunite(self)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WsReceiver<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared
            .poll_with(Half::Receiver, cx, |c, cx| c.poll_recv(cx))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WsSender<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .poll_with(Half::Sender, cx, |c, cx| c.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.with(Half::Sender, |c| c.start_send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .poll_with(Half::Sender, cx, |c, cx| c.poll_flush(cx))
    }

    /// Queues a close frame (1000) if the closing handshake has not started, and flushes.
    /// The receiver sees the end of the connection.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll_with(Half::Sender, cx, |c, cx| {
            c.start_close(CloseCode::NORMAL, "")?;
            match c.poll_flush(cx) {
                Poll::Ready(Err(e)) if e.is_closed() => Poll::Ready(Ok(())),
                other => other,
            }
        })
    }
}
