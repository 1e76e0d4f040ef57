//! The connect flow over HTTP/2 as over HTTP/1.1: through an HTTP `CONNECT` and a SOCKS5
//! proxy (one tunnel carries the h2 connection and all its WebSockets; over TLS, ALPN runs
//! end to end with the target), redirects (followed on the same connection when the origin
//! stays), and the reconnecting client after a GOAWAY.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aiowebsocket::{
    builder, Event, H2Pool, H2Stream, Http2, Message, ReconnectPolicy, ServerOptions, Step,
};

use crate::http2::{h2_server, h2c, tls_config, Seen, Settings};
use crate::proxies::{http_proxy, socks5_proxy, ConnectSeen, HttpProxyConfig, SocksTarget};
use crate::runtimes::TestRuntime;
use crate::servers::echo_server;
use crate::support::{round_trip, Backend, Ca};

pub async fn h2c_through_an_http_proxy_is_one_tunnel_for_every_websocket<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::default(), None);
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let b = h2c(addr, "/echo")
        .proxy_url(format!("http://{proxy}"))
        .http2_pool(H2Pool::new());
    let mut first = R::connect(b.clone()).await.unwrap();
    let mut second = R::connect(b).await.unwrap();
    for ws in [&mut first, &mut second] {
        assert!(ws.get_ref().http2().is_some(), "over HTTP/2");
        round_trip(ws, Message::text("through the proxy")).await;
    }
    let asked = ConnectSeen {
        target: format!("127.0.0.1:{}", addr.port()),
        auth: None,
    };
    assert_eq!(*log.lock().unwrap(), [asked], "one CONNECT for both");
    assert_eq!(Seen::get(&seen.connections), 1);
    assert_eq!(Seen::get(&seen.streams), 2);
}

pub async fn h2c_through_socks5_is_one_tunnel_for_every_websocket<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::default(), None);
    let (proxy, log) = socks5_proxy(None);
    let b = builder(format!("ws://localhost:{}/echo", addr.port()))
        .http2(Http2::Require)
        .proxy_url(format!("socks5h://{proxy}"))
        .http2_pool(H2Pool::new());
    let mut first = R::connect(b.clone()).await.unwrap();
    let mut second = R::connect(b).await.unwrap();
    for ws in [&mut first, &mut second] {
        assert!(ws.get_ref().http2().is_some(), "over HTTP/2");
        round_trip(ws, Message::binary(vec![9u8; 70_000])).await;
    }
    let asked = SocksTarget::Domain("localhost".into(), addr.port());
    assert_eq!(*log.lock().unwrap(), [asked], "one tunnel for both");
    assert_eq!(Seen::get(&seen.connections), 1);
}

pub async fn wss_over_h2_through_an_http_proxy_negotiates_alpn_with_the_target<
    R: TestRuntime,
    B: Backend,
>() {
    let ca = Ca::new("h2 proxy CA");
    let (addr, seen) = h2_server(Settings::default(), Some(tls_config(&ca)));
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let url = format!("wss://localhost:{}/echo", addr.port());
    let b = B::trusting(builder(url), &ca, None)
        .http2(Http2::Prefer)
        .proxy_url(format!("http://{proxy}"));
    let mut ws = R::connect(b).await.unwrap();
    round_trip(&mut ws, Message::text("TLS through the tunnel")).await;
    assert_eq!(log.lock().unwrap().len(), 1);
    if B::NAME == "rustls" {
        assert!(ws.get_ref().http2().is_some_and(H2Stream::is_tls));
        assert_eq!(Seen::get(&seen.h2), 1);
    } else {
        // The user's native-tls connector offers no ALPN: HTTP/1.1 through the tunnel.
        assert!(ws.get_ref().http2().is_none() && ws.get_ref().is_tls());
        assert_eq!(Seen::get(&seen.http1), 1);
    }
}

pub async fn a_redirect_over_h2_is_followed_on_the_same_connection<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::raw(), None);
    let pool = H2Pool::new();
    let b = h2c(addr, "/moved").http2_pool(pool.clone());
    let (mut ws, response) = R::connect_with_response(b).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(ws.get_ref().http2().is_some());
    round_trip(&mut ws, Message::text("after the redirect")).await;
    // The 308 and the WebSocket: two streams of one connection.
    assert_eq!(Seen::get(&seen.connections), 1);
    assert_eq!(Seen::get(&seen.streams), 2);
    assert_eq!(pool.connections(), 1);
}

pub async fn the_reconnecting_client_comes_back_over_h2_after_a_goaway<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::raw(), None);
    let token = format!("{}-{}", std::any::type_name::<R>(), addr.port());
    let policy = ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(40))
        .stable_after(Duration::ZERO);
    let b = h2c(addr, &format!("/goaway-once/{token}")).no_keepalive();
    let mut ws = R::reconnecting(b).policy(policy).connect().await.unwrap();
    ws.send(Message::text("into the GOAWAY")).await.unwrap();
    let mut reasons = Vec::new();
    let echoed = loop {
        let event = R::timeout(Duration::from_secs(10), ws.recv())
            .await
            .expect("an event in time")
            .expect("not over")
            .unwrap();
        match event {
            Event::Disconnected { reason, .. } => reasons.push(reason),
            Event::Reconnected { .. } => ws.send(Message::text("again")).await.unwrap(),
            Event::Message(msg) => break msg,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(echoed, Message::text("again"));
    let first = reasons.first().and_then(|r| r.error()).expect("a failure");
    assert!(
        first.http2_error().is_some_and(|h2| h2.is_go_away()),
        "{first}"
    );
    // A new connection after the GOAWAY; the old one is gone.
    assert_eq!(Seen::get(&seen.connections), 2);
    assert!(Seen::get(&seen.h2) == 2 && seen.streams.load(Ordering::SeqCst) == 2);
}

pub async fn h2c_to_an_http1_only_server_says_what_to_change<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new(), None);
    let b = builder(format!("ws://{addr}/")).http2(Http2::Require);
    let e = R::connect(b).await.unwrap_err();
    assert_eq!(e.step(), Some(Step::Handshake), "{e:?}");
    assert_eq!(e.target(), Some(addr.to_string().as_str()));
    let text = e.to_string();
    assert!(
        text.contains("speaks only HTTP/1.1") && text.contains("Http2::Prefer"),
        "{text}"
    );
    // The same server over HTTP/1.1 (Prefer on ws://) works.
    let mut ws = R::connect(builder(format!("ws://{addr}/")).http2(Http2::Prefer))
        .await
        .unwrap();
    round_trip(&mut ws, Message::text("HTTP/1.1")).await;
}

pub async fn a_200_without_the_offered_extension_opens_uncompressed<R: TestRuntime>() {
    // The raw server answers 200 with no `sec-websocket-extensions` and runs no deflate: a
    // client that compressed anyway would be failed (RSV1) by it.
    let (addr, _) = h2_server(Settings::raw(), None);
    let (mut ws, response) = R::connect_with_response(h2c(addr, "/echo")).await.unwrap();
    assert!(response.header("sec-websocket-extensions").is_none());
    round_trip(&mut ws, Message::text("a".repeat(100_000))).await;
    round_trip(&mut ws, Message::binary(vec![0u8; 200_000])).await;
}
