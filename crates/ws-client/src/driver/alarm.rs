//! The [`Alarm`]: the waker the connection's sleeps are polled with.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};
use std::time::Instant;

use crate::rt::Sleep;

/// A sleep and the deadline it was made for.
pub(super) struct ArmedSleep {
    pub(super) at: Instant,
    pub(super) sleep: Pin<Box<dyn Sleep>>,
    /// Polled (pending) at least once with the alarm's waker: it will wake the alarm.
    pub(super) polled: bool,
}

/// The waker our sleeps are polled with: it records that it rang and wakes the task that
/// polls the connection. Polling a runtime's sleep registers the waker with its timer (and
/// async-io's also reads the clock) every time; with the alarm the sleep is polled once per
/// wake-up instead of once per `recv`.
pub(super) struct Alarm {
    shared: Arc<AlarmShared>,
    /// `shared` as a waker, made once.
    pub(super) waker: Waker,
    /// The task waker last handed to `shared` (compared without taking the lock).
    task: Option<Waker>,
}

#[derive(Default)]
pub(super) struct AlarmShared {
    rang: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for AlarmShared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rang.store(true, Ordering::Release);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Alarm {
    pub(super) fn new() -> Alarm {
        let shared = Arc::new(AlarmShared::default());
        Alarm {
            waker: Waker::from(Arc::clone(&shared)),
            shared,
            task: None,
        }
    }

    /// Whether the alarm rang (without resetting it).
    pub(super) fn has_rung(&self) -> bool {
        self.shared.rang.load(Ordering::Acquire)
    }

    /// Makes `task` the waker to wake, then tells whether the alarm rang since the last
    /// call that returned `true` (and resets it).
    pub(super) fn rang(&mut self, task: &Waker) -> bool {
        if !self.task.as_ref().is_some_and(|t| t.will_wake(task)) {
            *self
                .shared
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.clone());
            self.task = Some(task.clone());
        }
        // After the task waker is in place: a ring from now on wakes this task. A plain
        // load first: it is almost always false, and a locked swap costs more.
        self.shared.rang.load(Ordering::Acquire) && self.shared.rang.swap(false, Ordering::AcqRel)
    }
}
