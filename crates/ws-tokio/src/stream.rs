//! [`MaybeTlsStream`]: the stream a `ws://` or `wss://` connection runs on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::TcpStream;

use crate::io::poll_read;

/// A TCP stream, plain (`ws://`) or inside a TLS session (`wss://`), seen through the
/// `futures-io` traits `ws-client` uses.
#[non_exhaustive]
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// A plain TCP stream (`ws://`).
    Plain(TcpStream),
    /// TLS over TCP (`wss://`), through native-tls.
    #[cfg(feature = "native-tls")]
    Tls(tokio_native_tls::TlsStream<TcpStream>),
}

impl MaybeTlsStream {
    /// The TCP stream under the connection (for addresses and socket options).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => s.get_ref().get_ref().get_ref(),
        }
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }
}

impl futures_io::AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => poll_read(Pin::new(s), cx, buf),
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => poll_read(Pin::new(s), cx, buf),
        }
    }
}

impl futures_io::AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        use tokio::io::AsyncWrite;
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        use tokio::io::AsyncWrite;
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        use tokio::io::AsyncWrite;
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        use tokio::io::AsyncWrite;
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "native-tls")]
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
