//! # ws-tokio — run `ws-client` WebSockets on tokio
//!
//! The glue between the runtime-neutral `ws-client` and tokio, and nothing else: DNS and
//! TCP (with `TCP_NODELAY`), timers through `tokio::time`, and an adapter from tokio's I/O
//! traits to the `futures-io` traits `ws-client` is written against ([`TokioIo`]). The
//! connect flow (Happy Eyeballs, proxies, TLS through native-tls or rustls, the opening
//! handshake, redirects, timeouts) is `ws_client::connect`, shared with every runtime.
//!
//! ```text
//!  connect(url) ─▶ ws_client::connect::connect(&TokioRuntime, options)
//!                    ├─ TokioRuntime::resolve / connect_tcp  (tokio DNS + TcpStream, nodelay)
//!                    ├─ options' TlsConnector                (native-tls or rustls, wss:// only)
//!                    └─ client handshake                     (ws-client)
//! ```
//!
//! ```no_run
//! use ws_client::Message;
//!
//! # async fn demo() -> Result<(), ws_client::Error> {
//! let mut ws = ws_tokio::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.recv().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(ws_client::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! Our server role runs on any accepted tokio stream with [`accept`]; a stream you opened
//! yourself (a Unix socket, a proxy tunnel) takes the client handshake with [`connect_on`].
//! A private CA or a client certificate: give the options a
//! [`TlsConnector`](ws_client::TlsConnector) (`ConnectOptions::tls`).
//!
//! Features: `native-tls` and `rustls` (`wss://`; without either, a `wss://` URL fails with
//! an error saying which feature to enable), `deflate` (default) for permessage-deflate.
#![forbid(unsafe_code)]

mod io;
mod timer;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpStream;
use ws_client::rt::{BoxFuture, Runtime, Timer};

pub use crate::io::TokioIo;
pub use crate::timer::TokioTimer;
pub use ws_client::tls::MaybeTlsStream;

/// The tokio implementation of [`ws_client::rt::Runtime`]: tokio's DNS, `TcpStream` with
/// `TCP_NODELAY` (seen through [`TokioIo`]), [`TokioTimer`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    type Tcp = TokioIo<TcpStream>;
    const NAME: &'static str = "tokio";

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, std::io::Result<Self::Tcp>> {
        Box::pin(async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(TokioIo::new(tcp))
        })
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }

    fn timer(&self) -> Arc<dyn Timer> {
        Arc::new(TokioTimer)
    }

    /// A tokio task (the caller runs inside a tokio runtime, as every `connect` does).
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        drop(tokio::spawn(task));
    }
}

ws_client::runtime_api! {
    runtime = TokioRuntime,
    name = "tokio",
    stream = S where [tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin] => TokioIo<S>,
    wrap = TokioIo::new,
}
