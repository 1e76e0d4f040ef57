//! Arbitrary proxy answers never panic, stay bounded, and give the same outcome however they
//! are split. Deterministic (fixed-seed generator), so failures reproduce.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::proxy::{
    Credentials, HttpConnect, Progress, ProxyError, Socks5Handshake, TargetAddr,
};
use ws_handshake::Limits;

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

/// What feeding a whole input amounts to: the bytes the client sent (taken after every
/// feed), and the outcome: the tunnel bytes once done, `None` while pending, or the error.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    sent: Vec<u8>,
    result: Result<Option<Vec<u8>>, ProxyError>,
}

/// Splitting never changes the outcome. The bytes sent are the same too, except that a
/// failure drops a message queued in the same feed (nothing is sent after a failure), so
/// fewer, larger feeds may send a prefix of what smaller ones sent.
fn assert_same(whole: &Outcome, split: &Outcome, what: &dyn Fn() -> String) {
    assert_eq!(whole.result, split.result, "{}", what());
    if whole.result.is_err() {
        assert!(split.sent.starts_with(&whole.sent), "{}", what());
    } else {
        assert_eq!(whole.sent, split.sent, "{}", what());
    }
}

trait Driven {
    fn out(&mut self) -> Vec<u8>;
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError>;
}

impl Driven for Socks5Handshake {
    fn out(&mut self) -> Vec<u8> {
        let o = self.bytes_to_send().to_vec();
        self.consume_output(o.len());
        o
    }
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        Socks5Handshake::feed(self, data)
    }
}

impl Driven for HttpConnect {
    fn out(&mut self) -> Vec<u8> {
        let o = self.bytes_to_send().to_vec();
        self.consume_output(o.len());
        o
    }
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        HttpConnect::feed(self, data)
    }
}

/// Feeds `input` in the pieces `cuts` makes (sorted offsets).
fn drive(hs: &mut impl Driven, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut sent = hs.out();
    let mut rest: Option<Vec<u8>> = None;
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let piece = &input[start..end];
        start = end;
        match hs.feed(piece) {
            Ok(Progress::NeedMore) => assert!(rest.is_none(), "NeedMore after Done"),
            Ok(Progress::Done { rest: r }) => rest.get_or_insert_with(Vec::new).extend(r),
            Err(e) => {
                // Failed for good, and nothing more to send.
                assert_eq!(hs.feed(b"\x05\x00"), Err(e.clone()));
                sent.extend(hs.out());
                return Outcome {
                    sent,
                    result: Err(e),
                };
            }
        }
        sent.extend(hs.out());
    }
    Outcome {
        sent,
        result: Ok(rest),
    }
}

fn cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut c: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(len + 1)).collect();
    c.sort_unstable();
    c
}

/// `v` with a few random edits (replace, insert, delete).
fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
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
}

/// A server side of a SOCKS5 conversation: mostly valid, sometimes refusing, sometimes
/// mutated.
fn socks_ish(rng: &mut Rng) -> Vec<u8> {
    let method = [0u8, 0, 2, 2, 0xff, 1][rng.below(6)];
    let mut v = vec![5, method];
    if method == 2 {
        v.extend_from_slice(&[[1u8, 1, 5, 2][rng.below(4)], [0u8, 0, 0, 1][rng.below(4)]]);
    }
    let rep = if rng.below(3) == 0 {
        rng.below(10) as u8
    } else {
        0
    };
    let atyp = [1u8, 1, 3, 4, 2][rng.below(5)];
    v.extend_from_slice(&[5, rep, 0, atyp]);
    match atyp {
        1 => v.extend((0..4).map(|_| rng.byte())),
        4 => v.extend((0..16).map(|_| rng.byte())),
        _ => {
            let n = rng.below(40);
            v.push(n as u8);
            v.extend((0..n).map(|_| rng.byte()));
        }
    }
    v.extend_from_slice(&[rng.byte(), rng.byte()]);
    v.extend((0..rng.below(8)).map(|_| rng.byte()));
    if rng.below(4) == 0 {
        mutate(rng, &mut v);
    }
    if rng.below(4) == 0 {
        v.truncate(rng.below(v.len() + 1));
    }
    v
}

fn socks(rng: &mut Rng) -> Socks5Handshake {
    let target = match rng.below(3) {
        0 => TargetAddr::Domain("example.com".into()),
        1 => TargetAddr::Ip("192.0.2.1".parse().unwrap()),
        _ => TargetAddr::Ip("2001:db8::1".parse().unwrap()),
    };
    let creds = (rng.below(2) == 0).then(|| Credentials::new("user", "pass"));
    Socks5Handshake::new(target, 443, true, creds).unwrap()
}

#[test]
fn socks5_random_answers_never_panic_and_ignore_splitting() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut done = 0;
    let mut failed = 0;
    for i in 0..100_000 {
        let input = if i % 4 != 0 {
            socks_ish(&mut rng)
        } else {
            (0..rng.below(64)).map(|_| rng.byte()).collect()
        };
        let seed = rng.next();
        let whole = drive(&mut socks(&mut Rng(seed | 1)), &input, &[]);
        let c = cuts(&mut rng, input.len());
        let split = drive(&mut socks(&mut Rng(seed | 1)), &input, &c);
        assert_same(&whole, &split, &|| format!("input {input:02x?} cuts {c:?}"));
        // At most greeting + auth + connect.
        assert!(split.sent.len() <= 4 + 11 + 22, "{:02x?}", split.sent);
        match &whole.result {
            Ok(None) => {}
            Ok(Some(rest)) => {
                assert!(input.ends_with(rest));
                done += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                failed += 1;
            }
        }
    }
    // The generator reaches both ends, so the assertions above mean something.
    assert!(
        done > 5_000 && failed > 20_000,
        "done {done}, failed {failed}"
    );
}

/// A proxy's answer to CONNECT: mostly well-formed, with random statuses, headers,
/// interim answers and tails, sometimes mutated or truncated.
fn http_ish(rng: &mut Rng) -> Vec<u8> {
    const STATUSES: &[&str] = &[
        "200 Connection established",
        "200 OK",
        "204 ",
        "407 Proxy Authentication Required",
        "403 Forbidden",
        "502 Bad Gateway",
        "101 Switching",
        "2000 X",
    ];
    const HEADERS: &[&str] = &[
        "Proxy-Authenticate: Basic realm=\"x\"",
        "Proxy-Agent: t",
        "Content-Length: 5",
        "X:",
        "Bad Header",
    ];
    let mut v = Vec::new();
    if rng.below(5) == 0 {
        v.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let minor = if rng.below(4) == 0 { '0' } else { '1' };
    v.extend_from_slice(
        format!("HTTP/1.{minor} {}\r\n", STATUSES[rng.below(STATUSES.len())]).as_bytes(),
    );
    for _ in 0..rng.below(9) {
        v.extend_from_slice(HEADERS[rng.below(HEADERS.len())].as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    if rng.below(6) == 0 {
        v.extend(std::iter::repeat_n(b'x', rng.below(300)));
    }
    v.extend_from_slice(b"\r\n");
    v.extend((0..rng.below(8)).map(|_| rng.byte()));
    if rng.below(4) == 0 {
        mutate(rng, &mut v);
    }
    if rng.below(6) == 0 {
        v.truncate(rng.below(v.len() + 1));
    }
    v
}

#[test]
fn http_connect_random_answers_never_panic_and_ignore_splitting() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let limits = Limits {
        max_head_size: 256,
        max_headers: 6,
    };
    let target = TargetAddr::Domain("example.com".into());
    let mut outcomes = [0usize; 3];
    for i in 0..100_000 {
        let input: Vec<u8> = if i % 8 == 0 {
            (0..rng.below(80)).map(|_| rng.byte()).collect()
        } else {
            http_ish(&mut rng)
        };
        let new = || HttpConnect::new(&target, 443, None, limits).unwrap();
        let whole = drive(&mut new(), &input, &[]);
        let c = cuts(&mut rng, input.len());
        let split = drive(&mut new(), &input, &c);
        assert_same(&whole, &split, &|| {
            format!("input {:?} cuts {c:?}", String::from_utf8_lossy(&input))
        });
        assert_eq!(
            whole.sent,
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        match &whole.result {
            Ok(None) => {}
            Ok(Some(rest)) if input.ends_with(rest) && rest.len() < input.len() => outcomes[0] += 1,
            Ok(Some(rest)) => panic!("rest {rest:?} is not a tail of {input:?}"),
            Err(ProxyError::AuthRequired { .. } | ProxyError::ConnectRefused { .. }) => {
                outcomes[1] += 1
            }
            Err(ProxyError::Protocol { .. }) => outcomes[2] += 1,
            Err(other) => panic!("unexpected error kind {other:?}"),
        }
    }
    assert!(
        outcomes.iter().all(|&n| n > 5_000),
        "open / refused / protocol: {outcomes:?}"
    );
}
