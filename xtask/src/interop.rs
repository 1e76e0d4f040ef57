//! `cargo xtask interop`: permessage-deflate against real peers (project issue #6).
//!
//! Steps:
//! 1. Install the peers under `target/interop/` unless they are already there with the
//!    pinned versions: Python `websockets` (pinned in `tests/interop/requirements.txt`) into
//!    a venv made with the machine's `python3`, and Node `ws` (pinned in
//!    `tests/interop/package.json` and `package-lock.json`) with `npm ci` into
//!    `target/interop/node`.
//! 2. Build the `interop_client` of `tests/harness/` (release).
//! 3. For every peer, mode and transport: start the peer's server
//!    (`tests/interop/python_server.py`, `node_server.js`) on 127.0.0.1 with a free port (the
//!    server prints it), plain (`ws://`) or with a certificate from a private CA made for
//!    the run (`wss://`, `target/interop/tls/`), run the client against it once per runtime
//!    (tokio, smol, async-std; over wss: tokio and smol with rustls, async-std and tokio
//!    with native-tls, trusting that CA), then stop the server. A server is killed on every
//!    exit path, and also exits by itself when its stdin closes.
//! 4. Print a table (peer x runtime x mode: negotiated extension, messages, compressed
//!    messages, payload vs bytes on the wire, time, result) and fail if any run failed.
//!
//! WebSockets over HTTP/2 (RFC 8441) run against Hypercorn (pinned in the same
//! `requirements.txt`, served by `tests/interop/hypercorn_server.py`): over `wss://` (h2 by
//! ALPN, `--http2 require`, the [`WSS_CLIENTS`]) and `ws://` (h2c with prior knowledge,
//! `--http2 require`, every runtime), in the modes [`H2_MODES`], each run [`H2_STREAMS`]
//! WebSockets at once over one connection; plus one `--http2 prefer` run over `wss://`
//! ([`PREFER_CLIENT`], mode `default`), which must end on HTTP/2 too. The client is built
//! with the facade's `http2` feature (`tests/harness/Cargo.toml`).
//!
//! The modes (`default`, `no-context-takeover`, `small-window`, `client-offer`) are
//! described in `tests/harness/src/bin/interop_client.rs`; the servers configure the same
//! names.
//!
//! Every wait is bounded: installs [`INSTALL_TIMEOUT`], server start
//! [`SERVER_START_TIMEOUT`], each client run [`CLIENT_TIMEOUT`] (and each client step 30 s
//! inside the client).
//!
//! Options:
//! - `--peer python|node|hypercorn|all` (default `all`)
//! - `--h2-only` only the HTTP/2 runs (the same as `--peer hypercorn`)
//! - `--runtime tokio,smol,async-std|all` (default `all`)
//! - `--mode default,small-window,...|all` (default `all`)
//! - `--transport ws|wss|all` (default `all`)
//! - `--skip-install` use the peers already in `target/interop`, never install
//! - `--verbose` print every client's full output
//!
//! Environment: `AIOWS_PYTHON3` (default `python3`), `AIOWS_NODE` (default `node`),
//! `AIOWS_NPM` (default `npm`).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{
    self, create_log, env_program, quiet_success, tail, tail_str, wait_timeout, Flags, KillOnDrop,
    Runtime,
};
use crate::workspace_root;

/// How long one install command (venv, pip, npm) may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a peer server may take to print its port.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one client run may take (it takes well under a second when all is well).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);
/// Every mode the client and both servers know.
const MODES: &[&str] = &[
    "default",
    "no-context-takeover",
    "small-window",
    "client-offer",
    "no-compression",
];
/// The runtime and TLS library pairs that run against every wss:// server (those whose
/// runtime was asked for): rustls on tokio and smol, native-tls on async-std and tokio.
const WSS_CLIENTS: &[(Runtime, &str)] = &[
    (Runtime::Tokio, "rustls"),
    (Runtime::Smol, "rustls"),
    (Runtime::AsyncStd, "native-tls"),
    (Runtime::Tokio, "native-tls"),
];
/// The modes Hypercorn knows: its permessage-deflate has no settings, so compression on
/// (its defaults) or off (it ignores the offer).
const H2_MODES: &[&str] = &["default", "no-compression"];
/// WebSockets opened at once over one HTTP/2 connection in every Hypercorn run.
const H2_STREAMS: u16 = 8;
/// The one `--http2 prefer` run over `wss://` (mode `default`): it must pick HTTP/2 with
/// Hypercorn.
const PREFER_CLIENT: (Runtime, &str) = (Runtime::Tokio, "rustls");
/// The client binary (`tests/harness/src/bin/`) and its package.
const CLIENT_BIN: &str = "interop_client";
const HARNESS_PACKAGE: &str = "aiowebsocket-harness";
/// The line a server prints once it listens: `LISTENING <port> <name> <version>`.
const LISTENING: &str = "LISTENING ";
/// The line the client prints last when all checks passed.
const SUMMARY: &str = "INTEROP-SUMMARY ";

const USAGE: &str = "usage: cargo xtask interop [--peer python|node|hypercorn|all] [--h2-only] \
[--runtime tokio,smol,async-std|all] [--mode default,no-context-takeover,small-window,client-offer,no-compression|all] \
[--transport ws|wss|all] [--skip-install] [--verbose]";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Python,
    Node,
    /// Hypercorn: the HTTP/2 runs.
    Hypercorn,
}

impl Peer {
    /// The package that serves, as shown in the table.
    fn name(self) -> &'static str {
        match self {
            Peer::Python => "websockets",
            Peer::Node => "ws",
            Peer::Hypercorn => "hypercorn",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Peer::Python => "python",
            Peer::Node => "node",
            Peer::Hypercorn => "hypercorn",
        }
    }

    /// The modes this peer runs (of those asked for).
    fn modes(self, asked: &[&'static str]) -> Vec<&'static str> {
        match self {
            Peer::Hypercorn => asked
                .iter()
                .copied()
                .filter(|m| H2_MODES.contains(m))
                .collect(),
            _ => asked.to_vec(),
        }
    }

    /// Whether the peer runs from the interop venv.
    fn is_python(self) -> bool {
        matches!(self, Peer::Python | Peer::Hypercorn)
    }
}

/// Every peer, in the order they run.
const ALL_PEERS: [Peer; 3] = [Peer::Python, Peer::Node, Peer::Hypercorn];

#[derive(Debug)]
struct Options {
    peers: Vec<Peer>,
    runtimes: Vec<Runtime>,
    modes: Vec<&'static str>,
    /// `false`: ws://, `true`: wss://.
    transports: Vec<bool>,
    skip_install: bool,
    verbose: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            peers: ALL_PEERS.to_vec(),
            runtimes: Runtime::ALL.to_vec(),
            modes: MODES.to_vec(),
            transports: vec![false, true],
            skip_install: false,
            verbose: false,
        };
        let mut flags = Flags::new(args, USAGE);
        while let Some(name) = flags.next_flag() {
            match name {
                "--peer" => {
                    options.peers = match flags.value(name)?.as_str() {
                        "python" | "websockets" => vec![Peer::Python],
                        "node" | "ws" => vec![Peer::Node],
                        "hypercorn" => vec![Peer::Hypercorn],
                        "all" => ALL_PEERS.to_vec(),
                        other => {
                            return Err(format!(
                                "unknown peer {other:?}: use python, node, hypercorn or all"
                            ))
                        }
                    }
                }
                "--runtime" => options.runtimes = Runtime::parse_list(&flags.value(name)?)?,
                "--mode" => options.modes = parse_modes(&flags.value(name)?)?,
                "--transport" => {
                    options.transports = match flags.value(name)?.as_str() {
                        "ws" => vec![false],
                        "wss" => vec![true],
                        "all" => vec![false, true],
                        other => {
                            return Err(format!("unknown transport {other:?}: use ws, wss or all"))
                        }
                    }
                }
                "--h2-only" => options.peers = vec![Peer::Hypercorn],
                "--skip-install" => options.skip_install = true,
                "--verbose" | "-v" => options.verbose = true,
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown option {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// `all`, or a comma-separated list of [`MODES`].
fn parse_modes(list: &str) -> Result<Vec<&'static str>, String> {
    if list == "all" {
        return Ok(MODES.to_vec());
    }
    let modes = list
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            MODES
                .iter()
                .copied()
                .find(|known| *known == m)
                .ok_or_else(|| format!("unknown mode {m:?}: use {} or all", MODES.join(", ")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if modes.is_empty() {
        return Err(format!("--mode needs at least one mode\n{USAGE}"));
    }
    Ok(modes)
}

/// Where everything lives: the sources in `tests/interop/`, the installs and logs in
/// `target/interop/`.
#[derive(Debug)]
struct Paths {
    root: PathBuf,
    source: PathBuf,
    dir: PathBuf,
    venv: PathBuf,
    node: PathBuf,
    logs: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let root = workspace_root();
        let dir = root.join("target").join("interop");
        Paths {
            source: root.join("tests").join("interop"),
            venv: dir.join("venv"),
            node: dir.join("node"),
            logs: dir.join("logs"),
            dir,
            root,
        }
    }

    fn create_dirs(&self) -> Result<(), String> {
        for dir in [&self.dir, &self.logs] {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(())
    }

    fn venv_python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// The built client: `$CARGO_TARGET_DIR` or `target/`, release profile.
    fn client_exe(&self) -> PathBuf {
        self.release_exe(CLIENT_BIN)
    }

    /// A release binary of the workspace: `$CARGO_TARGET_DIR` or `target/`.
    fn release_exe(&self, name: &str) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    self.root.join(p)
                }
            })
            .unwrap_or_else(|| self.root.join("target"));
        target
            .join("release")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let paths = Paths::new();
    let started = Instant::now();
    paths.create_dirs()?;

    let step = Instant::now();
    if options.peers.iter().any(|p| p.is_python()) {
        install_python(&paths, options.skip_install)?;
    }
    if options.peers.contains(&Peer::Node) {
        install_node(&paths, options.skip_install)?;
    }
    println!("interop: peers ready ({:.1?})", step.elapsed());

    let step = Instant::now();
    build_client(&paths, options.peers.contains(&Peer::Hypercorn))?;
    println!("interop: client built ({:.1?})", step.elapsed());

    let tls = if options.transports.contains(&true) {
        Some(make_tls_files(&paths)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut versions = Vec::new();
    for &peer in &options.peers {
        for mode in peer.modes(&options.modes) {
            for &secure in &options.transports {
                let clients = clients(peer, &options.runtimes, secure, mode);
                let server_tls = if secure { tls.as_ref() } else { None };
                let server = match start_server(&paths, peer, mode, server_tls) {
                    Ok(server) => server,
                    Err(e) => {
                        // Count every planned run of this server as failed, and go on.
                        for &client in &clients {
                            rows.push(Row::failed(peer, client, mode, e.clone()));
                        }
                        continue;
                    }
                };
                if !versions.contains(&server.version) {
                    versions.push(server.version.clone());
                }
                println!(
                    "interop: {} server ({mode}) on {}://127.0.0.1:{}",
                    peer.name(),
                    if secure { "wss" } else { "ws" },
                    server.port
                );
                for &client in &clients {
                    let row = run_client(
                        &paths,
                        &server,
                        peer,
                        client,
                        mode,
                        tls.as_ref(),
                        options.verbose,
                    );
                    println!(
                        "interop:   {} {mode}: {} ({:.1?}){}",
                        client.label(),
                        if row.error.is_none() { "ok" } else { "FAILED" },
                        row.elapsed,
                        row.summary.as_ref().map_or(String::new(), Summary::h2_note)
                    );
                    rows.push(row);
                }
                if peer == Peer::Hypercorn && mode == "default" {
                    let row = run_aiows(&paths, &server, secure, tls.as_ref());
                    println!(
                        "interop:   aiows --http2 require {mode}: {} ({:.1?})",
                        if row.error.is_none() { "ok" } else { "FAILED" },
                        row.elapsed
                    );
                    rows.push(row);
                }
                drop(server);
            }
        }
    }

    println!();
    println!("interop: peers {}", versions.join(", "));
    print!("{}", table(&rows));
    let failed: Vec<&Row> = rows.iter().filter(|r| r.error.is_some()).collect();
    for row in &failed {
        println!();
        println!(
            "--- FAILED: {} x {} x {}",
            row.peer.name(),
            row.client.label(),
            row.mode
        );
        println!("{}", row.error.as_deref().unwrap_or(""));
    }
    println!("interop: total {:.1?}", started.elapsed());
    if failed.is_empty() {
        println!("interop: {} runs passed, 0 failed", rows.len());
        Ok(())
    } else {
        Err(format!(
            "{} of {} runs failed (details above; logs in {})",
            failed.len(),
            rows.len(),
            paths.logs.display()
        ))
    }
}

/// One client configuration: a runtime, for `wss://` the TLS library, and the HTTP/2
/// choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Client {
    runtime: Runtime,
    /// `None` for `ws://`; the `--tls` value for `wss://`.
    tls: Option<&'static str>,
    /// `None`: HTTP/1.1; else the `--http2` value (`require`, `prefer`), with
    /// [`H2_STREAMS`] WebSockets.
    http2: Option<&'static str>,
}

impl Client {
    /// As shown in the table: `tokio`, `smol+rustls`, `tokio+rustls/h2`, `smol/h2c`,
    /// `tokio+rustls/h2-prefer`, ...
    fn label(self) -> String {
        let mut label = self.runtime.flag().to_owned();
        if let Some(tls) = self.tls {
            label = format!("{label}+{tls}");
        }
        match (self.http2, self.tls) {
            (None, _) => label,
            (Some("require"), Some(_)) => format!("{label}/h2"),
            (Some("require"), None) => format!("{label}/h2c"),
            (Some(other), Some(_)) => format!("{label}/h2-{other}"),
            (Some(other), None) => format!("{label}/h2c-{other}"),
        }
    }

    /// The label as part of a file name.
    fn file_label(self) -> String {
        self.label().replace('/', "-")
    }
}

/// The clients run against one server of `peer` in `mode`: every runtime asked for over
/// `ws://`, the [`WSS_CLIENTS`] of those runtimes over `wss://`; for Hypercorn with
/// `--http2 require`, and over `wss://` in mode `default` also the [`PREFER_CLIENT`] with
/// `--http2 prefer`.
fn clients(peer: Peer, runtimes: &[Runtime], secure: bool, mode: &str) -> Vec<Client> {
    let http2 = (peer == Peer::Hypercorn).then_some("require");
    let mut clients: Vec<Client> = if secure {
        WSS_CLIENTS
            .iter()
            .filter(|(runtime, _)| runtimes.contains(runtime))
            .map(|&(runtime, tls)| Client {
                runtime,
                tls: Some(tls),
                http2,
            })
            .collect()
    } else {
        runtimes
            .iter()
            .map(|&runtime| Client {
                runtime,
                tls: None,
                http2,
            })
            .collect()
    };
    let (runtime, tls) = PREFER_CLIENT;
    if peer == Peer::Hypercorn && secure && mode == "default" && runtimes.contains(&runtime) {
        clients.push(Client {
            runtime,
            tls: Some(tls),
            http2: Some("prefer"),
        });
    }
    clients
}

/// The private CA and the servers' certificate (for `localhost` and `127.0.0.1`, signed by
/// that CA), made anew for each run: `target/interop/tls/{ca,cert,key}.pem`.
#[derive(Debug)]
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_tls_files(paths: &Paths) -> Result<TlsFiles, String> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = paths.dir.join("tls");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let fail = |e: rcgen::Error| format!("cannot make the interop certificates: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "aiowebsocket interop CA");
    let ca_key = KeyPair::generate().map_err(fail)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(fail)?;
    let leaf_key = KeyPair::generate().map_err(fail)?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(fail)?;
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    for (path, text) in [
        (&files.ca, ca_cert.pem()),
        (&files.cert, leaf.pem()),
        (&files.key, leaf_key.serialize_pem()),
    ] {
        fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------
// Install

/// The interop venv's Python, with `websockets` installed (or already there): the echo
/// benchmark's Python client runs on it.
pub(crate) fn python_with_websockets() -> Result<PathBuf, String> {
    let paths = Paths::new();
    paths.create_dirs()?;
    install_python(&paths, false)?;
    Ok(paths.venv_python())
}

fn install_python(paths: &Paths, skip_install: bool) -> Result<(), String> {
    let requirements = paths.source.join("requirements.txt");
    let wanted = read(&requirements)?;
    let stamp = paths.venv.join("aiows-requirements.txt");
    if python_peer_works(paths) && fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(());
    }
    if skip_install {
        return Err(format!(
            "--skip-install given but {} has no working install of {}; drop --skip-install",
            paths.venv.display(),
            requirements.display()
        ));
    }
    println!(
        "interop: installing Python websockets and Hypercorn into {} ({})",
        paths.venv.display(),
        requirements.display()
    );
    if paths.venv.exists() {
        fs::remove_dir_all(&paths.venv)
            .map_err(|e| format!("cannot remove stale {}: {e}", paths.venv.display()))?;
    }
    let log = paths.logs.join("install-python.log");
    let python = env_program("AIOWS_PYTHON3", "python3");
    run_logged(
        Command::new(&python).args(["-m", "venv"]).arg(&paths.venv),
        &log,
        "creating the Python venv (needs python3 with the venv module; set AIOWS_PYTHON3 to \
         another interpreter)",
    )?;
    run_logged(
        Command::new(paths.venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        &log,
        "pip install of the Python peer (is PyPI reachable?)",
    )?;
    if !python_peer_works(paths) {
        return Err(format!(
            "websockets and hypercorn were installed but cannot be imported; see {}",
            log.display()
        ));
    }
    fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

fn python_peer_works(paths: &Paths) -> bool {
    paths.venv_python().is_file()
        && quiet_success(
            Command::new(paths.venv_python())
                .args(["-c", "import websockets.asyncio.server, hypercorn.asyncio"]),
        )
}

fn install_node(paths: &Paths, skip_install: bool) -> Result<(), String> {
    let node = env_program("AIOWS_NODE", "node");
    if !quiet_success(Command::new(&node).arg("--version")) {
        return Err(format!(
            "{} does not run: install Node.js (Debian: apt-get install nodejs npm) or set \
             AIOWS_NODE",
            node.to_string_lossy()
        ));
    }
    let manifest = read(&paths.source.join("package.json"))?;
    let lock = read(&paths.source.join("package-lock.json"))?;
    let installed = paths
        .node
        .join("node_modules")
        .join("ws")
        .join("package.json");
    let same = |name: &str, want: &str| {
        fs::read_to_string(paths.node.join(name)).ok().as_deref() == Some(want)
    };
    if installed.is_file() && same("package.json", &manifest) && same("package-lock.json", &lock) {
        return Ok(());
    }
    if skip_install {
        return Err(format!(
            "--skip-install given but {} does not hold the packages of {}; drop --skip-install",
            paths.node.display(),
            paths.source.join("package-lock.json").display()
        ));
    }
    println!(
        "interop: installing Node ws into {} (npm ci from {})",
        paths.node.display(),
        paths.source.join("package-lock.json").display()
    );
    if paths.node.exists() {
        fs::remove_dir_all(&paths.node)
            .map_err(|e| format!("cannot remove stale {}: {e}", paths.node.display()))?;
    }
    fs::create_dir_all(&paths.node)
        .map_err(|e| format!("cannot create {}: {e}", paths.node.display()))?;
    for (name, text) in [("package.json", &manifest), ("package-lock.json", &lock)] {
        let to = paths.node.join(name);
        fs::write(&to, text).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    let log = paths.logs.join("install-node.log");
    run_logged(
        Command::new(env_program("AIOWS_NPM", "npm"))
            .current_dir(&paths.node)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]),
        &log,
        "npm ci of the Node peer (is npm installed and the npm registry reachable?)",
    )?;
    if installed.is_file() {
        Ok(())
    } else {
        Err(format!(
            "npm ci succeeded but {} is missing; see {}",
            installed.display(),
            log.display()
        ))
    }
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs an install step with [`util::run_logged`], within [`INSTALL_TIMEOUT`].
fn run_logged(command: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    util::run_logged(command, log, what, "", Some(INSTALL_TIMEOUT))
}

// ---------------------------------------------------------------------------------------
// Build and run

fn build_client(paths: &Paths, with_aiows: bool) -> Result<(), String> {
    let mut cargo = util::cargo();
    cargo
        .current_dir(&paths.root)
        .args(["build", "--release", "--package", HARNESS_PACKAGE])
        .args(["--bin", CLIENT_BIN]);
    if with_aiows {
        // The command-line client, for its run against Hypercorn (`--http2 require`).
        cargo.args(["--package", "aiows", "--bin", "aiows"]);
    }
    let status = cargo
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the {CLIENT_BIN} client failed ({status})"
        ));
    }
    let exe = paths.client_exe();
    if exe.is_file() {
        Ok(())
    } else {
        Err(format!(
            "the {CLIENT_BIN} client was built but {} does not exist (unusual target \
             directory set up?)",
            exe.display()
        ))
    }
}

/// A running peer server; stopped (stdin closed, then killed by its id) when dropped.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    /// `websockets 17.4`, `ws 8.23.0`: what the server reported.
    version: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing stdin asks the server to exit; kill it anyway so nothing lingers.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(
    paths: &Paths,
    peer: Peer,
    mode: &str,
    tls: Option<&TlsFiles>,
) -> Result<Server, String> {
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let log = paths
        .logs
        .join(format!("{}-{mode}-{scheme}-server.log", peer.flag()));
    let (log_file, mut out_log) = create_log(&log)?;
    let mut command = match peer {
        Peer::Python => {
            let mut c = Command::new(paths.venv_python());
            c.arg(paths.source.join("python_server.py"));
            c
        }
        Peer::Hypercorn => {
            let mut c = Command::new(paths.venv_python());
            c.arg(paths.source.join("hypercorn_server.py"));
            c
        }
        Peer::Node => {
            let mut c = Command::new(env_program("AIOWS_NODE", "node"));
            c.arg(paths.source.join("node_server.js"))
                .env("NODE_PATH", paths.node.join("node_modules"));
            c
        }
    };
    command.args(["--mode", mode]);
    if let Some(tls) = tls {
        command
            .arg("--tls-cert")
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key);
    }
    let mut child = command
        .current_dir(&paths.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the {} server {:?}: {e}",
                peer.name(),
                command.get_program()
            )
        })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let mut server = Server {
        child,
        stdin,
        port: 0,
        version: String::new(),
        log,
    };

    // Read stdout on a thread: the first LISTENING line goes to us, everything to the log.
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = stdout {
        thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(out_log, "{line}");
                if line.starts_with(LISTENING) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });
    }
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    let line = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => break line,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout closed without the line: the server is exiting; let it finish
                // writing its error.
                let _ = wait_timeout(&mut server.child, Duration::from_secs(2));
                return Err(format!(
                    "the {} server ({mode}) exited before listening; last lines of {}:\n{}",
                    peer.name(),
                    server.log.display(),
                    tail(&server.log, 20)
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the {} server ({mode}) did not print its port within \
                 {SERVER_START_TIMEOUT:?}; last lines of {}:\n{}",
                peer.name(),
                server.log.display(),
                tail(&server.log, 20)
            ));
        }
    };
    // `LISTENING <port> <name> <version>`
    let mut words = line[LISTENING.len()..].split_whitespace();
    server.port = words
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("the {} server printed {line:?}, not a port", peer.name()))?;
    server.version = words.collect::<Vec<_>>().join(" ");
    Ok(server)
}

/// One client run: a row of the table.
#[derive(Debug)]
struct Row {
    peer: Peer,
    client: Client,
    mode: &'static str,
    summary: Option<Summary>,
    elapsed: Duration,
    error: Option<String>,
}

impl Row {
    fn failed(peer: Peer, client: Client, mode: &'static str, error: String) -> Row {
        Row {
            peer,
            client,
            mode,
            summary: None,
            elapsed: Duration::ZERO,
            error: Some(error),
        }
    }
}

/// Text lines `aiows` sends to Hypercorn and must print back, in order.
const AIOWS_LINES: [&str; 2] = ["hello over HTTP/2", "\u{e9}t\u{e9} \u{2603}"];

/// `aiows --http2 require` against a Hypercorn server: the lines of [`AIOWS_LINES`] on
/// stdin come back on stdout, and it exits 0 after the close. A row of the table (client
/// `aiows`), its output in the logs.
fn run_aiows(paths: &Paths, server: &Server, secure: bool, tls: Option<&TlsFiles>) -> Row {
    let client = Client {
        runtime: Runtime::Tokio,
        tls: secure.then_some("rustls"),
        http2: Some("require"),
    };
    let started = Instant::now();
    let fail = |e: String| {
        let mut row = Row::failed(Peer::Hypercorn, client, "aiows", e);
        row.elapsed = started.elapsed();
        row
    };
    let exe = paths.release_exe("aiows");
    let url = format!(
        "{}://127.0.0.1:{}/",
        if secure { "wss" } else { "ws" },
        server.port
    );
    let mut command = Command::new(&exe);
    command.args(["--http2", "require", &url]);
    if let (true, Some(files)) = (secure, tls) {
        command.arg("--ca-file").arg(&files.ca);
    }
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return fail(format!("cannot start {}: {e}", exe.display())),
    };
    // Each line is sent, and stdin stays open until every echo is printed: Hypercorn
    // answers a close at once, before its app has echoed what came just ahead of it.
    let mut stdin = child.stdin.take();
    if let Some(stdin) = stdin.as_mut() {
        let input: String = AIOWS_LINES.iter().map(|l| format!("{l}\n")).collect();
        let _ = stdin.write_all(input.as_bytes());
        let _ = stdin.flush();
    }
    let (lines_tx, lines_rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while printed.len() < AIOWS_LINES.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => break,
        }
    }
    drop(stdin);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return fail(format!("aiows failed to run: {e}")),
        Err(_) => return fail("aiows did not finish within 15 s of its stdin's end".to_owned()),
    };
    printed.extend(lines_rx.try_iter());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log = paths.logs.join(format!(
        "hypercorn-aiows-{}.log",
        if secure { "wss" } else { "ws" }
    ));
    let _ = fs::write(
        &log,
        format!("{}\n--- stderr\n{stderr}", printed.join("\n")),
    );
    if !output.status.success() || printed != AIOWS_LINES {
        return fail(format!(
            "aiows exited with {} and printed {printed:?}, not {AIOWS_LINES:?}; stderr:\n{}",
            output.status,
            tail_str(&stderr, 10)
        ));
    }
    Row {
        peer: Peer::Hypercorn,
        client,
        mode: "aiows",
        summary: None,
        elapsed: started.elapsed(),
        error: None,
    }
}

fn run_client(
    paths: &Paths,
    server: &Server,
    peer: Peer,
    client: Client,
    mode: &'static str,
    tls: Option<&TlsFiles>,
    verbose: bool,
) -> Row {
    let log = paths.logs.join(format!(
        "{}-{mode}-{}-client.log",
        peer.flag(),
        client.file_label()
    ));
    let started = Instant::now();
    let result = client_output(paths, server.port, client, mode, tls);
    let elapsed = started.elapsed();
    let (status, output) = match result {
        Ok(done) => done,
        Err(e) => return Row::failed(peer, client, mode, e),
    };
    let _ = fs::write(&log, &output);
    if verbose {
        println!("{output}");
    }
    let summary = output
        .lines()
        .find_map(|l| l.strip_prefix(SUMMARY))
        .map(Summary::parse);
    let error = match (status, &summary) {
        (Some(s), Some(_)) if s.success() => None,
        (Some(s), _) => Some(format!(
            "the client exited with {s}; last lines (all in {}):\n{}",
            log.display(),
            tail_str(&output, 15)
        )),
        (None, _) => Some(format!(
            "the client did not finish within {CLIENT_TIMEOUT:?} and was killed; last lines \
             (all in {}):\n{}",
            log.display(),
            tail_str(&output, 15)
        )),
    };
    Row {
        peer,
        client,
        mode,
        summary,
        elapsed,
        error,
    }
}

/// Runs the client; returns its exit status (`None`: killed at the timeout) and its
/// stdout followed by its stderr.
fn client_output(
    paths: &Paths,
    port: u16,
    client: Client,
    mode: &str,
    tls: Option<&TlsFiles>,
) -> Result<(Option<ExitStatus>, String), String> {
    let exe = paths.client_exe();
    let mut command = Command::new(&exe);
    command
        .args(["--runtime", client.runtime.flag()])
        .args(["--mode", mode]);
    match (client.tls, tls) {
        (Some(library), Some(files)) => {
            command
                .args(["--url", &format!("wss://127.0.0.1:{port}/")])
                .args(["--tls", library])
                .arg("--ca")
                .arg(&files.ca);
        }
        _ => {
            command.args(["--url", &format!("ws://127.0.0.1:{port}/")]);
        }
    }
    if let Some(http2) = client.http2 {
        command
            .args(["--http2", http2])
            .args(["--streams", &H2_STREAMS.to_string()]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let mut child = KillOnDrop(child);
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let out = collect(
        child
            .0
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .0
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_timeout(&mut child.0, CLIENT_TIMEOUT)?;
    // Killing the client (on timeout) closes its pipes, so the readers end.
    drop(child);
    let mut output = out.join().unwrap_or_default();
    output.push_str(&err.join().unwrap_or_default());
    Ok((status, output))
}

// ---------------------------------------------------------------------------------------
// Report

/// The client's `INTEROP-SUMMARY key=value ... ext=<extension>` line.
#[derive(Debug, Default)]
struct Summary {
    fields: Vec<(String, String)>,
    ext: String,
}

impl Summary {
    fn parse(line: &str) -> Summary {
        let (pairs, ext) = line.split_once("ext=").unwrap_or((line, ""));
        Summary {
            fields: pairs
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ext: ext.trim().to_owned(),
        }
    }

    fn num(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    fn get(&self, name: &str) -> Option<u64> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// `out/in`, with `-` for a count the run could not take (no tap over HTTP/2).
    fn pair(&self, out: &str, inn: &str) -> String {
        let show = |name| self.get(name).map_or("-".to_owned(), |n| n.to_string());
        format!("{}/{}", show(out), show(inn))
    }

    /// An HTTP/2 run's facts (` - 8 WebSockets on 1 HTTP/2 connection (client port P),
    /// slowest close 3 ms`), or nothing.
    fn h2_note(&self) -> String {
        match (self.get("http"), self.get("streams")) {
            (Some(http), Some(streams)) => format!(
                " - {streams} WebSockets on {} HTTP/{http} connection (client port {}), \
                 slowest close {} ms",
                self.num("connections"),
                self.num("client_port"),
                self.num("close_max_ms")
            ),
            _ => String::new(),
        }
    }
}

fn human(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.2} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}

/// `payload -> wire (ratio)`, or the payload alone when the wire was not seen (HTTP/2).
fn traffic(payload: u64, wire: Option<u64>) -> String {
    let Some(wire) = wire else {
        return human(payload);
    };
    let ratio = if payload == 0 {
        0.0
    } else {
        wire as f64 * 100.0 / payload as f64
    };
    format!("{} -> {} ({ratio:.0}%)", human(payload), human(wire))
}

fn table(rows: &[Row]) -> String {
    let header = [
        "peer",
        "client",
        "mode",
        "msgs out/in",
        "compressed out/in",
        "sent: payload -> wire",
        "received: payload -> wire",
        "time",
        "result",
        "negotiated Sec-WebSocket-Extensions",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_owned()).collect()];
    for row in rows {
        let mut line = vec![
            row.peer.name().to_owned(),
            row.client.label(),
            row.mode.to_owned(),
        ];
        match &row.summary {
            Some(s) => line.extend([
                s.pair("msgs_out", "msgs_in"),
                s.pair("comp_out", "comp_in"),
                traffic(s.num("payload_out"), s.get("wire_out")),
                traffic(s.num("payload_in"), s.get("wire_in")),
            ]),
            None => line.extend([
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]),
        }
        line.push(format!("{:.2}s", row.elapsed.as_secs_f64()));
        line.push(if row.error.is_none() { "ok" } else { "FAIL" }.to_owned());
        line.push(row.summary.as_ref().map_or("-".to_owned(), |s| {
            match (s.get("streams"), s.get("connections")) {
                (Some(n), Some(c)) => format!("[{n} streams/{c} conn] {}", s.ext),
                _ => s.ext.clone(),
            }
        }));
        cells.push(line);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, line) in cells.iter().enumerate() {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let _ = write!(
                text,
                "{cell:<width$}",
                width = if last { 0 } else { widths[i] }
            );
            if !last {
                text.push_str(" | ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-|-"));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&[])).unwrap();
        assert_eq!(o.peers, ALL_PEERS);
        assert_eq!(o.modes, MODES);
        assert_eq!(o.transports, [false, true]);
        let wss = |rt| clients(Peer::Python, &[rt], true, "default");
        assert_eq!(
            wss(Runtime::Smol),
            [Client {
                runtime: Runtime::Smol,
                tls: Some("rustls"),
                http2: None,
            }]
        );
        let all = |peer, secure, mode| clients(peer, &Runtime::ALL, secure, mode);
        assert_eq!(all(Peer::Node, true, "default").len(), WSS_CLIENTS.len());
        assert_eq!(all(Peer::Node, false, "default").len(), 3);
        // Hypercorn: every WSS client and one `prefer` over wss in mode default.
        let h2 = all(Peer::Hypercorn, true, "default");
        assert_eq!(h2.len(), WSS_CLIENTS.len() + 1);
        assert!(h2[..WSS_CLIENTS.len()]
            .iter()
            .all(|c| c.http2 == Some("require")));
        assert_eq!(h2[WSS_CLIENTS.len()].label(), "tokio+rustls/h2-prefer");
        assert_eq!(h2[0].file_label(), "tokio+rustls-h2");
        assert_eq!(all(Peer::Hypercorn, true, "no-compression").len(), 4);
        assert_eq!(
            all(Peer::Hypercorn, false, "default")[1].label(),
            "smol/h2c"
        );
        assert_eq!(Peer::Hypercorn.modes(MODES), ["default", "no-compression"]);
        assert_eq!(
            Options::parse(&args(&["--h2-only"])).unwrap().peers,
            [Peer::Hypercorn]
        );
        assert_eq!(
            Options::parse(&args(&["--transport", "wss"]))
                .unwrap()
                .transports,
            [true]
        );
        let o = Options::parse(&args(&[
            "--peer",
            "node",
            "--mode=small-window,default",
            "--runtime",
            "async-std",
        ]))
        .unwrap();
        assert_eq!(o.peers, [Peer::Node]);
        assert_eq!(o.modes, ["small-window", "default"]);
        assert_eq!(o.runtimes, [Runtime::AsyncStd]);
        assert!(Options::parse(&args(&["--mode", "bogus"]))
            .unwrap_err()
            .contains("unknown mode \"bogus\""));
        assert!(Options::parse(&args(&["--peer"]))
            .unwrap_err()
            .contains("needs a value"));
    }

    #[test]
    fn parses_the_client_summary() {
        let s = Summary::parse(
            "msgs_out=12 comp_out=7 wire_out=900 ext=permessage-deflate; \
             server_max_window_bits=12; client_max_window_bits=12",
        );
        assert_eq!(s.num("msgs_out"), 12);
        assert_eq!(s.num("comp_out"), 7);
        assert_eq!(s.num("wire_out"), 900);
        assert_eq!(s.num("missing"), 0);
        assert_eq!(
            s.ext,
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        );
    }

    #[test]
    fn formats_traffic() {
        assert_eq!(traffic(2048, Some(512)), "2.0 KiB -> 512 B (25%)");
        assert_eq!(
            traffic(3 << 20, Some(3 << 20)),
            "3.00 MiB -> 3.00 MiB (100%)"
        );
        assert_eq!(traffic(0, Some(10)), "0 B -> 10 B (0%)");
        assert_eq!(traffic(2048, None), "2.0 KiB");
    }

    #[test]
    fn table_columns_line_up() {
        let tokio = Client {
            runtime: Runtime::Tokio,
            tls: None,
            http2: None,
        };
        let smol_rustls = Client {
            runtime: Runtime::Smol,
            tls: Some("rustls"),
            http2: None,
        };
        let mut ok = Row::failed(Peer::Python, tokio, "default", String::new());
        ok.error = None;
        ok.summary = Some(Summary::parse(
            "msgs_out=1 msgs_in=2 ext=permessage-deflate",
        ));
        let failed = Row::failed(Peer::Node, smol_rustls, "small-window", "x".into());
        let text = table(&[ok, failed]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let bar = |l: &str| l.find(" | ").unwrap();
        assert_eq!(bar(lines[0]), bar(lines[2]));
        assert_eq!(bar(lines[0]), bar(lines[3]));
        fn cells(l: &str) -> Vec<&str> {
            l.split(" | ").map(str::trim).collect()
        }
        assert_eq!(cells(lines[2])[8], "ok");
        assert_eq!(cells(lines[2])[9], "permessage-deflate");
        assert_eq!(cells(lines[3])[8], "FAIL");
    }
}
