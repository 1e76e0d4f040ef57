//! HTTP/2 benchmark (project issue #17): 100 WebSockets over ONE h2c connection against
//! 100 WebSockets over 100 HTTP/1.1 connections, to the same local server (ours: `H2Server`
//! for h2c, `server_accept` for HTTP/1.1, permessage-deflate off on both so that the
//! transport is what differs).
//!
//! Run it with `cargo xtask bench h2`, or directly:
//! `cargo bench -p aiowebsocket-benches --bench h2 -- run [--rounds N] [--no-pin] [--out FILE]`.
//! Without `--bench` (under `cargo test --benches`) it runs one short round as a smoke check.
//!
//! One binary, three modes (it re-executes itself, as the echo bench does):
//! - driver (`run`): starts the server pinned to CPU 0, runs one client process per
//!   (round, transport) pinned to CPU 1, HTTP/1.1 and HTTP/2 alternately (paired rounds),
//!   prints and writes the table of medians;
//! - `server`: current-thread tokio, two listeners (HTTP/1.1, h2c), echoes on every
//!   WebSocket; stops when its stdin closes;
//! - `client --mode h1|h2 --addr A ...`: opens the WebSockets at once (time to open all),
//!   one echo on each (RSS growth per WebSocket), then closed-loop echoes on all of them for
//!   each message size (client CPU per round trip, from `/proc/self`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Shared with the echo and scale benches, which use more of them.
#[allow(dead_code)]
#[path = "echo/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "echo/procfs.rs"]
mod procfs;

use aiowebsocket::tokio::{TokioIo, TokioTimer};
use aiowebsocket::ws_client::handshake::server_accept;
use aiowebsocket::ws_client::rt::Timer;
use aiowebsocket::{ConnectOptions, H2Server, Http2, Message, ServerOptions, WebSocketStream};
use futures_util::future::join_all;

use crate::process::{can_pin, pinned, ServerProcess};
use crate::procfs::{rss_kib, CpuTime};

/// WebSockets per run.
const SOCKETS: usize = 100;
/// Message sizes of the CPU cases, and closed-loop round trips per WebSocket for each.
const SIZES: &[(usize, &str, usize)] = &[(16, "16 B", 200), (16 << 10, "16 KiB", 40)];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => server(),
        Some("client") => client(&args[1..]),
        Some("run") => Options::parse(&args[1..]).and_then(drive),
        _ if args.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", USAGE);
            Ok(())
        }
        _ if args.iter().any(|a| a == "--bench") => Options::parse(&args).and_then(drive),
        _ => drive(Options {
            rounds: 1,
            pin: false,
            out: None,
            scale: 10,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("h2 bench: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: h2 run [--rounds N] [--no-pin] [--out FILE]\n  \
    100 WebSockets over one h2c connection vs over 100 HTTP/1.1 connections: client CPU \
    per round trip (16 B, 16 KiB), RSS per WebSocket, time to open all 100; medians of \
    paired rounds (default 7)";

// ---- driver ----------------------------------------------------------------------------

struct Options {
    rounds: usize,
    pin: bool,
    out: Option<PathBuf>,
    /// Divides the round trips per WebSocket (the smoke check runs a tenth).
    scale: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            rounds: 7,
            pin: true,
            out: None,
            scale: 1,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--rounds" => {
                    o.rounds = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or("--rounds wants a positive number")?;
                }
                "--no-pin" => o.pin = false,
                "--out" => o.out = Some(it.next().ok_or("--out wants a file")?.into()),
                "--quick" => o.rounds = 3,
                "--bench" => {}
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(o)
    }
}

/// One client run's readings.
#[derive(Clone, Debug, Default)]
struct Reading {
    open_ms: f64,
    mem_kib: f64,
    /// Client CPU per round trip, ns, per size.
    cpu_ns: Vec<f64>,
    /// TCP connections the client used.
    connections: usize,
}

impl Reading {
    fn parse(text: &str) -> Result<Reading, String> {
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .ok_or_else(|| format!("no RESULT line in {text:?}"))?;
        let mut r = Reading::default();
        for field in line.split_whitespace().skip(1) {
            let (k, v) = field.split_once('=').ok_or("bad RESULT field")?;
            let v: f64 = v.parse().map_err(|_| format!("bad value in {field}"))?;
            match k {
                "open_ms" => r.open_ms = v,
                "mem_kib" => r.mem_kib = v,
                "connections" => r.connections = v as usize,
                k if k.starts_with("cpu") => r.cpu_ns.push(v),
                _ => {}
            }
        }
        Ok(r)
    }
}

fn drive(o: Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let pin = o.pin && can_pin();
    if o.pin && !pin {
        eprintln!("h2 bench: cannot pin to CPUs 0 and 1 (taskset, 2 cores): not pinned");
    }
    let server = Server::start(&exe, pin)?;
    let mut h1 = Vec::new();
    let mut h2 = Vec::new();
    for round in 0..o.rounds {
        // Alternate which goes first, so that drift hits both alike.
        let order = if round % 2 == 0 {
            ["h1", "h2"]
        } else {
            ["h2", "h1"]
        };
        for mode in order {
            let addr = if mode == "h1" { server.h1 } else { server.h2 };
            let out = run_client(&exe, pin, mode, addr, o.scale)?;
            let reading = Reading::parse(&out)?;
            eprintln!("round {}: {mode} {reading:?}", round + 1);
            if mode == "h1" {
                h1.push(reading);
            } else {
                h2.push(reading);
            }
        }
    }
    drop(server);
    let table = table(&h1, &h2, o.rounds, pin);
    println!("{table}");
    if let Some(out) = o.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("h2 bench: table written to {}", out.display());
    }
    Ok(())
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One row's reading of a run.
type Metric = Box<dyn Fn(&Reading) -> f64>;

/// The markdown table: medians per transport, and the median of the paired ratios.
fn table(h1: &[Reading], h2: &[Reading], rounds: usize, pinned: bool) -> String {
    let mut rows: Vec<(String, Metric)> = Vec::new();
    for (i, (_, label, _)) in SIZES.iter().enumerate() {
        rows.push((
            format!("client CPU per round trip, {label} (µs)"),
            Box::new(move |r: &Reading| r.cpu_ns.get(i).copied().unwrap_or(f64::NAN) / 1000.0),
        ));
    }
    rows.push((
        "client RSS per WebSocket (KiB)".into(),
        Box::new(|r: &Reading| r.mem_kib),
    ));
    rows.push((
        format!("time to open all {SOCKETS} (ms)"),
        Box::new(|r: &Reading| r.open_ms),
    ));
    let mut out = String::new();
    out.push_str(&format!(
        "{SOCKETS} WebSockets: over {SOCKETS} HTTP/1.1 connections vs over one HTTP/2 (h2c) \
         connection, our client and our server (no compression), medians of {rounds} paired \
         rounds{}\n\n",
        if pinned {
            ", server on CPU 0, client on CPU 1"
        } else {
            ", not pinned"
        }
    ));
    out.push_str(&format!(
        "| | HTTP/1.1 ({} conns) | HTTP/2 ({} conn) | HTTP/2 / HTTP/1.1 |\n|---|---:|---:|---:|\n",
        h1.first().map_or(0, |r| r.connections),
        h2.first().map_or(0, |r| r.connections),
    ));
    for (name, get) in &rows {
        let a = median(h1.iter().map(get).collect());
        let b = median(h2.iter().map(get).collect());
        let ratio = median(h1.iter().zip(h2).map(|(x, y)| get(y) / get(x)).collect());
        out.push_str(&format!("| {name} | {a:.2} | {b:.2} | {ratio:.2}× |\n"));
    }
    out.push_str(&format!(
        "\nClosed loop: all {SOCKETS} WebSockets send and wait for their echo at once; {} \
         round trips each at 16 B, {} at 16 KiB. RSS: the client's growth from before the \
         first open to after one echo on every WebSocket, divided by {SOCKETS}.\n",
        SIZES[0].2, SIZES[1].2
    ));
    out
}

/// The server process; closing its stdin stops it.
struct Server {
    _process: ServerProcess,
    h1: SocketAddr,
    h2: SocketAddr,
}

impl Server {
    fn start(exe: &Path, pin: bool) -> Result<Server, String> {
        let (process, line) = ServerProcess::start(exe, &["server"], pin, "the server")?;
        let mut words = line.split_whitespace().skip(1);
        let mut addr = || -> Result<SocketAddr, String> {
            words
                .next()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| format!("bad server announcement {line:?}"))
        };
        let (h1, h2) = (addr()?, addr()?);
        Ok(Server {
            _process: process,
            h1,
            h2,
        })
    }
}

/// One client process, to completion (at most 120 s); its stdout.
fn run_client(
    exe: &Path,
    pin: bool,
    mode: &str,
    addr: SocketAddr,
    scale: usize,
) -> Result<String, String> {
    let mut child = pinned(pin, "1")
        .arg(exe)
        .args(["client", "--mode", mode, "--addr", &addr.to_string()])
        .args(["--scale", &scale.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start a client: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                if !status.success() {
                    return Err(format!("the {mode} client failed ({status}): {out}"));
                }
                return Ok(out);
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the {mode} client did not finish in 120 s"));
            }
        }
    }
}

// ---- server ------------------------------------------------------------------------------

/// Server options: no compression (both transports alike), room for every stream.
fn server_options() -> ServerOptions {
    ServerOptions::new()
        .no_compression()
        .max_message_size(Some(1 << 20))
        .http2_max_streams(256)
}

fn server() -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let h1 = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let h2 = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "LISTENING {} {}",
            h1.local_addr().map_err(|e| e.to_string())?,
            h2.local_addr().map_err(|e| e.to_string())?
        );
        let _ = std::io::stdout().flush();
        // Stops when the driver closes our stdin.
        let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = stop_tx.send(());
        });
        let options = server_options();
        loop {
            tokio::select! {
                Ok((tcp, _)) = h1.accept() => {
                    let options = options.clone();
                    tokio::spawn(async move {
                        let _ = tcp.set_nodelay(true);
                        let timer: Arc<dyn Timer> = Arc::new(TokioTimer);
                        if let Ok(ws) = server_accept(TokioIo::new(tcp), &options, Some(timer)).await {
                            echo(ws).await;
                        }
                    });
                }
                Ok((tcp, _)) = h2.accept() => {
                    let options = options.clone();
                    tokio::spawn(async move {
                        let _ = tcp.set_nodelay(true);
                        let timer: Arc<dyn Timer> = Arc::new(TokioTimer);
                        let Ok(mut server) = H2Server::handshake(TokioIo::new(tcp), &options, Some(timer)).await else {
                            return;
                        };
                        // `accept` drives the connection: it runs for as long as it lives.
                        while let Some(accepted) = server.accept().await {
                            if let Ok((ws, _)) = accepted {
                                tokio::spawn(echo(ws));
                            }
                        }
                    });
                }
                _ = &mut stop => return Ok(()),
            }
        }
    })
}

/// Echoes every data message until the WebSocket ends.
async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_data() && ws.send(msg).await.is_err() {
            break;
        }
    }
}

// ---- client ------------------------------------------------------------------------------

fn client(args: &[String]) -> Result<(), String> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .ok_or(format!("missing {name}"))
    };
    let mode = value("--mode")?.clone();
    let addr = value("--addr")?.clone();
    let scale: usize = value("--scale")?.parse().map_err(|_| "bad --scale")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let mut options = ConnectOptions::new(format!("ws://{addr}/"))
            .no_compression()
            .max_message_size(Some(1 << 20));
        if mode == "h2" {
            options = options.http2(Http2::Require);
        }
        let pool = options.h2_pool().clone();
        let rss_before = rss_kib().unwrap_or(0);
        let start = Instant::now();
        let opened = join_all((0..SOCKETS).map(|_| {
            let options = options.clone();
            async move { aiowebsocket::tokio::connect_with(options).await }
        }))
        .await;
        let open_ms = start.elapsed().as_secs_f64() * 1000.0;
        let mut sockets = Vec::with_capacity(SOCKETS);
        for ws in opened {
            let (ws, _) = ws.map_err(|e| format!("{mode}: connect: {e}"))?;
            sockets.push(ws);
        }
        let connections = if mode == "h2" {
            pool.connections()
        } else {
            SOCKETS
        };
        round(&mut sockets, &Message::binary(vec![1u8; 16]), 1).await?;
        let rss_after = rss_kib().unwrap_or(0);
        let mem_kib = rss_after.saturating_sub(rss_before) as f64 / SOCKETS as f64;
        let mut line =
            format!("RESULT open_ms={open_ms:.3} mem_kib={mem_kib:.2} connections={connections}");
        for (size, _, trips) in SIZES {
            let trips = (trips / scale).max(1);
            let msg = Message::binary(vec![7u8; *size]);
            // A warm-up round trip each, then the measured ones.
            round(&mut sockets, &msg, 1).await?;
            let before = CpuTime::of("self").ok_or("no /proc/self")?;
            round(&mut sockets, &msg, trips).await?;
            let cpu = CpuTime::of("self").ok_or("no /proc/self")?.since(before);
            let per = cpu.run_ns as f64 / (SOCKETS * trips) as f64;
            line.push_str(&format!(" cpu{size}={per:.1}"));
        }
        println!("{line}");
        for ws in &mut sockets {
            let _ = ws.close(aiowebsocket::CloseCode::NORMAL, "").await;
        }
        Ok(())
    })
}

/// `trips` closed-loop round trips of `msg` on every WebSocket at once.
async fn round<S>(
    sockets: &mut [WebSocketStream<S>],
    msg: &Message,
    trips: usize,
) -> Result<(), String>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    let results = join_all(sockets.iter_mut().map(|ws| async move {
        for _ in 0..trips {
            ws.send(msg.clone()).await.map_err(|e| e.to_string())?;
            loop {
                match ws.recv().await {
                    Some(Ok(m)) if m.is_data() => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("closed".to_owned()),
                }
            }
        }
        Ok::<(), String>(())
    }))
    .await;
    results.into_iter().collect()
}
