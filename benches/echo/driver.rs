//! The driver: starts the fixed servers pinned to core 0, runs one client process per
//! (case, client, round) pinned to core 1, interleaving the clients round by round so that
//! drift (thermal, other load) spreads evenly, then prints median tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{LoopSample, MemSample};
use crate::clients::ClientKind;
use crate::process::{can_pin, run_client, ServerProcess};
use crate::procfs::{environment, loadavg};
use crate::server::ServerKind;

/// One echo case: `conns` closed-loop connections, each sending `size`-byte messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Case {
    pub(crate) text: bool,
    /// Compressed (permessage-deflate) JSON text, against our server role.
    pub(crate) deflate: bool,
    pub(crate) conns: usize,
    pub(crate) size: usize,
}

impl Case {
    const fn bin(conns: usize, size: usize) -> Case {
        Case {
            text: false,
            deflate: false,
            conns,
            size,
        }
    }

    const fn text(conns: usize, size: usize) -> Case {
        Case {
            text: true,
            deflate: false,
            conns,
            size,
        }
    }

    const fn deflate(conns: usize, size: usize) -> Case {
        Case {
            text: true,
            deflate: true,
            conns,
            size,
        }
    }

    pub(crate) fn name(self) -> String {
        let kind = match (self.deflate, self.text) {
            (true, _) => "deflate",
            (false, true) => "text",
            (false, false) => "bin",
        };
        format!("{kind} {}x{}", self.conns, size_label(self.size))
    }

    /// The clients that run this case: the compressed cases need permessage-deflate, text
    /// needs WebSocket, and the Python client runs the compressed cases only.
    fn runs(self, client: ClientKind) -> bool {
        if self.deflate {
            client.has_deflate()
        } else {
            client.is_rust() && (!self.text || client.is_ws())
        }
    }
}

/// The matrix: C in {1, 100} x S in {20 B, 1 KiB, 16 KiB}, 1 x 1, 4 and 16 MiB,
/// text variants where UTF-8 validation is on the path, and compressed JSON
/// (permessage-deflate, ours vs Python `websockets`).
pub(crate) const CASES: [Case; 14] = [
    Case::bin(1, 20),
    Case::bin(100, 20),
    Case::bin(1, 1024),
    Case::bin(100, 1024),
    Case::bin(1, 16 * 1024),
    Case::bin(100, 16 * 1024),
    Case::bin(1, 1024 * 1024),
    Case::bin(1, 4 * 1024 * 1024),
    Case::bin(1, 16 * 1024 * 1024),
    Case::text(100, 20),
    Case::text(1, 16 * 1024),
    Case::text(1, 1024 * 1024),
    Case::deflate(100, 1024),
    Case::deflate(1, 16 * 1024),
];

fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}MiB", size >> 20)
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}KiB", size >> 10)
    } else {
        format!("{size}B")
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) rounds: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Substrings selecting cases by name ("bin 100x20B", "text", "1MiB", "mem"); empty = all.
    pub(crate) case_filter: Vec<String>,
    pub(crate) clients: Vec<ClientKind>,
    /// The WebSocket echo servers every uncompressed case runs against, one pass each.
    pub(crate) servers: Vec<ServerKind>,
    pub(crate) mem_conns: usize,
    pub(crate) mem_rounds: usize,
    pub(crate) pin: bool,
    /// Split user/system time by `perf record -e cpu-clock` samples instead of tick counts.
    pub(crate) perf: bool,
    pub(crate) out: Option<PathBuf>,
    /// Only check that every client works (tiny run, no table claims).
    pub(crate) smoke: bool,
    /// A Python with `websockets` installed, for the python-websockets client.
    pub(crate) python: Option<PathBuf>,
}

impl Options {
    /// The full run (about 6-8 minutes with every client).
    pub(crate) fn full() -> Options {
        Options {
            rounds: 5,
            warmup: Duration::from_millis(300),
            duration: Duration::from_millis(1000),
            case_filter: Vec::new(),
            clients: ClientKind::ALL.to_vec(),
            servers: vec![ServerKind::Ws, ServerKind::TokioWs],
            mem_conns: 5000,
            mem_rounds: 2,
            pin: true,
            perf: false,
            out: None,
            smoke: false,
            python: None,
        }
    }

    /// `--quick` (about a minute).
    pub(crate) fn quick() -> Options {
        Options {
            rounds: 2,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(250),
            mem_rounds: 1,
            ..Options::full()
        }
    }

    /// What `cargo test --benches` runs: every client once on tiny cases.
    pub(crate) fn smoke() -> Options {
        Options {
            rounds: 1,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(100),
            case_filter: vec![
                "bin 1x20B".into(),
                "text 1x16KiB".into(),
                "deflate 1x16KiB".into(),
                "mem".into(),
            ],
            mem_conns: 20,
            mem_rounds: 1,
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
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            let num = |name: &str, v: String| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name}: not a number: {v}"))
            };
            match arg.as_str() {
                "--quick" | "--bench" | "run" => {}
                "--rounds" => o.rounds = num(arg, value(arg)?)?.max(1) as usize,
                "--warmup-ms" => o.warmup = Duration::from_millis(num(arg, value(arg)?)?),
                "--duration-ms" => o.duration = Duration::from_millis(num(arg, value(arg)?)?),
                "--mem-conns" => o.mem_conns = num(arg, value(arg)?)?.max(1) as usize,
                "--mem-rounds" => o.mem_rounds = num(arg, value(arg)?)?.max(1) as usize,
                "--no-pin" => o.pin = false,
                "--perf" => o.perf = true,
                "--out" => o.out = Some(PathBuf::from(value(arg)?)),
                "--python" => o.python = Some(PathBuf::from(value(arg)?)),
                "--case" => o.case_filter.extend(
                    value(arg)?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                ),
                "--servers" => {
                    let list = value(arg)?;
                    o.servers = list
                        .split(',')
                        .map(|s| match ServerKind::parse(s.trim()) {
                            Some(k @ (ServerKind::Ws | ServerKind::TokioWs)) => Ok(k),
                            _ => Err(format!("unknown echo server {s:?}; known: ws, tws")),
                        })
                        .collect::<Result<_, _>>()?;
                    if o.servers.is_empty() {
                        return Err("--servers needs at least one of ws, tws".into());
                    }
                }
                "--clients" => {
                    let list = value(arg)?;
                    o.clients = list
                        .split(',')
                        .map(|s| {
                            ClientKind::parse(s.trim()).ok_or_else(|| {
                                let known: Vec<&str> =
                                    ClientKind::ALL.iter().map(|c| c.name()).collect();
                                format!("unknown client {s:?}; known: {}", known.join(", "))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("unknown option {other:?}\n{}", usage())),
            }
        }
        Ok(o)
    }

    fn selects(&self, name: &str) -> bool {
        self.case_filter.is_empty() || self.case_filter.iter().any(|f| name.contains(f.as_str()))
    }
}

pub(crate) fn usage() -> &'static str {
    "usage: echo [run] [--quick] [--rounds N] [--warmup-ms N] [--duration-ms N]\n\
     \x20           [--case SUBSTR,..] [--clients NAME,..] [--servers ws,tws] [--mem-conns N]\n\
     \x20           [--mem-rounds N] [--no-pin] [--perf] [--out FILE] [--python PYTHON]\n\
     cases: bin|text|deflate CxS (e.g. \"bin 100x20B\", \"text\", \"1MiB\") and \"mem\"\n\
     clients: ours-tokio, ours-async-std, ours-async-std-spawn, tokio-tungstenite, fastwebsockets,\n\
     \x20        tokio-websockets, sockudo-ws, yawc, tcp, tcp-async-std, python-websockets (needs\n\
     \x20        --python: a Python with websockets; `cargo xtask bench echo` passes its interop venv)\n\
     servers: each uncompressed case runs against each: ws (fastwebsockets, frame by frame) and\n\
     \x20        tws (tokio-websockets, message by message); default both\n\
     internal modes: server --kind ws|tws|ours|tcp | client ... | mem-client ..."
}

/// The Python client script.
const PYTHON_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/echo/python_client.py");

/// The server a client talks to in `case`, in the pass against the WebSocket server `ws`.
fn server_kind(case: &Case, client: ClientKind, ws: ServerKind) -> ServerKind {
    if case.deflate {
        ServerKind::Ours
    } else if client.is_ws() {
        ws
    } else {
        ServerKind::Tcp
    }
}

/// The label of a server in the tables.
fn server_label(kind: ServerKind) -> &'static str {
    match kind {
        ServerKind::Ws => "fastwebsockets",
        ServerKind::TokioWs => "tokio-websockets",
        ServerKind::Ours => "ours",
        ServerKind::Tcp => "tcp",
    }
}

/// The peers (not ours, not plain TCP, not Python) a paired ratio compares ours with.
fn is_peer(client: ClientKind) -> bool {
    client.is_ws()
        && client.is_rust()
        && !matches!(
            client,
            ClientKind::OursTokio | ClientKind::OursAsyncStd | ClientKind::OursAsyncStdSpawn
        )
}

/// A server child process; closing its stdin stops it.
struct Server {
    process: ServerProcess,
    addr: SocketAddr,
}

impl Server {
    fn start(exe: &Path, kind: ServerKind, pin: bool) -> Result<Server, String> {
        let what = format!("the {} server", kind.name());
        let (process, line) =
            ServerProcess::start(exe, &["server", "--kind", kind.name()], pin, &what)?;
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("bad server announcement {line:?}"))?;
        Ok(Server { process, addr })
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Whether `perf record -e cpu-clock` works here (it needs perf_event_paranoid <= 2).
fn can_perf() -> bool {
    let data =
        std::env::temp_dir().join(format!("echo-bench-perf-probe-{}.data", std::process::id()));
    let ok = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .args(["--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::fs::remove_file(&data);
    ok
}

/// The share of `perf record` samples taken in the kernel.
fn kernel_share(data: &Path) -> Result<f64, String> {
    let out = Command::new("perf")
        .args(["report", "--stdio", "-q", "--sort", "dso", "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("perf report: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut kernel, mut total) = (0.0, 0.0);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(pct), Some(dso)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pct) = pct.trim_end_matches('%').parse::<f64>() else {
            continue;
        };
        total += pct;
        if dso.starts_with("[kernel") || dso.starts_with("[guest.kernel") {
            kernel += pct;
        }
    }
    if total <= 0.0 {
        return Err("perf report found no samples".into());
    }
    Ok(kernel / total)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The medians of one (case, client) cell.
#[derive(Clone, Copy, Debug)]
struct Cell {
    rate: f64,
    cpu_us: f64,
    user_us: f64,
    sys_us: f64,
    server_busy: f64,
    client_wait: f64,
    server_wait: f64,
    min_rate: f64,
    max_rate: f64,
}

impl Cell {
    fn of(samples: &[LoopSample]) -> Option<Cell> {
        let ok: Vec<&LoopSample> = samples.iter().filter(|s| s.msgs > 0).collect();
        if ok.is_empty() {
            return None;
        }
        let per_rt = |f: &dyn Fn(&LoopSample) -> u64| {
            median(
                ok.iter()
                    .map(|s| f(s) as f64 / s.msgs as f64 / 1000.0)
                    .collect(),
            )
        };
        let rates: Vec<f64> = ok
            .iter()
            .map(|s| s.msgs as f64 * 1e9 / s.wall_ns.max(1) as f64)
            .collect();
        // The user/system split is pooled over the rounds: tick counts are coarse per round.
        let msgs: u64 = ok.iter().map(|s| s.msgs).sum();
        let pooled = |f: &dyn Fn(&LoopSample) -> u64| {
            ok.iter().map(|s| f(s) as f64).sum::<f64>() / msgs.max(1) as f64 / 1000.0
        };
        Some(Cell {
            rate: median(rates.clone()),
            cpu_us: per_rt(&|s| s.cpu.run_ns),
            user_us: pooled(&|s| s.cpu.user_ns),
            sys_us: pooled(&|s| s.cpu.sys_ns),
            server_busy: median(
                ok.iter()
                    .filter_map(|s| Some(s.server_cpu?.run_ns as f64 / s.wall_ns.max(1) as f64))
                    .collect(),
            ),
            client_wait: median(
                ok.iter()
                    .map(|s| s.cpu.wait_ns as f64 / s.wall_ns.max(1) as f64)
                    .collect(),
            ),
            server_wait: median(
                ok.iter()
                    .filter_map(|s| Some(s.server_cpu?.wait_ns as f64 / s.wall_ns.max(1) as f64))
                    .collect(),
            ),
            min_rate: rates.iter().copied().fold(f64::INFINITY, f64::min),
            max_rate: rates.iter().copied().fold(0.0, f64::max),
        })
    }
}

/// The paired-ratio row of one (case, server): ours-tokio against the peer with the lowest
/// median CPU per round trip, round by round.
fn paired_line(
    case: Case,
    server: ServerKind,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
    by_round: &BTreeMap<(&str, usize), f64>,
    rounds: usize,
) -> Option<String> {
    let ours = ClientKind::OursTokio.name();
    let ours_cell = cells.get(ours)?;
    let best = clients
        .iter()
        .filter(|c| is_peer(**c))
        .filter_map(|c| Some((c.name(), cells.get(c.name())?.cpu_us)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let ratios: Vec<f64> = (0..rounds)
        .filter_map(|r| Some(by_round.get(&(ours, r))? / by_round.get(&(best.0, r))?))
        .collect();
    let n = ratios.len();
    Some(format!(
        "| {} | {} | {} | {:.2} | {:.2} | {:.2}x | {n} |\n",
        case.name(),
        server_label(server),
        best.0,
        best.1,
        ours_cell.cpu_us,
        median(ratios)
    ))
}

fn ratio(x: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 && x.is_finite() => format!("{:.2}x", x / b),
        _ => "-".into(),
    }
}

const ECHO_HEADER: &str = "| case | server | client | msg/s | vs ours | CPU us/rt | vs ours | user us/rt | sys us/rt | server busy | run-queue wait cli/srv | msg/s spread |\n\
                           |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn case_rows(
    case: Case,
    server: &str,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
) -> String {
    let ours = [ClientKind::OursTokio, ClientKind::OursAsyncStd]
        .iter()
        .find_map(|c| cells.get(c.name()).copied());
    let mut rows = String::new();
    for client in clients {
        let Some(c) = cells.get(client.name()) else {
            continue;
        };
        let spread = if c.rate > 0.0 {
            format!(
                "{:+.0}%/{:+.0}%",
                (c.min_rate / c.rate - 1.0) * 100.0,
                (c.max_rate / c.rate - 1.0) * 100.0
            )
        } else {
            "-".into()
        };
        let pct = |v: f64| {
            if v.is_finite() {
                format!("{:.0}%", v * 100.0)
            } else {
                "n/a".into()
            }
        };
        let busy = pct(c.server_busy);
        let wait = format!("{}/{}", pct(c.client_wait), pct(c.server_wait));
        rows.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {:.2} | {} | {:.2} | {:.2} | {} | {} | {} |\n",
            case.name(),
            server,
            client.name(),
            c.rate,
            ratio(c.rate, ours.map(|o| o.rate)),
            c.cpu_us,
            ratio(c.cpu_us, ours.map(|o| o.cpu_us)),
            c.user_us,
            c.sys_us,
            busy,
            wait,
            spread
        ));
    }
    rows
}

/// Runs the benchmark described by `o` and prints (and optionally writes) the tables.
pub(crate) fn run(mut o: Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    if o.pin && !can_pin() {
        o.pin = false;
    }
    if o.perf && !can_perf() {
        eprintln!("perf record does not work here: user/sys split falls back to tick counts");
        o.perf = false;
    }
    let perf_data = o
        .perf
        .then(|| std::env::temp_dir().join(format!("echo-bench-{}.perf.data", std::process::id())));
    let started = Instant::now();
    let mut report = String::new();
    let mut out = |s: &str| {
        println!("{s}");
        let _ = std::io::stdout().flush();
        report.push_str(s);
        report.push('\n');
    };
    out(&format!("# echo benchmark\n\n{}\n", environment(o.pin)));
    let split = if o.perf {
        "perf record cpu-clock samples (10 kHz) over the whole client run"
    } else {
        "/proc stat tick counts, pooled over rounds (coarse, and biased towards sys when the \
         client sleeps and wakes often: use --perf for a sampled split)"
    };
    out(&format!(
        "rounds {}, warm-up {:?}, window {:?} per run; msg/s and CPU are medians over rounds; \
         \"vs ours\" = client / ours-tokio (ours-async-std if ours-tokio is absent); CPU = client \
         process on-CPU time (schedstat, ns) per round trip; user/sys split: {split}; server busy = \
         echo server CPU / wall time; run-queue wait = time the client / server was runnable but \
         another process held its CPU, per wall time (other load on the machine: when it is not \
         near 0%, msg/s is polluted and CPU per round trip is the figure to trust).\n",
        o.rounds, o.warmup, o.duration
    ));

    if o.python.is_none() && o.clients.contains(&ClientKind::PythonWebsockets) {
        out(
            "python-websockets: not run (no --python; `cargo xtask bench echo` installs Python \
             websockets in target/interop/venv and passes it).\n",
        );
        o.clients.retain(|c| *c != ClientKind::PythonWebsockets);
    }
    let cases: Vec<Case> = CASES.into_iter().filter(|c| o.selects(&c.name())).collect();
    let run_mem = o.selects("mem");
    // The passes of a case: one per WebSocket echo server (our server role for the
    // compressed cases). Plain TCP runs in the first pass only.
    let passes = |case: &Case| -> Vec<ServerKind> {
        if case.deflate {
            vec![ServerKind::Ours]
        } else {
            o.servers.clone()
        }
    };
    let runs = |case: &Case, kind: ServerKind| {
        passes(case).into_iter().enumerate().any(|(i, ws)| {
            o.clients.iter().any(|c| {
                case.runs(*c) && (c.is_ws() || i == 0) && server_kind(case, *c, ws) == kind
            })
        })
    };
    let start = |kind: ServerKind, needed: bool| -> Result<Option<Server>, String> {
        needed.then(|| Server::start(&exe, kind, o.pin)).transpose()
    };
    let needs_tcp_mem = run_mem && o.clients.iter().any(|c| !c.is_ws());
    let needs_ws_mem = run_mem && o.clients.iter().any(|c| c.is_ws() && c.is_rust());
    let ws_server = start(
        ServerKind::Ws,
        needs_ws_mem || cases.iter().any(|c| runs(c, ServerKind::Ws)),
    )?;
    let tws_server = start(
        ServerKind::TokioWs,
        cases.iter().any(|c| runs(c, ServerKind::TokioWs)),
    )?;
    let ours_server = start(
        ServerKind::Ours,
        cases.iter().any(|c| runs(c, ServerKind::Ours)),
    )?;
    let tcp_server = start(
        ServerKind::Tcp,
        needs_tcp_mem || cases.iter().any(|c| runs(c, ServerKind::Tcp)),
    )?;
    let server_for = |kind: ServerKind| match kind {
        ServerKind::Ws => ws_server.as_ref(),
        ServerKind::TokioWs => tws_server.as_ref(),
        ServerKind::Ours => ours_server.as_ref(),
        ServerKind::Tcp => tcp_server.as_ref(),
    };
    let mut failures = Vec::new();
    let mut all_rows = String::new();
    let mut paired = String::new();
    if !cases.is_empty() {
        out(ECHO_HEADER);
    }
    for (case, (pass, ws_kind)) in cases
        .iter()
        .flat_map(|case| passes(case).into_iter().enumerate().map(move |p| (case, p)))
    {
        let clients: Vec<ClientKind> = o
            .clients
            .iter()
            .copied()
            .filter(|c| case.runs(*c) && (c.is_ws() || pass == 0))
            .collect();
        // The Python client reads the payload from a file (the same bytes the Rust clients
        // build in-process).
        let payload_file = std::env::temp_dir().join(format!(
            "echo-bench-{}-{}x{}.payload",
            std::process::id(),
            case.conns,
            case.size
        ));
        if clients.iter().any(|c| !c.is_rust()) {
            let payload = crate::clients::payload(case.size, case.text, case.deflate);
            std::fs::write(&payload_file, &payload)
                .map_err(|e| format!("cannot write {}: {e}", payload_file.display()))?;
        }
        let mut samples: BTreeMap<&str, Vec<LoopSample>> = BTreeMap::new();
        // CPU per round trip by (client, round), for the paired ratios.
        let mut by_round: BTreeMap<(&str, usize), f64> = BTreeMap::new();
        for round in 0..o.rounds {
            // Rotate the order each round so that no client always runs first.
            for i in 0..clients.len() {
                let client = clients[(i + round) % clients.len()];
                let Some(server) = server_for(server_kind(case, client, ws_kind)) else {
                    continue;
                };
                let (program, mut args) = match (&o.python, client.is_rust()) {
                    (Some(python), false) => (
                        python.clone(),
                        vec![
                            PYTHON_CLIENT.to_string(),
                            "--payload-file".into(),
                            payload_file.display().to_string(),
                        ],
                    ),
                    _ => (
                        exe.clone(),
                        vec![
                            "client".to_string(),
                            "--client".into(),
                            client.name().into(),
                            "--size".into(),
                            case.size.to_string(),
                        ],
                    ),
                };
                args.extend([
                    "--addr".into(),
                    server.addr.to_string(),
                    "--conns".into(),
                    case.conns.to_string(),
                    "--warmup-ms".into(),
                    o.warmup.as_millis().to_string(),
                    "--duration-ms".into(),
                    o.duration.as_millis().to_string(),
                    "--server-pid".into(),
                    server.pid().to_string(),
                ]);
                if case.text {
                    args.push("--text".into());
                }
                if case.deflate {
                    args.push("--deflate".into());
                }
                let timeout = o.warmup + o.duration + Duration::from_secs(60);
                let result = run_client(&program, o.pin, perf_data.as_deref(), &args, timeout)
                    .and_then(|stdout| {
                        let mut s = stdout
                            .lines()
                            .find_map(LoopSample::parse)
                            .ok_or_else(|| format!("no RESULT line from {}", client.name()))?;
                        if let Some(data) = &perf_data {
                            let k = kernel_share(data)?;
                            s.cpu.sys_ns = (s.cpu.run_ns as f64 * k) as u64;
                            s.cpu.user_ns = s.cpu.run_ns - s.cpu.sys_ns;
                        }
                        Ok(s)
                    });
                match result {
                    Ok(s) => {
                        if s.msgs > 0 {
                            by_round.insert(
                                (client.name(), round),
                                s.cpu.run_ns as f64 / s.msgs as f64 / 1000.0,
                            );
                        }
                        samples.entry(client.name()).or_default().push(s);
                    }
                    Err(e) => failures.push(format!(
                        "{} ({}) {}: {e}",
                        case.name(),
                        server_label(ws_kind),
                        client.name()
                    )),
                }
            }
        }
        let cells: BTreeMap<&str, Cell> = samples
            .iter()
            .filter_map(|(k, v)| Some((*k, Cell::of(v)?)))
            .collect();
        if o.smoke {
            for client in &clients {
                if !cells.contains_key(client.name()) {
                    failures.push(format!(
                        "{} {}: no echo completed",
                        case.name(),
                        client.name()
                    ));
                }
            }
        }
        let _ = std::fs::remove_file(&payload_file);
        let rows = case_rows(*case, server_label(ws_kind), &clients, &cells);
        print!("{rows}");
        let _ = std::io::stdout().flush();
        all_rows.push_str(&rows);
        if let Some(line) = paired_line(*case, ws_kind, &clients, &cells, &by_round, o.rounds) {
            paired.push_str(&line);
        }
    }
    if !cases.is_empty() {
        report.push_str(&all_rows);
        report.push('\n');
        println!();
    }
    if !paired.is_empty() {
        let head = "## ours vs the best peer: client CPU per round trip

\
                    best peer = the peer with the lowest median CPU per round trip in that case \
                    and server; paired ratio = median over rounds of ours / that peer in the \
                    same round (below 1.00x: ours spends less).

\
                    | case | server | best peer | its CPU us/rt | ours-tokio CPU us/rt | paired ratio | rounds |\n\
                    |---|---|---|---:|---:|---:|---:|";
        println!("{head}\n{paired}");
        report.push_str(head);
        report.push('\n');
        report.push_str(&paired);
        report.push('\n');
    }

    if run_mem {
        let mut out = |s: &str| {
            println!("{s}");
            report.push_str(s);
            report.push('\n');
        };
        out(&format!(
            "## memory: RSS growth per idle connection after one 20-byte echo, N = {} (median of {} rounds)\n",
            o.mem_conns, o.mem_rounds
        ));
        out("| client | bytes/conn | KiB/conn | vs ours | RSS before MiB | RSS after MiB |\n|---|---:|---:|---:|---:|---:|");
        let mut mem: BTreeMap<&str, Vec<MemSample>> = BTreeMap::new();
        for round in 0..o.mem_rounds {
            for i in 0..o.clients.len() {
                let client = o.clients[(i + round) % o.clients.len()];
                // The same connections as ours-async-std: its executor adds no per-connection
                // state. The Python client has no memory probe.
                if client == ClientKind::OursAsyncStdSpawn || !client.is_rust() {
                    continue;
                }
                let kind = if client.is_ws() {
                    ServerKind::Ws
                } else {
                    ServerKind::Tcp
                };
                let Some(server) = server_for(kind) else {
                    continue;
                };
                let args = vec![
                    "mem-client".to_string(),
                    "--client".into(),
                    client.name().into(),
                    "--addr".into(),
                    server.addr.to_string(),
                    "--conns".into(),
                    o.mem_conns.to_string(),
                    "--size".into(),
                    "20".into(),
                ];
                let result = run_client(&exe, o.pin, None, &args, Duration::from_secs(120))
                    .and_then(|stdout| {
                        stdout
                            .lines()
                            .find_map(MemSample::parse)
                            .ok_or_else(|| format!("no MEM line from {}", client.name()))
                    });
                match result {
                    Ok(s) => mem.entry(client.name()).or_default().push(s),
                    Err(e) => failures.push(format!("mem {}: {e}", client.name())),
                }
            }
        }
        let per_conn = |name: &str| {
            mem.get(name)
                .map(|v| median(v.iter().map(|s| s.per_conn_bytes()).collect()))
        };
        let ours = per_conn(ClientKind::OursTokio.name())
            .or_else(|| per_conn(ClientKind::OursAsyncStd.name()));
        for client in &o.clients {
            let (Some(v), Some(b)) = (mem.get(client.name()), per_conn(client.name())) else {
                continue;
            };
            let before = median(v.iter().map(|s| s.before_kib as f64 / 1024.0).collect());
            let after = median(v.iter().map(|s| s.after_kib as f64 / 1024.0).collect());
            out(&format!(
                "| {} | {:.0} | {:.1} | {} | {:.1} | {:.1} |",
                client.name(),
                b,
                b / 1024.0,
                ratio(b, ours),
                before,
                after
            ));
        }
        out("");
    }

    let footer = format!(
        "finished in {:.0} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    println!("{footer}");
    report.push_str(&footer);
    report.push('\n');
    drop(ws_server);
    drop(tws_server);
    drop(ours_server);
    drop(tcp_server);
    if let Some(data) = &perf_data {
        let _ = std::fs::remove_file(data);
    }
    if let Some(path) = &o.out {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, &report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("table written to {}", path.display());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} run(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}
