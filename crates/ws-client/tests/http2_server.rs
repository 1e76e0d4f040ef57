//! [`H2Server`] against a plain `h2` client over an in-memory pipe, on one thread: the
//! SETTINGS it sends, a WebSocket echoed over a stream, the subprotocol and
//! permessage-deflate answers, and refusals (bad version, the check hook, not CONNECT)
//! that leave the connection and its other streams working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use async_util::duplex;
use bytes::Bytes;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use h2::client::SendRequest;
use tokio_util::compat::FuturesAsyncReadCompatExt;
use ws_client::http2::{H2Server, H2Stream};
use ws_client::{Config, Connection, Error, Message, Role, ServerOptions};
use ws_handshake::HandshakeError;

/// What the server saw: each accepted request's path, and each refusal.
#[derive(Default)]
struct Seen {
    accepted: Vec<String>,
    refused: Vec<Error>,
}

/// Runs `test` with an h2 client connected to an [`H2Server`] (`options`) that echoes on
/// every WebSocket it accepts.
fn with_server<F, Fut>(options: ServerOptions, test: F) -> Rc<RefCell<Seen>>
where
    F: FnOnce(SendRequest<Bytes>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (client_io, server_io) = duplex(1 << 20);
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let server_seen = seen.clone();
    let echo_spawner = spawner.clone();
    spawner
        .spawn_local(async move {
            let mut server = H2Server::handshake(server_io, &options, None)
                .await
                .expect("preface");
            while let Some(accepted) = server.accept().await {
                match accepted {
                    Ok((mut ws, request)) => {
                        server_seen
                            .borrow_mut()
                            .accepted
                            .push(request.path().to_owned());
                        echo_spawner
                            .spawn_local(async move {
                                while let Some(Ok(msg)) = ws.recv().await {
                                    if msg.is_data() && ws.send(msg).await.is_err() {
                                        break;
                                    }
                                }
                            })
                            .unwrap();
                    }
                    Err(e) => server_seen.borrow_mut().refused.push(e),
                }
            }
        })
        .unwrap();
    let driver_spawner = spawner.clone();
    pool.run_until(async move {
        let (send, mut conn) = h2::client::handshake(client_io.compat())
            .await
            .expect("client preface");
        let mut ping = conn.ping_pong().expect("ping handle");
        driver_spawner
            .spawn_local(async move {
                let _ = conn.await;
            })
            .unwrap();
        // The server's SETTINGS come before its PONG.
        ping.ping(h2::Ping::opaque()).await.expect("pong");
        assert!(send.is_extended_connect_protocol_enabled());
        test(send).await;
    });
    seen
}

/// An extended CONNECT to `path` with `headers`.
fn connect_request(path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://localhost{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(()).unwrap();
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    request
}

/// Sends `request`; the response and the stream's halves.
async fn open(
    send: &SendRequest<Bytes>,
    request: http::Request<()>,
) -> (http::Response<h2::RecvStream>, h2::SendStream<Bytes>) {
    let mut send = send.clone().ready().await.unwrap();
    let (response, stream) = send.send_request(request, false).unwrap();
    (response.await.unwrap(), stream)
}

/// The whole body of a refusal, as text.
async fn body_text(response: http::Response<h2::RecvStream>) -> String {
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_websocket_opens_and_echoes_with_the_negotiated_subprotocol() {
    let options = ServerOptions::new()
        .subprotocol("chat")
        .http2_max_streams(7);
    let seen = with_server(options, |send| async move {
        assert_eq!(send.current_max_send_streams(), 7);
        let request = connect_request(
            "/feed?x=1",
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "other, chat"),
            ],
        );
        let (response, stream) = open(&send, request).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["sec-websocket-protocol"], "chat");
        assert!(headers.get("sec-websocket-accept").is_none());
        let conn = Connection::new(Role::Client, Config::default());
        let stream = H2Stream::from_h2(stream, response.into_body(), false);
        let mut ws = ws_client::WebSocket::from_connection(stream, conn, None);
        for msg in [
            Message::text("over h2"),
            Message::binary(vec![7u8; 300_000]),
        ] {
            ws.send(msg.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), msg);
        }
    });
    assert_eq!(seen.borrow().accepted, ["/feed?x=1"]);
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_is_answered_as_over_http1() {
    with_server(ServerOptions::new(), |send| async move {
        let request = connect_request(
            "/",
            &[
                ("sec-websocket-version", "13"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits",
                ),
            ],
        );
        let (response, _stream) = open(&send, request).await;
        assert_eq!(response.status(), 200);
        let answer = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(answer.starts_with("permessage-deflate"), "{answer}");
    });
}

#[test]
fn refusals_answer_with_their_status_and_spare_the_connection() {
    let options = ServerOptions::new().check(|req| match req.header("origin") {
        Some("https://evil.example") => Err((403, "origin not allowed".into())),
        _ => Ok(()),
    });
    let seen = with_server(options, |send| async move {
        // A version other than 13: 426 naming the one we speak.
        let (response, _s) = open(
            &send,
            connect_request("/", &[("sec-websocket-version", "12")]),
        )
        .await;
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        // The check hook: its status, its reason as the body.
        let request = connect_request(
            "/",
            &[
                ("sec-websocket-version", "13"),
                ("origin", "https://evil.example"),
            ],
        );
        let (response, _s) = open(&send, request).await;
        assert_eq!(response.status(), 403);
        assert_eq!(body_text(response).await, "origin not allowed\n");
        // A plain CONNECT (no :protocol) is not a WebSocket.
        let mut plain = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri("localhost:443")
            .body(())
            .unwrap();
        plain
            .headers_mut()
            .insert("sec-websocket-version", "13".parse().unwrap());
        let (response, _s) = open(&send, plain).await;
        assert_eq!(response.status(), 400);
        // The connection goes on.
        let (response, _s) = open(
            &send,
            connect_request("/ok", &[("sec-websocket-version", "13")]),
        )
        .await;
        assert_eq!(response.status(), 200);
    });
    let seen = seen.borrow();
    assert_eq!(seen.accepted, ["/ok"]);
    assert_eq!(seen.refused.len(), 3);
    assert!(matches!(
        seen.refused[0].handshake_error(),
        Some(HandshakeError::UnsupportedWebSocketVersion { .. })
    ));
    assert!(matches!(
        seen.refused[1].handshake_error(),
        Some(HandshakeError::RequestRefused { status: 403, .. })
    ));
    assert!(seen.refused[2].is_handshake(), "{}", seen.refused[2]);
}
