//! Child processes of the benchmark drivers (`echo`, `h2`): pinned to a CPU with
//! `taskset`, a server that announces itself on its first stdout line (and may answer
//! queries on stdin with a line each), stopped when dropped.

use std::io::{BufRead, BufReader, Write};
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
    #[allow(dead_code)] // the h2 bench does not
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
    #[allow(dead_code)] // the h2 bench does not
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
