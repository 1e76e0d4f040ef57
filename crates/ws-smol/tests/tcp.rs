//! `ws_smol::TcpStream`: reads that wait for readiness after a short read must still
//! see every byte, in order, whenever it arrives, and EOF; `close` sends a FIN.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::io::{Read, Write};
use std::net::TcpListener;
use std::pin::Pin;
use std::thread;
use std::time::Duration;

use futures_io::AsyncWrite;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use ws_smol::TcpStream;

/// Runs `f` to completion on smol, failing the test after 30 s.
fn bounded<F: std::future::Future>(f: F) -> F::Output {
    smol::block_on(smol::future::or(f, async {
        smol::Timer::after(Duration::from_secs(30)).await;
        panic!("test took more than 30 s")
    }))
}

/// A listener on 127.0.0.1 whose first connection is handed to `serve` on a thread.
fn serve(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        serve(tcp);
    });
    addr
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn bytes_arriving_after_a_short_read_are_all_read_in_order() {
    bounded(async {
        let sent = pattern(200_000);
        let to_send = sent.clone();
        let addr = serve(move |mut tcp| {
            // Pieces of every size, with pauses, so that reads are short, exact and long.
            let mut at = 0;
            for (i, len) in [1usize, 3, 4, 5, 4096, 70_000, 17, 8192]
                .iter()
                .cycle()
                .enumerate()
            {
                let end = (at + len).min(to_send.len());
                tcp.write_all(&to_send[at..end]).unwrap();
                at = end;
                if at == to_send.len() {
                    break;
                }
                if i % 3 == 0 {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let sizes = [4usize, 1, 4096, 13, 1000];
        let mut i = 0;
        loop {
            let want = sizes[i % sizes.len()];
            i += 1;
            let n = tcp.read(&mut buf[..want]).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the bytes arrived changed or out of order");
        // EOF stays EOF.
        assert_eq!(tcp.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn ping_pong_never_loses_a_wakeup() {
    // Each reply arrives while the reader is between a short read and its next wait: a
    // lost readiness event would hang here (and fail the 30 s bound).
    bounded(async {
        let addr = serve(|mut tcp| {
            tcp.set_nodelay(true).unwrap();
            let mut byte = [0u8; 1];
            while tcp.read_exact(&mut byte).is_ok() {
                tcp.write_all(&[byte[0].wrapping_add(1)]).unwrap();
            }
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        assert!(tcp.nodelay().unwrap());
        assert_eq!(tcp.peer_addr().unwrap(), addr);
        let mut buf = [0u8; 64];
        for i in 0..5000u32 {
            tcp.write_all(&[i as u8]).await.unwrap();
            let n = tcp.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[(i as u8).wrapping_add(1)], "round trip {i}");
        }
    });
}

#[test]
fn close_sends_a_fin_and_reading_goes_on() {
    bounded(async {
        let addr = serve(|mut tcp| {
            let mut got = Vec::new();
            tcp.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"hello");
            tcp.write_all(b"bye").unwrap();
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"hello").await.unwrap();
        std::future::poll_fn(|cx| Pin::new(&mut tcp).poll_close(cx))
            .await
            .unwrap();
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye", "the server saw our EOF and answered");
    });
}

#[test]
fn from_std_registers_a_connected_stream() {
    bounded(async {
        let addr = serve(|mut tcp| {
            tcp.write_all(b"ready").unwrap();
        });
        let std_tcp = std::net::TcpStream::connect(addr).unwrap();
        let mut tcp = TcpStream::from_std(std_tcp).unwrap();
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ready");
    });
}
