//! RFC 6455 §7.4 close codes: which may be sent, and their conversions.

use ws_frame::{CloseCode, FrameError};

#[test]
fn named_constants_have_their_rfc_values() {
    let table = [
        (CloseCode::NORMAL, 1000, true),
        (CloseCode::GOING_AWAY, 1001, true),
        (CloseCode::PROTOCOL_ERROR, 1002, true),
        (CloseCode::UNSUPPORTED_DATA, 1003, true),
        (CloseCode::NO_STATUS, 1005, false),
        (CloseCode::ABNORMAL, 1006, false),
        (CloseCode::INVALID_PAYLOAD, 1007, true),
        (CloseCode::POLICY_VIOLATION, 1008, true),
        (CloseCode::MESSAGE_TOO_BIG, 1009, true),
        (CloseCode::MANDATORY_EXTENSION, 1010, true),
        (CloseCode::INTERNAL_ERROR, 1011, true),
        (CloseCode::SERVICE_RESTART, 1012, true),
        (CloseCode::TRY_AGAIN_LATER, 1013, true),
        (CloseCode::BAD_GATEWAY, 1014, true),
        (CloseCode::TLS_HANDSHAKE, 1015, false),
    ];
    for (code, value, sendable) in table {
        assert_eq!(code.as_u16(), value);
        assert_eq!(code.is_sendable(), sendable, "{value}");
        assert!(code.name().is_some(), "{value} has a registered name");
    }
}

#[test]
fn sendable_boundaries() {
    let sendable = [
        1000, 1001, 1002, 1003, 1007, 1010, 1014, 3000, 3999, 4000, 4999,
    ];
    let not_sendable = [
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 5001, 9999, 65535,
    ];
    for c in sendable {
        assert!(CloseCode::new(c).is_sendable(), "{c} may be sent");
    }
    for c in not_sendable {
        assert!(!CloseCode::new(c).is_sendable(), "{c} must not be sent");
    }
}

#[test]
fn exactly_2012_codes_are_sendable() {
    // 1000-1003 (4) + 1007-1014 (8) + 3000-4999 (2000).
    let n = (0..=u16::MAX)
        .filter(|&c| CloseCode::from(c).is_sendable())
        .count();
    assert_eq!(n, 4 + 8 + 2000);
}

#[test]
fn reserved_and_local_only_ranges_are_never_sendable() {
    for c in (0..1000)
        .chain(1004..=1006)
        .chain(1015..3000)
        .chain(5000..=u16::MAX)
    {
        assert!(!CloseCode::new(c).is_sendable(), "{c}");
    }
}

#[test]
fn conversions_round_trip() {
    for c in [0u16, 1000, 1234, 4000, u16::MAX] {
        let code = CloseCode::from(c);
        assert_eq!(u16::from(code), c);
        assert_eq!(CloseCode::new(c), code);
    }
}

#[test]
fn display_names_standard_codes() {
    assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
    assert_eq!(
        CloseCode::MESSAGE_TOO_BIG.to_string(),
        "1009 (message too big)"
    );
    assert_eq!(CloseCode::new(4321).to_string(), "4321");
    assert_eq!(CloseCode::new(4321).name(), None);
}

#[test]
fn frame_errors_name_their_close_code() {
    let too_big = FrameError::FrameTooLarge { len: 10, max: 5 };
    assert_eq!(too_big.close_code(), CloseCode::MESSAGE_TOO_BIG);
    let protocol = [
        FrameError::ReservedOpcode(3),
        FrameError::ReservedBits(0x40),
        FrameError::ControlFrameTooLong(126),
        FrameError::FragmentedControlFrame,
        FrameError::InvalidLength,
        FrameError::MaskedFrameFromServer,
        FrameError::UnmaskedFrameFromClient,
    ];
    for e in protocol {
        assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR, "{e:?}");
        assert!(e.to_string().contains("1002"), "{e}");
    }
    assert!(too_big.to_string().contains("1009"), "{too_big}");
    assert!(too_big.to_string().contains("10 bytes"), "{too_big}");
    for e in protocol.iter().chain([&too_big]) {
        assert!(e.close_code().is_sendable());
    }
}
