//! Client role: building the upgrade request and checking the server's answer.

use std::fmt;
use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::HandshakeError;
use crate::extensions::{parse_extensions, Extension};
use crate::head::{bad_value_char, is_token, trim_ows, Head};
use crate::redact::{redact_header_line, redacted, shorten, shorten_bytes, shown, shown_url};
use crate::redirect::error::RedirectError;
use crate::response::{HttpVersion, Response, BODY_EXCERPT};

/// Headers the handshake sets itself; a caller may not give them.
const RESERVED: [&str; 7] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Accept",
    "Content-Length",
    "Transfer-Encoding",
];

/// Where to open the TCP (and TLS) connection for a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or IP address, without the `[]` of an IPv6 literal. Use it for DNS and as
    /// the TLS server name.
    pub host: String,
    /// TCP port: the URL's, or 80 for `ws`, 443 for `wss`.
    pub port: u16,
    /// Whether TLS is needed (`wss`).
    pub secure: bool,
}

/// One header given by the caller, checked at [`RequestBuilder::build`].
#[derive(Clone, Debug)]
pub(crate) enum UserHeader {
    Pair(String, String),
    /// A header the caller allows to follow a redirect to another origin.
    Portable(String, String),
    /// A raw line that is not of the form `Name: value`.
    Malformed(String),
}

/// Builds the client's upgrade request (RFC 6455 section 4.1).
///
/// ```
/// use ws_handshake::RequestBuilder;
///
/// let request = RequestBuilder::new("wss://example.com/chat?room=1")?
///     .origin("https://example.com")
///     .subprotocol("chat.v2")
///     .header("Cookie", "session=abc")
///     .raw_header("User-Agent: my-crawler/1.0")
///     .build()?;
/// let head = std::str::from_utf8(request.as_bytes()).unwrap();
/// assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n"));
/// assert!(head.contains("\r\nUser-Agent: my-crawler/1.0\r\n"));
/// assert_eq!(request.target().port, 443);
/// # Ok::<(), ws_handshake::HandshakeError>(())
/// ```
///
/// # URLs
///
/// `ws://` and `wss://` URLs are used as they are; `http://` and `https://` are mapped to
/// `ws://` and `wss://` (same host, port, path and query; [`ClientRequest::url`] returns
/// the mapped URL). The default ports are 80 and 443. The request target is the URL's path
/// and query; a `#fragment` is meaningless for WebSocket (RFC 6455 section 3) and is dropped.
/// IPv6 literals work: `ws://[::1]:9000/x` sends `Host: [::1]:9000` and connects to `::1`
/// port 9000. A user name and password in the URL (`ws://user:pass@host/`) are sent as
/// `Authorization: Basic ...`, unless the caller gives an `Authorization` header.
///
/// # Headers: which ones the caller may set
///
/// Header names must be HTTP tokens and values may not contain CR, LF, NUL or other control
/// characters except TAB; [`build`](Self::build) refuses them with
/// [`HandshakeError::InvalidHeaderName`] / [`HandshakeError::InvalidHeaderValue`]. Values
/// are trimmed of surrounding spaces and tabs. Then, by name (ASCII-case-insensitive):
///
/// * `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`,
///   `Sec-WebSocket-Accept`, `Content-Length`, `Transfer-Encoding`: refused with
///   [`HandshakeError::ReservedHeader`]; the handshake must control them.
/// * `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`: refused with
///   [`HandshakeError::UseBuilderMethod`]; use [`subprotocol`](Self::subprotocol) and
///   [`extensions`](Self::extensions) so the response can be checked against the offer.
/// * `Host`: replaces the `Host` generated from the URL (the connection still goes to the
///   URL's host; useful behind proxies and for crawlers). If given several times, the last
///   one is sent.
/// * `Origin`: the same as [`origin`](Self::origin); whichever is given last is sent, once.
/// * `User-Agent`: replaces the default [`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT).
///   If given several times, the last one is sent, once, where it was given.
/// * anything else (`Cookie`, `Authorization`, ...): sent as given, in the order given,
///   after the handshake's own headers.
///
/// # User-Agent
///
/// Unless the caller gives a `User-Agent` header, the request carries
/// `User-Agent: aiowebsocket/<version>` ([`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT)),
/// after the handshake's own headers and before the caller's.
/// [`no_user_agent`](Self::no_user_agent) leaves it out. It is kept on every
/// [`redirect`](Self::redirect) hop, to any origin.
///
/// ```
/// use ws_handshake::{RequestBuilder, DEFAULT_USER_AGENT};
///
/// let sent = |b: RequestBuilder| {
///     String::from_utf8_lossy(b.build().unwrap().as_bytes()).into_owned()
/// };
/// let default = sent(RequestBuilder::new("ws://example.com/")?);
/// assert!(default.contains(&format!("\r\nUser-Agent: {DEFAULT_USER_AGENT}\r\n")));
/// let none = sent(RequestBuilder::new("ws://example.com/")?.no_user_agent());
/// assert!(!none.contains("User-Agent"));
/// # Ok::<(), ws_handshake::HandshakeError>(())
/// ```
#[derive(Clone)]
pub struct RequestBuilder {
    pub(crate) url: Url,
    target: Target,
    host_header: String,
    pub(crate) headers: Vec<UserHeader>,
    pub(crate) protocols: Vec<String>,
    pub(crate) extensions: Option<String>,
    /// Whether [`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT) is sent when the caller
    /// gives no `User-Agent`.
    pub(crate) default_user_agent: bool,
}

impl RequestBuilder {
    /// Starts a request for `url` (`ws://`, `wss://`, or `http(s)://` mapped to them).
    pub fn new(url: &str) -> Result<RequestBuilder, HandshakeError> {
        let parsed = Url::parse(url).map_err(|e| HandshakeError::InvalidUrl {
            url: shown_url(url),
            reason: e.to_string(),
        })?;
        Self::from_url(parsed)
    }

    /// Starts a request for an already parsed URL.
    pub fn from_url(mut url: Url) -> Result<RequestBuilder, HandshakeError> {
        let secure = match url.scheme() {
            "ws" => false,
            "wss" => true,
            "http" | "https" => {
                let secure = url.scheme() == "https";
                let scheme = if secure { "wss" } else { "ws" };
                url.set_scheme(scheme)
                    .map_err(|()| HandshakeError::UnsupportedScheme {
                        scheme: url.scheme().to_owned(),
                    })?;
                secure
            }
            other => {
                return Err(HandshakeError::UnsupportedScheme {
                    scheme: shorten(other),
                })
            }
        };
        url.set_fragment(None);
        let missing_host = || HandshakeError::MissingHost { url: shown(&url) };
        let (host, host_for_header) = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => (d.to_owned(), d.to_owned()),
            Some(url::Host::Ipv4(a)) => (a.to_string(), a.to_string()),
            Some(url::Host::Ipv6(a)) => (a.to_string(), format!("[{a}]")),
            _ => return Err(missing_host()),
        };
        let default_port = if secure { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let host_header = if port == default_port {
            host_for_header
        } else {
            format!("{host_for_header}:{port}")
        };
        Ok(RequestBuilder {
            target: Target { host, port, secure },
            host_header,
            url,
            headers: Vec::new(),
            protocols: Vec::new(),
            extensions: None,
            default_user_agent: true,
        })
    }

    /// Adds a header. Checked at [`build`](Self::build); see the rules in the type's docs.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push(UserHeader::Pair(name.into(), value.into()));
        self
    }

    /// Adds a header that may follow a redirect to another origin (scheme, host or port):
    /// for values meant for every host a redirect can lead to. Headers added with
    /// [`header`](Self::header) reach only the origin of the URL they were given for (see
    /// [`redirect`](Self::redirect)). Never use it for credentials.
    pub fn portable_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push(UserHeader::Portable(name.into(), value.into()));
        self
    }

    /// Adds a header given as one raw line, `Name: value` (as the Python aiowebsocket's
    /// `headers` list accepted). A trailing CRLF is ignored. Checked at
    /// [`build`](Self::build) like [`header`](Self::header); a line without `:` is refused
    /// with [`HandshakeError::MalformedRawHeader`].
    pub fn raw_header(mut self, line: impl Into<String>) -> Self {
        let line = line.into();
        let trimmed = line
            .strip_suffix("\r\n")
            .or_else(|| line.strip_suffix('\n'))
            .unwrap_or(&line);
        let entry = match trimmed.split_once(':') {
            Some((name, value)) => UserHeader::Pair(name.to_owned(), value.to_owned()),
            None => UserHeader::Malformed(line),
        };
        self.headers.push(entry);
        self
    }

    /// Sets the `Origin` header (browsers send it; some servers require it).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.headers
            .push(UserHeader::Pair("Origin".to_owned(), origin.into()));
        self
    }

    /// Sends no default `User-Agent` ([`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT)).
    /// A `User-Agent` header the caller adds is still sent; without one the request has no
    /// `User-Agent` line. Kept across [`redirect`](Self::redirect)s.
    pub fn no_user_agent(mut self) -> Self {
        self.default_user_agent = false;
        self
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); call once per subprotocol, in order of
    /// preference. Each must be an HTTP token.
    pub fn subprotocol(mut self, proto: impl Into<String>) -> Self {
        self.protocols.push(proto.into());
        self
    }

    /// Sets the `Sec-WebSocket-Extensions` offer, e.g. the value of
    /// `permessage_deflate::DeflateConfig::offer()`. It must parse with
    /// [`parse_extensions`]; the server may accept only extensions named in it. Replaces any
    /// previous offer.
    pub fn extensions(mut self, offer: impl Into<String>) -> Self {
        self.extensions = Some(offer.into());
        self
    }

    /// The URL the request is for.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Checks everything and encodes the request with a fresh random `Sec-WebSocket-Key`.
    pub fn build(self) -> Result<ClientRequest, HandshakeError> {
        self.build_with_key(rand::random::<[u8; 16]>())
    }

    /// Like [`build`](Self::build) with a chosen key: for tests and reproducible output only.
    /// A real client must use a fresh random key for every connection.
    pub fn build_with_key(self, key: [u8; 16]) -> Result<ClientRequest, HandshakeError> {
        let p = self.prepare(&[])?;
        let key = STANDARD.encode(key);
        let mut out = String::with_capacity(256);
        // `write!` into a String cannot fail.
        let _ = write!(
            out,
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            p.path, p.authority
        );
        for (name, value) in p.headers_after_version() {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("\r\n");

        Ok(ClientRequest {
            bytes: out.into_bytes(),
            key,
            target: p.target,
            url: p.url,
            protocols: p.protocols,
            extensions: p.offered_extensions,
        })
    }

    /// Checks the caller's URL, headers, subprotocols and extension offer, and sorts the
    /// headers: the part of building a request that HTTP/1.1 ([`build`](Self::build)) and
    /// HTTP/2 ([`build_h2`](Self::build_h2)) share. A header named in `forbidden` (lowercase)
    /// is refused with [`HandshakeError::ConnectionSpecificHeader`] before the other rules.
    pub(crate) fn prepare(self, forbidden: &[&str]) -> Result<Prepared, HandshakeError> {
        // Check and sort the caller's headers.
        let mut host = None;
        let mut origin = None;
        let mut user_agent = false;
        let mut others: Vec<(String, String)> = Vec::new();
        for h in self.headers {
            let (name, value) = match h {
                UserHeader::Pair(n, v) | UserHeader::Portable(n, v) => (n, v),
                UserHeader::Malformed(line) => {
                    return Err(HandshakeError::MalformedRawHeader {
                        line: shorten(&redact_header_line(&line)),
                    })
                }
            };
            let name_t = name.trim_matches([' ', '\t']);
            if !is_token(name_t) {
                return Err(HandshakeError::InvalidHeaderName {
                    name: shorten(&redact_header_line(&name)),
                });
            }
            if let Some(reason) = bad_value_char(&value) {
                return Err(HandshakeError::InvalidHeaderValue {
                    name: name_t.to_owned(),
                    reason,
                });
            }
            if forbidden.iter().any(|f| f.eq_ignore_ascii_case(name_t)) {
                return Err(HandshakeError::ConnectionSpecificHeader {
                    name: name_t.to_owned(),
                });
            }
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name_t)) {
                return Err(HandshakeError::ReservedHeader {
                    name: name_t.to_owned(),
                });
            }
            if name_t.eq_ignore_ascii_case("Proxy-Authorization") {
                return Err(HandshakeError::ProxyAuthorizationHeader);
            }
            if name_t.eq_ignore_ascii_case("Sec-WebSocket-Protocol") {
                return Err(HandshakeError::UseBuilderMethod {
                    name: name_t.to_owned(),
                    method: "RequestBuilder::subprotocol",
                });
            }
            if name_t.eq_ignore_ascii_case("Sec-WebSocket-Extensions") {
                return Err(HandshakeError::UseBuilderMethod {
                    name: name_t.to_owned(),
                    method: "RequestBuilder::extensions",
                });
            }
            let value = value.trim_matches([' ', '\t']).to_owned();
            if name_t.eq_ignore_ascii_case("Host") {
                host = Some(value);
            } else if name_t.eq_ignore_ascii_case("Origin") {
                origin = Some(value);
            } else if name_t.eq_ignore_ascii_case("User-Agent") {
                // One User-Agent line: the last one given, where it was given.
                others.retain(|(n, _)| !n.eq_ignore_ascii_case("User-Agent"));
                others.push((name_t.to_owned(), value));
                user_agent = true;
            } else {
                others.push((name_t.to_owned(), value));
            }
        }
        for p in &self.protocols {
            if !is_token(p) {
                return Err(HandshakeError::InvalidSubprotocol {
                    protocol: shorten(p),
                });
            }
        }
        let mut offered_extensions = Vec::new();
        if let Some(offer) = &self.extensions {
            if let Some(reason) = bad_value_char(offer) {
                return Err(HandshakeError::InvalidHeaderValue {
                    name: "Sec-WebSocket-Extensions".to_owned(),
                    reason,
                });
            }
            offered_extensions = parse_extensions(offer)?
                .into_iter()
                .map(|e| e.name)
                .collect();
        }
        let authorization = if others
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Authorization"))
        {
            None
        } else {
            basic_auth(&self.url)
        };

        let mut path = self.url.path().to_owned();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = self.url.query() {
            path.push('?');
            path.push_str(q);
        }
        let extension_offer = self
            .extensions
            .as_deref()
            .map(|e| e.trim_matches([' ', '\t']).to_owned())
            .filter(|e| !e.is_empty());
        Ok(Prepared {
            authority: host.unwrap_or(self.host_header),
            path,
            origin,
            protocols: self.protocols,
            extension_offer,
            offered_extensions,
            authorization,
            default_user_agent: self.default_user_agent && !user_agent,
            others,
            target: self.target,
            url: self.url,
        })
    }
}

/// A checked request, before it is encoded for HTTP/1.1 or HTTP/2 (see
/// [`RequestBuilder::prepare`]).
pub(crate) struct Prepared {
    /// The `Host` value (HTTP/1.1) or `:authority` (HTTP/2): the caller's `Host`, else the
    /// URL's host, with the port unless it is the default one.
    pub(crate) authority: String,
    /// The URL's path and query, `/` if empty.
    pub(crate) path: String,
    pub(crate) origin: Option<String>,
    pub(crate) protocols: Vec<String>,
    /// The extension offer, trimmed; `None` if absent or blank.
    pub(crate) extension_offer: Option<String>,
    /// The names of the extensions offered.
    pub(crate) offered_extensions: Vec<String>,
    /// `Basic ...` from the URL's user info, unless the caller gave `Authorization`.
    pub(crate) authorization: Option<String>,
    /// Whether to send [`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT).
    pub(crate) default_user_agent: bool,
    /// The caller's other headers, in order, names as given.
    pub(crate) others: Vec<(String, String)>,
    pub(crate) target: Target,
    pub(crate) url: Url,
}

impl Prepared {
    /// The headers that follow `Sec-WebSocket-Version`, in the order they are sent (names
    /// in their HTTP/1.1 spelling): `Origin`, `Sec-WebSocket-Protocol`,
    /// `Sec-WebSocket-Extensions`, `Authorization`, the default `User-Agent`, then the
    /// caller's other headers.
    pub(crate) fn headers_after_version(&self) -> Vec<(&str, String)> {
        let mut out: Vec<(&str, String)> = Vec::with_capacity(self.others.len() + 5);
        if let Some(origin) = &self.origin {
            out.push(("Origin", origin.clone()));
        }
        if !self.protocols.is_empty() {
            out.push(("Sec-WebSocket-Protocol", self.protocols.join(", ")));
        }
        if let Some(ext) = &self.extension_offer {
            out.push(("Sec-WebSocket-Extensions", ext.clone()));
        }
        if let Some(auth) = &self.authorization {
            out.push(("Authorization", auth.clone()));
        }
        if self.default_user_agent {
            out.push(("User-Agent", crate::DEFAULT_USER_AGENT.to_owned()));
        }
        for (name, value) in &self.others {
            out.push((name, value.clone()));
        }
        out
    }
}

/// `Basic base64(user:pass)` from the URL's user info, if any.
fn basic_auth(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    // The URL parser leaves `%XX` escapes in user info.
    let mut creds: Vec<u8> = percent_decode_str(url.username()).collect();
    creds.push(b':');
    creds.extend(percent_decode_str(url.password().unwrap_or("")));
    Some(format!("Basic {}", STANDARD.encode(creds)))
}

/// Debug output shows header names but not values, and no URL password, so that it can be
/// logged without leaking credentials or cookies.
impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .headers
            .iter()
            .map(|h| match h {
                UserHeader::Pair(n, _) | UserHeader::Portable(n, _) => n.as_str(),
                UserHeader::Malformed(_) => "<malformed>",
            })
            .collect();
        f.debug_struct("RequestBuilder")
            .field("url", &redacted(&self.url))
            .field("target", &self.target)
            .field("headers", &names)
            .field("subprotocols", &self.protocols)
            .field("extensions", &self.extensions)
            .field("default_user_agent", &self.default_user_agent)
            .finish()
    }
}

/// An encoded upgrade request, and what is needed to check the server's answer.
#[derive(Clone)]
pub struct ClientRequest {
    bytes: Vec<u8>,
    key: String,
    target: Target,
    url: Url,
    protocols: Vec<String>,
    extensions: Vec<String>,
}

/// Debug output shows the target, key and subprotocols but not the header bytes, and no URL
/// password.
impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("url", &redacted(&self.url))
            .field("target", &self.target)
            .field("key", &self.key)
            .field("subprotocols", &self.protocols)
            .field("extensions", &self.extensions)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// What the server agreed to in a valid 101 response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol selected (one of those offered), if any.
    pub subprotocol: Option<String>,
    /// The extensions accepted (each named in the offer), in the server's order, parsed.
    /// Negotiating their parameters is the extension's business, e.g.
    /// `permessage_deflate::DeflateConfig::negotiate`.
    pub extensions: Vec<Extension>,
}

impl ClientRequest {
    /// The full request head, to write to the connection.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `Sec-WebSocket-Key` sent (base64).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where to connect.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The URL requested (`ws` or `wss`, without fragment).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The subprotocols offered, in order.
    pub fn subprotocols(&self) -> &[String] {
        &self.protocols
    }

    /// The names of the extensions offered.
    pub fn extension_names(&self) -> &[String] {
        &self.extensions
    }

    /// Checks the server's response (RFC 6455 section 4.1, steps 1-6 of the client's
    /// validation) and returns what it agreed to.
    ///
    /// In order: the status must be 101 (a 3xx gives [`HandshakeError::Redirect`] with
    /// [`RedirectError::Redirected`], anything else [`HandshakeError::UnexpectedStatus`] with an excerpt of the body), in HTTP/1.1
    /// ([`HandshakeError::ResponseHttpVersion`] for HTTP/1.0);
    /// `Upgrade` must be `websocket` and `Connection` must contain `upgrade`
    /// (ASCII-case-insensitive, comma lists and repeated headers allowed);
    /// `Sec-WebSocket-Accept` must match our key; a subprotocol must be exactly one of those
    /// offered; extensions must be well-formed and among those offered. A response that came
    /// over HTTP/2 ([`Response::from_h2`]) fails as an unexpected status: check it with
    /// [`H2Request::check`](crate::H2Request::check).
    pub fn check(&self, response: &Response) -> Result<Accepted, HandshakeError> {
        let head = response.head();
        if response.status() != 101 || response.http_version() != HttpVersion::Http11 {
            return Err(refused_status(response));
        }

        if response.http_minor_version() < 1 {
            return Err(HandshakeError::ResponseHttpVersion {
                minor: response.http_minor_version(),
            });
        }

        // Upgrade: every listed token must be "websocket", and there must be one.
        let mut upgrade_ok = false;
        for v in head.values("Upgrade") {
            for t in v.split(|&b| b == b',').map(trim_ows) {
                if t.is_empty() {
                    continue;
                }
                if t.eq_ignore_ascii_case(b"websocket") {
                    upgrade_ok = true;
                } else {
                    upgrade_ok = false;
                    break;
                }
            }
            if !upgrade_ok {
                break;
            }
        }
        if !upgrade_ok {
            return Err(HandshakeError::ResponseUpgradeHeader {
                found: head.joined("Upgrade"),
            });
        }
        if !head.has_token("Connection", "upgrade") {
            return Err(HandshakeError::ResponseConnectionHeader {
                found: head.joined("Connection"),
            });
        }

        let expected = accept_key(self.key.as_bytes());
        let mut any = false;
        for v in head.values("Sec-WebSocket-Accept") {
            any = true;
            if trim_ows(v) != expected.as_bytes() {
                return Err(HandshakeError::AcceptMismatch {
                    expected,
                    found: shorten_bytes(v),
                });
            }
        }
        if !any {
            return Err(HandshakeError::MissingAccept);
        }

        check_negotiation(&self.protocols, &self.extensions, head)
    }
}

/// The error for a response whose status does not open the WebSocket: a 3xx is
/// [`RedirectError::Redirected`] (with its `Location`, which the redirect chain follows),
/// anything else [`HandshakeError::UnexpectedStatus`] with an excerpt of the body. Shared by
/// the HTTP/1.1 and HTTP/2 checks.
pub(crate) fn refused_status(response: &Response) -> HandshakeError {
    let status = response.status();
    if (300..400).contains(&status) {
        return HandshakeError::Redirect(RedirectError::Redirected {
            status,
            location: response.header("Location").map(shown_url),
        });
    }
    let rest = response.rest();
    let excerpt = &rest[..rest.len().min(BODY_EXCERPT)];
    HandshakeError::UnexpectedStatus {
        status,
        reason: shorten(response.reason()),
        body_excerpt: String::from_utf8_lossy(excerpt).into_owned(),
    }
}

/// Checks what an accepting response agreed to against the offer, the same over HTTP/1.1
/// and HTTP/2: at most one `Sec-WebSocket-Protocol`, exactly one of `protocols`; every
/// extension in `Sec-WebSocket-Extensions` well-formed and named in `extensions`.
pub(crate) fn check_negotiation(
    protocols: &[String],
    extensions: &[String],
    head: &Head,
) -> Result<Accepted, HandshakeError> {
    let mut subprotocol = None;
    for v in head.values("Sec-WebSocket-Protocol") {
        let v = trim_ows(v);
        if subprotocol.is_some() || v.contains(&b',') {
            return Err(HandshakeError::MultipleSubprotocols {
                value: head.joined("Sec-WebSocket-Protocol").unwrap_or_default(),
            });
        }
        match protocols.iter().find(|p| p.as_bytes() == v) {
            Some(p) => subprotocol = Some(p.clone()),
            None => {
                return Err(HandshakeError::UnrequestedSubprotocol {
                    protocol: shorten_bytes(v),
                })
            }
        }
    }

    let mut accepted = Vec::new();
    for v in head.values("Sec-WebSocket-Extensions") {
        let Ok(text) = std::str::from_utf8(v) else {
            return Err(HandshakeError::InvalidExtensions {
                value: shorten_bytes(v),
                reason: "it is not valid UTF-8",
            });
        };
        for ext in parse_extensions(text)? {
            if !extensions.iter().any(|o| o.eq_ignore_ascii_case(&ext.name)) {
                return Err(HandshakeError::UnrequestedExtension {
                    name: shorten(&ext.name),
                });
            }
            accepted.push(ext);
        }
    }

    Ok(Accepted {
        subprotocol,
        extensions: accepted,
    })
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
///
/// `key` is the key as sent, i.e. the base64 text.
///
/// ```
/// assert_eq!(
///     ws_handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(crate::GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}
