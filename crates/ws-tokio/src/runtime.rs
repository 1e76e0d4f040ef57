//! [`TokioRuntime`]: DNS, TCP, TLS and time for `ws_client::connect` on tokio.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use ws_client::error::Error;
use ws_client::rt::{BoxFuture, Runtime, Timer};

use crate::io::TokioIo;
use crate::stream::MaybeTlsStream;
use crate::timer::TokioTimer;

/// The tokio implementation of [`ws_client::rt::Runtime`]: resolves and connects TCP (with
/// `TCP_NODELAY`), runs TLS through native-tls, and gives connections a [`TokioTimer`].
///
/// Holds the TLS connector used for `wss://`. [`TokioRuntime::new`] uses the system's trust
/// roots with SNI on; [`TokioRuntime::with_tls_connector`] takes one you built (a private
/// root CA, a client certificate, pinned protocol versions).
#[derive(Clone, Debug, Default)]
pub struct TokioRuntime {
    #[cfg(feature = "native-tls")]
    tls: Option<tokio_native_tls::TlsConnector>,
}

impl TokioRuntime {
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
    /// let rt = ws_tokio::TokioRuntime::with_tls_connector(connector);
    /// let (ws, _response) = rt.connect(ConnectOptions::new("wss://internal.example:8443/")).await?;
    /// # drop(ws); Ok(()) }
    /// ```
    #[cfg(feature = "native-tls")]
    pub fn with_tls_connector(connector: native_tls::TlsConnector) -> Self {
        TokioRuntime {
            tls: Some(connector.into()),
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

impl Runtime for TokioRuntime {
    type Tcp = TokioIo<TcpStream>;
    type Stream = MaybeTlsStream;

    fn connect_tcp<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Self::Tcp>> {
        Box::pin(async move {
            let mut last_err = None;
            for addr in tokio::net::lookup_host((host, port)).await? {
                match TcpStream::connect(addr).await {
                    Ok(tcp) => {
                        tcp.set_nodelay(true)?;
                        return Ok(TokioIo::new(tcp));
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
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }

    fn plain(&self, tcp: Self::Tcp) -> Self::Stream {
        MaybeTlsStream::Plain(tcp.into_inner())
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
                let tls = connector
                    .connect(domain, tcp.into_inner())
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
        Arc::new(TokioTimer)
    }
}

/// The system-roots connector, built once per process (loading the trust store is not free).
#[cfg(feature = "native-tls")]
fn default_connector() -> Result<tokio_native_tls::TlsConnector, native_tls::Error> {
    static DEFAULT: std::sync::OnceLock<tokio_native_tls::TlsConnector> =
        std::sync::OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    let built = tokio_native_tls::TlsConnector::from(native_tls::TlsConnector::new()?);
    Ok(DEFAULT.get_or_init(|| built).clone())
}
