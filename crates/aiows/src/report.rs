//! Exit codes and the one-line error messages of `aiows`.
//!
//! The messages are the library's own [`Error`] `Display` (which says what happened, at
//! which step, where, and what to do), with two translations for a command line: the
//! builder setters it names become the options of aiows (`.connect_timeout(..)` ->
//! `--connect-timeout`), and "the peer" becomes "the server". TLS failures get the TLS
//! library's reason with `--ca-file` as the way out.

use std::fmt;
use std::time::Duration;

use aiowebsocket::{CloseCode, CloseFrame, Error};

use crate::args::Setting;

/// Exit code: the connection closed normally (1000 / 1001 / no status).
pub const EXIT_OK: u8 = 0;
/// Exit code: the connection could not be opened (DNS, TCP, proxy, TLS, HTTP upgrade,
/// timeout), or `aiows serve` could not listen.
pub const EXIT_CONNECT: u8 = 1;
/// Exit code: a mistake on the command line (or an unreadable `--ca-file`, or an unusable
/// proxy setting).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the open connection failed or ended abnormally (protocol error, close code
/// other than 1000/1001, transport lost, keepalive or close timeout).
pub const EXIT_ABNORMAL: u8 = 3;
/// Exit code: interrupted (Ctrl-C while connecting, or a second Ctrl-C while closing).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why `aiows` stops with a non-zero exit code.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// One line for stderr, printed after `aiows: `.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The timeouts in force, to say what they are now when naming them.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// `--close-timeout`.
    pub close: Setting<Duration>,
    /// `--ping-timeout`.
    pub ping: Setting<Duration>,
}

fn secs(setting: Setting<Duration>, default: &str) -> String {
    match setting {
        Setting::Set(d) => format!("{} s", d.as_secs_f64()),
        Setting::Off => "no limit".to_owned(),
        Setting::Default => default.to_owned(),
    }
}

/// The one-line message for `e`, a failure of the client.
pub fn error_message(e: &Error, t: Timeouts) -> String {
    if let Some(message) = tls_message(e) {
        return message;
    }
    let mut message = e.to_string().replace("the peer", "the server");
    let options = [
        (".connect_timeout(..)", "--connect-timeout".to_owned()),
        // One option bounds both opening limits.
        (".open_timeout(..)", "--connect-timeout".to_owned()),
        (
            ".close_timeout(..)",
            format!("--close-timeout, now {}", secs(t.close, "10 s")),
        ),
        (
            ".keepalive(interval, timeout)",
            format!(
                "--ping-timeout, now {}; --ping-interval 0 sends no pings",
                secs(t.ping, "20 s")
            ),
        ),
        (
            ".max_message_size(..)",
            "--max-message-size, 0 for no limit".to_owned(),
        ),
        (".no_compression()", "--no-compression".to_owned()),
        (".subprotocol(..)", "--subprotocol".to_owned()),
        (
            ".redirects(RedirectPolicy::limited(..))",
            "--max-redirects N".to_owned(),
        ),
    ];
    for (setter, option) in options {
        message = message.replace(setter, &option);
    }
    message
}

/// A TLS failure in command-line terms: the TLS library's reason and `--ca-file`.
fn tls_message(e: &Error) -> Option<String> {
    if !e.is_tls() {
        return None;
    }
    let reason = tls_library_error(e)?;
    let target = e.target().unwrap_or("the server");
    let hint = if e.is_tls_certificate() {
        "the server's certificate is not trusted for this host: if a private CA signed it, \
         trust it with --ca-file FILE.pem; otherwise check the host name in the URL"
    } else {
        "check that the server speaks TLS on this port (ws:// for a plain server) and that \
         its certificate is trusted (--ca-file FILE.pem)"
    };
    Some(format!(
        "TLS handshake with {target} failed: {reason}; {hint}"
    ))
}

/// The TLS library's own error, under the library's wording of the failure.
fn tls_library_error(e: &Error) -> Option<&(dyn std::error::Error + 'static)> {
    std::error::Error::source(e.tls_error()?)
}

/// Whether the server's close frame ends the session normally: 1000, 1001 or no status.
pub fn is_normal_close(frame: Option<&CloseFrame>) -> bool {
    match frame {
        None => true,
        Some(f) => f.code == CloseCode::NORMAL || f.code == CloseCode::GOING_AWAY,
    }
}

/// `code 1008 (policy violation), reason "..."`.
pub fn describe_close(frame: &CloseFrame) -> String {
    if frame.reason.is_empty() {
        format!("code {}", frame.code)
    } else {
        format!("code {}, reason {:?}", frame.code, frame.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use aiowebsocket::{ProtocolError, Step};

    use super::*;

    const T: Timeouts = Timeouts {
        close: Setting::Default,
        ping: Setting::Off,
    };

    #[test]
    fn library_messages_pass_through_with_options_for_setters() {
        let e = Error::opening_timeout(
            Step::Connect,
            Duration::from_millis(1500),
            Some("h:1".into()),
        );
        let msg = error_message(&e, T);
        assert!(msg.contains("h:1") && msg.contains("1.5 s"), "{msg}");
        assert!(
            msg.contains("--connect-timeout") && !msg.contains(".connect_timeout"),
            "{msg}"
        );
        let e = Error::opening_timeout(Step::Handshake, Duration::from_secs(2), Some("h:1".into()));
        let msg = error_message(&e, T);
        assert!(
            msg.contains("--connect-timeout") && !msg.contains(".open_timeout"),
            "{msg}"
        );
        let msg = error_message(&Error::timeout(Step::Close), T);
        assert!(msg.contains("--close-timeout, now 10 s"), "{msg}");
        let msg = error_message(&Error::timeout(Step::Keepalive), T);
        assert!(msg.contains("--ping-timeout, now no limit"), "{msg}");
        let e = Error::from(ProtocolError::MessageTooBig { size: 9, limit: 4 });
        let msg = error_message(&e, T);
        assert!(
            msg.contains("--max-message-size, 0 for no limit") && msg.contains("1009"),
            "{msg}"
        );
        // The other end of a client is the server.
        let e = Error::from(ProtocolError::UnexpectedEof { mid_frame: false });
        let msg = error_message(&e, T);
        assert!(msg.contains("the server closed the connection"), "{msg}");
        assert!(!msg.contains("peer"), "{msg}");
    }

    #[test]
    fn plain_io_errors_are_the_library_text() {
        let e = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        assert_eq!(error_message(&e, T), e.to_string());
    }

    #[test]
    fn normal_closes() {
        assert!(is_normal_close(None));
        assert!(is_normal_close(Some(&CloseFrame::new(
            CloseCode::NORMAL,
            ""
        ))));
        assert!(is_normal_close(Some(&CloseFrame::new(
            CloseCode::GOING_AWAY,
            ""
        ))));
        let f = CloseFrame::new(CloseCode::POLICY_VIOLATION, "no");
        assert!(!is_normal_close(Some(&f)));
        assert_eq!(
            describe_close(&f),
            "code 1008 (policy violation), reason \"no\""
        );
    }
}
