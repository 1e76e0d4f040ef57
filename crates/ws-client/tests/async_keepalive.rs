//! Keepalive pings and the bounded write buffer, on a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use async_util::{client_options, pair_with, poll_once, server_options, ManualTimer};
use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use futures::Sink;
use ws_client::{CloseCode, ErrorKind, Message, State, Step};

#[test]
fn keepalive_pings_are_answered_and_the_connection_stays_up() {
    let timer = ManualTimer::new();
    let opts = client_options().keepalive(Duration::from_secs(10), Duration::from_secs(5));
    let (client, server) = pair_with(1 << 16, opts, server_options(), Some(timer.arc()));
    let pongs = Rc::new(RefCell::new(0usize));
    let pings_seen = Rc::new(RefCell::new(0usize));
    let ended = Rc::new(RefCell::new(None::<Option<String>>));
    let mut pool = LocalPool::new();
    let (p, e) = (pongs.clone(), ended.clone());
    pool.spawner()
        .spawn_local(async move {
            let mut client = client;
            loop {
                match client.recv().await {
                    Some(Ok(Message::Pong(_))) => *p.borrow_mut() += 1,
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        *e.borrow_mut() = Some(Some(err.to_string()));
                        return;
                    }
                    None => {
                        *e.borrow_mut() = Some(None);
                        return;
                    }
                }
            }
        })
        .unwrap();
    let ps = pings_seen.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut server = server;
            // The server only receives; its pongs go out by themselves.
            while let Some(Ok(m)) = server.recv().await {
                if m.is_ping() {
                    *ps.borrow_mut() += 1;
                }
            }
        })
        .unwrap();
    pool.run_until_stalled();
    for round in 1..=5 {
        timer.advance(Duration::from_secs(10));
        pool.run_until_stalled();
        assert_eq!(*pings_seen.borrow(), round, "a ping per interval");
        assert_eq!(*pongs.borrow(), round, "each ping answered");
        assert!(ended.borrow().is_none(), "{:?}", ended.borrow());
    }
    // One sleep per deadline, not per poll or message (a handful per round).
    assert!(
        timer.sleeps_created() <= 3 * 5 + 2,
        "{}",
        timer.sleeps_created()
    );
}

#[test]
fn keepalive_fails_when_the_peer_stops_answering() {
    let timer = ManualTimer::new();
    let opts = client_options().keepalive(Duration::from_secs(10), Duration::from_secs(5));
    // The server never reads, so it never answers pings.
    let (client, _server) = pair_with(1 << 16, opts, server_options(), Some(timer.arc()));
    let results = Rc::new(RefCell::new(Vec::new()));
    let mut pool = LocalPool::new();
    let r = results.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut client = client;
            while let Some(item) = client.recv().await {
                r.borrow_mut().push(item);
            }
            assert_eq!(client.state(), State::Closed);
        })
        .unwrap();
    pool.run_until_stalled();
    timer.advance(Duration::from_secs(10)); // ping sent
    pool.run_until_stalled();
    assert!(results.borrow().is_empty());
    timer.advance(Duration::from_secs(4));
    pool.run_until_stalled();
    assert!(results.borrow().is_empty(), "not yet");
    timer.advance(Duration::from_secs(1)); // pong deadline
    pool.run_until_stalled();
    let results = results.borrow();
    assert_eq!(results.len(), 1, "{results:?}");
    match &results[0] {
        Err(e) if (e.kind(), e.step()) == (ErrorKind::Timeout, Some(Step::Keepalive)) => {
            assert_eq!(e.close_code(), Some(CloseCode::INTERNAL_ERROR));
        }
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
}

#[test]
fn send_waits_when_the_peer_never_reads_and_memory_stays_bounded() {
    const CHUNK: usize = 32 << 10;
    const PIPE: usize = 64 << 10;
    let opts = client_options().no_compression();
    let (mut client, mut server) = pair_with(PIPE, opts, server_options(), None);
    let high = client.connection().config().write_buffer_high;
    // Queue through the Sink API until it refuses: that is the bound.
    let mut queued = 0usize;
    let mut refused = false;
    for i in 0..1000usize {
        let ready = {
            let mut pinned = Pin::new(&mut client);
            poll_once(&mut futures::future::poll_fn(|cx| {
                pinned.as_mut().poll_ready(cx)
            }))
        };
        match ready {
            Poll::Ready(Ok(())) => {
                Pin::new(&mut client)
                    .start_send(Message::binary(vec![i as u8; CHUNK]))
                    .unwrap();
                queued += 1;
            }
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => {
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "the sink never pushed back");
    let pending = client.connection().output_len();
    assert!(pending <= high + CHUNK + 14, "{pending} bytes queued");
    assert!(
        queued <= (PIPE + high) / CHUNK + 2,
        "{queued} messages accepted"
    );

    // `send` stays pending while the peer does not read.
    {
        let mut send = Box::pin(client.send(Message::text("one more")));
        for _ in 0..10 {
            assert!(poll_once(&mut send).is_pending());
        }
        // Dropped while waiting for space: the message was not queued.
    }
    assert!(client.connection().output_len() <= high + CHUNK + 14);

    // Once the server reads, everything arrives in order.
    block_on(async {
        let drain = async {
            for i in 0..queued {
                let m = server.recv().await.unwrap().unwrap();
                assert_eq!(m, Message::binary(vec![i as u8; CHUNK]), "message {i}");
            }
            assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("last"));
        };
        let send = async {
            client.flush().await.unwrap();
            client.send(Message::text("last")).await.unwrap();
        };
        futures::join!(drain, send);
    });
}

#[test]
fn a_connection_that_only_sends_is_not_failed_by_keepalive() {
    let timer = ManualTimer::new();
    let opts = client_options().keepalive(Duration::from_secs(10), Duration::from_secs(5));
    let (client, server) = pair_with(1 << 16, opts, server_options(), Some(timer.arc()));
    let received = Rc::new(RefCell::new(0usize));
    let mut pool = LocalPool::new();
    let r = received.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut server = server;
            while let Some(Ok(m)) = server.recv().await {
                if m.is_text() {
                    *r.borrow_mut() += 1;
                }
            }
        })
        .unwrap();
    let mut client = client;
    // The client never calls recv: well past interval + timeout, sends still succeed.
    for round in 1..=10usize {
        timer.advance(Duration::from_secs(10));
        block_on(client.send(Message::text(format!("update {round}")))).unwrap();
        pool.run_until_stalled();
        assert_eq!(*received.borrow(), round);
        assert_eq!(client.state(), State::Open);
    }
}

#[test]
fn a_send_to_a_peer_that_never_reads_fails_after_the_write_timeout() {
    // (A peer that takes less than 64 KiB within the write timeout counts as not reading.)
    let timer = ManualTimer::new();
    let opts = client_options()
        .no_compression()
        .write_timeout(Some(Duration::from_secs(5)));
    let (mut client, _server) = pair_with(64 << 10, opts, server_options(), Some(timer.arc()));
    // Fill the pipe and the output buffer: the server never reads.
    let mut send = loop {
        let mut send = Box::pin(client.send(Message::binary(vec![1u8; 256 << 10])));
        match poll_once(&mut send) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => break send,
        }
    };
    timer.advance(Duration::from_millis(4_900));
    assert!(
        poll_once(&mut send).is_pending(),
        "failed before the write timeout"
    );
    timer.advance(Duration::from_millis(200));
    match poll_once(&mut send) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.step(), Some(Step::Write), "{e:?}");
            assert!(e.is_timeout());
            assert!(e.to_string().contains(".write_timeout("), "{e}");
        }
        other => panic!("expected a write timeout, got {other:?}"),
    }
    drop(send);
    // The connection is over: recv reports why once, later sends fail at once.
    match block_on(client.recv()) {
        Some(Err(e)) if (e.kind(), e.step()) == (ErrorKind::Timeout, Some(Step::Write)) => {}
        other => panic!("{other:?}"),
    }
    assert!(block_on(client.recv()).is_none());
    assert!(block_on(client.send(Message::text("x"))).is_err());
}

#[test]
fn a_slow_reader_that_keeps_taking_bytes_never_trips_the_write_timeout() {
    let timer = ManualTimer::new();
    let opts = client_options()
        .no_compression()
        .write_timeout(Some(Duration::from_secs(5)));
    let (client, server) = pair_with(128 << 10, opts, server_options(), Some(timer.arc()));
    let received = Rc::new(RefCell::new(0usize));
    let mut pool = LocalPool::new();
    let r = received.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut server = server;
            while let Some(Ok(m)) = server.recv().await {
                *r.borrow_mut() += m.len();
            }
        })
        .unwrap();
    let mut client = client;
    // 4 MiB through a 128 KiB pipe, the server reading only every 4 s (virtual): it takes
    // more than 64 KiB within each write timeout, so the send goes through, however long.
    let mut send = Box::pin(client.send(Message::binary(vec![2u8; 4 << 20])));
    let mut rounds = 0;
    let result = loop {
        if let Poll::Ready(r) = poll_once(&mut send) {
            break r;
        }
        timer.advance(Duration::from_secs(4));
        pool.run_until_stalled();
        rounds += 1;
        assert!(rounds < 10_000, "no progress");
    };
    result.unwrap();
    drop(send);
    assert!(rounds > 2, "{rounds}: the reader was not slow");
    block_on(client.flush()).unwrap();
    while *received.borrow() < 4 << 20 {
        pool.run_until_stalled();
        timer.advance(Duration::from_secs(1));
        rounds += 1;
        assert!(rounds < 20_000, "never delivered");
    }
}
