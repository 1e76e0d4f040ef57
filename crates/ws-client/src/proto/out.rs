//! The output queue: encoded bytes ready to write, and large payloads held by reference and
//! copied (masked, for a client) into the ready buffer a chunk at a time as the transport
//! takes it.
//!
//! A large message is not copied whole into the output before anything is written: its
//! header and first [`CHUNK`] go out together, and the rest (in pieces of at most
//! [`CHUNK_MAX`]) is copied once they are written. The copy the transport makes of the
//! first chunk reads memory that was just written (still in the core's cache) while the
//! rest takes few writes (on loopback every write also pays for waking the reader), and the
//! output never holds more than [`CHUNK_MAX`] of a message however large it is.

use std::collections::VecDeque;

use bytes::Bytes;
use ws_frame::extend_masked;

/// A payload longer than this is queued by reference (see the module docs); a shorter one
/// is copied into the output at once.
pub(super) const LAZY_MIN: usize = CHUNK + 1;

/// The first chunk of a payload queued by reference: copied together with its header.
/// Small enough that the copy is still in the core's cache when the transport reads it.
/// (Paired echo rounds against the bench servers, 1 MiB messages: 0.76-0.86x the client
/// CPU of copying the whole message first; 4 MiB the same. The run-to-run modes that the
/// allocator's layout decides moved: 2 and 8 MiB no longer have runs at 2x, 16 MiB has
/// some at 1.2x.)
pub(super) const CHUNK: usize = 512 << 10;

/// The rest of a payload is copied in pieces of at most this much.
const CHUNK_MAX: usize = 16 << 20;

/// An output buffer up to this size is kept once written (no allocation per small
/// message); a larger one is given back at once.
const OUT_KEEP: usize = 4 << 10;

/// The output: `buf[pos..]` is ready to write; `queue` follows it, in order.
///
/// The queue is boxed and only exists while a large payload is being sent: an idle
/// connection pays one pointer for it.
///
/// Invariant: when nothing is ready, the queue is empty (it is moved into `buf` as soon as
/// `buf` is written).
#[derive(Debug, Default)]
pub(super) struct OutBuf {
    buf: Vec<u8>,
    pos: usize,
    // Boxed on purpose: one word in every connection instead of a `VecDeque`'s four.
    #[allow(clippy::box_collection)]
    queue: Option<Box<VecDeque<Segment>>>,
}

/// What waits behind the ready bytes.
#[derive(Debug)]
enum Segment {
    /// Encoded bytes (frames queued behind a payload that is not yet copied).
    Ready(Vec<u8>),
    /// A payload not yet copied: `data[done..]` is still to go, masked with `key` (the
    /// client role) at its offset in the frame.
    Payload {
        data: Bytes,
        done: usize,
        key: Option<[u8; 4]>,
    },
}

impl Segment {
    fn len(&self) -> usize {
        match self {
            Segment::Ready(v) => v.len(),
            Segment::Payload { data, done, .. } => data.len() - *done,
        }
    }
}

impl OutBuf {
    /// Everything queued: ready bytes and what follows them.
    pub(super) fn len(&self) -> usize {
        let queued: usize = self
            .queue
            .iter()
            .flat_map(|q| q.iter())
            .map(Segment::len)
            .sum();
        self.buf.len() - self.pos + queued
    }

    /// Whether nothing is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The bytes ready to write now (all that is queued unless a large payload is in it).
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Room for `additional` more bytes after everything queued; returns the buffer to
    /// append them to.
    pub(super) fn reserve(&mut self, additional: usize) -> &mut Vec<u8> {
        if let Some(queue) = self.queue.as_deref_mut() {
            if !matches!(queue.back(), Some(Segment::Ready(_))) {
                queue.push_back(Segment::Ready(Vec::new()));
            }
            if let Some(Segment::Ready(v)) = queue.back_mut() {
                v.reserve(additional);
                return v;
            }
        }
        if self.buf.capacity() - self.buf.len() < additional && self.pos > 0 {
            // Reclaim the written front before growing.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(additional);
        &mut self.buf
    }

    /// Queues `data` by reference after everything queued (its frame header was queued
    /// just before), to be copied, masked with `key` if given, as the output drains.
    pub(super) fn push_payload(&mut self, data: Bytes, key: Option<[u8; 4]>) {
        if data.is_empty() {
            return;
        }
        let mut done = 0;
        if self.queue.is_none() {
            // Behind the ready bytes (its header): its first chunk goes out with them.
            let end = data.len().min(CHUNK);
            let out = self.reserve(end);
            match key {
                Some(key) => extend_masked(out, &data[..end], key, 0),
                None => out.extend_from_slice(&data[..end]),
            }
            done = end;
        }
        if done < data.len() {
            let queue = self.queue.get_or_insert_with(Box::default);
            queue.push_back(Segment::Payload { data, done, key });
        }
    }

    /// Marks `n` ready bytes written (at most all of them).
    pub(super) fn consume(&mut self, n: usize) {
        self.pos += n.min(self.buf.len() - self.pos);
        if self.pos < self.buf.len() {
            return;
        }
        self.pos = 0;
        self.buf.clear();
        self.refill();
        if self.buf.is_empty() && self.buf.capacity() > OUT_KEEP {
            // Given back at once: the allocator hands the next message recently freed,
            // cache-hot memory, and an idle connection keeps nothing large.
            self.buf = Vec::new();
        }
    }

    /// While nothing is ready, makes the front of the queue ready: encoded bytes are taken
    /// as they are, a payload is copied (masked) [`CHUNK_MAX`] at a time.
    fn refill(&mut self) {
        while self.pos == self.buf.len() {
            let Some(queue) = self.queue.as_deref_mut() else {
                return;
            };
            let Some(front) = queue.front_mut() else {
                self.queue = None;
                return;
            };
            self.pos = 0;
            self.buf.clear();
            match front {
                Segment::Ready(v) => {
                    self.buf = std::mem::take(v);
                    queue.pop_front();
                }
                Segment::Payload { data, done, key } => {
                    let end = data.len().min(*done + CHUNK_MAX);
                    let src = &data[*done..end];
                    if self.buf.capacity() < src.len() {
                        // A fresh allocation: growing the empty buffer would copy its stale
                        // contents and hold both blocks at once.
                        self.buf = Vec::new();
                        self.buf.reserve_exact(src.len());
                    }
                    match *key {
                        Some(key) => extend_masked(&mut self.buf, src, key, *done),
                        None => self.buf.extend_from_slice(src),
                    }
                    *done = end;
                    if end == data.len() {
                        queue.pop_front();
                    }
                }
            }
            if queue.is_empty() {
                self.queue = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_frame::apply_mask;

    fn drain(out: &mut OutBuf, step: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        while !out.is_empty() {
            let ready = out.as_slice();
            let n = ready.len().min(step);
            assert!(n > 0);
            wire.extend_from_slice(&ready[..n]);
            out.consume(n);
        }
        assert_eq!(out.len(), 0);
        wire
    }

    #[test]
    fn payloads_are_masked_in_chunks_in_queue_order() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let big: Vec<u8> = (0..(2 * CHUNK + 1000)).map(|i| (i * 7) as u8).collect();
        let mut out = OutBuf::default();
        out.reserve(3).extend_from_slice(b"hd1");
        out.push_payload(Bytes::from(big.clone()), Some(key));
        // Frames queued behind the payload wait for it.
        out.reserve(3).extend_from_slice(b"hd2");
        out.push_payload(Bytes::from(big.clone()), None);
        out.reserve(4).extend_from_slice(b"tail");
        assert_eq!(out.len(), 3 + big.len() + 3 + big.len() + 4);
        // Nothing large is ready at once.
        assert!(out.as_slice().len() <= 3 + CHUNK);

        let wire = drain(&mut out, 10_000);
        let mut masked = big.clone();
        apply_mask(&mut masked, key, 0);
        let expected = [b"hd1", &masked[..], b"hd2", &big[..], b"tail"].concat();
        assert_eq!(wire, expected);
        assert!(
            out.buf.capacity() <= OUT_KEEP,
            "a drained output keeps nothing large"
        );
        assert!(out.queue.is_none(), "nor a queue");
    }

    #[test]
    fn a_payload_alone_is_ready_at_once() {
        let mut out = OutBuf::default();
        out.push_payload(Bytes::from(vec![1u8; CHUNK + 1]), None);
        assert!(!out.is_empty());
        assert_eq!(out.as_slice().len(), CHUNK);
        assert_eq!(drain(&mut out, usize::MAX), vec![1u8; CHUNK + 1]);
        assert!(out.queue.is_none());
        out.push_payload(Bytes::new(), Some([1, 2, 3, 4]));
        assert!(out.is_empty());
    }
}
