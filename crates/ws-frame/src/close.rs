//! Close status codes (RFC 6455 §7.4).

use std::fmt;

/// A close frame's status code.
///
/// Any `u16` can be held (a peer may send anything, and applications define codes in
/// 4000-4999); [`CloseCode::is_sendable`] tells whether a code may appear on the wire.
/// RFC 6455 §7.4:
///
/// | range | meaning | sendable |
/// |---|---|---|
/// | 0-999 | not used | no |
/// | 1000-1003 | normal, going away, protocol error, unsupported data | yes |
/// | 1004 | reserved | no |
/// | 1005, 1006, 1015 | "no status", "abnormal", "TLS handshake": local reports only | no |
/// | 1007-1014 | invalid payload ... bad gateway (1012-1014 from the IANA registry) | yes |
/// | 1016-2999 | reserved for future RFCs | no |
/// | 3000-3999 | registered by libraries, frameworks and applications | yes |
/// | 4000-4999 | private use | yes |
/// | 5000- | not defined | no |
///
/// A received close frame with a code that is not sendable is a protocol error (1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only endpoint).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: "no status code was present"; a local report, never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: "closed without a close frame"; a local report, never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data did not match its type (e.g. invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate an extension the client requires.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition prevented fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: temporary overload; try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid response upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed; a local report, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Wraps any value, sendable or not.
    #[inline]
    pub const fn new(code: u16) -> CloseCode {
        CloseCode(code)
    }

    /// The numeric code.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame on the wire (RFC 6455 §7.4): 1000-1003,
    /// 1007-1014 and 3000-4999. Everything else (below 1000, 1004-1006, 1015, the reserved
    /// 1016-2999, 5000 and above) must be neither sent nor accepted.
    #[inline]
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The registered name of a standard code (e.g. `"normal closure"`), or `None` for
    /// codes that RFC 6455 and the IANA registry do not name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            _ => return None,
        })
    }
}

impl fmt::Display for CloseCode {
    /// `1000 (normal closure)`, or just the number for codes without a registered name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}
