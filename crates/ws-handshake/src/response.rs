//! Client role: reading the server's response head.

use std::fmt;
use std::ops::Range;

use crate::error::HandshakeError;
use crate::head::{range_in, Head, HeadError, HeadReader, Limits};

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

/// A server's parsed HTTP response head, plus the bytes that arrived after it.
#[derive(Clone)]
pub struct Response {
    minor: u8,
    status: u16,
    reason: Range<usize>,
    head: Head,
}

impl Response {
    /// The status code, e.g. `101`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, e.g. `Switching Protocols`; empty if absent or not ASCII.
    pub fn reason(&self) -> &str {
        self.head.str_at(&self.reason)
    }

    /// The HTTP minor version: `1` for HTTP/1.1.
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

    /// The raw head, including the final blank line.
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
