//! Echo and memory benchmark: our client side by side with the fastest Rust WebSocket clients
//! and a plain TCP ceiling (project issue #7).
//!
//! Run it with `cargo xtask bench echo [--quick]` (or `cargo xtask bench mem`), or directly:
//! `cargo bench -p aiowebsocket-benches --bench echo -- [--quick] [--case ..] [--clients ..]`.
//! Without `--bench` (that is, under `cargo test --benches`) it runs a few-second smoke check
//! that every client completes echoes.
//!
//! One binary, several modes (it re-executes itself):
//! - driver (default): starts the servers, runs the clients, prints the tables;
//! - `server --kind ws|tws|ours|tcp`: the fixed echo servers (current-thread tokio, pinned to
//!   CPU 0; every uncompressed case runs against `ws`, fastwebsockets, and `tws`,
//!   tokio-websockets; `ours`, our server role with permessage-deflate, serves the compressed
//!   cases, and counts what each connection agreed and put on the wire: `STATS` on its
//!   stdin prints the totals);
//! - `client --client NAME ...`: one closed-loop run in its own process (pinned to CPU 1), so
//!   that its CPU time can be read from `/proc/self`;
//! - `mem-client --client NAME ...`: RSS growth for N idle connections.
//!
//! The compressed ("deflate") cases run every client with permessage-deflate: ours, sockudo-ws
//! and yawc at our settings (level 1, 15-bit windows, context takeover both ways), Python
//! `websockets` at its own. Besides the CPU they report the bytes on the wire per message,
//! counted by our server, and fail if a connection did not negotiate compression.

use std::process::ExitCode;
use std::time::Duration;

#[path = "echo/client.rs"]
mod client;
#[path = "echo/clients.rs"]
mod clients;
#[path = "echo/driver.rs"]
mod driver;
#[path = "echo/harness.rs"]
mod harness;
#[path = "echo/ours.rs"]
mod ours;
#[path = "echo/process.rs"]
mod process;
#[path = "echo/procfs.rs"]
mod procfs;
#[path = "echo/serve.rs"]
mod serve;
#[path = "echo/server.rs"]
mod server;

use crate::client::LoopParams;
use crate::clients::{ClientKind, Spec};
use crate::process::Flags;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => server_mode(&args[1..]),
        Some("client") => client_mode(&args[1..], false),
        Some("mem-client") => client_mode(&args[1..], true),
        _ => harness::driver_main(
            &args,
            driver::usage(),
            driver::Options::parse,
            driver::Options::smoke,
            driver::run,
        ),
    };
    harness::exit_code(result, "echo bench")
}

fn server_mode(args: &[String]) -> Result<(), String> {
    let flags = Flags(args);
    let kind = flags.server_kind()?;
    let max_secs = flags.num("--max-secs").unwrap_or(3600);
    server::run(kind, max_secs)
}

fn client_mode(args: &[String], mem: bool) -> Result<(), String> {
    let flags = Flags(args);
    let name = flags.required("--client")?;
    let kind = ClientKind::parse(name).ok_or_else(|| format!("unknown client {name}"))?;
    let addr = flags.addr()?;
    let size = flags.num("--size")? as usize;
    let deflate = flags.has("--deflate");
    // The compressed cases send JSON text.
    let text = flags.has("--text") || deflate;
    let spec = Spec {
        addr,
        payload: clients::payload(size, text, deflate),
        text,
        deflate,
    };
    let conns = flags.num("--conns")? as usize;
    if mem {
        let sample = mem_probe(kind, spec, conns)?;
        println!("{}", sample.to_line());
    } else {
        let params = LoopParams {
            conns,
            warmup: Duration::from_millis(flags.num("--warmup-ms")?),
            duration: Duration::from_millis(flags.num("--duration-ms")?),
            server_pid: flags.value("--server-pid").and_then(|p| p.parse().ok()),
        };
        let sample = closed_loop(kind, spec, params)?;
        println!("{}", sample.to_line());
    }
    // Leave at once: no orderly shutdown of thousands of connections to wait for.
    std::process::exit(0)
}

const PYTHON_CLIENT: &str =
    "python-websockets is a Python process (echo/python_client.py), not a mode of this binary";

fn closed_loop(kind: ClientKind, spec: Spec, p: LoopParams) -> Result<harness::Sample, String> {
    use crate::client::{closed_loop_async_std as on_async_std, closed_loop_tokio as on_tokio};
    match kind {
        ClientKind::OursTokio => on_tokio::<ours::OursTokioConn>(spec, p),
        ClientKind::OursAsyncStd => on_async_std::<ours::OursAsyncStdConn>(spec, p),
        ClientKind::OursAsyncStdSpawn => {
            client::closed_loop_async_std_spawn::<ours::OursAsyncStdConn>(spec, p)
        }
        ClientKind::Tungstenite => on_tokio::<clients::TungsteniteConn>(spec, p),
        ClientKind::Fastws => on_tokio::<clients::FastwsConn>(spec, p),
        ClientKind::TokioWs => on_tokio::<clients::TokioWsConn>(spec, p),
        // A different stream type: the uncompressed cases keep the plain one.
        ClientKind::Sockudo if spec.deflate => on_tokio::<clients::SockudoDeflateConn>(spec, p),
        ClientKind::Sockudo => on_tokio::<clients::SockudoConn>(spec, p),
        ClientKind::Yawc => on_tokio::<clients::YawcConn>(spec, p),
        ClientKind::Tcp => on_tokio::<clients::TcpConn>(spec, p),
        ClientKind::TcpAsyncStd => on_async_std::<clients::TcpAsyncStdConn>(spec, p),
        ClientKind::PythonWebsockets => Err(PYTHON_CLIENT.into()),
    }
}

fn mem_probe(kind: ClientKind, spec: Spec, n: usize) -> Result<client::MemSample, String> {
    use crate::client::{mem_async_std as on_async_std, mem_tokio as on_tokio};
    match kind {
        ClientKind::OursTokio => on_tokio::<ours::OursTokioConn>(spec, n),
        ClientKind::OursAsyncStd | ClientKind::OursAsyncStdSpawn => {
            on_async_std::<ours::OursAsyncStdConn>(spec, n)
        }
        ClientKind::Tungstenite => on_tokio::<clients::TungsteniteConn>(spec, n),
        ClientKind::Fastws => on_tokio::<clients::FastwsConn>(spec, n),
        ClientKind::TokioWs => on_tokio::<clients::TokioWsConn>(spec, n),
        ClientKind::Sockudo if spec.deflate => on_tokio::<clients::SockudoDeflateConn>(spec, n),
        ClientKind::Sockudo => on_tokio::<clients::SockudoConn>(spec, n),
        ClientKind::Yawc => on_tokio::<clients::YawcConn>(spec, n),
        ClientKind::Tcp => on_tokio::<clients::TcpConn>(spec, n),
        ClientKind::TcpAsyncStd => on_async_std::<clients::TcpAsyncStdConn>(spec, n),
        ClientKind::PythonWebsockets => Err(PYTHON_CLIENT.into()),
    }
}
