//! Header decoding: RFC examples, each rejection, and how early it is reported.

use ws_frame::{
    Decoded, FrameError, FrameHeader, HeaderDecoder, OpCode, Role, MAX_HEADER_LEN, RSV1, RSV2, RSV3,
};

fn client() -> HeaderDecoder {
    HeaderDecoder::new(Role::Client)
}

fn server() -> HeaderDecoder {
    HeaderDecoder::new(Role::Server)
}

/// The shortest prefix of `bytes` for which `decoder` gives a final answer, and that
/// answer; checks that every longer prefix gives the same answer and every shorter one is
/// `Incomplete`.
fn settle(decoder: &HeaderDecoder, bytes: &[u8]) -> (usize, Result<Decoded, FrameError>) {
    let mut first = None;
    for k in 0..=bytes.len() {
        let r = decoder.decode(&bytes[..k]);
        match (&first, r) {
            (None, Ok(Decoded::Incomplete { needed })) => assert!(needed >= 1),
            (None, r) => first = Some((k, r)),
            (Some((_, f)), r) => assert_eq!(&r, f, "prefix of {k} bytes disagrees"),
        }
    }
    first.unwrap_or_else(|| panic!("{bytes:02x?} never settles"))
}

fn complete(header: FrameHeader, header_len: usize) -> Result<Decoded, FrameError> {
    Ok(Decoded::Complete { header, header_len })
}

fn hdr(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len,
    }
}

// ---- RFC 6455 §5.7 examples ------------------------------------------------------------

#[test]
fn rfc_unmasked_text() {
    let frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(
        settle(&client(), &frame),
        (2, complete(hdr(true, OpCode::Text, None, 5), 2))
    );
}

#[test]
fn rfc_masked_text() {
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let key = Some([0x37, 0xfa, 0x21, 0x3d]);
    assert_eq!(
        settle(&server(), &frame),
        (6, complete(hdr(true, OpCode::Text, key, 5), 6))
    );
}

#[test]
fn rfc_fragmented_text() {
    assert_eq!(
        client().decode(&[0x01, 0x03, 0x48, 0x65, 0x6c]),
        complete(hdr(false, OpCode::Text, None, 3), 2)
    );
    assert_eq!(
        client().decode(&[0x80, 0x02, 0x6c, 0x6f]),
        complete(hdr(true, OpCode::Continuation, None, 2), 2)
    );
}

#[test]
fn rfc_ping_and_pong() {
    assert_eq!(
        client().decode(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
        complete(hdr(true, OpCode::Ping, None, 5), 2)
    );
    let key = [0x37, 0xfa, 0x21, 0x3d];
    assert_eq!(
        server().decode(&[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
        complete(hdr(true, OpCode::Pong, Some(key), 5), 6)
    );
}

#[test]
fn rfc_extended_lengths() {
    assert_eq!(
        settle(&client(), &[0x82, 0x7E, 0x01, 0x00]),
        (4, complete(hdr(true, OpCode::Binary, None, 256), 4))
    );
    assert_eq!(
        settle(&client(), &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
        (10, complete(hdr(true, OpCode::Binary, None, 65536), 10))
    );
}

#[test]
fn largest_legal_length() {
    let frame = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_eq!(
        client().decode(&frame),
        complete(hdr(true, OpCode::Binary, None, u64::MAX >> 1), 10)
    );
}

// ---- Incomplete ------------------------------------------------------------------------

#[test]
fn incomplete_counts_the_missing_header_bytes() {
    let needed = |d: HeaderDecoder, b: &[u8]| match d.decode(b) {
        Ok(Decoded::Incomplete { needed }) => needed,
        other => panic!("{b:02x?}: {other:?}"),
    };
    assert_eq!(needed(client(), &[]), 2);
    assert_eq!(needed(client(), &[0x82]), 1);
    assert_eq!(needed(client(), &[0x82, 0x7E]), 2);
    assert_eq!(needed(client(), &[0x82, 0x7E, 0x01]), 1);
    assert_eq!(needed(client(), &[0x82, 0x7F]), 8);
    assert_eq!(needed(client(), &[0x82, 0x7F, 0, 0, 0]), 5);
    assert_eq!(needed(server(), &[0x82, 0x85]), 4);
    assert_eq!(needed(server(), &[0x82, 0xFE]), 6);
    assert_eq!(needed(server(), &[0x82, 0xFF]), 12);
    assert_eq!(
        needed(server(), &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2]),
        2
    );
}

#[test]
fn bytes_after_the_header_are_ignored() {
    let mut frame = vec![0x82, 0x03];
    frame.extend_from_slice(&[0xAA; 100]);
    assert_eq!(
        client().decode(&frame),
        complete(hdr(true, OpCode::Binary, None, 3), 2)
    );
}

#[test]
fn non_minimal_lengths_are_accepted() {
    // 5 in the 16-bit form, and in the 64-bit form; also on a control frame.
    assert_eq!(
        client().decode(&[0x82, 0x7E, 0x00, 0x05]),
        complete(hdr(true, OpCode::Binary, None, 5), 4)
    );
    assert_eq!(
        client().decode(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5]),
        complete(hdr(true, OpCode::Binary, None, 5), 10)
    );
    assert_eq!(
        client().decode(&[0x89, 0x7E, 0x00, 0x7D]),
        complete(hdr(true, OpCode::Ping, None, 125), 4)
    );
}

// ---- Rejections, and the prefix at which each is first reported -----------------------

#[test]
fn reserved_opcodes_are_rejected_from_the_first_byte() {
    for op in (3..=7).chain(0xB..=0xF) {
        for fin in [0x00, 0x80] {
            let frame = [fin | op, 0x00, 0, 0, 0, 0];
            assert_eq!(
                settle(&client(), &frame),
                (1, Err(FrameError::ReservedOpcode(op)))
            );
            assert_eq!(FrameError::ReservedOpcode(op).close_code().as_u16(), 1002);
        }
    }
}

#[test]
fn rsv_bits_are_rejected_unless_allowed() {
    for rsv in [
        0u8,
        RSV1,
        RSV2,
        RSV3,
        RSV1 | RSV2,
        RSV1 | RSV3,
        RSV2 | RSV3,
        0x70,
    ] {
        for allowed in [0u8, RSV1, RSV2, RSV1 | RSV2 | RSV3] {
            let d = client().allowed_rsv(allowed);
            let frame = [0x82 | rsv, 0x01, 0xFF];
            let (at, r) = settle(&d, &frame);
            if rsv & !allowed == 0 {
                let want = FrameHeader {
                    rsv,
                    ..hdr(true, OpCode::Binary, None, 1)
                };
                assert_eq!((at, r), (2, complete(want, 2)));
            } else {
                assert_eq!((at, r), (1, Err(FrameError::ReservedBits(rsv & !allowed))));
            }
        }
    }
}

#[test]
fn set_allowed_rsv_changes_an_existing_decoder() {
    let mut d = client();
    assert_eq!(d.decode(&[0xC1]), Err(FrameError::ReservedBits(RSV1)));
    d.set_allowed_rsv(RSV1);
    assert_eq!(d.decode(&[0xC1]), Ok(Decoded::Incomplete { needed: 1 }));
    // Bits outside 0x70 are ignored.
    assert_eq!(
        client().allowed_rsv(0x8F).decode(&[0xC1]),
        Err(FrameError::ReservedBits(RSV1))
    );
}

#[test]
fn fragmented_control_frames_are_rejected_from_the_first_byte() {
    for op in [0x8, 0x9, 0xA] {
        assert_eq!(
            settle(&client(), &[op, 0x00]),
            (1, Err(FrameError::FragmentedControlFrame))
        );
    }
    // FIN = 0 is fine on data frames.
    for op in [0x0, 0x1, 0x2] {
        assert!(matches!(
            client().decode(&[op, 0x00]),
            Ok(Decoded::Complete { .. })
        ));
    }
}

#[test]
fn long_control_frames_are_rejected_once_the_length_is_known() {
    for op in [0x88, 0x89, 0x8A] {
        assert!(matches!(
            client().decode(&[op, 125]),
            Ok(Decoded::Complete { .. })
        ));
        assert_eq!(
            settle(&client(), &[op, 0x7E, 0x00, 0x7E]),
            (4, Err(FrameError::ControlFrameTooLong(126)))
        );
        assert_eq!(
            settle(&client(), &[op, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
            (10, Err(FrameError::ControlFrameTooLong(65536)))
        );
        // Checked before the masking key arrives.
        assert_eq!(
            settle(&server(), &[op, 0xFE, 0xFF, 0xFF, 1, 2, 3, 4]),
            (4, Err(FrameError::ControlFrameTooLong(65535)))
        );
    }
}

#[test]
fn sixty_four_bit_length_with_top_bit_is_rejected_from_its_first_byte() {
    for top in [0x80, 0xFF] {
        let frame = [0x82, 0x7F, top, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            settle(&client(), &frame),
            (3, Err(FrameError::InvalidLength))
        );
    }
    // Also when the frame would be too large and is a control frame.
    let d = client().max_frame_size(10);
    assert_eq!(
        settle(&d, &[0x89, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        (3, Err(FrameError::InvalidLength))
    );
}

#[test]
fn max_frame_size_is_checked_from_the_header_alone() {
    let d = server().max_frame_size(1000);
    // 1000 is allowed, 1001 is not; the error comes before the masking key.
    let ok = [0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4];
    assert_eq!(
        settle(&d, &ok),
        (
            8,
            complete(hdr(true, OpCode::Binary, Some([1, 2, 3, 4]), 1000), 8)
        )
    );
    let big = [0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4];
    let err = FrameError::FrameTooLarge {
        len: 1001,
        max: 1000,
    };
    assert_eq!(settle(&d, &big), (4, Err(err)));
    assert_eq!(err.close_code().as_u16(), 1009);

    // A 2^62-byte declaration is refused with 10 bytes in hand.
    let d = client().max_frame_size(16 << 20);
    let huge = [0x82, 0x7F, 0x40, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        settle(&d, &huge),
        (
            10,
            Err(FrameError::FrameTooLarge {
                len: 1 << 62,
                max: 16 << 20
            })
        )
    );
    // ... and accepted by the default limit.
    assert!(matches!(
        client().decode(&huge),
        Ok(Decoded::Complete { .. })
    ));

    // A limit of 0 allows only empty frames; 7-bit lengths are checked at byte 1.
    let d = client().max_frame_size(0);
    assert!(matches!(
        d.decode(&[0x82, 0x00]),
        Ok(Decoded::Complete { .. })
    ));
    assert_eq!(
        settle(&d, &[0x82, 0x01]),
        (2, Err(FrameError::FrameTooLarge { len: 1, max: 0 }))
    );
}

#[test]
fn masking_must_match_the_role() {
    assert_eq!(
        settle(&client(), &[0x82, 0x80, 1, 2, 3, 4]),
        (2, Err(FrameError::MaskedFrameFromServer))
    );
    assert_eq!(
        settle(&server(), &[0x82, 0x00]),
        (2, Err(FrameError::UnmaskedFrameFromClient))
    );
    assert_eq!(client().role(), Role::Client);
    assert_eq!(Role::Client.peer(), Role::Server);
    assert!(Role::Client.masks_outgoing());
    assert!(!Role::Server.masks_outgoing());
}

#[test]
fn the_earliest_deciding_byte_wins() {
    // RSV and opcode and FIN all wrong in byte 0, mask wrong in byte 1: RSV first.
    assert_eq!(
        settle(&client(), &[0x40 | 0x0B, 0x80]),
        (1, Err(FrameError::ReservedBits(0x40)))
    );
    // Opcode before fragmentation (0x0B is not a control opcode: it is reserved).
    assert_eq!(
        settle(&client(), &[0x0B, 0x80]),
        (1, Err(FrameError::ReservedOpcode(0x0B)))
    );
    // Fragmented control before masking.
    assert_eq!(
        settle(&client(), &[0x09, 0x80]),
        (1, Err(FrameError::FragmentedControlFrame))
    );
    // Masking before length problems.
    assert_eq!(
        settle(&client().max_frame_size(1), &[0x89, 0xFF, 0x80]),
        (2, Err(FrameError::MaskedFrameFromServer))
    );
    // Invalid 64-bit length before control length.
    assert_eq!(
        settle(&client(), &[0x89, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        (3, Err(FrameError::InvalidLength))
    );
    // Control length before the size limit.
    assert_eq!(
        settle(&client().max_frame_size(10), &[0x89, 0x7E, 0x00, 0x80]),
        (4, Err(FrameError::ControlFrameTooLong(128)))
    );
}

#[test]
fn header_never_exceeds_max_header_len() {
    let frame = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9, 0xEE];
    match server().decode(&frame) {
        Ok(Decoded::Complete { header_len, .. }) => assert_eq!(header_len, MAX_HEADER_LEN),
        other => panic!("{other:?}"),
    }
}
