//! How message and frame buffers grow: so that a size limit bounds peak memory, not just the
//! final size.
//!
//! A buffer that grows by doubling holds its old and its new allocation at once while it
//! copies, and may end with nearly twice the room it needs: a 64 MiB limit could cost 130
//! MiB. Here a buffer grows geometrically only while it is small ([`GROW_DIRECT`]); past
//! that it is given room up to its bound in one step, so it never moves again. That room is
//! address space: memory pages are touched only as bytes arrive (the receive paths zero or
//! fill at most a read or an inflate step ahead), so resident memory still follows the bytes
//! received, and the allocation never exceeds the bound plus [`GROW_DIRECT`].
//!
//! The bound is the caller's: the configured message limit (plus one byte, for inflating,
//! to tell "at the limit" from "over it"), or the end of a frame whose declared length was
//! checked against that limit. A fragmented uncompressed message passes what its frames
//! announced so far, or twice what it holds, capped at the limit: it doubles instead of taking
//! the limit at once, which for a 64 MiB limit meant a fresh mapping (a page fault per 4 KiB)
//! per message; its peak is then at most one and a half times the limit where the allocator
//! copies. A bound above [`RESERVE_MAX`] (no limit set, or an absurd one) is not reserved at
//! once; the buffer then doubles, capped at the bound.

use bytes::{Bytes, BytesMut};

/// Buffers up to this size grow geometrically; past it, straight to their bound.
pub(crate) const GROW_DIRECT: usize = 1 << 20;

/// The largest bound reserved in one step (larger ones double, capped at the bound).
pub(crate) const RESERVE_MAX: usize = 1 << 30;

/// A growable byte buffer: [`BytesMut`] (read and message buffers) or `Vec<u8>` (buffers
/// that zlib writes into: flate2 fills a `Vec`'s spare capacity without zeroing it first).
pub(crate) trait Room {
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    fn reserve(&mut self, additional: usize);
}

impl Room for BytesMut {
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    fn capacity(&self) -> usize {
        BytesMut::capacity(self)
    }
    fn reserve(&mut self, additional: usize) {
        BytesMut::reserve(self, additional)
    }
}

impl Room for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }
}

/// Makes room for `additional` more bytes in `buf`, which will never hold more than
/// `bound` bytes (see the [module docs](self)).
pub(crate) fn reserve_bounded<B: Room>(buf: &mut B, additional: usize, bound: usize) {
    let needed = buf.len().saturating_add(additional);
    if needed <= buf.capacity() {
        return;
    }
    // What `reserve` would do on its own (it never grows by less).
    let doubled = buf.capacity().saturating_mul(2).max(needed);
    let target = if doubled <= GROW_DIRECT {
        doubled
    } else if bound <= RESERVE_MAX {
        // One step to the bound, copying at most GROW_DIRECT bytes.
        bound.max(doubled.min(2 * GROW_DIRECT))
    } else {
        doubled.min(bound.max(needed))
    };
    buf.reserve(target - buf.len());
}

/// Makes room for `additional` more bytes in `buf` like [`reserve_bounded`], but reserves
/// up to `bound` in one step whenever the bound is reservable ([`RESERVE_MAX`]), however
/// small the buffer: for a buffer whose bound is exact (the end of a frame being read), so
/// that it is never copied to a larger one. Pages of the room are touched only as the
/// caller fills them.
pub(crate) fn reserve_to_bound(buf: &mut BytesMut, additional: usize, bound: usize) {
    let needed = buf.len().saturating_add(additional);
    if bound <= RESERVE_MAX && bound >= needed {
        buf.reserve(bound - buf.len());
    } else {
        reserve_bounded(buf, additional, bound);
    }
}

/// Freezes a finished message, first giving back room it did not use when that is more than
/// [`GROW_DIRECT`] (shrinking in place: no copy on common allocators).
pub(crate) fn freeze_vec(mut v: Vec<u8>) -> Bytes {
    if v.capacity() - v.len() > GROW_DIRECT {
        v.shrink_to_fit();
    }
    Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_double_and_large_ones_jump_to_the_bound() {
        let mut b = BytesMut::new();
        reserve_bounded(&mut b, 100, 64 << 20);
        assert!(b.capacity() >= 100 && b.capacity() <= GROW_DIRECT);
        b.resize(GROW_DIRECT, 1);
        reserve_bounded(&mut b, 1, 64 << 20);
        assert_eq!(b.capacity(), 64 << 20);
        assert!(b.iter().all(|&x| x == 1));
        // Room for everything up to the bound: no further growth.
        let cap = b.capacity();
        reserve_bounded(&mut b, (64 << 20) - GROW_DIRECT, 64 << 20);
        assert_eq!(b.capacity(), cap);
    }

    #[test]
    fn an_unreservable_bound_doubles_capped_at_the_bound() {
        let mut b = BytesMut::with_capacity(GROW_DIRECT);
        b.resize(GROW_DIRECT, 0);
        reserve_bounded(&mut b, 1, usize::MAX);
        assert!(b.capacity() >= 2 * GROW_DIRECT && b.capacity() < 3 * GROW_DIRECT);
    }

    #[test]
    fn an_exact_bound_is_reserved_in_one_step() {
        let mut b = BytesMut::from(&[3u8; 1000][..]);
        reserve_to_bound(&mut b, 64 << 10, 1 << 20);
        assert!(b.capacity() >= 1 << 20 && b.capacity() < 2 << 20);
        assert_eq!(b.len(), 1000);
        // A bound too large to reserve grows as reserve_bounded does.
        let mut b = BytesMut::from(&[3u8; 1000][..]);
        reserve_to_bound(&mut b, 64 << 10, usize::MAX);
        assert!(b.capacity() >= 1000 + (64 << 10) && b.capacity() <= GROW_DIRECT);
    }

    #[test]
    fn freeze_gives_back_unused_room() {
        let mut b = Vec::with_capacity(8 << 20);
        b.extend_from_slice(&[7; 3 << 20]);
        let frozen = freeze_vec(b);
        assert_eq!(frozen.len(), 3 << 20);
        assert!(frozen.iter().all(|&x| x == 7));
        let small = freeze_vec(b"abc".to_vec());
        assert_eq!(&small[..], b"abc");
    }
}
