//! Our client role's opening handshake: write the upgrade request, read and check the
//! response, negotiate permessage-deflate, open the [`WebSocket`].

use std::io;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use ws_frame::Role;
use ws_handshake::{Accepted, ClientRequest, Response, ResponseParser};

use super::{open, HEAD_READ};
use crate::error::{Error, Step};
use crate::io::{authority, read, with_timeout, write_all, Limit};
use crate::options::ConnectOptions;
use crate::proto::Negotiated;
use crate::rt::Timer;
use crate::stream::WebSocket;
use crate::trace;

/// Runs the client side of the opening handshake on a connected stream (plain or TLS):
/// writes `request`, reads and checks the server's response (status 101, `Upgrade`,
/// `Connection`, `Sec-WebSocket-Accept`, subprotocol, extensions), negotiates
/// permessage-deflate, and returns the open [`WebSocket`] with the server's response.
///
/// `request` should come from [`ConnectOptions::build_request`] (it carries the options'
/// headers, subprotocols and compression offer); the options also give the limits, the
/// open timeout and the connection [`Config`](crate::Config). Without a `timer` there is no open timeout
/// (and no keepalive or close timeout later).
///
/// Errors: [`ErrorKind::Handshake`](crate::ErrorKind::Handshake) when the response is not an acceptable upgrade (a redirect
/// is `HandshakeError::Redirect` with its `Location`), [`ErrorKind::Io`](crate::ErrorKind::Io) when the stream fails
/// or the server closes it before a complete response (both with [`Step::Handshake`] and
/// the URL's `host:port` as [`Error::step`] and [`Error::target`]), and
/// a timeout at `Step::Handshake` after the open timeout.
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
    let limit = Limit::whole(options.open.open_timeout);
    match client_handshake_step(stream, &request, options, timer, limit, Vec::new()).await? {
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

/// The client handshake (the one driver: [`client_handshake`] and the connect flow both
/// run it), bounded by `limit`; hands a 3xx back whole (the full `Location`, unshortened)
/// for the caller to follow or report. `early` holds bytes that arrived before the request
/// was sent (after a proxy's answer); they are parsed ahead of the stream.
pub(crate) async fn client_handshake_step<S>(
    mut stream: S,
    request: &ClientRequest,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
    limit: Limit,
    early: Vec<u8>,
) -> Result<Handshake<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = authority(&request.target().host, request.target().port);
    let exchange = async {
        write_all(&mut stream, request.as_bytes())
            .await
            .map_err(|e| upgrade_error(e, &target, "sending the request"))?;
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
            None => read_response(&mut stream, &mut parser, &target).await?,
        };
        trace::debug!(target, status = response.status(), "HTTP response");
        if (300..400).contains(&response.status()) {
            return Ok(Handshake::Redirect(response));
        }

        let accepted = request.check(&response)?;
        let config = options.open.config.clone();
        let negotiated = negotiate(options, &accepted)?;
        let mut ws = open(
            stream,
            Role::Client,
            config,
            negotiated,
            response.rest(),
            timer.clone(),
        );
        ws.set_subprotocol(accepted.subprotocol);
        Ok(Handshake::Open(ws, response))
    };
    with_timeout(
        exchange,
        timer.as_ref(),
        limit,
        Step::Handshake,
        Some(&target),
    )
    .await
}

/// What the server accepted, as the connection will run it: permessage-deflate negotiated
/// from the options' offer and the server's answer (the same over HTTP/1.1 and HTTP/2).
pub(crate) fn negotiate(
    options: &ConnectOptions,
    accepted: &Accepted,
) -> Result<Negotiated, Error> {
    #[cfg(feature = "deflate")]
    let negotiated = Negotiated::deflate(match &options.open.compression {
        Some(deflate) => deflate.negotiate(&accepted.extensions)?,
        None => None,
    });
    #[cfg(not(feature = "deflate"))]
    let negotiated = {
        let _ = (options, accepted);
        Negotiated::default()
    };
    trace::debug!(
        subprotocol = accepted.subprotocol.as_deref(),
        extensions = %accepted
            .extensions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        compression = negotiated.compression(),
        "WebSocket open"
    );
    Ok(negotiated)
}

/// The error for a redirect that is not followed: what [`ClientRequest::check`] says.
pub(crate) fn redirect_error(request: &ClientRequest, response: &Response) -> Error {
    match request.check(response) {
        Err(e) => e.into(),
        // `check` refuses every status but 101; a 3xx can't pass.
        Ok(_) => Error::internal(format!(
            "a {} response passed the handshake check",
            response.status()
        )),
    }
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
