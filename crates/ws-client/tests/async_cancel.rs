//! Cancel safety of `recv`: a reader that yields one byte at a time with `Pending` in
//! between, a `recv` future dropped after every single poll and recreated, and every
//! message must arrive intact and in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::sync::atomic::Ordering;
use std::task::Poll;

use async_util::{client_options, duplex, poll_once, server_options};
use futures::executor::block_on;
use futures::future::{select, Either};
use ws_client::connect::connect_on;
use ws_client::handshake::server_accept;
use ws_client::{Config, Message};

/// The messages the server sends: small, empty, fragmented, large, compressible, with
/// pings between them.
fn script() -> Vec<Message> {
    let mut v = Vec::new();
    for i in 0..40usize {
        match i % 8 {
            0 => v.push(Message::text(format!("text {i} ✓"))),
            1 => v.push(Message::binary(vec![i as u8; i * 13])),
            2 => v.push(Message::ping(vec![i as u8; 3])),
            3 => v.push(Message::text(String::new())),
            // Longer than the server's write_frame_size: fragmented on the wire.
            4 => v.push(Message::text("fragmented ".repeat(20 + i))),
            5 => v.push(Message::binary(
                (0..5000usize + i)
                    .map(|x| (x * 7 + i) as u8)
                    .collect::<Vec<u8>>(),
            )),
            // Compressible: deflated when negotiated.
            6 => v.push(Message::text("abcabcabc ".repeat(300))),
            _ => v.push(Message::binary(vec![0xffu8])),
        }
    }
    v
}

fn run(compression: bool) {
    let (a, b) = duplex(8 << 20);
    let trickle = a.trickle_switch();
    let pending = a.pending_reads.clone();
    let mut copts = client_options();
    let mut sopts = server_options().config(Config::default().write_frame_size(100));
    if !compression {
        copts = copts.no_compression();
        sopts = sopts.no_compression();
    }
    let (mut client, mut server) = block_on(async {
        let (c, s) = futures::join!(connect_on(a, &copts, None), server_accept(b, &sopts, None));
        (c.unwrap().0, s.unwrap())
    });
    assert_eq!(client.connection().negotiated().compression(), compression);

    let expected = script();
    block_on(async {
        for m in &expected {
            server.feed(m.clone()).await.unwrap();
        }
        server.flush().await.unwrap();
    });

    // Now the client reads 1 byte per read, with Pending between reads, and drops its
    // `recv` future after every poll.
    trickle.store(true, Ordering::Relaxed);
    let mut got = Vec::new();
    let mut polls = 0usize;
    while got.len() < expected.len() {
        let mut fut = Box::pin(client.recv());
        polls += 1;
        assert!(polls < 10_000_000, "no progress");
        match poll_once(&mut fut) {
            Poll::Ready(Some(Ok(m))) => got.push(m),
            Poll::Ready(Some(Err(e))) => panic!("error after {} messages: {e}", got.len()),
            Poll::Ready(None) => panic!("ended after {} messages", got.len()),
            Poll::Pending => {} // dropped here, mid-frame
        }
    }
    assert!(
        pending.load(Ordering::Relaxed) > 1000,
        "the reader did go Pending"
    );
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "message {i}");
    }
    // The pings were answered (pongs reach the server intact, in order).
    trickle.store(false, Ordering::Relaxed);
    block_on(async {
        let pings: Vec<_> = expected.iter().filter(|m| m.is_ping()).cloned().collect();
        client.send(Message::text("end")).await.unwrap();
        let mut pongs = Vec::new();
        loop {
            match server.recv().await.unwrap().unwrap() {
                Message::Pong(p) => pongs.push(Message::ping(p)),
                Message::Text(t) if t == "end" => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(pongs, pings);
    });
}

#[test]
fn recv_dropped_at_every_poll_loses_nothing() {
    run(false);
}

#[cfg(feature = "deflate")]
#[test]
fn recv_dropped_at_every_poll_loses_nothing_compressed() {
    run(true);
}

#[test]
fn recv_in_select_with_another_future_loses_nothing() {
    let (a, b) = duplex(1 << 20);
    let trickle = a.trickle_switch();
    let (copts, sopts) = (client_options().no_compression(), server_options());
    let (mut client, mut server) = block_on(async {
        let (c, s) = futures::join!(connect_on(a, &copts, None), server_accept(b, &sopts, None));
        (c.unwrap().0, s.unwrap())
    });
    trickle.store(true, Ordering::Relaxed);
    block_on(async {
        for i in 0..200u32 {
            server
                .feed(Message::binary(i.to_be_bytes().repeat(50)))
                .await
                .unwrap();
        }
        server.flush().await.unwrap();
        let mut i = 0u32;
        let mut cancelled = 0usize;
        while i < 200 {
            // Every other time, a competing future that is always ready cancels `recv`.
            let r = if cancelled.is_multiple_of(2) {
                match select(Box::pin(client.recv()), Box::pin(async {})).await {
                    Either::Left((m, _)) => Some(m),
                    Either::Right(_) => None,
                }
            } else {
                Some(client.recv().await)
            };
            cancelled += 1;
            if let Some(m) = r {
                let m = m.unwrap().unwrap();
                assert_eq!(m, Message::binary(i.to_be_bytes().repeat(50)));
                i += 1;
            }
        }
    });
}
