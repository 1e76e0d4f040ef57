//! The suite's loopback servers. They run on one tokio runtime of their own, whatever
//! runtime the client under test uses, so that a test compares runtimes on the client side
//! only: an echo server (our server role, plain or TLS with either library) and servers
//! that stay silent or misbehave on purpose. The proxies are in `proxies`; the tests of
//! one module that need a server of their own write it there, over [`listen`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use aiowebsocket::tokio::TokioIo;
use aiowebsocket::ws_handshake::{Limits, RequestParser};
use aiowebsocket::{native_tls, ServerOptions};
use futures_io::{AsyncRead, AsyncWrite};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A stream a server runs a connection on: TCP, or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A server connection, plain or TLS.
pub type ServerStream = Box<dyn Io>;

/// The runtime every test server runs on.
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-servers")
            .enable_all()
            .build()
            .expect("the servers' runtime")
    })
}

/// Listens on a fresh 127.0.0.1 port and runs `handler` as a task for each connection, up
/// to `max` connections (then the port is closed); returns the address.
pub fn listen_up_to<F, Fut>(max: Option<usize>, handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("addr");
    server_runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let mut accepted = 0;
        while !matches!(max, Some(max) if accepted >= max) {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            accepted += 1;
            tokio::spawn(handler(tcp));
        }
    });
    addr
}

/// [`listen_up_to`] without a limit.
pub fn listen<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    listen_up_to(None, handler)
}

/// The server side of TLS, with either library.
#[derive(Clone)]
pub enum ServerTls {
    Native(native_tls::TlsAcceptor),
    Rustls(futures_rustls::TlsAcceptor),
}

impl ServerTls {
    /// Runs the server handshake over `tcp`; returns the session and the client's
    /// certificate (DER), if it sent one.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<(ServerStream, Option<Vec<u8>>)> {
        let tcp = TokioIo::new(tcp);
        match self {
            ServerTls::Native(acceptor) => {
                let tls = aiowebsocket::ws_client::tls::native::accept(acceptor, tcp)
                    .await
                    .map_err(io::Error::other)?;
                let peer = tls.peer_certificate().ok().flatten();
                let peer = peer.and_then(|c| c.to_der().ok());
                Ok((Box::new(tls), peer))
            }
            ServerTls::Rustls(acceptor) => {
                let tls = acceptor.accept(tcp).await?;
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|c| c.to_vec());
                Ok((Box::new(tls), peer))
            }
        }
    }
}

/// `tcp`, after the TLS handshake when `tls` is given.
pub async fn server_stream(tcp: TcpStream, tls: Option<&ServerTls>) -> io::Result<ServerStream> {
    match tls {
        None => Ok(Box::new(TokioIo::new(tcp))),
        Some(tls) => Ok(tls.accept(tcp).await?.0),
    }
}

pub use crate::runtimes::echo;

/// A WebSocket echo server (our server role, `options`) on 127.0.0.1; TLS when `tls` is
/// given.
pub fn echo_server(options: ServerOptions, tls: Option<ServerTls>) -> SocketAddr {
    echo_server_seeing_certificates(options, tls).0
}

/// The client certificate (DER) of each connection, `None` where it sent none.
pub type CertificateLog = Arc<Mutex<Vec<Option<Vec<u8>>>>>;

/// [`echo_server`], also recording the client certificate of each TLS connection that
/// completed the WebSocket handshake.
pub fn echo_server_seeing_certificates(
    options: ServerOptions,
    tls: Option<ServerTls>,
) -> (SocketAddr, CertificateLog) {
    let log = CertificateLog::default();
    let seen = Arc::clone(&log);
    let addr = listen(move |tcp| {
        let (options, tls, seen) = (options.clone(), tls.clone(), Arc::clone(&seen));
        async move {
            let (stream, peer) = match &tls {
                None => (server_stream(tcp, None).await, None),
                Some(tls) => match tls.accept(tcp).await {
                    Ok((stream, peer)) => (Ok(stream), peer),
                    Err(e) => (Err(e), None),
                },
            };
            let Ok(stream) = stream else { return };
            if let Ok(ws) = aiowebsocket::smol::accept(stream, &options).await {
                seen.lock().expect("log").push(peer);
                echo(ws).await;
            }
        }
    });
    (addr, log)
}

/// A TCP server that accepts connections and never sends a byte (it keeps them open).
pub fn silent_server() -> SocketAddr {
    listen(|tcp| async move {
        let _held = tcp;
        std::future::pending::<()>().await;
    })
}

/// A plain HTTP server that answers anything with `400 Bad Request` (what a ClientHello
/// gets from a server that does not speak TLS).
pub fn plain_http_server() -> SocketAddr {
    listen(|tcp| async move {
        let mut tcp = TokioIo::new(tcp);
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
}

/// Reads an HTTP request head from `stream`: `None` at EOF or on an error.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<aiowebsocket::ws_handshake::Request> {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(request) = parser.feed(&buf[..n]).expect("a valid request") {
            return Some(request);
        }
    }
}

/// A hand-written server: answers the opening handshake itself (no extension), writes
/// `bytes`, then reads and discards everything without ever answering (no pong, no close)
/// and without closing TCP. Lets tests send exact frames and misbehave on purpose.
pub fn raw_server(bytes: Vec<u8>) -> SocketAddr {
    listen(move |tcp| {
        let bytes = bytes.clone();
        async move {
            let mut tcp = TokioIo::new(tcp);
            let Some(request) = read_request(&mut tcp).await else {
                return;
            };
            if tcp.write_all(&request.accept(None, None)).await.is_err()
                || tcp.write_all(&bytes).await.is_err()
            {
                return;
            }
            let mut sink = [0u8; 1024];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
            // Keep our side open: only the client's own timeouts may end this.
            std::future::pending::<()>().await;
        }
    })
}
