//! Happy Eyeballs on real loopback sockets, through each runtime's TCP connect and timer: a
//! name whose first address drops SYNs (a listener whose accept queue is full) opens through
//! its second address after the 250 ms stagger, not after the connect timeout; a race where
//! every address hangs ends at the connect timeout; every address refusing is named.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiowebsocket::ws_client::rt::{BoxFuture, Timer};
use aiowebsocket::{builder, Message, Runtime, ServerOptions};

use crate::runtimes::TestRuntime;
use crate::servers::echo_server;

/// A runtime with a "DNS" that answers `addrs` for every name; TCP and time are `T`'s.
struct FixedDns<T> {
    inner: T,
    addrs: Vec<IpAddr>,
}

impl<T: Runtime> Runtime for FixedDns<T> {
    type Tcp = T::Tcp;

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<T::Tcp>> {
        self.inner.connect_tcp(addr)
    }

    fn resolve(&self, _host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let addrs = self.addrs.clone();
        Box::pin(async move { Ok(addrs) })
    }

    fn timer(&self) -> Arc<dyn Timer> {
        self.inner.timer()
    }
}

fn fixed_dns<R: TestRuntime>(addrs: &[Ipv4Addr]) -> FixedDns<R::Rt> {
    FixedDns {
        inner: R::Rt::default(),
        addrs: addrs.iter().map(|&ip| ip.into()).collect(),
    }
}

/// A listener on `addr` that never accepts, its accept queue filled so that the kernel
/// drops further SYNs: connecting to it hangs like connecting to a dead address. Returns
/// the listener and the connections that fill it (all to be kept alive).
fn blackhole(addr: SocketAddr) -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
    let make = move || {
        // A backlog of 0 needs `listen(2)` itself: tokio's socket gives it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a runtime to bind with");
        let listener = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(addr)?;
            socket.listen(0)?.into_std()
        });
        let listener = listener.expect("a listen(0) socket");
        let mut fill = Vec::new();
        for _ in 0..16 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(tcp) => fill.push(tcp),
                // A SYN went unanswered: the queue is full.
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return (listener, fill),
                Err(e) => panic!("filling the blackhole's accept queue: {e}"),
            }
        }
        panic!("the accept queue of a listen(0) socket never filled up");
    };
    std::thread::spawn(make).join().expect("the blackhole")
}

/// A port held on 127.0.0.1 for the test (no other test's server gets it, so no other
/// test's blackhole uses it on 127.0.0.2 or 127.0.0.3).
fn held_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

pub async fn a_dead_first_address_opens_through_the_second_well_within_the_timeout<
    R: TestRuntime,
>() {
    let port = echo_server(ServerOptions::new(), None).port();
    let dead = Ipv4Addr::new(127, 0, 0, 2);
    let _blackhole = blackhole(SocketAddr::from((dead, port)));
    let rt = fixed_dns::<R>(&[dead, Ipv4Addr::LOCALHOST]);
    let b = builder(format!("ws://dual.test:{port}/"))
        .no_keepalive()
        .connect_timeout(Some(Duration::from_secs(5)));
    let start = Instant::now();
    let (mut ws, _) = b.connect_on_runtime(rt).await.unwrap();
    let took = start.elapsed();
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

pub async fn the_connect_timeout_bounds_a_race_where_every_address_hangs<R: TestRuntime>() {
    let (_held, port) = held_port();
    let dead = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];
    let _holes = dead.map(|ip| blackhole(SocketAddr::from((ip, port))));
    let b =
        builder(format!("ws://dead.test:{port}/")).connect_timeout(Some(Duration::from_secs(1)));
    let start = Instant::now();
    let e = b
        .connect_on_runtime(fixed_dns::<R>(&dead))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.target(), Some(format!("dead.test:{port}").as_str()));
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

pub async fn every_address_refusing_is_named_in_the_error<R: TestRuntime>() {
    // Nothing listens on 127.0.0.2 and 127.0.0.3 on this port.
    let (_held, port) = held_port();
    let rt = fixed_dns::<R>(&[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)]);
    let b =
        builder(format!("ws://refused.test:{port}/")).connect_timeout(Some(Duration::from_secs(5)));
    let e = b.connect_on_runtime(rt).await.unwrap_err();
    let text = e.to_string();
    let expected =
        format!("TCP connect to refused.test:{port} failed on all 2 addresses (127.0.0.2:{port}: ");
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.contains(&format!("; 127.0.0.3:{port}: ")), "{text}");
    assert!(
        text.contains("is a server listening on that port?"),
        "{text}"
    );
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
}
