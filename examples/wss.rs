//! Echo over TLS (`wss://`).
//!
//! Without a URL, the embedded server gets a self-signed certificate generated at run time
//! (rcgen) and serves it through native-tls; the client trusts exactly that certificate
//! through a custom `native_tls::TlsConnector` given to `aiowebsocket::builder`. With a URL,
//! the system's trust roots are used, plus `--ca FILE.pem` if given.
//!
//! ```text
//! cargo run --example wss
//! cargo run --example wss -- wss://host:port/path [--ca my-ca.pem] [--rounds N]
//! ```
//!
//! Times are UTC.

use aiowebsocket::native_tls::{Certificate, TlsConnector};
use aiowebsocket::{CloseCode, Message};
use aiowebsocket_examples::{
    describe_close, next_message, timestamp, Cli, EchoServer, Report, SelfSigned,
};

const USAGE: &str = "usage: wss [wss://URL] [--ca FILE.pem] [--rounds N]

Echo over TLS. Without a URL it starts a TLS echo server on 127.0.0.1 with a certificate
generated now, and trusts that certificate. --ca adds a PEM root certificate to trust.";

const MESSAGE: &str = "AioWebSocket - Async WebSocket Client, over TLS";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 5, &["ca"])?;

    // The connector: trusting the generated certificate, or `--ca`, or nothing extra.
    let mut _server = None;
    let (url, connector) = match cli.url.clone() {
        None => {
            let cert = SelfSigned::generate()?;
            let connector = cert.connector()?;
            let server = EchoServer::new().tls(cert).start().await?;
            let url = server.url();
            _server = Some(server);
            println!("embedded TLS server with a certificate generated at run time");
            (url, Some(connector))
        }
        Some(url) => {
            let mut builder = TlsConnector::builder();
            for path in cli.values("ca") {
                let pem = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
                builder.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            (url, Some(builder.build()?))
        }
    };
    println!("connecting to {url}");

    let mut builder = aiowebsocket::builder(&url);
    if let Some(connector) = connector {
        builder = builder.tls_connector(connector);
    }
    let mut ws = builder.connect().await?;
    println!(
        "TLS: {}",
        if ws.get_ref().is_tls() {
            "yes"
        } else {
            "no (ws:// URL)"
        }
    );

    for _ in 0..cli.rounds {
        ws.send(Message::text(MESSAGE)).await?;
        println!("{}-Client send: {MESSAGE}", timestamp());
        let reply = next_message(&mut ws).await?;
        println!("{}-Client receive: {reply}", timestamp());
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("{}", describe_close(ws.close_frame()));
    Ok(())
}
