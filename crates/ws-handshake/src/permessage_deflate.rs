//! (RFC 7692 section 7.1.)
//!
//! The client builds its `Sec-WebSocket-Extensions` offer with [`DeflateConfig::offer`] and,
//! once the server has answered, turns the accepted extensions into the parameters both
//! sides will use with [`DeflateConfig::negotiate`]. In the server role,
//! [`DeflateConfig::accept_offer`] picks the first acceptable offer of a client and writes the
//! answer. The result, [`DeflateParams`], drives the compressor and decompressor (in
//! `ws-client`, feature `deflate`).
//!
//! ```
//! use ws_handshake::parse_extensions;
//! use ws_handshake::permessage_deflate::DeflateConfig;
//!
//! let config = DeflateConfig::default();
//! assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
//!
//! // The server answers: it keeps no context between its messages and wants us to use a
//! // 1 KiB window.
//! let accepted = parse_extensions(
//!     "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
//! )?;
//! let params = config.negotiate(&accepted)?.expect("the server accepted permessage-deflate");
//! assert_eq!(params.client_max_window_bits, 10);
//! assert_eq!(params.server_max_window_bits, 15);
//! assert!(params.server_no_context_takeover);
//! assert!(!params.client_no_context_takeover);
//!
//! // A malformed answer is refused.
//! let bad = parse_extensions("permessage-deflate; server_max_window_bits=16")?;
//! assert!(config.negotiate(&bad).is_err());
//! # Ok::<(), ws_handshake::HandshakeError>(())
//! ```
//!
//! # Window bits
//!
//! RFC 7692 allows windows of 2^8 to 2^15 bytes. zlib (and therefore flate2 and zlib-rs)
//! cannot produce raw DEFLATE with a 256-byte window, so a compressor whose negotiated
//! maximum is 8 bits compresses with a 9-bit window instead, as zlib itself does for
//! `windowBits = 8`. (Strictly, a peer that inflates with exactly 256 bytes of history could
//! reject back-references of 257 to 512 bytes; zlib-based peers, which do not offer 8-bit
//! windows for that reason, are not affected.) Values outside `8..=15` in a
//! [`DeflateConfig`] are clamped into that range.

use std::fmt::Write as _;

use crate::error::HandshakeError;
use crate::extensions::Extension;
use crate::redact::shorten;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The smallest window RFC 7692 allows, in bits.
pub const MIN_WINDOW_BITS: u8 = 8;

/// The largest (and default) window RFC 7692 allows, in bits: 32 KiB.
pub const MAX_WINDOW_BITS: u8 = 15;

const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";

/// What we offer (client role) or are willing to accept (server role).
///
/// The default offers `permessage-deflate; client_max_window_bits`: full 32 KiB windows and
/// context takeover in both directions, and it tells the server that we honour a smaller
/// client window should it ask for one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeflateConfig {
    /// The largest window our client compressor may use, in bits (`8..=15`).
    ///
    /// Client role: `None` offers the bare `client_max_window_bits` parameter ("the server
    /// may limit my window"); `Some(n)` offers `client_max_window_bits=n` and we never use a
    /// window larger than `n`. Server role: `Some(n)` asks clients that support the parameter
    /// to use at most `n` bits; with `None` we echo the client's own hint, if any.
    pub client_max_window_bits: Option<u8>,
    /// The largest window the server's compressor may use, in bits (`8..=15`).
    ///
    /// Client role: `Some(n)` asks the server for at most `n` bits, and the answer must
    /// confirm it. Server role: `Some(n)` limits our compressor to `n` bits (and we say so in
    /// the answer); `None` uses whatever the client allows, 15 by default.
    pub server_max_window_bits: Option<u8>,
    /// The client resets its compressor after every message.
    ///
    /// Client role: we promise to do so (offered as `client_no_context_takeover`). Server
    /// role: we ask the client to do so.
    pub client_no_context_takeover: bool,
    /// The server resets its compressor after every message.
    ///
    /// Client role: we ask the server to do so, and the answer must confirm it. Server role:
    /// we do so even when the client did not ask.
    pub server_no_context_takeover: bool,
}

/// The negotiated parameters of a `permessage-deflate` connection.
///
/// Window sizes are in bits (`8..=15`, 15 when the handshake did not limit them). The
/// `client_*` fields apply to messages the client sends (the client's compressor and the
/// server's decompressor), the `server_*` fields to messages the server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The largest LZ77 window the client's compressor uses.
    pub client_max_window_bits: u8,
    /// The largest LZ77 window the server's compressor uses.
    pub server_max_window_bits: u8,
    /// The client resets its compressor (and the server its decompressor) after every message.
    pub client_no_context_takeover: bool,
    /// The server resets its compressor (and the client its decompressor) after every message.
    pub server_no_context_takeover: bool,
}

impl Default for DeflateParams {
    /// The parameters of a bare `permessage-deflate` agreement: 15-bit windows and context
    /// takeover in both directions.
    fn default() -> Self {
        DeflateParams {
            client_max_window_bits: MAX_WINDOW_BITS,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
        }
    }
}

impl DeflateConfig {
    /// The `Sec-WebSocket-Extensions` value offering this configuration, e.g.
    /// `permessage-deflate; client_max_window_bits=12; server_no_context_takeover`.
    ///
    /// Pass it to [`RequestBuilder::extensions`](crate::RequestBuilder::extensions).
    pub fn offer(&self) -> String {
        let mut s = String::from(EXTENSION_NAME);
        match clamp(self.client_max_window_bits) {
            Some(bits) => {
                let _ = write!(s, "; {CLIENT_MAX_WINDOW_BITS}={bits}");
            }
            None => {
                s.push_str("; ");
                s.push_str(CLIENT_MAX_WINDOW_BITS);
            }
        }
        if let Some(bits) = clamp(self.server_max_window_bits) {
            let _ = write!(s, "; {SERVER_MAX_WINDOW_BITS}={bits}");
        }
        if self.client_no_context_takeover {
            s.push_str("; ");
            s.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if self.server_no_context_takeover {
            s.push_str("; ");
            s.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        s
    }

    /// Client role: checks the extensions the server accepted (from
    /// [`Accepted::extensions`](crate::Accepted::extensions)) against our [`offer`](Self::offer)
    /// and returns the parameters to use.
    ///
    /// `Ok(None)` means the server did not accept `permessage-deflate` (extensions with other
    /// names are ignored here). The answer is checked strictly, and any of these makes it an
    /// [`HandshakeError::ExtensionNegotiation`] error, since the server's compressed messages
    /// could not be trusted to follow what it announced:
    ///
    /// * `permessage-deflate` appears more than once;
    /// * an unknown parameter, or a parameter given twice;
    /// * a `*_no_context_takeover` with a value, or a `*_max_window_bits` without one, or with
    ///   a value that is not a plain decimal in `8..=15`;
    /// * `client_max_window_bits` larger than the value we offered;
    /// * `server_max_window_bits` larger than we asked for, or missing although we asked;
    /// * `server_no_context_takeover` missing although we asked for it.
    ///
    /// Parameter and extension names are compared ASCII-case-insensitively.
    pub fn negotiate(
        &self,
        accepted: &[Extension],
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        let mut found = None;
        for ext in accepted {
            if ext.name.eq_ignore_ascii_case(EXTENSION_NAME) {
                if found.is_some() {
                    return Err(refused(
                        "it appears more than once in the server's answer; a server may \
                         accept at most one permessage-deflate offer"
                            .to_owned(),
                    ));
                }
                found = Some(ext);
            }
        }
        let Some(ext) = found else {
            return Ok(None);
        };
        let got = Params::parse(ext).map_err(refused)?;

        let our_client_bits = clamp(self.client_max_window_bits);
        let client_max_window_bits = match got.client_max_window_bits {
            None => our_client_bits.unwrap_or(MAX_WINDOW_BITS),
            Some(None) => {
                return Err(refused(format!(
                    "the server's answer has `{CLIENT_MAX_WINDOW_BITS}` without a value; in an \
                     answer it must state the window size (8 to 15)"
                )))
            }
            Some(Some(bits)) => match our_client_bits {
                Some(ours) if bits > ours => {
                    return Err(refused(format!(
                        "the server's answer sets `{CLIENT_MAX_WINDOW_BITS}={bits}`, larger \
                         than the {ours} we offered"
                    )))
                }
                _ => bits,
            },
        };

        let server_max_window_bits = match (
            clamp(self.server_max_window_bits),
            got.server_max_window_bits,
        ) {
            (_, Some(None)) => {
                return Err(refused(format!(
                    "the server's answer has `{SERVER_MAX_WINDOW_BITS}` without a value; it \
                     must state the window size (8 to 15)"
                )))
            }
            (Some(asked), Some(Some(bits))) if bits > asked => {
                return Err(refused(format!(
                    "the server's answer sets `{SERVER_MAX_WINDOW_BITS}={bits}`, larger than \
                     the {asked} we asked for"
                )))
            }
            (Some(asked), None) => {
                return Err(refused(format!(
                    "we asked for `{SERVER_MAX_WINDOW_BITS}={asked}` and the server's answer \
                     does not confirm it"
                )))
            }
            (_, Some(Some(bits))) => bits,
            (None, None) => MAX_WINDOW_BITS,
        };

        if self.server_no_context_takeover && !got.server_no_context_takeover {
            return Err(refused(format!(
                "we asked for `{SERVER_NO_CONTEXT_TAKEOVER}` and the server's answer does not \
                 confirm it"
            )));
        }

        Ok(Some(DeflateParams {
            client_max_window_bits,
            server_max_window_bits,
            client_no_context_takeover: got.client_no_context_takeover
                || self.client_no_context_takeover,
            server_no_context_takeover: got.server_no_context_takeover,
        }))
    }

    /// Server role: picks the first acceptable `permessage-deflate` offer of a client (from
    /// [`Request::extensions`](crate::Request::extensions)) and returns the parameters to use
    /// with the `Sec-WebSocket-Extensions` answer to send (pass it to
    /// [`Request::accept`](crate::Request::accept)).
    ///
    /// `None` means no offer is acceptable: the connection then goes on without compression.
    /// An offer is skipped when it has an unknown, repeated or malformed parameter (RFC 7692
    /// section 7.1 asks a server to decline such offers). Otherwise the answer:
    ///
    /// * confirms `server_no_context_takeover` when the client asked for it or
    ///   [`server_no_context_takeover`](Self::server_no_context_takeover) is set;
    /// * includes `client_no_context_takeover` when the client offered it or
    ///   [`client_no_context_takeover`](Self::client_no_context_takeover) is set;
    /// * sets `server_max_window_bits` to the smaller of the client's request and ours
    ///   (omitted when neither limits it);
    /// * sets `client_max_window_bits` to the smaller of the client's hint and ours, only if
    ///   the client offered the parameter (otherwise the client may use 15 bits).
    pub fn accept_offer(&self, offers: &[Extension]) -> Option<(DeflateParams, String)> {
        offers
            .iter()
            .filter(|ext| ext.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|ext| self.accept_one(ext))
    }

    fn accept_one(&self, offer: &Extension) -> Option<(DeflateParams, String)> {
        let got = Params::parse(offer).ok()?;

        let server_max_window_bits = match got.server_max_window_bits {
            // `server_max_window_bits` must carry a value in an offer.
            Some(None) => return None,
            Some(Some(bits)) => {
                bits.min(clamp(self.server_max_window_bits).unwrap_or(MAX_WINDOW_BITS))
            }
            None => clamp(self.server_max_window_bits).unwrap_or(MAX_WINDOW_BITS),
        };
        let server_bits_in_answer =
            got.server_max_window_bits.is_some() || server_max_window_bits < MAX_WINDOW_BITS;

        let ours = clamp(self.client_max_window_bits);
        let (client_max_window_bits, client_bits_in_answer) = match got.client_max_window_bits {
            None => (MAX_WINDOW_BITS, false),
            Some(hint) => match (hint, ours) {
                (None, None) => (MAX_WINDOW_BITS, false),
                (hint, ours) => (
                    hint.unwrap_or(MAX_WINDOW_BITS)
                        .min(ours.unwrap_or(MAX_WINDOW_BITS)),
                    true,
                ),
            },
        };

        let params = DeflateParams {
            client_max_window_bits,
            server_max_window_bits,
            client_no_context_takeover: got.client_no_context_takeover
                || self.client_no_context_takeover,
            server_no_context_takeover: got.server_no_context_takeover
                || self.server_no_context_takeover,
        };

        let mut answer = String::from(EXTENSION_NAME);
        if params.server_no_context_takeover {
            answer.push_str("; ");
            answer.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if params.client_no_context_takeover {
            answer.push_str("; ");
            answer.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if server_bits_in_answer {
            let _ = write!(
                answer,
                "; {SERVER_MAX_WINDOW_BITS}={server_max_window_bits}"
            );
        }
        if client_bits_in_answer {
            let _ = write!(
                answer,
                "; {CLIENT_MAX_WINDOW_BITS}={client_max_window_bits}"
            );
        }
        Some((params, answer))
    }
}

/// The parameters of one `permessage-deflate` element, syntax-checked.
#[derive(Default)]
struct Params {
    /// `None`: absent; `Some(None)`: present without a value; `Some(Some(n))`: `=n`.
    client_max_window_bits: Option<Option<u8>>,
    server_max_window_bits: Option<Option<u8>>,
    client_no_context_takeover: bool,
    server_no_context_takeover: bool,
}

impl Params {
    /// Parses the parameters of `ext`; the error says which parameter is wrong and why.
    fn parse(ext: &Extension) -> Result<Params, String> {
        let mut p = Params::default();
        let mut seen = [false; 4];
        for (name, value) in &ext.params {
            let value = value.as_deref();
            let (slot, known) = if name.eq_ignore_ascii_case(CLIENT_MAX_WINDOW_BITS) {
                (0, CLIENT_MAX_WINDOW_BITS)
            } else if name.eq_ignore_ascii_case(SERVER_MAX_WINDOW_BITS) {
                (1, SERVER_MAX_WINDOW_BITS)
            } else if name.eq_ignore_ascii_case(CLIENT_NO_CONTEXT_TAKEOVER) {
                (2, CLIENT_NO_CONTEXT_TAKEOVER)
            } else if name.eq_ignore_ascii_case(SERVER_NO_CONTEXT_TAKEOVER) {
                (3, SERVER_NO_CONTEXT_TAKEOVER)
            } else {
                return Err(format!(
                    "unknown parameter `{}` (RFC 7692 defines only {CLIENT_MAX_WINDOW_BITS}, \
                     {SERVER_MAX_WINDOW_BITS}, {CLIENT_NO_CONTEXT_TAKEOVER} and \
                     {SERVER_NO_CONTEXT_TAKEOVER})",
                    shorten(name)
                ));
            };
            if seen[slot] {
                return Err(format!("the parameter `{known}` appears more than once"));
            }
            seen[slot] = true;
            match slot {
                0 => {
                    p.client_max_window_bits =
                        Some(value.map(|v| window_bits(known, v)).transpose()?)
                }
                1 => {
                    p.server_max_window_bits =
                        Some(value.map(|v| window_bits(known, v)).transpose()?)
                }
                _ => {
                    if let Some(v) = value {
                        return Err(format!(
                            "the parameter `{known}` takes no value but has `{}`",
                            shorten(v)
                        ));
                    }
                    if slot == 2 {
                        p.client_no_context_takeover = true;
                    } else {
                        p.server_no_context_takeover = true;
                    }
                }
            }
        }
        Ok(p)
    }
}

/// Parses a window-bits value: a decimal without leading zeros in `8..=15`.
fn window_bits(name: &str, value: &str) -> Result<u8, String> {
    let plain = matches!(value.len(), 1 | 2)
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    match value.parse::<u8>() {
        Ok(bits) if plain && (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits) => Ok(bits),
        _ => Err(format!(
            "`{name}={}` is not a window size; it must be a decimal from 8 to 15 without \
             leading zeros",
            shorten(value)
        )),
    }
}

/// Clamps a configured window size into `8..=15`.
fn clamp(bits: Option<u8>) -> Option<u8> {
    bits.map(|b| b.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS))
}

fn refused(reason: String) -> HandshakeError {
    HandshakeError::ExtensionNegotiation {
        extension: EXTENSION_NAME.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bits_syntax() {
        for ok in ["8", "9", "10", "15"] {
            assert!(window_bits("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "7", "16", "08", "+9", "9 ", "1e1", "255", "256", "0", "-9", "ten",
        ] {
            assert!(window_bits("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clamp_keeps_rfc_range() {
        assert_eq!(clamp(Some(0)), Some(8));
        assert_eq!(clamp(Some(200)), Some(15));
        assert_eq!(clamp(Some(11)), Some(11));
        assert_eq!(clamp(None), None);
    }
}
