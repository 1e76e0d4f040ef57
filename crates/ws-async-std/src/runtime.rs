//! [`AsyncStdRuntime`]: DNS, TCP, TLS and time for `ws_client::connect` on async-std.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use async_std::net::ToSocketAddrs;
use ws_client::error::Error;
use ws_client::rt::{BoxFuture, Runtime, Timer};

use crate::stream::MaybeTlsStream;
use crate::tcp::TcpStream;
use crate::timer::AsyncStdTimer;

/// The async-std implementation of [`ws_client::rt::Runtime`]: resolves and connects TCP
/// (with `TCP_NODELAY`), runs TLS through native-tls, and gives connections an
/// [`AsyncStdTimer`].
///
/// Holds the TLS connector used for `wss://`. [`AsyncStdRuntime::new`] uses the system's
/// trust roots with SNI on; [`AsyncStdRuntime::with_tls_connector`] takes one you built (a
/// private root CA, a client certificate, pinned protocol versions).
#[derive(Clone, Debug, Default)]
pub struct AsyncStdRuntime {
    #[cfg(feature = "native-tls")]
    tls: Option<native_tls::TlsConnector>,
}

impl AsyncStdRuntime {
    /// A runtime using the system's trust roots for `wss://`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A runtime using `connector` for every `wss://` connection it opens.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ws_client::options::ConnectOptions;
    ///
    /// let pem = std::fs::read("my-ca.pem")?;
    /// let connector = native_tls::TlsConnector::builder()
    ///     .add_root_certificate(native_tls::Certificate::from_pem(&pem)?)
    ///     .build()?;
    /// let rt = ws_async_std::AsyncStdRuntime::with_tls_connector(connector);
    /// let (ws, _response) = rt.connect(ConnectOptions::new("wss://internal.example:8443/")).await?;
    /// # drop(ws); Ok(()) }
    /// ```
    #[cfg(feature = "native-tls")]
    pub fn with_tls_connector(connector: native_tls::TlsConnector) -> Self {
        AsyncStdRuntime {
            tls: Some(connector),
        }
    }

    /// Opens a WebSocket as `options` say: DNS + TCP, TLS for `wss://`, the opening
    /// handshake, each step bounded by its timeout. Same as [`crate::connect_with`] with
    /// this runtime's TLS connector.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    pub async fn connect(
        &self,
        options: ws_client::options::ConnectOptions,
    ) -> Result<(crate::WebSocket, ws_handshake::Response), Error> {
        ws_client::connect::connect(self, &options).await
    }

    /// [`connect`](Self::connect), also returning the upgrade request as it was sent (with
    /// its real `Sec-WebSocket-Key`; the last hop's after redirects): see
    /// [`ws_client::connect::connect_with_request`].
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    pub async fn connect_with_request(
        &self,
        options: ws_client::options::ConnectOptions,
    ) -> Result<
        (
            crate::WebSocket,
            ws_handshake::Response,
            ws_handshake::ClientRequest,
        ),
        Error,
    > {
        ws_client::connect::connect_with_request(self, &options).await
    }
}

impl Runtime for AsyncStdRuntime {
    type Tcp = TcpStream;
    type Stream = MaybeTlsStream;

    fn connect_tcp<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Self::Tcp>> {
        Box::pin(async move {
            let mut last_err = None;
            for addr in (host, port).to_socket_addrs().await? {
                match TcpStream::connect(addr).await {
                    Ok(tcp) => {
                        tcp.set_nodelay(true)?;
                        return Ok(tcp);
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            Err(last_err.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address")
            }))
        })
    }

    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = (host, 0).to_socket_addrs().await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }

    fn plain(&self, tcp: Self::Tcp) -> Self::Stream {
        MaybeTlsStream::Plain(tcp)
    }

    fn tls<'a>(
        &'a self,
        domain: &'a str,
        tcp: Self::Tcp,
    ) -> BoxFuture<'a, Result<Self::Stream, Error>> {
        Box::pin(async move {
            #[cfg(feature = "native-tls")]
            {
                let default;
                let connector = match &self.tls {
                    Some(c) => c,
                    None => {
                        default = default_connector().map_err(|e| crate::tls_error(domain, e))?;
                        &default
                    }
                };
                let tls = crate::tls::connect(connector, domain, tcp)
                    .await
                    .map_err(|e| crate::tls_error(domain, e))?;
                Ok(MaybeTlsStream::Tls(tls))
            }
            #[cfg(not(feature = "native-tls"))]
            {
                drop(tcp);
                Err(crate::no_tls_error(domain))
            }
        })
    }

    fn timer(&self) -> Arc<dyn Timer> {
        Arc::new(AsyncStdTimer)
    }
}

/// The system-roots connector, built once per process (loading the trust store is not free).
#[cfg(feature = "native-tls")]
fn default_connector() -> Result<native_tls::TlsConnector, native_tls::Error> {
    static DEFAULT: std::sync::OnceLock<native_tls::TlsConnector> = std::sync::OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    let built = native_tls::TlsConnector::new()?;
    Ok(DEFAULT.get_or_init(|| built).clone())
}
