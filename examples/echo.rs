//! Echo: send a message, print what was sent and what came back, N times, then close.
//!
//! ```text
//! cargo run --example echo                      # talks to an embedded local server
//! cargo run --example echo -- ws://host:port/   # talks to that server
//! cargo run --example echo -- --rounds 10
//! ```
//!
//! Times are UTC (computed from the system clock without a date library).

use aiowebsocket_examples::{echo_rounds, url_or_embedded, Cli, EchoServer, Report};

const USAGE: &str = "usage: echo [URL] [--rounds N]

Sends a message, prints `TIME-Client send: ...` and `TIME-Client receive: ...`, N times
(default 5), then closes with 1000. Without a URL it starts an echo server on 127.0.0.1.";

/// The message the original aiowebsocket example sent.
const MESSAGE: &str = "AioWebSocket - Async WebSocket Client";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 5, &[])?;
    let (url, _server) = url_or_embedded(cli.url, EchoServer::new()).await?;
    println!("connecting to {url}");

    let mut ws = aiowebsocket::connect(&url).await?;
    echo_rounds(&mut ws, MESSAGE, cli.rounds).await
}
