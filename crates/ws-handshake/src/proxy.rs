//! Proxies: which one to use, and the bytes that open a tunnel through it, without I/O.
//!
//! A WebSocket connection through a proxy goes: TCP to the proxy, a tunnel handshake (HTTP
//! `CONNECT`, or SOCKS5), then, over the same stream, TLS to the target for `wss://` and the
//! WebSocket opening handshake as usual. This module decides and speaks the middle part:
//!
//! ```text
//!  ProxyConfig / Proxy::from_env_for ──▶ Option<Proxy>          (which proxy, if any)
//!  TCP connect to proxy.host():proxy.port()                     (the caller)
//!  TargetAddr::from_host(target) ── resolve it first if
//!                                   proxy.needs_resolved(&addr) (the caller; socks5:// only)
//!  proxy.handshake(addr, port, limits) ──▶ ProxyHandshake
//!     loop { write bytes_to_send(), consume_output(n);
//!            read; feed(bytes) ──▶ Progress::NeedMore | Progress::Done { rest } | Err }
//!     EOF while not done ──▶ closed_error()
//!  TLS (wss) and the WebSocket handshake over the same stream   (the caller)
//!  `rest` = bytes the proxy sent after its answer: already tunnel data, hand them on.
//! ```
//!
//! Supported: `http://` proxies (HTTP/1.1 `CONNECT`, optional Basic authentication),
//! `socks5://` (RFC 1928; target names resolved by the caller) and `socks5h://` (names
//! resolved by the proxy), both with optional user name/password authentication (RFC 1929).
//! Not supported: TLS to the proxy (`https://` proxies), SOCKS4, authentication schemes
//! other than Basic and RFC 1929.
//!
//! # Example: driving a tunnel (here against canned proxy answers)
//!
//! ```
//! use ws_handshake::proxy::{Progress, Proxy, TargetAddr};
//! use ws_handshake::Limits;
//!
//! let proxy = Proxy::parse("http://alice:s3cret@proxy.example:3128")?;
//! let target = TargetAddr::from_host("example.com")?;
//! assert!(!proxy.needs_resolved(&target)); // the HTTP proxy resolves names itself
//! let mut tunnel = proxy.handshake(target, 443, Limits::default())?;
//!
//! // Write everything it has to send...
//! let out = tunnel.bytes_to_send().to_vec();
//! assert!(out.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! tunnel.consume_output(out.len());
//!
//! // ...then feed what the proxy answers, as it arrives, until Done.
//! assert_eq!(tunnel.feed(b"HTTP/1.1 200 Connection")?, Progress::NeedMore);
//! let done = tunnel.feed(b" established\r\n\r\n\x16\x03")?;
//! assert_eq!(done, Progress::Done { rest: b"\x16\x03".to_vec() });
//! # Ok::<(), ws_handshake::proxy::ProxyError>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::head::Limits;
use crate::redact::{shorten, shown, shown_url};

mod env;
pub(crate) mod error;
mod http;
mod kinds;
mod socks5;

pub use env::NoProxy;
pub use error::ProxyError;
pub use http::HttpConnect;
pub use kinds::{ProxyScheme, Socks5Reply};
pub use socks5::Socks5Handshake;

/// A user name and password for the proxy (percent-decoded when taken from a URL).
///
/// `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials from plain (not percent-encoded) strings.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password (empty if the URL had none).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A proxy to tunnel through: its kind, address and optional credentials.
///
/// Parse one from a URL with [`Proxy::parse`], or let the environment choose with
/// [`Proxy::from_env_for`]. `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

impl Proxy {
    /// Parses a proxy URL:
    ///
    /// * `http://[user[:pass]@]host[:port]`: HTTP `CONNECT`; port 80 by default; credentials
    ///   are sent as `Proxy-Authorization: Basic ...`.
    /// * `socks5://[user[:pass]@]host[:port]`: SOCKS5, the target's name resolved by the
    ///   caller; port 1080 by default.
    /// * `socks5h://...`: SOCKS5, the target's name resolved by the proxy.
    /// * `host:port` without a scheme means `http://host:port` (as curl reads it).
    ///
    /// User name and password are percent-decoded (`%40` for `@`, `%3A` for `:`). The host
    /// may be a name, an IPv4 address or a bracketed IPv6 address. A trailing `/` is
    /// accepted; any other path, a query or a fragment is refused. The scheme is
    /// case-insensitive.
    ///
    /// Errors: [`ProxyError::UnsupportedScheme`] for `https` (TLS to the proxy is
    /// not supported), `socks4` and anything else; [`ProxyError::InvalidUrl`] for
    /// the rest.
    pub fn parse(url: &str) -> Result<Proxy, ProxyError> {
        let trimmed = url.trim();
        let with_scheme;
        let text = if trimmed.contains("://") {
            trimmed
        } else {
            with_scheme = format!("http://{trimmed}");
            &with_scheme
        };
        let parsed = Url::parse(text).map_err(|e| ProxyError::InvalidUrl {
            url: shown_url(trimmed),
            reason: e.to_string(),
        })?;
        Proxy::from_url(&parsed)
    }

    /// Like [`parse`](Self::parse), for an already parsed URL.
    pub fn from_url(url: &Url) -> Result<Proxy, ProxyError> {
        let invalid = |reason: &str| ProxyError::InvalidUrl {
            url: shown(url),
            reason: reason.to_owned(),
        };
        let scheme = match url.scheme().to_ascii_lowercase().as_str() {
            "http" => ProxyScheme::Http,
            "socks5" => ProxyScheme::Socks5,
            "socks5h" => ProxyScheme::Socks5h,
            other => {
                return Err(ProxyError::UnsupportedScheme {
                    scheme: shorten(other),
                })
            }
        };
        // Non-special schemes (socks5) keep an "opaque" host: parse it again as a special
        // host so that IPv4 is normalised, names are lowercased and IDNA is applied.
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => {
                url::Host::parse(h).map_err(|e| invalid(&format!("its host is invalid: {e}")))?
            }
            _ => return Err(invalid("it has no host")),
        };
        let host = match host {
            url::Host::Domain(d) => d,
            url::Host::Ipv4(a) => a.to_string(),
            url::Host::Ipv6(a) => a.to_string(),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "a proxy URL has no path, query or fragment; give only scheme, host and port",
            ));
        }
        // For http, `port()` is None both without a port and with port 80 (the scheme's
        // default, and ours); socks5 URLs are not "special", so their port is kept as given.
        let port = match scheme {
            ProxyScheme::Http => url.port_or_known_default(),
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => url.port(),
        }
        .unwrap_or(scheme.default_port());
        if port == 0 {
            return Err(invalid("port 0 cannot be connected to"));
        }
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let decode = |s: &str, what: &str| {
                String::from_utf8(percent_decode_str(s).collect())
                    .map_err(|_| invalid(&format!("its {what} is not UTF-8 once percent-decoded")))
            };
            Some(Credentials {
                username: decode(url.username(), "user name")?,
                password: decode(url.password().unwrap_or(""), "password")?,
            })
        };
        Ok(Proxy {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// A proxy from parts (no URL): `host` is a name or an IP address (IPv6 with or without
    /// `[]`).
    pub fn new(scheme: ProxyScheme, host: impl Into<String>, port: u16) -> Proxy {
        let host = host.into();
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => inner.to_owned(),
            None => host,
        };
        Proxy {
            scheme,
            host,
            port,
            credentials: None,
        }
    }

    /// Sets (or replaces) the credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Proxy {
        self.credentials = Some(credentials);
        self
    }

    /// The kind of proxy.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host, to open the TCP connection to: a name, or an IP address (IPv6
    /// without `[]`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Whether the target's name must be resolved by the caller before
    /// [`handshake`](Self::handshake): true for a `socks5://` proxy and a
    /// [`TargetAddr::Domain`]. Resolve the name (as for a direct connection) and pass a
    /// [`TargetAddr::Ip`] instead.
    pub fn needs_resolved(&self, target: &TargetAddr) -> bool {
        self.scheme == ProxyScheme::Socks5 && matches!(target, TargetAddr::Domain(_))
    }

    /// Starts the tunnel handshake to `target:port` through this proxy: an
    /// [`HttpConnect`] (bounded by `limits`) or a [`Socks5Handshake`].
    ///
    /// Fails with [`ProxyError::InvalidTarget`] when a `socks5://` proxy is given a
    /// name (see [`needs_resolved`](Self::needs_resolved)) or a name longer than 255 bytes,
    /// and with [`ProxyError::InvalidCredentials`] when the credentials cannot be
    /// sent (a `:` in an HTTP user name, more than 255 bytes for SOCKS5).
    pub fn handshake(
        &self,
        target: TargetAddr,
        port: u16,
        limits: Limits,
    ) -> Result<ProxyHandshake, ProxyError> {
        let credentials = self.credentials.clone();
        Ok(match self.scheme {
            ProxyScheme::Http => ProxyHandshake::Http(HttpConnect::new(
                &target,
                port,
                credentials.as_ref(),
                limits,
            )?),
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                ProxyHandshake::Socks5(Socks5Handshake::new(
                    target,
                    port,
                    self.scheme == ProxyScheme::Socks5h,
                    credentials,
                )?)
            }
        })
    }

    /// Chooses the proxy for a connection to `target_host:target_port` from environment
    /// variables, the way curl does; `env` looks a variable up (pass
    /// `|name| std::env::var(name).ok()` for the process environment). Using the environment
    /// is the caller's choice: nothing in this crate reads it by itself.
    ///
    /// 1. `no_proxy`, else `NO_PROXY`: if the target matches (see [`NoProxy`]), no proxy.
    /// 2. For `secure` (`wss`) targets `https_proxy`, else `HTTPS_PROXY`; for `ws` targets
    ///    `http_proxy`, else `HTTP_PROXY` (the upper-case one is ignored when
    ///    `REQUEST_METHOD` is set, i.e. inside a CGI script, where a client's `Proxy:`
    ///    request header would arrive as `HTTP_PROXY`, the "httpoxy" attack).
    /// 3. Otherwise `all_proxy`, else `ALL_PROXY`.
    ///
    /// The lower-case name wins when both are set, as in curl. Empty (or all-blank) values
    /// count as unset. The first value found is parsed with [`Proxy::parse`]; if it is
    /// unusable the error is [`ProxyError::FromEnv`] naming the variable (a wrong
    /// proxy is not silently skipped). `Ok(None)` means: connect directly.
    ///
    /// ```
    /// use ws_handshake::proxy::{Proxy, ProxyScheme};
    ///
    /// let env = |name: &str| match name {
    ///     "HTTPS_PROXY" => Some("socks5h://proxy.corp:1080".to_owned()),
    ///     "NO_PROXY" => Some("localhost,.internal.corp".to_owned()),
    ///     _ => None,
    /// };
    /// let p = Proxy::from_env_for("example.com", 443, true, env)?.expect("proxied");
    /// assert_eq!((p.scheme(), p.host(), p.port()), (ProxyScheme::Socks5h, "proxy.corp", 1080));
    /// assert!(Proxy::from_env_for("db.internal.corp", 443, true, env)?.is_none());
    /// assert!(Proxy::from_env_for("example.com", 80, false, env)?.is_none()); // no HTTP_PROXY
    /// # Ok::<(), ws_handshake::proxy::ProxyError>(())
    /// ```
    pub fn from_env_for(
        target_host: &str,
        target_port: u16,
        secure: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        env::from_env_for(target_host, target_port, secure, &env)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// The proxy as a URL, password hidden: `http://user:***@host:port`.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(c) = &self.credentials {
            write!(f, "{}:***@", c.username)?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Whether and how to use a proxy: the user-facing choice. Direct by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyConfig {
    /// No proxy (the default).
    #[default]
    Direct,
    /// Always this proxy.
    Proxy(Proxy),
    /// Chosen per target from environment variables (see [`Proxy::from_env_for`]).
    FromEnv,
}

impl ProxyConfig {
    /// The proxy for a connection to `target_host:target_port`, if any. `env` is only
    /// consulted for [`ProxyConfig::FromEnv`].
    pub fn resolve_for(
        &self,
        target_host: &str,
        target_port: u16,
        secure: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        match self {
            ProxyConfig::Direct => Ok(None),
            ProxyConfig::Proxy(p) => Ok(Some(p.clone())),
            ProxyConfig::FromEnv => Proxy::from_env_for(target_host, target_port, secure, env),
        }
    }
}

/// The host to tunnel to, as it will be sent to the proxy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetAddr {
    /// A host name (sent as is; resolved by the proxy).
    Domain(String),
    /// An IP address.
    Ip(IpAddr),
}

impl TargetAddr {
    /// Classifies a host as found in a URL or in [`Target::host`](crate::Target::host): an
    /// IP literal (IPv6 with or without `[]`) or a name.
    ///
    /// Fails with [`ProxyError::InvalidTarget`] for an empty name or one with
    /// characters that cannot appear in a host (spaces, control characters, `/?#@[]\%:`,
    /// non-ASCII: give IDNA names in their `xn--` form, as [`url`] produces).
    pub fn from_host(host: &str) -> Result<TargetAddr, ProxyError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(TargetAddr::Ip(ip));
        }
        let invalid = |reason| ProxyError::InvalidTarget {
            host: shorten(host),
            reason,
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        let bad = |c: u8| !c.is_ascii_graphic() || b"/?#@[]\\%:<>^|\"{}`".contains(&c);
        if host.bytes().any(bad) {
            return Err(invalid(
                "it contains a character that cannot appear in a host name",
            ));
        }
        Ok(TargetAddr::Domain(host.to_owned()))
    }

    /// `host:port` as written in a `CONNECT` request and in errors (IPv6 in `[]`).
    pub fn authority(&self, port: u16) -> String {
        match self {
            TargetAddr::Domain(d) => format!("{d}:{port}"),
            TargetAddr::Ip(IpAddr::V4(a)) => format!("{a}:{port}"),
            TargetAddr::Ip(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        }
    }
}

impl From<IpAddr> for TargetAddr {
    fn from(ip: IpAddr) -> Self {
        TargetAddr::Ip(ip)
    }
}

/// How far a tunnel handshake is, after [`feed`](ProxyHandshake::feed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Not done: write [`bytes_to_send`](ProxyHandshake::bytes_to_send) if there are any,
    /// then read more from the proxy and feed it.
    NeedMore,
    /// The tunnel is open. `rest` holds the bytes that arrived after the proxy's answer:
    /// they already come from the target (rare, but they must not be lost); hand them to the
    /// next layer (TLS or the WebSocket handshake) before reading more.
    Done {
        /// Bytes after the proxy's answer.
        rest: Vec<u8>,
    },
}

/// A tunnel handshake in progress, for either kind of proxy; made by [`Proxy::handshake`].
///
/// Driving loop (the same for both kinds):
///
/// 1. while [`bytes_to_send`](Self::bytes_to_send) is not empty, write it and call
///    [`consume_output`](Self::consume_output) with the number of bytes written;
/// 2. read from the proxy; on end of stream fail with [`closed_error`](Self::closed_error);
///    otherwise [`feed`](Self::feed) the bytes: [`Progress::NeedMore`] → back to 1,
///    [`Progress::Done`] → the tunnel is open, an error → give up (close the connection).
///
/// Everything is bounded: at most [`Limits::max_head_size`] bytes of HTTP head are kept,
/// and a SOCKS5 reply is at most 262 bytes. No method panics on any input.
#[derive(Clone, Debug)]
pub enum ProxyHandshake {
    /// Through an HTTP proxy.
    Http(HttpConnect),
    /// Through a SOCKS5 proxy.
    Socks5(Socks5Handshake),
}

impl ProxyHandshake {
    /// Bytes to write to the proxy now (empty when waiting for its answer).
    pub fn bytes_to_send(&self) -> &[u8] {
        match self {
            ProxyHandshake::Http(h) => h.bytes_to_send(),
            ProxyHandshake::Socks5(s) => s.bytes_to_send(),
        }
    }

    /// Marks the first `n` bytes of [`bytes_to_send`](Self::bytes_to_send) as written.
    pub fn consume_output(&mut self, n: usize) {
        match self {
            ProxyHandshake::Http(h) => h.consume_output(n),
            ProxyHandshake::Socks5(s) => s.consume_output(n),
        }
    }

    /// Feeds bytes read from the proxy. See [`Progress`]. Once done, further bytes are
    /// returned as they are in `Done { rest }`; once failed, the same error is returned again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match self {
            ProxyHandshake::Http(h) => h.feed(data),
            ProxyHandshake::Socks5(s) => s.feed(data),
        }
    }

    /// Whether the tunnel is open.
    pub fn is_done(&self) -> bool {
        match self {
            ProxyHandshake::Http(h) => h.is_done(),
            ProxyHandshake::Socks5(s) => s.is_done(),
        }
    }

    /// The error to report when the proxy closes the connection before the tunnel is open:
    /// [`ProxyError::Closed`] naming the step.
    pub fn closed_error(&self) -> ProxyError {
        match self {
            ProxyHandshake::Http(h) => h.closed_error(),
            ProxyHandshake::Socks5(s) => s.closed_error(),
        }
    }
}
