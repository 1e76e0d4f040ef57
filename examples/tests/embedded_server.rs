//! The embedded server the examples rely on: plain, TLS with a generated certificate, and
//! the Origin check with the X-Token greeting.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use aiowebsocket::{CloseCode, Message};
use aiowebsocket_examples::{next_message, url_or_embedded, EchoServer, Pki};

#[tokio::test]
async fn plain_echo_and_clean_close() {
    let (url, server) = url_or_embedded(None, EchoServer::new()).await.unwrap();
    assert!(server.is_some());
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let mut ws = aiowebsocket::connect(&url).await.unwrap();
    ws.send(Message::text("one")).await.unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "one");
    ws.send(Message::binary(vec![0u8; 10])).await.unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "<10 bytes>");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
}

#[tokio::test]
async fn a_given_url_starts_no_server() {
    let (url, server) = url_or_embedded(Some("ws://example.invalid/".into()), EchoServer::new())
        .await
        .unwrap();
    assert_eq!(url, "ws://example.invalid/");
    assert!(server.is_none());
}

#[tokio::test]
async fn tls_with_a_generated_certificate() {
    let pki = Pki::generate().unwrap();
    let connector = pki.native_tls_connector(false).unwrap();
    let server = EchoServer::new().tls(pki).start().await.unwrap();
    assert!(server.url().starts_with("wss://localhost:"));

    // Not trusted by the system roots...
    let err = aiowebsocket::connect(&server.url()).await.unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    // ...trusted through the custom connector.
    let mut ws = aiowebsocket::builder(server.url())
        .tls_connector(connector)
        .connect()
        .await
        .unwrap();
    assert!(ws.get_ref().is_tls());
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "secure");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn origin_check_and_token_greeting() {
    let server = EchoServer::new()
        .require_origin("https://ok.example")
        .start()
        .await
        .unwrap();

    for wrong in [Some("https://evil.example"), None] {
        let mut builder = aiowebsocket::builder(server.url());
        if let Some(origin) = wrong {
            builder = builder.origin(origin);
        }
        let err = builder.connect().await.unwrap_err();
        assert!(err.is_handshake(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("403"), "{text}");
        assert!(text.contains("only https://ok.example is"), "{text}");
    }

    let mut ws = aiowebsocket::builder(server.url())
        .origin("https://ok.example")
        .header("X-Token", "abc")
        .connect()
        .await
        .unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "X-Token: abc");
    ws.send(Message::text("after the greeting")).await.unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "after the greeting");
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // Without X-Token there is no greeting: the first message is the echo.
    let mut ws = aiowebsocket::builder(server.url())
        .origin("https://ok.example")
        .connect()
        .await
        .unwrap();
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(next_message(&mut ws).await.unwrap(), "plain");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}
