//! `cargo xtask bench scale [--n N] [--idle-secs S] [--clients ours,tokio-websockets,
//! tokio-tungstenite] [--addrs K] [--concurrency C] [--max-rss-mib M] [--no-pin]`: the scale
//! benchmark of project issue #14.
//!
//! N concurrent connections (default 100,000) in ONE client process on ONE core (tokio's
//! current-thread runtime, pinned to CPU 1) against a minimal local WebSocket server pinned
//! to CPU 0, listening on 127.0.0.1..=127.0.0.K (default 8) to stay clear of the
//! ephemeral-port limit of one destination; both raise their open-file limit themselves.
//! Per client (ours with keepalive on at its default interval; the peers with their
//! defaults): the time to open all N (at most C = 512 handshakes in flight), RSS per
//! connection, CPU while they idle for S seconds (default 60), and the time until all N have
//! received one message the server sends to every connection (plus the server's own time to
//! write them). A client whose RSS passes M MiB (default 8192) stops opening and reports how
//! far it got.
//!
//! The instrument is the `scale` bench target of `aiowebsocket-benches`
//! (`benches/scale.rs`), built with the bench profile; the table goes to stdout and to
//! `target/bench/scale.md`. A full run takes a few minutes per client.

/// Runs the benchmark with `args` (after `scale`) passed to it.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let pass = crate::bench::bench_target_args(args, "scale");
    crate::bench::run_bench_target("scale", &pass)
}
