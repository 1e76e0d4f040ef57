//! Server role: request validation, accept/reject, and the in-memory round trip.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::{
    reject, Extension, HandshakeError, Limits, Request, RequestBuilder, RequestParser,
    ResponseParser,
};

const GOOD: &str = "GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

fn parse(raw: &str) -> Request {
    RequestParser::new(Limits::default())
        .feed(raw.as_bytes())
        .unwrap()
        .expect("complete")
}

/// `GOOD` with the header line starting with `name` replaced by `line` (or removed if empty).
fn with(name: &str, line: &str) -> Request {
    let mut out = String::new();
    for l in GOOD.split_inclusive("\r\n") {
        if l.to_ascii_lowercase()
            .starts_with(&name.to_ascii_lowercase())
        {
            out.push_str(line);
        } else {
            out.push_str(l);
        }
    }
    parse(&out)
}

#[test]
fn rfc_sample_request_is_valid_and_accepted() {
    let r = parse(GOOD);
    r.validate().unwrap();
    assert_eq!(r.method(), "GET");
    assert_eq!(r.path(), "/chat");
    assert_eq!(r.http_minor_version(), 1);
    assert_eq!(r.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(r.header("origin"), Some("http://example.com"));
    assert_eq!(r.subprotocols(), ["chat", "superchat"]);
    assert_eq!(r.extensions().unwrap(), []);
    assert_eq!(r.headers().count(), 7);
    assert!(r.rest().is_empty());
    let answer = r.accept(Some("chat"), None);
    assert_eq!(
        answer,
        b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n"
    );
    assert!(format!("{r:?}").contains("/chat"));
}

#[test]
fn each_request_failure_has_its_variant() {
    let cases: Vec<(Request, HandshakeError, u16)> = vec![
        (
            parse(&GOOD.replacen("GET", "POST", 1)),
            HandshakeError::RequestMethod {
                method: "POST".into(),
            },
            405,
        ),
        (
            parse(&GOOD.replacen("HTTP/1.1", "HTTP/1.0", 1)),
            HandshakeError::RequestHttpVersion { minor: 0 },
            400,
        ),
        (with("Host:", ""), HandshakeError::RequestMissingHost, 400),
        (
            with("Upgrade:", ""),
            HandshakeError::RequestUpgradeHeader { found: None },
            400,
        ),
        (
            with("Upgrade:", "Upgrade: h2c\r\n"),
            HandshakeError::RequestUpgradeHeader {
                found: Some("h2c".into()),
            },
            400,
        ),
        (
            with("Connection:", ""),
            HandshakeError::RequestConnectionHeader { found: None },
            400,
        ),
        (
            with("Connection:", "Connection: keep-alive\r\n"),
            HandshakeError::RequestConnectionHeader {
                found: Some("keep-alive".into()),
            },
            400,
        ),
        (
            with("Sec-WebSocket-Version:", ""),
            HandshakeError::UnsupportedWebSocketVersion { found: None },
            426,
        ),
        (
            with("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8\r\n"),
            HandshakeError::UnsupportedWebSocketVersion {
                found: Some("8".into()),
            },
            426,
        ),
        (
            with("Sec-WebSocket-Key:", ""),
            HandshakeError::MissingKey,
            400,
        ),
        (
            with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: c2hvcnQ=\r\n"),
            HandshakeError::InvalidKey {
                key: "c2hvcnQ=".into(),
            },
            400,
        ),
        (
            with(
                "Sec-WebSocket-Key:",
                "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n",
            ),
            HandshakeError::InvalidKey {
                key: "!!!!!!!!!!!!!!!!!!!!!!==".into(),
            },
            400,
        ),
        (
            // 24 characters of unpadded base64: 18 bytes, not 16.
            with(
                "Sec-WebSocket-Key:",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n",
            ),
            HandshakeError::InvalidKey {
                key: "AAAAAAAAAAAAAAAAAAAAAAAA".into(),
            },
            400,
        ),
    ];
    for (req, expected, status) in cases {
        let err = req.validate().unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.http_status(), Some(status), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid upgrade request: the client"),
            "{err}"
        );
    }
}

#[test]
fn lenient_but_valid_requests_pass() {
    for (name, line) in [
        ("Upgrade:", "Upgrade: WebSocket\r\n"),
        ("Upgrade:", "upgrade: h2c, websocket\r\n"),
        ("Connection:", "Connection: keep-alive, Upgrade\r\n"),
        ("Connection:", "connection: UPGRADE\r\n"),
        ("Sec-WebSocket-Version:", "Sec-WebSocket-Version:  13 \r\n"),
        (
            "Sec-WebSocket-Key:",
            "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ),
    ] {
        let r = with(name, line);
        r.validate().unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
}

#[test]
fn request_extensions_and_subprotocols_are_parsed() {
    let raw = GOOD.replacen(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         Sec-WebSocket-Extensions: x-foo; a=\"b\"\r\n\
         Sec-WebSocket-Protocol: , third ,\r\n",
        1,
    );
    let r = parse(&raw);
    assert_eq!(r.subprotocols(), ["chat", "superchat", "third"]);
    let exts = r.extensions().unwrap();
    assert_eq!(
        exts,
        [
            Extension {
                name: "permessage-deflate".into(),
                params: vec![("client_max_window_bits".into(), None)]
            },
            Extension {
                name: "x-foo".into(),
                params: vec![("a".into(), Some("b".into()))]
            }
        ]
    );
    let bad = parse(&GOOD.replacen(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ;;\r\n",
        1,
    ));
    let err = bad.extensions().unwrap_err();
    assert!(matches!(err, HandshakeError::InvalidExtensions { .. }));
    assert_eq!(err.http_status(), Some(400));
}

#[test]
fn accept_cannot_inject_headers() {
    let r = parse(GOOD);
    let answer = r.accept(
        Some("chat\r\nX-Evil: 1"),
        Some("permessage-deflate\r\n\r\nbody"),
    );
    let text = String::from_utf8(answer).unwrap();
    assert!(!text.contains("\r\nX-Evil"), "{text}");
    assert!(text.contains("\r\nSec-WebSocket-Protocol: chatX-Evil: 1\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflatebody\r\n"));
    assert!(text.ends_with("\r\n\r\n") && text.matches("\r\n\r\n").count() == 1);
    // Empty values are not sent at all.
    let text = String::from_utf8(r.accept(Some(""), Some("\r\n"))).unwrap();
    assert!(!text.contains("Sec-WebSocket-Protocol") && !text.contains("Extensions"));
}

#[test]
fn reject_produces_a_complete_response() {
    for (status, phrase, reason) in [
        (400, "Bad Request", "no Upgrade header"),
        (403, "Forbidden", "origin not allowed"),
        (426, "Upgrade Required", "version 13 only"),
        (499, "Client Error", "custom"),
        (403, "Forbidden", ""),
    ] {
        let raw = reject(status, reason);
        let resp = ResponseParser::new(Limits::default())
            .feed(&raw)
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), status);
        // The standard phrase in the status line, the custom reason in the body only.
        assert_eq!(resp.reason(), phrase);
        let body = if reason.is_empty() { phrase } else { reason };
        let len: usize = resp.header("content-length").unwrap().parse().unwrap();
        assert_eq!(len, resp.rest().len());
        assert_eq!(resp.rest(), format!("{body}\n").as_bytes());
        assert_eq!(resp.header("connection"), Some("close"));
        assert_eq!(
            resp.header("sec-websocket-version"),
            (status == 426).then_some("13")
        );
        // A client sees it as an UnexpectedStatus with the body, and says each part once.
        let req = RequestBuilder::new("ws://h/").unwrap().build().unwrap();
        let err = req.check(&resp).unwrap_err();
        match &err {
            HandshakeError::UnexpectedStatus {
                status: s,
                body_excerpt,
                ..
            } => {
                assert_eq!(*s, status);
                assert_eq!(*body_excerpt, format!("{body}\n"));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&format!("{status} {phrase}")), "{text}");
        assert_eq!(text.matches(body).count(), 1, "{text}");
    }
    let raw = reject(7, "Nope\r\nX-Evil: 1");
    assert!(raw.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(raw.ends_with(b"\r\n\r\nNopeX-Evil: 1\n"));
}

#[test]
fn round_trip_in_memory() {
    let request = RequestBuilder::new("ws://[::1]:9000/room?id=7")
        .unwrap()
        .origin("https://example.com")
        .subprotocol("v2.chat")
        .subprotocol("v1.chat")
        .extensions("permessage-deflate; client_max_window_bits")
        .raw_header("X-Trace: 42")
        .build()
        .unwrap();

    // Server side, fed in small pieces.
    let mut server = RequestParser::new(Limits::default());
    let mut incoming = None;
    for chunk in request.as_bytes().chunks(7) {
        if let Some(r) = server.feed(chunk).unwrap() {
            incoming = Some(r);
        }
    }
    let incoming = incoming.unwrap();
    incoming.validate().unwrap();
    assert_eq!(incoming.path(), "/room?id=7");
    assert_eq!(incoming.header("host"), Some("[::1]:9000"));
    assert_eq!(incoming.header("x-trace"), Some("42"));
    assert_eq!(incoming.key(), Some(request.key()));
    let offered = incoming.subprotocols();
    let chosen = offered.iter().find(|p| p.as_str() == "v1.chat").unwrap();
    let offered_ext = incoming.extensions().unwrap();
    assert_eq!(offered_ext[0].name, "permessage-deflate");
    let mut answer = incoming.accept(Some(chosen), Some("permessage-deflate"));
    answer.extend_from_slice(b"\x81\x02hi");

    // Client side, byte by byte.
    let mut client = ResponseParser::new(Limits::default());
    let mut response = None;
    for b in &answer {
        if let Some(r) = client.feed(std::slice::from_ref(b)).unwrap() {
            response = Some(r);
        }
    }
    // The head ended before the frame bytes, which arrived one feed at a time after it.
    let response = response.unwrap();
    assert_eq!(response.rest(), b"");
    let accepted = request.check(&response).unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("v1.chat"));
    assert_eq!(accepted.extensions, [Extension::new("permessage-deflate")]);

    // A different request's key does not match this answer.
    let other = RequestBuilder::new("ws://[::1]:9000/room?id=7")
        .unwrap()
        .subprotocol("v1.chat")
        .extensions("permessage-deflate")
        .build()
        .unwrap();
    assert!(matches!(
        other.check(&response),
        Err(HandshakeError::AcceptMismatch { .. })
    ));
}
