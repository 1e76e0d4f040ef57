//! Exit codes and the one-line error messages of `aiows`.
//!
//! Most messages are the library's own [`Error`] `Display`. A few are reworded here
//! because the library's text names Rust API items (`Config::close_timeout`,
//! `TokioRuntime::with_tls_connector`) where a command-line user needs the option to use,
//! or wraps a connect failure in "I/O error on the WebSocket connection ... reconnect",
//! which is misleading before the connection existed.

use std::fmt;
use std::io;
use std::time::Duration;

use aiowebsocket::{CloseCode, CloseFrame, Error, ProtocolError, Step};

use crate::args::Setting;

/// Exit code: the connection closed normally (1000 / 1001 / no status).
pub const EXIT_OK: u8 = 0;
/// Exit code: the connection could not be opened (DNS, TCP, TLS, HTTP upgrade, timeout),
/// or `aiows serve` could not listen.
pub const EXIT_CONNECT: u8 = 1;
/// Exit code: a mistake on the command line (or an unreadable `--ca-file`).
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

/// The timeouts in force, to name them in messages.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// `--connect-timeout`.
    pub connect: Setting<Duration>,
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

/// The message for a failure to open the connection to `authority` (`host:port`).
pub fn connect_error(e: &Error, authority: &str, t: Timeouts) -> String {
    match e {
        Error::Io(io) => {
            if let Some(tls) = find_tls_error(io) {
                return format!(
                    "TLS handshake with {authority} failed: {tls}; check that the server \
                     speaks TLS on this port and that its certificate is trusted (--ca-file \
                     FILE.pem for a private CA)"
                );
            }
            // The runtime's message already names the address: "connecting to host:port
            // failed: Connection refused (os error 111)".
            let mut msg = io.to_string();
            if io.kind() == io::ErrorKind::ConnectionRefused {
                msg.push_str("; is a server listening on that port?");
            }
            msg
        }
        Error::Timeout { step } => {
            let limit = secs(t.connect, "10 s");
            match step {
                Step::Connect => format!(
                    "timed out connecting to {authority} (DNS + TCP, limit {limit}); check the \
                     host and port, or raise --connect-timeout"
                ),
                Step::Tls => format!(
                    "timed out in the TLS handshake with {authority} (limit {limit}); check \
                     that the server speaks TLS on this port, or raise --connect-timeout"
                ),
                _ => format!(
                    "timed out waiting for the WebSocket handshake response from {authority} \
                     (limit {limit}); check that the URL is a WebSocket endpoint, or raise \
                     --connect-timeout"
                ),
            }
        }
        other => other.to_string(),
    }
}

/// The message for a failure of the open connection.
pub fn session_error(e: &Error, t: Timeouts) -> String {
    match e {
        Error::Timeout {
            step: Step::Keepalive,
        } => format!(
            "no pong arrived within the ping timeout ({}) after a keepalive ping: the server \
             or the network is unresponsive; the connection was closed with code 1011 (raise \
             --ping-timeout, or --ping-interval 0 to send no pings)",
            secs(t.ping, "20 s")
        ),
        Error::Timeout { step: Step::Close } => format!(
            "the server did not answer our close frame within the close timeout ({}); the \
             connection was dropped without a clean close (raise --close-timeout)",
            secs(t.close, "10 s")
        ),
        Error::Protocol(ProtocolError::MessageTooBig { size, limit }) => format!(
            "the server sent a message of at least {size} bytes, over the limit of {limit} \
             bytes; the connection was closed with code 1009 (raise --max-message-size, 0 for \
             no limit)"
        ),
        Error::Protocol(ProtocolError::UnexpectedEof { .. }) => {
            "the server closed the TCP connection without a WebSocket close handshake \
             (abnormal closure, 1006)"
                .to_owned()
        }
        other => other.to_string(),
    }
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

/// The native-tls error inside a connect I/O error, if the failure was TLS.
fn find_tls_error(io: &io::Error) -> Option<&aiowebsocket::native_tls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = io.get_ref().map(|e| e as _);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<aiowebsocket::native_tls::Error>() {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        connect: Setting::Set(Duration::from_millis(1500)),
        close: Setting::Default,
        ping: Setting::Off,
    };

    #[test]
    fn refused_connect_names_the_address_and_a_hint() {
        let e = Error::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connecting to 127.0.0.1:1 failed: Connection refused (os error 111)",
        ));
        let msg = connect_error(&e, "127.0.0.1:1", T);
        assert!(msg.starts_with("connecting to 127.0.0.1:1 failed"), "{msg}");
        assert!(msg.contains("listening"), "{msg}");
        assert!(!msg.contains("reconnect"), "{msg}");
    }

    #[test]
    fn timeouts_name_the_option() {
        let e = Error::Timeout {
            step: Step::Connect,
        };
        let msg = connect_error(&e, "h:1", T);
        assert!(msg.contains("h:1") && msg.contains("1.5 s"), "{msg}");
        assert!(msg.contains("--connect-timeout"), "{msg}");
        let msg = session_error(&Error::Timeout { step: Step::Close }, T);
        assert!(
            msg.contains("--close-timeout") && msg.contains("10 s"),
            "{msg}"
        );
        let msg = session_error(
            &Error::Timeout {
                step: Step::Keepalive,
            },
            T,
        );
        assert!(
            msg.contains("--ping-timeout") && msg.contains("no limit"),
            "{msg}"
        );
        let msg = session_error(
            &Error::Protocol(ProtocolError::MessageTooBig { size: 9, limit: 4 }),
            T,
        );
        assert!(
            msg.contains("--max-message-size") && msg.contains("1009"),
            "{msg}"
        );
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
