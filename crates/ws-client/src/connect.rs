//! The client connect flow, written once for every runtime.
//!
//! ```text
//! ConnectOptions ──request_builder──▶ ClientRequest (URL → host, port, ws/wss)
//!   │
//!   │  ┌─────────────────────────── for each redirect hop (RedirectChain) ───────────┐
//!   ├─▶│ open_transport: proxy = options.proxy_for(target)      (none / explicit / env)│
//!   │  │   direct:  resolve + connect_tcp(target)    (connect timeout, Step::Connect)  │
//!   │  │   proxied: resolve + connect_tcp(proxy)     (connect timeout, Step::Connect)  │
//!   │  │            tunnel: ProxyHandshake to Done   (open timeout,    Step::Proxy)    │
//!   │  │            [Runtime::resolve first for socks5://]                             │
//!   │  │   TlsConnect::connect(target host) for wss  (open timeout,    Step::Tls)      │
//!   │  │ client handshake: HTTP upgrade              (open timeout,    Step::Handshake)│
//!   │  │   101 ──▶ done                                                                │
//!   │  │   3xx ──▶ RedirectChain::follow_response ──▶ RequestBuilder::redirect         │
//!   │  │           ──▶ on_redirect hook (veto / adjust) ──▶ hop                        │
//!   │  └───────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Runtime crates call [`connect`] with their [`Runtime`], which gives DNS, TCP and time;
//! TLS comes from the options' [`TlsConnector`](crate::tls::TlsConnector) (or any [`TlsConnect`], with
//! [`connect_via`]) over the runtime's TCP stream. [`connect_on`] runs the
//! handshake over a stream the user opened (a Unix socket, a tunnel of their own, an
//! in-memory pipe). Each hop gets its own connect and open timeouts.
//!
//! A name that resolves to several addresses is connected Happy Eyeballs style (RFC 8305):
//! the addresses interleaved by family, a new attempt started every 250 ms (or as soon as
//! one fails) while the earlier ones go on, the first to connect kept; the connect timeout
//! bounds the whole race.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use ws_handshake::proxy::{Progress, Proxy, ProxyError, TargetAddr};
use ws_handshake::redirect::{self, RedirectChain, RedirectHop};
use ws_handshake::{ClientRequest, Limits, Response, Target};

use crate::error::{Error, Step};
use crate::handshake::{client_handshake, client_handshake_step, Handshake};
#[cfg(feature = "http2")]
use crate::http2::Hop;
use crate::io::{authority, read, with_timeout, write_all, Limit};
use crate::options::ConnectOptions;
use crate::rt::{BoxFuture, Runtime, Sleep, Timer};
use crate::stream::WebSocket;
use crate::tls::{MaybeTlsStream, TlsConnect};
use crate::trace;

/// Bytes read per call from a proxy during the tunnel handshake.
const PROXY_READ: usize = 1024;

/// Addresses named in a TCP connect error (when a name resolved to several).
const SHOWN_ADDRS: usize = 4;

/// How long a TCP connect attempt to one address of a name runs alone before the next
/// address is tried alongside it: RFC 8305 §5's "Connection Attempt Delay" (its
/// recommended default). A host whose first address drops packets (broken IPv6 is common)
/// then costs this much, not the whole connect timeout.
const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Opens a WebSocket as `options` say: resolves the host and connects TCP (bounded by the
/// connect timeout), opens the proxy tunnel if a proxy applies, runs TLS for `wss://` and
/// the opening handshake (the tunnel, TLS and handshake together bounded by the open
/// timeout), follows redirects as the options'
/// [`RedirectPolicy`](ws_handshake::redirect::RedirectPolicy) allows (each hop a new
/// connection with fresh timeouts), and returns the open [`WebSocket`] with the server's
/// handshake response.
///
/// Errors name the step and the address ([`Error::step`], [`Error::target`]), and say what
/// to check: an [`ErrorKind::Io`](crate::ErrorKind::Io) for a failed DNS lookup ([`Step::Dns`]), TCP connect
/// ([`Step::Connect`]; through a proxy the address is the proxy's), tunnel I/O
/// ([`Step::Proxy`]), TLS ([`Step::Tls`], [`Error::is_tls`]) or HTTP upgrade I/O
/// ([`Step::Handshake`]); an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) with the step, the limit and the
/// address; and [`ErrorKind::Handshake`](crate::ErrorKind::Handshake) for a bad URL, a proxy refusal ([`Error::is_proxy`],
/// [`Error::http_status`]), a redirect that is not followed ([`Error::is_redirect`]) or an
/// unacceptable response.
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect<R: Runtime>(
    rt: &R,
    options: &ConnectOptions,
) -> Result<(WebSocket<MaybeTlsStream<R::Tcp>>, Response), Error> {
    connect_with_request(rt, options)
        .await
        .map(|(ws, response, _)| (ws, response))
}

/// An open WebSocket over `S`, the server's response and the request that was sent.
pub type Opened<S> = (WebSocket<S>, Response, ClientRequest);

/// The WebSocket [`connect`] opens on runtime `R`.
pub type RuntimeWebSocket<R> = WebSocket<MaybeTlsStream<<R as Runtime>::Tcp>>;

/// [`connect`], also returning the upgrade request that was sent, byte for byte
/// ([`ClientRequest::as_bytes`]), with its real `Sec-WebSocket-Key`: the request of the
/// last hop when redirects were followed (its [`url`](ClientRequest::url) is where the
/// WebSocket was opened). For logging and `-v` style output.
///
/// Over HTTP/2 (feature `http2`) no such request goes on the wire: the one returned is the
/// HTTP/1.1 form of the last hop, and the response's
/// [`http_version`](Response::http_version) is `Http2`; the extended CONNECT that was sent
/// is `RequestBuilder::build_h2` of the same settings.
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect_with_request<R: Runtime>(
    rt: &R,
    options: &ConnectOptions,
) -> Result<(RuntimeWebSocket<R>, Response, ClientRequest), Error> {
    connect_via(rt, options.tls_connector(), options).await
}

/// [`connect_with_request`] with another TLS implementation than the options'
/// [`TlsConnector`](crate::tls::TlsConnector): any [`TlsConnect`] over the runtime's TCP stream.
///
/// # Cancel safety
/// Dropping the future abandons the attempt and closes whatever was opened.
pub async fn connect_via<R, T>(
    rt: &R,
    tls: &T,
    options: &ConnectOptions,
) -> Result<Opened<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let builder = options.request_builder()?;
    let request = builder.clone().build()?;
    #[cfg(feature = "tracing")]
    let span = {
        let tls_name = if request.target().secure {
            tls.name()
        } else {
            "none"
        };
        trace::connection_span(request.url().as_str(), Some(R::NAME), Some(tls_name))
    };
    let flow = connect_hops(rt, tls, options, builder, request);
    #[cfg(feature = "tracing")]
    let flow = tracing::Instrument::instrument(flow, span.clone());
    match flow.await {
        #[allow(unused_mut)]
        Ok((mut ws, response, request)) => {
            #[cfg(feature = "tracing")]
            ws.set_span(span);
            Ok((ws, response, request))
        }
        Err(e) => {
            trace::debug!(in &span, step = ?e.step(), error = %trace::error(&e), "connect failed");
            Err(e)
        }
    }
}

/// The hops of [`connect_via`]: connect, handshake, and again for each redirect followed.
async fn connect_hops<R, T>(
    rt: &R,
    tls: &T,
    options: &ConnectOptions,
    mut builder: ws_handshake::RequestBuilder,
    mut request: ClientRequest,
) -> Result<Opened<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let mut chain = RedirectChain::new(request.url().clone(), options.redirect_policy());
    let timer = rt.timer();
    loop {
        #[cfg(feature = "http2")]
        let hop = match crate::http2::mode_for(options, request.target()) {
            // Boxed: the h2 steps' state is large, and HTTP/1.1 connects should not carry
            // it in their future (debug builds keep futures on small thread stacks).
            Some(mode) => {
                Box::pin(crate::http2::open_hop(
                    rt, tls, options, &builder, &request, &timer, mode,
                ))
                .await?
            }
            None => Hop::Http1(open_transport(rt, tls, request.target(), options, &timer).await?),
        };
        #[cfg(not(feature = "http2"))]
        let hop = open_transport(rt, tls, request.target(), options, &timer).await?;
        let handshake = match hop {
            #[cfg(feature = "http2")]
            Hop::Done(handshake) => handshake,
            #[cfg(feature = "http2")]
            Hop::Http1(transport) => http1_handshake(transport, &request, options, &timer).await?,
            #[cfg(not(feature = "http2"))]
            transport => http1_handshake(transport, &request, options, &timer).await?,
        };
        match handshake {
            Handshake::Open(ws, response) => return Ok((ws, response, request)),
            Handshake::Redirect(response) => {
                let next = chain.follow_response(&response)?.clone();
                builder = builder.redirect(next.clone(), &chain.policy())?;
                if let Some(hook) = options.redirect_hook() {
                    let hop = RedirectHop::new(response.status(), request.url(), &next, &builder);
                    if let Some(adjusted) = redirect::decide(hook, &hop)? {
                        builder = adjusted;
                    }
                }
                request = builder.clone().build()?;
                trace::debug!(
                    status = response.status(),
                    to = %trace::url(request.url().as_str()),
                    hop = chain.hops(),
                    "following a redirect"
                );
                #[cfg(feature = "tracing")]
                if request.target().secure {
                    tracing::Span::current().record("tls", tls.name());
                }
            }
        }
    }
}

/// The HTTP/1.1 upgrade over `transport`, bounded by what is left of the open timeout.
async fn http1_handshake<S>(
    transport: Transport<S>,
    request: &ClientRequest,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
) -> Result<Handshake<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let left = remaining(options.open.open_timeout, transport.opened_at, timer.now());
    let limit = Limit {
        left,
        configured: options.open.open_timeout,
    };
    client_handshake_step(
        transport.stream,
        request,
        options,
        Some(timer.clone()),
        limit,
        transport.early_data,
    )
    .await
}

/// Runs the opening handshake for `options` over a stream the caller connected (TLS
/// already done if the URL is `wss://`). The URL still gives the `Host` header and path.
/// The handshake is bounded by the open timeout when a `timer` is given.
///
/// Proxy settings do not apply (the caller chose the stream), and redirects cannot be
/// followed (that needs new connections): a 3xx fails with `HandshakeError::Redirect`.
///
/// # Cancel safety
/// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the stream.
pub async fn connect_on<S>(
    stream: S,
    options: &ConnectOptions,
    timer: Option<Arc<dyn Timer>>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = options.build_request()?;
    #[cfg(feature = "tracing")]
    let span = trace::connection_span(request.url().as_str(), None, None);
    let handshake = client_handshake(stream, request, options, timer);
    #[cfg(feature = "tracing")]
    let handshake = tracing::Instrument::instrument(handshake, span.clone());
    match handshake.await {
        #[allow(unused_mut)]
        Ok((mut ws, response)) => {
            #[cfg(feature = "tracing")]
            ws.set_span(span);
            Ok((ws, response))
        }
        Err(e) => {
            trace::debug!(in &span, step = ?e.step(), error = %trace::error(&e), "connect failed");
            Err(e)
        }
    }
}

/// An open transport to a target, ready for the WebSocket handshake: what
/// [`open_transport`] returns.
#[non_exhaustive]
pub struct Transport<S> {
    /// The stream: plain or TLS, directly or through a proxy tunnel.
    pub stream: S,
    /// When TCP was connected: the open timeout runs from here.
    pub opened_at: Instant,
    /// Bytes the proxy sent after its answer, before anything was sent through the tunnel:
    /// they belong to the stream and must be read before it (only for plain `ws://`;
    /// through TLS such bytes are refused). Almost always empty.
    pub early_data: Vec<u8>,
    /// The proxy the tunnel goes through, if any.
    pub proxy: Option<Proxy>,
}

impl<S> fmt::Debug for Transport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("opened_at", &self.opened_at)
            .field("early_data", &self.early_data.len())
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// Opens the transport to `target`: TCP (bounded by the connect timeout) to the target or,
/// when [`ConnectOptions::proxy_for`] names a proxy, to the proxy and then a tunnel through
/// it; then TLS to `target.host` with `tls` when `target.secure`. The tunnel and TLS are
/// bounded by the open timeout, which runs from [`Transport::opened_at`].
pub async fn open_transport<R, T>(
    rt: &R,
    tls: &T,
    target: &Target,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
) -> Result<Transport<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    open_transport_alpn(rt, tls, target, options, timer, &[]).await
}

/// [`open_transport`] offering the application protocols `alpn` in TLS (none: no ALPN
/// extension, what WebSockets over HTTP/1.1 send).
pub(crate) async fn open_transport_alpn<R, T>(
    rt: &R,
    tls: &T,
    target: &Target,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
    alpn: &[&[u8]],
) -> Result<Transport<MaybeTlsStream<R::Tcp, T::Stream>>, Error>
where
    R: Runtime,
    T: TlsConnect<R::Tcp>,
{
    let proxy = options.proxy_for(target)?;
    let (tcp, opened_at, early_data) = match &proxy {
        None => {
            let tcp = connect_tcp(rt, &target.host, target.port, None, options, timer).await?;
            (tcp, timer.now(), Vec::new())
        }
        Some(proxy) => {
            let tcp =
                connect_tcp(rt, proxy.host(), proxy.port(), Some(proxy), options, timer).await?;
            let opened_at = timer.now();
            let tunnel = open_tunnel(rt, tcp, proxy, target, options.open.limits);
            let proxy_addr = authority(proxy.host(), proxy.port());
            let (tcp, rest) = with_timeout(
                tunnel,
                Some(timer),
                Limit::whole(options.open.open_timeout),
                Step::Proxy,
                Some(&proxy_addr),
            )
            .await?;
            trace::debug!(
                proxy = %proxy_addr,
                scheme = %proxy.scheme(),
                target = %authority(&target.host, target.port),
                "proxy tunnel open"
            );
            (tcp, opened_at, rest)
        }
    };
    if !target.secure {
        let stream = MaybeTlsStream::Plain(tcp);
        return Ok(Transport {
            stream,
            opened_at,
            early_data,
            proxy,
        });
    }
    if let (false, Some(proxy)) = (early_data.is_empty(), &proxy) {
        // A TLS server never speaks first: these bytes cannot come from the target.
        return Err(Error::from(ProxyError::Protocol {
            scheme: proxy.scheme(),
            reason: format!(
                "it sent {} byte(s) after opening the tunnel, before TLS started, which no TLS \
                 server does",
                early_data.len()
            ),
        }));
    }
    let left = remaining(options.open.open_timeout, opened_at, timer.now());
    let addr = authority(&target.host, target.port);
    let session = async {
        tls.connect(&target.host, alpn, tcp)
            .await
            .map_err(|e| e.into_tls_failure(&addr))
    };
    let limit = Limit {
        left,
        configured: options.open.open_timeout,
    };
    let stream = with_timeout(session, Some(timer), limit, Step::Tls, Some(&addr)).await?;
    Ok(Transport {
        stream: MaybeTlsStream::Tls(stream),
        opened_at,
        early_data: Vec::new(),
        proxy,
    })
}

/// DNS + TCP connect to the target or the proxy, bounded by the connect timeout, with the
/// step and the address in the error.
async fn connect_tcp<R: Runtime>(
    rt: &R,
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    options: &ConnectOptions,
    timer: &Arc<dyn Timer>,
) -> Result<R::Tcp, Error> {
    let addr = authority(host, port);
    let attempt = resolve_and_connect(rt, host, port, proxy, &addr, timer);
    with_timeout(
        attempt,
        Some(timer),
        Limit::whole(options.connect_timeout),
        Step::Connect,
        Some(&addr),
    )
    .await
}

/// Resolves `host` with [`Runtime::resolve`] (so that a failed lookup is told apart from a
/// refused connection) and races its addresses ([`race`], Happy Eyeballs). An IP literal
/// skips the lookup.
async fn resolve_and_connect<R: Runtime>(
    rt: &R,
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    addr: &str,
    timer: &Arc<dyn Timer>,
) -> Result<R::Tcp, Error> {
    let ips = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match rt.resolve(host).await {
            Ok(ips) if ips.is_empty() => {
                let e = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
                return Err(dns_error(host, proxy, e));
            }
            Ok(ips) => {
                trace::debug!(host, addresses = ?ips, proxy = proxy.is_some(), "DNS resolved");
                interleave_families(ips)
            }
            Err(e) => return Err(dns_error(host, proxy, e)),
        },
    };
    race(rt, &ips, port, timer)
        .await
        .map_err(|failures| tcp_error(addr, proxy, port, failures))
}

/// Orders resolved addresses as RFC 8305 §4 says: the family of the first address first,
/// then alternating IPv6 and IPv4, each family in the order it was returned; what is left
/// of the longer family comes last.
fn interleave_families(ips: Vec<IpAddr>) -> Vec<IpAddr> {
    let first_is_v6 = ips.first().is_some_and(IpAddr::is_ipv6);
    let (first, second): (Vec<IpAddr>, Vec<IpAddr>) =
        ips.into_iter().partition(|ip| ip.is_ipv6() == first_is_v6);
    let mut ordered = Vec::with_capacity(first.len() + second.len());
    let (mut first, mut second) = (first.into_iter(), second.into_iter());
    loop {
        match (first.next(), second.next()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to one of `ips` on `port`, Happy Eyeballs style (RFC 8305 §5): starts with the
/// first address, starts the next one [`CONNECTION_ATTEMPT_DELAY`] later (or at once when
/// an attempt fails) while the earlier ones keep running, and returns the first stream that
/// connects; the other attempts are dropped, which closes their sockets. When every
/// attempt fails, returns what each address did, in the order they were tried.
///
/// Not bounded here: the caller's connect timeout bounds the whole race.
async fn race<R: Runtime>(
    rt: &R,
    ips: &[IpAddr],
    port: u16,
    timer: &Arc<dyn Timer>,
) -> Result<R::Tcp, Vec<(IpAddr, io::Error)>> {
    let mut running: Vec<(usize, BoxFuture<'static, io::Result<R::Tcp>>)> = Vec::new();
    let mut failed: Vec<(usize, io::Error)> = Vec::new();
    let mut next = 0;
    // When the next attempt is due (none once every address was started).
    let mut stagger: Option<Pin<Box<dyn Sleep>>> = None;
    // An attempt failed: start the next one without waiting for the stagger.
    let mut start_now = false;
    let outcome = poll_fn(|cx| loop {
        let due = stagger
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if next < ips.len() && (running.is_empty() || due || start_now) {
            start_now = false;
            trace::trace!(address = %SocketAddr::new(ips[next], port), "TCP connect attempt");
            running.push((next, rt.connect_tcp(SocketAddr::new(ips[next], port))));
            next += 1;
            stagger = if next < ips.len() {
                timer
                    .now()
                    .checked_add(CONNECTION_ATTEMPT_DELAY)
                    .map(|at| timer.sleep_until(at))
            } else {
                None
            };
            // Poll the new attempt and the new sleep, so that both can wake this task.
            continue;
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].1.as_mut().poll(cx) {
                Poll::Ready(Ok(tcp)) => {
                    trace::debug!(
                        address = %SocketAddr::new(ips[running[i].0], port),
                        attempts = next,
                        failed = failed.len(),
                        "TCP connected"
                    );
                    return Poll::Ready(Ok(tcp));
                }
                Poll::Ready(Err(e)) => {
                    trace::debug!(
                        address = %SocketAddr::new(ips[running[i].0], port),
                        error = %e,
                        "TCP connect attempt failed"
                    );
                    let (index, _) = running.swap_remove(i);
                    failed.push((index, e));
                    start_now = next < ips.len();
                }
                Poll::Pending => i += 1,
            }
        }
        if running.is_empty() && next == ips.len() {
            return Poll::Ready(Err(()));
        }
        if !start_now {
            return Poll::Pending;
        }
    })
    .await;
    outcome.map_err(|()| {
        failed.sort_by_key(|(index, _)| *index);
        failed
            .into_iter()
            .filter_map(|(index, e)| Some((*ips.get(index)?, e)))
            .collect()
    })
}

/// A failed DNS lookup of the target's or the proxy's host.
fn dns_error(host: &str, proxy: Option<&Proxy>, e: io::Error) -> Error {
    let message = match proxy {
        None => format!(
            "DNS lookup of {host} failed: {e}; check the host name in the URL (and your DNS \
             settings)"
        ),
        Some(p) => format!(
            "DNS lookup of the {} proxy host {host} failed: {e}; check the host name in the \
             proxy URL",
            p.scheme()
        ),
    };
    Error::opening(Step::Dns, Some(host.to_owned()), message, e)
}

/// A failed TCP connect to `addr` (the target or the proxy): `failures` says what each
/// address tried did, in order. One
/// failure reads as before ("failed: connection refused"); several list each address.
fn tcp_error(
    addr: &str,
    proxy: Option<&Proxy>,
    port: u16,
    failures: Vec<(IpAddr, io::Error)>,
) -> Error {
    let count = failures.len();
    let same_kind = failures.windows(2).all(|w| w[0].1.kind() == w[1].1.kind());
    let what = if count > 1 {
        let mut shown: Vec<String> = failures
            .iter()
            .take(SHOWN_ADDRS)
            .map(|(ip, e)| format!("{}: {e}", SocketAddr::new(*ip, port)))
            .collect();
        if count > SHOWN_ADDRS {
            shown.push(format!("{} more", count - SHOWN_ADDRS));
        }
        format!(" on all {count} addresses ({})", shown.join("; "))
    } else {
        String::new()
    };
    let Some((_, e)) = failures.into_iter().last() else {
        let e = io::Error::other("no address to connect to");
        let message = format!("TCP connect to {addr} failed: {e}; check the host name");
        return Error::opening(Step::Connect, Some(addr.to_owned()), message, e);
    };
    // With one failure, its text follows "failed:"; with several, the list says it all.
    let cause = if count > 1 {
        String::new()
    } else {
        format!(": {e}")
    };
    let message = match proxy {
        None => {
            let hint = match e.kind() {
                _ if !same_kind => "check the URL's host and port, and your network",
                io::ErrorKind::ConnectionRefused => {
                    "is a server listening on that port? check the URL's host and port"
                }
                io::ErrorKind::TimedOut => {
                    "the host did not answer: check the address, and any firewall in between"
                }
                _ => "check the URL's host and port, and your network",
            };
            format!("TCP connect to {addr} failed{what}{cause}; {hint}")
        }
        Some(p) => format!(
            "TCP connect to the {} proxy {addr} failed{what}{cause}; check the proxy address \
             and that the proxy is running",
            p.scheme()
        ),
    };
    Error::opening(Step::Connect, Some(addr.to_owned()), message, e)
}

/// Drives the proxy's tunnel handshake to `target` over `tcp`; returns the stream and the
/// bytes the proxy sent after its answer.
async fn open_tunnel<R: Runtime>(
    rt: &R,
    mut tcp: R::Tcp,
    proxy: &Proxy,
    target: &Target,
    limits: Limits,
) -> Result<(R::Tcp, Vec<u8>), Error> {
    let mut addr = TargetAddr::from_host(&target.host)?;
    if proxy.needs_resolved(&addr) {
        addr = TargetAddr::Ip(resolve(rt, &target.host).await?);
    }
    let mut tunnel = proxy.handshake(addr, target.port, limits)?;
    let proxy_addr = authority(proxy.host(), proxy.port());
    let io_error = |e: io::Error, doing: &str| {
        let message = format!(
            "proxy tunnel: {doing} the {} proxy {proxy_addr} failed: {e}; check the proxy \
             address and its scheme (http://, socks5://)",
            proxy.scheme()
        );
        Error::opening(Step::Proxy, Some(proxy_addr.clone()), message, e)
    };
    let mut buf = [0u8; PROXY_READ];
    loop {
        let out = tunnel.bytes_to_send();
        if !out.is_empty() {
            let n = out.len();
            write_all(&mut tcp, out)
                .await
                .map_err(|e| io_error(e, "sending the tunnel request to"))?;
            tunnel.consume_output(n);
        }
        let n = read(&mut tcp, &mut buf)
            .await
            .map_err(|e| io_error(e, "reading the answer of"))?;
        if n == 0 {
            return Err(tunnel.closed_error().into());
        }
        if let Progress::Done { rest } = tunnel.feed(&buf[..n])? {
            return Ok((tcp, rest));
        }
    }
}

/// Resolves `host` for a `socks5://` proxy: the first IPv4 address if there is one (what
/// proxies reach most reliably), else the first address.
async fn resolve<R: Runtime>(rt: &R, host: &str) -> Result<IpAddr, Error> {
    let fail = |e: io::Error| {
        let message = format!(
            "DNS lookup of {host} (for the socks5:// proxy) failed: {e}; check the host name, \
             or use socks5h:// to let the proxy resolve it"
        );
        Error::opening(Step::Dns, Some(host.to_owned()), message, e)
    };
    let addrs = rt.resolve(host).await.map_err(fail)?;
    trace::debug!(host, addresses = ?addrs, "DNS resolved for the socks5:// proxy");
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// What is left of `timeout` after the time since `start`.
pub(crate) fn remaining(
    timeout: Option<Duration>,
    start: Instant,
    now: Instant,
) -> Option<Duration> {
    timeout.map(|t| t.saturating_sub(now.saturating_duration_since(start)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn addresses_alternate_families_starting_with_the_first_one_returned() {
        let cases: [(&[&str], &[&str]); 6] = [
            (
                &["::1", "::2", "::3", "127.0.0.1", "127.0.0.2"],
                &["::1", "127.0.0.1", "::2", "127.0.0.2", "::3"],
            ),
            (
                &["127.0.0.1", "127.0.0.2", "::1", "::2"],
                &["127.0.0.1", "::1", "127.0.0.2", "::2"],
            ),
            (
                &["127.0.0.1", "::1", "::2", "::3"],
                &["127.0.0.1", "::1", "::2", "::3"],
            ),
            (&["::1", "::2"], &["::1", "::2"]),
            (&["127.0.0.9"], &["127.0.0.9"]),
            (&[], &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(interleave_families(ips(input)), ips(expected), "{input:?}");
        }
    }

    #[test]
    fn several_failed_addresses_are_each_named_with_what_they_did() {
        let refused = || io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "timed out");
        let failures = vec![
            ("::1".parse().unwrap(), timed_out),
            ("127.0.0.2".parse().unwrap(), refused()),
        ];
        let e = tcp_error("dual.example:9", None, 9, failures);
        assert_eq!(
            (e.step(), e.target()),
            (Some(Step::Connect), Some("dual.example:9"))
        );
        assert_eq!(
            e.to_string(),
            "TCP connect to dual.example:9 failed on all 2 addresses ([::1]:9: timed out; \
             127.0.0.2:9: connection refused); check the URL's host and port, and your network"
        );
        // More than SHOWN_ADDRS: the rest are counted, and one kind keeps its own hint.
        let failures = (1..=6)
            .map(|i| (IpAddr::from([127, 0, 0, i]), refused()))
            .collect();
        let text = tcp_error("many.example:80", None, 80, failures).to_string();
        assert!(
            text.contains("127.0.0.4:80: connection refused; 2 more); is a server listening"),
            "{text}"
        );
        assert!(!text.contains("127.0.0.5"), "{text}");
    }
}
