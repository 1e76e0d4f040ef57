//! A client and a server `Connection` joined in memory: messages, close handshakes, timers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proto_util;

use std::time::{Duration, Instant};

use proto_util::*;
use ws_client::{CloseCode, Config, Error, Keepalive, Message, ProtocolError, State, Step};

#[test]
fn messages_both_ways() {
    let mut p = Pair::new(Config::default());
    p.client.send(Message::text("hello server")).unwrap();
    p.client.send(Message::binary(vec![1, 2, 3])).unwrap();
    p.client.send(Message::ping(&b"c-ping"[..])).unwrap();
    p.server
        .send(Message::text("hello client \u{1f44b}"))
        .unwrap();
    p.server.send(Message::pong(&b"unsolicited"[..])).unwrap();
    p.drive();
    assert_eq!(
        p.server_got,
        vec![
            Message::text("hello server"),
            Message::binary(vec![1, 2, 3]),
            Message::ping(&b"c-ping"[..]),
        ]
    );
    assert_eq!(
        p.client_got,
        vec![
            Message::text("hello client \u{1f44b}"),
            Message::pong(&b"unsolicited"[..]),
            Message::pong(&b"c-ping"[..]), // the server's automatic answer
        ]
    );
    assert!(p.client_err.is_none() && p.server_err.is_none());
}

#[test]
fn fragmented_messages_with_slow_transport() {
    let config = Config::default().write_frame_size(5);
    let mut p = Pair::new(config);
    p.chunk = 3;
    let text = "a text message long enough to be split into many frames: \u{e9}\u{20ac}\u{10348}";
    let bin: Vec<u8> = (0..=255u8).collect();
    p.client.send(Message::text(text.to_string())).unwrap();
    p.client.send(Message::ping(&b"between"[..])).unwrap();
    p.client.send(Message::binary(bin.clone())).unwrap();
    p.server.send(Message::binary(bin.clone())).unwrap();
    p.drive();
    assert_eq!(
        p.server_got,
        vec![
            Message::text(text.to_string()),
            Message::ping(&b"between"[..]),
            Message::binary(bin.clone()),
        ]
    );
    assert_eq!(
        p.client_got,
        vec![Message::binary(bin), Message::pong(&b"between"[..])]
    );
}

#[test]
fn sixteen_mib_messages_through_the_pair() {
    let mut p = Pair::new(Config::default());
    let big: Vec<u8> = (0..16usize << 20).map(|i| (i * 31 % 251) as u8).collect();
    let text: String = "0123456789abcdef\u{e9}".repeat((16 << 20) / 18);
    p.client.send(Message::binary(big.clone())).unwrap();
    p.server.send(Message::text(text.clone())).unwrap();
    p.chunk = 1 << 20;
    p.drive();
    assert_eq!(p.server_got.len(), 1);
    assert_eq!(p.server_got[0].as_payload(), &big[..]);
    assert_eq!(p.client_got.len(), 1);
    assert_eq!(p.client_got[0].as_text(), Some(text.as_str()));
}

#[test]
fn client_initiated_close_handshake() {
    let mut p = Pair::new(Config::default());
    p.client.send(Message::text("last")).unwrap();
    p.client.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(p.client.state(), State::ClosingLocal);
    p.drive();
    assert_eq!(
        p.server_got,
        vec![
            Message::text("last"),
            Message::close(CloseCode::NORMAL, "done")
        ]
    );
    assert_eq!(p.client_got, vec![Message::close(CloseCode::NORMAL, "")]);
    assert_eq!(p.client.state(), State::Closed);
    assert_eq!(p.server.state(), State::Closed);
    assert!(p.client_err.is_none() && p.server_err.is_none());
    assert_eq!(
        p.client.close_frame().map(|f| f.code),
        Some(CloseCode::NORMAL)
    );
    assert_eq!(
        p.server.close_frame().map(|f| f.reason.as_str()),
        Some("done")
    );
}

#[test]
fn server_initiated_close_handshake() {
    let mut p = Pair::new(Config::default());
    p.server
        .close(CloseCode::new(4321), "app says bye")
        .unwrap();
    p.drive();
    assert_eq!(
        p.client_got,
        vec![Message::close(CloseCode::new(4321), "app says bye")]
    );
    assert_eq!(p.server_got, vec![Message::close(CloseCode::new(4321), "")]);
    assert!(p.client.is_closed() && p.server.is_closed());
}

#[test]
fn simultaneous_close() {
    let mut p = Pair::new(Config::default());
    p.client.close(CloseCode::NORMAL, "c").unwrap();
    p.server.close(CloseCode::GOING_AWAY, "s").unwrap();
    p.drive();
    assert_eq!(
        p.client_got,
        vec![Message::close(CloseCode::GOING_AWAY, "s")]
    );
    assert_eq!(p.server_got, vec![Message::close(CloseCode::NORMAL, "c")]);
    assert!(p.client.is_closed() && p.server.is_closed());
}

#[test]
fn protocol_error_is_reported_to_the_peer() {
    let mut p = Pair::new(Config::default());
    // The server sends a reserved opcode by hand.
    p.client.receive_data(&sframe(true, 0x3, b""));
    p.drive();
    let err = p.client_err.take().unwrap();
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert_eq!(p.server_got.len(), 1);
    match &p.server_got[0] {
        Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
    assert!(p.client.is_closed() && p.server.is_closed());
}

#[test]
fn keepalive_pings_and_accepts_the_pong() {
    let ka = Keepalive::new(Duration::from_secs(10), Duration::from_secs(5));
    let mut p = Pair::with_configs(Config::default().keepalive(Some(ka)), Config::default());
    let t0 = Instant::now();
    assert_eq!(
        p.client.poll_timeout(),
        None,
        "no clock before the first handle_timeout"
    );
    p.client.handle_timeout(t0);
    assert_eq!(p.client.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    p.client.handle_timeout(t0 + Duration::from_secs(9));
    assert!(!p.client.wants_write());
    for round in 1..=3u32 {
        let now = t0 + Duration::from_secs(10) * round;
        p.client.handle_timeout(now);
        assert!(p.client.wants_write(), "ping sent");
        assert_eq!(p.client.poll_timeout(), Some(now + Duration::from_secs(5)));
        p.drive();
        assert!(p.client.poll_message().is_ok());
        assert_eq!(p.client.poll_timeout(), Some(now + Duration::from_secs(10)));
        p.client.handle_timeout(now + Duration::from_secs(6));
        assert_eq!(p.client.state(), State::Open, "pong arrived in time");
    }
    assert_eq!(p.server_got.iter().filter(|m| m.is_ping()).count(), 3);
}

#[test]
fn keepalive_fails_without_a_pong() {
    let ka = Keepalive::new(Duration::from_secs(10), Duration::from_secs(5));
    let mut c = ws_client::Connection::new(
        ws_client::Role::Client,
        Config::default().keepalive(Some(ka)),
    );
    let t0 = Instant::now();
    c.handle_timeout(t0);
    c.handle_timeout(t0 + Duration::from_secs(10));
    let ping = drain_frames(&mut c);
    assert_eq!(ping.len(), 1);
    assert_eq!(ping[0].opcode, PING);
    // A pong with another payload does not count.
    feed(&mut c, &sframe(true, PONG, b"other"));
    c.handle_timeout(t0 + Duration::from_secs(14));
    assert_eq!(c.state(), State::Open);
    c.handle_timeout(t0 + Duration::from_secs(15));
    let err = c.poll_message().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                step: Step::Keepalive
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
    let close = drain_frames(&mut c);
    assert_eq!(close.len(), 1);
    assert_eq!(close[0].opcode, CLOSE);
    assert_eq!(&close[0].payload[..2], &1011u16.to_be_bytes());
    assert_eq!(&close[0].payload[2..], b"keepalive ping timeout");
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn close_timeout_ends_an_unanswered_close() {
    let config = Config::default()
        .close_timeout(Some(Duration::from_secs(3)))
        .keepalive(None);
    let mut c = ws_client::Connection::new(ws_client::Role::Client, config);
    let t0 = Instant::now();
    c.handle_timeout(t0);
    assert_eq!(
        c.poll_timeout(),
        None,
        "no timer while open without keepalive"
    );
    c.close(CloseCode::NORMAL, "").unwrap();
    // The timer starts at the next handle_timeout, which is due at once.
    assert_eq!(c.poll_timeout(), Some(t0));
    let t1 = t0 + Duration::from_millis(5);
    c.handle_timeout(t1);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(3)));
    c.handle_timeout(t1 + Duration::from_secs(2));
    assert_eq!(c.state(), State::ClosingLocal);
    c.handle_timeout(t1 + Duration::from_secs(3));
    let err = c.poll_message().unwrap_err();
    assert!(matches!(err, Error::Timeout { step: Step::Close }));
    assert!(c.is_closed());
    assert!(matches!(c.poll_message(), Ok(None)));
}

#[test]
fn close_answered_in_time_stops_the_timer() {
    let mut p = Pair::new(Config::default());
    let t0 = Instant::now();
    p.tick(t0);
    p.client.close(CloseCode::NORMAL, "").unwrap();
    p.tick(t0);
    assert!(p.client.poll_timeout().is_some());
    p.drive();
    assert_eq!(p.client.poll_timeout(), None);
    p.tick(t0 + Duration::from_secs(60));
    assert!(p.client_err.is_none());
    assert!(matches!(p.client.poll_message(), Ok(None)));
}

#[test]
fn errors_are_reported_once() {
    let mut p = Pair::new(Config::default().max_message_size(Some(10)));
    p.server.send(Message::binary(vec![0; 11])).unwrap();
    p.drive();
    let err = p.client_err.take().unwrap();
    assert_eq!(
        err.as_protocol(),
        Some(&ProtocolError::MessageTooBig {
            size: 11,
            limit: 10
        })
    );
    assert!(err.to_string().contains("max_message_size"), "{err}");
    match &p.server_got[..] {
        [Message::Close(Some(f))] => assert_eq!(f.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("{other:?}"),
    }
    p.drive();
    assert!(p.client_err.is_none());
}
