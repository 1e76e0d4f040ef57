//! Loopback servers and certificates for the ws-tokio integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_client::options::ServerOptions;
use ws_client::Message;

/// A self-signed certificate for `localhost` and `127.0.0.1`, generated at run time.
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCert {
    pub fn generate() -> TestCert {
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("generate certificate");
        TestCert {
            cert_pem: ck.cert.pem(),
            key_pem: ck.signing_key.serialize_pem(),
        }
    }

    pub fn acceptor(&self) -> tokio_native_tls::TlsAcceptor {
        let identity =
            native_tls::Identity::from_pkcs8(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
                .expect("identity");
        native_tls::TlsAcceptor::new(identity)
            .expect("acceptor")
            .into()
    }

    /// A client connector that trusts this certificate.
    pub fn connector(&self) -> native_tls::TlsConnector {
        let cert = native_tls::Certificate::from_pem(self.cert_pem.as_bytes()).expect("cert");
        native_tls::TlsConnector::builder()
            .add_root_certificate(cert)
            .build()
            .expect("connector")
    }
}

/// Echoes every data message back until the client closes.
async fn echo<S>(mut ws: ws_client::stream::WebSocket<S>)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_data() && ws.send(msg).await.is_err() {
            break;
        }
    }
}

/// A WebSocket echo server (our server role) on 127.0.0.1; TLS when `tls` is given.
pub async fn echo_server(
    options: ServerOptions,
    tls: Option<tokio_native_tls::TlsAcceptor>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let options = options.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            if let Ok(ws) = ws_tokio::accept(stream, &options).await {
                                echo(ws).await;
                            }
                        }
                    }
                    None => {
                        if let Ok(ws) = ws_tokio::accept(tcp, &options).await {
                            echo(ws).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A TCP server that accepts connections and never sends a byte (it keeps them open).
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// What a raw server does after its (hand-written) 101 response.
#[derive(Clone)]
pub enum RawScript {
    /// Writes these bytes, then reads and discards everything without ever answering
    /// (no pong, no close) and without closing TCP.
    WriteThenIgnore(Vec<u8>),
}

/// A hand-written server: completes the opening handshake itself (no extensions), then
/// follows `script`. Lets tests send exact frames and misbehave on purpose.
pub async fn raw_server(script: RawScript) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let _ = run_raw(tcp, script).await;
            });
        }
    });
    addr
}

async fn run_raw(mut tcp: TcpStream, script: RawScript) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws_handshake::accept_key(key.as_bytes())
    );
    tcp.write_all(response.as_bytes()).await?;
    match script {
        RawScript::WriteThenIgnore(bytes) => {
            tcp.write_all(&bytes).await?;
            loop {
                if tcp.read(&mut buf).await? == 0 {
                    // Keep our side open: only the client's own timeouts may end this.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// An unmasked server frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![(u8::from(fin) << 7) | opcode, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

/// `len` bytes that do not compress (xorshift).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Sends `msg` and expects it back unchanged (skipping pongs of keepalive pings).
pub async fn round_trip(ws: &mut ws_tokio::WebSocket, msg: Message) {
    ws.send(msg.clone()).await.expect("send");
    let echoed = loop {
        let reply = ws.recv().await.expect("a reply").expect("no error");
        if !reply.is_pong() {
            break reply;
        }
    };
    assert_eq!(echoed, msg);
}
