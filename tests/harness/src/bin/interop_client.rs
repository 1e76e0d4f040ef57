//! The interop client: talks permessage-deflate with a real peer (Python `websockets`, Node
//! `ws`) and checks that compressed messages cross both ways intact.
//!
//! `cargo xtask interop` starts the peers (`tests/interop/`) and runs this once per peer,
//! runtime and mode; run it by hand against a peer of your own with
//!
//! ```text
//! cargo run --release -p aiowebsocket-harness --bin interop_client -- \
//!     --url ws://127.0.0.1:PORT/ --runtime tokio|smol|async-std --mode MODE \
//!     [--tls native-tls|rustls --ca CA.pem]   # for a wss:// URL
//!     [--http2 prefer|require --streams N]    # over HTTP/2: the `h2` module's run
//! ```
//!
//! The peer must echo every message and understand two text commands: `aiows:burst N`
//! (answer with N JSON-like texts, one 1.5 MiB compressible binary, one text message in 8
//! fragments and `aiows:burst-done`)
//! and `aiows:stats` (answer `aiows:stats received=R compressed=C`: messages it received and
//! how many of them had RSV1 set). The modes match the peers' server configurations:
//!
//! | mode                  | server requires                       | we offer                 |
//! |-----------------------|---------------------------------------|--------------------------|
//! | `default`             | its defaults                          | the default offer        |
//! | `no-context-takeover` | `server_/client_no_context_takeover`  | the default offer        |
//! | `small-window`        | server window 9 bits, client 8 bits   | the default offer        |
//! | `client-offer`        | its defaults                          | 10-bit windows, no context takeover both ways, fragments of 16 KiB, default threshold |
//! | `no-compression`      | no permessage-deflate at all          | the default offer (declined: nothing is compressed) |
//!
//! Steps, each bounded by [`STEP_TIMEOUT`]:
//! 1. Smoke: connect with the facade's `connect_with`, check the response accepted
//!    permessage-deflate, echo one message, close.
//! 2. Connect again over TCP through a tap that parses every frame on the wire both ways
//!    (counts frames, RSV1, bytes), check the negotiated parameters against the mode.
//! 3. Echo text (multi-byte UTF-8) and binary (compressible and random) of 0, 1, 63, 64,
//!    65, 125-127 bytes, 1 KiB, 64 KiB +-1 and 1 MiB; compare every echo byte for byte.
//! 4. Pipeline [`PIPELINED`] JSON-like messages in one batch (context takeover across many
//!    messages), then read all echoes in order.
//! 5. `aiows:burst` [`BURST`]: the peer's compressor sends, ours inflates (including a
//!    message the peer fragments); compare with the expected contents.
//! 6. `aiows:stats`: the peer received every message we sent, and saw RSV1 on exactly those
//!    the tap saw leave compressed.
//! 7. Close with 1000 and check the peer's close frame.
//!
//! With `--http2 prefer|require` the run is another one, over HTTP/2 (RFC 8441), against a
//! peer such as Hypercorn that also answers `aiows:whoami`: see `interop_client/h2.rs`.
//!
//! The last line on stdout is `INTEROP-SUMMARY key=value ... ext=<negotiated extension>`,
//! which `cargo xtask interop` reads for its table. Exit status 0 only if every check held.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aiowebsocket::ws_client::connect;
use aiowebsocket::ws_client::Timer;
use aiowebsocket::ws_frame::{Decoded, HeaderDecoder, OpCode, Role, RSV1};
use aiowebsocket::ws_handshake::permessage_deflate::DeflateParams;
use aiowebsocket::{
    CloseCode, Config, ConnectOptions, DeflateConfig, Http2, MaybeTlsStream, Message, Response,
    Runtime, TlsConnect, WebSocketStream,
};
use aiowebsocket_harness::{tls_connector, OnRuntime, RuntimeChoice};
use futures::future::{select, Either};
use futures::io::{AsyncRead, AsyncWrite};

#[path = "interop_client/h2.rs"]
mod h2;

/// The longest any single step (a send, a receive, a close) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages sent in one batch in step 4.
const PIPELINED: usize = 1000;
/// Server-initiated text messages asked for in step 5.
const BURST: usize = 300;
/// The size of the burst's binary message (the peers use the same constant).
const BURST_BINARY_LEN: usize = 1_572_864;
/// The burst's fragmented text message has this many fragments (the peers use the same).
const BURST_FRAGMENTS: usize = 8;
/// Fragment size in the `client-offer` mode.
const CLIENT_OFFER_FRAME_SIZE: usize = 16 * 1024;
/// Echo sizes of step 3.
const SIZES: &[usize] = &[
    0,
    1,
    63,
    64,
    65,
    125,
    126,
    127,
    1024,
    65_535,
    65_536,
    65_537,
    1 << 20,
];
/// Sizes also sent as incompressible (random) binary.
const RANDOM_SIZES: &[usize] = &[1, 1024, 65_536, 1 << 20];

/// Where the step timeouts' sleeps come from: the runtime's timer.
type Sleeper<'a> = &'a dyn Timer;

/// The negotiation scenario; the peers know the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Default,
    NoContextTakeover,
    SmallWindow,
    ClientOffer,
    /// The server does not do permessage-deflate: nothing is compressed either way.
    NoCompression,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, String> {
        Ok(match s {
            "default" => Mode::Default,
            "no-context-takeover" => Mode::NoContextTakeover,
            "small-window" => Mode::SmallWindow,
            "client-offer" => Mode::ClientOffer,
            "no-compression" => Mode::NoCompression,
            other => {
                return Err(format!(
                    "unknown mode {other:?}: use default, no-context-takeover, small-window, \
                     client-offer or no-compression"
                ))
            }
        })
    }

    /// What we offer.
    fn offer(self) -> DeflateConfig {
        match self {
            Mode::ClientOffer => DeflateConfig {
                client_max_window_bits: Some(10),
                server_max_window_bits: Some(10),
                client_no_context_takeover: true,
                server_no_context_takeover: true,
            },
            _ => DeflateConfig::default(),
        }
    }

    /// The connection configuration: every message compressed (threshold 0), except in
    /// `client-offer`, which keeps the default threshold (small messages go uncompressed
    /// between compressed ones) and fragments messages after 16 KiB.
    fn config(self) -> Config {
        let config = Config::default();
        match self {
            Mode::ClientOffer => config.write_frame_size(CLIENT_OFFER_FRAME_SIZE),
            _ => config.compression_threshold(0),
        }
    }

    /// Checks the negotiated parameters against what the peer was configured to require.
    fn check(self, p: &DeflateParams) -> Result<(), String> {
        let ok = match self {
            Mode::Default => !p.client_no_context_takeover && !p.server_no_context_takeover,
            Mode::NoContextTakeover => p.client_no_context_takeover && p.server_no_context_takeover,
            Mode::SmallWindow => p.server_max_window_bits == 9 && p.client_max_window_bits == 8,
            Mode::ClientOffer => {
                p.server_max_window_bits == 10
                    && p.client_max_window_bits <= 10
                    && p.client_no_context_takeover
                    && p.server_no_context_takeover
            }
            Mode::NoCompression => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "negotiated parameters {p:?} do not match mode {self:?} (see the table in the \
                 interop_client docs)"
            ))
        }
    }
}

/// Talks to an interop peer and checks every message both ways (see the module docs).
#[derive(Debug, clap::Parser)]
#[command(name = "interop_client")]
struct Args {
    /// The peer: ws://127.0.0.1:PORT/ or wss://...
    #[arg(long)]
    url: String,
    /// The runtime: tokio, smol or async-std.
    #[arg(long, default_value = "tokio", value_parser = RuntimeChoice::parse)]
    runtime: RuntimeChoice,
    /// The peer's configuration: default, no-context-takeover, small-window, client-offer,
    /// no-compression.
    #[arg(long, default_value = "default", value_parser = Mode::parse)]
    mode: Mode,
    /// The TLS library for wss:// (native-tls or rustls; default: rustls).
    #[arg(long)]
    tls: Option<String>,
    /// A PEM file with the CA that signed the peer's certificate.
    #[arg(long)]
    ca: Option<String>,
    /// WebSockets over HTTP/2 (RFC 8441): off (HTTP/1.1), prefer or require. With prefer or
    /// require the run is the HTTP/2 one (`h2` module) and must end on HTTP/2.
    #[arg(long, default_value = "off", value_parser = parse_http2)]
    http2: Http2,
    /// WebSockets opened at once over one shared HTTP/2 connection (needs --http2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    streams: u16,
}

fn parse_http2(s: &str) -> Result<Http2, String> {
    match s {
        "off" => Ok(Http2::Off),
        "prefer" => Ok(Http2::Prefer),
        "require" => Ok(Http2::Require),
        other => Err(format!(
            "unknown --http2 {other:?}: use off, prefer or require"
        )),
    }
}

impl Args {
    fn options(&self) -> Result<ConnectOptions, String> {
        let mut options = ConnectOptions::new(self.url.clone())
            .config(self.mode.config())
            .close_timeout(Some(Duration::from_secs(10)))
            .no_keepalive()
            .compression(Some(self.mode.offer()));
        if self.tls.is_some() || self.ca.is_some() {
            let ca = match &self.ca {
                Some(path) => {
                    Some(std::fs::read(path).map_err(|e| format!("cannot read --ca {path}: {e}"))?)
                }
                None => None,
            };
            let backend = self.tls.as_deref().unwrap_or("rustls");
            let alpn: &[&str] = if self.http2 == Http2::Off {
                &[]
            } else {
                &["h2", "http/1.1"]
            };
            let tls = tls_connector(backend, ca.as_deref(), alpn)
                .map_err(|e| format!("cannot set up {backend}: {e}"))?;
            options = options.tls(tls);
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let started = Instant::now();
    let result = args.runtime.block_on(Interop(&args)).and_then(|r| r);
    match result {
        Ok(summary) => {
            println!(
                "interop_client: all checks passed in {:.1?}",
                started.elapsed()
            );
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "interop_client ({:?}, {:?}, tls {:?}): FAILED: {e}",
                args.runtime, args.mode, args.tls
            );
            ExitCode::FAILURE
        }
    }
}

/// The whole run, written once for every runtime.
struct Interop<'a>(&'a Args);

impl OnRuntime for Interop<'_> {
    type Output = Result<String, String>;

    async fn run<R: Runtime>(self, rt: R) -> Self::Output {
        run(self.0, rt).await
    }
}

async fn run<R: Runtime>(args: &Args, rt: R) -> Result<String, String> {
    if args.http2 != Http2::Off {
        return h2::run(args, rt).await;
    }
    if args.streams != 1 {
        return Err("--streams needs --http2 prefer|require".to_owned());
    }
    let timer = rt.timer();
    let sleep: Sleeper<'_> = &*timer;
    let options = args.options()?;

    let (ws, response) = within(
        sleep,
        "connecting (smoke, connect)",
        connect::connect(&rt, &options),
    )
    .await?
    .map_err(|e| format!("smoke connect failed: {e}"))?;
    smoke(ws, &response, args.mode, sleep).await?;

    // The tapped connection: TCP (and TLS) opened here, the tap over the WebSocket bytes.
    let (host, port, secure) = target(&options)?;
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => within(sleep, "resolving the host", rt.resolve(&host))
            .await?
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .first()
            .copied()
            .ok_or_else(|| format!("{host} has no address"))?,
    };
    let tcp = within(
        sleep,
        "opening TCP",
        rt.connect_tcp(SocketAddr::new(ip, port)),
    )
    .await?
    .map_err(|e| format!("TCP connect to {host}:{port} failed: {e}"))?;
    let stream = if secure {
        let tls = options.tls_connector().connect(&host, &[], tcp);
        MaybeTlsStream::Tls(
            within(sleep, "the TLS handshake", tls)
                .await?
                .map_err(|e| format!("TLS with {host}:{port} failed: {e}"))?,
        )
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let tap = Tap::new(stream);
    let stats = Arc::clone(&tap.stats);
    let (ws, response) = within(
        sleep,
        "the opening handshake",
        connect::connect_on(tap, &options, Some(timer.clone())),
    )
    .await?
    .map_err(|e| format!("connect_on failed: {e}"))?;
    session(ws, &response, &stats, args.mode, sleep).await
}

/// Host, port and whether the URL is `wss://`.
fn target(options: &ConnectOptions) -> Result<(String, u16, bool), String> {
    let request = options
        .build_request()
        .map_err(|e| format!("bad --url: {e}"))?;
    let target = request.target();
    Ok((target.host.clone(), target.port, target.secure))
}

/// Runs `fut`, failing with a message naming `what` after [`STEP_TIMEOUT`].
async fn within<T>(
    sleep: Sleeper<'_>,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, String> {
    let timeout = sleep.sleep_until(Instant::now() + STEP_TIMEOUT);
    match select(pin!(fut), timeout).await {
        Either::Left((value, _)) => Ok(value),
        Either::Right(_) => Err(format!(
            "timed out after {STEP_TIMEOUT:?} waiting for {what}"
        )),
    }
}

/// The negotiated extension header; an error if permessage-deflate is not in it (or, in
/// mode `no-compression`, if it is).
fn negotiated(response: &Response, mode: Mode) -> Result<String, String> {
    let ext = response
        .header("sec-websocket-extensions")
        .unwrap_or("")
        .to_owned();
    let deflate = ext.to_ascii_lowercase().contains("permessage-deflate");
    match (mode, deflate) {
        (Mode::NoCompression, false) => Ok(ext),
        (Mode::NoCompression, true) => Err(format!(
            "the server was configured without compression but accepted it \
             (Sec-WebSocket-Extensions: {ext:?})"
        )),
        (_, true) => Ok(ext),
        (_, false) => Err(format!(
            "the server did not accept permessage-deflate (Sec-WebSocket-Extensions: {ext:?})"
        )),
    }
}

/// The negotiated extension header and parameters, checked against the mode: the response
/// and the connection agree, and the parameters are those the peer was configured with.
fn negotiation(
    response: &Response,
    deflate: Option<DeflateParams>,
    mode: Mode,
) -> Result<(String, DeflateParams), String> {
    let ext = negotiated(response, mode)?;
    match (&deflate, mode) {
        (None, Mode::NoCompression) => {}
        (Some(p), _) => mode.check(p)?,
        (None, _) => {
            return Err(
                "the response accepted permessage-deflate but the connection did not enable it"
                    .to_owned(),
            )
        }
    }
    Ok((ext, deflate.unwrap_or_default()))
}

/// Step 1: the facade's own connect path negotiates deflate and echoes one message.
async fn smoke<S>(
    mut ws: WebSocketStream<S>,
    response: &Response,
    mode: Mode,
    sleep: Sleeper<'_>,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    negotiated(response, mode)?;
    if ws.connection().negotiated().compression() != (mode != Mode::NoCompression) {
        return Err(format!(
            "smoke: the connection's compression ({}) does not match the response",
            ws.connection().negotiated().compression()
        ));
    }
    let text = "smoke test: compressed hello from aiowebsocket \u{2713} ".repeat(4);
    within(
        sleep,
        "sending the smoke message",
        ws.send(Message::text(text.clone())),
    )
    .await?
    .map_err(|e| format!("smoke send failed: {e}"))?;
    let echo = recv_data(&mut ws, sleep, "the smoke echo").await?;
    if echo.as_text() != Some(text.as_str()) {
        return Err(format!("smoke: echo differs: {}", describe(&echo)));
    }
    within(
        sleep,
        "closing the smoke connection",
        ws.close(CloseCode::NORMAL, "smoke done"),
    )
    .await?
    .map_err(|e| format!("smoke close failed: {e}"))?;
    Ok(())
}

/// What the session itself counted (application side).
#[derive(Debug, Default)]
struct Counts {
    messages_out: u64,
    payload_out: u64,
    /// Messages long enough to be compressed by our threshold.
    expected_compressed_out: u64,
    messages_in: u64,
    payload_in: u64,
}

struct Session<'a, S> {
    ws: WebSocketStream<S>,
    sleep: Sleeper<'a>,
    threshold: usize,
    /// Whether permessage-deflate was negotiated.
    compressing: bool,
    counts: Counts,
    /// What the tap saw; `None` over HTTP/2, where the frames travel inside h2 DATA frames.
    tap: Option<&'a Arc<Mutex<TapStats>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    fn count_out(&mut self, msg: &Message) {
        self.counts.messages_out += 1;
        self.counts.payload_out += msg.len() as u64;
        if self.compressing && msg.len() >= self.threshold {
            self.counts.expected_compressed_out += 1;
        }
    }

    async fn send(&mut self, msg: Message, what: &str) -> Result<(), String> {
        self.count_out(&msg);
        within(self.sleep, what, self.ws.send(msg))
            .await?
            .map_err(|e| format!("sending {what} failed: {e}"))
    }

    async fn feed(&mut self, msg: Message, what: &str) -> Result<(), String> {
        self.count_out(&msg);
        within(self.sleep, what, self.ws.feed(msg))
            .await?
            .map_err(|e| format!("queueing {what} failed: {e}"))
    }

    async fn recv(&mut self, what: &str) -> Result<Message, String> {
        let msg = recv_data(&mut self.ws, self.sleep, what).await?;
        self.counts.messages_in += 1;
        self.counts.payload_in += msg.len() as u64;
        Ok(msg)
    }

    async fn echo(&mut self, label: &str, msg: Message) -> Result<(), String> {
        self.send(msg.clone(), label).await?;
        let echo = self.recv(&format!("the echo of {label}")).await?;
        same(label, &msg, &echo)
    }

    /// What the tap saw so far (nothing without a tap).
    fn tap(&self) -> TapStats {
        self.tap.map(|t| lock(t).clone()).unwrap_or_default()
    }
}

/// Steps 2 to 7 over the tapped connection; returns the summary line.
async fn session<'a, S>(
    ws: WebSocketStream<S>,
    response: &Response,
    tap: &'a Arc<Mutex<TapStats>>,
    mode: Mode,
    sleep: Sleeper<'a>,
) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    // Step 2: negotiation.
    let (ext, params) = negotiation(response, ws.connection().negotiated().deflate, mode)?;
    let threshold = ws.connection().config().compression_threshold;
    let mut s = Session {
        ws,
        sleep,
        threshold,
        compressing: mode != Mode::NoCompression,
        counts: Counts::default(),
        tap: Some(tap),
    };

    // Step 3: echoes.
    for &n in SIZES {
        s.echo(&format!("text of {n} bytes"), Message::text(utf8_text(n)))
            .await?;
        s.echo(
            &format!("compressible binary of {n} bytes"),
            Message::binary(compressible(n)),
        )
        .await?;
    }
    for &n in RANDOM_SIZES {
        s.echo(
            &format!("random binary of {n} bytes"),
            Message::binary(random(n, n as u64 + 1)),
        )
        .await?;
    }

    // Step 4: many messages in a row, one batch.
    let batch: Vec<String> = (0..PIPELINED).map(json_like).collect();
    for (i, text) in batch.iter().enumerate() {
        s.feed(
            Message::text(text.clone()),
            &format!("pipelined message {i}"),
        )
        .await?;
    }
    within(sleep, "flushing the pipelined batch", s.ws.flush())
        .await?
        .map_err(|e| format!("flushing the pipelined batch failed: {e}"))?;
    for (i, text) in batch.iter().enumerate() {
        let label = format!("pipelined message {i}");
        let echo = s.recv(&format!("the echo of {label}")).await?;
        same(&label, &Message::text(text.clone()), &echo)?;
    }

    // Step 5: server-initiated messages from the peer's compressor.
    s.send(
        Message::text(format!("aiows:burst {BURST}")),
        "the burst command",
    )
    .await?;
    for i in 0..BURST {
        let label = format!("burst text {i}");
        let got = s.recv(&label).await?;
        same(&label, &Message::text(burst_text(i)), &got)?;
    }
    let got = s.recv("the burst binary").await?;
    same("the burst binary", &Message::binary(burst_binary()), &got)?;
    let fragmented: String = (0..BURST_FRAGMENTS).map(burst_fragment).collect();
    let got = s.recv("the fragmented burst text").await?;
    same(
        "the fragmented burst text",
        &Message::text(fragmented),
        &got,
    )?;
    let got = s.recv("aiows:burst-done").await?;
    same("aiows:burst-done", &Message::text("aiows:burst-done"), &got)?;

    // Step 6: what the peer saw.
    s.send(Message::text("aiows:stats"), "the stats command")
        .await?;
    let reply = s.recv("the stats reply").await?;
    let (peer_received, peer_compressed) = parse_stats(&reply)?;
    let sent_compressed = s.tap().out.compressed_messages;
    if peer_received != s.counts.messages_out {
        return Err(format!(
            "the peer received {peer_received} messages, we sent {}",
            s.counts.messages_out
        ));
    }
    if sent_compressed != s.counts.expected_compressed_out {
        return Err(format!(
            "{sent_compressed} of our messages left with RSV1, expected {} (threshold \
             {threshold} bytes)",
            s.counts.expected_compressed_out
        ));
    }
    if peer_compressed != sent_compressed {
        return Err(format!(
            "the peer saw {peer_compressed} compressed messages, the tap saw {sent_compressed} \
             leave compressed"
        ));
    }

    // Step 7: close.
    within(
        sleep,
        "the closing handshake",
        s.ws.close(CloseCode::NORMAL, "interop done"),
    )
    .await?
    .map_err(|e| format!("close failed: {e}"))?;
    match s.ws.close_frame() {
        Some(frame) if frame.code == CloseCode::NORMAL => {}
        other => {
            return Err(format!(
                "the peer did not answer our close with 1000: {other:?}"
            ))
        }
    }

    let tap = s.tap();
    for (side, scanner) in [("outgoing", &tap.out), ("incoming", &tap.inn)] {
        if let Some(e) = &scanner.error {
            return Err(format!("the tap could not parse the {side} frames: {e}"));
        }
    }
    if tap.out.data_messages != s.counts.messages_out {
        return Err(format!(
            "the tap saw {} data messages leave, we sent {}",
            tap.out.data_messages, s.counts.messages_out
        ));
    }
    if tap.inn.data_messages != s.counts.messages_in {
        return Err(format!(
            "the tap saw {} data messages arrive, we received {}",
            tap.inn.data_messages, s.counts.messages_in
        ));
    }
    // Both peers are configured to compress every message (websockets always does; ws with
    // threshold 0), so every message that arrived must have exercised our inflate path;
    // without compression, none may have RSV1.
    let expected_in = if s.compressing {
        tap.inn.data_messages
    } else {
        0
    };
    if tap.inn.compressed_messages != expected_in {
        return Err(format!(
            "{} of the {} messages from the peer were compressed, expected {expected_in}",
            tap.inn.compressed_messages, tap.inn.data_messages
        ));
    }
    if tap.inn.continuation_frames < BURST_FRAGMENTS as u64 - 1 {
        return Err(format!(
            "the peer should have sent one message in {BURST_FRAGMENTS} fragments, but only \
             {} continuation frames arrived",
            tap.inn.continuation_frames
        ));
    }
    if mode == Mode::ClientOffer && tap.out.continuation_frames == 0 {
        return Err(format!(
            "mode client-offer should fragment messages over {CLIENT_OFFER_FRAME_SIZE} bytes, \
             but no continuation frame left"
        ));
    }

    let c = &s.counts;
    Ok(format!(
        "INTEROP-SUMMARY msgs_out={} msgs_in={} comp_out={} comp_in={} frames_out={} \
         frames_in={} cont_out={} cont_in={} payload_out={} wire_out={} payload_in={} \
         wire_in={} peer_received={} peer_compressed={} client_bits={} server_bits={} \
         client_nct={} server_nct={} session_ms={} ext={}",
        c.messages_out,
        c.messages_in,
        tap.out.compressed_messages,
        tap.inn.compressed_messages,
        tap.out.frames,
        tap.inn.frames,
        tap.out.continuation_frames,
        tap.inn.continuation_frames,
        c.payload_out,
        tap.out.wire_bytes,
        c.payload_in,
        tap.inn.wire_bytes,
        peer_received,
        peer_compressed,
        params.client_max_window_bits,
        params.server_max_window_bits,
        params.client_no_context_takeover,
        params.server_no_context_takeover,
        started.elapsed().as_millis(),
        ext,
    ))
}

/// Receives the next text or binary message (pings and pongs are skipped).
async fn recv_data<S>(
    ws: &mut WebSocketStream<S>,
    sleep: Sleeper<'_>,
    what: &str,
) -> Result<Message, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match within(sleep, what, ws.recv()).await? {
            Some(Ok(msg)) if msg.is_data() => return Ok(msg),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!(
                    "the peer closed the connection while we waited for {what}: {frame:?}"
                ))
            }
            Some(Ok(_)) => {} // ping or pong
            Some(Err(e)) => return Err(format!("receiving {what} failed: {e}")),
            None => return Err(format!("the connection ended while we waited for {what}")),
        }
    }
}

/// Fails unless `got` is the same kind of message with the same bytes as `want`.
fn same(label: &str, want: &Message, got: &Message) -> Result<(), String> {
    if want.is_text() != got.is_text() || want.is_binary() != got.is_binary() {
        return Err(format!(
            "{label}: sent {}, got back {}",
            describe(want),
            describe(got)
        ));
    }
    let (a, b) = (want.as_payload(), got.as_payload());
    if a == b {
        return Ok(());
    }
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    Err(format!(
        "{label}: payload differs: expected {} bytes, got {} bytes, first difference at byte \
         {first}",
        a.len(),
        b.len()
    ))
}

fn describe(msg: &Message) -> String {
    let kind = match msg {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "ping",
        Message::Pong(_) => "pong",
        Message::Close(_) => "close",
    };
    format!("{kind} of {} bytes", msg.len())
}

/// Parses `aiows:stats received=R compressed=C`.
fn parse_stats(reply: &Message) -> Result<(u64, u64), String> {
    let text = reply
        .as_text()
        .ok_or_else(|| format!("the stats reply is {}, not text", describe(reply)))?;
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (
        text.starts_with("aiows:stats "),
        field("received"),
        field("compressed"),
    ) {
        (true, Some(r), Some(c)) => Ok((r, c)),
        _ => Err(format!("unexpected stats reply {text:?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Payloads

/// Exactly `n` bytes of valid UTF-8 mixing 1- to 4-byte characters.
fn utf8_text(n: usize) -> String {
    const PATTERN: &str = "h\u{e9}llo w\u{f6}rld \u{2014} \u{65e5}\u{672c}\u{8a9e} \
                           \u{1f389} {\"k\":[1,2,3]} ";
    let mut s = String::with_capacity(n);
    for c in PATTERN.chars().cycle() {
        if s.len() + c.len_utf8() > n {
            break;
        }
        s.push(c);
    }
    while s.len() < n {
        s.push('x');
    }
    s
}

/// `n` bytes of repetitive, JSON-like data.
fn compressible(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut i = 0u64;
    while v.len() < n {
        v.extend_from_slice(
            format!("{{\"id\":{i},\"price\":{}.{:02}}},", i * 7 % 1000, i % 100).as_bytes(),
        );
        i += 1;
    }
    v.truncate(n);
    v
}

/// `n` pseudo-random bytes (xorshift64*), incompressible.
fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// The `i`-th pipelined message: small JSON-like texts that share most of their bytes.
fn json_like(i: usize) -> String {
    format!(
        "{{\"seq\":{i},\"user\":\"user-{}\",\"text\":\"h\u{e9}llo \u{2713} {}\",\"tags\":[\"a\",\"b{}\"]}}",
        i % 17,
        "z".repeat(i % 23),
        i % 5
    )
}

/// The `i`-th burst text (the peers build the same strings).
fn burst_text(i: usize) -> String {
    format!(
        "{{\"seq\":{i},\"kind\":\"burst\",\"note\":\"server \u{2192} client \u{2713} \
         \u{fc}n\u{ef}c\u{f6}d\u{e9}\",\"fill\":\"{}\"}}",
        "ab".repeat(i % 40)
    )
}

/// The `j`-th fragment of the burst's fragmented text (the peers build the same strings).
fn burst_fragment(j: usize) -> String {
    format!("fragment {j}: ") + &"\u{2248} fragmented and compressed \u{2248} ".repeat(200)
}

/// The burst binary (the peers build the same bytes).
fn burst_binary() -> Vec<u8> {
    let mut v = Vec::with_capacity(BURST_BINARY_LEN + 64);
    let mut k = 0u64;
    while v.len() < BURST_BINARY_LEN {
        v.extend_from_slice(
            format!("{k:07}: the quick brown fox jumps over the lazy dog\n").as_bytes(),
        );
        k += 1;
    }
    v.truncate(BURST_BINARY_LEN);
    v
}

// ---------------------------------------------------------------------------------------
// The tap: parses the frames on the wire without changing a byte.

/// What crossed the wire in one direction, after the HTTP handshake.
#[derive(Clone, Debug, Default)]
struct DirStats {
    frames: u64,
    /// First frames of text and binary messages.
    data_messages: u64,
    /// Of those, the ones with RSV1 set (compressed).
    compressed_messages: u64,
    continuation_frames: u64,
    /// Frame bytes (headers, masks, payloads).
    wire_bytes: u64,
    error: Option<String>,
}

/// Follows one direction of the byte stream: skips the HTTP head, then frame by frame.
#[derive(Clone, Debug)]
struct Scanner {
    decoder: HeaderDecoder,
    /// How many bytes of `\r\n\r\n` matched so far; 4 once the head is over.
    head_matched: usize,
    header: Vec<u8>,
    payload_left: u64,
    stats: DirStats,
}

impl Scanner {
    /// `frames_from`: the role of the endpoint that writes the frames.
    fn new(frames_from: Role) -> Scanner {
        // The decoder takes the role of the endpoint that reads the frames.
        let reader = match frames_from {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        Scanner {
            decoder: HeaderDecoder::new(reader).allowed_rsv(RSV1),
            head_matched: 0,
            header: Vec::with_capacity(16),
            payload_left: 0,
            stats: DirStats::default(),
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        while self.head_matched < 4 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            data = rest;
            let want = b"\r\n\r\n"[self.head_matched];
            self.head_matched = if b == want {
                self.head_matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
        }
        self.stats.wire_bytes += data.len() as u64;
        while !data.is_empty() && self.stats.error.is_none() {
            if self.payload_left > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.payload_left).unwrap_or(usize::MAX));
                self.payload_left -= n as u64;
                data = &data[n..];
                continue;
            }
            self.header.push(data[0]);
            data = &data[1..];
            match self.decoder.decode(&self.header) {
                Ok(Decoded::Incomplete { .. }) => {}
                Ok(Decoded::Complete { header, .. }) => {
                    self.stats.frames += 1;
                    match header.opcode {
                        OpCode::Text | OpCode::Binary => {
                            self.stats.data_messages += 1;
                            if header.rsv & RSV1 != 0 {
                                self.stats.compressed_messages += 1;
                            }
                        }
                        OpCode::Continuation => self.stats.continuation_frames += 1,
                        _ => {}
                    }
                    self.payload_left = header.payload_len;
                    self.header.clear();
                }
                Err(e) => self.stats.error = Some(e.to_string()),
            }
        }
    }
}

/// Both directions, shared between the tap and the session.
#[derive(Clone, Debug, Default)]
struct TapStats {
    out: DirStats,
    inn: DirStats,
}

#[derive(Debug)]
struct Scanners {
    out: Scanner,
    inn: Scanner,
}

/// A stream that hands a copy of every byte to two [`Scanner`]s. It implements both tokio's
/// and futures-io's I/O traits, for `connect_on` of either runtime.
#[derive(Debug)]
struct Tap<S> {
    inner: S,
    scanners: Scanners,
    stats: Arc<Mutex<TapStats>>,
}

impl<S> Tap<S> {
    fn new(inner: S) -> Tap<S> {
        Tap {
            inner,
            scanners: Scanners {
                out: Scanner::new(Role::Client),
                inn: Scanner::new(Role::Server),
            },
            stats: Arc::new(Mutex::new(TapStats {
                out: DirStats::default(),
                inn: DirStats::default(),
            })),
        }
    }

    fn saw_read(&mut self, data: &[u8]) {
        self.scanners.inn.feed(data);
        lock(&self.stats).inn = self.scanners.inn.stats.clone();
    }

    fn saw_written(&mut self, data: &[u8]) {
        self.scanners.out.feed(data);
        lock(&self.stats).out = self.scanners.out.stats.clone();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.saw_read(&buf[..n]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.saw_written(&buf[..n]);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
