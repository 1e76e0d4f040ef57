//! `cargo xtask bench h2 [--rounds N] [--quick] [--no-pin]`: the HTTP/2 benchmark of project
//! issue #17, 100 WebSockets over one h2c connection vs over 100 HTTP/1.1 connections to
//! our own server (client CPU per round trip at 16 B and 16 KiB, RSS per WebSocket, time to
//! open all 100).
//!
//! The instrument is the `h2` bench target of `aiowebsocket-benches` (`benches/h2.rs`),
//! built with the bench profile: server pinned to CPU 0, one client process per paired
//! round pinned to CPU 1, as the echo bench does. The table goes to stdout and to
//! `target/bench/h2.md`.

/// Runs the benchmark with `args` (after `h2`) passed to it.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::bench::run_driver("h2", args)
}
