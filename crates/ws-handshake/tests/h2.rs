//! The HTTP/2 handshake (RFC 8441): the extended CONNECT request field by field, the checks
//! of the server's answer, the server role, and a full round trip in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::permessage_deflate::{DeflateConfig, DeflateParams};
use ws_handshake::redirect::{RedirectChain, RedirectError, RedirectPolicy};
use ws_handshake::{
    HandshakeError, HttpVersion, Limits, Request, RequestBuilder, Response, BODY_EXCERPT,
    DEFAULT_USER_AGENT, REDACTED,
};

fn headers(request: &ws_handshake::H2Request) -> Vec<(String, String)> {
    request
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn fields(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

// ---- the request ---------------------------------------------------------------------------

#[test]
fn wss_request_field_by_field() {
    let r = RequestBuilder::new("wss://example.com/chat?room=1#frag")
        .unwrap()
        .origin("https://example.com")
        .subprotocol("chat")
        .subprotocol("superchat")
        .extensions(" permessage-deflate; client_max_window_bits ")
        .header("Cookie", "a=b")
        .header("X-Trace", " 1 ")
        .build_h2()
        .unwrap();
    assert_eq!(r.method(), "CONNECT");
    assert_eq!(r.protocol(), "websocket");
    assert_eq!(r.scheme(), "https");
    assert_eq!(r.authority(), "example.com");
    assert_eq!(r.path(), "/chat?room=1");
    assert_eq!(
        headers(&r),
        pairs(&[
            ("sec-websocket-version", "13"),
            ("origin", "https://example.com"),
            ("sec-websocket-protocol", "chat, superchat"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits"
            ),
            ("user-agent", DEFAULT_USER_AGENT),
            ("cookie", "a=b"),
            ("x-trace", "1"),
        ])
    );
    assert_eq!(r.url().as_str(), "wss://example.com/chat?room=1");
    assert_eq!(r.target().host, "example.com");
    assert_eq!(r.target().port, 443);
    assert!(r.target().secure);
    assert_eq!(r.subprotocols(), ["chat", "superchat"]);
    assert_eq!(r.extension_names(), ["permessage-deflate"]);
}

#[test]
fn ws_request_and_ports() {
    let cases = [
        ("ws://example.com", "http", "example.com", "/", 80),
        ("ws://example.com:80/x", "http", "example.com", "/x", 80),
        (
            "ws://example.com:8080/x",
            "http",
            "example.com:8080",
            "/x",
            8080,
        ),
        ("wss://example.com:443/", "https", "example.com", "/", 443),
        ("wss://example.com:80/", "https", "example.com:80", "/", 80),
        ("http://example.com/?q", "http", "example.com", "/?q", 80),
        ("https://example.com/a", "https", "example.com", "/a", 443),
        ("ws://[::1]:9000/x", "http", "[::1]:9000", "/x", 9000),
        ("wss://[2001:db8::1]/", "https", "[2001:db8::1]", "/", 443),
        ("ws://127.0.0.1:81", "http", "127.0.0.1:81", "/", 81),
    ];
    for (url, scheme, authority, path, port) in cases {
        let r = RequestBuilder::new(url).unwrap().build_h2().unwrap();
        assert_eq!(r.scheme(), scheme, "{url}");
        assert_eq!(r.authority(), authority, "{url}");
        assert_eq!(r.path(), path, "{url}");
        assert_eq!(r.target().port, port, "{url}");
    }
    let v6 = RequestBuilder::new("ws://[::1]:9000/")
        .unwrap()
        .build_h2()
        .unwrap();
    assert_eq!(v6.target().host, "::1");
}

#[test]
fn host_header_overrides_authority() {
    let r = RequestBuilder::new("wss://10.0.0.1:8443/")
        .unwrap()
        .header("Host", "first.example")
        .header("host", " api.example.com ")
        .build_h2()
        .unwrap();
    assert_eq!(r.authority(), "api.example.com");
    assert_eq!(r.target().host, "10.0.0.1");
    assert!(r.headers().all(|(n, _)| n != "host"));
}

#[test]
fn userinfo_becomes_authorization_unless_given() {
    let r = RequestBuilder::new("wss://us%40er:p%3Ass@example.com/")
        .unwrap()
        .build_h2()
        .unwrap();
    // base64("us@er:p:ss")
    assert!(headers(&r).contains(&(
        "authorization".to_owned(),
        "Basic dXNAZXI6cDpzcw==".to_owned()
    )));
    assert_eq!(r.authority(), "example.com");

    let r = RequestBuilder::new("wss://u:p@example.com/")
        .unwrap()
        .header("Authorization", "Bearer t")
        .build_h2()
        .unwrap();
    let auth: Vec<_> = r.headers().filter(|(n, _)| *n == "authorization").collect();
    assert_eq!(auth, [("authorization", "Bearer t")]);
}

#[test]
fn user_agent_default_off_and_override() {
    let ua = |b: RequestBuilder| {
        let r = b.build_h2().unwrap();
        r.headers()
            .filter(|(n, _)| *n == "user-agent")
            .map(|(_, v)| v.to_owned())
            .collect::<Vec<_>>()
    };
    let base = || RequestBuilder::new("ws://example.com/").unwrap();
    assert_eq!(ua(base()), [DEFAULT_USER_AGENT]);
    assert!(ua(base().no_user_agent()).is_empty());
    assert_eq!(ua(base().header("User-Agent", "bot/1")), ["bot/1"]);
    assert_eq!(
        ua(base().header("User-Agent", "a").header("user-agent", "b")),
        ["b"]
    );
    assert_eq!(
        ua(base().no_user_agent().raw_header("User-Agent: c")),
        ["c"]
    );
}

#[test]
fn the_same_request_as_http11_minus_connection_headers() {
    // build() and build_h2() send the same headers apart from the HTTP/1.1-only ones.
    let b = RequestBuilder::new("wss://u:p@example.com:8443/x?y")
        .unwrap()
        .origin("https://o.example")
        .subprotocol("chat")
        .extensions("permessage-deflate")
        .header("Cookie", "c=1")
        .header("User-Agent", "ua");
    let h1 = b.clone().build_with_key([7; 16]).unwrap();
    let h2 = b.build_h2().unwrap();
    let h1_text = String::from_utf8(h1.as_bytes().to_vec()).unwrap();
    let mut h1_fields: Vec<(String, String)> = h1_text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_ascii_lowercase(), v.to_owned())
        })
        .collect();
    h1_fields.retain(|(n, _)| {
        !["host", "upgrade", "connection", "sec-websocket-key"].contains(&n.as_str())
    });
    assert_eq!(h1_fields, headers(&h2));
    assert!(h1_text.contains("\r\nHost: example.com:8443\r\n"));
    assert_eq!(h2.authority(), "example.com:8443");
}

#[test]
fn connection_specific_headers_are_refused() {
    for name in [
        "Connection",
        "keep-alive",
        "Proxy-Connection",
        "Transfer-Encoding",
        "Upgrade",
        "TE",
    ] {
        let err = RequestBuilder::new("wss://example.com/")
            .unwrap()
            .header(name, "x")
            .build_h2()
            .unwrap_err();
        assert_eq!(
            err,
            HandshakeError::ConnectionSpecificHeader {
                name: name.to_owned()
            }
        );
        assert!(err.to_string().contains("HTTP/2 forbids"), "{err}");
        assert_eq!(err.http_status(), None);
    }
    // HTTP/1.1 keeps its own rules for them: Keep-Alive and TE are plain headers there.
    assert!(RequestBuilder::new("ws://example.com/")
        .unwrap()
        .header("Keep-Alive", "timeout=5")
        .build()
        .is_ok());
}

#[test]
fn the_other_build_rules_apply_too() {
    let build = |name: &str, value: &str| {
        RequestBuilder::new("wss://example.com/")
            .unwrap()
            .header(name, value)
            .build_h2()
            .unwrap_err()
    };
    assert!(matches!(
        build("Sec-WebSocket-Key", "x"),
        HandshakeError::ReservedHeader { .. }
    ));
    assert!(matches!(
        build("Content-Length", "0"),
        HandshakeError::ReservedHeader { .. }
    ));
    assert!(matches!(
        build("Sec-WebSocket-Protocol", "chat"),
        HandshakeError::UseBuilderMethod { .. }
    ));
    assert!(matches!(
        build("Bad Name", "x"),
        HandshakeError::InvalidHeaderName { .. }
    ));
    assert!(matches!(
        build("X-A", "a\r\nX-B: b"),
        HandshakeError::InvalidHeaderValue { .. }
    ));
    assert_eq!(
        build("Proxy-Authorization", "Basic x"),
        HandshakeError::ProxyAuthorizationHeader
    );
    let err = RequestBuilder::new("wss://example.com/")
        .unwrap()
        .subprotocol("a b")
        .build_h2()
        .unwrap_err();
    assert!(matches!(err, HandshakeError::InvalidSubprotocol { .. }));
    let err = RequestBuilder::new("wss://example.com/")
        .unwrap()
        .raw_header("no colon")
        .build_h2()
        .unwrap_err();
    assert!(matches!(err, HandshakeError::MalformedRawHeader { .. }));
}

#[test]
fn debug_hides_secrets() {
    let r = RequestBuilder::new("wss://user:hunter2@example.com/")
        .unwrap()
        .header("Cookie", "session=s3cret")
        .header("X-Api-Key", "k3y")
        .header("X-Plain", "visible")
        .build_h2()
        .unwrap();
    let debug = format!("{r:?}");
    for secret in ["hunter2", "s3cret", "k3y", "dXNlcjpodW50ZXIy"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    // Header names only, no value at all (a value marked secret by the caller may sit
    // under a harmless name).
    assert!(!debug.contains("visible"), "{debug}");
    assert!(
        debug.contains("x-api-key") && debug.contains("x-plain"),
        "{debug}"
    );
    assert!(
        debug.contains("user:***@"),
        "the URL without its password: {debug}"
    );
}

// ---- the response --------------------------------------------------------------------------

fn request() -> ws_handshake::H2Request {
    RequestBuilder::new("wss://example.com/chat")
        .unwrap()
        .subprotocol("chat")
        .subprotocol("superchat")
        .extensions("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame")
        .build_h2()
        .unwrap()
}

#[test]
fn response_accessors() {
    let r = Response::from_h2(
        200,
        fields(&[
            ("sec-websocket-protocol", "chat"),
            ("x-a", "1"),
            ("x-a", "2"),
        ]),
        b"",
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.reason(), "");
    assert_eq!(r.http_version(), HttpVersion::Http2);
    assert_eq!(r.http_version().to_string(), "HTTP/2");
    assert_eq!(r.header("Sec-WebSocket-Protocol"), Some("chat"));
    assert_eq!(r.header("X-A"), Some("1"));
    let all: Vec<_> = r.headers().collect();
    assert_eq!(
        all,
        [
            ("sec-websocket-protocol", &b"chat"[..]),
            ("x-a", b"1"),
            ("x-a", b"2")
        ]
    );
    assert_eq!(
        r.head_bytes(),
        b"HTTP/2 200\r\nsec-websocket-protocol: chat\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
    );
    assert!(r.rest().is_empty());
    let h1 = ws_handshake::ResponseParser::new(Limits::default())
        .feed(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h1.http_version(), HttpVersion::Http11);
}

#[test]
fn body_is_bounded() {
    let body = vec![b'x'; BODY_EXCERPT * 4];
    let r = Response::from_h2(500, Vec::new(), &body);
    assert_eq!(r.rest().len(), BODY_EXCERPT);
}

#[test]
fn a_2xx_opens() {
    for status in [200, 204, 299] {
        let accepted = request()
            .check(&Response::from_h2(status, Vec::new(), b""))
            .unwrap();
        assert_eq!(accepted.subprotocol, None, "{status}");
        assert!(accepted.extensions.is_empty(), "{status}");
    }
    let accepted = request()
        .check(&Response::from_h2(
            200,
            fields(&[
                ("sec-websocket-protocol", "superchat"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]),
            b"",
        ))
        .unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(accepted.extensions[0].name, "permessage-deflate");
}

#[test]
fn a_101_over_h2_is_unexpected() {
    let err = request()
        .check(&Response::from_h2(
            101,
            fields(&[("upgrade", "websocket")]),
            b"",
        ))
        .unwrap_err();
    assert!(
        matches!(err, HandshakeError::UnexpectedStatus { status: 101, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP/2"), "{err}");
}

#[test]
fn a_3xx_is_a_redirect_the_chain_follows() {
    let response = Response::from_h2(
        302,
        fields(&[("location", "https://other.example/new")]),
        b"",
    );
    let err = request().check(&response).unwrap_err();
    assert_eq!(
        err,
        HandshakeError::Redirect(RedirectError::Redirected {
            status: 302,
            location: Some("https://other.example/new".to_owned()),
        })
    );
    let mut chain = RedirectChain::new(request().url().clone(), RedirectPolicy::default());
    let next = chain.follow_response(&response).unwrap();
    assert_eq!(next.as_str(), "wss://other.example/new");
}

#[test]
fn a_4xx_shows_its_body() {
    let err = request()
        .check(&Response::from_h2(
            403,
            fields(&[("content-type", "text/plain")]),
            b"origin not allowed\n",
        ))
        .unwrap_err();
    assert_eq!(
        err,
        HandshakeError::UnexpectedStatus {
            status: 403,
            reason: String::new(),
            body_excerpt: "origin not allowed\n".to_owned(),
        }
    );
    assert!(err.to_string().contains("origin not allowed"), "{err}");
}

#[test]
fn unrequested_subprotocol_or_extension_is_refused() {
    let check = |list: &[(&str, &str)]| {
        request()
            .check(&Response::from_h2(200, fields(list), b""))
            .unwrap_err()
    };
    assert!(matches!(
        check(&[("sec-websocket-protocol", "other")]),
        HandshakeError::UnrequestedSubprotocol { .. }
    ));
    assert!(matches!(
        check(&[("sec-websocket-protocol", "chat, superchat")]),
        HandshakeError::MultipleSubprotocols { .. }
    ));
    assert!(matches!(
        check(&[
            ("sec-websocket-protocol", "chat"),
            ("sec-websocket-protocol", "chat")
        ]),
        HandshakeError::MultipleSubprotocols { .. }
    ));
    assert!(matches!(
        check(&[("sec-websocket-extensions", "x-unknown")]),
        HandshakeError::UnrequestedExtension { .. }
    ));
    assert!(matches!(
        check(&[("sec-websocket-extensions", "permessage-deflate; =")]),
        HandshakeError::InvalidExtensions { .. }
    ));
}

#[test]
fn malformed_fields_are_refused() {
    for list in [
        vec![("x-a".to_owned(), b"a\r\nx-b: b".to_vec())],
        vec![("x-a".to_owned(), b"a\0".to_vec())],
        vec![(":status".to_owned(), b"200".to_vec())],
        vec![("bad name".to_owned(), b"x".to_vec())],
    ] {
        let response = Response::from_h2(200, list, b"");
        // Shown without line breaks.
        let head = response.head_bytes();
        assert_eq!(head.iter().filter(|&&b| b == b'\n').count(), 3, "{head:?}");
        let err = request().check(&response).unwrap_err();
        assert!(
            matches!(err, HandshakeError::MalformedHead { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn an_http11_response_does_not_pass_either_check() {
    let h1 = ws_handshake::ResponseParser::new(Limits::default())
        .feed(b"HTTP/1.1 200 OK\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(matches!(
        request().check(&h1),
        Err(HandshakeError::MalformedHead { .. })
    ));
    let h1_request = RequestBuilder::new("ws://example.com/")
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        h1_request.check(&Response::from_h2(101, Vec::new(), b"")),
        Err(HandshakeError::UnexpectedStatus { status: 101, .. })
    ));
}

#[test]
fn permessage_deflate_is_negotiated() {
    let config = DeflateConfig::default();
    let request = RequestBuilder::new("wss://example.com/")
        .unwrap()
        .extensions(config.offer())
        .build_h2()
        .unwrap();
    let accepted = request
        .check(&Response::from_h2(
            200,
            fields(&[(
                "sec-websocket-extensions",
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
            )]),
            b"",
        ))
        .unwrap();
    let params = config.negotiate(&accepted.extensions).unwrap().unwrap();
    assert_eq!(
        params,
        DeflateParams {
            client_max_window_bits: 10,
            server_max_window_bits: 15,
            client_no_context_takeover: false,
            server_no_context_takeover: true,
        }
    );
}

// ---- the server role -----------------------------------------------------------------------

fn server_request(method: &str, protocol: Option<&str>, list: &[(&str, &str)]) -> Request {
    Request::from_h2(
        method,
        protocol,
        "https",
        "example.com",
        "/chat",
        fields(list),
    )
}

#[test]
fn a_valid_request() {
    let r = server_request(
        "CONNECT",
        Some("websocket"),
        &[
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat, superchat"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("cookie", "s=1"),
        ],
    );
    r.validate_h2().unwrap();
    assert_eq!(r.http_version(), HttpVersion::Http2);
    assert_eq!(r.method(), "CONNECT");
    assert_eq!(r.protocol(), Some("websocket"));
    assert_eq!(r.scheme(), Some("https"));
    assert_eq!(r.authority(), Some("example.com"));
    assert_eq!(r.path(), "/chat");
    assert_eq!(r.header("Cookie"), Some("s=1"));
    assert_eq!(r.subprotocols(), ["chat", "superchat"]);
    assert_eq!(r.extensions().unwrap()[0].name, "permessage-deflate");
    assert!(r.rest().is_empty());
    assert_eq!(r.accept_h2(None, None), Vec::<(String, String)>::new());
    assert_eq!(
        r.accept_h2(Some("chat\r\n"), Some("permessage-deflate")),
        pairs(&[
            ("sec-websocket-protocol", "chat"),
            ("sec-websocket-extensions", "permessage-deflate")
        ])
    );
    // Neither HTTP/1.1 check passes it.
    assert!(matches!(
        r.validate(),
        Err(HandshakeError::RequestMethod { .. })
    ));
    let debug = format!("{r:?}");
    assert!(
        !debug.contains("s=1") && debug.contains(REDACTED),
        "{debug}"
    );
}

#[test]
fn invalid_requests_get_the_right_error_and_status() {
    let v13 = [("sec-websocket-version", "13")];
    let cases: Vec<(Request, HandshakeError, u16)> = vec![
        (
            server_request("GET", None, &v13),
            HandshakeError::RequestConnectMethod {
                method: "GET".into(),
            },
            405,
        ),
        (
            server_request("CONNECT", None, &v13),
            HandshakeError::RequestConnectProtocol { found: None },
            400,
        ),
        (
            server_request("CONNECT", Some("webtransport"), &v13),
            HandshakeError::RequestConnectProtocol {
                found: Some("webtransport".into()),
            },
            400,
        ),
        (
            server_request("CONNECT", Some("websocket"), &[]),
            HandshakeError::UnsupportedWebSocketVersion { found: None },
            426,
        ),
        (
            server_request(
                "CONNECT",
                Some("websocket"),
                &[("sec-websocket-version", "8")],
            ),
            HandshakeError::UnsupportedWebSocketVersion {
                found: Some("8".into()),
            },
            426,
        ),
        (
            Request::from_h2(
                "CONNECT",
                Some("websocket"),
                "https",
                "example.com",
                "",
                fields(&v13),
            ),
            HandshakeError::RequestMissingPseudoHeader { name: ":path" },
            400,
        ),
        (
            Request::from_h2(
                "CONNECT",
                Some("websocket"),
                "",
                "example.com",
                "/",
                fields(&v13),
            ),
            HandshakeError::RequestMissingPseudoHeader { name: ":scheme" },
            400,
        ),
        (
            Request::from_h2("CONNECT", Some("websocket"), "https", "", "/", fields(&v13)),
            HandshakeError::RequestMissingPseudoHeader { name: ":authority" },
            400,
        ),
    ];
    for (request, expected, status) in cases {
        let err = request.validate_h2().unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.http_status(), Some(status), "{err}");
        assert!(!err.to_string().is_empty());
    }
    // An HTTP/1.1 request is not an extended CONNECT.
    let h1 = ws_handshake::RequestParser::new(Limits::default())
        .feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(matches!(
        h1.validate_h2(),
        Err(HandshakeError::RequestConnectMethod { .. })
    ));
    assert_eq!(h1.protocol(), None);
    assert_eq!(h1.authority(), Some("a"));
    // A malformed field.
    let bad = Request::from_h2(
        "CONNECT",
        Some("websocket"),
        "https",
        "a",
        "/",
        vec![("x".to_owned(), b"a\nb".to_vec())],
    );
    let err = bad.validate_h2().unwrap_err();
    assert!(matches!(err, HandshakeError::MalformedHead { .. }));
    assert_eq!(err.http_status(), Some(400));
}

#[test]
fn header_limits() {
    let limits = Limits::DEFAULT;
    let many: Vec<(String, Vec<u8>)> = (0..limits.max_headers + 1)
        .map(|i| (format!("x-{i}"), b"v".to_vec()))
        .collect();
    let r = Request::from_h2("CONNECT", Some("websocket"), "https", "a", "/", many);
    let err = r.validate_h2().unwrap_err();
    assert_eq!(
        err,
        HandshakeError::TooManyHeaders {
            limit: limits.max_headers
        }
    );
    assert_eq!(err.http_status(), Some(431));
    assert_eq!(r.headers().count(), limits.max_headers);

    let big = vec![
        ("sec-websocket-version".to_owned(), b"13".to_vec()),
        ("x-big".to_owned(), vec![b'a'; limits.max_head_size]),
    ];
    let r = Request::from_h2("CONNECT", Some("websocket"), "https", "a", "/", big);
    assert_eq!(
        r.validate_h2().unwrap_err(),
        HandshakeError::HeadTooLarge {
            limit: limits.max_head_size
        }
    );
    assert_eq!(r.headers().count(), 1, "the big field is not copied");

    let long_path = "/".repeat(limits.max_head_size);
    let r = Request::from_h2(
        "CONNECT",
        Some("websocket"),
        "https",
        "a",
        &long_path,
        Vec::new(),
    );
    assert!(matches!(
        r.validate_h2(),
        Err(HandshakeError::HeadTooLarge { .. })
    ));
    assert_eq!(r.path(), "");

    // Just within the limits is fine.
    let fit: Vec<(String, Vec<u8>)> = (0..limits.max_headers - 1)
        .map(|i| (format!("x-{i}"), b"v".to_vec()))
        .chain([("sec-websocket-version".to_owned(), b"13".to_vec())])
        .collect();
    Request::from_h2("CONNECT", Some("websocket"), "https", "a", "/", fit)
        .validate_h2()
        .unwrap();
}

// ---- a full round trip ---------------------------------------------------------------------

#[test]
fn round_trip_in_memory() {
    let client_deflate = DeflateConfig::default();
    let request = RequestBuilder::new("wss://user:pw@example.com:8443/feed?x=1")
        .unwrap()
        .subprotocol("v2.chat")
        .subprotocol("v1.chat")
        .extensions(client_deflate.offer())
        .header("Cookie", "c=1")
        .build_h2()
        .unwrap();

    // The transport carries the fields; the server reads them.
    let incoming = Request::from_h2(
        request.method(),
        Some(request.protocol()),
        request.scheme(),
        request.authority(),
        request.path(),
        request
            .headers()
            .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
            .collect(),
    );
    incoming.validate_h2().unwrap();
    assert_eq!(incoming.path(), "/feed?x=1");
    assert_eq!(incoming.authority(), Some("example.com:8443"));
    assert_eq!(incoming.header("authorization"), Some("Basic dXNlcjpwdw=="));
    let chosen = incoming.subprotocols().into_iter().find(|p| p == "v1.chat");
    let (server_params, answer) = DeflateConfig::default()
        .accept_offer(&incoming.extensions().unwrap())
        .unwrap();
    let response_fields = incoming.accept_h2(chosen.as_deref(), Some(&answer));

    // The transport carries the 200 back; the client checks it.
    let response = Response::from_h2(
        200,
        response_fields
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect(),
        b"",
    );
    let accepted = request.check(&response).unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("v1.chat"));
    let client_params = client_deflate
        .negotiate(&accepted.extensions)
        .unwrap()
        .unwrap();
    assert_eq!(client_params, server_params);
}
