//! The native-tls backend: native-tls over any `futures-io` stream, on every runtime.
//!
//! native-tls works on blocking `std::io::{Read, Write}`; this module bridges it in safe
//! code: the inner stream is polled with the task's waker and `Pending` becomes
//! `WouldBlock`, which native-tls hands back unchanged for us to turn into `Pending` again
//! (what `tokio-native-tls` does for tokio, here once for every runtime). It takes a
//! connector the user built (a private root CA, a client identity), which
//! `async-native-tls` cannot.

use std::fmt;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_io::{AsyncRead, AsyncWrite};

use super::{TlsBackend, TlsError, TlsErrorKind};
use crate::error::Error;

/// A TLS session over the stream `S`, client side (from `wss://` connects) or server side
/// (from [`accept`]).
pub struct TlsStream<S> {
    inner: native_tls::TlsStream<Bridge<S>>,
    shut_down: bool,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

/// Runs the client TLS handshake for `server_name` over `stream` with `connector`, or the
/// default connector (system roots; `alpn` offered) when `None`.
pub(crate) async fn connect<S>(
    connector: Option<&native_tls::TlsConnector>,
    server_name: &str,
    alpn: &[&[u8]],
    stream: S,
) -> Result<super::TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let fail = |e: native_tls::Error| {
        let text = e.to_string().to_ascii_lowercase();
        let kind = if text.contains("certificate") {
            TlsErrorKind::Certificate
        } else if NOT_TLS.iter().any(|s| text.contains(s)) {
            TlsErrorKind::NotTls
        } else {
            TlsErrorKind::Other
        };
        TlsError::new(server_name, TlsBackend::NativeTls, kind, e).into_error()
    };
    let built;
    let connector = match connector {
        Some(c) => c,
        None => {
            built = default_connector(alpn).map_err(fail)?;
            &built
        }
    };
    let tls = handshake(|bridge| connector.connect(server_name, bridge), stream)
        .await
        .map_err(fail)?;
    Ok(super::TlsStream::NativeTls(tls))
}

/// What OpenSSL says when the server's alert refuses our client certificate.
const CLIENT_CERT_ALERTS: [&str; 6] = [
    "alert certificate required",
    "alert bad certificate",
    "alert unknown ca",
    "alert certificate unknown",
    "alert certificate revoked",
    "alert certificate expired",
];

/// Whether `e` is the server's alert refusing our client certificate (or asking for one).
pub(crate) fn refuses_client_certificate(e: &io::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    CLIENT_CERT_ALERTS.iter().any(|alert| text.contains(alert))
}

/// What OpenSSL says when the peer's first bytes are not a TLS record (a plain HTTP server
/// answering the ClientHello).
const NOT_TLS: [&str; 3] = [
    "wrong version number",
    "packet length too long",
    "http request",
];

/// The system-roots connector, built once per process (loading the trust store is not
/// free); a connector offering other ALPN protocols is built for the call.
fn default_connector(alpn: &[&[u8]]) -> Result<native_tls::TlsConnector, native_tls::Error> {
    if !alpn.is_empty() {
        let names: Vec<&str> = alpn
            .iter()
            .filter_map(|p| std::str::from_utf8(p).ok())
            .collect();
        return native_tls::TlsConnector::builder()
            .request_alpns(&names)
            .build();
    }
    static DEFAULT: std::sync::OnceLock<native_tls::TlsConnector> = std::sync::OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    let built = native_tls::TlsConnector::new()?;
    Ok(DEFAULT.get_or_init(|| built).clone())
}

/// Runs the server TLS handshake over `stream` (for test servers and embedded servers on
/// any runtime).
///
/// # Cancel safety
/// Not resumable: dropping the future drops the stream mid-handshake.
pub async fn accept<S>(
    acceptor: &native_tls::TlsAcceptor,
    stream: S,
) -> Result<TlsStream<S>, native_tls::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake(|bridge| acceptor.accept(bridge), stream).await
}

type Started<S> = Result<native_tls::TlsStream<Bridge<S>>, native_tls::HandshakeError<Bridge<S>>>;

async fn handshake<S, F>(start: F, stream: S) -> Result<TlsStream<S>, native_tls::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(Bridge<S>) -> Started<S>,
{
    let mut start = Some(start);
    let mut stream = Some(stream);
    let mut mid: Option<native_tls::MidHandshakeTlsStream<Bridge<S>>> = None;
    std::future::poll_fn(move |cx| {
        let step = if let Some(mut m) = mid.take() {
            m.get_mut().set_waker(cx.waker());
            m.handshake()
        } else {
            match (start.take(), stream.take()) {
                (Some(start), Some(stream)) => start(Bridge {
                    inner: stream,
                    waker: Some(cx.waker().clone()),
                }),
                // Unreachable in practice: a finished poll_fn is never polled again by `.await`.
                _ => return Poll::Pending,
            }
        };
        match step {
            Ok(inner) => Poll::Ready(Ok(TlsStream {
                inner,
                shut_down: false,
            })),
            Err(native_tls::HandshakeError::WouldBlock(m)) => {
                mid = Some(m);
                Poll::Pending
            }
            Err(native_tls::HandshakeError::Failure(e)) => Poll::Ready(Err(e)),
        }
    })
    .await
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// The stream under the TLS session.
    pub fn get_ref(&self) -> &S {
        &self.inner.get_ref().inner
    }

    /// The stream under the TLS session, mutably (writing to it corrupts the session).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner.get_mut().inner
    }

    /// The peer's leaf certificate, if it sent one.
    pub fn peer_certificate(&self) -> Result<Option<native_tls::Certificate>, native_tls::Error> {
        self.inner.peer_certificate()
    }

    /// The protocol the server chose with ALPN, if any.
    pub fn negotiated_alpn(&self) -> Option<Vec<u8>> {
        self.inner.negotiated_alpn().ok().flatten()
    }

    fn with_waker<R>(
        &mut self,
        cx: &Context<'_>,
        f: impl FnOnce(&mut native_tls::TlsStream<Bridge<S>>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.inner.get_mut().set_waker(cx.waker());
        match f(&mut self.inner) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            other => Poll::Ready(other),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().with_waker(cx, |s| s.read(buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().with_waker(cx, |s| s.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().with_waker(cx, |s| s.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.shut_down {
            // Sends close_notify once; a second call would wait for the peer's.
            match this.with_waker(cx, |s| s.shutdown()) {
                Poll::Ready(Ok(())) => this.shut_down = true,
                other => return other,
            }
        }
        Pin::new(&mut this.inner.get_mut().inner).poll_close(cx)
    }
}

/// Blocking-style `Read`/`Write` over a `futures-io` stream, for native-tls: polls the
/// inner stream with the waker of the task currently driving the TLS stream.
struct Bridge<S> {
    inner: S,
    waker: Option<Waker>,
}

impl<S> fmt::Debug for Bridge<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl<S> Bridge<S> {
    fn set_waker(&mut self, waker: &Waker) {
        match &mut self.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    fn poll<R>(
        &mut self,
        f: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> io::Result<R>
    where
        S: Unpin,
    {
        let Some(waker) = &self.waker else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let mut cx = Context::from_waker(waker);
        match f(Pin::new(&mut self.inner), &mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncRead + Unpin> Read for Bridge<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.poll(|s, cx| s.poll_read(cx, buf))
    }
}

impl<S: AsyncWrite + Unpin> Write for Bridge<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.poll(|s, cx| s.poll_write(cx, buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.poll(|s, cx| s.poll_flush(cx))
    }
}
