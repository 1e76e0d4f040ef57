//! [`TokioIo`]: tokio's I/O traits seen through `futures-io`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

/// Adapts a tokio `AsyncRead + AsyncWrite` value (a `TcpStream`, a TLS stream, a
/// `DuplexStream`, ...) to the `futures-io` traits that `ws-client` is written against.
///
/// Reads go straight into the caller's buffer (which `futures-io` guarantees is
/// initialized), so no byte is zero-filled or copied on the way. `poll_close` maps to
/// tokio's `poll_shutdown`.
///
/// ```
/// # async fn demo() -> std::io::Result<()> {
/// let (a, _b) = tokio::io::duplex(64);
/// let _io = ws_tokio::TokioIo::new(a); // now futures_io::AsyncRead + AsyncWrite
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TokioIo<T> {
    inner: T,
}

impl<T> TokioIo<T> {
    /// Wraps a tokio I/O value.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The wrapped value.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the tokio I/O value.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> futures_io::AsyncRead for TokioIo<T>
where
    T: tokio::io::AsyncRead + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(Pin::new(&mut self.inner), cx, buf)
    }
}

impl<T> futures_io::AsyncWrite for TokioIo<T>
where
    T: tokio::io::AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One tokio read into an initialized `futures-io` style buffer.
pub(crate) fn poll_read<T>(
    inner: Pin<&mut T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    T: tokio::io::AsyncRead + ?Sized,
{
    // `ReadBuf::new` takes the slice as already initialized: no zero-filling.
    let mut read_buf = ReadBuf::new(buf);
    match inner.poll_read(cx, &mut read_buf) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use futures_io::{AsyncRead, AsyncWrite};

    use super::*;

    #[tokio::test]
    async fn reads_and_writes_pass_through() {
        let (a, b) = tokio::io::duplex(64);
        let mut a = TokioIo::new(a);
        let mut b = TokioIo::new(b);

        let n = poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"hello"))
            .await
            .unwrap();
        assert_eq!(n, 5);

        let mut buf = [0xAAu8; 16];
        let n = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"hello");
        // Bytes past the read are left untouched.
        assert_eq!(buf[n], 0xAA);

        // Nothing more to read yet: pending, not an empty read (which would mean EOF).
        let pending =
            poll_fn(|cx| Poll::Ready(Pin::new(&mut b).poll_read(cx, &mut buf).is_pending())).await;
        assert!(pending);

        // Closing one side is EOF (Ok(0)) on the other.
        poll_fn(|cx| Pin::new(&mut a).poll_close(cx)).await.unwrap();
        let n = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
