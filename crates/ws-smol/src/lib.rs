//! # ws-smol — run `ws-client` WebSockets on smol (async-io / async-net)
//!
//! The glue between the runtime-neutral `ws-client` and the smol ecosystem, and nothing
//! else: DNS (`async-net`'s resolver), TCP on the `async-io` reactor with `TCP_NODELAY`
//! and a reading strategy measured to save system calls ([`TcpStream`]), and `async-io`
//! timers. The connect flow (Happy Eyeballs, proxies, TLS through native-tls or rustls,
//! the opening handshake, redirects, timeouts) is `ws_client::connect`, shared with every
//! runtime.
//!
//! ```text
//!  connect(url) ─▶ ws_client::connect::connect(&SmolRuntime, options)
//!                    ├─ SmolRuntime::resolve / connect_tcp  (async-net DNS, async-io TCP)
//!                    ├─ options' TlsConnector               (native-tls or rustls, wss:// only)
//!                    └─ client handshake                    (ws-client)
//! ```
//!
//! ```no_run
//! use ws_client::Message;
//!
//! # fn main() -> Result<(), ws_client::Error> {
//! smol::block_on(async {
//!     let mut ws = ws_smol::connect("ws://127.0.0.1:9001/").await?;
//!     ws.send(Message::text("hello")).await?;
//!     if let Some(reply) = ws.recv().await {
//!         println!("{:?}", reply?);
//!     }
//!     ws.close(ws_client::CloseCode::NORMAL, "bye").await
//! })
//! # }
//! ```
//!
//! Everything here needs only the `async-io` reactor, not a particular executor: the
//! functions work under `smol::block_on`, `async_executor`, `futures::executor` or
//! async-std. [`connect_on`] and [`accept`] take any `futures-io` stream.
//!
//! Features: `native-tls` and `rustls` (`wss://`; without either, a `wss://` URL fails with
//! an error saying which feature to enable), `deflate` (default) for permessage-deflate.
#![forbid(unsafe_code)]

mod tcp;
mod timer;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ws_client::rt::{BoxFuture, Runtime, Timer};

pub use crate::tcp::TcpStream;
pub use crate::timer::SmolTimer;
pub use ws_client::tls::MaybeTlsStream;

/// How an async-io runtime looks names up: [`AsyncNet`] for smol; `ws-async-std` plugs in
/// async-std's resolver.
pub trait Resolver: Send + Sync + 'static {
    /// The runtime's name, for logs ([`Runtime::NAME`]).
    const NAME: &'static str;

    /// Resolves `host` (a DNS name) to its addresses.
    fn resolve(host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;

    /// Runs a background task ([`Runtime::spawn`]: one per shared HTTP/2 connection).
    /// Default: a thread of its own ([`ws_client::rt::spawn_thread`]), which needs no
    /// executor: the `async-io` reactor wakes it.
    fn spawn(task: BoxFuture<'static, ()>) {
        ws_client::rt::spawn_thread(task);
    }
}

/// `async-net`'s resolver (the system's, on a blocking thread pool): smol's.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncNet;

impl Resolver for AsyncNet {
    const NAME: &'static str = "smol";

    fn resolve(host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = async_net::resolve((host.as_str(), 0)).await?;
            Ok(addrs.into_iter().map(|a| a.ip()).collect())
        })
    }
}

/// The smol implementation of [`ws_client::rt::Runtime`]: TCP on the `async-io` reactor
/// ([`TcpStream`], `TCP_NODELAY` on), [`SmolTimer`]s, and names looked up by `D`
/// ([`AsyncNet`] by default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolRuntime<D = AsyncNet>(std::marker::PhantomData<D>);

impl SmolRuntime {
    /// The smol runtime.
    pub const fn new() -> Self {
        SmolRuntime(std::marker::PhantomData)
    }
}

impl<D: Resolver> Runtime for SmolRuntime<D> {
    type Tcp = TcpStream;
    const NAME: &'static str = D::NAME;

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(tcp)
        })
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        D::resolve(host.to_owned())
    }

    fn timer(&self) -> Arc<dyn Timer> {
        Arc::new(SmolTimer)
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        D::spawn(task);
    }
}

ws_client::runtime_api! { runtime = SmolRuntime, name = "smol" }
