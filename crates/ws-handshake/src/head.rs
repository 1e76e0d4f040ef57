//! Bounded, linear-time accumulation of an HTTP/1.x head, shared by the response (client role)
//! and request (server role) parsers, plus small header helpers.

use std::fmt;
use std::ops::Range;

use crate::redact::{shorten, shorten_bytes};

/// Bounds on an HTTP head read by [`ResponseParser`](crate::ResponseParser) or
/// [`RequestParser`](crate::RequestParser).
///
/// Both are checked as bytes arrive, before the head is complete, so a peer that never ends
/// its head costs at most `max_head_size` bytes of memory (plus the one chunk being fed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest head accepted, in bytes, from the first byte up to and including the blank
    /// line that ends it. Default: 64 KiB.
    pub max_head_size: usize,
    /// Most header lines accepted. Default: 128.
    pub max_headers: usize,
}

impl Limits {
    /// The defaults: 64 KiB of head and 128 headers.
    pub const DEFAULT: Limits = Limits {
        max_head_size: 64 * 1024,
        max_headers: 128,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why an HTTP head could not be read. The crate's error has a variant for each
/// (`HeadTooLarge`, `TooManyHeaders`, `MalformedHead`); the proxy module maps them into its
/// own error, so reading a head depends on neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The head grew past `limit` bytes without ending.
    TooLarge { limit: usize },
    /// The head has more than `limit` header lines.
    TooManyHeaders { limit: usize },
    /// The head is not valid HTTP/1.x, for this `reason`.
    Malformed { reason: String },
}

/// Accumulates bytes until the blank line that ends an HTTP head.
///
/// Every byte is scanned once: `scanned` remembers where the previous scan stopped, and the
/// end-of-head test looks back at most two bytes that are already in the buffer. Line feeds
/// are counted on the way so too many headers fail before the head is complete.
/// `Debug` shows the number of bytes held, not the bytes (they may hold cookies).
#[derive(Clone)]
pub(crate) struct HeadReader {
    pub(crate) limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// Line feeds seen since the first non-empty line started.
    lines: usize,
    /// Whether a byte other than CR/LF has been seen (leading empty lines are skipped, as
    /// httparse does).
    started: bool,
}

impl fmt::Debug for HeadReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadReader")
            .field("limits", &self.limits)
            .field("buffered", &self.buf.len())
            .field("scanned", &self.scanned)
            .field("lines", &self.lines)
            .field("started", &self.started)
            .finish()
    }
}

/// A complete head and what followed it in the same feeds.
struct RawHead {
    /// The head bytes followed by the bytes after it.
    pub(crate) buf: Vec<u8>,
    /// Length of the head, including the final blank line.
    pub(crate) head_len: usize,
    /// Header lines counted (an upper bound of the header count).
    pub(crate) lines: usize,
}

impl HeadReader {
    pub(crate) fn new(limits: Limits) -> Self {
        HeadReader {
            limits,
            buf: Vec::new(),
            scanned: 0,
            lines: 0,
            started: false,
        }
    }

    /// Bytes currently held.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Adds `data`; returns the head (and the bytes after it) once the blank line arrives.
    ///
    /// Only the first `max_head_size - buffered` bytes of `data` can belong to the head, so
    /// only those are copied and scanned until the end of the head is found; the rest of
    /// the chunk is kept only if the head ends inside it. On success the reader is reset.
    fn push(&mut self, data: &[u8]) -> Result<Option<RawHead>, HeadError> {
        let room = self.limits.max_head_size.saturating_sub(self.buf.len());
        let (head_part, tail) = data.split_at(data.len().min(room));
        self.buf.extend_from_slice(head_part);
        match self.scan() {
            Err(e) => {
                self.reset();
                Err(e)
            }
            Ok(Some(head_len)) => {
                self.buf.extend_from_slice(tail);
                let raw = RawHead {
                    buf: std::mem::take(&mut self.buf),
                    head_len,
                    lines: self.lines,
                };
                self.reset();
                Ok(Some(raw))
            }
            Ok(None) if self.buf.len() >= self.limits.max_head_size && !data.is_empty() => {
                // The head is already as large as allowed and has not ended: its end can only
                // come later, making it larger than allowed.
                let limit = self.limits.max_head_size;
                self.reset();
                Err(HeadError::TooLarge { limit })
            }
            Ok(None) => Ok(None),
        }
    }

    /// Adds `data` like [`push`](Self::push) and, once the head is complete, parses it once
    /// with `parse`: httparse's request or response parser run on the head with one header
    /// slot per line counted (at most `max_headers`). `parse` answers `None` for a partial
    /// head, else what it read from the start line and the parsed headers.
    pub(crate) fn feed<L>(
        &mut self,
        data: &[u8],
        parse: impl for<'h, 'b> FnOnce(
            &'b [u8],
            &'h mut [httparse::Header<'b>],
        ) -> Result<
            Option<(L, &'h [httparse::Header<'b>])>,
            httparse::Error,
        >,
    ) -> Result<Option<(L, Head)>, HeadError> {
        let Some(raw) = self.push(data)? else {
            return Ok(None);
        };
        let limits = self.limits;
        let slots = raw.lines.min(limits.max_headers);
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let head = &raw.buf[..raw.head_len];
        let (line, parsed) = match parse(head, &mut headers) {
            Ok(Some(done)) => done,
            Ok(None) => {
                return Err(HeadError::Malformed {
                    reason: "the head ended in the middle of a line".into(),
                })
            }
            Err(e) => return Err(parse_error(e, &limits)),
        };
        let headers = positions(head, parsed);
        Ok(Some((
            line,
            Head {
                buf: raw.buf,
                head_len: raw.head_len,
                headers,
            },
        )))
    }

    fn reset(&mut self) {
        self.buf = Vec::new();
        self.scanned = 0;
        self.lines = 0;
        self.started = false;
    }

    /// Scans the bytes not scanned yet; returns the head length if the head is complete.
    fn scan(&mut self) -> Result<Option<usize>, HeadError> {
        let buf = &self.buf;
        let mut i = self.scanned;
        while i < buf.len() {
            if !self.started {
                if buf[i] != b'\r' && buf[i] != b'\n' {
                    self.started = true;
                }
                i += 1;
                continue;
            }
            // Jump to the next line feed; everything else is irrelevant to the scan.
            match buf[i..].iter().position(|&b| b == b'\n') {
                None => {
                    i = buf.len();
                    break;
                }
                Some(off) => i += off,
            }
            // `buf[i]` is a line feed after at least one non-empty line. The head ends when
            // the line it closes is empty: "\n\n" or "\n\r\n" (so "\r\n\r\n" too).
            let end = (i >= 1 && buf[i - 1] == b'\n')
                || (i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n');
            if end {
                self.scanned = i + 1;
                return Ok(Some(i + 1));
            }
            self.lines += 1;
            // The first line is the status/request line; the others are headers.
            if self.lines - 1 > self.limits.max_headers {
                return Err(HeadError::TooManyHeaders {
                    limit: self.limits.max_headers,
                });
            }
            i += 1;
        }
        self.scanned = i;
        Ok(None)
    }
}

/// Byte ranges of one header inside a head buffer.
#[derive(Clone, Debug)]
pub(crate) struct HeaderPos {
    pub(crate) name: Range<usize>,
    pub(crate) value: Range<usize>,
}

/// Offset of `part` inside `whole`; `part` must be a sub-slice of `whole` (as httparse's
/// slices are of the buffer it parsed). Clamped so it can never index out of bounds.
pub(crate) fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize)
        .wrapping_sub(whole.as_ptr() as usize)
        .min(whole.len());
    let end = start.saturating_add(part.len()).min(whole.len());
    start..end
}

/// Converts httparse headers into owned positions in `buf`.
fn positions(buf: &[u8], headers: &[httparse::Header<'_>]) -> Vec<HeaderPos> {
    headers
        .iter()
        .map(|h| HeaderPos {
            name: range_in(buf, h.name.as_bytes()),
            value: range_in(buf, h.value),
        })
        .collect()
}

/// Maps an httparse error to ours.
fn parse_error(e: httparse::Error, limits: &Limits) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders {
            limit: limits.max_headers,
        },
        other => HeadError::Malformed {
            reason: other.to_string(),
        },
    }
}

/// Header storage shared by [`Response`](crate::Response) and [`Request`](crate::Request).
#[derive(Clone)]
pub(crate) struct Head {
    pub(crate) buf: Vec<u8>,
    pub(crate) head_len: usize,
    pub(crate) headers: Vec<HeaderPos>,
}

impl Head {
    pub(crate) fn str_at(&self, r: &Range<usize>) -> &str {
        std::str::from_utf8(self.buf.get(r.clone()).unwrap_or_default()).unwrap_or_default()
    }

    pub(crate) fn bytes_at(&self, r: &Range<usize>) -> &[u8] {
        self.buf.get(r.clone()).unwrap_or_default()
    }

    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers
            .iter()
            .map(move |h| (self.str_at(&h.name), self.bytes_at(&h.value)))
    }

    /// All values of the headers called `name` (case-insensitive), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of `name`, if it is UTF-8.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        std::str::from_utf8(value).ok()
    }

    pub(crate) fn rest(&self) -> &[u8] {
        self.buf.get(self.head_len..).unwrap_or_default()
    }

    pub(crate) fn into_rest(mut self) -> Vec<u8> {
        let cut = self.head_len.min(self.buf.len());
        self.buf.drain(..cut);
        self.buf
    }

    /// Whether the comma lists of all `name` headers contain `token` (case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim_ows(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// All `name` values joined with ", " (lossy, shortened) for an error, `None` if absent.
    pub(crate) fn joined(&self, name: &str) -> Option<String> {
        let mut out: Option<Vec<u8>> = None;
        for v in self.values(name) {
            let o = out.get_or_insert_with(Vec::new);
            if !o.is_empty() {
                o.extend_from_slice(b", ");
            }
            o.extend_from_slice(v);
            if o.len() > 400 {
                break;
            }
        }
        out.map(|o| shorten_bytes(&o))
    }
}

/// Appends an HTTP/2 field to `buf` as an HTTP/1.1-style line, `name: value\r\n`, and
/// returns where its name and value are. Bytes that cannot appear in such a line (see
/// [`malformed_field`]) are shown as `_` in the name and a space in the value.
pub(crate) fn push_field(buf: &mut Vec<u8>, name: &str, value: &[u8]) -> HeaderPos {
    let start = buf.len();
    buf.extend(name.bytes().map(|b| if is_tchar(b) { b } else { b'_' }));
    let name_range = start..buf.len();
    buf.extend_from_slice(b": ");
    let start = buf.len();
    buf.extend(value.iter().map(|&b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
    let value_range = start..buf.len();
    buf.extend_from_slice(b"\r\n");
    HeaderPos {
        name: name_range,
        value: value_range,
    }
}

/// Why an HTTP/2 field is malformed (RFC 9113 section 8.2.1), if it is: a name that is not
/// a token (pseudo-headers do not belong in the list) or a value with CR, LF or NUL.
pub(crate) fn malformed_field(name: &str, value: &[u8]) -> Option<String> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Some(format!(
            "the HTTP/2 field name {:?} is not a valid header name",
            shorten(name)
        ));
    }
    if value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Some(format!(
            "the HTTP/2 field {:?} has a CR, LF or NUL in its value",
            shorten(name)
        ));
    }
    None
}

/// Trims HTTP optional whitespace (SP, HTAB) from both ends.
pub(crate) fn trim_ows(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |p| p + 1);
    &b[start..end]
}

/// Whether `c` may appear in an HTTP token (RFC 7230 `tchar`).
pub(crate) fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Whether `s` is a non-empty HTTP token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Why `value` may not be sent as a header value, if it may not.
pub(crate) fn bad_value_char(value: &str) -> Option<&'static str> {
    value.bytes().find_map(|c| match c {
        b'\r' => Some("a carriage return (CR)"),
        b'\n' => Some("a line feed (LF)"),
        0 => Some("a NUL byte"),
        b'\t' => None,
        c if c < 0x20 || c == 0x7f => Some("a control character"),
        _ => None,
    })
}
