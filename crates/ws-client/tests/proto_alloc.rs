//! Allocations per round trip in steady state, counted by a global allocator: small messages
//! cost none; larger ones only their own buffers. Also: large buffers are given back at the
//! next timer tick.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_client::{Config, Connection, Keepalive, Message, Role};

/// Counts allocations made by this thread while counting is on (other test threads run
/// concurrently and are not counted).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    COUNT.with(Cell::get)
}

/// One echo: the client sends `payload`, the server echoes the message it got, the client
/// receives it. Every byte goes through the real encode/decode paths.
fn echo(client: &mut Connection, server: &mut Connection, payload: &Bytes) {
    client.send(Message::Binary(payload.clone())).unwrap();
    server.receive_data(client.pending_output());
    let n = client.pending_output().len();
    client.consume_output(n);
    let got = server
        .poll_message()
        .unwrap()
        .expect("the client's message");
    server.send(got).unwrap();
    client.receive_data(server.pending_output());
    let n = server.pending_output().len();
    server.consume_output(n);
    let back = client.poll_message().unwrap().expect("the echo");
    assert_eq!(back.len(), payload.len());
}

fn pair() -> (Connection, Connection) {
    (
        Connection::new(Role::Client, Config::default()),
        Connection::new(Role::Server, Config::default()),
    )
}

#[test]
fn small_messages_allocate_nothing_in_steady_state() {
    let (mut client, mut server) = pair();
    let payload = Bytes::from(vec![7u8; 20]);
    for _ in 0..10 {
        echo(&mut client, &mut server, &payload);
    }
    let n = allocations(|| {
        for _ in 0..1000 {
            echo(&mut client, &mut server, &payload);
        }
    });
    assert_eq!(n, 0, "allocations in 1000 round trips of 20 bytes");
}

#[test]
fn larger_messages_allocate_only_their_own_buffers() {
    let (mut client, mut server) = pair();
    let payload = Bytes::from(vec![7u8; 16 << 10]);
    for _ in 0..10 {
        echo(&mut client, &mut server, &payload);
    }
    let rounds = 200;
    let n = allocations(|| {
        for _ in 0..rounds {
            echo(&mut client, &mut server, &payload);
        }
    });
    // Per round trip and side: the received message's buffer and the output buffer (given
    // back once written so that the next one is cache-hot). Nothing grows per message.
    assert!(
        n <= 4 * rounds,
        "{n} allocations in {rounds} round trips of 16 KiB"
    );
}

#[test]
fn large_buffers_are_given_back_at_the_next_timer_tick() {
    let keepalive = Keepalive::new(Duration::from_secs(20), Duration::from_secs(20));
    let config = Config::default().keepalive(Some(keepalive));
    let mut client = Connection::new(Role::Client, config);
    let start = Instant::now();
    client.handle_timeout(start);
    client
        .send(Message::binary(vec![1u8; 1 << 20]))
        .expect("queued");
    let n = client.pending_output().len();
    client.consume_output(n);
    // The output buffer is kept for the next large message until the timer tick...
    let kept = allocations(|| {
        client.send(Message::binary(vec![1u8; 1 << 20])).unwrap();
    });
    assert_eq!(kept, 1, "only the payload vec itself is allocated");
    let n = client.pending_output().len();
    client.consume_output(n);
    // ...which gives it back: the next large message needs a fresh buffer.
    client.handle_timeout(start + Duration::from_secs(1));
    let fresh = allocations(|| {
        client.send(Message::binary(vec![1u8; 1 << 20])).unwrap();
    });
    assert_eq!(fresh, 2, "the payload vec and a new output buffer");
}
