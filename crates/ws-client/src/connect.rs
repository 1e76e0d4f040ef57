//! The client connect flow, written once for every runtime.
//!
//! ```text
//! ConnectOptions ──build_request──▶ ClientRequest (URL → host, port, ws/wss)
//!   │
//!   ├─ open_transport: Runtime::connect_tcp   (connect timeout, Step::Connect)
//!   │                  [proxy tunnel: later, here]
//!   │                  Runtime::tls (wss)      (open timeout, Step::Tls)
//!   │
//!   └─ client_handshake: HTTP upgrade          (rest of the open timeout, Step::Handshake)
//!                        [redirects: later, by reconnecting with
//!                         ConnectOptions::request_builder_for(location)]
//! ```
//!
//! Runtime crates call [`connect`] with their [`Runtime`]; [`connect_on`] runs the
//! handshake over a stream the user opened (a Unix socket, a proxy tunnel, an in-memory
//! pipe).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use ws_handshake::{Response, Target};

use crate::error::{Error, Step};
use crate::handshake::{client_handshake_within, with_timeout};
use crate::options::ConnectOptions;
use crate::rt::{Runtime, Timer};
use crate::stream::WebSocket;

/// Opens a WebSocket as `options` say: resolves and connects TCP (bounded by the connect
/// timeout), runs TLS for `wss://` and the opening handshake (together bounded by the open
/// timeout), and returns the open [`WebSocket`] with the server's handshake response.
///
/// Errors name the step: `"connecting to host:port failed: ..."` ([`Error::Io`]),
/// `Error::Timeout` with [`Step::Connect`], [`Step::Tls`] or [`Step::Handshake`], TLS errors
/// from the runtime, and [`Error::Handshake`] for a bad URL or an unacceptable response.
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect<R: Runtime>(
    rt: &R,
    options: &ConnectOptions,
) -> Result<(WebSocket<R::Stream>, Response), Error> {
    let request = options.build_request()?;
    let timer = rt.timer();
    let (stream, opened_at) = open_transport(rt, request.target(), options, &timer).await?;
    let left = remaining(options.open_timeout, opened_at, timer.now());
    client_handshake_within(stream, request, options, Some(timer), left).await
}

/// Runs the opening handshake for `options` over a stream the caller connected (TLS
/// already done if the URL is `wss://`). The URL still gives the `Host` header and path.
/// The handshake is bounded by the open timeout when a `timer` is given.
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn connect_on<S>(
    stream: S,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = options.build_request()?;
    client_handshake_within(stream, request, options, timer, options.open_timeout).await
}

/// Opens the transport to `target`: TCP (bounded by the connect timeout), then TLS when
/// `target.secure` (bounded by the open timeout). Returns the stream and the instant TLS
/// started, from which the open timeout runs.
///
/// This is the seam for proxies: a tunnel opens between `connect_tcp` and `tls`.
pub async fn open_transport<R: Runtime>(
    rt: &R,
    target: &Target,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
) -> Result<(R::Stream, Instant), Error> {
    let tcp = connect_tcp(
        rt,
        &target.host,
        target.port,
        options.connect_timeout,
        timer,
    )
    .await?;
    let opened_at = timer.now();
    if !target.secure {
        return Ok((rt.plain(tcp), opened_at));
    }
    let stream = with_timeout(
        rt.tls(&target.host, tcp),
        Some(timer),
        options.open_timeout,
        Step::Tls,
    )
    .await?;
    Ok((stream, opened_at))
}

/// DNS + TCP connect, bounded, with the address in the error.
async fn connect_tcp<R: Runtime>(
    rt: &R,
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    timer: &Arc<dyn Timer>,
) -> Result<R::Tcp, Error> {
    let attempt = async {
        rt.connect_tcp(host, port).await.map_err(|e| {
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            Error::Io(io::Error::new(
                e.kind(),
                format!("connecting to {addr} failed: {e}"),
            ))
        })
    };
    with_timeout(attempt, Some(timer), timeout, Step::Connect).await
}

/// What is left of `timeout` after the time since `start`.
fn remaining(timeout: Option<Duration>, start: Instant, now: Instant) -> Option<Duration> {
    timeout.map(|t| t.saturating_sub(now.saturating_duration_since(start)))
}
