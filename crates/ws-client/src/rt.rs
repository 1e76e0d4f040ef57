//! What `ws-client` needs from an async runtime: time ([`Timer`], [`Sleep`]) and, for
//! [`connect`](crate::connect::connect), DNS and TCP ([`Runtime`]).
//!
//! `ws-client` names no runtime. The runtime crates (`ws-tokio`, `ws-smol`, `ws-async-std`)
//! implement these traits and only move bytes and time; TLS is a separate trait
//! ([`TlsConnect`](crate::tls::TlsConnect)) over any stream, and the connect flow
//! (timeouts, proxies, TLS, the handshake, redirects, error wording) lives once in
//! [`crate::connect`].
//!
//! Streams are `futures-io` [`AsyncRead`] + [`AsyncWrite`]; a runtime whose sockets use other
//! traits (tokio) wraps them in a small adapter.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, `Send` future, as returned by the [`Runtime`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A source of time: sleeps and the current instant.
///
/// The sans-I/O [`Connection`](crate::proto::Connection) never reads the clock; the async
/// [`WebSocket`](crate::stream::WebSocket) asks the timer for `now()` when a deadline
/// fires and sleeps until the next deadline (keepalive ping, pong deadline, close timeout).
/// A `WebSocket` without a timer has no timeouts at all.
pub trait Timer: Send + Sync + Debug + 'static {
    /// Returns a future that completes at (or shortly after) `deadline`.
    ///
    /// A deadline in the past completes at once. The `WebSocket` creates one sleep per
    /// distinct deadline, not one per message.
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>>;

    /// The current instant, as this timer sees it. Test timers can return a virtual clock.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A sleep created by a [`Timer`]: a future that completes once its deadline has passed.
pub trait Sleep: Future<Output = ()> + Send + Sync {}

/// Everything [`connect`](crate::connect::connect) needs from a runtime: DNS, TCP and
/// time. A runtime crate implements this once; the connect flow itself (Happy Eyeballs,
/// timeouts, which step failed, proxies, TLS for `wss://`, the WebSocket handshake,
/// redirects) is shared, and TLS runs over [`Runtime::Tcp`] through
/// [`TlsConnect`](crate::tls::TlsConnect), whatever the runtime.
pub trait Runtime: Send + Sync + 'static {
    /// A connected TCP stream. The runtime sets `TCP_NODELAY` on it: WebSocket frames are
    /// written whole and flushed once per batch, so Nagle's algorithm only adds latency.
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Connects to `addr`.
    ///
    /// The caller bounds this with the connect timeout and adds the host and port to the
    /// error, so the runtime returns the plain I/O error. The flow calls this once per
    /// resolved address, several at a time (Happy Eyeballs), and drops the futures of the
    /// attempts that lost: dropping one must close its socket.
    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::Tcp>>;

    /// Resolves `host` (a DNS name) to its addresses. The connect flow looks names up
    /// before connecting, so that a failed lookup is reported as such rather than as a
    /// failed connect, then races the addresses (Happy Eyeballs, RFC 8305: IPv6 and IPv4
    /// interleaved, a new attempt every 250 ms, the first to connect wins); a `socks5://`
    /// proxy is sent an address rather than the name.
    ///
    /// The caller bounds it with the connect timeout and names the host in the error.
    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;

    /// The timer given to every [`WebSocket`](crate::stream::WebSocket) this runtime opens.
    fn timer(&self) -> Arc<dyn Timer>;

    /// The runtime's name, for logs (the `tracing` feature's connection span): `"tokio"`,
    /// `"smol"`, `"async-std"`; `"custom"` unless an implementation says otherwise.
    const NAME: &'static str = "custom";

    /// Runs `task` in the background until it ends.
    ///
    /// Used for shared connections only: the HTTP/2 connection driver (feature `http2`)
    /// runs as one task per h2 connection, never one per WebSocket, and ends when the
    /// connection closes. A WebSocket itself is driven by whoever polls it, as always.
    ///
    /// The default runs the task on a dedicated thread ([`spawn_thread`]); `ws-tokio`
    /// spawns a tokio task and `ws-async-std` an async-std task instead.
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        spawn_thread(task);
    }
}

/// Runs `task` to its end on a new thread (named `aiows-bg`) that parks while the task is
/// pending and is unparked by its waker: the default [`Runtime::spawn`], for runtimes
/// whose I/O and timers work from any thread (async-io's reactor, tokio's while its
/// runtime lives). If the thread cannot be created the task is dropped, which closes what
/// it drives.
pub fn spawn_thread(task: BoxFuture<'static, ()>) {
    let spawned = std::thread::Builder::new()
        .name("aiows-bg".to_owned())
        .spawn(move || block_on(task));
    drop(spawned);
}

/// Wakes a parked thread.
struct ThreadWaker(std::thread::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `task` on this thread until it is ready, parking in between. A wake-up that comes
/// while the task is being polled leaves the thread's token set, so none is lost; spurious
/// wake-ups only cost a poll.
fn block_on(mut task: BoxFuture<'static, ()>) {
    let waker = std::task::Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    while task.as_mut().poll(&mut cx).is_pending() {
        std::thread::park();
    }
}

/// Outcome of [`Deadline`]: the inner future's output, or `Elapsed`.
pub(crate) enum Timed<T> {
    Done(T),
    Elapsed,
}

/// Runs a future with an optional deadline, polling the inner future first so a result that
/// is ready wins over an expired deadline.
pub(crate) struct Deadline<F> {
    fut: F,
    sleep: Option<Pin<Box<dyn Sleep>>>,
}

impl<F: Future + Unpin> Deadline<F> {
    /// Bounds `fut` by `timeout` from now, measured with `timer`. No timer or no timeout
    /// means no bound.
    pub(crate) fn new(
        fut: F,
        timer: Option<&Arc<dyn Timer>>,
        timeout: Option<std::time::Duration>,
    ) -> Self {
        let sleep = match (timer, timeout) {
            (Some(timer), Some(timeout)) => {
                let now = timer.now();
                // An absurd timeout (past the end of `Instant`) means "no bound".
                now.checked_add(timeout).map(|at| timer.sleep_until(at))
            }
            _ => None,
        };
        Deadline { fut, sleep }
    }
}

impl<F: Future + Unpin> Future for Deadline<F> {
    type Output = Timed<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.fut).poll(cx) {
            return Poll::Ready(Timed::Done(out));
        }
        match this.sleep.as_mut() {
            Some(sleep) => match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Timed::Elapsed),
                Poll::Pending => Poll::Pending,
            },
            None => Poll::Pending,
        }
    }
}
