//! Shared helpers for the benchmarks: buffers at a chosen alignment, sizes and keys.
//!
//! The benchmarks themselves live next to this file (`mask.rs`, `frame.rs`, ...) and run
//! with `cargo bench -p aiowebsocket-benches --bench <name>`. `cargo xtask bench` prints a
//! compact table of the masking numbers instead.

#![forbid(unsafe_code)]

/// Payload sizes the masking benchmark covers: a small control frame, the largest control
/// payload, then typical and large data frames.
pub const MASK_SIZES: [usize; 6] = [16, 125, 1 << 10, 16 << 10, 256 << 10, 4 << 20];

/// A fixed masking key (the one from RFC 6455 §5.7).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A heap buffer whose usable slice starts a chosen number of bytes past a 64-byte
/// boundary, so benchmarks do not depend on where the allocator happened to put it.
#[derive(Debug)]
pub struct OffsetBuf {
    store: Vec<u8>,
    start: usize,
    len: usize,
}

impl OffsetBuf {
    /// `len` bytes of varied, non-zero data starting `misalign` bytes (0..64) past a
    /// cache-line boundary. All bytes are written once, so no page faults remain.
    pub fn new(len: usize, misalign: usize) -> OffsetBuf {
        let misalign = misalign % 64;
        let store: Vec<u8> = (0..len + 128).map(|i| (i * 7 + 1) as u8).collect();
        let start = store.as_ptr().align_offset(64).min(63) + misalign;
        OffsetBuf { store, start, len }
    }

    /// The usable bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.store[self.start..self.start + self.len]
    }

    /// The usable bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.store[self.start..self.start + self.len]
    }
}

/// `16 B`, `1 KiB`, `4 MiB`: for benchmark names.
pub fn human_size(n: usize) -> String {
    if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{}MiB", n >> 20)
    } else if n >= 1 << 10 && n.trailing_zeros() >= 10 {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_buf_is_misaligned_as_asked() {
        for misalign in [0, 1, 7, 63] {
            let mut b = OffsetBuf::new(100, misalign);
            assert_eq!(b.as_slice().len(), 100);
            assert_eq!(b.as_mut_slice().as_ptr() as usize % 64, misalign);
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(16), "16B");
        assert_eq!(human_size(125), "125B");
        assert_eq!(human_size(16 << 10), "16KiB");
        assert_eq!(human_size(4 << 20), "4MiB");
    }
}
