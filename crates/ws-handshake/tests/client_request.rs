//! Building the client's upgrade request: URLs, headers, and refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::{HandshakeError, RequestBuilder, Target, DEFAULT_USER_AGENT};

const KEY: [u8; 16] = *b"the sample nonce"; // base64: dGhlIHNhbXBsZSBub25jZQ==

fn head(b: RequestBuilder) -> String {
    let req = b.build_with_key(KEY).unwrap();
    String::from_utf8(req.as_bytes().to_vec()).unwrap()
}

fn header_lines(head: &str) -> Vec<&str> {
    head.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn minimal_request_is_exact() {
    let h = head(RequestBuilder::new("ws://example.com/chat").unwrap());
    assert_eq!(
        h,
        format!(
            "GET /chat HTTP/1.1\r\n\
             Host: example.com\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\
             User-Agent: {DEFAULT_USER_AGENT}\r\n\
             \r\n"
        )
    );
}

#[test]
fn targets_and_host_headers() {
    let cases: &[(&str, &str, u16, bool, &str, &str)] = &[
        // url, host, port, secure, Host header, request target
        (
            "ws://example.com",
            "example.com",
            80,
            false,
            "example.com",
            "/",
        ),
        (
            "wss://example.com",
            "example.com",
            443,
            true,
            "example.com",
            "/",
        ),
        (
            "ws://example.com:80/",
            "example.com",
            80,
            false,
            "example.com",
            "/",
        ),
        (
            "wss://example.com:443/a",
            "example.com",
            443,
            true,
            "example.com",
            "/a",
        ),
        (
            "ws://example.com:443/",
            "example.com",
            443,
            false,
            "example.com:443",
            "/",
        ),
        (
            "wss://example.com:8443/x?y=1&z",
            "example.com",
            8443,
            true,
            "example.com:8443",
            "/x?y=1&z",
        ),
        ("ws://[::1]:9000/x", "::1", 9000, false, "[::1]:9000", "/x"),
        (
            "wss://[2001:db8::1]/",
            "2001:db8::1",
            443,
            true,
            "[2001:db8::1]",
            "/",
        ),
        (
            "ws://127.0.0.1:8080/p/q",
            "127.0.0.1",
            8080,
            false,
            "127.0.0.1:8080",
            "/p/q",
        ),
        (
            "ws://EXAMPLE.com/Path",
            "example.com",
            80,
            false,
            "example.com",
            "/Path",
        ),
        (
            "ws://example.com/a#frag",
            "example.com",
            80,
            false,
            "example.com",
            "/a",
        ),
        (
            "ws://example.com?q",
            "example.com",
            80,
            false,
            "example.com",
            "/?q",
        ),
        (
            "http://example.com:8080/h",
            "example.com",
            8080,
            false,
            "example.com:8080",
            "/h",
        ),
        (
            "https://example.com/h",
            "example.com",
            443,
            true,
            "example.com",
            "/h",
        ),
    ];
    for &(url, host, port, secure, host_header, target) in cases {
        let req = RequestBuilder::new(url)
            .unwrap()
            .build_with_key(KEY)
            .unwrap();
        assert_eq!(
            req.target(),
            &Target {
                host: host.into(),
                port,
                secure
            },
            "{url}"
        );
        let h = String::from_utf8(req.as_bytes().to_vec()).unwrap();
        assert!(
            h.starts_with(&format!("GET {target} HTTP/1.1\r\nHost: {host_header}\r\n")),
            "{url}: {h}"
        );
        assert!(matches!(req.url().scheme(), "ws" | "wss"), "{url}");
        assert_eq!(req.url().fragment(), None);
    }
}

#[test]
fn http_schemes_map_to_ws() {
    let req = RequestBuilder::new("https://example.com:9443/x")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(req.url().as_str(), "wss://example.com:9443/x");
    let req = RequestBuilder::new("http://example.com/x")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(req.url().as_str(), "ws://example.com/x");
}

#[test]
fn bad_urls_are_refused() {
    assert!(matches!(
        RequestBuilder::new("not a url"),
        Err(HandshakeError::InvalidUrl { .. })
    ));
    assert!(matches!(
        RequestBuilder::new("ftp://example.com/"),
        Err(HandshakeError::UnsupportedScheme { scheme }) if scheme == "ftp"
    ));
    assert!(matches!(
        RequestBuilder::new("mailto:someone@example.com"),
        Err(HandshakeError::UnsupportedScheme { .. })
    ));
    let url = url::Url::parse("ws://example.com/").unwrap();
    assert!(RequestBuilder::from_url(url).is_ok());
}

#[test]
fn keys_are_fresh_and_well_formed() {
    let a = RequestBuilder::new("ws://h/").unwrap().build().unwrap();
    let b = RequestBuilder::new("ws://h/").unwrap().build().unwrap();
    assert_ne!(a.key(), b.key());
    use base64::Engine as _;
    for r in [&a, &b] {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(r.key())
            .unwrap();
        assert_eq!(raw.len(), 16);
        let h = String::from_utf8(r.as_bytes().to_vec()).unwrap();
        assert!(h.contains(&format!("\r\nSec-WebSocket-Key: {}\r\n", r.key())));
    }
}

#[test]
fn options_are_sent() {
    let h = head(
        RequestBuilder::new("wss://example.com/s")
            .unwrap()
            .origin("https://example.com")
            .subprotocol("chat")
            .subprotocol("superchat")
            .extensions("permessage-deflate; client_max_window_bits")
            .header("Cookie", "a=b")
            .header("X-Empty", "")
            .raw_header("User-Agent: crawler/1.0")
            .raw_header("X-Trim:   spaced value  \r\n"),
    );
    let lines = header_lines(&h);
    assert_eq!(
        lines,
        [
            "Host: example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            "Origin: https://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "Cookie: a=b",
            "X-Empty: ",
            "User-Agent: crawler/1.0",
            "X-Trim: spaced value",
        ]
    );
    // The caller's User-Agent took the default's place.
    assert_eq!(user_agents(&h), ["User-Agent: crawler/1.0"]);
}

/// Every `User-Agent` line of a request head (any case).
fn user_agents(head: &str) -> Vec<&str> {
    header_lines(head)
        .into_iter()
        .filter(|l| l.to_ascii_lowercase().starts_with("user-agent:"))
        .collect()
}

#[test]
fn default_user_agent_is_sent_once() {
    // The workspace version, as every crate of it shares one.
    assert_eq!(
        DEFAULT_USER_AGENT,
        concat!("aiowebsocket/", env!("CARGO_PKG_VERSION"))
    );
    let h = head(RequestBuilder::new("ws://example.com/").unwrap());
    assert_eq!(
        user_agents(&h),
        [format!("User-Agent: {DEFAULT_USER_AGENT}")]
    );
    // After the handshake's own headers, before the caller's.
    let h = head(
        RequestBuilder::new("ws://example.com/")
            .unwrap()
            .origin("https://example.com")
            .header("X-Trace", "1"),
    );
    let ua = format!("User-Agent: {DEFAULT_USER_AGENT}");
    assert_eq!(
        header_lines(&h)[5..],
        ["Origin: https://example.com", ua.as_str(), "X-Trace: 1"]
    );
}

#[test]
fn a_user_agent_header_replaces_the_default() {
    let given: [fn(RequestBuilder) -> RequestBuilder; 5] = [
        |b| b.header("user-agent", "x"),
        |b| b.header("User-Agent", "x"),
        |b| b.raw_header("USER-AGENT: x"),
        |b| b.portable_header("User-agent", "x"),
        |b| b.header(" User-Agent\t", "  x "),
    ];
    for (i, add) in given.into_iter().enumerate() {
        let h = head(add(RequestBuilder::new("ws://example.com/").unwrap()));
        let lines = user_agents(&h);
        assert_eq!(lines.len(), 1, "case {i}: {h}");
        assert!(
            lines[0].eq_ignore_ascii_case("User-Agent: x"),
            "case {i}: {h}"
        );
        assert!(!h.contains(DEFAULT_USER_AGENT), "case {i}: {h}");
    }
}

#[test]
fn the_last_user_agent_given_is_sent_once() {
    let h = head(
        RequestBuilder::new("ws://example.com/")
            .unwrap()
            .header("User-Agent", "first/1")
            .header("X-A", "a")
            .raw_header("user-agent: second/2")
            .header("X-B", "b"),
    );
    assert_eq!(
        header_lines(&h)[5..],
        ["X-A: a", "user-agent: second/2", "X-B: b"],
        "{h}"
    );
}

#[test]
fn no_user_agent_removes_the_default() {
    let h = head(
        RequestBuilder::new("ws://example.com/")
            .unwrap()
            .no_user_agent(),
    );
    assert!(!h.to_ascii_lowercase().contains("user-agent"), "{h}");
    assert_eq!(header_lines(&h).len(), 5, "{h}");
    // A User-Agent the caller gives is still sent.
    let h = head(
        RequestBuilder::new("ws://example.com/")
            .unwrap()
            .no_user_agent()
            .header("User-Agent", "mine/1"),
    );
    assert_eq!(user_agents(&h), ["User-Agent: mine/1"]);
}

#[test]
fn host_and_origin_may_be_overridden() {
    let h = head(
        RequestBuilder::new("ws://10.0.0.1:8080/")
            .unwrap()
            .header("host", "virtual.example")
            .origin("https://first.example")
            .raw_header("Origin: https://second.example"),
    );
    let lines = header_lines(&h);
    assert_eq!(lines[0], "Host: virtual.example");
    assert_eq!(lines.iter().filter(|l| l.starts_with("Host")).count(), 1);
    let origins: Vec<_> = lines.iter().filter(|l| l.starts_with("Origin")).collect();
    assert_eq!(origins, [&"Origin: https://second.example"]);

    // The other order: .origin() last wins too; the last Host wins.
    let h = head(
        RequestBuilder::new("ws://10.0.0.1/")
            .unwrap()
            .header("Origin", "https://a.example")
            .origin("https://b.example")
            .header("Host", "one")
            .header("HOST", "two"),
    );
    let lines = header_lines(&h);
    assert_eq!(lines[0], "Host: two");
    assert!(lines.contains(&"Origin: https://b.example"));
    assert!(!h.contains("a.example"));
    assert!(!h.contains("Host: one"));
}

#[test]
fn reserved_headers_are_refused() {
    for name in [
        "Upgrade",
        "connection",
        "Sec-WebSocket-Key",
        "SEC-WEBSOCKET-VERSION",
        "Sec-WebSocket-Accept",
        "Content-Length",
        "Transfer-Encoding",
    ] {
        let err = RequestBuilder::new("ws://h/")
            .unwrap()
            .header(name, "x")
            .build()
            .unwrap_err();
        assert_eq!(err, HandshakeError::ReservedHeader { name: name.into() });
        let err = RequestBuilder::new("ws://h/")
            .unwrap()
            .raw_header(format!("{name}: x"))
            .build()
            .unwrap_err();
        assert_eq!(err, HandshakeError::ReservedHeader { name: name.into() });
    }
}

#[test]
fn protocol_and_extension_headers_point_to_builder_methods() {
    let err = RequestBuilder::new("ws://h/")
        .unwrap()
        .header("Sec-WebSocket-Protocol", "chat")
        .build()
        .unwrap_err();
    assert!(matches!(
        &err,
        HandshakeError::UseBuilderMethod { method, .. } if method.contains("subprotocol")
    ));
    assert!(err.to_string().contains(".subprotocol(..)"), "{err}");
    let err = RequestBuilder::new("ws://h/")
        .unwrap()
        .raw_header("sec-websocket-extensions: permessage-deflate")
        .build()
        .unwrap_err();
    assert!(matches!(
        &err,
        HandshakeError::UseBuilderMethod { method, .. } if method.contains("extensions")
    ));
}

#[test]
fn header_injection_is_refused() {
    let attempts: Vec<RequestBuilder> = vec![
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("X", "a\r\nUpgrade: h2c"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("X", "a\nEvil: 1"),
        RequestBuilder::new("ws://h/").unwrap().header("X", "a\rb"),
        RequestBuilder::new("ws://h/").unwrap().header("X", "a\0b"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("X", "a\x01b"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("Host", "h\r\n\r\nGET /evil"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .origin("https://o\r\nX: y"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .raw_header("X: a\r\nEvil: 1"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .extensions("permessage-deflate\r\nX: y"),
    ];
    for b in attempts {
        let err = b.build().unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidHeaderValue { .. }),
            "{err:?}"
        );
    }
    let bad_names: Vec<RequestBuilder> = vec![
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("X\r\nEvil", "1"),
        RequestBuilder::new("ws://h/").unwrap().header("X Y", "1"),
        RequestBuilder::new("ws://h/").unwrap().header("", "1"),
        RequestBuilder::new("ws://h/").unwrap().header("X\0", "1"),
        RequestBuilder::new("ws://h/").unwrap().header("Name(", "1"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .raw_header(": value"),
        RequestBuilder::new("ws://h/")
            .unwrap()
            .raw_header("Bad Name: value"),
    ];
    for b in bad_names {
        let err = b.build().unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidHeaderName { .. }),
            "{err:?}"
        );
    }
    let err = RequestBuilder::new("ws://h/")
        .unwrap()
        .raw_header("no colon here")
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        HandshakeError::MalformedRawHeader {
            line: "no colon here".into()
        }
    );
    // Tabs and non-ASCII text are fine in values.
    let h = head(
        RequestBuilder::new("ws://h/")
            .unwrap()
            .header("X-Tab", "a\tb")
            .header("X-Utf8", "héllo"),
    );
    assert!(h.contains("X-Tab: a\tb\r\n") && h.contains("X-Utf8: héllo\r\n"));
}

#[test]
fn bad_subprotocols_and_extension_offers_are_refused() {
    for p in ["", "a b", "a,b", "a\r\nb", "ü"] {
        let err = RequestBuilder::new("ws://h/")
            .unwrap()
            .subprotocol(p)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidSubprotocol { .. }),
            "{p:?}: {err:?}"
        );
    }
    let err = RequestBuilder::new("ws://h/")
        .unwrap()
        .extensions("permessage-deflate;")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, HandshakeError::InvalidExtensions { .. }),
        "{err:?}"
    );
}

#[test]
fn userinfo_becomes_basic_auth_unless_given() {
    let h = head(RequestBuilder::new("ws://al%20ice:p%40ss@example.com/").unwrap());
    // base64("al ice:p@ss")
    assert!(
        h.contains("\r\nAuthorization: Basic YWwgaWNlOnBAc3M=\r\n"),
        "{h}"
    );
    assert!(!h.contains("al%20ice"));
    let h = head(
        RequestBuilder::new("ws://user:pw@example.com/")
            .unwrap()
            .header("Authorization", "Bearer t"),
    );
    assert!(h.contains("\r\nAuthorization: Bearer t\r\n"));
    assert_eq!(h.matches("Authorization").count(), 1);
    assert!(h.contains("Host: example.com\r\n"));
}

#[test]
fn errors_read_well() {
    let err = RequestBuilder::new("ftp://x/").unwrap_err().to_string();
    assert!(err.contains("ws://") && err.contains("\"ftp\""), "{err}");
    let err = RequestBuilder::new("ws://h/")
        .unwrap()
        .header("Upgrade", "x")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot build the upgrade request"), "{err}");
    assert!(err.contains("\"Upgrade\""), "{err}");
}

#[test]
fn urls_cannot_inject_into_the_request_line() {
    for url in [
        "ws://h/a\r\nX-Evil: 1",
        "ws://h/a b?c d",
        "ws://h/?q=\r\n\r\nGET /",
        "ws://h\r\nX: y/",
    ] {
        let Ok(b) = RequestBuilder::new(url) else {
            continue;
        };
        let req = b.build().unwrap();
        let head = req.as_bytes();
        let first_line_end = head.windows(2).position(|w| w == b"\r\n").unwrap();
        let first = std::str::from_utf8(&head[..first_line_end]).unwrap();
        assert_eq!(first.split(' ').count(), 3, "{first:?}");
        // Whatever the URL parser made of the CR/LF, no header line came out of it.
        assert!(
            !String::from_utf8_lossy(head).contains("\r\nX-Evil"),
            "{url:?}"
        );
        let parsed = ws_handshake::RequestParser::new(ws_handshake::Limits::default())
            .feed(head)
            .unwrap()
            .unwrap();
        parsed.validate().unwrap();
        // Host, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version, User-Agent.
        assert_eq!(parsed.headers().count(), 6);
    }
}

#[test]
fn debug_output_hides_secrets() {
    let b = RequestBuilder::new("ws://user:secret@h/")
        .unwrap()
        .header("Cookie", "session=hunter2");
    let dbg = format!("{b:?}");
    assert!(
        dbg.contains("Cookie") && !dbg.contains("hunter2") && !dbg.contains("secret"),
        "{dbg}"
    );
    let req = b.build().unwrap();
    let dbg = format!("{req:?}");
    assert!(!dbg.contains("hunter2") && !dbg.contains("secret"), "{dbg}");
    assert!(dbg.contains(req.key()));
}
