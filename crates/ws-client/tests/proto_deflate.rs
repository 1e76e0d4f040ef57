//! permessage-deflate (RFC 7692) through `Connection`: RSV1 rules, limits after
//! decompression, UTF-8 on the inflated bytes.
#![cfg(feature = "deflate")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proto_util;

use proto_util::*;
use ws_client::proto::deflate::PerMessageDeflate;
use ws_client::{CloseCode, Config, Connection, Message, Negotiated, ProtocolError, Role};
use ws_handshake::permessage_deflate::DeflateParams;

fn deflate_config() -> Config {
    Config::default()
}

/// What a handshake that agreed on permessage-deflate (default parameters) passes on.
fn deflate() -> Negotiated {
    Negotiated::deflate(Some(DeflateParams::default()))
}

fn client() -> Connection {
    Connection::with_negotiated(Role::Client, deflate_config(), deflate())
}

/// A client and a server that agreed on permessage-deflate.
fn deflate_pair(config: Config) -> Pair {
    Pair::with_negotiated(config.clone(), config, deflate())
}

/// What a server would send: the compressed payload of `msg`.
fn compressed(server: &mut PerMessageDeflate, msg: &[u8]) -> Vec<u8> {
    server.compress(msg).unwrap().to_vec()
}

#[test]
fn compressed_messages_round_trip_and_set_rsv1_on_the_first_frame_only() {
    let mut p = deflate_pair(deflate_config().write_frame_size(16));
    let text = "compress me please, compress me please, compress me please! \u{e9}".repeat(4);
    p.client.send(Message::text(text.clone())).unwrap();
    let frames = parse_frames(p.client.pending_output());
    assert!(frames.len() > 1, "fragmented at 16 bytes");
    assert_eq!(frames[0].rsv, 0x40);
    assert_eq!(frames[0].opcode, TEXT);
    assert!(frames[1..].iter().all(|f| f.rsv == 0 && f.opcode == CONT));
    let wire: usize = frames.iter().map(|f| f.payload.len()).sum();
    assert!(wire < text.len() / 2, "{wire} vs {}", text.len());

    p.client.send(Message::text("tiny")).unwrap(); // under the threshold: not compressed
    p.client
        .send_uncompressed(Message::binary(vec![0u8; 1000]))
        .unwrap();
    p.server.send(Message::binary(vec![7u8; 5000])).unwrap();
    p.server.send(Message::text(text.clone())).unwrap(); // context takeover across messages
    let before = p.client.pending_output().len();
    p.drive();
    assert!(before > 0);
    assert_eq!(
        p.server_got,
        vec![
            Message::text(text.clone()),
            Message::text("tiny"),
            Message::binary(vec![0u8; 1000]),
        ]
    );
    assert_eq!(
        p.client_got,
        vec![Message::binary(vec![7u8; 5000]), Message::text(text)]
    );
}

#[test]
fn uncompressed_messages_are_accepted_when_deflate_is_on() {
    let mut c = client();
    let (msgs, err) = feed(&mut c, &sframe(true, TEXT, b"plain"));
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::text("plain")]);
}

#[test]
fn rsv1_on_a_continuation_frame_fails() {
    let mut server = PerMessageDeflate::new(&DeflateParams::default(), Role::Server);
    let z = compressed(&mut server, b"hello hello hello");
    let mut c = client();
    let mut input = frame_rsv(false, 0x40, TEXT, &z[..3], None);
    input.extend(frame_rsv(true, 0x40, CONT, &z[3..], None));
    let (_, err) = feed(&mut c, &input);
    let err = err.unwrap();
    assert_eq!(
        err.protocol_error(),
        Some(&ProtocolError::UnexpectedRsv1 {
            opcode: ws_frame::OpCode::Continuation
        })
    );
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn rsv1_on_a_control_frame_fails() {
    let mut c = client();
    let (_, err) = feed(&mut c, &frame_rsv(true, 0x40, PING, b"", None));
    assert_eq!(err.unwrap().close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn rsv2_stays_forbidden_with_deflate() {
    let mut c = client();
    let (_, err) = feed(&mut c, &frame_rsv(true, 0x20, TEXT, b"x", None));
    assert_eq!(err.unwrap().close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn fragmented_compressed_message_with_interleaved_ping() {
    let mut server = PerMessageDeflate::new(&DeflateParams::default(), Role::Server);
    let text = "fragmented and compressed \u{20ac}\u{20ac}\u{20ac} ".repeat(10);
    let z = compressed(&mut server, text.as_bytes());
    let mut input = frame_rsv(false, 0x40, TEXT, &z[..5], None);
    input.extend(sframe(true, PING, b"p"));
    input.extend(sframe(false, CONT, &z[5..9]));
    input.extend(sframe(true, CONT, &z[9..]));
    // Every split point.
    for i in 0..=input.len() {
        let mut c = client();
        let (mut msgs, err) = feed(&mut c, &input[..i]);
        assert!(err.is_none());
        let (more, err) = feed(&mut c, &input[i..]);
        assert!(err.is_none(), "{i}: {err:?}");
        msgs.extend(more);
        assert_eq!(
            msgs,
            vec![Message::ping(&b"p"[..]), Message::text(text.clone())],
            "{i}"
        );
    }
}

#[test]
fn corrupt_compressed_data_fails_with_1007() {
    let mut c = client();
    let (_, err) = feed(
        &mut c,
        &frame_rsv(true, 0x40, BINARY, &[0xff, 0xff, 0xff, 0xff], None),
    );
    let err = err.unwrap();
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::BadCompressedData(_))
        ),
        "{err:?}"
    );
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

#[test]
fn compressed_invalid_utf8_fails_with_1007() {
    let mut server = PerMessageDeflate::new(&DeflateParams::default(), Role::Server);
    let z = compressed(&mut server, b"valid start \xc0\xaf then invalid");
    let mut c = client();
    let (_, err) = feed(&mut c, &frame_rsv(true, 0x40, TEXT, &z, None));
    assert_eq!(
        err.unwrap().protocol_error(),
        Some(&ProtocolError::InvalidUtf8)
    );
}

#[test]
fn max_message_size_applies_after_decompression() {
    // A "zip bomb": 4 MiB of zeros at level 9 is a few KiB on the wire.
    let mut server = PerMessageDeflate::with_level(&DeflateParams::default(), Role::Server, 9);
    let z = compressed(&mut server, &vec![0u8; 4 << 20]);
    assert!(z.len() < 10_000, "{}", z.len());
    let config = deflate_config().max_message_size(Some(1 << 20));
    let mut c = Connection::with_negotiated(Role::Client, config, deflate());
    let (_, err) = feed(&mut c, &frame_rsv(true, 0x40, BINARY, &z, None));
    let err = err.unwrap();
    match err.protocol_error() {
        Some(ProtocolError::MessageTooBig { size, limit }) => {
            assert_eq!(*limit, 1 << 20);
            assert!(*size > 1 << 20);
        }
        other => panic!("{other:?}"),
    }
    let close = drain_frames(&mut c);
    assert_eq!(&close[0].payload[..2], &1009u16.to_be_bytes());
}
