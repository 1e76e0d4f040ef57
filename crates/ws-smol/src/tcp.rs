//! [`TcpStream`]: a TCP stream on the `async-io` reactor (the one smol and async-std run
//! on) that waits for readiness before reading once it knows the socket is drained.
//!
//! `async-net`'s and async-std's own `TcpStream`s read first and ask the reactor second,
//! on every read. The reactor arms its interest one-shot, so a connection that reads a
//! message and then waits for the next one pays a read that fails with `EAGAIN`, and often
//! a second one: the readiness event that woke the previous read is still recorded, so the
//! first `poll_readable` after it answers "ready" for data already consumed (`strace -c`
//! on `cargo xtask bench echo` shows it: ~3 `recvfrom` per round trip instead of one).
//!
//! This stream keeps one bit instead: whether the last read proved the socket empty (it
//! filled less than the buffer, or failed with `WouldBlock`). If so, the next read asks the
//! reactor first, and reads only once it reports readiness: one `recvfrom` and one re-arm
//! (`epoll_ctl`) per wait. Nothing is lost by trusting a short read: re-arming a one-shot
//! interest reports data that arrived in between at once (epoll, kqueue and the Windows
//! AFD poll are level-triggered on re-arm), which is what tokio relies on too.

use std::io::{self, IoSlice, Read};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};

/// A TCP connection on the `async-io` reactor, with reads that wait for readiness when
/// the socket is known to be empty (see the module docs).
///
/// [`get_ref`](Self::get_ref) gives the `std::net::TcpStream` for addresses and socket
/// options (`nodelay`, `peer_addr`, `set_ttl`, ...).
#[derive(Debug)]
pub struct TcpStream {
    io: Async<std::net::TcpStream>,
    /// False when the last read proved the socket empty: ask the reactor before reading.
    maybe_readable: bool,
}

impl TcpStream {
    /// Connects to `addr` without blocking the executor.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        Ok(TcpStream::from_async(
            Async::<std::net::TcpStream>::connect(addr).await?,
        ))
    }

    /// Wraps a standard TCP stream (puts it in non-blocking mode and registers it with the
    /// reactor).
    pub fn from_std(tcp: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream::from_async(Async::new(tcp)?))
    }

    fn from_async(io: Async<std::net::TcpStream>) -> TcpStream {
        TcpStream {
            io,
            maybe_readable: true,
        }
    }

    /// The standard stream inside, for addresses and socket options. Reading or writing
    /// through it bypasses the reactor; don't.
    pub fn get_ref(&self) -> &std::net::TcpStream {
        self.io.get_ref()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }

    /// Whether `TCP_NODELAY` is on (it is on every connection [`crate::connect`] opens).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.get_ref().nodelay()
    }

    /// Turns `TCP_NODELAY` on or off.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(on)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if !this.maybe_readable {
                ready!(this.io.poll_readable(cx))?;
                this.maybe_readable = true;
            }
            let mut tcp = this.io.get_ref();
            match tcp.read(buf) {
                Ok(n) => {
                    // A short read emptied the socket (an empty one is EOF, which stays
                    // readable: the next read asks the reactor and gets it at once).
                    this.maybe_readable = n == buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => this.maybe_readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &self.io).poll_flush(cx)
    }

    /// Shuts the write half down (FIN), as async-std's `TcpStream` does.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.get_ref().shutdown(Shutdown::Write))
    }
}
