//! `parse_extensions` (RFC 6455 section 9.1 / RFC 7692 syntax).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_handshake::{parse_extensions, Extension, HandshakeError};

fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
    Extension {
        name: name.into(),
        params: params
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_owned)))
            .collect(),
    }
}

#[test]
fn valid_lists() {
    let cases: Vec<(&str, Vec<Extension>)> = vec![
        ("", vec![]),
        ("   ", vec![]),
        (" , ,", vec![]),
        ("foo", vec![ext("foo", &[])]),
        ("foo, bar", vec![ext("foo", &[]), ext("bar", &[])]),
        ("foo,bar", vec![ext("foo", &[]), ext("bar", &[])]),
        ("foo;a", vec![ext("foo", &[("a", None)])]),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            vec![ext(
                "permessage-deflate",
                &[
                    ("client_max_window_bits", None),
                    ("server_max_window_bits", Some("10")),
                ],
            )],
        ),
        (
            "\tfoo ;\ta = 1 ; b=\"2\" , bar ; c ",
            vec![
                ext("foo", &[("a", Some("1")), ("b", Some("2"))]),
                ext("bar", &[("c", None)]),
            ],
        ),
        ("foo; a=\"x\\-y\"", vec![ext("foo", &[("a", Some("x-y"))])]),
        (
            "permessage-deflate; client_max_window_bits=15, permessage-deflate",
            vec![
                ext(
                    "permessage-deflate",
                    &[("client_max_window_bits", Some("15"))],
                ),
                ext("permessage-deflate", &[]),
            ],
        ),
        (
            "x-webkit-deflate-frame,",
            vec![ext("x-webkit-deflate-frame", &[])],
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_extensions(input).unwrap(), expected, "{input:?}");
    }
}

#[test]
fn malformed_lists() {
    for input in [
        ";",
        "foo;",
        "foo; ",
        "foo;;a",
        "foo; =1",
        "foo; a=",
        "foo; a= ,bar",
        "foo=1",
        "foo bar",
        "foo; a b",
        "foo; a=1 2",
        "foo; a=\"unterminated",
        "foo; a=\"trailing backslash\\",
        "foo; a=\"not a token\"",
        "foo; a=\"\"",
        "foo; a=\"x\"y",
        "fo\"o",
        "foo; a=1;",
        "(foo)",
        "foo, ;a",
        "ü",
        "foo; a=ü",
        "foo\r\n",
    ] {
        let err = parse_extensions(input).unwrap_err();
        match &err {
            HandshakeError::InvalidExtensions { value, reason } => {
                assert_eq!(value, input);
                assert!(!reason.is_empty());
            }
            other => panic!("{input:?}: {other:?}"),
        }
        assert!(err.to_string().contains("Sec-WebSocket-Extensions"));
    }
}

#[test]
fn display_round_trips() {
    for input in [
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
        "foo, bar; a=1; b",
    ] {
        let parsed = parse_extensions(input).unwrap();
        let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(shown.join(", "), input);
        assert_eq!(parse_extensions(&shown.join(", ")).unwrap(), parsed);
    }
    // Values that are not tokens are quoted (only user-built extensions can hold them).
    let e = ext("x", &[("a", Some("b c\"d"))]);
    assert_eq!(e.to_string(), "x; a=\"b c\\\"d\"");
}

#[test]
fn param_lookup() {
    let e = &parse_extensions(
        "permessage-deflate; Server_No_Context_Takeover; client_max_window_bits=9",
    )
    .unwrap()[0];
    assert_eq!(e.param("server_no_context_takeover"), Some(None));
    assert_eq!(e.param("client_max_window_bits"), Some(Some("9")));
    assert_eq!(e.param("server_max_window_bits"), None);
}

#[test]
fn long_malformed_values_are_shortened_in_errors() {
    let input = format!("foo; a={}", "=".repeat(10_000));
    match parse_extensions(&input).unwrap_err() {
        HandshakeError::InvalidExtensions { value, .. } => assert!(value.len() < 120),
        other => panic!("{other:?}"),
    }
}
