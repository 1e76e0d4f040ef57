//! [`AsyncStdTimer`]: `ws-client`'s timer over async-std's (async-io's) timers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_client::rt::{Sleep, Timer};

/// [`Timer`] backed by `async_std::task::sleep` (async-io's reactor timers).
///
/// The timer thread is async-io's, so sleeps work under any executor (async-std, smol,
/// `futures::executor`, even tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdTimer;

impl AsyncStdTimer {
    /// An async-std timer.
    pub fn new() -> Self {
        AsyncStdTimer
    }
}

impl Timer for AsyncStdTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(AsyncStdSleep {
            inner: Box::pin(async move {
                let now = Instant::now();
                if deadline > now {
                    async_std::task::sleep(deadline - now).await;
                }
            }),
        })
    }
}

/// A boxed sleep to a deadline.
struct AsyncStdSleep {
    inner: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl Future for AsyncStdSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Sleep for AsyncStdSleep {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[async_std::test]
    async fn sleeps_until_the_deadline() {
        let timer = AsyncStdTimer::new();
        let start = timer.now();
        let deadline = start + Duration::from_millis(50);
        timer.sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
        // A deadline in the past completes (without sleeping: no timer is even created).
        timer.sleep_until(start).await;
    }
}
