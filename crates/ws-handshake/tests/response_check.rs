//! `ClientRequest::check`: every way a server's answer can be wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::redirect::RedirectError;
use ws_handshake::{
    accept_key, ClientRequest, Extension, HandshakeError, Limits, RequestBuilder, Response,
    ResponseParser,
};

const KEY: [u8; 16] = *b"the sample nonce"; // base64: dGhlIHNhbXBsZSBub25jZQ==
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request() -> ClientRequest {
    RequestBuilder::new("ws://example.com/chat")
        .unwrap()
        .subprotocol("chat")
        .subprotocol("superchat")
        .extensions("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame")
        .build_with_key(KEY)
        .unwrap()
}

fn parse(raw: &[u8]) -> Response {
    ResponseParser::new(Limits::default())
        .feed(raw)
        .unwrap()
        .expect("complete head")
}

/// A valid 101 with `extra` header lines appended.
fn ok_with(extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn check(raw: &[u8]) -> Result<ws_handshake::Accepted, HandshakeError> {
    request().check(&parse(raw))
}

#[test]
fn rfc_sample_accept_key() {
    assert_eq!(request().key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), ACCEPT);
}

#[test]
fn valid_response_is_accepted() {
    let a = check(&ok_with("")).unwrap();
    assert_eq!(a.subprotocol, None);
    assert!(a.extensions.is_empty());
}

#[test]
fn status_must_be_101() {
    let raw = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\nnot allowed!";
    let err = check(raw).unwrap_err();
    assert_eq!(
        err,
        HandshakeError::UnexpectedStatus {
            status: 403,
            reason: "Forbidden".into(),
            body_excerpt: "not allowed!".into()
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("403 Forbidden") && text.contains("not allowed!"),
        "{text}"
    );

    // The excerpt is at most 512 bytes, decoded lossily.
    let mut raw = b"HTTP/1.1 500 Oops\r\n\r\n\xff".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 2000));
    match check(&raw).unwrap_err() {
        HandshakeError::UnexpectedStatus {
            status,
            body_excerpt,
            ..
        } => {
            assert_eq!(status, 500);
            assert!(body_excerpt.starts_with('\u{fffd}'));
            assert_eq!(body_excerpt.chars().count(), 512);
        }
        other => panic!("{other:?}"),
    }

    // 200 with no body and no reason.
    assert_eq!(
        check(b"HTTP/1.1 200\r\n\r\n").unwrap_err(),
        HandshakeError::UnexpectedStatus {
            status: 200,
            reason: String::new(),
            body_excerpt: String::new()
        }
    );
}

#[test]
fn redirects_are_reported() {
    let err =
        check(b"HTTP/1.1 301 Moved\r\nLocation: wss://other.example/chat\r\n\r\n").unwrap_err();
    assert_eq!(
        err,
        HandshakeError::Redirect(RedirectError::Redirected {
            status: 301,
            location: Some("wss://other.example/chat".into())
        })
    );
    assert!(err.to_string().contains("wss://other.example/chat"));
    assert_eq!(
        check(b"HTTP/1.1 307 Temporary Redirect\r\n\r\n").unwrap_err(),
        HandshakeError::Redirect(RedirectError::Redirected {
            status: 307,
            location: None
        })
    );
}

#[test]
fn upgrade_header_is_checked() {
    let acc = format!("Sec-WebSocket-Accept: {ACCEPT}\r\n");
    let missing = format!("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n{acc}\r\n");
    assert_eq!(
        check(missing.as_bytes()).unwrap_err(),
        HandshakeError::ResponseUpgradeHeader { found: None }
    );
    let wrong = format!("HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n{acc}\r\n");
    assert_eq!(
        check(wrong.as_bytes()).unwrap_err(),
        HandshakeError::ResponseUpgradeHeader {
            found: Some("h2c".into())
        }
    );
    let mixed =
        format!("HTTP/1.1 101 OK\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\n{acc}\r\n");
    assert!(matches!(
        check(mixed.as_bytes()).unwrap_err(),
        HandshakeError::ResponseUpgradeHeader { .. }
    ));
    for ok in ["WebSocket", "WEBSOCKET", " websocket "] {
        let raw = format!("HTTP/1.1 101 OK\r\nUpgrade: {ok}\r\nConnection: Upgrade\r\n{acc}\r\n");
        assert!(check(raw.as_bytes()).is_ok(), "{ok}");
    }
}

#[test]
fn connection_header_is_checked() {
    let acc = format!("Sec-WebSocket-Accept: {ACCEPT}\r\n");
    let missing = format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n{acc}\r\n");
    assert_eq!(
        check(missing.as_bytes()).unwrap_err(),
        HandshakeError::ResponseConnectionHeader { found: None }
    );
    let wrong =
        format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n{acc}\r\n");
    assert_eq!(
        check(wrong.as_bytes()).unwrap_err(),
        HandshakeError::ResponseConnectionHeader {
            found: Some("keep-alive".into())
        }
    );
    let substring =
        format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgraded\r\n{acc}\r\n");
    assert!(check(substring.as_bytes()).is_err());
    for ok in [
        "Connection: keep-alive, Upgrade\r\n",
        "Connection: UPGRADE\r\n",
        "Connection: keep-alive\r\nConnection: upgrade\r\n",
        "Connection: ,upgrade,\r\n",
    ] {
        let raw = format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n{ok}{acc}\r\n");
        assert!(check(raw.as_bytes()).is_ok(), "{ok}");
    }
}

#[test]
fn accept_is_checked() {
    let base = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    assert_eq!(
        check(format!("{base}\r\n").as_bytes()).unwrap_err(),
        HandshakeError::MissingAccept
    );
    let wrong = [
        "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
            .as_bytes()
            .to_vec(),
        "Sec-WebSocket-Accept: \r\n".as_bytes().to_vec(),
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n"
            .as_bytes()
            .to_vec(),
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo==\r\n"
            .as_bytes()
            .to_vec(),
        "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n"
            .as_bytes()
            .to_vec(),
        format!("Sec-WebSocket-Accept: {}\r\n", "A".repeat(5000)).into_bytes(),
        b"Sec-WebSocket-Accept: \xff\xfe\x80\r\n".to_vec(),
        format!("Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Accept: x\r\n").into_bytes(),
    ];
    for w in wrong {
        let mut raw = base.as_bytes().to_vec();
        raw.extend_from_slice(&w);
        raw.extend_from_slice(b"\r\n");
        match check(&raw).unwrap_err() {
            HandshakeError::AcceptMismatch { expected, found } => {
                assert_eq!(expected, ACCEPT);
                assert!(found.len() <= 110, "found is shortened: {}", found.len());
            }
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(&w)),
        }
    }
}

#[test]
fn subprotocol_is_checked() {
    let a = check(&ok_with("Sec-WebSocket-Protocol: superchat\r\n")).unwrap();
    assert_eq!(a.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(
        check(&ok_with("Sec-WebSocket-Protocol: other\r\n")).unwrap_err(),
        HandshakeError::UnrequestedSubprotocol {
            protocol: "other".into()
        }
    );
    // Subprotocols are case-sensitive.
    assert!(matches!(
        check(&ok_with("Sec-WebSocket-Protocol: CHAT\r\n")).unwrap_err(),
        HandshakeError::UnrequestedSubprotocol { .. }
    ));
    assert_eq!(
        check(&ok_with("Sec-WebSocket-Protocol: chat, superchat\r\n")).unwrap_err(),
        HandshakeError::MultipleSubprotocols {
            value: "chat, superchat".into()
        }
    );
    assert!(matches!(
        check(&ok_with(
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"
        ))
        .unwrap_err(),
        HandshakeError::MultipleSubprotocols { .. }
    ));
    // A request that offered nothing accepts nothing.
    let plain = RequestBuilder::new("ws://h/")
        .unwrap()
        .build_with_key(KEY)
        .unwrap();
    assert!(matches!(
        plain
            .check(&parse(&ok_with("Sec-WebSocket-Protocol: chat\r\n")))
            .unwrap_err(),
        HandshakeError::UnrequestedSubprotocol { .. }
    ));
}

#[test]
fn extensions_are_checked() {
    let a = check(&ok_with(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; server_no_context_takeover\r\n",
    ))
    .unwrap();
    assert_eq!(
        a.extensions,
        [Extension {
            name: "permessage-deflate".into(),
            params: vec![
                ("client_max_window_bits".into(), Some("10".into())),
                ("server_no_context_takeover".into(), None)
            ]
        }]
    );
    // Several headers form one list; names are matched case-insensitively.
    let a = check(&ok_with(
        "Sec-WebSocket-Extensions: Permessage-Deflate\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n",
    ))
    .unwrap();
    assert_eq!(a.extensions.len(), 2);
    assert_eq!(
        check(&ok_with("Sec-WebSocket-Extensions: x-unknown\r\n")).unwrap_err(),
        HandshakeError::UnrequestedExtension {
            name: "x-unknown".into()
        }
    );
    assert!(matches!(
        check(&ok_with(
            "Sec-WebSocket-Extensions: permessage-deflate; =1\r\n"
        ))
        .unwrap_err(),
        HandshakeError::InvalidExtensions { .. }
    ));
    assert!(matches!(
        check(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: \xff\r\n\r\n").unwrap_err(),
        HandshakeError::InvalidExtensions { .. }
    ));
    // Offering nothing accepts nothing.
    let plain = RequestBuilder::new("ws://h/")
        .unwrap()
        .build_with_key(KEY)
        .unwrap();
    assert!(matches!(
        plain
            .check(&parse(&ok_with(
                "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            )))
            .unwrap_err(),
        HandshakeError::UnrequestedExtension { .. }
    ));
}

#[test]
fn every_check_error_displays_step_and_advice() {
    let errors = [
        check(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap_err(),
        check(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").unwrap_err(),
        check(b"HTTP/1.1 101 OK\r\n\r\n").unwrap_err(),
        check(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n").unwrap_err(),
        check(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n").unwrap_err(),
        check(&ok_with("Sec-WebSocket-Protocol: nope\r\n")).unwrap_err(),
        check(&ok_with("Sec-WebSocket-Extensions: nope\r\n")).unwrap_err(),
    ];
    let mut seen = std::collections::HashSet::new();
    for e in &errors {
        let text = e.to_string();
        assert!(text.starts_with("HTTP upgrade: the server"), "{text}");
        assert!(text.contains(';'), "no advice in {text}");
        assert!(
            seen.insert(std::mem::discriminant(e)),
            "duplicate variant {e:?}"
        );
    }
}

#[test]
fn http_1_0_switching_protocols_is_refused() {
    let raw = String::from_utf8(ok_with("")).unwrap();
    let raw = raw.replacen("HTTP/1.1", "HTTP/1.0", 1);
    let err = check(raw.as_bytes()).unwrap_err();
    assert!(
        matches!(err, HandshakeError::ResponseHttpVersion { minor: 0 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP/1.0"), "{err}");
    // HTTP/1.1 (the valid answer) still passes.
    assert!(check(&ok_with("")).is_ok());
}
