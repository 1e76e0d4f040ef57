//! The Autobahn TestSuite client: echoes every case of a running fuzzing server back to it.
//!
//! `cargo xtask autobahn` starts the server and runs this once per runtime; run it by hand
//! against a server of your own with
//!
//! ```text
//! cargo run --release -p aiowebsocket-harness --bin autobahn_client -- \
//!     --url ws://127.0.0.1:9001 --agent aiowebsocket-tokio --runtime tokio|smol|async-std [--verbose]
//! ```
//!
//! The protocol: read the case count from `/getCaseCount`; for each case connect to
//! `/runCase?case=N&agent=AGENT` and send every text and binary message back unchanged
//! until the connection ends; then ask the server to write its reports with
//! `/updateReports?agent=AGENT`. A case that ends in an error is normal (many cases send
//! invalid data on purpose); a case we cannot even connect to is a failure of the run.

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use aiowebsocket::{ConnectOptions, Error, Message};
use aiowebsocket_harness::{OnRuntime, RuntimeChoice};
use futures::{Sink, SinkExt, Stream, StreamExt};

/// Largest message the suite sends (16 MiB in 9.x), with room for the compressed cases.
const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Largest frame the suite sends (a 16 MiB message in one frame), with room to spare.
const MAX_FRAME_SIZE: usize = 32 << 20;
/// Without `--verbose`, print progress every this many cases.
const PROGRESS_EVERY: usize = 50;

/// Runs the Autobahn TestSuite's client cases against its fuzzing server.
#[derive(Debug, clap::Parser)]
#[command(name = "autobahn_client")]
struct Args {
    /// The fuzzing server.
    #[arg(long, default_value = "ws://127.0.0.1:9001")]
    url: String,
    /// The agent name the report is filed under.
    #[arg(long, default_value = "aiowebsocket")]
    agent: String,
    /// The runtime: tokio, smol or async-std.
    #[arg(long, default_value = "tokio", value_parser = RuntimeChoice::parse)]
    runtime: RuntimeChoice,
    /// Print every case.
    #[arg(short, long)]
    verbose: bool,
}

/// Why the run as a whole failed (a single case ending in an error is not one).
#[derive(Debug)]
enum RunError {
    /// A step outside the cases failed.
    Step { step: String, error: Error },
    /// The server answered something we did not expect.
    Protocol(String),
    /// Some cases could not be run at all.
    CasesNotRun(Vec<(usize, String)>),
    /// The async runtime could not start.
    Runtime(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Step { step, error } => write!(
                f,
                "{step} failed: {error} (is the fuzzing server running at that address?)"
            ),
            RunError::Protocol(what) => f.write_str(what),
            RunError::CasesNotRun(cases) => {
                writeln!(f, "{} case(s) could not be connected to:", cases.len())?;
                for (case, error) in cases {
                    writeln!(f, "  case {case}: {error}")?;
                }
                Ok(())
            }
            RunError::Runtime(e) => f.write_str(e),
        }
    }
}

fn main() -> ExitCode {
    let mut args = <Args as clap::Parser>::parse();
    args.url = args.url.trim_end_matches('/').to_owned();
    let result = args
        .runtime
        .block_on(Suite(&args))
        .map_err(RunError::Runtime)
        .and_then(|r| r);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn_client ({}): {e}", args.agent);
            ExitCode::FAILURE
        }
    }
}

/// Options for every connection: Autobahn-sized limits, no keepalive (the suite measures
/// exactly the frames it expects), compression as the library offers it by default.
fn options(url: String) -> ConnectOptions {
    ConnectOptions::new(url)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_FRAME_SIZE))
        .no_keepalive()
}

/// The whole suite, on whichever runtime `--runtime` names.
struct Suite<'a>(&'a Args);

impl OnRuntime for Suite<'_> {
    type Output = Result<(), RunError>;

    async fn run<R: aiowebsocket::Runtime>(self, rt: R) -> Self::Output {
        run(self.0, |options| connect_one(&rt, options)).await
    }
}

/// One connection of the suite on `rt`.
async fn connect_one<R: aiowebsocket::Runtime>(
    rt: &R,
    options: ConnectOptions,
) -> Result<aiowebsocket::ws_client::connect::RuntimeWebSocket<R>, Error> {
    let (ws, _response) = aiowebsocket::ws_client::connect::connect(rt, &options).await?;
    Ok(ws)
}

/// Runs the whole suite with `connect` (one runtime's connect).
async fn run<C, F, W>(args: &Args, connect: C) -> Result<(), RunError>
where
    C: Fn(ConnectOptions) -> F,
    F: Future<Output = Result<W, Error>>,
    W: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin,
{
    let started = Instant::now();
    let count = case_count(args, &connect).await?;
    println!(
        "autobahn_client: {count} cases for agent {} on {:?}",
        args.agent, args.runtime
    );

    let agent = query_escape(&args.agent);
    let mut not_run = Vec::new();
    let mut ended_in_error = 0usize;
    for case in 1..=count {
        let case_started = Instant::now();
        let url = format!("{}/runCase?case={case}&agent={agent}", args.url);
        let outcome = match connect(options(url)).await {
            Ok(ws) => echo(ws).await,
            Err(e) => {
                let error = e.to_string();
                if args.verbose {
                    println!("case {case}/{count}: cannot connect: {error}");
                }
                not_run.push((case, error));
                continue;
            }
        };
        if outcome.error.is_some() {
            ended_in_error += 1;
        }
        if args.verbose {
            let took = case_started.elapsed();
            let id = case_id(args, &connect, case).await;
            let end = match &outcome.error {
                None => "closed".to_owned(),
                Some(e) => format!("ended: {e}"),
            };
            println!(
                "case {case}/{count} {id}: echoed {} message(s), {end} ({:.1?})",
                outcome.echoed, took
            );
        } else if case % PROGRESS_EVERY == 0 || case == count {
            println!(
                "autobahn_client ({}): {case}/{count} cases ({:.0?})",
                args.agent,
                started.elapsed()
            );
        }
    }

    let url = format!("{}/updateReports?agent={agent}", args.url);
    let ws = connect(options(url))
        .await
        .map_err(|error| RunError::Step {
            step: "connecting to /updateReports".to_owned(),
            error,
        })?;
    // The server writes its reports, then closes; wait for that so they are complete.
    drain(ws).await;
    println!(
        "autobahn_client ({}): {count} cases in {:.1?} ({ended_in_error} ended in an error, as \
         many cases intend; {} could not connect)",
        args.agent,
        started.elapsed(),
        not_run.len()
    );
    if not_run.is_empty() {
        Ok(())
    } else {
        Err(RunError::CasesNotRun(not_run))
    }
}

/// How one case went.
struct Outcome {
    echoed: usize,
    error: Option<Error>,
}

/// Echoes every data message until the connection ends.
///
/// After an error the library reports it once and then winds the connection down (close
/// frame with the right code, wait for the peer's), ending the stream; we keep reading so
/// that closing handshake runs to its end, which is what the suite grades.
async fn echo<W>(mut ws: W) -> Outcome
where
    W: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin,
{
    let mut echoed = 0;
    let mut error = None;
    while let Some(item) = ws.next().await {
        let result = match item {
            Ok(msg @ (Message::Text(_) | Message::Binary(_))) if error.is_none() => {
                ws.send(msg).await.map(|()| echoed += 1)
            }
            // Pings are answered and closes replied to by the library itself.
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            if error.is_some() {
                // A second error: the stream is not winding down as documented; stop here.
                break;
            }
            error = Some(e);
        }
    }
    Outcome { echoed, error }
}

/// Reads messages until the connection ends; returns the first text message.
async fn drain<W>(mut ws: W) -> Option<String>
where
    W: Stream<Item = Result<Message, Error>> + Unpin,
{
    let mut first = None;
    while let Some(Ok(msg)) = ws.next().await {
        if let (None, Message::Text(text)) = (&first, msg) {
            first = Some(text.as_str().to_owned());
        }
    }
    first
}

async fn case_count<C, F, W>(args: &Args, connect: &C) -> Result<usize, RunError>
where
    C: Fn(ConnectOptions) -> F,
    F: Future<Output = Result<W, Error>>,
    W: Stream<Item = Result<Message, Error>> + Unpin,
{
    let ws = connect(options(format!("{}/getCaseCount", args.url)))
        .await
        .map_err(|error| RunError::Step {
            step: format!("connecting to {}/getCaseCount", args.url),
            error,
        })?;
    let text = drain(ws).await.ok_or_else(|| {
        RunError::Protocol("/getCaseCount closed without sending the case count".to_owned())
    })?;
    text.trim().parse().map_err(|_| {
        RunError::Protocol(format!(
            "/getCaseCount sent {text:?}, which is not a case count"
        ))
    })
}

/// The case's dotted id (`1.1.1`) from `/getCaseInfo`, for `--verbose` lines.
async fn case_id<C, F, W>(args: &Args, connect: &C, case: usize) -> String
where
    C: Fn(ConnectOptions) -> F,
    F: Future<Output = Result<W, Error>>,
    W: Stream<Item = Result<Message, Error>> + Unpin,
{
    let url = format!("{}/getCaseInfo?case={case}", args.url);
    let info = match connect(options(url)).await {
        Ok(ws) => drain(ws).await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    // The answer is `{"id": "1.1.1", "description": ...}`; take the id's string.
    info.split_once("\"id\"")
        .and_then(|(_, rest)| rest.split('"').nth(1))
        .map_or_else(|| "?".to_owned(), str::to_owned)
}

/// Percent-encodes everything but unreserved characters, for a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
