//! Every masking implementation against a plain byte loop.

use proptest::prelude::*;
use ws_frame::apply_mask;
use ws_frame::mask::{self, MaskImpl};

/// The definition (RFC 6455 §5.3), independent of the crate.
fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[offset.wrapping_add(i) % 4];
    }
}

/// Deterministic, non-repeating test data.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Runs `f` on `len` bytes starting `misalign` bytes past a 64-byte boundary, and checks
/// the result and that the bytes around the slice were not touched.
fn check(
    name: &str,
    len: usize,
    misalign: usize,
    key: [u8; 4],
    offset: usize,
    f: impl Fn(&mut [u8]),
) {
    let pad = 64;
    let seed = (len * 131 + misalign * 7) as u64 ^ offset as u64;
    let mut store = data(len + 3 * pad, seed);
    let start = store.as_ptr().align_offset(64).min(63) + misalign;
    let original = store.clone();
    let mut want = original.clone();
    reference(&mut want[start..start + len], key, offset);
    f(&mut store[start..start + len]);
    assert!(
        store == want,
        "{name}: wrong result for len {len}, misalign {misalign}, offset {offset}, key {key:?}"
    );
}

const KEY: [u8; 4] = [0x12, 0x34, 0xab, 0xcd];

#[test]
fn available_always_has_the_portable_paths_and_the_selected_one() {
    let avail = mask::available();
    assert!(avail.contains(&MaskImpl::Naive));
    assert!(avail.contains(&MaskImpl::Word));
    assert!(avail.contains(&mask::selected()));
    assert_ne!(mask::selected(), MaskImpl::Naive);
    for m in MaskImpl::ALL {
        assert_eq!(avail.contains(&m), m.is_available(), "{}", m.name());
    }
    #[cfg(target_arch = "x86_64")]
    assert!(avail.contains(&MaskImpl::Sse2));
    #[cfg(target_arch = "aarch64")]
    assert!(avail.contains(&MaskImpl::Neon));
}

#[test]
fn every_path_matches_the_byte_loop_for_lengths_0_to_300() {
    for m in MaskImpl::ALL {
        for len in 0..=300 {
            for offset in 0..4 {
                for misalign in [0, 1, 2, 3, 7, 8, 15, 31, 33, 63] {
                    check(m.name(), len, misalign, KEY, offset, |b| {
                        m.apply(b, KEY, offset)
                    });
                }
            }
        }
    }
}

#[test]
fn apply_mask_matches_the_byte_loop_for_lengths_0_to_300() {
    for len in 0..=300 {
        for offset in [0, 1, 2, 3, 4, 5, 1_000_001, usize::MAX] {
            for misalign in 0..64 {
                check("apply_mask", len, misalign, KEY, offset, |b| {
                    apply_mask(b, KEY, offset)
                });
            }
        }
    }
}

#[test]
fn offset_is_a_key_rotation() {
    let key = [1, 2, 3, 4];
    for m in mask::available() {
        for offset in 0..8 {
            let mut a = data(200, 9);
            let mut b = a.clone();
            m.apply(&mut a, key, offset);
            let rotated = [
                key[offset % 4],
                key[(offset + 1) % 4],
                key[(offset + 2) % 4],
                key[(offset + 3) % 4],
            ];
            m.apply(&mut b, rotated, 0);
            assert_eq!(a, b, "{} offset {offset}", m.name());
        }
    }
}

#[test]
fn large_buffers_every_path() {
    for m in MaskImpl::ALL {
        for len in [1023, 4096, 65_537, 1 << 20] {
            for misalign in [0, 1, 5] {
                check(m.name(), len, misalign, [9, 8, 7, 6], 3, |b| {
                    m.apply(b, [9, 8, 7, 6], 3)
                });
            }
        }
    }
}

#[test]
fn masking_twice_restores_the_data() {
    for m in mask::available() {
        let original = data(777, 3);
        let mut buf = original.clone();
        m.apply(&mut buf, KEY, 2);
        assert_ne!(buf, original);
        m.apply(&mut buf, KEY, 2);
        assert_eq!(buf, original, "{}", m.name());
    }
}

#[test]
fn rfc_example() {
    // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    let mut hello = *b"Hello";
    apply_mask(&mut hello, [0x37, 0xfa, 0x21, 0x3d], 0);
    assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn names_are_distinct() {
    let mut names: Vec<_> = MaskImpl::ALL.iter().map(|m| m.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), MaskImpl::ALL.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Unmasking a payload piece by piece, at arbitrary split points, with each path,
    /// equals masking it whole.
    #[test]
    fn resumable_at_any_split(
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        key in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        base in any::<usize>(),
        which in 0usize..8,
    ) {
        let mut want = payload.clone();
        reference(&mut want, key, base);

        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (payload.len() + 1)).collect();
        cuts.push(0);
        cuts.push(payload.len());
        cuts.sort_unstable();

        let avail = mask::available();
        let mut got = payload.clone();
        for w in cuts.windows(2) {
            let (from, to) = (w[0], w[1]);
            let off = base.wrapping_add(from);
            if which >= avail.len() {
                apply_mask(&mut got[from..to], key, off);
            } else {
                avail[which].apply(&mut got[from..to], key, off);
            }
        }
        prop_assert_eq!(got, want);
    }
}

/// `extend_masked` (and each implementation's) appends exactly what a copy followed by the byte loop gives, after any
/// existing content, for every length around the vector widths, every key offset and every
/// source alignment; the bytes already in `dst` are untouched.
#[test]
fn extend_masked_matches_copy_then_mask() {
    for len in (0..=300).chain([1023, 1024, 4099, 65_536 + 61, 300_001]) {
        for misalign in [0, 1, 3, 17, 63] {
            for offset in 0..4 {
                let store = data(len + 64 + misalign, len as u64);
                let src = &store[misalign..misalign + len];
                let prefix = data(misalign + 5, 99);
                let mut want = src.to_vec();
                reference(&mut want, KEY, offset);
                let paths = mask::available().into_iter().map(Some).chain([None]);
                for m in paths {
                    let mut dst = prefix.clone();
                    match m {
                        Some(m) => m.extend_masked(&mut dst, src, KEY, offset),
                        None => ws_frame::extend_masked(&mut dst, src, KEY, offset),
                    }
                    assert_eq!(
                        &dst[..prefix.len()],
                        &prefix[..],
                        "prefix changed, len {len}"
                    );
                    assert!(
                        dst[prefix.len()..] == want[..],
                        "{m:?}: wrong result for len {len}, misalign {misalign}, offset {offset}"
                    );
                }
            }
        }
    }
}

proptest! {
    /// A payload appended in pieces (each piece at its payload offset) equals the payload
    /// appended whole, whatever the piece sizes and the spare capacity already in `dst`.
    #[test]
    fn extend_masked_in_pieces(
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        cut in 0usize..2000,
        spare in 0usize..300,
        key in any::<[u8; 4]>(),
    ) {
        let cut = cut.min(payload.len());
        let mut whole = Vec::new();
        ws_frame::extend_masked(&mut whole, &payload, key, 0);
        let mut pieces = Vec::with_capacity(spare);
        ws_frame::extend_masked(&mut pieces, &payload[..cut], key, 0);
        ws_frame::extend_masked(&mut pieces, &payload[cut..], key, cut);
        prop_assert_eq!(&whole, &pieces);
        let mut want = payload.clone();
        reference(&mut want, key, 0);
        prop_assert_eq!(whole, want);
    }
}
