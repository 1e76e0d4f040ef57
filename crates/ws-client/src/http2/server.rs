//! [`H2Server`]: our server role over HTTP/2 (RFC 8441): one h2 connection, each extended
//! CONNECT on it accepted as a [`WebSocket`] over an [`H2Stream`].
//!
//! ```text
//!  H2Server::handshake(io): h2 preface + SETTINGS (ENABLE_CONNECT_PROTOCOL, stream cap,
//!                           windows), bounded by the open timeout
//!  accept(): polls the connection ─▶ a request ─▶ Request::from_h2 ─▶ validate_h2
//!            ─▶ handshake::agree (check hook, subprotocol, permessage-deflate: the same
//!               code as HTTP/1.1) ─▶ 200 + accept_h2 headers ─▶ WebSocket<H2Stream>
//!                                 └─ refused: the status (+ reason as the body), next one
//! ```

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use h2::server::{Connection as H2Connection, SendResponse};
use h2::RecvStream;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};
use ws_frame::Role;
use ws_handshake::{HandshakeError, Request};

use super::pool::{DEFAULT_CONNECTION_WINDOW, DEFAULT_STREAM_WINDOW};
use super::{H2Stream, Http2Error};
use crate::error::{Error, Step};
use crate::handshake::{agree, Agreed, Refusal};
use crate::io::{with_timeout, Limit};
use crate::options::ServerOptions;
use crate::proto::Connection;
use crate::rt::Timer;
use crate::stream::WebSocket;
use crate::trace;

/// Default cap on WebSockets one HTTP/2 connection of an [`H2Server`] carries at once
/// (its `SETTINGS_MAX_CONCURRENT_STREAMS`); see
/// [`ServerOptions::http2_max_streams`](crate::ServerOptions::http2_max_streams).
pub const DEFAULT_SERVER_MAX_STREAMS: u32 = 256;

/// What an accepted WebSocket and its opening request are, from [`H2Server::accept`].
pub type Accepted = (WebSocket<H2Stream>, Request);

/// The server side of one HTTP/2 connection carrying WebSockets (RFC 8441, feature
/// `http2`): h2c on a plain stream (the client sends the HTTP/2 preface at once, "prior
/// knowledge"), or h2 over TLS once ALPN chose `h2`.
///
/// Its SETTINGS enable extended CONNECT and cap the WebSockets at once
/// ([`ServerOptions::http2_max_streams`](crate::ServerOptions::http2_max_streams), default
/// 256); each stream's receive window is 256 KiB and the connection's 16 MiB, as on our
/// client; a request's header block is bounded by the options'
/// [`handshake_limits`](crate::ServerOptions::handshake_limits).
///
/// **[`accept`](Self::accept) also drives the connection**: the WebSockets it returned make
/// progress (their frames are read and written) only while `accept` is being polled, so
/// keep calling it for as long as the connection should live, typically in a task of its
/// own that hands each WebSocket to another task:
///
/// ```no_run
/// # async fn serve<S>(io: S, timer: std::sync::Arc<dyn ws_client::rt::Timer>) -> Result<(), ws_client::Error>
/// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static {
/// use ws_client::http2::H2Server;
/// use ws_client::ServerOptions;
///
/// let mut server = H2Server::handshake(io, &ServerOptions::new(), Some(timer)).await?;
/// while let Some(accepted) = server.accept().await {
///     match accepted {
///         Ok((ws, request)) => { /* spawn a task that serves `ws` */ }
///         Err(e) => eprintln!("a WebSocket was refused: {e}"), // the next one may be fine
///     }
/// }
/// // The connection ended: the WebSockets on it are gone too.
/// # Ok(()) }
/// ```
///
/// A request that is not a valid WebSocket over HTTP/2, or that the options' check hook
/// refuses, is answered with its HTTP status (426 with `sec-websocket-version: 13`, and the
/// reason as a short text body) and reported as `Some(Err(..))`; the connection and its
/// other WebSockets go on. A failure of the connection itself is `Some(Err(..))` too (an
/// I/O error, with an [`Http2Error`] inside for HTTP/2 ones), then `None`.
pub struct H2Server<S> {
    conn: H2Connection<Compat<S>, Bytes>,
    options: ServerOptions,
    timer: Option<Arc<dyn Timer>>,
    secure: bool,
    ended: bool,
}

impl<S> fmt::Debug for H2Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Server")
            .field("secure", &self.secure)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<S> H2Server<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Runs the server side of the HTTP/2 connection preface on `io` (reads the client's
    /// preface, sends our SETTINGS), bounded by the options' open timeout measured with
    /// `timer` (no timer: not bounded). `timer` also runs the accepted WebSockets' timers
    /// (keepalive, close and write timeouts), as for
    /// [`server_accept`](crate::handshake::server_accept).
    ///
    /// Errors at [`Step::Handshake`]: a timeout, an I/O error, or a client that is not
    /// speaking HTTP/2 (an [`Http2Error`] inside the I/O error).
    ///
    /// # Cancel safety
    /// Dropping the future drops `io` mid-preface.
    pub async fn handshake(
        io: S,
        options: &ServerOptions,
        timer: Option<Arc<dyn Timer>>,
    ) -> Result<H2Server<S>, Error> {
        let header_list = u32::try_from(options.open.limits.max_head_size).unwrap_or(u32::MAX);
        let mut builder = h2::server::Builder::new();
        builder
            .enable_connect_protocol()
            .max_concurrent_streams(options.http2_max_streams)
            .initial_window_size(DEFAULT_STREAM_WINDOW)
            .initial_connection_window_size(DEFAULT_CONNECTION_WINDOW)
            .max_header_list_size(header_list);
        let preface = async {
            builder
                .handshake::<_, Bytes>(io.compat())
                .await
                .map_err(|e| {
                    let io = Http2Error::from_h2(e);
                    let message =
                        format!("HTTP/2 (server side): the connection preface failed: {io}");
                    Error::opening(Step::Handshake, None, message, io)
                })
        };
        let limit = Limit::whole(options.open.open_timeout);
        let conn = with_timeout(preface, timer.as_ref(), limit, Step::Handshake, None).await?;
        trace::debug!("HTTP/2 server connection open, extended CONNECT enabled");
        Ok(H2Server {
            conn,
            options: options.clone(),
            timer,
            secure: false,
            ended: false,
        })
    }

    /// Marks the connection as running over TLS, for the accepted streams'
    /// [`H2Stream::is_tls`] (`false` by default: h2c).
    pub fn tls(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The next WebSocket opened on this connection, with its request; `None` once the
    /// connection has ended. Also drives the whole connection (see [`H2Server`]): keep
    /// calling it.
    ///
    /// Each request is answered as soon as its headers are in (nothing of a stream is
    /// waited for here), so a slow or silent client holds up no other stream. A refused
    /// request is `Some(Err(..))` ([`ErrorKind::Handshake`](crate::ErrorKind::Handshake),
    /// `HandshakeError::RequestRefused` with the status for the check hook's refusals);
    /// keep calling `accept`.
    ///
    /// # Cancel safety
    /// Cancel safe: a request is taken from the connection and answered in the same poll,
    /// so dropping the future loses no WebSocket.
    pub async fn accept(&mut self) -> Option<Result<Accepted, Error>> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// [`accept`](Self::accept) as a poll function.
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Accepted, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            let next = match self.conn.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(next) => next,
            };
            match next {
                None => {
                    self.ended = true;
                    trace::debug!("HTTP/2 server connection closed");
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    self.ended = true;
                    let io = Http2Error::from_h2(e);
                    let message = format!("HTTP/2 (server side): the connection failed: {io}");
                    return Poll::Ready(Some(Err(Error::opening(
                        Step::Handshake,
                        None,
                        message,
                        io,
                    ))));
                }
                Some(Ok((request, respond))) => {
                    if let Some(result) = self.open(request, respond) {
                        return Poll::Ready(Some(result));
                    }
                    // The client reset the stream before we answered: the next one.
                }
            }
        }
    }

    /// Answers one request: the WebSocket, its refusal, or `None` when the stream is gone.
    fn open(
        &self,
        request: http::Request<RecvStream>,
        mut respond: SendResponse<Bytes>,
    ) -> Option<Result<Accepted, Error>> {
        let (parts, body) = request.into_parts();
        let protocol = parts
            .extensions
            .get::<h2::ext::Protocol>()
            .map(h2::ext::Protocol::as_str);
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
        let request = Request::from_h2(
            parts.method.as_str(),
            protocol,
            parts.uri.scheme_str().unwrap_or(""),
            parts.uri.authority().map_or("", |a| a.as_str()),
            path,
            headers,
        );
        if let Err(e) = request.validate_h2() {
            let status = e.http_status().unwrap_or(400);
            let reason = e.to_string();
            refuse(&mut respond, status, &reason)?;
            return Some(Err(e.into()));
        }
        let Agreed {
            subprotocol,
            extensions,
            negotiated,
        } = match agree(&request, &self.options) {
            Ok(agreed) => agreed,
            Err(Refusal {
                status,
                reason,
                error,
            }) => {
                refuse(&mut respond, status, &reason)?;
                return Some(Err(error));
            }
        };
        let mut response = http::Response::builder().status(200);
        for (name, value) in request.accept_h2(subprotocol, extensions.as_deref()) {
            response = response.header(name, value);
        }
        let response = match response.body(()) {
            Ok(response) => response,
            Err(e) => {
                respond.send_reset(h2::Reason::INTERNAL_ERROR);
                let e = HandshakeError::MalformedHead {
                    reason: format!("the 200 answer could not be built: {e}"),
                };
                return Some(Err(e.into()));
            }
        };
        let send = match respond.send_response(response, false) {
            Ok(send) => send,
            Err(_e) => {
                trace::debug!(error = %_e, "the client reset the stream before our answer");
                return None;
            }
        };
        let stream = H2Stream::from_h2(send, body, self.secure);
        let config = self.options.open.config.clone();
        let conn = Connection::with_negotiated(Role::Server, config, negotiated);
        let mut ws = WebSocket::from_connection(stream, conn, self.timer.clone());
        ws.set_subprotocol(subprotocol.map(str::to_owned));
        trace::debug!(path = request.path(), "WebSocket over HTTP/2 accepted");
        Some(Ok((ws, request)))
    }

    /// Starts a graceful shutdown: GOAWAY, so that the client opens no more WebSockets
    /// here; the open ones go on, and [`accept`](Self::accept) returns `None` once they
    /// ended. Keep calling `accept` meanwhile.
    pub fn graceful_shutdown(&mut self) {
        self.conn.graceful_shutdown();
    }

    /// Ends the connection now with GOAWAY carrying `reason` (an RFC 9113 error code,
    /// `0x0` NO_ERROR): every WebSocket on it fails with an [`Http2Error`] that
    /// [`is_go_away`](Http2Error::is_go_away). Keep calling [`accept`](Self::accept) until
    /// `None` so that the GOAWAY goes out.
    pub fn abrupt_shutdown(&mut self, reason: u32) {
        self.conn.abrupt_shutdown(h2::Reason::from(reason));
    }
}

/// Answers a refused request with `status` (426 with `sec-websocket-version: 13`) and the
/// reason as a short text body. `None` when the stream is already gone.
fn refuse(respond: &mut SendResponse<Bytes>, status: u16, reason: &str) -> Option<()> {
    let status = if (200..=999).contains(&status) && !(200..300).contains(&status) {
        status
    } else {
        400
    };
    let mut response = http::Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8");
    if status == 426 {
        response = response.header("sec-websocket-version", "13");
    }
    let Ok(response) = response.body(()) else {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return Some(());
    };
    match respond.send_response(response, false) {
        Ok(mut send) => {
            let mut body: String = reason
                .chars()
                .filter(|c| *c == '\t' || !c.is_control())
                .take(1024)
                .collect();
            body.push('\n');
            // h2 holds the short body until the window takes it; a gone stream is fine.
            let _ = send.send_data(Bytes::from(body), true);
            Some(())
        }
        Err(_e) => {
            trace::debug!(error = %_e, "the client reset the stream before our refusal");
            None
        }
    }
}
