//! The incremental head parsers: splitting, limits, leftovers, malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::{HandshakeError, Limits, RequestParser, Response, ResponseParser};

const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
X-Many: a\r\n\
x-many: b\r\n\
\r\n";

const FRAME: &[u8] = b"\x81\x05hello\x89\x00";

/// Status, reason, headers and rest: what a response boils down to, for comparing parses.
type Summary = (u16, String, Vec<(String, Vec<u8>)>, Vec<u8>);

fn summary(r: &Response) -> Summary {
    (
        r.status(),
        r.reason().to_owned(),
        r.headers()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect(),
        r.rest().to_vec(),
    )
}

#[test]
fn whole_response_parses() {
    let mut raw = RESPONSE.to_vec();
    raw.extend_from_slice(FRAME);
    let r = ResponseParser::new(Limits::default())
        .feed(&raw)
        .unwrap()
        .unwrap();
    assert_eq!(r.status(), 101);
    assert_eq!(r.reason(), "Switching Protocols");
    assert_eq!(r.http_minor_version(), 1);
    assert_eq!(r.header("UPGRADE"), Some("websocket"));
    assert_eq!(r.header("x-many"), Some("a"));
    assert_eq!(r.header("absent"), None);
    assert_eq!(r.headers().count(), 6);
    assert_eq!(r.head_bytes(), RESPONSE);
    assert_eq!(r.rest(), FRAME);
    assert_eq!(r.clone().into_rest(), FRAME);
    let dbg = format!("{r:?}");
    assert!(dbg.contains("101") && dbg.contains("rest_len: 9"), "{dbg}");
}

#[test]
fn every_split_point_gives_the_same_response() {
    let mut raw = RESPONSE.to_vec();
    raw.extend_from_slice(FRAME);
    let whole = summary(
        &ResponseParser::new(Limits::default())
            .feed(&raw)
            .unwrap()
            .unwrap(),
    );
    for cut in 0..=raw.len() {
        let mut p = ResponseParser::new(Limits::default());
        let (a, b) = raw.split_at(cut);
        let first = p.feed(a).unwrap();
        let r = match first {
            Some(r) => {
                // The head ended within `a`; `b` are frame bytes for the next layer.
                assert!(cut >= RESPONSE.len());
                let mut s = summary(&r);
                s.3.extend_from_slice(b);
                s
            }
            None => {
                assert!(cut < RESPONSE.len(), "cut {cut}");
                summary(&p.feed(b).unwrap().expect("complete after second part"))
            }
        };
        assert_eq!(r, whole, "cut at {cut}");
    }
}

#[test]
fn every_double_split_and_byte_by_byte() {
    let raw = RESPONSE;
    let whole = summary(
        &ResponseParser::new(Limits::default())
            .feed(raw)
            .unwrap()
            .unwrap(),
    );
    for i in 0..raw.len() {
        for j in i..raw.len() {
            let mut p = ResponseParser::new(Limits::default());
            assert!(p.feed(&raw[..i]).unwrap().is_none());
            assert!(p.feed(&raw[i..j]).unwrap().is_none());
            let r = p.feed(&raw[j..]).unwrap().unwrap();
            assert_eq!(summary(&r), whole, "{i} {j}");
        }
    }
    let mut p = ResponseParser::new(Limits::default());
    let mut out = None;
    for (n, b) in raw.iter().enumerate() {
        let r = p.feed(std::slice::from_ref(b)).unwrap();
        assert_eq!(r.is_some(), n == raw.len() - 1);
        out = out.or(r);
        // Empty feeds are harmless.
        assert!(p.feed(&[]).unwrap().is_none());
    }
    assert_eq!(summary(&out.unwrap()), whole);
}

#[test]
fn request_parser_split_points_agree() {
    let raw: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x80abcd";
    let whole = RequestParser::new(Limits::default())
        .feed(raw)
        .unwrap()
        .unwrap();
    assert_eq!(whole.method(), "GET");
    assert_eq!(whole.path(), "/chat?x=1");
    assert_eq!(whole.rest(), b"\x81\x80abcd");
    for cut in 0..=raw.len() {
        let mut p = RequestParser::new(Limits::default());
        let (a, b) = raw.split_at(cut);
        let (r, rest) = match p.feed(a).unwrap() {
            Some(r) => {
                let mut rest = r.rest().to_vec();
                rest.extend_from_slice(b);
                (r, rest)
            }
            None => {
                let r = p.feed(b).unwrap().unwrap();
                let rest = r.rest().to_vec();
                (r, rest)
            }
        };
        assert_eq!(rest, whole.rest(), "cut {cut}");
        assert_eq!(r.path(), "/chat?x=1");
        assert_eq!(r.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(r.headers().count(), 5);
        r.validate().unwrap();
    }
}

#[test]
fn line_feed_only_heads_and_leading_blank_lines() {
    let raw = b"\r\n\nHTTP/1.1 101 OK\nUpgrade: websocket\nConnection: upgrade\n\nrest";
    let r = ResponseParser::new(Limits::default())
        .feed(raw)
        .unwrap()
        .unwrap();
    assert_eq!(r.status(), 101);
    assert_eq!(r.header("connection"), Some("upgrade"));
    assert_eq!(r.rest(), b"rest");
    // Mixed endings: "\r\n\n" ends the head as well.
    let raw = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\nrest";
    let r = ResponseParser::new(Limits::default())
        .feed(raw)
        .unwrap()
        .unwrap();
    assert_eq!(r.headers().count(), 1);
    assert_eq!(r.rest(), b"rest");
}

#[test]
fn parser_is_reusable_after_a_head() {
    let mut p = ResponseParser::new(Limits::default());
    let a = p.feed(RESPONSE).unwrap().unwrap();
    assert_eq!(p.buffered(), 0);
    let b = p.feed(RESPONSE).unwrap().unwrap();
    assert_eq!(summary(&a), summary(&b));
    assert!(p.feed(b"HTTP/1.1 !!!\r\n\r\n").is_err());
    assert_eq!(p.buffered(), 0);
    assert!(p.feed(RESPONSE).unwrap().is_some());
}

#[test]
fn malformed_heads_are_errors() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/2 101 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 101 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 101 OK\r\nName : value\r\n\r\n",
        b"HTTP/1.1 101 OK\r\n folded\r\n\r\n",
        b"HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 101\x00 OK\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
    ];
    for raw in cases {
        let err = ResponseParser::new(Limits::default())
            .feed(raw)
            .unwrap_err();
        assert!(
            matches!(err, HandshakeError::MalformedHead { .. }),
            "{:?}: {err:?}",
            String::from_utf8_lossy(raw)
        );
        assert!(err.to_string().starts_with("HTTP upgrade: the peer"));
    }
    let err = RequestParser::new(Limits::default())
        .feed(b"GET / HTTP/1.1 extra\r\n\r\n")
        .unwrap_err();
    assert!(matches!(err, HandshakeError::MalformedHead { .. }));
}

#[test]
fn head_size_limit_is_exact() {
    let limits = Limits {
        max_head_size: RESPONSE.len(),
        max_headers: 128,
    };
    // Exactly at the limit: fine, even with extra bytes after the head in the same feed.
    let mut raw = RESPONSE.to_vec();
    raw.extend_from_slice(FRAME);
    let r = ResponseParser::new(limits).feed(&raw).unwrap().unwrap();
    assert_eq!(r.rest(), FRAME);
    // One byte smaller: refused, whether fed whole or byte by byte.
    let limits = Limits {
        max_head_size: RESPONSE.len() - 1,
        max_headers: 128,
    };
    assert_eq!(
        ResponseParser::new(limits).feed(&raw).unwrap_err(),
        HandshakeError::HeadTooLarge {
            limit: RESPONSE.len() - 1
        }
    );
    let mut p = ResponseParser::new(limits);
    let mut failed_at = None;
    for (i, b) in raw.iter().enumerate() {
        match p.feed(std::slice::from_ref(b)) {
            Ok(r) => assert!(r.is_none()),
            Err(e) => {
                assert_eq!(
                    e,
                    HandshakeError::HeadTooLarge {
                        limit: limits.max_head_size
                    }
                );
                failed_at = Some(i);
                break;
            }
        }
        assert!(p.buffered() <= limits.max_head_size);
    }
    // It fails as soon as the buffer is full without the head having ended (the head can
    // then only end beyond the limit), not later.
    assert_eq!(failed_at, Some(limits.max_head_size - 1));
}

#[test]
fn header_count_limit_is_exact() {
    let head = |n: usize| {
        let mut s = String::from("HTTP/1.1 101 OK\r\n");
        for i in 0..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    };
    let limits = Limits {
        max_head_size: 1 << 20,
        max_headers: 5,
    };
    let r = ResponseParser::new(limits).feed(&head(5)).unwrap().unwrap();
    assert_eq!(r.headers().count(), 5);
    assert_eq!(
        ResponseParser::new(limits).feed(&head(6)).unwrap_err(),
        HandshakeError::TooManyHeaders { limit: 5 }
    );
    assert_eq!(
        RequestParser::new(limits)
            .feed(b"GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\n\r\n")
            .unwrap_err(),
        HandshakeError::TooManyHeaders { limit: 5 }
    );
    // Zero headers allowed: a bare status line works, one header fails.
    let none = Limits {
        max_head_size: 1024,
        max_headers: 0,
    };
    assert!(ResponseParser::new(none).feed(&head(0)).unwrap().is_some());
    assert!(ResponseParser::new(none).feed(&head(1)).is_err());
}

#[test]
fn huge_header_line_fails_at_the_limit() {
    let limits = Limits::default();
    let chunk = vec![b'a'; 8192];
    {
        let mut p = ResponseParser::new(limits);
        p.feed(b"HTTP/1.1 101 OK\r\nX-Big: ").unwrap();
        let mut fed = 0usize;
        let err = loop {
            match p.feed(&chunk) {
                Ok(None) => {
                    fed += chunk.len();
                    assert!(p.buffered() <= limits.max_head_size + chunk.len());
                    assert!(fed <= 10 << 20, "never failed");
                }
                Ok(Some(_)) => panic!("no end of head was sent"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, HandshakeError::HeadTooLarge { limit: 64 * 1024 });
        // Failed as soon as the limit was reached, not after the whole 10 MB.
        assert!(fed <= limits.max_head_size, "fed {fed}");
        assert_eq!(p.buffered(), 0);
    }
    // The same line in one 10 MB feed: refused without buffering it.
    let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    big.resize(10 << 20, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    let mut p = RequestParser::new(limits);
    assert_eq!(
        p.feed(&big).unwrap_err(),
        HandshakeError::HeadTooLarge { limit: 64 * 1024 }
    );
    assert_eq!(p.buffered(), 0);
}

#[test]
fn ten_thousand_header_lines_fail_at_the_limit() {
    let limits = Limits::default();
    let mut raw = b"HTTP/1.1 101 OK\r\n".to_vec();
    for i in 0..10_000 {
        raw.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    // Fed line by line: fails on the 129th header line.
    let mut p = ResponseParser::new(limits);
    let mut lines = 0;
    let mut err = None;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        match p.feed(line) {
            Ok(r) => assert!(r.is_none()),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
        lines += 1;
        assert!(p.buffered() <= limits.max_head_size + line.len());
    }
    assert_eq!(err, Some(HandshakeError::TooManyHeaders { limit: 128 }));
    assert_eq!(
        lines,
        1 + 128,
        "status line and 128 headers accepted, 129th refused"
    );
    // Fed whole.
    assert_eq!(
        ResponseParser::new(limits).feed(&raw).unwrap_err(),
        HandshakeError::TooManyHeaders { limit: 128 }
    );
    // With a huge header limit the size limit still applies.
    let lax = Limits {
        max_head_size: 64 * 1024,
        max_headers: usize::MAX,
    };
    assert_eq!(
        ResponseParser::new(lax).feed(&raw).unwrap_err(),
        HandshakeError::HeadTooLarge { limit: 64 * 1024 }
    );
}

#[test]
fn never_ending_garbage_is_bounded() {
    // No line feed at all: fails at the size limit.
    let limits = Limits {
        max_head_size: 4096,
        max_headers: 16,
    };
    let mut p = ResponseParser::new(limits);
    let mut total = 0;
    let err = loop {
        match p.feed(&[b'x'; 100]) {
            Ok(None) => total += 100,
            Ok(Some(_)) => panic!(),
            Err(e) => break e,
        }
        assert!(p.buffered() <= 4096);
    };
    assert_eq!(err, HandshakeError::HeadTooLarge { limit: 4096 });
    assert!(total <= 4096);
}
