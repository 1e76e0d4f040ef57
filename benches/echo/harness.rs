//! What the echo and bulk benchmark binaries share beyond the processes (`process.rs`:
//! pinning, client runs, the internal modes' flags) and `/proc` readings (`procfs.rs`: CPU,
//! RSS, the environment line): the client's one result line ([`Sample`], taken between two
//! [`Snapshot`]s), the echo servers' `--kind`, the driver's server process, the table
//! helpers (median, ratio, size label) and the drivers' modes, flag walking and footer.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::process::{can_pin, Flags, ServerProcess};
use crate::procfs::{loadavg, CpuTime};
use crate::server::ServerKind;

/// What one client run measured over its window.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    /// What the run counts: round trips (echo) or payload bytes (bulk).
    pub(crate) count: u64,
    pub(crate) wall_ns: u64,
    pub(crate) cpu: CpuTime,
    pub(crate) server_cpu: Option<CpuTime>,
}

impl Sample {
    /// The change from `a` to `b`.
    pub(crate) fn between(a: &Snapshot, b: &Snapshot) -> Sample {
        Sample {
            count: b.count - a.count,
            wall_ns: (b.at - a.at).as_nanos() as u64,
            cpu: b.cpu.since(a.cpu),
            server_cpu: b.server.zip(a.server).map(|(b, a)| b.since(a)),
        }
    }

    /// The line the driver parses.
    pub(crate) fn to_line(self) -> String {
        let srv = self.server_cpu.map_or(-1, |c| c.run_ns as i64);
        let srv_wait = self.server_cpu.map_or(-1, |c| c.wait_ns as i64);
        format!(
            "RESULT count={} wall_ns={} run_ns={} wait_ns={} user_ns={} sys_ns={} srv_run_ns={} \
             srv_wait_ns={}",
            self.count,
            self.wall_ns,
            self.cpu.run_ns,
            self.cpu.wait_ns,
            self.cpu.user_ns,
            self.cpu.sys_ns,
            srv,
            srv_wait
        )
    }

    pub(crate) fn parse(line: &str) -> Option<Sample> {
        let rest = line.strip_prefix("RESULT ")?;
        let get = |key: &str| -> Option<i64> {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let srv = get("srv_run_ns")?;
        let srv_wait = get("srv_wait_ns")?;
        Some(Sample {
            count: get("count")? as u64,
            wall_ns: get("wall_ns")? as u64,
            cpu: CpuTime {
                run_ns: get("run_ns")? as u64,
                wait_ns: get("wait_ns")? as u64,
                user_ns: get("user_ns")? as u64,
                sys_ns: get("sys_ns")? as u64,
            },
            server_cpu: (srv >= 0).then(|| CpuTime {
                run_ns: srv as u64,
                wait_ns: srv_wait.max(0) as u64,
                ..CpuTime::default()
            }),
        })
    }
}

/// The medians over the rounds of one (case, client) cell; "per unit" is per unit of
/// [`Sample::count`] (per round trip, per byte).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    /// Units per second of wall time.
    pub(crate) rate: f64,
    /// Client CPU (schedstat run time) per unit, µs.
    pub(crate) cpu_us: f64,
    /// User and system time per unit (tick counts pooled over the rounds), µs.
    pub(crate) user_us: f64,
    pub(crate) sys_us: f64,
    /// Server CPU per wall time.
    pub(crate) server_busy: f64,
    /// Run-queue wait of the client and of the server per wall time.
    pub(crate) client_wait: f64,
    pub(crate) server_wait: f64,
    /// The lowest and highest rate of the rounds.
    pub(crate) min_rate: f64,
    pub(crate) max_rate: f64,
}

impl Cell {
    pub(crate) fn of(samples: &[Sample]) -> Option<Cell> {
        let ok: Vec<&Sample> = samples.iter().filter(|s| s.count > 0).collect();
        if ok.is_empty() {
            return None;
        }
        let per_unit = |f: &dyn Fn(&Sample) -> u64| {
            median(
                ok.iter()
                    .map(|s| f(s) as f64 / s.count as f64 / 1000.0)
                    .collect(),
            )
        };
        let rates: Vec<f64> = ok
            .iter()
            .map(|s| s.count as f64 * 1e9 / s.wall_ns.max(1) as f64)
            .collect();
        // The user/system split is pooled over the rounds: tick counts are coarse per round.
        let units: u64 = ok.iter().map(|s| s.count).sum();
        let pooled = |f: &dyn Fn(&Sample) -> u64| {
            ok.iter().map(|s| f(s) as f64).sum::<f64>() / units.max(1) as f64 / 1000.0
        };
        Some(Cell {
            rate: median(rates.clone()),
            cpu_us: per_unit(&|s| s.cpu.run_ns),
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

    /// The lowest and highest rate of the rounds relative to the median, `-12%/+3%`.
    pub(crate) fn spread(&self) -> String {
        if self.rate > 0.0 {
            format!(
                "{:+.0}%/{:+.0}%",
                (self.min_rate / self.rate - 1.0) * 100.0,
                (self.max_rate / self.rate - 1.0) * 100.0
            )
        } else {
            "-".into()
        }
    }

    /// Server CPU per wall time, `87%`.
    pub(crate) fn server_busy_pct(&self) -> String {
        pct(self.server_busy)
    }

    /// Run-queue waits of client and server per wall time, `0%/2%`.
    pub(crate) fn waits_pct(&self) -> String {
        format!("{}/{}", pct(self.client_wait), pct(self.server_wait))
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.0}%", v * 100.0)
    } else {
        "n/a".into()
    }
}

/// A client's count, clock and CPU time (its own and the server's) at one instant.
pub(crate) struct Snapshot {
    count: u64,
    at: Instant,
    cpu: CpuTime,
    server: Option<CpuTime>,
}

impl Snapshot {
    pub(crate) fn take(count: u64, server_pid: Option<u32>) -> Snapshot {
        Snapshot {
            count,
            at: Instant::now(),
            cpu: CpuTime::of("self").unwrap_or_default(),
            server: server_pid.and_then(|pid| CpuTime::of(&pid.to_string())),
        }
    }
}

/// The echo servers' `--kind` (the flags themselves are in `process.rs`, shared with the
/// benches that have no [`ServerKind`]).
impl Flags<'_> {
    pub(crate) fn server_kind(&self) -> Result<ServerKind, String> {
        let kind = self.required("--kind")?;
        ServerKind::parse(kind).ok_or_else(|| format!("unknown server kind {kind}"))
    }
}

/// A server child process (`<exe> server --kind K`, on CPU 0 when pinning); closing its
/// stdin stops it.
pub(crate) struct Server {
    process: ServerProcess,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(exe: &Path, kind: ServerKind, pin: bool) -> Result<Server, String> {
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

    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends `query` as a line on the server's stdin and returns its one-line answer.
    pub(crate) fn query(&self, query: &str) -> Result<String, String> {
        self.process.query(query)
    }
}

/// The median of `v` (NaN if empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
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

/// `x / base` as `1.23x`, or `-` without a base.
pub(crate) fn ratio(x: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 && x.is_finite() => format!("{:.2}x", x / b),
        _ => "-".into(),
    }
}

/// `20B`, `16KiB`, `4MiB`, `1GiB`.
pub(crate) fn size_label(size: usize) -> String {
    if size >= 1 << 30 && size.is_multiple_of(1 << 30) {
        format!("{}GiB", size >> 30)
    } else if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}MiB", size >> 20)
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}KiB", size >> 10)
    } else {
        format!("{size}B")
    }
}

/// The start of a driver's run: this binary (the driver runs it again as its servers and
/// clients), with `pin` turned off where pinning does not work.
pub(crate) fn driver_start(pin: &mut bool) -> Result<PathBuf, String> {
    if *pin && !can_pin() {
        *pin = false;
    }
    std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))
}

/// Prints `s` at once (a run takes minutes) and appends it, with a newline, to `report`.
pub(crate) fn emit(report: &mut String, s: &str) {
    println!("{s}");
    let _ = std::io::stdout().flush();
    report.push_str(s);
    report.push('\n');
}

/// Writes the report to `path` (creating its directory) and says where.
pub(crate) fn write_report(path: &Path, report: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(path, report).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("table written to {}", path.display());
    Ok(())
}

/// A current-thread tokio runtime (the clients run on one thread).
pub(crate) fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build the tokio runtime: {e}"))
}

/// A bench binary's driver modes (after its child modes): `--help`; `run FLAGS`; `FLAGS
/// --bench`, as `cargo bench` calls it; or, without `--bench` (`cargo test --benches`),
/// the smoke check.
pub(crate) fn driver_main<O>(
    args: &[String],
    usage: &str,
    parse: fn(&[String]) -> Result<O, String>,
    smoke: fn() -> O,
    run: fn(O) -> Result<(), String>,
) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        return Ok(());
    }
    match args.first().map(String::as_str) {
        Some("run") => parse(&args[1..]).and_then(run),
        _ if args.iter().any(|a| a == "--bench") => parse(args).and_then(run),
        _ => run(smoke()),
    }
}

/// The exit code of a bench binary; an error goes to stderr after `what`.
pub(crate) fn exit_code(result: Result<(), String>, what: &str) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{what}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Walks a driver's flags: `f(flag, value)` for each, where `value()` takes the flag's value
/// (the next argument).
pub(crate) fn each_flag(
    args: &[String],
    mut f: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        f(arg, &mut value)?;
    }
    Ok(())
}

/// Ends a driver's run: prints and appends the footer (time taken, load average), writes
/// the report to `out` if given, and fails listing `failures` if there are any.
pub(crate) fn finish(
    mut report: String,
    started: Instant,
    out: Option<&Path>,
    failures: &[String],
) -> Result<(), String> {
    let footer = format!(
        "finished in {:.0} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    println!("{footer}");
    report.push_str(&footer);
    report.push('\n');
    if let Some(path) = out {
        write_report(path, &report)?;
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
