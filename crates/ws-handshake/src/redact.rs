//! What an error or `Debug` output may show of caller and peer text: the one place that
//! decides which header values are secret ([`is_sensitive_header`]), how a URL's password is
//! hidden ([`redact_url`]), and how much of a string an error keeps ([`shorten`]).

use std::borrow::Cow;

use url::Url;

/// What `Debug` output shows instead of a secret header value.
pub const REDACTED: &str = "<redacted>";

/// What replaces a password in a URL shown in `Debug` output or an error.
const PASSWORD_MASK: &str = "***";

/// Substrings that make a header name sensitive (compared ASCII-case-insensitively).
const SENSITIVE_PARTS: [&str; 11] = [
    "auth",   // Authorization, Proxy-Authorization, X-Auth-Token, WWW-Authenticate, ...
    "cookie", // Cookie, Cookie2, Set-Cookie, Set-Cookie2
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "api_key",
    "apikey",
    "session",
    "credential",
];

/// Whether the value of a header named `name` is a secret that `Debug` output must hide.
///
/// This is the single rule every `Debug` implementation in this workspace uses (request
/// builders, connect options, parsed requests and responses). A name is sensitive when,
/// compared ASCII-case-insensitively, it contains any of `auth` (`Authorization`,
/// `Proxy-Authorization`, `X-Auth-Token`, ...), `cookie` (`Cookie`, `Cookie2`,
/// `Set-Cookie`), `token`, `secret`, `password`, `passwd`, `api-key`, `api_key`, `apikey`,
/// `session` or `credential`. Surrounding spaces and tabs are ignored.
///
/// Headers with other names can be marked sensitive one by one, e.g. with
/// `ConnectOptions::sensitive_header` in `ws-client`. Only `Debug` output is affected: the
/// headers are sent as given.
///
/// ```
/// use ws_handshake::is_sensitive_header;
///
/// assert!(is_sensitive_header("Authorization"));
/// assert!(is_sensitive_header("cookie"));
/// assert!(is_sensitive_header("X-Api-Key"));
/// assert!(is_sensitive_header("X-Auth-Token"));
/// assert!(!is_sensitive_header("User-Agent"));
/// assert!(!is_sensitive_header("Origin"));
/// ```
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.trim_matches([' ', '\t']).to_ascii_lowercase();
    SENSITIVE_PARTS.iter().any(|part| name.contains(part))
}

/// `url` with the password of its user info replaced by `***`, for `Debug` output and
/// errors; works on text that is not a valid URL too.
///
/// A URL that parses (and has `://`) is redacted exactly: unchanged without a password,
/// otherwise re-serialized with the password replaced. Anything else is redacted as text:
/// the user info is everything before the last `@` after `://` (or in the whole text if
/// there is no `://`, as in a scheme-less proxy `user:pass@host:port`), and everything
/// between its first `:` and that `@` is replaced. This errs on the side of hiding: for
/// broken text with an `@` in its path or query, more than the password may be hidden. The
/// user name is kept.
///
/// ```
/// use ws_handshake::redact_url;
///
/// assert_eq!(redact_url("ws://user:pw@example.com/x"), "ws://user:***@example.com/x");
/// assert_eq!(redact_url("ws://user:pw@[bad"), "ws://user:***@[bad");
/// assert_eq!(redact_url("alice:pw@proxy:3128"), "alice:***@proxy:3128");
/// assert_eq!(redact_url("wss://example.com/?q=1"), "wss://example.com/?q=1");
/// ```
pub fn redact_url(url: &str) -> String {
    if url.contains("://") {
        if let Ok(parsed) = Url::parse(url) {
            if parsed.password().is_none() {
                return url.to_owned();
            }
            return redacted(&parsed);
        }
    }
    let (prefix, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = rest[..at].find(':') else {
        return url.to_owned();
    };
    format!("{prefix}{}:{PASSWORD_MASK}{}", &rest[..colon], &rest[at..])
}

/// A URL given as text, as an error shows it: password hidden ([`redact_url`]), shortened.
pub(crate) fn shown_url(url: &str) -> String {
    shorten(&redact_url(url))
}

/// A parsed URL, as an error shows it: password hidden, shortened.
pub(crate) fn shown(url: &Url) -> String {
    shorten(&redacted(url))
}

/// A parsed URL without its password (replaced by `***`).
pub(crate) fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        // Fails only for URLs that cannot have a password, which then have none.
        let _ = u.set_password(Some(PASSWORD_MASK));
    }
    u.to_string()
}

/// A received header value as `Debug` output shows it: [`REDACTED`] for sensitive names,
/// otherwise the value decoded lossily.
pub(crate) fn header_value_for_debug<'a>(name: &str, value: &'a [u8]) -> Cow<'a, str> {
    if is_sensitive_header(name) {
        Cow::Borrowed(REDACTED)
    } else {
        String::from_utf8_lossy(value)
    }
}

/// A header line (or name) the caller gave that is about to be echoed in an error: kept
/// unless it contains a sensitive name, then only its first word is kept.
pub(crate) fn redact_header_line(line: &str) -> String {
    if !is_sensitive_header(line) {
        return line.to_owned();
    }
    let first = line
        .split([' ', '\t', ':'])
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    if is_sensitive_header(first) {
        format!("{first} {REDACTED}")
    } else {
        REDACTED.to_owned()
    }
}

/// Longest string kept from peer or caller input in an error.
const SHORT: usize = 100;

/// Shortens `s` to about [`SHORT`] characters for storage in an error.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(SHORT) {
        Some((cut, _)) => {
            let mut out = String::with_capacity(cut + 3);
            out.push_str(&s[..cut]);
            out.push_str("...");
            out
        }
        None => s.to_owned(),
    }
}

/// Lossily decodes and shortens network bytes for storage in an error.
pub(crate) fn shorten_bytes(b: &[u8]) -> String {
    let end = b.len().min(SHORT * 4);
    let mut out = shorten(&String::from_utf8_lossy(&b[..end]));
    if end < b.len() && !out.ends_with("...") {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_redaction_keeps_user_and_host() {
        assert_eq!(redact_url("ws://u:p:q@h/p"), "ws://u:***@h/p");
        assert_eq!(redact_url("ws://u@[bad"), "ws://u@[bad");
        assert_eq!(redact_url("ws://[bad"), "ws://[bad");
        assert_eq!(
            redact_url("socks5://u:s3cret@h:99999"),
            "socks5://u:***@h:99999"
        );
    }

    #[test]
    fn header_lines() {
        assert_eq!(redact_header_line("User-Agent x"), "User-Agent x");
        assert_eq!(
            redact_header_line("Authorization Bearer s3cret"),
            "Authorization <redacted>"
        );
        assert_eq!(redact_header_line("Bearer s3cret-token"), "<redacted>");
    }
}
