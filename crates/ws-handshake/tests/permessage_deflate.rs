//! permessage-deflate negotiation (RFC 7692 section 7.1): offers, answers accepted and
//! refused by the client, and offers accepted and declined by the server.
// Test helpers outside #[test] functions unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ws_handshake::permessage_deflate::{DeflateConfig, DeflateParams};
use ws_handshake::{parse_extensions, HandshakeError};

fn cfg(client_bits: Option<u8>, server_bits: Option<u8>, cnct: bool, snct: bool) -> DeflateConfig {
    DeflateConfig {
        client_max_window_bits: client_bits,
        server_max_window_bits: server_bits,
        client_no_context_takeover: cnct,
        server_no_context_takeover: snct,
    }
}

fn params(client_bits: u8, server_bits: u8, cnct: bool, snct: bool) -> DeflateParams {
    DeflateParams {
        client_max_window_bits: client_bits,
        server_max_window_bits: server_bits,
        client_no_context_takeover: cnct,
        server_no_context_takeover: snct,
    }
}

fn negotiate(
    config: &DeflateConfig,
    answer: &str,
) -> Result<Option<DeflateParams>, HandshakeError> {
    config.negotiate(&parse_extensions(answer).unwrap())
}

#[test]
fn offers() {
    let cases = [
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            cfg(Some(10), None, false, false),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            cfg(None, Some(12), true, true),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=12; \
             client_no_context_takeover; server_no_context_takeover",
        ),
        // Out-of-range configuration is clamped into 8..=15.
        (
            cfg(Some(3), Some(99), false, false),
            "permessage-deflate; client_max_window_bits=8; server_max_window_bits=15",
        ),
    ];
    for (config, expected) in cases {
        let offer = config.offer();
        assert_eq!(offer, expected);
        // Every offer is a valid extension list that our own server role accepts.
        let parsed = parse_extensions(&offer).unwrap();
        assert!(
            DeflateConfig::default().accept_offer(&parsed).is_some(),
            "{offer}"
        );
    }
}

#[test]
fn client_accepts_valid_answers() {
    let default = DeflateConfig::default();
    let cases: Vec<(DeflateConfig, &str, DeflateParams)> = vec![
        (default, "permessage-deflate", params(15, 15, false, false)),
        (default, "PerMessage-Deflate", params(15, 15, false, false)),
        (
            default,
            "permessage-deflate; server_no_context_takeover",
            params(15, 15, false, true),
        ),
        (
            default,
            "permessage-deflate; client_no_context_takeover",
            params(15, 15, true, false),
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=9",
            params(9, 15, false, false),
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=8",
            params(8, 15, false, false),
        ),
        // The server may limit its own window even unasked.
        (
            default,
            "permessage-deflate; server_max_window_bits=10",
            params(15, 10, false, false),
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=\"11\"",
            params(15, 11, false, false),
        ),
        (
            default,
            "permessage-deflate;SERVER_NO_CONTEXT_TAKEOVER ; Client_Max_Window_Bits=12",
            params(12, 15, false, true),
        ),
        // Our client hint is kept when the server does not answer it.
        (
            cfg(Some(11), None, false, false),
            "permessage-deflate",
            params(11, 15, false, false),
        ),
        (
            cfg(Some(11), None, false, false),
            "permessage-deflate; client_max_window_bits=11",
            params(11, 15, false, false),
        ),
        (
            cfg(Some(11), None, false, false),
            "permessage-deflate; client_max_window_bits=9",
            params(9, 15, false, false),
        ),
        // We promised no context takeover: it holds even if the server does not echo it.
        (
            cfg(None, None, true, false),
            "permessage-deflate",
            params(15, 15, true, false),
        ),
        (
            cfg(None, Some(10), false, true),
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
            params(15, 10, false, true),
        ),
        (
            cfg(None, Some(10), false, false),
            "permessage-deflate; server_max_window_bits=8",
            params(15, 8, false, false),
        ),
        // Other extensions are not our business here.
        (
            default,
            "x-other; a=1, permessage-deflate; server_no_context_takeover",
            params(15, 15, false, true),
        ),
    ];
    for (config, answer, expected) in cases {
        assert_eq!(
            negotiate(&config, answer).unwrap_or_else(|e| panic!("{answer}: {e}")),
            Some(expected),
            "{answer}"
        );
    }
}

#[test]
fn client_without_deflate_in_answer_gets_none() {
    let config = DeflateConfig::default();
    assert_eq!(config.negotiate(&[]).unwrap(), None);
    assert_eq!(negotiate(&config, "x-other").unwrap(), None);
}

#[test]
fn client_refuses_invalid_answers() {
    let default = DeflateConfig::default();
    let cases: Vec<(DeflateConfig, &str, &str)> = vec![
        (
            default,
            "permessage-deflate; foo",
            "unknown parameter `foo`",
        ),
        (default, "permessage-deflate; foo=1", "unknown parameter"),
        (
            default,
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "more than once",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
            "more than once",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=10; Server_Max_Window_Bits=11",
            "more than once",
        ),
        (
            default,
            "permessage-deflate; server_no_context_takeover=1",
            "takes no value",
        ),
        (
            default,
            "permessage-deflate; client_no_context_takeover=true",
            "takes no value",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits",
            "without a value",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits",
            "without a value",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=7",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=16",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=0",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=09",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=256",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=1e1",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits=abc",
            "not a window size",
        ),
        (
            default,
            "permessage-deflate, permessage-deflate",
            "more than once",
        ),
        (
            default,
            "permessage-deflate; server_no_context_takeover, x-y, permessage-deflate",
            "more than once",
        ),
        (
            cfg(Some(10), None, false, false),
            "permessage-deflate; client_max_window_bits=11",
            "larger than the 10 we offered",
        ),
        (
            cfg(None, Some(10), false, false),
            "permessage-deflate; server_max_window_bits=11",
            "larger than the 10 we asked for",
        ),
        (
            cfg(None, Some(10), false, false),
            "permessage-deflate",
            "does not confirm",
        ),
        (
            cfg(None, None, false, true),
            "permessage-deflate",
            "does not confirm",
        ),
        (
            cfg(None, None, false, true),
            "permessage-deflate; client_no_context_takeover",
            "server_no_context_takeover",
        ),
    ];
    for (config, answer, needle) in cases {
        let err = match negotiate(&config, answer) {
            Err(e) => e,
            Ok(p) => panic!("{answer}: accepted as {p:?}"),
        };
        assert!(
            matches!(err, HandshakeError::ExtensionNegotiation { .. }),
            "{answer}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(needle), "{answer}: {text}");
        assert!(text.contains("permessage-deflate"), "{text}");
    }
}

fn accept(config: &DeflateConfig, offers: &str) -> Option<(DeflateParams, String)> {
    config.accept_offer(&parse_extensions(offers).unwrap())
}

#[test]
fn server_accepts_offers() {
    let default = DeflateConfig::default();
    let cases: Vec<(DeflateConfig, &str, DeflateParams, &str)> = vec![
        (
            default,
            "permessage-deflate",
            params(15, 15, false, false),
            "permessage-deflate",
        ),
        (
            default,
            "permessage-deflate; client_max_window_bits",
            params(15, 15, false, false),
            "permessage-deflate",
        ),
        // A client hint is echoed: it lets us inflate with a smaller window.
        (
            default,
            "permessage-deflate; client_max_window_bits=10",
            params(10, 15, false, false),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=9; server_no_context_takeover; \
             client_no_context_takeover",
            params(15, 9, true, true),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9",
        ),
        (
            default,
            "permessage-deflate; server_max_window_bits=15",
            params(15, 15, false, false),
            "permessage-deflate; server_max_window_bits=15",
        ),
        (
            cfg(Some(11), Some(12), false, false),
            "permessage-deflate; client_max_window_bits",
            params(11, 12, false, false),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=11",
        ),
        (
            cfg(Some(11), Some(12), false, false),
            "permessage-deflate; client_max_window_bits=9; server_max_window_bits=13",
            params(9, 12, false, false),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
        ),
        (
            cfg(Some(11), Some(12), false, false),
            "permessage-deflate; server_max_window_bits=10",
            params(15, 10, false, false),
            "permessage-deflate; server_max_window_bits=10",
        ),
        (
            cfg(None, None, true, true),
            "permessage-deflate",
            params(15, 15, true, true),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        // The first acceptable offer wins; invalid ones are skipped.
        (
            default,
            "permessage-deflate; foo, permessage-deflate; server_max_window_bits=16, \
             permessage-deflate; server_max_window_bits, permessage-deflate; \
             server_max_window_bits=11, permessage-deflate",
            params(15, 11, false, false),
            "permessage-deflate; server_max_window_bits=11",
        ),
        (
            default,
            "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover",
            params(15, 15, true, false),
            "permessage-deflate; client_no_context_takeover",
        ),
    ];
    for (config, offers, expected, answer) in cases {
        let (got, text) = accept(&config, offers).unwrap_or_else(|| panic!("declined {offers}"));
        assert_eq!(got, expected, "{offers}");
        assert_eq!(text, answer, "{offers}");
        // The answer is one our client role accepts with the same parameters, given the
        // offer it answers.
        let offered = parse_extensions(offers).unwrap();
        let chosen = offered
            .iter()
            .find(|e| config.accept_offer(std::slice::from_ref(e)).is_some())
            .unwrap();
        let client_side = client_config_of(chosen);
        assert_eq!(
            client_side
                .negotiate(&parse_extensions(&text).unwrap())
                .unwrap(),
            Some(expected),
            "{offers} -> {text}"
        );
    }
}

/// The client configuration whose offer is `ext`.
fn client_config_of(ext: &ws_handshake::Extension) -> DeflateConfig {
    let bits = |name: &str| ext.param(name).flatten().map(|v| v.parse::<u8>().unwrap());
    DeflateConfig {
        client_max_window_bits: bits("client_max_window_bits"),
        server_max_window_bits: bits("server_max_window_bits"),
        client_no_context_takeover: ext.param("client_no_context_takeover").is_some(),
        server_no_context_takeover: ext.param("server_no_context_takeover").is_some(),
    }
}

#[test]
fn server_declines_when_nothing_acceptable() {
    let default = DeflateConfig::default();
    for offers in [
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; unknown",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ] {
        assert_eq!(accept(&default, offers), None, "{offers:?}");
    }
}
