//! The facade's promises: the default runtime, both runtime modules, the builder (headers,
//! Origin, TLS connector), and the re-exported types working together.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod runtimes;

use std::net::SocketAddr;
use std::time::Duration;

use aiowebsocket::native_tls::{Certificate, Identity, TlsAcceptor, TlsConnector};
use aiowebsocket::{CloseCode, Message, ServerOptions};
use runtimes::echo;

/// With the `tokio` feature on (the default), the top-level types are tokio's.
#[test]
fn default_runtime_is_tokio() {
    fn same(ws: aiowebsocket::WebSocket) -> aiowebsocket::tokio::WebSocket {
        ws
    }
    let _ = same;
}

/// Echoes data messages back; with `check`, refuses requests the hook refuses.
async fn tokio_echo_server(options: ServerOptions) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let options = options.clone();
            tokio::spawn(async move {
                if let Ok(ws) = aiowebsocket::tokio::accept(tcp, &options).await {
                    echo(ws).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn top_level_connect_runs_on_tokio() {
    let addr = tokio_echo_server(ServerOptions::new()).await;
    let mut ws = aiowebsocket::connect(&format!("ws://{addr}/"))
        .await
        .unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
}

#[tokio::test]
async fn builder_sends_origin_and_headers() {
    let options = ServerOptions::new().check(|req| {
        let origin_ok = req.header("origin") == Some("https://app.example");
        let token_ok = req.header("x-token") == Some("s3cret");
        if origin_ok && token_ok {
            Ok(())
        } else {
            Err((403, "origin or token refused".into()))
        }
    });
    let addr = tokio_echo_server(options).await;
    let url = format!("ws://{addr}/");

    let err = aiowebsocket::builder(&url)
        .origin("https://evil.example")
        .header("X-Token", "s3cret")
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_handshake(), "{err:?}");
    assert_eq!(err.http_status(), Some(403));
    // The status line's phrase and the server's reason (the body), each once.
    let text = err.to_string();
    assert!(text.contains("403 Forbidden"), "{text}");
    assert_eq!(text.matches("origin or token refused").count(), 1, "{text}");

    let (mut ws, response) = aiowebsocket::builder(&url)
        .origin("https://app.example")
        .header("X-Token", "s3cret")
        .keepalive(Duration::from_secs(5), Duration::from_secs(5))
        .connect_with_response()
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::binary(vec![1u8, 2, 3])
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

/// A wss:// echo server run by async-std, with a certificate generated now; returns the
/// address and the certificate (PEM) a client must trust.
async fn async_std_wss_server() -> (SocketAddr, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = ck.cert.pem();
    let identity = Identity::from_pkcs8(
        cert_pem.as_bytes(),
        ck.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let acceptor = TlsAcceptor::new(identity).unwrap();
    let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    async_std::task::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            async_std::task::spawn(async move {
                let Ok(tls) = aiowebsocket::ws_client::tls::native::accept(&acceptor, tcp).await
                else {
                    return;
                };
                if let Ok(ws) = aiowebsocket::async_std::accept(tls, &ServerOptions::new()).await {
                    echo(ws).await;
                }
            });
        }
    });
    (addr, cert_pem)
}

#[tokio::test]
async fn builder_tls_connector_trusts_a_private_certificate() {
    let (addr, cert_pem) = async_std_wss_server().await;
    let url = format!("wss://localhost:{}/", addr.port());

    // Without the certificate: a TLS error that says what to do, in the builder's terms for
    // the build's default library (rustls when compiled in, as here).
    let default = aiowebsocket::builder(&url);
    assert_eq!(
        default.tls_backend(),
        Some(aiowebsocket::TlsBackend::Rustls)
    );
    let err = default.connect().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("TLS handshake with localhost failed (rustls)"),
        "{text}"
    );
    assert!(text.contains(".rustls_config(..)"), "{text}");
    assert!(err.is_tls_certificate(), "{err:?}");

    let connector = TlsConnector::builder()
        .add_root_certificate(Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let mut ws = aiowebsocket::builder(&url)
        .tls_connector(connector)
        .connect()
        .await
        .unwrap();
    assert!(ws.get_ref().is_tls());
    ws.send(Message::text("secret")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("secret"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[async_std::test]
async fn async_std_module_and_builder() {
    let (addr, cert_pem) = async_std_wss_server().await;
    let connector = TlsConnector::builder()
        .add_root_certificate(Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let (mut ws, _) = aiowebsocket::builder(format!("wss://localhost:{}/", addr.port()))
        .tls_connector(connector)
        .no_compression()
        .connect_async_std()
        .await
        .unwrap();
    ws.send(Message::text("on async-std")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("on async-std")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // The module's plain connect reports a refused port readably.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = aiowebsocket::async_std::connect(&format!("ws://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(err.is_io(), "{err:?}");
    assert_eq!(err.step(), Some(aiowebsocket::Step::Connect));
    assert!(
        err.to_string()
            .starts_with(&format!("TCP connect to 127.0.0.1:{port} failed")),
        "{err}"
    );
}

#[tokio::test]
async fn connect_with_request_returns_the_request_that_was_sent() {
    // The server remembers the key it was sent.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let keep = seen.clone();
    let options = ServerOptions::new().check(move |req| {
        *keep.lock().unwrap() = req.header("sec-websocket-key").map(str::to_owned);
        Ok(())
    });
    let addr = tokio_echo_server(options).await;
    let (mut ws, response, request) = aiowebsocket::builder(format!("ws://{addr}/feed?x=1"))
        .header("X-Trace", "7")
        .connect_with_request()
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let sent = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        request.key(),
        sent,
        "the key shown is the one the server got"
    );
    let head = String::from_utf8(request.as_bytes().to_vec()).unwrap();
    assert!(head.starts_with("GET /feed?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\nSec-WebSocket-Key: {sent}\r\n")),
        "{head}"
    );
    assert!(head.contains("\r\nX-Trace: 7\r\n"), "{head}");
    // The answer matches this request's key.
    assert_eq!(
        response.header("sec-websocket-accept"),
        Some(aiowebsocket::ws_handshake::accept_key(sent.as_bytes()).as_str())
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn builder_sends_a_user_agent_unless_told_not_to() {
    // The server remembers every User-Agent line it was sent.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
    let keep = seen.clone();
    let options = ServerOptions::new().check(move |req| {
        let agents = req
            .headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .collect();
        keep.lock().unwrap().push(agents);
        Ok(())
    });
    let addr = tokio_echo_server(options).await;
    let url = format!("ws://{addr}/");
    for builder in [
        aiowebsocket::builder(&url),
        aiowebsocket::builder(&url).header("user-agent", "mine/1"),
        aiowebsocket::builder(&url).no_user_agent(),
    ] {
        let mut ws = builder.connect().await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            vec![aiowebsocket::DEFAULT_USER_AGENT.to_owned()],
            vec!["mine/1".to_owned()],
            vec![],
        ]
    );
}

/// The builder, and the reconnecting builder made from it, print header names but no
/// secret: sensitive header values, headers marked sensitive, URL and proxy passwords.
#[test]
fn builder_debug_hides_secrets() {
    for proxy in [
        "http://puser:s3cret-f@127.0.0.1:3128",
        "socks5://suser:s3cret-g@127.0.0.1:1080",
    ] {
        let builder = aiowebsocket::builder("ws://user:s3cret-e@host/")
            .header("Authorization", "Bearer s3cret-a")
            .header("Cookie", "sid=s3cret-b")
            .header("X-Api-Key", "s3cret-c")
            .sensitive_header("X-Custom", "s3cret-d")
            .header("User-Agent", "visible-agent")
            .proxy_url(proxy)
            .tls_connector(TlsConnector::new().unwrap());
        let reconnecting = builder.clone().reconnecting();
        let request = builder.connect_options().build_request().unwrap();
        for text in [
            format!("{builder:?}"),
            format!("{builder:#?}"),
            format!("{reconnecting:?}"),
        ] {
            assert!(!text.contains("s3cret"), "secret leaked: {text}");
            for name in [
                "Authorization",
                "Cookie",
                "X-Api-Key",
                "X-Custom",
                "User-Agent",
            ] {
                assert!(text.contains(name), "{name} missing: {text}");
            }
            assert!(text.contains("visible-agent"), "{text}");
            assert!(text.contains("ws://user:***@host/"), "{text}");
        }
        // Sent unchanged.
        let head = std::str::from_utf8(request.as_bytes()).unwrap();
        assert!(
            head.contains("\r\nAuthorization: Bearer s3cret-a\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nX-Custom: s3cret-d\r\n"), "{head}");
    }
}
