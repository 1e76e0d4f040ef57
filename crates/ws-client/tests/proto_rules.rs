//! RFC 6455 rules, one by one, with hand-crafted bytes fed to a `Connection` (no runtime).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proto_util;

use bytes::Bytes;
use proto_util::*;
use ws_client::{
    CloseCode, CloseFrame, Config, Connection, Error, Message, ProtocolError, Role, State,
    UsageError,
};
use ws_frame::FrameError;

fn client() -> Connection {
    Connection::new(Role::Client, Config::default())
}

fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

/// The close frame the connection queued: (code, reason), or None for an empty close.
fn queued_close(conn: &mut Connection) -> Option<(u16, Vec<u8>)> {
    let frames = drain_frames(conn);
    let last = frames.last().expect("a frame was queued");
    assert_eq!(
        last.opcode, CLOSE,
        "last queued frame is a close: {frames:?}"
    );
    if last.payload.is_empty() {
        None
    } else {
        let code = u16::from_be_bytes([last.payload[0], last.payload[1]]);
        Some((code, last.payload[2..].to_vec()))
    }
}

/// Asserts `conn` failed with `expected` and queued a close frame with `code`.
fn assert_failed(conn: &mut Connection, err: Option<Error>, expected: ProtocolError, code: u16) {
    let err = err.expect("the connection fails");
    assert_eq!(err.protocol_error(), Some(&expected), "{err:?}");
    assert_eq!(err.close_code(), Some(CloseCode::new(code)));
    assert_eq!(queued_close(conn).map(|c| c.0), Some(code));
    assert_eq!(conn.state(), State::Closed);
    // Afterwards: nothing more, and sending is refused.
    assert!(matches!(conn.poll_message(), Ok(None)));
    assert!(matches!(
        conn.send(Message::text("x")),
        Err(e) if e.is_closed()
    ));
    assert!(!conn.wants_write());
}

// ----- data messages -----

#[test]
fn single_frame_text_and_binary() {
    let mut c = client();
    let mut input = sframe(true, TEXT, "h\u{e9}llo".as_bytes());
    input.extend(sframe(true, BINARY, &[0, 1, 2, 255]));
    input.extend(sframe(true, TEXT, b""));
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none());
    assert_eq!(
        msgs,
        vec![
            Message::text("h\u{e9}llo"),
            Message::binary(vec![0, 1, 2, 255]),
            Message::text(""),
        ]
    );
    assert!(!c.wants_write());
    assert_eq!(c.state(), State::Open);
}

#[test]
fn single_frame_message_is_a_view_of_the_read_buffer() {
    let mut c = client();
    let payload = vec![7u8; 300];
    let wire = sframe(true, BINARY, &payload);
    let buf = c.read_buf();
    buf.extend_from_slice(&wire);
    let payload_ptr = buf[4..].as_ptr(); // 4-byte header (16-bit length)
    let msg = c.poll_message().unwrap().unwrap();
    let data = msg.into_data();
    assert_eq!(&data[..], &payload[..]);
    assert_eq!(
        data.as_ptr(),
        payload_ptr,
        "no copy between read buffer and message"
    );
}

#[test]
fn lengths_7_16_and_64_bit() {
    for len in [0usize, 125, 126, 127, 65_535, 65_536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut c = client();
        let (msgs, err) = feed(&mut c, &sframe(true, BINARY, &payload));
        assert!(err.is_none(), "{len}: {err:?}");
        assert_eq!(msgs, vec![Message::binary(payload)], "{len}");
    }
}

#[test]
fn fragmented_text_with_interleaved_control_frames() {
    let mut c = client();
    let text = "fragmented \u{20ac} message \u{10348}";
    let b = text.as_bytes();
    // Split inside the multi-byte characters on purpose.
    let (a, rest) = b.split_at(13);
    let (m, z) = rest.split_at(rest.len() - 2);
    let mut input = sframe(false, TEXT, a);
    input.extend(sframe(true, PING, b"p1"));
    input.extend(sframe(false, CONT, m));
    input.extend(sframe(true, PONG, b"unsolicited"));
    input.extend(sframe(false, CONT, b""));
    input.extend(sframe(true, CONT, z));
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        msgs,
        vec![
            Message::ping(&b"p1"[..]),
            Message::pong(&b"unsolicited"[..]),
            Message::text(text.to_string()),
        ]
    );
    let out = drain_frames(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].opcode, &out[0].payload[..]), (PONG, &b"p1"[..]));
}

#[test]
fn fragmented_binary() {
    let mut c = client();
    let mut input = sframe(false, BINARY, &[1, 2]);
    input.extend(sframe(false, CONT, &[3]));
    input.extend(sframe(true, CONT, &[4, 5]));
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::binary(vec![1, 2, 3, 4, 5])]);
}

#[test]
fn messages_complete_only_when_their_last_byte_arrives() {
    let mut c = client();
    let wire = sframe(true, TEXT, b"abcdef");
    let (msgs, err) = feed(&mut c, &wire[..wire.len() - 1]);
    assert!(msgs.is_empty() && err.is_none());
    let (msgs, err) = feed(&mut c, &wire[wire.len() - 1..]);
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::text("abcdef")]);
}

// ----- ping / pong -----

#[test]
fn ping_is_answered_with_the_same_payload_when_parsed() {
    let mut c = client();
    c.receive_data(&sframe(true, PING, b"are you there?"));
    assert!(
        !c.wants_write(),
        "nothing happens before the frame is parsed"
    );
    assert_eq!(
        c.poll_message().unwrap(),
        Some(Message::ping(&b"are you there?"[..]))
    );
    let out = drain_frames(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].opcode, PONG);
    assert!(out[0].fin);
    assert!(out[0].mask.is_some(), "client frames are masked");
    assert_eq!(out[0].payload, b"are you there?");

    let mut s = server();
    let (msgs, _) = feed(&mut s, &cframe(true, PING, b""));
    assert_eq!(msgs, vec![Message::ping(Bytes::new())]);
    let out = drain_frames(&mut s);
    assert_eq!(out[0].opcode, PONG);
    assert_eq!(out[0].mask, None, "server frames are not masked");
    assert!(out[0].payload.is_empty());
}

#[test]
fn ping_flood_with_output_not_drained_stays_bounded() {
    let config = Config::default()
        .write_buffer_high(1024)
        .max_queued_pongs(4);
    let mut c = Connection::new(Role::Client, config);
    let payload = [0xabu8; 125];
    let mut input = Vec::new();
    for i in 0..5_000u32 {
        let mut p = payload;
        p[..4].copy_from_slice(&i.to_be_bytes());
        input.extend(sframe(true, PING, &p));
    }
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none());
    assert_eq!(msgs.len(), 5_000);
    // Encoded pongs stop at the high-water mark (+ one pong frame).
    let high = 1024 + 2 + 4 + 125;
    assert!(c.output_len() <= high, "{}", c.output_len());
    // Draining the output releases the owed pongs: the most recent pings are answered.
    let mut pongs = Vec::new();
    while c.wants_write() {
        pongs.extend(drain_frames(&mut c));
    }
    assert!(pongs.iter().all(|f| f.opcode == PONG));
    assert!(pongs.len() < 20, "{} pongs", pongs.len());
    let last = u32::from_be_bytes(pongs.last().unwrap().payload[..4].try_into().unwrap());
    assert_eq!(last, 4_999, "the latest ping is answered");
}

// ----- close handshake -----

#[test]
fn close_from_peer_is_echoed_with_its_code() {
    let mut c = client();
    let (msgs, err) = feed(
        &mut c,
        &sframe(true, CLOSE, &close_payload(1001, b"going away")),
    );
    assert!(err.is_none());
    assert_eq!(
        msgs,
        vec![Message::close(CloseCode::GOING_AWAY, "going away")]
    );
    assert_eq!(
        c.close_frame(),
        Some(&CloseFrame::new(CloseCode::GOING_AWAY, "going away"))
    );
    assert_eq!(c.state(), State::ClosingRemote, "echo not yet written");
    assert_eq!(queued_close(&mut c), Some((1001, vec![])));
    assert_eq!(c.state(), State::Closed);
    assert!(matches!(c.poll_message(), Ok(None)));
    assert!(matches!(
        c.send(Message::text("late")),
        Err(e) if e.is_closed()
    ));
    // Anything after the close is ignored.
    let (msgs, err) = feed(&mut c, &sframe(true, TEXT, b"after"));
    assert!(msgs.is_empty() && err.is_none());
    assert!(!c.wants_write());
}

#[test]
fn empty_close_is_answered_with_an_empty_close() {
    let mut c = client();
    let (msgs, err) = feed(&mut c, &sframe(true, CLOSE, b""));
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::Close(None)]);
    assert_eq!(queued_close(&mut c), None);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn valid_close_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut c = client();
        let (msgs, err) = feed(&mut c, &sframe(true, CLOSE, &close_payload(code, b"")));
        assert!(err.is_none(), "{code}: {err:?}");
        assert_eq!(msgs, vec![Message::close(CloseCode::new(code), "")]);
        assert_eq!(queued_close(&mut c), Some((code, vec![])), "{code}");
    }
}

#[test]
fn invalid_close_codes_fail_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut c = client();
        let (msgs, err) = feed(&mut c, &sframe(true, CLOSE, &close_payload(code, b"")));
        assert!(msgs.is_empty());
        assert_failed(&mut c, err, ProtocolError::InvalidCloseCode(code), 1002);
    }
}

#[test]
fn close_payload_of_one_byte_fails_with_1002() {
    let mut c = client();
    let (_, err) = feed(&mut c, &sframe(true, CLOSE, &[0x03]));
    assert_failed(&mut c, err, ProtocolError::InvalidClosePayload, 1002);
}

#[test]
fn close_reason_not_utf8_fails_with_1007() {
    let mut c = client();
    let (_, err) = feed(
        &mut c,
        &sframe(
            true,
            CLOSE,
            &close_payload(
                1000,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            ),
        ),
    );
    assert_failed(&mut c, err, ProtocolError::InvalidCloseReason, 1007);
}

#[test]
fn close_reason_of_123_bytes_is_accepted() {
    let mut c = client();
    let reason = "!".repeat(123);
    let (msgs, err) = feed(
        &mut c,
        &sframe(true, CLOSE, &close_payload(1000, reason.as_bytes())),
    );
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::close(CloseCode::NORMAL, reason)]);
}

#[test]
fn local_close_then_peer_close_completes_the_handshake() {
    let mut c = client();
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.state(), State::ClosingLocal);
    assert_eq!(queued_close(&mut c), Some((1000, b"bye".to_vec())));
    // Idempotent: nothing more is queued.
    c.close(CloseCode::GOING_AWAY, "again").unwrap();
    assert!(!c.wants_write());
    assert!(matches!(
        c.send(Message::ping(&b"x"[..])),
        Err(e) if e.is_closed()
    ));
    let (msgs, err) = feed(&mut c, &sframe(true, CLOSE, &close_payload(1000, b"")));
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::close(CloseCode::NORMAL, "")]);
    assert_eq!(c.state(), State::Closed);
    assert!(!c.wants_write(), "no second close frame");
}

#[test]
fn data_in_flight_after_our_close_is_still_delivered() {
    // RFC 6455 §1.4 discards data only after *receiving* a close: what the peer sent
    // before it saw ours (e.g. answers to our last requests) reaches the user.
    let mut c = client();
    c.close(CloseCode::NORMAL, "").unwrap();
    drain_frames(&mut c);
    let mut input = sframe(true, TEXT, b"late answer");
    input.extend(sframe(false, BINARY, &[1; 300]));
    input.extend(sframe(true, PING, b"still here"));
    input.extend(sframe(true, CONT, b"end"));
    input.extend(sframe(true, CLOSE, &close_payload(1000, b"")));
    input.extend(sframe(true, TEXT, b"after the peer's close: dropped"));
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none(), "{err:?}");
    let mut binary = vec![1u8; 300];
    binary.extend_from_slice(b"end");
    assert_eq!(
        msgs,
        vec![
            Message::text("late answer"),
            Message::ping(&b"still here"[..]),
            Message::binary(binary),
            Message::close(CloseCode::NORMAL, "")
        ]
    );
    assert!(!c.wants_write(), "no pong after our close, no second close");
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn limits_still_apply_after_our_close() {
    let mut c = Connection::new(Role::Client, Config::default().max_message_size(Some(16)));
    c.close(CloseCode::NORMAL, "").unwrap();
    drain_frames(&mut c);
    let (msgs, err) = feed(&mut c, &sframe(true, BINARY, &[0; 17]));
    assert!(msgs.is_empty());
    assert_eq!(
        err.and_then(|e| e.close_code()),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

#[test]
fn close_with_a_message_in_progress_drops_it() {
    let mut c = client();
    let mut input = sframe(false, TEXT, b"part");
    input.extend(sframe(true, CLOSE, &close_payload(1000, b"")));
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::close(CloseCode::NORMAL, "")]);
}

#[test]
fn send_close_message_variants() {
    let mut c = server();
    c.send(Message::Close(None)).unwrap();
    assert_eq!(queued_close(&mut c), None);
    let mut c = server();
    c.send(Message::close(CloseCode::new(4000), "app")).unwrap();
    assert_eq!(queued_close(&mut c), Some((4000, b"app".to_vec())));
}

// ----- usage errors -----

#[test]
fn usage_errors_queue_nothing() {
    let mut c = client();
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        let e = c.close(CloseCode::new(code), "").unwrap_err();
        assert!(
            matches!(e.usage_error(), Some(UsageError::InvalidCloseCode(c)) if *c == code),
            "{e:?}"
        );
    }
    let e = c.close(CloseCode::NORMAL, &"x".repeat(124)).unwrap_err();
    assert_eq!(e.usage_error(), Some(&UsageError::CloseReasonTooLong(124)));
    let e = c.send(Message::ping(vec![0u8; 126])).unwrap_err();
    assert_eq!(
        e.usage_error(),
        Some(&UsageError::ControlPayloadTooLong(126))
    );
    let e = c.send(Message::pong(vec![0u8; 200])).unwrap_err();
    assert!(e.is_usage() && e.to_string().contains("125"), "{e}");
    assert!(!c.wants_write());
    assert_eq!(c.state(), State::Open);
    c.send(Message::ping(vec![0u8; 125])).unwrap();
    assert!(c.wants_write());
}

// ----- UTF-8 -----

#[test]
fn invalid_utf8_fails_fast_in_the_middle_of_a_frame() {
    let mut c = client();
    // A 1000-byte text frame whose 5th byte is invalid: only the first 10 bytes arrive.
    let mut payload = b"abcd\xff".to_vec();
    payload.resize(1000, b'a');
    let wire = sframe(true, TEXT, &payload);
    let (msgs, err) = feed(&mut c, &wire[..10]);
    assert!(msgs.is_empty());
    assert_failed(&mut c, err, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn invalid_utf8_fails_in_the_fragment_that_carries_it() {
    // Autobahn 6.4.1: valid first fragment, invalid second, third never needed.
    let mut c = client();
    let (msgs, err) = feed(
        &mut c,
        &sframe(
            false,
            TEXT,
            "\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes(),
        ),
    );
    assert!(msgs.is_empty() && err.is_none());
    let (_, err) = feed(&mut c, &sframe(false, CONT, b"\xf4\x90\x80\x80"));
    assert_failed(&mut c, err, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn invalid_utf8_in_a_fragment_fails_before_the_fragment_completes() {
    let mut c = client();
    feed(&mut c, &sframe(false, TEXT, b"ok"));
    let mut payload = b"\xed\xa0\x80".to_vec(); // a surrogate
    payload.resize(500, b'a');
    let wire = sframe(true, CONT, &payload);
    let (_, err) = feed(&mut c, &wire[..6]);
    assert_failed(&mut c, err, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn text_ending_inside_a_character_fails() {
    let mut c = client();
    let (_, err) = feed(&mut c, &sframe(true, TEXT, b"abc\xe2\x82"));
    assert_failed(&mut c, err, ProtocolError::InvalidUtf8, 1007);

    let mut c = client();
    let mut input = sframe(false, TEXT, b"abc\xe2");
    input.extend(sframe(true, CONT, b"\x82"));
    let (_, err) = feed(&mut c, &input);
    assert_failed(&mut c, err, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn binary_is_not_utf8_checked() {
    let mut c = client();
    let (msgs, err) = feed(&mut c, &sframe(true, BINARY, b"\xff\xfe"));
    assert!(err.is_none());
    assert_eq!(msgs, vec![Message::binary(vec![0xff, 0xfe])]);
}

// ----- framing rules -----

#[test]
fn continuation_without_a_message_fails() {
    let mut c = client();
    let (_, err) = feed(&mut c, &sframe(true, CONT, b"x"));
    assert_failed(&mut c, err, ProtocolError::UnexpectedContinuation, 1002);
}

#[test]
fn new_message_during_a_fragmented_one_fails() {
    for op in [TEXT, BINARY] {
        let mut c = client();
        let mut input = sframe(false, BINARY, b"a");
        input.extend(sframe(true, op, b"b"));
        let (_, err) = feed(&mut c, &input);
        assert_failed(&mut c, err, ProtocolError::ExpectedContinuation, 1002);
    }
}

#[test]
fn rsv_bits_without_extension_fail() {
    for rsv in [0x40u8, 0x20, 0x10, 0x70] {
        let mut c = client();
        let (_, err) = feed(&mut c, &frame_rsv(true, rsv, TEXT, b"x", None));
        assert_failed(
            &mut c,
            err,
            ProtocolError::Frame(FrameError::ReservedBits(rsv)),
            1002,
        );
    }
    let mut c = client();
    let (_, err) = feed(&mut c, &frame_rsv(true, 0x40, PING, b"x", None));
    assert!(err.unwrap().is_protocol());
}

#[test]
fn reserved_opcodes_fail() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        let mut c = client();
        let (_, err) = feed(&mut c, &sframe(true, op, b""));
        assert_failed(
            &mut c,
            err,
            ProtocolError::Frame(FrameError::ReservedOpcode(op)),
            1002,
        );
    }
}

#[test]
fn bad_control_frames_fail() {
    let mut c = client();
    let (_, err) = feed(&mut c, &sframe(true, PING, &[0; 126]));
    assert_failed(
        &mut c,
        err,
        ProtocolError::Frame(FrameError::ControlFrameTooLong(126)),
        1002,
    );
    let mut c = client();
    let (_, err) = feed(&mut c, &sframe(false, PING, b""));
    assert_failed(
        &mut c,
        err,
        ProtocolError::Frame(FrameError::FragmentedControlFrame),
        1002,
    );
}

#[test]
fn masking_direction_is_enforced() {
    let mut c = client();
    let (_, err) = feed(&mut c, &cframe(true, TEXT, b"masked"));
    assert_failed(
        &mut c,
        err,
        ProtocolError::Frame(FrameError::MaskedFrameFromServer),
        1002,
    );
    let mut s = server();
    let (_, err) = feed(&mut s, &sframe(true, TEXT, b"unmasked"));
    assert_failed(
        &mut s,
        err,
        ProtocolError::Frame(FrameError::UnmaskedFrameFromClient),
        1002,
    );
}

#[test]
fn server_unmasks_what_the_client_masked() {
    let mut s = server();
    let text =
        "masked payload \u{1f600} of some length, more than 64 bytes to reach SIMD paths....";
    let mut input = cframe(true, TEXT, text.as_bytes());
    input.extend(frame_rsv(false, 0, BINARY, &[9; 70], Some([1, 2, 3, 4])));
    input.extend(frame_rsv(true, 0, CONT, &[8; 3], Some([0xff, 0, 0xff, 0])));
    let (msgs, err) = feed(&mut s, &input);
    assert!(err.is_none(), "{err:?}");
    let mut expected = vec![9u8; 70];
    expected.extend([8, 8, 8]);
    assert_eq!(
        msgs,
        vec![Message::text(text.to_string()), Message::binary(expected)]
    );
}

#[test]
fn client_masks_with_fresh_keys_and_server_does_not() {
    let mut c = client();
    for _ in 0..16 {
        c.send(Message::binary(vec![0x55u8; 10])).unwrap();
    }
    let frames = drain_frames(&mut c);
    assert_eq!(frames.len(), 16);
    assert!(frames
        .iter()
        .all(|f| f.payload == [0x55; 10] && f.fin && f.opcode == BINARY));
    let keys: std::collections::HashSet<_> = frames.iter().map(|f| f.mask.unwrap()).collect();
    assert!(keys.len() > 8, "keys repeat: {keys:?}");
    // Masking really changed the bytes on the wire (any key but 0 would).
    let mut c = client();
    c.send(Message::text("exact bytes")).unwrap();
    let wire = c.pending_output().to_vec();
    assert_eq!(wire[0], 0x81);
    assert_eq!(wire[1], 0x80 | 11);
    let key = &wire[2..6];
    let unmasked: Vec<u8> = wire[6..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(unmasked, b"exact bytes");

    let mut s = server();
    s.send(Message::text("exact bytes")).unwrap();
    let mut expected = vec![0x81, 11];
    expected.extend_from_slice(b"exact bytes");
    assert_eq!(s.pending_output(), &expected[..]);
}

#[test]
fn outgoing_messages_are_fragmented_at_write_frame_size() {
    let mut s = Connection::new(Role::Server, Config::default().write_frame_size(4));
    s.send(Message::text("0123456789")).unwrap();
    s.send(Message::binary(vec![1, 2, 3, 4])).unwrap();
    s.send(Message::binary(Vec::new())).unwrap();
    let frames = drain_frames(&mut s);
    let shape: Vec<_> = frames
        .iter()
        .map(|f| (f.fin, f.opcode, f.payload.clone()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (false, TEXT, b"0123".to_vec()),
            (false, CONT, b"4567".to_vec()),
            (true, CONT, b"89".to_vec()),
            (true, BINARY, vec![1, 2, 3, 4]),
            (true, BINARY, vec![]),
        ]
    );
}

// ----- limits -----

#[test]
fn oversized_frame_fails_on_its_header_without_allocating() {
    let mut c = Connection::new(Role::Client, Config::default().max_frame_size(Some(1000)));
    // Header declaring 2^40 bytes; no payload follows.
    let mut wire = vec![0x82, 127];
    wire.extend_from_slice(&(1u64 << 40).to_be_bytes());
    let (_, err) = feed(&mut c, &wire);
    let err = err.unwrap();
    assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    assert!(matches!(
        err.protocol_error(),
        Some(ProtocolError::Frame(FrameError::FrameTooLarge { .. }))
    ));
    assert!(c.read_buf().capacity() < 4096);
    assert_eq!(queued_close(&mut c).map(|c| c.0), Some(1009));

    // Without a frame limit, the message limit refuses it just as early.
    let config = Config::default()
        .max_frame_size(None)
        .max_message_size(Some(1 << 20));
    let mut c = Connection::new(Role::Client, config);
    let (_, err) = feed(&mut c, &wire);
    assert_failed(
        &mut c,
        err,
        ProtocolError::MessageTooBig {
            size: 1 << 40,
            limit: 1 << 20,
        },
        1009,
    );
}

#[test]
fn message_over_the_limit_across_fragments_fails_at_the_offending_header() {
    let mut c = Connection::new(Role::Client, Config::default().max_message_size(Some(100)));
    let mut input = sframe(false, BINARY, &[0; 60]);
    input.extend(sframe(false, CONT, &[0; 40]));
    let (_, err) = feed(&mut c, &input);
    assert!(err.is_none(), "exactly at the limit is fine");
    // Only the header of the next fragment arrives.
    let (_, err) = feed(&mut c, &[0x80, 1]);
    assert_failed(
        &mut c,
        err,
        ProtocolError::MessageTooBig {
            size: 101,
            limit: 100,
        },
        1009,
    );
}

#[test]
fn too_many_fragments_fail() {
    let mut c = Connection::new(Role::Client, Config::default().max_fragments(3));
    let mut input = sframe(false, BINARY, b"a");
    input.extend(sframe(false, CONT, b"b"));
    input.extend(sframe(false, CONT, b"c"));
    let (_, err) = feed(&mut c, &input);
    assert!(err.is_none());
    let (_, err) = feed(&mut c, &sframe(true, CONT, b"d"));
    assert_failed(
        &mut c,
        err,
        ProtocolError::TooManyFragments { limit: 3 },
        1009,
    );
}

#[test]
fn empty_continuation_flood_fails() {
    let mut c = Connection::new(Role::Client, Config::default().max_empty_fragments(10));
    let mut input = sframe(false, TEXT, b"start");
    for _ in 0..10 {
        input.extend(sframe(false, CONT, b""));
    }
    input.extend(sframe(false, CONT, b"x")); // resets the run
    for _ in 0..10 {
        input.extend(sframe(false, CONT, b""));
    }
    let (_, err) = feed(&mut c, &input);
    assert!(err.is_none(), "{err:?}");
    let (_, err) = feed(&mut c, &sframe(false, CONT, b""));
    assert_failed(
        &mut c,
        err,
        ProtocolError::TooManyEmptyFragments { limit: 10 },
        1008,
    );
}

#[test]
fn default_limits_allow_autobahn_9_3_1_shapes() {
    // 4 MiB in 64-byte fragments = 65 536 frames.
    let mut c = client();
    let chunk = [b'*'; 64];
    let n = 65_536;
    let mut input = Vec::with_capacity(n * 66);
    for i in 0..n {
        let op = if i == 0 { TEXT } else { CONT };
        input.extend(sframe(i == n - 1, op, &chunk));
    }
    let (msgs, err) = feed(&mut c, &input);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].len(), 4 << 20);
}

// ----- end of stream -----

#[test]
fn eof_mid_frame_is_an_abnormal_closure() {
    let mut c = client();
    let wire = sframe(true, TEXT, b"hello");
    c.receive_data(&wire[..4]);
    c.receive_eof();
    let err = c.poll_message().unwrap_err();
    assert_eq!(
        err.protocol_error(),
        Some(&ProtocolError::UnexpectedEof { mid_frame: true })
    );
    assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL));
    assert!(!c.wants_write(), "1006 is never sent");
    assert_eq!(c.state(), State::Closed);
    assert!(matches!(c.poll_message(), Ok(None)));
}

#[test]
fn eof_delivers_buffered_messages_first() {
    let mut c = client();
    c.receive_data(&sframe(true, TEXT, b"last words"));
    c.receive_eof();
    assert_eq!(c.poll_message().unwrap(), Some(Message::text("last words")));
    let err = c.poll_message().unwrap_err();
    assert_eq!(
        err.protocol_error(),
        Some(&ProtocolError::UnexpectedEof { mid_frame: false })
    );
}

#[test]
fn eof_after_the_close_handshake_is_the_normal_end() {
    let mut c = client();
    feed(&mut c, &sframe(true, CLOSE, &close_payload(1000, b"")));
    drain_frames(&mut c);
    c.receive_eof();
    assert!(matches!(c.poll_message(), Ok(None)));
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn eof_while_waiting_for_the_peers_close_is_abnormal() {
    let mut c = client();
    c.close(CloseCode::NORMAL, "").unwrap();
    c.receive_eof();
    let err = c.poll_message().unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL));
    assert!(c.is_closed());
}

// ----- misc -----

#[test]
fn connection_is_send_and_sync() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Connection>();
    check::<Message>();
    check::<Error>();
    let c = client();
    let dbg = format!("{c:?}");
    assert!(dbg.contains("Client") && dbg.contains("Open"), "{dbg}");
}

#[test]
fn read_buf_is_emptied_once_input_is_closed() {
    let mut c = client();
    feed(&mut c, &sframe(true, CLOSE, b""));
    c.read_buf().extend_from_slice(&[0u8; 1000]);
    assert!(c.read_buf().is_empty());
    assert!(!c.wants_read());
    assert!(matches!(c.poll_message(), Ok(None)));
}

#[test]
fn pongs_still_flow_with_a_zero_high_water_mark() {
    let mut c = Connection::new(Role::Client, Config::default().write_buffer_high(0));
    let mut input = Vec::new();
    for i in 0..3u8 {
        input.extend(sframe(true, PING, &[i]));
    }
    feed(&mut c, &input);
    let mut pongs = Vec::new();
    while c.wants_write() {
        pongs.extend(drain_frames(&mut c).into_iter().map(|f| f.payload));
    }
    assert_eq!(pongs, vec![vec![0], vec![1], vec![2]]);
}
