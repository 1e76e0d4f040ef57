//! Messages: what the user sends and receives.
//!
//! [`Message`] is one complete WebSocket message (fragments are already joined) or one
//! control frame. Payloads are [`bytes::Bytes`]: a received single-frame message is a view
//! into the connection's read buffer, so receiving it copies nothing, and cloning a message
//! is a reference-count increment.
//!
//! Text lives in [`Utf8Bytes`], a `Bytes` that is valid UTF-8. This crate forbids `unsafe`,
//! so `Utf8Bytes` cannot hand out a `&str` without checking the bytes again: see
//! [`Utf8Bytes::as_str`] for the cost and how to avoid paying it twice.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use ws_frame::CloseCode;

/// Bytes that are valid UTF-8, cheap to clone.
///
/// # Design and cost
///
/// The invariant (valid UTF-8) is checked once, when the value is made: received text is
/// validated incrementally as it arrives, and `TryFrom<Bytes>`/`TryFrom<Vec<u8>>` validate
/// with SIMD ([`simdutf8`]). Since the crate forbids `unsafe`, [`as_str`](Self::as_str)
/// (and therefore `Deref<Target = str>`, `Display`, `Debug`) cannot skip the check
/// `str::from_utf8` performs: it re-runs `simdutf8`'s validation, which is O(len) (several
/// GB/s with SIMD). The alternative, a `String` per message, would cost a copy of the same
/// order on every *received* message; this way only the code that looks at the text pays.
/// Bind the `&str` once (`let s = text.as_str();`) instead of going through `Deref` in a
/// loop. [`len`](Self::len), [`is_empty`](Self::is_empty), [`as_bytes`](Self::as_bytes),
/// comparisons and hashing work on the bytes and cost nothing.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// The empty string.
    pub const fn new() -> Self {
        Self(Bytes::new())
    }

    /// A `Utf8Bytes` pointing at a static string (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes the caller has already validated as UTF-8 (incrementally, while they
    /// arrived). Debug builds check again.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(simdutf8::basic::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    /// The text. Re-validates the bytes with SIMD (see the type docs for the cost); never
    /// fails, since the bytes were validated when this value was made.
    pub fn as_str(&self) -> &str {
        // The invariant makes the error branch unreachable; "" keeps it panic-free.
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes (no check).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (no check).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty (no check).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    /// See [`Utf8Bytes::as_str`]: this re-validates, O(len).
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<String> for Utf8Bytes {
    /// No copy: the `String`'s buffer becomes the `Bytes`.
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Self::from_static(s)
    }
}

impl From<Box<str>> for Utf8Bytes {
    fn from(s: Box<str>) -> Self {
        Self(Bytes::from(s.into_boxed_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = simdutf8::basic::Utf8Error;

    /// Validates (SIMD), no copy.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        simdutf8::basic::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = simdutf8::basic::Utf8Error;

    /// Validates (SIMD), no copy.
    fn try_from(v: Vec<u8>) -> Result<Self, Self::Error> {
        Self::try_from(Bytes::from(v))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<Utf8Bytes> for str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        other == self
    }
}

impl PartialEq<Utf8Bytes> for &str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        other == *self
    }
}

/// The code and reason of a close frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The close status code.
    pub code: CloseCode,
    /// Why the connection is closing (at most 123 bytes when sent).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code.as_u16())
        } else {
            write!(f, "{} ({})", self.code.as_u16(), self.reason)
        }
    }
}

/// One WebSocket message, or one control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are answered automatically.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame: `None` when it carried no status code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// A ping.
    pub fn ping(data: impl Into<Bytes>) -> Self {
        Self::Ping(data.into())
    }

    /// A pong.
    pub fn pong(data: impl Into<Bytes>) -> Self {
        Self::Pong(data.into())
    }

    /// A close frame with a code and a reason.
    pub fn close(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self::Close(Some(CloseFrame::new(code, reason)))
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// Whether this is a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Self::Ping(_))
    }

    /// Whether this is a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Self::Pong(_))
    }

    /// Whether this is a close frame.
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }

    /// Whether this is a data message (text or binary).
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    /// Whether this is a control frame (ping, pong, close).
    pub fn is_control(&self) -> bool {
        !self.is_data()
    }

    /// The text, if this is a text message (re-validates; see [`Utf8Bytes::as_str`]).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The payload bytes: text, binary, ping/pong data, or the close reason.
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(Some(c)) => c.reason.as_bytes(),
            Self::Close(None) => &[],
        }
    }

    /// Payload length in bytes (see [`as_payload`](Self::as_payload)).
    pub fn len(&self) -> usize {
        self.as_payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload as `Bytes`, without copying: text, binary, ping/pong data, or the close
    /// reason.
    pub fn into_data(self) -> Bytes {
        match self {
            Self::Text(t) => t.into_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(Some(c)) => c.reason.into_bytes(),
            Self::Close(None) => Bytes::new(),
        }
    }

    /// The text, if this is a text message.
    pub fn into_text(self) -> Option<Utf8Bytes> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::Text(s.into())
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Self::Text(s.into())
    }
}

impl From<Utf8Bytes> for Message {
    fn from(s: Utf8Bytes) -> Self {
        Self::Text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Self::Binary(v.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8bytes_validates_on_construction() {
        assert!(Utf8Bytes::try_from(vec![0xff, 0x00]).is_err());
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xe2\x82")).is_err());
        let s = Utf8Bytes::try_from(Bytes::from_static("h\u{e9}llo \u{20ac}".as_bytes()))
            .unwrap_or_default();
        assert_eq!(s.as_str(), "h\u{e9}llo \u{20ac}");
        assert_eq!(s.len(), 10);
        assert_eq!(s, "h\u{e9}llo \u{20ac}");
        assert_eq!(format!("{s}"), "h\u{e9}llo \u{20ac}");
        assert_eq!(format!("{s:?}"), "\"h\u{e9}llo \u{20ac}\"");
        assert!(s.starts_with("h\u{e9}")); // through Deref
    }

    #[test]
    fn utf8bytes_from_string_is_zero_copy() {
        let s = String::from("abc");
        let ptr = s.as_ptr();
        let u = Utf8Bytes::from(s);
        assert_eq!(u.as_bytes().as_ptr(), ptr);
        let b: Bytes = u.into();
        assert_eq!(b.as_ptr(), ptr);
    }

    #[test]
    fn message_accessors() {
        let m = Message::text("hi");
        assert!(m.is_text() && m.is_data() && !m.is_control());
        assert_eq!(m.as_text(), Some("hi"));
        assert_eq!(m.len(), 2);
        assert_eq!(m.clone().into_data(), Bytes::from_static(b"hi"));
        let b = Message::binary(vec![1, 2, 3]);
        assert!(b.is_binary() && b.as_text().is_none());
        assert_eq!(b.as_payload(), &[1, 2, 3]);
        let c = Message::close(CloseCode::NORMAL, "bye");
        assert!(c.is_close() && c.is_control());
        assert_eq!(c.into_data(), Bytes::from_static(b"bye"));
        assert!(Message::Close(None).is_empty());
        assert_eq!(
            Message::from("x"),
            Message::Text(Utf8Bytes::from_static("x"))
        );
        assert_eq!(
            CloseFrame::new(CloseCode::NORMAL, "ok").to_string(),
            "1000 (ok)"
        );
    }
}
