//! Frame header decode and encode, for the three length forms, masked and unmasked; the
//! cost of a masking key (the CSPRNG the client draws it from, beside the seeded small PRNG
//! it replaced) and of queueing a client message whole.
//!
//! Run: `cargo bench -p aiowebsocket-benches --bench frame`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_frame::{Decoded, FrameHeader, HeaderDecoder, OpCode, Role, MAX_HEADER_LEN};

/// (name, header) pairs covering 7-, 16- and 64-bit lengths, with and without a mask.
fn headers() -> Vec<(&'static str, FrameHeader)> {
    let h = |payload_len, mask| FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask,
        payload_len,
    };
    let key = Some([1, 2, 3, 4]);
    vec![
        ("len7", h(100, None)),
        ("len16", h(1000, None)),
        ("len64", h(1 << 20, None)),
        ("len7_masked", h(100, key)),
        ("len16_masked", h(1000, key)),
        ("len64_masked", h(1 << 20, key)),
    ]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame/decode");
    for (name, header) in headers() {
        let mut wire = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut wire);
        // We receive what the peer sends: masked frames arrive at a server.
        let role = if header.mask.is_some() {
            Role::Server
        } else {
            Role::Client
        };
        let decoder = HeaderDecoder::new(role).max_frame_size(16 << 20);
        assert_eq!(
            decoder.decode(&wire[..n]),
            Ok(Decoded::Complete {
                header,
                header_len: n
            })
        );
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(&decoder).decode(black_box(&wire[..n])))
        });
        // The worst partial case: all but the last header byte present.
        group.bench_function(BenchmarkId::new("incomplete", name), |b| {
            b.iter(|| black_box(&decoder).decode(black_box(&wire[..n - 1])))
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame/encode");
    for (name, header) in headers() {
        group.throughput(Throughput::Bytes(header.encoded_len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut out = [0u8; MAX_HEADER_LEN];
            b.iter(|| black_box(black_box(&header).encode(black_box(&mut out))))
        });
    }
    group.finish();
}

/// One masking key per frame: where it comes from now (`rand`'s thread-local ChaCha12,
/// reseeded from the OS) and the per-connection `SmallRng` (Xoshiro) it replaced, side by
/// side in one run.
fn mask_key(c: &mut Criterion) {
    use rand::{RngCore, SeedableRng};
    let mut group = c.benchmark_group("mask_key");
    group.bench_function("thread_rng_chacha12", |b| {
        b.iter(|| black_box(rand::rng().next_u32().to_ne_bytes()))
    });
    group.bench_function("small_rng_before", |b| {
        let mut rng = rand::rngs::SmallRng::from_rng(&mut rand::rng());
        b.iter(|| black_box(rng.next_u32().to_ne_bytes()))
    });
    group.finish();
}

/// A client queues a binary message (header, key, payload copied and masked) and the
/// output is consumed, as a driver would after writing it.
fn client_send(c: &mut Criterion) {
    use ws_client::{Config, Connection, Message};
    let mut group = c.benchmark_group("client_send");
    for size in [20usize, 1 << 10, 16 << 10] {
        let payload = bytes::Bytes::from(vec![7u8; size]);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            let mut conn = Connection::new(Role::Client, Config::default());
            b.iter(|| {
                assert!(conn.send(Message::Binary(payload.clone())).is_ok());
                let n = conn.pending_output().len();
                conn.consume_output(black_box(n));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = decode, encode, mask_key, client_send
}
criterion_main!(benches);
