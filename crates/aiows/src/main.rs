//! # aiows — a command-line WebSocket client and local test server
//!
//! Built on the `aiowebsocket` facade only. `aiows URL` connects, sends stdin lines (and
//! `--send` texts) as messages and prints what arrives, one message per line; `aiows serve`
//! runs an echo (or `--broadcast`) server on the library's server role. `aiows --help`
//! lists the options and exit codes.
//!
//! ```text
//!  main ─ args::parse ─▶ client::run (connect, split, stdin thread, sender task, printer)
//!                    └─▶ server::run (accept loop, one task per connection)
//!  report: exit codes and one-line messages   format: hex, base64, UTC timestamps
//! ```
#![forbid(unsafe_code)]

mod args;
mod client;
mod format;
mod help;
mod report;
mod server;

use std::future::Future;
use std::io::Write;

use tokio::sync::mpsc;

use crate::args::Command;
use crate::report::{Failure, EXIT_CONNECT, EXIT_OK, EXIT_USAGE};

fn main() {
    let code = match args::parse(std::env::args_os()) {
        // `--help`, `--version`.
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!(
                "aiows: {}\nTry 'aiows --help' for more information.",
                args::describe(&e)
            );
            EXIT_USAGE
        }
        Ok(Command::Client(a)) => run(client::run(*a)),
        Ok(Command::Serve(a)) => run(server::run(a)),
    };
    let _ = std::io::stdout().flush();
    // Exit without waiting for the stdin thread, which may be blocked in a read.
    std::process::exit(i32::from(code));
}

/// Runs `fut` on a single-threaded tokio runtime; prints its failure, returns the exit
/// code.
fn run(fut: impl Future<Output = Result<(), Failure>>) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aiows: cannot start the async runtime: {e}");
            return EXIT_CONNECT;
        }
    };
    let code = match rt.block_on(fut) {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            eprintln!("aiows: {failure}");
            failure.code
        }
    };
    rt.shutdown_background();
    code
}

/// Ctrl-C presses, as a stream. Once this runs, Ctrl-C no longer kills the process: the
/// caller decides (close cleanly first, quit on the second press).
pub(crate) fn interrupts() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    rx
}
