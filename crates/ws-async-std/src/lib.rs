//! # ws-async-std — run `ws-client` WebSockets on async-std
//!
//! async-std has been discontinued upstream (its authors point to smol); this crate keeps
//! serving programs that still run it, as a thin layer over `ws-smol`: async-std runs on
//! the same `async-io` reactor, so the TCP stream and timers are `ws-smol`'s, and only
//! name resolution goes through async-std (its blocking pool). New code should use
//! `ws-smol`, which needs no async-std in the dependency tree.
//!
//! ```no_run
//! use ws_client::Message;
//!
//! # async fn demo() -> Result<(), ws_client::Error> {
//! let mut ws = ws_async_std::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.recv().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(ws_client::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! Features: `native-tls` and `rustls` (`wss://`), `deflate` (default).
#![forbid(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_std::net::ToSocketAddrs;
use ws_client::rt::{BoxFuture, Runtime, Timer};
pub use ws_smol::{MaybeTlsStream, SmolTimer as AsyncStdTimer, TcpStream};

/// The async-std implementation of [`ws_client::rt::Runtime`]: async-std's resolver,
/// `ws-smol`'s TCP stream and timers (the reactor async-std runs on).
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    type Tcp = TcpStream;

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        ws_smol::SmolRuntime.connect_tcp(addr)
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = (host.as_str(), 0).to_socket_addrs().await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }

    fn timer(&self) -> Arc<dyn Timer> {
        ws_smol::SmolRuntime.timer()
    }

    fn name(&self) -> &'static str {
        "async-std"
    }
}

ws_client::runtime_api! {
    runtime = AsyncStdRuntime,
    name = "async-std",
    stream = S where [futures_io::AsyncRead + futures_io::AsyncWrite + Unpin] => S,
    wrap = std::convert::identity,
}
