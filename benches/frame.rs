//! Frame header decode and encode, for the three length forms, masked and unmasked.
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = decode, encode
}
criterion_main!(benches);
