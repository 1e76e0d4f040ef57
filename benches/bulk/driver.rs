//! The driver: starts one bulk WebSocket server and one bulk TCP server pinned to core 0,
//! runs one client process per (case, client, round) pinned to core 1, interleaving the
//! clients round by round in a rotating order (as the echo bench does), then prints median
//! tables and paired ratios of ours to plain TCP and to the best peer.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::clients::ClientKind;
use crate::harness::{
    driver_start, each_flag, emit, finish, median, ratio, size_label, Cell, Sample, Server,
};
use crate::process::run_client;
use crate::procfs::environment;
use crate::proto::{Dir, Request};
use crate::server::ServerKind;

/// The clients with a bulk transfer, in table order (not Python, not ours on async-std's
/// spawning executor: one connection has nothing to spawn).
pub(crate) const CLIENTS: [ClientKind; 9] = [
    ClientKind::OursTokio,
    ClientKind::OursAsyncStd,
    ClientKind::Tungstenite,
    ClientKind::Fastws,
    ClientKind::TokioWs,
    ClientKind::Sockudo,
    ClientKind::Yawc,
    ClientKind::Tcp,
    ClientKind::TcpAsyncStd,
];

/// What ours reaches at least, as a share of plain TCP's GB/s (project issue 14).
const GOAL_VS_TCP: f64 = 0.9;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) rounds: usize,
    /// Bytes per measured transfer (rounded up to whole messages of each size).
    pub(crate) total: u64,
    /// Bytes of the unmeasured transfer before it on the same connection; `None`: an eighth
    /// of `total`, at most 64 MiB.
    pub(crate) warmup: Option<u64>,
    pub(crate) sizes: Vec<usize>,
    pub(crate) dirs: Vec<Dir>,
    pub(crate) clients: Vec<ClientKind>,
    /// The WebSocket server every WebSocket client talks to.
    pub(crate) server: ServerKind,
    pub(crate) pin: bool,
    pub(crate) out: Option<PathBuf>,
    /// Only check that every client completes (tiny transfers, no claims).
    pub(crate) smoke: bool,
}

impl Options {
    /// The full run: 1 GiB per transfer, 5 rounds.
    pub(crate) fn full() -> Options {
        Options {
            rounds: 5,
            total: GIB,
            warmup: None,
            sizes: vec![64 << 10, 1 << 20],
            dirs: Dir::ALL.to_vec(),
            clients: CLIENTS.to_vec(),
            server: ServerKind::Ws,
            pin: true,
            out: None,
            smoke: false,
        }
    }

    /// `--quick`: 256 MiB per transfer, 3 rounds.
    pub(crate) fn quick() -> Options {
        Options {
            rounds: 3,
            total: 256 * MIB,
            ..Options::full()
        }
    }

    /// What `cargo test --benches` runs: every client once, 4 MiB each way.
    pub(crate) fn smoke() -> Options {
        Options {
            rounds: 1,
            total: 4 * MIB,
            warmup: Some(0),
            pin: false,
            smoke: true,
            ..Options::full()
        }
    }

    /// Parses the driver's flags on top of the full-run defaults.
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Options::quick()
        } else {
            Options::full()
        };
        each_flag(args, |arg, value| {
            match arg {
                "--quick" | "--bench" | "run" => {}
                "--rounds" => {
                    let v = value()?;
                    o.rounds = v
                        .parse::<usize>()
                        .map_err(|_| format!("--rounds: not a number: {v}"))?
                        .max(1);
                }
                "--total" => o.total = parse_bytes(&value()?)?.max(1),
                "--warmup" => o.warmup = Some(parse_bytes(&value()?)?),
                "--sizes" => {
                    o.sizes = split(&value()?)
                        .map(|s| {
                            let n = parse_bytes(s)?;
                            if n == 0 || n > 64 * MIB {
                                return Err(format!("--sizes: {s} is not in 1 B..64 MiB"));
                            }
                            Ok(n as usize)
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--dirs" => {
                    o.dirs = split(&value()?)
                        .map(|s| Dir::parse(s).ok_or_else(|| format!("--dirs: {s:?}: up or down")))
                        .collect::<Result<_, _>>()?;
                }
                "--clients" => {
                    o.clients = ClientKind::parse_list(&value()?)?;
                    if let Some(c) = o.clients.iter().find(|c| !CLIENTS.contains(c)) {
                        return Err(format!("{} has no bulk transfer", c.name()));
                    }
                }
                "--server" => {
                    let v = value()?;
                    o.server = match ServerKind::parse(&v) {
                        Some(k @ (ServerKind::Ws | ServerKind::TokioWs)) => k,
                        _ => return Err(format!("--server {v:?}: ws or tws")),
                    };
                }
                "--no-pin" => o.pin = false,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown option {other:?}\n{}", usage())),
            }
            Ok(())
        })?;
        if o.sizes.is_empty() || o.dirs.is_empty() || o.clients.is_empty() {
            return Err("--sizes, --dirs and --clients need at least one entry".into());
        }
        Ok(o)
    }
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `1073741824`, `64KiB`, `1MiB`, `1GiB` (also `K`, `M`, `G`, `KB`...: powers of 1024).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let num: u64 = num
        .parse()
        .map_err(|_| format!("not a byte count: {s:?}"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("not a byte count: {s:?}")),
    };
    num.checked_mul(1 << shift)
        .ok_or_else(|| format!("too large: {s:?}"))
}

pub(crate) fn usage() -> &'static str {
    "usage: bulk [run] [--quick] [--rounds N] [--total BYTES] [--warmup BYTES]\n\
     \x20           [--sizes 64KiB,1MiB] [--dirs up,down] [--clients NAME,..] [--server ws|tws]\n\
     \x20           [--no-pin] [--out FILE]\n\
     one connection moves --total bytes (default 1GiB; --quick 256MiB and 3 rounds) one way in\n\
     messages of each size: up (the client sends, the server acknowledges the count) and down\n\
     (the client asks, the server sends); each after a warm-up transfer on the same connection\n\
     (default an eighth of the total, at most 64MiB)\n\
     clients: ours-tokio, ours-async-std, tokio-tungstenite, fastwebsockets, tokio-websockets,\n\
     \x20        sockudo-ws, yawc, tcp, tcp-async-std (default all)\n\
     server: the WebSocket server of every WebSocket client: ws (fastwebsockets, frame by\n\
     \x20        frame; default) or tws (tokio-websockets, message by message)\n\
     internal modes: server --kind ws|tws|tcp | client --client NAME --addr A --dir up|down\n\
     \x20        --size S --total T --warmup W [--server-pid P]"
}

/// One case: a direction and a message size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    dir: Dir,
    size: usize,
}

impl Case {
    fn name(self) -> String {
        format!("{} {}", self.dir.name(), size_label(self.size))
    }

    /// `bytes` rounded up to whole messages (at least one).
    fn whole(self, bytes: u64) -> u64 {
        bytes.div_ceil(self.size as u64).max(1) * self.size as u64
    }
}

/// GB/s (10^9 bytes per second) from bytes per second.
fn gbps(bytes_per_sec: f64) -> f64 {
    bytes_per_sec / 1e9
}

/// Milliseconds per GiB from microseconds per byte.
fn ms_per_gib(us_per_byte: f64) -> f64 {
    us_per_byte * GIB as f64 / 1000.0
}

/// Runs the benchmark described by `o` and prints (and optionally writes) the tables.
pub(crate) fn run(mut o: Options) -> Result<(), String> {
    let exe = driver_start(&mut o.pin)?;
    let started = Instant::now();
    let mut report = String::new();
    let mut out = |s: &str| emit(&mut report, s);
    out(&format!("# bulk benchmark\n\n{}\n", environment(o.pin)));
    if o.smoke {
        out(
            "Smoke check (every client must complete; tiny transfers, likely an unoptimized \
             build: the figures mean nothing).\n",
        );
    }
    let warmup = |case: Case| {
        let bytes = o.warmup.unwrap_or((o.total / 8).min(64 * MIB));
        if bytes == 0 {
            0
        } else {
            case.whole(bytes)
        }
    };
    out(&format!(
        "One connection per run moves {} one way in messages of each size (rounded up to \
         whole messages), after a warm-up transfer of {} on the same connection. up: the client \
         sends binary messages, the server counts them and answers with the count; down: the \
         client asks with one short message, the server sends. tcp: the same bytes as raw \
         writes of the message size, no framing. WebSocket server: {} ({}), plain TCP server: \
         tokio, both current-thread on CPU 0.\n\n\
         {} rounds, clients interleaved in a rotating order; GB/s = 10^9 bytes per second of \
         wall time, from the request to the last byte (down) or to the acknowledgement (up), \
         median over rounds; CPU = client process on-CPU time (schedstat) per GiB, median; \
         user/sys = tick counts pooled over rounds; server CPU = the server's on-CPU time per \
         GiB, median; server busy = server CPU per wall time \
         (near 100%: the server limits the rate); run-queue wait = time the client / server \
         was runnable while another process held its CPU, per wall time (not near 0%: the \
         rates are polluted). On loopback the sending process's CPU also runs the receiving \
         side's TCP processing (softirq), so sending costs more than receiving: up is bounded \
         by the client, down often by the server (server busy near 100% for every client, \
         plain TCP included); client CPU per GiB is what tells the clients apart there.\n",
        size_label(o.total as usize),
        if o.warmup == Some(0) {
            "nothing".to_string()
        } else {
            size_label(warmup(Case {
                dir: Dir::Up,
                size: 1,
            }) as usize)
        },
        o.server.name(),
        o.server.label(),
        o.rounds,
    ));

    let ws_server = o
        .clients
        .iter()
        .any(|c| c.is_ws())
        .then(|| Server::start(&exe, o.server, o.pin))
        .transpose()?;
    let tcp_server = o
        .clients
        .iter()
        .any(|c| !c.is_ws())
        .then(|| Server::start(&exe, ServerKind::Tcp, o.pin))
        .transpose()?;
    let cases: Vec<Case> = o
        .dirs
        .iter()
        .flat_map(|&dir| o.sizes.iter().map(move |&size| Case { dir, size }))
        .collect();

    let mut failures = Vec::new();
    let mut rows = String::new();
    let mut summary = String::new();
    out(HEADER);
    for case in &cases {
        let total = case.whole(o.total);
        let mut samples: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
        // GB/s by (client, round), for the paired ratios.
        let mut by_round: BTreeMap<(&str, usize), f64> = BTreeMap::new();
        for round in 0..o.rounds {
            for i in 0..o.clients.len() {
                let client = o.clients[(i + round) % o.clients.len()];
                let server = if client.is_ws() {
                    ws_server.as_ref()
                } else {
                    tcp_server.as_ref()
                };
                let Some(server) = server else {
                    continue;
                };
                let req = Request {
                    dir: case.dir,
                    total,
                    size: case.size,
                };
                let args: Vec<String> = vec![
                    "client".into(),
                    "--client".into(),
                    client.name().into(),
                    "--addr".into(),
                    server.addr.to_string(),
                    "--dir".into(),
                    req.dir.name().into(),
                    "--size".into(),
                    req.size.to_string(),
                    "--total".into(),
                    req.total.to_string(),
                    "--warmup".into(),
                    warmup(*case).to_string(),
                    "--server-pid".into(),
                    server.pid().to_string(),
                ];
                // Generous: 20 MB/s would be far below any client.
                let timeout = Duration::from_secs(30 + (total + warmup(*case)) / 20_000_000);
                let result = run_client(&exe, o.pin, None, &args, timeout).and_then(|stdout| {
                    let s = stdout
                        .lines()
                        .find_map(Sample::parse)
                        .ok_or_else(|| format!("no RESULT line from {}", client.name()))?;
                    if s.count != total {
                        return Err(format!(
                            "{} moved {} of {total} bytes",
                            client.name(),
                            s.count
                        ));
                    }
                    Ok(s)
                });
                match result {
                    Ok(s) => {
                        by_round.insert(
                            (client.name(), round),
                            s.count as f64 / s.wall_ns.max(1) as f64,
                        );
                        samples.entry(client.name()).or_default().push(s);
                    }
                    Err(e) => failures.push(format!("{} {}: {e}", case.name(), client.name())),
                }
            }
        }
        let cells: BTreeMap<&str, Cell> = samples
            .iter()
            .filter_map(|(k, v)| Some((*k, Cell::of(v)?)))
            .collect();
        if o.smoke {
            for client in &o.clients {
                if !cells.contains_key(client.name()) {
                    failures.push(format!(
                        "{} {}: no transfer completed",
                        case.name(),
                        client.name()
                    ));
                }
            }
        }
        let case_rows = case_rows(*case, &o.clients, &cells, &samples);
        print!("{case_rows}");
        let _ = std::io::stdout().flush();
        rows.push_str(&case_rows);
        summary.push_str(&summary_rows(
            *case, &o.clients, &cells, &by_round, o.rounds,
        ));
    }
    report.push_str(&rows);
    report.push('\n');
    println!();
    if !summary.is_empty() {
        let head = format!(
            "## ours vs plain TCP and the best peer (GB/s)\n\n\
             Paired ratio = median over rounds of ours / the other in the same round. Plain TCP \
             = tcp for ours-tokio, tcp-async-std for ours-async-std (tcp without it). Best peer \
             = the peer with the highest median GB/s in that case. Goal: ours >= {GOAL_VS_TCP}x \
             plain TCP.\n\n\
             | case | ours | GB/s | plain TCP | its GB/s | ours/TCP paired | goal | best peer | \
             its GB/s | ours/peer paired |\n|---|---|---:|---|---:|---:|---|---|---:|---:|"
        );
        println!("{head}\n{summary}");
        report.push_str(&head);
        report.push('\n');
        report.push_str(&summary);
        report.push('\n');
    }
    drop(ws_server);
    drop(tcp_server);
    finish(report, started, o.out.as_deref(), &failures)
}

const HEADER: &str = "| case | client | GB/s | vs tcp | vs ours | CPU ms/GiB | vs ours | user ms/GiB | sys ms/GiB | server CPU ms/GiB | server busy | run-queue wait cli/srv | GB/s spread |\n\
                      |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn case_rows(
    case: Case,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
    samples: &BTreeMap<&str, Vec<Sample>>,
) -> String {
    let find = |kinds: &[ClientKind]| kinds.iter().find_map(|c| cells.get(c.name()).copied());
    let ours = find(&[ClientKind::OursTokio, ClientKind::OursAsyncStd]);
    let tcp = find(&[ClientKind::Tcp, ClientKind::TcpAsyncStd]);
    let mut rows = String::new();
    for client in clients {
        let Some(c) = cells.get(client.name()) else {
            continue;
        };
        // The server's CPU per byte, median over the rounds.
        let server_us = median(
            samples
                .get(client.name())
                .into_iter()
                .flatten()
                .filter_map(|s| Some(s.server_cpu?.run_ns as f64 / s.count.max(1) as f64 / 1e3))
                .collect(),
        );
        rows.push_str(&format!(
            "| {} | {} | {:.2} | {} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} |\n",
            case.name(),
            client.name(),
            gbps(c.rate),
            ratio(c.rate, tcp.map(|t| t.rate)),
            ratio(c.rate, ours.map(|o| o.rate)),
            ms_per_gib(c.cpu_us),
            ratio(c.cpu_us, ours.map(|o| o.cpu_us)),
            ms_per_gib(c.user_us),
            ms_per_gib(c.sys_us),
            ms_per_gib(server_us),
            c.server_busy_pct(),
            c.waits_pct(),
            c.spread()
        ));
    }
    rows
}

/// The summary rows of one case: each of ours against its plain TCP and the best peer.
fn summary_rows(
    case: Case,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
    by_round: &BTreeMap<(&str, usize), f64>,
    rounds: usize,
) -> String {
    let paired = |a: &str, b: &str| {
        median(
            (0..rounds)
                .filter_map(|r| Some(by_round.get(&(a, r))? / by_round.get(&(b, r))?))
                .collect(),
        )
    };
    let best = clients
        .iter()
        .filter(|c| c.is_peer())
        .filter_map(|c| Some((c.name(), cells.get(c.name())?.rate)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let mut rows = String::new();
    for ours in [ClientKind::OursTokio, ClientKind::OursAsyncStd] {
        let Some(cell) = cells.get(ours.name()) else {
            continue;
        };
        let tcp = match ours {
            ClientKind::OursAsyncStd if cells.contains_key(ClientKind::TcpAsyncStd.name()) => {
                ClientKind::TcpAsyncStd
            }
            _ => ClientKind::Tcp,
        };
        let (tcp_rate, vs_tcp, goal) = match cells.get(tcp.name()) {
            Some(t) => {
                let r = paired(ours.name(), tcp.name());
                let goal = if r >= GOAL_VS_TCP { "ok" } else { "MISSED" };
                (format!("{:.2}", gbps(t.rate)), format!("{r:.2}x"), goal)
            }
            None => ("-".into(), "-".into(), "-"),
        };
        let (peer, peer_rate, vs_peer) = match best {
            Some((name, rate)) => (
                name,
                format!("{:.2}", gbps(rate)),
                format!("{:.2}x", paired(ours.name(), name)),
            ),
            None => ("-", "-".into(), "-".into()),
        };
        rows.push_str(&format!(
            "| {} | {} | {:.2} | {} | {tcp_rate} | {vs_tcp} | {goal} | {peer} | {peer_rate} | \
             {vs_peer} |\n",
            case.name(),
            ours.name(),
            gbps(cell.rate),
            tcp.name(),
        ));
    }
    rows
}
