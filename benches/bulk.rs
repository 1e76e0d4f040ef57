//! Bulk throughput benchmark (project issue 14): one connection streams 1 GiB one way, in
//! 64 KiB and in 1 MiB messages, up (the client sends) and down (the client receives), for
//! our client, the fastest Rust WebSocket clients and plain TCP moving the same bytes.
//!
//! Run it with `cargo xtask bench bulk [--quick]`, or directly:
//! `cargo bench -p aiowebsocket-benches --bench bulk -- [--quick] [--clients ..] [--total ..]`.
//! Without `--bench` (that is, under `cargo test --benches`) it runs a smoke check: every
//! client moves 4 MiB each way in each message size.
//!
//! It reuses the echo bench (`echo/*.rs`): its processes (pinning, the announcing server),
//! its `/proc` readings, its client connections, its server loop and result lines. One
//! binary, several modes (it re-executes itself):
//! - driver (default): starts the servers, runs the clients, prints the tables
//!   (`bulk/driver.rs`);
//! - `server --kind ws|tws|tcp`: the bulk mode of the echo bench's fixed servers
//!   (current-thread tokio, pinned to CPU 0; `bulk/server.rs`);
//! - `client --client NAME ...`: one warm-up and one measured transfer on one connection,
//!   in its own process (pinned to CPU 1) so that its CPU time can be read from `/proc/self`
//!   (`bulk/conns.rs`).

use std::process::ExitCode;

// The echo bench's modules (`echo/reused.rs`), of which this bench uses a part.
#[allow(dead_code)]
#[path = "echo/reused.rs"]
mod reused;
use reused::{clients, harness, ours, process, procfs, serve, server};

#[path = "bulk/server.rs"]
mod bulk_server;
#[path = "bulk/conns.rs"]
mod conns;
#[path = "bulk/driver.rs"]
mod driver;
#[path = "bulk/proto.rs"]
mod proto;

use crate::clients::{ClientKind, Spec};
use crate::conns::{on_async_std, on_tokio, RunParams};
use crate::harness::Sample;
use crate::process::Flags;
use crate::proto::{Dir, Request};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => server_mode(&args[1..]),
        Some("client") => client_mode(&args[1..]),
        _ => harness::driver_main(
            &args,
            driver::usage(),
            driver::Options::parse,
            driver::Options::smoke,
            driver::run,
        ),
    };
    harness::exit_code(result, "bulk bench")
}

fn server_mode(args: &[String]) -> Result<(), String> {
    let flags = Flags(args);
    let max_secs = flags.num("--max-secs").unwrap_or(3600);
    bulk_server::run(flags.server_kind()?, max_secs)
}

fn client_mode(args: &[String]) -> Result<(), String> {
    let flags = Flags(args);
    let name = flags.required("--client")?;
    let kind = ClientKind::parse(name).ok_or_else(|| format!("unknown client {name}"))?;
    let dir = flags.required("--dir")?;
    let dir = Dir::parse(dir).ok_or_else(|| format!("--dir {dir:?}: up or down"))?;
    let size = flags.num("--size")? as usize;
    let req = Request {
        dir,
        total: flags.num("--total")?,
        size,
    };
    if size == 0 || !req.total.is_multiple_of(size as u64) {
        return Err("--total must be a multiple of --size".into());
    }
    let spec = Spec {
        addr: flags.addr()?,
        payload: clients::payload(size, false, false),
        text: false,
        deflate: false,
    };
    let params = RunParams {
        req,
        warmup: flags.num("--warmup")?,
        server_pid: flags.value("--server-pid").and_then(|p| p.parse().ok()),
    };
    let sample = transfer(kind, spec, params)?;
    println!("{}", sample.to_line());
    // Leave at once: no orderly close to wait for.
    std::process::exit(0)
}

fn transfer(kind: ClientKind, spec: Spec, p: RunParams) -> Result<Sample, String> {
    match kind {
        ClientKind::OursTokio => on_tokio::<ours::OursTokioConn>(spec, p),
        ClientKind::OursAsyncStd => on_async_std::<ours::OursAsyncStdConn>(spec, p),
        ClientKind::Tungstenite => on_tokio::<clients::TungsteniteConn>(spec, p),
        ClientKind::Fastws => on_tokio::<clients::FastwsConn>(spec, p),
        ClientKind::TokioWs => on_tokio::<clients::TokioWsConn>(spec, p),
        ClientKind::Sockudo => on_tokio::<clients::SockudoConn>(spec, p),
        ClientKind::Yawc => on_tokio::<clients::YawcConn>(spec, p),
        ClientKind::Tcp => on_tokio::<clients::TcpConn>(spec, p),
        ClientKind::TcpAsyncStd => on_async_std::<clients::TcpAsyncStdConn>(spec, p),
        ClientKind::OursAsyncStdSpawn | ClientKind::PythonWebsockets => {
            Err(format!("{} has no bulk transfer", kind.name()))
        }
    }
}
