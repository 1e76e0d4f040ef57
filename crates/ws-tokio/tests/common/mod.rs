//! Loopback helpers for the proxy, redirect and reconnect tests: a minimal HTTP `CONNECT`
//! proxy, a minimal SOCKS5 proxy (both recording what they were asked), and a scripted
//! WebSocket server that redirects, refuses or accepts by path.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_client::stream::WebSocket;
use ws_client::{Config, Role};
use ws_handshake::{Limits, RequestParser};
use ws_tokio::TokioIo;

/// What an HTTP proxy was asked: the `CONNECT` target and the `Proxy-Authorization` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSeen {
    pub target: String,
    pub auth: Option<String>,
}

/// How the HTTP proxy behaves.
#[derive(Clone, Default)]
pub struct HttpProxyConfig {
    /// Required `user:password` (Basic); anything else gets 407.
    pub credentials: Option<(String, String)>,
    /// Targets (`host:port`) answered with 403.
    pub forbidden: Vec<String>,
    /// Bytes written right after the 200 answer, before tunnelling.
    pub trailing: Vec<u8>,
}

/// A minimal HTTP `CONNECT` proxy on 127.0.0.1. Returns its address and the log.
pub async fn http_proxy(config: HttpProxyConfig) -> (SocketAddr, Arc<Mutex<Vec<ConnectSeen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let config = config.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let _ = serve_http_proxy(client, config, seen).await;
            });
        }
    });
    (addr, log)
}

async fn serve_http_proxy(
    mut client: TcpStream,
    config: HttpProxyConfig,
    seen: Arc<Mutex<Vec<ConnectSeen>>>,
) -> std::io::Result<()> {
    let (head, after) = read_head(&mut client).await?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    assert_eq!(parts.next(), Some("CONNECT"), "{request_line}");
    let target = parts.next().unwrap_or_default().to_owned();
    let auth = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    seen.lock().unwrap().push(ConnectSeen {
        target: target.clone(),
        auth: auth.clone(),
    });
    if let Some((user, pass)) = &config.credentials {
        let expected = format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()));
        if auth.as_deref() != Some(expected.as_str()) {
            client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    }
    if config.forbidden.contains(&target) {
        client
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let mut upstream = match TcpStream::connect(target.as_str()).await {
        Ok(s) => s,
        Err(_) => {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    let mut answer = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
    answer.extend_from_slice(&config.trailing);
    client.write_all(&answer).await?;
    upstream.write_all(&after).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Reads an HTTP head (up to 16 KiB); returns it and the bytes after it.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok((head, buf[end + 4..].to_vec()));
        }
        assert!(buf.len() < 16 << 10, "head too large");
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Standard base64 with padding (the tests have no base64 crate).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The target a SOCKS5 proxy was asked for, as sent (a name or an address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocksTarget {
    Domain(String, u16),
    Ip(IpAddr, u16),
}

/// A minimal SOCKS5 proxy (RFC 1928, CONNECT only) on 127.0.0.1, with user name/password
/// authentication (RFC 1929) when `credentials` is given. Returns its address and the log.
pub async fn socks5_proxy(
    credentials: Option<(String, String)>,
) -> (SocketAddr, Arc<Mutex<Vec<SocksTarget>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let credentials = credentials.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let _ = serve_socks5(client, credentials, seen).await;
            });
        }
    });
    (addr, log)
}

async fn serve_socks5(
    mut client: TcpStream,
    credentials: Option<(String, String)>,
    seen: Arc<Mutex<Vec<SocksTarget>>>,
) -> std::io::Result<()> {
    let mut hello = [0u8; 2];
    client.read_exact(&mut hello).await?;
    assert_eq!(hello[0], 5);
    let mut methods = vec![0u8; usize::from(hello[1])];
    client.read_exact(&mut methods).await?;
    match &credentials {
        Some((user, pass)) => {
            if !methods.contains(&2) {
                client.write_all(&[5, 0xFF]).await?;
                return Ok(());
            }
            client.write_all(&[5, 2]).await?;
            let mut ver_len = [0u8; 2];
            client.read_exact(&mut ver_len).await?;
            let mut u = vec![0u8; usize::from(ver_len[1])];
            client.read_exact(&mut u).await?;
            let mut plen = [0u8; 1];
            client.read_exact(&mut plen).await?;
            let mut p = vec![0u8; usize::from(plen[0])];
            client.read_exact(&mut p).await?;
            if u != user.as_bytes() || p != pass.as_bytes() {
                client.write_all(&[1, 1]).await?;
                return Ok(());
            }
            client.write_all(&[1, 0]).await?;
        }
        None => {
            if !methods.contains(&0) {
                client.write_all(&[5, 0xFF]).await?;
                return Ok(());
            }
            client.write_all(&[5, 0]).await?;
        }
    }
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    assert_eq!(&req[..3], &[5, 1, 0], "a CONNECT request");
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a).await?;
            Err(IpAddr::from(a))
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            Ok(String::from_utf8(name).unwrap())
        }
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a).await?;
            Err(IpAddr::from(a))
        }
        other => panic!("address type {other}"),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    let (target, upstream) = match host {
        Ok(name) => (
            SocksTarget::Domain(name.clone(), port),
            TcpStream::connect((name.as_str(), port)).await,
        ),
        Err(ip) => (
            SocksTarget::Ip(ip, port),
            TcpStream::connect((ip, port)).await,
        ),
    };
    seen.lock().unwrap().push(target);
    let mut upstream = match upstream {
        Ok(s) => s,
        Err(_) => {
            client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// A request the scripted server received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The `Host` header.
    pub host: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted server answers to a request.
pub enum Answer {
    /// `status` with this `Location`.
    Redirect(u16, String),
    /// Accepts the upgrade and echoes.
    Accept,
}

/// A WebSocket server that answers each request as `route(path, its own address)` says and
/// records every request; TLS when `tls` is given.
#[cfg(feature = "native-tls")]
pub async fn scripted_server<F>(
    tls: Option<tokio_native_tls::TlsAcceptor>,
    route: F,
) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>)
where
    F: Fn(&str, SocketAddr) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    let route = Arc::new(move |path: &str| route(path, addr));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            let route = Arc::clone(&route);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            let _ = serve_scripted(stream, &*route, seen).await;
                        }
                    }
                    None => {
                        let _ = serve_scripted(tcp, &*route, seen).await;
                    }
                }
            });
        }
    });
    (addr, log)
}

async fn serve_scripted<S>(
    mut stream: S,
    route: &(dyn Fn(&str) -> Answer + Send + Sync),
    seen: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = [0u8; 4096];
    let request = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if let Some(request) = parser.feed(&buf[..n]).unwrap() {
            break request;
        }
    };
    let headers = request
        .headers()
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    seen.lock().unwrap().push(Seen {
        host: request.header("host").unwrap_or_default().to_owned(),
        path: request.path().to_owned(),
        headers,
    });
    match route(request.path()) {
        Answer::Redirect(status, location) => {
            let answer = format!(
                "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await?;
        }
        Answer::Accept => {
            request.validate().unwrap();
            stream.write_all(&request.accept(None, None)).await?;
            let mut ws =
                WebSocket::from_raw(TokioIo::new(stream), Role::Server, Config::default(), None);
            while let Some(Ok(msg)) = ws.recv().await {
                if msg.is_data() && ws.send(msg).await.is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// What the flaky server saw: the messages of each accepted connection, in order, and how
/// many handshakes it answered (refused ones included).
#[derive(Clone, Debug, Default)]
pub struct FlakyLog {
    pub handshakes: usize,
    pub connections: Vec<Vec<String>>,
}

/// How the flaky server behaves.
#[derive(Clone, Debug, Default)]
pub struct FlakyConfig {
    /// Ends each connection after echoing this many messages (0: right after the welcome).
    /// Odd connections (1st, 3rd, ...) are dropped without a close frame, even ones closed
    /// with 1001 "restart".
    pub drop_every: usize,
    /// From this handshake on (1-based), answers 403.
    pub refuse_from: Option<usize>,
    /// Stops listening after this many accepted connections (later connects are refused).
    pub max_connections: Option<usize>,
}

/// A WebSocket server (our server role) that greets every connection with `welcome N` at
/// once, records `subscribe` messages, echoes the others, and ends the connection after
/// `drop_every` echoes.
pub async fn flaky_server(config: FlakyConfig) -> (SocketAddr, Arc<Mutex<FlakyLog>>) {
    use ws_client::options::ServerOptions;
    use ws_client::{CloseCode, Message};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(FlakyLog::default()));
    let shared = Arc::clone(&log);
    tokio::spawn(async move {
        let mut accepted = 0;
        while !matches!(config.max_connections, Some(max) if accepted >= max) {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let check_log = Arc::clone(&shared);
            let refuse_from = config.refuse_from;
            let options = ServerOptions::new().no_keepalive().check(move |_| {
                let mut log = check_log.lock().unwrap();
                log.handshakes += 1;
                match refuse_from {
                    Some(from) if log.handshakes >= from => Err((403, "go away".into())),
                    _ => Ok(()),
                }
            });
            let Ok(mut ws) = ws_tokio::accept(tcp, &options).await else {
                continue;
            };
            accepted += 1;
            let k = {
                let mut log = shared.lock().unwrap();
                log.connections.push(Vec::new());
                log.connections.len()
            };
            let log = Arc::clone(&shared);
            let drop_every = config.drop_every;
            tokio::spawn(async move {
                if ws
                    .send(Message::text(format!("welcome {k}")))
                    .await
                    .is_err()
                {
                    return;
                }
                let mut echoed = 0;
                while echoed < drop_every {
                    let Some(Ok(msg)) = ws.recv().await else {
                        return;
                    };
                    let Some(text) = msg.as_text() else { continue };
                    log.lock().unwrap().connections[k - 1].push(text.to_owned());
                    if text != "subscribe" {
                        if ws.send(msg).await.is_err() {
                            return;
                        }
                        echoed += 1;
                    }
                }
                if k % 2 == 1 {
                    drop(ws); // abrupt: no close frame
                } else {
                    let _ = ws.close(CloseCode::GOING_AWAY, "restart").await;
                }
            });
        }
    });
    (addr, log)
}
