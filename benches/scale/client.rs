//! The client process of the scale benchmark: N connections of one client library on a
//! current-thread tokio runtime (the driver pins it to CPU 1), each in its own task that
//! waits for messages and counts them. Prints one `RESULT` line (and `ERROR` lines).
//!
//! Steps, each measured:
//! 1. one warm-up connection (opened, kept, not counted in the memory), then RSS;
//! 2. open N with at most `--concurrency` handshakes in flight, spawning each connection's
//!    task as it opens: the time until all N are open; on the first failure opening stops
//!    and the rest runs with the connections open so far, as it does when the client's RSS
//!    passes `--max-rss-mib` (checked every 1024 connections);
//! 3. a 1 s settle, then RSS again: (after - before) / opened;
//! 4. `--idle-secs` of idle: this process's CPU time over the window (`/proc/self`), and the
//!    pings the server answered meanwhile (from its control port);
//! 5. the broadcast, asked for on the control port: the time until every connection (the
//!    warm-up one too) has received it, and the server's own time to write it to all.
//!
//! With `--sync` (one of several client processes sharing the core), the process prints
//! `OPENED` after step 3 and `IDLED` after step 4, and waits each time for a `go` line on
//! stdin, so that the driver starts every process's idle window and broadcast together.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::clients::{ClientKind, RecvConn, Spec, TokioWsConn, TungsteniteConn};
use crate::harness::tokio_runtime;
use crate::ours::OursTokioConn;
use crate::process::Flags;
use crate::procfs::{rss_kib, CpuTime};

/// The clients this benchmark runs (all on tokio, one thread).
pub(crate) const CLIENTS: [ClientKind; 3] = [
    ClientKind::OursTokio,
    ClientKind::TokioWs,
    ClientKind::Tungstenite,
];

/// Open files kept beyond the N connections: the warm-up and control connections, the
/// runtime's own, stdio.
pub(crate) const FD_SPARE: u64 = 256;

/// What one client run is asked to do.
struct Params {
    /// The server's WebSocket addresses: connection i goes to `addrs[i % K]`.
    addrs: Vec<SocketAddr>,
    control: SocketAddr,
    n: usize,
    idle: Duration,
    concurrency: usize,
    /// Opening stops when the client's RSS passes this (a shared machine's safety net).
    max_rss_kib: u64,
    /// One of several client processes (`--sync`): wait for the driver's `go` on stdin
    /// before the idle window and before the broadcast, so that all of them idle and
    /// receive together.
    sync: bool,
}

/// What a run measured; printed as the `RESULT` line.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) opened: usize,
    pub(crate) open_ms: f64,
    pub(crate) rss_before_kib: u64,
    pub(crate) rss_after_kib: u64,
    pub(crate) idle_ms: f64,
    /// `stat` user + system time over the idle window (10 ms ticks).
    pub(crate) idle_cpu_ns: u64,
    /// `schedstat` on-CPU time over the idle window (ns resolution).
    pub(crate) idle_run_ns: u64,
    /// Pings the server answered during the idle window (all connections).
    pub(crate) idle_pings: u64,
    /// Connections (the warm-up one included) that received the broadcast.
    pub(crate) received: usize,
    pub(crate) expected: usize,
    /// Time from asking for the broadcast until the last arrival, if all arrived.
    pub(crate) broadcast_ms: Option<f64>,
    /// The server's time to write the broadcast to every connection.
    pub(crate) server_write_ms: Option<f64>,
    /// Connections that ended (an error or a close) before the run was over.
    pub(crate) lost: usize,
    pub(crate) errors: Vec<String>,
}

impl Outcome {
    /// Bytes of RSS growth per connection opened.
    pub(crate) fn rss_per_conn(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) * 1024.0
            / self.opened.max(1) as f64
    }

    /// Idle CPU (user + sys) as a percentage of one core.
    pub(crate) fn idle_cpu_pct(&self) -> f64 {
        self.idle_cpu_ns as f64 / 1e6 / self.idle_ms.max(1e-6) * 100.0
    }

    /// Idle on-CPU time (`schedstat`) as a percentage of one core.
    pub(crate) fn idle_run_pct(&self) -> f64 {
        self.idle_run_ns as f64 / 1e6 / self.idle_ms.max(1e-6) * 100.0
    }

    fn print(&self) {
        let opt = |v: Option<f64>| v.map_or_else(|| "-1".to_string(), |v| format!("{v:.3}"));
        println!(
            "RESULT opened={} open_ms={:.3} rss_before_kib={} rss_after_kib={} idle_ms={:.3} \
             idle_cpu_ns={} idle_run_ns={} idle_pings={} received={} expected={} \
             broadcast_ms={} server_write_ms={} lost={}",
            self.opened,
            self.open_ms,
            self.rss_before_kib,
            self.rss_after_kib,
            self.idle_ms,
            self.idle_cpu_ns,
            self.idle_run_ns,
            self.idle_pings,
            self.received,
            self.expected,
            opt(self.broadcast_ms),
            opt(self.server_write_ms),
            self.lost
        );
        for e in &self.errors {
            println!("ERROR {}", e.replace('\n', " "));
        }
    }

    /// Reads what [`print`](Self::print) wrote.
    pub(crate) fn parse(text: &str) -> Option<Outcome> {
        let line = text.lines().find_map(|l| l.strip_prefix("RESULT "))?;
        let get = |key: &str| -> Option<f64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let opt = |key: &str| get(key).filter(|v| *v >= 0.0);
        Some(Outcome {
            opened: get("opened")? as usize,
            open_ms: get("open_ms")?,
            rss_before_kib: get("rss_before_kib")? as u64,
            rss_after_kib: get("rss_after_kib")? as u64,
            idle_ms: get("idle_ms")?,
            idle_cpu_ns: get("idle_cpu_ns")? as u64,
            idle_run_ns: get("idle_run_ns")? as u64,
            idle_pings: get("idle_pings")? as u64,
            received: get("received")? as usize,
            expected: get("expected")? as usize,
            broadcast_ms: opt("broadcast_ms"),
            server_write_ms: opt("server_write_ms"),
            lost: get("lost")? as usize,
            errors: text
                .lines()
                .filter_map(|l| l.strip_prefix("ERROR "))
                .map(str::to_string)
                .collect(),
        })
    }
}

/// `client --client NAME --control ADDR --addrs A,B,.. --n N --idle-secs S --concurrency C
/// --max-rss-mib M [--sync]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let flags = Flags(args);
    let name = flags.required("--client")?;
    let kind = ClientKind::parse(name)
        .filter(|k| CLIENTS.contains(k))
        .ok_or_else(|| format!("not a client of this benchmark: {name}"))?;
    let addr = |s: &str| {
        s.parse::<SocketAddr>()
            .map_err(|e| format!("bad address {s:?}: {e}"))
    };
    let mut p = Params {
        addrs: flags
            .required("--addrs")?
            .split(',')
            .map(addr)
            .collect::<Result<_, _>>()?,
        control: addr(flags.required("--control")?)?,
        n: flags.num("--n")? as usize,
        idle: Duration::from_secs(flags.num("--idle-secs")?),
        concurrency: flags.num("--concurrency")?.max(1) as usize,
        max_rss_kib: flags.num("--max-rss-mib")? << 10,
        sync: flags.has("--sync"),
    };
    // Room for every connection, the warm-up and control ones, and the runtime's own.
    let want = p.n as u64 + FD_SPARE;
    let limit = crate::raise_fd_limit(want)?;
    let mut capped = None;
    if limit < want {
        // The server has the same limit: both stay under it, and the table says why.
        let n = limit.saturating_sub(FD_SPARE) as usize;
        capped = Some(format!(
            "N capped at {n}: the open-file limit is {limit} and cannot be raised (setrlimit \
             above the hard limit needs CAP_SYS_RESOURCE)"
        ));
        p.n = n;
    }
    let rt = tokio_runtime()?;
    let mut outcome = match kind {
        ClientKind::OursTokio => rt.block_on(scale::<OursTokioConn>(p)),
        ClientKind::TokioWs => rt.block_on(scale::<TokioWsConn>(p)),
        ClientKind::Tungstenite => rt.block_on(scale::<TungsteniteConn>(p)),
        _ => unreachable!("checked against CLIENTS"),
    }?;
    if let Some(note) = capped {
        outcome.errors.insert(0, note);
    }
    outcome.print();
    // Leave at once: no orderly shutdown of N connections to wait for.
    std::process::exit(0)
}

/// Arrivals of data messages over all connections, and the first error.
#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    /// `count` at which `all` is notified.
    target: AtomicUsize,
    all: Notify,
    lost: AtomicUsize,
    error: Mutex<Option<String>>,
}

/// One connection's task: counts the data messages that arrive until it ends.
///
/// An `async move` block over the captured connection rather than an `async fn`: the state
/// of an `async fn` keeps its by-value arguments apart from the locals they are moved into,
/// which here would store every connection twice in its task.
#[allow(clippy::manual_async_fn)]
fn count_arrivals<C: RecvConn>(
    mut conn: C,
    arrivals: Arc<Arrivals>,
) -> impl Future<Output = ()> + Send {
    async move {
        loop {
            match conn.next_data().await {
                Ok(_) => {
                    let count = arrivals.count.fetch_add(1, Ordering::Relaxed) + 1;
                    if count == arrivals.target.load(Ordering::Relaxed) {
                        arrivals.all.notify_one();
                    }
                }
                Err(e) => {
                    arrivals.lost.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut slot) = arrivals.error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            }
        }
    }
}

/// The control connection to the server.
struct Control {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Control {
    async fn connect(addr: SocketAddr) -> Result<Control, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("control connection to {addr}: {e}"))?;
        let (read, write) = stream.into_split();
        Ok(Control {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    /// Sends `command`, returns the value of `key` in the answer.
    async fn ask(&mut self, command: &str, key: &str) -> Result<u64, String> {
        self.write
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| format!("control: {e}"))?;
        let line = self
            .lines
            .next_line()
            .await
            .map_err(|e| format!("control: {e}"))?
            .ok_or("control: the server went away")?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("control: no {key} in {line:?}"))
    }
}

/// Says `step` on stdout and waits for the driver's `go` line on stdin (read on a blocking
/// thread, so that the connections are served meanwhile).
async fn barrier(step: &str) -> Result<(), String> {
    use std::io::Write;
    println!("{step}");
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| format!("waiting for the driver: {e}"))?
    .map_err(|e| format!("reading the driver's go: {e}"))?;
    if line.trim() == "go" {
        Ok(())
    } else {
        Err(format!(
            "after {step}, the driver said {line:?} instead of go"
        ))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn scale<C: RecvConn>(p: Params) -> Result<Outcome, String> {
    let mut out = Outcome::default();
    let mut control = Control::connect(p.control).await?;
    let spec = |i: usize| Spec {
        addr: p.addrs[i % p.addrs.len()],
        payload: Bytes::new(),
        text: false,
        deflate: false,
    };
    let arrivals = Arc::new(Arrivals::default());
    // One-time set-up (the runtime's first registrations, per-thread buffers, lazy statics)
    // is not a per-connection cost: the warm-up connection pays for it before the reading.
    let warm = C::open(spec(0)).await?;
    tokio::spawn(count_arrivals(warm, Arc::clone(&arrivals)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    out.rss_before_kib = rss_kib().ok_or("no VmRSS in /proc/self/status")?;

    let start = Instant::now();
    let mut opens = futures_util::stream::iter(1..=p.n)
        .map(|i| C::open(spec(i)))
        .buffer_unordered(p.concurrency);
    while let Some(opened) = opens.next().await {
        match opened {
            Ok(conn) => {
                tokio::spawn(count_arrivals(conn, Arc::clone(&arrivals)));
                out.opened += 1;
                if out.opened % 1024 == 0 {
                    let rss = rss_kib().unwrap_or(0);
                    if rss > p.max_rss_kib {
                        out.errors.push(format!(
                            "opening stopped after {} connections: client RSS {} MiB is over \
                             the --max-rss-mib cap ({} MiB)",
                            out.opened,
                            rss >> 10,
                            p.max_rss_kib >> 10
                        ));
                        break;
                    }
                }
            }
            Err(e) => {
                out.errors.push(format!(
                    "opening stopped after {} connections: {e}",
                    out.opened
                ));
                break;
            }
        }
    }
    out.open_ms = ms(start.elapsed());
    drop(opens);

    tokio::time::sleep(Duration::from_secs(1)).await;
    out.rss_after_kib = rss_kib().ok_or("no VmRSS in /proc/self/status")?;
    if p.sync {
        barrier("OPENED").await?;
    }

    let pings_before = control.ask("stats", "pings").await?;
    let cpu_before = CpuTime::of("self").ok_or("no /proc/self/stat")?;
    let idle_start = Instant::now();
    tokio::time::sleep(p.idle).await;
    let cpu = CpuTime::of("self")
        .ok_or("no /proc/self/stat")?
        .since(cpu_before);
    out.idle_ms = ms(idle_start.elapsed());
    out.idle_cpu_ns = cpu.user_ns + cpu.sys_ns;
    out.idle_run_ns = cpu.run_ns;
    out.idle_pings = control.ask("stats", "pings").await? - pings_before;
    if p.sync {
        barrier("IDLED").await?;
    }

    // Every connection still open, the warm-up one too, should receive it.
    out.expected = out.opened + 1 - arrivals.lost.load(Ordering::Relaxed);
    arrivals.count.store(0, Ordering::Relaxed);
    arrivals.target.store(out.expected, Ordering::Relaxed);
    let all = arrivals.all.notified();
    let start = Instant::now();
    let server = control.ask("broadcast", "us");
    let (server_us, all_in) = tokio::join!(server, async {
        let all_in = tokio::time::timeout(Duration::from_secs(30), all).await;
        all_in.ok().map(|()| start.elapsed())
    });
    out.broadcast_ms = all_in.map(ms);
    match server_us {
        Ok(us) => out.server_write_ms = Some(us as f64 / 1000.0),
        Err(e) => out.errors.push(e),
    }
    // Late arrivals have 100 ms to be counted (when not all came in time).
    if out.broadcast_ms.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out.received = arrivals.count.load(Ordering::Relaxed);
    out.lost = arrivals.lost.load(Ordering::Relaxed);
    if let Some(e) = arrivals.error.lock().ok().and_then(|mut e| e.take()) {
        out.errors
            .push(format!("{} connection(s) ended: {e}", out.lost));
    }
    Ok(out)
}
