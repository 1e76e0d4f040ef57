//! Proxy URLs, the environment-variable choice and NO_PROXY matching.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::collections::HashMap;
use std::net::IpAddr;

use ws_handshake::proxy::{
    Credentials, NoProxy, Proxy, ProxyConfig, ProxyError, ProxyHandshake, ProxyScheme, TargetAddr,
};
use ws_handshake::{HandshakeError, Limits};

/// Scheme, host, port and (user, password) of a proxy.
type Parts<'a> = (ProxyScheme, &'a str, u16, Option<(&'a str, &'a str)>);

/// Environment variables as (name, value) pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn parts(p: &Proxy) -> Parts<'_> {
    (
        p.scheme(),
        p.host(),
        p.port(),
        p.credentials().map(|c| (c.username(), c.password())),
    )
}

#[test]
fn proxy_urls_parse() {
    use ProxyScheme::*;
    let table: &[(&str, Parts<'_>)] = &[
        (
            "http://proxy.example:3128",
            (Http, "proxy.example", 3128, None),
        ),
        ("http://proxy.example", (Http, "proxy.example", 80, None)),
        (
            "http://proxy.example:80/",
            (Http, "proxy.example", 80, None),
        ),
        (
            "HTTP://Proxy.EXAMPLE:8080",
            (Http, "proxy.example", 8080, None),
        ),
        ("proxy.example:3128", (Http, "proxy.example", 3128, None)),
        ("  http://p:1  ", (Http, "p", 1, None)),
        ("socks5://127.0.0.1", (Socks5, "127.0.0.1", 1080, None)),
        ("socks5://127.0.0.1:80", (Socks5, "127.0.0.1", 80, None)),
        ("socks5h://[::1]:9050", (Socks5h, "::1", 9050, None)),
        (
            "SOCKS5H://Tor.Local:9050",
            (Socks5h, "tor.local", 9050, None),
        ),
        (
            "http://[2001:db8::1]:3128",
            (Http, "2001:db8::1", 3128, None),
        ),
        (
            "http://alice:s3cret@p:3128",
            (Http, "p", 3128, Some(("alice", "s3cret"))),
        ),
        (
            "http://alice@p:3128",
            (Http, "p", 3128, Some(("alice", ""))),
        ),
        ("http://:tok@p:3128", (Http, "p", 3128, Some(("", "tok")))),
        (
            "socks5://us%40er:p%3Ass%20w%2Fd@p",
            (Socks5, "p", 1080, Some(("us@er", "p:ss w/d"))),
        ),
        (
            "socks5h://%C3%A9t%C3%A9:x@p:1",
            (Socks5h, "p", 1, Some(("été", "x"))),
        ),
    ];
    for (url, want) in table {
        let p = Proxy::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(parts(&p), *want, "{url}");
    }
}

#[test]
fn unsupported_proxy_schemes_are_named() {
    for (url, scheme) in [
        ("https://p:3128", "https"),
        ("socks4://p", "socks4"),
        ("socks4a://p", "socks4a"),
        ("socks://p", "socks"),
        ("ftp://p", "ftp"),
        ("ws://p", "ws"),
    ] {
        let err = Proxy::parse(url).unwrap_err();
        assert_eq!(
            err,
            ProxyError::UnsupportedScheme {
                scheme: scheme.into()
            },
            "{url}"
        );
    }
    let msg = Proxy::parse("https://p").unwrap_err().to_string();
    assert!(
        msg.contains("TLS to the proxy") && msg.contains("http://"),
        "{msg}"
    );
    let msg = Proxy::parse("socks4://p").unwrap_err().to_string();
    assert!(msg.contains("socks5://"), "{msg}");
}

#[test]
fn invalid_proxy_urls_are_refused_without_leaking_passwords() {
    for url in [
        "http://",
        "http://p:3128/path",
        "http://p:3128?q=1",
        "http://p:3128/#frag",
        "http://p:0",
        "http://p:99999",
        "socks5://",
        "socks5://user:hunter2@/x",
        "http://user:hunter2@p:1/path",
        "socks5://%FF%FE:x@p",
        "http://p:port",
        "socks5://[::1",
    ] {
        let err = Proxy::parse(url).unwrap_err();
        assert!(
            matches!(err, ProxyError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        let msg = err.to_string();
        assert!(!msg.contains("hunter2"), "{url}: {msg}");
        assert!(msg.starts_with("invalid proxy URL"), "{msg}");
    }
}

#[test]
fn debug_and_display_hide_the_password() {
    let p = Proxy::parse("http://alice:hunter2@p:3128").unwrap();
    assert_eq!(p.to_string(), "http://alice:***@p:3128");
    let dbg = format!("{p:?}");
    assert!(dbg.contains("alice") && !dbg.contains("hunter2"), "{dbg}");
    assert_eq!(
        Proxy::parse("socks5h://[::1]:9050").unwrap().to_string(),
        "socks5h://[::1]:9050"
    );
    let t = p
        .handshake(TargetAddr::from_host("h").unwrap(), 1, Limits::default())
        .unwrap();
    let dbg = format!("{t:?}");
    assert!(
        !dbg.contains("hunter2") && !dbg.contains("aHVudGVy"),
        "{dbg}"
    );
    let s = Proxy::parse("socks5h://alice:hunter2@p").unwrap();
    let t = s
        .handshake(TargetAddr::from_host("h").unwrap(), 1, Limits::default())
        .unwrap();
    assert!(!format!("{t:?}").contains("hunter2"));
}

#[test]
fn proxies_from_parts() {
    let p =
        Proxy::new(ProxyScheme::Socks5, "[::1]", 1080).with_credentials(Credentials::new("u", "p"));
    assert_eq!(
        parts(&p),
        (ProxyScheme::Socks5, "::1", 1080, Some(("u", "p")))
    );
    assert_eq!(ProxyScheme::Http.default_port(), 80);
    assert_eq!(ProxyScheme::Socks5h.default_port(), 1080);
    assert_eq!(ProxyScheme::Socks5h.as_str(), "socks5h");
    assert_eq!(ProxyScheme::Socks5h.to_string(), "SOCKS5");
}

#[test]
fn target_addresses_are_classified() {
    let ip = |s: &str| TargetAddr::Ip(s.parse::<IpAddr>().unwrap());
    assert_eq!(TargetAddr::from_host("10.0.0.1").unwrap(), ip("10.0.0.1"));
    assert_eq!(TargetAddr::from_host("::1").unwrap(), ip("::1"));
    assert_eq!(TargetAddr::from_host("[::1]").unwrap(), ip("::1"));
    assert_eq!(
        TargetAddr::from_host("xn--bcher-kva.example").unwrap(),
        TargetAddr::Domain("xn--bcher-kva.example".into())
    );
    for bad in [
        "",
        "a b",
        "evil\r\nX: y",
        "a/b",
        "user@host",
        "bücher.example",
        "[::1",
        "h:80",
    ] {
        assert!(
            matches!(
                TargetAddr::from_host(bad),
                Err(ProxyError::InvalidTarget { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(ip("::1").authority(443), "[::1]:443");
    assert_eq!(ip("1.2.3.4").authority(80), "1.2.3.4:80");
}

#[test]
fn socks5_without_h_needs_a_resolved_address() {
    let local = Proxy::parse("socks5://p").unwrap();
    let remote = Proxy::parse("socks5h://p").unwrap();
    let http = Proxy::parse("http://p").unwrap();
    let name = TargetAddr::from_host("example.com").unwrap();
    let ip = TargetAddr::from_host("192.0.2.1").unwrap();
    assert!(local.needs_resolved(&name));
    assert!(!local.needs_resolved(&ip));
    assert!(!remote.needs_resolved(&name));
    assert!(!http.needs_resolved(&name));
    let err = local
        .handshake(name.clone(), 443, Limits::default())
        .unwrap_err();
    assert!(matches!(err, ProxyError::InvalidTarget { .. }), "{err:?}");
    assert!(err.to_string().contains("socks5h://"), "{err}");
    assert!(matches!(
        local.handshake(ip, 443, Limits::default()).unwrap(),
        ProxyHandshake::Socks5(_)
    ));
    assert!(matches!(
        remote
            .handshake(name.clone(), 443, Limits::default())
            .unwrap(),
        ProxyHandshake::Socks5(_)
    ));
    assert!(matches!(
        http.handshake(name, 443, Limits::default()).unwrap(),
        ProxyHandshake::Http(_)
    ));
}

// ---- environment ------------------------------------------------------------------------

fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    move |name| map.get(name).map(|v| (*v).to_owned())
}

/// The proxy chosen for a target, as its Display, or "direct".
fn chosen(vars: &[(&str, &str)], host: &str, port: u16, secure: bool) -> String {
    match Proxy::from_env_for(host, port, secure, env_of(vars)) {
        Ok(Some(p)) => p.to_string(),
        Ok(None) => "direct".into(),
        Err(e) => panic!("{vars:?} {host}: {e}"),
    }
}

#[test]
fn env_selection_table() {
    let h = ("HTTP_PROXY", "http://H:1");
    let hl = ("http_proxy", "http://hl:1");
    let s = ("HTTPS_PROXY", "http://S:2");
    let sl = ("https_proxy", "socks5h://sl:2");
    let a = ("ALL_PROXY", "socks5://A:3");
    let al = ("all_proxy", "socks5://al:3");
    // (vars, secure, expected)
    let table: &[(Vars<'_>, bool, &str)] = &[
        (&[], false, "direct"),
        (&[], true, "direct"),
        (&[h], false, "http://h:1"),
        (&[h], true, "direct"),
        (&[s], true, "http://s:2"),
        (&[s], false, "direct"),
        (&[h, hl], false, "http://hl:1"),
        (&[s, sl], true, "socks5h://sl:2"),
        (&[a], false, "socks5://a:3"),
        (&[a], true, "socks5://a:3"),
        (&[a, al], true, "socks5://al:3"),
        (&[h, a], false, "http://h:1"),
        (&[s, al], true, "http://s:2"),
        (&[h, s, a], true, "http://s:2"),
        (&[h, s, a], false, "http://h:1"),
        (&[("HTTPS_PROXY", ""), a], true, "socks5://a:3"),
        (&[("https_proxy", "  "), s], true, "http://s:2"),
        (
            &[("http_proxy", "proxy.corp:3128")],
            false,
            "http://proxy.corp:3128",
        ),
        // httpoxy: in a CGI script HTTP_PROXY may come from a request header.
        (&[h, ("REQUEST_METHOD", "GET")], false, "direct"),
        (&[h, hl, ("REQUEST_METHOD", "GET")], false, "http://hl:1"),
        (&[h, a, ("REQUEST_METHOD", "GET")], false, "socks5://a:3"),
        (&[s, ("REQUEST_METHOD", "GET")], true, "http://s:2"),
    ];
    for (vars, secure, want) in table {
        assert_eq!(
            chosen(vars, "example.com", 443, *secure),
            *want,
            "{vars:?} secure={secure}"
        );
    }
}

#[test]
fn env_no_proxy_table() {
    let p = ("ALL_PROXY", "http://p:1");
    // (NO_PROXY value, host, port, bypassed)
    let table: &[(&str, &str, u16, bool)] = &[
        ("*", "anything.example", 443, true),
        ("a.example, *", "b.example", 443, true),
        ("example.com", "example.com", 443, true),
        ("example.com", "EXAMPLE.com", 443, true),
        ("EXAMPLE.COM", "example.com", 443, true),
        ("example.com", "api.example.com", 443, true),
        ("example.com", "a.b.example.com", 443, true),
        ("example.com", "notexample.com", 443, false),
        ("example.com", "example.com.evil", 443, false),
        (".example.com", "example.com", 443, true),
        (".example.com", "api.example.com", 443, true),
        ("*.example.com", "api.example.com", 443, true),
        ("example.com.", "api.example.com", 443, true),
        ("example.com", "api.example.com.", 443, true),
        ("example.com:8443", "example.com", 8443, true),
        ("example.com:8443", "example.com", 443, false),
        ("localhost,127.0.0.1,::1", "127.0.0.1", 80, true),
        ("localhost,127.0.0.1,::1", "::1", 80, true),
        ("localhost,127.0.0.1,::1", "[::1]", 80, true),
        ("localhost,127.0.0.1,::1", "localhost", 80, true),
        ("localhost", "127.0.0.1", 80, false),
        ("127.0.0.1", "127.0.0.2", 80, false),
        ("127.0.0.1:8080", "127.0.0.1", 8080, true),
        ("127.0.0.1:8080", "127.0.0.1", 80, false),
        ("[::1]", "::1", 80, true),
        ("[::1]:9000", "[::1]", 9000, true),
        ("[::1]:9000", "::1", 9001, false),
        ("2001:db8::1", "[2001:DB8::1]", 443, true),
        ("2001:db8:0:0::1", "2001:db8::1", 443, true),
        ("10.0.0.0/8", "10.200.3.4", 443, true),
        ("10.0.0.0/8", "11.0.0.1", 443, false),
        ("192.168.1.0/24", "192.168.1.255", 443, true),
        ("192.168.1.0/24", "192.168.2.1", 443, false),
        ("0.0.0.0/0", "8.8.8.8", 443, true),
        ("0.0.0.0/0", "::1", 443, false),
        ("fe80::/10", "fe80::1234", 443, true),
        ("[fe80::]/10", "[febf::1]", 443, true),
        ("fe80::/10", "fec0::1", 443, false),
        ("10.0.0.1/32", "10.0.0.1", 443, true),
        ("10.0.0.1/32", "10.0.0.2", 443, false),
        ("10.0.0.0/8", "ten.example", 443, false),
        // Invalid entries are skipped, the others still count.
        ("10.0.0.0/33, example.com", "example.com", 443, true),
        ("10.0.0.0/33", "10.0.0.1", 443, false),
        ("example.com:http, other.example", "example.com", 443, false),
        ("  a.example  b.example ,c.example", "b.example", 443, true),
        ("", "example.com", 443, false),
        (",,, ,", "example.com", 443, false),
    ];
    for (no_proxy, host, port, bypass) in table {
        let want = if *bypass { "direct" } else { "http://p:1" };
        let vars = [p, ("NO_PROXY", *no_proxy)];
        assert_eq!(
            chosen(&vars, host, *port, true),
            want,
            "NO_PROXY={no_proxy:?} host={host} port={port}"
        );
        assert_eq!(
            NoProxy::parse(no_proxy).matches(host, *port),
            *bypass,
            "{no_proxy:?} {host}"
        );
    }
}

#[test]
fn lowercase_no_proxy_wins() {
    let vars = [
        ("HTTPS_PROXY", "http://p:1"),
        ("NO_PROXY", "a.example"),
        ("no_proxy", "b.example"),
    ];
    assert_eq!(chosen(&vars, "a.example", 443, true), "http://p:1");
    assert_eq!(chosen(&vars, "b.example", 443, true), "direct");
    let vars = [
        ("HTTPS_PROXY", "http://p:1"),
        ("NO_PROXY", "a.example"),
        ("no_proxy", ""),
    ];
    assert_eq!(chosen(&vars, "a.example", 443, true), "direct");
}

#[test]
fn unusable_env_proxies_name_the_variable() {
    let err = Proxy::from_env_for(
        "example.com",
        443,
        true,
        env_of(&[("https_proxy", "https://user:pw@p:3128")]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ProxyError::FromEnv {
            variable: "https_proxy",
            error: Box::new(ProxyError::UnsupportedScheme {
                scheme: "https".into()
            }),
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("https_proxy") && msg.contains("TLS"), "{msg}");
    assert!(std::error::Error::source(&err).is_some());
    // Inside the handshake's error: the same message, and the same source next in a chain.
    let wrapped = HandshakeError::from(err.clone());
    assert_eq!(wrapped, HandshakeError::Proxy(err.clone()));
    assert_eq!(wrapped.to_string(), msg);
    assert_eq!(
        std::error::Error::source(&wrapped).map(|e| e.to_string()),
        std::error::Error::source(&err).map(|e| e.to_string())
    );
    assert_eq!(wrapped.http_status(), None);

    let err = Proxy::from_env_for(
        "example.com",
        80,
        false,
        env_of(&[("ALL_PROXY", "http://u:hunter2@p:1/x")]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ProxyError::FromEnv { variable: "ALL_PROXY", error }
            if matches!(**error, ProxyError::InvalidUrl { .. })),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"));

    // A bypassed host does not even look at the broken proxy.
    let ok = Proxy::from_env_for(
        "example.com",
        443,
        true,
        env_of(&[("HTTPS_PROXY", "https://p"), ("NO_PROXY", "example.com")]),
    );
    assert_eq!(ok, Ok(None));
}

#[test]
fn proxy_config_resolves() {
    let env = env_of(&[("HTTPS_PROXY", "http://p:1")]);
    assert_eq!(ProxyConfig::default(), ProxyConfig::Direct);
    assert_eq!(
        ProxyConfig::Direct.resolve_for("h", 443, true, &env),
        Ok(None)
    );
    let fixed = Proxy::parse("socks5h://s:9").unwrap();
    assert_eq!(
        ProxyConfig::Proxy(fixed.clone()).resolve_for("h", 443, true, &env),
        Ok(Some(fixed))
    );
    assert_eq!(
        ProxyConfig::FromEnv
            .resolve_for("h", 443, true, &env)
            .unwrap()
            .unwrap()
            .to_string(),
        "http://p:1"
    );
}
