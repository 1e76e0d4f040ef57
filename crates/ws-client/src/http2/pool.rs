//! [`H2Pool`]: the HTTP/2 connections WebSockets share, one origin (and proxy, and TLS
//! configuration) at a time.
//!
//! ```text
//!  acquire(key) ─┬─ a live connection with a free stream ─▶ Stream(SendRequest, StreamSlot)
//!                ├─ a dial to the key in progress         ─▶ wait for it, look again
//!                └─ otherwise                              ─▶ Dial(DialGuard): the caller dials,
//!                                                              then DialGuard::finish(entry)
//! ```
//!
//! The slot count (`active`) is taken under the pool's lock, so concurrent opens never put
//! more streams on a connection than its cap; a full connection makes the next open dial
//! another one. Each connection's driver task ([`super::conn`]) publishes the server's
//! stream limit, evicts the connection when idle, and marks it dead when it ends.

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use ws_handshake::proxy::Proxy;
use ws_handshake::Target;

use crate::tls::TlsConnector;

/// Default cap on WebSockets per HTTP/2 connection (the server's own limit applies too).
pub const DEFAULT_MAX_STREAMS: usize = 100;
/// Default time an HTTP/2 connection without WebSockets stays open for the next one.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an origin that cannot carry WebSockets over HTTP/2 is remembered, so that
/// [`Http2::Prefer`](super::Http2::Prefer) goes to HTTP/1.1 at once.
pub const HTTP1_MEMORY: Duration = Duration::from_secs(600);
/// Default initial flow-control window of each stream we receive on.
pub const DEFAULT_STREAM_WINDOW: u32 = 256 << 10;
/// Default flow-control window of the whole connection (shared by its streams).
pub const DEFAULT_CONNECTION_WINDOW: u32 = 16 << 20;

/// A pool of HTTP/2 connections for WebSockets over HTTP/2 (RFC 8441): WebSockets to the
/// same origin, through the same proxy and with the same TLS configuration share one h2
/// connection, up to [`max_streams_per_connection`](Self::max_streams_per_connection) at a
/// time (and the server's `SETTINGS_MAX_CONCURRENT_STREAMS`); when every connection is full
/// the next WebSocket opens a new connection.
///
/// Every [`ConnectOptions`](crate::ConnectOptions) has one, shared by its clones (a
/// [`ReconnectingWebSocket`](crate::ReconnectingWebSocket) and its reconnections, a
/// builder used many times); [`ConnectOptions::http2_pool`](crate::ConnectOptions::http2_pool)
/// shares one across options. Cloning is cheap (an `Arc`).
///
/// A connection lives while it carries WebSockets and for the
/// [`idle_timeout`](Self::idle_timeout) after the last one closed (default 30 s), then it
/// is closed (GOAWAY). Opens to one origin that start together wait for one dial instead
/// of dialing each. An origin whose server cannot carry WebSockets over HTTP/2 is
/// remembered for 10 minutes, during which [`Http2::Prefer`](super::Http2::Prefer) goes
/// straight to HTTP/1.1.
///
/// Keys tell custom TLS connectors (through
/// [`connect_via`](crate::connect::connect_via)) apart by type only: give options with
/// different custom connectors of one type different pools.
#[derive(Clone)]
pub struct H2Pool {
    pub(crate) inner: Arc<PoolInner>,
}

/// The pool's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolSettings {
    pub(crate) max_streams: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) stream_window: u32,
    pub(crate) connection_window: u32,
}

pub(crate) struct PoolInner {
    pub(crate) settings: PoolSettings,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    origins: HashMap<PoolKey, Origin>,
    /// Origins that cannot carry WebSockets over HTTP/2, with when that was learnt.
    http1: HashMap<PoolKey, Instant>,
}

#[derive(Default)]
struct Origin {
    conns: Vec<Entry>,
    dialing: bool,
    waiters: Vec<Waker>,
}

/// A pooled connection: how to open streams on it, and its shared counters.
pub(crate) struct Entry {
    pub(crate) send: SendRequest<Bytes>,
    pub(crate) shared: Arc<ConnShared>,
    /// Keeps the TLS configuration alive, so its address (in the key) is not reused.
    pub(crate) _tls: TlsConnector,
}

/// What the pool and a connection's driver share.
#[derive(Debug)]
pub(crate) struct ConnShared {
    /// WebSockets on the connection (slots taken).
    active: AtomicUsize,
    /// The server's `SETTINGS_MAX_CONCURRENT_STREAMS`, as the driver last saw it.
    max_streams: AtomicUsize,
    /// The connection ended or refuses new streams (GOAWAY).
    dead: AtomicBool,
    /// The driver task, woken when a stream ends.
    driver: Mutex<Option<Waker>>,
}

impl ConnShared {
    /// Counters for a new connection, with one slot taken (the dialer's).
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ConnShared {
            active: AtomicUsize::new(1),
            max_streams: AtomicUsize::new(usize::MAX),
            dead: AtomicBool::new(false),
            driver: Mutex::new(None),
        })
    }

    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    pub(crate) fn set_max_streams(&self, n: usize) {
        self.max_streams.store(n, Ordering::Release);
    }

    pub(crate) fn mark_dead(&self) {
        self.dead.store(true, Ordering::Release);
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub(crate) fn register_driver(&self, waker: &Waker) {
        let mut slot = lock(&self.driver);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_driver(&self) {
        if let Some(waker) = lock(&self.driver).as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// One WebSocket's place on a connection: given back when dropped.
pub(crate) struct StreamSlot {
    shared: Arc<ConnShared>,
}

impl StreamSlot {
    /// The slot [`ConnShared::new`] took for the dialer.
    pub(crate) fn first(shared: Arc<ConnShared>) -> Self {
        StreamSlot { shared }
    }

    /// The connection refuses new streams (GOAWAY): no further open may pick it.
    pub(crate) fn mark_dead(&self) {
        self.shared.mark_dead();
    }
}

impl fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSlot").finish_non_exhaustive()
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.shared.wake_driver();
    }
}

/// What a pooled connection is for: the origin, the proxy and the TLS configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    secure: bool,
    host: String,
    port: u16,
    proxy: Option<Proxy>,
    tls_type: &'static str,
    tls: usize,
}

impl PoolKey {
    pub(crate) fn new<T: ?Sized>(
        target: &Target,
        proxy: Option<Proxy>,
        tls: &TlsConnector,
    ) -> Self {
        PoolKey {
            secure: target.secure,
            host: target.host.to_ascii_lowercase(),
            port: target.port,
            proxy,
            tls_type: std::any::type_name::<T>(),
            tls: if target.secure { tls.identity() } else { 0 },
        }
    }
}

/// What [`H2Pool::acquire`] found.
pub(crate) enum Acquired {
    /// A stream slot on a live connection.
    Stream(SendRequest<Bytes>, StreamSlot),
    /// Nothing usable: the caller dials, and hands the connection over with the guard.
    Dial(DialGuard),
}

/// The right to dial a key; dropping it unfinished lets a waiter dial instead.
pub(crate) struct DialGuard {
    pool: H2Pool,
    key: PoolKey,
    done: bool,
}

impl DialGuard {
    /// Puts the new connection in the pool (its first slot already taken by the dialer)
    /// and wakes the opens that waited for it.
    pub(crate) fn finish(mut self, entry: Entry) {
        self.done = true;
        let mut state = self.pool.inner.lock();
        let origin = state.origins.entry(self.key.clone()).or_default();
        origin.conns.push(entry);
        origin.dialing = false;
        origin.waiters.drain(..).for_each(Waker::wake);
    }
}

impl Drop for DialGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.pool.inner.lock();
        if let Some(origin) = state.origins.get_mut(&self.key) {
            origin.dialing = false;
            origin.waiters.drain(..).for_each(Waker::wake);
        }
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.state)
    }

    /// Removes the connection of `shared` from the pool (dropping the pool's handle, so the
    /// connection closes once its streams are gone); with `only_if_idle`, only when it
    /// carries no WebSocket. Returns whether it was removed (or was not there).
    pub(crate) fn evict(
        &self,
        key: &PoolKey,
        shared: &Arc<ConnShared>,
        only_if_idle: bool,
    ) -> bool {
        let mut state = self.lock();
        if only_if_idle && shared.active() > 0 {
            return false;
        }
        let removed: Vec<Entry>;
        if let Some(origin) = state.origins.get_mut(key) {
            let (gone, kept) = std::mem::take(&mut origin.conns)
                .into_iter()
                .partition(|e| Arc::ptr_eq(&e.shared, shared));
            origin.conns = kept;
            removed = gone;
            if origin.conns.is_empty() && !origin.dialing && origin.waiters.is_empty() {
                state.origins.remove(key);
            }
        } else {
            removed = Vec::new();
        }
        drop(state);
        // The handles are dropped outside the lock (h2 takes its own locks).
        drop(removed);
        true
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent across a panic in another holder (counters, lists).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Default for H2Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for H2Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Pool")
            .field("settings", &self.inner.settings)
            .field("connections", &self.connections())
            .finish()
    }
}

impl H2Pool {
    /// An empty pool with the defaults: 100 WebSockets per connection at most, connections
    /// closed 30 s after their last WebSocket, windows of 256 KiB per stream and 16 MiB per
    /// connection.
    pub fn new() -> Self {
        Self::with(PoolSettings {
            max_streams: DEFAULT_MAX_STREAMS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            stream_window: DEFAULT_STREAM_WINDOW,
            connection_window: DEFAULT_CONNECTION_WINDOW,
        })
    }

    fn with(settings: PoolSettings) -> Self {
        H2Pool {
            inner: Arc::new(PoolInner {
                settings,
                state: Mutex::new(PoolState::default()),
            }),
        }
    }

    /// At most `n` WebSockets (at least 1) on one connection; the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` lowers it further. Default 100.
    ///
    /// Returns a new, empty pool with this setting: set it up before sharing the pool.
    pub fn max_streams_per_connection(self, n: usize) -> Self {
        let mut settings = self.inner.settings;
        settings.max_streams = n.max(1);
        Self::with(settings)
    }

    /// How long a connection without WebSockets stays open for the next one (`None`:
    /// closed as soon as its last WebSocket is gone). Default 30 s.
    ///
    /// Returns a new, empty pool with this setting: set it up before sharing the pool.
    pub fn idle_timeout(self, timeout: Option<Duration>) -> Self {
        let mut settings = self.inner.settings;
        settings.idle_timeout = timeout;
        Self::with(settings)
    }

    /// The initial flow-control windows we grant: per stream (how much a server may send
    /// to one WebSocket ahead of its reader; default 256 KiB) and for the whole connection
    /// (default 16 MiB). Values above 2³¹-1 are capped.
    ///
    /// Returns a new, empty pool with this setting: set it up before sharing the pool.
    pub fn windows(self, stream: u32, connection: u32) -> Self {
        let max = (1u32 << 31) - 1;
        let mut settings = self.inner.settings;
        settings.stream_window = stream.min(max);
        settings.connection_window = connection.min(max);
        Self::with(settings)
    }

    /// The live connections in the pool (those still open to new WebSockets).
    pub fn connections(&self) -> usize {
        let state = self.inner.lock();
        state
            .origins
            .values()
            .flat_map(|o| &o.conns)
            .filter(|e| !e.shared.is_dead())
            .count()
    }

    /// The WebSockets open over the pool's connections.
    pub fn streams(&self) -> usize {
        let state = self.inner.lock();
        state
            .origins
            .values()
            .flat_map(|o| &o.conns)
            .map(|e| e.shared.active())
            .sum()
    }

    /// Whether `key` was found unable to carry WebSockets over HTTP/2 lately.
    pub(crate) fn is_http1(&self, key: &PoolKey, now: Instant) -> bool {
        let mut state = self.inner.lock();
        match state.http1.get(key) {
            Some(at) if now.saturating_duration_since(*at) < HTTP1_MEMORY => true,
            Some(_) => {
                state.http1.remove(key);
                false
            }
            None => false,
        }
    }

    /// Remembers that `key` cannot carry WebSockets over HTTP/2.
    pub(crate) fn remember_http1(&self, key: &PoolKey, now: Instant) {
        let mut state = self.inner.lock();
        state
            .http1
            .retain(|_, at| now.saturating_duration_since(*at) < HTTP1_MEMORY);
        state.http1.insert(key.clone(), now);
    }

    /// A stream slot on a live connection for `key`, or the right to dial one; waits while
    /// another open dials `key`.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is taken until it returns.
    pub(crate) async fn acquire(&self, key: &PoolKey) -> Acquired {
        poll_fn(|cx| {
            let mut state = self.inner.lock();
            let cap = self.inner.settings.max_streams;
            let origin = state.origins.entry(key.clone()).or_default();
            origin.conns.retain(|e| !e.shared.is_dead());
            let free = origin.conns.iter().find(|e| {
                let limit = cap.min(e.shared.max_streams.load(Ordering::Acquire));
                e.shared.active() < limit
            });
            if let Some(entry) = free {
                entry.shared.active.fetch_add(1, Ordering::AcqRel);
                let slot = StreamSlot {
                    shared: entry.shared.clone(),
                };
                return Poll::Ready(Acquired::Stream(entry.send.clone(), slot));
            }
            if origin.dialing {
                if !origin.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    origin.waiters.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            origin.dialing = true;
            Poll::Ready(Acquired::Dial(DialGuard {
                pool: self.clone(),
                key: key.clone(),
                done: false,
            }))
        })
        .await
    }

    /// A handle the connection driver keeps, which does not keep the pool alive.
    pub(crate) fn downgrade(&self) -> Weak<PoolInner> {
        Arc::downgrade(&self.inner)
    }
}
