//! Bad input: random bytes and byte-at-a-time feeding, checked against the prefix rules and
//! an independent reading of RFC 6455 §5.2.

use ws_frame::{
    Decoded, FrameError, FrameHeader, HeaderDecoder, OpCode, Role, MAX_HEADER_LEN, RSV1, RSV2, RSV3,
};

/// xorshift64*: tiny, deterministic, good enough to spray bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// What the decoder must answer for a buffer that holds at least a whole header, derived
/// directly from the RFC text (field by field, no shortcuts shared with the decoder), and
/// the number of bytes that decide it.
fn oracle(d: &Spec, b: &[u8]) -> (usize, Result<FrameHeader, FrameError>) {
    let fin = b[0] >> 7 == 1;
    let rsv = b[0] & 0x70;
    let op = b[0] & 0x0F;
    if rsv & !d.allowed_rsv != 0 {
        return (1, Err(FrameError::ReservedBits(rsv & !d.allowed_rsv)));
    }
    let opcode = match op {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        _ => return (1, Err(FrameError::ReservedOpcode(op))),
    };
    let control = op >= 8;
    if control && !fin {
        return (1, Err(FrameError::FragmentedControlFrame));
    }
    let masked = b[1] >> 7 == 1;
    if masked && d.role == Role::Client {
        return (2, Err(FrameError::MaskedFrameFromServer));
    }
    if !masked && d.role == Role::Server {
        return (2, Err(FrameError::UnmaskedFrameFromClient));
    }
    let (len, len_end) = match b[1] & 0x7F {
        126 => ((u64::from(b[2]) << 8) | u64::from(b[3]), 4),
        127 => {
            if b[2] >= 0x80 {
                return (3, Err(FrameError::InvalidLength));
            }
            let mut v = 0u64;
            for &x in &b[2..10] {
                v = v * 256 + u64::from(x);
            }
            (v, 10)
        }
        n => (u64::from(n), 2),
    };
    if control && len > 125 {
        return (len_end, Err(FrameError::ControlFrameTooLong(len)));
    }
    if len > d.max {
        return (len_end, Err(FrameError::FrameTooLarge { len, max: d.max }));
    }
    let (mask, end) = if masked {
        (
            Some([b[len_end], b[len_end + 1], b[len_end + 2], b[len_end + 3]]),
            len_end + 4,
        )
    } else {
        (None, len_end)
    };
    (
        end,
        Ok(FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len,
        }),
    )
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    role: Role,
    allowed_rsv: u8,
    max: u64,
}

impl Spec {
    fn decoder(self) -> HeaderDecoder {
        HeaderDecoder::new(self.role)
            .allowed_rsv(self.allowed_rsv)
            .max_frame_size(self.max)
    }
}

/// Feeds every prefix of `bytes` and checks the prefix rules: `Incomplete` (with a
/// truthful `needed`) until the deciding byte, then one fixed answer. Returns that answer
/// and where it was decided, or `None` if `bytes` is too short to decide.
fn check_prefixes(
    decoder: &HeaderDecoder,
    bytes: &[u8],
) -> Option<(usize, Result<Decoded, FrameError>)> {
    let mut settled: Option<(usize, Result<Decoded, FrameError>)> = None;
    let mut needs = Vec::new();
    for k in 0..=bytes.len() {
        let r = decoder.decode(&bytes[..k]);
        match (&settled, r) {
            (None, Ok(Decoded::Incomplete { needed })) => {
                assert!(needed >= 1, "{bytes:02x?}[..{k}]: needed 0");
                needs.push((k, needed));
            }
            (None, r) => settled = Some((k, r)),
            (Some((at, first)), r) => assert_eq!(
                &r, first,
                "{bytes:02x?}: prefix of {k} bytes disagrees with prefix of {at}"
            ),
        }
    }
    if let Some((at, Ok(Decoded::Complete { header_len, .. }))) = &settled {
        assert_eq!(
            at, header_len,
            "{bytes:02x?}: completes at {at} but says {header_len}"
        );
        for (k, needed) in needs {
            // A lower bound, exact once byte 1 is known.
            assert!(
                k + needed <= *header_len,
                "{bytes:02x?}[..{k}]: needed {needed}"
            );
            if k >= 2 {
                assert_eq!(k + needed, *header_len, "{bytes:02x?}[..{k}]");
            }
        }
    }
    if bytes.len() >= MAX_HEADER_LEN {
        assert!(settled.is_some(), "{bytes:02x?}: 14 bytes always decide");
    }
    settled
}

fn random_spec(rng: &mut Rng) -> Spec {
    let role = if rng.below(2) == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let allowed_rsv = [0, 0, RSV1, RSV1, RSV2 | RSV3, 0x70][rng.below(6) as usize];
    let max = [
        u64::MAX >> 1,
        u64::MAX >> 1,
        0,
        125,
        126,
        65535,
        65536,
        16 << 20,
        u64::MAX,
    ][rng.below(9) as usize];
    Spec {
        role,
        allowed_rsv,
        max,
    }
}

/// Random bytes, biased towards headers that get past the first checks so every branch
/// is exercised: plausible first bytes, a mask bit that often fits the role, and lengths
/// that hit the 7/16/64-bit forms and their edges.
fn random_bytes(rng: &mut Rng, spec: &Spec, out: &mut Vec<u8>) {
    out.clear();
    let len = rng.below(20) as usize;
    for _ in 0..len {
        out.push(rng.byte());
    }
    if len >= 1 && rng.below(4) != 0 {
        let ops = [0u8, 1, 2, 8, 9, 10, 3, 0xB];
        let fin = if rng.below(4) == 0 { 0 } else { 0x80 };
        let rsv = if rng.below(3) == 0 {
            rng.byte() & 0x70
        } else {
            0
        };
        out[0] = fin | rsv | ops[rng.below(8) as usize];
    }
    if len >= 2 && rng.below(4) != 0 {
        let mask = match (spec.role, rng.below(8)) {
            (_, 0) => 0x80 & rng.byte(),
            (Role::Client, _) => 0,
            (Role::Server, _) => 0x80,
        };
        let l7 = [0u8, 1, 125, 126, 127, 126, 127][rng.below(7) as usize];
        out[1] = mask
            | if rng.below(5) == 0 {
                rng.byte() & 0x7F
            } else {
                l7
            };
    }
    if len >= 3 && rng.below(2) == 0 {
        // Small extended lengths, so that limits and the control check are near.
        for b in out.iter_mut().take(len.min(10)).skip(2) {
            if rng.below(3) != 0 {
                *b = 0;
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_and_agree_with_every_prefix_and_the_rfc() {
    let mut rng = Rng(0x005E_ED0F_F00D_u64);
    let mut bytes = Vec::new();
    let mut outcomes = [0usize; 10];
    for _ in 0..200_000 {
        let spec = random_spec(&mut rng);
        random_bytes(&mut rng, &spec, &mut bytes);
        let decoder = spec.decoder();
        let Some((at, got)) = check_prefixes(&decoder, &bytes) else {
            outcomes[9] += 1;
            continue;
        };
        // Pad with zeros so the oracle can read every field; the answer was already fixed
        // by the first `at` bytes, so padding cannot change it.
        let mut padded = bytes[..at].to_vec();
        padded.resize(MAX_HEADER_LEN, 0);
        let (want_at, want) = oracle(&spec, &padded);
        assert_eq!(
            at, want_at,
            "{bytes:02x?} with {spec:?}: decided at the wrong byte"
        );
        match (got, want) {
            (Ok(Decoded::Complete { header, header_len }), Ok(h)) => {
                assert_eq!(header, h, "{bytes:02x?} with {spec:?}");
                assert_eq!(header_len, want_at);
                // What we decode, we can encode (minimally) and decode again.
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = header.encode(&mut out);
                assert!(n <= header_len);
                assert_eq!(
                    decoder.decode(&out[..n]),
                    Ok(Decoded::Complete {
                        header,
                        header_len: n
                    })
                );
                outcomes[0] += 1;
            }
            (Err(e), Err(w)) => {
                assert_eq!(e, w, "{bytes:02x?} with {spec:?}");
                let i = match e {
                    FrameError::ReservedOpcode(_) => 1,
                    FrameError::ReservedBits(_) => 2,
                    FrameError::ControlFrameTooLong(_) => 3,
                    FrameError::FragmentedControlFrame => 4,
                    FrameError::InvalidLength => 5,
                    FrameError::FrameTooLarge { .. } => 6,
                    FrameError::MaskedFrameFromServer | FrameError::UnmaskedFrameFromClient => 7,
                    _ => 8,
                };
                outcomes[i] += 1;
            }
            (got, want) => panic!("{bytes:02x?} with {spec:?}: got {got:?}, want {want:?}"),
        }
    }
    // The generator must actually reach every outcome, or the test proves little.
    for (i, &n) in outcomes.iter().enumerate().take(8) {
        assert!(n >= 100, "outcome {i} reached only {n} times: {outcomes:?}");
    }
}

#[test]
fn valid_frames_fed_one_byte_at_a_time() {
    let ops = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];
    let lens = [0u64, 1, 125, 126, 65535, 65536, u64::MAX >> 1];
    let mut count = 0;
    for role in [Role::Client, Role::Server] {
        // Frames the *peer* sends us: masked iff we are the server.
        let masked = role == Role::Server;
        for opcode in ops {
            for &payload_len in &lens {
                if opcode.is_control() && payload_len > 125 {
                    continue;
                }
                for fin in [true, false] {
                    if opcode.is_control() && !fin {
                        continue;
                    }
                    for rsv in [0, RSV1, RSV1 | RSV2 | RSV3] {
                        let header = FrameHeader {
                            fin,
                            rsv,
                            opcode,
                            mask: masked.then_some([0xde, 0xad, 0xbe, 0xef]),
                            payload_len,
                        };
                        let mut buf = [0u8; MAX_HEADER_LEN];
                        let n = header.encode(&mut buf);
                        assert_eq!(n, header.encoded_len());
                        let mut wire = buf[..n].to_vec();
                        wire.extend_from_slice(b"payload bytes follow");
                        let decoder = HeaderDecoder::new(role).allowed_rsv(rsv);
                        let (at, r) = check_prefixes(&decoder, &wire).expect("decides");
                        assert_eq!(at, n);
                        assert_eq!(
                            r,
                            Ok(Decoded::Complete {
                                header,
                                header_len: n
                            })
                        );
                        // And the peer's role refuses it, from byte 1.
                        let wrong = HeaderDecoder::new(role.peer()).allowed_rsv(rsv);
                        let (at, r) = check_prefixes(&wrong, &wire).expect("decides");
                        assert_eq!(at, 2);
                        assert!(r.is_err());
                        count += 1;
                    }
                }
            }
        }
    }
    assert_eq!(count, 2 * 3 * (3 * 7 * 2 + 3 * 3));
}

#[test]
fn encoder_uses_the_minimal_length_form() {
    let cases: [(u64, usize, &[u8]); 7] = [
        (0, 2, &[0x82, 0x00]),
        (125, 2, &[0x82, 0x7D]),
        (126, 4, &[0x82, 0x7E, 0x00, 0x7E]),
        (65535, 4, &[0x82, 0x7E, 0xFF, 0xFF]),
        (65536, 10, &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
        (
            u64::MAX >> 1,
            10,
            &[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ),
        (0x0102_0304_0506, 10, &[0x82, 0x7F, 0, 0, 1, 2, 3, 4, 5, 6]),
    ];
    for (len, n, bytes) in cases {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            payload_len: len,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        assert_eq!(h.encode(&mut out), n);
        assert_eq!(h.encoded_len(), n);
        assert_eq!(&out[..n], bytes);

        let masked = FrameHeader {
            mask: Some([1, 2, 3, 4]),
            ..h
        };
        assert_eq!(masked.encode(&mut out), n + 4);
        assert_eq!(masked.encoded_len(), n + 4);
        assert_eq!(out[1] & 0x80, 0x80);
        assert_eq!(&out[n..n + 4], &[1, 2, 3, 4]);
    }
}

#[test]
fn encoder_writes_fin_rsv_and_opcode() {
    let h = FrameHeader {
        fin: false,
        rsv: RSV1 | 0x0F, // bits outside 0x70 are ignored
        opcode: OpCode::Text,
        mask: None,
        payload_len: 3,
    };
    let mut out = [0u8; MAX_HEADER_LEN];
    assert_eq!(h.encode(&mut out), 2);
    assert_eq!(&out[..2], &[0x41, 0x03]);
    let close = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Close,
        mask: Some([0x37, 0xfa, 0x21, 0x3d]),
        payload_len: 2,
    };
    assert_eq!(close.encode(&mut out), 6);
    assert_eq!(&out[..6], &[0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d]);
}
