//! Split halves: the receiver answers pings while the user only sends, keeps receiving
//! while the sender is blocked on a peer that does not read, no lost wake-ups across
//! threads, and reunite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use async_util::{client_options, duplex, pair, pair_with, server_options, ManualTimer};
use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use futures::{SinkExt, StreamExt};
use ws_client::connect::connect_on;
use ws_client::handshake::server_accept;
use ws_client::{CloseCode, Message, State};

#[test]
fn pings_are_answered_while_the_user_only_sends() {
    let (client, mut server) = pair();
    let (mut tx, mut rx) = client.split();
    let mut pool = LocalPool::new();
    let received = Rc::new(RefCell::new(Vec::new()));
    let r = received.clone();
    // The receiving task only drains; it never writes anything itself.
    pool.spawner()
        .spawn_local(async move {
            while let Some(Ok(m)) = rx.recv().await {
                r.borrow_mut().push(m);
            }
        })
        .unwrap();
    pool.spawner()
        .spawn_local(async move {
            for i in 0..50u32 {
                tx.send(Message::text(format!("data {i}"))).await.unwrap();
            }
        })
        .unwrap();
    let server_task = async move {
        let mut pongs = Vec::new();
        let mut data = 0;
        for i in 0..5u8 {
            server.send(Message::ping(vec![i])).await.unwrap();
        }
        while pongs.len() < 5 || data < 50 {
            match server.recv().await.unwrap().unwrap() {
                Message::Pong(p) => pongs.push(p.to_vec()),
                Message::Text(_) => data += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(pongs, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
        server
    };
    let handle = pool.spawner().spawn_local_with_handle(server_task).unwrap();
    let server = pool.run_until(handle);
    // The receiver saw the pings too (after answering them).
    assert_eq!(received.borrow().iter().filter(|m| m.is_ping()).count(), 5);
    drop(server);
}

#[test]
fn receiver_keeps_receiving_while_the_sender_is_blocked() {
    // Tiny pipe and no compression: the sender blocks after a few KiB.
    let opts = client_options().no_compression();
    let (client, mut server) = pair_with(4 << 10, opts, server_options(), None);
    let (mut tx, mut rx) = client.split();
    let mut pool = LocalPool::new();
    let sent = Rc::new(RefCell::new(0usize));
    let s = sent.clone();
    pool.spawner()
        .spawn_local(async move {
            for i in 0..64usize {
                tx.send(Message::binary(vec![i as u8; 8 << 10]))
                    .await
                    .unwrap();
                *s.borrow_mut() += 1;
            }
        })
        .unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(Ok(m)) = rx.recv().await {
                g.borrow_mut().push(m);
            }
        })
        .unwrap();
    pool.run_until_stalled();
    let blocked_at = *sent.borrow();
    assert!(
        blocked_at < 64,
        "the sender should be blocked by the full pipe"
    );
    // The server (not reading) sends messages and a ping: the receiver gets them all,
    // although its pong cannot be written yet.
    block_on(async {
        for i in 0..3 {
            server.send(Message::text(format!("s{i}"))).await.unwrap();
        }
        server.send(Message::ping(&b"hb"[..])).await.unwrap();
    });
    pool.run_until_stalled();
    assert_eq!(
        *got.borrow(),
        vec![
            Message::text("s0"),
            Message::text("s1"),
            Message::text("s2"),
            Message::ping(&b"hb"[..]),
        ]
    );
    assert_eq!(*sent.borrow(), blocked_at, "still blocked");
    // Now the server reads: all data arrives in order, and the pong after it.
    let handle = pool
        .spawner()
        .spawn_local_with_handle(async move {
            let mut n = 0usize;
            let mut pong = false;
            while n < 64 || !pong {
                match server.recv().await.unwrap().unwrap() {
                    Message::Binary(b) => {
                        assert_eq!(b.len(), 8 << 10);
                        assert!(b.iter().all(|&x| x == n as u8), "message {n}");
                        n += 1;
                    }
                    Message::Pong(p) => {
                        assert_eq!(&p[..], b"hb");
                        pong = true;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .unwrap();
    pool.run_until(handle);
    assert_eq!(*sent.borrow(), 64);
}

/// A sender waiting for a large message to be written when the connection fails (here: the
/// keepalive pong never comes, the peer does not read) gets the failure at once, not an `Ok`
/// later because the transport took the bytes while the close frame was being written; a
/// send after the failure fails too.
#[test]
fn a_send_waiting_when_the_connection_fails_gets_the_error() {
    let timer = ManualTimer::new();
    let opts = client_options()
        .no_compression()
        .keepalive(Duration::from_secs(1), Duration::from_secs(1));
    let (a, b) = duplex(64 << 10);
    let probe = a.probe();
    let server_opts = server_options();
    let (client, _server) = block_on(async {
        let (c, s) = futures::join!(
            connect_on(a, &opts, Some(timer.arc())),
            server_accept(b, &server_opts, Some(timer.arc()))
        );
        (c.unwrap().0, s.unwrap())
    });
    let (mut tx, mut rx) = client.split();
    let mut pool = LocalPool::new();
    let sends = Rc::new(RefCell::new(Vec::new()));
    let s = sends.clone();
    pool.spawner()
        .spawn_local(async move {
            for _ in 0..4 {
                let r = tx.send(Message::binary(vec![7u8; 1 << 20])).await;
                let failed = r.is_err();
                s.borrow_mut().push(r);
                if failed {
                    break;
                }
            }
            // A send after the failure.
            let late = tx.send(Message::binary(&b"late"[..])).await;
            s.borrow_mut().push(late);
        })
        .unwrap();
    let recv_error = Rc::new(RefCell::new(None));
    let e = recv_error.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(m) = rx.recv().await {
                if let Err(err) = m {
                    *e.borrow_mut() = Some(err);
                }
            }
        })
        .unwrap();
    pool.run_until_stalled();
    assert!(
        sends.borrow().is_empty(),
        "the first send waits on the full pipe"
    );
    // The ping is due, then its pong deadline passes: the connection fails (1011).
    timer.advance(Duration::from_secs(1));
    pool.run_until_stalled();
    timer.advance(Duration::from_secs(1));
    pool.run_until_stalled();
    let err = recv_error
        .borrow_mut()
        .take()
        .expect("recv reports the failure");
    assert!(err.is_timeout(), "{err:?}");
    {
        let sends = sends.borrow();
        assert_eq!(
            sends.len(),
            2,
            "the waiting send and the late one ended: {sends:?}"
        );
        assert!(sends.iter().all(Result::is_err), "{sends:?}");
    }
    // Room appears without a writable signal, and the close timeout passes: whatever the
    // finishing writes hand over now, no send reports success.
    assert!(probe.make_room_silently(16 << 20) > 0);
    timer.advance(Duration::from_secs(10));
    pool.run_until_stalled();
    assert!(sends.borrow().iter().all(Result::is_err));
}

#[test]
fn threads_with_tiny_buffers_lose_no_wake_ups() {
    const N: usize = 2000;
    let opts = client_options().no_compression();
    // 1 KiB of pipe per direction: nearly every read and write goes Pending at some point.
    let (client, mut server) = pair_with(1 << 10, opts, server_options(), None);
    let (mut tx, mut rx) = client.split();
    let (done_tx, done_rx) = mpsc::channel();

    let d = done_tx.clone();
    let server_thread = thread::spawn(move || {
        block_on(async {
            // Echo everything, and ping now and then so the client's receiver must write.
            let mut i = 0usize;
            while let Some(Ok(m)) = server.recv().await {
                match m {
                    Message::Text(_) | Message::Binary(_) => {
                        server.send(m).await.unwrap();
                        i += 1;
                        if i.is_multiple_of(16) {
                            server.send(Message::ping(vec![1u8, 2])).await.unwrap();
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            while server.recv().await.is_some() {}
        });
        d.send("server").unwrap();
    });
    let d = done_tx.clone();
    let sender_thread = thread::spawn(move || {
        block_on(async {
            for i in 0..N {
                let body = vec![(i % 251) as u8; 1 + (i * 37) % 3000];
                tx.send(Message::binary(body)).await.unwrap();
            }
        });
        d.send("sender").unwrap();
        tx
    });
    let d = done_tx;
    let receiver_thread = thread::spawn(move || {
        let got = block_on(async {
            let mut got = 0usize;
            let mut pings = 0usize;
            while got < N {
                match rx.recv().await.unwrap().unwrap() {
                    Message::Binary(b) => {
                        assert_eq!(b.len(), 1 + (got * 37) % 3000, "echo {got}");
                        assert!(b.iter().all(|&x| x == (got % 251) as u8));
                        got += 1;
                    }
                    Message::Ping(_) => pings += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(pings > 0);
            got
        });
        d.send("receiver").unwrap();
        (rx, got)
    });
    // A watchdog instead of a hang: a lost wake-up shows as a timeout here.
    let mut finished = Vec::new();
    for _ in 0..2 {
        let who = done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a task stalled: lost wake-up?");
        finished.push(who);
    }
    let tx = sender_thread.join().unwrap();
    let (rx, got) = receiver_thread.join().unwrap();
    assert_eq!(got, N);
    // Close from the reunited socket; the server thread then ends.
    let mut ws = tx.reunite(rx).unwrap();
    block_on(ws.close(CloseCode::NORMAL, "done")).unwrap();
    assert_eq!(ws.state(), State::Closed);
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server thread ended");
    server_thread.join().unwrap();
}

#[test]
fn sender_close_ends_the_receiver() {
    let (client, mut server) = pair();
    let (mut tx, mut rx) = client.split();
    block_on(async {
        let client_side = async {
            tx.close(CloseCode::NORMAL, "bye").await.unwrap();
            // The server's echo (same code).
            match rx.recv().await.unwrap().unwrap() {
                Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
                other => panic!("unexpected {other:?}"),
            }
            assert!(rx.recv().await.is_none());
            // Sending after close fails.
            assert!(tx.send(Message::text("x")).await.unwrap_err().is_closed());
        };
        let server_side = async {
            let m = server.recv().await.unwrap().unwrap();
            assert!(m.is_close());
            assert!(server.recv().await.is_none());
        };
        futures::join!(client_side, server_side);
    });
    assert_eq!(rx.state(), State::Closed);
    assert_eq!(tx.close_frame().unwrap().code, CloseCode::NORMAL);
}

#[test]
fn halves_are_sink_and_stream_and_reunite_checks_the_pair() {
    let (c1, mut s1) = pair();
    let (c2, _s2) = pair();
    let (mut tx1, mut rx1) = c1.split();
    let (tx2, rx2) = c2.split();
    block_on(async {
        tx1.send(Message::text("via sink")).await.unwrap();
        SinkExt::send(&mut tx1, Message::text("again"))
            .await
            .unwrap();
        assert_eq!(s1.recv().await.unwrap().unwrap(), Message::text("via sink"));
        assert_eq!(s1.recv().await.unwrap().unwrap(), Message::text("again"));
        s1.send(Message::text("back")).await.unwrap();
        assert_eq!(rx1.next().await.unwrap().unwrap(), Message::text("back"));
    });
    let err = tx1.reunite(rx2).unwrap_err();
    assert!(err.to_string().contains("different"));
    let (tx1, rx2) = (err.0, err.1);
    let ws1 = tx1.reunite(rx1).unwrap();
    let ws2 = rx2.reunite(tx2).unwrap();
    assert_eq!(ws1.state(), State::Open);
    assert_eq!(ws2.state(), State::Open);
}

fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<ws_client::WsSender<async_util::Pipe>>();
    is_send::<ws_client::WsReceiver<async_util::Pipe>>();
    is_send::<ws_client::WebSocket<async_util::Pipe>>();
}
