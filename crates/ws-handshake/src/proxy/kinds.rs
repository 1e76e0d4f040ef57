//! The proxy vocabulary that errors name: the kind of proxy, and a SOCKS5 proxy's refusal.
//! (Here rather than in `proxy`, so that [`ProxyError`](super::ProxyError) names these
//! without importing the parsers.)

use std::fmt;

/// The kind of proxy, from the proxy URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// `http://`: an HTTP proxy, asked with `CONNECT host:port` (the proxy resolves names).
    Http,
    /// `socks5://`: SOCKS5, the target's name resolved by the client (the caller).
    Socks5,
    /// `socks5h://`: SOCKS5, the target's name sent to and resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    /// The URL scheme: `"http"`, `"socks5"` or `"socks5h"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    /// The port used when the proxy URL has none: 80 for `http`, 1080 for SOCKS.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Http => 80,
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => 1080,
        }
    }
}

/// Shows the protocol name: `HTTP`, `SOCKS5` (both SOCKS5 schemes).
impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyScheme::Http => "HTTP",
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => "SOCKS5",
        })
    }
}

/// Why a SOCKS5 proxy refused a `CONNECT` (the reply's `REP` field, RFC 1928 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Socks5Reply {
    /// `0x01` general SOCKS server failure.
    GeneralFailure,
    /// `0x02` connection not allowed by ruleset.
    NotAllowed,
    /// `0x03` network unreachable.
    NetworkUnreachable,
    /// `0x04` host unreachable.
    HostUnreachable,
    /// `0x05` connection refused (by the target).
    ConnectionRefused,
    /// `0x06` TTL expired.
    TtlExpired,
    /// `0x07` command not supported.
    CommandNotSupported,
    /// `0x08` address type not supported.
    AddressTypeNotSupported,
    /// `0x09`-`0xFF`: unassigned codes.
    Other(u8),
}

impl Socks5Reply {
    /// The reply for a `REP` byte; `None` for `0x00` (succeeded).
    pub fn from_code(code: u8) -> Option<Socks5Reply> {
        Some(match code {
            0x00 => return None,
            0x01 => Socks5Reply::GeneralFailure,
            0x02 => Socks5Reply::NotAllowed,
            0x03 => Socks5Reply::NetworkUnreachable,
            0x04 => Socks5Reply::HostUnreachable,
            0x05 => Socks5Reply::ConnectionRefused,
            0x06 => Socks5Reply::TtlExpired,
            0x07 => Socks5Reply::CommandNotSupported,
            0x08 => Socks5Reply::AddressTypeNotSupported,
            other => Socks5Reply::Other(other),
        })
    }

    /// The `REP` byte.
    pub fn code(self) -> u8 {
        match self {
            Socks5Reply::GeneralFailure => 0x01,
            Socks5Reply::NotAllowed => 0x02,
            Socks5Reply::NetworkUnreachable => 0x03,
            Socks5Reply::HostUnreachable => 0x04,
            Socks5Reply::ConnectionRefused => 0x05,
            Socks5Reply::TtlExpired => 0x06,
            Socks5Reply::CommandNotSupported => 0x07,
            Socks5Reply::AddressTypeNotSupported => 0x08,
            Socks5Reply::Other(c) => c,
        }
    }
}

/// What the failure means and what to do, e.g. `"connection refused (0x05): nothing
/// listens on the target port"`.
impl fmt::Display for Socks5Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        let text = match self {
            Socks5Reply::GeneralFailure => "a general failure; see the proxy's logs",
            Socks5Reply::NotAllowed => {
                "the connection is not allowed by its ruleset; ask its administrator, or bypass \
                 the proxy for this host"
            }
            Socks5Reply::NetworkUnreachable => {
                "the target's network is unreachable from the proxy; check the address"
            }
            Socks5Reply::HostUnreachable => {
                "the target host is unreachable from the proxy (or its name does not resolve \
                 there); check the host name"
            }
            Socks5Reply::ConnectionRefused => {
                "the target refused the connection; nothing listens on that port"
            }
            Socks5Reply::TtlExpired => "TTL expired on the way to the target",
            Socks5Reply::CommandNotSupported => "it does not support the CONNECT command",
            Socks5Reply::AddressTypeNotSupported => {
                "it does not support this address type; use socks5:// (send an IP address) \
                 instead of socks5h:// (send a name), or the other way round"
            }
            Socks5Reply::Other(_) => "an unassigned reply code",
        };
        write!(f, "{text} (reply code {code:#04x})")
    }
}
