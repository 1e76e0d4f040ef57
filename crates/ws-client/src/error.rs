//! The one error type of `ws-client`, grouped by who is at fault.
//!
//! | variant                  | fault                         | close code sent            |
//! |--------------------------|-------------------------------|----------------------------|
//! | [`Error::Protocol`]      | the peer broke RFC 6455/7692  | [`ProtocolError::close_code`] |
//! | [`Error::Handshake`]     | the opening handshake failed  | none (no WebSocket yet)    |
//! | [`Error::OpeningTimeout`] | an opening step took too long | none (no WebSocket yet)   |
//! | [`Error::Timeout`]       | a timer of the open connection | 1011 for keepalive        |
//! | [`Error::Io`]            | the transport failed          | none                       |
//! | [`Error::ClosedByPeer`]  | the peer closed for good      | the peer's code            |
//! | [`Error::Usage`]         | the caller misused the API    | none (nothing was sent)    |
//! | [`Error::ConnectionClosed`] | the connection is over     | none                       |
//! | [`Error::Internal`]      | a bug here or in a backend    | 1011                       |
//!
//! Each message says what happened, at which step, and what to do about it. Errors of the
//! opening steps also say where: [`Error::step`] and [`Error::target`] give the same as
//! data. Settings are named in user words, with the setter in parentheses at most
//! ("raise it with .max_message_size(..)").

use std::fmt;
use std::io;
use std::time::Duration;

use ws_frame::{CloseCode, FrameError, OpCode};
use ws_handshake::HandshakeError;

/// Everything that can go wrong on a WebSocket connection.
///
/// Use the queries ([`is_protocol`](Self::is_protocol), [`close_code`](Self::close_code),
/// [`is_timeout`](Self::is_timeout), [`step`](Self::step), ...) rather than matching when
/// you only need a category: variants may be added.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The peer broke the WebSocket protocol; the connection was failed and a close frame
    /// with [`ProtocolError::close_code`] was queued (unless the code is 1006, which is
    /// never sent).
    Protocol(ProtocolError),
    /// The connection is closed or closing: the close handshake started or finished, or the
    /// connection failed earlier. Nothing more can be sent; open a new connection.
    ConnectionClosed,
    /// The transport failed: an opening step (DNS lookup, TCP connect, proxy tunnel, TLS,
    /// the HTTP upgrade; [`step`](Self::step) and [`target`](Self::target) say which and
    /// where) or the open connection's socket.
    Io(io::Error),
    /// The HTTP upgrade (opening handshake) failed, or a proxy refused the tunnel.
    Handshake(HandshakeError),
    /// A timer of the open connection fired: our close frame went unanswered
    /// ([`Step::Close`]) or a keepalive pong did not come ([`Step::Keepalive`]). Opening
    /// steps that take too long are [`Error::OpeningTimeout`].
    Timeout {
        /// The step that timed out.
        step: Step,
    },
    /// An opening step did not finish within its time limit: [`Step::Connect`] (DNS + TCP,
    /// the connect timeout), [`Step::Proxy`], [`Step::Tls`] or [`Step::Handshake`] (the open
    /// timeout).
    OpeningTimeout {
        /// The step that timed out.
        step: Step,
        /// The configured limit that ran out: the connect timeout for [`Step::Connect`], the
        /// open timeout (shared by the proxy tunnel, TLS and the HTTP upgrade) otherwise.
        limit: Duration,
        /// `host:port` the step was talking to: the server, or the proxy for
        /// [`Step::Proxy`] and for [`Step::Connect`] through a proxy. `None` on the server
        /// side, which does not know the client's address.
        target: Option<String>,
    },
    /// The peer closed the connection with a close code that says retrying will not help
    /// (1003, 1008, 1010, or one the user listed): how a
    /// [`ReconnectingWebSocket`](crate::reconnect::ReconnectingWebSocket) gives up on such a
    /// close. [`close_code`](Self::close_code) is the peer's code.
    ClosedByPeer(crate::message::CloseFrame),
    /// The caller asked for something the protocol forbids; nothing was sent.
    Usage(UsageError),
    /// A failure inside this library or its compression backend (a bug: please report it).
    Internal(String),
}

impl Error {
    /// Whether the peer broke the protocol.
    pub fn is_protocol(&self) -> bool {
        matches!(self, Self::Protocol(_))
    }

    /// Whether a step timed out ([`Error::Timeout`] or [`Error::OpeningTimeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::OpeningTimeout { .. })
    }

    /// Whether the transport failed.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io(_))
    }

    /// Whether the opening handshake failed.
    pub fn is_handshake(&self) -> bool {
        matches!(self, Self::Handshake(_))
    }

    /// Whether the caller misused the API.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_))
    }

    /// Whether this is [`Error::ConnectionClosed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::ConnectionClosed)
    }

    /// The step of the connection this error happened at, when known: the opening steps
    /// ([`Step::Dns`], [`Step::Connect`], [`Step::Proxy`], [`Step::Tls`],
    /// [`Step::Handshake`]) for their I/O errors, timeouts and refusals, [`Step::Close`]
    /// and [`Step::Keepalive`] for the open connection's timeouts. `None` for protocol and
    /// usage errors, failures of an open connection's socket, and invalid settings caught
    /// before connecting.
    pub fn step(&self) -> Option<Step> {
        match self {
            Self::Timeout { step } | Self::OpeningTimeout { step, .. } => Some(*step),
            Self::Io(_) => self.step_failure().map(|s| s.step),
            Self::Handshake(e) => handshake_step(e),
            _ => None,
        }
    }

    /// `host:port` (or the host alone for a DNS lookup) the failing opening step was
    /// talking to: the server, or the proxy for the proxy's own steps. `None` when the error
    /// does not come from an opening step of our client (or the server side's).
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::OpeningTimeout { target, .. } => target.as_deref(),
            Self::Io(_) => self.step_failure()?.target.as_deref(),
            _ => None,
        }
    }

    /// The close code that describes this failure on the wire: the code we sent to the
    /// peer (1002, 1007, 1009, 1011, ...), or 1006 ([`CloseCode::ABNORMAL`], never sent)
    /// when the transport ended without a close handshake. `None` when no WebSocket close
    /// applies (I/O, handshake, usage errors).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            Self::Timeout {
                step: Step::Keepalive,
            } => Some(CloseCode::INTERNAL_ERROR),
            Self::Timeout {
                step: Step::Close | Step::Write,
            } => Some(CloseCode::ABNORMAL),
            Self::Internal(_) => Some(CloseCode::INTERNAL_ERROR),
            Self::ClosedByPeer(frame) => Some(frame.code),
            _ => None,
        }
    }

    /// The protocol error, if this is one.
    pub fn as_protocol(&self) -> Option<&ProtocolError> {
        match self {
            Self::Protocol(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of a refusal: the server's answer to the upgrade request (a 4xx or
    /// 5xx, or a 3xx redirect that was not followed), the proxy's answer to `CONNECT`
    /// (407, 403, 502, ...), or, on the server side, the status our request check answered
    /// with. `None` for every other error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => match e {
                HandshakeError::UnexpectedStatus { status, .. }
                | HandshakeError::RequestRefused { status, .. } => Some(*status),
                HandshakeError::Proxy(e) => e.http_status(),
                HandshakeError::Redirect(e) => e.http_status(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a proxy refused the tunnel, misbehaved, or is misconfigured (an invalid proxy
    /// URL, unusable credentials, an answer that is not HTTP/SOCKS5).
    pub fn is_proxy(&self) -> bool {
        matches!(self, Self::Handshake(e) if is_proxy_error(e))
    }

    /// Whether the server redirected and the redirect was not followed: redirects are off,
    /// the hop limit was reached (a loop), the target is unusable, or it would leave TLS.
    pub fn is_redirect(&self) -> bool {
        matches!(self, Self::Handshake(HandshakeError::Redirect(_)))
    }

    /// Whether the TLS handshake failed (an [`Error::Io`] from the TLS step of
    /// [`connect`](crate::connect::connect)). A TLS *timeout* is
    /// `Error::OpeningTimeout { step: Step::Tls, .. }` instead.
    pub fn is_tls(&self) -> bool {
        self.tls_failure().is_some()
    }

    fn step_failure(&self) -> Option<&StepFailure> {
        match self {
            Self::Io(e) => e.get_ref()?.downcast_ref::<StepFailure>(),
            _ => None,
        }
    }

    pub(crate) fn tls_failure(&self) -> Option<&StepFailure> {
        self.step_failure().filter(|s| s.step == Step::Tls)
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
        Error::Io(io::Error::new(
            cause.kind(),
            StepFailure {
                step,
                target,
                message,
                cause,
            },
        ))
    }

    /// Marks an error of the TLS step with `target` so that [`is_tls`](Self::is_tls) and
    /// [`step`](Self::step) find it; the message, kind and source chain stay the same.
    pub(crate) fn into_tls_failure(self, target: &str) -> Error {
        match self {
            Self::Io(e) if e.get_ref().is_some_and(|p| p.is::<StepFailure>()) => Self::Io(e),
            Self::Io(e) => Self::opening(Step::Tls, Some(target.to_owned()), e.to_string(), e),
            other => other,
        }
    }
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

/// An I/O error of an opening step, with where it happened. Shows as its message alone
/// (it already names the step, the address and the cause); its source is the cause's
/// source, so that the cause's text is not repeated down the chain.
#[derive(Debug)]
pub(crate) struct StepFailure {
    step: Step,
    target: Option<String>,
    message: String,
    pub(crate) cause: io::Error,
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StepFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => match e {
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
            Self::ConnectionClosed => f.write_str(
                "the WebSocket connection is closed (or closing): nothing more can be sent \
                 or received; open a new connection",
            ),
            Self::Io(e) => {
                if self.step_failure().is_some() {
                    // The message names the step, the address and what to do.
                    write!(f, "{e}")
                } else {
                    write!(
                        f,
                        "the WebSocket connection's transport failed: {e}; the connection is \
                         unusable, open a new one"
                    )
                }
            }
            // Handshake errors name their step (building the request, proxy tunnel, HTTP
            // upgrade) themselves.
            Self::Handshake(e) => write!(f, "{e}"),
            Self::Timeout { step } => match step {
                Step::Close => f.write_str(
                    "the peer did not answer our close frame in time, so the connection was \
                     dropped without a clean close (for slow peers, allow more time with \
                     .close_timeout(..))",
                ),
                Step::Keepalive => f.write_str(
                    "no pong came back in time after a keepalive ping: the peer or the network \
                     is unresponsive; the connection was closed with code 1011 (if the peer \
                     is just slow, allow more time with .keepalive(interval, timeout))",
                ),
                Step::Write => f.write_str(
                    "the peer took none of our data in time: it stopped reading, or the network \
                     is stuck; the connection was dropped without a clean close (if the peer is \
                     just slow, allow more time with .write_timeout(..))",
                ),
                step => write_opening_timeout(f, *step, None, None),
            },
            Self::OpeningTimeout {
                step,
                limit,
                target,
            } => write_opening_timeout(f, *step, Some(*limit), target.as_deref()),
            Self::ClosedByPeer(frame) => {
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
            Self::Usage(e) => write!(f, "invalid use of the WebSocket API: {e}"),
            Self::Internal(msg) => write!(
                f,
                "internal WebSocket error: {msg}; the connection was closed with code 1011 \
                 (this is a bug, please report it)"
            ),
        }
    }
}

/// The message of a timeout of an opening step (with what is known of it).
fn write_opening_timeout(
    f: &mut fmt::Formatter<'_>,
    step: Step,
    limit: Option<Duration>,
    target: Option<&str>,
) -> fmt::Result {
    let to = |prefix: &str| target.map_or(String::new(), |t| format!("{prefix}{t}"));
    let limit = limit.map_or(String::new(), |d| format!(" (limit {})", Secs(d)));
    match step {
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
        Step::Handshake if target.is_none() && !limit.is_empty() => write!(
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
        match self {
            Self::Protocol(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Usage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Self::Usage(e)
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
        let t = Error::Timeout {
            step: Step::Keepalive,
        };
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
        let close = Error::Timeout { step: Step::Close }.to_string();
        assert!(
            close.contains("did not answer our close frame")
                && close.contains(".close_timeout(..)"),
            "{close}"
        );
        let keepalive = Error::Timeout {
            step: Step::Keepalive,
        }
        .to_string();
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
            let e = Error::OpeningTimeout {
                step,
                limit: Duration::from_millis(1500),
                target: Some(target.to_owned()),
            };
            assert!(e.is_timeout() && e.close_code().is_none());
            assert_eq!((e.step(), e.target()), (Some(step), Some(target)));
            let text = e.to_string();
            for part in [target, limit, what, setting] {
                assert!(text.contains(part), "{step}: {part:?} missing in {text}");
            }
            no_rust_items(&text);
        }
        // The server side knows no address: it says the client was too slow.
        let e = Error::OpeningTimeout {
            step: Step::Handshake,
            limit: Duration::from_millis(250),
            target: None,
        };
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
        match &e {
            Error::Io(io) => assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("{other:?}"),
        }
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
        let e = Error::from(HandshakeError::Proxy(
            ws_handshake::proxy::ProxyError::ConnectRefused {
                target: "t:443".into(),
                status: 403,
                reason: "Forbidden".into(),
            },
        ));
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
