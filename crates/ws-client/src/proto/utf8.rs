//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split across frames, and each frame across reads, at any byte —
//! also inside a multi-byte character. [`Utf8Validator`] checks each piece once, as it
//! arrives, with SIMD ([`simdutf8::compat`]), and carries at most 3 bytes of an unfinished
//! character to the next piece. It fails as soon as a byte that can never be valid arrives
//! (Autobahn 6.4.x "fail fast"), and [`finish`](Utf8Validator::finish) fails when the
//! message ends inside a character. Every byte is validated once: linear time.
//!
//! ```
//! use ws_client::proto::utf8::Utf8Validator;
//!
//! let euro = "\u{20ac}".as_bytes(); // e2 82 ac
//! let mut v = Utf8Validator::new();
//! assert!(v.feed(&euro[..1]).is_ok()); // unfinished, fine so far
//! assert!(v.feed(&euro[1..]).is_ok());
//! assert!(v.finish().is_ok());
//!
//! let mut v = Utf8Validator::new();
//! assert!(v.feed(b"ok \xe2\x28").is_err()); // 0x28 can't continue 0xe2: fails at once
//! ```

use std::fmt;

use simdutf8::compat::from_utf8;

/// The input is not valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Validates a UTF-8 stream fed in arbitrary pieces.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    /// The bytes of an unfinished character carried from the previous piece.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts over (the next byte begins a new stream).
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }

    /// Whether the bytes so far end inside a character.
    pub fn is_incomplete(&self) -> bool {
        self.partial_len != 0
    }

    /// Validates the next piece. Fails as soon as the bytes so far cannot be the start of
    /// valid UTF-8; an unfinished character at the end of `chunk` is kept for the next call.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len != 0 {
            let have = usize::from(self.partial_len);
            let need = char_width(self.partial[0]);
            let take = (need - have).min(chunk.len());
            let mut buf = self.partial;
            buf[have..have + take].copy_from_slice(&chunk[..take]);
            let len = have + take;
            match from_utf8(&buf[..len]) {
                Ok(_) => {
                    self.partial_len = 0;
                    chunk = &chunk[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still unfinished: `chunk` was too short to complete the character.
                    self.partial = buf;
                    self.partial_len = len as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &chunk[e.valid_up_to()..];
                // `error_len() == None` means a valid prefix of a character: 1 to 3 bytes.
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the stream: fails when it stops inside a character. Resets the validator.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let incomplete = self.is_incomplete();
        self.reset();
        if incomplete {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }
}

/// The length of a character from its first byte; only called on bytes that
/// `simdutf8` accepted as the start of a multi-byte character (0xC2..=0xF4).
fn char_width(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_split_everywhere(input: &[u8]) {
        let expected = std::str::from_utf8(input).is_ok();
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&input[..a]).is_ok()
                    && v.feed(&input[a..b]).is_ok()
                    && v.feed(&input[b..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, expected, "{input:x?} split at {a},{b}");
            }
        }
    }

    #[test]
    fn agrees_with_std_at_every_split() {
        let cases: &[&[u8]] = &[
            b"",
            b"hello",
            "\u{e9}\u{20ac}\u{10348}x".as_bytes(),
            "\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xf0\x8f\xbf\xbf",
            b"\xe0\x80\xaf",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xfe",
            b"\xe2\x82",
            b"a\xf0\x9f\x98",
            b"\x80",
            b"\xc2\xa0\xc2",
        ];
        for c in cases {
            check_split_everywhere(c);
        }
    }

    #[test]
    fn fails_on_the_first_bad_byte() {
        // Autobahn 6.4.1: the bad sequence arrives in the middle of a frame.
        let mut v = Utf8Validator::new();
        assert!(v
            .feed("\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes())
            .is_ok());
        assert_eq!(v.feed(b"\xf4\x90"), Err(InvalidUtf8));
        // A truncated 4-byte character whose 2nd byte is already impossible.
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xf4").is_ok());
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }

    #[test]
    fn incomplete_at_end_fails_finish() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"abc\xe2\x82").is_ok());
        assert!(v.is_incomplete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // finish resets for the next message
        assert!(v.feed(b"ok").is_ok());
        assert!(v.finish().is_ok());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_and_splits_agree_with_std(
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    0x80u8..0xc0,
                    proptest::sample::select(vec![0xc2u8, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5]),
                ],
                0..64,
            ),
            cuts in proptest::collection::vec(0usize..64, 0..6),
            text in "\\PC{0,20}",
        ) {
            // Mostly-valid input (real text) with random bytes spliced in.
            let mut input = text.into_bytes();
            let at = input.len() / 2;
            input.splice(at..at, data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut ok = true;
            let mut prev = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                ok = ok && v.feed(&input[prev..c]).is_ok();
                // Fail fast: once a prefix can never be valid, the validator has said so.
                if let Err(e) = std::str::from_utf8(&input[..c]) {
                    if e.error_len().is_some() {
                        proptest::prop_assert!(!ok, "missed an error in {:x?}", &input[..c]);
                    }
                }
                prev = c;
            }
            ok = ok && v.finish().is_ok();
            proptest::prop_assert_eq!(ok, std::str::from_utf8(&input).is_ok());
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let s = "a\u{e9}\u{20ac}\u{10348}".as_bytes();
        let mut v = Utf8Validator::new();
        for b in s {
            assert!(v.feed(std::slice::from_ref(b)).is_ok());
        }
        assert!(v.finish().is_ok());
    }
}
