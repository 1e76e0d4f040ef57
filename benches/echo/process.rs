//! Child processes of the benchmark drivers (`echo`, `h2`, `bulk`, `scale`): pinned to a CPU
//! with `taskset`, a server that announces itself on its first stdout line (and may answer
//! queries on stdin with a line each), stopped when dropped, a client run to completion, and
//! the `--name value` flags of the child modes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `taskset -c <cpu>` when pinning, run through `sh` so that the fd limit can be raised to
/// the hard limit first (the memory probes hold thousands of sockets).
pub(crate) fn pinned(pin: bool, cpu: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\"",
        "sh",
    ]);
    if pin {
        cmd.args(["taskset", "-c", cpu]);
    }
    cmd
}

/// Whether `taskset` works and there are two cores to split.
pub(crate) fn can_pin() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2
        && Command::new("taskset")
            .args(["-c", "1", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// A server process on CPU 0: stdin closed (its signal to exit) and, after 2 s, killed
/// when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stdout lines after the announcement.
    lines: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `exe args..` and returns it with its first stdout line (its announcement),
    /// waiting at most 20 s for it. `what` names it in errors.
    pub(crate) fn start(
        exe: &Path,
        args: &[&str],
        pin: bool,
        what: &str,
    ) -> Result<(ServerProcess, String), String> {
        let mut cmd = pinned(pin, "0");
        cmd.arg(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("server stdout not piped")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    Ok(n) if n > 0 && tx.send(line).is_ok() => {}
                    _ => return,
                }
            }
        });
        let server = ServerProcess {
            child,
            stdin,
            lines: rx,
        };
        let line = server
            .lines
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| format!("{what} did not announce its address"))?;
        Ok((server, line))
    }

    /// Writes `query` as a line to the server's stdin and returns the next line it prints,
    /// waiting at most 5 s.
    pub(crate) fn query(&self, query: &str) -> Result<String, String> {
        let mut stdin = self.stdin.as_ref().ok_or("the server's stdin is closed")?;
        stdin
            .write_all(format!("{query}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("cannot write {query:?} to the server: {e}"))?;
        self.lines
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| format!("the server did not answer {query:?}"))
    }

    /// Its process id (the echo bench samples the server's CPU time by it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one client process pinned to CPU 1 (under `perf record` into `perf_data` if given)
/// to completion, or kills it at `timeout`; returns its stdout, or its stderr in the error.
pub(crate) fn run_client(
    exe: &Path,
    pin: bool,
    perf_data: Option<&Path>,
    args: &[String],
    timeout: Duration,
) -> Result<String, String> {
    let mut cmd = pinned(pin, "1");
    if let Some(data) = perf_data {
        cmd.args([
            "perf",
            "record",
            "-q",
            "-F",
            "10000",
            "-e",
            "cpu-clock",
            "-o",
        ])
        .arg(data)
        .arg("--");
    }
    cmd.arg(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start client: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("client timed out after {timeout:?}: {args:?}"));
            }
            Err(e) => return Err(format!("waiting for the client: {e}")),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(format!("client {args:?} failed ({status}): {}", err.trim()));
    }
    Ok(out)
}

/// `--name value` pairs of the internal modes.
pub(crate) struct Flags<'a>(pub(crate) &'a [String]);

impl Flags<'_> {
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        let pos = self.0.iter().position(|a| a == name)?;
        self.0.get(pos + 1).map(String::as_str)
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name).ok_or_else(|| format!("missing {name}"))
    }

    pub(crate) fn num(&self, name: &str) -> Result<u64, String> {
        let v = self.required(name)?;
        v.parse().map_err(|_| format!("{name}: not a number: {v}"))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// `--addr`, the server's address.
    pub(crate) fn addr(&self) -> Result<SocketAddr, String> {
        self.required("--addr")?
            .parse()
            .map_err(|e| format!("--addr: {e}"))
    }
}
