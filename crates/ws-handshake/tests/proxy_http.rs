//! HTTP CONNECT, byte for byte: the request, the proxy's answer split everywhere, refusals,
//! garbage and limits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::proxy::{
    Credentials, HttpConnect, Progress, Proxy, ProxyError, ProxyHandshake, ProxyScheme, TargetAddr,
};
use ws_handshake::Limits;

fn connect(target: &str, port: u16, creds: Option<(&str, &str)>) -> HttpConnect {
    let creds = creds.map(|(u, p)| Credentials::new(u, p));
    HttpConnect::new(
        &TargetAddr::from_host(target).unwrap(),
        port,
        creds.as_ref(),
        Limits::default(),
    )
    .unwrap()
}

#[test]
fn request_bytes_exactly() {
    assert_eq!(
        connect("example.com", 443, None).bytes_to_send(),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    );
    // base64("alice:s3cret") = YWxpY2U6czNjcmV0
    assert_eq!(
        connect("example.com", 80, Some(("alice", "s3cret"))).bytes_to_send(),
        b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\
Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
    );
    assert_eq!(
        connect("[2001:db8::1]", 9000, None).bytes_to_send(),
        b"CONNECT [2001:db8::1]:9000 HTTP/1.1\r\nHost: [2001:db8::1]:9000\r\n\r\n"
    );
    assert_eq!(
        connect("::1", 443, None).bytes_to_send(),
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
    );
    assert_eq!(
        connect("192.0.2.7", 8080, None).bytes_to_send(),
        b"CONNECT 192.0.2.7:8080 HTTP/1.1\r\nHost: 192.0.2.7:8080\r\n\r\n"
    );
    // Empty password; UTF-8 credentials (RFC 7617); base64("bob:") = Ym9iOg==
    assert_eq!(
        connect("h", 1, Some(("bob", ""))).bytes_to_send(),
        b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic Ym9iOg==\r\n\r\n"
    );
    // base64("été:p@ss:w") = w6l0w6k6cEBzczp3
    let req = connect("h", 1, Some(("été", "p@ss:w")));
    let text = std::str::from_utf8(req.bytes_to_send()).unwrap();
    assert!(
        text.contains("\r\nProxy-Authorization: Basic w6l0w6k6cEBzczp3\r\n"),
        "{text}"
    );
}

#[test]
fn credentials_from_the_proxy_url_are_percent_decoded() {
    let proxy = Proxy::parse("http://al%3Aice:s3cret@p:3128").unwrap();
    let err = proxy
        .handshake(TargetAddr::from_host("h").unwrap(), 443, Limits::default())
        .unwrap_err();
    assert!(
        matches!(err, ProxyError::InvalidCredentials { .. }),
        "{err:?}"
    );
    let proxy = Proxy::parse("http://alice:s3%63ret@p:3128").unwrap();
    let t = proxy
        .handshake(
            TargetAddr::from_host("example.com").unwrap(),
            443,
            Limits::default(),
        )
        .unwrap();
    assert_eq!(
        t.bytes_to_send(),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
    );
}

#[test]
fn output_is_consumed_in_pieces() {
    let mut c = connect("example.com", 443, None);
    let all = c.bytes_to_send().to_vec();
    c.consume_output(5);
    assert_eq!(c.bytes_to_send(), &all[5..]);
    assert_eq!(
        c.closed_error(),
        ProxyError::Closed {
            scheme: ProxyScheme::Http,
            during: "before we could send CONNECT"
        }
    );
    c.consume_output(usize::MAX);
    assert!(c.bytes_to_send().is_empty());
    c.consume_output(3);
    assert!(c.bytes_to_send().is_empty());
    assert_eq!(
        c.closed_error(),
        ProxyError::Closed {
            scheme: ProxyScheme::Http,
            during: "before answering CONNECT"
        }
    );
}

const OK: &[u8] = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\n\r\n";
const TUNNEL: &[u8] = b"\x16\x03\x01\x00\x05hello";

/// Feeds `parts` in order; returns the outcome of the last feed, checking that the earlier
/// ones asked for more.
fn feed_parts(c: &mut HttpConnect, parts: &[&[u8]]) -> Result<Progress, ProxyError> {
    let (last, first) = parts.split_last().unwrap();
    for p in first {
        assert_eq!(c.feed(p), Ok(Progress::NeedMore), "early part {p:?}");
    }
    c.feed(last)
}

#[test]
fn established_at_every_split_point_keeps_the_rest() {
    let mut answer = OK.to_vec();
    answer.extend_from_slice(TUNNEL);
    for cut in 1..OK.len() {
        let mut c = connect("example.com", 443, None);
        let got = feed_parts(&mut c, &[&answer[..cut], &answer[cut..]]).unwrap();
        assert_eq!(
            got,
            Progress::Done {
                rest: TUNNEL.to_vec()
            },
            "cut at {cut}"
        );
        assert!(c.is_done());
    }
    // Cut after the head: the tunnel bytes come in a later feed, passed through as they are.
    let mut c = connect("example.com", 443, None);
    assert_eq!(c.feed(OK), Ok(Progress::Done { rest: vec![] }));
    assert_eq!(
        c.feed(TUNNEL),
        Ok(Progress::Done {
            rest: TUNNEL.to_vec()
        })
    );
    // Byte by byte.
    let mut c = connect("example.com", 443, None);
    for (i, b) in answer.iter().enumerate() {
        let p = c.feed(std::slice::from_ref(b)).unwrap();
        if i + 1 < OK.len() {
            assert_eq!(p, Progress::NeedMore, "byte {i}");
        } else if i + 1 == OK.len() {
            assert_eq!(p, Progress::Done { rest: vec![] });
        } else {
            assert_eq!(p, Progress::Done { rest: vec![*b] });
        }
    }
}

#[test]
fn any_2xx_and_http_1_0_open_the_tunnel() {
    for answer in [
        &b"HTTP/1.0 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 200\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 299 Whatever\r\nContent-Length: 10\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\n\n",
    ] {
        let mut c = connect("h", 1, None);
        assert_eq!(
            c.feed(answer),
            Ok(Progress::Done { rest: vec![] }),
            "{:?}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[test]
fn interim_1xx_answers_are_skipped() {
    let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
HTTP/1.1 200 OK\r\n\r\nDATA";
    for cut in 0..answer.len() {
        let mut c = connect("h", 1, None);
        let mut rest = Vec::new();
        for part in [&answer[..cut], &answer[cut..]] {
            match c.feed(part).unwrap() {
                Progress::NeedMore => {}
                Progress::Done { rest: r } => rest.extend(r),
            }
        }
        assert!(c.is_done(), "cut {cut}");
        assert_eq!(rest, b"DATA", "cut {cut}");
    }
    // 101 is not an interim answer to CONNECT.
    let mut c = connect("h", 1, None);
    assert!(matches!(
        c.feed(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
        Err(ProxyError::ConnectRefused { status: 101, .. })
    ));
    // Interim heads count against the head limit.
    let limits = Limits {
        max_head_size: 40,
        max_headers: 8,
    };
    let mut c = HttpConnect::new(&TargetAddr::from_host("h").unwrap(), 1, None, limits).unwrap();
    let err = c
        .feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
        .unwrap_err();
    assert!(
        matches!(&err, ProxyError::Protocol { reason, .. } if reason.contains("40 bytes")),
        "{err:?}"
    );
}

#[test]
fn proxy_authentication_required() {
    let answer = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
Proxy-Authenticate: Basic realm=\"corp\"\r\nProxy-Authenticate: Negotiate\r\n\
Content-Length: 0\r\n\r\n";
    for cut in 1..answer.len() {
        let mut c = connect("example.com", 443, None);
        let err = feed_parts(&mut c, &[&answer[..cut], &answer[cut..]]).unwrap_err();
        assert_eq!(
            err,
            ProxyError::AuthRequired {
                target: "example.com:443".into(),
                proxy_authenticate: Some("Basic realm=\"corp\", Negotiate".into()),
                credentials_sent: false,
            },
            "cut {cut}"
        );
        // Failed for good: the same error again, even for bytes that would look fine.
        assert_eq!(c.feed(OK), Err(err));
        assert!(!c.is_done());
    }
    let mut c = connect("example.com", 443, Some(("alice", "wrong")));
    let err = c.feed(b"HTTP/1.1 407 Nope\r\n\r\n").unwrap_err();
    assert_eq!(
        err,
        ProxyError::AuthRequired {
            target: "example.com:443".into(),
            proxy_authenticate: None,
            credentials_sent: true,
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("407") && msg.contains("refused the credentials"),
        "{msg}"
    );
    assert_eq!(err.http_status(), Some(407));
    let msg = ProxyError::AuthRequired {
        target: "h:1".into(),
        proxy_authenticate: Some("Basic realm=\"x\"".into()),
        credentials_sent: false,
    }
    .to_string();
    assert!(
        msg.contains("http://user:password@host:port") && msg.contains("realm"),
        "{msg}"
    );
}

#[test]
fn refusals_carry_status_and_reason() {
    for (answer, status, reason, hint) in [
        (
            &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way"[..],
            403,
            "Forbidden",
            "rules forbid",
        ),
        (
            b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
            502,
            "Bad Gateway",
            "could not reach",
        ),
        (
            b"HTTP/1.1 504 Gateway Timeout\r\n\r\n",
            504,
            "Gateway Timeout",
            "could not reach",
        ),
        (b"HTTP/1.0 404 \r\n\r\n", 404, "", "not opened"),
        (
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n",
            301,
            "Moved",
            "not opened",
        ),
        (b"HTTP/1.1 500 Oops\r\n\r\n", 500, "Oops", "not opened"),
    ] {
        let mut c = connect("[::1]", 8443, None);
        let err = c.feed(answer).unwrap_err();
        assert_eq!(
            err,
            ProxyError::ConnectRefused {
                target: "[::1]:8443".into(),
                status,
                reason: reason.into(),
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&status.to_string()) && msg.contains(hint),
            "{msg}"
        );
        assert!(msg.contains("[::1]:8443"), "{msg}");
        assert_eq!(err.http_status(), Some(status));
    }
}

#[test]
fn garbage_fails_at_the_first_wrong_byte() {
    for (answer, pos) in [
        (&b"\x05\x00"[..], 0),
        (b"SSH-2.0-OpenSSH\r\n", 0),
        (b"HTTX/1.1 200 OK\r\n\r\n", 3),
        (b"\r\n\r\nhttp/1.1 200 OK\r\n\r\n", 0),
        (b"<html>", 0),
    ] {
        let mut c = connect("h", 1, None);
        let err = c.feed(answer).unwrap_err();
        match &err {
            ProxyError::Protocol {
                scheme: ProxyScheme::Http,
                reason,
            } => assert!(
                reason.contains(&format!("position {pos}")),
                "{reason} for {answer:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("not valid HTTP"), "{err}");
    }
    // Byte by byte, the error comes with the first wrong byte (no waiting for more).
    let mut c = connect("h", 1, None);
    assert_eq!(c.feed(b"HT"), Ok(Progress::NeedMore));
    assert!(c.feed(b"X").is_err());
    // Valid prefix, broken head: httparse's verdict.
    let mut c = connect("h", 1, None);
    let err = c.feed(b"HTTP/1.1 2x0 OK\r\n\r\n").unwrap_err();
    assert!(
        matches!(&err, ProxyError::Protocol { reason, .. } if reason.contains("malformed")),
        "{err:?}"
    );
}

#[test]
fn oversized_answers_are_bounded() {
    let limits = Limits {
        max_head_size: 1024,
        max_headers: 4,
    };
    let target = TargetAddr::from_host("h").unwrap();
    // A head that never ends: fails once the limit is reached, not later.
    let mut c = HttpConnect::new(&target, 1, None, limits).unwrap();
    assert_eq!(c.feed(b"HTTP/1.1 200 OK\r\nX: "), Ok(Progress::NeedMore));
    let mut fed = 20;
    let err = loop {
        match c.feed(&[b'a'; 100]) {
            Ok(Progress::NeedMore) => fed += 100,
            Ok(other) => panic!("{other:?}"),
            Err(e) => break e,
        }
        assert!(fed <= 1024, "still waiting after {fed} bytes");
    };
    assert!(
        matches!(&err, ProxyError::Protocol { reason, .. } if reason.contains("1024 bytes")),
        "{err:?}"
    );
    // Too many headers fails before the head ends.
    let mut c = HttpConnect::new(&target, 1, None, limits).unwrap();
    let err = c
        .feed(b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\n")
        .unwrap_err();
    assert!(
        matches!(&err, ProxyError::Protocol { reason, .. } if reason.contains("more than 4 headers")),
        "{err:?}"
    );
    // One huge chunk: the error comes without copying it all.
    let mut c = HttpConnect::new(&target, 1, None, limits).unwrap();
    let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
    huge.resize(1 << 20, b'x');
    assert!(c.feed(&huge).is_err());
    // A long reason phrase is shortened in the error.
    let mut c = connect("h", 1, None);
    let long = format!("HTTP/1.1 403 {}\r\n\r\n", "r".repeat(5000));
    match c.feed(long.as_bytes()).unwrap_err() {
        ProxyError::ConnectRefused { reason, .. } => assert!(reason.len() < 120),
        other => panic!("{other:?}"),
    }
}

#[test]
fn proxy_handshake_wrapper_drives_http() {
    let proxy = Proxy::parse("http://p:3128").unwrap();
    let mut t = proxy
        .handshake(
            TargetAddr::from_host("example.com").unwrap(),
            443,
            Limits::default(),
        )
        .unwrap();
    assert!(matches!(t, ProxyHandshake::Http(_)));
    let n = t.bytes_to_send().len();
    t.consume_output(n);
    assert!(t.bytes_to_send().is_empty());
    assert_eq!(
        t.closed_error(),
        ProxyError::Closed {
            scheme: ProxyScheme::Http,
            during: "before answering CONNECT"
        }
    );
    assert_eq!(t.feed(b"HTTP/1.1 200 OK\r\n"), Ok(Progress::NeedMore));
    assert!(!t.is_done());
    assert_eq!(
        t.feed(b"\r\nX"),
        Ok(Progress::Done {
            rest: b"X".to_vec()
        })
    );
    assert!(t.is_done());
    let msg = t.closed_error().to_string();
    assert!(msg.contains("HTTP proxy closed"), "{msg}");
}
