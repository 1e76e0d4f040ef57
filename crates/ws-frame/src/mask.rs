//! Payload masking (RFC 6455 §5.3), with run-time SIMD dispatch.
//!
//! Masking XORs payload byte `i` with `key[i % 4]`. It is its own inverse, so the same
//! function masks (client sending) and unmasks (server receiving).
//!
//! [`apply_mask`] is the entry point; [`extend_masked`] appends a masked copy (a client's
//! outgoing payload) in one pass. Buffers shorter than [`SIMD_THRESHOLD`] take a
//! word-at-a-time path with no dispatch at all; longer ones go to the implementation
//! [`selected`] once per process, picked from what the CPU supports:
//!
//! | implementation | where | how |
//! |---|---|---|
//! | [`MaskImpl::Avx512`] | x86_64 with AVX-512F (run-time detection; Rust >= 1.89) | 64-byte vectors |
//! | [`MaskImpl::Avx2`] | x86_64 with AVX2 (run-time detection) | 32-byte vectors |
//! | [`MaskImpl::Sse2`] | every x86_64 | 16-byte vectors |
//! | [`MaskImpl::Neon`] | every aarch64 | 16-byte vectors, 64 bytes per iteration |
//! | [`MaskImpl::Word`] | everywhere | `u64` chunks; safe code that the compiler usually vectorizes |
//! | [`MaskImpl::Naive`] | everywhere | one byte at a time; the reference, never selected |
//!
//! The x86 paths mask four aligned vectors per loop iteration and cover the unaligned
//! ends of the buffer with one unaligned vector each (see `x86_mask_body!`), so a buffer
//! starting at an odd address runs as fast as an aligned one.
//!
//! Every implementation gives the same result for every length, offset and alignment (the
//! test suite checks each against a byte loop). [`available`] lists the ones this CPU can
//! run and [`MaskImpl::apply`] runs a particular one, for tests and benchmarks.
//!
//! This is the only module of the crate with `unsafe` code: the SIMD intrinsics. Each
//! block states why it is sound.

// The SIMD paths need `unsafe`; the crate root denies it everywhere else.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

/// Buffers shorter than this many bytes are masked by the word path inline, skipping the
/// dispatch and any SIMD set-up.
pub const SIMD_THRESHOLD: usize = 64;

/// Masks (or unmasks) `buf` in place with `key`.
///
/// `offset` is the position within the frame payload of `buf[0]`, so a payload that
/// arrives in pieces can be unmasked piece by piece: pass the number of payload bytes
/// already processed. Only `offset % 4` matters (it is equivalent to rotating the key).
///
/// ```
/// use ws_frame::apply_mask;
///
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"Hello, world";
/// apply_mask(&mut whole, key, 0);
///
/// let mut pieces = *b"Hello, world";
/// let (a, b) = pieces.split_at_mut(5);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 5);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    if buf.len() < SIMD_THRESHOLD {
        word(buf, key);
    } else {
        dispatch(buf, key);
    }
}

/// Appends `src` to `dst`, masked with `key`: the bytes a client sends, copied and masked
/// in one pass.
///
/// Equivalent to `dst.extend_from_slice(src)` followed by [`apply_mask`] on the appended
/// bytes (with the same `offset` meaning), but each byte is read once from `src` and written
/// once, already masked, into `dst`'s spare capacity: no second pass over the copy. Long
/// buffers use the SIMD implementation [`selected`] picked (AVX-512, AVX2, SSE2, NEON).
///
/// ```
/// use ws_frame::mask::{apply_mask, extend_masked};
///
/// let key = [1, 2, 3, 4];
/// let mut frame = b"head".to_vec();
/// extend_masked(&mut frame, b"Hello, world", key, 0);
///
/// let mut expected = *b"Hello, world";
/// apply_mask(&mut expected, key, 0);
/// assert_eq!(&frame[4..], &expected);
/// ```
pub fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    if src.len() < SIMD_THRESHOLD {
        let start = dst.len();
        dst.extend_from_slice(src);
        word(&mut dst[start..], rotate(key, offset));
    } else {
        extend_with(selected(), dst, src, rotate(key, offset));
    }
}

/// [`extend_masked`] with implementation `m` (which must be available or portable);
/// `key` is already rotated to `src[0]`.
fn extend_with(m: MaskImpl, dst: &mut Vec<u8>, src: &[u8], key: [u8; 4]) {
    dst.reserve(src.len());
    let start = dst.len();
    let done = copy_vectors(m, &mut dst.spare_capacity_mut()[..src.len()], src, key);
    // SAFETY: `copy_vectors` initialized the first `done` bytes of the spare capacity (it
    // returns how many it wrote, at most `src.len()`, which `reserve` made room for).
    unsafe { dst.set_len(start + done) };
    // What the vector loop left (fewer than four vectors' worth, or everything for the
    // portable paths): `done` is a multiple of the vector width, hence of 4, so the key is
    // still in phase.
    let tail = dst.len();
    dst.extend_from_slice(&src[done..]);
    if m == MaskImpl::Naive {
        naive(&mut dst[tail..], key, 0);
    } else {
        word(&mut dst[tail..], key);
    }
}

/// Copies whole vectors of `src` into `dst` (same length) masked with `key`, with the SIMD
/// implementation `m`; returns how many leading bytes it wrote (a multiple of the vector
/// width; 0 for the portable implementations). `m` must be available (see
/// [`MaskImpl::is_available`]).
#[inline(never)]
fn copy_vectors(
    m: MaskImpl,
    dst: &mut [std::mem::MaybeUninit<u8>],
    src: &[u8],
    key: [u8; 4],
) -> usize {
    let len = dst.len().min(src.len());
    let (d, s) = (dst.as_mut_ptr().cast::<u8>(), src.as_ptr());
    debug_assert!(m.is_available());
    match m {
        #[cfg(all(target_arch = "x86_64", ws_frame_avx512))]
        // SAFETY: callers pass only available implementations (`selected`, or
        // `MaskImpl::extend_masked` after `is_available`); `d` and `s` are valid for `len`
        // bytes (writes and reads) and do not overlap (`dst` is a mutable borrow, `src` a
        // shared one).
        MaskImpl::Avx512 => unsafe { x86::avx512_copy(d, s, len, key) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        MaskImpl::Avx2 => unsafe { x86::avx2_copy(d, s, len, key) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        MaskImpl::Sse2 => unsafe { x86::sse2_copy(d, s, len, key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        MaskImpl::Neon => unsafe { arm::neon_copy(d, s, len, key) },
        _ => 0,
    }
}

/// A masking implementation. All of them compute the same thing; they differ in speed
/// and in which CPUs can run them (see [`available`]).
///
/// More variants may be added as new instruction sets are supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum MaskImpl {
    /// One byte at a time, written so that the compiler cannot vectorize it (each byte is
    /// a volatile read and write). The reference for tests and the baseline for
    /// benchmarks; never selected.
    Naive = 1,
    /// Eight bytes at a time through `u64` XORs, in safe code; runs everywhere, and the
    /// compiler usually turns it into vector code of the target's baseline width.
    Word = 2,
    /// SSE2 (128-bit) vectors; x86_64 only.
    Sse2 = 3,
    /// AVX2 (256-bit) vectors; x86_64 CPUs that report AVX2 at run time.
    Avx2 = 4,
    /// AVX-512F (512-bit) vectors; x86_64 CPUs that report AVX-512F and AVX2 at run time,
    /// when built with Rust 1.89 or later (older compilers lack the intrinsics).
    Avx512 = 6,
    /// NEON (128-bit) vectors; aarch64 only.
    Neon = 5,
}

impl MaskImpl {
    /// Every variant, available or not, in the order of [`available`].
    pub const ALL: [MaskImpl; 6] = [
        MaskImpl::Naive,
        MaskImpl::Word,
        MaskImpl::Sse2,
        MaskImpl::Avx2,
        MaskImpl::Avx512,
        MaskImpl::Neon,
    ];

    /// A short lowercase name: `"naive"`, `"word"`, `"sse2"`, `"avx2"`, `"avx512"`, `"neon"`.
    pub fn name(self) -> &'static str {
        match self {
            MaskImpl::Naive => "naive",
            MaskImpl::Word => "word",
            MaskImpl::Sse2 => "sse2",
            MaskImpl::Avx2 => "avx2",
            MaskImpl::Avx512 => "avx512",
            MaskImpl::Neon => "neon",
        }
    }

    /// Whether this CPU can run this implementation.
    pub fn is_available(self) -> bool {
        match self {
            MaskImpl::Naive | MaskImpl::Word => true,
            MaskImpl::Sse2 => x86::has_sse2(),
            MaskImpl::Avx2 => x86::has_avx2(),
            MaskImpl::Avx512 => x86::has_avx512(),
            MaskImpl::Neon => arm::has_neon(),
        }
    }

    /// Masks `buf` in place with this implementation; same contract as [`apply_mask`],
    /// without the short-buffer shortcut.
    ///
    /// If this CPU cannot run the implementation (see [`MaskImpl::is_available`]), the
    /// [`MaskImpl::Word`] path is used instead, so the result is always correct.
    pub fn apply(self, buf: &mut [u8], key: [u8; 4], offset: usize) {
        match self {
            MaskImpl::Naive => naive(buf, key, offset),
            MaskImpl::Word => word(buf, rotate(key, offset)),
            MaskImpl::Sse2 => x86::sse2(buf, rotate(key, offset)),
            MaskImpl::Avx2 => x86::avx2(buf, rotate(key, offset)),
            MaskImpl::Avx512 => x86::avx512(buf, rotate(key, offset)),
            MaskImpl::Neon => arm::neon(buf, rotate(key, offset)),
        }
    }

    /// Appends `src` to `dst` masked, with this implementation; same contract as
    /// [`extend_masked`], without the short-buffer shortcut. An implementation this CPU
    /// cannot run falls back to [`MaskImpl::Word`].
    pub fn extend_masked(self, dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
        let m = if self.is_available() {
            self
        } else {
            MaskImpl::Word
        };
        extend_with(m, dst, src, rotate(key, offset));
    }

    fn from_repr(v: u8) -> Option<MaskImpl> {
        MaskImpl::ALL.into_iter().find(|m| *m as u8 == v)
    }
}

/// The implementations this CPU can run, slowest first: always `Naive` and `Word`, then
/// the SIMD ones the CPU supports.
pub fn available() -> Vec<MaskImpl> {
    MaskImpl::ALL
        .into_iter()
        .filter(|m| m.is_available())
        .collect()
}

/// The implementation [`apply_mask`] uses for buffers of [`SIMD_THRESHOLD`] bytes or
/// more: the fastest available one (AVX-512, else AVX2, else SSE2 on x86_64; NEON on
/// aarch64; `Word` elsewhere). Detected on first use and cached in an atomic, so the
/// check costs one relaxed load.
#[inline]
pub fn selected() -> MaskImpl {
    match MaskImpl::from_repr(SELECTED.load(Ordering::Relaxed)) {
        Some(m) => m,
        None => {
            let m = detect();
            SELECTED.store(m as u8, Ordering::Relaxed);
            m
        }
    }
}

/// The cached choice of [`selected`]; 0 until the first detection.
static SELECTED: AtomicU8 = AtomicU8::new(0);

fn detect() -> MaskImpl {
    [
        MaskImpl::Avx512,
        MaskImpl::Avx2,
        MaskImpl::Neon,
        MaskImpl::Sse2,
    ]
    .into_iter()
    .find(|m| m.is_available())
    .unwrap_or(MaskImpl::Word)
}

/// Sends a long buffer to the selected implementation. Kept out of line so that the
/// short-buffer path of [`apply_mask`] stays small where it is inlined.
#[inline(never)]
fn dispatch(buf: &mut [u8], key: [u8; 4]) {
    match selected() {
        #[cfg(all(target_arch = "x86_64", ws_frame_avx512))]
        // SAFETY: `selected` returns `Avx512` only after `has_avx512` said yes.
        MaskImpl::Avx512 => unsafe { x86::avx512_unchecked(buf, key) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `selected` returns `Avx2` only after `has_avx2` said yes.
        MaskImpl::Avx2 => unsafe { x86::avx2_unchecked(buf, key) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `selected` returns `Sse2` only after `has_sse2` said yes.
        MaskImpl::Sse2 => unsafe { x86::sse2_unchecked(buf, key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `selected` returns `Neon` only after `has_neon` said yes.
        MaskImpl::Neon => unsafe { arm::neon_unchecked(buf, key) },
        _ => word(buf, key),
    }
}

/// The key as seen from payload position `offset`: `rotate(key, o)[i] == key[(o + i) % 4]`.
#[inline(always)]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let o = offset & 3;
    [key[o], key[(o + 1) & 3], key[(o + 2) & 3], key[(o + 3) & 3]]
}

/// The byte-at-a-time reference.
///
/// Written as the obvious loop, except that each byte is read and written with a volatile
/// access. Left plain, LLVM may vectorize or merge the byte operations (whether it does
/// depends on the compiler version and the indexing), which would make this a meaningless
/// baseline. Volatile accesses cannot be merged, reordered or widened, so this is exactly
/// one load, one XOR and one store per byte: the memory traffic of a scalar byte loop,
/// no more. (Putting the index through `black_box` also stops vectorization, but adds a
/// stack round trip per byte and measured about twice as slow as a real scalar loop, which
/// would flatter the fast paths.)
#[inline(never)]
fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        let p: *mut u8 = b;
        // SAFETY: `p` comes from a live `&mut u8`: valid for reads and writes, aligned, and
        // not accessed through any other path during this statement.
        unsafe { p.write_volatile(p.read_volatile() ^ key[offset.wrapping_add(i) & 3]) };
    }
}

/// Eight bytes at a time; `key` is already rotated to `buf[0]`.
#[inline]
fn word(buf: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let k64 = (u64::from(k) << 32) | u64::from(k);
    // Byte order does not matter: both halves of `k64` hold the key in memory order.
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ k64).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so the key is in phase.
    for (b, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

/// The body of an x86 SIMD masking function for vectors of `$width` bytes; `$buf.len()`
/// must be at least `2 * $width` and the target feature of the vector type enabled.
///
/// Layout: the first and the last vector of the buffer are loaded (unaligned) before
/// anything is written; the aligned vectors in between are masked in place (four per
/// iteration, then one at a time); finally the first and last vectors are masked and
/// stored over the ends. Bytes where the end vectors overlap the aligned ones are written
/// twice with the same value (each store is computed from the original bytes), so no
/// scalar head or tail loop is needed and every store of the main loop is aligned
/// (unaligned stores that straddle cache lines cost up to twice as much).
#[cfg(target_arch = "x86_64")]
macro_rules! x86_mask_body {
    (
        $buf:ident, $key:ident, $width:literal, $vec:ty,
        $set1:ident, $loadu:ident, $storeu:ident, $xor:ident
    ) => {{
        const V: usize = $width;
        let len = $buf.len();
        debug_assert!(len >= 2 * V);
        let p = $buf.as_mut_ptr();
        // `align_offset` may in principle answer "impossible" (usize::MAX); any start
        // below V works for correctness.
        let start = match p.align_offset(V) {
            n if n < V => n,
            _ => 0,
        };
        // The key rotated to the first byte, the first aligned byte and the last vector,
        // broadcast. (Building the vectors from a byte array instead costs a
        // store-forwarding stall of ~20 cycles per call.)
        let k = |o: usize| i32::from_ne_bytes(rotate($key, o));
        let (k_first, k_body, k_last) = (k(0), k(start), k(len - V));
        // SAFETY: broadcasting a register has no preconditions beyond the target feature,
        // which the enclosing function enables. (The intrinsic is a safe fn on compilers
        // that know about target-feature contexts, hence the `allow`.)
        #[allow(unused_unsafe)]
        let (m_first, m_body, m_last) = unsafe { ($set1(k_first), $set1(k_body), $set1(k_last)) };
        // SAFETY: `len >= 2 * V`, so both V-byte reads lie inside `buf`.
        let (first, last) = unsafe {
            (
                $loadu(p.cast::<$vec>()),
                $loadu(p.add(len - V).cast::<$vec>()),
            )
        };
        let mut i = start;
        while i + 4 * V <= len {
            // SAFETY: `i + 4V <= len`: the four vectors at `p + i` lie inside `buf`, which
            // we borrow mutably; the target feature is enabled by the enclosing function.
            unsafe {
                let q = p.add(i).cast::<$vec>();
                let a = $loadu(q);
                let b = $loadu(q.add(1));
                let c = $loadu(q.add(2));
                let d = $loadu(q.add(3));
                $storeu(q, $xor(a, m_body));
                $storeu(q.add(1), $xor(b, m_body));
                $storeu(q.add(2), $xor(c, m_body));
                $storeu(q.add(3), $xor(d, m_body));
            }
            i += 4 * V;
        }
        while i + V <= len {
            // SAFETY: `i + V <= len`: the vector at `p + i` lies inside `buf`.
            unsafe {
                let q = p.add(i).cast::<$vec>();
                $storeu(q, $xor($loadu(q), m_body));
            }
            i += V;
        }
        // SAFETY: as for the loads of `first` and `last` above.
        unsafe {
            $storeu(p.cast::<$vec>(), $xor(first, m_first));
            $storeu(p.add(len - V).cast::<$vec>(), $xor(last, m_last));
        }
    }};
}

/// The body of an x86 SIMD copy-and-mask function for vectors of `$width` bytes: masks
/// `src[..n]` into `dst[..n]` for the largest `n <= $len` that is a multiple of the width
/// and returns `n`. Four vectors per iteration, unaligned loads and stores.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_copy_body {
    (
        $dst:ident, $src:ident, $len:ident, $key:ident, $width:literal, $vec:ty,
        $set1:ident, $loadu:ident, $storeu:ident, $xor:ident
    ) => {{
        const V: usize = $width;
        // SAFETY: broadcasting a register has no preconditions beyond the target feature,
        // which the enclosing function enables.
        #[allow(unused_unsafe)]
        let m = unsafe { $set1(i32::from_ne_bytes($key)) };
        let mut i = 0;
        while i + 4 * V <= $len {
            // SAFETY: `i + 4V <= len`: the four vectors at offset `i` lie inside both
            // buffers, which the caller guarantees valid for `len` bytes and disjoint.
            unsafe {
                let s = $src.add(i).cast::<$vec>();
                let d = $dst.add(i).cast::<$vec>();
                let a = $loadu(s);
                let b = $loadu(s.add(1));
                let c = $loadu(s.add(2));
                let e = $loadu(s.add(3));
                $storeu(d, $xor(a, m));
                $storeu(d.add(1), $xor(b, m));
                $storeu(d.add(2), $xor(c, m));
                $storeu(d.add(3), $xor(e, m));
            }
            i += 4 * V;
        }
        while i + V <= $len {
            // SAFETY: `i + V <= len`: the vector at offset `i` lies inside both buffers.
            unsafe {
                $storeu(
                    $dst.add(i).cast::<$vec>(),
                    $xor($loadu($src.add(i).cast::<$vec>()), m),
                );
            }
            i += V;
        }
        i
    }};
}

/// Calls the x86 body macro `$body!` with its arguments followed by the width, vector type
/// and intrinsics (broadcast, unaligned load, unaligned store, xor) of one instruction set:
/// the masking and the copy-and-mask bodies share these lists.
#[cfg(target_arch = "x86_64")]
macro_rules! sse2_vectors {
    ($body:ident!($($arg:ident),*)) => {
        $body!(
            $($arg),*, 16, __m128i, _mm_set1_epi32, _mm_loadu_si128, _mm_storeu_si128,
            _mm_xor_si128
        )
    };
}

/// `sse2_vectors!` for AVX2 (32-byte vectors).
#[cfg(target_arch = "x86_64")]
macro_rules! avx2_vectors {
    ($body:ident!($($arg:ident),*)) => {
        $body!(
            $($arg),*, 32, __m256i, _mm256_set1_epi32, _mm256_loadu_si256, _mm256_storeu_si256,
            _mm256_xor_si256
        )
    };
}

/// `sse2_vectors!` for AVX-512F (64-byte vectors).
#[cfg(all(target_arch = "x86_64", ws_frame_avx512))]
macro_rules! avx512_vectors {
    ($body:ident!($($arg:ident),*)) => {
        $body!(
            $($arg),*, 64, __m512i, _mm512_set1_epi32, _mm512_loadu_si512, _mm512_storeu_si512,
            _mm512_xor_si512
        )
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256,
        _mm256_xor_si256, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
    };
    #[cfg(ws_frame_avx512)]
    use std::arch::x86_64::{
        __m512i, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_storeu_si512, _mm512_xor_si512,
    };

    use super::{rotate, word};

    pub(super) fn has_sse2() -> bool {
        // SSE2 is part of the x86_64 baseline; the macro answers from a static cache.
        std::arch::is_x86_feature_detected!("sse2")
    }

    pub(super) fn has_avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    #[cfg(ws_frame_avx512)]
    pub(super) fn has_avx512() -> bool {
        // The AVX-512 path hands short buffers to the AVX2 one, so it needs both.
        std::arch::is_x86_feature_detected!("avx512f") && has_avx2()
    }

    #[cfg(not(ws_frame_avx512))]
    pub(super) fn has_avx512() -> bool {
        // This compiler predates stable AVX-512 intrinsics (Rust 1.89); see build.rs.
        false
    }

    /// SSE2 masking, falling back to the word path on a CPU without SSE2.
    #[inline]
    pub(super) fn sse2(buf: &mut [u8], key: [u8; 4]) {
        if has_sse2() {
            // SAFETY: SSE2 is available, checked just above.
            unsafe { sse2_unchecked(buf, key) }
        } else {
            word(buf, key)
        }
    }

    /// AVX2 masking, falling back to the word path on a CPU without AVX2.
    #[inline]
    pub(super) fn avx2(buf: &mut [u8], key: [u8; 4]) {
        if has_avx2() {
            // SAFETY: AVX2 is available, checked just above.
            unsafe { avx2_unchecked(buf, key) }
        } else {
            word(buf, key)
        }
    }

    /// AVX-512 masking, falling back to the word path on a CPU (or compiler) without it.
    #[inline]
    pub(super) fn avx512(buf: &mut [u8], key: [u8; 4]) {
        #[cfg(ws_frame_avx512)]
        if has_avx512() {
            // SAFETY: AVX-512F and AVX2 are available, checked just above.
            return unsafe { avx512_unchecked(buf, key) };
        }
        word(buf, key)
    }

    /// Copy-and-mask with SSE2 (see `x86_copy_body!`); returns the bytes written.
    ///
    /// # Safety
    /// The CPU must support SSE2; `dst` must be valid for writes and `src` for reads of
    /// `len` bytes, and the two must not overlap.
    #[target_feature(enable = "sse2")]
    pub(super) unsafe fn sse2_copy(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        key: [u8; 4],
    ) -> usize {
        sse2_vectors!(x86_copy_body!(dst, src, len, key))
    }

    /// Copy-and-mask with AVX2; same contract as [`sse2_copy`], with AVX2.
    ///
    /// # Safety
    /// As for [`sse2_copy`], and the CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_copy(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        key: [u8; 4],
    ) -> usize {
        avx2_vectors!(x86_copy_body!(dst, src, len, key))
    }

    /// Copy-and-mask with AVX-512F; same contract as [`sse2_copy`], with AVX-512F.
    ///
    /// # Safety
    /// As for [`sse2_copy`], and the CPU must support AVX-512F.
    #[cfg(ws_frame_avx512)]
    #[allow(clippy::incompatible_msrv)] // only compiled on Rust >= 1.89, see build.rs
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512_copy(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        key: [u8; 4],
    ) -> usize {
        avx512_vectors!(x86_copy_body!(dst, src, len, key))
    }

    /// # Safety
    /// The CPU must support SSE2.
    #[target_feature(enable = "sse2")]
    pub(super) unsafe fn sse2_unchecked(buf: &mut [u8], key: [u8; 4]) {
        if buf.len() < 32 {
            return word(buf, key);
        }
        sse2_vectors!(x86_mask_body!(buf, key))
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_unchecked(buf: &mut [u8], key: [u8; 4]) {
        if buf.len() < 64 {
            // SAFETY: AVX2 implies SSE2.
            return unsafe { sse2_unchecked(buf, key) };
        }
        avx2_vectors!(x86_mask_body!(buf, key))
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX2.
    #[cfg(ws_frame_avx512)]
    #[allow(clippy::incompatible_msrv)] // only compiled on Rust >= 1.89, see build.rs
    #[target_feature(enable = "avx512f,avx2")]
    pub(super) unsafe fn avx512_unchecked(buf: &mut [u8], key: [u8; 4]) {
        if buf.len() < 128 {
            // SAFETY: the caller guarantees AVX2.
            return unsafe { avx2_unchecked(buf, key) };
        }
        avx512_vectors!(x86_mask_body!(buf, key))
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::word;

    pub(super) fn has_sse2() -> bool {
        false
    }

    pub(super) fn has_avx2() -> bool {
        false
    }

    pub(super) fn has_avx512() -> bool {
        false
    }

    pub(super) fn sse2(buf: &mut [u8], key: [u8; 4]) {
        word(buf, key)
    }

    pub(super) fn avx2(buf: &mut [u8], key: [u8; 4]) {
        word(buf, key)
    }

    pub(super) fn avx512(buf: &mut [u8], key: [u8; 4]) {
        word(buf, key)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::{vdupq_n_u32, veorq_u8, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8};

    use super::word;

    pub(super) fn has_neon() -> bool {
        std::arch::is_aarch64_feature_detected!("neon")
    }

    /// NEON masking, falling back to the word path on a CPU without NEON.
    #[inline]
    pub(super) fn neon(buf: &mut [u8], key: [u8; 4]) {
        if has_neon() {
            // SAFETY: NEON is available, checked just above.
            unsafe { neon_unchecked(buf, key) }
        } else {
            word(buf, key)
        }
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub(super) unsafe fn neon_unchecked(buf: &mut [u8], key: [u8; 4]) {
        const V: usize = 16;
        let len = buf.len();
        let p = buf.as_mut_ptr();
        // SAFETY: broadcasting a register has no preconditions beyond NEON, which the
        // function enables. (The intrinsics are safe fns on newer compilers, hence the
        // `allow`.)
        #[allow(unused_unsafe)]
        let m = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key))) };
        let mut i = 0;
        while i + 4 * V <= len {
            // SAFETY: `i + 64 <= len`, so the four 16-byte blocks at `p + i` lie inside
            // `buf`, which we borrow mutably; `vld1q_u8`/`vst1q_u8` have no alignment
            // requirement; NEON is enabled for this function.
            unsafe {
                let q = p.add(i);
                let a = vld1q_u8(q);
                let b = vld1q_u8(q.add(V));
                let c = vld1q_u8(q.add(2 * V));
                let d = vld1q_u8(q.add(3 * V));
                vst1q_u8(q, veorq_u8(a, m));
                vst1q_u8(q.add(V), veorq_u8(b, m));
                vst1q_u8(q.add(2 * V), veorq_u8(c, m));
                vst1q_u8(q.add(3 * V), veorq_u8(d, m));
            }
            i += 4 * V;
        }
        while i + V <= len {
            // SAFETY: `i + 16 <= len`: the block at `p + i` lies inside `buf`.
            unsafe {
                let q = p.add(i);
                vst1q_u8(q, veorq_u8(vld1q_u8(q), m));
            }
            i += V;
        }
        // `i` is a multiple of 16, so `key` is still in phase.
        word(&mut buf[i..], key);
    }

    /// Copy-and-mask with NEON: masks whole 16-byte blocks of `src` into `dst`; returns the
    /// bytes written.
    ///
    /// # Safety
    /// The CPU must support NEON; `dst` must be valid for writes and `src` for reads of
    /// `len` bytes, and the two must not overlap.
    #[target_feature(enable = "neon")]
    pub(super) unsafe fn neon_copy(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        key: [u8; 4],
    ) -> usize {
        const V: usize = 16;
        // SAFETY: broadcasting a register has no preconditions beyond NEON.
        #[allow(unused_unsafe)]
        let m = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key))) };
        let mut i = 0;
        while i + V <= len {
            // SAFETY: `i + 16 <= len`: the block at offset `i` lies inside both buffers,
            // which the caller guarantees valid and disjoint; no alignment is required.
            unsafe { vst1q_u8(dst.add(i), veorq_u8(vld1q_u8(src.add(i)), m)) };
            i += V;
        }
        i
    }
}

#[cfg(not(target_arch = "aarch64"))]
mod arm {
    use super::word;

    pub(super) fn has_neon() -> bool {
        false
    }

    pub(super) fn neon(buf: &mut [u8], key: [u8; 4]) {
        word(buf, key)
    }
}
