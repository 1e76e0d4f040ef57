//! Echo over TLS (`wss://`) with a private root CA and a client certificate, through either
//! TLS library: native-tls (`--tls native-tls`, the platform's library) or rustls
//! (`--tls rustls`, the default here).
//!
//! Without a URL, a private PKI is generated at run time (a root CA, a server certificate
//! and a client certificate, rcgen), and the embedded server requires a client certificate
//! signed by that CA (mutual TLS). The client trusts that CA and presents its certificate:
//! see [`native_tls_client`] and [`rustls_client`], the code to copy for either library.
//! With a URL, the system's roots are trusted, plus `--ca FILE.pem`, and `--cert FILE.pem
//! --key FILE.pem` give a client certificate.
//!
//! ```text
//! cargo run --example wss [-- --tls native-tls]
//! cargo run --example wss -- wss://host:port/path [--tls rustls] [--ca my-ca.pem] \
//!     [--cert client.pem --key client-key.pem] [--rounds N]
//! ```
//!
//! Times are UTC.

use std::sync::Arc;

use aiowebsocket::native_tls;
use aiowebsocket::rustls;
use aiowebsocket::ClientBuilder;
use aiowebsocket_examples::{
    certs, echo_rounds, key, roots, BoxError, Cli, EchoServer, Pki, Report,
};

const USAGE: &str = "usage: wss [wss://URL] [--tls native-tls|rustls] [--ca FILE.pem] \
[--cert FILE.pem --key FILE.pem] [--rounds N]

Echo over TLS. Without a URL it starts a TLS echo server on 127.0.0.1 with a private CA \
generated now, which requires a client certificate; the client trusts that CA and presents \
one. --ca adds a PEM root certificate to trust; --cert and --key give a client certificate.";

const MESSAGE: &str = "AioWebSocket - Async WebSocket Client, over TLS";

/// What the client trusts and presents (PEM).
struct ClientPem {
    ca: Option<String>,
    cert_and_key: Option<(String, String)>,
}

/// native-tls: trust `ca` (on top of the system's roots) and present a client certificate.
fn native_tls_client(b: ClientBuilder, pem: &ClientPem) -> Result<ClientBuilder, BoxError> {
    let mut connector = native_tls::TlsConnector::builder();
    if let Some(ca) = &pem.ca {
        connector.add_root_certificate(native_tls::Certificate::from_pem(ca.as_bytes())?);
    }
    if let Some((cert, key)) = &pem.cert_and_key {
        connector.identity(native_tls::Identity::from_pkcs8(
            cert.as_bytes(),
            key.as_bytes(),
        )?);
    }
    Ok(b.tls_connector(connector.build()?))
}

/// rustls: trust `ca` (else the system's roots, as the default config does) and present a
/// client certificate.
fn rustls_client(b: ClientBuilder, pem: &ClientPem) -> Result<ClientBuilder, BoxError> {
    let config = rustls::ClientConfig::builder();
    let config = match &pem.ca {
        Some(ca) => config.with_root_certificates(roots(ca)?),
        None if pem.cert_and_key.is_none() => return Ok(b), // the default: the OS's roots
        None => return Err("with rustls, give --ca along with --cert".into()),
    };
    let config = match &pem.cert_and_key {
        Some((cert, k)) => config.with_client_auth_cert(certs(cert)?, key(k)?)?,
        None => config.with_no_client_auth(),
    };
    Ok(b.rustls_config(Arc::new(config)))
}

#[tokio::main]
async fn main() -> Result<(), Report> {
    let cli = Cli::parse(USAGE, 5, &["ca", "cert", "key", "tls"])?;
    let library = cli.values("tls").last().unwrap_or("rustls").to_owned();

    let mut _server = None;
    let (url, pem) = match cli.url.clone() {
        None => {
            let pki = Pki::generate()?;
            let server = EchoServer::new().mutual_tls(pki.clone()).start().await?;
            let url = server.url();
            _server = Some(server);
            println!("embedded TLS server: private CA, client certificate required");
            let pem = ClientPem {
                ca: Some(pki.ca_pem),
                cert_and_key: Some((pki.client_cert_pem, pki.client_key_pem)),
            };
            (url, pem)
        }
        Some(url) => {
            let read = |path: &str| {
                std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))
            };
            let ca = cli.values("ca").map(read).collect::<Result<Vec<_>, _>>()?;
            let cert_and_key = match (cli.values("cert").last(), cli.values("key").last()) {
                (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
                (None, None) => None,
                _ => return Err("--cert and --key go together".into()),
            };
            let ca = if ca.is_empty() {
                None
            } else {
                Some(ca.concat())
            };
            (url, ClientPem { ca, cert_and_key })
        }
    };
    println!("connecting to {url} with {library}");

    let builder = aiowebsocket::builder(&url);
    let builder = match library.as_str() {
        "native-tls" => native_tls_client(builder, &pem)?,
        "rustls" => rustls_client(builder, &pem)?,
        other => return Err(format!("unknown TLS library {other:?}\n\n{USAGE}").into()),
    };
    let mut ws = builder.connect().await?;
    match ws.get_ref().tls() {
        Some(tls) => println!(
            "TLS: {} {}",
            tls.backend(),
            tls.protocol_version().unwrap_or_default()
        ),
        None => println!("TLS: no (ws:// URL)"),
    }

    echo_rounds(&mut ws, MESSAGE, cli.rounds).await
}
