//! The one error type of `ws-client`, grouped by who is at fault.
//!
//! | variant                  | fault                         | close code sent            |
//! |--------------------------|-------------------------------|----------------------------|
//! | [`Error::Protocol`]      | the peer broke RFC 6455/7692  | [`ProtocolError::close_code`] |
//! | [`Error::Handshake`]     | the opening handshake failed  | none (no WebSocket yet)    |
//! | [`Error::Timeout`]       | a step took too long          | 1011 for keepalive         |
//! | [`Error::Io`]            | the transport failed          | none                       |
//! | [`Error::Usage`]         | the caller misused the API    | none (nothing was sent)    |
//! | [`Error::ConnectionClosed`] | the connection is over     | none                       |
//! | [`Error::Internal`]      | a bug here or in a backend    | 1011                       |
//!
//! Each message says what happened, at which step, and what to do about it.

use std::fmt;
use std::io;

use ws_frame::{CloseCode, FrameError, OpCode};
use ws_handshake::HandshakeError;

/// Everything that can go wrong on a WebSocket connection.
///
/// Use the queries ([`is_protocol`](Self::is_protocol), [`close_code`](Self::close_code),
/// [`is_timeout`](Self::is_timeout), [`is_io`](Self::is_io), ...) rather than matching when
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
    /// The transport (TCP/TLS) failed.
    Io(io::Error),
    /// The HTTP upgrade (opening handshake) failed.
    Handshake(HandshakeError),
    /// A step did not finish in time.
    Timeout {
        /// The step that timed out.
        step: Step,
    },
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

    /// Whether a step timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
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
            Self::Timeout { step: Step::Close } => Some(CloseCode::ABNORMAL),
            Self::Internal(_) => Some(CloseCode::INTERNAL_ERROR),
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
    /// 5xx, or a 3xx redirect that was not followed) or the proxy's answer to `CONNECT`
    /// (407, 403, 502, ...). `None` for every other error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => match e {
                HandshakeError::UnexpectedStatus { status, .. }
                | HandshakeError::ProxyConnectRefused { status, .. }
                | HandshakeError::Redirect { status, .. }
                | HandshakeError::RedirectNotFollowed { status, .. }
                | HandshakeError::RedirectMissingLocation { status } => Some(*status),
                HandshakeError::ProxyAuthRequired { .. } => Some(407),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a proxy refused the tunnel, misbehaved, or is misconfigured (an invalid proxy
    /// URL, unusable credentials, an answer that is not HTTP/SOCKS5).
    pub fn is_proxy(&self) -> bool {
        matches!(
            self,
            Self::Handshake(
                HandshakeError::InvalidProxyUrl { .. }
                    | HandshakeError::UnsupportedProxyScheme { .. }
                    | HandshakeError::ProxyFromEnv { .. }
                    | HandshakeError::InvalidProxyTarget { .. }
                    | HandshakeError::InvalidProxyCredentials { .. }
                    | HandshakeError::ProxyAuthRequired { .. }
                    | HandshakeError::ProxyConnectRefused { .. }
                    | HandshakeError::Socks5NoAcceptableMethod { .. }
                    | HandshakeError::Socks5AuthFailed { .. }
                    | HandshakeError::Socks5ConnectFailed { .. }
                    | HandshakeError::ProxyProtocol { .. }
                    | HandshakeError::ProxyClosed { .. }
            )
        )
    }

    /// Whether the server redirected and the redirect was not followed: redirects are off,
    /// the hop limit was reached (a loop), the target is unusable, or it would leave TLS.
    pub fn is_redirect(&self) -> bool {
        matches!(
            self,
            Self::Handshake(
                HandshakeError::Redirect { .. }
                    | HandshakeError::RedirectNotFollowed { .. }
                    | HandshakeError::RedirectMissingLocation { .. }
                    | HandshakeError::RedirectInvalidLocation { .. }
                    | HandshakeError::RedirectUnsupportedScheme { .. }
                    | HandshakeError::RedirectDowngrade { .. }
                    | HandshakeError::TooManyRedirects { .. }
            )
        )
    }

    /// Whether the TLS handshake failed (an [`Error::Io`] from the TLS step of
    /// [`connect`](crate::connect::connect)). A TLS *timeout* is
    /// `Error::Timeout { step: Step::Tls }` instead.
    pub fn is_tls(&self) -> bool {
        self.tls_failure().is_some()
    }

    /// Whether the TLS handshake failed because of the server's certificate (untrusted,
    /// expired, for another name, ...): retrying cannot fix it; trust the right CA or fix
    /// the URL's host name.
    ///
    /// Decided from the TLS library's error, which runtimes report as the source of their
    /// error: it names a certificate (OpenSSL, Secure Transport and SChannel all do).
    pub fn is_tls_certificate(&self) -> bool {
        let Some(failure) = self.tls_failure() else {
            return false;
        };
        let mut cause = std::error::Error::source(&failure.0);
        while let Some(e) = cause {
            if e.to_string().to_ascii_lowercase().contains("certificate") {
                return true;
            }
            cause = e.source();
        }
        false
    }

    fn tls_failure(&self) -> Option<&TlsFailure> {
        match self {
            Self::Io(e) => e.get_ref()?.downcast_ref::<TlsFailure>(),
            _ => None,
        }
    }

    /// Marks an error of the TLS step so that [`is_tls`](Self::is_tls) finds it; the
    /// message, kind and source chain stay the same.
    pub(crate) fn into_tls_failure(self) -> Error {
        match self {
            Self::Io(e) if e.get_ref().is_some_and(|p| p.is::<TlsFailure>()) => Self::Io(e),
            Self::Io(e) => Self::Io(io::Error::new(e.kind(), TlsFailure(e))),
            other => other,
        }
    }
}

/// An I/O error of the TLS handshake: shows as the error it wraps, with the same source.
#[derive(Debug)]
struct TlsFailure(io::Error);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TlsFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => {
                let code = e.close_code();
                if code == CloseCode::ABNORMAL {
                    write!(f, "WebSocket connection failed: {e}")
                } else {
                    write!(
                        f,
                        "the peer broke the WebSocket protocol: {e}; the connection was \
                         closed with code {}",
                        code.as_u16()
                    )
                }
            }
            Self::ConnectionClosed => f.write_str(
                "the WebSocket connection is closed (or closing): nothing more can be sent \
                 or received; open a new connection",
            ),
            Self::Io(e) => write!(
                f,
                "I/O error on the WebSocket connection: {e}; the connection is unusable, \
                 reconnect"
            ),
            Self::Handshake(e) => write!(f, "WebSocket opening handshake failed: {e}"),
            Self::Timeout { step } => match step {
                Step::Connect => f.write_str(
                    "timed out opening the TCP connection; check the host and port, or raise \
                     the connect timeout",
                ),
                Step::Tls => f.write_str(
                    "timed out during the TLS handshake; check that the server speaks TLS on \
                     this port, or raise the connect timeout",
                ),
                Step::Handshake => f.write_str(
                    "timed out waiting for the server's WebSocket handshake response; check \
                     the URL, or raise the open timeout",
                ),
                Step::Proxy => f.write_str(
                    "timed out opening the tunnel through the proxy (the proxy accepted TCP \
                     but did not answer the tunnel request); check the proxy address and \
                     scheme, or raise the open timeout",
                ),
                Step::Close => f.write_str(
                    "timed out waiting for the peer's close frame after sending ours; the \
                     connection was dropped without a clean close (raise \
                     Config::close_timeout for slow peers)",
                ),
                Step::Keepalive => f.write_str(
                    "no pong arrived within the keepalive timeout (peer or network \
                     unresponsive); the connection was closed with code 1011; raise \
                     Keepalive::timeout if the peer is just slow",
                ),
            },
            Self::Usage(e) => write!(f, "invalid use of the WebSocket API: {e}"),
            Self::Internal(msg) => write!(
                f,
                "internal WebSocket error: {msg}; the connection was closed with code 1011 \
                 (this is a bug, please report it)"
            ),
        }
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

/// The connection step a [`Error::Timeout`] happened in.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Opening the TCP connection (DNS + connect).
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
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "TCP connect",
            Self::Tls => "TLS handshake",
            Self::Handshake => "opening handshake",
            Self::Proxy => "proxy tunnel",
            Self::Close => "closing handshake",
            Self::Keepalive => "keepalive",
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
            Self::Frame(e) => write!(f, "invalid frame: {e}"),
            Self::InvalidUtf8 => f.write_str("a text message is not valid UTF-8"),
            Self::MessageTooBig { size, limit } => write!(
                f,
                "a message of at least {size} bytes exceeds the limit of {limit} bytes \
                 (raise Config::max_message_size to accept it)"
            ),
            Self::TooManyFragments { limit } => write!(
                f,
                "a message has more than {limit} fragments (raise Config::max_fragments to \
                 accept it)"
            ),
            Self::TooManyEmptyFragments { limit } => {
                write!(f, "more than {limit} consecutive empty continuation frames")
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
                write!(f, "a compressed message cannot be inflated: {detail}")
            }
            Self::UnexpectedEof { mid_frame: true } => f.write_str(
                "the peer closed the transport in the middle of a frame, without a close \
                 handshake (abnormal closure, 1006)",
            ),
            Self::UnexpectedEof { mid_frame: false } => f.write_str(
                "the peer closed the transport without a close handshake (abnormal closure, \
                 1006)",
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
