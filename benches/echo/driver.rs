//! The driver: starts the fixed servers pinned to core 0, runs one client process per
//! (case, client, round) pinned to core 1, interleaving the clients round by round so that
//! drift (thermal, other load) spreads evenly, then prints median tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::MemSample;
use crate::clients::ClientKind;
use crate::harness::{
    driver_start, each_flag, emit, finish, median, ratio, size_label, Cell, Sample, Server,
};
use crate::process::run_client;
use crate::procfs::environment;
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

    /// The clients that run this case: the compressed cases need permessage-deflate (ours,
    /// sockudo-ws, yawc, Python), text needs WebSocket, and the Python client runs the
    /// compressed cases only.
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
/// (permessage-deflate: ours, sockudo-ws, yawc and Python `websockets`, against our server).
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
        each_flag(args, |arg, value| {
            let num = |name: &str, v: String| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name}: not a number: {v}"))
            };
            match arg {
                "--quick" | "--bench" | "run" => {}
                "--rounds" => o.rounds = num(arg, value()?)?.max(1) as usize,
                "--warmup-ms" => o.warmup = Duration::from_millis(num(arg, value()?)?),
                "--duration-ms" => o.duration = Duration::from_millis(num(arg, value()?)?),
                "--mem-conns" => o.mem_conns = num(arg, value()?)?.max(1) as usize,
                "--mem-rounds" => o.mem_rounds = num(arg, value()?)?.max(1) as usize,
                "--no-pin" => o.pin = false,
                "--perf" => o.perf = true,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--python" => o.python = Some(PathBuf::from(value()?)),
                "--case" => o.case_filter.extend(
                    value()?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                ),
                "--servers" => {
                    let list = value()?;
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
                "--clients" => o.clients = ClientKind::parse_list(&value()?)?,
                other => return Err(format!("unknown option {other:?}\n{}", usage())),
            }
            Ok(())
        })?;
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
     cases: bin|text|deflate CxS (e.g. \"bin 100x20B\", \"text\", \"1MiB\") and \"mem\"; the deflate\n\
     \x20      cases run ours, sockudo-ws, yawc and python-websockets with permessage-deflate\n\
     \x20      against our server, which counts the bytes on the wire per message\n\
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

/// The counts of our server role (`server --kind ours`, its `STATS` line): connections, and
/// the frames' bytes of the completed echoes (see `echo/server.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ServerTotals {
    open: u64,
    /// Connections without permessage-deflate.
    plain: u64,
    msgs: u64,
    bytes_in: u64,
    bytes_out: u64,
    /// Connections with permessage-deflate by agreed parameters (`c15s15`, ...).
    agreed: BTreeMap<String, u64>,
}

impl ServerTotals {
    fn parse(line: &str) -> Option<ServerTotals> {
        let rest = line.strip_prefix("STATS ")?;
        let get = |key: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        let num = |key: &str| get(key)?.parse::<u64>().ok();
        let mut agreed = BTreeMap::new();
        match get("agreed")? {
            "-" => {}
            list => {
                for item in list.split(',') {
                    let (token, n) = item.rsplit_once(':')?;
                    agreed.insert(token.to_string(), n.parse().ok()?);
                }
            }
        }
        Some(ServerTotals {
            open: num("open")?,
            plain: num("plain")?,
            msgs: num("msgs")?,
            bytes_in: num("in")?,
            bytes_out: num("out")?,
            agreed,
        })
    }

    /// The counts between `earlier` and `self` (`open` is `self`'s).
    fn since(&self, earlier: &ServerTotals) -> ServerTotals {
        let agreed = self
            .agreed
            .iter()
            .map(|(k, n)| (k.clone(), n - earlier.agreed.get(k).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        ServerTotals {
            open: self.open,
            plain: self.plain - earlier.plain,
            msgs: self.msgs - earlier.msgs,
            bytes_in: self.bytes_in - earlier.bytes_in,
            bytes_out: self.bytes_out - earlier.bytes_out,
            agreed,
        }
    }
}

/// What one compressed run put on the wire, per completed echo, by the server's count.
#[derive(Clone, Debug, PartialEq)]
struct WireSample {
    /// Echoes the server completed and counted (the whole run: warm-up, window, and the
    /// last ones; not the first of each connection).
    msgs: u64,
    /// Client-to-server bytes (frame headers, masking keys, compressed payloads) per echo.
    up: f64,
    /// Server-to-client bytes per echo.
    down: f64,
    /// The agreed parameters of the run's connections (tokens joined by `+`; one, in
    /// practice).
    agreed: String,
}

impl WireSample {
    /// Checks a compressed run's counts (`run`, between two settled totals) and returns its
    /// wire sample: every connection must have agreed to permessage-deflate and both
    /// directions must have put fewer bytes on the wire than the payload.
    fn of(run: &ServerTotals, case: Case) -> Result<WireSample, String> {
        let compressed: u64 = run.agreed.values().sum();
        if run.plain > 0 {
            return Err(format!(
                "{} of its {} connection(s) opened without permessage-deflate",
                run.plain,
                run.plain + compressed
            ));
        }
        if compressed != case.conns as u64 {
            return Err(format!(
                "the server counted {compressed} compressed connection(s), not {}",
                case.conns
            ));
        }
        if run.msgs == 0 {
            return Err("the server completed no echo".into());
        }
        let up = run.bytes_in as f64 / run.msgs as f64;
        let down = run.bytes_out as f64 / run.msgs as f64;
        for (what, bytes) in [("client to server", up), ("server to client", down)] {
            if bytes >= case.size as f64 {
                return Err(format!(
                    "{bytes:.0} bytes on the wire {what} per {}-byte message: not compressed",
                    case.size
                ));
            }
        }
        let agreed: Vec<&str> = run.agreed.keys().map(String::as_str).collect();
        Ok(WireSample {
            msgs: run.msgs,
            up,
            down,
            agreed: agreed.join("+"),
        })
    }
}

/// The totals of our server role once none of its connections is open any more (the client
/// before has exited, and the server saw its connections end), waiting at most 5 s.
fn settled_totals(server: &Server) -> Result<ServerTotals, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let line = server.query("STATS")?;
        let totals = ServerTotals::parse(line.trim())
            .ok_or_else(|| format!("bad STATS line from the server: {line:?}"))?;
        if totals.open == 0 {
            return Ok(totals);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the server still has {} connection(s) open 5 s after the client exited",
                totals.open
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
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
        .filter(|c| c.is_peer())
        .filter_map(|c| Some((c.name(), cells.get(c.name())?.cpu_us)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let ratios: Vec<f64> = (0..rounds)
        .filter_map(|r| Some(by_round.get(&(ours, r))? / by_round.get(&(best.0, r))?))
        .collect();
    let n = ratios.len();
    Some(format!(
        "| {} | {} | {} | {:.2} | {:.2} | {:.2}x | {n} |\n",
        case.name(),
        server.label(),
        best.0,
        best.1,
        ours_cell.cpu_us,
        median(ratios)
    ))
}

const DEFLATE_HEAD: &str = "## permessage-deflate: client CPU and bytes on the wire

\
    CPU = the client's CPU per round trip (one message each way), as above. Wire bytes are \
    counted by our server on its socket: the frames (header, masking key, compressed payload) \
    of every echo it completed in the run (warm-up included; not the HTTP upgrade, nor the first \
    echo of each connection, compressed with empty windows), per echo; up = \
    client to server (the client's compressor), down = server to client (our server's \
    compressor, with the parameters agreed with that client); medians over rounds. agreed = \
    the permessage-deflate parameters our server agreed with every connection of the client: \
    c<bits>s<bits> = the client's / the server's maximum window bits, n after one = that side \
    keeps no context between messages (c15s15: 32 KiB windows, context takeover both ways). \
    A run fails if one of its connections opened without permessage-deflate or a direction \
    was not compressed.
";

const DEFLATE_HEADER: &str = "| case | client | agreed | CPU us/rt | vs ours | wire up B/msg | wire down B/msg | up / payload | echoes counted |\n\
                              |---|---|---|---:|---:|---:|---:|---:|---:|";

/// Our client's cell in a case (on tokio, else on async-std): the base of the "vs ours"
/// columns.
fn ours_cell(cells: &BTreeMap<&str, Cell>) -> Option<Cell> {
    [ClientKind::OursTokio, ClientKind::OursAsyncStd]
        .iter()
        .find_map(|c| cells.get(c.name()).copied())
}

/// The rows of one compressed case in the permessage-deflate table.
fn wire_rows(
    case: Case,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
    wire: &BTreeMap<&str, Vec<WireSample>>,
) -> String {
    let ours = ours_cell(cells);
    let mut rows = String::new();
    for client in clients {
        let (Some(c), Some(w)) = (cells.get(client.name()), wire.get(client.name())) else {
            continue;
        };
        let up = median(w.iter().map(|s| s.up).collect());
        let down = median(w.iter().map(|s| s.down).collect());
        let mut agreed: Vec<&str> = w.iter().map(|s| s.agreed.as_str()).collect();
        agreed.sort_unstable();
        agreed.dedup();
        rows.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {:.1} | {:.1} | {:.3} | {} |\n",
            case.name(),
            client.name(),
            agreed.join(", "),
            c.cpu_us,
            ratio(c.cpu_us, ours.map(|o| o.cpu_us)),
            up,
            down,
            up / case.size as f64,
            w.iter().map(|s| s.msgs).sum::<u64>()
        ));
    }
    rows
}

const ECHO_HEADER: &str = "| case | server | client | msg/s | vs ours | CPU us/rt | vs ours | user us/rt | sys us/rt | server busy | run-queue wait cli/srv | msg/s spread |\n\
                           |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn case_rows(
    case: Case,
    server: &str,
    clients: &[ClientKind],
    cells: &BTreeMap<&str, Cell>,
) -> String {
    let ours = ours_cell(cells);
    let mut rows = String::new();
    for client in clients {
        let Some(c) = cells.get(client.name()) else {
            continue;
        };
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
            c.server_busy_pct(),
            c.waits_pct(),
            c.spread()
        ));
    }
    rows
}

/// Runs the benchmark described by `o` and prints (and optionally writes) the tables.
pub(crate) fn run(mut o: Options) -> Result<(), String> {
    let exe = driver_start(&mut o.pin)?;
    if o.perf && !can_perf() {
        eprintln!("perf record does not work here: user/sys split falls back to tick counts");
        o.perf = false;
    }
    let perf_data = o
        .perf
        .then(|| std::env::temp_dir().join(format!("echo-bench-{}.perf.data", std::process::id())));
    let started = Instant::now();
    let mut report = String::new();
    let mut out = |s: &str| emit(&mut report, s);
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
    let mut deflate_rows = String::new();
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
        let mut samples: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
        let mut wire: BTreeMap<&str, Vec<WireSample>> = BTreeMap::new();
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
                // The compressed cases: our server's counts before and after the run.
                let before = if case.deflate {
                    match settled_totals(server) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            failures.push(format!("{} {}: {e}", case.name(), client.name()));
                            continue;
                        }
                    }
                } else {
                    None
                };
                let result = run_client(&program, o.pin, perf_data.as_deref(), &args, timeout)
                    .and_then(|stdout| {
                        let mut s = stdout
                            .lines()
                            .find_map(Sample::parse)
                            .ok_or_else(|| format!("no RESULT line from {}", client.name()))?;
                        if let Some(data) = &perf_data {
                            let k = kernel_share(data)?;
                            s.cpu.sys_ns = (s.cpu.run_ns as f64 * k) as u64;
                            s.cpu.user_ns = s.cpu.run_ns - s.cpu.sys_ns;
                        }
                        Ok(s)
                    })
                    .and_then(|s| {
                        if let Some(before) = &before {
                            let run = settled_totals(server)?.since(before);
                            let w = WireSample::of(&run, *case)?;
                            wire.entry(client.name()).or_default().push(w);
                        }
                        Ok(s)
                    });
                match result {
                    Ok(s) => {
                        if s.count > 0 {
                            by_round.insert(
                                (client.name(), round),
                                s.cpu.run_ns as f64 / s.count as f64 / 1000.0,
                            );
                        }
                        samples.entry(client.name()).or_default().push(s);
                    }
                    Err(e) => failures.push(format!(
                        "{} ({}) {}: {e}",
                        case.name(),
                        ws_kind.label(),
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
        let rows = case_rows(*case, ws_kind.label(), &clients, &cells);
        print!("{rows}");
        let _ = std::io::stdout().flush();
        all_rows.push_str(&rows);
        if let Some(line) = paired_line(*case, ws_kind, &clients, &cells, &by_round, o.rounds) {
            paired.push_str(&line);
        }
        if case.deflate {
            deflate_rows.push_str(&wire_rows(*case, &clients, &cells, &wire));
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
    if !deflate_rows.is_empty() {
        let head = format!("{DEFLATE_HEAD}\n{DEFLATE_HEADER}");
        println!("{head}\n{deflate_rows}");
        report.push_str(&head);
        report.push('\n');
        report.push_str(&deflate_rows);
        report.push('\n');
    }

    if run_mem {
        let mut out = |s: &str| emit(&mut report, s);
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

    drop(ws_server);
    drop(tws_server);
    drop(ours_server);
    drop(tcp_server);
    if let Some(data) = &perf_data {
        let _ = std::fs::remove_file(data);
    }
    finish(report, started, o.out.as_deref(), &failures)
}
