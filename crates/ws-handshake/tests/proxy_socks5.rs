//! SOCKS5 (RFC 1928 + RFC 1929), byte for byte: every conversation, split everywhere, every
//! reply code, truncated and garbage answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::net::IpAddr;

use ws_handshake::proxy::{
    Credentials, Progress, Proxy, ProxyError, ProxyHandshake, ProxyScheme, Socks5Handshake,
    Socks5Reply, TargetAddr,
};
use ws_handshake::Limits;

fn ip(s: &str) -> TargetAddr {
    TargetAddr::Ip(s.parse::<IpAddr>().unwrap())
}

fn name(s: &str) -> TargetAddr {
    TargetAddr::Domain(s.into())
}

fn creds(u: &str, p: &str) -> Option<Credentials> {
    Some(Credentials::new(u, p))
}

/// Takes everything the client wants to send.
fn take(hs: &mut Socks5Handshake) -> Vec<u8> {
    let out = hs.bytes_to_send().to_vec();
    hs.consume_output(out.len());
    assert!(hs.bytes_to_send().is_empty());
    out
}

/// Plays a conversation: `script` alternates what the client must send and what the
/// server answers. Returns the final outcome.
fn converse(hs: &mut Socks5Handshake, script: &[(&[u8], &[u8])]) -> Result<Progress, ProxyError> {
    let mut last = Ok(Progress::NeedMore);
    for (i, (client, server)) in script.iter().enumerate() {
        assert_eq!(take(hs), *client, "client message {i}");
        last = hs.feed(server);
        if i + 1 < script.len() {
            assert_eq!(last, Ok(Progress::NeedMore), "after server message {i}");
        }
    }
    last
}

const GREET_NONE: &[u8] = b"\x05\x01\x00";
const GREET_BOTH: &[u8] = b"\x05\x02\x00\x02";
const CHOOSE_NONE: &[u8] = b"\x05\x00";
const CHOOSE_USER_PASS: &[u8] = b"\x05\x02";
const CONNECT_EXAMPLE: &[u8] = b"\x05\x01\x00\x03\x0bexample.com\x01\xbb";
const REPLY_OK_V4: &[u8] = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00";

#[test]
fn no_auth_remote_dns() {
    let mut hs = Socks5Handshake::new(name("example.com"), 443, true, None).unwrap();
    let done = converse(
        &mut hs,
        &[(GREET_NONE, CHOOSE_NONE), (CONNECT_EXAMPLE, REPLY_OK_V4)],
    );
    assert_eq!(done, Ok(Progress::Done { rest: vec![] }));
    assert!(hs.is_done());
    assert!(hs.bytes_to_send().is_empty());
    assert_eq!(hs.bound_address(), Some((&ip("0.0.0.0"), 0)));
}

#[test]
fn local_dns_ipv4_and_ipv6() {
    let mut hs = Socks5Handshake::new(ip("192.0.2.1"), 80, false, None).unwrap();
    let done = converse(
        &mut hs,
        &[
            (GREET_NONE, CHOOSE_NONE),
            (b"\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x50", REPLY_OK_V4),
        ],
    );
    assert_eq!(done, Ok(Progress::Done { rest: vec![] }));

    let mut hs = Socks5Handshake::new(ip("2001:db8::7"), 8443, false, None).unwrap();
    let reply =
        b"\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x04\x38";
    let done = converse(
        &mut hs,
        &[
            (GREET_NONE, CHOOSE_NONE),
            (
                b"\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x20\xfb",
                reply,
            ),
        ],
    );
    assert_eq!(done, Ok(Progress::Done { rest: vec![] }));
    assert_eq!(hs.bound_address(), Some((&ip("2001:db8::1"), 1080)));

    // An IP address is sent as such through socks5h too.
    let mut hs = Socks5Handshake::new(ip("10.1.2.3"), 1, true, None).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_NONE).unwrap();
    assert_eq!(take(&mut hs), b"\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x01");
}

#[test]
fn user_password_accepted() {
    let mut hs =
        Socks5Handshake::new(name("example.com"), 443, true, creds("alice", "s3cret")).unwrap();
    let done = converse(
        &mut hs,
        &[
            (GREET_BOTH, CHOOSE_USER_PASS),
            (b"\x01\x05alice\x06s3cret", b"\x01\x00"),
            (
                CONNECT_EXAMPLE,
                b"\x05\x00\x00\x03\x04host\x1f\x90tunnel bytes",
            ),
        ],
    );
    assert_eq!(
        done,
        Ok(Progress::Done {
            rest: b"tunnel bytes".to_vec()
        })
    );
    assert_eq!(hs.bound_address(), Some((&name("host"), 8080)));
    // Later bytes pass through.
    assert_eq!(
        hs.feed(b"more"),
        Ok(Progress::Done {
            rest: b"more".to_vec()
        })
    );
}

#[test]
fn user_password_variants() {
    // Some servers answer the sub-negotiation with version 5.
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("u", "p")).unwrap();
    let done = converse(
        &mut hs,
        &[
            (GREET_BOTH, CHOOSE_USER_PASS),
            (b"\x01\x01u\x01p", b"\x05\x00"),
            (b"\x05\x01\x00\x03\x01h\x00\x01", REPLY_OK_V4),
        ],
    );
    assert_eq!(done, Ok(Progress::Done { rest: vec![] }));
    // Empty password (socks5://user@host): length 0.
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("user", "")).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_USER_PASS).unwrap();
    assert_eq!(take(&mut hs), b"\x01\x04user\x00");
    // The proxy may pick "no authentication" although we have credentials.
    let mut hs = Socks5Handshake::new(name("example.com"), 443, true, creds("u", "p")).unwrap();
    let done = converse(
        &mut hs,
        &[(GREET_BOTH, CHOOSE_NONE), (CONNECT_EXAMPLE, REPLY_OK_V4)],
    );
    assert_eq!(done, Ok(Progress::Done { rest: vec![] }));
    // Longest allowed credentials.
    let (u, p) = ("u".repeat(255), "p".repeat(255));
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds(&u, &p)).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_USER_PASS).unwrap();
    let auth = take(&mut hs);
    assert_eq!(auth.len(), 1 + 1 + 255 + 1 + 255);
    assert_eq!((auth[0], auth[1], auth[257]), (1, 255, 255));
}

#[test]
fn user_password_refused() {
    for status in [0x01, 0x02, 0xff] {
        let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("alice", "wrong")).unwrap();
        let err = converse(
            &mut hs,
            &[
                (GREET_BOTH, CHOOSE_USER_PASS),
                (b"\x01\x05alice\x05wrong", &[1, status]),
            ],
        )
        .unwrap_err();
        assert_eq!(err, ProxyError::Socks5AuthFailed { status });
        assert!(err.to_string().contains("refused our user name"), "{err}");
        assert!(hs.bytes_to_send().is_empty(), "nothing more is sent");
        assert_eq!(hs.feed(REPLY_OK_V4), Err(err));
    }
}

#[test]
fn no_acceptable_method() {
    let mut hs = Socks5Handshake::new(name("h"), 1, true, None).unwrap();
    let err = converse(&mut hs, &[(GREET_NONE, b"\x05\xff")]).unwrap_err();
    assert_eq!(
        err,
        ProxyError::Socks5NoAcceptableMethod {
            credentials_offered: false
        }
    );
    assert!(err.to_string().contains("socks5://user:password@"), "{err}");
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("u", "p")).unwrap();
    let err = converse(&mut hs, &[(GREET_BOTH, b"\x05\xff")]).unwrap_err();
    assert_eq!(
        err,
        ProxyError::Socks5NoAcceptableMethod {
            credentials_offered: true
        }
    );
    assert!(err.to_string().contains("GSSAPI"), "{err}");
}

#[test]
fn methods_we_did_not_offer_are_refused() {
    for (c, answer) in [
        (None, &b"\x05\x02"[..]),
        (None, b"\x05\x01"),
        (creds("u", "p"), b"\x05\x01"),
        (creds("u", "p"), b"\x05\x80"),
    ] {
        let mut hs = Socks5Handshake::new(name("h"), 1, true, c).unwrap();
        take(&mut hs);
        let err = hs.feed(answer).unwrap_err();
        assert!(
            matches!(
                err,
                ProxyError::Protocol {
                    scheme: ProxyScheme::Socks5h,
                    ..
                }
            ),
            "{answer:?}: {err:?}"
        );
        assert!(err.to_string().contains("did not offer"), "{err}");
    }
}

#[test]
fn every_reply_code_is_a_readable_error() {
    let table = [
        (0x01, Socks5Reply::GeneralFailure, "general failure"),
        (0x02, Socks5Reply::NotAllowed, "not allowed by its ruleset"),
        (
            0x03,
            Socks5Reply::NetworkUnreachable,
            "network is unreachable",
        ),
        (0x04, Socks5Reply::HostUnreachable, "host is unreachable"),
        (
            0x05,
            Socks5Reply::ConnectionRefused,
            "refused the connection",
        ),
        (0x06, Socks5Reply::TtlExpired, "TTL expired"),
        (0x07, Socks5Reply::CommandNotSupported, "CONNECT command"),
        (0x08, Socks5Reply::AddressTypeNotSupported, "address type"),
        (0x09, Socks5Reply::Other(0x09), "unassigned"),
        (0xff, Socks5Reply::Other(0xff), "unassigned"),
    ];
    for (code, reply, text) in table {
        assert_eq!(Socks5Reply::from_code(code), Some(reply));
        assert_eq!(reply.code(), code);
        let mut hs = Socks5Handshake::new(ip("192.0.2.1"), 443, false, None).unwrap();
        take(&mut hs);
        hs.feed(CHOOSE_NONE).unwrap();
        take(&mut hs);
        // The error comes with the REP byte, before the rest of the reply (servers often
        // send a short reply and close on failure).
        assert_eq!(hs.feed(&[0x05]), Ok(Progress::NeedMore));
        let err = hs.feed(&[code]).unwrap_err();
        assert_eq!(
            err,
            ProxyError::Socks5ConnectFailed {
                target: "192.0.2.1:443".into(),
                reply
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains(text)
                && msg.contains(&format!("{code:#04x}"))
                && msg.contains("192.0.2.1:443"),
            "{msg}"
        );
        assert_eq!(hs.feed(&[0, 1, 0, 0, 0, 0, 0, 0]), Err(err));
    }
    assert_eq!(Socks5Reply::from_code(0), None);
}

#[test]
fn wrong_versions_are_explained() {
    let cases: [(&[u8], &str); 4] = [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "http:// proxy URL"),
        (b"\x00\x5a", "SOCKS4"),
        (b"\x04\x00", "SOCKS4"),
        (b"\x06\x00", "does not speak SOCKS5"),
    ];
    for (answer, hint) in cases {
        let mut hs = Socks5Handshake::new(ip("192.0.2.1"), 1, false, None).unwrap();
        take(&mut hs);
        // One byte is enough to tell.
        let err = hs.feed(&answer[..1]).unwrap_err();
        assert!(
            matches!(&err, ProxyError::Protocol { scheme: ProxyScheme::Socks5, reason }
                if reason.contains(hint)),
            "{answer:?}: {err:?}"
        );
    }
    // Version checks on the later answers too.
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("u", "p")).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_USER_PASS).unwrap();
    take(&mut hs);
    assert!(matches!(
        hs.feed(b"\x02\x00"),
        Err(ProxyError::Protocol { .. })
    ));
    let mut hs = Socks5Handshake::new(name("h"), 1, true, None).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_NONE).unwrap();
    take(&mut hs);
    assert!(matches!(
        hs.feed(b"\x04\x00\x00\x01"),
        Err(ProxyError::Protocol { .. })
    ));
}

#[test]
fn reply_address_types() {
    let connected = || {
        let mut hs = Socks5Handshake::new(name("h"), 1, true, None).unwrap();
        take(&mut hs);
        hs.feed(CHOOSE_NONE).unwrap();
        take(&mut hs);
        hs
    };
    // Unknown address type.
    for atyp in [0x00, 0x02, 0x05, 0xff] {
        let mut hs = connected();
        let err = hs.feed(&[5, 0, 0, atyp, 1, 2, 3, 4, 5, 6]).unwrap_err();
        assert!(
            matches!(&err, ProxyError::Protocol { reason, .. } if reason.contains("address type")),
            "{err:?}"
        );
    }
    // A name of length 0 and of length 255, with rest.
    let mut hs = connected();
    assert_eq!(
        hs.feed(b"\x05\x00\x00\x03\x00\x00\x50R"),
        Ok(Progress::Done {
            rest: b"R".to_vec()
        })
    );
    assert_eq!(hs.bound_address(), Some((&name(""), 80)));
    let mut reply = b"\x05\x00\x00\x03\xff".to_vec();
    reply.extend(std::iter::repeat_n(b'n', 255));
    reply.extend_from_slice(b"\x00\x50");
    let mut hs = connected();
    assert_eq!(hs.feed(&reply[..reply.len() - 1]), Ok(Progress::NeedMore));
    assert_eq!(
        hs.feed(&reply[reply.len() - 1..]),
        Ok(Progress::Done { rest: vec![] })
    );
    // A name that is not UTF-8 is kept lossily (informational only).
    let mut hs = connected();
    hs.feed(b"\x05\x00\x00\x03\x02\xff\xfe\x00\x01").unwrap();
    assert_eq!(hs.bound_address(), Some((&name("\u{fffd}\u{fffd}"), 1)));
    // A reserved byte that is not zero is tolerated.
    let mut hs = connected();
    assert_eq!(
        hs.feed(b"\x05\x00\x07\x01\x7f\x00\x00\x01\x00\x02"),
        Ok(Progress::Done { rest: vec![] })
    );
    assert_eq!(hs.bound_address(), Some((&ip("127.0.0.1"), 2)));
}

#[test]
fn truncated_answers_wait_and_name_the_step_on_close() {
    let mut hs = Socks5Handshake::new(name("h"), 1, true, creds("u", "p")).unwrap();
    let step = |hs: &Socks5Handshake| match hs.closed_error() {
        ProxyError::Closed { scheme, during } => {
            assert_eq!(scheme, ProxyScheme::Socks5h);
            during
        }
        other => panic!("{other:?}"),
    };
    assert!(step(&hs).contains("method negotiation"));
    take(&mut hs);
    assert_eq!(hs.feed(b"\x05"), Ok(Progress::NeedMore));
    assert!(hs.bytes_to_send().is_empty());
    assert_eq!(hs.feed(b""), Ok(Progress::NeedMore));
    assert_eq!(hs.feed(b"\x02"), Ok(Progress::NeedMore));
    assert!(step(&hs).contains("authentication"));
    take(&mut hs);
    assert_eq!(hs.feed(b"\x01"), Ok(Progress::NeedMore));
    assert_eq!(hs.feed(b"\x00"), Ok(Progress::NeedMore));
    assert!(step(&hs).contains("CONNECT"));
    take(&mut hs);
    for b in &REPLY_OK_V4[..REPLY_OK_V4.len() - 1] {
        assert_eq!(hs.feed(&[*b]), Ok(Progress::NeedMore));
    }
    let msg = hs.closed_error().to_string();
    assert!(
        msg.contains("SOCKS5 proxy closed the connection before answering CONNECT"),
        "{msg}"
    );
    assert_eq!(
        hs.feed(&REPLY_OK_V4[REPLY_OK_V4.len() - 1..]),
        Ok(Progress::Done { rest: vec![] })
    );
}

/// The whole server side of a conversation, fed in two pieces at every cut: the client's
/// output and the outcome never change. (A server that answers before our next message
/// left is still read in order.)
#[test]
fn every_split_point_gives_the_same_conversation() {
    let server: Vec<u8> = [
        CHOOSE_USER_PASS,
        b"\x01\x00",
        b"\x05\x00\x00\x03\x04host\x1f\x90",
        b"TUNNEL",
    ]
    .concat();
    let client: Vec<u8> = [GREET_BOTH, b"\x01\x05alice\x06s3cret", CONNECT_EXAMPLE].concat();
    for cut in 0..=server.len() {
        let mut hs =
            Socks5Handshake::new(name("example.com"), 443, true, creds("alice", "s3cret")).unwrap();
        let mut sent = take(&mut hs);
        let mut rest = Vec::new();
        for part in [&server[..cut], &server[cut..]] {
            match hs.feed(part).unwrap() {
                Progress::NeedMore => assert!(rest.is_empty()),
                Progress::Done { rest: r } => rest.extend(r),
            }
            sent.extend(take(&mut hs));
        }
        assert_eq!(sent, client, "cut {cut}");
        assert_eq!(rest, b"TUNNEL", "cut {cut}");
        assert!(hs.is_done());
    }
}

#[test]
fn invalid_targets_and_credentials() {
    let long = "a".repeat(256);
    for (target, remote) in [(name(&long), true), (name(""), true), (name("h"), false)] {
        let err = Socks5Handshake::new(target.clone(), 1, remote, None).unwrap_err();
        assert!(
            matches!(err, ProxyError::InvalidTarget { .. }),
            "{target:?}: {err:?}"
        );
    }
    let max = "a".repeat(255);
    let mut hs = Socks5Handshake::new(name(&max), 1, true, None).unwrap();
    take(&mut hs);
    hs.feed(CHOOSE_NONE).unwrap();
    let connect = take(&mut hs);
    assert_eq!(connect.len(), 4 + 1 + 255 + 2);
    assert_eq!(connect[4], 255);
    for (u, p) in [(long.as_str(), "p"), ("u", long.as_str())] {
        let err = Socks5Handshake::new(name("h"), 1, true, creds(u, p)).unwrap_err();
        assert!(
            matches!(err, ProxyError::InvalidCredentials { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains(&long));
    }
}

#[test]
fn proxy_handshake_wrapper_drives_socks5() {
    let proxy = Proxy::parse("socks5://alice:s3cret@127.0.0.1:1080").unwrap();
    let mut t = proxy
        .handshake(ip("198.51.100.4"), 443, Limits::default())
        .unwrap();
    assert!(matches!(t, ProxyHandshake::Socks5(_)));
    let mut sent = Vec::new();
    let server: [&[u8]; 3] = [
        CHOOSE_USER_PASS,
        b"\x01\x00",
        b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00\x17",
    ];
    let mut outcome = Progress::NeedMore;
    for answer in server {
        let n = t.bytes_to_send().len();
        sent.extend_from_slice(t.bytes_to_send());
        t.consume_output(n);
        outcome = t.feed(answer).unwrap();
    }
    assert_eq!(outcome, Progress::Done { rest: vec![0x17] });
    assert!(t.is_done());
    assert_eq!(
        sent,
        [
            GREET_BOTH,
            b"\x01\x05alice\x06s3cret",
            b"\x05\x01\x00\x01\xc6\x33\x64\x04\x01\xbb"
        ]
        .concat()
    );
    assert!(matches!(
        t.closed_error(),
        ProxyError::Closed {
            scheme: ProxyScheme::Socks5,
            ..
        }
    ));
}
