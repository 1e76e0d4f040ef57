//! The runtime-neutral connect flow (`connect::connect`, `connect::connect_via`) over a
//! fake `Runtime` (DNS, TCP, time) and a fake `TlsConnect`: the steps, their timeouts and
//! the wording of their errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use async_util::{client_options, duplex, poll_once, server_options, ManualTimer, Pipe};
use futures::executor::block_on;
use futures::{AsyncReadExt, AsyncWriteExt};
use ws_client::connect::{connect, connect_via};
use ws_client::handshake::server_accept;
use ws_client::rt::{BoxFuture, Runtime, Timer};
use ws_client::tls::{MaybeTlsStream, TlsBackend, TlsConnect, TlsError, TlsErrorKind};
use ws_client::{Error, Message, Step};
use ws_handshake::{Limits, RequestParser, DEFAULT_USER_AGENT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpMode {
    /// Connect, and serve the other end with our server role on a thread.
    Serve,
    /// Fail with "connection refused".
    Refuse,
    /// Never complete.
    Hang,
    /// Connect, but the other end is gone: the first write fails (broken pipe).
    Dead,
    /// Connect, read the upgrade request and answer `302` to [`ELSEWHERE`] (another
    /// origin).
    Redirect,
}

/// Where [`TcpMode::Redirect`] sends the client.
const ELSEWHERE: &str = "ws://elsewhere.example/next";

/// The `Host` of each upgrade request a server saw, in order, with its `User-Agent`.
type SeenAgents = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// What `Runtime::resolve` does with a name that is not in `FakeRuntime::names`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DnsMode {
    /// The name resolves to these addresses, in this order (empty: no address).
    Any(Vec<IpAddr>),
    /// The lookup fails as getaddrinfo does for an unknown name.
    Fail,
    /// The lookup fails with `Unsupported`, which the flow once took to mean "the runtime
    /// cannot resolve: pass it the name".
    Unsupported,
}

/// Where every name resolves unless a test says otherwise (TEST-NET-1).
const DEFAULT_IP: &str = "192.0.2.10";

#[derive(Debug)]
struct FakeRuntime {
    tcp: TcpMode,
    /// Modes for some addresses, overriding `tcp`.
    per_ip: HashMap<IpAddr, TcpMode>,
    /// How many `Hang` attempts were dropped (their socket closed).
    hung_dropped: Arc<AtomicUsize>,
    /// Names with their own addresses; the others resolve as `dns` says.
    names: HashMap<String, Vec<IpAddr>>,
    dns: DnsMode,
    timer: Arc<dyn Timer>,
    /// What `Serve` and `Redirect` connections were sent.
    user_agents: SeenAgents,
    /// Every name `resolve` was asked for, in order.
    resolved: Mutex<Vec<String>>,
    /// Every address `connect_tcp` was asked for, in order.
    attempts: Mutex<Vec<SocketAddr>>,
}

impl FakeRuntime {
    fn new(tcp: TcpMode, timer: Arc<dyn Timer>) -> Self {
        FakeRuntime {
            tcp,
            per_ip: HashMap::new(),
            hung_dropped: Arc::new(AtomicUsize::new(0)),
            names: HashMap::new(),
            dns: DnsMode::Any(vec![ip(DEFAULT_IP)]),
            timer,
            user_agents: Arc::default(),
            resolved: Mutex::new(Vec::new()),
            attempts: Mutex::new(Vec::new()),
        }
    }

    /// The addresses `connect_tcp` was asked for, as `ip:port` (`[v6]:port`).
    fn tried(&self) -> Vec<String> {
        let attempts = self.attempts.lock().unwrap();
        attempts.iter().map(ToString::to_string).collect()
    }

    /// The names `resolve` was asked for.
    fn resolved(&self) -> Vec<String> {
        self.resolved.lock().unwrap().clone()
    }
}

/// The `Host` and `User-Agent` headers of an upgrade request.
fn host_and_agent(request: &ws_handshake::Request) -> (String, Option<String>) {
    let header = |name| request.header(name).map(str::to_owned);
    (header("host").unwrap_or_default(), header("user-agent"))
}

/// Counts its drops.
#[derive(Debug)]
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Runtime for FakeRuntime {
    type Tcp = Pipe;

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Pipe>> {
        self.attempts.lock().unwrap().push(addr);
        match self.per_ip.get(&addr.ip()).copied().unwrap_or(self.tcp) {
            TcpMode::Refuse => Box::pin(async {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "connection refused",
                ))
            }),
            TcpMode::Hang => {
                let dropped = DropCount(self.hung_dropped.clone());
                Box::pin(async move {
                    let _dropped = dropped;
                    futures::future::pending().await
                })
            }
            TcpMode::Dead => {
                let (a, b) = duplex(1 << 16);
                drop(b);
                Box::pin(async move { Ok(a) })
            }
            TcpMode::Serve => {
                let (a, b) = duplex(1 << 16);
                let seen = self.user_agents.clone();
                let options = server_options().check(move |request| {
                    seen.lock().unwrap().push(host_and_agent(request));
                    Ok(())
                });
                thread::spawn(move || {
                    block_on(async {
                        let mut ws = server_accept(b, &options, None).await.unwrap();
                        while let Some(Ok(m)) = ws.recv().await {
                            if m.is_data() {
                                ws.send(m).await.unwrap();
                            }
                        }
                    })
                });
                Box::pin(async move { Ok(a) })
            }
            TcpMode::Redirect => {
                let (a, mut b) = duplex(1 << 16);
                let seen = self.user_agents.clone();
                thread::spawn(move || {
                    block_on(async {
                        let mut parser = RequestParser::new(Limits::default());
                        let mut buf = [0; 4096];
                        let request = loop {
                            let n = b.read(&mut buf).await.unwrap();
                            assert!(n > 0, "closed before the request");
                            if let Some(request) = parser.feed(&buf[..n]).unwrap() {
                                break request;
                            }
                        };
                        seen.lock().unwrap().push(host_and_agent(&request));
                        let answer = format!(
                            "HTTP/1.1 302 Found\r\nLocation: {ELSEWHERE}\r\n\
                             Content-Length: 0\r\n\r\n"
                        );
                        b.write_all(answer.as_bytes()).await.unwrap();
                        b.close().await.unwrap();
                    })
                });
                Box::pin(async move { Ok(a) })
            }
        }
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        self.resolved.lock().unwrap().push(host.to_owned());
        let answer = match (self.names.get(host), &self.dns) {
            (Some(addrs), _) | (None, DnsMode::Any(addrs)) => Ok(addrs.clone()),
            (None, DnsMode::Fail) => Err(io::Error::other(
                "failed to lookup address information: Name or service not known",
            )),
            (None, DnsMode::Unsupported) => {
                Err(io::Error::new(io::ErrorKind::Unsupported, "no DNS"))
            }
        };
        Box::pin(async move { answer })
    }

    fn timer(&self) -> Arc<dyn Timer> {
        self.timer.clone()
    }
}

/// What [`FakeTls`] does with a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    /// A no-op "session": the bytes go through as they are.
    Pass,
    /// Never completes.
    Hang,
    /// Fails the way a backend does when the certificate is refused ([`TlsError`]).
    BadCertificate,
    /// Fails as a custom TLS library would: a plain I/O error whose source names a
    /// certificate.
    ForeignCertificate,
}

/// A `TlsConnect` over the fake runtime's `Pipe` that records what it was asked.
#[derive(Debug)]
struct FakeTls {
    mode: TlsMode,
    /// The server name of every session, in order.
    server_names: Mutex<Vec<String>>,
    /// The ALPN protocols offered in the last session.
    alpn: Mutex<Option<Vec<Vec<u8>>>>,
}

impl FakeTls {
    fn new(mode: TlsMode) -> Self {
        FakeTls {
            mode,
            server_names: Mutex::new(Vec::new()),
            alpn: Mutex::new(None),
        }
    }

    fn server_names(&self) -> Vec<String> {
        self.server_names.lock().unwrap().clone()
    }
}

/// The library error below [`TlsMode::ForeignCertificate`]'s I/O error.
#[derive(Debug)]
struct LibraryError;

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("certificate verify failed: unable to get local issuer certificate")
    }
}

impl std::error::Error for LibraryError {}

/// An I/O error whose Display is the custom library's own sentence and whose source is the
/// library's error.
#[derive(Debug)]
struct ForeignTlsError(LibraryError);

impl std::fmt::Display for ForeignTlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my-tls: handshake failed")
    }
}

impl std::error::Error for ForeignTlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl TlsConnect<Pipe> for FakeTls {
    type Stream = Pipe;

    fn connect<'a>(
        &'a self,
        server_name: &'a str,
        alpn: &'a [&'a [u8]],
        stream: Pipe,
    ) -> BoxFuture<'a, Result<Pipe, Error>> {
        self.server_names
            .lock()
            .unwrap()
            .push(server_name.to_owned());
        *self.alpn.lock().unwrap() = Some(alpn.iter().map(|p| p.to_vec()).collect());
        match self.mode {
            TlsMode::Pass => Box::pin(async move { Ok(stream) }),
            TlsMode::Hang => Box::pin(futures::future::pending()),
            TlsMode::BadCertificate => Box::pin(async move {
                let source = io::Error::other("invalid peer certificate: UnknownIssuer");
                Err(TlsError::new(
                    server_name,
                    TlsBackend::Rustls,
                    TlsErrorKind::Certificate,
                    source,
                )
                .into_error())
            }),
            TlsMode::ForeignCertificate => Box::pin(async move {
                Err(Error::from(io::Error::new(
                    io::ErrorKind::InvalidData,
                    ForeignTlsError(LibraryError),
                )))
            }),
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn connects_plain_and_echoes() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let tls = FakeTls::new(TlsMode::Pass);
    let opts = ws_client::ConnectOptions::new("ws://echo.example:8080/x").no_keepalive();
    block_on(async {
        let (mut ws, response, _) = connect_via(&rt, &tls, &opts).await.unwrap();
        assert_eq!(response.status(), 101);
        assert!(
            matches!(ws.get_ref(), MaybeTlsStream::Plain(_)),
            "ws:// runs on plain TCP"
        );
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    });
    // The name was looked up, and its address connected to on the URL's port.
    assert_eq!(rt.resolved(), ["echo.example"]);
    assert_eq!(rt.tried(), [format!("{DEFAULT_IP}:8080")]);
    assert!(tls.server_names().is_empty(), "no TLS for ws://");
    // `connect` (the options' TlsConnector) opens the same plain stream.
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let (ws, _) = block_on(connect(&rt, &opts)).unwrap();
    assert!(matches!(ws.get_ref(), MaybeTlsStream::Plain(_)));
    assert!(!ws.get_ref().is_tls() && ws.get_ref().tls().is_none());
}

#[test]
fn wss_runs_tls_for_the_host_on_port_443() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let tls = FakeTls::new(TlsMode::Pass);
    let opts = ws_client::ConnectOptions::new("wss://secure.example/feed").no_keepalive();
    block_on(async {
        let (mut ws, _, _) = connect_via(&rt, &tls, &opts).await.unwrap();
        assert!(
            matches!(ws.get_ref(), MaybeTlsStream::Tls(_)),
            "wss:// runs on TLS"
        );
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
    });
    assert_eq!(rt.resolved(), ["secure.example"]);
    assert_eq!(rt.tried(), [format!("{DEFAULT_IP}:443")]);
    // TLS is for the URL's host name, not the address it resolved to; no ALPN.
    assert_eq!(tls.server_names(), ["secure.example"]);
    assert_eq!(*tls.alpn.lock().unwrap(), Some(Vec::new()));
}

#[test]
fn refused_connection_names_the_step_host_port_and_a_hint() {
    let rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let opts = client_options();
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(rt.resolved(), ["example.test"]);
    assert_eq!(rt.tried(), [format!("{DEFAULT_IP}:80")]);
    assert!(e.is_io(), "{e}");
    assert_eq!(e.step(), Some(Step::Connect));
    assert_eq!(e.target(), Some("example.test:80"));
    let text = e.to_string();
    assert!(
        text.starts_with("TCP connect to example.test:80 failed: connection refused"),
        "{text}"
    );
    assert!(text.contains("is a server listening"), "{text}");
    // No connection existed: nothing about the WebSocket connection being unusable.
    assert!(!text.contains("WebSocket connection"), "{text}");
    assert!(!text.contains("reconnect"), "{text}");
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
}

#[test]
fn ipv6_hosts_are_bracketed_in_errors() {
    let rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let opts = ws_client::ConnectOptions::new("ws://[::1]:9001/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("TCP connect to [::1]:9001 failed"),
        "{e}"
    );
    assert_eq!(e.target(), Some("[::1]:9001"));
    // An IP literal is connected to as it is, without a lookup.
    assert_eq!(rt.tried(), ["[::1]:9001"]);
    assert!(rt.resolved().is_empty());
}

#[test]
fn failed_dns_lookup_says_to_check_the_host_name() {
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Fail;
    let opts = ws_client::ConnectOptions::new("ws://no-such-host.example:8080/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(rt.resolved(), ["no-such-host.example"]);
    assert!(e.is_io(), "{e:?}");
    assert_eq!(e.step(), Some(Step::Dns));
    assert_eq!(e.target(), Some("no-such-host.example"));
    let text = e.to_string();
    assert!(
        text.starts_with("DNS lookup of no-such-host.example failed"),
        "{text}"
    );
    assert!(text.contains("Name or service not known"), "{text}");
    assert!(text.contains("check the host name"), "{text}");
    assert!(rt.tried().is_empty(), "no TCP after DNS failed");
}

#[test]
fn a_name_without_addresses_is_a_dns_failure() {
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Any(Vec::new());
    let opts = ws_client::ConnectOptions::new("ws://empty.example/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Dns), Some("empty.example"))
    );
    let text = e.to_string();
    assert!(
        text.starts_with("DNS lookup of empty.example failed: the name has no address")
            && text.contains("check the host name"),
        "{text}"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::NotFound),
        "{e:?}"
    );
    assert!(rt.tried().is_empty(), "no TCP without an address");
}

/// A runtime used to answer `Unsupported` from `resolve` to have the name passed to
/// `connect_tcp`; names are now always resolved, so that is a failed lookup like any other.
#[test]
fn a_resolver_that_cannot_resolve_fails_the_lookup() {
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Unsupported;
    let e = block_on(connect(&rt, &client_options())).unwrap_err();
    assert_eq!(rt.resolved(), ["example.test"]);
    assert!(rt.tried().is_empty(), "the name is never passed on");
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Dns), Some("example.test"))
    );
    assert!(
        e.to_string()
            .starts_with("DNS lookup of example.test failed: no DNS"),
        "{e}"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::Unsupported),
        "{e:?}"
    );
}

#[test]
fn resolved_addresses_are_tried_in_order_and_named() {
    let mut rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    rt.dns = DnsMode::Any(vec![ip("::1"), ip("127.0.0.2")]);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(rt.resolved(), ["dual.example"]);
    assert_eq!(rt.tried(), ["[::1]:9", "127.0.0.2:9"]);
    assert_eq!(e.step(), Some(Step::Connect));
    let text = e.to_string();
    assert!(
        text.starts_with(
            "TCP connect to dual.example:9 failed on all 2 addresses ([::1]:9: connection \
             refused; 127.0.0.2:9: connection refused); is a server listening"
        ),
        "{text}"
    );
    // One address: connected straight to it, and an IP literal is never looked up.
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Any(vec![ip("127.0.0.2")]);
    let opts = ws_client::ConnectOptions::new("ws://one.example:9/").no_keepalive();
    block_on(connect(&rt, &opts)).unwrap();
    assert_eq!(rt.tried(), ["127.0.0.2:9"]);
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Fail;
    let opts = ws_client::ConnectOptions::new("ws://127.0.0.3:9/").no_keepalive();
    block_on(connect(&rt, &opts)).unwrap();
    assert_eq!(rt.tried(), ["127.0.0.3:9"]);
    assert!(rt.resolved().is_empty());
}

#[test]
fn transport_failures_in_the_tunnel_and_the_upgrade_name_their_step() {
    // Through a proxy: the tunnel request cannot be sent.
    let rt = FakeRuntime::new(TcpMode::Dead, ManualTimer::new().arc());
    let opts = client_options().proxy_url("http://10.9.8.7:3128");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Proxy), Some("10.9.8.7:3128"))
    );
    let text = e.to_string();
    assert!(
        text.starts_with(
            "proxy tunnel: sending the tunnel request to the HTTP proxy 10.9.8.7:3128 failed"
        ) && text.contains("check the proxy address"),
        "{text}"
    );
    // TCP went to the proxy; an http:// proxy is sent the target's name, unresolved.
    assert_eq!(rt.tried(), ["10.9.8.7:3128"]);
    assert!(rt.resolved().is_empty());
    // Directly: the upgrade request cannot be sent.
    let rt = FakeRuntime::new(TcpMode::Dead, ManualTimer::new().arc());
    let e = block_on(connect(&rt, &client_options())).unwrap_err();
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Handshake), Some("example.test:80"))
    );
    let text = e.to_string();
    assert!(
        text.starts_with("HTTP upgrade with example.test:80: sending the request failed")
            && text.contains("the server dropped the connection"),
        "{text}"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::BrokenPipe),
        "{e:?}"
    );
}

#[test]
fn proxy_connect_failures_name_the_proxy() {
    let rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let opts = client_options().proxy_url("http://10.9.8.7:3128");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(e.step(), Some(Step::Connect));
    assert_eq!(e.target(), Some("10.9.8.7:3128"));
    assert_eq!(rt.tried(), ["10.9.8.7:3128"]);
    let text = e.to_string();
    assert!(
        text.starts_with("TCP connect to the HTTP proxy 10.9.8.7:3128 failed")
            && text.contains("check the proxy address"),
        "{text}"
    );
}

#[test]
fn the_user_agent_is_sent_on_every_hop_of_a_redirect() {
    let cases: [(ws_client::ConnectOptions, Option<&str>); 6] = [
        // The default, to the first host and to the other origin it redirects to.
        (client_options(), Some(DEFAULT_USER_AGENT)),
        // The caller's replaces it (and, being a User-Agent, follows to another origin),
        // whichever setter gave it.
        (client_options().header("user-agent", "x"), Some("x")),
        (client_options().raw_header("User-Agent: x"), Some("x")),
        (
            client_options().sensitive_header("USER-AGENT", "x"),
            Some("x"),
        ),
        (
            client_options().portable_header("User-agent", "x"),
            Some("x"),
        ),
        // Turned off: none on any hop.
        (client_options().no_user_agent(), None),
    ];
    let elsewhere = ip("192.0.2.20");
    for (opts, expected) in cases {
        // example.test (the default address) redirects; elsewhere.example has its own
        // address, which serves.
        let mut rt = FakeRuntime::new(TcpMode::Redirect, ManualTimer::new().arc());
        rt.names
            .insert("elsewhere.example".to_owned(), vec![elsewhere]);
        rt.per_ip.insert(elsewhere, TcpMode::Serve);
        let (ws, _, request) =
            block_on(ws_client::connect::connect_with_request(&rt, &opts)).unwrap();
        drop(ws);
        assert_eq!(request.url().as_str(), ELSEWHERE);
        assert_eq!(rt.resolved(), ["example.test", "elsewhere.example"]);
        assert_eq!(
            rt.tried(),
            [format!("{DEFAULT_IP}:80"), format!("{elsewhere}:80")]
        );
        let expected = expected.map(str::to_owned);
        assert_eq!(
            *rt.user_agents.lock().unwrap(),
            [
                ("example.test".to_owned(), expected.clone()),
                ("elsewhere.example".to_owned(), expected.clone()),
            ],
            "{opts:?}"
        );
        // One line (the servers above see only the first one).
        let head = String::from_utf8_lossy(request.as_bytes()).to_ascii_lowercase();
        let lines = head.matches("\r\nuser-agent:").count();
        assert_eq!(lines, usize::from(expected.is_some()), "{head}");
    }
}

#[test]
fn bad_url_fails_before_connecting() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let opts = ws_client::ConnectOptions::new("ftp://nope.example/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert!(e.is_handshake(), "{e}");
    assert!(rt.resolved().is_empty() && rt.tried().is_empty());
}

#[test]
fn a_refused_certificate_is_a_tls_failure_of_the_host() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let tls = FakeTls::new(TlsMode::BadCertificate);
    let opts = ws_client::ConnectOptions::new("wss://secure.example:8443/").no_keepalive();
    let e = block_on(connect_via(&rt, &tls, &opts)).unwrap_err();
    assert_eq!(tls.server_names(), ["secure.example"]);
    assert!(e.is_tls() && e.is_tls_certificate() && !e.is_io(), "{e}");
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Tls), Some("secure.example:8443"))
    );
    let text = e.to_string();
    assert!(
        text.starts_with(
            "TLS handshake with secure.example failed (rustls): invalid peer certificate: \
             UnknownIssuer; the server's certificate is not accepted for secure.example"
        ) && text.contains(".rustls_config(..)"),
        "{text}"
    );
    let tls_error = e.tls_error().expect("the backend's TlsError");
    assert_eq!(
        (tls_error.kind(), tls_error.backend()),
        (TlsErrorKind::Certificate, TlsBackend::Rustls)
    );
    // A custom TLS library's error: its own message, found as TLS, and as a certificate
    // problem from the library error below it.
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let tls = FakeTls::new(TlsMode::ForeignCertificate);
    let e = block_on(connect_via(&rt, &tls, &opts)).unwrap_err();
    assert!(e.is_tls() && e.is_tls_certificate(), "{e}");
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Tls), Some("secure.example:8443"))
    );
    assert_eq!(e.to_string(), "my-tls: handshake failed");
    assert!(e.tls_error().is_none(), "not one of the crate's backends");
}

/// Checks that `fut` fails with a timeout at `step` exactly `after` from now, naming
/// `target`, the limit and the setting to raise (`hint`).
fn expect_timeout<F, T>(
    timer: &ManualTimer,
    fut: F,
    after: Duration,
    step: Step,
    target: &str,
    hint: &str,
) where
    F: std::future::Future<Output = Result<T, Error>>,
{
    let mut fut = Box::pin(fut);
    assert!(poll_once(&mut fut).is_pending());
    timer.advance(after - Duration::from_millis(1));
    assert!(poll_once(&mut fut).is_pending(), "timed out early");
    timer.advance(Duration::from_millis(1));
    match poll_once(&mut fut) {
        Poll::Ready(Err(e)) if e.is_timeout() => {
            assert_eq!(
                (e.step(), e.timeout_limit(), e.target()),
                (Some(step), Some(after), Some(target))
            );
            assert!(e.is_timeout() && e.step() == Some(step) && e.target() == Some(target));
            let text = e.to_string();
            let secs = format!("{} s", after.as_secs());
            for part in [target, secs.as_str(), hint] {
                assert!(text.contains(part), "{part:?} missing in {text}");
            }
        }
        Poll::Ready(Err(e)) => panic!("expected a {step} timeout, got {e}"),
        Poll::Ready(Ok(_)) => panic!("expected a {step} timeout, got a connection"),
        Poll::Pending => panic!("expected a {step} timeout, still pending"),
    }
}

#[test]
fn connect_timeout_bounds_tcp() {
    let timer = ManualTimer::new();
    let rt = FakeRuntime::new(TcpMode::Hang, timer.arc());
    let opts = client_options().connect_timeout(Some(Duration::from_secs(7)));
    expect_timeout(
        &timer,
        connect(&rt, &opts),
        Duration::from_secs(7),
        Step::Connect,
        "example.test:80",
        ".connect_timeout(..)",
    );
    assert_eq!(rt.tried(), [format!("{DEFAULT_IP}:80")]);
}

#[test]
fn open_timeout_bounds_tls() {
    let timer = ManualTimer::new();
    let rt = FakeRuntime::new(TcpMode::Serve, timer.arc());
    let tls = FakeTls::new(TlsMode::Hang);
    let opts = ws_client::ConnectOptions::new("wss://slow.example/")
        .open_timeout(Some(Duration::from_secs(4)));
    expect_timeout(
        &timer,
        connect_via(&rt, &tls, &opts),
        Duration::from_secs(4),
        Step::Tls,
        "slow.example:443",
        ".open_timeout(..)",
    );
    assert_eq!(tls.server_names(), ["slow.example"]);
}

#[test]
fn open_timeout_bounds_the_handshake() {
    let timer = ManualTimer::new();
    // A TCP peer that accepts and never answers.
    #[derive(Debug)]
    struct Silent(ManualTimer, Mutex<Option<Pipe>>);
    impl Runtime for Silent {
        type Tcp = Pipe;
        fn connect_tcp(&self, _: SocketAddr) -> BoxFuture<'static, io::Result<Pipe>> {
            let (a, b) = duplex(1 << 16);
            *self.1.lock().unwrap() = Some(b); // kept open, never read
            Box::pin(async move { Ok(a) })
        }
        fn resolve(&self, _: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
            Box::pin(async { Ok(vec![ip(DEFAULT_IP)]) })
        }
        fn timer(&self) -> Arc<dyn Timer> {
            self.0.arc()
        }
    }
    let rt = Silent(timer.clone(), Mutex::new(None));
    let opts = client_options().open_timeout(Some(Duration::from_secs(5)));
    expect_timeout(
        &timer,
        connect(&rt, &opts),
        Duration::from_secs(5),
        Step::Handshake,
        "example.test:80",
        ".open_timeout(..)",
    );
}

/// `wss://` through the options' default `TlsConnector` in a build without a TLS library:
/// a TLS failure that says which feature to enable.
#[cfg(not(any(feature = "native-tls", feature = "rustls")))]
#[test]
fn wss_without_a_tls_feature_names_the_features() {
    assert_eq!(ws_client::TlsConnector::default().backend(), None);
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let opts = ws_client::ConnectOptions::new("wss://secure.example/").no_keepalive();
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(rt.tried(), [format!("{DEFAULT_IP}:443")]);
    assert!(e.is_tls() && !e.is_tls_certificate(), "{e}");
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Tls), Some("secure.example:443"))
    );
    let text = e.to_string();
    assert!(
        text.contains("cannot open wss:// to secure.example")
            && text.contains("enable the `rustls` or `native-tls` feature"),
        "{text}"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::Unsupported),
        "{e:?}"
    );
}

/// The Happy Eyeballs stagger (RFC 8305's Connection Attempt Delay) in `connect.rs`.
const STAGGER: Duration = Duration::from_millis(250);

#[test]
fn dead_first_address_costs_the_stagger_not_the_connect_timeout() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Serve, timer.arc());
    rt.dns = DnsMode::Any(vec![ip("::1"), ip("127.0.0.2")]);
    rt.per_ip.insert(ip("::1"), TcpMode::Hang);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/")
        .no_keepalive()
        .connect_timeout(Some(Duration::from_secs(5)));
    let start = timer.now();
    let mut fut = Box::pin(connect(&rt, &opts));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(rt.tried(), ["[::1]:9"]);
    timer.advance(STAGGER - Duration::from_millis(1));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(rt.tried(), ["[::1]:9"], "second attempt too early");
    timer.advance(Duration::from_millis(1));
    let _ = poll_once(&mut fut);
    assert_eq!(rt.tried(), ["[::1]:9", "127.0.0.2:9"]);
    // The clock stands still from here: only the second address can open the connection.
    let (mut ws, _) = block_on(fut).unwrap();
    assert_eq!(timer.now() - start, STAGGER);
    assert_eq!(
        rt.hung_dropped.load(Ordering::Relaxed),
        1,
        "the losing attempt is dropped (its socket closed)"
    );
    block_on(async {
        ws.send(Message::text("via v4")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("via v4"));
    });
}

#[test]
fn a_failed_attempt_starts_the_next_at_once() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Serve, timer.arc());
    rt.dns = DnsMode::Any(vec![ip("::1"), ip("127.0.0.2")]);
    rt.per_ip.insert(ip("::1"), TcpMode::Refuse);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/").no_keepalive();
    let mut fut = Box::pin(connect(&rt, &opts));
    let _ = poll_once(&mut fut);
    // Without the clock moving, the refusal has already started the next address.
    assert_eq!(rt.tried(), ["[::1]:9", "127.0.0.2:9"]);
    block_on(fut).unwrap();
}

#[test]
fn attempts_alternate_ipv6_and_ipv4_and_the_error_names_each() {
    let mut rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    rt.dns = DnsMode::Any(vec![ip("::1"), ip("::2"), ip("127.0.0.2")]);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(rt.tried(), ["[::1]:9", "127.0.0.2:9", "[::2]:9"]);
    assert_eq!(
        (e.step(), e.target()),
        (Some(Step::Connect), Some("dual.example:9"))
    );
    assert_eq!(
        e.to_string(),
        "TCP connect to dual.example:9 failed on all 3 addresses ([::1]:9: connection refused; \
         127.0.0.2:9: connection refused; [::2]:9: connection refused); is a server listening \
         on that port? check the URL's host and port"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
}

#[test]
fn connect_timeout_bounds_a_race_where_every_address_hangs() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Hang, timer.arc());
    rt.dns = DnsMode::Any(vec![ip("::1"), ip("127.0.0.2"), ip("::2")]);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/")
        .connect_timeout(Some(Duration::from_secs(3)));
    let mut fut = Box::pin(connect(&rt, &opts));
    for started in 1..=3 {
        assert!(poll_once(&mut fut).is_pending());
        assert_eq!(rt.attempts.lock().unwrap().len(), started);
        timer.advance(STAGGER);
    }
    timer.advance(Duration::from_secs(3) - 3 * STAGGER - Duration::from_millis(1));
    assert!(poll_once(&mut fut).is_pending(), "timed out early");
    assert_eq!(rt.hung_dropped.load(Ordering::Relaxed), 0);
    timer.advance(Duration::from_millis(1));
    match poll_once(&mut fut) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_timeout(), "{e}");
            assert_eq!(
                (e.step(), e.target()),
                (Some(Step::Connect), Some("dual.example:9"))
            );
            let text = e.to_string();
            assert!(text.contains("(limit 3 s)"), "{text}");
        }
        Poll::Ready(Ok(_)) => panic!("expected a connect timeout, got a connection"),
        Poll::Pending => panic!("expected a connect timeout, still pending"),
    }
    drop(fut);
    assert_eq!(
        rt.hung_dropped.load(Ordering::Relaxed),
        3,
        "every attempt dropped"
    );
}
