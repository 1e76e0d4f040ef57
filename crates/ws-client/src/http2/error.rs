//! [`Http2Error`]: what went wrong at the HTTP/2 layer, carried inside the crate's
//! [`Error`](crate::Error) (as the source of its I/O error) and read back with
//! [`Error::http2_error`](crate::Error::http2_error).

use std::fmt;
use std::io;

/// An HTTP/2 failure under a WebSocket: the server reset the stream or sent GOAWAY, the
/// server does not do HTTP/2 (ALPN chose something else) or does not allow WebSockets over
/// it (no `SETTINGS_ENABLE_CONNECT_PROTOCOL`), or the h2 connection failed.
///
/// Reached through [`Error::http2_error`](crate::Error::http2_error). The reason code is
/// the RFC 9113 error code (`0x0` NO_ERROR, `0x7` REFUSED_STREAM, `0x8` CANCEL, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http2Error {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// RST_STREAM (`go_away` false) or GOAWAY (true), from the peer (`remote`) or from us.
    Stream {
        reason: u32,
        go_away: bool,
        remote: bool,
    },
    /// ALPN did not choose `h2` (`None`: no protocol, or the TLS library cannot tell).
    NotNegotiated { alpn: Option<Vec<u8>> },
    /// The server's SETTINGS do not enable extended CONNECT (RFC 8441).
    ExtendedConnectDisabled,
    /// Another failure of the h2 connection (its text).
    Other(String),
}

impl Http2Error {
    /// A stream reset (`RST_STREAM`) with `reason`.
    pub(crate) fn reset(reason: u32, remote: bool) -> Self {
        Http2Error {
            kind: Kind::Stream {
                reason,
                go_away: false,
                remote,
            },
        }
    }

    /// A GOAWAY with `reason`.
    pub(crate) fn go_away(reason: u32, remote: bool) -> Self {
        Http2Error {
            kind: Kind::Stream {
                reason,
                go_away: true,
                remote,
            },
        }
    }

    pub(crate) fn not_negotiated(alpn: Option<Vec<u8>>) -> Self {
        Http2Error {
            kind: Kind::NotNegotiated { alpn },
        }
    }

    pub(crate) fn extended_connect_disabled() -> Self {
        Http2Error {
            kind: Kind::ExtendedConnectDisabled,
        }
    }

    pub(crate) fn other(text: String) -> Self {
        Http2Error {
            kind: Kind::Other(text),
        }
    }

    /// The RFC 9113 error code of a stream reset or GOAWAY (`0x7` REFUSED_STREAM, ...).
    pub fn reason(&self) -> Option<u32> {
        match self.kind {
            Kind::Stream { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Whether the stream was reset (`RST_STREAM`).
    pub fn is_reset(&self) -> bool {
        matches!(self.kind, Kind::Stream { go_away: false, .. })
    }

    /// Whether the connection was shut down with GOAWAY (the stream was not processed, or
    /// the connection ended under it): a new connection may work.
    pub fn is_go_away(&self) -> bool {
        matches!(self.kind, Kind::Stream { go_away: true, .. })
    }

    /// Whether the peer sent the reset or GOAWAY (rather than this side).
    pub fn is_remote(&self) -> bool {
        matches!(self.kind, Kind::Stream { remote: true, .. })
    }

    /// Whether the server did not agree to HTTP/2 with ALPN (under
    /// [`Http2::Require`](super::Http2::Require)); [`alpn`](Self::alpn) says what it chose.
    pub fn is_not_negotiated(&self) -> bool {
        matches!(self.kind, Kind::NotNegotiated { .. })
    }

    /// The protocol ALPN chose instead of `h2`, when [`is_not_negotiated`](Self::is_not_negotiated).
    pub fn alpn(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::NotNegotiated { alpn } => alpn.as_deref(),
            _ => None,
        }
    }

    /// Whether the server speaks HTTP/2 but does not allow WebSockets over it (its SETTINGS
    /// lack `SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441).
    pub fn is_extended_connect_disabled(&self) -> bool {
        matches!(self.kind, Kind::ExtendedConnectDisabled)
    }

    /// Whether retrying (a new connection) cannot help: the server does not do WebSockets
    /// over HTTP/2. Resets and GOAWAY are retryable.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(
            self.kind,
            Kind::NotNegotiated { .. } | Kind::ExtendedConnectDisabled
        )
    }

    /// As an I/O error of a fitting kind, with `self` as its inner error.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self.kind {
            Kind::Stream { go_away: true, .. } => io::ErrorKind::ConnectionAborted,
            Kind::Stream { .. } => io::ErrorKind::ConnectionReset,
            Kind::NotNegotiated { .. } | Kind::ExtendedConnectDisabled => {
                io::ErrorKind::Unsupported
            }
            Kind::Other(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// The h2 error as an I/O error: the socket's own error as is, a reset or GOAWAY as an
    /// [`Http2Error`] inside.
    pub(crate) fn from_h2(e: h2::Error) -> io::Error {
        if e.is_io() {
            if let Some(io) = e.into_io() {
                return io;
            }
            return io::Error::other("HTTP/2 connection I/O failed");
        }
        let reason = e.reason().map(u32::from);
        let remote = e.is_remote();
        let error = match reason {
            Some(reason) if e.is_go_away() => Http2Error::go_away(reason, remote),
            Some(reason) if e.is_reset() => Http2Error::reset(reason, remote),
            _ => Http2Error::other(e.to_string()),
        };
        error.into_io()
    }
}

/// The name of an RFC 9113 error code.
fn reason_name(code: u32) -> &'static str {
    match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "unknown error code",
    }
}

impl fmt::Display for Http2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Stream {
                reason,
                go_away,
                remote,
            } => {
                let who = if *remote { "the server" } else { "this client" };
                let what = if *go_away {
                    "shut the HTTP/2 connection down (GOAWAY"
                } else {
                    "reset the HTTP/2 stream (RST_STREAM"
                };
                write!(f, "{who} {what} {}, 0x{reason:x})", reason_name(*reason))
            }
            Kind::NotNegotiated { alpn } => {
                let chose = match alpn {
                    Some(p) => format!("chose {:?}", String::from_utf8_lossy(p)),
                    None => "chose no protocol (or the TLS library cannot tell)".to_owned(),
                };
                write!(
                    f,
                    "the server does not speak HTTP/2: TLS ALPN {chose} instead of \"h2\"; use \
                     Http2::Prefer to fall back to HTTP/1.1 (a native-tls connector of your own \
                     must offer h2 itself: request_alpns(&[\"h2\", \"http/1.1\"]))"
                )
            }
            Kind::ExtendedConnectDisabled => f.write_str(
                "the server speaks HTTP/2 but does not allow WebSockets over it (its SETTINGS \
                 lack SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441); use Http2::Prefer to fall \
                 back to HTTP/1.1",
            ),
            Kind::Other(text) => write!(f, "HTTP/2 failure: {text}"),
        }
    }
}

impl std::error::Error for Http2Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_and_go_away_read_with_their_code_and_keep_it_through_io() {
        let e = Http2Error::reset(0x8, true);
        assert_eq!(
            e.to_string(),
            "the server reset the HTTP/2 stream (RST_STREAM CANCEL, 0x8)"
        );
        let io = e.clone().into_io();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        let inner = io.get_ref().and_then(|e| e.downcast_ref::<Http2Error>());
        assert_eq!(inner, Some(&e));
        let g = Http2Error::go_away(0x0, true);
        assert!(g.is_go_away() && g.is_remote() && !g.is_reset() && !g.is_permanent());
        assert_eq!(g.into_io().kind(), io::ErrorKind::ConnectionAborted);
        let n = Http2Error::not_negotiated(Some(b"http/1.1".to_vec()));
        assert!(n.is_permanent() && n.to_string().contains("\"http/1.1\""));
        assert_eq!(n.alpn(), Some(&b"http/1.1"[..]));
    }
}
