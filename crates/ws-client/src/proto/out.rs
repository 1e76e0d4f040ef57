//! The output buffer: encoded frames waiting to be written, with large payloads copied (and
//! masked) in bounded pieces as the output drains.
//!
//! A frame that fits in [`OUT_CHUNK`] is encoded at once: header, then the payload copied
//! and masked in one pass ([`extend_masked`]). A larger payload is not copied when it is
//! queued: the frame keeps a reference to the message's [`Bytes`], and the buffer takes the
//! next piece of it (up to [`OUT_CHUNK`] bytes, masked while copied) each time the driver
//! has written the previous one. So sending a large message costs one copy, into a buffer
//! that stays in cache and is reused for every piece (no allocation of the message's size,
//! nothing zeroed), and the transport copies from cache-hot memory. Once everything is
//! written a buffer larger than [`OUT_KEEP`] is given back: an idle connection keeps only a
//! small one.

use std::collections::VecDeque;

use bytes::Bytes;
use ws_frame::mask::extend_masked;
use ws_frame::MAX_HEADER_LEN;

/// An output buffer up to this size is kept once written (no allocation per small
/// message); a larger one is given back at once.
const OUT_KEEP: usize = 4 << 10;
/// The largest piece of a queued payload the buffer takes at once (and so about the
/// largest the buffer grows to while a large message drains).
pub(super) const OUT_CHUNK: usize = 64 << 10;

/// Encoded output: `buf` is written first, then the frames of `queue`.
#[derive(Debug, Default)]
pub(super) struct OutBuf {
    /// `buf[pos..]` is still to be written.
    buf: Vec<u8>,
    pos: usize,
    /// Frames whose payload was too large to copy at once, oldest first. The front one may
    /// be partly in `buf` already.
    queue: VecDeque<Queued>,
    /// Bytes of `queue` (headers and payloads) not yet in `buf`.
    queued: usize,
}

/// A frame whose payload is copied into the buffer piece by piece.
#[derive(Debug)]
struct Queued {
    head: [u8; MAX_HEADER_LEN],
    /// Header bytes still to be copied (all or none).
    head_len: usize,
    payload: Bytes,
    key: Option<[u8; 4]>,
    /// Payload bytes already copied.
    done: usize,
}

impl OutBuf {
    /// Bytes still to be written, queued payloads included.
    pub(super) fn len(&self) -> usize {
        self.buf.len() - self.pos + self.queued
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos == self.buf.len() && self.queue.is_empty()
    }

    /// The bytes to write next (empty only when everything was written).
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Queues a frame with a borrowed payload (copied now, or kept as a copy when frames
    /// are waiting before it).
    pub(super) fn push(&mut self, head: &[u8], key: Option<[u8; 4]>, payload: &[u8]) {
        if self.queue.is_empty() {
            make_room(&mut self.buf, &mut self.pos, head.len() + payload.len());
            self.append(head, None);
            self.append(payload, key);
        } else {
            self.enqueue(head, key, Bytes::copy_from_slice(payload));
        }
    }

    /// Queues a frame whose payload is shared: copied now if it fits in one piece, else
    /// piece by piece as the output drains.
    pub(super) fn push_shared(&mut self, head: &[u8], key: Option<[u8; 4]>, payload: Bytes) {
        let fits = self.buf.len() - self.pos + head.len() + payload.len() <= OUT_CHUNK;
        if self.queue.is_empty() && fits {
            make_room(&mut self.buf, &mut self.pos, head.len() + payload.len());
            self.append(head, None);
            self.append(&payload, key);
        } else {
            self.enqueue(head, key, payload);
        }
    }

    fn enqueue(&mut self, head: &[u8], key: Option<[u8; 4]>, payload: Bytes) {
        let mut h = [0u8; MAX_HEADER_LEN];
        let head_len = head.len().min(MAX_HEADER_LEN);
        h[..head_len].copy_from_slice(&head[..head_len]);
        self.queued += head_len + payload.len();
        self.queue.push_back(Queued {
            head: h,
            head_len,
            payload,
            key,
            done: 0,
        });
        self.fill();
    }

    /// Appends `bytes`, masked when there is a key (`key` is that of the frame whose payload
    /// starts with `bytes`).
    fn append(&mut self, bytes: &[u8], key: Option<[u8; 4]>) {
        append_at(&mut self.buf, &mut self.pos, bytes, key, 0);
    }

    /// Moves queued frames into the buffer until it holds [`OUT_CHUNK`] bytes to write.
    fn fill(&mut self) {
        let OutBuf {
            buf,
            pos,
            queue,
            queued,
        } = self;
        while let Some(front) = queue.front_mut() {
            let pending = buf.len() - *pos;
            if pending >= OUT_CHUNK {
                return;
            }
            let n = (OUT_CHUNK - pending).min(front.payload.len() - front.done);
            make_room(buf, pos, front.head_len + n);
            append_at(buf, pos, &front.head[..front.head_len], None, 0);
            let piece = &front.payload[front.done..front.done + n];
            append_at(buf, pos, piece, front.key, front.done);
            *queued -= front.head_len + n;
            front.head_len = 0;
            front.done += n;
            if front.done == front.payload.len() {
                queue.pop_front();
            }
        }
    }

    /// Marks `n` bytes of [`as_slice`](Self::as_slice) as written.
    pub(super) fn consume(&mut self, n: usize) {
        self.pos += n.min(self.buf.len() - self.pos);
        if self.pos < self.buf.len() {
            return;
        }
        self.pos = 0;
        self.buf.clear();
        if !self.queue.is_empty() {
            // The next piece goes where the last one was: the buffer stays in cache.
            self.fill();
        } else if self.buf.capacity() > OUT_KEEP {
            // Given back at once: an idle connection keeps nothing large.
            self.buf = Vec::new();
        }
    }
}

/// Appends `bytes` to `buf` (whose first `pos` bytes were written), masked from payload
/// position `offset` when there is a key.
fn append_at(
    buf: &mut Vec<u8>,
    pos: &mut usize,
    bytes: &[u8],
    key: Option<[u8; 4]>,
    offset: usize,
) {
    make_room(buf, pos, bytes.len());
    match key {
        Some(key) => extend_masked(buf, bytes, key, offset),
        None => buf.extend_from_slice(bytes),
    }
}

/// Room for `n` more bytes in `buf` (whose first `pos` bytes were written): the written
/// front is reclaimed before growing.
fn make_room(buf: &mut Vec<u8>, pos: &mut usize, n: usize) {
    if buf.capacity() - buf.len() >= n {
        return;
    }
    if *pos > 0 {
        buf.drain(..*pos);
        *pos = 0;
    }
    buf.reserve(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut OutBuf, step: usize) -> Vec<u8> {
        let mut all = Vec::new();
        while !out.is_empty() {
            let s = out.as_slice();
            assert!(
                !s.is_empty(),
                "nothing to write while {} bytes are queued",
                out.len()
            );
            assert!(s.len() <= OUT_CHUNK + 2 * MAX_HEADER_LEN + OUT_KEEP);
            let n = s.len().min(step);
            all.extend_from_slice(&s[..n]);
            let before = out.len();
            out.consume(n);
            assert_eq!(out.len(), before - n);
        }
        all
    }

    #[test]
    fn queued_payloads_come_out_masked_in_order_in_bounded_pieces() {
        let key = [9, 8, 7, 6];
        let big = Bytes::from(
            (0..(3 * OUT_CHUNK + 17))
                .map(|i| i as u8)
                .collect::<Vec<_>>(),
        );
        for step in [1000, OUT_CHUNK - 1, OUT_CHUNK, usize::MAX] {
            let mut out = OutBuf::default();
            out.push(b"A", None, b"small");
            out.push_shared(b"BB", Some(key), big.clone());
            // Queued behind the large frame, in order.
            out.push(b"C", Some(key), b"pong");
            out.push_shared(b"D", None, Bytes::from_static(b"tail"));
            assert_eq!(out.len(), 1 + 5 + 2 + big.len() + 1 + 4 + 1 + 4);
            let mut want = b"Asmall".to_vec();
            want.extend_from_slice(b"BB");
            let mut masked = big.to_vec();
            ws_frame::apply_mask(&mut masked, key, 0);
            want.extend_from_slice(&masked);
            want.push(b'C');
            let mut pong = b"pong".to_vec();
            ws_frame::apply_mask(&mut pong, key, 0);
            want.extend_from_slice(&pong);
            want.extend_from_slice(b"Dtail");
            assert_eq!(drain(&mut out, step), want, "step {step}");
            assert_eq!(out.len(), 0);
            assert_eq!(out.buf.capacity(), 0, "the chunk is given back once idle");
        }
    }
}
