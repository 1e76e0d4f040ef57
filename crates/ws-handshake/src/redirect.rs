//! Following redirects of the opening handshake: decisions only, no I/O.
//!
//! A server may answer the upgrade request with a 3xx and a `Location`. Following it means
//! a new connection (maybe to another host, through another proxy) and a new request; this
//! module decides whether and where to go, and which headers may follow:
//!
//! ```text
//!  RedirectChain::new(url, policy)
//!  connect + handshake ──▶ 101: done
//!                      └─▶ 3xx: chain.follow_response(&response)? ──▶ next URL
//!                               RequestBuilder::redirect(next, &policy) (to another
//!                               origin: no credentials) ──▶ RedirectHook (optional:
//!                               veto or adjust) ──▶ connect again
//! ```
//!
//! Rules, in the order they are checked by [`RedirectChain::follow`]:
//!
//! 1. [`RedirectPolicy::enabled`] false: the redirect is reported as
//!    [`RedirectError::Redirected`] (as [`ClientRequest::check`](crate::ClientRequest::check)
//!    does).
//! 2. Only 301, 302, 303, 307 and 308 are followed ([`is_followed_status`]); other 3xx
//!    fail with [`RedirectError::StatusNotFollowed`]. The method stays `GET` whatever
//!    the code, so 303 needs no special case.
//! 3. `Location` is required ([`RedirectError::MissingLocation`]); it may be
//!    absolute or relative (resolved against the current URL, RFC 3986);
//!    `http`/`https` are mapped to `ws`/`wss`; other schemes fail with
//!    [`RedirectError::UnsupportedScheme`]; a fragment is dropped.
//! 4. `wss` → `ws` (a TLS downgrade) fails with [`RedirectError::Downgrade`];
//!    `ws` → `wss` is fine.
//! 5. After [`RedirectPolicy::max_hops`] redirects the next one fails with
//!    [`RedirectError::TooManyHops`] naming the whole chain; a loop ends there too.
//!
//! Headers: see [`forwards_header`].
//!
//! # Example
//!
//! ```
//! use ws_handshake::redirect::{RedirectChain, RedirectPolicy};
//!
//! let start = url::Url::parse("wss://example.com/old").unwrap();
//! let mut chain = RedirectChain::new(start, RedirectPolicy::default());
//! let next = chain.follow(301, Some("https://cdn.example.com/new?x=1"))?;
//! assert_eq!(next.as_str(), "wss://cdn.example.com/new?x=1");
//! let next = chain.follow(307, Some("../v2/feed"))?;
//! assert_eq!(next.as_str(), "wss://cdn.example.com/v2/feed");
//! assert_eq!(chain.hops(), 2);
//! assert!(chain.follow(302, Some("ws://cdn.example.com/plain")).is_err()); // downgrade
//! # Ok::<(), ws_handshake::redirect::RedirectError>(())
//! ```

use url::Url;

use crate::client::{RequestBuilder, UserHeader};
use crate::redact::{redacted, shorten, shown, shown_url};
use crate::response::Response;

pub(crate) mod error;

pub use error::RedirectError;

/// Whether and how far redirects are followed, and what may follow a redirect to another
/// origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RedirectPolicy {
    /// Most redirects followed for one connection; the next one fails with
    /// [`RedirectError::TooManyHops`]. Default: 5. `0` refuses every redirect with
    /// that error.
    pub max_hops: usize,
    /// Whether redirects are followed at all. Default: true.
    pub enabled: bool,
    /// Whether the offered subprotocols follow a redirect to another origin. Default:
    /// false, since some APIs carry bearer tokens in subprotocol names; set it (or re-add
    /// them in a [`RedirectHook`]) when the new host needs them.
    pub keep_subprotocols: bool,
}

impl RedirectPolicy {
    /// Follow up to 5 redirects.
    pub const DEFAULT: RedirectPolicy = RedirectPolicy {
        max_hops: 5,
        enabled: true,
        keep_subprotocols: false,
    };

    /// Follow none: a redirect is reported as [`RedirectError::Redirected`].
    pub const NONE: RedirectPolicy = RedirectPolicy {
        max_hops: 0,
        enabled: false,
        keep_subprotocols: false,
    };

    /// Follow up to `max_hops` redirects.
    pub fn limited(max_hops: usize) -> RedirectPolicy {
        RedirectPolicy {
            max_hops,
            ..Self::DEFAULT
        }
    }

    /// Lets the offered subprotocols follow a redirect to another origin (see the field).
    pub fn keep_subprotocols(mut self, keep: bool) -> RedirectPolicy {
        self.keep_subprotocols = keep;
        self
    }
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One redirect about to be followed, as a [`RedirectHook`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct RedirectHop<'a> {
    /// The redirect's status (301, 302, 303, 307 or 308).
    pub status: u16,
    /// The URL that answered with the redirect.
    pub from: &'a Url,
    /// Where it leads.
    pub to: &'a Url,
    /// Whether `to` is another origin (scheme, host or port): then only `User-Agent`,
    /// `Origin` and portable headers are in `request`.
    pub cross_origin: bool,
    /// The request that will be sent to `to`, as the redirect rules left it.
    pub request: &'a RequestBuilder,
}

impl<'a> RedirectHop<'a> {
    /// The hop from `from` to `to` answered with `status`, with the `request` the rules
    /// left for `to`.
    pub fn new(status: u16, from: &'a Url, to: &'a Url, request: &'a RequestBuilder) -> Self {
        RedirectHop {
            status,
            from,
            to,
            cross_origin: !same_origin(from, to),
            request,
        }
    }
}

/// What a [`RedirectHook`] decides for one hop.
#[derive(Debug)]
#[non_exhaustive]
pub enum HopDecision {
    /// Follow with the request as the rules left it.
    Follow,
    /// Follow with this request instead (e.g. `hop.request.clone().header(..)` with a
    /// credential meant for the new host). Its URL must stay `hop.to`.
    FollowWith(RequestBuilder),
    /// Do not follow: the connection fails with [`RedirectError::RefusedByHook`] and
    /// this reason.
    Refuse(String),
}

/// A callback run before each redirect is followed: it sees where from and where to and
/// the request, and may refuse the hop or adjust the request.
pub type RedirectHook = std::sync::Arc<dyn Fn(&RedirectHop<'_>) -> HopDecision + Send + Sync>;

/// Applies `hook`'s decision for `hop`: the request to send next, or the refusal.
pub fn decide(
    hook: &RedirectHook,
    hop: &RedirectHop<'_>,
) -> Result<Option<RequestBuilder>, RedirectError> {
    let refused = |reason: String| RedirectError::RefusedByHook {
        from: shown(hop.from),
        to: shown(hop.to),
        reason: shorten(&reason),
    };
    match hook(hop) {
        HopDecision::Follow => Ok(None),
        HopDecision::FollowWith(request) if request.url() == hop.to => Ok(Some(request)),
        HopDecision::FollowWith(request) => Err(refused(format!(
            "it changed the URL to {}; a hook may change the request's headers, not where it \
             goes",
            redacted(request.url())
        ))),
        HopDecision::Refuse(reason) => Err(refused(reason)),
    }
}

/// Whether a redirect with this status is followed: 301, 302, 303, 307 and 308.
pub fn is_followed_status(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The URL a redirect leads to from `current`, or why it is not followed (rules 2-4 of the
/// [module docs](self); no hop counting, see [`RedirectChain`] for that).
///
/// `current` may be `ws`, `wss`, `http` or `https`; `https` counts as secure like `wss`.
/// The result is always `ws` or `wss`, without fragment, with a host.
pub fn next_url(current: &Url, status: u16, location: Option<&str>) -> Result<Url, RedirectError> {
    if !is_followed_status(status) {
        return Err(RedirectError::StatusNotFollowed {
            status,
            location: location.map(shown_url),
        });
    }
    let location = match location.map(str::trim) {
        Some(l) if !l.is_empty() => l,
        _ => return Err(RedirectError::MissingLocation { status }),
    };
    let invalid = |reason: String| RedirectError::InvalidLocation {
        location: shown_url(location),
        reason,
    };
    let mut next = current.join(location).map_err(|e| invalid(e.to_string()))?;
    let secure = match next.scheme() {
        "ws" | "http" => false,
        "wss" | "https" => true,
        other => {
            return Err(RedirectError::UnsupportedScheme {
                location: shown_url(location),
                scheme: shorten(other),
            })
        }
    };
    let scheme = if secure { "wss" } else { "ws" };
    if next.scheme() != scheme {
        // Between special schemes this cannot fail; report it if it ever does.
        next.set_scheme(scheme)
            .map_err(|()| invalid(format!("cannot map its scheme to {scheme}")))?;
    }
    next.set_fragment(None);
    match next.host_str() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(invalid("it has no host".to_owned())),
    }
    if is_secure(current) && !secure {
        return Err(RedirectError::Downgrade {
            from: shown(current),
            to: shown(&next),
        });
    }
    Ok(next)
}

/// The redirects followed for one connection: counts hops, refuses past the limit, and
/// remembers the URLs for the error.
///
/// ```
/// use ws_handshake::redirect::{RedirectChain, RedirectPolicy};
/// use ws_handshake::redirect::RedirectError;
///
/// let start = url::Url::parse("ws://a.example/").unwrap();
/// let mut chain = RedirectChain::new(start, RedirectPolicy::limited(2));
/// chain.follow(302, Some("ws://b.example/"))?;
/// chain.follow(302, Some("ws://a.example/"))?;
/// match chain.follow(302, Some("ws://b.example/")) {
///     Err(RedirectError::TooManyHops { max_hops: 2, chain }) => assert_eq!(
///         chain,
///         ["ws://a.example/", "ws://b.example/", "ws://a.example/", "ws://b.example/"],
///     ),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), ws_handshake::redirect::RedirectError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RedirectChain {
    policy: RedirectPolicy,
    urls: Vec<Url>,
}

impl RedirectChain {
    /// A chain starting at `start` (the URL first requested; `http(s)` is mapped to
    /// `ws(s)` as [`RequestBuilder`] does).
    pub fn new(start: Url, policy: RedirectPolicy) -> RedirectChain {
        RedirectChain {
            policy,
            urls: vec![to_ws(start)],
        }
    }

    /// The policy.
    pub fn policy(&self) -> RedirectPolicy {
        self.policy
    }

    /// The URL to request now: the start, or the last redirect target.
    pub fn current(&self) -> &Url {
        // `urls` is never empty: `new` puts the start in and nothing removes it.
        &self.urls[self.urls.len() - 1]
    }

    /// Redirects followed so far.
    pub fn hops(&self) -> usize {
        self.urls.len() - 1
    }

    /// Every URL so far: the start, then each redirect target.
    pub fn urls(&self) -> &[Url] {
        &self.urls
    }

    /// Follows a redirect answered to [`current`](Self::current): returns the URL to request
    /// next, or the error to report (see the [module docs](self) for the rules).
    pub fn follow(&mut self, status: u16, location: Option<&str>) -> Result<&Url, RedirectError> {
        if !self.policy.enabled {
            return Err(RedirectError::Redirected {
                status,
                location: location.map(shown_url),
            });
        }
        let next = next_url(self.current(), status, location)?;
        if self.hops() >= self.policy.max_hops {
            let chain = self
                .urls
                .iter()
                .chain(std::iter::once(&next))
                .map(shown)
                .collect();
            return Err(RedirectError::TooManyHops {
                max_hops: self.policy.max_hops,
                chain,
            });
        }
        self.urls.push(next);
        Ok(self.current())
    }

    /// [`follow`](Self::follow) with the status and (full, unshortened) `Location` of a
    /// parsed response. Use this rather than the `location` in
    /// [`RedirectError::Redirected`], which is shortened for display.
    pub fn follow_response(&mut self, response: &Response) -> Result<&Url, RedirectError> {
        self.follow(response.status(), response.header("Location"))
    }
}

/// Whether a user header called `name` (added with
/// [`RequestBuilder::header`](crate::RequestBuilder::header)) may be sent again after a
/// redirect from `old` to `new` (ASCII-case-insensitive):
///
/// * `Proxy-Authorization`: never (it is for a proxy, and is refused when a request is
///   built: proxy credentials belong in the proxy URL);
/// * to the same origin (same scheme after mapping `http(s)` to `ws(s)`, same host
///   case-insensitively, same port explicit or default): every other header;
/// * to another origin: only `User-Agent` and `Origin`. Any other header may be a
///   credential (`Authorization`, `Cookie`, `X-Api-Key`, a token under any name) meant for
///   the host that was asked; a `Host` override is for that host too. Mark a header that
///   must follow with [`RequestBuilder::portable_header`](crate::RequestBuilder::portable_header).
///
/// Credentials written in the URL itself (`ws://user:pass@host/`) follow the URL: a
/// relative `Location` keeps them, an absolute one replaces them.
pub fn forwards_header(old: &Url, new: &Url, name: &str) -> bool {
    let name = name.trim();
    if name.eq_ignore_ascii_case("Proxy-Authorization") {
        // Refused when a request is built; never passed on in any case.
        return false;
    }
    same_origin(old, new)
        || ["User-Agent", "Origin"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
}

/// Whether a header only makes sense for the origin it was given for, even when marked
/// portable: `Host`.
pub(crate) fn is_origin_bound(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("Host")
}

/// The headers of `headers` that may be sent again after a redirect from `old` to `new`
/// ([`forwards_header`]), in order.
pub fn headers_to_keep(
    old: &Url,
    new: &Url,
    headers: &[(String, String)],
) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| forwards_header(old, new, name))
        .cloned()
        .collect()
}

/// Whether `a` and `b` are the same origin: same scheme (after mapping `http(s)` to
/// `ws(s)`), host (ASCII-case-insensitive) and port (explicit or default).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    let port = |u: &Url| u.port_or_known_default();
    is_secure(a) == is_secure(b)
        && matches!((a.host_str(), b.host_str()), (Some(x), Some(y)) if x.eq_ignore_ascii_case(y))
        && port(a) == port(b)
}

fn is_secure(url: &Url) -> bool {
    matches!(url.scheme(), "wss" | "https")
}

/// Maps `http(s)` to `ws(s)`; leaves other schemes alone.
fn to_ws(mut url: Url) -> Url {
    let mapped = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        _ => return url,
    };
    // Between special schemes this cannot fail.
    let _ = url.set_scheme(mapped);
    url
}

/// Redirects of a request: here, beside the rules they follow.
impl RequestBuilder {
    /// The same request for the target of a redirect (from
    /// [`RedirectChain::follow`](crate::redirect::RedirectChain::follow)), as `policy`
    /// allows. To the same origin (scheme, host and port) everything is kept. To another
    /// origin nothing that may carry a credential is: only `User-Agent`, `Origin` and
    /// [`portable_header`](Self::portable_header)s follow (see
    /// [`redirect::forwards_header`](crate::redirect::forwards_header)), and subprotocols
    /// only with [`RedirectPolicy::keep_subprotocols`](crate::redirect::RedirectPolicy::keep_subprotocols)
    /// (some APIs carry bearer tokens in them). The extension offer is always kept, and so
    /// is the default `User-Agent` (or its absence after
    /// [`no_user_agent`](Self::no_user_agent)).
    ///
    /// Fails with [`RedirectError::UnsupportedScheme`] when `to` is not a `ws`, `wss`,
    /// `http` or `https` URL, and with [`RedirectError::InvalidLocation`] when no request can
    /// be made for it (targets from [`RedirectChain::follow`] never fail).
    pub fn redirect(
        self,
        to: Url,
        policy: &RedirectPolicy,
    ) -> Result<RequestBuilder, RedirectError> {
        let location = shown(&to);
        if !matches!(to.scheme(), "ws" | "wss" | "http" | "https") {
            return Err(RedirectError::UnsupportedScheme {
                location,
                scheme: shorten(to.scheme()),
            });
        }
        let mut next =
            RequestBuilder::from_url(to).map_err(|e| RedirectError::InvalidLocation {
                location,
                reason: e.to_string(),
            })?;
        let from = self.url;
        let same = same_origin(&from, &next.url);
        next.headers = self
            .headers
            .into_iter()
            .filter(|h| match h {
                UserHeader::Pair(name, _) => forwards_header(&from, &next.url, name),
                UserHeader::Portable(name, _) => same || !is_origin_bound(name),
                UserHeader::Malformed(_) => same,
            })
            .collect();
        if same || policy.keep_subprotocols {
            next.protocols = self.protocols;
        }
        next.extensions = self.extensions;
        next.default_user_agent = self.default_user_agent;
        Ok(next)
    }
}
