//! `cargo xtask bench bulk [--quick] [--clients ..] [--rounds N] [--total BYTES] [--sizes
//! 64KiB,1MiB] [...]`: the bulk throughput benchmark of project issue 14.
//!
//! One connection streams 1 GiB (`--quick`: 256 MiB) one way, in 64 KiB and in 1 MiB
//! messages, up (the client sends; the server counts and acknowledges) and down (the client
//! asks; the server sends), for ours (tokio, async-std), tokio-tungstenite, fastwebsockets,
//! tokio-websockets, sockudo-ws, yawc and plain TCP moving the same bytes. Per case and
//! client: GB/s (median of interleaved rounds), client CPU per GiB, and the paired ratios of
//! ours to plain TCP and to the best peer (goal: ours >= 0.9x plain TCP).
//!
//! The instrument is the `bulk` bench target of `aiowebsocket-benches` (`benches/bulk.rs`),
//! built with the bench profile: one WebSocket server (fastwebsockets, frame by frame;
//! `--server tws` for tokio-websockets) and one TCP server pinned to CPU 0, one client
//! process per measurement pinned to CPU 1, as the echo bench does. The table goes to stdout
//! and to `target/bench/bulk.md`; other flags go to the bench binary unchanged (see `cargo
//! xtask bench bulk --help`).

/// Runs the benchmark with `args` (after `bulk`) passed to it.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let pass = crate::bench::bench_target_args(args, "bulk");
    crate::bench::run_bench_target("bulk", &pass)
}
