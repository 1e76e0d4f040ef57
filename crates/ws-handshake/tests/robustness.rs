//! Arbitrary input never panics, never exceeds the limits, and splitting never changes the
//! outcome. Deterministic (fixed-seed generator), so failures reproduce.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::{
    parse_extensions, Limits, RequestBuilder, RequestParser, Response, ResponseParser,
};

/// xorshift64*: small, deterministic, good enough to generate test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

const VALID: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n\r\n";

const VALID_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

/// Bytes drawn mostly from the characters that matter to HTTP, so that heads often complete.
fn http_ish(rng: &mut Rng, len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] =
        b"\r\n\r\n:; ,=\"\\\t HTTP/1.1 101 GET websocket upgrade Sec-WebSocket-";
    (0..len)
        .map(|_| match rng.below(4) {
            0 => rng.byte(),
            _ => ALPHABET[rng.below(ALPHABET.len())],
        })
        .collect()
}

/// `base` with a few random edits (replace, insert, delete).
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(3) {
            0 if at < v.len() => v[at] = rng.byte(),
            1 => v.insert(at, rng.byte()),
            _ if at < v.len() => {
                v.remove(at);
            }
            _ => {}
        }
    }
    v
}

/// Everything that can be asked of a response must be answerable without panicking.
/// Returns whether the response passed the client's checks.
fn exercise_response(r: &Response) -> bool {
    let _ = (r.status(), r.reason(), r.header("upgrade"), r.rest().len());
    for (n, v) in r.headers() {
        assert!(!n.is_empty());
        let _ = v.len();
    }
    let req = RequestBuilder::new("ws://h/")
        .unwrap()
        .subprotocol("chat")
        .extensions("permessage-deflate")
        .build_with_key(*b"the sample nonce")
        .unwrap();
    if let Ok(s) = std::str::from_utf8(r.rest()) {
        let _ = parse_extensions(s);
    }
    match req.check(r) {
        Ok(_) => true,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

/// Feeds `input` whole and in random chunks; both must agree, and stay within the limits.
/// Returns (head complete, passed the checks).
fn run_response(rng: &mut Rng, input: &[u8], limits: Limits) -> (bool, bool) {
    let whole = ResponseParser::new(limits).feed(input);
    let mut p = ResponseParser::new(limits);
    let mut chunked = Ok(None);
    let mut pos = 0;
    while pos < input.len() {
        let n = 1 + rng.below(16);
        let end = (pos + n).min(input.len());
        let chunk = &input[pos..end];
        chunked = p.feed(chunk);
        assert!(p.buffered() <= limits.max_head_size);
        pos = end;
        if !matches!(chunked, Ok(None)) {
            break;
        }
    }
    match (&whole, &chunked) {
        (Ok(Some(a)), Ok(Some(b))) => {
            assert_eq!(a.status(), b.status());
            assert_eq!(a.head_bytes(), b.head_bytes());
            // The chunked parse stops at the chunk that completed the head.
            assert!(a.rest().starts_with(b.rest()));
            (true, exercise_response(a))
        }
        (Ok(None), Ok(None)) => (false, false),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{:?}", String::from_utf8_lossy(input));
            (false, false)
        }
        (a, b) => panic!(
            "whole {:?} vs chunked {:?} for {:?}",
            a.as_ref().map(|r| r.is_some()),
            b.as_ref().map(|r| r.is_some()),
            String::from_utf8_lossy(input)
        ),
    }
}

/// Returns whether the input was a valid upgrade request.
fn run_request(input: &[u8], limits: Limits) -> bool {
    if let Ok(Some(r)) = RequestParser::new(limits).feed(input) {
        let _ = (r.method(), r.path(), r.key(), r.subprotocols(), r.rest());
        let _ = r.extensions();
        if r.validate().is_ok() {
            let answer = r.accept(r.subprotocols().first().map(String::as_str), None);
            // Our own answer always parses and passes the client's basic checks.
            let resp = ResponseParser::new(Limits::default())
                .feed(&answer)
                .unwrap()
                .unwrap();
            assert_eq!(resp.status(), 101);
            return true;
        }
    }
    false
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let small = Limits {
        max_head_size: 256,
        max_headers: 8,
    };
    let (mut complete_heads, mut passed_checks, mut valid_requests) = (0, 0, 0);
    for case in 0..100_000 {
        let len = rng.below(200);
        let input = match case % 4 {
            0 => (0..len).map(|_| rng.byte()).collect(),
            1 => http_ish(&mut rng, len),
            2 => mutate(&mut rng, VALID),
            _ => mutate(&mut rng, VALID_REQUEST),
        };
        let limits = if case % 3 == 0 {
            small
        } else {
            Limits::default()
        };
        let (complete, passed) = run_response(&mut rng, &input, limits);
        complete_heads += usize::from(complete);
        passed_checks += usize::from(passed);
        valid_requests += usize::from(run_request(&input, limits));
        if let Ok(s) = std::str::from_utf8(&input) {
            if let Ok(exts) = parse_extensions(s) {
                for e in exts {
                    // Whatever parses, prints back to something that parses the same.
                    assert_eq!(parse_extensions(&e.to_string()).unwrap(), [e]);
                }
            }
        }
    }
    // The generator reaches the interesting paths, not only early errors.
    eprintln!("complete {complete_heads}, passed {passed_checks}, valid requests {valid_requests}");
    assert!(complete_heads > 5_000, "{complete_heads}");
    assert!(passed_checks > 1_000, "{passed_checks}");
    assert!(valid_requests > 1_000, "{valid_requests}");
}

#[test]
fn random_extension_strings_never_panic() {
    let mut rng = Rng(42);
    const ALPHABET: &[u8] = b"abc-_;,= \t\"\\\x01\xc3\xbc19";
    for _ in 0..100_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        let s = String::from_utf8_lossy(&bytes);
        match parse_extensions(&s) {
            Ok(exts) => {
                for e in &exts {
                    assert!(!e.name.is_empty());
                    for (n, v) in &e.params {
                        assert!(!n.is_empty());
                        assert!(v.as_ref().is_none_or(|v| !v.is_empty()));
                    }
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn random_builder_input_never_panics_and_never_injects() {
    let mut rng = Rng(7);
    const ALPHABET: &[u8] = b"aZ09-:; \t\r\n\0\x7f,/=";
    let pick = |rng: &mut Rng| -> String {
        let len = rng.below(12);
        (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
            .collect()
    };
    for _ in 0..20_000 {
        let b = RequestBuilder::new("ws://example.com/")
            .unwrap()
            .header(pick(&mut rng), pick(&mut rng))
            .raw_header(pick(&mut rng))
            .subprotocol(pick(&mut rng));
        if let Ok(req) = b.build() {
            // Whatever was accepted, the head is well formed: parsing it back gives exactly
            // the expected header count and a valid upgrade request.
            let head = req.as_bytes();
            assert!(!head.contains(&0));
            let lines = head.split(|&c| c == b'\n').count();
            let crs = head.iter().filter(|&&c| c == b'\r').count();
            assert_eq!(
                lines - 1,
                crs,
                "bare CR or LF in {:?}",
                String::from_utf8_lossy(head)
            );
            let parsed = RequestParser::new(Limits::default())
                .feed(head)
                .unwrap()
                .unwrap();
            parsed.validate().unwrap();
            assert!(parsed.rest().is_empty());
        }
    }
}
