//! One hop of the connect flow over HTTP/2: a stream on a pooled connection (or a new
//! connection), the extended CONNECT, the answer, the WebSocket.
//!
//! ```text
//!  Prefer, origin known to be HTTP/1.1 only ─────────────────────────▶ Http1(new transport)
//!  pool.acquire(key)
//!    Stream ───────────────────────────────────────────────┐
//!    Dial: open_transport(ALPN h2[,http/1.1]) (h2c: none)  │
//!          ALPN ≠ h2:  Prefer ─▶ Http1(this transport)     │
//!                      Require ─▶ Http2Error::not_negotiated
//!          h2 handshake, PING, extended CONNECT enabled?   │
//!              no:  Prefer ─▶ remember; Http1(new transport, ALPN http/1.1)
//!                   Require ─▶ Http2Error::extended_connect_disabled
//!  extended CONNECT (:protocol websocket) ◀────────────────┘  (open timeout, Step::Handshake)
//!    2xx ─▶ checks, deflate ─▶ WebSocket over MaybeTlsStream::Http2
//!    3xx ─▶ Redirect (the connect flow follows it)
//!    GOAWAY / REFUSED_STREAM before processing ─▶ once more, on another connection
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use h2::client::SendRequest;
use h2::RecvStream;
use ws_frame::Role;
use ws_handshake::{ClientRequest, H2Request, RequestBuilder, Response, Target};

use super::conn::{self, Connected};
use super::pool::{Acquired, Entry, H2Pool, PoolKey, StreamSlot};
use super::stream::{H2Stream, Prefixed};
use super::{Http2, Http2Error};
use crate::connect::{open_transport_alpn, remaining, Transport};
use crate::error::{Error, Step};
use crate::handshake::{negotiate, Handshake};
use crate::io::{authority, with_timeout, Limit};
use crate::options::ConnectOptions;
use crate::proto::Connection;
use crate::rt::{Deadline, Runtime, Timed, Timer};
use crate::stream::WebSocket;
use crate::tls::{MaybeTlsStream, TlsConnect};
use crate::trace;

/// ALPN offers.
const H2_OR_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];
const H2_ONLY: &[&[u8]] = &[b"h2"];
const HTTP1_ONLY: &[&[u8]] = &[b"http/1.1"];

/// Bytes of a refusal's body kept for the error.
const BODY_EXCERPT: usize = 512;
/// How long a refusal's body is waited for (the status is the answer; the body only
/// explains it).
const BODY_WAIT: Duration = Duration::from_secs(1);

/// How a hop goes on.
// Made and matched once per hop, like `Handshake`: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Hop<S> {
    /// Over HTTP/2: the handshake's outcome.
    Done(Handshake<S>),
    /// Over HTTP/1.1, on this transport.
    Http1(Transport<S>),
}

/// Whether a hop to `target` tries HTTP/2, and how: `Prefer` on `wss://` only (a `ws://`
/// URL then uses HTTP/1.1), `Require` on both (`ws://`: h2c with prior knowledge).
pub(crate) fn mode_for(options: &ConnectOptions, target: &Target) -> Option<Http2> {
    match options.http2_mode() {
        Http2::Prefer if target.secure => Some(Http2::Prefer),
        Http2::Require => Some(Http2::Require),
        _ => None,
    }
}

/// Opens one hop over HTTP/2 as `mode` says, or hands back a transport for HTTP/1.1.
///
/// # Cancel safety
/// Dropping the future abandons the attempt (a dial in progress is left to the next open).
pub(crate) async fn open_hop<R, T>(
    rt: &R,
    tls: &T,
    options: &ConnectOptions,
    builder: &RequestBuilder,
    request: &ClientRequest,
    timer: &Arc<dyn Timer>,
    mode: Http2,
) -> Result<Hop<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let target = request.target();
    let proxy = options.proxy_for(target)?;
    let key = PoolKey::new::<T>(target, proxy, options.tls_connector());
    let pool = options.h2_pool();
    let h2req = builder.clone().build_h2()?;
    let mut retried = false;
    loop {
        if mode == Http2::Prefer && pool.is_http1(&key, timer.now()) {
            trace::debug!("no WebSockets over HTTP/2 at this origin lately: HTTP/1.1");
            return http1(rt, tls, target, options, timer).await.map(Hop::Http1);
        }
        let (send, slot, limit) = match pool.acquire(&key).await {
            Acquired::Stream(send, slot) => {
                trace::debug!("a WebSocket on a pooled HTTP/2 connection");
                (send, slot, Limit::whole(options.open.open_timeout))
            }
            Acquired::Dial(guard) => {
                if mode == Http2::Prefer && pool.is_http1(&key, timer.now()) {
                    // Learnt by the dial this open waited for.
                    drop(guard);
                    continue;
                }
                match dial(rt, tls, target, options, timer, mode, pool, &key).await? {
                    Dialed::H2(connected, opened_at) => {
                        let slot = StreamSlot::first(connected.shared.clone());
                        let send = connected.send.clone();
                        guard.finish(Entry {
                            send: connected.send,
                            shared: connected.shared,
                            _tls: options.tls_connector().clone(),
                        });
                        let limit = Limit {
                            left: remaining(options.open.open_timeout, opened_at, timer.now()),
                            configured: options.open.open_timeout,
                        };
                        (send, slot, limit)
                    }
                    Dialed::Http1(transport) => return Ok(Hop::Http1(transport)),
                }
            }
        };
        let opened =
            extended_connect(send, slot, &h2req, options, timer, limit, target.secure).await;
        match opened {
            Err(e) if !retried && e.http2_error().is_some_and(not_processed) => {
                trace::debug!(error = %e, "HTTP/2 stream refused: trying another connection");
                retried = true;
            }
            other => return other.map(Hop::Done),
        }
    }
}

/// A GOAWAY or REFUSED_STREAM: the server did not process the request, so it may be sent
/// again (RFC 9113 §8.7).
fn not_processed(e: &Http2Error) -> bool {
    e.is_go_away() || e.reason() == Some(0x7)
}

/// What a dial gave.
enum Dialed<S> {
    /// A new h2 connection that carries WebSockets, and when its TCP connected.
    H2(Connected, Instant),
    /// HTTP/1.1 instead (`Prefer`).
    Http1(Transport<S>),
}

/// Opens a new connection for `key`: TCP, the proxy, TLS with the ALPN offer of `mode`,
/// the h2 handshake and SETTINGS; falls back to HTTP/1.1 under `Prefer`.
#[allow(clippy::too_many_arguments)]
async fn dial<R, T>(
    rt: &R,
    tls: &T,
    target: &Target,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
    mode: Http2,
    pool: &H2Pool,
    key: &PoolKey,
) -> Result<Dialed<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let addr = authority(&target.host, target.port);
    let offer = match (target.secure, mode) {
        (false, _) => &[][..],
        (true, Http2::Prefer) => H2_OR_HTTP1,
        (true, _) => H2_ONLY,
    };
    let transport = open_transport_alpn(rt, tls, target, options, timer, offer).await?;
    if target.secure {
        let alpn = match &transport.stream {
            MaybeTlsStream::Tls(s) => tls.negotiated_alpn(s),
            _ => None,
        };
        if alpn.as_deref() != Some(&b"h2"[..]) {
            if mode == Http2::Prefer {
                trace::debug!("ALPN did not choose h2: HTTP/1.1 on this connection");
                return Ok(Dialed::Http1(transport));
            }
            return Err(opening_error(
                Http2Error::not_negotiated(alpn).into_io(),
                &addr,
            ));
        }
    }
    let Transport {
        stream,
        opened_at,
        early_data,
        ..
    } = transport;
    let limit = Limit {
        left: remaining(options.open.open_timeout, opened_at, timer.now()),
        configured: options.open.open_timeout,
    };
    let io = Prefixed::new(early_data, stream);
    let settings = pool.inner.settings;
    let connecting = async {
        conn::connect(
            rt,
            io,
            settings,
            pool.downgrade(),
            key.clone(),
            timer.clone(),
        )
        .await
        .map_err(|e| handshake_error(e, &addr, target.secure))
    };
    match with_timeout(connecting, Some(timer), limit, Step::Handshake, Some(&addr)).await {
        Ok(connected) => Ok(Dialed::H2(connected, opened_at)),
        Err(e)
            if mode == Http2::Prefer
                && e.http2_error()
                    .is_some_and(Http2Error::is_extended_connect_disabled) =>
        {
            trace::debug!("no extended CONNECT over h2: HTTP/1.1 on a new connection");
            pool.remember_http1(key, timer.now());
            http1(rt, tls, target, options, timer)
                .await
                .map(Dialed::Http1)
        }
        Err(e) => Err(e),
    }
}

/// A new transport for HTTP/1.1 (ALPN `http/1.1` on `wss://`).
async fn http1<R, T>(
    rt: &R,
    tls: &T,
    target: &Target,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
) -> Result<Transport<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let offer = if target.secure { HTTP1_ONLY } else { &[] };
    open_transport_alpn(rt, tls, target, options, timer, offer).await
}

/// An HTTP/2 failure while opening, at [`Step::Handshake`] with the target.
fn opening_error(e: std::io::Error, addr: &str) -> Error {
    let message = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Http2Error>())
    {
        Some(h2) => format!("HTTP/2 with {addr}: {h2}"),
        None => format!("HTTP/2 with {addr}: the connection failed: {e}"),
    };
    Error::opening(Step::Handshake, Some(addr.to_owned()), message, e)
}

/// A failed HTTP/2 connection preface or SETTINGS exchange: over h2c the likely cause is
/// a server that speaks only HTTP/1.1 (it answers the preface with an error or closes).
fn handshake_error(e: std::io::Error, addr: &str, secure: bool) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Http2Error>()) {
        return opening_error(e, addr);
    }
    let hint = if secure {
        "the server chose h2 by ALPN but broke off the HTTP/2 handshake; try again, or use \
         Http2::Off for this server"
    } else {
        "with ws:// and Http2::Require the client speaks h2c (HTTP/2 without TLS, by prior \
         knowledge), which a server that speaks only HTTP/1.1 refuses like this: use \
         Http2::Prefer or Http2::Off for it"
    };
    let message = format!("HTTP/2 with {addr}: the HTTP/2 handshake failed ({e}); {hint}");
    Error::opening(Step::Handshake, Some(addr.to_owned()), message, e)
}

/// Sends the extended CONNECT on `send` and opens the WebSocket on its stream, or hands
/// back a redirect; bounded by `limit` at [`Step::Handshake`].
async fn extended_connect<S, T>(
    send: SendRequest<bytes::Bytes>,
    slot: StreamSlot,
    h2req: &H2Request,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
    limit: Limit,
    secure: bool,
) -> Result<Handshake<MaybeTlsStream<S, T>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let addr = h2req.authority().to_owned();
    let exchange = async {
        let fail = |e: h2::Error, slot: &StreamSlot, doing: &str| {
            if e.is_go_away() {
                slot.mark_dead();
            }
            let e = Http2Error::from_h2(e);
            let message = format!("HTTP/2 extended CONNECT to {addr}: {doing} failed: {e}");
            Error::opening(Step::Handshake, Some(addr.clone()), message, e)
        };
        let mut send = send
            .ready()
            .await
            .map_err(|e| fail(e, &slot, "waiting for a stream"))?;
        let connection = send.clone();
        let uri = format!("{}://{}{}", h2req.scheme(), h2req.authority(), h2req.path());
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(uri);
        for (name, value) in h2req.headers() {
            request = request.header(name, value);
        }
        let mut request = request.body(()).map_err(|e| {
            let message = format!("HTTP/2 extended CONNECT to {addr}: invalid request: {e}");
            let io = std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
            Error::opening(Step::Handshake, Some(addr.clone()), message, io)
        })?;
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from(h2req.protocol()));
        let (response, send_stream) = send
            .send_request(request, false)
            .map_err(|e| fail(e, &slot, "sending the request"))?;
        trace::trace!(target = addr, "extended CONNECT sent");
        let response = response
            .await
            .map_err(|e| fail(e, &slot, "reading the response"))?;
        let (parts, mut body) = response.into_parts();
        let status = parts.status.as_u16();
        trace::debug!(target = addr, status, "HTTP/2 response");
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let excerpt = if (200..400).contains(&status) {
            Vec::new()
        } else {
            read_excerpt(&mut body, timer).await
        };
        let response = Response::from_h2(status, headers, &excerpt);
        if (300..400).contains(&status) {
            return Ok(Handshake::Redirect(response));
        }
        let accepted = h2req.check(&response)?;
        let negotiated = negotiate(options, &accepted)?;
        let conn =
            Connection::with_negotiated(Role::Client, options.open.config.clone(), negotiated);
        let stream = H2Stream::client(send_stream, body, secure, slot, connection);
        let mut ws =
            WebSocket::from_connection(MaybeTlsStream::Http2(stream), conn, Some(timer.clone()));
        ws.set_subprotocol(accepted.subprotocol);
        ws.skip_eof_wait();
        Ok(Handshake::Open(ws, response))
    };
    with_timeout(exchange, Some(timer), limit, Step::Handshake, Some(&addr)).await
}

/// The first bytes of a refusal's body, for the error; waits at most [`BODY_WAIT`].
async fn read_excerpt(body: &mut RecvStream, timer: &Arc<dyn Timer>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let read = std::pin::pin!(async {
            while out.len() < BODY_EXCERPT && !body.is_end_stream() {
                match body.data().await {
                    Some(Ok(chunk)) => {
                        let _ = body.flow_control().release_capacity(chunk.len());
                        let take = chunk.len().min(BODY_EXCERPT - out.len());
                        out.extend_from_slice(&chunk[..take]);
                    }
                    _ => break,
                }
            }
        });
        match Deadline::new(read, Some(timer), Some(BODY_WAIT)).await {
            Timed::Done(()) | Timed::Elapsed => {}
        }
    }
    out
}
