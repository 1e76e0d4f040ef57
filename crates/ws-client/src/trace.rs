//! Logging through `tracing` (feature `tracing`), and nothing at all without it.
//!
//! Call sites use the macros of this module, one line each:
//!
//! ```text
//! trace::debug!(host, addresses = ?ips, "DNS resolved");
//! trace::trace!(in &self.span, opcode = ?op, len, "frame received");
//! ```
//!
//! They take `tracing`'s own arguments (fields, then a message). `in span,` makes the event
//! a child of a connection's span (kept in the [`Connection`](crate::proto::Connection)),
//! without entering it: the data path pays no span enter/exit. When that span is disabled
//! (filtered out, or none was set, as for a `WebSocket` built by hand or a server's), the
//! event falls back to the current span, as an event without `in` does.
//!
//! Without the feature the macros expand to nothing: their arguments are neither evaluated
//! nor type-checked, so a call site must not compute anything outside them that only the
//! event uses (it would be an unused variable). The helpers below exist only with the
//! feature.
//!
//! # What is logged, and what never is
//! * URLs as `scheme://host:port/path` only ([`url`]): no user info (neither user name nor
//!   password) and no query (`?<redacted>` marks that there was one: query strings often
//!   carry tokens), no fragment. A secret in the path itself cannot be told apart and is
//!   shown.
//! * Errors through [`error`]: their text with every URL in it shown as above, and a
//!   peer's close reason left out. Errors never hold header values of sensitive headers
//!   (the handshake crate redacts them).
//! * Never: header values, the `Sec-WebSocket-Key`, proxy credentials, message payloads
//!   (frames show opcode, length and flags), close reasons (their length is shown: a peer
//!   may echo anything in them).

#[cfg(feature = "tracing")]
macro_rules! event {
    ($level:ident, in $span:expr, $($arg:tt)+) => {
        if ::tracing::level_enabled!(::tracing::Level::$level) {
            match ::tracing::Span::id($span) {
                Some(parent) => {
                    ::tracing::event!(parent: parent, ::tracing::Level::$level, $($arg)+)
                }
                None => ::tracing::event!(::tracing::Level::$level, $($arg)+),
            }
        }
    };
    ($level:ident, $($arg:tt)+) => {
        ::tracing::event!(::tracing::Level::$level, $($arg)+)
    };
}

#[cfg(not(feature = "tracing"))]
macro_rules! event {
    ($($arg:tt)*) => {};
}

/// An event at `TRACE` (frames, keepalive pings, each TCP attempt).
macro_rules! trace {
    ($($arg:tt)+) => { $crate::trace::event!(TRACE, $($arg)+) };
}

/// An event at `DEBUG` (opening steps, closes).
macro_rules! debug {
    ($($arg:tt)+) => { $crate::trace::event!(DEBUG, $($arg)+) };
}

/// An event at `INFO` (reconnections).
macro_rules! info {
    ($($arg:tt)+) => { $crate::trace::event!(INFO, $($arg)+) };
}

/// An event at `WARN` (a peer's protocol violation, keepalive and write timeouts, giving
/// up on reconnecting).
// Named `warn_` here: a plain `warn` would clash with the built-in attribute in `use`.
macro_rules! warn_ {
    ($($arg:tt)+) => { $crate::trace::event!(WARN, $($arg)+) };
}

pub(crate) use {debug, event, info, trace, warn_ as warn};

#[cfg(feature = "tracing")]
pub(crate) use enabled::*;

#[cfg(feature = "tracing")]
mod enabled {
    use crate::error::Error;

    /// What replaces a query string in a logged URL.
    const QUERY_MASK: &str = "?<redacted>";

    /// The span of one client connection, from the connect flow to the end of the
    /// WebSocket: `websocket{url, runtime, tls}`, at `INFO` so that the events a user
    /// filtering at `info` still sees (reconnections, warnings) carry it.
    pub(crate) fn connection_span(
        url: &str,
        runtime: Option<&'static str>,
        tls: Option<&'static str>,
    ) -> tracing::Span {
        tracing::info_span!("websocket", url = %self::url(url), runtime, tls)
    }

    /// A URL as logs show it: `scheme://host:port/path`, the port made explicit, without
    /// user info, query (replaced by `?<redacted>`) or fragment.
    ///
    /// Meant for serialized URLs (`Url::as_str`), whose user info has `/`, `?`, `#` and `@`
    /// percent-encoded (the authority ends at the first `/`, `?` or `#`, the user info at
    /// its last `@`), and for the URLs inside error texts, whose passwords the handshake
    /// crate already replaced. Text without `://` is cut the same way (`user:pw@host:port`
    /// shows `host:port`).
    pub(crate) fn url(text: &str) -> String {
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, text),
        };
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        let (main, tail) = rest.split_at(end);
        let auth_end = main.find('/').unwrap_or(main.len());
        let (authority, path) = main.split_at(auth_end);
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let mut out = String::with_capacity(text.len().min(256) + 16);
        if let Some(scheme) = scheme {
            out.push_str(scheme);
            out.push_str("://");
        }
        out.push_str(host);
        let default_port = match scheme.map(str::to_ascii_lowercase).as_deref() {
            Some("ws" | "http") => Some(80),
            Some("wss" | "https") => Some(443),
            _ => None,
        };
        if let (Some(port), false) = (default_port, has_port(host)) {
            if !host.is_empty() {
                out.push(':');
                out.push_str(&port.to_string());
            }
        }
        out.push_str(path);
        if tail.starts_with('?') {
            out.push_str(QUERY_MASK);
        }
        out
    }

    /// Whether `host` (`name`, `name:port`, `[v6]`, `[v6]:port`) names a port.
    fn has_port(host: &str) -> bool {
        let after = host.rfind(']').map_or(host, |i| &host[i + 1..]);
        after
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    }

    /// An error as logs show it: its text, with each URL in it shown by [`url`]; a close
    /// by the peer shows its code, not its reason.
    pub(crate) fn error(e: &Error) -> String {
        match e.peer_close() {
            Some(frame) => format!(
                "the server closed the connection with code {} (reason: {} bytes)",
                frame.code.as_u16(),
                frame.reason.len()
            ),
            None => scrub_urls(&e.to_string()),
        }
    }

    /// `text` with every `scheme://...` in it (up to white space or a quote) shown by
    /// [`url`]; punctuation right after a URL is kept.
    pub(crate) fn scrub_urls(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("://") {
            let start = rest[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
                .map_or(0, |j| j + 1);
            let len = rest[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
                .map_or(rest.len(), |n| i + n);
            let token = &rest[start..len];
            let trimmed = token.trim_end_matches(['.', ',', ';', ':', ')', ']', '}', '!']);
            out.push_str(&rest[..start]);
            out.push_str(&url(trimmed));
            out.push_str(&token[trimmed.len()..]);
            rest = &rest[len..];
        }
        out.push_str(rest);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn urls_lose_user_info_query_and_fragment() {
            let cases = [
                (
                    "ws://user:pw@example.com/chat?token=x#f",
                    "ws://example.com:80/chat?<redacted>",
                ),
                ("wss://example.com", "wss://example.com:443"),
                ("wss://[::1]:9443/a/b", "wss://[::1]:9443/a/b"),
                ("ws://[::1]/", "ws://[::1]:80/"),
                ("ws://u@h:81/p#frag", "ws://h:81/p"),
                ("socks5://alice:pw@proxy:1080", "socks5://proxy:1080"),
                ("alice:pw@proxy:3128", "proxy:3128"),
                ("wss://h/users/@me", "wss://h:443/users/@me"),
            ];
            for (input, shown) in cases {
                assert_eq!(url(input), shown, "{input}");
            }
        }

        #[test]
        fn urls_inside_text_are_scrubbed() {
            let text = "refused the redirect from ws://u:***@a.example/x?token=s to \
                        wss://b.example:8443/y?k=v: it would leave TLS (see \"ws://c/?q\").";
            assert_eq!(
                scrub_urls(text),
                "refused the redirect from ws://a.example:80/x?<redacted> to \
                 wss://b.example:8443/y?<redacted>: it would leave TLS (see \
                 \"ws://c:80/?<redacted>\")."
            );
            assert_eq!(scrub_urls("no url here"), "no url here");
        }
    }
}
