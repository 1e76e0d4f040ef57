//! `cargo xtask autobahn`: run the Autobahn TestSuite fuzzing server against our client on
//! each runtime and fail unless every case passes.
//!
//! Steps:
//! 1. Install the TestSuite into `target/autobahn/venv` (Python 2.7 through pyenv) unless a
//!    working install is already there.
//! 2. Build the `autobahn_client` of `tests/harness/` (release).
//! 3. Per runtime, with its own agent name (`aiowebsocket-tokio`, `aiowebsocket-smol`,
//!    `aiowebsocket-async-std`):
//!    write `target/autobahn/spec-AGENT.json`, start a `wstest -m fuzzingserver` on a free
//!    port of 127.0.0.1 and wait until it accepts connections. One server per agent, run
//!    side by side: the Python server is single-threaded and the slowest part of the run.
//! 4. Run the client of each runtime against its server, all at once, bounded by
//!    `--timeout`.
//! 5. Stop the servers (also when a step fails), read
//!    `target/autobahn/reports/AGENT/index.json`, print a summary per agent and every case
//!    that did not pass, with the suite's reason (expected vs received, close codes).
//!
//! A case passes when both its `behavior` and `behaviorClose` are `OK` or `INFORMATIONAL`.
//! `UNIMPLEMENTED` is accepted only for the compression groups 12 and 13, and only while
//! [`ALLOW_UNIMPLEMENTED_COMPRESSION`] (or `--allow-unimplemented-compression`) says so.
//!
//! Options:
//! - `--cases 1.*,2.*` run only these cases (Autobahn patterns; default `*`)
//! - `--exclude 9.*,12.*` leave these cases out
//! - `--runtime tokio,smol,async-std|all` (default `all`)
//! - `--skip-install` use the TestSuite already in `target/autobahn/venv`, never install
//! - `--allow-unimplemented-compression` / `--deny-unimplemented-compression`
//! - `--report-only` analyse the existing reports without running anything
//! - `--timeout MINUTES` bound on the client runs (default 40); stuck clients are killed
//! - `--verbose` one line per case from the client

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::util::{self, create_log, quiet_success, tail, Flags, KillOnDrop, Runtime};
use crate::workspace_root;

/// Whether `UNIMPLEMENTED` is accepted for cases 12.* and 13.* (permessage-deflate).
///
/// `false` since permessage-deflate landed (all of 12.* and 13.* pass on both runtimes):
/// the compression cases must pass like every other case. `--allow-unimplemented-compression`
/// turns the exemption back on for one run (e.g. a build without the `deflate` feature).
pub(crate) const ALLOW_UNIMPLEMENTED_COMPRESSION: bool = false;

/// The TestSuite release we pin (the last one; it runs on Python 2.7 only).
const AUTOBAHN_TESTSUITE_VERSION: &str = "25.10.1";
/// The pyenv Python that runs the TestSuite.
const PYTHON2_VERSION: &str = "2.7.18";
/// The newest virtualenv that still creates Python 2.7 environments.
const VIRTUALENV_REQUIREMENT: &str = "virtualenv<20.22";
/// Cases left out of every run (none: we aim to pass the whole suite).
const EXCLUDE_CASES: &[&str] = &[];
/// How long the fuzzing server may take to accept connections after it starts.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the clients may take in all (a full run takes about 10 minutes here).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// The binary that speaks the Autobahn client protocol (`tests/harness/src/bin/`).
const CLIENT_BIN: &str = "autobahn_client";
/// The package that holds [`CLIENT_BIN`].
const HARNESS_PACKAGE: &str = "aiowebsocket-harness";

/// Behaviours that count as a pass (for both `behavior` and `behaviorClose`).
const PASSING: &[&str] = &["OK", "INFORMATIONAL"];
/// The behaviour the suite reports for extension cases the client did not negotiate.
const UNIMPLEMENTED: &str = "UNIMPLEMENTED";
/// The case groups that test permessage-deflate.
const COMPRESSION_GROUPS: &[u32] = &[12, 13];

impl Runtime {
    /// The agent name the run reports under.
    fn agent(self) -> String {
        format!("aiowebsocket-{}", self.flag())
    }
}

/// Parsed command line.
#[derive(Debug)]
struct Options {
    cases: Vec<String>,
    exclude: Vec<String>,
    runtimes: Vec<Runtime>,
    skip_install: bool,
    allow_unimplemented_compression: bool,
    report_only: bool,
    verbose: bool,
    timeout: Duration,
}

const USAGE: &str = "usage: cargo xtask autobahn [--cases 1.*,2.*] [--exclude 9.*] \
[--runtime tokio,smol,async-std|all] [--skip-install] [--allow-unimplemented-compression | \
--deny-unimplemented-compression] [--report-only] [--timeout MINUTES] [--verbose]";

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            cases: vec!["*".to_owned()],
            exclude: EXCLUDE_CASES.iter().map(|s| (*s).to_owned()).collect(),
            runtimes: Runtime::ALL.to_vec(),
            skip_install: false,
            allow_unimplemented_compression: ALLOW_UNIMPLEMENTED_COMPRESSION,
            report_only: false,
            verbose: false,
            timeout: CLIENT_TIMEOUT,
        };
        let mut flags = Flags::new(args, USAGE);
        while let Some(name) = flags.next_flag() {
            match name {
                "--cases" => options.cases = split_list(&flags.value(name)?),
                "--exclude" => options.exclude.extend(split_list(&flags.value(name)?)),
                "--runtime" => options.runtimes = Runtime::parse_list(&flags.value(name)?)?,
                "--skip-install" => options.skip_install = true,
                "--allow-unimplemented-compression" => {
                    options.allow_unimplemented_compression = true
                }
                "--deny-unimplemented-compression" => {
                    options.allow_unimplemented_compression = false
                }
                "--report-only" => options.report_only = true,
                "--timeout" => {
                    let minutes: u64 = flags.value(name)?.parse().map_err(|_| {
                        format!("--timeout takes whole minutes, like --timeout 30\n{USAGE}")
                    })?;
                    options.timeout = Duration::from_secs(minutes * 60);
                }
                "--verbose" | "-v" => options.verbose = true,
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown option {other:?}\n{USAGE}")),
            }
        }
        if options.cases.is_empty() {
            return Err(format!("--cases needs at least one pattern\n{USAGE}"));
        }
        Ok(options)
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where everything of this task lives: `target/autobahn/`.
struct Paths {
    root: PathBuf,
    dir: PathBuf,
    venv: PathBuf,
    reports: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let root = workspace_root();
        let dir = root.join("target").join("autobahn");
        Paths {
            venv: dir.join("venv"),
            reports: dir.join("reports"),
            dir,
            root,
        }
    }

    fn wstest(&self) -> PathBuf {
        self.venv.join("bin").join("wstest")
    }

    /// Each agent has its own fuzzing server and report directory.
    fn agent_reports(&self, agent: &str) -> PathBuf {
        self.reports.join(agent)
    }

    fn index(&self, agent: &str) -> PathBuf {
        self.agent_reports(agent).join("index.json")
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let paths = Paths::new();
    let started = Instant::now();
    let agents: Vec<String> = options.runtimes.iter().map(|r| r.agent()).collect();

    let mut run_error = None;
    if !options.report_only {
        fs::create_dir_all(&paths.dir)
            .map_err(|e| format!("cannot create {}: {e}", paths.dir.display()))?;
        let step = Instant::now();
        install(&paths, options.skip_install)?;
        println!("autobahn: TestSuite ready ({:.1?})", step.elapsed());

        let step = Instant::now();
        let client = build_client(&paths)?;
        println!("autobahn: client built ({:.1?})", step.elapsed());

        // A client that failed still leaves reports worth showing; fail after them.
        run_error = run_suite(&paths, &options, &client).err();
    }

    let mut reports = Vec::new();
    for agent in &agents {
        let index = paths.index(agent);
        match fs::read_to_string(&index) {
            Ok(text) => reports.push(Report {
                dir: paths.agent_reports(agent),
                index: text,
            }),
            Err(e) => println!(
                "autobahn: cannot read {}: {e} (did the client reach /updateReports?)",
                index.display()
            ),
        }
    }
    let verdict = analyse(&reports, &agents, options.allow_unimplemented_compression)?;
    print!("{}", verdict.text);
    println!("autobahn: total {:.1?}", started.elapsed());
    if let Some(error) = run_error {
        return Err(error);
    }
    if verdict.failures > 0 {
        return Err(format!(
            "{} case result(s) did not pass; details above and in {}",
            verdict.failures,
            paths.reports.display()
        ));
    }
    println!("autobahn: all cases passed");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Install

fn install(paths: &Paths, skip_install: bool) -> Result<(), String> {
    if wstest_works(paths) {
        return Ok(());
    }
    if skip_install {
        return Err(format!(
            "--skip-install given but {} does not run; drop --skip-install to install the \
             Autobahn TestSuite there",
            paths.wstest().display()
        ));
    }
    println!(
        "autobahn: installing autobahntestsuite=={AUTOBAHN_TESTSUITE_VERSION} into {} \
         (Python {PYTHON2_VERSION})",
        paths.venv.display()
    );
    if paths.venv.exists() {
        fs::remove_dir_all(&paths.venv)
            .map_err(|e| format!("cannot remove broken {}: {e}", paths.venv.display()))?;
    }
    let log = paths.dir.join("install.log");
    let python = python2();
    run_logged(
        python2_command(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .arg(VIRTUALENV_REQUIREMENT),
        &log,
        "installing virtualenv for Python 2.7",
    )?;
    run_logged(
        python2_command(&python)
            .args(["-m", "virtualenv"])
            .arg(&paths.venv),
        &log,
        "creating the Python 2.7 virtualenv",
    )?;
    run_logged(
        Command::new(paths.venv.join("bin").join("pip"))
            .args(["install", "--quiet"])
            .arg(format!("autobahntestsuite=={AUTOBAHN_TESTSUITE_VERSION}")),
        &log,
        "installing autobahntestsuite",
    )?;
    if !wstest_works(paths) {
        return Err(format!(
            "autobahntestsuite installed but {} --help fails; see {}",
            paths.wstest().display(),
            log.display()
        ));
    }
    Ok(())
}

/// Whether the cached TestSuite runs.
fn wstest_works(paths: &Paths) -> bool {
    paths.wstest().is_file() && quiet_success(Command::new(paths.wstest()).arg("--help"))
}

/// The Python 2.7 interpreter: `$AIOWS_PYTHON2`, else pyenv's 2.7.18 by path, else the
/// `python` shim with `PYENV_VERSION` set.
fn python2() -> OsString {
    if let Some(python) = std::env::var_os("AIOWS_PYTHON2") {
        return python;
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pyenv")));
    if let Some(root) = pyenv_root {
        let python = root
            .join("versions")
            .join(PYTHON2_VERSION)
            .join("bin")
            .join("python");
        if python.is_file() {
            return python.into_os_string();
        }
    }
    OsString::from("python")
}

fn python2_command(python: &OsString) -> Command {
    let mut command = Command::new(python);
    command.env("PYENV_VERSION", PYTHON2_VERSION);
    command
}

/// Runs an install step with [`util::run_logged`], without a time bound (as long as pip
/// takes), and a hint about Python 2.7 if the step cannot start.
fn run_logged(command: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    let hint = format!(
        "is pyenv with Python {PYTHON2_VERSION} installed? set AIOWS_PYTHON2 to a Python 2.7 \
         interpreter otherwise"
    );
    util::run_logged(command, log, what, &hint, None)
}

// ---------------------------------------------------------------------------------------
// Run

/// Builds the client (release) before any server starts and returns its executable, which
/// is then run directly so that a stuck client can be killed.
fn build_client(paths: &Paths) -> Result<PathBuf, String> {
    let output = util::cargo()
        .current_dir(&paths.root)
        .args(["build", "--release", "--package", HARNESS_PACKAGE])
        .args(["--bin", CLIENT_BIN, "--message-format=json"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the {CLIENT_BIN} client failed ({}); cargo's errors are above",
            output.status
        ));
    }
    built_executable(&String::from_utf8_lossy(&output.stdout), CLIENT_BIN)
        .ok_or_else(|| format!("cargo built {CLIENT_BIN} but did not name its executable"))
}

/// What [`built_executable`] reads of one line of `cargo build --message-format=json`.
#[derive(Debug, Deserialize)]
struct CargoMessage {
    reason: String,
    target: Option<CargoTarget>,
    /// Set on the `compiler-artifact` line of a binary or example; `null` for libraries.
    executable: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct CargoTarget {
    name: String,
}

/// The executable cargo built for the target `name`, from the output of `cargo build
/// --message-format=json` (one JSON object per line; the artifact of the target names it).
fn built_executable(stdout: &str, name: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<CargoMessage>(line).ok())
        .filter(|msg| msg.reason == "compiler-artifact")
        .filter(|msg| msg.target.as_ref().is_some_and(|t| t.name == name))
        .find_map(|msg| msg.executable)
}

/// One fuzzing server per agent: the server is single-threaded Python and the slowest part
/// of the run (it compresses for groups 12 and 13), so several servers use every core.
fn run_suite(paths: &Paths, options: &Options, client: &Path) -> Result<(), String> {
    if paths.reports.exists() {
        fs::remove_dir_all(&paths.reports)
            .map_err(|e| format!("cannot clear old reports {}: {e}", paths.reports.display()))?;
    }
    let mut servers = Vec::new();
    for runtime in &options.runtimes {
        let agent = runtime.agent();
        let step = Instant::now();
        let (server, port, log) = start_server(paths, &agent, options)?;
        println!(
            "autobahn: fuzzing server for {agent} on ws://127.0.0.1:{port} ({:.1?}; log {})",
            step.elapsed(),
            log.display()
        );
        servers.push((server, port));
    }

    let started = Instant::now();
    let mut clients = Vec::new();
    for (runtime, (_, port)) in options.runtimes.iter().zip(&servers) {
        let agent = runtime.agent();
        let mut command = Command::new(client);
        command
            .current_dir(&paths.root)
            .args(["--url", &format!("ws://127.0.0.1:{port}")])
            .args(["--agent", &agent])
            .args(["--runtime", runtime.flag()])
            .stdin(Stdio::null());
        if options.verbose {
            command.arg("--verbose");
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", client.display()))?;
        println!("autobahn: running agent {agent}");
        clients.push((agent, KillOnDrop(child), None));
    }

    // Wait for every client, bounded by --timeout.
    let deadline = started + options.timeout;
    let mut failed = Vec::new();
    while clients.iter().any(|(_, _, status)| status.is_none()) {
        for (agent, client, status) in clients.iter_mut().filter(|c| c.2.is_none()) {
            match client.0.try_wait() {
                Ok(Some(exit)) => {
                    println!(
                        "autobahn: agent {agent} finished in {:.1?} ({exit})",
                        started.elapsed()
                    );
                    if !exit.success() {
                        failed.push(format!("{agent} ({exit})"));
                    }
                    *status = Some(exit);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("cannot watch the {agent} client: {e}")),
            }
        }
        if Instant::now() >= deadline {
            let stuck: Vec<&str> = clients
                .iter()
                .filter(|c| c.2.is_none())
                .map(|c| c.0.as_str())
                .collect();
            return Err(format!(
                "the client for {} did not finish within {:?} (--timeout); it was killed. \
                 Run `cargo xtask autobahn --runtime <rt> --verbose` to see which case hangs",
                stuck.join(", "),
                options.timeout
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
    drop(servers);

    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the client failed for {} (its output above says why)",
            failed.join(", ")
        ))
    }
}

/// Writes the agent's spec and starts its fuzzing server; returns once it accepts
/// connections.
fn start_server(
    paths: &Paths,
    agent: &str,
    options: &Options,
) -> Result<(KillOnDrop, u16, PathBuf), String> {
    let outdir = paths.agent_reports(agent);
    fs::create_dir_all(&outdir).map_err(|e| format!("cannot create {}: {e}", outdir.display()))?;
    let port = free_port()?;
    let spec = paths.dir.join(format!("spec-{agent}.json"));
    fs::write(&spec, spec_json(port, &outdir, options))
        .map_err(|e| format!("cannot write {}: {e}", spec.display()))?;

    let log = paths.dir.join(format!("server-{agent}.log"));
    let (log_file, err_file) = create_log(&log)?;
    let child = Command::new(paths.wstest())
        .current_dir(&paths.dir)
        .args(["--mode", "fuzzingserver", "--webport", "0", "--spec"])
        .arg(&spec)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", paths.wstest().display()))?;
    let mut server = KillOnDrop(child);
    wait_for_port(&mut server, port, &log)?;
    Ok((server, port, log))
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn wait_for_port(server: &mut KillOnDrop, port: u16, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        match server.0.try_wait() {
            Ok(Some(status)) => {
                return Err(format!(
                    "the fuzzing server exited ({status}) before accepting connections; last \
                     lines of {}:\n{}",
                    log.display(),
                    tail(log, 20)
                ))
            }
            Ok(None) => {}
            Err(e) => return Err(format!("cannot watch the fuzzing server: {e}")),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the fuzzing server did not accept connections on 127.0.0.1:{port} within \
                 {SERVER_START_TIMEOUT:?}; last lines of {}:\n{}",
                log.display(),
                tail(log, 20)
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The fuzzing server's spec: where it listens and reports, and which cases it runs.
fn spec_json(port: u16, outdir: &Path, options: &Options) -> String {
    let spec = serde_json::json!({
        "url": format!("ws://127.0.0.1:{port}"),
        "outdir": outdir.to_string_lossy(),
        "cases": options.cases,
        "exclude-cases": options.exclude,
        "exclude-agent-cases": {},
    });
    format!("{spec:#}\n")
}

// ---------------------------------------------------------------------------------------
// Analysis

/// The printed summary and how many case results failed.
#[derive(Debug)]
struct Verdict {
    text: String,
    failures: usize,
}

/// One case result from `index.json`.
#[derive(Debug)]
struct CaseResult {
    id: String,
    behavior: String,
    behavior_close: String,
    report_file: Option<PathBuf>,
}

/// How a case result is judged.
#[derive(Debug, PartialEq, Eq)]
enum Judgement {
    Pass,
    /// UNIMPLEMENTED compression case, accepted by the flag.
    Exempt,
    Fail,
}

fn judge(case: &CaseResult, allow_unimplemented_compression: bool) -> Judgement {
    let passing = |b: &str| PASSING.contains(&b);
    if passing(&case.behavior) && passing(&case.behavior_close) {
        return Judgement::Pass;
    }
    if allow_unimplemented_compression
        && COMPRESSION_GROUPS.contains(&group(&case.id))
        && case.behavior == UNIMPLEMENTED
        && (case.behavior_close == UNIMPLEMENTED || passing(&case.behavior_close))
    {
        return Judgement::Exempt;
    }
    Judgement::Fail
}

/// The case group: the number before the first dot (`6` for `6.4.1`).
fn group(id: &str) -> u32 {
    id.split('.')
        .next()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// Sort key for case ids: numerically by each dotted part.
fn case_key(id: &str) -> Vec<u32> {
    id.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// One fuzzing server's reports: its directory and the text of its `index.json`.
#[derive(Debug)]
struct Report {
    dir: PathBuf,
    index: String,
}

/// Reads the `index.json` of every report, checks `agents` ran and prints the summary.
fn analyse(
    reports: &[Report],
    agents: &[String],
    allow_unimplemented_compression: bool,
) -> Result<Verdict, String> {
    let mut results: BTreeMap<String, Vec<CaseResult>> = BTreeMap::new();
    for report in reports {
        let index = report.dir.join("index.json");
        let value: Value = serde_json::from_str(&report.index)
            .map_err(|e| format!("{} is not valid JSON: {e}", index.display()))?;
        let Value::Object(all) = value else {
            return Err(format!("{}: expected an object of agents", index.display()));
        };
        for (agent, cases) in &all {
            let Value::Object(cases) = cases else {
                return Err(format!(
                    "{}: agent {agent:?} is not an object",
                    index.display()
                ));
            };
            let list = results.entry(agent.clone()).or_default();
            for (id, case) in cases {
                let field = |name: &str| case.get(name).and_then(Value::as_str);
                list.push(CaseResult {
                    id: id.clone(),
                    behavior: field("behavior").unwrap_or("MISSING").to_owned(),
                    behavior_close: field("behaviorClose").unwrap_or("MISSING").to_owned(),
                    report_file: field("reportfile").map(|f| report.dir.join(f)),
                });
            }
            list.sort_by_key(|c| case_key(&c.id));
        }
    }

    // Every case any agent ran is expected from every agent we asked for.
    let all_ids: BTreeSet<String> = results
        .values()
        .flat_map(|cases| cases.iter().map(|c| c.id.clone()))
        .collect();

    let mut text = String::new();
    let mut failures = 0;
    for agent in agents {
        let Some(cases) = results.get(agent) else {
            let _ = writeln!(text, "\nagent {agent}: NO RESULTS (no index.json names it)");
            failures += 1;
            continue;
        };
        let (summary, agent_failures) =
            agent_summary(agent, cases, &all_ids, allow_unimplemented_compression);
        text.push_str(&summary);
        failures += agent_failures;
    }
    Ok(Verdict { text, failures })
}

fn agent_summary(
    agent: &str,
    cases: &[CaseResult],
    all_ids: &BTreeSet<String>,
    allow_unimplemented_compression: bool,
) -> (String, usize) {
    let mut text = String::new();
    // Columns: every behaviour value seen, passing ones first.
    let mut columns: Vec<String> = PASSING.iter().map(|s| (*s).to_owned()).collect();
    for case in cases {
        if !columns.contains(&case.behavior) {
            columns.push(case.behavior.clone());
        }
    }
    let mut per_group: BTreeMap<u32, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut close_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failing = Vec::new();
    let mut exempt = 0usize;
    for case in cases {
        *per_group
            .entry(group(&case.id))
            .or_default()
            .entry(case.behavior.as_str())
            .or_default() += 1;
        *close_counts
            .entry(case.behavior_close.as_str())
            .or_default() += 1;
        match judge(case, allow_unimplemented_compression) {
            Judgement::Pass => {}
            Judgement::Exempt => exempt += 1,
            Judgement::Fail => failing.push(case),
        }
    }
    let ran: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let mut missing: Vec<&String> = all_ids
        .iter()
        .filter(|id| !ran.contains(id.as_str()))
        .collect();
    missing.sort_by_key(|id| case_key(id));

    let _ = writeln!(text, "\nagent {agent}: {} cases", cases.len());
    let width = |s: &str| s.len().max(5);
    let _ = write!(text, "  {:>5} {:>5}", "group", "cases");
    for column in &columns {
        let _ = write!(text, " {:>w$}", column, w = width(column));
    }
    text.push('\n');
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for (group, counts) in &per_group {
        let n: usize = counts.values().sum();
        let _ = write!(text, "  {group:>5} {n:>5}");
        for column in &columns {
            let count = counts.get(column.as_str()).copied().unwrap_or(0);
            *totals.entry(column.as_str()).or_default() += count;
            let shown = if count == 0 {
                ".".to_owned()
            } else {
                count.to_string()
            };
            let _ = write!(text, " {:>w$}", shown, w = width(column));
        }
        text.push('\n');
    }
    let _ = write!(text, "  {:>5} {:>5}", "all", cases.len());
    for column in &columns {
        let count = totals.get(column.as_str()).copied().unwrap_or(0);
        let _ = write!(text, " {:>w$}", count, w = width(column));
    }
    text.push('\n');
    let close: Vec<String> = close_counts
        .iter()
        .map(|(behaviour, n)| format!("{behaviour} {n}"))
        .collect();
    let _ = writeln!(text, "  behaviorClose: {}", close.join(", "));
    if exempt > 0 {
        let _ = writeln!(
            text,
            "  {exempt} compression case(s) UNIMPLEMENTED, accepted while \
             --allow-unimplemented-compression is on (ALLOW_UNIMPLEMENTED_COMPRESSION)"
        );
    }
    if !failing.is_empty() {
        let _ = writeln!(text, "  {} case(s) did not pass:", failing.len());
        for case in &failing {
            let _ = writeln!(
                text,
                "    {:<8} behavior={} behaviorClose={}",
                case.id, case.behavior, case.behavior_close
            );
            if let Some(detail) = case.report_file.as_deref().and_then(case_detail) {
                text.push_str(&detail);
            }
        }
    }
    if !missing.is_empty() {
        let ids: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(
            text,
            "  {} case(s) MISSING (run by another agent, not by this one): {}",
            missing.len(),
            ids.join(" ")
        );
    }
    (text, failing.len() + missing.len())
}

/// The suite's own explanation of a case result, from its per-case JSON report:
/// what it expected, what it received and how the connection closed.
fn case_detail(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let field = |name: &str| value.get(name).map(compact);
    let mut out = String::new();
    for (name, label, max) in [
        ("description", "case", 160),
        ("result", "result", 300),
        ("expected", "expected", 300),
        ("received", "received", 300),
        ("resultClose", "close", 300),
        ("expectedClose", "expectedClose", 300),
    ] {
        if let Some(s) = field(name) {
            let _ = writeln!(out, "             {label}: {}", shorten(&s, max));
        }
    }
    let codes: Vec<String> = [
        "localCloseCode",
        "remoteCloseCode",
        "remoteCloseReason",
        "wasClean",
        "wasNotCleanReason",
    ]
    .iter()
    .filter_map(|name| field(name).map(|v| format!("{name}={}", shorten(&v, 80))))
    .collect();
    if !codes.is_empty() {
        let _ = writeln!(out, "             {}", codes.join(", "));
    }
    Some(out)
}

/// A short rendering of a report value for messages: strings without quotes, items of
/// arrays and objects separated by `, `.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", compact(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => value.to_string(),
    }
}

fn shorten(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut} ...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{
   "aiowebsocket-tokio": {
      "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
                "remoteCloseCode": 1000, "reportfile": "x_1_1_1.json"},
      "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 2,
                "remoteCloseCode": 1007, "reportfile": "x_6_4_1.json"},
      "7.1.6": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL",
                "duration": 2, "remoteCloseCode": null, "reportfile": "x_7_1_6.json"},
      "12.1.1": {"behavior": "UNIMPLEMENTED", "behaviorClose": "UNIMPLEMENTED",
                 "duration": 0, "remoteCloseCode": null, "reportfile": "x_12_1_1.json"},
      "2.10": {"behavior": "OK", "behaviorClose": "WRONG CODE", "duration": 1,
               "remoteCloseCode": 1002, "reportfile": "x_2_10.json"}
   },
   "aiowebsocket-async-std": {
      "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
                "remoteCloseCode": 1000, "reportfile": "y_1_1_1.json"}
   }
}"#;

    /// The sample index as one server's report (both agents in one file, as one server
    /// shared by several agents writes it).
    fn reports() -> Vec<Report> {
        vec![Report {
            dir: PathBuf::from("/nonexistent"),
            index: INDEX.to_owned(),
        }]
    }

    fn agents() -> Vec<String> {
        vec![
            "aiowebsocket-tokio".to_owned(),
            "aiowebsocket-async-std".to_owned(),
        ]
    }

    #[test]
    fn compact_renders_report_values_without_quotes() {
        let v: Value = serde_json::from_str(
            r#"{"b": "x\"\u00e9\ud83d\ude00", "a": [1, -2, true, null, {"k": "v"}]}"#,
        )
        .unwrap();
        assert_eq!(compact(&v), "{a: [1, -2, true, null, {k: v}], b: x\"é😀}");
    }

    #[test]
    fn finds_the_executable_among_cargos_json_lines() {
        let stdout = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/ws-frame#0.1.0","target":{"kind":["lib"],"crate_types":["lib"],"name":"ws_frame","src_path":"/w/crates/ws-frame/src/lib.rs"},"filenames":["/w/target/release/deps/libws_frame-1.rlib"],"executable":null,"fresh":true}
{"reason":"build-script-executed","package_id":"path+file:///w/x#0.1.0","linked_libs":[],"out_dir":"/w/target/release/build/x-2/out"}
not json: a line from somewhere else
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"other_client"},"executable":"/w/target/release/other_client","fresh":false}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"autobahn_client"},"executable":"/w/target/release/autobahn_client","fresh":false}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            built_executable(stdout, "autobahn_client"),
            Some(PathBuf::from("/w/target/release/autobahn_client"))
        );
        assert_eq!(built_executable(stdout, "ws_frame"), None);
        assert_eq!(built_executable(stdout, "missing"), None);
    }

    #[test]
    fn analysis_counts_failures_exemptions_and_missing_cases() {
        let verdict = analyse(&reports(), &agents(), true).unwrap();
        // tokio: 6.4.1 NON-STRICT and 2.10 WRONG CODE fail; 12.1.1 exempt.
        // async-std: 4 cases missing.
        assert_eq!(verdict.failures, 2 + 4, "{}", verdict.text);
        assert!(verdict.text.contains("6.4.1"), "{}", verdict.text);
        assert!(verdict.text.contains("behaviorClose=WRONG CODE"));
        assert!(verdict.text.contains("1 compression case(s) UNIMPLEMENTED"));
        assert!(verdict.text.contains("4 case(s) MISSING"));

        let strict = analyse(&reports(), &agents(), false).unwrap();
        assert_eq!(strict.failures, 3 + 4, "{}", strict.text);
    }

    #[test]
    fn analysis_reports_an_agent_without_results() {
        let verdict = analyse(&reports(), &["someone-else".to_owned()], true).unwrap();
        assert_eq!(verdict.failures, 1);
        assert!(verdict.text.contains("NO RESULTS"));
    }

    #[test]
    fn analysis_merges_one_report_per_agent_and_reads_case_details() {
        let dir = std::env::temp_dir().join(format!("xtask-autobahn-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("t_6_4_1.json"),
            r#"{"description": "Send invalid UTF-8", "result": "Did not fail fast",
                "expected": {"OK": [["timeout", "A"]]}, "received": [["timeout", "A"],
                ["timeout", "B"]], "remoteCloseCode": 1007, "wasClean": true}"#,
        )
        .unwrap();
        let tokio = Report {
            dir: dir.clone(),
            index: r#"{"aiowebsocket-tokio": {
                "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK",
                          "reportfile": "t_6_4_1.json"},
                "1.1.1": {"behavior": "OK", "behaviorClose": "OK"}}}"#
                .to_owned(),
        };
        let async_std = Report {
            dir: dir.clone(),
            index: r#"{"aiowebsocket-async-std": {
                "1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
                "6.4.1": {"behavior": "OK", "behaviorClose": "OK"}}}"#
                .to_owned(),
        };
        let verdict = analyse(&[tokio, async_std], &agents(), true).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(verdict.failures, 1, "{}", verdict.text);
        assert!(
            verdict.text.contains("result: Did not fail fast"),
            "{}",
            verdict.text
        );
        assert!(
            verdict
                .text
                .contains("received: [[timeout, A], [timeout, B]]"),
            "{}",
            verdict.text
        );
        assert!(
            verdict.text.contains("remoteCloseCode=1007"),
            "{}",
            verdict.text
        );
        assert!(!verdict.text.contains("MISSING"), "{}", verdict.text);
    }

    #[test]
    fn only_compression_groups_may_be_unimplemented() {
        let case = |id: &str, b: &str, c: &str| CaseResult {
            id: id.to_owned(),
            behavior: b.to_owned(),
            behavior_close: c.to_owned(),
            report_file: None,
        };
        let u = UNIMPLEMENTED;
        assert_eq!(judge(&case("13.7.18", u, u), true), Judgement::Exempt);
        assert_eq!(judge(&case("13.7.18", u, u), false), Judgement::Fail);
        assert_eq!(judge(&case("5.1", u, u), true), Judgement::Fail);
        assert_eq!(
            judge(&case("12.1.1", "OK", "FAILED"), true),
            Judgement::Fail
        );
        assert_eq!(
            judge(&case("7.1.6", "INFORMATIONAL", "OK"), false),
            Judgement::Pass
        );
        assert_eq!(judge(&case("1.1.1", "FAILED", "OK"), true), Judgement::Fail);
    }

    #[test]
    fn case_ids_sort_numerically() {
        let mut ids = vec!["10.1.1", "9.1.1", "1.1.10", "1.1.2", "12.1.1"];
        ids.sort_by_key(|id| case_key(id));
        assert_eq!(ids, ["1.1.2", "1.1.10", "9.1.1", "10.1.1", "12.1.1"]);
    }

    #[test]
    fn options_parse_and_reject() {
        let args = |s: &[&str]| s.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let o = Options::parse(&args(&[
            "--cases",
            "1.*, 2.*",
            "--runtime=async-std",
            "--skip-install",
        ]))
        .unwrap();
        assert_eq!(o.cases, ["1.*", "2.*"]);
        assert_eq!(o.runtimes, [Runtime::AsyncStd]);
        assert!(o.skip_install);
        assert_eq!(
            o.allow_unimplemented_compression,
            ALLOW_UNIMPLEMENTED_COMPRESSION
        );
        let o =
            Options::parse(&args(&["--deny-unimplemented-compression", "--timeout=5"])).unwrap();
        assert_eq!(o.timeout, Duration::from_secs(300));
        assert!(!o.allow_unimplemented_compression);
        assert_eq!(o.runtimes, Runtime::ALL);
        assert!(Options::parse(&args(&["--runtime", "both"])).is_err());
        assert!(Options::parse(&args(&["--cases"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).is_err());
        assert!(Options::parse(&args(&["--timeout", "soon"])).is_err());
    }

    #[test]
    fn spec_is_valid_json_with_escaped_paths() {
        let o = Options::parse(&["--exclude".to_owned(), "9.*".to_owned()]).unwrap();
        let spec = spec_json(9001, Path::new("/tmp/a \"b\"/reports"), &o);
        let v: Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(
            v.get("url").and_then(Value::as_str),
            Some("ws://127.0.0.1:9001")
        );
        assert_eq!(
            v.get("outdir").and_then(Value::as_str),
            Some("/tmp/a \"b\"/reports")
        );
        assert_eq!(
            v.get("exclude-cases").map(compact).as_deref(),
            Some("[9.*]")
        );
    }
}
