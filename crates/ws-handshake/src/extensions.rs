//! `Sec-WebSocket-Extensions` values (RFC 6455 section 9.1, RFC 7692).

use std::fmt;

use crate::error::HandshakeError;
use crate::head::{is_tchar, is_token};
use crate::redact::shorten;

/// One extension of a `Sec-WebSocket-Extensions` list, e.g.
/// `permessage-deflate; client_max_window_bits=10; server_no_context_takeover`.
///
/// Names are kept as written; compare them ASCII-case-insensitively. Quoted parameter values
/// are stored unquoted and unescaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extension {
    /// The extension's name (a token), e.g. `permessage-deflate`.
    pub name: String,
    /// Its parameters in order: `(name, value)`, where `value` is `None` for a bare
    /// parameter such as `server_no_context_takeover`.
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// An extension with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Extension {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// The first parameter called `name` (ASCII-case-insensitive): `None` if absent,
    /// `Some(None)` if present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// Writes the extension in header syntax: `name; p1; p2=v`. Values that are not tokens are
/// written as quoted strings.
impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            write!(f, "; {name}")?;
            match value {
                Some(v) if is_token(v) => write!(f, "={v}")?,
                Some(v) => {
                    f.write_str("=\"")?;
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// Parses a `Sec-WebSocket-Extensions` value:
///
/// ```text
/// extension-list  = 1#extension
/// extension       = extension-token *( ";" extension-param )
/// extension-param = token [ "=" ( token / quoted-string ) ]
/// ```
///
/// Whitespace (SP, TAB) around every element and separator is allowed, and empty list
/// elements (`a, , b`) are skipped as RFC 7230 asks; an empty or blank value gives an empty
/// list. A quoted value must still be a token once unescaped (RFC 6455 section 9.1).
/// Anything else is an [`HandshakeError::InvalidExtensions`] error.
///
/// ```
/// use ws_handshake::parse_extensions;
///
/// let exts = parse_extensions("permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", x-foo")?;
/// assert_eq!(exts.len(), 2);
/// assert_eq!(exts[0].name, "permessage-deflate");
/// assert_eq!(exts[0].param("client_max_window_bits"), Some(None));
/// assert_eq!(exts[0].param("server_max_window_bits"), Some(Some("10")));
/// assert_eq!(exts[1].name, "x-foo");
/// assert!(parse_extensions("permessage-deflate;").is_err());
/// # Ok::<(), ws_handshake::HandshakeError>(())
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, HandshakeError> {
    Parser {
        s: value.as_bytes(),
        i: 0,
        value,
    }
    .list()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    value: &'a str,
}

impl Parser<'_> {
    fn err<T>(&self, reason: &'static str) -> Result<T, HandshakeError> {
        Err(HandshakeError::InvalidExtensions {
            value: shorten(self.value),
            reason,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // Token characters are ASCII, so this cannot fail; fall back to "" rather than panic.
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }

    fn list(mut self) -> Result<Vec<Extension>, HandshakeError> {
        let mut out = Vec::new();
        loop {
            self.skip_ows();
            match self.peek() {
                None => return Ok(out),
                Some(b',') => {
                    // Empty list element.
                    self.i += 1;
                    continue;
                }
                Some(_) => {}
            }
            out.push(self.extension()?);
            self.skip_ows();
            match self.peek() {
                None => return Ok(out),
                Some(b',') => self.i += 1,
                Some(_) => return self.err("expected ',' or ';' after an extension or parameter"),
            }
        }
    }

    fn extension(&mut self) -> Result<Extension, HandshakeError> {
        let name = self.token().to_owned();
        if name.is_empty() {
            return self.err("an extension name is missing or is not a token");
        }
        let mut ext = Extension::new(name);
        loop {
            self.skip_ows();
            if self.peek() != Some(b';') {
                return Ok(ext);
            }
            self.i += 1;
            self.skip_ows();
            let pname = self.token().to_owned();
            if pname.is_empty() {
                return self.err("a parameter name is missing or is not a token");
            }
            self.skip_ows();
            let pvalue = if self.peek() == Some(b'=') {
                self.i += 1;
                self.skip_ows();
                Some(self.param_value()?)
            } else {
                None
            };
            ext.params.push((pname, pvalue));
        }
    }

    fn param_value(&mut self) -> Result<String, HandshakeError> {
        if self.peek() != Some(b'"') {
            let v = self.token().to_owned();
            if v.is_empty() {
                return self.err("a parameter value is missing or is not a token");
            }
            return Ok(v);
        }
        self.i += 1;
        let mut v = Vec::new();
        loop {
            match self.peek() {
                None => return self.err("a quoted string is not terminated"),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => return self.err("a quoted string is not terminated"),
                        Some(c) => v.push(c),
                    }
                }
                Some(c) => v.push(c),
            }
            self.i += 1;
        }
        match String::from_utf8(v) {
            Ok(v) if is_token(&v) => Ok(v),
            _ => self.err("a quoted parameter value is not a token once unquoted"),
        }
    }
}
