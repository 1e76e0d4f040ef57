//! ws:// and wss:// over 127.0.0.1 between our client (`connect*`) and our server role
//! (`accept`), plus hand-written servers that misbehave on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod support;

use std::time::{Duration, Instant};

use support::{
    echo_server, frame, noise, raw_server, round_trip, silent_server, RawScript, TestCert,
};
use ws_client::error::Step;
use ws_client::options::{ConnectOptions, ServerOptions};
use ws_client::{CloseCode, Config, Message};
use ws_tokio::TokioRuntime;

/// Every test is bounded: a hang fails instead of blocking the suite.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took more than 30 s")
}

#[tokio::test]
async fn text_and_binary_round_trip() {
    bounded(async {
        let addr = echo_server(ServerOptions::new(), None).await;
        let mut ws = ws_tokio::connect(&format!("ws://{addr}/echo"))
            .await
            .unwrap();
        assert!(!ws.get_ref().is_tls());
        assert!(ws.get_ref().tcp().nodelay().unwrap(), "TCP_NODELAY is on");
        round_trip(&mut ws, Message::text("hello")).await;
        round_trip(&mut ws, Message::text("")).await;
        round_trip(&mut ws, Message::text("ünïcödé ✓")).await;
        round_trip(&mut ws, Message::binary(vec![0u8, 1, 2, 255])).await;
        round_trip(&mut ws, Message::binary(Vec::new())).await;
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let close = ws.close_frame().expect("the server answered the close");
        assert_eq!(close.code, CloseCode::NORMAL);
        assert!(ws.recv().await.is_none(), "nothing after the close");
    })
    .await;
}

#[tokio::test]
async fn fragmented_messages_both_ways() {
    bounded(async {
        // Our client fragments its messages into 1000-byte frames; the server reassembles
        // them and its echo comes back in one frame.
        let addr = echo_server(ServerOptions::new(), None).await;
        let options = ConnectOptions::new(format!("ws://{addr}/"))
            .config(Config::default().write_frame_size(1000))
            .no_compression();
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        round_trip(&mut ws, Message::binary(noise(10_500, 7))).await;
        round_trip(&mut ws, Message::text("é".repeat(3000))).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // A server that sends one text message in three frames (with a ping in between).
        let mut frames = frame(false, 0x1, b"Hel");
        frames.extend(frame(false, 0x0, b"lo, "));
        frames.extend(frame(true, 0x9, b"are you there"));
        frames.extend(frame(true, 0x0, b"world"));
        let addr = raw_server(RawScript::WriteThenIgnore(frames)).await;
        let options = ConnectOptions::new(format!("ws://{addr}/")).no_keepalive();
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        let ping = ws.recv().await.unwrap().unwrap();
        assert_eq!(ping, Message::ping(&b"are you there"[..]));
        let msg = ws.recv().await.unwrap().unwrap();
        assert_eq!(msg, Message::text("Hello, world"));
    })
    .await;
}

#[tokio::test]
async fn large_messages() {
    bounded(async {
        let addr = echo_server(ServerOptions::new(), None).await;
        // Compressed (the default offer is accepted): compressible text.
        let mut ws = ws_tokio::connect(&format!("ws://{addr}/")).await.unwrap();
        round_trip(&mut ws, Message::text("abcdefgh".repeat(512 * 1024))).await; // 4 MiB
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        // Uncompressed: incompressible bytes.
        let options = ConnectOptions::new(format!("ws://{addr}/")).no_compression();
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        round_trip(&mut ws, Message::binary(noise(4 << 20, 3))).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn message_over_the_limit_fails_with_1009() {
    bounded(async {
        let addr = echo_server(ServerOptions::new().max_message_size(Some(1000)), None).await;
        let (mut ws, _) = ws_tokio::connect_with(ConnectOptions::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        round_trip(&mut ws, Message::binary(vec![1u8; 1000])).await;
        ws.send(Message::binary(vec![1u8; 1001])).await.unwrap();
        // The server refuses it: its close frame says 1009.
        while let Some(Ok(msg)) = ws.recv().await {
            if let Message::Close(frame) = msg {
                assert_eq!(frame.unwrap().code, CloseCode::MESSAGE_TOO_BIG);
                return;
            }
        }
        panic!("expected the server's 1009 close frame");
    })
    .await;
}

#[tokio::test]
async fn wss_with_a_generated_certificate() {
    bounded(async {
        let cert = TestCert::generate();
        let addr = echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        let rt = TokioRuntime::with_tls_connector(cert.connector());
        for url in [
            format!("wss://127.0.0.1:{}/", addr.port()),
            format!("wss://localhost:{}/", addr.port()),
        ] {
            let (mut ws, response) = rt.connect(ConnectOptions::new(url)).await.unwrap();
            assert_eq!(response.status(), 101);
            assert!(ws.get_ref().is_tls());
            round_trip(&mut ws, Message::text("over TLS")).await;
            round_trip(&mut ws, Message::binary(noise(1 << 20, 9))).await;
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
        }
    })
    .await;
}

#[tokio::test]
async fn wss_untrusted_certificate_is_a_readable_tls_error() {
    bounded(async {
        let cert = TestCert::generate();
        let addr = echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        // The default connector (system roots) does not trust the generated certificate.
        let err = ws_tokio::connect(&format!("wss://localhost:{}/", addr.port()))
            .await
            .unwrap_err();
        assert!(
            err.is_io() && err.is_tls() && err.is_tls_certificate(),
            "{err:?}"
        );
        assert_eq!(err.step(), Some(Step::Tls));
        let target = format!("localhost:{}", addr.port());
        assert_eq!(err.target(), Some(target.as_str()));
        let text = err.to_string();
        assert!(
            text.starts_with("TLS handshake with localhost failed"),
            "{text}"
        );
        // The hint works whichever way the connection was built.
        assert!(
            text.contains("aiowebsocket::builder(url).tls_connector(..)")
                && text.contains("TokioRuntime::with_tls_connector(..)"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn open_timeout_when_the_server_says_nothing() {
    bounded(async {
        let addr = silent_server().await;
        let options = ConnectOptions::new(format!("ws://{addr}/"))
            .open_timeout(Some(Duration::from_millis(200)));
        let err = ws_tokio::connect_with(options).await.unwrap_err();
        let target = addr.to_string();
        assert!(
            matches!(
                &err,
                ws_client::Error::OpeningTimeout {
                    step: Step::Handshake,
                    limit,
                    target: Some(t),
                } if *limit == Duration::from_millis(200) && *t == target
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "HTTP upgrade with {target} timed out (limit 200 ms)"
            )) && text.contains(".open_timeout(..)"),
            "{text}"
        );

        // Same silence on wss://: the TLS step is the one that times out.
        let options = ConnectOptions::new(format!("wss://{addr}/"))
            .open_timeout(Some(Duration::from_millis(200)));
        let err = ws_tokio::connect_with(options).await.unwrap_err();
        // The limit reported is the configured one, not what was left after TCP.
        assert!(
            matches!(
                &err,
                ws_client::Error::OpeningTimeout {
                    step: Step::Tls,
                    limit,
                    ..
                } if *limit == Duration::from_millis(200)
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "TLS handshake with {target} timed out (limit 200 ms)"
            )) && text.contains("speaks TLS on this port"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn close_returns_after_the_close_timeout_when_the_server_never_answers() {
    bounded(async {
        let addr = raw_server(RawScript::WriteThenIgnore(Vec::new())).await;
        let options = ConnectOptions::new(format!("ws://{addr}/"))
            .no_keepalive()
            .close_timeout(Some(Duration::from_millis(300)));
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        let started = Instant::now();
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(
            ws.close_frame().is_none(),
            "the server never sent a close frame"
        );
        assert_eq!(ws.state(), ws_client::State::Closed);
    })
    .await;
}

#[tokio::test]
async fn keepalive_fails_when_pings_go_unanswered() {
    bounded(async {
        let addr = raw_server(RawScript::WriteThenIgnore(Vec::new())).await;
        let options = ConnectOptions::new(format!("ws://{addr}/"))
            .keepalive(Duration::from_millis(100), Duration::from_millis(200))
            .close_timeout(Some(Duration::from_millis(200)));
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        let started = Instant::now();
        // The server sends nothing at all, so the first thing recv sees is the failure.
        let err = match ws.recv().await {
            Some(Err(e)) => e,
            Some(Ok(msg)) => panic!("unexpected message {msg:?}"),
            None => panic!("ended without the keepalive error"),
        };
        assert!(
            matches!(
                err,
                ws_client::Error::Timeout {
                    step: Step::Keepalive
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
        assert!(started.elapsed() >= Duration::from_millis(300));
    })
    .await;
}

#[tokio::test]
async fn keepalive_pings_are_answered_by_a_live_server() {
    bounded(async {
        let addr = echo_server(ServerOptions::new(), None).await;
        let options = ConnectOptions::new(format!("ws://{addr}/"))
            .keepalive(Duration::from_millis(50), Duration::from_secs(5));
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        // Several ping intervals pass while the application sends nothing: the pings are
        // answered (their pongs are handed to us) and the connection survives. Bounded by
        // a generous deadline rather than counted in a short window, so a loaded machine
        // cannot make it flaky.
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..3 {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, ws.recv())
                .await
                .expect("three keepalive pongs within 5 s at a 50 ms interval")
                .expect("open")
                .expect("no keepalive error");
            assert!(msg.is_pong(), "only pongs while idle: {msg:?}");
        }
        round_trip(&mut ws, Message::text("still here")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn refused_connection_is_a_readable_error() {
    bounded(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = ws_tokio::connect(&format!("ws://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(err.is_io(), "{err:?}");
        assert_eq!(err.step(), Some(Step::Connect));
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("TCP connect to 127.0.0.1:{port} failed")),
            "{text}"
        );
        assert!(
            text.contains("is a server listening on that port?"),
            "{text}"
        );
        assert!(!text.contains("WebSocket connection"), "{text}");
        match err {
            ws_client::Error::Io(io) => {
                assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused)
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn dns_failure_is_a_readable_error() {
    bounded(async {
        // `.invalid` never resolves (RFC 2606).
        let options = ConnectOptions::new("ws://nonexistent.invalid/")
            .connect_timeout(Some(Duration::from_secs(20)));
        let err = ws_tokio::connect_with(options).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
        assert_eq!(err.step(), Some(Step::Dns));
        assert_eq!(err.target(), Some("nonexistent.invalid"));
        let text = err.to_string();
        assert!(
            text.starts_with("DNS lookup of nonexistent.invalid failed")
                && text.contains("check the host name in the URL"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_url_is_a_handshake_error_before_any_io() {
    let err = ws_tokio::connect("not a url").await.unwrap_err();
    assert!(err.is_handshake(), "{err:?}");
}

#[tokio::test]
async fn request_check_refusal_reaches_the_client_as_403() {
    bounded(async {
        let options = ServerOptions::new().check(|req| match req.header("origin") {
            Some("https://good.example") => Ok(()),
            _ => Err((403, "origin not allowed".into())),
        });
        let addr = echo_server(options, None).await;

        let err = ws_tokio::connect(&format!("ws://{addr}/"))
            .await
            .unwrap_err();
        match &err {
            ws_client::Error::Handshake(ws_handshake::HandshakeError::UnexpectedStatus {
                status,
                body_excerpt,
                ..
            }) => {
                assert_eq!(*status, 403);
                assert!(body_excerpt.contains("origin not allowed"), "{err}");
            }
            other => panic!("expected a 403, got {other:?}"),
        }

        let options = ConnectOptions::new(format!("ws://{addr}/")).origin("https://good.example");
        let (mut ws, _) = ws_tokio::connect_with(options).await.unwrap();
        round_trip(&mut ws, Message::text("let in")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connect_on_and_accept_over_an_in_memory_pipe() {
    bounded(async {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let options = ServerOptions::new().subprotocol("chat.v1");
            let mut ws = ws_tokio::accept(server_io, &options).await.unwrap();
            assert_eq!(ws.subprotocol(), Some("chat.v1"));
            while let Some(Ok(msg)) = ws.recv().await {
                if msg.is_data() {
                    ws.send(msg).await.unwrap();
                }
            }
        });
        let options = ConnectOptions::new("ws://in-memory.example/chat")
            .subprotocol("chat.v2")
            .subprotocol("chat.v1");
        let (mut ws, response) = ws_tokio::connect_on(client_io, options).await.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(ws.subprotocol(), Some("chat.v1"));
        ws.send(Message::text("through a pipe")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("through a pipe")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    bounded(async {
        let addr = echo_server(ServerOptions::new(), None).await;
        let ws = ws_tokio::connect(&format!("ws://{addr}/")).await.unwrap();
        let (mut tx, mut rx) = ws.split();
        let sender = tokio::spawn(async move {
            for i in 0..50 {
                tx.send(Message::text(format!("n{i}"))).await.unwrap();
            }
            tx
        });
        for i in 0..50 {
            let msg = rx.recv().await.unwrap().unwrap();
            assert_eq!(msg, Message::text(format!("n{i}")));
        }
        let mut tx = sender.await.unwrap();
        tx.close(CloseCode::NORMAL, "").await.unwrap();
        // The receiver sees the server's close frame, then the end.
        let last = rx.recv().await.unwrap().unwrap();
        assert_eq!(last, Message::close(CloseCode::NORMAL, ""));
        assert!(rx.recv().await.is_none());
    })
    .await;
}
