//! Splitting the input anywhere never changes what comes out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proto_util;

use proptest::prelude::*;
use proto_util::*;
use ws_client::{Config, Connection, Message, Role};

/// A representative stream from a server: every length encoding, fragmentation with
/// control frames in between, multi-byte characters split across frames, empty messages,
/// and a close at the end.
fn server_stream(big: bool) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(sframe(true, TEXT, "h\u{e9}llo \u{20ac}".as_bytes()));
    s.extend(sframe(
        true,
        BINARY,
        &(0..300).map(|i| i as u8).collect::<Vec<_>>(),
    ));
    let t = "\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes(); // 11 bytes, 2-3 byte chars
    s.extend(sframe(false, TEXT, &t[..3]));
    s.extend(sframe(true, PING, b"ping-in-the-middle"));
    s.extend(sframe(false, CONT, &t[3..4]));
    s.extend(sframe(false, CONT, b""));
    s.extend(sframe(true, PONG, b""));
    s.extend(sframe(true, CONT, &t[4..]));
    s.extend(sframe(true, TEXT, b""));
    s.extend(sframe(true, BINARY, b""));
    if big {
        s.extend(sframe(true, BINARY, &vec![0x5a; 70_000]));
    }
    s.extend(sframe(true, PING, b""));
    s.extend(sframe(
        true,
        CLOSE,
        &close_payload(1000, "ciao \u{e9}".as_bytes()),
    ));
    s
}

/// Feeds `pieces` one at a time, polling after each; returns the messages and the frames
/// the connection wrote (unmasked, so outputs compare across random masking keys).
fn run(role: Role, pieces: &[&[u8]]) -> (Vec<Message>, Vec<(u8, Vec<u8>)>) {
    let mut conn = Connection::new(role, Config::default());
    let mut msgs = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        let (m, err) = feed(&mut conn, piece);
        assert!(err.is_none(), "{err:?}");
        msgs.extend(m);
        out.extend(
            drain_frames(&mut conn)
                .into_iter()
                .map(|f| (f.opcode, f.payload)),
        );
    }
    assert!(conn.is_closed());
    (msgs, out)
}

#[test]
fn every_two_way_split_gives_the_same_result() {
    let stream = server_stream(false);
    let whole = run(Role::Client, &[&stream]);
    assert_eq!(whole.0.len(), 9);
    assert_eq!(
        whole.0[4],
        Message::text("\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}")
    );
    assert_eq!(
        whole.1,
        vec![
            (PONG, b"ping-in-the-middle".to_vec()),
            (PONG, vec![]),
            (CLOSE, 1000u16.to_be_bytes().to_vec())
        ]
    );
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(run(Role::Client, &[a, b]), whole, "split at {i}");
    }
}

#[test]
fn every_three_way_split_of_the_fragmented_part() {
    let stream = server_stream(false);
    let whole = run(Role::Client, &[&stream]);
    // The fragmented text and its control frames sit after the first two messages.
    let start = 2 + 11 + 4 + 300;
    let end = (start + 60).min(stream.len());
    for i in start..end {
        for j in i..end {
            let pieces = [&stream[..i], &stream[i..j], &stream[j..]];
            assert_eq!(run(Role::Client, &pieces), whole, "split at {i},{j}");
        }
    }
}

#[test]
fn byte_by_byte_with_a_64_bit_length_frame() {
    let stream = server_stream(true);
    let whole = run(Role::Client, &[&stream]);
    assert_eq!(whole.0.len(), 10);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(Role::Client, &bytes), whole);
}

#[test]
fn server_role_every_split_unmasks_identically() {
    // The same stream as a client would send it: masked, with a new key per frame.
    let mut stream = Vec::new();
    let keys = [
        [1, 2, 3, 4],
        [0xff, 0, 0x80, 0x7f],
        [9, 9, 9, 9],
        [0xde, 0xad, 0xbe, 0xef],
    ];
    let frames: Vec<(bool, u8, Vec<u8>)> = vec![
        (true, TEXT, "h\u{e9}llo \u{20ac}".as_bytes().to_vec()),
        (false, BINARY, (0..200).map(|i| i as u8).collect()),
        (true, PING, b"x".to_vec()),
        (true, CONT, (0..77).map(|i| (i * 3) as u8).collect()),
        (true, CLOSE, close_payload(1001, b"")),
    ];
    for (k, (fin, op, payload)) in frames.iter().enumerate() {
        stream.extend(frame_rsv(*fin, 0, *op, payload, Some(keys[k % 4])));
    }
    let whole = run(Role::Server, &[&stream]);
    assert_eq!(whole.0.len(), 4);
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(run(Role::Server, &[a, b]), whole, "split at {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chunking_gives_the_same_result(cuts in proptest::collection::vec(0usize..70_500, 0..40)) {
        let stream = server_stream(true);
        let whole = run(Role::Client, &[&stream]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut at = 0;
        for c in cuts {
            pieces.push(&stream[at..c]);
            at = c;
        }
        pieces.push(&stream[at..]);
        prop_assert_eq!(run(Role::Client, &pieces), whole);
    }
}
