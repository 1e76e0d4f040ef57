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
use std::net::IpAddr;

use async_std::net::ToSocketAddrs;
use ws_client::rt::BoxFuture;
pub use ws_smol::{MaybeTlsStream, SmolTimer as AsyncStdTimer, TcpStream};

/// async-std's resolver (its blocking pool), for [`AsyncStdRuntime`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdResolver;

impl ws_smol::Resolver for AsyncStdResolver {
    const NAME: &'static str = "async-std";

    fn resolve(host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = (host.as_str(), 0).to_socket_addrs().await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }

    /// An async-std task.
    fn spawn(task: BoxFuture<'static, ()>) {
        drop(async_std::task::spawn(task));
    }
}

/// The async-std implementation of [`ws_client::rt::Runtime`]: `ws-smol`'s TCP stream and
/// timers (the reactor async-std runs on) with async-std's resolver.
pub type AsyncStdRuntime = ws_smol::SmolRuntime<AsyncStdResolver>;

ws_client::runtime_api! { runtime = AsyncStdRuntime, name = "async-std" }
