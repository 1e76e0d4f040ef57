//! permessage-deflate throughput: compress and decompress JSON-like messages of 4 KiB and
//! 64 KiB, with context takeover (the default) and without (`*_no_context_takeover`).
//!
//! `cargo bench -p aiowebsocket-benches --bench deflate`
//!
//! Each benchmark cycles through 32 different messages of the same size (similar in
//! structure, different in content), as a real stream would be, so that context takeover
//! helps as much as it does in practice and no more. Throughput is in uncompressed bytes.
//! Decompression inflates the exact wire payloads a compressor produced, in order, into a
//! reused buffer; the decompressor is rebuilt (untimed) whenever the sequence restarts.
//! The payloads decompressed are those of the default level (1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_client::proto::deflate::PerMessageDeflate;
use ws_frame::Role;
use ws_handshake::permessage_deflate::DeflateParams;

const MESSAGES: usize = 32;
const LIMIT: usize = 64 << 20;

/// A JSON-like message of exactly `len` bytes.
fn json(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    out.extend_from_slice(b"{\"type\":\"update\",\"items\":[");
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let item = format!(
            "{{\"id\":{},\"user\":\"user_{}\",\"online\":{},\"balance\":{}.{:02},\
             \"tags\":[\"t{}\",\"t{}\"],\"ts\":17000{:05}}},",
            x % 1_000_000,
            x % 5_000,
            x % 3 == 1,
            x % 100_000,
            x % 100,
            x % 40,
            (x >> 8) % 40,
            x % 100_000
        );
        out.extend_from_slice(item.as_bytes());
    }
    out.truncate(len);
    out
}

fn params(no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        client_no_context_takeover: no_context_takeover,
        server_no_context_takeover: no_context_takeover,
        ..DeflateParams::default()
    }
}

fn bench(c: &mut Criterion) {
    for (size, label) in [(4 * 1024, "4KiB"), (64 * 1024, "64KiB")] {
        let messages: Vec<Vec<u8>> = (0..MESSAGES as u32).map(|i| json(size, i)).collect();

        let mut group = c.benchmark_group("deflate");
        group.throughput(Throughput::Bytes(size as u64));
        group.measurement_time(Duration::from_secs(4));

        for (mode, nct) in [("takeover", false), ("no_takeover", true)] {
            let p = params(nct);

            // Compress: one long-lived compressor, as a connection has; level 1 is the
            // default (Config::compression_level), 6 is zlib's default, for comparison.
            for level in [1, 6] {
                let id = BenchmarkId::new(format!("compress_l{level}/{mode}"), label);
                group.bench_function(id, |b| {
                    let mut tx = PerMessageDeflate::with_level(&p, Role::Client, level);
                    let mut out = BytesMut::with_capacity(size * 2);
                    let mut i = 0;
                    b.iter(|| {
                        out.clear();
                        tx.compress_into(&messages[i % MESSAGES], &mut out).unwrap();
                        i += 1;
                        black_box(out.len())
                    });
                });
            }

            // The wire payloads of the sequence, as the peer receives them.
            let mut tx = PerMessageDeflate::new(&p, Role::Client);
            let wires: Vec<Bytes> = messages.iter().map(|m| tx.compress(m).unwrap()).collect();
            let mut check = PerMessageDeflate::new(&p, Role::Server);
            for (wire, msg) in wires.iter().zip(&messages) {
                assert_eq!(&check.decompress(wire, LIMIT).unwrap()[..], &msg[..]);
            }
            let wire_total: usize = wires.iter().map(Bytes::len).sum();
            eprintln!(
                "deflate {label} {mode}: {:.1}% of original size on the wire",
                100.0 * wire_total as f64 / (size * MESSAGES) as f64
            );

            group.bench_function(BenchmarkId::new(format!("decompress/{mode}"), label), |b| {
                let mut out = BytesMut::with_capacity(size * 2);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut done = 0u64;
                    while done < iters {
                        let mut rx = PerMessageDeflate::new(&p, Role::Server);
                        let n = (iters - done).min(MESSAGES as u64) as usize;
                        let start = Instant::now();
                        for wire in &wires[..n] {
                            out.clear();
                            rx.decompress_frame(wire, true, &mut out, LIMIT).unwrap();
                            black_box(out.len());
                        }
                        total += start.elapsed();
                        done += n as u64;
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
