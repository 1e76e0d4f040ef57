//! Happy Eyeballs on real loopback sockets: a name whose first address drops SYNs (a
//! listener whose accept queue is full) opens through its second address after the 250 ms
//! stagger, not after the connect timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use ws_client::rt::{BoxFuture, Runtime, Timer};
use ws_client::{ConnectOptions, Error, Message, ServerOptions};
use ws_tokio::TokioRuntime;

/// The tokio runtime, with a "DNS" that answers `addrs` for every name.
struct FixedDns {
    inner: TokioRuntime,
    addrs: Vec<IpAddr>,
}

impl Runtime for FixedDns {
    type Tcp = <TokioRuntime as Runtime>::Tcp;
    type Stream = <TokioRuntime as Runtime>::Stream;

    fn connect_tcp<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Self::Tcp>> {
        self.inner.connect_tcp(host, port)
    }

    fn resolve<'a>(&'a self, _host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let addrs = self.addrs.clone();
        Box::pin(async move { Ok(addrs) })
    }

    fn plain(&self, tcp: Self::Tcp) -> Self::Stream {
        self.inner.plain(tcp)
    }

    fn tls<'a>(
        &'a self,
        domain: &'a str,
        tcp: Self::Tcp,
    ) -> BoxFuture<'a, Result<Self::Stream, Error>> {
        self.inner.tls(domain, tcp)
    }

    fn timer(&self) -> Arc<dyn Timer> {
        self.inner.timer()
    }
}

/// A WebSocket echo server on `127.0.0.1`; returns its port.
async fn echo_server() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = ws_tokio::accept(tcp, &ServerOptions::new()).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.recv().await {
                    if m.is_data() && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A listener on `addr` that never accepts, its accept queue filled so that the kernel
/// drops further SYNs: connecting to it hangs like connecting to a dead address. Returns
/// the listener and the connections that fill it (all to be kept alive).
async fn blackhole(addr: SocketAddr) -> (tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(addr).unwrap();
    let listener = socket.listen(0).unwrap();
    let mut fill = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => fill.push(tcp),
            Ok(Err(e)) => panic!("filling the blackhole's accept queue: {e}"),
            // A SYN went unanswered: the queue is full.
            Err(_) => return (listener, fill),
        }
    }
    panic!("the accept queue of a listen(0) socket never filled up");
}

#[tokio::test]
async fn dead_first_address_opens_through_the_second_well_within_the_timeout() {
    let port = echo_server().await;
    let dead = Ipv4Addr::new(127, 0, 0, 2);
    let _blackhole = blackhole(SocketAddr::from((dead, port))).await;
    let rt = FixedDns {
        inner: TokioRuntime::new(),
        addrs: vec![dead.into(), Ipv4Addr::LOCALHOST.into()],
    };
    let opts = ConnectOptions::new(format!("ws://dual.test:{port}/"))
        .no_keepalive()
        .connect_timeout(Some(Duration::from_secs(5)));
    let start = Instant::now();
    let (mut ws, _) = ws_client::connect::connect(&rt, &opts).await.unwrap();
    let took = start.elapsed();
    eprintln!("opened through the second address in {took:?}");
    assert!(
        took >= Duration::from_millis(240),
        "the stagger was skipped: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} with a 5 s connect timeout"
    );
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
}

#[tokio::test]
async fn connect_timeout_bounds_a_race_where_every_address_hangs() {
    let port = echo_server().await; // only to pick a port; it listens on 127.0.0.1
    let dead = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];
    let _holes = [
        blackhole(SocketAddr::from((dead[0], port))).await,
        blackhole(SocketAddr::from((dead[1], port))).await,
    ];
    let rt = FixedDns {
        inner: TokioRuntime::new(),
        addrs: dead.iter().map(|&ip| ip.into()).collect(),
    };
    let opts = ConnectOptions::new(format!("ws://dead.test:{port}/"))
        .connect_timeout(Some(Duration::from_secs(1)));
    let start = Instant::now();
    let e = ws_client::connect::connect(&rt, &opts).await.unwrap_err();
    let took = start.elapsed();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.target(), Some(format!("dead.test:{port}").as_str()));
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn every_address_refusing_is_named_in_the_error() {
    // Nothing listens on 127.0.0.2 and 127.0.0.3 on the echo server's port.
    let port = echo_server().await;
    let rt = FixedDns {
        inner: TokioRuntime::new(),
        addrs: vec![
            Ipv4Addr::new(127, 0, 0, 2).into(),
            Ipv4Addr::new(127, 0, 0, 3).into(),
        ],
    };
    let opts = ConnectOptions::new(format!("ws://refused.test:{port}/"))
        .connect_timeout(Some(Duration::from_secs(5)));
    let e = ws_client::connect::connect(&rt, &opts).await.unwrap_err();
    let text = e.to_string();
    let expected =
        format!("TCP connect to refused.test:{port} failed on all 2 addresses (127.0.0.2:{port}: ");
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.contains(&format!("; 127.0.0.3:{port}: ")), "{text}");
    assert!(
        text.contains("is a server listening on that port?"),
        "{text}"
    );
    match e {
        Error::Io(io) => assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused),
        other => panic!("{other:?}"),
    }
}
