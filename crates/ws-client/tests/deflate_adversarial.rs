//! permessage-deflate transform against hostile input: corrupt streams, a decompression
//! bomb, limits.
#![cfg(feature = "deflate")]
// Test helpers outside #[test] functions unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use flate2::{Compress, Compression, FlushCompress};
use ws_client::proto::deflate::{DeflateError, PerMessageDeflate};
use ws_frame::Role;
use ws_handshake::permessage_deflate::DeflateParams;

const MIB: usize = 1 << 20;

fn server() -> PerMessageDeflate {
    PerMessageDeflate::new(&DeflateParams::default(), Role::Server)
}

/// Raw DEFLATE of `len` zero bytes ending in a sync flush, compressed by a fresh compressor:
/// a self-contained, byte-aligned segment that can be repeated.
fn zeros_segment(len: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(len / 500 + 1024);
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len());
        let before = c.total_in();
        out.reserve(64 * 1024);
        c.compress_vec(&zeros[..n], &mut out, FlushCompress::None)
            .unwrap();
        left -= (c.total_in() - before) as usize;
    }
    loop {
        out.reserve(64 * 1024);
        let before = out.len();
        c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
        if out.len() == before || out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out
}

/// A compressed message inflating to `copies` MiB of zeros, built from one compressed MiB
/// repeated (so building it never needs the inflated size in memory).
fn bomb(copies: usize) -> Vec<u8> {
    let seg = zeros_segment(MIB);
    let mut out = Vec::with_capacity(seg.len() * copies);
    for _ in 0..copies {
        out.extend_from_slice(&seg);
    }
    out.truncate(out.len() - 4); // the sender drops the final 00 00 ff ff
    out
}

#[test]
fn the_bomb_is_what_it_claims() {
    // Four copies inflate to exactly 4 MiB of zeros, so 1024 copies are 1 GiB.
    let small = bomb(4);
    let out = server().decompress(&small, 8 * MIB).unwrap();
    assert_eq!(out.len(), 4 * MIB);
    assert!(out.iter().all(|&b| b == 0));
}

#[test]
fn one_gib_bomb_stops_at_the_limit_with_bounded_memory() {
    let gib = bomb(1024);
    assert!(
        gib.len() < 4 * MIB,
        "compressed bomb is {} bytes",
        gib.len()
    );
    for limit in [16 * MIB, 16 * MIB + 1, 1000, 0] {
        let mut rx = server();
        let mut out = BytesMut::new();
        let err = rx
            .decompress_frame(&gib, true, &mut out, limit)
            .unwrap_err();
        assert_eq!(err, DeflateError::TooBig { limit });
        assert_eq!(err.close_code().as_u16(), 1009);
        assert!(out.len() <= limit + 1, "len {} limit {limit}", out.len());
        assert!(
            out.capacity() < limit + MIB,
            "capacity {} limit {limit}",
            out.capacity()
        );
    }
}

#[test]
fn bomb_in_many_frames_stops_at_the_limit() {
    let gib = bomb(1024);
    let limit = 4 * MIB;
    let mut rx = server();
    let mut out = BytesMut::new();
    let mut result = Ok(());
    let mut frames = 0;
    for (i, frame) in gib.chunks(16 * 1024).enumerate() {
        frames = i;
        let fin = (i + 1) * 16 * 1024 >= gib.len();
        result = rx.decompress_frame(frame, fin, &mut out, limit);
        assert!(out.capacity() < limit + MIB, "capacity {}", out.capacity());
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(DeflateError::TooBig { limit }));
    assert!(frames < 100, "stopped early, after {frames} frames");
}

#[test]
fn limit_applies_to_the_whole_message_across_frames() {
    let msg = vec![b'a'; 10_000];
    let p = DeflateParams::default();
    let mut tx = PerMessageDeflate::new(&p, Role::Client);
    let wire = tx.compress(&msg).unwrap();
    let mut rx = server();
    let mut out = BytesMut::new();
    let (a, b) = wire.split_at(wire.len() / 2);
    let first = rx.decompress_frame(a, false, &mut out, 9_999);
    let result = first.and_then(|()| rx.decompress_frame(b, true, &mut out, 9_999));
    assert_eq!(result, Err(DeflateError::TooBig { limit: 9_999 }));
    // Exactly at the limit is fine.
    let mut tx = PerMessageDeflate::new(&p, Role::Client);
    let wire = tx.compress(&msg).unwrap();
    let mut rx = server();
    assert_eq!(rx.decompress(&wire, 10_000).unwrap().len(), 10_000);
}

#[test]
fn corrupt_streams_are_corrupt() {
    let cases: &[(&str, &[u8])] = &[
        ("reserved block type 11", &[0x07, 0x00]),
        (
            "stored block with NLEN not ~LEN",
            &[0x00, 0x05, 0x00, 0x00, 0x00],
        ),
        ("distance before the start", &[0x02, 0x02, 0x00, 0x00]),
        ("bad dynamic header", &[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ("all ones", &[0xff; 32]),
    ];
    for (what, wire) in cases {
        let mut rx = server();
        let err = rx.decompress(wire, MIB).unwrap_err();
        assert!(matches!(err, DeflateError::Corrupt(_)), "{what}: {err:?}");
        assert_eq!(err.close_code().as_u16(), 1007, "{what}");
        assert!(err.to_string().contains("permessage-deflate"), "{err}");
        // After an error the decompressor is usable again (fresh state).
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(&rx.decompress(&hello, MIB).unwrap()[..], b"Hello", "{what}");
    }
}

#[test]
fn truncated_and_garbage_input_never_panics_or_hangs() {
    // Cut a valid message at every point and append garbage: each result is either a clean
    // Corrupt error or some output within the limit.
    let p = DeflateParams::default();
    let mut tx = PerMessageDeflate::new(&p, Role::Client);
    let msg: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let wire = tx.compress(&msg).unwrap();
    let mut x: u32 = 12345;
    for cut in (0..wire.len()).step_by(7) {
        let mut input = wire[..cut].to_vec();
        for _ in 0..(cut % 13) {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            input.push((x >> 24) as u8);
        }
        let mut rx = server();
        match rx.decompress(&input, 64 * 1024) {
            Ok(out) => assert!(out.len() <= 64 * 1024),
            Err(DeflateError::Corrupt(_)) | Err(DeflateError::TooBig { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    // Pure noise of many lengths.
    for len in 0..300 {
        let input: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let mut rx = server();
        let _ = rx.decompress(&input, 4096);
    }
}
