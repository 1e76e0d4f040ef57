//! The opening handshake: encoding the client request, parsing the server's response whole
//! and fed one byte at a time (which must stay linear: compare the per-byte throughput of a
//! typical head and a ~32 KiB one), checking it, and the server role.
//!
//! Run: `cargo bench -p aiowebsocket-benches --bench handshake`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ws_handshake::{
    accept_key, ClientRequest, Limits, RequestBuilder, RequestParser, ResponseParser,
};

const KEY: [u8; 16] = *b"the sample nonce";

/// A request as a browser-like crawler would send it.
fn builder() -> RequestBuilder {
    RequestBuilder::new("wss://stream.example.com:9443/ws/v2?token=abcdef&room=42")
        .expect("static URL parses")
        .origin("https://example.com")
        .subprotocol("v2.json")
        .subprotocol("v1.json")
        .extensions("permessage-deflate; client_max_window_bits")
        .header("User-Agent", "aiowebsocket-bench/0.1")
        .header("Cookie", "session=0123456789abcdef; theme=dark")
        .raw_header("Accept-Language: en-US,en;q=0.9")
}

fn request() -> ClientRequest {
    builder().build_with_key(KEY).expect("valid request")
}

/// A typical server answer to `request()`, with `extra_headers` padding headers.
fn response(extra_headers: usize) -> Vec<u8> {
    let mut s = format!(
        "HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.25.3\r\n\
         Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: v1.json\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n",
        accept_key(request().key().as_bytes())
    );
    for i in 0..extra_headers {
        s.push_str(&format!("X-Padding-{i:03}: {}\r\n", "p".repeat(300)));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake/request");
    group.throughput(Throughput::Bytes(request().as_bytes().len() as u64));
    group.bench_function("build_with_key", |b| {
        b.iter(|| black_box(builder()).build_with_key(black_box(KEY)))
    });
    // Without the URL parsing and option setting: only the checks and the encoding.
    group.bench_function("encode_only", |b| {
        b.iter_batched(
            builder,
            |r| r.build_with_key(black_box(KEY)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("build_random_key", |b| {
        b.iter(|| black_box(builder()).build())
    });
    let minimal = || RequestBuilder::new("ws://127.0.0.1:9001/").expect("static URL parses");
    group.bench_function("build_minimal", |b| b.iter(|| black_box(minimal()).build()));
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake/response");
    for (name, extra) in [("typical", 0), ("large_32KiB", 100)] {
        let raw = response(extra);
        assert!(ResponseParser::new(Limits::default())
            .feed(&raw)
            .expect("valid")
            .is_some());
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(BenchmarkId::new("whole", name), |b| {
            b.iter(|| ResponseParser::new(Limits::default()).feed(black_box(&raw)))
        });
        group.bench_function(BenchmarkId::new("bytewise", name), |b| {
            b.iter(|| {
                let mut p = ResponseParser::new(Limits::default());
                let mut out = None;
                for byte in black_box(&raw).iter() {
                    if let Ok(Some(r)) = p.feed(std::slice::from_ref(byte)) {
                        out = Some(r);
                    }
                }
                out
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("handshake/check");
    let req = request();
    let resp = ResponseParser::new(Limits::default())
        .feed(&response(0))
        .expect("valid")
        .expect("complete");
    assert!(req.check(&resp).is_ok());
    group.bench_function("check", |b| {
        b.iter(|| black_box(&req).check(black_box(&resp)))
    });
    group.bench_function("accept_key", |b| {
        b.iter(|| accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });
    group.finish();
}

fn server(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake/server");
    let raw = request().as_bytes().to_vec();
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.bench_function("parse_validate_accept", |b| {
        b.iter(|| {
            let r = RequestParser::new(Limits::default())
                .feed(black_box(&raw))
                .ok()
                .flatten()?;
            r.validate().ok()?;
            Some(r.accept(Some("v1.json"), None))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encode, parse, server
}
criterion_main!(benches);
