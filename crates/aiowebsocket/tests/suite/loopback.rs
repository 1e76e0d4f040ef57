//! ws:// over 127.0.0.1 between our client and our server role, plus hand-written servers
//! that misbehave on purpose: messages, fragments, limits, timeouts, keepalive, readable
//! connect errors, `connect_on` / `accept` over streams the user opened, split halves.

use std::time::{Duration, Instant};

use aiowebsocket::{
    builder, CloseCode, Config, ConnectOptions, ErrorKind, HandshakeError, Message, ServerOptions,
    State, Step,
};

use crate::runtimes::TestRuntime;
use crate::servers::{echo_server, raw_server, silent_server};
use crate::support::{frame, noise, round_trip};

pub async fn text_and_binary_round_trip<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new(), None);
    let mut ws = R::connect_url(&format!("ws://{addr}/echo")).await.unwrap();
    assert!(!ws.get_ref().is_tls());
    assert!(
        R::nodelay(ws.get_ref().get_ref().unwrap()).unwrap(),
        "TCP_NODELAY is on"
    );
    round_trip(&mut ws, Message::text("hello")).await;
    round_trip(&mut ws, Message::text("")).await;
    round_trip(&mut ws, Message::text("ünïcödé ✓")).await;
    round_trip(&mut ws, Message::binary(vec![0u8, 1, 2, 255])).await;
    round_trip(&mut ws, Message::binary(Vec::new())).await;
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    let close = ws.close_frame().expect("the server answered the close");
    assert_eq!(close.code, CloseCode::NORMAL);
    assert!(ws.recv().await.is_none(), "nothing after the close");
}

pub async fn fragmented_messages_both_ways<R: TestRuntime>() {
    // Our client fragments its messages into 1000-byte frames; the server reassembles them
    // and its echo comes back in one frame.
    let addr = echo_server(ServerOptions::new(), None);
    let options = ConnectOptions::new(format!("ws://{addr}/"))
        .config(Config::default().write_frame_size(1000))
        .no_compression();
    let (mut ws, _) = R::connect_with(options).await.unwrap();
    round_trip(&mut ws, Message::binary(noise(10_500, 7))).await;
    round_trip(&mut ws, Message::text("é".repeat(3000))).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // A server that sends one text message in three frames (with a ping in between).
    let mut frames = frame(false, 0x1, b"Hel");
    frames.extend(frame(false, 0x0, b"lo, "));
    frames.extend(frame(true, 0x9, b"are you there"));
    frames.extend(frame(true, 0x0, b"world"));
    let addr = raw_server(frames);
    let mut ws = R::connect(builder(format!("ws://{addr}/")).no_keepalive())
        .await
        .unwrap();
    let ping = ws.recv().await.unwrap().unwrap();
    assert_eq!(ping, Message::ping(&b"are you there"[..]));
    let msg = ws.recv().await.unwrap().unwrap();
    assert_eq!(msg, Message::text("Hello, world"));
}

pub async fn large_messages<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new(), None);
    // Compressed (the default offer is accepted): compressible text.
    let mut ws = R::connect(builder(format!("ws://{addr}/"))).await.unwrap();
    round_trip(&mut ws, Message::text("abcdefgh".repeat(512 * 1024))).await; // 4 MiB
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    // Uncompressed: incompressible bytes.
    let mut ws = R::connect(builder(format!("ws://{addr}/")).no_compression())
        .await
        .unwrap();
    round_trip(&mut ws, Message::binary(noise(4 << 20, 3))).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

pub async fn message_over_the_limit_fails_with_1009<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new().max_message_size(Some(1000)), None);
    let (mut ws, _) = R::connect_with(ConnectOptions::new(format!("ws://{addr}/")))
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
}

/// The wss:// half (the TLS step times out) is `tls::tls_step_times_out_on_a_silent_server`.
pub async fn open_timeout_when_the_server_says_nothing<R: TestRuntime>() {
    let addr = silent_server();
    let b = builder(format!("ws://{addr}/")).open_timeout(Some(Duration::from_millis(200)));
    let err = R::connect(b).await.unwrap_err();
    let target = addr.to_string();
    assert_eq!(
        (err.step(), err.timeout_limit(), err.target()),
        (
            Some(Step::Handshake),
            Some(Duration::from_millis(200)),
            Some(target.as_str())
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
}

pub async fn close_returns_after_the_close_timeout_when_the_server_never_answers<R: TestRuntime>() {
    let addr = raw_server(Vec::new());
    let b = builder(format!("ws://{addr}/"))
        .no_keepalive()
        .close_timeout(Some(Duration::from_millis(300)));
    let mut ws = R::connect(b).await.unwrap();
    let started = Instant::now();
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        ws.close_frame().is_none(),
        "the server never sent a close frame"
    );
    assert_eq!(ws.state(), State::Closed);
}

pub async fn keepalive_fails_when_pings_go_unanswered<R: TestRuntime>() {
    let addr = raw_server(Vec::new());
    let b = builder(format!("ws://{addr}/"))
        .keepalive(Duration::from_millis(100), Duration::from_millis(200))
        .close_timeout(Some(Duration::from_millis(200)));
    let mut ws = R::connect(b).await.unwrap();
    let started = Instant::now();
    // The server sends nothing at all, so the first thing recv sees is the failure.
    let err = match ws.recv().await {
        Some(Err(e)) => e,
        Some(Ok(msg)) => panic!("unexpected message {msg:?}"),
        None => panic!("ended without the keepalive error"),
    };
    assert_eq!(
        (err.kind(), err.step()),
        (ErrorKind::Timeout, Some(Step::Keepalive)),
        "{err:?}"
    );
    assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

pub async fn keepalive_pings_are_answered_by_a_live_server<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new(), None);
    let b = builder(format!("ws://{addr}/"))
        .keepalive(Duration::from_millis(50), Duration::from_secs(5));
    let mut ws = R::connect(b).await.unwrap();
    // Several ping intervals pass while the application sends nothing: the pings are
    // answered (their pongs are handed to us) and the connection survives. Bounded by a
    // generous deadline rather than counted in a short window, so a loaded machine cannot
    // make it flaky.
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = R::timeout(left, ws.recv())
            .await
            .expect("three keepalive pongs within 5 s at a 50 ms interval")
            .expect("open")
            .expect("no keepalive error");
        assert!(msg.is_pong(), "only pongs while idle: {msg:?}");
    }
    round_trip(&mut ws, Message::text("still here")).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

pub async fn refused_connection_is_a_readable_error<R: TestRuntime>() {
    let port = crate::support::closed_port();
    let err = R::connect_url(&format!("ws://127.0.0.1:{port}/"))
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
    assert_eq!(
        err.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
}

pub async fn dns_failure_is_a_readable_error<R: TestRuntime>() {
    // `.invalid` never resolves (RFC 2606).
    let b = builder("ws://nonexistent.invalid/").connect_timeout(Some(Duration::from_secs(20)));
    let err = R::connect(b).await.unwrap_err();
    assert!(err.is_io(), "{err:?}");
    assert_eq!(err.step(), Some(Step::Dns));
    assert_eq!(err.target(), Some("nonexistent.invalid"));
    let text = err.to_string();
    assert!(
        text.starts_with("DNS lookup of nonexistent.invalid failed")
            && text.contains("check the host name in the URL"),
        "{text}"
    );
}

pub async fn bad_url_is_a_handshake_error_before_any_io<R: TestRuntime>() {
    let err = R::connect_url("not a url").await.unwrap_err();
    assert!(err.is_handshake(), "{err:?}");
}

pub async fn request_check_refusal_reaches_the_client_as_403<R: TestRuntime>() {
    let options = ServerOptions::new().check(|req| match req.header("origin") {
        Some("https://good.example") => Ok(()),
        _ => Err((403, "origin not allowed".into())),
    });
    let addr = echo_server(options, None);

    let err = R::connect_url(&format!("ws://{addr}/")).await.unwrap_err();
    match err.handshake_error() {
        Some(HandshakeError::UnexpectedStatus {
            status,
            body_excerpt,
            ..
        }) => {
            assert_eq!(*status, 403);
            assert!(body_excerpt.contains("origin not allowed"), "{err}");
        }
        other => panic!("expected a 403, got {other:?}"),
    }

    let b = builder(format!("ws://{addr}/")).origin("https://good.example");
    let mut ws = R::connect(b).await.unwrap();
    round_trip(&mut ws, Message::text("let in")).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

pub async fn connect_on_and_accept_over_user_opened_streams<R: TestRuntime>() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client_io = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_io, _) = listener.accept().unwrap();
    let server = R::spawn(async move {
        let options = ServerOptions::new().subprotocol("chat.v1");
        let mut ws = R::accept(server_io, options).await.unwrap();
        assert_eq!(ws.subprotocol(), Some("chat.v1"));
        while let Some(Ok(msg)) = ws.recv().await {
            if msg.is_data() {
                ws.send(msg).await.unwrap();
            }
        }
    });
    let options = ConnectOptions::new("ws://chat.example/chat")
        .subprotocol("chat.v2")
        .subprotocol("chat.v1");
    let (mut ws, response) = R::connect_on(client_io, options).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(ws.subprotocol(), Some("chat.v1"));
    ws.send(Message::text("through a user's stream"))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("through a user's stream")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    server.await;
}

pub async fn split_halves_work_from_two_tasks<R: TestRuntime>() {
    let addr = echo_server(ServerOptions::new(), None);
    let ws = R::connect(builder(format!("ws://{addr}/"))).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let sender = R::spawn(async move {
        for i in 0..50 {
            tx.send(Message::text(format!("n{i}"))).await.unwrap();
        }
        tx
    });
    for i in 0..50 {
        let msg = rx.recv().await.unwrap().unwrap();
        assert_eq!(msg, Message::text(format!("n{i}")));
    }
    let mut tx = sender.await;
    tx.close(CloseCode::NORMAL, "").await.unwrap();
    // The receiver sees the server's close frame, then the end.
    let last = rx.recv().await.unwrap().unwrap();
    assert_eq!(last, Message::close(CloseCode::NORMAL, ""));
    assert!(rx.recv().await.is_none());
}
