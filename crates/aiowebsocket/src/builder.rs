//! [`ClientBuilder`]: connect options (TLS settings included), then `.connect()` on a
//! runtime.

use std::fmt;
#[cfg(feature = "rustls")]
use std::sync::Arc;

use ws_client::options::ConnectOptions;
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
use ws_client::reconnect::Reconnecting;
use ws_client::tls::TlsBackend;
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
use ws_client::{connect::RuntimeWebSocket, Error, Runtime};
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
use ws_handshake::{ClientRequest, Response};

/// Starts a [`ClientBuilder`] for `url` (`ws://` or `wss://`) with the
/// [defaults](crate#defaults).
///
/// ```no_run
/// # async fn demo() -> Result<(), aiowebsocket::Error> {
/// use std::time::Duration;
///
/// let mut ws = aiowebsocket::builder("wss://example.com/feed")
///     .header("Authorization", "Bearer abc")
///     .origin("https://example.com")
///     .keepalive(Duration::from_secs(30), Duration::from_secs(10))
///     .connect()
///     .await?;
/// # drop(ws); Ok(()) }
/// ```
pub fn builder(url: impl Into<String>) -> ClientBuilder {
    ClientBuilder::new(url)
}

/// Everything needed to open a client WebSocket: the runtime-neutral [`ConnectOptions`]
/// (URL, headers, Origin, subprotocols, limits, timeouts, keepalive, compression, proxy,
/// redirects, TLS library and configuration).
///
/// Its setters are [`ConnectOptions`]'s (the same names, forwarded), plus the TLS
/// shortcuts [`tls_connector`](Self::tls_connector) and [`rustls_config`](Self::rustls_config).
/// [`connect`](Self::connect) runs on the default runtime ([`crate::DefaultRuntime`]:
/// tokio, else smol, else async-std, by the features compiled in); `connect_tokio`,
/// `connect_smol` and `connect_async_std` choose explicitly.
///
/// `Debug` output can be logged: it shows the options as [`ConnectOptions`]' `Debug` does
/// (header names, but no sensitive header value and no password) and which TLS library is
/// used, not its configuration.
#[derive(Clone)]
#[must_use = "a ClientBuilder does nothing until .connect().await"]
pub struct ClientBuilder {
    options: ConnectOptions,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("options", &self.options)
            .finish()
    }
}

impl ClientBuilder {
    /// A builder for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self::from_options(ConnectOptions::new(url))
    }

    /// A builder around existing options.
    pub fn from_options(options: ConnectOptions) -> Self {
        ClientBuilder { options }
    }

    // header, origin, limits, timeouts, keepalive, compression, proxy, redirects, tls: one
    // forwarding method per `ConnectOptions` setter, from the list beside those setters.
    ws_client::forward_connect_setters!();

    /// Applies any [`ConnectOptions`] setter:
    /// `builder(url).options(|o| o.max_frame_size(None))`.
    pub fn options(mut self, f: impl FnOnce(ConnectOptions) -> ConnectOptions) -> Self {
        self.options = f(self.options);
        self
    }

    /// Uses native-tls with `connector` for `wss://` instead of the build's default TLS: for
    /// a private root CA (`add_root_certificate`), a client certificate (`identity`), or
    /// pinned protocol versions. Replaces a [`rustls_config`](Self::rustls_config).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use aiowebsocket::native_tls::{Certificate, TlsConnector};
    ///
    /// let ca = Certificate::from_pem(&std::fs::read("ca.pem")?)?;
    /// let connector = TlsConnector::builder().add_root_certificate(ca).build()?;
    /// let ws = aiowebsocket::builder("wss://internal.example:8443/")
    ///     .tls_connector(connector)
    ///     .connect()
    ///     .await?;
    /// # drop(ws); Ok(()) }
    /// ```
    #[cfg(feature = "native-tls")]
    pub fn tls_connector(self, connector: native_tls::TlsConnector) -> Self {
        self.tls(ws_client::TlsConnector::native_tls(connector))
    }

    /// Uses rustls with `config` for `wss://` instead of the build's default TLS: for a
    /// private root CA, a client certificate, or another crypto provider. Replaces a
    /// [`tls_connector`](Self::tls_connector).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use aiowebsocket::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};
    ///
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(CertificateDer::from_pem_file("ca.pem")?)?;
    /// let config = rustls::ClientConfig::builder()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let ws = aiowebsocket::builder("wss://internal.example:8443/")
    ///     .rustls_config(Arc::new(config))
    ///     .connect()
    ///     .await?;
    /// # drop(ws); Ok(()) }
    /// ```
    #[cfg(feature = "rustls")]
    pub fn rustls_config(self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls(ws_client::TlsConnector::rustls(config))
    }

    /// Which TLS library `wss://` connections will use: the one configured with
    /// [`tls_connector`](Self::tls_connector) or [`rustls_config`](Self::rustls_config),
    /// else the build's default (rustls when its feature is on, else native-tls); `None`
    /// when the build has neither.
    pub fn tls_backend(&self) -> Option<TlsBackend> {
        self.options.tls_connector().backend()
    }

    /// The connect options so far.
    pub fn connect_options(&self) -> &ConnectOptions {
        &self.options
    }

    /// The connect options, for a runtime crate's own `connect_with` or `connect_on`.
    pub fn into_options(self) -> ConnectOptions {
        self.options
    }

    /// Opens the WebSocket on the default runtime ([`crate::DefaultRuntime`]: tokio, else
    /// smol, else async-std, by the features compiled in).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub async fn connect(self) -> Result<crate::WebSocket, Error> {
        self.connect_with_response().await.map(|(ws, _)| ws)
    }

    /// Like [`connect`](Self::connect), also returning the server's handshake response
    /// (its headers, e.g. cookies or a chosen subprotocol).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub async fn connect_with_response(self) -> Result<(crate::WebSocket, Response), Error> {
        self.connect_on_runtime(crate::DefaultRuntime::default())
            .await
    }

    /// Like [`connect_with_response`](Self::connect_with_response), also returning the
    /// upgrade request exactly as it was sent ([`ClientRequest::as_bytes`], with its real
    /// `Sec-WebSocket-Key`; the last hop's when redirects were followed, see
    /// [`ClientRequest::url`]): for logging or a verbose mode.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), aiowebsocket::Error> {
    /// let (ws, response, request) = aiowebsocket::builder("wss://example.com/feed")
    ///     .connect_with_request()
    ///     .await?;
    /// eprint!("{}", String::from_utf8_lossy(request.as_bytes()));
    /// eprintln!("< {} {}", response.status(), response.reason());
    /// # drop(ws); Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub async fn connect_with_request(
        self,
    ) -> Result<(crate::WebSocket, Response, ClientRequest), Error> {
        let rt = crate::DefaultRuntime::default();
        ws_client::connect::connect_with_request(&rt, &self.options).await
    }

    /// Opens the WebSocket on runtime `rt` (any [`Runtime`], including your own).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub async fn connect_on_runtime<R: Runtime>(
        self,
        rt: R,
    ) -> Result<(RuntimeWebSocket<R>, Response), Error> {
        ws_client::connect::connect(&rt, &self.options).await
    }

    /// Opens the WebSocket on tokio (must run inside a tokio runtime).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(feature = "tokio")]
    pub async fn connect_tokio(self) -> Result<(ws_tokio::WebSocket, Response), Error> {
        self.connect_on_runtime(ws_tokio::TokioRuntime).await
    }

    /// Opens the WebSocket on smol (any executor: it needs only the `async-io` reactor).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(feature = "smol")]
    pub async fn connect_smol(self) -> Result<(ws_smol::WebSocket, Response), Error> {
        self.connect_on_runtime(ws_smol::SmolRuntime::new()).await
    }

    /// Opens the WebSocket on async-std.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    #[cfg(feature = "async-std")]
    pub async fn connect_async_std(self) -> Result<(ws_async_std::WebSocket, Response), Error> {
        self.connect_on_runtime(ws_async_std::AsyncStdRuntime::default())
            .await
    }
}

/// Reconnecting clients (opt-in): see [`ws_client::reconnect`].
impl ClientBuilder {
    /// A [`Reconnecting`] builder on the default runtime ([`crate::DefaultRuntime`]) with
    /// these options: set the backoff policy and the hook run on every new connection, then
    /// `.connect()`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), aiowebsocket::Error> {
    /// use aiowebsocket::{Event, Message, ReconnectPolicy};
    ///
    /// let mut ws = aiowebsocket::builder("wss://example.com/feed")
    ///     .reconnecting()
    ///     .policy(ReconnectPolicy::new())
    ///     .on_connect(|ws| Box::pin(ws.send(Message::text("subscribe"))))
    ///     .connect()
    ///     .await?;
    /// while let Some(event) = ws.recv().await {
    ///     match event? {
    ///         Event::Message(msg) => println!("{msg:?}"),
    ///         Event::Disconnected { reason, .. } => eprintln!("{reason}; reconnecting"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub fn reconnecting(self) -> Reconnecting<crate::DefaultRuntime> {
        self.reconnecting_on(crate::DefaultRuntime::default())
    }

    /// A [`Reconnecting`] builder on runtime `rt`.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    pub fn reconnecting_on<R: Runtime>(self, rt: R) -> Reconnecting<R> {
        Reconnecting::new(rt, self.options)
    }

    /// A [`Reconnecting`] builder on tokio.
    #[cfg(feature = "tokio")]
    pub fn reconnecting_tokio(self) -> Reconnecting<ws_tokio::TokioRuntime> {
        self.reconnecting_on(ws_tokio::TokioRuntime)
    }

    /// A [`Reconnecting`] builder on smol.
    #[cfg(feature = "smol")]
    pub fn reconnecting_smol(self) -> Reconnecting<ws_smol::SmolRuntime> {
        self.reconnecting_on(ws_smol::SmolRuntime::new())
    }

    /// A [`Reconnecting`] builder on async-std.
    #[cfg(feature = "async-std")]
    pub fn reconnecting_async_std(self) -> Reconnecting<ws_async_std::AsyncStdRuntime> {
        self.reconnecting_on(ws_async_std::AsyncStdRuntime::default())
    }
}

impl From<ConnectOptions> for ClientBuilder {
    fn from(options: ConnectOptions) -> Self {
        Self::from_options(options)
    }
}
