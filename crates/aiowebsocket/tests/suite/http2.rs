//! WebSockets over HTTP/2 (RFC 8441, feature `http2`) against an in-process h2 server
//! (`h2::server` on the servers' tokio runtime, our server role over `H2Stream` per
//! stream): h2c, several WebSockets on one connection, the stream cap, the pool's idle
//! close, and the faults: no extended CONNECT, a reset mid-message, GOAWAY with open
//! streams, an unoffered extension in a 200, a flow-control window that never opens; over
//! TLS, ALPN and the fallback to HTTP/1.1.
//!
//! The server picks its behaviour by path: `/echo` (and any other) echoes, `/reset` sends
//! half a frame then RST_STREAM(CANCEL), `/goaway` shuts the connection down (GOAWAY) after
//! the client's first bytes, `/ext` answers 200 with an extension nobody offered, `/stall`
//! answers and never reads, `/noend` answers the close and never ends the stream.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiowebsocket::rustls;
use aiowebsocket::tokio::{TokioIo, TokioTimer};
use aiowebsocket::ws_client::handshake::server_accept;
use aiowebsocket::ws_client::{Config, Connection, Role};
use aiowebsocket::ws_handshake::HandshakeError;
use aiowebsocket::{
    builder, CloseCode, H2Pool, H2Stream, Http2, Message, ServerOptions, Step, WebSocketStream,
};
use bytes::Bytes;
use tokio::net::TcpStream;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::runtimes::{echo, TestRuntime};
use crate::servers::listen;
use crate::support::{frame, noise, round_trip, Backend, Ca};

/// How the test server's h2 connections are set up.
#[derive(Clone, Copy)]
struct Settings {
    extended_connect: bool,
    max_streams: Option<u32>,
    window: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            extended_connect: true,
            max_streams: None,
            window: None,
        }
    }
}

/// What the server saw: TCP connections, and how each was served.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    h2: AtomicUsize,
    http1: AtomicUsize,
    streams: AtomicUsize,
}

impl Seen {
    fn get(n: &AtomicUsize) -> usize {
        n.load(Ordering::SeqCst)
    }
}

/// An h2 server (h2c on plain TCP; with `tls`, ALPN decides between h2 and HTTP/1.1).
fn h2_server(
    settings: Settings,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let counters = seen.clone();
    let acceptor = tls.map(futures_rustls::TlsAcceptor::from);
    let addr = listen(move |tcp: TcpStream| {
        let seen = counters.clone();
        let acceptor = acceptor.clone();
        async move {
            seen.connections.fetch_add(1, Ordering::SeqCst);
            let Some(acceptor) = acceptor else {
                seen.h2.fetch_add(1, Ordering::SeqCst);
                return serve_h2(tcp, settings, seen, false).await;
            };
            let Ok(tls) = acceptor.accept(TokioIo::new(tcp)).await else {
                return;
            };
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                seen.h2.fetch_add(1, Ordering::SeqCst);
                serve_h2(tls.compat(), settings, seen, true).await;
            } else {
                seen.http1.fetch_add(1, Ordering::SeqCst);
                let timer = Some(Arc::new(TokioTimer) as _);
                if let Ok(ws) = server_accept(tls, &ServerOptions::new(), timer).await {
                    echo(ws).await;
                }
            }
        }
    });
    (addr, seen)
}

/// One h2 connection: accepts extended CONNECTs until it ends; a `/goaway` stream makes
/// it shut down.
async fn serve_h2<T>(io: T, settings: Settings, seen: Arc<Seen>, secure: bool)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = h2::server::Builder::new();
    if settings.extended_connect {
        builder.enable_connect_protocol();
    }
    if let Some(n) = settings.max_streams {
        builder.max_concurrent_streams(n);
    }
    if let Some(w) = settings.window {
        builder.initial_window_size(w);
    }
    let Ok(mut conn) = builder.handshake::<_, Bytes>(io).await else {
        return;
    };
    let shutdown = Arc::new(tokio::sync::Notify::new());
    loop {
        tokio::select! {
            next = conn.accept() => match next {
                Some(Ok((request, respond))) => {
                    seen.streams.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve_stream(request, respond, shutdown.clone(), secure));
                }
                _ => return,
            },
            () = shutdown.notified() => {
                conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                let _ = std::future::poll_fn(|cx| conn.poll_closed(cx)).await;
                return;
            }
        }
    }
}

/// One extended CONNECT, served as its path says.
async fn serve_stream(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    shutdown: Arc<tokio::sync::Notify>,
    secure: bool,
) {
    let protocol = request.extensions().get::<h2::ext::Protocol>();
    let websocket = request.method() == http::Method::CONNECT
        && protocol.map(|p| p.as_str()) == Some("websocket")
        && request
            .headers()
            .get("sec-websocket-version")
            .map(|v| v.as_bytes())
            == Some(b"13");
    let path = request.uri().path().to_owned();
    let mut response = http::Response::builder().status(if websocket { 200 } else { 400 });
    if path == "/ext" {
        response = response.header("sec-websocket-extensions", "x-unoffered");
    }
    let Ok(mut send) = respond.send_response(response.body(()).expect("response"), !websocket)
    else {
        return;
    };
    let mut recv = request.into_body();
    match path.as_str() {
        "/reset" => {
            // A binary frame announcing 100 bytes, 12 of them, then the reset.
            let whole = frame(true, 2, &[7; 100]);
            let _ = send.send_data(Bytes::copy_from_slice(&whole[..12]), false);
            tokio::time::sleep(Duration::from_millis(50)).await;
            send.send_reset(h2::Reason::CANCEL);
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        "/goaway" => {
            let _ = recv.data().await;
            shutdown.notify_one();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        "/stall" => tokio::time::sleep(Duration::from_secs(20)).await,
        "/noend" => {
            // Hypercorn's way: the close answered, the stream never ended.
            let _ = recv.data().await;
            let close = frame(true, 8, &1000u16.to_be_bytes());
            let _ = send.send_data(Bytes::from(close), false);
            tokio::time::sleep(Duration::from_secs(20)).await;
        }
        _ => {
            let stream = H2Stream::from_h2(send, recv, secure);
            let conn = Connection::new(Role::Server, Config::default());
            echo(WebSocketStream::from_connection(
                stream,
                conn,
                Some(Arc::new(TokioTimer)),
            ))
            .await;
        }
    }
}

fn h2c(addr: SocketAddr, path: &str) -> aiowebsocket::ClientBuilder {
    builder(format!("ws://127.0.0.1:{}{path}", addr.port())).http2(Http2::Require)
}

/// Waits (up to 5 s) for `f` to hold.
async fn eventually<R: TestRuntime>(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(5), "never: {what}");
        R::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn h2c_echoes_and_closes_cleanly<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::default(), None);
    let (mut ws, response) = R::connect_with_response(h2c(addr, "/echo")).await.unwrap();
    assert_eq!(response.status(), 200);
    let h2 = ws.get_ref().http2().expect("over HTTP/2");
    assert!(!h2.is_tls() && ws.get_ref().get_ref().is_none());
    round_trip(&mut ws, Message::text("over h2c")).await;
    round_trip(&mut ws, Message::binary(noise(1 << 20, 3))).await;
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!((Seen::get(&seen.connections), Seen::get(&seen.h2)), (1, 1));
}

pub async fn a_close_ends_without_waiting_for_the_server_to_end_the_stream<R: TestRuntime>() {
    let (addr, _) = h2_server(Settings::default(), None);
    let b = h2c(addr, "/noend").close_timeout(Some(Duration::from_secs(10)));
    let mut ws = R::connect(b).await.unwrap();
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

pub async fn websockets_to_one_origin_share_one_connection<R: TestRuntime>() {
    let (addr, seen) = h2_server(Settings::default(), None);
    let pool = H2Pool::new().idle_timeout(None);
    let b = h2c(addr, "/echo").http2_pool(pool.clone());
    // Two opens at once share one dial; then three more on the same connection.
    let (first, second) = smol::future::zip(R::connect(b.clone()), R::connect(b.clone())).await;
    let mut all = vec![first.unwrap(), second.unwrap()];
    for _ in 0..3 {
        all.push(R::connect(b.clone()).await.unwrap());
    }
    assert_eq!(Seen::get(&seen.connections), 1, "one TCP connection");
    assert_eq!(Seen::get(&seen.streams), 5);
    assert_eq!((pool.connections(), pool.streams()), (1, 5));
    for (i, ws) in all.iter_mut().enumerate() {
        round_trip(ws, Message::text(format!("stream {i}"))).await;
    }
    // Closing one disturbs no other.
    let mut closed = all.remove(2);
    closed.close(CloseCode::NORMAL, "").await.unwrap();
    drop(closed);
    for (i, ws) in all.iter_mut().enumerate() {
        round_trip(ws, Message::binary(noise(100_000, i as u64))).await;
    }
    eventually::<R>("4 streams left", || pool.streams() == 4).await;
    // The last one gone, the connection closes (idle timeout None).
    drop(all);
    eventually::<R>("the connection closed", || pool.connections() == 0).await;
    assert_eq!(Seen::get(&seen.connections), 1);
}

pub async fn a_full_connection_makes_the_next_websocket_dial_another<R: TestRuntime>() {
    let settings = Settings {
        max_streams: Some(2),
        ..Settings::default()
    };
    let (addr, seen) = h2_server(settings, None);
    let b = h2c(addr, "/echo");
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(R::connect(b.clone()).await.unwrap());
    }
    assert_eq!(
        Seen::get(&seen.connections),
        2,
        "the server allows 2 streams each"
    );
    for ws in &mut all {
        round_trip(ws, Message::text("capped")).await;
    }
}

pub async fn without_extended_connect_require_fails_with_a_typed_error<R: TestRuntime>() {
    let settings = Settings {
        extended_connect: false,
        ..Settings::default()
    };
    let (addr, _) = h2_server(settings, None);
    let e = R::connect(h2c(addr, "/echo")).await.unwrap_err();
    let h2 = e.http2_error().expect("an HTTP/2 error");
    assert!(h2.is_extended_connect_disabled(), "{e}");
    assert_eq!(e.step(), Some(Step::Handshake));
    assert!(
        e.to_string().contains("SETTINGS_ENABLE_CONNECT_PROTOCOL"),
        "{e}"
    );
    assert!(aiowebsocket::ws_client::reconnect::is_permanent(&e));
}

pub async fn a_reset_mid_message_is_a_typed_error_and_spares_the_other_streams<R: TestRuntime>() {
    let (addr, _) = h2_server(Settings::default(), None);
    let pool = H2Pool::new();
    let mut echo = R::connect(h2c(addr, "/echo").http2_pool(pool.clone()))
        .await
        .unwrap();
    let mut reset = R::connect(h2c(addr, "/reset").http2_pool(pool.clone()))
        .await
        .unwrap();
    assert_eq!(pool.connections(), 1);
    let e = reset.recv().await.expect("an error").unwrap_err();
    let h2 = e
        .http2_error()
        .unwrap_or_else(|| panic!("not an HTTP/2 error: {e}"));
    assert!(h2.is_reset() && h2.is_remote(), "{h2}");
    assert_eq!(h2.reason(), Some(0x8));
    assert!(!aiowebsocket::ws_client::reconnect::is_permanent(&e));
    round_trip(&mut echo, Message::text("still here")).await;
}

pub async fn goaway_with_open_streams_is_a_typed_error<R: TestRuntime>() {
    let (addr, _) = h2_server(Settings::default(), None);
    let pool = H2Pool::new();
    let mut open = R::connect(h2c(addr, "/echo").http2_pool(pool.clone()))
        .await
        .unwrap();
    let mut trigger = R::connect(h2c(addr, "/goaway").http2_pool(pool.clone()))
        .await
        .unwrap();
    round_trip(&mut open, Message::text("before")).await;
    trigger.send(Message::text("shut it down")).await.unwrap();
    let e = open.recv().await.expect("an error").unwrap_err();
    let h2 = e
        .http2_error()
        .unwrap_or_else(|| panic!("not an HTTP/2 error: {e}"));
    assert!(h2.is_go_away(), "{h2}");
    assert!(!aiowebsocket::ws_client::reconnect::is_permanent(&e));
    // The next WebSocket gets a new connection.
    eventually::<R>("the dead connection left the pool", || {
        pool.connections() == 0
    })
    .await;
    let mut again = R::connect(h2c(addr, "/echo").http2_pool(pool))
        .await
        .unwrap();
    round_trip(&mut again, Message::text("after")).await;
}

pub async fn a_200_with_an_unoffered_extension_is_the_handshake_error<R: TestRuntime>() {
    let (addr, _) = h2_server(Settings::default(), None);
    let e = R::connect(h2c(addr, "/ext")).await.unwrap_err();
    assert!(
        matches!(
            e.handshake_error(),
            Some(HandshakeError::UnrequestedExtension { name }) if name == "x-unoffered"
        ),
        "{e}"
    );
}

pub async fn a_window_that_never_opens_times_out_the_write<R: TestRuntime>() {
    let settings = Settings {
        window: Some(0),
        ..Settings::default()
    };
    let (addr, _) = h2_server(settings, None);
    let b = h2c(addr, "/stall").write_timeout(Some(Duration::from_millis(300)));
    let mut ws = R::connect(b).await.unwrap();
    let start = Instant::now();
    let e = ws
        .send(Message::binary(noise(1 << 16, 5)))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.step(), Some(Step::Write));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// A rustls server with ALPN `h2, http/1.1`.
fn tls_config(ca: &Ca) -> Arc<rustls::ServerConfig> {
    let leaf = ca.server(&["localhost", "127.0.0.1"]);
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.cert_der.clone()], leaf.key())
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

pub async fn wss_prefer_runs_over_h2_when_alpn_agrees<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("h2 CA");
    let (addr, seen) = h2_server(Settings::default(), Some(tls_config(&ca)));
    let url = format!("wss://localhost:{}/echo", addr.port());
    let b = B::trusting(builder(url), &ca, None).http2(Http2::Prefer);
    let mut ws = R::connect(b.clone()).await.unwrap();
    round_trip(&mut ws, Message::text("over TLS")).await;
    let mut second = R::connect(b).await.unwrap();
    round_trip(&mut second, Message::text("again")).await;
    if B::NAME == "rustls" {
        // ALPN offered h2: both WebSockets on one h2 connection.
        assert!(ws.get_ref().http2().is_some_and(H2Stream::is_tls));
        assert_eq!((Seen::get(&seen.h2), Seen::get(&seen.http1)), (1, 0));
    } else {
        // A native-tls connector of the user's is used as is: no ALPN, HTTP/1.1.
        assert!(ws.get_ref().http2().is_none() && ws.get_ref().is_tls());
        assert_eq!((Seen::get(&seen.h2), Seen::get(&seen.http1)), (0, 2));
    }
}

pub async fn wss_prefer_falls_back_to_http1_without_extended_connect<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("h2 CA");
    let settings = Settings {
        extended_connect: false,
        ..Settings::default()
    };
    let (addr, seen) = h2_server(settings, Some(tls_config(&ca)));
    let url = format!("wss://localhost:{}/echo", addr.port());
    let b = B::trusting(builder(url), &ca, None).http2(Http2::Prefer);
    for i in 0..2 {
        let mut ws = R::connect(b.clone()).await.unwrap();
        assert!(ws.get_ref().http2().is_none() && ws.get_ref().tls().is_some());
        round_trip(&mut ws, Message::text(format!("HTTP/1.1 #{i}"))).await;
    }
    if B::NAME == "rustls" {
        // One h2 connection learnt that it cannot carry WebSockets; remembered after.
        assert_eq!((Seen::get(&seen.h2), Seen::get(&seen.http1)), (1, 2));
        let e = R::connect(
            B::trusting(
                builder(format!("wss://localhost:{}/echo", addr.port())),
                &ca,
                None,
            )
            .http2(Http2::Require),
        )
        .await
        .unwrap_err();
        assert!(
            e.http2_error()
                .is_some_and(|h2| h2.is_extended_connect_disabled()),
            "{e}"
        );
    } else {
        assert_eq!((Seen::get(&seen.h2), Seen::get(&seen.http1)), (0, 2));
    }
}
