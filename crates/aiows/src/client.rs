//! `aiows URL`: connect, send `--send` messages and stdin lines, print what arrives.
//!
//! ```text
//!  stdin thread ──lines──▶ sender task (WsSender) ──▶ server
//!                                ▲ stop
//!  main task (WsReceiver) ◀──────┴───────────────────── server ──▶ stdout
//!       ▲ Ctrl-C
//! ```
//!
//! The halves of a split WebSocket run in two tasks so that a slow server never stops
//! us from reading (the receiver also answers pings). The main task decides when to close
//! (Ctrl-C, `--once`, stdout gone) and tells the sender task, which sends the close frame;
//! the main task then reads until the server's close and picks the exit code.
//!
//! At the end of stdin the sender closes at once: the library still delivers what the
//! server sends until its own close frame, so the answers to our last lines are printed.

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use std::sync::Arc;

use aiowebsocket::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};
use aiowebsocket::tokio::Stream;
use aiowebsocket::ws_client::options::{DEFAULT_PING_INTERVAL, DEFAULT_PING_TIMEOUT};
use aiowebsocket::ws_handshake::HttpVersion;
use aiowebsocket::{
    ClientBuilder, CloseCode, CloseFrame, Error, Http2, Message, Proxy, RedirectPolicy, Response,
    WsSender,
};
use tokio::sync::{mpsc, oneshot};

use crate::args::{BinaryOut, ClientArgs, Escaping, Http2Mode, InputMode, Setting};
use crate::format::{
    encode_binary, escape_controls, message_from_line, receive_prefix, strip_line_ending,
};
use crate::interrupts;
use crate::report::{
    describe_close, error_message, is_normal_close, Failure, Timeouts, EXIT_ABNORMAL, EXIT_CONNECT,
    EXIT_INTERRUPTED, EXIT_USAGE,
};

/// Lines read from stdin, with their line ending removed.
type Lines = mpsc::Receiver<io::Result<Vec<u8>>>;

/// Runs the client until the connection is over.
///
/// What the server sends can reach the terminal in the messages (stdout) and in the error
/// line, `-v` headers and close reasons (stderr): control characters are escaped on a
/// terminal (see [`Escaping`]).
pub async fn run(args: ClientArgs) -> Result<(), Failure> {
    let escape_stderr = args.escaping == Escaping::Always || io::stderr().is_terminal();
    connect_and_run(args, escape_stderr).await.map_err(|f| {
        if escape_stderr {
            Failure::new(f.code, escape_controls(&f.message))
        } else {
            f
        }
    })
}

async fn connect_and_run(args: ClientArgs, escape_stderr: bool) -> Result<(), Failure> {
    let timeouts = Timeouts {
        close: args.close_timeout,
        ping: args.ping_timeout,
    };
    // Everything the user typed is checked before connecting.
    let sends = args
        .sends
        .iter()
        .enumerate()
        .map(|(i, text)| {
            message_from_line(args.input, text.clone().into_bytes()).map_err(|why| {
                Failure::new(EXIT_USAGE, format!("--send #{} {text:?} {why}", i + 1))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let builder = client_builder(&args)?;
    // The URL, the headers and the proxy settings are checked before connecting.
    let options = builder.connect_options().clone();
    let usage = |e: Error| Failure::new(EXIT_USAGE, error_message(&e, timeouts));
    let first = options.build_request().map_err(usage)?;
    let proxy = options.proxy_for(first.target()).map_err(usage)?;
    if args.verbose {
        let target = first.target();
        let via = match &proxy {
            Some(p) => format!(" through the {} proxy {p}", p.scheme()),
            None => String::new(),
        };
        eprintln!("aiows: connecting to {}:{}{via}", target.host, target.port);
    }

    let mut interrupts = interrupts();
    let (ws, response, request) = tokio::select! {
        result = builder.connect_with_request() => result
            .map_err(|e| Failure::new(EXIT_CONNECT, connect_failure(&e, &args, timeouts)))?,
        Some(()) = interrupts.recv() => {
            return Err(Failure::new(EXIT_INTERRUPTED, "interrupted while connecting"));
        }
    };
    if args.verbose {
        if request.url() != first.url() {
            let url = request.url().to_string();
            eprintln!("aiows: redirected to {}", escaped_if(escape_stderr, &url));
        }
        if response.http_version() == HttpVersion::Http2 {
            // The request went out as an extended CONNECT: show its fields.
            let h2 = options
                .request_builder_for(request.url().as_ref())
                .and_then(|b| Ok(b.build_h2()?));
            if let Ok(h2) = h2 {
                let mut head = format!(
                    ":method: {}\r\n:protocol: {}\r\n:scheme: {}\r\n:authority: {}\r\n:path: {}\r\n",
                    h2.method(),
                    h2.protocol(),
                    h2.scheme(),
                    h2.authority(),
                    h2.path()
                );
                for (name, value) in h2.headers() {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                print_request(head.as_bytes(), escape_stderr);
            }
        } else {
            print_request(request.as_bytes(), escape_stderr);
        }
        print_response(&response, escape_stderr);
        eprintln!(
            "aiows: connected to {} (subprotocol: {}, compression: {})",
            args.url,
            ws.subprotocol().unwrap_or("none"),
            if ws.connection().negotiated().compression() {
                "permessage-deflate"
            } else {
                "none"
            }
        );
    }
    let stdin_is_tty = io::stdin().is_terminal();
    if args.read_stdin && stdin_is_tty && io::stderr().is_terminal() {
        eprintln!(
            "aiows: connected to {}; type a line to send it, Ctrl-D to close",
            args.url
        );
    }

    let (tx, mut rx) = ws.split();
    let (stop_tx, stop_rx) = oneshot::channel();
    let plan = SendPlan {
        sends,
        lines: args.read_stdin.then(read_stdin),
        mode: args.input,
        close_on_eof: !args.once,
    };
    let sender = tokio::spawn(send_loop(tx, plan, stop_rx));

    let mut stop = Some(stop_tx);
    let mut printer = Printer {
        timestamps: args.timestamps,
        binary_out: args.binary_out,
        escape: match args.escaping {
            Escaping::Always => true,
            Escaping::Never => false,
            Escaping::Auto => io::stdout().is_terminal(),
        },
        gone: false,
    };
    let mut printed_once = false;
    let mut error = None;
    let mut close: Option<Option<CloseFrame>> = None;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                None => break,
                Some(Ok(msg)) => {
                    let line = match &msg {
                        Message::Text(text) => Some(text.to_string()),
                        Message::Binary(data) => Some(encode_binary(printer.binary_out, data)),
                        Message::Ping(data) => {
                            if args.verbose {
                                eprintln!("aiows: ping received ({} bytes), pong sent", data.len());
                            }
                            None
                        }
                        Message::Pong(data) => {
                            if args.verbose {
                                eprintln!("aiows: pong received ({} bytes)", data.len());
                            }
                            None
                        }
                        Message::Close(frame) => {
                            if args.verbose {
                                eprintln!(
                                    "aiows: close frame received: {}",
                                    frame.as_ref().map_or("no status".to_owned(), describe_close)
                                );
                            }
                            close = Some(frame.clone());
                            None
                        }
                    };
                    // With --once, only the first data message is printed.
                    if let Some(line) = line.filter(|_| !(args.once && printed_once)) {
                        if !printer.print(&line) {
                            // stdout is gone (`aiows URL | head -1`): nothing more to do.
                            request_stop(&mut stop, CloseCode::GOING_AWAY);
                        }
                        if args.once {
                            printed_once = true;
                            request_stop(&mut stop, CloseCode::NORMAL);
                        }
                    }
                }
                Some(Err(e)) => {
                    // Reported once; the next `recv` returns `None`.
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            },
            Some(()) = interrupts.recv() => {
                if stop.is_none() {
                    sender.abort();
                    return Err(Failure::new(EXIT_INTERRUPTED, "interrupted while closing"));
                }
                if io::stderr().is_terminal() {
                    eprintln!("aiows: closing (Ctrl-C again to quit at once)");
                }
                request_stop(&mut stop, CloseCode::NORMAL);
            }
        }
    }

    sender.abort();
    // Aborted while still waiting (a JoinError): nothing to report.
    let send_error: Option<Error> = sender.await.unwrap_or_default();
    if let Some(e) = error {
        return Err(Failure::new(EXIT_ABNORMAL, error_message(&e, timeouts)));
    }
    match close {
        Some(frame) if is_normal_close(frame.as_ref()) => Ok(()),
        Some(Some(frame)) => Err(Failure::new(
            EXIT_ABNORMAL,
            format!(
                "the server closed the connection with {}",
                describe_close(&frame)
            ),
        )),
        _ => Err(Failure::new(
            EXIT_ABNORMAL,
            match send_error {
                Some(e) => error_message(&e, timeouts),
                None => "the connection ended without a WebSocket close handshake".to_owned(),
            },
        )),
    }
}

/// Asks the sender task to close (once).
fn request_stop(stop: &mut Option<oneshot::Sender<CloseCode>>, code: CloseCode) {
    if let Some(s) = stop.take() {
        let _ = s.send(code);
    }
}

/// Why connecting failed; with `--http2 require`, a failure of the HTTP/2 connection
/// itself also says what to try.
fn connect_failure(e: &Error, args: &ClientArgs, timeouts: Timeouts) -> String {
    let mut message = error_message(e, timeouts);
    let h2_failed = e.step() == Some(aiowebsocket::Step::Handshake)
        && (e.http2_error().is_some() || message.contains("HTTP/2"));
    if args.http2 == Http2Mode::Require && h2_failed {
        let how = if args.url.starts_with("wss://") {
            "over TLS it must choose h2 by ALPN and allow WebSockets over HTTP/2"
        } else {
            "ws:// with --http2 require speaks h2c (HTTP/2 with prior knowledge), which an \
             HTTP/1.1-only server does not understand"
        };
        message.push_str(&format!(
            "; the server does not seem to do WebSockets over HTTP/2 ({how}); \
             try --http2 prefer or --http2 off"
        ));
    }
    message
}

/// The builder for `args`: URL, headers, limits, timeouts, keepalive, TLS, proxy,
/// redirects.
fn client_builder(args: &ClientArgs) -> Result<ClientBuilder, Failure> {
    let mut b = aiowebsocket::builder(&args.url);
    for line in &args.headers {
        b = b.raw_header(line);
    }
    if let Some(origin) = &args.origin {
        b = b.origin(origin);
    }
    for proto in &args.subprotocols {
        b = b.subprotocol(proto);
    }
    if !args.compression {
        b = b.no_compression();
    }
    match args.max_message_size {
        Setting::Default => {}
        Setting::Off => b = b.max_message_size(None),
        Setting::Set(n) => b = b.max_message_size(Some(n)),
    }
    // One option bounds both opening steps: DNS + TCP, then TLS + the HTTP upgrade.
    match args.connect_timeout {
        Setting::Default => {}
        Setting::Off => b = b.connect_timeout(None).open_timeout(None),
        Setting::Set(d) => b = b.connect_timeout(Some(d)).open_timeout(Some(d)),
    }
    match args.close_timeout {
        Setting::Default => {}
        Setting::Off => b = b.close_timeout(None),
        Setting::Set(d) => b = b.close_timeout(Some(d)),
    }
    b = match (args.ping_interval, args.ping_timeout) {
        (Setting::Off, _) => b.no_keepalive(),
        (Setting::Default, Setting::Default) => b,
        (interval, timeout) => {
            let interval = match interval {
                Setting::Set(d) => d,
                _ => DEFAULT_PING_INTERVAL,
            };
            let timeout = match timeout {
                Setting::Set(d) => d,
                // No pong deadline: the library treats an unrepresentable deadline as none.
                Setting::Off => Duration::MAX,
                Setting::Default => DEFAULT_PING_TIMEOUT,
            };
            b.keepalive(interval, timeout)
        }
    };
    if let Some(config) = tls_config(args)? {
        b = b.rustls_config(config);
    }
    if let Some(url) = &args.proxy {
        // Parsed here so that a bad URL is a usage error naming the option.
        Proxy::parse(url).map_err(|e| Failure::new(EXIT_USAGE, format!("--proxy: {e}")))?;
        b = b.proxy_url(url);
    }
    if args.proxy_from_env {
        b = b.proxy_from_env();
    }
    match args.max_redirects {
        Setting::Default => {}
        Setting::Off => b = b.no_redirects(),
        Setting::Set(n) => b = b.redirects(RedirectPolicy::limited(n)),
    }
    b = b.http2(match args.http2 {
        Http2Mode::Off => Http2::Off,
        Http2Mode::Prefer => Http2::Prefer,
        Http2Mode::Require => Http2::Require,
    });
    Ok(b)
}

/// A rustls configuration when `--insecure` or `--ca-file` ask for one; `None` means the
/// library's default (rustls with the system's trust roots).
fn tls_config(args: &ClientArgs) -> Result<Option<Arc<rustls::ClientConfig>>, Failure> {
    if !args.insecure && args.ca_files.is_empty() {
        return Ok(None);
    }
    let builder = rustls::ClientConfig::builder();
    if args.insecure {
        eprintln!(
            "aiows: warning: --insecure: the server's certificate is NOT verified; anyone on \
             the path can read and change this connection"
        );
        let verifier = AnyCertificate(Arc::clone(builder.crypto_provider()));
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        return Ok(Some(Arc::new(config)));
    }
    // The system's roots, as by default, plus the files'.
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for path in &args.ca_files {
        let shown = path.display();
        let pem = std::fs::read(path)
            .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot read --ca-file {shown}: {e}")))?;
        let invalid = |e: &dyn std::fmt::Display| {
            Failure::new(
                EXIT_USAGE,
                format!("--ca-file {shown}: invalid certificate: {e}"),
            )
        };
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(cert.map_err(|e| invalid(&e))?)
                .map_err(|e| invalid(&e))?;
            found += 1;
        }
        if found == 0 {
            return Err(Failure::new(
                EXIT_USAGE,
                format!("--ca-file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            ));
        }
    }
    let config = builder.with_root_certificates(roots).with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// `--insecure`: accepts any certificate for any name. The handshake's signatures are still
/// checked (with the provider's algorithms), so the session is encrypted, but to whoever
/// answered.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `-v`: the request head exactly as it was sent (the last one, after redirects), one `> `
/// line per line.
fn print_request(head: &[u8], escape: bool) {
    let text = String::from_utf8_lossy(head);
    let mut err = io::stderr().lock();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let _ = writeln!(err, "> {}", escaped_if(escape, line));
    }
}

/// `-v`: the response head, one `< ` line per line.
fn print_response(response: &Response, escape: bool) {
    let mut err = io::stderr().lock();
    let status = format!("{} {}", response.http_version(), response.status());
    let reason = escaped_if(escape, response.reason());
    if reason.is_empty() {
        // HTTP/2 has no reason phrase.
        let _ = writeln!(err, "< {status}");
    } else {
        let _ = writeln!(err, "< {status} {reason}");
    }
    for (name, value) in response.headers() {
        let line = format!("{name}: {}", String::from_utf8_lossy(value));
        let _ = writeln!(err, "< {}", escaped_if(escape, &line));
    }
}

/// `text`, with its control characters escaped when `escape` is set.
fn escaped_if(escape: bool, text: &str) -> std::borrow::Cow<'_, str> {
    if escape {
        escape_controls(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Writes received messages to stdout, one per line, flushed per message.
struct Printer {
    timestamps: bool,
    binary_out: BinaryOut,
    /// Escape control characters (stdout is a terminal, or `--escape`).
    escape: bool,
    /// stdout failed (closed pipe): print nothing more.
    gone: bool,
}

impl Printer {
    /// Prints one message; `false` when stdout is gone.
    fn print(&mut self, body: &str) -> bool {
        if self.gone {
            return false;
        }
        let mut line = String::with_capacity(body.len() + 40);
        if self.timestamps {
            line.push_str(&receive_prefix());
        }
        line.push_str(&escaped_if(self.escape, body));
        line.push('\n');
        let mut out = io::stdout().lock();
        if out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            self.gone = true;
        }
        !self.gone
    }
}

/// What the sender task sends, in order.
struct SendPlan {
    /// `--send` messages.
    sends: Vec<Message>,
    /// stdin lines, unless `--no-stdin`.
    lines: Option<Lines>,
    mode: InputMode,
    /// Close at the end of stdin (not with `--once`, which closes after the first message).
    close_on_eof: bool,
}

/// The sender task: sends the plan, then the close frame when asked (or at the end of
/// input). Returns the send error that ended it, if any.
async fn send_loop(
    mut tx: WsSender<Stream>,
    plan: SendPlan,
    mut stop: oneshot::Receiver<CloseCode>,
) -> Option<Error> {
    let code = match feed(&mut tx, plan, &mut stop).await {
        Ok(code) => code,
        Err(e) => return Some(e),
    };
    match tx.close(code, "").await {
        Err(e) if !e.is_closed() => Some(e),
        _ => None,
    }
}

/// Sends everything planned; returns the close code to send.
async fn feed(
    tx: &mut WsSender<Stream>,
    plan: SendPlan,
    stop: &mut oneshot::Receiver<CloseCode>,
) -> Result<CloseCode, Error> {
    /// Sends `msg` unless a stop comes first (then returns the stop's close code).
    macro_rules! send_or_stop {
        ($msg:expr) => {
            tokio::select! {
                biased;
                code = &mut *stop => return Ok(code.unwrap_or(CloseCode::NORMAL)),
                sent = tx.send($msg) => sent?,
            }
        };
    }
    for msg in plan.sends {
        send_or_stop!(msg);
    }
    if let Some(mut lines) = plan.lines {
        let mut number = 0u64;
        loop {
            let line = tokio::select! {
                biased;
                code = &mut *stop => return Ok(code.unwrap_or(CloseCode::NORMAL)),
                line = lines.recv() => line,
            };
            match line {
                Some(Ok(bytes)) => {
                    number += 1;
                    match message_from_line(plan.mode, bytes) {
                        Ok(msg) => send_or_stop!(msg),
                        Err(why) => eprintln!("aiows: input line {number} {why}; not sent"),
                    }
                }
                Some(Err(e)) => {
                    eprintln!("aiows: reading stdin failed ({e}); treating it as the end of input");
                    break;
                }
                None => break,
            }
        }
        if plan.close_on_eof {
            return Ok(CloseCode::NORMAL);
        }
    }
    // Nothing more to send: wait until the main task asks for the close.
    Ok(stop.await.unwrap_or(CloseCode::NORMAL))
}

/// Reads stdin on a thread of its own (a blocked read must not keep the runtime from
/// ending; the process exits without joining it).
fn read_stdin() -> Lines {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    strip_line_ending(&mut line);
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}
