//! The runtimes the facade's tests run on, behind one small trait: a test written once
//! against [`TestRuntime`] runs on tokio, smol and async-std. Also the one echo loop the
//! test servers share ([`echo`]).

#![allow(dead_code)] // each test binary uses part of it

use std::future::Future;
use std::io;
use std::time::Duration;

use aiowebsocket::{
    ClientBuilder, ConnectOptions, Error, Reconnecting, Response, Runtime, ServerOptions,
    WebSocketStream,
};

/// The WebSocket a [`TestRuntime`] opens.
pub type Ws<R> =
    WebSocketStream<aiowebsocket::MaybeTlsStream<<<R as TestRuntime>::Rt as Runtime>::Tcp>>;

/// The TCP stream of a [`TestRuntime`]'s connections.
pub type Tcp<R> = <<R as TestRuntime>::Rt as Runtime>::Tcp;

/// What a test needs from a runtime: the library's [`Runtime`] and the runtime module's
/// functions, an executor, tasks, time.
pub trait TestRuntime: 'static {
    /// Shown in test output.
    const NAME: &'static str;
    /// The library's runtime.
    type Rt: Runtime + Default;
    /// The stream this runtime module's `connect_on` and `accept` run on (a TCP stream of
    /// this runtime, seen through `futures-io`).
    type OnStream: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static;

    /// Opens `b` on this runtime.
    fn connect(b: ClientBuilder) -> impl Future<Output = Result<Ws<Self>, Error>> {
        async { Ok(Self::connect_with_response(b).await?.0) }
    }

    /// Opens `b` on this runtime (the builder's `connect_<runtime>()`); returns the
    /// server's response too.
    fn connect_with_response(
        b: ClientBuilder,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>> {
        b.connect_on_runtime(Self::Rt::default())
    }

    /// The runtime module's `connect(url)`.
    fn connect_url(url: &str) -> impl Future<Output = Result<Ws<Self>, Error>>;

    /// The runtime module's `connect_with(options)`.
    fn connect_with(
        options: ConnectOptions,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>>;

    /// The runtime module's `connect_on`, over a TCP stream the test connected.
    fn connect_on(
        tcp: std::net::TcpStream,
        options: ConnectOptions,
    ) -> impl Future<Output = Result<(WebSocketStream<Self::OnStream>, Response), Error>> + Send;

    /// The runtime module's `accept` (our server role), over a TCP stream the test accepted.
    fn accept(
        tcp: std::net::TcpStream,
        options: ServerOptions,
    ) -> impl Future<Output = Result<WebSocketStream<Self::OnStream>, Error>> + Send;

    /// A reconnecting client on this runtime (the builder's `reconnecting_<runtime>()`).
    fn reconnecting(b: ClientBuilder) -> Reconnecting<Self::Rt> {
        b.reconnecting_on(Self::Rt::default())
    }

    /// Whether `TCP_NODELAY` is on.
    fn nodelay(tcp: &Tcp<Self>) -> io::Result<bool>;

    /// Runs `f` to completion on a fresh executor of this runtime.
    fn block_on<F: Future>(f: F) -> F::Output;

    /// Starts `f` as a task of this runtime at once; the returned future gives its output.
    fn spawn<F>(f: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// `None` when `f` did not finish within `d`.
    fn timeout<F: Future>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>>;

    /// Sleeps for `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
}

/// tokio, current-thread.
pub struct Tokio;

impl TestRuntime for Tokio {
    const NAME: &'static str = "tokio";
    type Rt = aiowebsocket::tokio::TokioRuntime;
    type OnStream = aiowebsocket::tokio::TokioIo<tokio::net::TcpStream>;

    async fn connect_with_response(b: ClientBuilder) -> Result<(Ws<Self>, Response), Error> {
        b.connect_tokio().await
    }

    fn connect_url(url: &str) -> impl Future<Output = Result<Ws<Self>, Error>> {
        aiowebsocket::tokio::connect(url)
    }

    fn connect_with(
        options: ConnectOptions,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>> {
        aiowebsocket::tokio::connect_with(options)
    }

    async fn connect_on(
        tcp: std::net::TcpStream,
        options: ConnectOptions,
    ) -> Result<(WebSocketStream<Self::OnStream>, Response), Error> {
        aiowebsocket::tokio::connect_on(tokio_tcp(tcp)?, options).await
    }

    async fn accept(
        tcp: std::net::TcpStream,
        options: ServerOptions,
    ) -> Result<WebSocketStream<Self::OnStream>, Error> {
        aiowebsocket::tokio::accept(tokio_tcp(tcp)?, &options).await
    }

    fn reconnecting(b: ClientBuilder) -> Reconnecting<Self::Rt> {
        b.reconnecting_tokio()
    }

    fn nodelay(tcp: &Tcp<Self>) -> io::Result<bool> {
        tcp.inner().nodelay()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(f)
    }

    fn spawn<F>(f: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = tokio::spawn(f);
        async { task.await.expect("the task panicked") }
    }

    async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        tokio::time::timeout(d, f).await.ok()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

/// A std stream as a tokio one (inside a tokio runtime).
fn tokio_tcp(tcp: std::net::TcpStream) -> Result<tokio::net::TcpStream, Error> {
    tcp.set_nonblocking(true)?;
    Ok(tokio::net::TcpStream::from_std(tcp)?)
}

/// smol: `smol::block_on` (the async-io reactor).
pub struct Smol;

impl TestRuntime for Smol {
    const NAME: &'static str = "smol";
    type Rt = aiowebsocket::smol::SmolRuntime;
    type OnStream = aiowebsocket::smol::TcpStream;

    async fn connect_with_response(b: ClientBuilder) -> Result<(Ws<Self>, Response), Error> {
        b.connect_smol().await
    }

    fn connect_url(url: &str) -> impl Future<Output = Result<Ws<Self>, Error>> {
        aiowebsocket::smol::connect(url)
    }

    fn connect_with(
        options: ConnectOptions,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>> {
        aiowebsocket::smol::connect_with(options)
    }

    async fn connect_on(
        tcp: std::net::TcpStream,
        options: ConnectOptions,
    ) -> Result<(WebSocketStream<Self::OnStream>, Response), Error> {
        let tcp = aiowebsocket::smol::TcpStream::from_std(tcp)?;
        aiowebsocket::smol::connect_on(tcp, options).await
    }

    async fn accept(
        tcp: std::net::TcpStream,
        options: ServerOptions,
    ) -> Result<WebSocketStream<Self::OnStream>, Error> {
        let tcp = aiowebsocket::smol::TcpStream::from_std(tcp)?;
        aiowebsocket::smol::accept(tcp, &options).await
    }

    fn reconnecting(b: ClientBuilder) -> Reconnecting<Self::Rt> {
        b.reconnecting_smol()
    }

    fn nodelay(tcp: &Tcp<Self>) -> io::Result<bool> {
        tcp.nodelay()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        smol::block_on(f)
    }

    fn spawn<F>(f: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol::spawn(f)
    }

    async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        smol::future::or(async { Some(f.await) }, async {
            smol::Timer::after(d).await;
            None
        })
        .await
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
}

/// async-std.
pub struct AsyncStd;

impl TestRuntime for AsyncStd {
    const NAME: &'static str = "async-std";
    type Rt = aiowebsocket::async_std::AsyncStdRuntime;
    type OnStream = async_std::net::TcpStream;

    async fn connect_with_response(b: ClientBuilder) -> Result<(Ws<Self>, Response), Error> {
        b.connect_async_std().await
    }

    fn connect_url(url: &str) -> impl Future<Output = Result<Ws<Self>, Error>> {
        aiowebsocket::async_std::connect(url)
    }

    fn connect_with(
        options: ConnectOptions,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>> {
        aiowebsocket::async_std::connect_with(options)
    }

    async fn connect_on(
        tcp: std::net::TcpStream,
        options: ConnectOptions,
    ) -> Result<(WebSocketStream<Self::OnStream>, Response), Error> {
        aiowebsocket::async_std::connect_on(async_std::net::TcpStream::from(tcp), options).await
    }

    async fn accept(
        tcp: std::net::TcpStream,
        options: ServerOptions,
    ) -> Result<WebSocketStream<Self::OnStream>, Error> {
        aiowebsocket::async_std::accept(async_std::net::TcpStream::from(tcp), &options).await
    }

    fn reconnecting(b: ClientBuilder) -> Reconnecting<Self::Rt> {
        b.reconnecting_async_std()
    }

    fn nodelay(tcp: &Tcp<Self>) -> io::Result<bool> {
        tcp.nodelay()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        async_std::task::block_on(f)
    }

    fn spawn<F>(f: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_std::task::spawn(f)
    }

    async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        async_std::future::timeout(d, f).await.ok()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
}

/// Echoes every data message back until the client closes (the test servers' loop).
pub async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_data() && ws.send(msg).await.is_err() {
            break;
        }
    }
}
