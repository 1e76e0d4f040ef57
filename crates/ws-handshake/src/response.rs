//! Client role: reading the server's response head.

use std::fmt;
use std::ops::Range;

use crate::error::HandshakeError;
use crate::head::{malformed_field, push_field, range_in, Head, HeadError, HeadReader, Limits};

/// Longest body excerpt kept in [`HandshakeError::UnexpectedStatus`], in bytes. Over
/// HTTP/2 the transport reads at most this much of a refusing response's body (DATA) and
/// passes it to [`Response::from_h2`].
pub const BODY_EXCERPT: usize = 512;

/// Reads a server's HTTP response head incrementally, as bytes arrive.
///
/// Feed it whatever the socket returned; it answers `Ok(None)` until the blank line that ends
/// the head has arrived, then the parsed [`Response`] (which keeps any bytes that followed the
/// head, see [`Response::rest`]). Parsing is linear in the bytes received however they are
/// split: each byte is scanned once for the end of the head, and the HTTP parser runs once,
/// on the complete head. [`Limits`] are enforced as bytes arrive.
///
/// After returning a response or an error the parser is empty again and may be reused.
///
/// ```
/// use ws_handshake::{Limits, ResponseParser};
///
/// let mut parser = ResponseParser::new(Limits::default());
/// assert!(parser.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web")?.is_none());
/// let response = parser.feed(b"socket\r\n\r\n\x81\x02hi")?.expect("head is complete");
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.header("upgrade"), Some("websocket"));
/// assert_eq!(response.rest(), b"\x81\x02hi");
/// # Ok::<(), ws_handshake::HandshakeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ResponseParser {
    reader: HeadReader,
}

impl ResponseParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        ResponseParser {
            reader: HeadReader::new(limits),
        }
    }

    /// Adds bytes received from the server.
    ///
    /// Returns `Ok(None)` while the head is incomplete, `Ok(Some(response))` once it is.
    /// Fails with [`HandshakeError::HeadTooLarge`] or [`HandshakeError::TooManyHeaders`] as
    /// soon as the head outgrows the limits, and with [`HandshakeError::MalformedHead`] if
    /// the complete head is not valid HTTP/1.x.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Response>, HandshakeError> {
        Ok(self.feed_head(data)?)
    }

    /// [`feed`](Self::feed), failing with the head reader's own error.
    pub(crate) fn feed_head(&mut self, data: &[u8]) -> Result<Option<Response>, HeadError> {
        let Some(((minor, status, reason), head)) = self.reader.feed(data, |head, headers| {
            let mut parsed = httparse::Response::new(headers);
            if parsed.parse(head)?.is_partial() {
                return Ok(None);
            }
            let reason = range_in(head, parsed.reason.unwrap_or_default().as_bytes());
            let line = (
                parsed.version.unwrap_or_default(),
                parsed.code.unwrap_or_default(),
                reason,
            );
            Ok(Some((line, parsed.headers)))
        })?
        else {
            return Ok(None);
        };
        Ok(Some(Response {
            version: HttpVersion::Http11,
            malformed: None,
            minor,
            status,
            reason,
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

/// The HTTP version a handshake ran over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1 (or 1.0): the `Upgrade` handshake of RFC 6455.
    Http11,
    /// HTTP/2: the extended CONNECT of RFC 8441.
    Http2,
}

impl HttpVersion {
    /// How a status line names it: `"HTTP/1.1"` or `"HTTP/2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http11 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
        }
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server's parsed HTTP response head, plus the bytes that arrived after it.
///
/// Read from an HTTP/1.1 connection by [`ResponseParser`], or made from an HTTP/2
/// response's fields by [`Response::from_h2`]; the accessors work the same on both.
#[derive(Clone)]
pub struct Response {
    version: HttpVersion,
    /// Why an HTTP/2 response is malformed (RFC 9113 section 8.2.1), if it is; the checks
    /// refuse it with [`HandshakeError::MalformedHead`].
    malformed: Option<String>,
    minor: u8,
    status: u16,
    reason: Range<usize>,
    head: Head,
}

impl Response {
    /// A response received over HTTP/2 (RFC 8441): the `:status`, the other header fields
    /// in order as `(name, value)` (no pseudo-headers; names as received, which HTTP/2
    /// sends in lowercase), and the beginning of the body, if the transport read any.
    ///
    /// Only the first [`BODY_EXCERPT`] bytes of `body` are kept, as
    /// [`rest`](Self::rest): they are what an
    /// [`UnexpectedStatus`](HandshakeError::UnexpectedStatus) error shows. After a 2xx the
    /// stream's DATA are WebSocket frames: pass an empty `body` then and hand the DATA to
    /// the frame layer. The header fields are copied once into one buffer; the caller bounds
    /// their total size (h2's `max_header_list_size`), nothing here grows it.
    ///
    /// The response then answers [`status`](Self::status), [`header`](Self::header) (names
    /// compared ASCII-case-insensitively) and [`headers`](Self::headers) as an HTTP/1.1 one
    /// does; [`reason`](Self::reason) is empty (HTTP/2 has no reason phrase),
    /// [`http_version`](Self::http_version) is [`HttpVersion::Http2`], and
    /// [`head_bytes`](Self::head_bytes) is an HTTP/1.1-style rendering for display, e.g.
    /// `HTTP/2 200\r\nsec-websocket-protocol: chat\r\n\r\n`.
    ///
    /// A field whose name is not an HTTP token or whose value holds CR, LF or NUL makes the
    /// response malformed (RFC 9113 section 8.2.1): such bytes are shown as `_` (name) or
    /// a space (value), and [`H2Request::check`](crate::H2Request::check) refuses the
    /// response with [`HandshakeError::MalformedHead`].
    ///
    /// ```
    /// use ws_handshake::{HttpVersion, Response};
    ///
    /// let headers = vec![("sec-websocket-protocol".to_owned(), b"chat".to_vec())];
    /// let response = Response::from_h2(200, headers, b"");
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("chat"));
    /// assert_eq!(response.http_version(), HttpVersion::Http2);
    /// assert_eq!(response.head_bytes(), b"HTTP/2 200\r\nsec-websocket-protocol: chat\r\n\r\n");
    /// ```
    pub fn from_h2(status: u16, headers: Vec<(String, Vec<u8>)>, body: &[u8]) -> Response {
        let body = &body[..body.len().min(BODY_EXCERPT)];
        let size: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        let mut buf = Vec::with_capacity(16 + size + 2 + body.len());
        buf.extend_from_slice(format!("HTTP/2 {status}\r\n").as_bytes());
        let mut malformed = None;
        let mut positions = Vec::with_capacity(headers.len());
        for (name, value) in &headers {
            if malformed.is_none() {
                malformed = malformed_field(name, value);
            }
            positions.push(push_field(&mut buf, name, value));
        }
        buf.extend_from_slice(b"\r\n");
        let head_len = buf.len();
        buf.extend_from_slice(body);
        Response {
            version: HttpVersion::Http2,
            malformed,
            minor: 0,
            status,
            reason: 0..0,
            head: Head {
                buf,
                head_len,
                headers: positions,
            },
        }
    }

    /// The HTTP version the response came over: [`HttpVersion::Http11`] from
    /// [`ResponseParser`], [`HttpVersion::Http2`] from [`from_h2`](Self::from_h2). For a
    /// status line such as `HTTP/2 200` in verbose output.
    pub fn http_version(&self) -> HttpVersion {
        self.version
    }

    /// Why this HTTP/2 response is malformed, if it is (see [`from_h2`](Self::from_h2)).
    pub(crate) fn malformed(&self) -> Option<&str> {
        self.malformed.as_deref()
    }

    /// The status code, e.g. `101`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, e.g. `Switching Protocols`; empty if absent or not ASCII.
    pub fn reason(&self) -> &str {
        self.head.str_at(&self.reason)
    }

    /// The HTTP minor version: `1` for HTTP/1.1; `0` for HTTP/2, which has none (see
    /// [`http_version`](Self::http_version)).
    pub fn http_minor_version(&self) -> u8 {
        self.minor
    }

    /// The first header called `name` (ASCII-case-insensitive), if present and UTF-8.
    /// Use [`headers`](Self::headers) for repeated headers and raw bytes.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// All headers in order, as `(name, raw value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.headers()
    }

    /// The bytes received after the head: the server's first frames after a 101, or the
    /// beginning of the body otherwise. Hand them to the frame layer before reading more.
    pub fn rest(&self) -> &[u8] {
        self.head.rest()
    }

    /// Like [`rest`](Self::rest), by value (without copying the bytes).
    pub fn into_rest(self) -> Vec<u8> {
        self.head.into_rest()
    }

    /// The raw head, including the final blank line (over HTTP/2 a rendering of the fields,
    /// see [`from_h2`](Self::from_h2)).
    pub fn head_bytes(&self) -> &[u8] {
        self.head.buf.get(..self.head.head_len).unwrap_or_default()
    }

    pub(crate) fn head(&self) -> &Head {
        &self.head
    }
}

/// Shows the headers, with the values of sensitive ones (see
/// [`is_sensitive_header`](crate::is_sensitive_header)) replaced by `<redacted>`.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("version", &self.version)
            .field("status", &self.status)
            .field("reason", &self.reason())
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
