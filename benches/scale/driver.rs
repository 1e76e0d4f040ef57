//! The driver: for each client, a fresh server pinned to CPU 0 and one client process
//! pinned to CPU 1; then the table (stdout and `--out`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::client::{Outcome, CLIENTS};
use crate::clients::ClientKind;
use crate::harness::{driver_start, each_flag, emit, finish};
use crate::process::{run_client, ServerProcess};
use crate::procfs::environment;

pub(crate) const USAGE: &str = "usage: scale [run] [--n N] [--idle-secs S] [--clients NAME,..] \
    [--addrs K] [--concurrency C] [--max-rss-mib M] [--no-pin] [--out FILE]\n  \
    N connections (default 100000) in one client process on one core against a local server \
    listening on 127.0.0.1..=127.0.0.K (default 8): time to open all (at most C handshakes in \
    flight, default 512), RSS per connection, CPU while idle for S seconds (default 60), time \
    until all receive one broadcast message; a client stops opening when its RSS passes M MiB \
    (default 8192: tokio-tungstenite's 128 KiB read buffer per connection would need ~13 GiB \
    for 100000) and the rest of its run uses the connections it has\n  \
    clients: ours (ours-tokio), tokio-websockets, tokio-tungstenite (default all three)\n  \
    internal modes: server --addrs K | client ...";

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) n: usize,
    pub(crate) idle_secs: u64,
    pub(crate) clients: Vec<ClientKind>,
    pub(crate) addrs: usize,
    pub(crate) concurrency: usize,
    /// A client stops opening connections when its RSS passes this many MiB.
    pub(crate) max_rss_mib: u64,
    pub(crate) pin: bool,
    pub(crate) out: Option<PathBuf>,
    /// Only check that every client opens all and receives the broadcast (tiny run).
    pub(crate) smoke: bool,
}

impl Options {
    fn full() -> Options {
        Options {
            n: 100_000,
            idle_secs: 60,
            clients: CLIENTS.to_vec(),
            addrs: 8,
            concurrency: 512,
            max_rss_mib: 8192,
            pin: true,
            out: None,
            smoke: false,
        }
    }

    /// What `cargo test --benches` runs: 200 connections per client, 1 s idle.
    pub(crate) fn smoke() -> Options {
        Options {
            n: 200,
            idle_secs: 1,
            addrs: 2,
            concurrency: 64,
            pin: false,
            smoke: true,
            ..Options::full()
        }
    }

    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::full();
        each_flag(args, |arg, value| {
            let mut num = || -> Result<u64, String> {
                let v = value()?;
                v.parse::<u64>()
                    .map_err(|_| format!("{arg}: not a number: {v}"))
            };
            match arg {
                "--bench" | "run" => {}
                "--n" => o.n = num()?.max(1) as usize,
                "--idle-secs" => o.idle_secs = num()?,
                "--addrs" => {
                    o.addrs = num()? as usize;
                    if !(1..=254).contains(&o.addrs) {
                        return Err("--addrs must be 1 to 254".into());
                    }
                }
                "--concurrency" => o.concurrency = num()?.max(1) as usize,
                "--max-rss-mib" => o.max_rss_mib = num()?,
                "--no-pin" => o.pin = false,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--clients" => {
                    o.clients = value()?
                        .split(',')
                        .map(|s| match s.trim() {
                            "ours" => Ok(ClientKind::OursTokio),
                            name => ClientKind::parse(name)
                                .filter(|k| CLIENTS.contains(k))
                                .ok_or_else(|| {
                                    format!(
                                        "unknown client {name:?}; known: ours, \
                                         tokio-websockets, tokio-tungstenite"
                                    )
                                }),
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("unknown option {other:?}\n{USAGE}")),
            }
            Ok(())
        })?;
        Ok(o)
    }
}

/// The name of a client in the table.
fn label(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::OursTokio => "ours (tokio)",
        other => other.name(),
    }
}

/// Runs one client against a fresh server.
fn run_one(exe: &Path, o: &Options, kind: ClientKind) -> Result<Outcome, String> {
    let addrs = o.addrs.to_string();
    let (server, line) = ServerProcess::start(
        exe,
        &["server", "--addrs", &addrs],
        o.pin,
        "the scale server",
    )?;
    let mut announced = line.split_whitespace().skip(1);
    let control = announced
        .next()
        .ok_or_else(|| format!("bad server announcement {line:?}"))?;
    let ws: Vec<&str> = announced.collect();
    if ws.len() != o.addrs {
        return Err(format!("bad server announcement {line:?}"));
    }
    let args: Vec<String> = [
        "client",
        "--client",
        kind.name(),
        "--control",
        control,
        "--addrs",
        &ws.join(","),
        "--n",
        &o.n.to_string(),
        "--idle-secs",
        &o.idle_secs.to_string(),
        "--concurrency",
        &o.concurrency.to_string(),
        "--max-rss-mib",
        &o.max_rss_mib.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Opening is well under 1 ms per connection; the broadcast has 30 s.
    let timeout = Duration::from_millis(o.n as u64) + Duration::from_secs(o.idle_secs + 120);
    let stdout = run_client(exe, o.pin, None, &args, timeout)?;
    drop(server);
    Outcome::parse(&stdout).ok_or_else(|| format!("no RESULT line from {}", kind.name()))
}

/// What is wrong with a run, if anything: not all open, lost connections, broadcast not
/// received by all.
fn problems(o: &Options, r: &Outcome) -> Vec<String> {
    let mut p = r.errors.clone();
    if r.opened < o.n {
        p.push(format!("opened {} of {} connections", r.opened, o.n));
    }
    if r.lost > 0 && r.errors.is_empty() {
        p.push(format!("{} connection(s) ended early", r.lost));
    }
    if r.broadcast_ms.is_none() {
        p.push(format!(
            "broadcast received by {} of {} within 30 s",
            r.received, r.expected
        ));
    }
    p
}

fn row(o: &Options, kind: ClientKind, r: &Outcome) -> String {
    let per_conn = r.rss_per_conn();
    let idle_s = (r.idle_ms / 1000.0).max(1e-9);
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.1}"));
    let notes = problems(o, r).join("; ");
    let per_ping = (r.idle_pings > 0).then(|| r.idle_run_ns as f64 / 1000.0 / r.idle_pings as f64);
    format!(
        "| {} | {} | {:.2} | {:.0} ({:.2} KiB) | {:.2} % ({:.2} %) | {:.0} | {} | {} | {} | {} |",
        label(kind),
        r.opened,
        r.open_ms / 1000.0,
        per_conn,
        per_conn / 1024.0,
        r.idle_cpu_pct(),
        r.idle_run_pct(),
        r.idle_pings as f64 / idle_s,
        opt(per_ping),
        opt(r.broadcast_ms),
        opt(r.server_write_ms),
        if notes.is_empty() { "ok" } else { &notes }
    )
}

/// Runs every client in turn and prints (and optionally writes) the table.
pub(crate) fn run(mut o: Options) -> Result<(), String> {
    let exe = driver_start(&mut o.pin)?;
    let started = Instant::now();
    let mut report = String::new();
    let mut out = |s: &str| emit(&mut report, s);
    out(&format!(
        "# scale benchmark\n\n{}\n\n\
         {} connections per client in ONE client process on one core (tokio current-thread \
         runtime) against a minimal WebSocket server in one process on another core \
         (current-thread tokio; answers pings and closes, no compression), listening on \
         127.0.0.1..=127.0.0.{}; at most {} handshakes in flight while opening. Each client \
         with its defaults: ours with keepalive on (a ping every 20 s, pong timeout 20 s); \
         tokio-websockets and tokio-tungstenite send no pings of their own.\n\n\
         - time to open all: from the first connect until every handshake is done;\n\
         - RSS per connection: the client's RSS growth from before the first of the N \
         (after one warm-up connection) to 1 s after the last opened, / N;\n\
         - idle CPU: the client's user+sys time (`/proc/self/stat`) over {} s of idle, as a \
         share of one core (in parentheses: on-CPU time from `schedstat`); pings/s: pings the \
         server answered per second over that window (keepalive: N / 20 for ours once the \
         window spans whole intervals); CPU per ping: that on-CPU time / those pings;\n\
         - broadcast: the server writes one 16-byte binary message to every connection; time \
         from the client's request (control port) until all N+1 (the warm-up one too) have \
         received it; server write: the server's own time to write them all.\n",
        environment(o.pin),
        o.n,
        o.addrs,
        o.concurrency,
        o.idle_secs
    ));
    out("| client | open | time to open all (s) | RSS per connection, bytes | idle CPU, % of one core | pings/s | idle CPU per ping (µs) | broadcast: all received (ms) | server write (ms) | notes |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut failures = Vec::new();
    let mut ours = None;
    for &kind in &o.clients {
        eprintln!("scale: {} x {} ...", label(kind), o.n);
        match run_one(&exe, &o, kind) {
            Ok(r) => {
                let trouble = problems(&o, &r);
                if !trouble.is_empty() {
                    failures.push(format!("{}: {}", label(kind), trouble.join("; ")));
                }
                out(&row(&o, kind, &r));
                if kind == ClientKind::OursTokio {
                    ours = Some(r);
                }
            }
            Err(e) => {
                failures.push(format!("{}: {e}", label(kind)));
                out(&format!(
                    "| {} | - | - | - | - | - | - | - | - | failed: {} |",
                    label(kind),
                    e.replace('\n', " ").replace('|', "/")
                ));
            }
        }
    }
    out("");
    if let Some(r) = ours.filter(|_| !o.smoke) {
        out(&goals(&r));
    }
    // A full run reports a client that fell short (the RSS cap, the open-file limit) in its
    // row and goes on; only the smoke check fails on it.
    let failed: &[String] = if o.smoke { &failures } else { &[] };
    finish(report, started, o.out.as_deref(), failed)
}

/// The goals for ours, met or not.
fn goals(r: &Outcome) -> String {
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let (per_conn, cpu) = (r.rss_per_conn(), r.idle_cpu_pct());
    let all = r.broadcast_ms.unwrap_or(f64::INFINITY);
    format!(
        "goals (ours, at {} connections): RSS per connection {:.0} B <= 2560 B (2.5 KiB): {}; \
         idle CPU {:.2} % < 2 %: {}; broadcast received by all in {:.0} ms < 1000 ms: {}\n",
        r.opened,
        per_conn,
        verdict(per_conn <= 2560.0),
        cpu,
        verdict(cpu < 2.0),
        all,
        verdict(all < 1000.0)
    )
}
