//! Why a redirect is reported instead of followed.

use std::fmt;

/// A redirect (3xx) answer to the upgrade request that is not followed, and why.
///
/// [`ClientRequest::check`](crate::ClientRequest::check) reports every 3xx as
/// [`Redirected`](Self::Redirected); [`RedirectChain::follow`](super::RedirectChain::follow)
/// and the other decisions of the [`redirect`](super) module say why a redirect cannot be
/// followed with the other variants. Within the handshake this error arrives as
/// [`HandshakeError::Redirect`](crate::HandshakeError::Redirect).
///
/// `Display` says what happened and what to do about it. URLs are shown with their password
/// hidden (see [`redact_url`](crate::redact_url)) and shortened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// The server answered with a redirect (3xx) instead of `101 Switching Protocols`, and
    /// redirects are not followed here.
    Redirected {
        /// The status code.
        status: u16,
        /// The `Location` header, if the server sent a readable one (password hidden,
        /// shortened).
        location: Option<String>,
    },
    /// A 3xx status that is not followed: only 301, 302, 303, 307 and 308 are.
    StatusNotFollowed {
        /// The status code.
        status: u16,
        /// The `Location` header, if any (shortened).
        location: Option<String>,
    },
    /// A redirect without a `Location` header (or an empty one).
    MissingLocation {
        /// The status code.
        status: u16,
    },
    /// A redirect whose `Location` is not a usable URL.
    InvalidLocation {
        /// The `Location` value (shortened).
        location: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A redirect to a scheme other than `ws`, `wss`, `http` and `https`.
    UnsupportedScheme {
        /// The `Location` value (shortened).
        location: String,
        /// The scheme found.
        scheme: String,
    },
    /// A redirect from a secure URL (`wss`) to an insecure one (`ws`/`http`): refused, it would
    /// send the handshake (and any credentials) in the clear.
    Downgrade {
        /// The URL redirected from (password hidden, shortened).
        from: String,
        /// The URL redirected to (password hidden, shortened).
        to: String,
    },
    /// The caller's redirect hook ([`RedirectHook`](super::RedirectHook)) refused a hop, or
    /// changed its URL.
    RefusedByHook {
        /// The URL redirected from (password hidden, shortened).
        from: String,
        /// The URL redirected to (password hidden, shortened).
        to: String,
        /// The hook's reason.
        reason: String,
    },
    /// The redirect limit ([`RedirectPolicy::max_hops`](super::RedirectPolicy::max_hops))
    /// was reached.
    TooManyHops {
        /// The limit.
        max_hops: usize,
        /// Every URL in order: the first one requested, those followed, and the refused next
        /// one (passwords hidden, each shortened).
        chain: Vec<String>,
    },
}

impl RedirectError {
    /// The redirect status the server answered, where this error keeps it:
    /// [`Redirected`](Self::Redirected), [`StatusNotFollowed`](Self::StatusNotFollowed) and
    /// [`MissingLocation`](Self::MissingLocation). `None` for the others.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Redirected { status, .. }
            | Self::StatusNotFollowed { status, .. }
            | Self::MissingLocation { status } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirected { status, location } => {
                write!(f, "HTTP upgrade: the server redirects (HTTP {status})")?;
                match location {
                    Some(location) => write!(
                        f,
                        " to {location:?}; connect to that URL instead (this connection \
                         does not follow redirects)"
                    ),
                    None => write!(f, " without a Location header; check the URL"),
                }
            }
            Self::StatusNotFollowed { status, location } => {
                write!(f, "HTTP upgrade: the server answered {status}")?;
                if let Some(location) = location {
                    write!(f, " with Location {location:?}")?;
                }
                write!(
                    f,
                    "; only 301, 302, 303, 307 and 308 redirects are followed: check the URL"
                )
            }
            Self::MissingLocation { status } => write!(
                f,
                "HTTP upgrade: the server redirects (HTTP {status}) without a Location \
                 header; check the URL"
            ),
            Self::InvalidLocation { location, reason } => write!(
                f,
                "HTTP upgrade: the redirect target {location:?} is not a usable URL \
                 ({reason}); check the URL or the server's configuration"
            ),
            Self::UnsupportedScheme { location, scheme } => write!(
                f,
                "HTTP upgrade: the server redirects to {location:?}, whose scheme {scheme:?} \
                 is not ws, wss, http or https; it cannot be a WebSocket endpoint"
            ),
            Self::Downgrade { from, to } => write!(
                f,
                "HTTP upgrade: refused the redirect from {from} to {to}: it would leave TLS \
                 (wss to ws); connect to a wss:// URL instead"
            ),
            Self::RefusedByHook { from, to, reason } => write!(
                f,
                "HTTP upgrade: your redirect hook refused the redirect from {from} to {to}: \
                 {reason}"
            ),
            Self::TooManyHops { max_hops, chain } => {
                write!(
                    f,
                    "HTTP upgrade: gave up after {max_hops} redirect(s): {}",
                    chain.join(" -> ")
                )?;
                let looping = chain
                    .iter()
                    .enumerate()
                    .any(|(i, u)| chain[..i].contains(u));
                if looping {
                    write!(f, "; the server redirects in a loop: fix its configuration")
                } else {
                    write!(
                        f,
                        "; connect to the last URL directly, or allow more hops \
                         (.redirects(RedirectPolicy::limited(..)))"
                    )
                }
            }
        }
    }
}

impl std::error::Error for RedirectError {}
