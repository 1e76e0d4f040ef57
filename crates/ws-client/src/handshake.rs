//! Async drivers of the opening handshake over any `futures-io` stream:
//! [`client_handshake`] (our client role) and [`server_accept`] (our server role).
//!
//! Both read the peer's head incrementally (each byte parsed once, the head bounded by
//! [`Limits`](ws_handshake::Limits)), negotiate permessage-deflate, and hand any bytes that
//! followed the head (a peer may send its first frame in the same packet) to the new
//! [`Connection`], so nothing is lost between the handshake and the first `recv`.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use ws_frame::Role;
use ws_handshake::{
    reject, ClientRequest, HandshakeError, Request, RequestParser, Response, ResponseParser,
};

use crate::error::{Error, Step};
use crate::options::{ConnectOptions, ServerOptions};
use crate::proto::config::Config;
use crate::proto::Connection;
use crate::rt::{Deadline, Timed, Timer};
use crate::stream::WebSocket;
use crate::trace;

/// Bytes read per call while the head is incomplete.
const HEAD_READ: usize = 4 << 10;

/// Runs the client side of the opening handshake on a connected stream (plain or TLS):
/// writes `request`, reads and checks the server's response (status 101, `Upgrade`,
/// `Connection`, `Sec-WebSocket-Accept`, subprotocol, extensions), negotiates
/// permessage-deflate, and returns the open [`WebSocket`] with the server's response.
///
/// `request` should come from [`ConnectOptions::build_request`] (it carries the options'
/// headers, subprotocols and compression offer); the options also give the limits, the
/// open timeout and the connection [`Config`]. Without a `timer` there is no open timeout
/// (and no keepalive or close timeout later).
///
/// Errors: [`Error::Handshake`] when the response is not an acceptable upgrade (a redirect
/// is `HandshakeError::Redirect` with its `Location`), [`Error::Io`] when the stream fails
/// or the server closes it before a complete response (both with [`Step::Handshake`] and
/// the URL's `host:port` as [`Error::step`] and [`Error::target`]), and
/// `Error::OpeningTimeout { step: Step::Handshake, .. }` after the open timeout.
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn client_handshake<S>(
    stream: S,
    request: ClientRequest,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_handshake_within(stream, request, options, timer, options.open.open_timeout).await
}

/// [`client_handshake`] bounded by `timeout` instead of the options' open timeout.
pub(crate) async fn client_handshake_within<S>(
    stream: S,
    request: ClientRequest,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
    timeout: Option<Duration>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let step = client_handshake_step(stream, &request, options, timer, timeout, Vec::new());
    match step.await? {
        Handshake::Open(ws, response) => Ok((ws, response)),
        Handshake::Redirect(response) => Err(redirect_error(&request, &response)),
    }
}

/// What the server answered to the upgrade request: an open WebSocket, or a redirect
/// (any 3xx) for the caller to follow or report.
// Made and matched once per connection: boxing the WebSocket would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handshake<S> {
    Open(WebSocket<S>, Response),
    Redirect(Response),
}

/// The client handshake, bounded by `timeout`, that hands a 3xx back whole (the full
/// `Location`, unshortened) instead of failing. `early` holds bytes that arrived before the
/// request was sent (after a proxy's answer); they are parsed ahead of the stream.
pub(crate) async fn client_handshake_step<S>(
    stream: S,
    request: &ClientRequest,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
    timeout: Option<Duration>,
    early: Vec<u8>,
) -> Result<Handshake<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = authority(&request.target().host, request.target().port);
    let fut = client_handshake_untimed(stream, request, &target, options, timer.clone(), early);
    let limit = Limit {
        left: timeout,
        configured: options.open.open_timeout,
    };
    with_timeout(fut, timer.as_ref(), limit, Step::Handshake, Some(&target)).await
}

/// The error for a redirect that is not followed: what [`ClientRequest::check`] says.
pub(crate) fn redirect_error(request: &ClientRequest, response: &Response) -> Error {
    match request.check(response) {
        Err(e) => e.into(),
        // `check` refuses every status but 101; a 3xx can't pass.
        Ok(_) => Error::Internal(format!(
            "a {} response passed the handshake check",
            response.status()
        )),
    }
}

async fn client_handshake_untimed<S>(
    mut stream: S,
    request: &ClientRequest,
    target: &str,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
    early: Vec<u8>,
) -> Result<Handshake<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    write_all(&mut stream, request.as_bytes())
        .await
        .map_err(|e| upgrade_error(e, target, "sending the request"))?;
    trace::trace!(
        target,
        bytes = request.as_bytes().len(),
        "upgrade request sent"
    );

    let mut parser = ResponseParser::new(options.open.limits);
    let early_response = if early.is_empty() {
        None
    } else {
        parser.feed(&early)?
    };
    drop(early);
    let response = match early_response {
        Some(response) => response,
        None => read_response(&mut stream, &mut parser, target).await?,
    };
    trace::debug!(target, status = response.status(), "HTTP response");
    if (300..400).contains(&response.status()) {
        return Ok(Handshake::Redirect(response));
    }

    let accepted = request.check(&response)?;
    #[allow(unused_mut)]
    let mut config = options.open.config.clone();
    #[cfg(feature = "deflate")]
    {
        config.deflate = match &options.open.compression {
            Some(deflate) => deflate.negotiate(&accepted.extensions)?,
            None => None,
        };
    }
    trace::debug!(
        subprotocol = accepted.subprotocol.as_deref(),
        extensions = %accepted
            .extensions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        compression = config.deflate_enabled(),
        "WebSocket open"
    );
    let mut ws = open(stream, Role::Client, config, response.rest(), timer);
    ws.set_subprotocol(accepted.subprotocol);
    Ok(Handshake::Open(ws, response))
}

/// Reads until `parser` has a whole response head.
async fn read_response<S>(
    stream: &mut S,
    parser: &mut ResponseParser,
    target: &str,
) -> Result<Response, Error>
where
    S: AsyncRead + Unpin,
{
    let mut buf = vec![0u8; HEAD_READ];
    loop {
        let n = read(stream, &mut buf)
            .await
            .map_err(|e| upgrade_error(e, target, "reading the server's response"))?;
        if n == 0 {
            return Err(Error::opening(
                Step::Handshake,
                Some(target.to_owned()),
                format!(
                    "HTTP upgrade with {target}: the server closed the connection before a \
                     complete HTTP response; check that the URL is a WebSocket endpoint and \
                     that ws:// or wss:// matches the port"
                ),
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        if let Some(response) = parser.feed(&buf[..n])? {
            return Ok(response);
        }
    }
}

/// Runs the server side of the opening handshake on an accepted stream: reads and validates
/// the client's request, runs the [`ServerOptions`] check hook, selects a subprotocol and
/// permessage-deflate parameters, writes the `101` response and returns the open
/// [`WebSocket`] (server role).
///
/// A request that is malformed, fails validation or is refused by the check hook is
/// answered with an HTTP error (400, 405, 426, 431, or the hook's status) and the stream
/// is shut down; the error is then returned ([`Error::Handshake`] for invalid requests, an
/// `HandshakeError::RequestRefused` carrying the status for a refusal by the check hook).
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn server_accept<S>(
    stream: S,
    options: &ServerOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let fut = server_accept_untimed(stream, options, timer.clone());
    with_timeout(
        fut,
        timer.as_ref(),
        Limit::whole(options.open.open_timeout),
        Step::Handshake,
        None,
    )
    .await
}

async fn server_accept_untimed<S>(
    mut stream: S,
    options: &ServerOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = RequestParser::new(options.open.limits);
    let mut buf = vec![0u8; HEAD_READ];
    let request = loop {
        let n = read(&mut stream, &mut buf)
            .await
            .map_err(|e| accept_error(e, "reading the client's request"))?;
        if n == 0 {
            return Err(Error::opening(
                Step::Handshake,
                None,
                "HTTP upgrade (server side): the client closed the connection before a \
                 complete request"
                    .to_owned(),
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        match parser.feed(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                let status = e.http_status().unwrap_or(400);
                refuse(&mut stream, status, &e.to_string()).await;
                return Err(e.into());
            }
        }
    };
    drop(buf);

    if let Err(e) = request.validate() {
        let status = e.http_status().unwrap_or(400);
        refuse(&mut stream, status, &e.to_string()).await;
        return Err(e.into());
    }
    if let Some(check) = &options.check {
        if let Err((status, reason)) = check(&request) {
            refuse(&mut stream, status, &reason).await;
            return Err(Error::Handshake(HandshakeError::RequestRefused {
                status,
                reason,
            }));
        }
    }

    let subprotocol = select_subprotocol(&request, &options.subprotocols);
    #[allow(unused_mut)]
    let mut config = options.open.config.clone();
    #[allow(unused_mut)]
    let mut extensions_answer: Option<String> = None;
    #[cfg(feature = "deflate")]
    {
        config.deflate = None;
        if let Some(deflate) = &options.open.compression {
            let offers = match request.extensions() {
                Ok(offers) => offers,
                Err(e) => {
                    refuse(&mut stream, e.http_status().unwrap_or(400), &e.to_string()).await;
                    return Err(e.into());
                }
            };
            if let Some((params, answer)) = deflate.accept_offer(&offers) {
                config.deflate = Some(params);
                extensions_answer = Some(answer);
            }
        }
    }
    let response = request.accept(subprotocol, extensions_answer.as_deref());
    write_all(&mut stream, &response)
        .await
        .map_err(|e| accept_error(e, "sending the 101 response"))?;

    let mut ws = open(stream, Role::Server, config, request.rest(), timer);
    ws.set_subprotocol(subprotocol.map(str::to_owned));
    Ok(ws)
}

/// The first of our subprotocols (in our order) that the client offered.
fn select_subprotocol<'a>(request: &Request, ours: &'a [String]) -> Option<&'a str> {
    if ours.is_empty() {
        return None;
    }
    let offered = request.subprotocols();
    ours.iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .map(String::as_str)
}

/// Builds the connection, feeds it the bytes that followed the head, wraps it.
fn open<S>(
    stream: S,
    role: Role,
    config: Config,
    rest: &[u8],
    timer: Option<Arc<dyn Timer>>,
) -> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let close_timeout = config.close_timeout;
    let write_high = config.write_buffer_high;
    let mut conn = Connection::new(role, config);
    if !rest.is_empty() {
        conn.receive_data(rest);
    }
    WebSocket::from_connection(stream, conn, close_timeout, write_high, timer)
}

/// Answers a refused upgrade with an HTTP error and shuts the stream down (best effort:
/// the caller reports the refusal either way).
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, reason: &str) {
    let answer = reject(status, reason);
    if write_all(stream, &answer).await.is_ok() {
        let _ = poll_fn(|cx| Pin::new(&mut *stream).poll_close(cx)).await;
    }
}

/// An I/O error of the client's HTTP upgrade with `target`, saying what we were doing; or,
/// when it is the server refusing our client certificate (TLS 1.3 says so only now), that
/// TLS failure.
fn upgrade_error(e: io::Error, target: &str, doing: &str) -> Error {
    if let Some(tls) = crate::tls::client_certificate_refused(&e, target) {
        return tls.into_tls_failure(target);
    }
    let hint = match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            "; the server dropped the connection: check that the URL is a WebSocket endpoint \
             and that ws:// or wss:// matches the port"
        }
        _ => "; the connection is unusable: try again",
    };
    Error::opening(
        Step::Handshake,
        Some(target.to_owned()),
        format!("HTTP upgrade with {target}: {doing} failed: {e}{hint}"),
        e,
    )
}

/// An I/O error of our server side's HTTP upgrade, saying what we were doing.
fn accept_error(e: io::Error, doing: &str) -> Error {
    Error::opening(
        Step::Handshake,
        None,
        format!("HTTP upgrade (server side): {doing} failed: {e}"),
        e,
    )
}

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
/// [`Error::OpeningTimeout`] at `step` naming `target`.
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
        Timed::Elapsed => Err(Error::OpeningTimeout {
            step,
            limit: limit.configured.or(limit.left).unwrap_or_default(),
            target: target.map(str::to_owned),
        }),
    }
}
