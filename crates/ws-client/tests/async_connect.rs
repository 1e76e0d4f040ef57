//! The runtime-neutral connect flow (`connect::connect`) over a fake `Runtime`: the steps,
//! their timeouts and the wording of their errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use async_util::{client_options, duplex, poll_once, server_options, ManualTimer, Pipe};
use futures::executor::block_on;
use futures::{AsyncReadExt, AsyncWriteExt};
use ws_client::connect::connect;
use ws_client::handshake::server_accept;
use ws_client::rt::{BoxFuture, Runtime, Timer};
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

/// The hosts asked, in order, each with the `User-Agent` its upgrade request carried.
type SeenAgents = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// What `Runtime::resolve` does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DnsMode {
    /// Not implemented (the trait's default): the flow passes the name to `connect_tcp`.
    Unsupported,
    /// The lookup fails.
    Fail,
    /// The name resolves to these addresses.
    Addrs(Vec<IpAddr>),
}

#[derive(Debug)]
struct FakeRuntime {
    tcp: TcpMode,
    /// Modes for some hosts (addresses), overriding `tcp`.
    per_host: HashMap<String, TcpMode>,
    /// How many `Hang` attempts were dropped (their socket closed).
    hung_dropped: Arc<AtomicUsize>,
    dns: DnsMode,
    tls_hangs: bool,
    timer: Arc<dyn Timer>,
    tls_domain: Mutex<Option<String>>,
    connected_to: Mutex<Option<(String, u16)>>,
    /// Every host `connect_tcp` was asked for, in order.
    attempts: Mutex<Vec<String>>,
    plain_used: AtomicBool,
    /// What `Serve` and `Redirect` connections were sent.
    user_agents: SeenAgents,
}

impl FakeRuntime {
    fn new(tcp: TcpMode, timer: Arc<dyn Timer>) -> Self {
        FakeRuntime {
            tcp,
            per_host: HashMap::new(),
            hung_dropped: Arc::new(AtomicUsize::new(0)),
            dns: DnsMode::Unsupported,
            tls_hangs: false,
            timer,
            tls_domain: Mutex::new(None),
            connected_to: Mutex::new(None),
            attempts: Mutex::new(Vec::new()),
            plain_used: AtomicBool::new(false),
            user_agents: Arc::default(),
        }
    }
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
    type Stream = Pipe;

    fn connect_tcp<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Pipe>> {
        *self.connected_to.lock().unwrap() = Some((host.to_owned(), port));
        self.attempts.lock().unwrap().push(host.to_owned());
        match self.per_host.get(host).copied().unwrap_or(self.tcp) {
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
                let (seen, host) = (self.user_agents.clone(), host.to_owned());
                let options = server_options().check(move |request| {
                    let agent = request.header("user-agent").map(str::to_owned);
                    seen.lock().unwrap().push((host.clone(), agent));
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
                let (seen, host) = (self.user_agents.clone(), host.to_owned());
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
                        let agent = request.header("user-agent").map(str::to_owned);
                        seen.lock().unwrap().push((host, agent));
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

    fn resolve<'a>(&'a self, _host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let answer = match &self.dns {
            DnsMode::Unsupported => Err(io::Error::new(io::ErrorKind::Unsupported, "no DNS")),
            DnsMode::Fail => Err(io::Error::other(
                "failed to lookup address information: Name or service not known",
            )),
            DnsMode::Addrs(addrs) => Ok(addrs.clone()),
        };
        Box::pin(async move { answer })
    }

    fn plain(&self, tcp: Pipe) -> Pipe {
        self.plain_used.store(true, Ordering::Relaxed);
        tcp
    }

    fn tls<'a>(&'a self, domain: &'a str, tcp: Pipe) -> BoxFuture<'a, Result<Pipe, Error>> {
        *self.tls_domain.lock().unwrap() = Some(domain.to_owned());
        if self.tls_hangs {
            Box::pin(futures::future::pending())
        } else {
            // "TLS" that is a no-op: the bytes go through as they are.
            Box::pin(async move { Ok(tcp) })
        }
    }

    fn timer(&self) -> Arc<dyn Timer> {
        self.timer.clone()
    }
}

#[test]
fn connects_plain_and_echoes() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let opts = ws_client::ConnectOptions::new("ws://echo.example:8080/x").no_keepalive();
    block_on(async {
        let (mut ws, response) = connect(&rt, &opts).await.unwrap();
        assert_eq!(response.status(), 101);
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    });
    assert_eq!(
        *rt.connected_to.lock().unwrap(),
        Some(("echo.example".to_owned(), 8080))
    );
    assert!(rt.plain_used.load(Ordering::Relaxed));
    assert!(rt.tls_domain.lock().unwrap().is_none());
}

#[test]
fn wss_runs_tls_for_the_host_on_port_443() {
    let rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    let opts = ws_client::ConnectOptions::new("wss://secure.example/feed").no_keepalive();
    block_on(async {
        let (mut ws, _) = connect(&rt, &opts).await.unwrap();
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
    });
    assert_eq!(
        *rt.connected_to.lock().unwrap(),
        Some(("secure.example".to_owned(), 443))
    );
    assert_eq!(
        rt.tls_domain.lock().unwrap().as_deref(),
        Some("secure.example")
    );
    assert!(!rt.plain_used.load(Ordering::Relaxed));
}

#[test]
fn refused_connection_names_the_step_host_port_and_a_hint() {
    let rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let opts = client_options();
    let e = block_on(connect(&rt, &opts)).unwrap_err();
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
    match e {
        Error::Io(io) => assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused),
        other => panic!("{other}"),
    }
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
}

#[test]
fn failed_dns_lookup_says_to_check_the_host_name() {
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Fail;
    let opts = ws_client::ConnectOptions::new("ws://no-such-host.example:8080/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
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
    assert!(
        rt.attempts.lock().unwrap().is_empty(),
        "no TCP after DNS failed"
    );
}

#[test]
fn resolved_addresses_are_tried_in_order_and_named() {
    let mut rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let v4: IpAddr = "127.0.0.2".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    rt.dns = DnsMode::Addrs(vec![v6, v4]);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(*rt.attempts.lock().unwrap(), ["::1", "127.0.0.2"]);
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
    rt.dns = DnsMode::Addrs(vec![v4]);
    let opts = ws_client::ConnectOptions::new("ws://one.example:9/").no_keepalive();
    block_on(connect(&rt, &opts)).unwrap();
    assert_eq!(*rt.attempts.lock().unwrap(), ["127.0.0.2"]);
    let mut rt = FakeRuntime::new(TcpMode::Serve, ManualTimer::new().arc());
    rt.dns = DnsMode::Fail;
    let opts = ws_client::ConnectOptions::new("ws://127.0.0.3:9/").no_keepalive();
    block_on(connect(&rt, &opts)).unwrap();
    assert_eq!(*rt.attempts.lock().unwrap(), ["127.0.0.3"]);
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
    match e {
        Error::Io(io) => assert_eq!(io.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
}

#[test]
fn proxy_connect_failures_name_the_proxy() {
    let rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    let opts = client_options().proxy_url("http://10.9.8.7:3128");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(e.step(), Some(Step::Connect));
    assert_eq!(e.target(), Some("10.9.8.7:3128"));
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
    for (opts, expected) in cases {
        let mut rt = FakeRuntime::new(TcpMode::Redirect, ManualTimer::new().arc());
        rt.per_host
            .insert("elsewhere.example".to_owned(), TcpMode::Serve);
        let (ws, _, request) =
            block_on(ws_client::connect::connect_with_request(&rt, &opts)).unwrap();
        drop(ws);
        assert_eq!(request.url().as_str(), ELSEWHERE);
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
    assert!(rt.connected_to.lock().unwrap().is_none());
}

/// Checks that `fut` fails with a timeout at `step` exactly `after` from now, naming
/// `target`, the limit and the setting to raise (`hint`).
fn expect_timeout<F>(
    timer: &ManualTimer,
    fut: F,
    after: Duration,
    step: Step,
    target: &str,
    hint: &str,
) where
    F: std::future::Future<
        Output = Result<(ws_client::WebSocket<Pipe>, ws_handshake::Response), Error>,
    >,
{
    let mut fut = Box::pin(fut);
    assert!(poll_once(&mut fut).is_pending());
    timer.advance(after - Duration::from_millis(1));
    assert!(poll_once(&mut fut).is_pending(), "timed out early");
    timer.advance(Duration::from_millis(1));
    match poll_once(&mut fut) {
        Poll::Ready(Err(e @ Error::OpeningTimeout { .. })) => {
            let Error::OpeningTimeout {
                step: s,
                limit: l,
                target: t,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((*s, *l, t.as_deref()), (step, after, Some(target)));
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
}

#[test]
fn open_timeout_bounds_tls() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Serve, timer.arc());
    rt.tls_hangs = true;
    let opts = ws_client::ConnectOptions::new("wss://slow.example/")
        .open_timeout(Some(Duration::from_secs(4)));
    expect_timeout(
        &timer,
        connect(&rt, &opts),
        Duration::from_secs(4),
        Step::Tls,
        "slow.example:443",
        ".open_timeout(..)",
    );
}

#[test]
fn open_timeout_bounds_the_handshake() {
    let timer = ManualTimer::new();
    // A TCP peer that accepts and never answers.
    #[derive(Debug)]
    struct Silent(ManualTimer, Mutex<Option<Pipe>>);
    impl Runtime for Silent {
        type Tcp = Pipe;
        type Stream = Pipe;
        fn connect_tcp<'a>(&'a self, _: &'a str, _: u16) -> BoxFuture<'a, io::Result<Pipe>> {
            let (a, b) = duplex(1 << 16);
            *self.1.lock().unwrap() = Some(b); // kept open, never read
            Box::pin(async move { Ok(a) })
        }
        fn plain(&self, tcp: Pipe) -> Pipe {
            tcp
        }
        fn tls<'a>(&'a self, _: &'a str, tcp: Pipe) -> BoxFuture<'a, Result<Pipe, Error>> {
            Box::pin(async move { Ok(tcp) })
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

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The Happy Eyeballs stagger (RFC 8305's Connection Attempt Delay) in `connect.rs`.
const STAGGER: Duration = Duration::from_millis(250);

#[test]
fn dead_first_address_costs_the_stagger_not_the_connect_timeout() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Serve, timer.arc());
    rt.dns = DnsMode::Addrs(vec![ip("::1"), ip("127.0.0.2")]);
    rt.per_host.insert("::1".to_owned(), TcpMode::Hang);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/")
        .no_keepalive()
        .connect_timeout(Some(Duration::from_secs(5)));
    let start = timer.now();
    let mut fut = Box::pin(connect(&rt, &opts));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(*rt.attempts.lock().unwrap(), ["::1"]);
    timer.advance(STAGGER - Duration::from_millis(1));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(
        *rt.attempts.lock().unwrap(),
        ["::1"],
        "second attempt too early"
    );
    timer.advance(Duration::from_millis(1));
    let _ = poll_once(&mut fut);
    assert_eq!(*rt.attempts.lock().unwrap(), ["::1", "127.0.0.2"]);
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
    rt.dns = DnsMode::Addrs(vec![ip("::1"), ip("127.0.0.2")]);
    rt.per_host.insert("::1".to_owned(), TcpMode::Refuse);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/").no_keepalive();
    let mut fut = Box::pin(connect(&rt, &opts));
    let _ = poll_once(&mut fut);
    // Without the clock moving, the refusal has already started the next address.
    assert_eq!(*rt.attempts.lock().unwrap(), ["::1", "127.0.0.2"]);
    block_on(fut).unwrap();
}

#[test]
fn attempts_alternate_ipv6_and_ipv4_and_the_error_names_each() {
    let mut rt = FakeRuntime::new(TcpMode::Refuse, ManualTimer::new().arc());
    rt.dns = DnsMode::Addrs(vec![ip("::1"), ip("::2"), ip("127.0.0.2")]);
    let opts = ws_client::ConnectOptions::new("ws://dual.example:9/");
    let e = block_on(connect(&rt, &opts)).unwrap_err();
    assert_eq!(*rt.attempts.lock().unwrap(), ["::1", "127.0.0.2", "::2"]);
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
    match e {
        Error::Io(io) => assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connect_timeout_bounds_a_race_where_every_address_hangs() {
    let timer = ManualTimer::new();
    let mut rt = FakeRuntime::new(TcpMode::Hang, timer.arc());
    rt.dns = DnsMode::Addrs(vec![ip("::1"), ip("127.0.0.2"), ip("::2")]);
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
