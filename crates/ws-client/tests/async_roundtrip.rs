//! Client and server roles joined by an in-memory pipe, through the real handshakes:
//! text, binary, fragmented and large messages, subprotocols, compression, refusal, and a
//! first frame that arrives in the same read as the 101 response.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::pin::Pin;
use std::task::{Context, Poll};

use async_util::{client_options, duplex, pair, pair_with, server_options, ManualTimer, Pipe};
use futures::executor::block_on;
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};
use ws_client::connect::connect_on;
use ws_client::handshake::server_accept;
use ws_client::{CloseCode, Config, Message, Role, State, Step, WebSocket};
use ws_handshake::HandshakeError;

fn echo_once(server: &mut WebSocket<Pipe>) {
    block_on(async {
        let msg = server.recv().await.expect("a message").expect("no error");
        server.send(msg).await.expect("echo");
    });
}

#[test]
fn text_and_binary_round_trip() {
    let (mut client, mut server) = pair();
    assert_eq!(client.role(), Role::Client);
    assert_eq!(server.role(), Role::Server);
    block_on(async {
        client.send(Message::text("héllo")).await.unwrap();
        client
            .send(Message::binary(vec![0u8, 1, 2, 255]))
            .await
            .unwrap();
        client.send(Message::binary(Vec::new())).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("héllo")
        );
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::binary(vec![0u8, 1, 2, 255])
        );
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::binary(Vec::new())
        );
        server.send(Message::text("back")).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("back"));
    });
}

#[test]
fn fragmented_messages_are_reassembled() {
    let client_opts = client_options()
        .no_compression()
        .config(Config::default().write_frame_size(7));
    let (mut client, mut server) = pair_with(1 << 20, client_opts, server_options(), None);
    let text: String = (0..1000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    block_on(async {
        client.send(Message::text(text.clone())).await.unwrap();
        // 1000 bytes in frames of 7: many fragments on the wire.
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    });
    echo_once_text_check(&mut client, &mut server, "short");
}

fn echo_once_text_check(client: &mut WebSocket<Pipe>, server: &mut WebSocket<Pipe>, s: &str) {
    block_on(async {
        client.send(Message::text(s.to_owned())).await.unwrap();
    });
    echo_once(server);
    block_on(async {
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text(s.to_owned())
        );
    });
}

#[test]
fn sixteen_mib_message_both_ways() {
    // A small pipe: the 16 MiB message crosses in many reads and writes, so both ends must
    // make progress concurrently.
    let (mut client, mut server) = pair_with(64 << 10, client_options(), server_options(), None);
    let payload: Vec<u8> = (0..16usize << 20).map(|i| (i * 31 % 251) as u8).collect();
    let expected = payload.clone();
    block_on(async {
        let send = async {
            client.send(Message::binary(payload)).await.unwrap();
            client.recv().await.unwrap().unwrap()
        };
        let echo = async {
            let msg = server.recv().await.unwrap().unwrap();
            server.send(msg).await.unwrap();
        };
        let (back, ()) = futures::join!(send, echo);
        match back {
            Message::Binary(b) => {
                assert_eq!(b.len(), expected.len());
                assert!(b == expected, "payload corrupted");
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn subprotocol_is_negotiated() {
    let client_opts = client_options()
        .subprotocol("v1.chat")
        .subprotocol("v2.chat");
    let server_opts = server_options()
        .subprotocol("v2.chat")
        .subprotocol("v1.chat");
    let (client, server) = pair_with(1 << 16, client_opts, server_opts, None);
    // The server picks by its own preference among those offered.
    assert_eq!(client.subprotocol(), Some("v2.chat"));
    assert_eq!(server.subprotocol(), Some("v2.chat"));

    let (client, server) = pair();
    assert_eq!(client.subprotocol(), None);
    assert_eq!(server.subprotocol(), None);
}

#[cfg(feature = "deflate")]
#[test]
fn compression_is_negotiated_and_used() {
    let (a, b) = duplex(1 << 20);
    let probe = a.probe();
    let (copts, sopts) = (client_options(), server_options());
    let (mut client, mut server) = block_on(async {
        let (c, s) = futures::join!(connect_on(a, &copts, None), server_accept(b, &sopts, None));
        let (c, response) = c.unwrap();
        let ext = response.header("sec-websocket-extensions").unwrap_or("");
        assert!(ext.contains("permessage-deflate"), "{ext}");
        (c, s.unwrap())
    });
    assert!(client.connection().negotiated().compression());
    assert!(server.connection().negotiated().compression());
    let text = "compress me please ".repeat(1000);
    let before = probe.written();
    block_on(async {
        client.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    });
    let on_wire = probe.written() - before;
    assert!(
        on_wire < text.len() / 10,
        "{on_wire} bytes for {}",
        text.len()
    );
}

#[test]
fn no_compression_when_disabled() {
    let (client, server) = pair_with(
        1 << 16,
        client_options().no_compression(),
        server_options(),
        None,
    );
    assert!(!client.connection().negotiated().compression());
    assert!(!server.connection().negotiated().compression());
}

#[test]
fn request_check_refuses_with_status() {
    let (a, b) = duplex(1 << 16);
    let server_opts = server_options().check(|req| match req.header("origin") {
        Some("https://good.example") => Ok(()),
        _ => Err((403, "origin not allowed".to_owned())),
    });
    let client_opts = client_options().origin("https://evil.example");
    block_on(async {
        let (c, s) = futures::join!(
            connect_on(a, &client_opts, None),
            server_accept(b, &server_opts, None)
        );
        let c = c.unwrap_err();
        assert!(c.is_handshake(), "{c}");
        assert_eq!(c.http_status(), Some(403));
        assert_eq!(c.step(), Some(Step::Handshake));
        let text = c.to_string();
        // The standard phrase from the status line, the check's reason (from the body) once.
        assert!(
            text.starts_with("HTTP upgrade: the server answered 403 Forbidden"),
            "{text}"
        );
        assert_eq!(text.matches("origin not allowed").count(), 1, "{text}");
        assert!(text.contains("check the credentials, Origin"), "{text}");
        // The server side gets a typed refusal, not an I/O error.
        let s = s.unwrap_err();
        assert!(
            matches!(
                s.handshake_error(),
                Some(HandshakeError::RequestRefused { status: 403, reason })
                    if reason == "origin not allowed"
            ),
            "{s:?}"
        );
        assert_eq!(s.http_status(), Some(403));
        let text = s.to_string();
        assert!(
            text.contains("refused by the request check")
                && text.contains("403 Forbidden")
                && text.contains("origin not allowed"),
            "{text}"
        );
    });
}

#[test]
fn invalid_request_gets_an_http_error() {
    let (mut a, b) = duplex(1 << 16);
    block_on(async {
        let server = async { server_accept(b, &server_options(), None).await };
        let client = async {
            a.write_all(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            a.read_to_end(&mut answer).await.unwrap();
            answer
        };
        let (s, answer) = futures::join!(server, client);
        let e = s.unwrap_err();
        assert!(e.is_handshake(), "{e}");
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    });
}

#[test]
fn server_closing_during_handshake_is_a_clear_error() {
    let (a, b) = duplex(1 << 16);
    let copts = client_options();
    block_on(async {
        let client = connect_on(a, &copts, None);
        let server = async {
            let mut b = b;
            let mut buf = [0u8; 1024];
            let _ = b.read(&mut buf).await.unwrap();
            drop(b);
        };
        let (c, ()) = futures::join!(client, server);
        let e = c.unwrap_err();
        assert!(e.is_io(), "{e}");
        assert_eq!(e.step(), Some(Step::Handshake));
        assert_eq!(e.target(), Some("example.test:80"));
        let text = e.to_string();
        assert!(
            text.starts_with("HTTP upgrade with example.test:80: the server closed the connection"),
            "{text}"
        );
        assert!(text.contains("ws:// or wss://"), "{text}");
        assert!(!text.contains("WebSocket connection"), "{text}");
    });
}

/// A stream that hands out a scripted response in one read, then behaves like `inner`.
struct Scripted {
    inner: Pipe,
    script: Option<Vec<u8>>,
    request: Vec<u8>,
}

impl futures::io::AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(script) = self.script.take() {
            // Only once the request has been written (the key is in it).
            let n = script.len().min(buf.len());
            buf[..n].copy_from_slice(&script[..n]);
            assert_eq!(n, script.len(), "script fits one read");
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl futures::io::AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.request.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn first_frame_in_the_handshake_packet_is_kept() {
    // Build the request first to know the key, then script a 101 + two frames in one read.
    let options = client_options().no_compression();
    let request = options
        .request_builder()
        .unwrap()
        .build_with_key(*b"0123456789abcdef")
        .unwrap();
    let accept = ws_handshake::accept_key(request.key().as_bytes());
    let mut script = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    script.extend_from_slice(&[0x81, 0x02, b'h', b'i']); // text "hi"
    script.extend_from_slice(&[0x82, 0x01, 0x07]); // binary [7]
    let (pipe, _other) = duplex(1 << 10);
    let stream = Scripted {
        inner: pipe,
        script: Some(script),
        request: Vec::new(),
    };
    block_on(async {
        let (mut ws, response) =
            ws_client::handshake::client_handshake(stream, request, &options, None)
                .await
                .unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![7u8])
        );
        assert!(ws.get_ref().request.starts_with(b"GET /chat HTTP/1.1\r\n"));
    });
}

#[test]
fn stream_and_sink_impls() {
    let (mut client, mut server) = pair();
    block_on(async {
        let items = vec![
            Ok::<_, ws_client::Error>(Message::text("a")),
            Ok(Message::text("b")),
            Ok(Message::binary(vec![1u8])),
        ];
        client
            .send_all(&mut futures::stream::iter(items))
            .await
            .unwrap();
        let got: Vec<Message> = (&mut server).take(3).map(|m| m.unwrap()).collect().await;
        assert_eq!(
            got,
            vec![
                Message::text("a"),
                Message::text("b"),
                Message::binary(vec![1u8])
            ]
        );
        // Sink::close runs the whole closing handshake.
        let closing = async { SinkExt::close(&mut client).await.unwrap() };
        let serving = async {
            let m = server.next().await.unwrap().unwrap();
            assert!(m.is_close());
            assert!(server.next().await.is_none());
        };
        futures::join!(closing, serving);
        assert_eq!(client.state(), State::Closed);
        assert_eq!(
            client.close_frame().map(|f| f.code),
            Some(CloseCode::NORMAL)
        );
    });
}

#[test]
fn feed_batches_then_flush() {
    let (a, b) = duplex(1 << 20);
    let probe = a.probe();
    let (mut client, mut server) = block_on(async {
        let (opts, sopts) = (client_options().no_compression(), server_options());
        let (c, s) = futures::join!(connect_on(a, &opts, None), server_accept(b, &sopts, None));
        (c.unwrap().0, s.unwrap())
    });
    let before = probe.written();
    block_on(async {
        for i in 0..10 {
            client.feed(Message::text(format!("m{i}"))).await.unwrap();
        }
        // Nothing written before the flush.
        assert_eq!(probe.written(), before);
        client.flush().await.unwrap();
        assert!(probe.written() > before);
        for i in 0..10 {
            assert_eq!(
                server.recv().await.unwrap().unwrap(),
                Message::text(format!("m{i}"))
            );
        }
    });
}

#[test]
fn handshake_times_out_with_the_open_timeout() {
    let timer = ManualTimer::new();
    let (a, _b) = duplex(1 << 16); // the server never answers
    let opts = client_options().open_timeout(Some(std::time::Duration::from_secs(3)));
    let mut fut = Box::pin(connect_on(a, &opts, Some(timer.arc())));
    assert!(async_util::poll_once(&mut fut).is_pending());
    timer.advance(std::time::Duration::from_secs(2));
    assert!(async_util::poll_once(&mut fut).is_pending());
    timer.advance(std::time::Duration::from_secs(1));
    match async_util::poll_once(&mut fut) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_timeout(), "{e}");
            assert_eq!(
                (e.step(), e.timeout_limit(), e.target()),
                (
                    Some(ws_client::Step::Handshake),
                    Some(std::time::Duration::from_secs(3)),
                    Some("example.test:80")
                ),
                "{e:?}"
            );
            let text = e.to_string();
            assert!(
                text.contains("example.test:80")
                    && text.contains("3 s")
                    && text.contains(".open_timeout(..)"),
                "{text}"
            );
        }
        other => panic!("expected a timeout, got {:?}", other.map(|r| r.map(|_| ()))),
    }
}
