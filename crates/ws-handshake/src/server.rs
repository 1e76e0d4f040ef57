//! Server role: reading and validating a client's upgrade request, answering it.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::client::accept_key;
use crate::error::HandshakeError;
use crate::extensions::{parse_extensions, Extension};
use crate::head::{malformed_field, push_field, range_in, trim_ows, Head, HeadReader, Limits};
use crate::redact::{shorten, shorten_bytes};
use crate::response::HttpVersion;
use crate::status::reason_phrase;

/// Reads a client's HTTP request head incrementally; the server-role twin of
/// [`ResponseParser`](crate::ResponseParser), with the same limits and linear-time
/// behaviour.
///
/// ```
/// use ws_handshake::{Limits, RequestParser};
///
/// let mut parser = RequestParser::new(Limits::default());
/// let raw = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///             Sec-WebSocket-Version: 13\r\n\r\n";
/// let request = parser.feed(raw)?.expect("complete");
/// request.validate()?;
/// let answer = request.accept(None, None);
/// assert!(answer.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// # Ok::<(), ws_handshake::HandshakeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestParser {
    reader: HeadReader,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            reader: HeadReader::new(limits),
        }
    }

    /// Adds bytes received from the client: `Ok(None)` while the head is incomplete,
    /// `Ok(Some(request))` once it is; errors as for
    /// [`ResponseParser::feed`](crate::ResponseParser::feed). The request is only parsed,
    /// not validated: call [`Request::validate`].
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Request>, HandshakeError> {
        let Some(((method, path, minor), head)) = self.reader.feed(data, |head, headers| {
            let mut parsed = httparse::Request::new(headers);
            if parsed.parse(head)?.is_partial() {
                return Ok(None);
            }
            let line = (
                range_in(head, parsed.method.unwrap_or_default().as_bytes()),
                range_in(head, parsed.path.unwrap_or_default().as_bytes()),
                parsed.version.unwrap_or_default(),
            );
            Ok(Some((line, parsed.headers)))
        })?
        else {
            return Ok(None);
        };
        Ok(Some(Request {
            version: HttpVersion::Http11,
            method,
            path,
            minor,
            h2: None,
            head,
        }))
    }

    /// Bytes held while waiting for the rest of the head. Never more than
    /// [`Limits::max_head_size`].
    pub fn buffered(&self) -> usize {
        self.reader.buffered()
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> Limits {
        self.reader.limits
    }
}

/// A client's parsed HTTP request head, plus the bytes that arrived after it.
///
/// Read from an HTTP/1.1 connection by [`RequestParser`], or made from an HTTP/2 request's
/// fields by [`Request::from_h2`]; the accessors work the same on both.
#[derive(Clone)]
pub struct Request {
    version: HttpVersion,
    method: Range<usize>,
    path: Range<usize>,
    minor: u8,
    /// What only an HTTP/2 request has.
    h2: Option<H2Fields>,
    head: Head,
}

/// The parts of an HTTP/2 request that HTTP/1.1 has no place for: the other
/// pseudo-headers, and what [`Request::validate_h2`] must refuse.
#[derive(Clone, Debug)]
struct H2Fields {
    protocol: Option<Range<usize>>,
    scheme: Range<usize>,
    authority: Range<usize>,
    /// The limit the fields went past ([`HandshakeError::HeadTooLarge`] or
    /// [`HandshakeError::TooManyHeaders`]), if they did.
    over_limit: Option<HandshakeError>,
    /// Why a field is malformed (RFC 9113 section 8.2.1), if one is.
    malformed: Option<String>,
}

impl Request {
    /// A request received over HTTP/2 (server role, RFC 8441): its pseudo-headers
    /// (`:method`, `:protocol` if present, `:scheme`, `:authority`, `:path`) and its other
    /// header fields in order as `(name, value)`.
    ///
    /// Only parsed, not validated: call [`validate_h2`](Self::validate_h2). The fields are
    /// bounded as [`RequestParser`] bounds an HTTP/1.1 head, by [`Limits::DEFAULT`]: each
    /// field counts its name, value and 4 bytes (as a `name: value` line would); past
    /// `max_head_size` bytes or `max_headers` header fields nothing more is copied and
    /// [`validate_h2`](Self::validate_h2) fails with [`HandshakeError::HeadTooLarge`] or
    /// [`HandshakeError::TooManyHeaders`] (answer 431). A field name that is not an HTTP
    /// token or a value with CR, LF or NUL is malformed: [`validate_h2`](Self::validate_h2)
    /// fails with [`HandshakeError::MalformedHead`].
    ///
    /// [`header`](Self::header), [`headers`](Self::headers),
    /// [`subprotocols`](Self::subprotocols) and [`extensions`](Self::extensions) work as for
    /// HTTP/1.1; [`method`](Self::method) and [`path`](Self::path) are the pseudo-headers;
    /// [`rest`](Self::rest) is empty (the stream's DATA are WebSocket frames).
    ///
    /// ```
    /// use ws_handshake::Request;
    ///
    /// let headers = vec![
    ///     ("sec-websocket-version".to_owned(), b"13".to_vec()),
    ///     ("sec-websocket-protocol".to_owned(), b"chat, superchat".to_vec()),
    /// ];
    /// let request =
    ///     Request::from_h2("CONNECT", Some("websocket"), "https", "example.com", "/chat", headers);
    /// request.validate_h2()?;
    /// assert_eq!(request.subprotocols(), ["chat", "superchat"]);
    /// let answer = request.accept_h2(Some("chat"), None); // send with status 200
    /// assert_eq!(answer, [("sec-websocket-protocol".to_owned(), "chat".to_owned())]);
    /// # Ok::<(), ws_handshake::HandshakeError>(())
    /// ```
    pub fn from_h2(
        method: &str,
        protocol: Option<&str>,
        scheme: &str,
        authority: &str,
        path: &str,
        headers: Vec<(String, Vec<u8>)>,
    ) -> Request {
        let limits = Limits::DEFAULT;
        let mut over_limit = None;
        let mut used = 0usize;
        // Whether a field of `len` bytes (name and value) still fits; counts it if it does.
        let mut fits = |len: usize, over_limit: &mut Option<HandshakeError>| {
            let cost = len.saturating_add(4);
            if over_limit.is_none() && used.saturating_add(cost) <= limits.max_head_size {
                used += cost;
                true
            } else {
                over_limit.get_or_insert(HandshakeError::HeadTooLarge {
                    limit: limits.max_head_size,
                });
                false
            }
        };
        let mut buf = Vec::new();
        let mut pseudo = |name: &str, value: &str, over_limit: &mut Option<HandshakeError>| {
            let value = if fits(name.len() + value.len(), over_limit) {
                value
            } else {
                ""
            };
            let start = buf.len();
            buf.extend_from_slice(value.as_bytes());
            start..buf.len()
        };
        let method = pseudo(":method", method, &mut over_limit);
        let protocol = protocol.map(|p| pseudo(":protocol", p, &mut over_limit));
        let scheme = pseudo(":scheme", scheme, &mut over_limit);
        let authority = pseudo(":authority", authority, &mut over_limit);
        let path = pseudo(":path", path, &mut over_limit);
        let mut positions = Vec::new();
        let mut malformed = None;
        for (name, value) in &headers {
            if positions.len() >= limits.max_headers {
                over_limit.get_or_insert(HandshakeError::TooManyHeaders {
                    limit: limits.max_headers,
                });
                break;
            }
            if !fits(name.len() + value.len(), &mut over_limit) {
                break;
            }
            if malformed.is_none() {
                malformed = malformed_field(name, value);
            }
            positions.push(push_field(&mut buf, name, value));
        }
        let head_len = buf.len();
        Request {
            version: HttpVersion::Http2,
            method,
            path,
            minor: 0,
            h2: Some(H2Fields {
                protocol,
                scheme,
                authority,
                over_limit,
                malformed,
            }),
            head: Head {
                buf,
                head_len,
                headers: positions,
            },
        }
    }

    /// The HTTP version the request came over: [`HttpVersion::Http11`] from
    /// [`RequestParser`], [`HttpVersion::Http2`] from [`from_h2`](Self::from_h2).
    pub fn http_version(&self) -> HttpVersion {
        self.version
    }

    /// The `:protocol` pseudo-header of an HTTP/2 request (`websocket` for RFC 8441), if
    /// present; `None` over HTTP/1.1.
    pub fn protocol(&self) -> Option<&str> {
        let h2 = self.h2.as_ref()?;
        h2.protocol.as_ref().map(|r| self.head.str_at(r))
    }

    /// The `:scheme` pseudo-header of an HTTP/2 request; `None` over HTTP/1.1.
    pub fn scheme(&self) -> Option<&str> {
        self.h2.as_ref().map(|h2| self.head.str_at(&h2.scheme))
    }

    /// The `:authority` of an HTTP/2 request, the `Host` header of an HTTP/1.1 one.
    pub fn authority(&self) -> Option<&str> {
        match &self.h2 {
            Some(h2) => Some(self.head.str_at(&h2.authority)),
            None => self.header("Host"),
        }
    }

    /// The method, e.g. `GET` (`CONNECT` over HTTP/2).
    pub fn method(&self) -> &str {
        self.head.str_at(&self.method)
    }

    /// The request target, e.g. `/chat?room=1` (the `:path` over HTTP/2).
    pub fn path(&self) -> &str {
        self.head.str_at(&self.path)
    }

    /// The HTTP minor version: `1` for HTTP/1.1; `0` for HTTP/2, which has none (see
    /// [`http_version`](Self::http_version)).
    pub fn http_minor_version(&self) -> u8 {
        self.minor
    }

    /// The first header called `name` (ASCII-case-insensitive), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// All headers in order, as `(name, raw value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.headers()
    }

    /// The `Sec-WebSocket-Key`, trimmed, if present and UTF-8 (not checked; see
    /// [`validate`](Self::validate)).
    pub fn key(&self) -> Option<&str> {
        self.header("Sec-WebSocket-Key")
            .map(|k| k.trim_matches([' ', '\t']))
    }

    /// The subprotocols offered in `Sec-WebSocket-Protocol` (all such headers, comma lists
    /// split, blanks and non-UTF-8 values skipped), in the client's order of preference.
    pub fn subprotocols(&self) -> Vec<String> {
        self.head
            .values("Sec-WebSocket-Protocol")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|p| !p.is_empty())
            .filter_map(|p| std::str::from_utf8(p).ok())
            .map(str::to_owned)
            .collect()
    }

    /// The extensions offered in `Sec-WebSocket-Extensions` (all such headers), parsed with
    /// [`parse_extensions`]. Hand them to e.g.
    /// `permessage_deflate::DeflateConfig::accept_offer`.
    pub fn extensions(&self) -> Result<Vec<Extension>, HandshakeError> {
        let mut out = Vec::new();
        for v in self.head.values("Sec-WebSocket-Extensions") {
            let text = std::str::from_utf8(v).map_err(|_| HandshakeError::InvalidExtensions {
                value: shorten_bytes(v),
                reason: "it is not valid UTF-8",
            })?;
            out.extend(parse_extensions(text)?);
        }
        Ok(out)
    }

    /// The bytes received after the head (a client may pipeline its first frames).
    pub fn rest(&self) -> &[u8] {
        self.head.rest()
    }

    /// Like [`rest`](Self::rest), by value (without copying the bytes).
    pub fn into_rest(self) -> Vec<u8> {
        self.head.into_rest()
    }

    /// Checks that this is a WebSocket upgrade request (RFC 6455 section 4.2.1): method
    /// `GET`, HTTP/1.1 or later, a `Host` header, `Upgrade: websocket`, `Connection`
    /// containing `upgrade` (comma lists, any case), `Sec-WebSocket-Version: 13`, and a
    /// `Sec-WebSocket-Key` that is the base64 of 16 bytes. On failure,
    /// [`HandshakeError::http_status`] gives the status to answer with [`reject`].
    pub fn validate(&self) -> Result<(), HandshakeError> {
        if self.method() != "GET" {
            return Err(HandshakeError::RequestMethod {
                method: shorten(self.method()),
            });
        }
        if self.minor < 1 {
            return Err(HandshakeError::RequestHttpVersion { minor: self.minor });
        }
        if self.head.values("Host").next().is_none() {
            return Err(HandshakeError::RequestMissingHost);
        }
        if !self.head.has_token("Upgrade", "websocket") {
            return Err(HandshakeError::RequestUpgradeHeader {
                found: self.head.joined("Upgrade"),
            });
        }
        if !self.head.has_token("Connection", "upgrade") {
            return Err(HandshakeError::RequestConnectionHeader {
                found: self.head.joined("Connection"),
            });
        }
        self.check_version()?;
        let Some(key) = self.head.values("Sec-WebSocket-Key").next() else {
            return Err(HandshakeError::MissingKey);
        };
        let key = trim_ows(key);
        // 16 bytes are 24 base64 characters; check the length before decoding.
        let valid = key.len() == 24 && STANDARD.decode(key).is_ok_and(|k| k.len() == 16);
        if !valid {
            return Err(HandshakeError::InvalidKey {
                key: shorten_bytes(key),
            });
        }
        Ok(())
    }

    /// The `101 Switching Protocols` response accepting this request, with the selected
    /// `subprotocol` (it should be one of [`subprotocols`](Self::subprotocols)) and the
    /// accepted `extensions` header value, if any.
    ///
    /// Call [`validate`](Self::validate) first. Control characters (CR, LF, ...) in
    /// `subprotocol` or `extensions` are removed, so they cannot inject headers; a value
    /// that is empty once cleaned is not sent.
    pub fn accept(&self, subprotocol: Option<&str>, extensions: Option<&str>) -> Vec<u8> {
        let key = self
            .head
            .values("Sec-WebSocket-Key")
            .next()
            .map(trim_ows)
            .unwrap_or_default();
        let mut out = String::with_capacity(160);
        let _ = write!(
            out,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n",
            accept_key(key)
        );
        if let Some(p) = subprotocol.map(clean).filter(|p| !p.is_empty()) {
            let _ = write!(out, "Sec-WebSocket-Protocol: {p}\r\n");
        }
        if let Some(e) = extensions.map(clean).filter(|e| !e.is_empty()) {
            let _ = write!(out, "Sec-WebSocket-Extensions: {e}\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// Checks that this HTTP/2 request ([`from_h2`](Self::from_h2)) opens a WebSocket (RFC
    /// 8441 sections 4 and 5), in order: within the limits
    /// ([`HandshakeError::HeadTooLarge`], [`HandshakeError::TooManyHeaders`]); well-formed
    /// fields ([`HandshakeError::MalformedHead`]); `:method` `CONNECT`
    /// ([`HandshakeError::RequestConnectMethod`]); `:protocol` `websocket`
    /// ([`HandshakeError::RequestConnectProtocol`]); non-empty `:scheme`, `:path` and
    /// `:authority` ([`HandshakeError::RequestMissingPseudoHeader`]);
    /// `sec-websocket-version: 13` ([`HandshakeError::UnsupportedWebSocketVersion`]). There
    /// is no key to check over HTTP/2. On failure, [`HandshakeError::http_status`] gives the
    /// status to answer (426 wants a `sec-websocket-version: 13` header in the answer, as
    /// [`reject`] adds over HTTP/1.1). An HTTP/1.1 request fails with
    /// [`HandshakeError::RequestConnectMethod`].
    pub fn validate_h2(&self) -> Result<(), HandshakeError> {
        let Some(h2) = &self.h2 else {
            return Err(HandshakeError::RequestConnectMethod {
                method: shorten(self.method()),
            });
        };
        if let Some(e) = &h2.over_limit {
            return Err(e.clone());
        }
        if let Some(reason) = &h2.malformed {
            return Err(HandshakeError::MalformedHead {
                reason: reason.clone(),
            });
        }
        if self.method() != "CONNECT" {
            return Err(HandshakeError::RequestConnectMethod {
                method: shorten(self.method()),
            });
        }
        match self.protocol() {
            Some(p) if p.eq_ignore_ascii_case("websocket") => {}
            found => {
                return Err(HandshakeError::RequestConnectProtocol {
                    found: found.map(shorten),
                })
            }
        }
        for (name, value) in [
            (":scheme", &h2.scheme),
            (":path", &self.path),
            (":authority", &h2.authority),
        ] {
            if value.is_empty() {
                return Err(HandshakeError::RequestMissingPseudoHeader { name });
            }
        }
        self.check_version()
    }

    /// The header fields of the `200` response accepting this HTTP/2 request (RFC 8441
    /// section 5): `sec-websocket-protocol` with the selected `subprotocol` (it should be
    /// one of [`subprotocols`](Self::subprotocols)) and `sec-websocket-extensions` with the
    /// accepted `extensions` value, each only if given; nothing else (HTTP/2 has no
    /// `Sec-WebSocket-Accept`). Call [`validate_h2`](Self::validate_h2) first. Values are
    /// cleaned as by [`accept`](Self::accept).
    pub fn accept_h2(
        &self,
        subprotocol: Option<&str>,
        extensions: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(p) = subprotocol.map(clean).filter(|p| !p.is_empty()) {
            out.push(("sec-websocket-protocol".to_owned(), p));
        }
        if let Some(e) = extensions.map(clean).filter(|e| !e.is_empty()) {
            out.push(("sec-websocket-extensions".to_owned(), e));
        }
        out
    }

    /// `Sec-WebSocket-Version` must be present and `13`, over HTTP/1.1 and HTTP/2.
    fn check_version(&self) -> Result<(), HandshakeError> {
        match self.head.values("Sec-WebSocket-Version").next() {
            Some(v) if trim_ows(v) == b"13" => Ok(()),
            _ => Err(HandshakeError::UnsupportedWebSocketVersion {
                found: self.head.joined("Sec-WebSocket-Version"),
            }),
        }
    }
}

/// Shows the headers, with the values of sensitive ones (see
/// [`is_sensitive_header`](crate::is_sensitive_header)) replaced by `<redacted>`.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("version", &self.version)
            .field("method", &self.method())
            .field("protocol", &self.protocol())
            .field("path", &self.path())
            .field(
                "headers",
                &self
                    .headers()
                    .map(|(n, v)| (n, crate::redact::header_value_for_debug(n, v)))
                    .collect::<Vec<_>>(),
            )
            .field("rest_len", &self.rest().len())
            .finish()
    }
}

/// Removes control characters (except TAB) and trims surrounding whitespace.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|&c| c == '\t' || !c.is_control())
        .collect::<String>()
        .trim_matches([' ', '\t'])
        .to_owned()
}

/// A complete HTTP response refusing an upgrade, e.g. `reject(403, "origin not allowed")`:
/// the status line with the standard reason phrase (`403 Forbidden`),
/// `Content-Type: text/plain`, `Content-Length`, `Connection: close`, and `reason` (plus a
/// newline) as the body, so that a client shows each once. For status 426 it adds
/// `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4). A status outside 100-999 is sent as
/// 400; control characters in `reason` are removed; an empty `reason` sends the phrase as
/// the body.
///
/// ```
/// let answer = ws_handshake::reject(403, "origin not allowed");
/// assert_eq!(
///     answer,
///     b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n\
///       Content-Length: 19\r\nConnection: close\r\n\r\norigin not allowed\n"
/// );
/// ```
pub fn reject(status: u16, reason: &str) -> Vec<u8> {
    let status = if (100..=999).contains(&status) {
        status
    } else {
        400
    };
    let phrase = reason_phrase(status);
    let mut body = clean(reason);
    if body.is_empty() {
        body.push_str(phrase);
    }
    body.push('\n');
    let mut out = String::with_capacity(160 + body.len());
    let _ = write!(
        out,
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 426 {
        out.push_str("Sec-WebSocket-Version: 13\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}
