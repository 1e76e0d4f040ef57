//! The one error type of `ws-client`: an opaque [`Error`] with a kind, the step and target
//! where it happened, its source, and queries.
//!
//! | [`ErrorKind`]  | fault                            | close code ([`Error::close_code`]) |
//! |----------------|----------------------------------|------------------------------------|
//! | `Protocol`     | the peer broke RFC 6455/7692     | [`ProtocolError::close_code`]      |
//! | `Handshake`    | the HTTP upgrade failed          | none (no WebSocket yet)            |
//! | `Proxy`        | a proxy refused or misbehaved    | none                               |
//! | `Redirect`     | a redirect was not followed      | none                               |
//! | `Tls`          | the TLS handshake failed         | none                               |
//! | `Io`           | the transport failed             | none                               |
//! | `Timeout`      | a step took too long             | 1011 for keepalive, else 1006      |
//! | `ClosedByPeer` | the peer closed for good         | the peer's code                    |
//! | `Closed`       | the connection is over           | none                               |
//! | `Usage`        | the caller misused the API       | none (nothing was sent)            |
//! | `Internal`     | a bug here or in a backend       | 1011                               |
//!
//! Each message says what happened, at which step, and what to do about it. Settings are
//! named in user words, with the setter in parentheses at most ("raise it with
//! .max_message_size(..)").

use std::fmt;
use std::io;
use std::time::Duration;

use ws_frame::{CloseCode, FrameError, OpCode};
use ws_handshake::proxy::ProxyError;
use ws_handshake::redirect::RedirectError;
use ws_handshake::HandshakeError;

use crate::message::CloseFrame;
use crate::tls::error::TlsError;

/// Everything that can go wrong on a WebSocket connection.
///
/// Opaque, like `hyper::Error`: ask it what you need ([`kind`](Self::kind),
/// [`step`](Self::step), [`target`](Self::target), [`close_code`](Self::close_code),
/// [`http_status`](Self::http_status), [`is_timeout`](Self::is_timeout), ...) and reach the
/// details through [`protocol_error`](Self::protocol_error),
/// [`handshake_error`](Self::handshake_error), [`io_error`](Self::io_error),
/// [`tls_error`](Self::tls_error) and [`source`](std::error::Error::source).
///
/// ```
/// use ws_client::{Error, ErrorKind, ProtocolError};
///
/// let e = Error::from(ProtocolError::InvalidUtf8);
/// assert_eq!(e.kind(), ErrorKind::Protocol);
/// assert_eq!(e.close_code().map(|c| c.as_u16()), Some(1007));
/// assert_eq!(e.protocol_error(), Some(&ProtocolError::InvalidUtf8));
/// ```
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    repr: Repr,
    /// Where it happened, when known; a handshake error's own step otherwise.
    step: Option<Step>,
    /// `host:port` (or the host, for DNS) the step was talking to.
    target: Option<String>,
}

#[derive(Debug)]
enum Repr {
    Protocol(ProtocolError),
    Closed,
    ClosedByPeer(CloseFrame),
    /// `message`: the whole sentence of an opening step (what failed, where, what to do).
    Io {
        message: Option<String>,
        source: io::Error,
    },
    Tls(TlsError),
    Handshake(HandshakeError),
    /// `limit`: the configured limit that ran out, for the opening steps.
    Timeout {
        limit: Option<Duration>,
    },
    Usage(UsageError),
    Internal(String),
}

/// What kind of failure an [`Error`] is ([`Error::kind`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The peer broke the WebSocket protocol; the connection was failed and a close frame
    /// with [`ProtocolError::close_code`] was queued (unless it is 1006, never sent).
    Protocol,
    /// The connection is closed or closing: nothing more can be sent; open a new one.
    Closed,
    /// The peer closed with a code that says retrying will not help (1003, 1008, 1010, or one
    /// the user listed): how a [`ReconnectingWebSocket`](crate::reconnect::ReconnectingWebSocket)
    /// gives up.
    ClosedByPeer,
    /// The transport failed, in an opening step ([`Error::step`] says which) or on the open
    /// connection's socket.
    Io,
    /// The TLS handshake failed ([`Error::tls_error`] has the details).
    Tls,
    /// The HTTP upgrade failed: a refusal, a bad answer, or an invalid request setting.
    Handshake,
    /// A proxy refused the tunnel, misbehaved, or is misconfigured.
    Proxy,
    /// The server redirected and the redirect was not followed (redirects off, a loop, an
    /// unusable target, or one that would leave TLS).
    Redirect,
    /// A step did not finish in time ([`Error::step`] says which).
    Timeout,
    /// The caller asked for something the protocol forbids; nothing was sent.
    Usage,
    /// A failure inside this library or its compression backend (a bug: please report it).
    Internal,
}

impl Error {
    fn new(repr: Repr, step: Option<Step>, target: Option<String>) -> Error {
        Error {
            inner: Box::new(Inner { repr, step, target }),
        }
    }

    /// The connection is closed or closing ([`ErrorKind::Closed`]).
    pub(crate) fn closed() -> Error {
        Error::new(Repr::Closed, None, None)
    }

    /// A timer of the open connection fired: [`Step::Close`], [`Step::Keepalive`] or
    /// [`Step::Write`]. (Public, like [`opening_timeout`](Self::opening_timeout), for custom
    /// drivers and for tests of error handling.)
    pub fn timeout(step: Step) -> Error {
        Error::new(Repr::Timeout { limit: None }, Some(step), None)
    }

    /// An opening step ran out of its `limit` talking to `target` (`None` on the server side).
    pub fn opening_timeout(step: Step, limit: Duration, target: Option<String>) -> Error {
        Error::new(Repr::Timeout { limit: Some(limit) }, Some(step), target)
    }

    /// The peer closed for good with `frame`.
    pub(crate) fn closed_by_peer(frame: CloseFrame) -> Error {
        Error::new(Repr::ClosedByPeer(frame), None, None)
    }

    /// A bug here or in a backend.
    pub(crate) fn internal(message: String) -> Error {
        Error::new(Repr::Internal(message), None, None)
    }

    /// An I/O error of an opening `step`: `message` is the whole sentence shown (what
    /// failed, where, what to do), `cause` the error it comes from (kept for its kind and
    /// source chain).
    pub(crate) fn opening(
        step: Step,
        target: Option<String>,
        message: String,
        cause: io::Error,
    ) -> Error {
        let repr = Repr::Io {
            message: Some(message),
            source: cause,
        };
        Error::new(repr, Some(step), target)
    }

    /// Marks an error of the TLS step with `target`, so that [`is_tls`](Self::is_tls) and
    /// [`step`](Self::step) find it; the message and source chain stay the same. Errors
    /// already placed at a step, and timeouts, are left as they are.
    pub(crate) fn into_tls_failure(mut self, target: &str) -> Error {
        let inner = &mut *self.inner;
        if inner.step.is_none() {
            if let Repr::Io { message, source } = &mut inner.repr {
                message.get_or_insert_with(|| source.to_string());
            }
            if matches!(inner.repr, Repr::Io { .. } | Repr::Tls(_)) {
                inner.step = Some(Step::Tls);
                inner.target = Some(target.to_owned());
            }
        }
        self
    }

    /// A copy for a second reader (the reconnecting wrapper hands one error to `recv` and
    /// to its hook): I/O and TLS sources become their text, everything else is kept.
    pub(crate) fn duplicate(&self) -> Error {
        let repr = match &self.inner.repr {
            Repr::Protocol(p) => Repr::Protocol(p.clone()),
            Repr::Closed => Repr::Closed,
            Repr::ClosedByPeer(f) => Repr::ClosedByPeer(f.clone()),
            Repr::Io { message, source } => Repr::Io {
                message: message.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Repr::Tls(t) => Repr::Tls(t.duplicate()),
            Repr::Handshake(h) => Repr::Handshake(h.clone()),
            Repr::Timeout { limit } => Repr::Timeout { limit: *limit },
            Repr::Usage(u) => Repr::Usage(u.clone()),
            Repr::Internal(s) => Repr::Internal(s.clone()),
        };
        Error::new(repr, self.inner.step, self.inner.target.clone())
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &self.inner.repr {
            Repr::Protocol(_) => ErrorKind::Protocol,
            Repr::Closed => ErrorKind::Closed,
            Repr::ClosedByPeer(_) => ErrorKind::ClosedByPeer,
            Repr::Io { .. } if self.inner.step == Some(Step::Tls) => ErrorKind::Tls,
            Repr::Io { .. } => ErrorKind::Io,
            Repr::Tls(_) => ErrorKind::Tls,
            Repr::Handshake(h) if is_proxy_error(h) => ErrorKind::Proxy,
            Repr::Handshake(h) if is_redirect_error(h) => ErrorKind::Redirect,
            Repr::Handshake(_) => ErrorKind::Handshake,
            Repr::Timeout { .. } => ErrorKind::Timeout,
            Repr::Usage(_) => ErrorKind::Usage,
            Repr::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether the peer broke the protocol.
    pub fn is_protocol(&self) -> bool {
        self.kind() == ErrorKind::Protocol
    }

    /// Whether a step timed out (an opening step, or a timer of the open connection).
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the transport failed (not counting TLS handshakes: [`is_tls`](Self::is_tls)).
    pub fn is_io(&self) -> bool {
        self.kind() == ErrorKind::Io
    }

    /// Whether the opening handshake failed: the HTTP upgrade, a proxy, or a redirect that
    /// was not followed.
    pub fn is_handshake(&self) -> bool {
        matches!(self.inner.repr, Repr::Handshake(_))
    }

    /// Whether the caller misused the API.
    pub fn is_usage(&self) -> bool {
        self.kind() == ErrorKind::Usage
    }

    /// Whether the connection is closed or closing ([`ErrorKind::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }

    /// Whether a proxy refused the tunnel, misbehaved, or is misconfigured (an invalid proxy
    /// URL, unusable credentials, an answer that is not HTTP/SOCKS5).
    pub fn is_proxy(&self) -> bool {
        self.kind() == ErrorKind::Proxy
    }

    /// Whether the server redirected and the redirect was not followed: redirects are off,
    /// the hop limit was reached (a loop), the target is unusable, or it would leave TLS.
    pub fn is_redirect(&self) -> bool {
        self.kind() == ErrorKind::Redirect
    }

    /// Whether the TLS handshake failed. A TLS *timeout* is a timeout at [`Step::Tls`].
    pub fn is_tls(&self) -> bool {
        self.kind() == ErrorKind::Tls
    }

    /// The step of the connection this error happened at, when known: the opening steps
    /// ([`Step::Dns`], [`Step::Connect`], [`Step::Proxy`], [`Step::Tls`],
    /// [`Step::Handshake`]) for their I/O errors, timeouts and refusals, [`Step::Close`],
    /// [`Step::Keepalive`] and [`Step::Write`] for the open connection's timeouts. `None`
    /// for protocol and usage errors, failures of an open connection's socket, and invalid
    /// settings caught before connecting.
    pub fn step(&self) -> Option<Step> {
        match &self.inner.repr {
            Repr::Handshake(h) if self.inner.step.is_none() => handshake_step(h),
            _ => self.inner.step,
        }
    }

    /// `host:port` (or the host alone for a DNS lookup) the failing opening step was
    /// talking to: the server, or the proxy for the proxy's own steps. `None` when the error
    /// does not come from an opening step of our client (or when the server side does not
    /// know the client's address).
    pub fn target(&self) -> Option<&str> {
        self.inner.target.as_deref()
    }

    /// The configured limit that ran out, for a timeout of an opening step: the connect
    /// timeout for [`Step::Connect`], the open timeout otherwise.
    pub fn timeout_limit(&self) -> Option<Duration> {
        match self.inner.repr {
            Repr::Timeout { limit } => limit,
            _ => None,
        }
    }

    /// The close code that describes this failure on the wire: the code we sent to the
    /// peer (1002, 1007, 1009, 1011, ...), the peer's code for [`ErrorKind::ClosedByPeer`],
    /// or 1006 ([`CloseCode::ABNORMAL`], never sent) when the connection was dropped without
    /// a close handshake. `None` when no WebSocket close applies (opening, I/O, usage errors).
    pub fn close_code(&self) -> Option<CloseCode> {
        match &self.inner.repr {
            Repr::Protocol(e) => Some(e.close_code()),
            Repr::Timeout { limit: None } => match self.inner.step {
                Some(Step::Keepalive) => Some(CloseCode::INTERNAL_ERROR),
                Some(Step::Close | Step::Write) => Some(CloseCode::ABNORMAL),
                _ => None,
            },
            Repr::Internal(_) => Some(CloseCode::INTERNAL_ERROR),
            Repr::ClosedByPeer(frame) => Some(frame.code),
            _ => None,
        }
    }

    /// The HTTP status of a refusal: the server's answer to the upgrade request (a 4xx or
    /// 5xx, or a 3xx redirect that was not followed), the proxy's answer to `CONNECT`
    /// (407, 403, 502, ...), or, on the server side, the status our request check answered
    /// with. `None` for every other error.
    pub fn http_status(&self) -> Option<u16> {
        match self.handshake_error()? {
            HandshakeError::UnexpectedStatus { status, .. }
            | HandshakeError::RequestRefused { status, .. } => Some(*status),
            HandshakeError::Proxy(e) => e.http_status(),
            HandshakeError::Redirect(e) => e.http_status(),
            _ => None,
        }
    }

    /// The protocol rule the peer broke, for [`ErrorKind::Protocol`].
    pub fn protocol_error(&self) -> Option<&ProtocolError> {
        match &self.inner.repr {
            Repr::Protocol(e) => Some(e),
            _ => None,
        }
    }

    /// The handshake, proxy or redirect failure, for [`ErrorKind::Handshake`],
    /// [`ErrorKind::Proxy`] and [`ErrorKind::Redirect`].
    pub fn handshake_error(&self) -> Option<&HandshakeError> {
        match &self.inner.repr {
            Repr::Handshake(e) => Some(e),
            _ => None,
        }
    }

    /// The transport's error, for [`ErrorKind::Io`] (and a TLS failure that a custom
    /// [`TlsConnect`](crate::tls::TlsConnect) reported as I/O).
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.inner.repr {
            Repr::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The API misuse, for [`ErrorKind::Usage`].
    pub fn usage_error(&self) -> Option<&UsageError> {
        match &self.inner.repr {
            Repr::Usage(e) => Some(e),
            _ => None,
        }
    }

    /// The peer's close frame, for [`ErrorKind::ClosedByPeer`].
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        match &self.inner.repr {
            Repr::ClosedByPeer(frame) => Some(frame),
            _ => None,
        }
    }

    /// The TLS failure itself, or the I/O error a custom connector reported at the TLS step.
    pub(crate) fn tls_parts(&self) -> Option<TlsParts<'_>> {
        match &self.inner.repr {
            Repr::Tls(t) => Some(TlsParts::Tls(t)),
            Repr::Io { source, .. } if self.inner.step == Some(Step::Tls) => {
                Some(TlsParts::Io(source))
            }
            _ => None,
        }
    }
}

/// What [`Error::tls_parts`] found.
pub(crate) enum TlsParts<'a> {
    Tls(&'a TlsError),
    Io(&'a io::Error),
}

/// The step of a handshake error: a proxy problem, a refusal or bad answer in the upgrade,
/// or `None` for settings refused before connecting.
fn handshake_step(e: &HandshakeError) -> Option<Step> {
    use HandshakeError as H;
    if is_proxy_error(e) {
        return Some(Step::Proxy);
    }
    match e {
        H::InvalidUrl { .. }
        | H::UnsupportedScheme { .. }
        | H::MissingHost { .. }
        | H::InvalidHeaderName { .. }
        | H::InvalidHeaderValue { .. }
        | H::MalformedRawHeader { .. }
        | H::ReservedHeader { .. }
        | H::UseBuilderMethod { .. }
        | H::InvalidSubprotocol { .. } => None,
        _ => Some(Step::Handshake),
    }
}

fn is_proxy_error(e: &HandshakeError) -> bool {
    matches!(e, HandshakeError::Proxy(_))
}

fn is_redirect_error(e: &HandshakeError) -> bool {
    matches!(e, HandshakeError::Redirect(_))
}

/// `1.5 s`, `10 s`, `200 ms`: a limit as a user set it.
pub(crate) struct Secs(pub(crate) Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms} ms")
        } else {
            // Milliseconds are enough; f64 prints 1.5 as "1.5" and 10.0 as "10".
            write!(f, "{} s", ms as f64 / 1000.0)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind());
        if let Some(step) = self.step() {
            d.field("step", &step);
        }
        if let Some(target) = self.target() {
            d.field("target", &target);
        }
        match &self.inner.repr {
            Repr::Protocol(e) => d.field("error", e),
            Repr::ClosedByPeer(frame) => d.field("close", frame),
            Repr::Io { source, .. } => d.field("source", source),
            Repr::Tls(e) => d.field("source", e),
            Repr::Handshake(e) => d.field("error", e),
            Repr::Timeout { limit: Some(limit) } => d.field("limit", limit),
            Repr::Usage(e) => d.field("error", e),
            Repr::Internal(message) => d.field("message", message),
            Repr::Closed | Repr::Timeout { limit: None } => &mut d,
        };
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.repr {
            Repr::Protocol(e) => match e {
                ProtocolError::UnexpectedEof { .. } => {
                    write!(f, "the WebSocket connection was lost: {e}")
                }
                // The frame error already says which close code the connection failed with.
                ProtocolError::Frame(fe) if !matches!(fe, FrameError::FrameTooLarge { .. }) => {
                    write!(f, "the peer broke the WebSocket protocol: {fe}")
                }
                ProtocolError::Frame(_)
                | ProtocolError::MessageTooBig { .. }
                | ProtocolError::TooManyFragments { .. }
                | ProtocolError::TooManyEmptyFragments { .. } => write!(
                    f,
                    "the peer went over a limit: {e}; the connection was closed with code {}",
                    e.close_code()
                ),
                _ => write!(
                    f,
                    "the peer broke the WebSocket protocol: {e}; the connection was closed \
                     with code {}",
                    e.close_code()
                ),
            },
            Repr::Closed => f.write_str(
                "the WebSocket connection is closed (or closing): nothing more can be sent \
                 or received; open a new connection",
            ),
            // An opening step's sentence names the step, the address and what to do.
            Repr::Io {
                message: Some(message),
                ..
            } => f.write_str(message),
            Repr::Io { source, .. } => write!(
                f,
                "the WebSocket connection's transport failed: {source}; the connection is \
                 unusable, open a new one"
            ),
            Repr::Tls(e) => write!(f, "{e}"),
            // Handshake errors name their step (building the request, proxy tunnel, HTTP
            // upgrade) themselves.
            Repr::Handshake(e) => write!(f, "{e}"),
            Repr::Timeout { limit } => {
                let step = self.inner.step.unwrap_or(Step::Handshake);
                write_timeout(f, step, *limit, self.target())
            }
            Repr::ClosedByPeer(frame) => {
                write!(
                    f,
                    "the server closed the connection with code {}",
                    frame.code.as_u16()
                )?;
                if !frame.reason.is_empty() {
                    write!(f, " ({:?})", frame.reason.as_str())?;
                }
                let hint = match frame.code.as_u16() {
                    1008 => {
                        "it refused us by policy: check the credentials, token or \
                             subscription it expects"
                    }
                    1003 => "it cannot accept the kind of data we send",
                    1010 => "it lacks an extension we require",
                    _ => "the application says retrying will not help",
                };
                write!(f, "; {hint}, so reconnecting stopped")
            }
            Repr::Usage(e) => write!(f, "invalid use of the WebSocket API: {e}"),
            Repr::Internal(msg) => write!(
                f,
                "internal WebSocket error: {msg}; the connection was closed with code 1011 \
                 (this is a bug, please report it)"
            ),
        }
    }
}

/// The message of a timeout: the open connection's timers, or an opening step (with what
/// is known of it).
fn write_timeout(
    f: &mut fmt::Formatter<'_>,
    step: Step,
    limit: Option<Duration>,
    target: Option<&str>,
) -> fmt::Result {
    let to = |prefix: &str| target.map_or(String::new(), |t| format!("{prefix}{t}"));
    let opening = limit.is_some();
    let limit = limit.map_or(String::new(), |d| format!(" (limit {})", Secs(d)));
    match step {
        Step::Close if !opening => f.write_str(
            "the peer did not answer our close frame in time, so the connection was \
             dropped without a clean close (for slow peers, allow more time with \
             .close_timeout(..))",
        ),
        Step::Keepalive if !opening => f.write_str(
            "no pong came back in time after a keepalive ping: the peer or the network \
             is unresponsive; the connection was closed with code 1011 (if the peer \
             is just slow, allow more time with .keepalive(interval, timeout))",
        ),
        Step::Write if !opening => f.write_str(
            "the peer took none of our data in time: it stopped reading, or the network \
             is stuck; the connection was dropped without a clean close (if the peer is \
             just slow, allow more time with .write_timeout(..))",
        ),
        Step::Dns | Step::Connect => write!(
            f,
            "connecting{} (DNS lookup and TCP connect) timed out{limit}; check the host and \
             port (a firewall may be dropping the packets), or allow more time \
             (.connect_timeout(..))",
            to(" to ")
        ),
        Step::Proxy => write!(
            f,
            "the proxy{} did not open the tunnel in time{limit}; check the proxy address and scheme \
             (http://, socks5://), or allow more time (.open_timeout(..))",
            to(" at ")
        ),
        Step::Tls => write!(
            f,
            "the TLS handshake{} timed out{limit}; check that the server speaks TLS on this \
             port (wss:// to a plain ws:// port waits like this), or allow more time \
             (.open_timeout(..))",
            to(" with ")
        ),
        Step::Handshake if target.is_none() && opening => write!(
            f,
            "the client sent no complete HTTP upgrade request in time{limit}; the connection was \
             dropped (allow more time with the server's .open_timeout(..))"
        ),
        Step::Handshake => write!(
            f,
            "the HTTP upgrade{} timed out{limit}: no complete answer came; check that the URL \
             is a WebSocket endpoint and that ws:// or wss:// matches the port, or allow more \
             time (.open_timeout(..))",
            to(" with ")
        ),
        Step::Close => write!(f, "the closing handshake timed out{limit}"),
        Step::Keepalive => write!(f, "a keepalive ping went unanswered{limit}"),
        Step::Write => write!(f, "sending stalled{limit}"),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.repr {
            Repr::Protocol(e) => Some(e),
            // An opening step's sentence already quotes its cause: skip to the cause's source
            // so that its text is not repeated down the chain.
            Repr::Io {
                message: Some(_),
                source,
            } => source.source(),
            Repr::Io { source, .. } => Some(source),
            Repr::Tls(e) => e.source(),
            Repr::Handshake(e) => Some(e),
            Repr::Usage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::new(
            Repr::Io {
                message: None,
                source,
            },
            None,
            None,
        )
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Self {
        Error::new(Repr::Tls(e), None, None)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::new(Repr::Handshake(e), None, None)
    }
}

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Self {
        Error::from(HandshakeError::from(e))
    }
}

impl From<RedirectError> for Error {
    fn from(e: RedirectError) -> Self {
        Error::from(HandshakeError::from(e))
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::new(Repr::Protocol(e), None, None)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::new(Repr::Usage(e), None, None)
    }
}

/// A step of a connection, from resolving the host to the last pong: where an
/// [`Error`] happened ([`Error::step`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Resolving the host name (DNS). Its time counts against the connect timeout, whose
    /// expiry is reported as [`Step::Connect`].
    Dns,
    /// Opening the TCP connection (DNS + connect, bounded by the connect timeout).
    Connect,
    /// The TLS handshake.
    Tls,
    /// The HTTP upgrade (opening handshake).
    Handshake,
    /// Opening a tunnel through a proxy (HTTP `CONNECT` or SOCKS5), after TCP to the proxy.
    Proxy,
    /// The closing handshake: our close frame was sent and the peer's never came.
    Close,
    /// A keepalive ping went unanswered.
    Keepalive,
    /// Sending: the transport took none of our bytes within the write timeout.
    Write,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dns => "DNS lookup",
            Self::Connect => "TCP connect",
            Self::Tls => "TLS handshake",
            Self::Handshake => "HTTP upgrade",
            Self::Proxy => "proxy tunnel",
            Self::Close => "closing handshake",
            Self::Keepalive => "keepalive",
            Self::Write => "sending",
        })
    }
}

/// A rule of RFC 6455 / RFC 7692 (or a configured limit) the peer broke.
///
/// Each variant knows the close code we answer it with ([`close_code`](Self::close_code)).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The frame header was malformed or over the frame size limit (1002, or 1009).
    Frame(FrameError),
    /// A text message (or a close reason) was not valid UTF-8 (1007).
    InvalidUtf8,
    /// A message was larger than [`Config::max_message_size`](crate::Config) (1009).
    MessageTooBig {
        /// How big the message was known to be when it was refused (for compressed
        /// messages a lower bound of the inflated size).
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message had more fragments than [`Config::max_fragments`](crate::Config) (1009).
    TooManyFragments {
        /// The configured limit.
        limit: usize,
    },
    /// Too many consecutive empty non-final continuation frames (1008).
    TooManyEmptyFragments {
        /// The configured limit.
        limit: usize,
    },
    /// A continuation frame arrived with no fragmented message in progress (1002).
    UnexpectedContinuation,
    /// A new text/binary frame arrived while a fragmented message was in progress (1002).
    ExpectedContinuation,
    /// A close frame carried a code that may not be sent on the wire (1002).
    InvalidCloseCode(u16),
    /// A close frame payload was 1 byte long (1002).
    InvalidClosePayload,
    /// A close frame reason was not valid UTF-8 (1007).
    InvalidCloseReason,
    /// RSV1 (the "compressed" bit) was set on a frame where it is not allowed: a control
    /// frame or a continuation frame (1002).
    UnexpectedRsv1 {
        /// The opcode of the offending frame.
        opcode: OpCode,
    },
    /// A compressed message could not be inflated (1007).
    BadCompressedData(String),
    /// The transport ended (EOF) without a close handshake (1006, never sent).
    UnexpectedEof {
        /// Whether the stream ended in the middle of a frame.
        mid_frame: bool,
    },
}

impl ProtocolError {
    /// The close code we send for this violation. 1006 for [`Self::UnexpectedEof`] is
    /// reported locally only, never sent.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::Frame(e) => e.close_code(),
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::BadCompressedData(_) => {
                CloseCode::INVALID_PAYLOAD
            }
            Self::MessageTooBig { .. } | Self::TooManyFragments { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            Self::TooManyEmptyFragments { .. } => CloseCode::POLICY_VIOLATION,
            Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::InvalidCloseCode(_)
            | Self::InvalidClosePayload
            | Self::UnexpectedRsv1 { .. } => CloseCode::PROTOCOL_ERROR,
            Self::UnexpectedEof { .. } => CloseCode::ABNORMAL,
        }
    }

    /// A short reason (at most 123 bytes) put in the close frame we send.
    pub(crate) fn close_reason(&self) -> &'static str {
        match self {
            Self::Frame(_) => "malformed frame",
            Self::InvalidUtf8 => "invalid UTF-8 in text message",
            Self::MessageTooBig { .. } => "message too big",
            Self::TooManyFragments { .. } => "too many fragments",
            Self::TooManyEmptyFragments { .. } => "too many empty fragments",
            Self::UnexpectedContinuation => "unexpected continuation frame",
            Self::ExpectedContinuation => "expected continuation frame",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::InvalidClosePayload => "invalid close frame payload",
            Self::InvalidCloseReason => "invalid UTF-8 in close reason",
            Self::UnexpectedRsv1 { .. } => "unexpected RSV1 bit",
            Self::BadCompressedData(_) => "invalid compressed data",
            Self::UnexpectedEof { .. } => "",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(FrameError::FrameTooLarge { len, max }) => write!(
                f,
                "a frame of {len} bytes exceeds the frame size limit of {max} bytes (raise it \
                 with .max_frame_size(..))"
            ),
            Self::Frame(e) => write!(f, "invalid frame: {e}"),
            Self::InvalidUtf8 => f.write_str("a text message is not valid UTF-8"),
            Self::MessageTooBig { size, limit } => write!(
                f,
                "a message of at least {size} bytes exceeds the message size limit of \
                 {limit} bytes (raise it with .max_message_size(..))"
            ),
            Self::TooManyFragments { limit } => write!(
                f,
                "a message has more than {limit} fragments (raise the limit with \
                 .max_fragments(..) on the Config)"
            ),
            Self::TooManyEmptyFragments { limit } => {
                write!(
                    f,
                    "more than {limit} empty continuation frames in a row, which only stalls \
                     the connection"
                )
            }
            Self::UnexpectedContinuation => {
                f.write_str("a continuation frame arrived with no message to continue")
            }
            Self::ExpectedContinuation => {
                f.write_str("a new message started before the previous fragmented message ended")
            }
            Self::InvalidCloseCode(code) => {
                write!(
                    f,
                    "the close frame carries code {code}, which may not be sent"
                )
            }
            Self::InvalidClosePayload => {
                f.write_str("the close frame payload is 1 byte long (a code needs 2)")
            }
            Self::InvalidCloseReason => f.write_str("the close reason is not valid UTF-8"),
            Self::UnexpectedRsv1 { opcode } => write!(
                f,
                "the RSV1 (compressed) bit is set on a {opcode:?} frame; only the first frame \
                 of a data message may carry it"
            ),
            Self::BadCompressedData(detail) => {
                write!(
                    f,
                    "a compressed message cannot be inflated ({detail}); the peer's \
                     permessage-deflate data is corrupt (connect without compression, \
                     .no_compression(), to work around it)"
                )
            }
            Self::UnexpectedEof { mid_frame: true } => f.write_str(
                "the peer closed the connection in the middle of a frame, without a \
                 WebSocket close handshake (abnormal closure, 1006)",
            ),
            Self::UnexpectedEof { mid_frame: false } => f.write_str(
                "the peer closed the connection without a WebSocket close handshake \
                 (abnormal closure, 1006)",
            ),
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Frame(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

/// A request the protocol forbids; the connection is unchanged and nothing was sent.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// The close code may not be sent (allowed: 1000-1003, 1007-1014, 3000-4999).
    InvalidCloseCode(u16),
    /// The close reason is longer than 123 bytes.
    CloseReasonTooLong(usize),
    /// A ping or pong payload is longer than 125 bytes.
    ControlPayloadTooLong(usize),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCloseCode(code) => write!(
                f,
                "close code {code} may not be sent; use 1000 (normal), 1001 (going away), \
                 another code in 1000-1003 or 1007-1014, or an application code in 3000-4999"
            ),
            Self::CloseReasonTooLong(len) => write!(
                f,
                "the close reason is {len} bytes long; it must fit in 123 bytes of UTF-8"
            ),
            Self::ControlPayloadTooLong(len) => write!(
                f,
                "the ping/pong payload is {len} bytes long; control frames carry at most \
                 125 bytes"
            ),
        }
    }
}

impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_follow_the_fault() {
        assert_eq!(ProtocolError::InvalidUtf8.close_code().as_u16(), 1007);
        assert_eq!(
            ProtocolError::MessageTooBig { size: 2, limit: 1 }
                .close_code()
                .as_u16(),
            1009
        );
        assert_eq!(
            ProtocolError::InvalidCloseCode(5).close_code().as_u16(),
            1002
        );
        let e = Error::from(ProtocolError::UnexpectedContinuation);
        assert!(e.is_protocol());
        assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        assert!(e.to_string().contains("1002"), "{e}");
        let t = Error::timeout(Step::Keepalive);
        assert!(t.is_timeout());
        assert_eq!(t.close_code(), Some(CloseCode::INTERNAL_ERROR));
        let io = Error::from(io::Error::other("boom"));
        assert!(io.is_io() && io.close_code().is_none());
        assert!(std::error::Error::source(&io).is_some());
    }

    /// Rust paths users of the builders never type: messages name settings as setters.
    const RUST_ITEMS: [&str; 5] = [
        "Config::",
        "Keepalive::",
        "Limits::",
        "RequestBuilder::",
        "TokioRuntime",
    ];

    fn no_rust_items(text: &str) {
        for item in RUST_ITEMS {
            assert!(!text.contains(item), "{item} in {text}");
        }
    }

    #[test]
    fn timers_of_the_open_connection_say_what_to_raise_in_user_words() {
        let close = Error::timeout(Step::Close).to_string();
        assert!(
            close.contains("did not answer our close frame")
                && close.contains(".close_timeout(..)"),
            "{close}"
        );
        let keepalive = Error::timeout(Step::Keepalive).to_string();
        assert!(
            keepalive.contains("no pong") && keepalive.contains("1011"),
            "{keepalive}"
        );
        assert!(
            keepalive.contains(".keepalive(interval, timeout)"),
            "{keepalive}"
        );
        for text in [close, keepalive] {
            no_rust_items(&text);
            assert!(!text.contains("open timeout"), "{text}");
        }
    }

    #[test]
    fn opening_timeouts_name_step_address_limit_and_setting() {
        let cases = [
            (
                Step::Connect,
                "db.example:443",
                "1.5 s",
                "connecting to",
                ".connect_timeout(..)",
            ),
            (
                Step::Proxy,
                "10.0.0.1:3128",
                "1.5 s",
                "the proxy at",
                ".open_timeout(..)",
            ),
            (
                Step::Tls,
                "db.example:443",
                "1.5 s",
                "TLS handshake with",
                ".open_timeout(..)",
            ),
            (
                Step::Handshake,
                "db.example:443",
                "1.5 s",
                "HTTP upgrade with",
                ".open_timeout(..)",
            ),
        ];
        for (step, target, limit, what, setting) in cases {
            let e =
                Error::opening_timeout(step, Duration::from_millis(1500), Some(target.to_owned()));
            assert!(e.is_timeout() && e.close_code().is_none());
            assert_eq!((e.step(), e.target()), (Some(step), Some(target)));
            let text = e.to_string();
            for part in [target, limit, what, setting] {
                assert!(text.contains(part), "{step}: {part:?} missing in {text}");
            }
            no_rust_items(&text);
        }
        // The server side knows no address: it says the client was too slow.
        let e = Error::opening_timeout(Step::Handshake, Duration::from_millis(250), None);
        let text = e.to_string();
        assert!(
            text.contains(
                "the client sent no complete HTTP upgrade request in time (limit 250 ms)"
            ),
            "{text}"
        );
    }

    #[test]
    fn durations_read_like_settings() {
        assert_eq!(Secs(Duration::from_secs(10)).to_string(), "10 s");
        assert_eq!(Secs(Duration::from_millis(1500)).to_string(), "1.5 s");
        assert_eq!(Secs(Duration::from_millis(200)).to_string(), "200 ms");
        assert_eq!(Secs(Duration::from_nanos(1_000_000_123)).to_string(), "1 s");
    }

    #[test]
    fn io_errors_before_and_after_the_connection_exists() {
        // An opening step: the step's own sentence, nothing about an unusable connection.
        let e = Error::opening(
            Step::Connect,
            Some("h:1".into()),
            "TCP connect to h:1 failed: refused; is a server listening on that port?".into(),
            io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
        );
        assert_eq!((e.step(), e.target()), (Some(Step::Connect), Some("h:1")));
        assert!(!e.is_tls());
        let text = e.to_string();
        assert!(text.starts_with("TCP connect to h:1 failed"), "{text}");
        assert!(!text.contains("WebSocket connection"), "{text}");
        assert_eq!(
            e.io_error().map(io::Error::kind),
            Some(io::ErrorKind::ConnectionRefused)
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        // The open connection's socket: says the connection is gone and what to do.
        let e = Error::from(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "reset by peer",
        ));
        assert_eq!((e.step(), e.target()), (None, None));
        let text = e.to_string();
        assert!(
            text.contains("transport failed: reset by peer") && text.contains("open a new one"),
            "{text}"
        );
        // A TLS error keeps the runtime's message and is found as TLS, with its address.
        let e = Error::from(io::Error::other("TLS handshake with h failed: bad record"))
            .into_tls_failure("h:443");
        assert!(e.is_tls() && !e.is_tls_certificate());
        assert_eq!((e.step(), e.target()), (Some(Step::Tls), Some("h:443")));
        assert_eq!(e.to_string(), "TLS handshake with h failed: bad record");
    }

    #[test]
    fn handshake_errors_are_not_wrapped_twice() {
        let e = Error::from(HandshakeError::UnexpectedStatus {
            status: 404,
            reason: "Not Found".into(),
            body_excerpt: String::new(),
        });
        let text = e.to_string();
        assert!(
            text.starts_with("HTTP upgrade: the server answered 404 Not Found"),
            "{text}"
        );
        assert_eq!(text.matches("handshake").count(), 0, "{text}");
        assert_eq!(e.step(), Some(Step::Handshake));
        assert_eq!(e.http_status(), Some(404));
        let e = Error::from(ProxyError::ConnectRefused {
            target: "t:443".into(),
            status: 403,
            reason: "Forbidden".into(),
        });
        assert_eq!(e.step(), Some(Step::Proxy));
        assert!(e.is_proxy());
        let e = Error::from(HandshakeError::UnsupportedScheme {
            scheme: "ftp".into(),
        });
        assert_eq!(e.step(), None);
    }

    #[test]
    fn protocol_errors_name_limits_as_settings_and_the_close_code_once() {
        let e = Error::from(ProtocolError::MessageTooBig {
            size: 100,
            limit: 10,
        });
        let text = e.to_string();
        assert!(
            text.contains(".max_message_size(..)") && text.contains("1009"),
            "{text}"
        );
        no_rust_items(&text);
        let e = Error::from(ProtocolError::Frame(FrameError::FrameTooLarge {
            len: 9,
            max: 4,
        }));
        let text = e.to_string();
        assert!(text.contains(".max_frame_size(..)"), "{text}");
        assert_eq!(text.matches("1009").count(), 1, "{text}");
        let e = Error::from(ProtocolError::Frame(FrameError::ReservedOpcode(3)));
        let text = e.to_string();
        assert_eq!(text.matches("1002").count(), 1, "{text}");
        let text = Error::from(ProtocolError::TooManyFragments { limit: 3 }).to_string();
        assert!(text.contains(".max_fragments(..)"), "{text}");
        no_rust_items(&text);
        let text = Error::from(ProtocolError::UnexpectedEof { mid_frame: false }).to_string();
        assert!(text.contains("without a WebSocket close handshake") && text.contains("1006"));
    }

    #[test]
    fn one_word_wide_with_kind_step_and_target_as_data() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        let proxy = Error::from(ProxyError::AuthRequired {
            target: "t:443".into(),
            proxy_authenticate: None,
            credentials_sent: true,
        });
        let redirect = Error::from(RedirectError::MissingLocation { status: 302 });
        let cases = [
            (Error::from(ProtocolError::InvalidUtf8), ErrorKind::Protocol),
            (Error::closed(), ErrorKind::Closed),
            (Error::from(io::Error::other("x")), ErrorKind::Io),
            (Error::timeout(Step::Write), ErrorKind::Timeout),
            (
                Error::from(UsageError::ControlPayloadTooLong(126)),
                ErrorKind::Usage,
            ),
            (Error::internal("x".into()), ErrorKind::Internal),
            (proxy, ErrorKind::Proxy),
            (redirect, ErrorKind::Redirect),
        ];
        for (e, kind) in &cases {
            assert_eq!(e.kind(), *kind, "{e:?}");
            let debug = format!("{e:?}");
            assert!(
                debug.starts_with(&format!("Error {{ kind: {kind:?}")),
                "{debug}"
            );
        }
        let e = Error::opening_timeout(Step::Proxy, Duration::from_secs(2), Some("p:3128".into()));
        assert_eq!(
            format!("{e:?}"),
            "Error { kind: Timeout, step: Proxy, target: \"p:3128\", limit: 2s }"
        );
        assert_eq!(e.timeout_limit(), Some(Duration::from_secs(2)));
        // A copy keeps everything a reader asks for.
        let copy = e.duplicate();
        assert_eq!(
            (
                copy.kind(),
                copy.step(),
                copy.target(),
                copy.timeout_limit()
            ),
            (e.kind(), e.step(), e.target(), e.timeout_limit())
        );
        assert_eq!(copy.to_string(), e.to_string());
    }

    #[test]
    fn reasons_fit_in_a_close_frame() {
        for e in [
            ProtocolError::InvalidUtf8,
            ProtocolError::UnexpectedRsv1 {
                opcode: OpCode::Ping,
            },
            ProtocolError::TooManyEmptyFragments { limit: 1 },
        ] {
            assert!(e.close_reason().len() <= 123);
        }
    }
}
