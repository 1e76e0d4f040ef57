//! `cargo xtask bench echo|mem [--quick] [--case ..] [--clients ..] [--perf] [...]`: the echo
//! and memory benchmark of project issue #7.
//!
//! The measuring instrument itself is the `echo` bench target of `aiowebsocket-benches`
//! (`benches/echo.rs`): it starts fixed echo servers pinned to CPU 0 (fastwebsockets and
//! tokio-websockets; every uncompressed case runs against both), runs one client process per
//! measurement pinned to CPU 1 (ours on tokio and async-std, tokio-tungstenite,
//! fastwebsockets, tokio-websockets, sockudo-ws, yawc, and a plain TCP ceiling), interleaves
//! the clients round by round and prints median tables, with paired ratios of ours to the best
//! peer. This task builds it with the bench profile, runs it, and
//! keeps the table in `target/bench/echo.md` (`target/bench/mem.md` for `mem`).
//!
//! - `echo`: every echo case (binary and text) and the memory table; ~6-8 min, `--quick` ~1 min.
//! - `mem`: only the memory table (RSS growth per idle connection after one echo).
//!
//! The compressed cases run ours, sockudo-ws and yawc with permessage-deflate, and Python
//! `websockets` from the interop venv (`target/interop/venv`, installed on first use as
//! `cargo xtask interop` does).
//!
//! Other flags go to the bench binary unchanged (`--case "bin 100x20B,text"`, `--clients
//! ours-tokio,fastwebsockets`, `--rounds N`, `--duration-ms N`, `--perf`, `--no-pin`, ...; see
//! `cargo xtask bench echo --help`).

/// Whether the run may include the Python client: the compressed cases selected (no
/// `--case`, or one naming "deflate"), the client too (no `--clients`, or one naming it), and
/// no `--python` given.
fn wants_python(args: &[String]) -> bool {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    !args.iter().any(|a| a == "--python")
        && value("--case").is_none_or(|v| v.contains("deflate"))
        && value("--clients").is_none_or(|v| v.contains("python-websockets"))
}

/// Runs `echo` or `mem` (the first argument) with the rest of `args` passed through.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (suite, rest) = match args.split_first() {
        Some((suite, rest)) if suite == "echo" || suite == "mem" => (suite.as_str(), rest),
        _ => ("echo", args),
    };
    let root = crate::workspace_root();
    let mut pass: Vec<String> = vec!["run".into()];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        pass = vec!["--help".into()];
    } else {
        if suite == "mem" {
            pass.extend(["--case".into(), "mem".into()]);
        }
        pass.extend(rest.iter().cloned());
        if suite == "echo" && wants_python(rest) {
            // A peer of the compressed cases: Python websockets, from the interop venv.
            match crate::interop::python_with_websockets() {
                Ok(python) => pass.extend(["--python".into(), python.display().to_string()]),
                Err(e) => eprintln!("bench echo: python-websockets will not run: {e}"),
            }
        }
        if !rest.iter().any(|a| a == "--out") {
            let out = root
                .join("target")
                .join("bench")
                .join(format!("{suite}.md"));
            pass.extend(["--out".into(), out.display().to_string()]);
        }
    }
    crate::bench::run_bench_target("echo", &pass)
}
