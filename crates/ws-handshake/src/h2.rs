//! Client role over HTTP/2 (RFC 8441): the extended CONNECT request as plain fields, and
//! the check of the server's answer.

use std::fmt;

use url::Url;

use crate::client::{check_negotiation, refused_status, Accepted, RequestBuilder, Target};
use crate::error::HandshakeError;
use crate::redact::redacted;
use crate::response::{HttpVersion, Response};

/// Connection-specific headers, which HTTP/2 forbids (RFC 9113 section 8.2.2); a caller may
/// not give them to an HTTP/2 request.
const CONNECTION_SPECIFIC: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

impl RequestBuilder {
    /// Checks everything as [`build`](Self::build) does and makes the extended CONNECT
    /// request that opens a WebSocket over HTTP/2 (RFC 8441 sections 4 and 5), as plain
    /// fields for the HTTP/2 library to send.
    ///
    /// The same rules apply to the caller's headers as for HTTP/1.1 (see the type's docs),
    /// plus one: the connection-specific headers `Connection`, `Keep-Alive`,
    /// `Proxy-Connection`, `Transfer-Encoding`, `Upgrade` and `TE` are refused with
    /// [`HandshakeError::ConnectionSpecificHeader`], since HTTP/2 forbids them. A `Host`
    /// header becomes the `:authority`. There is no `Sec-WebSocket-Key` over HTTP/2.
    ///
    /// ```
    /// use ws_handshake::{RequestBuilder, DEFAULT_USER_AGENT};
    ///
    /// let request = RequestBuilder::new("wss://example.com/chat?room=1")?
    ///     .subprotocol("chat")
    ///     .header("Cookie", "session=abc")
    ///     .build_h2()?;
    /// assert_eq!(request.method(), "CONNECT");
    /// assert_eq!(request.protocol(), "websocket");
    /// assert_eq!(request.scheme(), "https");
    /// assert_eq!(request.authority(), "example.com");
    /// assert_eq!(request.path(), "/chat?room=1");
    /// let headers: Vec<_> = request.headers().collect();
    /// assert_eq!(headers, [
    ///     ("sec-websocket-version", "13"),
    ///     ("sec-websocket-protocol", "chat"),
    ///     ("user-agent", DEFAULT_USER_AGENT),
    ///     ("cookie", "session=abc"),
    /// ]);
    /// # Ok::<(), ws_handshake::HandshakeError>(())
    /// ```
    pub fn build_h2(self) -> Result<H2Request, HandshakeError> {
        let p = self.prepare(&CONNECTION_SPECIFIC)?;
        let mut headers = vec![("sec-websocket-version".to_owned(), "13".to_owned())];
        headers.extend(
            p.headers_after_version()
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value)),
        );
        Ok(H2Request {
            scheme: if p.target.secure { "https" } else { "http" },
            authority: p.authority,
            path: p.path,
            headers,
            protocols: p.protocols,
            extensions: p.offered_extensions,
            target: p.target,
            url: p.url,
        })
    }
}

/// The extended CONNECT request that opens a WebSocket over HTTP/2 (RFC 8441), made by
/// [`RequestBuilder::build_h2`], and what is needed to check the server's answer.
///
/// It holds plain fields: the pseudo-headers ([`method`](Self::method),
/// [`protocol`](Self::protocol), [`scheme`](Self::scheme), [`authority`](Self::authority),
/// [`path`](Self::path)) and the other header fields ([`headers`](Self::headers), names in
/// lowercase). The transport turns them into its HTTP/2 library's request, sends it, and
/// hands the answer to [`check`](Self::check) as a [`Response::from_h2`].
///
/// `Debug` shows the header names, with the values of sensitive ones (see
/// [`is_sensitive_header`](crate::is_sensitive_header)) replaced by
/// [`REDACTED`](crate::REDACTED), and no URL password.
#[derive(Clone)]
pub struct H2Request {
    scheme: &'static str,
    authority: String,
    path: String,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    target: Target,
    url: Url,
}

impl H2Request {
    /// The `:method`: always `CONNECT`.
    pub fn method(&self) -> &'static str {
        "CONNECT"
    }

    /// The `:protocol` (RFC 8441 section 4): always `websocket`.
    pub fn protocol(&self) -> &'static str {
        "websocket"
    }

    /// The `:scheme`: `https` for a `wss` URL, `http` for `ws` (RFC 8441 section 5).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The `:authority`: the caller's `Host` header if given, else the URL's host (IPv6 in
    /// `[]`) with `:port` unless the port is the scheme's default. Never user info.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The `:path`: the URL's path and query, `/` if the path is empty.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The header fields, names in lowercase, in the order to send them:
    /// `sec-websocket-version: 13`, `origin`, `sec-websocket-protocol` (the offered
    /// subprotocols joined with `, `), `sec-websocket-extensions` (the offer),
    /// `authorization` (from the URL's user info, unless given), `user-agent` (the default,
    /// unless turned off or given), then the caller's other headers as given. Each but the
    /// first only when it applies.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
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

    /// Checks the server's answer (RFC 8441 section 5) and returns what it agreed to.
    ///
    /// In order: the response must have come over HTTP/2 ([`Response::from_h2`]) and be
    /// well-formed ([`HandshakeError::MalformedHead`] otherwise); the status must be 2xx
    /// (normally 200): a 3xx gives [`HandshakeError::Redirect`] with
    /// [`RedirectError::Redirected`](crate::redirect::RedirectError::Redirected) and its
    /// `Location`, as [`ClientRequest::check`](crate::ClientRequest::check) does, so the
    /// redirect chain follows it; anything else, 101 included, gives
    /// [`HandshakeError::UnexpectedStatus`] with an excerpt of the body. Then the same
    /// subprotocol and extension checks as over HTTP/1.1: a subprotocol must be exactly one
    /// of those offered; extensions must be well-formed and among those offered. HTTP/2 has
    /// no `Sec-WebSocket-Accept`, `Upgrade` or `Connection` to check.
    pub fn check(&self, response: &Response) -> Result<Accepted, HandshakeError> {
        if response.http_version() != HttpVersion::Http2 {
            return Err(HandshakeError::MalformedHead {
                reason: "an HTTP/2 request got an HTTP/1.x response".to_owned(),
            });
        }
        if let Some(reason) = response.malformed() {
            return Err(HandshakeError::MalformedHead {
                reason: reason.to_owned(),
            });
        }
        if !(200..300).contains(&response.status()) {
            return Err(refused_status(response));
        }
        check_negotiation(&self.protocols, &self.extensions, response.head())
    }
}

impl fmt::Debug for H2Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Request")
            .field("url", &redacted(&self.url))
            .field("target", &self.target)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("path", &self.path)
            // Names only, as `ClientRequest` shows none: a value the caller marked secret
            // (but whose name looks harmless) never reaches a log.
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("subprotocols", &self.protocols)
            .field("extensions", &self.extensions)
            .finish()
    }
}
