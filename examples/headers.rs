//! Custom request headers and `Origin`.
//!
//! Without a URL, the embedded server only accepts the Origin `https://aiowebsocket.example`
//! (its request check answers 403 otherwise) and greets with the `X-Token` header it
//! received. The example first connects with a wrong Origin and prints the refusal, then
//! connects with the right Origin and an `X-Token` header and prints the server's greeting.
//!
//! With a URL, it connects once with the given `--origin` and `--header "Name: value"`
//! lines and prints the server's handshake response headers.
//!
//! ```text
//! cargo run --example headers
//! cargo run --example headers -- ws://host:port/ --origin https://me.example \
//!     --header "Authorization: Bearer abc" [--rounds N]
//! ```

use aiowebsocket::{CloseCode, Message};
use aiowebsocket_examples::{describe_close, next_message, timestamp, Cli, EchoServer, Report};

const USAGE: &str =
    "usage: headers [URL] [--origin ORIGIN] [--header \"Name: value\"]... [--rounds N]

Without a URL: shows a server refusing a wrong Origin (403), then accepting the right one
and echoing the X-Token header back. With a URL: connects with the given Origin and headers.";

const ALLOWED_ORIGIN: &str = "https://aiowebsocket.example";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 1, &["origin", "header"])?;
    match cli.url.clone() {
        None => embedded(&cli).await,
        Some(url) => remote(&cli, &url).await,
    }
}

/// The refusal, then the success, against the embedded server.
async fn embedded(cli: &Cli) -> Result<(), Report> {
    let server = EchoServer::new()
        .require_origin(ALLOWED_ORIGIN)
        .start()
        .await?;
    let url = server.url();
    println!("embedded server at {url} accepts only Origin: {ALLOWED_ORIGIN}");

    println!("\n1) connecting with Origin: https://evil.example");
    match aiowebsocket::builder(&url)
        .origin("https://evil.example")
        .connect()
        .await
    {
        Ok(_) => return Err("the server should have refused the wrong Origin".into()),
        Err(e) => println!("   refused, as expected:\n   {e}"),
    }

    println!("\n2) connecting with Origin: {ALLOWED_ORIGIN} and X-Token: s3cret-42");
    let mut ws = aiowebsocket::builder(&url)
        .origin(ALLOWED_ORIGIN)
        .header("X-Token", "s3cret-42")
        .connect()
        .await?;
    let greeting = next_message(&mut ws).await?;
    println!("   accepted; the server's first message: {greeting}");

    exchange(&mut ws, cli.rounds).await?;
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("{}", describe_close(ws.close_frame()));
    Ok(())
}

/// One connection to a server of the user's, with their Origin and headers.
async fn remote(cli: &Cli, url: &str) -> Result<(), Report> {
    let mut builder = aiowebsocket::builder(url);
    for origin in cli.values("origin") {
        builder = builder.origin(origin);
    }
    for line in cli.values("header") {
        builder = builder.raw_header(line);
    }
    let (mut ws, response) = builder.connect_with_response().await?;
    println!("{} {}", response.status(), response.reason());
    for (name, value) in response.headers() {
        println!("{name}: {}", String::from_utf8_lossy(value));
    }
    exchange(&mut ws, cli.rounds).await?;
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("{}", describe_close(ws.close_frame()));
    Ok(())
}

async fn exchange(ws: &mut aiowebsocket::WebSocket, rounds: usize) -> Result<(), Report> {
    for i in 1..=rounds {
        let text = format!("hello #{i} with custom headers");
        ws.send(Message::text(text.clone())).await?;
        println!("{}-Client send: {text}", timestamp());
        let reply = next_message(ws).await?;
        println!("{}-Client receive: {reply}", timestamp());
    }
    Ok(())
}
