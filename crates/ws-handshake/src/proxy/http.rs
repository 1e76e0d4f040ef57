//! HTTP `CONNECT` tunnels (RFC 9110 section 9.3.6), client side, without I/O.

use std::fmt;
use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{Credentials, Progress, ProxyError, ProxyScheme, TargetAddr};
use crate::head::{HeadError, Limits};
use crate::redact::shorten;
use crate::response::{Response, ResponseParser};

/// The start every HTTP status line has.
const HTTP_PREFIX: &[u8] = b"HTTP/";

/// Opens a tunnel through an HTTP proxy: sends `CONNECT host:port HTTP/1.1` and reads the
/// proxy's answer.
///
/// The request is exactly:
///
/// ```text
/// CONNECT example.com:443 HTTP/1.1\r\n
/// Host: example.com:443\r\n
/// Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n      (only with credentials)
/// \r\n
/// ```
///
/// (IPv6 targets are written `[::1]:443`.) No `User-Agent` is sent: the proxy needs only
/// the target, and this head is in clear even for `wss://`, so it says nothing more about
/// the client. The WebSocket request, with its `User-Agent`
/// ([`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT) or the caller's), goes through the
/// tunnel, encrypted for `wss://`.
///
/// The answer is read like a WebSocket handshake response ([`ResponseParser`]: incremental,
/// linear time, bounded by [`Limits`]), with an early check that it starts with `HTTP/`, so
/// a proxy speaking something else fails at once instead of after `max_head_size` bytes.
/// Then:
///
/// * 2xx: the tunnel is open; the bytes after the head are returned in
///   [`Progress::Done`] (a 2xx answer to `CONNECT` has no body, RFC 9110).
/// * 1xx (other than 101): an interim answer, skipped; the final one follows. All heads
///   together are bounded by `max_head_size`.
/// * 407: [`ProxyError::AuthRequired`] with the `Proxy-Authenticate` challenge.
/// * anything else (403, 502, 101, ...): [`ProxyError::ConnectRefused`] with the
///   status and reason.
/// * not HTTP, or over the limits: [`ProxyError::Protocol`].
///
/// `Debug` does not show the request bytes (they may hold credentials).
#[derive(Clone)]
pub struct HttpConnect {
    request: Vec<u8>,
    /// Bytes of `request` already written.
    sent: usize,
    parser: ResponseParser,
    /// Head bytes of skipped interim (1xx) answers, charged against `max_head_size`.
    interim: usize,
    limits: Limits,
    /// How many bytes of [`HTTP_PREFIX`] have been seen; `None` before the first byte
    /// that is not CR or LF.
    prefix: Option<usize>,
    authority: String,
    credentials_sent: bool,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    Waiting,
    Done,
    Failed(ProxyError),
}

impl HttpConnect {
    /// A `CONNECT` to `target:port`, with Basic credentials if given, reading the answer
    /// within `limits`.
    ///
    /// Fails with [`ProxyError::InvalidCredentials`] if the user name contains `:`
    /// (Basic authentication cannot carry it). Credentials are sent as UTF-8 (RFC 7617);
    /// being base64-encoded, they cannot inject headers.
    pub fn new(
        target: &TargetAddr,
        port: u16,
        credentials: Option<&Credentials>,
        limits: Limits,
    ) -> Result<HttpConnect, ProxyError> {
        let authority = target.authority(port);
        let mut request = String::with_capacity(128);
        // `write!` into a String cannot fail.
        let _ = write!(
            request,
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        );
        if let Some(c) = credentials {
            if c.username().contains(':') {
                return Err(ProxyError::InvalidCredentials {
                    reason: "the user name contains ':', which Basic authentication cannot carry",
                });
            }
            let _ = write!(
                request,
                "Proxy-Authorization: Basic {}\r\n",
                STANDARD.encode(format!("{}:{}", c.username(), c.password()))
            );
        }
        request.push_str("\r\n");
        Ok(HttpConnect {
            request: request.into_bytes(),
            sent: 0,
            parser: ResponseParser::new(limits),
            interim: 0,
            limits,
            prefix: None,
            authority,
            credentials_sent: credentials.is_some(),
            state: State::Waiting,
        })
    }

    /// The request bytes not yet written (all of them until
    /// [`consume_output`](Self::consume_output) is called).
    pub fn bytes_to_send(&self) -> &[u8] {
        self.request.get(self.sent..).unwrap_or_default()
    }

    /// Marks `n` more request bytes as written (clamped to what is left).
    pub fn consume_output(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.request.len());
    }

    /// The `host:port` asked for.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether the tunnel is open.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feeds bytes read from the proxy; see the type's docs for the outcomes.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match &self.state {
            State::Waiting => {}
            State::Done => {
                return Ok(Progress::Done {
                    rest: data.to_vec(),
                })
            }
            State::Failed(e) => return Err(e.clone()),
        }
        match self.feed_waiting(data) {
            Ok(p) => {
                if matches!(p, Progress::Done { .. }) {
                    self.state = State::Done;
                }
                Ok(p)
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// The error for a connection closed before the answer was complete.
    pub fn closed_error(&self) -> ProxyError {
        ProxyError::Closed {
            scheme: ProxyScheme::Http,
            during: if self.sent < self.request.len() {
                "before we could send CONNECT"
            } else {
                "before answering CONNECT"
            },
        }
    }

    fn feed_waiting(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        self.check_prefix(data)?;
        let mut response = match self.parser.feed_head(data) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Progress::NeedMore),
            Err(e) => return Err(self.protocol_error(e)),
        };
        loop {
            let status = response.status();
            if (100..200).contains(&status) && status != 101 {
                // An interim answer: skip it and read the next head from what follows.
                self.interim = self.interim.saturating_add(response.head_bytes().len());
                let limits = Limits {
                    max_head_size: self.limits.max_head_size.saturating_sub(self.interim),
                    ..self.limits
                };
                self.parser = ResponseParser::new(limits);
                self.prefix = None;
                let rest = response.into_rest();
                self.check_prefix(&rest)?;
                response = match self.parser.feed_head(&rest) {
                    Ok(Some(r)) => r,
                    Ok(None) => return Ok(Progress::NeedMore),
                    Err(e) => return Err(self.protocol_error(e)),
                };
                continue;
            }
            return self.final_answer(response);
        }
    }

    fn final_answer(&self, response: Response) -> Result<Progress, ProxyError> {
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(Progress::Done {
                rest: response.into_rest(),
            });
        }
        if status == 407 {
            return Err(ProxyError::AuthRequired {
                target: self.authority.clone(),
                proxy_authenticate: response.head().joined("Proxy-Authenticate"),
                credentials_sent: self.credentials_sent,
            });
        }
        Err(ProxyError::ConnectRefused {
            target: self.authority.clone(),
            status,
            reason: shorten(response.reason()),
        })
    }

    /// Fails as soon as the answer cannot start with `HTTP/` (leading empty lines allowed).
    fn check_prefix(&mut self, data: &[u8]) -> Result<(), ProxyError> {
        for &b in data {
            let seen = match self.prefix {
                Some(n) if n >= HTTP_PREFIX.len() => return Ok(()),
                Some(n) => n,
                None if b == b'\r' || b == b'\n' => continue,
                None => 0,
            };
            if HTTP_PREFIX.get(seen) != Some(&b) {
                return Err(ProxyError::Protocol {
                    scheme: ProxyScheme::Http,
                    reason: format!(
                        "it does not start with \"HTTP/\" (byte {b:#04x} at position {seen}); \
                         a SOCKS5 proxy needs a socks5:// URL"
                    ),
                });
            }
            self.prefix = Some(seen + 1);
        }
        Ok(())
    }

    fn protocol_error(&self, e: HeadError) -> ProxyError {
        let reason = match e {
            HeadError::TooLarge { .. } => format!(
                "its head exceeds {} bytes (the limit set with .handshake_limits(..))",
                self.limits.max_head_size
            ),
            HeadError::TooManyHeaders { limit } => {
                format!(
                    "it has more than {limit} headers (the limit set with .handshake_limits(..))"
                )
            }
            HeadError::Malformed { reason } => format!("malformed HTTP head: {reason}"),
        };
        ProxyError::Protocol {
            scheme: ProxyScheme::Http,
            reason,
        }
    }
}

impl fmt::Debug for HttpConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnect")
            .field("authority", &self.authority)
            .field("credentials_sent", &self.credentials_sent)
            .field("request_len", &self.request.len())
            .field("sent", &self.sent)
            .field("buffered", &self.parser.buffered())
            .field("state", &self.state)
            .finish()
    }
}
