//! `cargo xtask bench [SUITE...] [--quick]`: quick, self-contained performance tables.
//!
//! Suites (run in this order; none named = all):
//! - `mask`: masking throughput of every implementation this CPU has, next to
//!   `copy_from_slice` of the same buffer (the memory ceiling), measured in one run.
//! - `echo`: echo round trips and idle-connection memory, ours next to the fastest Rust
//!   clients (`bench_echo.rs`); `cargo xtask bench echo|mem [flags]` takes its own flags.
//! - `h2` (only when named): 100 WebSockets over one HTTP/2 connection vs 100 HTTP/1.1
//!   connections (`bench_h2.rs`); `cargo xtask bench h2 [flags]` takes its own flags.
//! - `bulk` (only when named): one connection streams 1 GiB up and down in 64 KiB and 1 MiB
//!   messages, ours next to the fastest Rust clients and plain TCP, GB/s and client CPU per
//!   GiB (`bench_bulk.rs`); `cargo xtask bench bulk [flags]` takes its own flags.
//! - `scale` (only when named): 100,000 idle connections in one client process on one core
//!   (`bench_scale.rs`): time to open, RSS per connection, idle CPU with keepalive, time
//!   until all receive a broadcast; `cargo xtask bench scale [flags]` takes its own flags.
//!
//! The machine is shared and noisy, so every number is the median of many short samples
//! taken in interleaved rounds: each round measures every case once, in a rotating order,
//! so a burst of background load hits all cases alike instead of one.
//! `--quick` takes fewer and shorter samples.
//!
//! Adding a suite: write a `fn(&Options) -> Result<(), String>` and add it to [`SUITES`].

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Settings shared by all suites.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// Interleaved rounds per case (the median is taken over these).
    rounds: usize,
    /// Target duration of one sample; the iteration count is calibrated to reach it.
    sample: Duration,
    /// Whether `--quick` was given.
    quick: bool,
}

impl Options {
    fn new(quick: bool) -> Options {
        if quick {
            Options {
                rounds: 31,
                sample: Duration::from_millis(4),
                quick,
            }
        } else {
            Options {
                rounds: 61,
                sample: Duration::from_millis(8),
                quick,
            }
        }
    }
}

type Suite = fn(&Options) -> Result<(), String>;

/// Every suite, by name, in the order `cargo xtask bench` runs them.
const SUITES: &[(&str, Suite)] = &[("mask", mask::run), ("echo", echo_suite)];

/// The echo and memory benchmark with `--quick` passed on (its own flags: `bench echo ...`).
fn echo_suite(options: &Options) -> Result<(), String> {
    let mut args = vec!["echo".to_string()];
    if options.quick {
        args.push("--quick".into());
    }
    crate::bench_echo::run(&args)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if matches!(args.first().map(String::as_str), Some("echo" | "mem")) {
        return crate::bench_echo::run(args);
    }
    match args.first().map(String::as_str) {
        Some("h2") => return crate::bench_h2::run(&args[1..]),
        Some("bulk") => return crate::bench_bulk::run(&args[1..]),
        Some("scale") => return crate::bench_scale::run(&args[1..]),
        _ => {}
    }
    let mut quick = false;
    let mut chosen: Vec<(&str, Suite)> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option `{flag}`\n{}", usage()));
            }
            name => match SUITES.iter().find(|(n, _)| *n == name) {
                Some(&suite) => {
                    if !chosen.iter().any(|(n, _)| *n == name) {
                        chosen.push(suite);
                    }
                }
                None => return Err(format!("unknown benchmark `{name}`\n{}", usage())),
            },
        }
    }
    if chosen.is_empty() {
        chosen = SUITES.to_vec();
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: xtask was built without optimizations; numbers are meaningless");
    }
    let options = Options::new(quick);
    for (name, suite) in chosen {
        let started = Instant::now();
        suite(&options).map_err(|e| format!("{name}: {e}"))?;
        println!(
            "({name}: {:.1} s{})\n",
            started.elapsed().as_secs_f64(),
            if options.quick { ", --quick" } else { "" }
        );
    }
    Ok(())
}

fn usage() -> String {
    let names: Vec<&str> = SUITES.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: cargo xtask bench [{}] [--quick]\n  no name runs every benchmark; --quick \
         takes fewer, shorter samples\n       cargo xtask bench echo|mem [--quick] [flags]: \
         closed-loop echo and idle-connection memory (see `bench echo --help`)\n       \
         cargo xtask bench h2 [--rounds N] [--no-pin]: 100 WebSockets over one HTTP/2 \
         connection vs 100 HTTP/1.1 connections\n       cargo xtask bench bulk [--quick] \
         [--clients ..] [--rounds N] [--total BYTES] [--sizes 64KiB,1MiB]: one connection \
         streams 1 GiB up and down, ours vs peers vs plain TCP (see `bench bulk --help`)\n       \
         cargo xtask bench scale [--n N] [--idle-secs S] [--clients ours,tokio-websockets,\
         tokio-tungstenite] [--addrs K]: N (100000) connections in one client process on one \
         core: time to open, RSS per connection, idle CPU, broadcast to all",
        names.join(" | ")
    )
}

/// The arguments of a bench target's driver for `cargo xtask bench <name> ARGS`: `run`,
/// `ARGS`, and unless `ARGS` name one, `--out target/bench/<name>.md`.
pub(crate) fn bench_target_args(args: &[String], name: &str) -> Vec<String> {
    let mut pass: Vec<String> = vec!["run".into()];
    pass.extend(args.iter().cloned());
    if !args.iter().any(|a| a == "--out") {
        let out = crate::workspace_root()
            .join("target")
            .join("bench")
            .join(format!("{name}.md"));
        pass.extend(["--out".into(), out.display().to_string()]);
    }
    pass
}

/// Runs the `bench` target of `aiowebsocket-benches` (bench profile) with `args` after
/// `--`.
pub(crate) fn run_bench_target(bench: &str, args: &[String]) -> Result<(), String> {
    let status = crate::util::cargo()
        .current_dir(crate::workspace_root())
        .args([
            "bench",
            "--quiet",
            "-p",
            "aiowebsocket-benches",
            "--bench",
            bench,
            "--",
        ])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the {bench} benchmark failed ({status})"))
    }
}

/// The median of `v` (which must not be empty); sorts it.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Formats a byte count as `20 B`, `16 KiB`, `4 MiB`.
fn human_size(n: usize) -> String {
    if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.trailing_zeros() >= 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Masking throughput per implementation, against `copy_from_slice`.
mod mask {
    use super::{black_box, human_size, median, Duration, Instant, Options};

    use ws_frame::mask::{self, MaskImpl};

    const SIZES: [usize; 5] = [20, 1 << 10, 16 << 10, 256 << 10, 4 << 20];
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// One measured row of the table.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Case {
        /// `copy_from_slice` of a same-sized buffer into the masked one: the memory ceiling.
        Copy,
        /// One implementation, called through `MaskImpl::apply`.
        Impl(MaskImpl),
        /// `ws_frame::apply_mask`: what the library really does (dispatch included).
        Dispatched,
    }

    impl Case {
        fn label(self) -> String {
            match self {
                Case::Copy => "copy_from_slice".to_string(),
                Case::Impl(m) => m.name().to_string(),
                Case::Dispatched => format!("apply_mask ({})", mask::selected().name()),
            }
        }
    }

    /// Runs `iters` calls of `case` on `buf` (the masked buffer) and returns the time.
    ///
    /// The match is outside the loops so that each loop is a direct call; `black_box` on
    /// the buffer, key and offset keeps the compiler from hoisting or merging calls.
    #[inline(never)]
    fn sample(case: Case, buf: &mut [u8], src: &[u8], iters: u64) -> Duration {
        let start = Instant::now();
        match case {
            Case::Copy => {
                for _ in 0..iters {
                    black_box(&mut *buf).copy_from_slice(black_box(src));
                }
            }
            Case::Impl(m) => {
                for _ in 0..iters {
                    m.apply(black_box(&mut *buf), black_box(KEY), black_box(0));
                }
            }
            Case::Dispatched => {
                for _ in 0..iters {
                    ws_frame::apply_mask(black_box(&mut *buf), black_box(KEY), black_box(0));
                }
            }
        }
        start.elapsed()
    }

    /// Iterations needed for one sample of about `target`.
    fn calibrate(case: Case, buf: &mut [u8], src: &[u8], target: Duration) -> u64 {
        let mut iters = 1u64;
        loop {
            let t = sample(case, buf, src, iters);
            if t >= target / 4 || iters >= 1 << 40 {
                let per = t.as_secs_f64() / iters as f64;
                return ((target.as_secs_f64() / per.max(1e-12)) as u64).max(1);
            }
            iters *= 2;
        }
    }

    struct Row {
        size: usize,
        case: Case,
        ns_per_call: f64,
    }

    impl Row {
        fn gbps(&self) -> f64 {
            self.size as f64 / self.ns_per_call
        }
    }

    pub(super) fn run(options: &Options) -> Result<(), String> {
        let impls = mask::available();
        let mut cases = vec![Case::Copy];
        cases.extend(impls.iter().map(|&m| Case::Impl(m)));
        cases.push(Case::Dispatched);

        println!(
            "masking throughput: median of {} interleaved rounds, ~{} ms per sample, buffer \
             start misaligned by 1 byte",
            options.rounds,
            options.sample.as_millis()
        );
        println!(
            "available: {}; apply_mask dispatches to {} (buffers >= {} B; shorter ones take \
             the word path inline)",
            impls
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", "),
            mask::selected().name(),
            mask::SIMD_THRESHOLD
        );

        let mut rows = Vec::new();
        for &size in &SIZES {
            // One byte past a 64-byte boundary (Vec<u8> itself is only byte-aligned).
            let mut dst_store = vec![0u8; size + 128];
            let mut src_store: Vec<u8> = (0..size + 128).map(|i| i as u8).collect();
            let d0 = dst_store.as_ptr().align_offset(64).min(63) + 1;
            let s0 = src_store.as_ptr().align_offset(64).min(63) + 1;
            let buf = &mut dst_store[d0..d0 + size];
            let src = &mut src_store[s0..s0 + size];
            buf.copy_from_slice(src);
            mask_check(buf)?;

            let iters: Vec<u64> = cases
                .iter()
                .map(|&c| calibrate(c, buf, src, options.sample))
                .collect();
            let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(options.rounds); cases.len()];
            for round in 0..options.rounds {
                for k in 0..cases.len() {
                    let i = (k + round) % cases.len();
                    let t = sample(cases[i], buf, src, iters[i]);
                    times[i].push(t.as_secs_f64() * 1e9 / iters[i] as f64);
                }
            }
            for (i, &case) in cases.iter().enumerate() {
                rows.push(Row {
                    size,
                    case,
                    ns_per_call: median(&mut times[i]),
                });
            }
        }

        print_table(&rows);
        println!(
            "copy_from_slice reads one buffer and writes another; masking reads and writes \
             one,\nso beyond the L1 cache it can beat the copy (ratios above 1.0x)."
        );
        print_goals(&rows);
        Ok(())
    }

    /// Every implementation must agree before its speed means anything.
    fn mask_check(buf: &[u8]) -> Result<(), String> {
        let mut want = buf.to_vec();
        MaskImpl::Naive.apply(&mut want, KEY, 3);
        for m in mask::available() {
            let mut got = buf.to_vec();
            m.apply(&mut got, KEY, 3);
            if got != want {
                return Err(format!("{} masks differently from the byte loop", m.name()));
            }
        }
        Ok(())
    }

    fn find(rows: &[Row], size: usize, case: Case) -> Option<&Row> {
        rows.iter().find(|r| r.size == size && r.case == case)
    }

    fn print_table(rows: &[Row]) {
        println!();
        println!(
            "{:>8}  {:<20} {:>8} {:>9} {:>9} {:>11}",
            "size", "implementation", "GB/s", "vs copy", "vs naive", "ns/call"
        );
        let mut last = 0;
        for r in rows {
            if r.size != last && last != 0 {
                println!();
            }
            let size = if r.size != last {
                human_size(r.size)
            } else {
                String::new()
            };
            last = r.size;
            let copy = find(rows, r.size, Case::Copy).map_or(f64::NAN, Row::gbps);
            let naive = find(rows, r.size, Case::Impl(MaskImpl::Naive)).map_or(f64::NAN, Row::gbps);
            println!(
                "{:>8}  {:<20} {:>8.2} {:>8.2}x {:>8.1}x {:>11.1}",
                size,
                r.case.label(),
                r.gbps(),
                r.gbps() / copy,
                r.gbps() / naive,
                r.ns_per_call
            );
        }
        println!();
    }

    fn print_goals(rows: &[Row]) {
        let ratio = |size: usize, base: Case| -> f64 {
            match (find(rows, size, Case::Dispatched), find(rows, size, base)) {
                (Some(d), Some(b)) => d.gbps() / b.gbps(),
                _ => f64::NAN,
            }
        };
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        println!("goals (apply_mask):");
        for size in [16 << 10, 256 << 10] {
            let vs_copy = ratio(size, Case::Copy);
            let vs_naive = ratio(size, Case::Impl(MaskImpl::Naive));
            println!(
                "  {:>7}: {:.2}x copy (goal >= 0.6): {};  {:.1}x naive (goal >= 6): {}",
                human_size(size),
                vs_copy,
                verdict(vs_copy >= 0.6),
                vs_naive,
                verdict(vs_naive >= 6.0)
            );
        }
        let small = find(rows, 20, Case::Dispatched).map_or(f64::NAN, |r| r.ns_per_call);
        println!(
            "     20 B: {small:.1} ns per call, dispatch included (goal <= ~10): {}",
            verdict(small <= 10.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::bench_target_args;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bench_target_args_add_the_default_report() {
        let pass = bench_target_args(&strings(&["--quick", "--total", "64MiB"]), "bulk");
        assert_eq!(pass[..4], strings(&["run", "--quick", "--total", "64MiB"]));
        assert_eq!(pass[4], "--out");
        assert!(pass[5].ends_with("target/bench/bulk.md"), "{}", pass[5]);
        assert_eq!(pass.len(), 6);
    }

    #[test]
    fn bench_target_args_keep_a_given_report() {
        let args = strings(&["--out", "/tmp/x.md"]);
        assert_eq!(
            bench_target_args(&args, "h2"),
            strings(&["run", "--out", "/tmp/x.md"])
        );
    }
}
