//! The command line, parsed by clap: `aiows [OPTIONS] URL`, `aiows serve [OPTIONS] [ADDR]`,
//! `--help`, `--version`.
//!
//! Options take their value as the next argument (`--origin https://a.example`, even when
//! it starts with `-`), after `=` (`--origin=https://a.example`), or, for short options,
//! attached (`-HX-Token: 1`). `--` ends the options. Given twice, an option's last value
//! wins (lists such as `-H` keep every value). Nothing is checked against the network
//! here: a bad header line or URL is reported when the request is built, before
//! connecting.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ErrorKind};
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::help;

/// What the user asked for (`--help` and `--version` are answered by clap: see [`parse`]).
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Connect to a server.
    Client(Box<ClientArgs>),
    /// Run the local test server.
    Serve(ServeArgs),
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

impl<T> From<Option<Setting<T>>> for Setting<T> {
    /// Not given (`None`) is [`Setting::Default`].
    fn from(given: Option<Setting<T>>) -> Self {
        given.unwrap_or(Setting::Default)
    }
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

/// How received binary messages are printed (`--binary-out hex|base64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
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
    /// `--http2 off|prefer|require`.
    pub http2: Http2Mode,
}

/// Whether the client opens its WebSocket over HTTP/2 (`--http2`), as the library's
/// `Http2` choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Http2Mode {
    /// HTTP/1.1 only.
    #[default]
    Off,
    /// HTTP/2 when a wss:// server agrees (ALPN h2 and extended CONNECT), else HTTP/1.1.
    Prefer,
    /// HTTP/2 or an error; on ws://, h2c with prior knowledge.
    Require,
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
    /// `--http2`: also serve WebSockets over HTTP/2 (h2c, chosen per connection by the
    /// HTTP/2 preface).
    pub http2: bool,
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

/// The command line as clap sees it; [`parse`] turns it into a [`Command`].
#[derive(Debug, Parser)]
#[command(
    name = "aiows",
    bin_name = "aiows",
    version,
    about = help::CLIENT_ABOUT,
    override_usage = "aiows [OPTIONS] <URL>\n       aiows serve [OPTIONS] [ADDR]",
    after_help = help::CLIENT_AFTER,
    // `serve` is the subcommand only as the first argument: `aiows -v serve` connects to
    // ws://serve.
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true,
    propagate_version = true,
    args_override_self = true,
    mut_args(hyphen_values)
)]
struct Cli {
    #[command(subcommand)]
    serve: Option<Serve>,
    #[command(flatten)]
    client: ClientCli,
}

#[derive(Debug, Subcommand)]
enum Serve {
    /// Run a local test server: echo, or --broadcast (see aiows serve --help)
    #[command(
        // Its own help starts with SERVE_ABOUT; the line above is for `aiows --help`.
        before_help = help::SERVE_ABOUT,
        help_template = "{before-help}{usage-heading} {usage}\n\n{all-args}{after-help}",
        after_help = help::SERVE_AFTER,
        display_name = "aiows",
        args_override_self = true,
        mut_args(hyphen_values)
    )]
    Serve(ServeCli),
}

/// An option's value is the next argument whatever it is, as in `--send -1` (so that
/// `--connect-timeout -1` is refused as a number, not read as `-1`, `--once`).
fn hyphen_values(arg: clap::Arg) -> clap::Arg {
    let takes_value = !arg.is_positional() && arg.get_action().takes_values();
    arg.allow_hyphen_values(takes_value)
}

/// `aiows URL`: the URL and the options, by section of `--help`.
// The doc comments below are --help text, verbatim: not links for rustdoc.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
#[derive(Debug, Args)]
struct ClientCli {
    // `None` only with `serve` (`subcommand_negates_reqs`).
    /// The server's URL: ws://HOST[:PORT]/PATH or wss://...
    #[arg(value_name = "URL", value_parser = with_scheme, required = true)]
    url: Option<String>,
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    proxy: Proxy,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "INPUT")]
struct Input {
    /// Send TEXT after connecting, before reading stdin
    /// (repeatable, sent in order; encoded like stdin lines)
    #[arg(long = "send", value_name = "TEXT", verbatim_doc_comment)]
    sends: Vec<String>,
    /// Do not read stdin: just print what arrives
    #[arg(long = "no-stdin", action = ArgAction::SetFalse)]
    read_stdin: bool,
    /// Print the first text or binary message, close, exit 0
    /// (the end of stdin does not close then)
    #[arg(short = '1', long, verbatim_doc_comment)]
    once: bool,
    /// Send each line's bytes as a binary message
    #[arg(long, conflicts_with_all = ["base64", "hex"])]
    binary: bool,
    /// Decode each line from base64, send it as binary
    #[arg(long, conflicts_with = "hex")]
    base64: bool,
    /// Decode each line from hex, send it as binary
    /// (spaces and ':' between bytes are allowed)
    /// The line ending (\n or \r\n) is never sent. A line that
    /// does not decode is reported on stderr and skipped.
    #[arg(long, verbatim_doc_comment)]
    hex: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "OUTPUT")]
struct Output {
    /// Print binary messages as hex (default) or base64
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = BinaryOut::Hex)]
    #[arg(hide_default_value = true, hide_possible_values = true)]
    binary_out: BinaryOut,
    /// Print text messages as they are, even on a terminal
    #[arg(long, conflicts_with = "escape")]
    raw: bool,
    /// Escape control characters even into a pipe or file
    /// On a terminal, control characters from the server (C0
    /// but tab and newline, DEL, C1) are printed as escapes,
    /// \x1b or \u{9b}, so the server cannot drive the terminal;
    /// piped, messages are printed as they are. The error line,
    /// close reasons and -v headers on stderr are escaped when
    /// stderr is a terminal (or with --escape)
    #[arg(long, verbatim_doc_comment)]
    escape: bool,
    /// Prefix each line with the time it arrived, in UTC:
    /// 2019-03-04 15:11:25-Client receive: ...
    #[arg(long, verbatim_doc_comment)]
    timestamps: bool,
    /// Print the proxy used, the handshake request (as sent)
    /// and response headers, and pings, pongs and the close
    /// frame, on stderr
    #[arg(short, long, verbatim_doc_comment)]
    verbose: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "CONNECTION")]
struct Connection {
    /// Add a request header (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Set the Origin header
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// Offer a subprotocol (repeatable, preferred first)
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocols: Vec<String>,
    /// Do not offer permessage-deflate
    #[arg(long = "no-compression", action = ArgAction::SetFalse)]
    compression: bool,
    /// Largest message accepted, after decompression, in bytes;
    /// suffixes K, M, G (powers of 1024); 0: no limit.
    /// Default 64M
    #[arg(long, value_name = "N", value_parser = size, verbatim_doc_comment)]
    max_message_size: Option<Setting<usize>>,
    /// Bound on DNS + TCP connect, and on the proxy tunnel + TLS +
    /// the HTTP upgrade, in seconds (fractions allowed; 0: none).
    /// Default 10
    #[arg(long, value_name = "S", value_parser = seconds, verbatim_doc_comment)]
    connect_timeout: Option<Setting<Duration>>,
    /// Bound on each wait of the closing handshake. Default 10
    #[arg(long, value_name = "S", value_parser = seconds)]
    close_timeout: Option<Setting<Duration>>,
    /// Send a keepalive ping every S seconds (0: no pings).
    /// Default 20
    #[arg(long, value_name = "S", value_parser = seconds, verbatim_doc_comment)]
    ping_interval: Option<Setting<Duration>>,
    /// Fail when a pong takes longer than S seconds (0: never).
    /// Default 20
    #[arg(long, value_name = "S", value_parser = seconds, verbatim_doc_comment)]
    ping_timeout: Option<Setting<Duration>>,
    /// Also trust the certificates in FILE.pem (repeatable)
    #[arg(long = "ca-file", value_name = "FILE.pem")]
    ca_files: Vec<PathBuf>,
    /// Accept any TLS certificate, even invalid or for another
    /// host. Only for testing: the connection can be read and
    /// changed by anyone on the path
    #[arg(long, verbatim_doc_comment)]
    insecure: bool,
    /// WebSocket over HTTP/2 (RFC 8441): off (default, HTTP/1.1),
    /// prefer (HTTP/2 when a wss:// server agrees, else HTTP/1.1)
    /// or require (HTTP/2 or an error; ws:// then speaks h2c)
    #[arg(long, value_name = "off|prefer|require", value_enum, default_value_t = Http2Mode::Off)]
    #[arg(
        hide_default_value = true,
        hide_possible_values = true,
        verbatim_doc_comment
    )]
    http2: Http2Mode,
}

// The doc comments below are --help text, verbatim: not links for rustdoc.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
#[derive(Debug, Args)]
#[command(next_help_heading = "PROXY AND REDIRECTS")]
struct Proxy {
    /// Connect through this proxy: http://[user:pass@]host:port
    /// (HTTP CONNECT), socks5://[user:pass@]host:port (names
    /// resolved here) or socks5h://... (names resolved by the
    /// proxy). wss:// stays encrypted end to end through it
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "proxy_from_env",
        verbatim_doc_comment
    )]
    proxy: Option<String>,
    /// Choose the proxy as curl does: HTTPS_PROXY for wss://,
    /// HTTP_PROXY for ws://, else ALL_PROXY (lowercase names
    /// too), none for the hosts in NO_PROXY. Without this option
    /// these variables are ignored
    #[arg(long, verbatim_doc_comment)]
    proxy_from_env: bool,
    /// Do not follow redirects: a 3xx answer is an error
    #[arg(long, overrides_with = "max_redirects")]
    no_redirects: bool,
    /// Follow at most N redirects (0: none). Default 5. Never
    /// from wss:// to ws://; Authorization and Cookie headers
    /// are dropped when the host changes
    #[arg(long, value_name = "N", value_parser = count, verbatim_doc_comment)]
    max_redirects: Option<Setting<usize>>,
}

/// `aiows serve [ADDR]`: the address and the options.
#[derive(Debug, Args)]
struct ServeCli {
    /// Where to listen: host:port, or just a port on 127.0.0.1
    #[arg(value_name = "ADDR", default_value = DEFAULT_SERVE_ADDR, value_parser = listen_addr)]
    addr: String,
    /// Relay each message to all other connected clients instead
    /// of echoing it (a chat room)
    #[arg(long, verbatim_doc_comment)]
    broadcast: bool,
    /// Accept this subprotocol (repeatable, preferred first)
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocols: Vec<String>,
    /// Refuse permessage-deflate
    #[arg(long = "no-compression", action = ArgAction::SetFalse)]
    compression: bool,
    /// Largest message accepted (K, M, G suffixes; 0: no limit).
    /// Default 1M; a bigger one closes the connection with 1009
    #[arg(long, value_name = "N", value_parser = size, verbatim_doc_comment)]
    max_message_size: Option<Setting<usize>>,
    /// Also print each request's headers
    #[arg(short, long)]
    verbose: bool,
    /// Also serve WebSockets over HTTP/2 (RFC 8441) on the same
    /// port: a connection that starts with the HTTP/2 preface
    /// speaks h2c (many WebSockets on it), any other HTTP/1.1
    #[arg(long, verbatim_doc_comment)]
    http2: bool,
    #[command(flatten)]
    limits: Limits,
}

// The doc comments below are --help text, verbatim: not links for rustdoc.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
#[derive(Debug, Args)]
#[command(next_help_heading = "LIMITS")]
struct Limits {
    /// Connections open at once. Default 256; further ones are
    /// answered HTTP 503, with a line on stderr
    #[arg(long, value_name = "N", value_parser = count, verbatim_doc_comment)]
    max_connections: Option<Setting<usize>>,
    /// Also accept browser pages from ORIGIN, e.g.
    /// https://app.example (repeatable; '*': any). By default a
    /// request whose Origin header is not a loopback page
    /// (http(s)://localhost, 127.x.x.x or [::1], any port) is
    /// answered HTTP 403; requests without Origin (programs,
    /// not browsers) are accepted
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = origin, verbatim_doc_comment)]
    allow_origins: Vec<String>,
    /// Bound on each send to a client, in seconds. Default 10; a
    /// client that stops reading is disconnected when a send
    /// waits longer (echo and broadcast)
    #[arg(long, value_name = "S", value_parser = seconds, verbatim_doc_comment)]
    send_timeout: Option<Setting<Duration>>,
    /// --broadcast: bytes of messages waiting for one client
    /// (K, M, G suffixes). Default 16M; a client further behind
    /// is closed with 1008 (policy violation) and a line on
    /// stderr says so
    #[arg(long, value_name = "N", value_parser = size, verbatim_doc_comment)]
    max_queue_size: Option<Setting<usize>>,
}

/// Parses the command line, `args` starting with the program name. `--help` and
/// `--version` come back as an error whose [`clap::Error::use_stderr`] is false: print it
/// on stdout and exit 0. Any other error is a mistake on the command line, see
/// [`describe`].
pub fn parse<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| {
        // A second URL (or `serve` after the URL): clap would call it a subcommand that
        // cannot be used with <URL>.
        match e.get(ContextKind::InvalidSubcommand) {
            Some(extra) if e.kind() == ErrorKind::ArgumentConflict => Cli::command().error(
                ErrorKind::UnknownArgument,
                format!(
                    "unexpected argument '{extra}': give one URL (options go before or after it)"
                ),
            ),
            _ => e,
        }
    })?;
    match cli.serve {
        Some(Serve::Serve(s)) => Ok(Command::Serve(s.into())),
        // Without `serve`, clap has made sure of the URL.
        None => client_args(cli.client)
            .map(|a| Command::Client(Box::new(a)))
            .ok_or_else(|| Cli::command().error(ErrorKind::MissingRequiredArgument, "missing URL")),
    }
}

/// A mistake on the command line in the words of clap, as one line (the words after
/// `aiows: `), then clap's tips (a similar option, how to pass a value that starts with
/// `-`), if any, each on a line of its own.
pub fn describe(e: &clap::Error) -> String {
    let text = e.to_string();
    // clap's text: `error: WHAT` (WHAT may go on over a few lines), a blank line, tips,
    // the usage, and where to read more.
    let (what, rest) = text.split_once("\n\n").unwrap_or((&text, ""));
    let what = what.strip_prefix("error: ").unwrap_or(what);
    let mut line = what.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    for tip in rest.lines().filter(|l| l.trim_start().starts_with("tip:")) {
        line.push('\n');
        line.push_str(tip);
    }
    line
}

/// The client's settings (`None` without a URL).
fn client_args(cli: ClientCli) -> Option<ClientArgs> {
    let ClientCli {
        url,
        input: i,
        output: o,
        connection: c,
        proxy: p,
    } = cli;
    Some(ClientArgs {
        url: url?,
        headers: c.headers,
        origin: c.origin,
        subprotocols: c.subprotocols,
        compression: c.compression,
        max_message_size: c.max_message_size.into(),
        connect_timeout: c.connect_timeout.into(),
        close_timeout: c.close_timeout.into(),
        ping_interval: c.ping_interval.into(),
        ping_timeout: c.ping_timeout.into(),
        insecure: c.insecure,
        ca_files: c.ca_files,
        proxy: p.proxy,
        proxy_from_env: p.proxy_from_env,
        max_redirects: if p.no_redirects {
            Setting::Off
        } else {
            p.max_redirects.into()
        },
        once: i.once,
        sends: i.sends,
        read_stdin: i.read_stdin,
        input: match (i.binary, i.base64, i.hex) {
            (true, _, _) => InputMode::Binary,
            (_, true, _) => InputMode::Base64,
            (_, _, true) => InputMode::Hex,
            _ => InputMode::Text,
        },
        binary_out: o.binary_out,
        timestamps: o.timestamps,
        escaping: match (o.escape, o.raw) {
            (true, _) => Escaping::Always,
            (_, true) => Escaping::Never,
            _ => Escaping::Auto,
        },
        verbose: o.verbose,
        http2: c.http2,
    })
}

impl From<ServeCli> for ServeArgs {
    fn from(s: ServeCli) -> Self {
        ServeArgs {
            addr: s.addr,
            broadcast: s.broadcast,
            subprotocols: s.subprotocols,
            compression: s.compression,
            max_message_size: s.max_message_size.into(),
            send_timeout: s.limits.send_timeout.into(),
            max_connections: s.limits.max_connections.into(),
            max_queue_size: s.limits.max_queue_size.into(),
            allow_origins: s.limits.allow_origins,
            verbose: s.verbose,
            http2: s.http2,
        }
    }
}

/// `ws://` is assumed for a URL without a scheme (`localhost:9000/chat`).
fn with_scheme(url: &str) -> Result<String, String> {
    Ok(if url.contains("://") {
        url.to_owned()
    } else {
        format!("ws://{url}")
    })
}

/// A listen address: `host:port`, or a bare port meaning `127.0.0.1:port`.
fn listen_addr(addr: &str) -> Result<String, String> {
    if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = addr
            .parse()
            .map_err(|_| format!("port {addr} is out of range (0-65535)"))?;
        return Ok(format!("127.0.0.1:{port}"));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(addr.to_owned())
        }
        _ => Err("expected host:port (e.g. 127.0.0.1:9000) or a port".to_owned()),
    }
}

/// An `--allow-origin`: not blank.
fn origin(origin: &str) -> Result<String, String> {
    if origin.trim().is_empty() {
        return Err("expected an origin such as http://localhost:3000, or '*'".to_owned());
    }
    Ok(origin.to_owned())
}

/// Seconds, fractions allowed (`1.5`); `0` means off.
fn seconds(value: &str) -> Result<Setting<Duration>, String> {
    let bad = || "expected a number of seconds such as 5 or 0.5 (0 disables)".to_owned();
    let secs: f64 = value.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    if secs == 0.0 {
        return Ok(Setting::Off);
    }
    // A year is plenty; far beyond it, `Instant + Duration` could overflow.
    if secs > 365.0 * 86_400.0 {
        return Err("at most one year (31536000 seconds); use 0 for no limit".to_owned());
    }
    Duration::try_from_secs_f64(secs)
        .map(Setting::Set)
        .map_err(|_| bad())
}

/// A whole number such as a hop count; `0` means off.
fn count(value: &str) -> Result<Setting<usize>, String> {
    match value.trim().parse::<usize>() {
        Ok(0) => Ok(Setting::Off),
        Ok(n) => Ok(Setting::Set(n)),
        Err(_) => Err("expected a whole number such as 5 (0 disables)".to_owned()),
    }
}

/// A byte count with an optional binary suffix: `512`, `64K`, `16M`, `1G` (also `KB`,
/// `KiB`, ...; case-insensitive). `0` means no limit.
fn size(value: &str) -> Result<Setting<usize>, String> {
    let bad = || "expected a size such as 65536, 64K, 16M or 1G (0: no limit)".to_owned();
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
        .ok_or_else(|| "too large for this machine".to_owned())?;
    Ok(if bytes == 0 {
        Setting::Off
    } else {
        Setting::Set(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &[&str]) -> Result<Command, clap::Error> {
        parse(["aiows"].iter().chain(line))
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
            Err(e) => describe(&e),
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

    /// clap's own checks of the definition (names, conflicts, headings).
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--help` / `--version`: the text for stdout, with the kind that says so.
    fn help(line: &[&str]) -> (ErrorKind, String) {
        match parse_str(line) {
            Err(e) if !e.use_stderr() => (e.kind(), e.to_string()),
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn help_and_version_win_anywhere() {
        let (kind, text) = help(&["ws://h/", "--help"]);
        assert_eq!(kind, ErrorKind::DisplayHelp);
        assert!(text.contains("Usage: aiows [OPTIONS] <URL>"), "{text}");
        assert_eq!(help(&["-h"]), (kind, text.clone()));
        assert_eq!(
            help(&["--version"]),
            (
                ErrorKind::DisplayVersion,
                format!("aiows {}\n", env!("CARGO_PKG_VERSION"))
            )
        );
        assert_eq!(help(&["-V"]).0, ErrorKind::DisplayVersion);
        assert_eq!(help(&["serve", "-V"]), help(&["--version"]));
        let (kind, serve) = help(&["serve", "--help"]);
        assert_eq!(kind, ErrorKind::DisplayHelp);
        assert!(serve.starts_with("aiows serve - "), "{serve}");
        assert!(
            serve.contains("Usage: aiows serve [OPTIONS] [ADDR]"),
            "{serve}"
        );
        assert!(serve.contains("--broadcast") && !serve.contains("--once"));
    }

    #[test]
    fn double_dash_ends_options() {
        assert_eq!(client(&["--", "-weird-host:1"]).url, "ws://-weird-host:1");
        // Only the first argument can be `serve`.
        assert_eq!(client(&["--", "serve"]).url, "ws://serve");
        assert_eq!(client(&["-v", "serve"]).url, "ws://serve");
    }

    #[test]
    fn values_may_start_with_a_dash_and_the_last_one_wins() {
        let a = client(&[
            "ws://h/", "--send", "-1", "--origin", "--once", "-H", "-X: 1",
        ]);
        assert_eq!(
            (a.sends, a.headers),
            (vec!["-1".into()], vec!["-X: 1".into()])
        );
        assert_eq!((a.origin.as_deref(), a.once), (Some("--once"), false));
        let a = client(&["ws://h/", "--origin=a", "--origin", "b", "--once", "--once"]);
        assert_eq!((a.origin.as_deref(), a.once), (Some("b"), true));
        let a = client(&["ws://h/", "--max-message-size=1K", "--max-message-size=2K"]);
        assert_eq!(a.max_message_size, Setting::Set(2 << 10));
        // --no-redirects and --max-redirects: whichever comes last.
        let a = client(&["ws://h/", "--no-redirects", "--max-redirects", "3"]);
        assert_eq!(a.max_redirects, Setting::Set(3));
        let a = client(&["ws://h/", "--max-redirects", "3", "--no-redirects"]);
        assert_eq!(a.max_redirects, Setting::Off);
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
            assert!(e.contains("for '--connect-timeout <S>'"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        let s = size;
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
        assert!(s("99999999999G").is_err_and(|e| e.contains("too large")));
    }

    /// Each command line (split at spaces) fails with a message containing its needle.
    fn fails(cases: &[(&str, &str)]) {
        for (line, needle) in cases {
            let e = error(&line.split_whitespace().collect::<Vec<_>>());
            assert!(e.contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn mistakes_are_explained() {
        fails(&[
            ("", "required arguments were not provided: <URL>"),
            ("ws://a/ ws://b/", "'ws://b/': give one URL"),
            ("ws://a/ serve", "'serve': give one URL"),
            ("ws://a/ --bogus", "unexpected argument '--bogus'"),
            ("ws://a/ --onec", "similar argument exists: '--once'"),
            (
                "ws://a/ --origin",
                "a value is required for '--origin <ORIGIN>'",
            ),
            ("ws://a/ --once=yes", "unexpected value 'yes' for '--once'"),
            // `-1x` is `-1 -x`.
            ("ws://a/ -1x", "unexpected argument '-x'"),
            (
                "ws://a/ --hex --base64",
                "'--hex' cannot be used with '--base64'",
            ),
            (
                "ws://a/ --base64 --binary",
                "'--base64' cannot be used with '--binary'",
            ),
            (
                "ws://a/ --binary-out octal",
                "[possible values: hex, base64]",
            ),
            ("ws://a/ --proxy", "a value is required for '--proxy <URL>'"),
            (
                "ws://a/ --proxy http://p:1 --proxy-from-env",
                "'--proxy <URL>' cannot be used",
            ),
            ("ws://a/ --max-redirects -1", "whole number"),
            (
                "ws://a/ --no-redirects=1",
                "unexpected value '1' for '--no-redirects'",
            ),
            (
                "ws://a/ --raw --escape",
                "'--raw' cannot be used with '--escape'",
            ),
        ]);
        // The same input flag twice is harmless.
        assert_eq!(client(&["ws://a/", "--hex", "--hex"]).input, InputMode::Hex);
        // What the user reads: one line, then clap's tip if any.
        assert_eq!(
            error(&["ws://a/", "--onec"]),
            "unexpected argument '--onec' found\n  tip: a similar argument exists: '--once'"
        );
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
        fails(&[
            ("serve --once", "unexpected argument '--once'"),
            ("serve a b", "unexpected argument 'b'"),
            ("serve 70000", "port 70000 is out of range"),
            (
                "serve localhost",
                "'localhost' for '[ADDR]': expected host:port",
            ),
            ("serve :80", "host:port"),
            ("serve --max-connections x", "whole number"),
            ("serve --send-timeout -1", "seconds"),
        ]);
        assert!(error(&["serve", "--allow-origin", " "]).contains("expected an origin"));
    }
}
