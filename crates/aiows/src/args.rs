//! The command line, parsed by hand: `aiows [OPTIONS] URL`, `aiows serve [OPTIONS] [ADDR]`,
//! `--help`, `--version`.
//!
//! Options take their value as the next argument (`--origin https://a.example`), after `=`
//! (`--origin=https://a.example`), or, for short options, attached (`-HX-Token: 1`). `--`
//! ends the options. Nothing is checked against the network here: a bad header line or URL
//! is reported when the request is built, before connecting.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What the user asked for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Connect to a server.
    Client(Box<ClientArgs>),
    /// Run the local test server.
    Serve(ServeArgs),
    /// Print help (for the client, or for `serve`).
    Help(Topic),
    /// Print the version.
    Version,
}

/// Which help text to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// `aiows --help`.
    Client,
    /// `aiows serve --help`.
    Serve,
}

/// A number given on the command line: the library's default, `0` (off / no limit), or a
/// value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting<T> {
    /// Not given: the library default applies.
    Default,
    /// Given as `0`: disabled (no timeout, no limit).
    Off,
    /// Given as a positive value.
    Set(T),
}

/// How a line of input (stdin or `--send`) becomes a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    /// A text message (the line must be UTF-8).
    Text,
    /// A binary message holding the line's bytes.
    Binary,
    /// A binary message holding the base64-decoded line.
    Base64,
    /// A binary message holding the hex-decoded line.
    Hex,
}

/// How received binary messages are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOut {
    /// Lowercase hex, no separators.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// Whether control characters in what the server sends are escaped before they reach the
/// terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaping {
    /// Escape on a terminal, print raw into a pipe or file.
    Auto,
    /// `--escape`: always escape.
    Always,
    /// `--raw`: never escape received messages (stderr diagnostics are still escaped on a
    /// terminal).
    Never,
}

/// `aiows URL ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientArgs {
    /// The URL as given (`ws://` is assumed when it has no scheme).
    pub url: String,
    /// `-H` lines, `Name: value`, in order.
    pub headers: Vec<String>,
    /// `--origin`.
    pub origin: Option<String>,
    /// `--subprotocol`, in order of preference.
    pub subprotocols: Vec<String>,
    /// Offer permessage-deflate (`--no-compression` turns it off).
    pub compression: bool,
    /// `--max-message-size`.
    pub max_message_size: Setting<usize>,
    /// `--connect-timeout`: bounds DNS + TCP, and TLS + the HTTP upgrade.
    pub connect_timeout: Setting<Duration>,
    /// `--close-timeout`.
    pub close_timeout: Setting<Duration>,
    /// `--ping-interval`.
    pub ping_interval: Setting<Duration>,
    /// `--ping-timeout`.
    pub ping_timeout: Setting<Duration>,
    /// `--insecure`: accept any certificate.
    pub insecure: bool,
    /// `--ca-file`: extra trusted roots (PEM).
    pub ca_files: Vec<PathBuf>,
    /// `--proxy URL`: always connect through this proxy.
    pub proxy: Option<String>,
    /// `--proxy-from-env`: choose the proxy from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and
    /// NO_PROXY (never read otherwise).
    pub proxy_from_env: bool,
    /// `--max-redirects N` (`Off`: `--no-redirects` or `--max-redirects 0`).
    pub max_redirects: Setting<usize>,
    /// `-1` / `--once`.
    pub once: bool,
    /// `--send`, in order.
    pub sends: Vec<String>,
    /// Read stdin (`--no-stdin` turns it off).
    pub read_stdin: bool,
    /// `--binary`, `--base64`, `--hex`.
    pub input: InputMode,
    /// `--binary-out`.
    pub binary_out: BinaryOut,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--escape` / `--raw`.
    pub escaping: Escaping,
    /// `-v`.
    pub verbose: bool,
}

/// `aiows serve ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeArgs {
    /// Where to listen, `host:port` (a bare port means `127.0.0.1:port`).
    pub addr: String,
    /// Relay each message to the other clients instead of echoing it.
    pub broadcast: bool,
    /// Subprotocols the server accepts, in its order of preference.
    pub subprotocols: Vec<String>,
    /// Accept permessage-deflate (`--no-compression` turns it off).
    pub compression: bool,
    /// `--max-message-size` (the server's default is [`DEFAULT_SERVE_MAX_MESSAGE`]).
    pub max_message_size: Setting<usize>,
    /// `--send-timeout`: bound on each send to a client.
    pub send_timeout: Setting<Duration>,
    /// `--max-connections`: connections open at once.
    pub max_connections: Setting<usize>,
    /// `--max-queue-size`: bytes of broadcast messages waiting for one client.
    pub max_queue_size: Setting<usize>,
    /// `--allow-origin`, repeatable: browser origins accepted besides loopback ones (`*`:
    /// any).
    pub allow_origins: Vec<String>,
    /// `-v`: print each request's headers.
    pub verbose: bool,
}

/// The default address of `aiows serve`.
pub const DEFAULT_SERVE_ADDR: &str = "127.0.0.1:9000";

/// `aiows serve`'s default `--max-message-size`: 1 MiB (the library's 64 MiB is a lot for
/// a test server that any local program can reach).
pub const DEFAULT_SERVE_MAX_MESSAGE: usize = 1 << 20;

/// `aiows serve`'s default `--send-timeout`.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `aiows serve`'s default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// `aiows serve`'s default `--max-queue-size`: 16 MiB per client.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 16 << 20;

/// A mistake on the command line (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut cursor = Cursor::new(args);
    if cursor.peek_is("serve") {
        cursor.skip();
        parse_serve(cursor)
    } else {
        parse_client(cursor)
    }
}

fn parse_client(mut cursor: Cursor) -> Result<Command, UsageError> {
    let mut url = None;
    let mut a = ClientArgs {
        url: String::new(),
        headers: Vec::new(),
        origin: None,
        subprotocols: Vec::new(),
        compression: true,
        max_message_size: Setting::Default,
        connect_timeout: Setting::Default,
        close_timeout: Setting::Default,
        ping_interval: Setting::Default,
        ping_timeout: Setting::Default,
        insecure: false,
        ca_files: Vec::new(),
        proxy: None,
        proxy_from_env: false,
        max_redirects: Setting::Default,
        once: false,
        sends: Vec::new(),
        read_stdin: true,
        input: InputMode::Text,
        binary_out: BinaryOut::Hex,
        timestamps: false,
        escaping: Escaping::Auto,
        verbose: false,
    };
    let mut escaping_flag: Option<&'static str> = None;
    let mut input_flag: Option<&'static str> = None;
    while let Some(arg) = cursor.next() {
        let (name, attached) = match arg {
            Arg::Positional(value) => {
                if url.is_some() {
                    return Err(usage(format!(
                        "unexpected argument {value:?}: give one URL (options go before or \
                         after it)"
                    )));
                }
                url = Some(value);
                continue;
            }
            Arg::Option { name, attached } => (name, attached),
        };
        let mut opt = Opt {
            cursor: &mut cursor,
            name: &name,
            attached,
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Topic::Client)),
            "-V" | "--version" => return Ok(Command::Version),
            "-H" | "--header" => a.headers.push(opt.value()?),
            "--origin" => a.origin = Some(opt.value()?),
            "--subprotocol" => a.subprotocols.push(opt.value()?),
            "--no-compression" => {
                opt.flag()?;
                a.compression = false;
            }
            "--max-message-size" => a.max_message_size = size(&name, &opt.value()?)?,
            "--connect-timeout" => a.connect_timeout = seconds(&name, &opt.value()?)?,
            "--close-timeout" => a.close_timeout = seconds(&name, &opt.value()?)?,
            "--ping-interval" => a.ping_interval = seconds(&name, &opt.value()?)?,
            "--ping-timeout" => a.ping_timeout = seconds(&name, &opt.value()?)?,
            "--insecure" => {
                opt.flag()?;
                a.insecure = true;
            }
            "--ca-file" => a.ca_files.push(PathBuf::from(opt.value()?)),
            "-1" | "--once" => {
                opt.flag()?;
                a.once = true;
            }
            "--send" => a.sends.push(opt.value()?),
            "--no-stdin" => {
                opt.flag()?;
                a.read_stdin = false;
            }
            "--binary" | "--base64" | "--hex" => {
                opt.flag()?;
                let (flag, mode) = match name.as_str() {
                    "--binary" => ("--binary", InputMode::Binary),
                    "--base64" => ("--base64", InputMode::Base64),
                    _ => ("--hex", InputMode::Hex),
                };
                if let Some(previous) = input_flag.filter(|p| *p != flag) {
                    return Err(usage(format!(
                        "{previous} and {flag} cannot be combined: choose how input lines are \
                         sent"
                    )));
                }
                input_flag = Some(flag);
                a.input = mode;
            }
            "--binary-out" => {
                a.binary_out = match opt.value()?.as_str() {
                    "hex" => BinaryOut::Hex,
                    "base64" => BinaryOut::Base64,
                    other => {
                        return Err(usage(format!(
                            "--binary-out {other:?}: expected hex or base64"
                        )))
                    }
                }
            }
            "--timestamps" => {
                opt.flag()?;
                a.timestamps = true;
            }
            "--escape" | "--raw" => {
                opt.flag()?;
                let (flag, escaping) = if name == "--escape" {
                    ("--escape", Escaping::Always)
                } else {
                    ("--raw", Escaping::Never)
                };
                if let Some(earlier) = escaping_flag.filter(|e| *e != flag) {
                    return Err(usage(format!(
                        "{earlier} and {flag} cannot be combined: choose one"
                    )));
                }
                escaping_flag = Some(flag);
                a.escaping = escaping;
            }
            "-v" | "--verbose" => {
                opt.flag()?;
                a.verbose = true;
            }
            "--proxy" => a.proxy = Some(opt.value()?),
            "--proxy-from-env" => {
                opt.flag()?;
                a.proxy_from_env = true;
            }
            "--no-redirects" => {
                opt.flag()?;
                a.max_redirects = Setting::Off;
            }
            "--max-redirects" => a.max_redirects = count(&name, &opt.value()?)?,
            _ => return Err(unknown(&name, "aiows --help")),
        }
    }
    if a.proxy.is_some() && a.proxy_from_env {
        return Err(usage(
            "--proxy and --proxy-from-env cannot be combined: give the proxy, or let the \
             environment choose it",
        ));
    }
    let Some(url) = url else {
        return Err(usage("missing URL, e.g. aiows ws://127.0.0.1:9000/"));
    };
    a.url = with_scheme(url);
    Ok(Command::Client(Box::new(a)))
}

fn parse_serve(mut cursor: Cursor) -> Result<Command, UsageError> {
    let mut addr = None;
    let mut a = ServeArgs {
        addr: String::new(),
        broadcast: false,
        subprotocols: Vec::new(),
        compression: true,
        max_message_size: Setting::Default,
        send_timeout: Setting::Default,
        max_connections: Setting::Default,
        max_queue_size: Setting::Default,
        allow_origins: Vec::new(),
        verbose: false,
    };
    while let Some(arg) = cursor.next() {
        let (name, attached) = match arg {
            Arg::Positional(value) => {
                if addr.is_some() {
                    return Err(usage(format!(
                        "unexpected argument {value:?}: aiows serve takes one address"
                    )));
                }
                addr = Some(value);
                continue;
            }
            Arg::Option { name, attached } => (name, attached),
        };
        let mut opt = Opt {
            cursor: &mut cursor,
            name: &name,
            attached,
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Topic::Serve)),
            "-V" | "--version" => return Ok(Command::Version),
            "--broadcast" => {
                opt.flag()?;
                a.broadcast = true;
            }
            "--subprotocol" => a.subprotocols.push(opt.value()?),
            "--no-compression" => {
                opt.flag()?;
                a.compression = false;
            }
            "--max-message-size" => a.max_message_size = size(&name, &opt.value()?)?,
            "--send-timeout" => a.send_timeout = seconds(&name, &opt.value()?)?,
            "--max-connections" => a.max_connections = count(&name, &opt.value()?)?,
            "--max-queue-size" => a.max_queue_size = size(&name, &opt.value()?)?,
            "--allow-origin" => {
                let origin = opt.value()?;
                if origin.trim().is_empty() {
                    return Err(usage(
                        "--allow-origin needs an origin such as http://localhost:3000, or '*'",
                    ));
                }
                a.allow_origins.push(origin);
            }
            "-v" | "--verbose" => {
                opt.flag()?;
                a.verbose = true;
            }
            _ => return Err(unknown(&name, "aiows serve --help")),
        }
    }
    a.addr = listen_addr(addr.as_deref().unwrap_or(DEFAULT_SERVE_ADDR))?;
    Ok(Command::Serve(a))
}

fn unknown(name: &str, help: &str) -> UsageError {
    usage(format!("unknown option {name} (see {help})"))
}

/// `ws://` is assumed for a URL without a scheme (`localhost:9000/chat`).
fn with_scheme(url: String) -> String {
    if url.contains("://") {
        url
    } else {
        format!("ws://{url}")
    }
}

/// A listen address: `host:port`, or a bare port meaning `127.0.0.1:port`.
fn listen_addr(addr: &str) -> Result<String, UsageError> {
    if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = addr
            .parse()
            .map_err(|_| usage(format!("port {addr} is out of range (0-65535)")))?;
        return Ok(format!("127.0.0.1:{port}"));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(addr.to_owned())
        }
        _ => Err(usage(format!(
            "listen address {addr:?}: expected host:port (e.g. 127.0.0.1:9000) or a port"
        ))),
    }
}

/// Seconds, fractions allowed (`1.5`); `0` means off.
pub fn seconds(name: &str, value: &str) -> Result<Setting<Duration>, UsageError> {
    let bad = || {
        usage(format!(
            "{name} {value:?}: expected a number of seconds such as 5 or 0.5 (0 disables)"
        ))
    };
    let secs: f64 = value.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    if secs == 0.0 {
        return Ok(Setting::Off);
    }
    // A year is plenty; far beyond it, `Instant + Duration` could overflow.
    if secs > 365.0 * 86_400.0 {
        return Err(usage(format!(
            "{name} {value}: at most one year (31536000 seconds); use 0 for no limit"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .map(Setting::Set)
        .map_err(|_| bad())
}

/// A whole number such as a hop count; `0` means off.
pub fn count(name: &str, value: &str) -> Result<Setting<usize>, UsageError> {
    match value.trim().parse::<usize>() {
        Ok(0) => Ok(Setting::Off),
        Ok(n) => Ok(Setting::Set(n)),
        Err(_) => Err(usage(format!(
            "{name} {value:?}: expected a whole number such as 5 (0 disables)"
        ))),
    }
}

/// A byte count with an optional binary suffix: `512`, `64K`, `16M`, `1G` (also `KB`,
/// `KiB`, ...; case-insensitive). `0` means no limit.
pub fn size(name: &str, value: &str) -> Result<Setting<usize>, UsageError> {
    let bad = || {
        usage(format!(
            "{name} {value:?}: expected a size such as 65536, 64K, 16M or 1G (0: no limit)"
        ))
    };
    let v = value.trim();
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(digits_end);
    if digits.is_empty() {
        return Err(bad());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    let n: usize = digits.parse().map_err(|_| bad())?;
    let bytes = n
        .checked_mul(1usize << shift)
        .ok_or_else(|| usage(format!("{name} {value}: too large for this machine")))?;
    Ok(if bytes == 0 {
        Setting::Off
    } else {
        Setting::Set(bytes)
    })
}

/// One command-line argument.
#[derive(Debug, PartialEq, Eq)]
enum Arg {
    /// `--name`, `--name=value`, `-x` or `-xvalue`.
    Option {
        name: String,
        attached: Option<String>,
    },
    Positional(String),
}

/// The arguments not yet parsed.
struct Cursor {
    args: VecDeque<String>,
    only_positional: bool,
}

impl Cursor {
    fn new<I: IntoIterator<Item = String>>(args: I) -> Self {
        Cursor {
            args: args.into_iter().collect(),
            only_positional: false,
        }
    }

    fn peek_is(&self, word: &str) -> bool {
        self.args.front().is_some_and(|a| a == word)
    }

    fn skip(&mut self) {
        self.args.pop_front();
    }

    /// The raw next argument, for an option's value.
    fn raw(&mut self) -> Option<String> {
        self.args.pop_front()
    }

    fn next(&mut self) -> Option<Arg> {
        let arg = self.args.pop_front()?;
        if self.only_positional || arg == "-" || !arg.starts_with('-') {
            return Some(Arg::Positional(arg));
        }
        if arg == "--" {
            self.only_positional = true;
            return self.next();
        }
        if let Some(long) = arg.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((name, value)) => Arg::Option {
                    name: format!("--{name}"),
                    attached: Some(value.to_owned()),
                },
                None => Arg::Option {
                    name: arg,
                    attached: None,
                },
            });
        }
        // A short option: `-x`, or `-xvalue`.
        let mut chars = arg.char_indices().skip(1);
        let split = chars.nth(1).map_or(arg.len(), |(i, _)| i);
        let (name, rest) = arg.split_at(split);
        Some(Arg::Option {
            name: name.to_owned(),
            attached: (!rest.is_empty()).then(|| rest.to_owned()),
        })
    }
}

/// The option being parsed, to take its value (or check it has none).
struct Opt<'a> {
    cursor: &'a mut Cursor,
    name: &'a str,
    attached: Option<String>,
}

impl Opt<'_> {
    fn value(&mut self) -> Result<String, UsageError> {
        if let Some(v) = self.attached.take() {
            return Ok(v);
        }
        self.cursor
            .raw()
            .ok_or_else(|| usage(format!("option {} needs a value", self.name)))
    }

    fn flag(&mut self) -> Result<(), UsageError> {
        match &self.attached {
            None => Ok(()),
            Some(v) => Err(usage(format!(
                "option {} takes no value (got {v:?})",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &[&str]) -> Result<Command, UsageError> {
        parse(line.iter().map(|s| s.to_string()))
    }

    fn client(line: &[&str]) -> ClientArgs {
        match parse_str(line) {
            Ok(Command::Client(a)) => *a,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn serve(line: &[&str]) -> ServeArgs {
        match parse_str(line) {
            Ok(Command::Serve(a)) => a,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn error(line: &[&str]) -> String {
        match parse_str(line) {
            Err(e) => e.0,
            Ok(other) => panic!("{line:?} should fail, parsed as {other:?}"),
        }
    }

    #[test]
    fn url_alone_gets_the_defaults() {
        let a = client(&["ws://h:1/p"]);
        assert_eq!(a.url, "ws://h:1/p");
        assert!(a.compression && a.read_stdin && !a.once && !a.insecure && !a.verbose);
        assert_eq!(a.input, InputMode::Text);
        assert_eq!(a.binary_out, BinaryOut::Hex);
        assert_eq!(a.connect_timeout, Setting::Default);
        assert_eq!(a.max_message_size, Setting::Default);
    }

    #[test]
    fn url_without_scheme_is_ws() {
        assert_eq!(
            client(&["localhost:9000/chat"]).url,
            "ws://localhost:9000/chat"
        );
        assert_eq!(client(&["wss://x/"]).url, "wss://x/");
    }

    #[test]
    fn repeated_options_keep_their_order() {
        let a = client(&[
            "-H",
            "A: 1",
            "ws://h/",
            "--header",
            "B: 2",
            "-HC: 3",
            "--header=D: 4",
            "--send",
            "one",
            "--send=two",
            "--subprotocol",
            "x",
            "--subprotocol",
            "y",
        ]);
        assert_eq!(a.headers, ["A: 1", "B: 2", "C: 3", "D: 4"]);
        assert_eq!(a.sends, ["one", "two"]);
        assert_eq!(a.subprotocols, ["x", "y"]);
    }

    #[test]
    fn flags() {
        let a = client(&[
            "-1",
            "--no-stdin",
            "--no-compression",
            "--insecure",
            "--timestamps",
            "-v",
            "--binary-out",
            "base64",
            "--hex",
            "--origin",
            "https://o.example",
            "--ca-file",
            "ca.pem",
            "ws://h/",
        ]);
        assert!(a.once && !a.read_stdin && !a.compression && a.insecure && a.timestamps);
        assert!(a.verbose);
        assert_eq!(a.escaping, Escaping::Auto);
        assert_eq!(client(&["ws://h/", "--escape"]).escaping, Escaping::Always);
        assert_eq!(client(&["ws://h/", "--raw"]).escaping, Escaping::Never);
        assert_eq!(a.binary_out, BinaryOut::Base64);
        assert_eq!(a.input, InputMode::Hex);
        assert_eq!(a.origin.as_deref(), Some("https://o.example"));
        assert_eq!(a.ca_files, [PathBuf::from("ca.pem")]);
        assert!(client(&["ws://h/", "--once"]).once);
    }

    #[test]
    fn proxy_and_redirect_options() {
        let a = client(&["ws://h/"]);
        assert_eq!((a.proxy, a.proxy_from_env), (None, false));
        assert_eq!(a.max_redirects, Setting::Default);
        let a = client(&[
            "ws://h/",
            "--proxy",
            "socks5h://p:1080",
            "--max-redirects=2",
        ]);
        assert_eq!(a.proxy.as_deref(), Some("socks5h://p:1080"));
        assert_eq!(a.max_redirects, Setting::Set(2));
        let a = client(&["--proxy-from-env", "ws://h/", "--no-redirects"]);
        assert!(a.proxy_from_env && a.proxy.is_none());
        assert_eq!(a.max_redirects, Setting::Off);
        assert_eq!(
            client(&["ws://h/", "--max-redirects", "0"]).max_redirects,
            Setting::Off
        );
    }

    #[test]
    fn help_and_version_win_anywhere() {
        assert_eq!(
            parse_str(&["ws://h/", "--help"]),
            Ok(Command::Help(Topic::Client))
        );
        assert_eq!(parse_str(&["-h"]), Ok(Command::Help(Topic::Client)));
        assert_eq!(parse_str(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_str(&["-V"]), Ok(Command::Version));
        assert_eq!(
            parse_str(&["serve", "--help"]),
            Ok(Command::Help(Topic::Serve))
        );
    }

    #[test]
    fn double_dash_ends_options() {
        assert_eq!(client(&["--", "-weird-host:1"]).url, "ws://-weird-host:1");
    }

    #[test]
    fn timeouts_in_seconds_zero_disables() {
        let a = client(&[
            "ws://h/",
            "--connect-timeout",
            "2.5",
            "--ping-interval",
            "0",
            "--ping-timeout=7",
            "--close-timeout",
            "1",
        ]);
        assert_eq!(a.connect_timeout, Setting::Set(Duration::from_millis(2500)));
        assert_eq!(a.ping_interval, Setting::Off);
        assert_eq!(a.ping_timeout, Setting::Set(Duration::from_secs(7)));
        assert_eq!(a.close_timeout, Setting::Set(Duration::from_secs(1)));
        for bad in ["-1", "abc", "inf", "NaN", "1e30", ""] {
            let e = error(&["ws://h/", "--connect-timeout", bad]);
            assert!(e.starts_with("--connect-timeout"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        let s = |v: &str| size("--max-message-size", v);
        assert_eq!(s("512"), Ok(Setting::Set(512)));
        assert_eq!(s("64K"), Ok(Setting::Set(64 << 10)));
        assert_eq!(s("64k"), Ok(Setting::Set(64 << 10)));
        assert_eq!(s("16M"), Ok(Setting::Set(16 << 20)));
        assert_eq!(s("16MiB"), Ok(Setting::Set(16 << 20)));
        assert_eq!(s("1G"), Ok(Setting::Set(1 << 30)));
        assert_eq!(s("0"), Ok(Setting::Off));
        for bad in [
            "",
            "K",
            "1T",
            "1.5M",
            "-1",
            "12 34",
            "99999999999999999999999G",
        ] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(error(&[]).contains("missing URL"));
        assert!(error(&["ws://a/", "ws://b/"]).contains("one URL"));
        assert!(error(&["ws://a/", "--bogus"]).contains("unknown option --bogus"));
        assert!(error(&["ws://a/", "--origin"]).contains("needs a value"));
        assert!(error(&["ws://a/", "--once=yes"]).contains("takes no value"));
        assert!(error(&["ws://a/", "-1x"]).contains("takes no value"));
        assert!(error(&["ws://a/", "--hex", "--base64"]).contains("cannot be combined"));
        assert!(error(&["ws://a/", "--binary-out", "octal"]).contains("hex or base64"));
        assert!(error(&["ws://a/", "--proxy"]).contains("needs a value"));
        assert!(
            error(&["ws://a/", "--proxy", "http://p:1", "--proxy-from-env"])
                .contains("cannot be combined")
        );
        assert!(error(&["ws://a/", "--max-redirects", "-1"]).contains("whole number"));
        assert!(error(&["ws://a/", "--no-redirects=1"]).contains("takes no value"));
        assert!(error(&["ws://a/", "--raw", "--escape"]).contains("cannot be combined"));
        // The same input flag twice is harmless.
        assert_eq!(client(&["ws://a/", "--hex", "--hex"]).input, InputMode::Hex);
    }

    #[test]
    fn serve_defaults_and_options() {
        let s = serve(&["serve"]);
        assert_eq!(s.addr, DEFAULT_SERVE_ADDR);
        assert!(!s.broadcast && s.compression && !s.verbose);
        let s = serve(&[
            "serve",
            "0.0.0.0:8080",
            "--broadcast",
            "--subprotocol",
            "chat",
            "--no-compression",
            "--max-message-size",
            "1M",
            "-v",
        ]);
        assert_eq!(s.addr, "0.0.0.0:8080");
        assert!(s.broadcast && !s.compression && s.verbose);
        assert_eq!(s.subprotocols, ["chat"]);
        assert_eq!(s.max_message_size, Setting::Set(1 << 20));
        assert_eq!(serve(&["serve", "9001"]).addr, "127.0.0.1:9001");
        let s = serve(&["serve"]);
        assert_eq!(
            (s.send_timeout, s.max_connections, s.max_queue_size),
            (Setting::Default, Setting::Default, Setting::Default)
        );
        assert!(s.allow_origins.is_empty());
        let s = serve(&[
            "serve",
            "--send-timeout",
            "2.5",
            "--max-connections=3",
            "--max-queue-size",
            "64K",
            "--allow-origin",
            "http://a.example",
            "--allow-origin=*",
        ]);
        assert_eq!(s.send_timeout, Setting::Set(Duration::from_millis(2500)));
        assert_eq!(s.max_connections, Setting::Set(3));
        assert_eq!(s.max_queue_size, Setting::Set(64 << 10));
        assert_eq!(s.allow_origins, ["http://a.example", "*"]);
        assert_eq!(serve(&["serve", "[::1]:9001"]).addr, "[::1]:9001");
    }

    #[test]
    fn serve_mistakes() {
        assert!(error(&["serve", "--once"]).contains("unknown option --once"));
        assert!(error(&["serve", "a", "b"]).contains("one address"));
        assert!(error(&["serve", "70000"]).contains("out of range"));
        assert!(error(&["serve", "localhost"]).contains("host:port"));
        assert!(error(&["serve", ":80"]).contains("host:port"));
        assert!(error(&["serve", "--allow-origin", " "]).contains("needs an origin"));
        assert!(error(&["serve", "--max-connections", "x"]).contains("whole number"));
        assert!(error(&["serve", "--send-timeout", "-1"]).contains("seconds"));
    }
}
