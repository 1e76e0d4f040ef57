//! Masking throughput per implementation (naive byte loop, word fallback, each SIMD path
//! this CPU has, and the dispatched `apply_mask`), next to `copy_from_slice` of the same
//! buffer as the memory ceiling; and the send path's copy-and-mask: `extend_masked` (one
//! pass) against a copy followed by masking in 8 KiB pieces.
//!
//! Buffers start 1 byte past a cache-line boundary, as payloads inside a read buffer
//! usually do. Run: `cargo bench -p aiowebsocket-benches --bench mask`.

use std::hint::black_box;
use std::time::Duration;

use aiowebsocket_benches::{human_size, OffsetBuf, KEY, MASK_SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_frame::mask::{self, MaskImpl};

fn masking(c: &mut Criterion) {
    let impls = mask::available();
    for size in MASK_SIZES {
        let mut group = c.benchmark_group(format!("mask/{}", human_size(size)));
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 256 << 10 {
            // The naive loop takes milliseconds per call here.
            group.sample_size(20);
        }
        let mut buf = OffsetBuf::new(size, 1);
        let src = OffsetBuf::new(size, 1);

        group.bench_function(BenchmarkId::new("copy_from_slice", size), |b| {
            b.iter(|| black_box(buf.as_mut_slice()).copy_from_slice(black_box(src.as_slice())))
        });
        for &m in &impls {
            group.bench_function(BenchmarkId::new(m.name(), size), |b| {
                b.iter(|| m.apply(black_box(buf.as_mut_slice()), black_box(KEY), black_box(1)))
            });
        }
        group.bench_function(
            BenchmarkId::new(format!("apply_mask({})", mask::selected().name()), size),
            |b| {
                b.iter(|| {
                    ws_frame::apply_mask(
                        black_box(buf.as_mut_slice()),
                        black_box(KEY),
                        black_box(1),
                    )
                })
            },
        );
        // A client's send path: the payload appended to the output buffer and masked.
        // Before: copied and masked in place in 8 KiB pieces (the copy in L1); now: one pass.
        let mut out: Vec<u8> = Vec::with_capacity(size + 64);
        group.bench_function(BenchmarkId::new("copy+mask 8KiB pieces", size), |b| {
            b.iter(|| {
                out.clear();
                let mut offset = 0;
                for piece in black_box(src.as_slice()).chunks(8 << 10) {
                    let start = out.len();
                    out.extend_from_slice(piece);
                    ws_frame::apply_mask(&mut out[start..], KEY, offset);
                    offset += piece.len();
                }
                black_box(out.len())
            })
        });
        group.bench_function(BenchmarkId::new("extend_masked", size), |b| {
            b.iter(|| {
                out.clear();
                ws_frame::extend_masked(&mut out, black_box(src.as_slice()), KEY, 0);
                black_box(out.len())
            })
        });
        group.finish();
    }
    // Keep the naive reference honest: it must still agree with the fast paths.
    let mut a = OffsetBuf::new(1000, 1);
    let mut b = OffsetBuf::new(1000, 1);
    // Same input in both (the fill pattern follows the allocation's alignment).
    b.as_mut_slice().copy_from_slice(a.as_slice());
    MaskImpl::Naive.apply(a.as_mut_slice(), KEY, 3);
    ws_frame::apply_mask(b.as_mut_slice(), KEY, 3);
    assert_eq!(a.as_slice(), b.as_slice());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = masking
}
criterion_main!(benches);
