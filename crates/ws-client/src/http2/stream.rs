//! [`H2Stream`]: one HTTP/2 stream seen as a `futures-io` byte stream, which a
//! [`WebSocket`](crate::WebSocket) runs on like on a TCP stream.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};

use super::pool::StreamSlot;
use super::Http2Error;

/// The most a write asks h2 for at once: bytes of ours h2 holds stay bounded by the
/// window and this.
const MAX_CHUNK: usize = 64 << 10;

/// One HTTP/2 stream (an RFC 8441 extended CONNECT) as a byte stream: reads are the
/// peer's DATA frames, writes become our DATA frames, `close` sends END_STREAM (on an
/// empty trailer section).
///
/// * Reading releases flow-control capacity as the bytes are consumed, so unread input is
///   bounded by the stream's window; empty DATA frames are skipped (they are not EOF).
/// * Writing asks for send capacity and writes no more than was granted (at most 64 KiB at
///   a time): a peer that never opens its window makes writes wait, which the WebSocket's
///   write timeout turns into an error.
/// * A stream reset or a GOAWAY is an I/O error (`ConnectionReset`, `ConnectionAborted`)
///   whose inner error is an [`Http2Error`] ([`Error::http2_error`](crate::Error::http2_error)).
/// * Dropping it before both sides ended resets the stream (`CANCEL`); the other streams
///   of the connection go on.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received bytes not read yet (their capacity is released as they are read).
    pending: Bytes,
    eos_sent: bool,
    secure: bool,
    /// The pool's count of streams on this connection (client streams only).
    _slot: Option<StreamSlot>,
    /// A handle on the connection (client streams only), asked whether a GOAWAY came when
    /// the connection ends under the stream. It keeps the connection no longer than the
    /// stream itself does.
    connection: Option<SendRequest<Bytes>>,
}

impl fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Stream")
            .field("stream_id", &self.send.stream_id().as_u32())
            .field("secure", &self.secure)
            .field("pending", &self.pending.len())
            .field("eos_sent", &self.eos_sent)
            .finish_non_exhaustive()
    }
}

impl H2Stream {
    /// A stream from h2's halves, for a server role built on `h2::server` (after answering
    /// the extended CONNECT with a 2xx, `respond.send_response(.., false)` gives `send`, the
    /// request's body is `recv`). `secure` says whether the connection runs over TLS.
    pub fn from_h2(send: SendStream<Bytes>, recv: RecvStream, secure: bool) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
            eos_sent: false,
            secure,
            _slot: None,
            connection: None,
        }
    }

    pub(crate) fn client(
        send: SendStream<Bytes>,
        recv: RecvStream,
        secure: bool,
        slot: StreamSlot,
        connection: SendRequest<Bytes>,
    ) -> Self {
        let mut stream = Self::from_h2(send, recv, secure);
        stream._slot = Some(slot);
        stream.connection = Some(connection);
        stream
    }

    /// `e` as an I/O error; when the connection ended under the stream after the server's
    /// GOAWAY (h2 then reports a broken pipe), that GOAWAY.
    fn error(&mut self, e: h2::Error, cx: &mut Context<'_>) -> io::Error {
        if e.is_io() {
            if let Some(connection) = self.connection.as_mut() {
                if let Poll::Ready(Err(conn)) = connection.poll_ready(cx) {
                    if conn.is_go_away() {
                        return Http2Error::from_h2(conn);
                    }
                }
            }
        }
        Http2Error::from_h2(e)
    }

    /// Whether the h2 connection runs over TLS (`wss://`; `false` for h2c).
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// The stream's id on its connection.
    pub fn stream_id(&self) -> u32 {
        self.send.stream_id().as_u32()
    }

    /// The error for a send side that h2 closed: the reset's reason if there was one.
    fn send_closed(&mut self, cx: &mut Context<'_>) -> io::Error {
        match self.send.poll_reset(cx) {
            Poll::Ready(Ok(reason)) => Http2Error::reset(u32::from(reason), true).into_io(),
            Poll::Ready(Err(e)) => self.error(e, cx),
            Poll::Pending => io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the HTTP/2 stream is closed for sending",
            ),
        }
    }

    /// Waits for send capacity; returns how much there is (never 0).
    fn poll_capacity(&mut self, cx: &mut Context<'_>, wanted: usize) -> Poll<io::Result<usize>> {
        loop {
            let capacity = self.send.capacity();
            if capacity > 0 {
                return Poll::Ready(Ok(capacity));
            }
            self.send.reserve_capacity(wanted.min(MAX_CHUNK));
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(self.error(e, cx))),
                None => return Poll::Ready(Err(self.send_closed(cx))),
            }
        }
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if !this.pending.is_empty() {
                let n = buf.len().min(this.pending.len());
                buf[..n].copy_from_slice(&this.pending[..n]);
                this.pending.advance(n);
                // The window reopens as the WebSocket consumes, not as bytes arrive. An
                // error here means the stream is gone, which the next read reports.
                let _ = this.recv.flow_control().release_capacity(n);
                return Poll::Ready(Ok(n));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.pending = data,
                Some(Err(e)) => return Poll::Ready(Err(this.error(e, cx))),
                None => return Poll::Ready(Ok(0)),
            }
        }
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    /// Copies as much of `bufs` as the granted capacity allows into one DATA frame's
    /// buffer (a frame header and its payload leave in one frame).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if this.eos_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the HTTP/2 stream was closed for sending",
            )));
        }
        let capacity = ready!(this.poll_capacity(cx, total))?;
        let n = capacity.min(total);
        let mut data = BytesMut::with_capacity(n);
        for b in bufs {
            let take = (n - data.len()).min(b.len());
            data.extend_from_slice(&b[..take]);
            if data.len() == n {
                break;
            }
        }
        match this.send.send_data(data.freeze(), false) {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(this.error(e, cx))),
        }
    }

    /// h2 owns the socket and writes what it was handed (bounded by the granted capacity):
    /// nothing to flush here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Ends our side of the stream (END_STREAM), once, with an empty trailer section (a
    /// HEADERS frame) rather than an empty DATA frame. Hypercorn 0.18 forgets a WebSocket's
    /// stream as soon as the closing handshake is done, and a DATA frame that arrives for it
    /// afterwards raises in its connection handler and ends the whole connection, every
    /// other WebSocket on it included (`hypercorn/protocol/h2.py` `_handle_events`:
    /// `DataReceived` lacks the `KeyError` guard `StreamEnded` has). Trailers end the stream
    /// the same way for every server, and Hypercorn ignores them.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.eos_sent {
            this.eos_sent = true;
            // END_STREAM on an empty trailer section, not on an empty DATA frame: Hypercorn
            // (0.18) forgets a WebSocket's stream once the closing handshake is done and
            // fails the whole connection on a DATA frame for it, but ignores trailers. A
            // stricter server may answer trailers on a tunnel with RST_STREAM: harmless, as
            // the WebSocket is closed by then. A stream already reset has nothing to end.
            let _ = this.send.send_trailers(http::HeaderMap::new());
        }
        Poll::Ready(Ok(()))
    }
}

/// A stream whose first reads return `prefix`: bytes a proxy passed on with its answer,
/// which belong to the h2 connection.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = buf.len().min(this.prefix.len() - this.at);
            buf[..n].copy_from_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
