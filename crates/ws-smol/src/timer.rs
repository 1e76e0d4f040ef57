//! [`SmolTimer`]: `ws-client`'s timer over async-io's reactor timers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_client::rt::{Sleep, Timer};

/// [`Timer`] backed by `async_io::Timer` (the timers of smol and async-std).
///
/// The timer is async-io's reactor's, so sleeps work under any executor (smol, async-std,
/// `futures::executor`, even tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolTimer;

impl SmolTimer {
    /// An async-io timer.
    pub fn new() -> Self {
        SmolTimer
    }
}

impl Timer for SmolTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(SmolSleep {
            inner: async_io::Timer::at(deadline),
        })
    }
}

/// A pending `async_io::Timer`.
struct SmolSleep {
    inner: async_io::Timer,
}

impl Future for SmolSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx).map(|_| ())
    }
}

impl Sleep for SmolSleep {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sleeps_until_the_deadline() {
        async_io::block_on(async {
            let timer = SmolTimer::new();
            let start = timer.now();
            let deadline = start + Duration::from_millis(50);
            timer.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
            // A deadline in the past completes at once.
            let before = Instant::now();
            timer.sleep_until(start).await;
            assert!(before.elapsed() < Duration::from_secs(1));
        });
    }
}
