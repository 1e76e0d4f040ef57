//! The driver: for each client, a fresh server pinned to CPU 0 and one client process
//! pinned to CPU 1; then the table (stdout and `--out`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Outcome, CLIENTS, FD_SPARE};
use crate::clients::ClientKind;
use crate::harness::{driver_start, each_flag, emit, finish};
use crate::process::{pinned, run_client, ServerProcess};
use crate::procfs::environment;

pub(crate) const USAGE: &str = "usage: scale [run] [--n N] [--idle-secs S] [--clients NAME,..] \
    [--addrs K] [--concurrency C] [--max-rss-mib M] [--procs P] [--no-pin] [--out FILE]\n  \
    N connections (default 100000) in one client process on one core against a local server \
    listening on 127.0.0.1..=127.0.0.K (default 8): time to open all (at most C handshakes in \
    flight, default 512), RSS per connection, CPU while idle for S seconds (default 60), time \
    until all receive one broadcast message; a client stops opening when its RSS passes M MiB \
    (default 8192: tokio-tungstenite's 128 KiB read buffer per connection would need ~13 GiB \
    for 100000) and the rest of its run uses the connections it has; when the open-file \
    limit cannot be raised to N (no CAP_SYS_RESOURCE), the N are split over P client processes \
    on the same core (default: as few as the limit allows), each with its own server on the \
    other core, idling and receiving the broadcast together, and their figures are summed\n  \
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
    /// Client processes (each with its own server) the N connections are split over; 0:
    /// as few as the open-file limit allows (one when it can be raised to N).
    pub(crate) procs: usize,
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
            procs: 0,
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
                "--procs" => o.procs = num()? as usize,
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

/// Client processes for `o.n` connections: `o.procs`, or as few as this machine's
/// open-file limit allows (each process and its server hold their share plus some spare).
fn procs_for(o: &Options) -> Result<usize, String> {
    if o.procs > 0 {
        return Ok(o.procs.min(o.n));
    }
    let want = o.n as u64 + FD_SPARE;
    let limit = crate::raise_fd_limit(want)?;
    if limit >= want {
        return Ok(1);
    }
    let per = limit.saturating_sub(FD_SPARE).max(1);
    Ok((o.n as u64).div_ceil(per) as usize)
}

/// Starts a fresh server for `n` connections and returns it with the client's arguments.
fn start_server(
    exe: &Path,
    o: &Options,
    kind: ClientKind,
    n: usize,
) -> Result<(ServerProcess, Vec<String>), String> {
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
        &n.to_string(),
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
    Ok((server, args))
}

/// How long a run of `o` may take: opening is well under 1 ms per connection; the broadcast
/// has 30 s.
fn run_timeout(o: &Options) -> Duration {
    Duration::from_millis(o.n as u64) + Duration::from_secs(o.idle_secs + 120)
}

/// Runs one client against fresh servers: one process, or `procs` of them.
fn run_one(exe: &Path, o: &Options, kind: ClientKind, procs: usize) -> Result<Outcome, String> {
    if procs > 1 {
        return run_split(exe, o, kind, procs);
    }
    let (server, args) = start_server(exe, o, kind, o.n)?;
    let stdout = run_client(exe, o.pin, None, &args, run_timeout(o))?;
    drop(server);
    Outcome::parse(&stdout).ok_or_else(|| format!("no RESULT line from {}", kind.name()))
}

/// The N connections split over `procs` client processes, all on CPU 1, each against its
/// own server on CPU 0 (an open-file limit below N allows no more per process). The driver
/// holds them at two barriers (`--sync`): every process has opened its share before any
/// idle window starts, and every idle window is over before the broadcasts start, together.
fn run_split(exe: &Path, o: &Options, kind: ClientKind, procs: usize) -> Result<Outcome, String> {
    // The RSS cap is for all the processes together.
    let o = &Options {
        max_rss_mib: (o.max_rss_mib / procs as u64).max(1),
        ..o.clone()
    };
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    let mut readers = Vec::new();
    for i in 0..procs {
        let n = o.n / procs + usize::from(i < o.n % procs);
        let (server, mut args) = start_server(exe, o, kind, n)?;
        args.push("--sync".into());
        let mut child = pinned(o.pin, "1")
            .arg(exe)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start client process {i}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no client stdout")?;
        readers.push(BufReader::new(stdout));
        servers.push(server);
        clients.push(child);
    }
    // A process that hangs is killed at the deadline (its reader then sees EOF).
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        let pids: Vec<String> = clients.iter().map(|c| c.id().to_string()).collect();
        let deadline = Instant::now() + run_timeout(o);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if Instant::now() >= deadline {
                    let _ = Command::new("kill").arg("-9").args(&pids).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let result = (|| {
        for step in ["OPENED", "IDLED"] {
            for (i, reader) in readers.iter_mut().enumerate() {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 && line.trim() == step => {}
                    _ => return Err(format!("client process {i} did not reach {step}: {line:?}")),
                }
            }
            for (i, child) in clients.iter_mut().enumerate() {
                let stdin = child.stdin.as_mut().ok_or("no client stdin")?;
                writeln!(stdin, "go")
                    .and_then(|()| stdin.flush())
                    .map_err(|e| format!("client process {i}: {e}"))?;
            }
        }
        let mut outcomes = Vec::new();
        for (i, reader) in readers.iter_mut().enumerate() {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            outcomes.push(
                Outcome::parse(&rest)
                    .ok_or_else(|| format!("no RESULT line from client process {i}"))?,
            );
        }
        Ok(outcomes)
    })();
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    let mut failures = Vec::new();
    for (i, mut child) in clients.into_iter().enumerate() {
        let _ = child.kill();
        if let (Ok(status), Err(_)) = (child.wait(), &result) {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            failures.push(format!("process {i} ({status}): {}", err.trim()));
        }
    }
    drop(servers);
    let outcomes = result.map_err(|e| format!("{e}; {}", failures.join("; ")))?;
    Ok(sum(&outcomes))
}

/// The figures of several client processes as one run: counts, memory and CPU summed;
/// times (opening, broadcast, server write) the longest.
fn sum(parts: &[Outcome]) -> Outcome {
    let max = |f: fn(&Outcome) -> Option<f64>| {
        parts
            .iter()
            .map(f)
            .try_fold(0.0f64, |m, v| v.map(|v| m.max(v)))
    };
    Outcome {
        opened: parts.iter().map(|p| p.opened).sum(),
        open_ms: max(|p| Some(p.open_ms)).unwrap_or(0.0),
        rss_before_kib: parts.iter().map(|p| p.rss_before_kib).sum(),
        rss_after_kib: parts.iter().map(|p| p.rss_after_kib).sum(),
        idle_ms: max(|p| Some(p.idle_ms)).unwrap_or(0.0),
        idle_cpu_ns: parts.iter().map(|p| p.idle_cpu_ns).sum(),
        idle_run_ns: parts.iter().map(|p| p.idle_run_ns).sum(),
        idle_pings: parts.iter().map(|p| p.idle_pings).sum(),
        received: parts.iter().map(|p| p.received).sum(),
        expected: parts.iter().map(|p| p.expected).sum(),
        broadcast_ms: max(|p| p.broadcast_ms),
        server_write_ms: max(|p| p.server_write_ms),
        lost: parts.iter().map(|p| p.lost).sum(),
        errors: parts.iter().flat_map(|p| p.errors.clone()).collect(),
    }
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
    let procs = procs_for(&o)?;
    let started = Instant::now();
    let mut report = String::new();
    let mut out = |s: &str| emit(&mut report, s);
    out(&format!(
        "# scale benchmark\n\n{}\n\n\
         {} connections per client in {} on one core (tokio current-thread \
         runtime) against a minimal WebSocket server on another core \
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
        if procs == 1 {
            "ONE client process".to_string()
        } else {
            format!(
                "{procs} client processes (the open-file limit of this machine allows no more \
                 per process; each has its own server process; they idle and receive the \
                 broadcast together, and their figures are summed: memory and CPU added, \
                 times the longest)"
            )
        },
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
        match run_one(&exe, &o, kind, procs) {
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
