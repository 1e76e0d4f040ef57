//! Runtime-neutral options for opening a WebSocket: [`ConnectOptions`] (our client role)
//! and [`ServerOptions`] (our server role, used by tests and small servers).
//!
//! Both are plain builders: every setter takes and returns `self`, nothing is checked
//! until the connection is opened (a bad URL or header then fails with a
//! [`HandshakeError`](ws_handshake::HandshakeError) before any byte is sent).
//!
//! Defaults follow Python `websockets`, which users rarely need to touch:
//!
//! | setting | default |
//! |---|---|
//! | connect timeout (DNS + TCP) | 10 s |
//! | open timeout (TLS + WebSocket handshake) | 10 s |
//! | close timeout (wait for the peer's close frame, then for TCP to close) | 10 s |
//! | write timeout (a send that can write nothing, the peer not reading) | 20 s |
//! | keepalive | a ping every 20 s; the connection fails if no pong arrives within 20 s |
//! | compression (feature `deflate`) | permessage-deflate offered with default parameters |
//! | limits | those of [`Config::default`] (64 MiB messages, 16 MiB frames) |
//! | proxy | none: connect directly (environment variables are read only after [`ConnectOptions::proxy_from_env`]) |
//! | redirects | followed, at most 5 hops ([`RedirectPolicy::DEFAULT`]); never from `wss` to `ws` |
//! | HTTP/2 (feature `http2`) | off: HTTP/1.1, no ALPN sent ([`ConnectOptions::http2`]); with `Prefer`/`Require`, a pool per options and their clones, 100 WebSockets per connection, idle connections closed after 30 s ([`H2Pool`](crate::http2::H2Pool)) |
//! | `User-Agent` | `aiowebsocket/<version>` ([`DEFAULT_USER_AGENT`](ws_handshake::DEFAULT_USER_AGENT)), on every redirect hop; a `User-Agent` header replaces it, [`ConnectOptions::no_user_agent`] removes it |

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "deflate")]
use ws_handshake::permessage_deflate::DeflateConfig;
use ws_handshake::proxy::{Proxy, ProxyConfig};
use ws_handshake::redirect::{HopDecision, RedirectHook, RedirectHop, RedirectPolicy};
use ws_handshake::{
    is_sensitive_header, redact_url, ClientRequest, Limits, Request, RequestBuilder, Target,
    REDACTED,
};

use crate::error::Error;
use crate::proto::config::{Config, Keepalive};
use crate::tls::TlsConnector;

/// Default bound on DNS resolution + TCP connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on the opening handshake (TLS and HTTP upgrade).
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The connection defaults, defined once in [`Config`], here too for the options' users.
pub use crate::proto::config::{
    DEFAULT_CLOSE_TIMEOUT, DEFAULT_PING_INTERVAL, DEFAULT_PING_TIMEOUT,
};

/// Writes the client setters of [`ConnectOptions`] as methods of a builder that wraps it
/// (the facade's `ClientBuilder`), each forwarding to the setter of the same name. The list
/// lives here, beside the setters: a new setter reaches the builder with one more line.
///
/// The invoking `impl` provides `fn options(self, f: impl FnOnce(ConnectOptions) ->
/// ConnectOptions) -> Self`.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_connect_setters {
    () => {
        $crate::forward_connect_setters! {
            /// Adds a request header `name: value`.
            header(name: impl Into<String>, value: impl Into<String>);
            /// Adds a request header that may follow a redirect to another origin; never
            /// for credentials.
            portable_header(name: impl Into<String>, value: impl Into<String>);
            /// Adds a request header whose value `Debug` output never shows.
            sensitive_header(name: impl Into<String>, value: impl Into<String>);
            /// Adds a raw header line `"Name: value"`.
            raw_header(line: impl Into<String>);
            /// Sets the `Origin` header.
            origin(origin: impl Into<String>);
            /// Sends no default `User-Agent: aiowebsocket/<version>`.
            no_user_agent();
            /// Offers a subprotocol; repeat for several, most preferred first.
            subprotocol(proto: impl Into<String>);
            /// Replaces the whole connection `Config`: call it before the finer setters.
            config(config: $crate::Config);
            /// Largest message accepted, after decompression (`None`: no limit). Default
            /// 64 MiB.
            max_message_size(max: Option<usize>);
            /// Largest single frame accepted (`None`: no limit). Default 16 MiB.
            max_frame_size(max: Option<usize>);
            /// Bound on DNS resolution + TCP connect (`None`: no bound). Default 10 s.
            connect_timeout(timeout: Option<::std::time::Duration>);
            /// Bound on the proxy tunnel, TLS and the HTTP upgrade (`None`: no bound).
            /// Default 10 s.
            open_timeout(timeout: Option<::std::time::Duration>);
            /// Bound on each wait of the closing handshake (`None`: wait forever). Default
            /// 10 s.
            close_timeout(timeout: Option<::std::time::Duration>);
            /// Bound on a send that can write nothing because the server stopped reading
            /// (`None`: wait forever). Default 20 s.
            write_timeout(timeout: Option<::std::time::Duration>);
            /// A ping every `interval`; the connection fails (1011) when a pong takes longer
            /// than `timeout`. Default 20 s / 20 s.
            keepalive(interval: ::std::time::Duration, timeout: ::std::time::Duration);
            /// Turns keepalive pings off.
            no_keepalive();
            /// Limits on the server's response head (size, header count).
            handshake_limits(limits: $crate::ws_handshake::Limits);
            /// permessage-deflate parameters to offer, or `None` to offer nothing. Default:
            /// offered.
            #[cfg(feature = "deflate")]
            compression(compression: Option<$crate::ws_handshake::permessage_deflate::DeflateConfig>);
            /// Offers no compression.
            no_compression();
            /// Always connects through the proxy at `url` (`http://`, `socks5://`,
            /// `socks5h://`); parsed when connecting.
            proxy_url(url: impl Into<String>);
            /// Whether and which proxy to use: `Direct` (the default), a `Proxy`, or
            /// `FromEnv`.
            proxy(proxy: $crate::ws_handshake::proxy::ProxyConfig);
            /// Reads proxy settings from the environment as curl does (off by default).
            proxy_from_env();
            /// Where the environment proxy reads its variables, instead of the process
            /// environment.
            proxy_env(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static);
            /// How redirects of the opening handshake are followed. Default: up to 5 hops,
            /// never from `wss://` to `ws://`.
            redirects(policy: $crate::ws_handshake::redirect::RedirectPolicy);
            /// Runs `hook` before each redirect is followed, to refuse it or adjust the
            /// request.
            on_redirect(hook: impl Fn(&$crate::ws_handshake::redirect::RedirectHop<'_>)
                -> $crate::ws_handshake::redirect::HopDecision + Send + Sync + 'static);
            /// Follows no redirect: a 3xx answer is an error carrying its status and
            /// `Location`.
            no_redirects();
            /// The TLS library and configuration for `wss://`.
            tls(tls: $crate::tls::TlsConnector);
            /// WebSockets over HTTP/2 (RFC 8441): `Off` (the default), `Prefer` or
            /// `Require`.
            #[cfg(feature = "http2")]
            http2(mode: $crate::http2::Http2);
            /// The pool of HTTP/2 connections to use (shared with other builders).
            #[cfg(feature = "http2")]
            http2_pool(pool: $crate::http2::H2Pool);
        }
    };
    ($($(#[$attr:meta])* $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            $(#[$attr])*
            #[doc = concat!(
                "\n\nThe same as [`ConnectOptions::", stringify!($name),
                "`](ws_client::ConnectOptions::", stringify!($name),
                "), which documents it in full."
            )]
            pub fn $name(self, $($arg: $ty),*) -> Self {
                self.options(|o| o.$name($($arg),*))
            }
        )*
    };
}

/// The setters both roles' options share (each sets the [`OpenSettings`]), written once and
/// used in `impl ConnectOptions` and `impl ServerOptions`.
macro_rules! open_setters {
    () => {
        /// Replaces the whole connection [`Config`], including the close timeout and
        /// keepalive set so far: call it before the finer setters.
        pub fn config(mut self, config: Config) -> Self {
            self.open.config = config;
            self
        }

        /// Largest message accepted, after decompression (`None`: no limit). Default 64 MiB.
        pub fn max_message_size(mut self, max: Option<usize>) -> Self {
            self.open.config.max_message_size = max;
            self
        }

        /// Largest single frame accepted (`None`: no limit). Default 16 MiB.
        pub fn max_frame_size(mut self, max: Option<usize>) -> Self {
            self.open.config.max_frame_size = max;
            self
        }

        /// Bound on the opening handshake (`None`: no bound). Default 10 s. A client counts
        /// TLS and the HTTP upgrade; a server, reading the request and writing the answer.
        pub fn open_timeout(mut self, timeout: Option<Duration>) -> Self {
            self.open.open_timeout = timeout;
            self
        }

        /// Bound on each wait of the closing handshake: for the peer's close frame, then
        /// (a client) for the server to close TCP (`None`: wait forever). Default 10 s.
        pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
            self.open.config.close_timeout = timeout;
            self
        }

        /// Bound on how long a send may wait while the transport takes none of our bytes
        /// (the peer stopped reading): then the connection is dropped with a timeout error
        /// (`Step::Write`). A slow link that keeps taking bytes never trips it. `None`: wait
        /// forever. Default 20 s.
        pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
            self.open.config.write_timeout = timeout;
            self
        }

        /// Sends a ping after `interval` and fails the connection (close code 1011, a
        /// timeout error from `recv`) when no pong arrives within `timeout`. Default
        /// 20 s / 20 s, like Python `websockets`.
        pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
            self.open.config.keepalive = Some(Keepalive { interval, timeout });
            self
        }

        /// Turns keepalive pings off.
        pub fn no_keepalive(mut self) -> Self {
            self.open.config.keepalive = None;
            self
        }

        /// Limits on the peer's handshake head (size, header count).
        pub fn handshake_limits(mut self, limits: Limits) -> Self {
            self.open.limits = limits;
            self
        }

        /// permessage-deflate (RFC 7692): what a client offers, which offers a server
        /// accepts; `None`: no compression. Default: [`DeflateConfig::default`].
        #[cfg(feature = "deflate")]
        pub fn compression(mut self, compression: Option<DeflateConfig>) -> Self {
            self.open.compression = compression;
            self
        }

        /// No compression (same as `compression(None)`; also available without the
        /// `deflate` feature, where it changes nothing).
        pub fn no_compression(mut self) -> Self {
            self.open.no_compression();
            self
        }
    };
}

/// The settings both roles have, with the same defaults: the connection [`Config`] (message
/// and frame limits, close timeout, keepalive), the opening-handshake bound, the head limits
/// and the permessage-deflate configuration.
#[derive(Clone, Debug)]
pub(crate) struct OpenSettings {
    pub(crate) config: Config,
    pub(crate) open_timeout: Option<Duration>,
    pub(crate) limits: Limits,
    #[cfg(feature = "deflate")]
    pub(crate) compression: Option<DeflateConfig>,
}

impl OpenSettings {
    /// The defaults listed in the [module docs](self).
    fn new() -> Self {
        OpenSettings {
            config: Config::default(),
            open_timeout: Some(DEFAULT_OPEN_TIMEOUT),
            limits: Limits::default(),
            #[cfg(feature = "deflate")]
            compression: Some(DeflateConfig::default()),
        }
    }

    /// No compression (without the `deflate` feature there is none anyway).
    fn no_compression(&mut self) {
        #[cfg(feature = "deflate")]
        {
            self.compression = None;
        }
    }
}

/// One extra request header, in the order the user added it.
#[derive(Clone)]
enum HeaderLine {
    /// `name: value`; `sensitive` marks a value to hide from `Debug` whatever its name,
    /// `portable` one that may follow a redirect to another origin.
    Pair {
        name: String,
        value: String,
        sensitive: bool,
        portable: bool,
    },
    Raw(String),
}

/// Header names are shown; values of sensitive headers (by [`is_sensitive_header`], or
/// marked with [`ConnectOptions::sensitive_header`]) are replaced by [`REDACTED`].
impl fmt::Debug for HeaderLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderLine::Pair {
                name,
                value,
                sensitive,
                ..
            } => {
                let shown = if *sensitive || is_sensitive_header(name) {
                    REDACTED
                } else {
                    value
                };
                f.debug_tuple("Header").field(name).field(&shown).finish()
            }
            HeaderLine::Raw(line) => {
                let shown = match line.split_once(':') {
                    Some((name, _)) if is_sensitive_header(name) => format!("{name}: {REDACTED}"),
                    Some(_) => line.clone(),
                    None if is_sensitive_header(line) => REDACTED.to_owned(),
                    None => line.clone(),
                };
                f.debug_tuple("RawHeader").field(&shown).finish()
            }
        }
    }
}

/// Looks an environment variable up, for [`ProxyConfig::FromEnv`].
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The proxy setting as the user gave it.
#[derive(Clone)]
enum ProxySetting {
    Config(ProxyConfig),
    /// A proxy URL, parsed when connecting (so that the builder stays infallible).
    Url(String),
}

/// Hides passwords: a proxy URL is shown with its password replaced (see [`redact_url`]).
impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Config(c) => fmt::Debug::fmt(c, f),
            ProxySetting::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
        }
    }
}

/// How to open a client WebSocket: URL, request headers, limits, timeouts, keepalive,
/// compression, proxy and redirects. Runtime-neutral: the runtime crates' `connect_with` take it as is.
///
/// ```
/// use std::time::Duration;
/// use ws_client::options::ConnectOptions;
///
/// let options = ConnectOptions::new("wss://example.com/feed")
///     .header("Authorization", "Bearer abc")
///     .subprotocol("v2.feed")
///     .max_message_size(Some(1 << 20))
///     .open_timeout(Some(Duration::from_secs(5)))
///     .keepalive(Duration::from_secs(30), Duration::from_secs(10));
/// assert_eq!(options.url(), "wss://example.com/feed");
/// ```
///
/// `Debug` output can be logged: it shows header names but not the values of sensitive
/// headers (see [`ws_handshake::is_sensitive_header`] and
/// [`sensitive_header`](Self::sensitive_header)), and no password of the URL or the proxy
/// URL.
///
/// ```
/// use ws_client::options::ConnectOptions;
///
/// let options = ConnectOptions::new("wss://user:pw1@example.com/feed")
///     .header("Authorization", "Bearer abc")
///     .sensitive_header("X-Signature", "xyz");
/// let shown = format!("{options:?}");
/// assert!(shown.contains("Authorization") && shown.contains("X-Signature"));
/// assert!(!shown.contains("abc") && !shown.contains("xyz") && !shown.contains("pw1"));
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    url: String,
    headers: Vec<HeaderLine>,
    origin: Option<String>,
    subprotocols: Vec<String>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) open: OpenSettings,
    proxy: ProxySetting,
    env: Option<EnvLookupDebug>,
    redirects: RedirectPolicy,
    redirect_hook: Option<RedirectHook>,
    tls: TlsConnector,
    /// Whether [`DEFAULT_USER_AGENT`](ws_handshake::DEFAULT_USER_AGENT) is sent when no
    /// `User-Agent` header is given.
    default_user_agent: bool,
    #[cfg(feature = "http2")]
    http2: crate::http2::Http2,
    /// Shared by clones: the "pool per options" of the docs.
    #[cfg(feature = "http2")]
    h2_pool: crate::http2::H2Pool,
}

/// An [`EnvLookup`] that can be `Debug`.
#[derive(Clone)]
struct EnvLookupDebug(EnvLookup);

impl fmt::Debug for EnvLookupDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fn(&str) -> Option<String>")
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnectOptions");
        d.field("url", &redact_url(&self.url))
            .field("headers", &self.headers)
            .field("origin", &self.origin)
            .field("subprotocols", &self.subprotocols)
            .field("connect_timeout", &self.connect_timeout)
            .field("open", &self.open)
            .field("proxy", &self.proxy)
            .field("env", &self.env)
            .field("redirects", &self.redirects)
            .field("redirect_hook", &self.redirect_hook.is_some())
            .field("tls", &self.tls)
            .field("default_user_agent", &self.default_user_agent);
        #[cfg(feature = "http2")]
        d.field("http2", &self.http2)
            .field("h2_pool", &self.h2_pool);
        d.finish()
    }
}

impl ConnectOptions {
    /// Options for `url` (`ws://` or `wss://`) with the defaults listed in the
    /// [module docs](self).
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            headers: Vec::new(),
            origin: None,
            subprotocols: Vec::new(),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            open: OpenSettings::new(),
            proxy: ProxySetting::Config(ProxyConfig::Direct),
            env: None,
            redirects: RedirectPolicy::DEFAULT,
            redirect_hook: None,
            tls: TlsConnector::default(),
            default_user_agent: true,
            #[cfg(feature = "http2")]
            http2: crate::http2::Http2::Off,
            #[cfg(feature = "http2")]
            h2_pool: crate::http2::H2Pool::new(),
        }
    }

    /// Adds a request header `name: value`. Headers the handshake owns (`Host`, `Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`) are refused when the request is built. A
    /// `User-Agent` header (any case, also through the other header setters) replaces the
    /// default [`DEFAULT_USER_AGENT`](ws_handshake::DEFAULT_USER_AGENT); given several
    /// times, the last one is sent.
    ///
    /// `Debug` output shows the name; it hides the value when the name is sensitive by
    /// [`ws_handshake::is_sensitive_header`] (`Authorization`, `Cookie`, names with
    /// `token`, `secret`, `api-key`, ...). For other secrets use
    /// [`sensitive_header`](Self::sensitive_header).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(HeaderLine::Pair {
            name: name.into(),
            value: value.into(),
            sensitive: false,
            portable: false,
        });
        self
    }

    /// Adds a request header `name: value` whose value is a secret: sent exactly like
    /// [`header`](Self::header), but `Debug` output never shows the value (whatever the
    /// name), only the name.
    pub fn sensitive_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(HeaderLine::Pair {
            name: name.into(),
            value: value.into(),
            sensitive: true,
            portable: false,
        });
        self
    }

    /// Adds a request header that may follow a redirect to another origin (scheme, host or
    /// port). Headers added with [`header`](Self::header) reach only the URL's own origin:
    /// on a redirect elsewhere they are dropped, as any of them may be a credential (see
    /// [`redirects`](Self::redirects)). Never use this for credentials.
    pub fn portable_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(HeaderLine::Pair {
            name: name.into(),
            value: value.into(),
            sensitive: false,
            portable: true,
        });
        self
    }

    /// Adds a raw header line `"Name: value"` (no CR/LF), e.g. as typed on a command line.
    pub fn raw_header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(HeaderLine::Raw(line.into()));
        self
    }

    /// Sets the `Origin` header (browsers send it; some servers require it).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sends no default `User-Agent` (by default the request carries
    /// `User-Agent: aiowebsocket/<version>`,
    /// [`DEFAULT_USER_AGENT`](ws_handshake::DEFAULT_USER_AGENT), on every redirect hop). A
    /// `User-Agent` added with [`header`](Self::header) and the like is still sent; without
    /// one the request has no `User-Agent` line. The HTTP `CONNECT` to a proxy never carries
    /// one.
    ///
    /// ```
    /// use ws_client::options::ConnectOptions;
    ///
    /// let sent = |o: ConnectOptions| o.build_request().unwrap().as_bytes().to_vec();
    /// let default = sent(ConnectOptions::new("ws://example.com/"));
    /// assert!(String::from_utf8_lossy(&default).contains("\r\nUser-Agent: aiowebsocket/"));
    /// let none = sent(ConnectOptions::new("ws://example.com/").no_user_agent());
    /// assert!(!String::from_utf8_lossy(&none).contains("User-Agent"));
    /// ```
    pub fn no_user_agent(mut self) -> Self {
        self.default_user_agent = false;
        self
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); repeat for several, most preferred
    /// first. The server's choice is [`WebSocket::subprotocol`](crate::stream::WebSocket::subprotocol).
    pub fn subprotocol(mut self, proto: impl Into<String>) -> Self {
        self.subprotocols.push(proto.into());
        self
    }

    open_setters!();

    /// Bound on DNS resolution + TCP connect (`None`: no bound). Default 10 s.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether and which proxy to use: [`ProxyConfig::Direct`] (the default),
    /// [`ProxyConfig::Proxy`] (always that one, e.g. `Proxy::parse("socks5h://host:1080")?`)
    /// or [`ProxyConfig::FromEnv`] (see [`proxy_from_env`](Self::proxy_from_env)).
    ///
    /// Through a proxy the flow is: TCP to the proxy (connect timeout), the tunnel (HTTP
    /// `CONNECT` or SOCKS5), then TLS to the target host for `wss://` (the server name is
    /// the target's, never the proxy's) and the WebSocket handshake, all three bounded by
    /// the open timeout.
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = ProxySetting::Config(proxy);
        self
    }

    /// Always uses the proxy at `url` (`http://[user:pass@]host:port`, `socks5://...`,
    /// `socks5h://...`, or `host:port` for HTTP; see [`Proxy::parse`]). The URL is parsed
    /// when connecting: an invalid one fails then with a proxy configuration error.
    pub fn proxy_url(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Chooses the proxy from the environment for every connection (and every redirect
    /// hop), as curl does: `https_proxy` / `HTTPS_PROXY` for `wss://`, `http_proxy` /
    /// `HTTP_PROXY` for `ws://`, then `all_proxy` / `ALL_PROXY`, and `no_proxy` /
    /// `NO_PROXY` to bypass it (see [`Proxy::from_env_for`]).
    ///
    /// Opt-in: without this call the environment is never read. The variables are read
    /// from the process environment when connecting, unless [`proxy_env`](Self::proxy_env)
    /// gives another source.
    pub fn proxy_from_env(self) -> Self {
        self.proxy(ProxyConfig::FromEnv)
    }

    /// Where [`ProxyConfig::FromEnv`] reads its variables: `lookup(name)` instead of the
    /// process environment (for tests, or settings kept elsewhere). Does not turn the
    /// environment proxy on by itself.
    pub fn proxy_env<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        self.env = Some(EnvLookupDebug(Arc::new(lookup)));
        self
    }

    /// How redirects of the opening handshake (301, 302, 303, 307, 308) are followed.
    /// Default [`RedirectPolicy::DEFAULT`]: up to 5 hops. Each hop is a new connection
    /// (proxy chosen again for the new host). To the same origin the request is sent again
    /// whole; to another origin (scheme, host or port) only `User-Agent`, `Origin` and
    /// [`portable_header`](Self::portable_header)s follow, and subprotocols only with
    /// [`RedirectPolicy::keep_subprotocols`]: no credential reaches a host it was not given
    /// for. `wss://` to `ws://` is always refused.
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = policy;
        self
    }

    /// Runs `hook` before each redirect is followed: it sees the status, where from and
    /// where to, whether the origin changes and the request that will be sent, and returns
    /// [`HopDecision::Follow`], [`HopDecision::FollowWith`] an adjusted request (e.g. a
    /// credential for the new host) or [`HopDecision::Refuse`] (the connection then fails
    /// with `HandshakeError::Redirect(RedirectError::RefusedByHook { .. })`).
    pub fn on_redirect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&RedirectHop<'_>) -> HopDecision + Send + Sync + 'static,
    {
        self.redirect_hook = Some(Arc::new(hook));
        self
    }

    /// The hook set with [`on_redirect`](Self::on_redirect).
    pub fn redirect_hook(&self) -> Option<&RedirectHook> {
        self.redirect_hook.as_ref()
    }

    /// The TLS library and configuration for `wss://` (and for every redirect hop):
    /// [`TlsConnector::native_tls`], [`TlsConnector::rustls`], or the build's default
    /// ([`TlsConnector::default`]: rustls when compiled in, else native-tls, with the
    /// system's trust roots).
    pub fn tls(mut self, tls: TlsConnector) -> Self {
        self.tls = tls;
        self
    }

    /// The TLS settings set with [`tls`](Self::tls) (the default connector if none was).
    pub fn tls_connector(&self) -> &TlsConnector {
        &self.tls
    }

    /// WebSockets over HTTP/2 (RFC 8441, feature `http2`): [`Http2::Off`](crate::http2::Http2::Off)
    /// (the default: HTTP/1.1, and no ALPN is sent), [`Http2::Prefer`](crate::http2::Http2::Prefer)
    /// (HTTP/2 when a `wss://` server agrees, else HTTP/1.1; `ws://` stays HTTP/1.1) or
    /// [`Http2::Require`](crate::http2::Http2::Require) (HTTP/2 or a typed error; on `ws://`,
    /// h2c with prior knowledge). The table in [`Http2`](crate::http2::Http2) has the details.
    ///
    /// Over HTTP/2, WebSockets to the same origin (through the same proxy, with the same
    /// TLS settings) share one connection from the options' [`H2Pool`](crate::http2::H2Pool),
    /// which clones of these options share too.
    #[cfg(feature = "http2")]
    pub fn http2(mut self, mode: crate::http2::Http2) -> Self {
        self.http2 = mode;
        self
    }

    /// Uses `pool` for the HTTP/2 connections (feature `http2`) instead of the options' own:
    /// give the same pool to several options (different URLs, headers or builders) so that
    /// their WebSockets share connections.
    #[cfg(feature = "http2")]
    pub fn http2_pool(mut self, pool: crate::http2::H2Pool) -> Self {
        self.h2_pool = pool;
        self
    }

    /// The HTTP/2 choice set with [`http2`](Self::http2).
    #[cfg(feature = "http2")]
    pub fn http2_mode(&self) -> crate::http2::Http2 {
        self.http2
    }

    /// The pool of HTTP/2 connections (the options' own unless
    /// [`http2_pool`](Self::http2_pool) gave one).
    #[cfg(feature = "http2")]
    pub fn h2_pool(&self) -> &crate::http2::H2Pool {
        &self.h2_pool
    }

    /// Follows no redirect: a 3xx answer fails with `HandshakeError::Redirect`, which
    /// carries the status and `Location`.
    pub fn no_redirects(self) -> Self {
        self.redirects(RedirectPolicy::NONE)
    }

    /// The redirect policy.
    pub fn redirect_policy(&self) -> RedirectPolicy {
        self.redirects
    }

    /// The proxy a connection to `target` goes through (`None`: directly), as the connect
    /// flow will choose it: parses a [`proxy_url`](Self::proxy_url), consults the
    /// environment for [`proxy_from_env`](Self::proxy_from_env).
    pub fn proxy_for(&self, target: &Target) -> Result<Option<Proxy>, Error> {
        let config = match &self.proxy {
            ProxySetting::Config(c) => c,
            ProxySetting::Url(url) => return Ok(Some(Proxy::parse(url)?)),
        };
        let lookup = |name: &str| match &self.env {
            Some(env) => (env.0)(name),
            None => std::env::var(name).ok(),
        };
        Ok(config.resolve_for(&target.host, target.port, target.secure, lookup)?)
    }

    /// The URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection config the `WebSocket` will run with (before compression is
    /// negotiated).
    pub fn connection_config(&self) -> &Config {
        &self.open.config
    }

    /// A [`RequestBuilder`] carrying the URL, headers, Origin, subprotocols, the
    /// compression offer and the `User-Agent` choice: the seam for callers that need to
    /// adjust the request (e.g. a redirect to another URL).
    pub fn request_builder(&self) -> Result<RequestBuilder, Error> {
        self.request_builder_for(&self.url)
    }

    /// Like [`request_builder`](Self::request_builder) for another URL (a redirect target).
    pub fn request_builder_for(&self, url: &str) -> Result<RequestBuilder, Error> {
        let mut builder = RequestBuilder::new(url)?;
        for line in &self.headers {
            builder = match line {
                HeaderLine::Pair {
                    name,
                    value,
                    portable: false,
                    ..
                } => builder.header(name.clone(), value.clone()),
                HeaderLine::Pair { name, value, .. } => {
                    builder.portable_header(name.clone(), value.clone())
                }
                HeaderLine::Raw(raw) => builder.raw_header(raw.clone()),
            };
        }
        if let Some(origin) = &self.origin {
            builder = builder.origin(origin.clone());
        }
        if !self.default_user_agent {
            builder = builder.no_user_agent();
        }
        for proto in &self.subprotocols {
            builder = builder.subprotocol(proto.clone());
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.open.compression {
            builder = builder.extensions(deflate.offer());
        }
        Ok(builder)
    }

    /// Builds the opening request (with a fresh random key).
    pub fn build_request(&self) -> Result<ClientRequest, Error> {
        Ok(self.request_builder()?.build()?)
    }
}

/// A hook that inspects an opening request and may refuse it with an HTTP status and a
/// reason (sent as the response body), e.g. `Err((403, "origin not allowed".into()))`.
pub type RequestCheck = Arc<dyn Fn(&Request) -> Result<(), (u16, String)> + Send + Sync>;

/// How our server role accepts a WebSocket: supported subprotocols, a request check,
/// compression, limits and timeouts.
///
/// ```
/// use ws_client::options::ServerOptions;
///
/// let options = ServerOptions::new()
///     .subprotocol("chat.v2")
///     .check(|req| match req.header("origin") {
///         Some("https://example.com") | None => Ok(()),
///         Some(_) => Err((403, "origin not allowed".into())),
///     });
/// assert_eq!(options.subprotocols(), ["chat.v2"]);
/// ```
#[derive(Clone)]
pub struct ServerOptions {
    pub(crate) subprotocols: Vec<String>,
    pub(crate) check: Option<RequestCheck>,
    pub(crate) open: OpenSettings,
    /// WebSockets one HTTP/2 connection may carry at once (`H2Server`).
    #[cfg(feature = "http2")]
    pub(crate) http2_max_streams: u32,
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("subprotocols", &self.subprotocols)
            .field("check", &self.check.as_ref().map(|_| "Fn(&Request)"))
            .field("open", &self.open)
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerOptions {
    /// Server options with the same defaults as [`ConnectOptions`]: 10 s open and close
    /// timeouts, keepalive 20 s / 20 s, permessage-deflate accepted (feature `deflate`), no
    /// subprotocol, no request check.
    pub fn new() -> Self {
        ServerOptions {
            subprotocols: Vec::new(),
            check: None,
            open: OpenSettings::new(),
            #[cfg(feature = "http2")]
            http2_max_streams: crate::http2::DEFAULT_SERVER_MAX_STREAMS,
        }
    }

    /// Adds a supported subprotocol. When the client offers several, the first one in
    /// the server's order (the order of these calls) that the client offered is chosen.
    pub fn subprotocol(mut self, proto: impl Into<String>) -> Self {
        self.subprotocols.push(proto.into());
        self
    }

    /// Sets a request check, called after the request is validated. `Err((status,
    /// reason))` refuses the upgrade with that HTTP status; `accept` then fails with a
    /// handshake error naming the status.
    pub fn check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Request) -> Result<(), (u16, String)> + Send + Sync + 'static,
    {
        self.check = Some(Arc::new(check));
        self
    }

    open_setters!();

    /// The supported subprotocols, in preference order.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The request check, if any.
    pub fn request_check(&self) -> Option<&RequestCheck> {
        self.check.as_ref()
    }

    /// The connection config.
    pub fn connection_config(&self) -> &Config {
        &self.open.config
    }

    /// How many WebSockets one HTTP/2 connection of an
    /// [`H2Server`](crate::http2::H2Server) may carry at once (feature `http2`; its
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`, default
    /// [`DEFAULT_SERVER_MAX_STREAMS`](crate::http2::DEFAULT_SERVER_MAX_STREAMS), 256). A
    /// client past it waits for a stream or opens another connection.
    #[cfg(feature = "http2")]
    pub fn http2_max_streams(mut self, max: u32) -> Self {
        self.http2_max_streams = max;
        self
    }

    /// The limit set with [`http2_max_streams`](Self::http2_max_streams).
    #[cfg(feature = "http2")]
    pub fn http2_max_streams_per_connection(&self) -> u32 {
        self.http2_max_streams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One set of defaults: both roles' options start from `Config::default()`, keepalive
    /// included, so `.config(Config::default())` changes nothing.
    #[test]
    fn both_roles_use_the_connection_defaults() {
        let defaults = format!("{:?}", Config::default());
        let client = ConnectOptions::new("ws://h/");
        let server = ServerOptions::new();
        assert_eq!(format!("{:?}", client.connection_config()), defaults);
        assert_eq!(format!("{:?}", server.connection_config()), defaults);
        let again = client.clone().config(Config::default());
        assert_eq!(format!("{:?}", again.connection_config()), defaults);
        assert!(Config::default().keepalive.is_some());
    }
}
