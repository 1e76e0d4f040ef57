//! Test proxies on loopback, on the servers' runtime: a minimal HTTP `CONNECT` proxy and a
//! minimal SOCKS5 proxy, both recording what they were asked.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::servers::listen;

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
pub fn http_proxy(config: HttpProxyConfig) -> (SocketAddr, Arc<Mutex<Vec<ConnectSeen>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    let addr = listen(move |client| {
        let (config, seen) = (config.clone(), Arc::clone(&seen));
        async move {
            let _ = serve_http_proxy(client, config, seen).await;
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
    seen.lock().expect("log").push(ConnectSeen {
        target: target.clone(),
        auth: auth.clone(),
    });
    if let Some((user, pass)) = &config.credentials {
        let expected = format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()));
        if auth.as_deref() != Some(expected.as_str()) {
            let refusal = "HTTP/1.1 407 Proxy Authentication Required\r\n\
                           Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n";
            return client.write_all(refusal.as_bytes()).await;
        }
    }
    if config.forbidden.contains(&target) {
        let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        return client.write_all(refusal.as_bytes()).await;
    }
    let Ok(mut upstream) = TcpStream::connect(target.as_str()).await else {
        let refusal = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
        return client.write_all(refusal.as_bytes()).await;
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
fn base64(data: &[u8]) -> String {
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
pub fn socks5_proxy(
    credentials: Option<(String, String)>,
) -> (SocketAddr, Arc<Mutex<Vec<SocksTarget>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    let addr = listen(move |client| {
        let (credentials, seen) = (credentials.clone(), Arc::clone(&seen));
        async move {
            let _ = serve_socks5(client, credentials, seen).await;
        }
    });
    (addr, log)
}

/// Reads a byte giving a length, then that many bytes.
async fn read_counted(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = client.read_u8().await?;
    let mut bytes = vec![0u8; usize::from(len)];
    client.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn serve_socks5(
    mut client: TcpStream,
    credentials: Option<(String, String)>,
    seen: Arc<Mutex<Vec<SocksTarget>>>,
) -> std::io::Result<()> {
    assert_eq!(client.read_u8().await?, 5, "SOCKS version");
    let methods = read_counted(&mut client).await?;
    let method = if credentials.is_some() { 2 } else { 0 };
    if !methods.contains(&method) {
        return client.write_all(&[5, 0xFF]).await;
    }
    client.write_all(&[5, method]).await?;
    if let Some((user, pass)) = &credentials {
        assert_eq!(client.read_u8().await?, 1, "auth sub-negotiation version");
        let u = read_counted(&mut client).await?;
        let p = read_counted(&mut client).await?;
        if u != user.as_bytes() || p != pass.as_bytes() {
            return client.write_all(&[1, 1]).await;
        }
        client.write_all(&[1, 0]).await?;
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
        3 => Ok(String::from_utf8(read_counted(&mut client).await?).expect("a name")),
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a).await?;
            Err(IpAddr::from(a))
        }
        other => panic!("address type {other}"),
    };
    let port = client.read_u16().await?;
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
    seen.lock().expect("log").push(target);
    let Ok(mut upstream) = upstream else {
        return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
