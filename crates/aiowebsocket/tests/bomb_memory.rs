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

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod memory;

use memory::{zeros_segment, PeakRss, MIB};

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

    let peak = PeakRss::start();

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
    let growth = peak.growth();
    eprintln!(
        "1 GiB bomb, 64 MiB limit: peak RSS growth {:.1} MiB",
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
