//! Scale benchmark (project issue #14): N concurrent WebSocket connections (100,000 by
//! default) held by ONE client process on ONE core, ours next to tokio-websockets and
//! tokio-tungstenite. Per client: the time to open all N, RSS per connection, CPU while
//! they idle (keepalive on, at our default interval, for ours), and the time until every
//! connection has received one message the server sends to all of them.
//!
//! Run it with `cargo xtask bench scale [--n N] [--idle-secs S] [--clients ..] [--addrs K]`,
//! or directly: `cargo bench -p aiowebsocket-benches --bench scale -- run [flags]`. Without
//! `--bench` (under `cargo test --benches`) it runs a smoke check: 200 connections per
//! client, 1 s idle, every connection opens and receives the broadcast.
//!
//! One binary, three modes (it re-executes itself, as the echo bench does):
//! - driver (`run`): for each client, a fresh server pinned to CPU 0 and one client process
//!   pinned to CPU 1; prints and writes the table;
//! - `server --addrs K`: a minimal WebSocket server (current-thread tokio) listening on
//!   127.0.0.1..=127.0.0.K, and a control port that triggers the broadcast; it answers
//!   pings and closes and holds each connection in one small task;
//! - `client --client NAME ...`: opens the N connections (bounded concurrency), measures,
//!   prints one `RESULT` line.

use std::process::ExitCode;

// The echo bench's modules (`echo/reused.rs`), of which this bench uses a part.
#[allow(dead_code)]
#[path = "echo/reused.rs"]
mod reused;
use reused::{clients, harness, ours, process, procfs, serve, server};

#[path = "scale/client.rs"]
mod client;
#[path = "scale/driver.rs"]
mod driver;
#[path = "scale/server.rs"]
mod scale_server;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => scale_server::run(&args[1..]),
        Some("client") => client::run(&args[1..]),
        _ => harness::driver_main(
            &args,
            driver::USAGE,
            driver::Options::parse,
            driver::Options::smoke,
            driver::run,
        ),
    };
    harness::exit_code(result, "scale bench")
}

/// Raises this process's open-file limit to `want` (capped by `/proc/sys/fs/nr_open`):
/// the soft limit, and the hard one too when allowed (root); otherwise the soft limit goes
/// up to the hard one. Returns the soft limit in force.
pub(crate) fn raise_fd_limit(want: u64) -> Result<u64, String> {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|e| format!("getrlimit(NOFILE): {e}"))?;
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(hard);
    let target = want.min(nr_open);
    if target <= soft {
        return Ok(soft);
    }
    if Resource::NOFILE.set(target, hard.max(target)).is_ok() {
        return Ok(target);
    }
    // Not allowed to raise the hard limit (no CAP_SYS_RESOURCE): go as far as it.
    let capped = target.min(hard);
    Resource::NOFILE
        .set(capped, hard)
        .map_err(|e| format!("setrlimit(NOFILE, {capped}): {e}"))?;
    Ok(capped)
}
