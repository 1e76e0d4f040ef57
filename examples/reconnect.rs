//! A connection that survives disconnects: reconnects with backoff, resubscribes in a hook,
//! and prints every disconnect.
//!
//! Without a URL it starts a server that drops its clients every few messages (cutting TCP
//! on odd connections, closing with 1012 "service restart" on even ones). The client sends
//! numbered messages and expects each one echoed; a message cut off by a disconnect is sent
//! again on the next connection.
//!
//! ```text
//! cargo run --example reconnect
//! cargo run --example reconnect -- ws://host:port/ --rounds 20
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aiowebsocket::{CloseCode, Event, Message, ReconnectPolicy};
use aiowebsocket_examples::{timestamp, Cli, FlakyServer, Report};

const USAGE: &str = "usage: reconnect [URL] [--rounds N] [--drop-every K]

Sends N numbered messages (default 10) and waits for each echo, reconnecting whenever the
connection drops; every new connection is resubscribed by a hook before anything else.
Without a URL it starts a server on 127.0.0.1 that drops the client every K messages
(default 3). The URL's server must echo text messages.";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 10, &["drop-every"])?;
    let drop_every = match cli.values("drop-every").last() {
        Some(k) => k
            .parse()
            .map_err(|_| format!("--drop-every takes a number, not {k:?}"))?,
        None => 3,
    };
    let mut _server = None;
    let url = match cli.url.clone() {
        Some(url) => url,
        None => {
            let server = FlakyServer::start(drop_every).await?;
            println!("embedded server dropping its clients every {drop_every} messages");
            let url = server.url();
            _server = Some(server);
            url
        }
    };
    println!("connecting to {url}");

    let hooks = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hooks);
    let mut ws = aiowebsocket::builder(&url)
        .reconnecting()
        .policy(
            ReconnectPolicy::new()
                .initial_delay(Duration::from_millis(100))
                .max_delay(Duration::from_secs(2)),
        )
        .on_connect(move |ws| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                // Runs before any message of the new connection reaches the loop below.
                ws.send(Message::text("subscribe ticker")).await?;
                println!("{}-[hook] connection {n}: subscribed", timestamp());
                Ok(())
            })
        })
        .connect()
        .await?;

    // The message waiting for its echo, if any: sent again after a reconnect.
    let mut next = 1;
    let mut awaiting: Option<String> = None;
    let mut disconnects = 0;
    while next <= cli.rounds || awaiting.is_some() {
        let Some(event) = ws.recv().await else {
            break;
        };
        match event? {
            Event::Message(Message::Text(text)) => {
                println!("{}-Client receive: {text}", timestamp());
                let greeting = text.starts_with("welcome");
                let echo = awaiting.as_deref() == Some(text.as_str());
                if echo {
                    awaiting = None;
                }
                if !greeting && !echo {
                    continue; // e.g. the acknowledgement of the hook's subscription
                }
                if awaiting.is_none() && next <= cli.rounds {
                    awaiting = Some(format!("message {next}"));
                    next += 1;
                }
                // A new message, or on a new connection the one cut off by the disconnect.
                if let Some(msg) = &awaiting {
                    send(&mut ws, msg).await;
                }
            }
            Event::Message(_) => {} // pings, pongs, binary
            Event::Disconnected {
                reason,
                retry_in,
                attempt,
            } => {
                disconnects += 1;
                println!(
                    "{}-disconnected: {reason}; attempt {attempt} in {} ms",
                    timestamp(),
                    retry_in.as_millis()
                );
            }
            Event::Reconnected { attempts } => {
                println!("{}-reconnected after {attempts} attempt(s)", timestamp());
            }
            other => println!("{other:?}"),
        }
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    println!(
        "done: {} messages echoed over {} connections ({disconnects} disconnects, hook run {} times)",
        cli.rounds,
        ws.connections(),
        hooks.load(Ordering::SeqCst)
    );
    Ok(())
}

/// Sends `text`; a failure (the connection just dropped) is reported, and the message is
/// sent again once a new connection greets us.
async fn send(ws: &mut aiowebsocket::ReconnectingWebSocket, text: &str) {
    match ws.send(Message::text(text.to_owned())).await {
        Ok(()) => println!("{}-Client send: {text}", timestamp()),
        Err(e) => println!(
            "{}-not sent ({e}); will resend after reconnecting",
            timestamp()
        ),
    }
}
