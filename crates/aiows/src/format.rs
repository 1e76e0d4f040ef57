//! Turning input lines into messages and messages into output lines: hex, base64,
//! timestamps.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use aiowebsocket::Message;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::args::{BinaryOut, InputMode};

/// Builds the message for one line of input (its line ending already removed).
pub fn message_from_line(mode: InputMode, line: Vec<u8>) -> Result<Message, String> {
    match mode {
        InputMode::Text => match String::from_utf8(line) {
            Ok(text) => Ok(Message::text(text)),
            Err(_) => Err("is not valid UTF-8 (use --binary to send raw bytes)".to_owned()),
        },
        InputMode::Binary => Ok(Message::binary(line)),
        InputMode::Hex => decode_hex(trim(&line)).map(Message::binary),
        InputMode::Base64 => STANDARD
            .decode(trim(&line))
            .map(Message::binary)
            .map_err(|e| format!("is not valid base64 ({e})")),
    }
}

/// Whether `c` can drive a terminal: C0 controls (but tab and newline), DEL, C1 controls.
fn is_terminal_control(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}')
}

/// Text from the network made safe for a terminal: every control character that could
/// move the cursor, change colours, retitle the window or the like (C0 but tab and newline,
/// DEL, C1) is written as an escape: `\x1b` for ESC, `\u{9b}` for CSI. Other text,
/// backslashes included, is unchanged.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_terminal_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_terminal_control(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Removes the line ending: `\n`, or `\r\n`.
pub fn strip_line_ending(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Decodes hex digits (either case); spaces and `:` between bytes are allowed
/// (`de ad be ef`, `de:ad:be:ef`).
pub fn decode_hex(text: &[u8]) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b':'))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "is not valid hex (an odd number of digits: {})",
            digits.len()
        ));
    }
    digits
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => Ok((hi << 4) | lo),
            _ => Err(format!(
                "is not valid hex ({:?} is not a hex digit pair)",
                String::from_utf8_lossy(pair)
            )),
        })
        .collect()
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex, no separators.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// How a received binary message is printed.
pub fn encode_binary(out: BinaryOut, bytes: &[u8]) -> String {
    match out {
        BinaryOut::Hex => encode_hex(bytes),
        BinaryOut::Base64 => STANDARD.encode(bytes),
    }
}

/// The timestamp prefix of `--timestamps`: `2019-03-04 15:11:25-Client receive: `.
pub fn receive_prefix() -> String {
    format!("{}-Client receive: ", now_utc())
}

/// The current time as `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC). Past the year 9999,
/// which `time` does not represent, the bare number of seconds.
pub fn format_utc(secs: u64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    i64::try_from(secs)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|time| time.format(format).ok())
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        // The original library's example line.
        assert_eq!(format_utc(1_551_712_285), "2019-03-04 15:11:25");
        // Leap days, century rules, end of year.
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(4_107_542_399), "2100-02-28 23:59:59");
        assert_eq!(format_utc(4_107_542_400), "2100-03-01 00:00:00");
        assert_eq!(format_utc(1_704_067_199), "2023-12-31 23:59:59");
        assert_eq!(format_utc(1_709_164_800), "2024-02-29 00:00:00");
        // Beyond the year 9999: the number itself.
        assert_eq!(format_utc(253_402_300_799), "9999-12-31 23:59:59");
        assert_eq!(format_utc(253_402_300_800), "253402300800");
        assert_eq!(format_utc(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn hex_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_hex(encode_hex(&all).as_bytes()), Ok(all));
        assert_eq!(encode_hex(b"\x00\xff\x10"), "00ff10");
        assert_eq!(
            decode_hex(b"DE ad:bE\tef"),
            Ok(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(decode_hex(b""), Ok(vec![]));
        assert!(decode_hex(b"abc").unwrap_err().contains("odd"));
        assert!(decode_hex(b"zz").unwrap_err().contains("\"zz\""));
    }

    #[test]
    fn lines_become_messages() {
        assert_eq!(
            message_from_line(InputMode::Text, b"hi".to_vec()),
            Ok(Message::text("hi"))
        );
        assert!(message_from_line(InputMode::Text, vec![0xff])
            .unwrap_err()
            .contains("--binary"));
        assert_eq!(
            message_from_line(InputMode::Binary, vec![0xff, 0]),
            Ok(Message::binary(vec![0xff, 0]))
        );
        assert_eq!(
            message_from_line(InputMode::Hex, b" 0aff ".to_vec()),
            Ok(Message::binary(vec![0x0a, 0xff]))
        );
        assert_eq!(
            message_from_line(InputMode::Base64, b"aGk=".to_vec()),
            Ok(Message::binary(b"hi".to_vec()))
        );
        assert!(message_from_line(InputMode::Base64, b"a!".to_vec())
            .unwrap_err()
            .contains("base64"));
    }

    #[test]
    fn line_endings() {
        for (input, want) in [
            (&b"a\n"[..], &b"a"[..]),
            (b"a\r\n", b"a"),
            (b"a", b"a"),
            (b"a\r", b"a\r"),
            (b"\n", b""),
        ] {
            let mut line = input.to_vec();
            strip_line_ending(&mut line);
            assert_eq!(line, want, "{input:?}");
        }
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(
            escape_controls("plain {\"a\": \"\\n\"}"),
            "plain {\"a\": \"\\n\"}"
        );
        assert!(matches!(escape_controls("ok\tfine\n"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("\x1b[2Jgone"), "\\x1b[2Jgone");
        assert_eq!(escape_controls("a\u{9b}31mb"), "a\\u{9b}31mb");
        assert_eq!(
            escape_controls("\r\0\x07\x7f\u{85}é\u{a0}"),
            "\\x0d\\x00\\x07\\x7f\\u{85}é\u{a0}"
        );
    }

    #[test]
    fn binary_output() {
        assert_eq!(encode_binary(BinaryOut::Hex, b"hi"), "6869");
        assert_eq!(encode_binary(BinaryOut::Base64, b"hi"), "aGk=");
        let p = receive_prefix();
        assert!(p.ends_with("-Client receive: "), "{p}");
        assert_eq!(p.len(), "2019-03-04 15:11:25-Client receive: ".len());
    }
}
