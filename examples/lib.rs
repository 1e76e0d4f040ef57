//! Shared code of the aiowebsocket examples: the embedded local server (our server role,
//! plain or TLS, with an optional Origin check), a private PKI made at run time,
//! timestamps, argument parsing and error reporting.
//!
//! Every example talks to the URL given on its command line, or, with none, starts an
//! [`EchoServer`] on `127.0.0.1:0` and talks to that, so it runs offline.

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aiowebsocket::native_tls;
use aiowebsocket::{CloseCode, Message, ServerOptions, WebSocketStream};
use time::macros::format_description;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Any error, boxed.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error type of the examples' `main`: `?` converts any error into it, and when `main`
/// returns it the message and its causes are printed as sentences, not as a debug dump.
pub struct Report(BoxError);

impl<E: Into<BoxError>> From<E> for Report {
    fn from(e: E) -> Self {
        Report(e.into())
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            // Skip causes whose text the message above already contains.
            if !self.0.to_string().contains(&cause.to_string()) {
                write!(f, "\n  caused by: {cause}")?;
            }
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The current time as `YYYY-MM-DD HH:MM:SS`, in UTC.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC). Past the year 9999,
/// which `time` does not represent, the bare number of seconds.
pub fn format_utc(secs: u64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    i64::try_from(secs)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|time| time.format(format).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// The command line every example understands: `[URL] [--rounds N]`, plus the options
/// `extra` names (each `--name VALUE`, repeatable).
#[derive(Debug, Default)]
pub struct Cli {
    /// The server to talk to; `None` starts the embedded server.
    pub url: Option<String>,
    /// How many messages to exchange.
    pub rounds: usize,
    /// The `--name VALUE` options listed in `extra`, in order.
    pub options: Vec<(String, String)>,
}

impl Cli {
    /// Parses `std::env::args()`. `usage` is printed for `--help` and after a mistake.
    pub fn parse(usage: &str, default_rounds: usize, extra: &[&str]) -> Result<Cli, Report> {
        Self::parse_from(std::env::args().skip(1), usage, default_rounds, extra)
    }

    /// Parses `args` (without the program name).
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        default_rounds: usize,
        extra: &[&str],
    ) -> Result<Cli, Report> {
        let mut cli = Cli {
            rounds: default_rounds,
            ..Cli::default()
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => {
                    println!("{usage}");
                    std::process::exit(0);
                }
                "--rounds" => {
                    let value = args.next().ok_or_else(|| missing("--rounds", usage))?;
                    cli.rounds = value.parse().map_err(|_| {
                        format!("--rounds takes a number, not {value:?}\n\n{usage}")
                    })?;
                }
                flag if flag.starts_with("--") && extra.contains(&&flag[2..]) => {
                    let value = args.next().ok_or_else(|| missing(flag, usage))?;
                    cli.options.push((flag[2..].to_owned(), value));
                }
                flag if flag.starts_with('-') => {
                    return Err(format!("unknown option {flag}\n\n{usage}").into());
                }
                url if cli.url.is_none() => cli.url = Some(url.to_owned()),
                extra_arg => {
                    return Err(format!("unexpected argument {extra_arg:?}\n\n{usage}").into())
                }
            }
        }
        Ok(cli)
    }

    /// The values given for `--name`, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.options
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn missing(flag: &str, usage: &str) -> String {
    format!("{flag} needs a value\n\n{usage}")
}

/// Sends `message` `rounds` times, printing each send and each reply with a timestamp, then
/// closes with 1000 and prints how the server answered: the examples' echo loop.
pub async fn echo_rounds<S>(
    ws: &mut WebSocketStream<S>,
    message: &str,
    rounds: usize,
) -> Result<(), Report>
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin,
{
    for _ in 0..rounds {
        ws.send(Message::text(message.to_owned())).await?;
        println!("{}-Client send: {message}", timestamp());
        let reply = next_message(ws).await?;
        println!("{}-Client receive: {reply}", timestamp());
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("{}", describe_close(ws.close_frame()));
    Ok(())
}

/// Receives until the next text or binary message (pings and pongs are answered and
/// skipped), and describes it for printing.
///
/// # Errors
/// When the connection fails, or when it ends (the server closed it) before a message.
pub async fn next_message<S>(ws: &mut WebSocketStream<S>) -> Result<String, Report>
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin,
{
    loop {
        match ws.recv().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Binary(data))) => return Ok(format!("<{} bytes>", data.len())),
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or_else(|| "no close code".to_owned(), |f| f.to_string());
                return Err(format!("the server closed the connection ({why})").into());
            }
            Some(Ok(_)) => {} // ping or pong
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the connection ended".into()),
        }
    }
}

/// Says how a connection closed, for the last line of an example.
pub fn describe_close(close: Option<&aiowebsocket::CloseFrame>) -> String {
    match close {
        Some(frame) if frame.code == CloseCode::NORMAL => {
            format!("closed cleanly: the server answered {frame}")
        }
        Some(frame) => format!("closed: the server answered {frame}"),
        None => "closed without the server's close frame (it did not answer in time)".to_owned(),
    }
}

/// A private PKI generated at run time with rcgen (nothing is read from or written to
/// disk): a root CA, a server certificate for `localhost` and `127.0.0.1` and a client
/// certificate, both signed by that CA.
#[derive(Clone)]
pub struct Pki {
    /// The root CA certificate, PEM: what a client (or a server checking clients) trusts.
    pub ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    /// The client certificate, PEM (mutual TLS).
    pub client_cert_pem: String,
    /// The client certificate's private key, PKCS#8 PEM.
    pub client_key_pem: String,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// Generates the CA and both certificates.
    pub fn generate() -> Result<Pki, BoxError> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "aiowebsocket example CA");
        let ca_key = KeyPair::generate()?;
        let ca_pem = ca_params.self_signed(&ca_key)?.pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>| -> Result<(String, String), BoxError> {
            let key = KeyPair::generate()?;
            let cert = CertificateParams::new(names)?.signed_by(&key, &issuer)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_cert_pem, server_key_pem) =
            leaf(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        let (client_cert_pem, client_key_pem) = leaf(vec!["example-client".to_owned()])?;
        Ok(Pki {
            ca_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// The server side (rustls): presents the server certificate; with
    /// `require_client_cert`, refuses clients without a certificate signed by the CA.
    pub fn server_config(
        &self,
        require_client_cert: bool,
    ) -> Result<aiowebsocket::rustls::ServerConfig, BoxError> {
        use aiowebsocket::rustls::{self, server::WebPkiClientVerifier};
        let builder = rustls::ServerConfig::builder();
        let builder = if require_client_cert {
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots(&self.ca_pem)?)).build()?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        Ok(builder.with_single_cert(certs(&self.server_cert_pem)?, key(&self.server_key_pem)?)?)
    }

    /// A native-tls client that trusts the CA (on top of the system's roots) and, with
    /// `client_cert`, presents the client certificate: for
    /// `aiowebsocket::builder(..).tls_connector(..)`.
    pub fn native_tls_connector(
        &self,
        client_cert: bool,
    ) -> Result<native_tls::TlsConnector, BoxError> {
        let mut builder = native_tls::TlsConnector::builder();
        builder.add_root_certificate(native_tls::Certificate::from_pem(self.ca_pem.as_bytes())?);
        if client_cert {
            builder.identity(native_tls::Identity::from_pkcs8(
                self.client_cert_pem.as_bytes(),
                self.client_key_pem.as_bytes(),
            )?);
        }
        Ok(builder.build()?)
    }

    /// A rustls client config that trusts only the CA and, with `client_cert`, presents the
    /// client certificate: for `aiowebsocket::builder(..).rustls_config(..)`.
    pub fn rustls_config(
        &self,
        client_cert: bool,
    ) -> Result<Arc<aiowebsocket::rustls::ClientConfig>, BoxError> {
        let builder = aiowebsocket::rustls::ClientConfig::builder()
            .with_root_certificates(roots(&self.ca_pem)?);
        let config = if client_cert {
            builder
                .with_client_auth_cert(certs(&self.client_cert_pem)?, key(&self.client_key_pem)?)?
        } else {
            builder.with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

type CertDer = aiowebsocket::rustls::pki_types::CertificateDer<'static>;
type KeyDer = aiowebsocket::rustls::pki_types::PrivateKeyDer<'static>;

/// The certificates in `pem`.
pub fn certs(pem: &str) -> Result<Vec<CertDer>, BoxError> {
    use aiowebsocket::rustls::pki_types::pem::PemObject;
    Ok(CertDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>()?)
}

/// The private key in `pem`.
pub fn key(pem: &str) -> Result<KeyDer, BoxError> {
    use aiowebsocket::rustls::pki_types::pem::PemObject;
    Ok(KeyDer::from_pem_slice(pem.as_bytes())?)
}

/// A root store holding the certificates in `pem`.
pub fn roots(pem: &str) -> Result<aiowebsocket::rustls::RootCertStore, BoxError> {
    let mut roots = aiowebsocket::rustls::RootCertStore::empty();
    for cert in certs(pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// How the embedded server behaves. It echoes every text and binary message back; the
/// options add TLS and an Origin check.
///
/// If the opening request carries an `X-Token` header, the server's first message is
/// `X-Token: <value>` (the `headers` example shows custom headers arriving).
#[derive(Clone, Debug, Default)]
pub struct EchoServer {
    tls: Option<(Pki, bool)>,
    origin: Option<String>,
}

impl EchoServer {
    /// A plain `ws://` echo server accepting any Origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `wss://` with the PKI's server certificate (rustls).
    pub fn tls(mut self, pki: Pki) -> Self {
        self.tls = Some((pki, false));
        self
    }

    /// Serves `wss://` and requires a client certificate signed by the PKI's CA.
    pub fn mutual_tls(mut self, pki: Pki) -> Self {
        self.tls = Some((pki, true));
        self
    }

    /// Refuses (HTTP 403) every request whose `Origin` is not exactly `origin`.
    pub fn require_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Binds `127.0.0.1:0` and serves connections on the current tokio runtime until the
    /// returned handle is dropped.
    pub async fn start(self) -> Result<RunningServer, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = match &self.tls {
            Some((pki, mutual)) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                pki.server_config(*mutual)?,
            ))),
            None => None,
        };
        let origin = self.origin.map(Arc::<str>::from);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("[server] accept failed: {e}");
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let origin = origin.clone();
                tokio::spawn(async move {
                    let result = match acceptor {
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(tls) => serve(tls, origin).await,
                            Err(e) => Err(format!("TLS handshake failed: {e}").into()),
                        },
                        None => serve(tcp, origin).await,
                    };
                    if let Err(e) = result {
                        eprintln!("[server] connection from {peer}: {e}");
                    }
                });
            }
        });
        Ok(RunningServer {
            addr,
            tls: self.tls.is_some(),
            task,
        })
    }
}

/// One connection of the embedded server: handshake (with the Origin check), the optional
/// `X-Token` greeting, then echo until the client closes.
async fn serve<S>(stream: S, origin: Option<Arc<str>>) -> Result<(), BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // What the request check saw: the X-Token header, and why it refused, if it did.
    let seen: Arc<Mutex<(Option<String>, Option<String>)>> = Arc::default();
    let slot = Arc::clone(&seen);
    let options = ServerOptions::new().check(move |request| {
        let token = request.header("x-token").map(str::to_owned);
        let verdict = match (&origin, request.header("origin")) {
            (None, _) => Ok(()),
            (Some(want), Some(got)) if **want == *got => Ok(()),
            (Some(want), got) => Err((
                403,
                format!(
                    "Origin {} is not allowed here; only {want} is",
                    got.unwrap_or("(none)")
                ),
            )),
        };
        if let Ok(mut slot) = slot.lock() {
            *slot = (token, verdict.as_ref().err().map(|(_, why)| why.clone()));
        }
        verdict
    });
    let accepted = aiowebsocket::tokio::accept(stream, &options).await;
    let (token, refusal) = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut ws = match (accepted, refusal) {
        (Ok(ws), _) => ws,
        (Err(_), Some(why)) => return Err(format!("refused with HTTP 403: {why}").into()),
        (Err(e), None) => return Err(e.into()),
    };
    if let Some(value) = token {
        ws.send(Message::text(format!("X-Token: {value}"))).await?;
    }
    while let Some(msg) = ws.recv().await {
        let msg = msg?;
        if msg.is_data() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}

/// The URL to talk to: `url` if one was given, otherwise that of `server`, started now.
/// Keep the returned [`RunningServer`] alive while talking to it.
pub async fn url_or_embedded(
    url: Option<String>,
    server: EchoServer,
) -> Result<(String, Option<RunningServer>), BoxError> {
    match url {
        Some(url) => Ok((url, None)),
        None => {
            let running = server.start().await?;
            Ok((running.url(), Some(running)))
        }
    }
}

/// A started [`EchoServer`]; dropping it stops accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    tls: bool,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The server's address (127.0.0.1 and the port the system chose).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to connect to: `ws://127.0.0.1:PORT/`, or `wss://localhost:PORT/` with TLS
    /// (the certificate names `localhost`).
    pub fn url(&self) -> String {
        if self.tls {
            format!("wss://localhost:{}/", self.addr.port())
        } else {
            format!("ws://{}/", self.addr)
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An embedded HTTP `CONNECT` proxy on `127.0.0.1:0` (no authentication), for the `proxy`
/// example: it opens a TCP connection to whatever `host:port` it is asked for and copies
/// bytes both ways. It sees the target's name and port, never the WebSocket traffic inside a
/// `wss://` tunnel. Every `CONNECT` is printed and recorded.
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl ConnectProxy {
    /// Binds and serves on the current tokio runtime until dropped.
    pub async fn start() -> Result<ConnectProxy, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    if let Err(e) = tunnel(client, log).await {
                        eprintln!("[proxy] {e}");
                    }
                });
            }
        });
        Ok(ConnectProxy { addr, seen, task })
    }

    /// The proxy URL to give the client: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` targets asked for so far.
    pub fn targets(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One proxied connection: read the `CONNECT` head, connect, answer 200 (or 502), copy.
async fn tunnel(
    mut client: tokio::net::TcpStream,
    log: Arc<Mutex<Vec<String>>>,
) -> Result<(), BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if head.len() > 16 << 10 {
            return Err("request head too large".into());
        }
        let n = client.read(&mut buf).await?;
        if n == 0 {
            return Err("the client left before its request was complete".into());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let request = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut words = request.split_whitespace();
    let target = match (words.next(), words.next()) {
        (Some("CONNECT"), Some(target)) => target.to_owned(),
        _ => {
            client
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Err(format!("not a CONNECT request: {request:?}").into());
        }
    };
    println!("[proxy] CONNECT {target}");
    if let Ok(mut seen) = log.lock() {
        seen.push(target.clone());
    }
    let mut upstream = match tokio::net::TcpStream::connect(target.as_str()).await {
        Ok(upstream) => upstream,
        Err(e) => {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Err(format!("cannot reach {target}: {e}").into());
        }
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    upstream.write_all(&head[end + 4..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// An embedded server that drops its clients, for the `reconnect` example: it greets every
/// connection with `welcome N` at once, acknowledges `subscribe ...` with `subscribed N`,
/// echoes other messages, and after `drop_every` echoes ends the connection: closing it
/// with 1012 (service restart) on even connections, cutting TCP without a close frame on
/// odd ones.
#[derive(Debug)]
pub struct FlakyServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FlakyServer {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime until dropped.
    pub async fn start(drop_every: usize) -> Result<FlakyServer, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut n = 0usize;
            while let Ok((tcp, _)) = listener.accept().await {
                n += 1;
                tokio::spawn(async move {
                    if let Err(e) = flaky(tcp, n, drop_every).await {
                        eprintln!("[server] connection {n}: {e}");
                    }
                });
            }
        });
        Ok(FlakyServer { addr, task })
    }

    /// `ws://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for FlakyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn flaky(tcp: tokio::net::TcpStream, n: usize, drop_every: usize) -> Result<(), BoxError> {
    let mut ws = aiowebsocket::tokio::accept(tcp, &ServerOptions::new()).await?;
    ws.send(Message::text(format!("welcome {n}"))).await?;
    let mut echoed = 0;
    while echoed < drop_every {
        let Some(msg) = ws.recv().await else {
            return Ok(());
        };
        match msg? {
            Message::Text(text) if text.starts_with("subscribe") => {
                ws.send(Message::text(format!("subscribed {n}"))).await?;
            }
            msg if msg.is_data() => {
                ws.send(msg).await?;
                echoed += 1;
            }
            _ => {}
        }
    }
    if n % 2 == 1 {
        return Ok(()); // dropped here, without a close frame
    }
    ws.close(CloseCode::SERVICE_RESTART, "restarting").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_709_164_800), "2024-02-29 00:00:00");
        assert_eq!(format_utc(1_741_355_035), "2025-03-07 13:43:55");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31 23:59:59");
    }

    #[test]
    fn parses_the_command_line() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cli = Cli::parse_from(args(&[]), "usage", 5, &[]).unwrap();
        assert_eq!((cli.url, cli.rounds), (None, 5));

        let cli = Cli::parse_from(
            args(&[
                "wss://x.example/",
                "--rounds",
                "2",
                "--header",
                "A: b",
                "--header",
                "C: d",
            ]),
            "usage",
            5,
            &["header"],
        )
        .unwrap();
        assert_eq!(cli.url.as_deref(), Some("wss://x.example/"));
        assert_eq!(cli.rounds, 2);
        assert_eq!(cli.values("header").collect::<Vec<_>>(), ["A: b", "C: d"]);

        let err = Cli::parse_from(args(&["--rounds", "many"]), "usage", 5, &[]).unwrap_err();
        assert!(format!("{err}").contains("--rounds takes a number"));
        let err = Cli::parse_from(args(&["--bogus"]), "usage", 5, &[]).unwrap_err();
        assert!(format!("{err}").contains("unknown option --bogus"));
        let err = Cli::parse_from(args(&["a", "b"]), "usage", 5, &[]).unwrap_err();
        assert!(format!("{err}").contains("unexpected argument"));
    }

    #[test]
    fn report_prints_the_cause_chain_once() {
        let io = std::io::Error::other("inner cause");
        let report = Report::from(io);
        assert_eq!(format!("{report:?}"), "inner cause");
    }
}
