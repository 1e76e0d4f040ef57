//! Project automation for aiowebsocket, run as `cargo xtask <task>` from anywhere in the repo.
//!
//! Tasks:
//! - `cargo xtask bench [--quick]` — masking throughput and the echo benchmark; `cargo xtask
//!   bench echo|mem|h2|bulk|scale [flags]` for one benchmark with its own flags.
//! - `cargo xtask autobahn` — run the Autobahn TestSuite against our clients.
//! - `cargo xtask interop` — permessage-deflate against Python `websockets` and Node `ws`.

mod autobahn;
mod bench;
mod bench_bulk;
mod bench_echo;
mod bench_h2;
mod bench_scale;
mod interop;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

/// The workspace root, whatever directory `cargo xtask` was started from.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "bench" => bench::run(&rest),
        "autobahn" => autobahn::run(&rest),
        "interop" => interop::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <bench [--quick] | autobahn [options] | interop [options]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}
