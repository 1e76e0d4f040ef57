//! Through a proxy: HTTP `CONNECT`, SOCKS5 or SOCKS5h.
//!
//! Without arguments it starts an echo server and an HTTP `CONNECT` proxy on 127.0.0.1 and
//! talks to the server through the proxy twice: over `ws://`, then over `wss://` (TLS runs
//! end to end inside the tunnel, checked against the server's name; the proxy only sees
//! `CONNECT localhost:PORT`).
//!
//! ```text
//! cargo run --example proxy
//! cargo run --example proxy -- wss://host/path --proxy http://user:pass@proxy:3128
//! cargo run --example proxy -- ws://host/path --proxy socks5h://127.0.0.1:1080
//! cargo run --example proxy -- wss://host/path           # proxy from https_proxy / NO_PROXY
//! ```

use aiowebsocket::{CloseCode, Message};
use aiowebsocket_examples::{
    describe_close, next_message, timestamp, Cli, ConnectProxy, EchoServer, Pki, Report,
};

const USAGE: &str = "usage: proxy [URL] [--proxy PROXY_URL] [--rounds N]

Echo through a proxy. PROXY_URL is http://[user:pass@]host:port, socks5://... or
socks5h://...; without --proxy the proxy comes from the environment (https_proxy,
http_proxy, all_proxy, no_proxy). Without a URL it starts an echo server and a CONNECT
proxy on 127.0.0.1 and goes through it over ws:// and wss://.";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 3, &["proxy"])?;
    let proxy = cli.values("proxy").last().map(str::to_owned);
    match cli.url.clone() {
        Some(url) => {
            let builder = aiowebsocket::builder(&url);
            let builder = match &proxy {
                Some(proxy) => {
                    println!("connecting to {url} through {proxy}");
                    builder.proxy_url(proxy)
                }
                None => {
                    println!("connecting to {url}, proxy from the environment");
                    builder.proxy_from_env()
                }
            };
            echo(builder, cli.rounds).await?;
        }
        None => {
            // The embedded proxy (if any) lives until the end of this block.
            let (embedded, proxy) = match proxy {
                Some(proxy) => (None, proxy),
                None => {
                    let embedded = ConnectProxy::start().await?;
                    let url = embedded.url();
                    (Some(embedded), url)
                }
            };
            println!("embedded echo servers; proxy {proxy}");

            let plain = EchoServer::new().start().await?;
            println!("\n== ws:// through the proxy: {}", plain.url());
            echo(
                aiowebsocket::builder(plain.url()).proxy_url(&proxy),
                cli.rounds,
            )
            .await?;

            let pki = Pki::generate()?;
            let connector = pki.native_tls_connector(false)?;
            let secure = EchoServer::new().tls(pki).start().await?;
            println!("\n== wss:// through the proxy: {}", secure.url());
            let builder = aiowebsocket::builder(secure.url())
                .proxy_url(&proxy)
                .tls_connector(connector);
            echo(builder, cli.rounds).await?;

            if let Some(embedded) = embedded {
                println!(
                    "\nthe proxy was asked for: {}",
                    embedded.targets().join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Connects, exchanges `rounds` messages, closes.
async fn echo(builder: aiowebsocket::ClientBuilder, rounds: usize) -> Result<(), Report> {
    let mut ws = builder.connect().await?;
    println!(
        "connected ({})",
        if ws.get_ref().is_tls() {
            "TLS to the server, inside the tunnel"
        } else {
            "plain"
        }
    );
    for i in 1..=rounds {
        let text = format!("message {i} through the proxy");
        ws.send(Message::text(text.clone())).await?;
        println!("{}-Client send: {text}", timestamp());
        let reply = next_message(&mut ws).await?;
        println!("{}-Client receive: {reply}", timestamp());
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("{}", describe_close(ws.close_frame()));
    Ok(())
}
