//! [`TokioTimer`]: `ws-client`'s timer over `tokio::time`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_client::rt::{Sleep, Timer};

/// [`Timer`] backed by `tokio::time::sleep_until`.
///
/// Sleeps must be polled inside a tokio runtime with the time driver enabled (the default
/// for `#[tokio::main]` and `Runtime::new`); `now()` is `tokio::time::Instant::now()`, so
/// timeouts follow tokio's paused clock in `start_paused` tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl TokioTimer {
    /// A tokio timer.
    pub fn new() -> Self {
        TokioTimer
    }
}

impl Timer for TokioTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(TokioSleep {
            inner: Box::pin(tokio::time::sleep_until(deadline.into())),
        })
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A pending `tokio::time::Sleep`.
// The inner box keeps this crate free of unsafe pin projection; sleeps are created once per
// distinct deadline, not per message.
struct TokioSleep {
    inner: Pin<Box<tokio::time::Sleep>>,
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Sleep for TokioSleep {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_until_the_deadline() {
        let timer = TokioTimer::new();
        let start = timer.now();
        timer.sleep_until(start + Duration::from_secs(30)).await;
        assert!(timer.now() >= start + Duration::from_secs(30));
        // A deadline in the past completes at once.
        let before = timer.now();
        timer.sleep_until(start).await;
        assert_eq!(timer.now(), before);
    }
}
