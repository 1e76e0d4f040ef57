//! Test helpers for the async layer: an in-memory duplex pipe (futures-io), a manual timer
//! with a virtual clock, and a client/server pair joined by the real handshakes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use ws_client::connect::connect_on;
use ws_client::handshake::server_accept;
use ws_client::rt::{Sleep, Timer};
use ws_client::{ConnectOptions, ServerOptions, WebSocket};

/// One direction of the pipe.
#[derive(Debug, Default)]
struct Lane {
    data: VecDeque<u8>,
    cap: usize,
    /// The writer shut down (or was dropped): EOF after the data.
    write_closed: bool,
    /// The reader was dropped: writes fail.
    reader_gone: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    /// Total bytes ever written.
    written: usize,
}

/// One end of an in-memory duplex byte pipe.
#[derive(Debug)]
pub struct Pipe {
    rx: Arc<Mutex<Lane>>,
    tx: Arc<Mutex<Lane>>,
    /// Read at most one byte per call and return `Pending` every other call.
    trickle: Arc<AtomicBool>,
    trickle_flip: bool,
    /// Number of `poll_read` calls that returned `Pending`.
    pub pending_reads: Arc<AtomicUsize>,
}

/// A pair of connected pipe ends, each direction holding at most `cap` bytes in flight.
pub fn duplex(cap: usize) -> (Pipe, Pipe) {
    let a = Arc::new(Mutex::new(Lane {
        cap,
        ..Lane::default()
    }));
    let b = Arc::new(Mutex::new(Lane {
        cap,
        ..Lane::default()
    }));
    (
        Pipe {
            rx: a.clone(),
            tx: b.clone(),
            trickle: Arc::new(AtomicBool::new(false)),
            trickle_flip: false,
            pending_reads: Arc::new(AtomicUsize::new(0)),
        },
        Pipe {
            rx: b,
            tx: a,
            trickle: Arc::new(AtomicBool::new(false)),
            trickle_flip: false,
            pending_reads: Arc::new(AtomicUsize::new(0)),
        },
    )
}

impl Pipe {
    /// A handle to switch trickle mode on or off later.
    pub fn trickle_switch(&self) -> Arc<AtomicBool> {
        self.trickle.clone()
    }

    /// Bytes waiting in the direction this end writes to (written, not yet read).
    pub fn outbound_buffered(&self) -> usize {
        self.tx.lock().unwrap().data.len()
    }

    /// A probe on the bytes this end has written (total) and left unread by the peer.
    pub fn probe(&self) -> PipeProbe {
        PipeProbe {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

/// Observes a pipe end from outside.
#[derive(Debug, Clone)]
pub struct PipeProbe {
    tx: Arc<Mutex<Lane>>,
    rx: Arc<Mutex<Lane>>,
}

impl PipeProbe {
    /// Total bytes written by the probed end.
    pub fn written(&self) -> usize {
        self.tx.lock().unwrap().written
    }

    /// Bytes written by the probed end and not yet read by the peer.
    pub fn unread(&self) -> usize {
        self.tx.lock().unwrap().data.len()
    }

    /// Discards what the probed end wrote and the peer has not read, without waking the
    /// writer: room that appears with no writable signal, as a kernel makes it now and then
    /// for a peer that does not read (a zero-window probe answered, a receive queue
    /// collapsed, buffers grown). A writer finds it only if it tries to write. From now on
    /// the lane holds up to `cap` bytes. Returns the bytes discarded.
    pub fn make_room_silently(&self, cap: usize) -> usize {
        let mut lane = self.tx.lock().unwrap();
        let n = lane.data.len();
        lane.data.clear();
        lane.cap = cap;
        n
    }

    /// Whether the probed end shut its writing side down.
    pub fn write_closed(&self) -> bool {
        self.tx.lock().unwrap().write_closed
    }

    /// Whether the peer shut its writing side down (the probed end will see EOF).
    pub fn peer_write_closed(&self) -> bool {
        self.rx.lock().unwrap().write_closed
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let trickle = self.trickle.load(Ordering::Relaxed);
        if trickle {
            self.trickle_flip = !self.trickle_flip;
            if self.trickle_flip {
                // Pending mid-anything, with an immediate wake-up.
                self.pending_reads.fetch_add(1, Ordering::Relaxed);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        let mut lane = self.rx.lock().unwrap();
        if lane.data.is_empty() {
            if lane.write_closed {
                return Poll::Ready(Ok(0));
            }
            lane.read_waker = Some(cx.waker().clone());
            drop(lane);
            self.pending_reads.fetch_add(1, Ordering::Relaxed);
            return Poll::Pending;
        }
        let max = if trickle { 1 } else { buf.len() };
        let n = max.min(lane.data.len()).min(buf.len());
        for (dst, src) in buf[..n].iter_mut().zip(lane.data.drain(..n)) {
            *dst = src;
        }
        if let Some(w) = lane.write_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut lane = self.tx.lock().unwrap();
        if lane.reader_gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if lane.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "write after shutdown",
            )));
        }
        let space = lane.cap.saturating_sub(lane.data.len());
        if space == 0 {
            lane.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = space.min(buf.len());
        lane.data.extend(&buf[..n]);
        lane.written += n;
        if let Some(w) = lane.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut lane = self.tx.lock().unwrap();
        lane.write_closed = true;
        if let Some(w) = lane.read_waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if let Ok(mut lane) = self.tx.lock() {
            lane.write_closed = true;
            if let Some(w) = lane.read_waker.take() {
                w.wake();
            }
        }
        if let Ok(mut lane) = self.rx.lock() {
            lane.reader_gone = true;
            if let Some(w) = lane.write_waker.take() {
                w.wake();
            }
        }
    }
}

/// A timer on a virtual clock that only moves when the test says so.
#[derive(Debug, Clone)]
pub struct ManualTimer {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    now: Instant,
    wakers: Vec<Waker>,
    sleeps_created: usize,
}

impl Default for ManualTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualTimer {
    pub fn new() -> Self {
        ManualTimer {
            state: Arc::new(Mutex::new(ClockState {
                now: Instant::now(),
                wakers: Vec::new(),
                sleeps_created: 0,
            })),
        }
    }

    /// Moves the clock forward and wakes every pending sleep (they re-check).
    pub fn advance(&self, by: Duration) {
        let wakers = {
            let mut s = self.state.lock().unwrap();
            s.now += by;
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// How many sleeps were created so far.
    pub fn sleeps_created(&self) -> usize {
        self.state.lock().unwrap().sleeps_created
    }

    pub fn arc(&self) -> Arc<dyn Timer> {
        Arc::new(self.clone())
    }
}

impl Timer for ManualTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        self.state.lock().unwrap().sleeps_created += 1;
        Box::pin(ManualSleep {
            deadline,
            state: self.state.clone(),
        })
    }

    fn now(&self) -> Instant {
        self.state.lock().unwrap().now
    }
}

struct ManualSleep {
    deadline: Instant,
    state: Arc<Mutex<ClockState>>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.lock().unwrap();
        if s.now >= self.deadline {
            Poll::Ready(())
        } else {
            s.wakers.push(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Sleep for ManualSleep {}

/// A real-time timer backed by one thread per sleep (for multi-threaded tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadTimer;

impl Timer for ThreadTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let shared = Arc::new(Mutex::new((false, None::<Waker>)));
        let s2 = shared.clone();
        std::thread::spawn(move || {
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            let waker = {
                let mut g = s2.lock().unwrap();
                g.0 = true;
                g.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Box::pin(ThreadSleep { shared })
    }
}

struct ThreadSleep {
    shared: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Future for ThreadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.shared.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Sleep for ThreadSleep {}

/// Client options for tests: no keepalive, no compression unless asked.
pub fn client_options() -> ConnectOptions {
    ConnectOptions::new("ws://example.test/chat").no_keepalive()
}

/// Server options for tests: no keepalive.
pub fn server_options() -> ServerOptions {
    ServerOptions::new().no_keepalive()
}

/// Runs both handshakes over a fresh pipe and returns the open client and server.
pub fn pair_with(
    cap: usize,
    client: ConnectOptions,
    server: ServerOptions,
    timer: Option<Arc<dyn Timer>>,
) -> (WebSocket<Pipe>, WebSocket<Pipe>) {
    let (a, b) = duplex(cap);
    futures::executor::block_on(async {
        let (c, s) = futures::join!(
            connect_on(a, &client, timer.clone()),
            server_accept(b, &server, timer.clone())
        );
        let (c, _response) = c.expect("client handshake");
        (c, s.expect("server handshake"))
    })
}

/// A client and a server with default test options and no timer.
pub fn pair() -> (WebSocket<Pipe>, WebSocket<Pipe>) {
    pair_with(1 << 20, client_options(), server_options(), None)
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    Pin::new(fut).poll(&mut cx)
}
