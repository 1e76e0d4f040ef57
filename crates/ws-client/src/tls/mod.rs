//! TLS for `wss://`, written once for every runtime: the [`TlsConnect`] trait the connect
//! flow wraps a stream with, the [`TlsConnector`] users configure (native-tls or rustls),
//! the [`MaybeTlsStream`] a connection runs on, and the one wording of TLS failures
//! ([`TlsError`]).
//!
//! ```text
//!  runtime (ws-tokio, ws-smol, ...) ──TCP stream (futures-io)──▶ TlsConnect::connect(name, alpn)
//!      native-tls: tls/native.rs (a bridge to native-tls's blocking-style API)
//!      rustls:     tls/rustls.rs (futures-rustls)
//!  ──▶ MaybeTlsStream::{Plain, Tls} ──▶ WebSocket
//! ```
//!
//! A backend only wraps a stream: it names no runtime, opens no socket and reads no clock
//! (the connect flow bounds it with the open timeout).
//!
//! ```no_run
//! # #[cfg(feature = "rustls")]
//! # fn demo(config: std::sync::Arc<rustls::ClientConfig>) {
//! use ws_client::tls::{TlsBackend, TlsConnector};
//!
//! let tls = TlsConnector::rustls(config);
//! assert_eq!(tls.backend(), Some(TlsBackend::Rustls));
//! let options = ws_client::ConnectOptions::new("wss://feed.example/").tls(tls);
//! # drop(options); }
//! ```

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::{Error, TlsParts};
use crate::rt::BoxFuture;

pub use error::{TlsBackend, TlsError, TlsErrorKind};

pub(crate) mod error;
#[cfg(feature = "native-tls")]
pub mod native;
#[cfg(feature = "rustls")]
pub mod rustls;

/// Wraps a connected stream in a TLS client session: the one thing the connect flow needs
/// from a TLS library.
///
/// `server_name` is the URL's host (a DNS name, or an IP literal without brackets): it is
/// sent as SNI where it is a name and the server's certificate must be valid for it.
/// `alpn` lists the application protocols to offer, most preferred first (empty: send no
/// ALPN extension, which is what WebSockets over HTTP/1.1 do).
///
/// Implemented by [`TlsConnector`] for every `futures-io` stream; implement it to plug in
/// another TLS library.
pub trait TlsConnect<S>: Send + Sync {
    /// The TLS stream over `S`.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Runs the client handshake over `stream`.
    ///
    /// Errors should be [`TlsError`]s (through [`TlsError::into_error`]) so that they read
    /// like every other TLS failure and [`Error::is_tls_certificate`] works.
    ///
    /// # Cancel safety
    /// Not resumable: dropping the future drops the stream mid-handshake.
    fn connect<'a>(
        &'a self,
        server_name: &'a str,
        alpn: &'a [&'a [u8]],
        stream: S,
    ) -> BoxFuture<'a, Result<Self::Stream, Error>>;

    /// A short name of the TLS library (`"rustls"`, `"native-tls"`), for logs: the `tls`
    /// field of a connection's span with the `tracing` feature. `"custom"` unless the
    /// implementation says otherwise.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// The application protocol the server chose with ALPN on `stream` (`b"h2"`,
    /// `b"http/1.1"`), or `None`: none was negotiated, or this implementation cannot tell.
    ///
    /// The connect flow reads it when HTTP/2 is wanted (feature `http2`): `None` then
    /// means HTTP/1.1. The default returns `None`.
    fn negotiated_alpn(&self, stream: &Self::Stream) -> Option<Vec<u8>> {
        let _ = stream;
        None
    }
}

/// The TLS settings of a client: which library, and its configuration.
///
/// [`TlsConnector::default()`] uses the build's default backend
/// ([`TlsBackend::default_for_build`]) with the system's trust roots (or, for rustls with
/// the `webpki-roots` feature, Mozilla's bundled roots) and SNI on; the configuration is
/// built on first use and shared. [`native_tls`](Self::native_tls) and
/// [`rustls`](Self::rustls) take one you built: a private root CA, a client certificate,
/// pinned protocol versions.
///
/// Cloning is cheap (both libraries' connectors are reference counted).
#[derive(Clone, Default)]
pub struct TlsConnector {
    inner: Inner,
}

#[derive(Clone, Default)]
enum Inner {
    #[default]
    Default,
    #[cfg(feature = "native-tls")]
    // In an `Arc`: one address per configuration, whatever the clones (the h2 pool's key).
    NativeTls(std::sync::Arc<native_tls::TlsConnector>),
    #[cfg(feature = "rustls")]
    Rustls(std::sync::Arc<::rustls::ClientConfig>),
}

impl TlsConnector {
    /// Uses `connector` (native-tls) for `wss://`. Its ALPN setting, if any, is used as is.
    #[cfg(feature = "native-tls")]
    pub fn native_tls(connector: native_tls::TlsConnector) -> Self {
        TlsConnector {
            inner: Inner::NativeTls(std::sync::Arc::new(connector)),
        }
    }

    /// Uses `config` (rustls) for `wss://`. When the connect flow asks for ALPN protocols
    /// other than the config's, a copy with them is used for that connection.
    #[cfg(feature = "rustls")]
    pub fn rustls(config: std::sync::Arc<::rustls::ClientConfig>) -> Self {
        TlsConnector {
            inner: Inner::Rustls(config),
        }
    }

    /// Which library this connector uses (`None`: none is compiled in).
    pub fn backend(&self) -> Option<TlsBackend> {
        match &self.inner {
            Inner::Default => TlsBackend::default_for_build(),
            #[cfg(feature = "native-tls")]
            Inner::NativeTls(_) => Some(TlsBackend::NativeTls),
            #[cfg(feature = "rustls")]
            Inner::Rustls(_) => Some(TlsBackend::Rustls),
        }
    }

    /// Whether this is the build's default (no configuration given).
    pub fn is_default(&self) -> bool {
        matches!(self.inner, Inner::Default)
    }

    /// Tells configurations apart for the HTTP/2 pool: 0 for the default, else the address
    /// of the shared configuration (the pool keeps a clone, so the address is not reused
    /// while it matters).
    #[cfg(feature = "http2")]
    pub(crate) fn identity(&self) -> usize {
        match &self.inner {
            Inner::Default => 0,
            #[cfg(feature = "native-tls")]
            Inner::NativeTls(c) => std::sync::Arc::as_ptr(c) as usize,
            #[cfg(feature = "rustls")]
            Inner::Rustls(config) => std::sync::Arc::as_ptr(config) as usize,
        }
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("backend", &self.backend().map(TlsBackend::name))
            .field("default", &self.is_default())
            .finish()
    }
}

impl<S> TlsConnect<S> for TlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;

    fn connect<'a>(
        &'a self,
        server_name: &'a str,
        alpn: &'a [&'a [u8]],
        stream: S,
    ) -> BoxFuture<'a, Result<TlsStream<S>, Error>> {
        let _ = alpn;
        let session: BoxFuture<'a, Result<TlsStream<S>, Error>> = match &self.inner {
            #[cfg(feature = "rustls")]
            Inner::Default => Box::pin(async move {
                let config = rustls::default_config(server_name)?;
                rustls::connect(&config, server_name, alpn, stream).await
            }),
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Inner::Default => Box::pin(native::connect(None, server_name, alpn, stream)),
            #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
            Inner::Default => {
                drop(stream);
                Box::pin(async move { Err(no_tls_error(server_name)) })
            }
            #[cfg(feature = "native-tls")]
            Inner::NativeTls(c) => Box::pin(native::connect(Some(&**c), server_name, alpn, stream)),
            #[cfg(feature = "rustls")]
            Inner::Rustls(config) => Box::pin(rustls::connect(config, server_name, alpn, stream)),
        };
        #[cfg(feature = "tracing")]
        let session: BoxFuture<'a, Result<TlsStream<S>, Error>> = Box::pin(async move {
            let stream = session.await?;
            crate::trace::debug!(
                backend = stream.backend().name(),
                server_name,
                version = stream.protocol_version(),
                alpn = stream
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(&p).into_owned()),
                "TLS established"
            );
            Ok(stream)
        });
        session
    }

    fn name(&self) -> &'static str {
        self.backend().map_or("none", TlsBackend::name)
    }

    fn negotiated_alpn(&self, stream: &TlsStream<S>) -> Option<Vec<u8>> {
        stream.alpn_protocol()
    }
}

/// `wss://` in a build without a TLS backend.
#[cfg(not(any(feature = "native-tls", feature = "rustls")))]
fn no_tls_error(server_name: &str) -> Error {
    Error::from(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "cannot open wss:// to {server_name}: this build has no TLS library; enable the \
             `rustls` or `native-tls` feature"
        ),
    ))
}

/// A TLS session over `S`, from one of the backends.
#[non_exhaustive]
pub enum TlsStream<S> {
    /// native-tls.
    #[cfg(feature = "native-tls")]
    NativeTls(native::TlsStream<S>),
    /// rustls (boxed: its session state is large, and plain connections should not pay
    /// for it in [`MaybeTlsStream`]).
    #[cfg(feature = "rustls")]
    Rustls(Box<futures_rustls::client::TlsStream<S>>),
    #[doc(hidden)]
    _Never(std::convert::Infallible, std::marker::PhantomData<S>),
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("backend", &self.backend().name())
            .finish_non_exhaustive()
    }
}

impl<S> TlsStream<S> {
    /// The library running this session.
    pub fn backend(&self) -> TlsBackend {
        match self {
            #[cfg(feature = "native-tls")]
            Self::NativeTls(_) => TlsBackend::NativeTls,
            #[cfg(feature = "rustls")]
            Self::Rustls(_) => TlsBackend::Rustls,
            Self::_Never(never, _) => match *never {},
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// The stream under the TLS session.
    pub fn get_ref(&self) -> &S {
        match self {
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => s.get_ref(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.get_ref().0,
            Self::_Never(never, _) => match *never {},
        }
    }

    /// The application protocol the server chose with ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        match self {
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => s.negotiated_alpn(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.get_ref().1.alpn_protocol().map(<[u8]>::to_vec),
            Self::_Never(never, _) => match *never {},
        }
    }

    /// The negotiated protocol version (`"TLSv1.3"`, ...), where the library tells it
    /// (rustls does; native-tls does not).
    pub fn protocol_version(&self) -> Option<String> {
        match self {
            #[cfg(feature = "native-tls")]
            Self::NativeTls(_) => None,
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s
                .get_ref()
                .1
                .protocol_version()
                .and_then(|v| v.as_str().map(str::to_owned)),
            Self::_Never(never, _) => match *never {},
        }
    }
}

/// A stream of any backend, for forwarding I/O without a match per method.
trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin + ?Sized> Io for T {}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    fn io(&mut self) -> Pin<&mut dyn Io> {
        match self {
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => Pin::new(s),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(&mut **s),
            Self::_Never(never, _) => match *never {},
        }
    }
}

/// Forwards each `futures-io` method of `$ty` to the stream `$io(this)` gives.
macro_rules! forward_io {
    ($ty:ident<$($p:ident),+>, |$this:ident| $io:expr) => {
        impl<$($p: AsyncRead + AsyncWrite + Unpin),+> AsyncRead for $ty<$($p),+> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_read(cx, buf)
            }
        }

        impl<$($p: AsyncRead + AsyncWrite + Unpin),+> AsyncWrite for $ty<$($p),+> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                $io.poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                $io.poll_close(cx)
            }
        }
    };
}

forward_io!(TlsStream<S>, |this| this.io());

/// The stream a `ws://` or `wss://` connection runs on: the runtime's TCP stream `S`,
/// plain or inside a TLS session `T` (a [`TlsStream`] unless a custom [`TlsConnect`] made
/// it).
#[non_exhaustive]
#[derive(Debug)]
pub enum MaybeTlsStream<S, T = TlsStream<S>> {
    /// Plain TCP (`ws://`).
    Plain(S),
    /// TLS over TCP (`wss://`).
    Tls(T),
    /// A stream of an HTTP/2 connection shared with other WebSockets (RFC 8441, feature
    /// `http2`): the connection's TCP and TLS belong to its driver task.
    #[cfg(feature = "http2")]
    Http2(crate::http2::H2Stream),
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTlsStream<S> {
    /// The TCP stream under the connection (for addresses and socket options); `None` over
    /// HTTP/2, where the socket is shared and owned by the connection's driver.
    pub fn get_ref(&self) -> Option<&S> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Tls(s) => Some(s.get_ref()),
            #[cfg(feature = "http2")]
            Self::Http2(_) => None,
        }
    }
}

impl<S, T> MaybeTlsStream<S, T> {
    /// Whether the connection runs over TLS (for HTTP/2: whether its h2 connection does).
    pub fn is_tls(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            Self::Tls(_) => true,
            #[cfg(feature = "http2")]
            Self::Http2(s) => s.is_tls(),
        }
    }

    /// The TLS session, if any (for its backend, ALPN and version); `None` over HTTP/2,
    /// whose TLS session belongs to the shared connection.
    pub fn tls(&self) -> Option<&T> {
        match self {
            Self::Tls(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP/2 stream, when the WebSocket runs over HTTP/2 (feature `http2`).
    #[cfg(feature = "http2")]
    pub fn http2(&self) -> Option<&crate::http2::H2Stream> {
        match self {
            Self::Http2(s) => Some(s),
            _ => None,
        }
    }
}

impl<S, T> MaybeTlsStream<S, T>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    // One indirect call per read or write (a few ns against a system call's µs) buys one
    // forwarding of the five methods for both enums.
    fn io(&mut self) -> Pin<&mut dyn Io> {
        match self {
            Self::Plain(s) => Pin::new(s),
            Self::Tls(s) => Pin::new(s),
            #[cfg(feature = "http2")]
            Self::Http2(s) => Pin::new(s),
        }
    }
}

forward_io!(MaybeTlsStream<S, T>, |this| this.io());

impl TlsError {
    /// As the crate's [`Error`] (of kind [`ErrorKind::Tls`](crate::ErrorKind::Tls)), which
    /// the connect flow marks with [`Step::Tls`](crate::error::Step::Tls) and the target.
    pub fn into_error(self) -> Error {
        Error::from(self)
    }
}

/// The TLS queries of [`Error`], here with the TLS types they read.
impl Error {
    /// Whether the TLS handshake failed because of the server's certificate (untrusted,
    /// expired, for another name, ...): retrying cannot fix it; trust the right CA or fix
    /// the URL's host name.
    ///
    /// Also true when the server refused our client certificate. Decided by the TLS backend
    /// ([`TlsErrorKind`] `Certificate` or `ClientCertificate`);
    /// for an error from a custom [`TlsConnect`], from the TLS
    /// library's error: it names a certificate (OpenSSL, Secure Transport and SChannel all
    /// do).
    pub fn is_tls_certificate(&self) -> bool {
        match self.tls_parts() {
            Some(TlsParts::Tls(tls)) => tls.is_certificate(),
            // A custom connector's I/O error: the runtime's own message gives advice about
            // certificates whatever failed, so look below it, at the TLS library's errors.
            Some(TlsParts::Io(io)) => {
                let mut cause = std::error::Error::source(io);
                while let Some(e) = cause {
                    if e.to_string().to_ascii_lowercase().contains("certificate") {
                        return true;
                    }
                    cause = e.source();
                }
                false
            }
            None => false,
        }
    }

    /// The TLS failure, with its kind, backend and the library's own error as its
    /// [`source`](std::error::Error::source), when the TLS handshake failed in a backend of
    /// this module.
    pub fn tls_error(&self) -> Option<&TlsError> {
        match self.tls_parts()? {
            TlsParts::Tls(tls) => Some(tls),
            TlsParts::Io(_) => None,
        }
    }
}

/// When `e` (from reading or writing a TLS stream after its handshake) is the server's alert
/// refusing our client certificate, the TLS failure it is, for `target`.
pub(crate) fn client_certificate_refused(e: &io::Error, target: &str) -> Option<Error> {
    let backend = refusing_backend(e)?;
    let error = TlsError::new(
        target,
        backend,
        TlsErrorKind::ClientCertificate,
        e.to_string(),
    );
    Some(error.into_error())
}

fn refusing_backend(e: &io::Error) -> Option<TlsBackend> {
    #[cfg(feature = "rustls")]
    if rustls::refuses_client_certificate(e) {
        return Some(TlsBackend::Rustls);
    }
    #[cfg(feature = "native-tls")]
    if native::refuses_client_certificate(e) {
        return Some(TlsBackend::NativeTls);
    }
    let _ = e;
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::Step;

    const BACKENDS: [TlsBackend; 2] = [TlsBackend::NativeTls, TlsBackend::Rustls];

    #[test]
    fn a_server_alert_refusing_our_certificate_is_a_client_certificate_failure() {
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer");
        assert!(client_certificate_refused(&plain, "h:443").is_none());
        #[cfg(feature = "rustls")]
        {
            let alert = |a| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    ::rustls::Error::AlertReceived(a),
                )
            };
            let e = client_certificate_refused(
                &alert(::rustls::AlertDescription::CertificateRequired),
                "h:443",
            )
            .unwrap()
            .into_tls_failure("h:443");
            assert_eq!(e.step(), Some(Step::Tls));
            assert!(e.is_tls_certificate());
            let tls = e.tls_error().unwrap();
            assert_eq!(
                (tls.kind(), tls.backend()),
                (TlsErrorKind::ClientCertificate, TlsBackend::Rustls)
            );
            assert!(e.to_string().contains("with_client_auth_cert"), "{e}");
            // Other alerts are not about our certificate.
            let other = alert(::rustls::AlertDescription::HandshakeFailure);
            assert!(client_certificate_refused(&other, "h:443").is_none());
        }
        #[cfg(feature = "native-tls")]
        {
            let openssl = io::Error::other(
                "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate \
                 required:ssl/record/rec_layer_s3.c:907:SSL alert number 116",
            );
            let e = client_certificate_refused(&openssl, "h:443").unwrap();
            assert!(e.to_string().contains(".identity(..)"), "{e}");
        }
    }

    fn error(backend: TlsBackend, kind: TlsErrorKind) -> TlsError {
        TlsError::new(
            "feed.example",
            backend,
            kind,
            io::Error::other("library says no"),
        )
    }

    /// The setting a user of `backend` changes to trust a private CA, and the other one's.
    fn settings(backend: TlsBackend) -> (&'static str, &'static str) {
        match backend {
            TlsBackend::NativeTls => (".tls_connector(..)", ".rustls_config(..)"),
            TlsBackend::Rustls => (".rustls_config(..)", ".tls_connector(..)"),
        }
    }

    #[test]
    fn each_kind_reads_what_failed_and_what_to_check_for_its_backend() {
        for backend in BACKENDS {
            let (ours, theirs) = settings(backend);
            let head = format!(
                "TLS handshake with feed.example failed ({}): library says no; ",
                backend.name()
            );

            let text = error(backend, TlsErrorKind::Certificate).to_string();
            assert!(text.starts_with(&head), "{text}");
            assert!(
                text.contains("the server's certificate is not accepted for feed.example")
                    && text.contains("the one in the certificate")
                    && text.contains("if a private CA signed it"),
                "{text}"
            );
            assert!(text.contains(ours) && !text.contains(theirs), "{text}");

            let text = error(backend, TlsErrorKind::NotTls).to_string();
            assert!(text.starts_with(&head), "{text}");
            assert!(
                text.contains("the server did not answer with TLS")
                    && text.contains("check the port, and use ws:// for a plain server"),
                "{text}"
            );
            // Not a trust problem: no advice about CAs.
            assert!(!text.contains(ours) && !text.contains("CA"), "{text}");

            let text = error(backend, TlsErrorKind::Other).to_string();
            assert!(text.starts_with(&head), "{text}");
            assert!(
                text.contains("check that the server speaks TLS on this port")
                    && text.contains("use ws:// for a plain server")
                    && text.contains("for a private CA"),
                "{text}"
            );
            assert!(text.contains(ours) && !text.contains(theirs), "{text}");
        }
    }

    #[test]
    fn as_an_error_it_is_a_tls_failure_with_the_library_error_as_source() {
        for kind in [
            TlsErrorKind::Certificate,
            TlsErrorKind::NotTls,
            TlsErrorKind::Other,
        ] {
            let tls = error(TlsBackend::Rustls, kind);
            assert_eq!((tls.kind(), tls.backend()), (kind, TlsBackend::Rustls));
            let source = std::error::Error::source(&tls).unwrap().to_string();
            assert_eq!(source, "library says no");
            let text = tls.to_string();
            let e = tls.into_error();
            assert_eq!(e.kind(), crate::ErrorKind::Tls);
            assert_eq!(e.to_string(), text);
            assert_eq!(std::error::Error::source(&e).unwrap().to_string(), source);
            assert_eq!(e.tls_error().map(TlsError::kind), Some(kind));
        }
    }

    #[test]
    fn only_a_certificate_error_through_the_connect_flow_is_a_certificate_failure() {
        for backend in BACKENDS {
            let e = error(backend, TlsErrorKind::Certificate)
                .into_error()
                .into_tls_failure("feed.example:443");
            assert!(e.is_tls() && e.is_tls_certificate(), "{e}");
            assert_eq!(
                (e.step(), e.target()),
                (Some(Step::Tls), Some("feed.example:443"))
            );
            let tls = e.tls_error().unwrap();
            assert_eq!(
                (tls.kind(), tls.backend()),
                (TlsErrorKind::Certificate, backend)
            );
            // The message is the TLS error's, not wrapped again.
            assert_eq!(
                e.to_string(),
                error(backend, TlsErrorKind::Certificate).to_string()
            );
            for kind in [TlsErrorKind::NotTls, TlsErrorKind::Other] {
                let e = error(backend, kind)
                    .into_error()
                    .into_tls_failure("feed.example:443");
                assert!(e.is_tls() && !e.is_tls_certificate(), "{kind:?}: {e}");
            }
        }
        // The backend decides: its advice mentions certificates, and so may the library
        // error of another kind, but only `Certificate` counts.
        let e = TlsError::new(
            "feed.example",
            TlsBackend::NativeTls,
            TlsErrorKind::Other,
            io::Error::other("certificate status request failed"),
        )
        .into_error()
        .into_tls_failure("feed.example:443");
        assert!(e.is_tls() && !e.is_tls_certificate(), "{e}");
        // Not yet through the flow: a TLS failure without a step or target.
        let e = error(TlsBackend::Rustls, TlsErrorKind::Certificate).into_error();
        assert!(e.is_tls() && e.is_tls_certificate(), "{e}");
        assert_eq!((e.step(), e.target()), (None, None));
    }

    #[test]
    fn the_default_connector_uses_the_builds_backend() {
        let tls = TlsConnector::default();
        assert!(tls.is_default());
        assert_eq!(tls.backend(), TlsBackend::default_for_build());
        // rustls is preferred when both are compiled in.
        let expected = if cfg!(feature = "rustls") {
            Some(TlsBackend::Rustls)
        } else if cfg!(feature = "native-tls") {
            Some(TlsBackend::NativeTls)
        } else {
            None
        };
        assert_eq!(TlsBackend::default_for_build(), expected);
        let debug = format!("{tls:?}");
        let backend = format!("{:?}", expected.map(TlsBackend::name));
        assert!(
            debug.contains(&format!("backend: {backend}")) && debug.contains("default: true"),
            "{debug}"
        );
        for backend in BACKENDS {
            assert_eq!(backend.to_string(), backend.name());
        }
    }

    #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
    #[test]
    fn without_a_tls_feature_the_default_connector_names_the_features() {
        let stream = futures::io::Cursor::new(Vec::new());
        let tls = TlsConnector::default();
        let e = futures::executor::block_on(tls.connect("feed.example", &[], stream)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("cannot open wss:// to feed.example: this build has no TLS library")
                && text.contains("enable the `rustls` or `native-tls` feature"),
            "{text}"
        );
        assert_eq!(
            e.io_error().map(io::Error::kind),
            Some(io::ErrorKind::Unsupported)
        );
    }
}
