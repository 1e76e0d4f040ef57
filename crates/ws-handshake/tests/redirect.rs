//! Redirect decisions: targets, scheme mapping, refusals, hop limits and loops, and which
//! headers follow.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use url::Url;
use ws_handshake::redirect::{
    forwards_header, headers_to_keep, is_followed_status, next_url, RedirectChain, RedirectError,
    RedirectPolicy,
};
use ws_handshake::{HandshakeError, Limits, RequestBuilder, ResponseParser, DEFAULT_USER_AGENT};

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn followed_statuses() {
    for s in [301, 302, 303, 307, 308] {
        assert!(is_followed_status(s), "{s}");
    }
    for s in [200, 300, 304, 305, 306, 309, 399, 101, 0] {
        assert!(!is_followed_status(s), "{s}");
    }
    assert_eq!(
        RedirectPolicy::default(),
        RedirectPolicy {
            max_hops: 5,
            enabled: true,
            keep_subprotocols: false,
        }
    );
    assert_eq!(
        RedirectPolicy::NONE,
        RedirectPolicy {
            max_hops: 0,
            enabled: false,
            keep_subprotocols: false,
        }
    );
    assert_eq!(RedirectPolicy::limited(2).max_hops, 2);
}

#[test]
fn redirect_targets_table() {
    // (current, status, Location, next)
    let table: &[(&str, u16, &str, &str)] = &[
        (
            "ws://a.example/x",
            301,
            "ws://b.example/y",
            "ws://b.example/y",
        ),
        (
            "ws://a.example/x",
            302,
            "http://b.example/y",
            "ws://b.example/y",
        ),
        (
            "ws://a.example/x",
            303,
            "https://b.example/y",
            "wss://b.example/y",
        ),
        (
            "ws://a.example/x",
            307,
            "wss://b.example/y",
            "wss://b.example/y",
        ),
        (
            "wss://a.example/x",
            308,
            "wss://b.example/y",
            "wss://b.example/y",
        ),
        (
            "wss://a.example/x",
            301,
            "https://b.example/",
            "wss://b.example/",
        ),
        ("https://a.example/x", 301, "/y", "wss://a.example/y"),
        ("http://a.example/x", 301, "/y", "ws://a.example/y"),
        // relative forms (RFC 3986 section 5)
        (
            "wss://a.example/dir/x?q=1",
            307,
            "y?z=2",
            "wss://a.example/dir/y?z=2",
        ),
        (
            "wss://a.example/dir/x",
            307,
            "/root",
            "wss://a.example/root",
        ),
        (
            "wss://a.example/d1/d2/x",
            307,
            "../up",
            "wss://a.example/d1/up",
        ),
        (
            "wss://a.example/x?q=1",
            307,
            "?r=2",
            "wss://a.example/x?r=2",
        ),
        (
            "ws://a.example:8080/x",
            308,
            "//b.example/y",
            "ws://b.example/y",
        ),
        ("ws://a.example:9000/x", 302, "/y", "ws://a.example:9000/y"),
        (
            "ws://a.example/x",
            302,
            "  /padded  ",
            "ws://a.example/padded",
        ),
        // ports, defaults, fragments, IPv6, credentials
        (
            "ws://a.example/x",
            301,
            "http://b.example:80/",
            "ws://b.example/",
        ),
        (
            "ws://a.example/x",
            301,
            "https://b.example:443/",
            "wss://b.example/",
        ),
        (
            "ws://a.example/x",
            301,
            "https://b.example:8443/",
            "wss://b.example:8443/",
        ),
        (
            "ws://a.example/x",
            301,
            "ws://b.example/y#frag",
            "ws://b.example/y",
        ),
        ("ws://a.example/x#f", 301, "/y", "ws://a.example/y"),
        (
            "ws://a.example/x",
            301,
            "ws://[::1]:9000/v6",
            "ws://[::1]:9000/v6",
        ),
        (
            "ws://a.example/x",
            301,
            "WS://B.EXAMPLE/Y",
            "ws://b.example/Y",
        ),
        ("ws://u:p@a.example/x", 301, "/y", "ws://u:p@a.example/y"),
    ];
    for (current, status, location, want) in table {
        let got = next_url(&url(current), *status, Some(location))
            .unwrap_or_else(|e| panic!("{current} {status} {location}: {e}"));
        assert_eq!(got.as_str(), *want, "{current} {status} {location}");
    }
}

#[test]
fn refused_redirects_table() {
    type Check = fn(&RedirectError) -> bool;
    let table: &[(&str, u16, Option<&str>, Check)] = &[
        ("wss://a/x", 301, Some("ws://a/x"), |e| {
            matches!(e, RedirectError::Downgrade { .. })
        }),
        ("wss://a/x", 302, Some("http://b/x"), |e| {
            matches!(e, RedirectError::Downgrade { .. })
        }),
        ("https://a/x", 302, Some("ws://b/x"), |e| {
            matches!(e, RedirectError::Downgrade { .. })
        }),
        (
            "ws://a/x",
            301,
            Some("ftp://b/x"),
            |e| matches!(e, RedirectError::UnsupportedScheme { scheme, .. } if scheme == "ftp"),
        ),
        ("ws://a/x", 301, Some("javascript:alert(1)"), |e| {
            matches!(e, RedirectError::UnsupportedScheme { .. })
        }),
        ("ws://a/x", 301, Some("file:///etc/passwd"), |e| {
            matches!(e, RedirectError::UnsupportedScheme { .. })
        }),
        ("ws://a/x", 301, Some("data:text/plain,hi"), |e| {
            matches!(e, RedirectError::UnsupportedScheme { .. })
        }),
        ("ws://a/x", 301, Some("http://[::1"), |e| {
            matches!(e, RedirectError::InvalidLocation { .. })
        }),
        ("ws://a/x", 301, Some("ws://"), |e| {
            matches!(e, RedirectError::InvalidLocation { .. })
        }),
        ("ws://a/x", 301, Some("http://b:99999/"), |e| {
            matches!(e, RedirectError::InvalidLocation { .. })
        }),
        ("ws://a/x", 301, None, |e| {
            matches!(e, RedirectError::MissingLocation { status: 301 })
        }),
        ("ws://a/x", 302, Some("   "), |e| {
            matches!(e, RedirectError::MissingLocation { status: 302 })
        }),
        (
            "ws://a/x",
            300,
            Some("/y"),
            |e| matches!(e, RedirectError::StatusNotFollowed { status: 300, location: Some(l) } if l == "/y"),
        ),
        ("ws://a/x", 304, None, |e| {
            matches!(
                e,
                RedirectError::StatusNotFollowed {
                    status: 304,
                    location: None
                }
            )
        }),
        ("ws://a/x", 305, Some("http://proxy/"), |e| {
            matches!(e, RedirectError::StatusNotFollowed { status: 305, .. })
        }),
        ("ws://a/x", 306, Some("/y"), |e| {
            matches!(e, RedirectError::StatusNotFollowed { status: 306, .. })
        }),
        ("ws://a/x", 200, Some("/y"), |e| {
            matches!(e, RedirectError::StatusNotFollowed { status: 200, .. })
        }),
    ];
    for (current, status, location, check) in table {
        let err = next_url(&url(current), *status, *location).unwrap_err();
        assert!(check(&err), "{current} {status} {location:?}: {err:?}");
        assert!(err.to_string().starts_with("HTTP upgrade: "), "{err}");
    }
}

#[test]
fn downgrade_error_hides_passwords() {
    let err = next_url(
        &url("wss://user:hunter2@a.example/x"),
        301,
        Some("ws://user:hunter3@b.example/"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        RedirectError::Downgrade {
            from: "wss://user:***@a.example/x".into(),
            to: "ws://user:***@b.example/".into(),
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("leave TLS") && !msg.contains("hunter"),
        "{msg}"
    );
}

#[test]
fn chain_counts_hops_and_fails_at_the_limit() {
    let mut chain = RedirectChain::new(url("https://s.example/0"), RedirectPolicy::default());
    assert_eq!(chain.current().as_str(), "wss://s.example/0");
    assert_eq!(chain.hops(), 0);
    for i in 1..=5 {
        let next = chain.follow(302, Some(&format!("/{i}"))).unwrap().clone();
        assert_eq!(next.as_str(), format!("wss://s.example/{i}"));
        assert_eq!(chain.hops(), i);
    }
    let err = chain.follow(302, Some("/6")).unwrap_err();
    let want: Vec<String> = (0..=6).map(|i| format!("wss://s.example/{i}")).collect();
    assert_eq!(
        err,
        RedirectError::TooManyHops {
            max_hops: 5,
            chain: want
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("gave up after 5 redirect(s): wss://s.example/0 -> wss://s.example/1")
            && msg.contains("allow more hops")
            && !msg.contains("loop"),
        "{msg}"
    );
    // Refused redirects leave the chain as it was.
    assert_eq!(chain.hops(), 5);
    assert_eq!(chain.urls().len(), 6);
    assert!(chain.follow(302, Some("ftp://x/")).is_err());
    assert_eq!(chain.current().as_str(), "wss://s.example/5");
}

#[test]
fn loops_end_at_the_limit_and_say_so() {
    let mut chain = RedirectChain::new(url("ws://a.example/"), RedirectPolicy::limited(3));
    let mut result = Ok(());
    for i in 0..10 {
        let to = if i % 2 == 0 {
            "ws://b.example/"
        } else {
            "ws://a.example/"
        };
        if let Err(e) = chain.follow(307, Some(to)) {
            result = Err((i, e));
            break;
        }
    }
    let (at, err) = result.unwrap_err();
    assert_eq!(at, 3);
    match &err {
        RedirectError::TooManyHops { max_hops: 3, chain } => assert_eq!(
            chain,
            &[
                "ws://a.example/",
                "ws://b.example/",
                "ws://a.example/",
                "ws://b.example/",
                "ws://a.example/"
            ]
        ),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("redirects in a loop"), "{err}");
}

#[test]
fn zero_hops_and_disabled() {
    let mut chain = RedirectChain::new(url("ws://a/"), RedirectPolicy::limited(0));
    assert_eq!(
        chain.follow(301, Some("/b")).unwrap_err(),
        RedirectError::TooManyHops {
            max_hops: 0,
            chain: vec!["ws://a/".into(), "ws://a/b".into()]
        }
    );
    let mut chain = RedirectChain::new(url("ws://a/"), RedirectPolicy::NONE);
    assert_eq!(chain.policy(), RedirectPolicy::NONE);
    assert_eq!(
        chain.follow(301, Some("/b")).unwrap_err(),
        RedirectError::Redirected {
            status: 301,
            location: Some("/b".into())
        }
    );
    assert_eq!(chain.hops(), 0);
}

#[test]
fn the_status_is_kept_where_there_is_one() {
    let current = url("wss://a/");
    for (status, location, http_status) in [
        (300, Some("/b"), Some(300)),
        (302, None, Some(302)),
        (301, Some("ftp://b/"), None),
        (307, Some("ws://a/"), None),
    ] {
        let err = next_url(&current, status, location).unwrap_err();
        assert_eq!(err.http_status(), http_status, "{err:?}");
        // Inside the handshake's error: the same message.
        let wrapped = HandshakeError::from(err.clone());
        assert_eq!(wrapped, HandshakeError::Redirect(err.clone()));
        assert_eq!(wrapped.to_string(), err.to_string());
    }
    let mut chain = RedirectChain::new(current, RedirectPolicy::NONE);
    let err = chain.follow(308, Some("/b")).unwrap_err();
    assert_eq!(err.http_status(), Some(308));
}

#[test]
fn chain_passwords_are_hidden() {
    let mut chain = RedirectChain::new(url("wss://u:hunter2@a/"), RedirectPolicy::limited(0));
    let err = chain.follow(301, Some("/x")).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("u:***@a"), "{err}");
}

#[test]
fn follow_response_uses_the_full_location() {
    let long_path = "p".repeat(400);
    let raw = format!("HTTP/1.1 308 Permanent Redirect\r\nLocation: /{long_path}\r\n\r\n");
    let response = ResponseParser::new(Limits::default())
        .feed(raw.as_bytes())
        .unwrap()
        .unwrap();
    let mut chain = RedirectChain::new(url("wss://a.example/"), RedirectPolicy::default());
    let next = chain.follow_response(&response).unwrap();
    assert_eq!(next.as_str(), format!("wss://a.example/{long_path}"));
    let raw = b"HTTP/1.1 302 Found\r\n\r\n";
    let response = ResponseParser::new(Limits::default())
        .feed(raw)
        .unwrap()
        .unwrap();
    assert_eq!(
        chain.follow_response(&response).unwrap_err(),
        RedirectError::MissingLocation { status: 302 }
    );
}

#[test]
fn which_headers_follow() {
    let a = url("wss://a.example/x");
    // (new URL, same origin)
    let table = [
        ("wss://a.example/other?q", true),
        ("wss://A.EXAMPLE/", true),
        ("wss://a.example:443/", true),
        ("https://a.example/", true),
        ("wss://b.example/", false),
        ("wss://sub.a.example/", false),
        ("wss://a.example:8443/", false),
        ("ws://a.example/", false),
    ];
    for (new, same) in table {
        let new = url(new);
        // Any header may be a credential: only the same origin gets them.
        for name in [
            "Authorization",
            "cookie",
            "COOKIE2",
            "Host",
            " Authorization ",
            "X-Api-Key",
            "X-Token",
            "X-Custom",
            "Authorization-Extra",
        ] {
            assert_eq!(forwards_header(&a, &new, name), same, "{name} to {new}");
        }
        for name in ["Origin", "User-Agent", "user-agent"] {
            assert!(forwards_header(&a, &new, name), "{name} to {new}");
        }
    }
    let headers: Vec<(String, String)> = [
        ("User-Agent", "t/1"),
        ("Authorization", "Bearer x"),
        ("Proxy-Authorization", "Basic y"),
        ("Cookie", "s=1"),
        ("X-Trace", "7"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(
        names(headers_to_keep(&a, &url("wss://a.example/y"), &headers)),
        ["User-Agent", "Authorization", "Cookie", "X-Trace"]
    );
    assert_eq!(
        names(headers_to_keep(&a, &url("wss://b.example/y"), &headers)),
        ["User-Agent"]
    );
}

#[test]
fn request_builder_follows_a_redirect() {
    let builder = RequestBuilder::new("wss://a.example/old")
        .unwrap()
        .header("Authorization", "Bearer secret")
        .raw_header("Cookie: session=1")
        .header("Host", "override.example")
        .header("X-Trace", "7")
        .header("X-Api-Key", "k-123")
        .portable_header("X-Request-Id", "r-9")
        .portable_header("Host", "never.example")
        .header("User-Agent", "feed/1")
        .origin("https://app.example")
        .subprotocol("chat")
        .extensions("permessage-deflate");
    let key = *b"the sample nonce";
    let policy = RedirectPolicy::default();

    // Same origin: everything.
    let same = builder
        .clone()
        .redirect(url("wss://a.example/new"), &policy)
        .unwrap()
        .build_with_key(key)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(same.as_bytes()).unwrap(),
        "GET /new HTTP/1.1\r\nHost: never.example\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nOrigin: https://app.example\r\nSec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\nAuthorization: Bearer secret\r\n\
Cookie: session=1\r\nX-Trace: 7\r\nX-Api-Key: k-123\r\nX-Request-Id: r-9\r\n\
User-Agent: feed/1\r\n\r\n"
    );

    // Another origin: only User-Agent, Origin and portable headers (never a Host override);
    // subprotocols stay behind too unless the policy keeps them.
    let other = builder
        .clone()
        .redirect(url("wss://b.example:8443/new?x=1"), &policy)
        .unwrap()
        .build_with_key(key)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(other.as_bytes()).unwrap(),
        "GET /new?x=1 HTTP/1.1\r\nHost: b.example:8443\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nOrigin: https://app.example\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\nX-Request-Id: r-9\r\nUser-Agent: feed/1\r\n\r\n"
    );
    assert_eq!(other.target().host, "b.example");
    assert_eq!(other.target().port, 8443);
    assert!(other.target().secure);
    assert!(other.subprotocols().is_empty());
    let kept = builder
        .clone()
        .redirect(url("wss://b.example/"), &policy.keep_subprotocols(true))
        .unwrap()
        .build_with_key(key)
        .unwrap();
    assert_eq!(kept.subprotocols(), ["chat"]);
    // A scheme change is an origin change too (ws to wss on the same host).
    let upgraded = RequestBuilder::new("ws://a.example/")
        .unwrap()
        .header("X-Token", "t")
        .redirect(url("wss://a.example/"), &policy)
        .unwrap()
        .build_with_key(key)
        .unwrap();
    assert!(!String::from_utf8_lossy(upgraded.as_bytes()).contains("X-Token"));

    // The new URL is checked like any redirect target.
    assert!(matches!(
        RequestBuilder::new("ws://a/")
            .unwrap()
            .redirect(url("ftp://b/"), &policy),
        Err(RedirectError::UnsupportedScheme { .. })
    ));
}

#[test]
fn the_user_agent_survives_every_redirect() {
    let policy = RedirectPolicy::default();
    let user_agents = |b: RequestBuilder| {
        let request = b.build_with_key([0; 16]).unwrap();
        let head = String::from_utf8_lossy(request.as_bytes()).into_owned();
        head.split("\r\n")
            .filter(|l| l.to_ascii_lowercase().starts_with("user-agent:"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let default = format!("User-Agent: {DEFAULT_USER_AGENT}");
    for to in [
        "wss://a.example/same-origin",
        "wss://b.example/other-host",
        "wss://a.example:8443/other-port",
    ] {
        // The default, on the first hop and every one after it.
        let first = RequestBuilder::new("wss://a.example/").unwrap();
        assert_eq!(user_agents(first.clone()), [default.as_str()]);
        let hop1 = first.redirect(url(to), &policy).unwrap();
        assert_eq!(user_agents(hop1.clone()), [default.as_str()], "to {to}");
        let hop2 = hop1.redirect(url("wss://c.example/"), &policy).unwrap();
        assert_eq!(user_agents(hop2), [default.as_str()], "to {to}, then c");

        // The caller's one replaces it on every hop, once.
        let mine = RequestBuilder::new("wss://a.example/")
            .unwrap()
            .header("user-agent", "mine/1")
            .redirect(url(to), &policy)
            .unwrap();
        assert_eq!(user_agents(mine), ["user-agent: mine/1"], "to {to}");

        // Turned off, it stays off.
        let none = RequestBuilder::new("wss://a.example/")
            .unwrap()
            .no_user_agent()
            .redirect(url(to), &policy)
            .unwrap();
        assert!(user_agents(none).is_empty(), "to {to}");
    }
}

#[test]
fn chain_and_builder_together() {
    // The loop the connect flow will run, with canned responses.
    let answers: [&[u8]; 3] = [
        b"HTTP/1.1 301 Moved\r\nLocation: https://b.example/ws\r\n\r\n",
        b"HTTP/1.1 307 Temporary\r\nLocation: /ws2\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ];
    let mut builder = RequestBuilder::new("wss://a.example/")
        .unwrap()
        .header("Authorization", "Bearer a-token");
    let mut chain = RedirectChain::new(url("wss://a.example/"), RedirectPolicy::default());
    let mut requested = Vec::new();
    for raw in answers {
        let request = builder.clone().build_with_key([0; 16]).unwrap();
        requested.push(request.url().to_string());
        let response = ResponseParser::new(Limits::default())
            .feed(raw)
            .unwrap()
            .unwrap();
        if response.status() == 101 {
            break;
        }
        let next = chain.follow_response(&response).unwrap().clone();
        builder = builder.redirect(next, &chain.policy()).unwrap();
    }
    assert_eq!(
        requested,
        [
            "wss://a.example/",
            "wss://b.example/ws",
            "wss://b.example/ws2"
        ]
    );
    let last = builder.build_with_key([0; 16]).unwrap();
    assert!(!String::from_utf8_lossy(last.as_bytes()).contains("a-token"));
}

#[test]
fn a_proxy_authorization_header_is_refused_with_a_pointer_to_the_proxy_url() {
    for b in [
        RequestBuilder::new("ws://a.example/")
            .unwrap()
            .header("Proxy-Authorization", "Basic eA=="),
        RequestBuilder::new("ws://a.example/")
            .unwrap()
            .raw_header("proxy-authorization: Basic eA=="),
    ] {
        let err = b.build().unwrap_err();
        assert!(
            matches!(err, HandshakeError::ProxyAuthorizationHeader),
            "{err:?}"
        );
        assert!(err.to_string().contains("proxy URL"), "{err}");
    }
}

#[test]
fn a_redirect_hook_sees_the_hop_and_may_refuse_or_adjust_it() {
    use std::sync::Arc;
    use ws_handshake::redirect::{decide, HopDecision, RedirectHook, RedirectHop};

    let from = url("wss://a.example/old");
    let to = url("wss://b.example/new");
    let request = RequestBuilder::new("wss://a.example/old")
        .unwrap()
        .header("Authorization", "Bearer a")
        .redirect(to.clone(), &RedirectPolicy::default())
        .unwrap();
    let hop = RedirectHop::new(302, &from, &to, &request);
    assert!(hop.cross_origin);
    let refuse: RedirectHook = Arc::new(|hop: &RedirectHop<'_>| {
        if hop.to.host_str() == Some("b.example") {
            HopDecision::Refuse("not a host we trust".into())
        } else {
            HopDecision::Follow
        }
    });
    let err = decide(&refuse, &hop).unwrap_err();
    assert!(
        matches!(err, RedirectError::RefusedByHook { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a host we trust"), "{err}");

    // Adjust: a credential meant for the new host.
    let adjust: RedirectHook = Arc::new(|hop: &RedirectHop<'_>| {
        HopDecision::FollowWith(hop.request.clone().header("Authorization", "Bearer b"))
    });
    let next = decide(&adjust, &hop).unwrap().expect("an adjusted request");
    let bytes = next.build_with_key([0; 16]).unwrap();
    let text = String::from_utf8_lossy(bytes.as_bytes()).into_owned();
    assert!(
        text.contains("Authorization: Bearer b") && !text.contains("Bearer a"),
        "{text}"
    );

    // A hook may not send the request elsewhere.
    let elsewhere: RedirectHook = Arc::new(|_: &RedirectHop<'_>| {
        HopDecision::FollowWith(RequestBuilder::new("wss://c.example/").unwrap())
    });
    assert!(decide(&elsewhere, &hop).is_err());
    let follow: RedirectHook = Arc::new(|_: &RedirectHop<'_>| HopDecision::Follow);
    assert!(decide(&follow, &hop).unwrap().is_none());
}
