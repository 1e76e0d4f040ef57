//! What can go wrong choosing a proxy and opening a tunnel through it.

use std::fmt;

use super::kinds::{ProxyScheme, Socks5Reply};

/// Everything that can go wrong choosing a proxy or opening a tunnel through it.
///
/// Variants fall in two groups, by who is at fault:
///
/// * **the caller's configuration or environment**: [`InvalidUrl`](Self::InvalidUrl) to
///   [`InvalidCredentials`](Self::InvalidCredentials);
/// * **the proxy's answer**: [`AuthRequired`](Self::AuthRequired) to [`Closed`](Self::Closed).
///
/// `Display` says what happened and what to do about it. Credentials are never stored, and
/// URLs are shown with their password hidden (see [`redact_url`](crate::redact_url)).
/// Within the handshake this error arrives as
/// [`HandshakeError::Proxy`](crate::HandshakeError::Proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    // ---- the caller's configuration or environment ---------------------------------------
    /// A proxy URL does not parse, or has parts a proxy URL cannot have (a path, no host).
    InvalidUrl {
        /// The URL as given, password hidden (shortened).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A proxy URL's scheme is not `http`, `socks5` or `socks5h`.
    UnsupportedScheme {
        /// The scheme found (lowercase, shortened).
        scheme: String,
    },
    /// The proxy URL in an environment variable is unusable (see
    /// [`Proxy::from_env_for`](super::Proxy::from_env_for)).
    FromEnv {
        /// The variable that held it, e.g. `"HTTPS_PROXY"`.
        variable: &'static str,
        /// What is wrong with it: [`InvalidUrl`](Self::InvalidUrl) or
        /// [`UnsupportedScheme`](Self::UnsupportedScheme).
        error: Box<ProxyError>,
    },
    /// The target to tunnel to cannot be sent to the proxy.
    InvalidTarget {
        /// The host as given (shortened).
        host: String,
        /// Why, e.g. `"a SOCKS5 domain name is at most 255 bytes"`.
        reason: &'static str,
    },
    /// The proxy credentials cannot be sent (never holds the credentials themselves).
    InvalidCredentials {
        /// Why, e.g. `"a SOCKS5 user name is at most 255 bytes"`.
        reason: &'static str,
    },

    // ---- the proxy's answer ---------------------------------------------------------------
    /// The HTTP proxy answered `CONNECT` with `407 Proxy Authentication Required`.
    AuthRequired {
        /// The `host:port` we asked to tunnel to.
        target: String,
        /// The proxy's `Proxy-Authenticate` challenge(s), joined (shortened), if any.
        proxy_authenticate: Option<String>,
        /// Whether we sent credentials (so they were refused rather than missing).
        credentials_sent: bool,
    },
    /// The HTTP proxy answered `CONNECT` with a status other than 2xx and 407
    /// (403: its rules forbid the target; 502/504: it could not reach the target; ...).
    ConnectRefused {
        /// The `host:port` we asked to tunnel to.
        target: String,
        /// The status code.
        status: u16,
        /// The reason phrase (shortened; may be empty).
        reason: String,
    },
    /// The SOCKS5 proxy accepts none of the authentication methods we offered (reply `0xFF`).
    Socks5NoAcceptableMethod {
        /// Whether we offered user name/password authentication besides "no authentication".
        credentials_offered: bool,
    },
    /// The SOCKS5 proxy refused our user name and password (RFC 1929 status other than 0).
    Socks5AuthFailed {
        /// The status byte the proxy sent.
        status: u8,
    },
    /// The SOCKS5 proxy could not open the connection to the target (RFC 1928 `REP` other
    /// than 0).
    Socks5ConnectFailed {
        /// The target we asked for, as `host:port`.
        target: String,
        /// What the proxy reported.
        reply: Socks5Reply,
    },
    /// The proxy's answer breaks its protocol (not HTTP, not SOCKS5, an unknown address
    /// type, an oversized head, ...): the proxy URL probably points to something else.
    Protocol {
        /// The kind of proxy we spoke to.
        scheme: ProxyScheme,
        /// What was wrong.
        reason: String,
    },
    /// The proxy closed the connection before the tunnel was open.
    Closed {
        /// The kind of proxy we spoke to.
        scheme: ProxyScheme,
        /// The step we were at, e.g. `"waiting for the answer to CONNECT"`.
        during: &'static str,
    },
}

impl ProxyError {
    /// The HTTP status the proxy answered `CONNECT` with: 407 for
    /// [`AuthRequired`](Self::AuthRequired), the status of
    /// [`ConnectRefused`](Self::ConnectRefused). `None` for every other error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::AuthRequired { .. } => Some(407),
            Self::ConnectRefused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { url, reason } => write!(
                f,
                "invalid proxy URL {url:?} ({reason}); give it as \
                 http://[user:pass@]host[:port], socks5://... or socks5h://..."
            ),
            Self::UnsupportedScheme { scheme } => match scheme.as_str() {
                "https" => write!(
                    f,
                    "unsupported proxy: https:// proxies (TLS to the proxy) are not supported; \
                     use http://host:port: the CONNECT tunnel runs over plain TCP and wss:// \
                     traffic inside it stays end-to-end encrypted"
                ),
                "socks4" | "socks4a" | "socks" => write!(
                    f,
                    "unsupported proxy: {scheme}:// (SOCKS4 or unspecified SOCKS) proxies are \
                     not supported; use socks5:// (names resolved here) or socks5h:// (names \
                     resolved by the proxy)"
                ),
                _ => write!(
                    f,
                    "unsupported proxy: the proxy scheme {scheme:?} is not supported; use \
                     http://, socks5:// or socks5h://"
                ),
            },
            Self::FromEnv { variable, error } => write!(
                f,
                "{error} (the proxy URL comes from the environment variable {variable}: fix \
                 or unset it)"
            ),
            Self::InvalidTarget { host, reason } => write!(
                f,
                "proxy tunnel: cannot ask the proxy for the host {host:?}: {reason}"
            ),
            Self::InvalidCredentials { reason } => write!(
                f,
                "proxy tunnel: the credentials in the proxy URL cannot be sent: {reason}"
            ),
            Self::AuthRequired {
                target,
                proxy_authenticate,
                credentials_sent,
            } => {
                write!(
                    f,
                    "proxy tunnel to {target}: the HTTP proxy answered 407 Proxy \
                     Authentication Required"
                )?;
                if let Some(challenge) = proxy_authenticate {
                    write!(f, " (Proxy-Authenticate: {challenge})")?;
                }
                if *credentials_sent {
                    write!(
                        f,
                        "; it refused the credentials we sent: check the user name and password \
                         in the proxy URL (only Basic authentication is supported)"
                    )
                } else {
                    write!(
                        f,
                        "; put credentials in the proxy URL: http://user:password@host:port \
                         (only Basic authentication is supported)"
                    )
                }
            }
            Self::ConnectRefused {
                target,
                status,
                reason,
            } => {
                write!(
                    f,
                    "proxy tunnel to {target}: the HTTP proxy answered {status}"
                )?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                match status {
                    403 => write!(
                        f,
                        "; its rules forbid this target or port (ask its administrator, or \
                         bypass the proxy for this host with NO_PROXY)"
                    ),
                    502..=504 => write!(
                        f,
                        "; the proxy could not reach the target: check the host name and port, \
                         and that the proxy can resolve and reach it"
                    ),
                    _ => write!(f, "; the tunnel was not opened: check the proxy's logs"),
                }
            }
            Self::Socks5NoAcceptableMethod {
                credentials_offered,
            } => {
                if *credentials_offered {
                    write!(
                        f,
                        "proxy tunnel: the SOCKS5 proxy accepts neither \"no authentication\" \
                         nor user name/password; it needs a method we do not support (e.g. \
                         GSSAPI)"
                    )
                } else {
                    write!(
                        f,
                        "proxy tunnel: the SOCKS5 proxy requires authentication; put \
                         credentials in the proxy URL: socks5://user:password@host:port"
                    )
                }
            }
            Self::Socks5AuthFailed { status } => write!(
                f,
                "proxy tunnel: the SOCKS5 proxy refused our user name and password (status \
                 {status:#04x}); check the credentials in the proxy URL"
            ),
            Self::Socks5ConnectFailed { target, reply } => write!(
                f,
                "proxy tunnel to {target}: the SOCKS5 proxy reports {reply}"
            ),
            Self::Protocol { scheme, reason } => write!(
                f,
                "proxy tunnel: the proxy's answer is not valid {scheme} ({reason}); check that \
                 the proxy URL's scheme and port match the proxy at that address"
            ),
            Self::Closed { scheme, during } => write!(
                f,
                "proxy tunnel: the {scheme} proxy closed the connection {during}; check the \
                 proxy address and its logs"
            ),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::FromEnv { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}
