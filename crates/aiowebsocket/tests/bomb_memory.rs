//! A compression bomb against the facade's defaults, over loopback: a server sends 1 GiB of
//! zeros compressed to about 1 MiB in one frame. The client must fail with "message too big"
//! (1009) at the default 64 MiB limit, and the process's peak resident memory may grow by
//! the limit plus a small margin, not twice the limit.
//!
//! Its own test binary (one test): the process's peak RSS is measured, so nothing else may
//! run in it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::time::Duration;

use flate2::{Compress, Compression, FlushCompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MIB: u64 = 1 << 20;

/// A field of /proc/self/status, in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// Raw DEFLATE of 1 MiB of zeros ending in a sync flush: a segment that can be repeated.
fn zeros_segment() -> Vec<u8> {
    let zeros = vec![0u8; MIB as usize];
    let mut c = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(64 << 10);
    c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in(), MIB, "compressed in one call");
    out
}

/// One unmasked binary frame with RSV1 (compressed) carrying `payload`.
fn bomb_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0xC2, 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test(flavor = "current_thread")]
async fn a_1_gib_bomb_stops_at_the_default_limit_and_peaks_near_it() {
    let segment = zeros_segment();
    let payload = segment.repeat(1024); // 1 GiB inflated
    let frame = bomb_frame(&payload);
    drop(payload);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut parser = ws_handshake::RequestParser::new(ws_handshake::Limits::default());
        let mut buf = [0u8; 4096];
        let request = loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client hung up during the handshake");
            if let Some(r) = parser.feed(&buf[..n]).unwrap() {
                break r;
            }
        };
        let offer = request.header("sec-websocket-extensions").unwrap_or("");
        assert!(offer.contains("permessage-deflate"), "offer: {offer:?}");
        tcp.write_all(&request.accept(None, Some("permessage-deflate")))
            .await
            .unwrap();
        // The client may close mid-frame: a failed write is fine.
        let _ = tcp.write_all(&frame).await;
        let mut sink = vec![0u8; 4096];
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    });

    // Start the peak over from here (Linux: "5" resets VmHWM to the current RSS).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_bytes("VmRSS:");

    let mut ws = aiowebsocket::builder(format!("ws://{addr}/"))
        .connect()
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), ws.recv())
        .await
        .expect("the bomb was not stopped within 60 s");
    let err = match outcome {
        Some(Err(e)) => e,
        other => panic!("expected a 'message too big' error, got {other:?}"),
    };
    assert_eq!(err.close_code().map(|c| c.as_u16()), Some(1009), "{err}");
    let peak = status_bytes("VmHWM:");
    let growth = peak.saturating_sub(before);
    eprintln!(
        "1 GiB bomb, 64 MiB limit: RSS before {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB",
        before as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        growth as f64 / MIB as f64
    );
    // The limit, plus the 1 MiB a buffer grows to before it jumps to the limit, the
    // compressed frame in the read buffer (1 MiB), the inflater and the runtime.
    assert!(
        growth <= 64 * MIB + 8 * MIB,
        "peak RSS grew by {growth} bytes for a 64 MiB limit"
    );
    drop(ws);
    server.abort();
}
