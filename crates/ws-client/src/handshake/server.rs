//! Our server role's opening handshake: read and check the client's request, run the
//! [`ServerOptions`] check hook, answer `101` (or an HTTP error), open the [`WebSocket`].

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use ws_frame::Role;
use ws_handshake::{reject, HandshakeError, Request, RequestParser};

use super::{open, HEAD_READ};
use crate::error::{Error, Step};
use crate::io::{read, with_timeout, write_all, Limit};
use crate::options::ServerOptions;
use crate::proto::Negotiated;
use crate::rt::Timer;
use crate::stream::WebSocket;

/// Runs the server side of the opening handshake on an accepted stream: reads and validates
/// the client's request, runs the [`ServerOptions`] check hook, selects a subprotocol and
/// permessage-deflate parameters, writes the `101` response and returns the open
/// [`WebSocket`] (server role).
///
/// A request that is malformed, fails validation or is refused by the check hook is
/// answered with an HTTP error (400, 405, 426, 431, or the hook's status) and the stream
/// is shut down; the error is then returned ([`ErrorKind::Handshake`](crate::ErrorKind::Handshake) for invalid requests, an
/// `HandshakeError::RequestRefused` carrying the status for a refusal by the check hook).
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn server_accept<S>(
    mut stream: S,
    options: &ServerOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
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
        let agreed = match agree(&request, options) {
            Ok(agreed) => agreed,
            Err(refusal) => {
                refuse(&mut stream, refusal.status, &refusal.reason).await;
                return Err(refusal.error);
            }
        };
        let Agreed {
            subprotocol,
            extensions,
            negotiated,
        } = agreed;
        let config = options.open.config.clone();
        let response = request.accept(subprotocol, extensions.as_deref());
        write_all(&mut stream, &response)
            .await
            .map_err(|e| accept_error(e, "sending the 101 response"))?;

        let mut ws = open(
            stream,
            Role::Server,
            config,
            negotiated,
            request.rest(),
            timer.clone(),
        );
        ws.set_subprotocol(subprotocol.map(str::to_owned));
        Ok(ws)
    };
    let limit = Limit::whole(options.open.open_timeout);
    with_timeout(exchange, timer.as_ref(), limit, Step::Handshake, None).await
}

/// What the server side agreed to for a valid request: the answer's subprotocol and
/// `Sec-WebSocket-Extensions` value, and the compression the connection runs with.
pub(crate) struct Agreed<'a> {
    pub(crate) subprotocol: Option<&'a str>,
    pub(crate) extensions: Option<String>,
    pub(crate) negotiated: Negotiated,
}

/// A request the server side refuses: the HTTP status and reason to answer with, and the
/// error to return.
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) error: Error,
}

/// The server side's decision on a validated request, the same over HTTP/1.1 and HTTP/2:
/// the [`ServerOptions`] check hook, then the subprotocol (ours, in our order) and the
/// permessage-deflate parameters.
pub(crate) fn agree<'a>(
    request: &Request,
    options: &'a ServerOptions,
) -> Result<Agreed<'a>, Refusal> {
    if let Some(check) = &options.check {
        if let Err((status, reason)) = check(request) {
            let error = Error::from(HandshakeError::RequestRefused {
                status,
                reason: reason.clone(),
            });
            return Err(Refusal {
                status,
                reason,
                error,
            });
        }
    }
    let subprotocol = select_subprotocol(request, &options.subprotocols);
    #[allow(unused_mut)]
    let mut agreed = Agreed {
        subprotocol,
        extensions: None,
        negotiated: Negotiated::default(),
    };
    #[cfg(feature = "deflate")]
    {
        if let Some(deflate) = &options.open.compression {
            let offers = request.extensions().map_err(|e| Refusal {
                status: e.http_status().unwrap_or(400),
                reason: e.to_string(),
                error: e.into(),
            })?;
            if let Some((params, answer)) = deflate.accept_offer(&offers) {
                agreed.negotiated = Negotiated::deflate(Some(params));
                agreed.extensions = Some(answer);
            }
        }
    }
    Ok(agreed)
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

/// Answers a refused upgrade with an HTTP error and shuts the stream down (best effort:
/// the caller reports the refusal either way).
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, reason: &str) {
    let answer = reject(status, reason);
    if write_all(stream, &answer).await.is_ok() {
        let _ = poll_fn(|cx| Pin::new(&mut *stream).poll_close(cx)).await;
    }
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
