//! The HTTP/2 run (`--http2 prefer|require`, RFC 8441): `--streams N` WebSockets opened at
//! once through one [`H2Pool`], so they must share one HTTP/2 connection.
//!
//! Steps, each bounded by [`STEP_TIMEOUT`](super::STEP_TIMEOUT):
//! 1. Open N WebSockets concurrently with the facade's `connect` (the same options, one
//!    pool); every response must be HTTP/2 and every stream an h2 stream; the pool must
//!    hold one connection carrying N WebSockets. Check the negotiation against the mode.
//! 2. On every WebSocket at once: echo text (multi-byte UTF-8) and binary (compressible and
//!    random, different on each stream) of 0 bytes to 1 MiB, then a pipelined batch.
//! 3. `aiows:stats` on each: the peer received every message we sent on that WebSocket and
//!    saw RSV1 on exactly those our threshold compresses.
//! 4. `aiows:whoami` on each: `http=2`, and one client port for all of them (one TCP
//!    connection).
//! 5. Close them one by one with 1000, each well under the close timeout (a server that
//!    never ends its stream after the closing handshake, as Hypercorn, must not make us
//!    wait), echoing on the next one after each close (closing one disturbs no other); then
//!    the pool has no WebSocket left.
//!
//! The peer is the one of the module docs (`aiows:stats`) plus `aiows:whoami`, answered
//! with `aiows:whoami http=<HTTP version> client=<client TCP port>`
//! (`tests/interop/hypercorn_server.py`).

use std::time::{Duration, Instant};

use aiowebsocket::ws_client::connect;
use aiowebsocket::ws_handshake::HttpVersion;
use aiowebsocket::{CloseCode, H2Pool, MaybeTlsStream, Message, Runtime};
use futures::future::{join_all, try_join_all};
use futures::io::{AsyncRead, AsyncWrite};

use super::{
    compressible, negotiation, parse_stats, random, same, utf8_text, within, Args, Counts, Session,
    Sleeper,
};

/// Echo sizes of step 2 (text and compressible binary).
const SIZES: &[usize] = &[0, 1, 125, 126, 65_535, 65_536, 1 << 20];
/// Sizes also sent as incompressible (random) binary.
const RANDOM_SIZES: &[usize] = &[1, 65_536, 1 << 20];
/// Messages pipelined on each WebSocket in step 2.
const PIPELINED: usize = 200;
/// The close timeout the options set (`Args::options`).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one close may take: "well under the close timeout" (a client waiting for
/// an END_STREAM that never comes would take all of [`CLOSE_TIMEOUT`]).
const CLOSE_BUDGET: Duration = Duration::from_secs(2);

pub(super) async fn run<R: Runtime>(args: &Args, rt: R) -> Result<String, String> {
    let started = Instant::now();
    let timer = rt.timer();
    let sleep: Sleeper<'_> = &*timer;
    let pool = H2Pool::new();
    let options = args.options()?.http2(args.http2).http2_pool(pool.clone());
    let n = usize::from(args.streams);
    let secure = options
        .build_request()
        .map_err(|e| format!("bad --url: {e}"))?
        .target()
        .secure;

    // Step 1: open all at once.
    let (rt, opts) = (&rt, &options);
    let opened = join_all((0..n).map(|i| async move {
        within(
            sleep,
            &format!("opening WebSocket {i}"),
            connect::connect(rt, opts),
        )
        .await?
        .map_err(|e| format!("opening WebSocket {i} over HTTP/2 failed: {e}"))
    }))
    .await;
    let open_ms = started.elapsed().as_millis();
    let mut sessions = Vec::with_capacity(n);
    let mut ext = String::new();
    for (i, result) in opened.into_iter().enumerate() {
        let (ws, response) = result?;
        if response.http_version() != HttpVersion::Http2 {
            return Err(format!(
                "WebSocket {i} opened over {:?}, not HTTP/2 (--http2 {:?})",
                response.http_version(),
                args.http2
            ));
        }
        match ws.get_ref() {
            MaybeTlsStream::Http2(s) if s.is_tls() == secure => {}
            MaybeTlsStream::Http2(s) => {
                return Err(format!(
                    "WebSocket {i} is an h2 stream with TLS {}, expected {secure}",
                    s.is_tls()
                ))
            }
            _ => return Err(format!("WebSocket {i} is not carried by an h2 stream")),
        }
        let (e, _params) = negotiation(&response, ws.connection().negotiated().deflate, args.mode)
            .map_err(|e| format!("WebSocket {i}: {e}"))?;
        ext = e;
        let threshold = ws.connection().config().compression_threshold;
        let compressing = ws.connection().negotiated().compression();
        sessions.push(Session {
            ws,
            sleep,
            threshold,
            compressing,
            counts: Counts::default(),
            tap: None,
        });
    }
    let connections = pool.connections();
    if connections != 1 || pool.streams() != n {
        return Err(format!(
            "{n} WebSockets to one origin should share one HTTP/2 connection; the pool has \
             {connections} connections carrying {} WebSockets",
            pool.streams()
        ));
    }

    // Steps 2 and 3, on every WebSocket at once.
    let stats = try_join_all(sessions.iter_mut().enumerate().map(|(i, s)| async move {
        echoes(s, i)
            .await
            .map_err(|e| format!("WebSocket {i}: {e}"))
    }))
    .await?;
    let peer_received: u64 = stats.iter().map(|(r, _)| r).sum();
    let peer_compressed: u64 = stats.iter().map(|(_, c)| c).sum();

    // Step 4: who are we, for the server.
    let mut ports = Vec::with_capacity(n);
    for (i, s) in sessions.iter_mut().enumerate() {
        s.send(Message::text("aiows:whoami"), "the whoami command")
            .await?;
        let reply = s.recv("the whoami reply").await?;
        let (http, port) = parse_whoami(&reply).map_err(|e| format!("WebSocket {i}: {e}"))?;
        if http != "2" {
            return Err(format!(
                "WebSocket {i}: the server saw HTTP/{http}, not HTTP/2 ({reply:?})"
            ));
        }
        ports.push(port);
    }
    if ports.iter().any(|p| *p != ports[0]) {
        return Err(format!(
            "the server saw the WebSockets come from different client ports {ports:?}: they \
             did not share one connection"
        ));
    }

    // Step 5: close one by one; the others stay usable.
    let mut close_max = Duration::ZERO;
    let (mut msgs_out, mut msgs_in, mut payload_out, mut payload_in) = (0, 0, 0, 0);
    let mut sessions = sessions.into_iter().enumerate().peekable();
    while let Some((i, mut s)) = sessions.next() {
        let t = Instant::now();
        within(
            sleep,
            &format!("closing WebSocket {i}"),
            s.ws.close(CloseCode::NORMAL, "interop done"),
        )
        .await?
        .map_err(|e| format!("closing WebSocket {i} failed: {e}"))?;
        let took = t.elapsed();
        close_max = close_max.max(took);
        if took > CLOSE_BUDGET {
            return Err(format!(
                "closing WebSocket {i} took {took:.1?} (budget {CLOSE_BUDGET:?}, close timeout \
                 {CLOSE_TIMEOUT:?}): the client seems to wait for an END_STREAM the server \
                 never sends"
            ));
        }
        match s.ws.close_frame() {
            Some(frame) if frame.code == CloseCode::NORMAL => {}
            other => {
                return Err(format!(
                    "the peer did not answer the close of WebSocket {i} with 1000: {other:?}"
                ))
            }
        }
        if let Some((j, next)) = sessions.peek_mut() {
            next.echo(
                &format!("a text on WebSocket {j} after WebSocket {i} closed"),
                Message::text(format!("still here after {i} closed")),
            )
            .await?;
        }
        msgs_out += s.counts.messages_out;
        msgs_in += s.counts.messages_in;
        payload_out += s.counts.payload_out;
        payload_in += s.counts.payload_in;
    }
    // The pool counts a WebSocket until its stream is released, which the close (or the
    // drop just above) does; give a driver on another thread a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    while pool.streams() != 0 && Instant::now() < deadline {
        sleep
            .sleep_until(Instant::now() + Duration::from_millis(10))
            .await;
    }
    if pool.streams() != 0 {
        return Err(format!(
            "all WebSockets are closed but the pool still counts {} on its connection",
            pool.streams()
        ));
    }

    Ok(format!(
        "INTEROP-SUMMARY http=2 streams={n} connections={connections} client_port={} \
         msgs_out={msgs_out} msgs_in={msgs_in} comp_out={peer_compressed} payload_out={payload_out} \
         payload_in={payload_in} peer_received={peer_received} open_ms={open_ms} \
         close_max_ms={} session_ms={} ext={ext}",
        ports[0],
        close_max.as_millis(),
        started.elapsed().as_millis(),
    ))
}

/// Steps 2 and 3 on one WebSocket (`i`: its index, which makes its payloads its own).
/// Returns what the peer counted: messages received, compressed.
async fn echoes<S>(s: &mut Session<'_, S>, i: usize) -> Result<(u64, u64), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let seed = (i as u64 + 1) << 32;
    s.echo(
        "a text naming its stream",
        Message::text(format!("stream {i} \u{2713}")),
    )
    .await?;
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
            Message::binary(random(n, seed + n as u64)),
        )
        .await?;
    }
    let batch: Vec<String> = (0..PIPELINED)
        .map(|k| format!("{{\"stream\":{i},\"seq\":{k},\"text\":\"h\u{e9}llo\"}}"))
        .collect();
    for (k, text) in batch.iter().enumerate() {
        s.feed(
            Message::text(text.clone()),
            &format!("pipelined message {k}"),
        )
        .await?;
    }
    within(s.sleep, "flushing the pipelined batch", s.ws.flush())
        .await?
        .map_err(|e| format!("flushing the pipelined batch failed: {e}"))?;
    for (k, text) in batch.iter().enumerate() {
        let label = format!("pipelined message {k}");
        let echo = s.recv(&format!("the echo of {label}")).await?;
        same(&label, &Message::text(text.clone()), &echo)?;
    }

    s.send(Message::text("aiows:stats"), "the stats command")
        .await?;
    let reply = s.recv("the stats reply").await?;
    let (received, compressed) = parse_stats(&reply)?;
    if received != s.counts.messages_out {
        return Err(format!(
            "the peer received {received} messages, we sent {}",
            s.counts.messages_out
        ));
    }
    if compressed != s.counts.expected_compressed_out {
        return Err(format!(
            "the peer saw {compressed} compressed messages, expected {} (threshold {} bytes, \
             compression {})",
            s.counts.expected_compressed_out, s.threshold, s.compressing
        ));
    }
    Ok((received, compressed))
}

/// Parses `aiows:whoami http=V client=PORT` into `(V, PORT)`.
fn parse_whoami(reply: &Message) -> Result<(String, u16), String> {
    let text = reply
        .as_text()
        .ok_or_else(|| format!("the whoami reply is not text: {reply:?}"))?;
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    match (
        text.starts_with("aiows:whoami "),
        field("http"),
        field("client").and_then(|p| p.parse().ok()),
    ) {
        (true, Some(http), Some(port)) => Ok((http.to_owned(), port)),
        _ => Err(format!("unexpected whoami reply {text:?}")),
    }
}
