//! The runtimes the facade's tests run on, behind one small trait: a test written once
//! against [`TestRuntime`] runs on tokio, smol and async-std.

#![allow(dead_code)] // each test binary uses part of it

use std::future::Future;
use std::time::Duration;

use aiowebsocket::{ClientBuilder, Error, Response, Runtime, WebSocketStream};

/// The WebSocket a [`TestRuntime`] opens.
pub type Ws<R> =
    WebSocketStream<aiowebsocket::MaybeTlsStream<<<R as TestRuntime>::Rt as Runtime>::Tcp>>;

/// What a test needs from a runtime: the library's [`Runtime`], an executor, time.
pub trait TestRuntime: 'static {
    /// Shown in test output.
    const NAME: &'static str;
    /// The library's runtime.
    type Rt: Runtime + Default;

    /// Opens `b` on this runtime.
    fn connect(b: ClientBuilder) -> impl Future<Output = Result<Ws<Self>, Error>> {
        async { Ok(Self::connect_with_response(b).await?.0) }
    }

    /// Opens `b` on this runtime; returns the server's response too.
    fn connect_with_response(
        b: ClientBuilder,
    ) -> impl Future<Output = Result<(Ws<Self>, Response), Error>> {
        b.connect_on_runtime(Self::Rt::default())
    }

    /// Runs `f` to completion on a fresh executor of this runtime.
    fn block_on<F: Future>(f: F) -> F::Output;

    /// `None` when `f` did not finish within `d`.
    fn timeout<F: Future>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>>;

    /// Sleeps for `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()>;
}

/// tokio, current-thread.
pub struct Tokio;

impl TestRuntime for Tokio {
    const NAME: &'static str = "tokio";
    type Rt = aiowebsocket::tokio::TokioRuntime;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(f)
    }

    async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        tokio::time::timeout(d, f).await.ok()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(d)
    }
}

/// smol: `smol::block_on` (the async-io reactor).
pub struct Smol;

impl TestRuntime for Smol {
    const NAME: &'static str = "smol";
    type Rt = aiowebsocket::smol::SmolRuntime;

    fn block_on<F: Future>(f: F) -> F::Output {
        smol::block_on(f)
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

    fn block_on<F: Future>(f: F) -> F::Output {
        async_std::task::block_on(f)
    }

    async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        async_std::future::timeout(d, f).await.ok()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> {
        async_std::task::sleep(d)
    }
}
