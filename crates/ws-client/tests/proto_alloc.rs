//! Allocations per round trip in steady state, counted by a global allocator: small messages
//! cost none; larger ones only their own buffers. Peak memory for one message stays within
//! its limit plus about 1 MiB (compressed, single-frame; a fragmented one at most one and a
//! half times its limit, counting growth as a copy), and large buffers are
//! given back on the data path, without a timer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proto_util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use ws_client::{Config, Connection, Error, Message, Role};
use ws_frame::{FrameHeader, OpCode, MAX_HEADER_LEN};

const MIB: usize = 1 << 20;

/// Counts allocations and live bytes made by this thread while counting is on (other test
/// threads run concurrently and are not counted).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread while counting (may go negative
    /// when memory from before is freed).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` seen.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize, 0);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size() as isize);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Growing may move the block: old and new exist at once, so the peak counts both.
        // Shrinking is done in place by real allocators.
        let (old, new) = (layout.size() as isize, new_size as isize);
        note(new - old, if new > old { old } else { 0 });
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// An allocation (or growth by `delta`) while `transient` more bytes are held for a moment.
fn note(delta: isize, transient: isize) {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            let _ = LIVE.try_with(|live| {
                live.set(live.get() + delta);
                let _ = PEAK.try_with(|p| p.set(p.get().max(live.get() + transient)));
            });
        }
    });
}

fn note_free(size: isize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|live| live.set(live.get() - size));
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

/// What `f` does to memory on this thread: (bytes still allocated at the end, the peak),
/// both counted from the start of `f`.
fn memory<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (out, LIVE.with(Cell::get), PEAK.with(Cell::get))
}

/// One echo: the client sends `payload`, the server echoes the message it got, the client
/// receives it. Every byte goes through the real encode/decode paths.
fn echo(client: &mut Connection, server: &mut Connection, payload: &Bytes) {
    client.send(Message::Binary(payload.clone())).unwrap();
    while client.wants_write() {
        server.receive_data(client.pending_output());
        let n = client.pending_output().len();
        client.consume_output(n);
    }
    let got = server
        .poll_message()
        .unwrap()
        .expect("the client's message");
    server.send(got).unwrap();
    while server.wants_write() {
        client.receive_data(server.pending_output());
        let n = server.pending_output().len();
        server.consume_output(n);
    }
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

/// An unmasked frame header (server to client), encoded.
fn header(opcode: OpCode, fin: bool, rsv: u8, len: usize) -> Vec<u8> {
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = FrameHeader {
        fin,
        rsv,
        opcode,
        mask: None,
        payload_len: len as u64,
    }
    .encode(&mut head);
    head[..n].to_vec()
}

/// Feeds `wire` to `conn` in reads of 64 KiB, polling after each as a driver does; returns
/// the first message or error.
fn feed(conn: &mut Connection, wire: &[u8]) -> Result<Option<Message>, Error> {
    for chunk in wire.chunks(64 << 10) {
        conn.receive_data(chunk);
        if let Some(msg) = conn.poll_message()? {
            return Ok(Some(msg));
        }
    }
    Ok(None)
}

fn client_with_limit(limit: usize) -> Connection {
    Connection::new(
        Role::Client,
        Config::default().max_message_size(Some(limit)),
    )
}

/// The allowance over the limit: the 1 MiB a buffer doubles to before it jumps to its limit,
/// plus small change.
const SLACK: isize = (MIB + MIB / 4) as isize;

/// A fragmented uncompressed message's buffer grows with what its frames announced, by
/// doubling capped at the limit (not straight to the limit, which cost a fresh 64 MiB
/// mapping and a page fault per 4 KiB for every large message). Its peak, counting a growth
/// as old and new buffers at once (an allocator that copies), is the limit plus the half
/// it grew from; glibc grows such blocks in place or by remapping.
#[test]
fn a_fragmented_message_peaks_at_one_and_a_half_times_its_limit() {
    let limit = 16 * MIB;
    // 16 MiB in 256 fragments of 64 KiB: exactly at the limit.
    let fragment = vec![5u8; 64 << 10];
    let mut wire = Vec::new();
    for i in 0..256 {
        let op = if i == 0 {
            OpCode::Binary
        } else {
            OpCode::Continuation
        };
        wire.extend(header(op, i == 255, 0, fragment.len()));
        wire.extend_from_slice(&fragment);
    }
    let mut client = client_with_limit(limit);
    let (msg, _, peak) = memory(|| feed(&mut client, &wire).unwrap().expect("the message"));
    assert_eq!(msg.len(), limit);
    assert!(
        peak <= (limit + limit / 2) as isize + SLACK,
        "peak {peak} bytes for a {limit}-byte message (limit {limit})"
    );
}

#[test]
fn a_single_frame_message_peaks_at_its_size_plus_a_constant() {
    let size = 16 * MIB;
    let mut wire = header(OpCode::Binary, true, 0, size);
    wire.extend(std::iter::repeat_n(9u8, size));
    let mut client = client_with_limit(size);
    let (msg, _, peak) = memory(|| feed(&mut client, &wire).unwrap().expect("the message"));
    assert_eq!(msg.len(), size);
    assert!(
        peak <= size as isize + SLACK,
        "peak {peak} bytes for {size}"
    );
}

/// Raw DEFLATE of `len` zero bytes ending in a sync flush: repeated, a decompression bomb.
#[cfg(feature = "deflate")]
fn zeros_segment(len: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; len];
    let mut out = Vec::with_capacity(len / 100 + 1024);
    c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in() as usize, len, "one call compresses it all");
    out
}

#[cfg(feature = "deflate")]
#[test]
fn a_compression_bomb_peaks_at_the_limit_plus_a_constant() {
    use ws_client::ProtocolError;
    use ws_handshake::permessage_deflate::DeflateParams;
    let limit = 16 * MIB;
    // 64 MiB of zeros in about 64 KiB: four times the limit.
    let segment = zeros_segment(MIB);
    let payload: Vec<u8> = segment
        .iter()
        .copied()
        .cycle()
        .take(segment.len() * 64)
        .collect();
    let mut wire = header(OpCode::Binary, true, ws_frame::RSV1, payload.len());
    wire.extend_from_slice(&payload);
    let config = Config::default().max_message_size(Some(limit));
    let negotiated = ws_client::Negotiated::deflate(Some(DeflateParams::default()));
    let mut client = Connection::with_negotiated(Role::Client, config, negotiated);
    let (result, _, peak) = memory(|| feed(&mut client, &wire).map(|_| ()));
    match result.as_ref().map_err(Error::protocol_error) {
        Err(Some(ProtocolError::MessageTooBig { limit: l, .. })) => assert_eq!(*l, limit),
        other => panic!("expected MessageTooBig, got {other:?}"),
    }
    assert!(
        peak <= limit as isize + SLACK,
        "peak {peak} bytes, limit {limit}"
    );
}

#[test]
fn a_large_message_is_sent_from_the_caller_s_bytes_without_a_copy_of_it() {
    // One 40 MiB frame (the default splits messages into frames of at most 16 MiB).
    let config = Config::default().write_frame_size(64 * MIB);
    let mut client = Connection::new(Role::Client, config);
    let payload = Bytes::from(vec![9u8; 40 * MIB]);
    let (wire, _, peak) = memory(|| {
        client.send(Message::Binary(payload.clone())).unwrap();
        // Header and first chunk first.
        assert!(client.pending_output().len() <= MIB / 2 + 14);
        let mut wire = 0;
        while client.wants_write() {
            let n = client.pending_output().len();
            client.consume_output(n);
            wire += n;
        }
        wire
    });
    assert_eq!(wire, 40 * MIB + 14);
    // The output holds one piece at a time (at most 16 MiB), not a masked copy of the
    // whole message.
    assert!(
        peak <= 16 * MIB as isize + 4096,
        "peak {peak} bytes while sending 40 MiB"
    );
}

#[test]
fn large_buffers_are_given_back_on_the_data_path_without_a_timer() {
    // The defaults: keepalive off, and `handle_timeout` is never called.
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    let (_, held, _) = memory(|| {
        // Sent: masked into the output in two pieces as it is written (512 KiB, the rest).
        client.send(Message::binary(vec![1u8; 4 * MIB])).unwrap();
        let wire = proto_util::drain_output(&mut client);
        assert_eq!(wire.len(), 4 * MIB + 14);
        // Received in 64 KiB reads, fragmented by the peer into 1 MiB frames.
        let mut fragments = Vec::new();
        for i in 0..4 {
            let op = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            fragments.extend(header(op, i == 3, 0, MIB));
            fragments.extend(std::iter::repeat_n(2u8, MIB));
        }
        let msg = feed(&mut client, &fragments).unwrap().expect("a message");
        assert_eq!(msg.len(), 4 * MIB);
        // And a single-frame 4 MiB message, followed by the start of another frame.
        let mut single = header(OpCode::Binary, true, 0, 4 * MIB);
        single.extend(std::iter::repeat_n(3u8, 4 * MIB));
        single.extend(&header(OpCode::Binary, true, 0, 10)[..1]);
        let msg = feed(&mut client, &single).unwrap().expect("a message");
        assert_eq!(msg.len(), 4 * MIB);
        server.receive_data(&wire);
        assert_eq!(
            server.poll_message().unwrap().map(|m| m.len()),
            Some(4 * MIB)
        );
    });
    // Everything above was dropped but what the two connections kept: small buffers only.
    assert!(
        held < (256 << 10) as isize,
        "the connections keep {held} bytes after large messages"
    );
}
