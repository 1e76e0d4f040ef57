//! One task sends, another receives: `WebSocket::split`.
//!
//! The sender sends N numbered messages, one every 100 ms; the receiver prints each echo as
//! it arrives (and keeps answering pings meanwhile). When both are done the sender closes
//! the connection and the receiver sees the close.
//!
//! ```text
//! cargo run --example split
//! cargo run --example split -- ws://host:port/ [--rounds N]
//! ```
//!
//! Times are UTC.

use std::time::Duration;

use aiowebsocket::{CloseCode, Message};
use aiowebsocket_examples::{describe_close, timestamp, url_or_embedded, Cli, EchoServer, Report};

const USAGE: &str = "usage: split [URL] [--rounds N]

A sender task and a receiver task share one WebSocket. Without a URL it starts an echo
server on 127.0.0.1.";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 5, &[])?;
    let (url, _server) = url_or_embedded(cli.url, EchoServer::new()).await?;
    println!("connecting to {url}");
    let ws = aiowebsocket::connect(&url).await?;
    let (mut tx, mut rx) = ws.split();
    let rounds = cli.rounds;

    let sender = tokio::spawn(async move {
        for i in 1..=rounds {
            let text = format!("message {i} of {rounds}");
            tx.send(Message::text(text.clone())).await?;
            println!("{}-Sender   sent:     {text}", timestamp());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, aiowebsocket::Error>(tx)
    });

    let receiver = tokio::spawn(async move {
        for _ in 0..rounds {
            let text = next_message_split(&mut rx).await?;
            println!("{}-Receiver received: {text}", timestamp());
        }
        Ok::<_, Report>(rx)
    });

    let mut tx = sender.await??;
    let mut rx = receiver.await??;
    tx.close(CloseCode::NORMAL, "done").await?;
    // The receiving half sees the server's close frame, then the end.
    while let Some(msg) = rx.recv().await {
        if let Message::Close(frame) = msg? {
            println!("{}", describe_close(frame.as_ref()));
        }
    }
    Ok(())
}

/// `aiowebsocket_examples::next_message` for the receiving half.
async fn next_message_split<S>(rx: &mut aiowebsocket::WsReceiver<S>) -> Result<String, Report>
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin,
{
    loop {
        match rx.recv().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Binary(data))) => return Ok(format!("<{} bytes>", data.len())),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("the server closed the connection ({frame:?})").into())
            }
            Some(Ok(_)) => {} // ping or pong
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the connection ended".into()),
        }
    }
}
