//! permessage-deflate transform: round trips, context takeover, window sizes, fragmented
//! input and the examples of RFC 7692 section 7.2.3.
#![cfg(feature = "deflate")]
// Test helpers outside #[test] functions unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use ws_client::proto::deflate::{DeflateError, PerMessageDeflate};
use ws_frame::Role;
use ws_handshake::permessage_deflate::DeflateParams;

const LIMIT: usize = 16 << 20;

fn params(bits: u8, client_nct: bool, server_nct: bool) -> DeflateParams {
    DeflateParams {
        client_max_window_bits: bits,
        server_max_window_bits: bits,
        client_no_context_takeover: client_nct,
        server_no_context_takeover: server_nct,
    }
}

fn pair(p: &DeflateParams) -> (PerMessageDeflate, PerMessageDeflate) {
    (
        PerMessageDeflate::new(p, Role::Client),
        PerMessageDeflate::new(p, Role::Server),
    )
}

/// A JSON-like message of about `len` bytes with varied but repetitive content.
fn json(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut i = seed;
    out.push(b'[');
    while out.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let line = format!(
            "{{\"id\":{},\"name\":\"user{}\",\"active\":{},\"score\":{}.{}}},",
            i % 100_000,
            i % 977,
            i.is_multiple_of(2),
            i % 1000,
            i % 97
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

/// Pseudo-random bytes (not compressible).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn rfc7692_7_2_3_1_hello_compresses_to_the_rfc_bytes() {
    let (mut client, mut server) = pair(&DeflateParams::default());
    let wire = client.compress(b"Hello").unwrap();
    assert_eq!(&wire[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(&server.decompress(&wire, LIMIT).unwrap()[..], b"Hello");
}

#[test]
fn rfc7692_7_2_3_2_shared_window() {
    // Both directions, both roles: the second "Hello" refers to the first. The RFC's bytes
    // are zlib's at its default level, 6 (level 1 encodes the match differently).
    for role in [Role::Client, Role::Server] {
        let p = DeflateParams::default();
        let mut tx = PerMessageDeflate::with_level(&p, role, 6);
        let mut rx = PerMessageDeflate::new(
            &p,
            match role {
                Role::Client => Role::Server,
                Role::Server => Role::Client,
            },
        );
        let first = tx.compress(b"Hello").unwrap();
        let second = tx.compress(b"Hello").unwrap();
        assert_eq!(&first[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(&second[..], [0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(&rx.decompress(&first, LIMIT).unwrap()[..], b"Hello");
        assert_eq!(&rx.decompress(&second, LIMIT).unwrap()[..], b"Hello");
    }
}

#[test]
fn rfc7692_7_2_3_3_stored_block() {
    let (_, mut server) = pair(&DeflateParams::default());
    let wire = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(&server.decompress(&wire, LIMIT).unwrap()[..], b"Hello");
}

#[test]
fn rfc7692_7_2_3_4_bfinal_block() {
    // With and without context takeover, the messages after a BFINAL one still decode.
    for nct in [false, true] {
        let (_, mut server) = pair(&params(15, nct, false));
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(&server.decompress(&bfinal, LIMIT).unwrap()[..], b"Hello");
        assert_eq!(&server.decompress(&bfinal, LIMIT).unwrap()[..], b"Hello");
        let plain = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(&server.decompress(&plain, LIMIT).unwrap()[..], b"Hello");
    }
}

#[test]
fn rfc7692_7_2_3_5_two_blocks() {
    let (_, mut server) = pair(&DeflateParams::default());
    let wire = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(&server.decompress(&wire, LIMIT).unwrap()[..], b"Hello");
}

#[test]
fn rfc7692_7_2_3_6_empty_message() {
    let (mut client, mut server) = pair(&DeflateParams::default());
    // Empty messages between others, in both forms (0x00 and no payload at all), must not
    // disturb the shared window.
    let a = client.compress(b"Hello, world").unwrap();
    let empty = client.compress(b"").unwrap();
    assert_eq!(&empty[..], [0x00]);
    let b = client.compress(b"Hello, world").unwrap();
    let c = client.compress(b"").unwrap();
    let d = client.compress(b"Hello, world!").unwrap();
    assert!(b.len() < a.len());

    assert_eq!(&server.decompress(&a, LIMIT).unwrap()[..], b"Hello, world");
    assert_eq!(&server.decompress(&empty, LIMIT).unwrap()[..], b"");
    assert_eq!(&server.decompress(&[], LIMIT).unwrap()[..], b"");
    assert_eq!(&server.decompress(&b, LIMIT).unwrap()[..], b"Hello, world");
    // An empty message split into empty frames.
    let mut out = BytesMut::new();
    server
        .decompress_frame(&[], false, &mut out, LIMIT)
        .unwrap();
    server.decompress_frame(&[], true, &mut out, LIMIT).unwrap();
    assert!(out.is_empty());
    assert_eq!(&server.decompress(&c, LIMIT).unwrap()[..], b"");
    assert_eq!(&server.decompress(&d, LIMIT).unwrap()[..], b"Hello, world!");
    // Zero limit: an empty message fits, one byte does not.
    assert_eq!(&server.decompress(&[0x00], 0).unwrap()[..], b"");
}

#[test]
fn round_trips_both_roles_with_and_without_context_takeover() {
    let messages: Vec<Vec<u8>> = vec![
        json(4096, 1),
        json(4096, 1),
        b"x".to_vec(),
        Vec::new(),
        noise(3000, 7),
        json(70_000, 2),
        json(200, 3),
        noise(100_000, 9),
        json(4096, 1),
    ];
    for (cnct, snct) in [(false, false), (true, false), (false, true), (true, true)] {
        let p = params(15, cnct, snct);
        let (mut client, mut server) = pair(&p);
        for (i, m) in messages.iter().enumerate() {
            let up = client.compress(m).unwrap();
            assert_eq!(
                &server.decompress(&up, LIMIT).unwrap()[..],
                &m[..],
                "c->s #{i} {p:?}"
            );
            let down = server.compress(m).unwrap();
            assert_eq!(
                &client.decompress(&down, LIMIT).unwrap()[..],
                &m[..],
                "s->c #{i} {p:?}"
            );
        }
    }
}

#[test]
fn context_takeover_makes_repeats_cheap_and_no_takeover_does_not() {
    let msg = json(4096, 42);
    for role in [Role::Client, Role::Server] {
        // With takeover the second copy is a few back-references.
        let mut tx = PerMessageDeflate::new(&params(15, false, false), role);
        let first = tx.compress(&msg).unwrap();
        let second = tx.compress(&msg).unwrap();
        assert!(
            first.len() < msg.len() / 2,
            "compresses at all: {}",
            first.len()
        );
        assert!(
            second.len() * 10 < first.len(),
            "{role:?}: second {} vs first {}",
            second.len(),
            first.len()
        );

        // Without takeover for our direction, every copy is compressed from scratch.
        let nct = match role {
            Role::Client => params(15, true, false),
            Role::Server => params(15, false, true),
        };
        let mut tx = PerMessageDeflate::new(&nct, role);
        let first = tx.compress(&msg).unwrap();
        let second = tx.compress(&msg).unwrap();
        assert_eq!(first, second, "{role:?}");

        // The peer's no-context-takeover does not affect our compressor.
        let other = match role {
            Role::Client => params(15, false, true),
            Role::Server => params(15, true, false),
        };
        let mut tx = PerMessageDeflate::new(&other, role);
        let first = tx.compress(&msg).unwrap();
        let second = tx.compress(&msg).unwrap();
        assert!(second.len() * 10 < first.len(), "{role:?}");
    }
}

#[test]
fn no_context_takeover_decompressor_rejects_back_references_across_messages() {
    // A server that kept its context sends a message referring to the previous one, to a
    // client that negotiated server_no_context_takeover: the reference must fail.
    let msg = json(2048, 5);
    let mut tx = PerMessageDeflate::new(&params(15, false, false), Role::Server);
    let mut rx = PerMessageDeflate::new(&params(15, false, true), Role::Client);
    let first = tx.compress(&msg).unwrap();
    let second = tx.compress(&msg).unwrap();
    assert_eq!(&rx.decompress(&first, LIMIT).unwrap()[..], &msg[..]);
    assert!(matches!(
        rx.decompress(&second, LIMIT),
        Err(DeflateError::Corrupt(_))
    ));
}

#[test]
fn every_window_size_round_trips_and_respects_its_window() {
    // Repeats at distances from 300 bytes to 20 KiB: a compressor ignoring its window
    // would produce distances the decompressor (same window) rejects.
    let mut msg = Vec::new();
    for dist in [300usize, 700, 1500, 3000, 6000, 12_000, 20_000] {
        let block = noise(dist, dist as u64);
        msg.extend_from_slice(&block);
        msg.extend_from_slice(&block[..200]);
    }
    for bits in 8..=15u8 {
        for nct in [false, true] {
            let p = params(bits, nct, nct);
            let (mut client, mut server) = pair(&p);
            for round in 0..3 {
                let up = client.compress(&msg).unwrap();
                assert_eq!(
                    &server.decompress(&up, LIMIT).unwrap()[..],
                    &msg[..],
                    "bits {bits} nct {nct} round {round}"
                );
                let down = server.compress(&msg).unwrap();
                assert_eq!(&client.decompress(&down, LIMIT).unwrap()[..], &msg[..]);
            }
        }
    }
}

#[test]
fn compressor_never_reaches_past_its_window() {
    // Send a 3000-byte block of noise twice. With a window of at least 4 KiB the second copy
    // is one back-reference; with a smaller window the start of the first copy is out of
    // reach, so the second copy must be (nearly) as large as the noise itself. This shows
    // the compressor honours the negotiated window, which a strict peer enforces.
    let block = noise(3000, 11);
    for bits in 8..=15u8 {
        for role in [Role::Client, Role::Server] {
            let mut tx = PerMessageDeflate::new(&params(bits, false, false), role);
            let first = tx.compress(&block).unwrap();
            let second = tx.compress(&block).unwrap();
            assert!(first.len() > 2900, "noise does not compress");
            if (1usize << bits) >= 4096 {
                assert!(second.len() < 100, "bits {bits}: {}", second.len());
            } else {
                assert!(second.len() > 2000, "bits {bits}: {}", second.len());
            }
        }
    }
}

#[test]
fn peer_window_is_not_needed_to_decode_smaller_windows() {
    // A decompressor negotiated for any window decodes what a 9-bit compressor sends, and
    // one negotiated for 9 bits still decodes a peer that used 15 (we are lenient there).
    let msg = json(20_000, 4);
    for (tx_bits, rx_bits) in [(9, 15), (15, 9), (9, 9)] {
        let mut tx = PerMessageDeflate::new(&params(tx_bits, false, false), Role::Client);
        let mut rx = PerMessageDeflate::new(&params(rx_bits, false, false), Role::Server);
        for _ in 0..3 {
            let wire = tx.compress(&msg).unwrap();
            assert_eq!(&rx.decompress(&wire, LIMIT).unwrap()[..], &msg[..]);
        }
    }
}

#[test]
fn fragmented_input_at_every_boundary() {
    let msgs = [json(300, 8), json(300, 8), b"Hello".to_vec()];
    for nct in [false, true] {
        let p = params(15, nct, nct);
        let (mut client, _) = pair(&p);
        let wires: Vec<_> = msgs.iter().map(|m| client.compress(m).unwrap()).collect();
        // Every split point of every message, each message split in two frames.
        for (k, wire) in wires.iter().enumerate() {
            for cut in 0..=wire.len() {
                let (_, mut server) = pair(&p);
                let mut prev = BytesMut::new();
                for (j, w) in wires[..k].iter().enumerate() {
                    prev.clear();
                    server.decompress_frame(w, true, &mut prev, LIMIT).unwrap();
                    assert_eq!(&prev[..], &msgs[j][..]);
                }
                let mut out = BytesMut::new();
                server
                    .decompress_frame(&wire[..cut], false, &mut out, LIMIT)
                    .unwrap();
                server
                    .decompress_frame(&wire[cut..], true, &mut out, LIMIT)
                    .unwrap();
                assert_eq!(&out[..], &msgs[k][..], "nct {nct} msg {k} cut {cut}");
            }
        }
        // One byte per frame, plus empty frames in between.
        let (_, mut server) = pair(&p);
        for (wire, msg) in wires.iter().zip(&msgs) {
            let mut out = BytesMut::new();
            for b in wire.iter() {
                server
                    .decompress_frame(std::slice::from_ref(b), false, &mut out, LIMIT)
                    .unwrap();
                server
                    .decompress_frame(&[], false, &mut out, LIMIT)
                    .unwrap();
            }
            server.decompress_frame(&[], true, &mut out, LIMIT).unwrap();
            assert_eq!(&out[..], &msg[..]);
        }
    }
}

#[test]
fn compress_into_appends_and_levels_all_round_trip() {
    let msg = json(10_000, 3);
    for level in [0, 1, 6, 9, 42] {
        let p = DeflateParams::default();
        let mut tx = PerMessageDeflate::with_level(&p, Role::Client, level);
        let mut rx = PerMessageDeflate::new(&p, Role::Server);
        let mut out = BytesMut::from(&b"prefix"[..]);
        tx.compress_into(&msg, &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(
            &rx.decompress(&out[6..], LIMIT).unwrap()[..],
            &msg[..],
            "level {level}"
        );
        if level == 0 {
            assert!(out.len() > msg.len(), "level 0 stores");
        } else {
            assert!(out.len() < msg.len() / 2, "level {level} compresses");
        }
    }
}
