//! What `ws-client` needs from an async runtime: time ([`Timer`], [`Sleep`]) and, for
//! [`connect`](crate::connect::connect), a way to open TCP and TLS streams ([`Runtime`]).
//!
//! `ws-client` names no runtime. The runtime crates (`ws-tokio`, `ws-async-std`) implement
//! these traits and only move bytes and time; the connect flow (timeouts, TLS choice, the
//! handshake, error wording) lives once in [`crate::connect`].
//!
//! Streams are `futures-io` [`AsyncRead`] + [`AsyncWrite`]; a runtime whose sockets use other
//! traits (tokio) wraps them in a small adapter.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::Error;

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

/// Everything [`connect`](crate::connect::connect) needs from a runtime: DNS + TCP, TLS and
/// time. A runtime crate implements this once; the connect flow itself (timeouts, which
/// step failed, TLS for `wss://`, the WebSocket handshake) is shared.
///
/// Proxies fit between [`connect_tcp`](Runtime::connect_tcp) and [`tls`](Runtime::tls): the
/// flow connects TCP to the proxy, opens the tunnel over it, and the TLS session runs over
/// that same [`Runtime::Tcp`] stream, to the target host. Names are looked up with
/// [`resolve`](Runtime::resolve) first (a `socks5://` proxy is sent an address).
pub trait Runtime: Send + Sync + 'static {
    /// A connected TCP stream. The runtime sets `TCP_NODELAY` on it: WebSocket frames are
    /// written whole and flushed once per batch, so Nagle's algorithm only adds latency.
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The stream a [`WebSocket`](crate::stream::WebSocket) runs on: plain TCP or TLS
    /// over TCP (typically an enum of both).
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Resolves `host` (a DNS name or an IP literal, IPv6 without brackets) and connects to
    /// the first address that answers on `port`.
    ///
    /// The caller bounds this with the connect timeout and adds the host and port to the
    /// error, so the runtime returns the plain I/O error. After a successful
    /// [`resolve`](Runtime::resolve) the flow calls this once per address (an IP literal),
    /// several at a time, and drops the futures of the attempts that lost: dropping one must
    /// close its socket.
    fn connect_tcp<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Self::Tcp>>;

    /// Resolves `host` (a DNS name) to its addresses. The connect flow looks names up
    /// before connecting, so that a failed lookup is reported as such rather than as a
    /// failed connect, then races the addresses (Happy Eyeballs, RFC 8305: IPv6 and IPv4
    /// interleaved, a new attempt every 250 ms, the first to connect wins), calling
    /// [`connect_tcp`](Runtime::connect_tcp) with each address; a `socks5://` proxy is sent
    /// an address rather than the name.
    ///
    /// The default returns an `Unsupported` error: the flow then passes the name itself to
    /// [`connect_tcp`](Runtime::connect_tcp), and a `socks5://` proxy fails with a message
    /// saying to use `socks5h://` (the proxy resolves the name). The runtime crates
    /// implement it with their resolver. The caller bounds it with the open timeout and
    /// names the host in the error.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let _ = host;
        Box::pin(async {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this runtime cannot resolve names for a socks5:// proxy; use socks5:// with \
                 an IP address or socks5h:// (the proxy resolves the name)",
            ))
        })
    }

    /// Wraps a TCP stream as a plain (`ws://`) stream.
    fn plain(&self, tcp: Self::Tcp) -> Self::Stream;

    /// Runs a TLS client handshake for `domain` over `tcp` (`wss://`).
    ///
    /// The caller bounds this with the open timeout (a timeout is reported as
    /// `Error::Timeout` with [`Step::Tls`](crate::error::Step::Tls)). Errors should say that
    /// TLS failed, for which host, and why (certificate, protocol): typically an
    /// [`Error::Io`] whose message starts with "TLS handshake with {domain} failed".
    fn tls<'a>(
        &'a self,
        domain: &'a str,
        tcp: Self::Tcp,
    ) -> BoxFuture<'a, Result<Self::Stream, Error>>;

    /// The timer given to every [`WebSocket`](crate::stream::WebSocket) this runtime opens.
    fn timer(&self) -> Arc<dyn Timer>;
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
