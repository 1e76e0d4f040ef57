//! The I/O helpers of the opening steps, shared by the handshake drivers and the connect
//! flow: read once, write all, `host:port`, and the deadline of a step.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Step};
use crate::rt::{Deadline, Timed, Timer};

/// `host:port`, IPv6 in `[]`.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Reads once, retrying on `Interrupted`.
pub(crate) async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> io::Result<usize> {
    poll_fn(|cx| loop {
        match Pin::new(&mut *stream).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    })
    .await
}

/// Writes all of `buf` and flushes.
pub(crate) async fn write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    mut buf: &[u8],
) -> io::Result<()> {
    poll_fn(|cx| {
        while !buf.is_empty() {
            match Pin::new(&mut *stream).poll_write(cx, buf) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no more bytes",
                    )))
                }
                Poll::Ready(Ok(n)) => buf = &buf[n..],
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut *stream).poll_flush(cx)
    })
    .await
}

/// The time an opening step may take: what is `left` of the `configured` limit (the open
/// timeout is shared by the tunnel, TLS and the upgrade). Errors report the configured one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    pub(crate) left: Option<Duration>,
    pub(crate) configured: Option<Duration>,
}

impl Limit {
    /// The whole of `timeout` is left.
    pub(crate) fn whole(timeout: Option<Duration>) -> Limit {
        Limit {
            left: timeout,
            configured: timeout,
        }
    }
}

/// Bounds the opening step `fut` by `limit` measured with `timer`, failing with an
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) at `step` naming `target`.
pub(crate) async fn with_timeout<F, T>(
    fut: F,
    timer: Option<&Arc<dyn Timer>>,
    limit: Limit,
    step: Step,
    target: Option<&str>,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    let fut = pin!(fut);
    match Deadline::new(fut, timer, limit.left).await {
        Timed::Done(result) => result,
        Timed::Elapsed => Err(Error::opening_timeout(
            step,
            limit.configured.or(limit.left).unwrap_or_default(),
            target.map(str::to_owned),
        )),
    }
}
