//! Secrets never appear in `Debug` output or error messages: sensitive header values, URL
//! passwords, proxy credentials (also while a SOCKS5 handshake is authenticating).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::proxy::{Progress, Proxy, ProxyConfig, ProxyHandshake, TargetAddr};
use ws_handshake::{
    is_sensitive_header, redact_url, HandshakeError, Limits, RequestBuilder, RequestParser,
    ResponseParser,
};

/// Fails if `text` holds a secret marker, either as text or as a `Debug`-printed byte list.
fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains("s3cret"), "secret leaked: {text}");
    let bytes = format!("{:?}", secret.as_bytes());
    let inner = bytes.trim_start_matches('[').trim_end_matches(']');
    assert!(!text.contains(inner), "secret bytes leaked: {text}");
}

#[test]
fn sensitivity_rule() {
    for name in [
        "Authorization",
        "authorization",
        "PROXY-AUTHORIZATION",
        "Cookie",
        "Cookie2",
        "Set-Cookie",
        "X-Api-Key",
        "x-apikey",
        "X-Auth-Token",
        "X-Client-Secret",
        "X-Password",
        " Authorization\t",
    ] {
        assert!(is_sensitive_header(name), "{name}");
    }
    for name in [
        "User-Agent",
        "Origin",
        "Host",
        "Accept",
        "X-Custom",
        "Sec-WebSocket-Key",
    ] {
        assert!(!is_sensitive_header(name), "{name}");
    }
}

#[test]
fn redact_url_text_and_parsed() {
    assert_eq!(
        redact_url("ws://user:s3cret@example.com:81/p?q"),
        "ws://user:***@example.com:81/p?q"
    );
    assert_eq!(redact_url("ws://user:s3cret@[bad"), "ws://user:***@[bad");
    assert_eq!(redact_url("ws://example.com/a@b"), "ws://example.com/a@b");
    assert_eq!(
        redact_url("ws://user@example.com/"),
        "ws://user@example.com/"
    );
}

#[test]
fn invalid_url_error_hides_password() {
    let err = RequestBuilder::new("ws://user:s3cret-h@[bad").unwrap_err();
    assert!(matches!(err, HandshakeError::InvalidUrl { .. }), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert_no_secret(&text, "s3cret-h");
        assert!(text.contains("ws://user:***@[bad"), "{text}");
    }
}

#[test]
fn invalid_proxy_url_error_hides_password() {
    for url in [
        "http://puser:s3cret-i@[bad:3128",
        // A `/` in the raw password: the URL parser ends the authority there.
        "socks5://suser:s3cret-j/x@127.0.0.1:1080",
    ] {
        let err = Proxy::parse(url).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert_no_secret(&text, "s3cret");
            assert!(text.contains("user:***@"), "{text}");
        }
    }
}

#[test]
fn request_builder_and_request_debug_hide_values_but_send_them() {
    let builder = RequestBuilder::new("ws://user:s3cret-e@example.com/chat")
        .unwrap()
        .header("Authorization", "Bearer s3cret-a")
        .header("Cookie", "sid=s3cret-b")
        .header("X-Api-Key", "s3cret-c")
        .header("X-Custom", "s3cret-d");
    let text = format!("{builder:?}");
    assert_no_secret(&text, "s3cret");
    for name in ["Authorization", "Cookie", "X-Api-Key", "X-Custom"] {
        assert!(text.contains(name), "{text}");
    }
    let request = builder.build_with_key([7; 16]).unwrap();
    assert_no_secret(&format!("{request:?}"), "s3cret");
    // Behaviour unchanged: the real values are sent.
    let head = std::str::from_utf8(request.as_bytes()).unwrap();
    assert!(
        head.contains("\r\nAuthorization: Bearer s3cret-a\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nCookie: sid=s3cret-b\r\n"), "{head}");
    assert!(head.contains("\r\nX-Custom: s3cret-d\r\n"), "{head}");
}

#[test]
fn malformed_header_errors_hide_values() {
    let err = RequestBuilder::new("ws://example.com/")
        .unwrap()
        .raw_header("Authorization Bearer s3cret-k")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, HandshakeError::MalformedRawHeader { .. }),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert_no_secret(&text, "s3cret-k");
        assert!(text.contains("Authorization"), "{text}");
    }
    let err = RequestBuilder::new("ws://example.com/")
        .unwrap()
        .header("Bearer s3cret-l-token", "x")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, HandshakeError::InvalidHeaderName { .. }),
        "{err:?}"
    );
    assert_no_secret(&err.to_string(), "s3cret-l");
}

#[test]
fn redirect_error_hides_location_password() {
    let request = RequestBuilder::new("ws://example.com/")
        .unwrap()
        .build()
        .unwrap();
    let mut parser = ResponseParser::new(Limits::default());
    let response = parser
        .feed(b"HTTP/1.1 302 Found\r\nLocation: ws://u:s3cret-m@other.example/\r\n\r\n")
        .unwrap()
        .unwrap();
    let err = request.check(&response).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert_no_secret(&text, "s3cret-m");
        assert!(text.contains("u:***@other.example"), "{text}");
    }
}

#[test]
fn response_debug_hides_set_cookie() {
    let mut parser = ResponseParser::new(Limits::default());
    let response = parser
        .feed(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Set-Cookie: sid=s3cret-n\r\nX-Note: visible\r\n\r\n",
        )
        .unwrap()
        .unwrap();
    let text = format!("{response:?}");
    assert_no_secret(&text, "s3cret-n");
    assert!(
        text.contains("Set-Cookie") && text.contains("<redacted>"),
        "{text}"
    );
    assert!(text.contains("visible"), "{text}");
    // The value itself is still readable through the API.
    assert_eq!(response.header("set-cookie"), Some("sid=s3cret-n"));
}

#[test]
fn server_request_debug_hides_authorization() {
    let mut parser = RequestParser::new(Limits::default());
    let request = parser
        .feed(
            b"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3cret-o\r\n\
              Cookie: a=s3cret-p\r\n\r\n",
        )
        .unwrap()
        .unwrap();
    let text = format!("{request:?}");
    assert_no_secret(&text, "s3cret");
    assert!(
        text.contains("Authorization") && text.contains("Cookie"),
        "{text}"
    );
    // A parser holding a partial head shows no bytes either.
    let mut partial = RequestParser::new(Limits::default());
    assert!(partial
        .feed(b"GET / HTTP/1.1\r\nAuthorization: Bearer s3cret-q\r\n")
        .unwrap()
        .is_none());
    assert_no_secret(&format!("{partial:?}"), "Bearer s3cret-q");
}

#[test]
fn proxy_debug_hides_credentials() {
    for url in [
        "http://puser:s3cret-f@127.0.0.1:3128",
        "socks5://suser:s3cret-g@127.0.0.1:1080",
    ] {
        let proxy = Proxy::parse(url).unwrap();
        let config = ProxyConfig::Proxy(proxy.clone());
        for text in [
            format!("{proxy:?}"),
            proxy.to_string(),
            format!("{config:?}"),
        ] {
            assert_no_secret(&text, "s3cret");
            assert!(text.contains("user"), "{text}");
        }
        let target = TargetAddr::Ip("192.0.2.1".parse().unwrap());
        let tunnel = proxy.handshake(target, 443, Limits::default()).unwrap();
        assert_no_secret(&format!("{tunnel:?}"), "s3cret");
    }
}

#[test]
fn socks5_debug_mid_authentication_hides_password() {
    let proxy = Proxy::parse("socks5://suser:s3cret-g@127.0.0.1:1080").unwrap();
    let target = TargetAddr::Ip("192.0.2.1".parse().unwrap());
    let mut tunnel = proxy.handshake(target, 443, Limits::default()).unwrap();
    let greeting = tunnel.bytes_to_send().to_vec();
    assert_eq!(greeting, [5, 2, 0, 2]);
    tunnel.consume_output(greeting.len());
    // The proxy chooses user name/password authentication.
    assert_eq!(tunnel.feed(&[5, 2]).unwrap(), Progress::NeedMore);
    // The credentials are now queued to be sent...
    let queued = tunnel.bytes_to_send();
    assert!(queued.windows(8).any(|w| w == b"s3cret-g"), "{queued:?}");
    // ...but Debug shows neither the password nor its bytes.
    let text = format!("{tunnel:?}");
    assert_no_secret(&text, "s3cret-g");
    assert!(text.contains("suser"), "{text}");
    let ProxyHandshake::Socks5(inner) = &tunnel else {
        panic!("not SOCKS5: {tunnel:?}");
    };
    assert_no_secret(&format!("{inner:?}"), "s3cret-g");
}
