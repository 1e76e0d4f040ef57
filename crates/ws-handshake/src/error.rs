//! The one error type of this crate.

use std::fmt;

use crate::head::HeadError;
use crate::proxy::error::ProxyError;
use crate::redirect::error::RedirectError;
use crate::status::reason_phrase;

/// Everything that can go wrong while building, parsing or checking an opening handshake.
///
/// Variants fall in six groups, by who is at fault or which module found the fault:
///
/// * **building the request** (the caller's input): [`InvalidUrl`](Self::InvalidUrl) to
///   [`InvalidSubprotocol`](Self::InvalidSubprotocol);
/// * **reading an HTTP head** (either peer): [`HeadTooLarge`](Self::HeadTooLarge),
///   [`TooManyHeaders`](Self::TooManyHeaders), [`MalformedHead`](Self::MalformedHead);
/// * **the server's response** (client role, [`ClientRequest::check`] and
///   [`H2Request::check`]):
///   [`UnexpectedStatus`](Self::UnexpectedStatus) to
///   [`UnrequestedExtension`](Self::UnrequestedExtension), plus
///   [`InvalidExtensions`](Self::InvalidExtensions) and [`Redirect`](Self::Redirect) for a
///   3xx;
/// * **the client's request** (server role, [`Request::validate`] and
///   [`Request::validate_h2`]): the `Request*` variants,
///   [`UnsupportedWebSocketVersion`](Self::UnsupportedWebSocketVersion),
///   [`MissingKey`](Self::MissingKey) and [`InvalidKey`](Self::InvalidKey), plus
///   [`RequestRefused`](Self::RequestRefused) when the server's own check said no;
/// * **proxies**: [`Proxy`](Self::Proxy), a [`ProxyError`](crate::proxy::ProxyError) of the
///   [`proxy`](crate::proxy) module;
/// * **redirects**: [`Redirect`](Self::Redirect), a
///   [`RedirectError`](crate::redirect::RedirectError) of the [`redirect`](crate::redirect)
///   module: the 3xx answer itself, or why it was not followed.
///
/// `Display` says what happened, at which step of the handshake, and what to do about it.
/// Strings that came from the network are shortened (to about 100 characters) before they are
/// stored in a variant, so an error never holds a peer-sized allocation.
///
/// [`ClientRequest::check`]: crate::ClientRequest::check
/// [`H2Request::check`]: crate::H2Request::check
/// [`Request::validate`]: crate::Request::validate
/// [`Request::validate_h2`]: crate::Request::validate_h2
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    // ---- building the request -------------------------------------------------------------
    /// The URL given to [`RequestBuilder::new`](crate::RequestBuilder::new) does not parse.
    InvalidUrl {
        /// The URL as given, password hidden (see [`redact_url`](crate::redact_url);
        /// shortened).
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The URL's scheme is not `ws`, `wss`, `http` or `https`.
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// The URL has no host (for example `ws:/path` or a `data:` URL).
    MissingHost {
        /// The URL, password hidden.
        url: String,
    },
    /// A header name given to the builder is empty or not an HTTP token.
    InvalidHeaderName {
        /// The name as given (shortened); if it contains a sensitive word (see
        /// [`is_sensitive_header`](crate::is_sensitive_header)), only its first word.
        name: String,
    },
    /// A header value given to the builder contains a forbidden character (CR, LF, NUL or
    /// another control character other than TAB): it would let the value inject headers.
    InvalidHeaderValue {
        /// The header's name.
        name: String,
        /// Which character was found, e.g. `"a line feed (LF)"`.
        reason: &'static str,
    },
    /// A raw header line given to [`RequestBuilder::raw_header`](crate::RequestBuilder::raw_header)
    /// is not of the form `Name: value`.
    MalformedRawHeader {
        /// The line as given (shortened); if it contains a sensitive word (see
        /// [`is_sensitive_header`](crate::is_sensitive_header)), only its first word.
        line: String,
    },
    /// The caller tried to set a header that the handshake itself must control
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`,
    /// `Sec-WebSocket-Accept`, `Content-Length`, `Transfer-Encoding`).
    ReservedHeader {
        /// The header's name, as given.
        name: String,
    },
    /// The caller gave a connection-specific header to an HTTP/2 request
    /// ([`RequestBuilder::build_h2`](crate::RequestBuilder::build_h2)): `Connection`,
    /// `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade` or `TE`. HTTP/2
    /// forbids them (RFC 9113 section 8.2.2): a peer treats the request as malformed.
    ConnectionSpecificHeader {
        /// The header's name, as given.
        name: String,
    },
    /// The caller gave `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions` as a plain
    /// header; they must go through the builder method named here, so that the response can
    /// be checked against them.
    UseBuilderMethod {
        /// The header's name, as given.
        name: String,
        /// The builder method to use instead, e.g. `"RequestBuilder::subprotocol"`.
        method: &'static str,
    },
    /// The caller gave a `Proxy-Authorization` header: it would go through the tunnel to
    /// the server, never to the proxy. Proxy credentials belong in the proxy URL
    /// (`http://user:pass@proxy:3128`).
    ProxyAuthorizationHeader,
    /// A subprotocol offered through [`RequestBuilder::subprotocol`](crate::RequestBuilder::subprotocol)
    /// is empty or not an HTTP token (RFC 6455 section 4.1 requires a token).
    InvalidSubprotocol {
        /// The subprotocol as given (shortened).
        protocol: String,
    },

    // ---- reading an HTTP head -------------------------------------------------------------
    /// The HTTP head (status or request line plus headers) grew past
    /// [`Limits::max_head_size`](crate::Limits::max_head_size) without ending.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The HTTP head has more header lines than [`Limits::max_headers`](crate::Limits::max_headers).
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The HTTP head is not valid HTTP/1.x, or an HTTP/2 response's fields are malformed
    /// (see [`Response::from_h2`](crate::Response::from_h2)).
    MalformedHead {
        /// What the HTTP parser objected to.
        reason: String,
    },

    // ---- checking the server's response (client role) ------------------------------------
    /// The server answered with a status other than 101 or 3xx.
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The reason phrase (may be empty).
        reason: String,
        /// The first bytes (at most 512) of the body that arrived with the head, decoded
        /// lossily as UTF-8. Often says why the server refused.
        body_excerpt: String,
    },
    /// The server's 101 response is not HTTP/1.1: RFC 6455 §4.1 requires an HTTP/1.1 (or
    /// later 1.x) status line, and an HTTP/1.0 peer cannot switch protocols.
    ResponseHttpVersion {
        /// The minor version found (`0` for HTTP/1.0).
        minor: u8,
    },
    /// The server's 101 response lacks `Upgrade: websocket`.
    ResponseUpgradeHeader {
        /// The `Upgrade` value found, or `None` if the header is missing.
        found: Option<String>,
    },
    /// The server's 101 response lacks the `upgrade` token in `Connection`.
    ResponseConnectionHeader {
        /// The `Connection` value(s) found, or `None` if the header is missing.
        found: Option<String>,
    },
    /// The server's 101 response has no `Sec-WebSocket-Accept` header.
    MissingAccept,
    /// The server's `Sec-WebSocket-Accept` is not the one derived from our key.
    AcceptMismatch {
        /// The value we expected.
        expected: String,
        /// The value the server sent (shortened, decoded lossily).
        found: String,
    },
    /// The server selected a subprotocol we did not offer.
    UnrequestedSubprotocol {
        /// The subprotocol the server selected (shortened, decoded lossily).
        protocol: String,
    },
    /// The server selected more than one subprotocol (several headers or a comma list).
    MultipleSubprotocols {
        /// The value(s) the server sent (shortened, decoded lossily).
        value: String,
    },
    /// The server accepted an extension we did not offer.
    UnrequestedExtension {
        /// The extension's name.
        name: String,
    },
    /// A `Sec-WebSocket-Extensions` value does not follow RFC 6455 section 9.1
    /// (returned by [`parse_extensions`](crate::parse_extensions), when building an offer,
    /// when checking a response and by [`Request::extensions`](crate::Request::extensions)).
    InvalidExtensions {
        /// The value (shortened).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server's answer for a known extension (`permessage-deflate`) breaks that
    /// extension's negotiation rules (returned by
    /// [`DeflateConfig::negotiate`](crate::permessage_deflate::DeflateConfig::negotiate)).
    ExtensionNegotiation {
        /// The extension's name.
        extension: String,
        /// Which rule the answer breaks.
        reason: String,
    },

    // ---- checking the client's request (server role) -------------------------------------
    /// The request's method is not `GET`.
    RequestMethod {
        /// The method found.
        method: String,
    },
    /// The request is not HTTP/1.1 (or later).
    RequestHttpVersion {
        /// The minor version found (`0` for HTTP/1.0).
        minor: u8,
    },
    /// The request has no `Host` header.
    RequestMissingHost,
    /// An HTTP/2 request's `:method` is not `CONNECT`: over HTTP/2 a WebSocket opens with
    /// an extended CONNECT (RFC 8441 section 4; [`Request::validate_h2`](crate::Request::validate_h2)).
    RequestConnectMethod {
        /// The method found (shortened).
        method: String,
    },
    /// An HTTP/2 CONNECT request's `:protocol` pseudo-header is missing (a plain CONNECT,
    /// asking for a tunnel) or not `websocket` (RFC 8441 section 4).
    RequestConnectProtocol {
        /// The `:protocol` found (shortened), or `None` if it is missing.
        found: Option<String>,
    },
    /// An HTTP/2 extended CONNECT request lacks a pseudo-header it must carry (RFC 8441
    /// section 4): `:scheme`, `:path` or `:authority` is missing or empty.
    RequestMissingPseudoHeader {
        /// The pseudo-header, e.g. `":path"`.
        name: &'static str,
    },
    /// The request lacks `Upgrade: websocket`.
    RequestUpgradeHeader {
        /// The `Upgrade` value(s) found, or `None` if the header is missing.
        found: Option<String>,
    },
    /// The request lacks the `upgrade` token in `Connection`.
    RequestConnectionHeader {
        /// The `Connection` value(s) found, or `None` if the header is missing.
        found: Option<String>,
    },
    /// The request's `Sec-WebSocket-Version` is missing or not `13`.
    UnsupportedWebSocketVersion {
        /// The version found, or `None` if the header is missing.
        found: Option<String>,
    },
    /// The request has no `Sec-WebSocket-Key` header.
    MissingKey,
    /// The request's `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes.
    InvalidKey {
        /// The key found (shortened, decoded lossily).
        key: String,
    },
    /// The server's own request check (a hook run after validation) refused the upgrade;
    /// the client was answered with `status` and `reason` as the body.
    RequestRefused {
        /// The HTTP status answered (4xx or 5xx).
        status: u16,
        /// The reason given by the check.
        reason: String,
    },

    // ---- proxies ---------------------------------------------------------------------------
    /// Choosing a proxy or opening the tunnel through it failed (see
    /// [`ProxyError`](crate::proxy::ProxyError)).
    Proxy(ProxyError),

    // ---- redirects -------------------------------------------------------------------------
    /// The server answered with a redirect (3xx) that is not followed, or following it failed
    /// (see [`RedirectError`](crate::redirect::RedirectError)).
    Redirect(RedirectError),
}

impl HandshakeError {
    /// The HTTP status a server should answer with when [`Request::validate`] fails with this
    /// error (or [`Request::validate_h2`](crate::Request::validate_h2) over HTTP/2), or when
    /// reading the request head fails: 426 for a WebSocket version mismatch
    /// ([`reject`](crate::reject) then adds `Sec-WebSocket-Version: 13`), 405 for a wrong
    /// method, 431 for an oversized head, 400 for the rest, the check's own status for
    /// [`RequestRefused`](Self::RequestRefused). `None` for client-role errors.
    ///
    /// [`Request::validate`]: crate::Request::validate
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::UnsupportedWebSocketVersion { .. } => Some(426),
            Self::RequestMethod { .. } | Self::RequestConnectMethod { .. } => Some(405),
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => Some(431),
            Self::RequestHttpVersion { .. }
            | Self::RequestMissingHost
            | Self::RequestConnectProtocol { .. }
            | Self::RequestMissingPseudoHeader { .. }
            | Self::RequestUpgradeHeader { .. }
            | Self::RequestConnectionHeader { .. }
            | Self::MissingKey
            | Self::InvalidKey { .. }
            | Self::MalformedHead { .. }
            | Self::InvalidExtensions { .. } => Some(400),
            Self::RequestRefused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { url, reason } => write!(
                f,
                "invalid WebSocket URL {url:?} ({reason}); give a full URL such as \
                 ws://host:port/path or wss://host/path"
            ),
            Self::UnsupportedScheme { scheme } => write!(
                f,
                "the URL scheme {scheme:?} is not a WebSocket scheme; use ws:// or wss:// \
                 (http:// and https:// are mapped to them)"
            ),
            Self::MissingHost { url } => write!(
                f,
                "the WebSocket URL {url:?} has no host; give a full URL such as \
                 ws://host:port/path"
            ),
            Self::InvalidHeaderName { name } => write!(
                f,
                "cannot build the upgrade request: the header name {name:?} is not a valid \
                 HTTP token; use only letters, digits and !#$%&'*+-.^_`|~"
            ),
            Self::InvalidHeaderValue { name, reason } => write!(
                f,
                "cannot build the upgrade request: the value of the header {name:?} contains \
                 {reason}, which could inject headers; remove control characters from it"
            ),
            Self::MalformedRawHeader { line } => write!(
                f,
                "cannot build the upgrade request: the header line {line:?} is not of the \
                 form \"Name: value\""
            ),
            Self::ProxyAuthorizationHeader => f.write_str(
                "cannot build the upgrade request: a Proxy-Authorization header would be sent \
                 through the tunnel to the server, not to the proxy; put the proxy's \
                 credentials in the proxy URL instead (http://user:pass@proxy:3128)",
            ),
            Self::ReservedHeader { name } => write!(
                f,
                "cannot build the upgrade request: the header {name:?} is set by the \
                 WebSocket handshake itself; remove it"
            ),
            Self::ConnectionSpecificHeader { name } => write!(
                f,
                "cannot build the HTTP/2 request: the header {name:?} is connection-specific, \
                 which HTTP/2 forbids (RFC 9113 section 8.2.2); remove it"
            ),
            Self::UseBuilderMethod { name, method } => {
                let setter = match *method {
                    "RequestBuilder::subprotocol" => ".subprotocol(..)",
                    "RequestBuilder::extensions" => {
                        ".extensions(..) (permessage-deflate: .compression(..))"
                    }
                    other => other,
                };
                write!(
                    f,
                    "cannot build the upgrade request: do not set {name:?} as a header; use \
                     {setter} so that the server's answer is checked against it"
                )
            }
            Self::InvalidSubprotocol { protocol } => write!(
                f,
                "cannot build the upgrade request: the subprotocol {protocol:?} is not a \
                 valid HTTP token (no spaces, commas or control characters)"
            ),
            Self::HeadTooLarge { limit } => write!(
                f,
                "HTTP upgrade: the peer's HTTP head is larger than {limit} bytes; it does not \
                 speak WebSocket or sends huge headers (raise the limit with \
                 .handshake_limits(..) if this is expected)"
            ),
            Self::TooManyHeaders { limit } => write!(
                f,
                "HTTP upgrade: the peer's HTTP head has more than {limit} headers (raise the \
                 limit with .handshake_limits(..) if this is expected)"
            ),
            Self::MalformedHead { reason } => write!(
                f,
                "HTTP upgrade: the peer's head is not valid HTTP ({reason}); check that the \
                 address is a WebSocket endpoint and that ws:// or wss:// matches the port"
            ),
            Self::UnexpectedStatus {
                status,
                reason,
                body_excerpt,
            } => {
                write!(f, "HTTP upgrade: the server answered {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if *status == 101 {
                    // Only an HTTP/2 check refuses a 101 (HTTP/1.1 goes on to the headers).
                    f.write_str(
                        " over HTTP/2, where a WebSocket opens with a 2xx (RFC 8441); the server \
                         or a proxy in between mixes HTTP/1.1 into HTTP/2",
                    )?;
                    return Ok(());
                }
                f.write_str(" instead of 101 Switching Protocols")?;
                let body = body_excerpt.trim();
                if !body.is_empty() && !body.eq_ignore_ascii_case(reason.trim()) {
                    write!(f, ", saying {body:?}")?;
                }
                match status {
                    401 | 403 => f.write_str(
                        "; check the credentials, Origin and other headers the server requires",
                    ),
                    404 | 410 => f.write_str("; check the URL's path"),
                    426 => f.write_str(
                        "; the server wants another protocol version or a TLS (wss://) URL",
                    ),
                    429 | 503 => f.write_str("; the server is busy: retry later"),
                    500..=599 => f.write_str("; the server failed: retry later or check its logs"),
                    200 => f.write_str(
                        "; this is a plain HTTP endpoint, not a WebSocket one: check the URL",
                    ),
                    _ => f.write_str(
                        "; check the URL's path and the headers the server requires \
                         (authentication, Origin, subprotocol)",
                    ),
                }
            }
            Self::ResponseHttpVersion { minor } => write!(
                f,
                "HTTP upgrade: the server answered 101 in HTTP/1.{minor}; a WebSocket upgrade \
                 needs HTTP/1.1, so this is not a WebSocket server (check the URL, or a proxy \
                 in between)"
            ),
            Self::ResponseUpgradeHeader { found } => match found {
                Some(found) => write!(
                    f,
                    "HTTP upgrade: the server's Upgrade header is {found:?}, not \
                     \"websocket\"; the endpoint does not speak WebSocket (check the URL, or \
                     a proxy in between)"
                ),
                None => write!(
                    f,
                    "HTTP upgrade: the server's 101 response has no Upgrade header; the \
                     endpoint does not speak WebSocket (check the URL, or a proxy in between)"
                ),
            },
            Self::ResponseConnectionHeader { found } => match found {
                Some(found) => write!(
                    f,
                    "HTTP upgrade: the server's Connection header {found:?} lacks the \
                     \"upgrade\" token; the endpoint or a proxy in between does not speak \
                     WebSocket"
                ),
                None => write!(
                    f,
                    "HTTP upgrade: the server's 101 response has no Connection header; the \
                     endpoint or a proxy in between does not speak WebSocket"
                ),
            },
            Self::MissingAccept => write!(
                f,
                "HTTP upgrade: the server's 101 response has no Sec-WebSocket-Accept header; \
                 it is not a conforming WebSocket server (or a cache replayed an old response)"
            ),
            Self::AcceptMismatch { expected, found } => write!(
                f,
                "HTTP upgrade: the server's Sec-WebSocket-Accept is {found:?} but our key \
                 requires {expected:?}; the server (or a proxy or cache in between) is not \
                 answering this request"
            ),
            Self::UnrequestedSubprotocol { protocol } => write!(
                f,
                "HTTP upgrade: the server chose the subprotocol {protocol:?}, which we did not \
                 offer; offer it (.subprotocol(..)) or fix the server"
            ),
            Self::MultipleSubprotocols { value } => write!(
                f,
                "HTTP upgrade: the server chose several subprotocols ({value:?}); it must \
                 choose exactly one of those offered: fix the server"
            ),
            Self::UnrequestedExtension { name } => write!(
                f,
                "HTTP upgrade: the server accepted the extension {name:?}, which we did not \
                 offer; fix the server (or offer it)"
            ),
            Self::InvalidExtensions { value, reason } => write!(
                f,
                "HTTP upgrade: the Sec-WebSocket-Extensions value {value:?} is malformed \
                 ({reason}); see RFC 6455 section 9.1 for the syntax"
            ),
            Self::ExtensionNegotiation { extension, reason } => write!(
                f,
                "HTTP upgrade: the server's {extension} answer is invalid: {reason}; fix the \
                 server, or connect without compression (.no_compression())"
            ),
            Self::RequestMethod { method } => write!(
                f,
                "invalid upgrade request: the client used the method {method:?}; a \
                 WebSocket upgrade must be a GET"
            ),
            Self::RequestHttpVersion { minor } => write!(
                f,
                "invalid upgrade request: the client speaks HTTP/1.{minor}; a WebSocket \
                 upgrade needs HTTP/1.1"
            ),
            Self::RequestMissingHost => write!(
                f,
                "invalid upgrade request: the client sent no Host header, which HTTP/1.1 \
                 requires"
            ),
            Self::RequestConnectMethod { method } => write!(
                f,
                "invalid HTTP/2 WebSocket request: the client used the method {method:?}; \
                 over HTTP/2 a WebSocket opens with an extended CONNECT (RFC 8441)"
            ),
            Self::RequestConnectProtocol { found } => match found {
                Some(found) => write!(
                    f,
                    "invalid HTTP/2 WebSocket request: the CONNECT's :protocol is {found:?}, \
                     not \"websocket\""
                ),
                None => f.write_str(
                    "invalid HTTP/2 WebSocket request: the CONNECT has no :protocol; this is \
                     a tunnel request, not a WebSocket (RFC 8441 needs :protocol websocket)",
                ),
            },
            Self::RequestMissingPseudoHeader { name } => write!(
                f,
                "invalid HTTP/2 WebSocket request: the extended CONNECT has no {name}, which \
                 RFC 8441 section 4 requires"
            ),
            Self::RequestUpgradeHeader { found } => match found {
                Some(found) => write!(
                    f,
                    "invalid upgrade request: the client's Upgrade header is {found:?}, not \
                     \"websocket\""
                ),
                None => write!(
                    f,
                    "invalid upgrade request: the client sent no Upgrade header; this is a \
                     plain HTTP request, not a WebSocket upgrade"
                ),
            },
            Self::RequestConnectionHeader { found } => match found {
                Some(found) => write!(
                    f,
                    "invalid upgrade request: the client's Connection header {found:?} lacks \
                     the \"upgrade\" token"
                ),
                None => write!(
                    f,
                    "invalid upgrade request: the client sent no Connection header; this is \
                     not a WebSocket upgrade"
                ),
            },
            Self::UnsupportedWebSocketVersion { found } => match found {
                Some(found) => write!(
                    f,
                    "invalid upgrade request: the client asks for WebSocket version \
                     {found:?}; only version 13 (RFC 6455) is supported"
                ),
                None => write!(
                    f,
                    "invalid upgrade request: the client sent no Sec-WebSocket-Version; \
                     version 13 (RFC 6455) is required"
                ),
            },
            Self::MissingKey => write!(
                f,
                "invalid upgrade request: the client sent no Sec-WebSocket-Key header"
            ),
            Self::InvalidKey { key } => write!(
                f,
                "invalid upgrade request: the client's Sec-WebSocket-Key {key:?} is not the \
                 base64 encoding of 16 bytes"
            ),
            Self::RequestRefused { status, reason } => {
                write!(
                    f,
                    "upgrade request refused by the request check: answered HTTP {status} \
                     {}",
                    reason_phrase(*status)
                )?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            Self::Proxy(e) => e.fmt(f),
            Self::Redirect(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // `Display` is the inner error's: its source, not itself, comes next in a chain.
            Self::Proxy(e) => e.source(),
            Self::Redirect(e) => e.source(),
            _ => None,
        }
    }
}

/// A head that could not be read: [`HeadTooLarge`](HandshakeError::HeadTooLarge),
/// [`TooManyHeaders`](HandshakeError::TooManyHeaders) or
/// [`MalformedHead`](HandshakeError::MalformedHead).
impl From<HeadError> for HandshakeError {
    fn from(e: HeadError) -> Self {
        match e {
            HeadError::TooLarge { limit } => HandshakeError::HeadTooLarge { limit },
            HeadError::TooManyHeaders { limit } => HandshakeError::TooManyHeaders { limit },
            HeadError::Malformed { reason } => HandshakeError::MalformedHead { reason },
        }
    }
}

/// A proxy failure: [`HandshakeError::Proxy`].
impl From<ProxyError> for HandshakeError {
    fn from(e: ProxyError) -> Self {
        HandshakeError::Proxy(e)
    }
}

/// A redirect that is not followed: [`HandshakeError::Redirect`].
impl From<RedirectError> for HandshakeError {
    fn from(e: RedirectError) -> Self {
        HandshakeError::Redirect(e)
    }
}
