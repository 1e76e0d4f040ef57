//! A battery of hostile loopback servers against the facade client with its DEFAULT
//! settings (connect/open/close timeouts 10 s, write timeout 20 s, keepalive 20 s / 20 s,
//! 64 MiB message and 16 MiB frame limits, permessage-deflate offered), on tokio, smol and
//! async-std.
//!
//! Every scenario must end as a clean, typed error or a clean close within a time bound (no
//! panic, no hang), and the floods and bombs under a memory bound. Two settings are changed,
//! for test speed only, where a scenario says so:
//! - `open_timeout(2 s)` (default 10 s) for the handshake stalls;
//! - `keepalive(500 ms, 500 ms)` (default 20 s / 20 s) for the stalls after the handshake.
//!
//! Each server is a blocking `std::net` thread, the same for both runtimes. The battery is
//! one `#[test]`: the scenarios whose memory is not measured run in parallel (one thread and
//! one runtime each: several of them wait for a 10 s close timeout), then the measured ones
//! run one at a time with the process's peak RSS (VmHWM) reset before each. A table of
//! outcomes and timings is printed (`--nocapture`) and every failing scenario is listed
//! before the test fails.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use aiowebsocket::{ClientBuilder, CloseCode, Error, Message, WebSocketStream};
use futures_io::{AsyncRead, AsyncWrite};

mod memory;
mod runtimes;

use memory::{zeros_segment, PeakRss, MIB};
use runtimes::{AsyncStd, Smol, TestRuntime as Runtime, Tokio, Ws};

/// A scenario that has not ended after this long is a hang.
const WATCHDOG: Duration = Duration::from_secs(30);
/// The default write timeout (a send that can write nothing).
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// The default close timeout.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortened open timeout of the handshake stalls (default 10 s).
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortened keepalive (interval and pong timeout) of the stalls (default 20 s / 20 s).
const KEEPALIVE: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------
// Runtimes

// ---------------------------------------------------------------------------------------
// Servers (blocking, one thread per connection)

/// Runs `server` on the first connection to a fresh loopback listener; returns the URL.
/// The thread is detached: a server that stalls on purpose ends with the test process.
fn serve(server: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((tcp, _)) = listener.accept() {
            server(tcp);
        }
    });
    format!("ws://{addr}/")
}

/// Reads the client's upgrade request.
fn read_request(tcp: &mut TcpStream) -> ws_handshake::Request {
    let mut parser = ws_handshake::RequestParser::new(ws_handshake::Limits::default());
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0, "the client hung up during the handshake");
        if let Some(r) = parser.feed(&buf[..n]).unwrap() {
            return r;
        }
    }
}

/// A valid 101 answer, accepting permessage-deflate when `deflate` (and offered).
fn accept(tcp: &mut TcpStream, deflate: bool) {
    let request = read_request(tcp);
    let offer = request.header("sec-websocket-extensions").unwrap_or("");
    assert!(
        offer.contains("permessage-deflate"),
        "default offer: {offer:?}"
    );
    let ext = deflate.then_some("permessage-deflate");
    tcp.write_all(&request.accept(None, ext)).unwrap();
}

/// Keeps the connection open, neither reading nor writing, for `d`.
fn hold(tcp: TcpStream, d: Duration) {
    thread::sleep(d);
    drop(tcp);
}

/// Reads and discards until EOF or an error (never writes).
fn drain(mut tcp: TcpStream) {
    let mut sink = [0u8; 64 << 10];
    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
}

/// Reads one (masked) client frame: `(opcode, payload)`; `None` at EOF or on an error.
fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    tcp.read_exact(&mut h).ok()?;
    let len = match h[1] & 0x7F {
        126 => {
            let mut l = [0u8; 2];
            tcp.read_exact(&mut l).ok()?;
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            tcp.read_exact(&mut l).ok()?;
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    if h[1] & 0x80 != 0 {
        tcp.read_exact(&mut mask).ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    tcp.read_exact(&mut payload).ok()?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    Some((h[0] & 0x0F, payload))
}

/// Reads client frames until its close frame; returns it (its payload).
fn read_until_close(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    loop {
        let (op, payload) = read_frame(tcp)?;
        if op == 8 {
            return Some(payload);
        }
    }
}

/// An unmasked server frame: first byte `b0` (FIN, RSV, opcode), any length.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = header(b0, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}

/// The header of an unmasked frame declaring `len` payload bytes.
fn header(b0: u8, len: u64) -> Vec<u8> {
    let mut f = vec![b0];
    if len < 126 {
        f.push(len as u8);
    } else if len <= 0xFFFF {
        f.push(126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&len.to_be_bytes());
    }
    f
}

fn close_frame(code: u16) -> Vec<u8> {
    frame(0x88, &code.to_be_bytes())
}

/// A server that completes the handshake, writes `bytes`, then reads until EOF.
fn frames_server(deflate: bool, bytes: Vec<u8>) -> String {
    serve(move |mut tcp| {
        accept(&mut tcp, deflate);
        // The client may fail the connection before reading everything.
        let _ = tcp.write_all(&bytes);
        drain(tcp);
    })
}

// ---------------------------------------------------------------------------------------
// Client-side checks

type Outcome = Result<String, String>;

fn short(e: &Error) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or_default();
    if s.len() > 90 {
        format!("{}...", &s[..s.floor_char_boundary_compat(90)])
    } else {
        s.to_string()
    }
}

/// `str::floor_char_boundary` is unstable: a local stand-in.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Receives until the first error (data and control messages are counted); an end
/// without an error is a failure.
async fn first_error<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
) -> Result<Error, String> {
    let mut messages = 0u64;
    loop {
        match ws.recv().await {
            Some(Ok(_)) => messages += 1,
            Some(Err(e)) => return Ok(e),
            None => return Err(format!("ended without an error after {messages} messages")),
        }
    }
}

/// After an error, the next `recv` must be `None`, promptly.
async fn ends<R: Runtime>(ws: &mut Ws<R>) -> Result<(), String> {
    match R::timeout(Duration::from_secs(2), ws.recv()).await {
        Some(None) => Ok(()),
        Some(Some(m)) => Err(format!("recv after the error gave {m:?}, not None")),
        None => Err("recv after the error did not end within 2 s".into()),
    }
}

/// A connection that fails with a protocol error carrying `code`, then ends.
async fn expect_protocol<R: Runtime>(url: String, code: u16) -> Outcome {
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let e = first_error(&mut ws).await?;
    let got = e.close_code().map(|c| c.as_u16());
    if !e.is_protocol() || got != Some(code) {
        return Err(format!(
            "expected a protocol error {code}, got {got:?}: {}",
            short(&e)
        ));
    }
    ends::<R>(&mut ws).await?;
    Ok(format!("protocol error {code}: {}", short(&e)))
}

/// An opening handshake that must fail; `check` says whether the error is the right kind.
async fn expect_open_error<R: Runtime>(
    b: ClientBuilder,
    what: &str,
    check: impl Fn(&Error) -> bool,
) -> Outcome {
    match R::connect(b).await {
        Ok(_) => Err("the handshake succeeded".into()),
        Err(e) if check(&e) => Ok(format!("{what}: {}", short(&e))),
        Err(e) => Err(format!("expected {what}, got {e:?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Handshake abuse

async fn h_wrong_accept<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        read_request(&mut tcp);
        let _ = tcp.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        );
        hold(tcp, Duration::from_secs(20));
    });
    expect_open_error::<R>(aiowebsocket::builder(url), "handshake error", |e| {
        e.is_handshake()
    })
    .await
}

async fn h_endless_headers<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        read_request(&mut tcp);
        let line = format!("X-Flood: {}\r\n", "a".repeat(100));
        let mut chunk = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if tcp.write_all(&chunk).is_err() {
                return;
            }
            chunk = line.repeat(100).into_bytes();
        }
    });
    expect_open_error::<R>(aiowebsocket::builder(url), "handshake error", |e| {
        e.is_handshake()
    })
    .await
}

async fn h_status_then_stall<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        read_request(&mut tcp);
        let _ = tcp.write_all(b"HTTP/1.1 101 Switching Protocols\r\n");
        hold(tcp, Duration::from_secs(30));
    });
    let b = aiowebsocket::builder(url).open_timeout(Some(OPEN_TIMEOUT));
    expect_open_error::<R>(b, "open timeout (2 s)", |e| {
        e.is_timeout() && e.step() == Some(aiowebsocket::Step::Handshake)
    })
    .await
}

async fn h_never_answers<R: Runtime>() -> Outcome {
    let url = serve(|tcp| hold(tcp, Duration::from_secs(30)));
    let b = aiowebsocket::builder(url).open_timeout(Some(OPEN_TIMEOUT));
    expect_open_error::<R>(b, "open timeout (2 s)", |e| {
        e.is_timeout() && e.step() == Some(aiowebsocket::Step::Handshake)
    })
    .await
}

async fn h_not_http<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        read_request(&mut tcp);
        let _ = tcp.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02\xff\xfe binary junk\r\n\r\n");
        hold(tcp, Duration::from_secs(20));
    });
    expect_open_error::<R>(aiowebsocket::builder(url), "handshake error", |e| {
        e.is_handshake()
    })
    .await
}

async fn h_http10<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        let request = read_request(&mut tcp);
        let answer = request.accept(None, None);
        assert!(answer.starts_with(b"HTTP/1.1 101"));
        let mut answer = answer.clone();
        answer[..8].copy_from_slice(b"HTTP/1.0");
        let _ = tcp.write_all(&answer);
        hold(tcp, Duration::from_secs(20));
    });
    expect_open_error::<R>(aiowebsocket::builder(url), "handshake error", |e| {
        e.is_handshake()
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Frame abuse

async fn f_masked<R: Runtime>() -> Outcome {
    let mask = [1u8, 2, 3, 4];
    let mut bytes = vec![0x81, 0x80 | 5];
    bytes.extend_from_slice(&mask);
    bytes.extend(b"hello".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    expect_protocol::<R>(frames_server(false, bytes), 1002).await
}

async fn f_reserved_opcode<R: Runtime>() -> Outcome {
    expect_protocol::<R>(frames_server(false, frame(0x83, b"x")), 1002).await
}

async fn f_len_2_63<R: Runtime>() -> Outcome {
    let mut bytes = vec![0x82, 127];
    bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
    bytes.extend_from_slice(&[0u8; 1024]);
    let url = frames_server(false, bytes);
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let e = first_error(&mut ws).await?;
    let code = e.close_code().map(|c| c.as_u16());
    if !e.is_protocol() || !matches!(code, Some(1002 | 1009)) {
        return Err(format!(
            "expected a protocol error 1002/1009, got {code:?}: {e}"
        ));
    }
    ends::<R>(&mut ws).await?;
    Ok(format!("protocol error {code:?}: {}", short(&e)))
}

async fn f_over_frame_limit<R: Runtime>() -> Outcome {
    let mut bytes = header(0x82, (16 * MIB) + 1);
    bytes.extend_from_slice(&[7u8; 64 << 10]);
    expect_protocol::<R>(frames_server(false, bytes), 1009).await
}

async fn f_empty_continuations<R: Runtime>() -> Outcome {
    let mut bytes = frame(0x01, b"a");
    for _ in 0..100_000 {
        bytes.extend_from_slice(&[0x00, 0x00]);
    }
    bytes.extend_from_slice(&[0x80, 0x00]);
    // Default: at most 1024 consecutive empty continuation frames, then 1008.
    expect_protocol::<R>(frames_server(false, bytes), 1008).await
}

async fn f_invalid_utf8<R: Runtime>() -> Outcome {
    expect_protocol::<R>(
        frames_server(false, frame(0x81, &[b'o', b'k', 0xC3, 0x28])),
        1007,
    )
    .await
}

async fn f_bomb_one_frame<R: Runtime>() -> Outcome {
    let payload = zeros_segment().repeat(1024); // 1 GiB inflated
    let bytes = frame(0xC2, &payload);
    drop(payload);
    expect_protocol::<R>(frames_server(true, bytes), 1009).await
}

async fn f_bomb_fragments<R: Runtime>() -> Outcome {
    let segment = zeros_segment();
    let mut bytes = frame(0x42, &segment); // RSV1, binary, not final
    for _ in 0..1022 {
        bytes.extend(frame(0x00, &segment));
    }
    bytes.extend(frame(0x80, &segment));
    expect_protocol::<R>(frames_server(true, bytes), 1009).await
}

async fn f_ping_flood<R: Runtime>() -> Outcome {
    const PINGS: u32 = 100_000;
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        let mut bytes = Vec::with_capacity(PINGS as usize * 6 + 64);
        for i in 0..PINGS {
            bytes.extend(frame(0x89, &i.to_be_bytes()));
        }
        bytes.extend(frame(0x81, b"done"));
        bytes.extend(close_frame(1000));
        // Written whole before reading anything: the client's pongs pile up meanwhile.
        if tcp.write_all(&bytes).is_err() {
            return;
        }
        let mut pongs = 0u32;
        loop {
            match read_frame(&mut tcp) {
                Some((0xA, _)) => pongs += 1,
                Some((8, _)) | None => break,
                Some(_) => {}
            }
        }
        eprintln!("ping flood: the server read {pongs} pongs before the client's close");
        // Our close was sent: closing TCP ends the client's wait for EOF.
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    // The client does not read for a while: the pings pile up in the socket.
    R::sleep(Duration::from_millis(500)).await;
    let (mut pings, mut done, mut close) = (0u32, false, None);
    while let Some(m) = ws.recv().await {
        match m.map_err(|e| format!("error after {pings} pings: {e}"))? {
            Message::Ping(_) => {
                pings += 1;
                if pings % 10_000 == 0 {
                    // Still slow: a pause now and then.
                    R::sleep(Duration::from_millis(20)).await;
                }
            }
            Message::Text(t) if t.as_str() == "done" => done = true,
            Message::Close(c) => close = c.map(|c| c.code.as_u16()),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if pings != PINGS || !done || close != Some(1000) {
        return Err(format!(
            "pings {pings}/{PINGS}, done {done}, close {close:?}"
        ));
    }
    Ok(format!(
        "{pings} pings, the text and the close (1000) received, clean end"
    ))
}

async fn f_control_126<R: Runtime>() -> Outcome {
    expect_protocol::<R>(frames_server(false, frame(0x89, &[b'p'; 126])), 1002).await
}

// ---------------------------------------------------------------------------------------
// Stalls

async fn s_mid_frame<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        let mut bytes = header(0x82, 100);
        bytes.extend_from_slice(&[1u8; 10]);
        let _ = tcp.write_all(&bytes);
        hold(tcp, Duration::from_secs(30));
    });
    let b = aiowebsocket::builder(url).keepalive(KEEPALIVE, KEEPALIVE);
    let mut ws = R::connect(b)
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let e = first_error(&mut ws).await?;
    if !(e.is_timeout() && e.step() == Some(aiowebsocket::Step::Keepalive))
        || e.close_code() != Some(CloseCode::INTERNAL_ERROR)
    {
        return Err(format!("expected a keepalive timeout (1011), got {e:?}"));
    }
    ends::<R>(&mut ws).await?;
    Ok(format!("keepalive timeout (1011): {}", short(&e)))
}

/// The server completes the handshake and then never reads; the client only sends.
async fn s_never_reads_send_only<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        hold(tcp, Duration::from_secs(60));
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let mut sent = 0u32;
    let start = Instant::now();
    let outcome = R::timeout(WRITE_TIMEOUT + Duration::from_secs(5), async {
        for _ in 0..100 {
            ws.send(Message::binary(vec![0u8; MIB as usize])).await?;
            sent += 1;
        }
        Ok::<(), Error>(())
    })
    .await;
    let took = start.elapsed();
    match outcome {
        Some(Err(e)) if !(e.is_timeout() && e.step() == Some(aiowebsocket::Step::Write)) => {
            Err(format!("expected a write timeout, got {e:?}"))
        }
        Some(Err(_)) if took < WRITE_TIMEOUT || took > WRITE_TIMEOUT + Duration::from_secs(3) => {
            Err(format!(
                "the write timeout fired after {:.1} s",
                took.as_secs_f64()
            ))
        }
        Some(Err(e)) => {
            if ws.recv().await.is_some_and(|r| r.is_ok()) {
                return Err("recv went on after the write timeout".into());
            }
            match R::timeout(
                Duration::from_secs(2),
                ws.send(Message::binary(vec![1u8; 10])),
            )
            .await
            {
                Some(Err(_)) => {}
                Some(Ok(())) => return Err("a send after the write timeout returned Ok".into()),
                None => return Err("a send after the write timeout blocked".into()),
            }
            Ok(format!(
                "send failed after {sent} MiB at {:.1} s: {}",
                took.as_secs_f64(),
                short(&e)
            ))
        }
        Some(Ok(())) => Err("100 MiB sent to a server that never reads".into()),
        None => Err(format!(
            "send blocked for {:.1} s after {sent} MiB were accepted, past the write timeout",
            start.elapsed().as_secs_f64()
        )),
    }
}

/// The same server; the client sends from one half while the other half receives (with
/// the shortened keepalive), as the docs advise.
async fn s_never_reads_split<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        hold(tcp, Duration::from_secs(60));
    });
    let b = aiowebsocket::builder(url).keepalive(KEEPALIVE, KEEPALIVE);
    let ws = R::connect(b)
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let (mut tx, mut rx) = ws.split();
    let start = Instant::now();
    let mut sent = 0u32;
    let mut last_ok = Duration::ZERO;
    let mut send_end: Option<(Duration, Result<(), Error>)> = None;
    let mut recv_out: Option<(Option<(Duration, String)>, Duration)> = None;
    {
        let mut sending = pin!(async {
            for _ in 0..100 {
                tx.send(Message::binary(vec![0u8; MIB as usize])).await?;
                sent += 1;
                last_ok = start.elapsed();
            }
            Ok::<(), Error>(())
        });
        let mut receiving = pin!(async {
            let mut err = None;
            while let Some(m) = rx.recv().await {
                if let Err(e) = m {
                    err = Some((start.elapsed(), short(&e)));
                }
            }
            (err, start.elapsed())
        });
        let both = poll_fn(|cx| {
            if send_end.is_none() {
                if let Poll::Ready(r) = sending.as_mut().poll(cx) {
                    send_end = Some((start.elapsed(), r));
                }
            }
            if recv_out.is_none() {
                if let Poll::Ready(r) = receiving.as_mut().poll(cx) {
                    recv_out = Some(r);
                }
            }
            if send_end.is_some() && recv_out.is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let _ = R::timeout(Duration::from_secs(14), both).await;
    }
    let recv_desc = match &recv_out {
        Some((Some((t, e)), end)) => format!(
            "recv: error at {:.1} s ({e}), end at {:.1} s",
            t.as_secs_f64(),
            end.as_secs_f64()
        ),
        Some((None, end)) => format!("recv: end at {:.1} s without error", end.as_secs_f64()),
        None => "recv: no end".into(),
    };
    if let Some((Some((failed, _)), _)) = &recv_out {
        if sent > 0 && last_ok > *failed {
            // A send waiting when the connection fails gets the failure. (The kernel may
            // still take some of its bytes later, without signalling room: writing them is
            // the finishing close's best effort, not a success to report.)
            return Err(format!(
                "a send returned Ok at {:.1} s, after the connection failed at {:.1} s; \
                 {recv_desc}",
                last_ok.as_secs_f64(),
                failed.as_secs_f64()
            ));
        }
        if let Some((ended, Err(_))) = &send_end {
            if *ended > *failed + Duration::from_secs(2) {
                return Err(format!(
                    "the waiting send failed at {:.1} s, long after the connection did at \
                     {:.1} s; {recv_desc}",
                    ended.as_secs_f64(),
                    failed.as_secs_f64()
                ));
            }
        }
    }
    if send_end.as_ref().is_some_and(|(_, r)| r.is_err()) {
        // A send after the failure fails at once.
        match R::timeout(
            Duration::from_secs(2),
            tx.send(Message::binary(vec![1u8; 10])),
        )
        .await
        {
            Some(Err(_)) => {}
            Some(Ok(())) => {
                return Err(format!("a send after the failure returned Ok; {recv_desc}"))
            }
            None => return Err(format!("a send after the failure blocked; {recv_desc}")),
        }
    }
    match send_end {
        Some((t, Err(e))) => Ok(format!(
            "send failed after {sent} MiB at {:.1} s ({}), last Ok send at {:.1} s; {recv_desc}",
            t.as_secs_f64(),
            short(&e),
            last_ok.as_secs_f64()
        )),
        Some((_, Ok(()))) => Err(format!(
            "100 MiB sent to a server that never reads; {recv_desc}"
        )),
        None => Err(format!(
            "send blocked for 14 s after {sent} MiB although recv ran; {recv_desc}"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Close-handshake faults

async fn c_close_unanswered<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        drain(tcp); // reads our close, never answers, never closes first
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "bye")
        .await
        .map_err(|e| format!("close failed: {e}"))?;
    let t = start.elapsed();
    if t < CLOSE_TIMEOUT - Duration::from_millis(200) || t > CLOSE_TIMEOUT + Duration::from_secs(2)
    {
        return Err(format!(
            "close returned after {:.2} s, not at the 10 s close timeout",
            t.as_secs_f64()
        ));
    }
    if let Some(f) = ws.close_frame() {
        return Err(format!("a close frame was recorded: {f:?}"));
    }
    ends::<R>(&mut ws).await?;
    Ok(format!(
        "close() returned Ok at the close timeout ({:.2} s), no close frame",
        t.as_secs_f64()
    ))
}

async fn c_close_answered_999<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        if read_until_close(&mut tcp).is_some() {
            let _ = tcp.write_all(&close_frame(999));
        }
        drain(tcp);
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let start = Instant::now();
    ws.send(Message::close(CloseCode::NORMAL, "bye"))
        .await
        .map_err(|e| format!("sending our close failed: {e}"))?;
    let e = first_error(&mut ws).await?;
    let code = e.close_code().map(|c| c.as_u16());
    if !e.is_protocol() || code != Some(1002) {
        return Err(format!(
            "expected a protocol error 1002, got {code:?}: {e:?}"
        ));
    }
    ends::<R>(&mut ws).await?;
    let t = start.elapsed();
    if t > Duration::from_secs(2) {
        return Err(format!("took {:.2} s", t.as_secs_f64()));
    }
    if let Some(f) = ws.close_frame() {
        return Err(format!("the invalid close frame was recorded: {f:?}"));
    }
    Ok(format!(
        "protocol error 1002 in {:.2} s: {}",
        t.as_secs_f64(),
        short(&e)
    ))
}

async fn c_close_then_data<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        let mut bytes = close_frame(1000);
        let data: Vec<u8> = (0..1000)
            .flat_map(|_| frame(0x81, b"after close"))
            .collect();
        bytes.extend_from_slice(&data);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if tcp.write_all(&bytes).is_err() {
                return;
            }
            bytes.clone_from(&data);
        }
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    close_then_end::<R>(&mut ws).await
}

async fn c_close_keeps_tcp<R: Runtime>() -> Outcome {
    let url = serve(|mut tcp| {
        accept(&mut tcp, false);
        let _ = tcp.write_all(&close_frame(1000));
        let _ = read_until_close(&mut tcp); // our echo
        hold(tcp, Duration::from_secs(30));
    });
    let mut ws = R::connect(aiowebsocket::builder(url))
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    close_then_end::<R>(&mut ws).await
}

/// The server's close (1000) arrives first, then `recv` ends within the close timeout with
/// no other message.
async fn close_then_end<R: Runtime>(ws: &mut Ws<R>) -> Outcome {
    match ws.recv().await {
        Some(Ok(Message::Close(Some(f)))) if f.code == CloseCode::NORMAL => {}
        other => return Err(format!("expected the server's close, got {other:?}")),
    }
    let start = Instant::now();
    let mut after = 0u64;
    let end = loop {
        match ws.recv().await {
            Some(Ok(_)) => after += 1,
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    let t = start.elapsed();
    if after > 0 {
        return Err(format!("{after} messages were delivered after the close"));
    }
    if t > CLOSE_TIMEOUT + Duration::from_secs(2) {
        return Err(format!(
            "recv ended {:.2} s after the close",
            t.as_secs_f64()
        ));
    }
    Ok(format!(
        "Close(1000), then {} after {:.2} s",
        end.map_or("None".to_string(), |e| format!("error {}", short(&e))),
        t.as_secs_f64()
    ))
}

// ---------------------------------------------------------------------------------------
// The battery

struct Case {
    name: &'static str,
    runtime: &'static str,
    /// Most the scenario may take, handshake included.
    bound: Duration,
    /// Most the process's peak RSS may grow (measured scenarios run alone).
    memory: Option<u64>,
    run: Box<dyn FnOnce() -> Option<Outcome> + Send>,
}

fn case<R: Runtime, F: Future<Output = Outcome> + 'static>(
    name: &'static str,
    bound_ms: u64,
    memory: Option<u64>,
    scenario: fn() -> F,
) -> Case {
    Case {
        name,
        runtime: R::NAME,
        bound: Duration::from_millis(bound_ms),
        memory,
        run: Box::new(move || R::block_on(R::timeout(WATCHDOG, scenario()))),
    }
}

fn cases<R: Runtime>() -> Vec<Case> {
    let close = CLOSE_TIMEOUT.as_millis() as u64;
    vec![
        case::<R, _>(
            "handshake: wrong Sec-WebSocket-Accept",
            2_000,
            None,
            h_wrong_accept::<R>,
        ),
        case::<R, _>(
            "handshake: endless header stream",
            3_000,
            None,
            h_endless_headers::<R>,
        ),
        case::<R, _>(
            "handshake: status line, then stall [open 2 s]",
            3_500,
            None,
            h_status_then_stall::<R>,
        ),
        case::<R, _>(
            "handshake: TCP accepted, never answers [open 2 s]",
            3_500,
            None,
            h_never_answers::<R>,
        ),
        case::<R, _>("handshake: non-HTTP answer", 2_000, None, h_not_http::<R>),
        case::<R, _>("handshake: HTTP/1.0 101", 2_000, None, h_http10::<R>),
        case::<R, _>("frame: masked server frame", 2_000, None, f_masked::<R>),
        case::<R, _>(
            "frame: reserved opcode 0x3",
            2_000,
            None,
            f_reserved_opcode::<R>,
        ),
        case::<R, _>(
            "frame: invalid UTF-8 text",
            2_000,
            None,
            f_invalid_utf8::<R>,
        ),
        case::<R, _>(
            "frame: control frame of 126 bytes",
            2_000,
            None,
            f_control_126::<R>,
        ),
        case::<R, _>(
            "stall: mid-frame [keepalive 0.5 s/0.5 s]",
            3_000,
            None,
            s_mid_frame::<R>,
        ),
        case::<R, _>(
            "stall: never reads, 100 x 1 MiB send only",
            WRITE_TIMEOUT.as_millis() as u64 + 3_000,
            None,
            s_never_reads_send_only::<R>,
        ),
        case::<R, _>(
            "stall: never reads, split send + recv [keepalive 0.5 s]",
            14_000,
            None,
            s_never_reads_split::<R>,
        ),
        case::<R, _>(
            "close: our close never answered",
            close + 2_000,
            None,
            c_close_unanswered::<R>,
        ),
        case::<R, _>(
            "close: answered with code 999",
            2_000,
            None,
            c_close_answered_999::<R>,
        ),
        case::<R, _>(
            "close: close, then data frames",
            close + 2_000,
            None,
            c_close_then_data::<R>,
        ),
        case::<R, _>(
            "close: close, TCP never closed",
            close + 2_000,
            None,
            c_close_keeps_tcp::<R>,
        ),
        // Measured (run alone).
        case::<R, _>("frame: length 2^63", 2_000, Some(8 * MIB), f_len_2_63::<R>),
        case::<R, _>(
            "frame: over the 16 MiB frame limit",
            2_000,
            Some(8 * MIB),
            f_over_frame_limit::<R>,
        ),
        case::<R, _>(
            "frame: 100,000 empty continuations",
            5_000,
            Some(8 * MIB),
            f_empty_continuations::<R>,
        ),
        case::<R, _>(
            "frame: 1 GiB bomb, one frame",
            10_000,
            Some(72 * MIB),
            f_bomb_one_frame::<R>,
        ),
        case::<R, _>(
            "frame: 1 GiB bomb, 1024 fragments",
            10_000,
            Some(72 * MIB),
            f_bomb_fragments::<R>,
        ),
        case::<R, _>(
            "frame: 100,000 pings, slow reader",
            15_000,
            Some(16 * MIB),
            f_ping_flood::<R>,
        ),
    ]
}

struct Row {
    name: &'static str,
    runtime: &'static str,
    elapsed: Duration,
    growth: Option<u64>,
    result: Outcome,
}

/// Runs one case, turning a hang, a panic, a blown time or memory bound into a failure.
fn run(case: Case) -> Row {
    let baseline = case.memory.map(|_| PeakRss::start());
    let start = Instant::now();
    let run = case.run;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    let elapsed = start.elapsed();
    let growth = baseline.map(|peak| peak.growth());
    let mut result = match outcome {
        Err(_) => Err("PANIC".to_string()),
        Ok(None) => Err(format!("HANG: no outcome within {} s", WATCHDOG.as_secs())),
        Ok(Some(r)) => r,
    };
    if result.is_ok() && elapsed > case.bound {
        result = Err(format!(
            "took {:.2} s, bound {:.1} s: {}",
            elapsed.as_secs_f64(),
            case.bound.as_secs_f64(),
            result.unwrap()
        ));
    }
    if let (Some(g), Some(limit)) = (growth, case.memory) {
        if g > limit {
            result = Err(format!(
                "peak RSS grew {:.1} MiB, bound {:.0} MiB: {}",
                g as f64 / MIB as f64,
                limit as f64 / MIB as f64,
                result.unwrap_or_else(|e| e)
            ));
        }
    }
    Row {
        name: case.name,
        runtime: case.runtime,
        elapsed,
        growth,
        result,
    }
}

#[test]
fn hostile_servers_end_cleanly_on_both_runtimes() {
    let start = Instant::now();
    let all: Vec<Case> = cases::<Tokio>()
        .into_iter()
        .chain(cases::<Smol>())
        .chain(cases::<AsyncStd>())
        .collect();
    let (measured, free): (Vec<Case>, Vec<Case>) =
        all.into_iter().partition(|c| c.memory.is_some());

    // Unmeasured scenarios in parallel (most of them just wait on a timer).
    let handles: Vec<_> = free
        .into_iter()
        .map(|c| thread::spawn(move || run(c)))
        .collect();
    let mut rows: Vec<Row> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Measured scenarios one at a time: the process's peak RSS is theirs alone.
    rows.extend(measured.into_iter().map(run));

    let mut failures = Vec::new();
    for r in &rows {
        let mem = r.growth.map_or(String::new(), |g| {
            format!(" [RSS +{:.1} MiB]", g as f64 / MIB as f64)
        });
        let (mark, text) = match &r.result {
            Ok(t) => ("ok  ", t.clone()),
            Err(t) => ("FAIL", t.clone()),
        };
        eprintln!(
            "{mark} {:9} {:55} {:6.2} s{mem}  {text}",
            r.runtime,
            r.name,
            r.elapsed.as_secs_f64()
        );
        if r.result.is_err() {
            failures.push(format!("{} / {}: {text}", r.runtime, r.name));
        }
    }
    eprintln!(
        "battery: {} scenarios in {:.1} s",
        rows.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "failing scenarios:\n{}",
        failures.join("\n")
    );
}
