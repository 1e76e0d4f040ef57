//! A logical connection that survives disconnects: [`ReconnectingWebSocket`] reconnects
//! with exponential backoff and jitter, runs your hook on every new connection (to
//! log in or resubscribe), and tells you about every disconnect.
//!
//! ```text
//!  Reconnecting::new(rt, options).policy(..).on_connect(hook).connect()
//!    └─ connect + hook ──▶ ReconnectingWebSocket
//!
//!  recv() ──▶ Event::Message(m)            a message of the current connection
//!         ──▶ Event::Disconnected{..}      the connection ended (or a reconnect attempt
//!                                          failed); the next recv sleeps `retry_in`, then
//!                                          connects again and runs the hook
//!         ──▶ Event::Reconnected{..}       a new connection is open and the hook ran;
//!                                          its messages follow, none skipped
//!         ──▶ Err(e), then None            gave up: a permanent error ([`is_permanent`]:
//!                                          also a close with 1008, 1003, 1010 or a code
//!                                          you listed) or `max_attempts` failed attempts
//!                                          in a row
//!         ──▶ None                         after close()
//! ```
//!
//! Reconnection is driven by [`recv`](ReconnectingWebSocket::recv): keep calling it (a
//! `select!` loop works, it is cancel safe). [`send`](ReconnectingWebSocket::send) uses the
//! current connection and fails with [`ErrorKind::Closed`](crate::ErrorKind::Closed) between connections; it
//! does not queue. Messages that must reach every new connection (subscriptions,
//! authentication) belong in the hook.
//!
//! The hook runs before any message of the new connection is returned. It gets the new
//! `WebSocket`, may send, and may also `recv` (e.g. to wait for an acknowledgement), in
//! which case the messages it receives are its own; whatever it does not read (such as a
//! welcome message the server sends at once) is kept and returned by the next `recv`.
//!
//! ```no_run
//! # async fn demo<R: ws_client::rt::Runtime>(rt: R) -> Result<(), ws_client::Error> {
//! use std::time::Duration;
//! use ws_client::reconnect::{Event, ReconnectPolicy, Reconnecting};
//! use ws_client::{ConnectOptions, Message};
//!
//! let mut ws = Reconnecting::new(rt, ConnectOptions::new("wss://example.com/feed"))
//!     .policy(ReconnectPolicy::new().max_delay(Duration::from_secs(10)))
//!     .on_connect(|ws| Box::pin(async move { ws.send(Message::text("subscribe:btc")).await }))
//!     .connect()
//!     .await?;
//! while let Some(event) = ws.recv().await {
//!     match event? {
//!         Event::Message(msg) => println!("{msg:?}"),
//!         Event::Disconnected { reason, retry_in, .. } => {
//!             eprintln!("disconnected: {reason}; retrying in {retry_in:?}")
//!         }
//!         Event::Reconnected { .. } => eprintln!("reconnected and resubscribed"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use ws_frame::CloseCode;
use ws_handshake::proxy::{ProxyError, Socks5Reply};
use ws_handshake::{HandshakeError, Response};

use crate::connect::connect;
use crate::error::Error;
use crate::message::{CloseFrame, Message};
use crate::options::ConnectOptions;
use crate::rt::{BoxFuture, Runtime, Sleep, Timer};
use crate::stream::WebSocket;
use crate::tls::MaybeTlsStream;
use crate::trace;

/// How long to wait between reconnection attempts, and when to give up.
///
/// The wait at backoff level `n` is drawn uniformly from `ceiling(n)/2..=ceiling(n)`, with
/// `ceiling(n) = min(max_delay, initial_delay * factor^n)` ("equal jitter": clients dropped
/// together do not come back together, and no wait is shorter than half its ceiling). Each
/// failed attempt raises the level by one, and so does a connection that closes before it
/// was up for [`stable_after`](Self::stable_after): a server that accepts and drops at once
/// is retried ever more slowly, not a few times a second. Only a connection that stayed up
/// that long resets the level to 0.
///
/// Defaults: initial 500 ms, factor 2, max 30 s, stable after 5 s, never give up on errors
/// that retrying can fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReconnectPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    factor: f64,
    max_attempts: Option<u32>,
    stable_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl ReconnectPolicy {
    /// The defaults: 500 ms, doubling, at most 30 s, unlimited attempts, stable after 5 s.
    pub fn new() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            factor: 2.0,
            max_attempts: None,
            stable_after: Duration::from_secs(5),
        }
    }

    /// How long a connection must stay up before the backoff starts again from the first
    /// wait (default 5 s). A connection that ends sooner counts like a failed attempt for
    /// the backoff (not for [`max_attempts`](Self::max_attempts)).
    pub fn stable_after(mut self, uptime: Duration) -> Self {
        self.stable_after = uptime;
        self
    }

    /// The ceiling of the first wait.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest wait.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much the ceiling grows per failed attempt (values below 1, and NaN, count as 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Gives up after this many failed attempts in a row (at least 1), returning the last
    /// error; `None` (the default) retries forever.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts.map(|n| n.max(1));
        self
    }

    /// The most attempts in a row, if limited.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The largest wait before attempt `attempt` (0-based): `min(max_delay, initial_delay *
    /// factor^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = if self.factor >= 1.0 { self.factor } else { 1.0 };
        let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
        let secs = self.initial_delay.as_secs_f64() * factor.powi(exp);
        match Duration::try_from_secs_f64(secs) {
            Ok(d) => d.min(self.max_delay),
            Err(_) => self.max_delay,
        }
    }

    /// A wait at backoff level `attempt`, drawn uniformly from
    /// `ceiling(attempt)/2..=ceiling(attempt)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(nanos / 2..=nanos))
    }
}

/// Whether retrying cannot fix `error`, so a [`ReconnectingWebSocket`] gives up on it:
///
/// * a refusal with a 4xx status (400, 401, 403, 404, ...; but not 408, 425 or 429) from
///   the server or the proxy (407), a SOCKS5 authentication failure or a proxy rule that
///   forbids the target;
/// * a TLS certificate the client does not trust ([`Error::is_tls_certificate`]);
/// * an invalid URL, header or proxy configuration, a redirect that may not be followed
///   (a `wss` to `ws` downgrade, a loop), a server that does not speak WebSocket as
///   requested (a bad `Sec-WebSocket-Accept`, an unrequested subprotocol or extension);
/// * a misuse of the API;
/// * a close from the server ([`ErrorKind::ClosedByPeer`](crate::ErrorKind::ClosedByPeer)) with 1008 (policy violation: a
///   refused token or subscription), 1003 (it cannot accept our kind of data) or 1010 (it
///   lacks an extension we require): the same request would get the same answer. Add your
///   application's codes with [`Reconnecting::give_up_on_close`].
///
/// Everything else is worth retrying: I/O errors, timeouts, protocol errors, 5xx
/// answers, a closed or garbled proxy answer, an unreachable target behind a proxy, any
/// other close code (1000 and 1001 included: the server asked us to go, not to stay away).
pub fn is_permanent(error: &Error) -> bool {
    if let Some(frame) = error.peer_close() {
        return matches!(frame.code.as_u16(), 1003 | 1008 | 1010);
    }
    if let Some(e) = error.handshake_error() {
        return is_permanent_handshake(e);
    }
    // A reset or GOAWAY is retryable; a server without WebSockets over HTTP/2 is not.
    #[cfg(feature = "http2")]
    if let Some(e) = error.http2_error() {
        return e.is_permanent();
    }
    error.is_usage() || error.is_tls_certificate()
}

fn is_permanent_handshake(e: &HandshakeError) -> bool {
    use HandshakeError as H;
    match e {
        H::UnexpectedStatus { status, .. }
        | H::Proxy(ProxyError::ConnectRefused { status, .. }) => {
            (400..500).contains(status) && !matches!(status, 408 | 425 | 429)
        }
        H::Proxy(ProxyError::Socks5ConnectFailed { reply, .. }) => matches!(
            reply,
            Socks5Reply::NotAllowed
                | Socks5Reply::CommandNotSupported
                | Socks5Reply::AddressTypeNotSupported
        ),
        // A garbled or cut answer, from the server or the proxy: may be a glitch.
        H::HeadTooLarge { .. }
        | H::TooManyHeaders { .. }
        | H::MalformedHead { .. }
        | H::Proxy(ProxyError::Protocol { .. } | ProxyError::Closed { .. }) => false,
        // Configuration, redirects, incompatible servers and anything new.
        _ => true,
    }
}

/// Why a connection ended, in [`Event::Disconnected`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Disconnect {
    /// The server closed the connection with this close frame (`None`: without a code).
    Closed(Option<CloseFrame>),
    /// The connection failed (I/O error, protocol error, keepalive timeout, ...).
    Failed(Error),
    /// A reconnection attempt failed (connect, handshake, or the hook).
    ConnectFailed(Error),
}

impl Disconnect {
    /// The error, unless the server closed the connection cleanly.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Disconnect::Closed(_) => None,
            Disconnect::Failed(e) | Disconnect::ConnectFailed(e) => Some(e),
        }
    }
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::Closed(Some(frame)) => {
                write!(f, "the server closed the connection ({frame})")
            }
            Disconnect::Closed(None) => f.write_str("the server closed the connection"),
            Disconnect::Failed(e) => write!(f, "the connection failed: {e}"),
            Disconnect::ConnectFailed(e) => write!(f, "reconnecting failed: {e}"),
        }
    }
}

/// What [`ReconnectingWebSocket::recv`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A message from the server: text, binary, ping (already answered) or pong; never
    /// `Close`, which ends a connection and comes as [`Event::Disconnected`].
    Message(Message),
    /// The connection ended, or a reconnection attempt failed. The next `recv` waits
    /// `retry_in`, then tries again.
    Disconnected {
        /// Why.
        reason: Disconnect,
        /// The wait before the next attempt.
        retry_in: Duration,
        /// The number of the next attempt in this series (1 for the first after a
        /// disconnect).
        attempt: u32,
    },
    /// A new connection is open and the hook ran on it; its messages follow.
    Reconnected {
        /// How many attempts this took (1: the first succeeded).
        attempts: u32,
    },
}

/// The hook run on every new connection, before any of its messages is returned:
/// `|ws| Box::pin(async move { ws.send(Message::text("subscribe")).await })`.
pub type OnConnect<S> =
    Arc<dyn for<'a> Fn(&'a mut WebSocket<S>) -> BoxFuture<'a, Result<(), Error>> + Send + Sync>;

/// The stream a reconnecting WebSocket on runtime `R` runs on.
type RtStream<R> = MaybeTlsStream<<R as Runtime>::Tcp>;

/// The test deciding which errors end the reconnection (default [`is_permanent`]).
pub type GiveUp = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// Builds a [`ReconnectingWebSocket`]: the runtime and options to connect with, the
/// backoff policy, the hook.
pub struct Reconnecting<R: Runtime> {
    rt: Arc<R>,
    options: ConnectOptions,
    policy: ReconnectPolicy,
    hook: Option<OnConnect<RtStream<R>>>,
    give_up: GiveUp,
}

impl<R: Runtime> Clone for Reconnecting<R> {
    fn clone(&self) -> Self {
        Reconnecting {
            rt: Arc::clone(&self.rt),
            options: self.options.clone(),
            policy: self.policy,
            hook: self.hook.clone(),
            give_up: Arc::clone(&self.give_up),
        }
    }
}

impl<R: Runtime> fmt::Debug for Reconnecting<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconnecting")
            .field("options", &self.options)
            .field("policy", &self.policy)
            .field("hook", &self.hook.as_ref().map(|_| "Fn(&mut WebSocket)"))
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Reconnecting<R> {
    /// Reconnects with `rt` (its DNS, TCP and timer; TLS comes from the options) and `options` (every attempt uses
    /// them whole: proxy, redirects, timeouts), with the default [`ReconnectPolicy`] and no
    /// hook.
    pub fn new(rt: R, options: ConnectOptions) -> Self {
        Reconnecting {
            rt: Arc::new(rt),
            options,
            policy: ReconnectPolicy::default(),
            hook: None,
            give_up: Arc::new(is_permanent),
        }
    }

    /// Sets the backoff policy.
    pub fn policy(mut self, policy: ReconnectPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Runs `hook` on every new connection, the first included, before any of its
    /// messages is returned. An error from the hook counts as a failed attempt.
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: for<'a> Fn(&'a mut WebSocket<RtStream<R>>) -> BoxFuture<'a, Result<(), Error>>
            + Send
            + Sync
            + 'static,
    {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Also gives up when the server closes with one of `codes` (application codes such as
    /// 4001 "token expired" that a retry cannot fix), besides what the current test says.
    /// `recv` then returns [`ErrorKind::ClosedByPeer`](crate::ErrorKind::ClosedByPeer) with the code and reason, then `None`.
    pub fn give_up_on_close(mut self, codes: impl IntoIterator<Item = CloseCode>) -> Self {
        let codes: Vec<CloseCode> = codes.into_iter().collect();
        let before = Arc::clone(&self.give_up);
        self.give_up = Arc::new(move |e: &Error| {
            before(e) || e.peer_close().is_some_and(|f| codes.contains(&f.code))
        });
        self
    }

    /// Replaces the test of which errors end the reconnection (default [`is_permanent`]).
    /// It also sees the server's closes, as [`ErrorKind::ClosedByPeer`](crate::ErrorKind::ClosedByPeer).
    pub fn give_up_when<F>(mut self, test: F) -> Self
    where
        F: Fn(&Error) -> bool + Send + Sync + 'static,
    {
        self.give_up = Arc::new(test);
        self
    }

    /// Opens the first connection and runs the hook on it. This first attempt is not
    /// retried: its error is returned as is, so that a wrong URL or a refusal shows at once
    /// (loop on `connect` to wait for a server that is not up yet).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the attempt and closes whatever was opened.
    pub async fn connect(self) -> Result<ReconnectingWebSocket<R>, Error> {
        let timer = self.rt.timer();
        #[cfg(feature = "tracing")]
        let span = {
            let url = match self.options.request_builder() {
                Ok(builder) => trace::url(builder.url().as_str()),
                Err(_) => trace::url(self.options.url()),
            };
            tracing::info_span!("reconnecting", url = %url)
        };
        let attempt = self.attempt();
        #[cfg(feature = "tracing")]
        let attempt = tracing::Instrument::instrument(attempt, span.clone());
        let (ws, response) = attempt.await?;
        Ok(ReconnectingWebSocket {
            #[cfg(feature = "tracing")]
            span,
            shared: self,
            opened_at: timer.now(),
            timer,
            state: State::Open(ws),
            closed_by_user: false,
            pending: None,
            attempt: 0,
            backoff: 0,
            connections: 1,
            response,
        })
    }

    /// One attempt: connect, then the hook. Owns everything it uses, so it can be stored.
    fn attempt(&self) -> Attempt<RtStream<R>> {
        let rt = Arc::clone(&self.rt);
        let options = self.options.clone();
        let hook = self.hook.clone();
        Box::pin(async move {
            let (mut ws, response) = connect(&*rt, &options).await?;
            if let Some(hook) = hook {
                hook(&mut ws).await?;
            }
            Ok((ws, response))
        })
    }
}

/// A connection attempt in progress (connect, then the hook), owning all it uses.
type Attempt<S> = BoxFuture<'static, Result<(WebSocket<S>, Response), Error>>;

/// Where the logical connection is.
// Lives in the ReconnectingWebSocket and changes once per (re)connection: boxing the
// WebSocket would add an indirection to every recv for nothing.
#[allow(clippy::large_enum_variant)]
enum State<S> {
    Open(WebSocket<S>),
    Waiting(Pin<Box<dyn Sleep>>),
    Connecting(Attempt<S>),
    Closed,
}

/// A WebSocket that reconnects: see the [module docs](self). Made by
/// [`Reconnecting::connect`].
pub struct ReconnectingWebSocket<R: Runtime> {
    shared: Reconnecting<R>,
    timer: Arc<dyn Timer>,
    state: State<RtStream<R>>,
    closed_by_user: bool,
    /// Why the current connection is ending, once known (its error or close frame arrived
    /// before the end of its stream).
    pending: Option<Disconnect>,
    /// Failed attempts since the last open connection.
    attempt: u32,
    /// The backoff level of the next wait: failed attempts and short-lived connections
    /// since the last stable one.
    backoff: u32,
    /// When the current (or last) connection opened.
    opened_at: Instant,
    connections: u64,
    response: Response,
    /// The `reconnecting` span: the parent of the connections' spans and of the
    /// reconnection events.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl<R: Runtime> fmt::Debug for ReconnectingWebSocket<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Open(_) => "open",
            State::Waiting(_) => "waiting to reconnect",
            State::Connecting(_) => "reconnecting",
            State::Closed => "closed",
        };
        f.debug_struct("ReconnectingWebSocket")
            .field("state", &state)
            .field("connections", &self.connections)
            .field("attempt", &self.attempt)
            .field("backoff", &self.backoff)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> ReconnectingWebSocket<R> {
    /// The next event: a message, a disconnect, a reconnection; `Err` once when giving up,
    /// then `None`; `None` after [`close`](Self::close).
    ///
    /// # Cancel safety
    /// Cancel safe: the backoff wait and a reconnection in progress (with its hook) are kept
    /// in `self` and continue with the next call; messages are never lost.
    pub async fn recv(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Sends a message on the current connection (see
    /// [`WebSocket::send`](crate::stream::WebSocket::send)). Between connections it fails
    /// with [`ErrorKind::Closed`](crate::ErrorKind::Closed): nothing is queued for the next connection (resend
    /// from the hook what every connection needs).
    ///
    /// # Cancel safety
    /// As [`WebSocket::send`](crate::stream::WebSocket::send).
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        let result = match &mut self.state {
            State::Open(ws) if !self.closed_by_user => ws.send(msg).await,
            _ => return Err(Error::closed()),
        };
        if let Err(e) = &result {
            // The connection failed while sending: recv will see it end; this is why.
            if !e.is_usage() && !e.is_closed() {
                self.pending
                    .get_or_insert(Disconnect::Failed(e.duplicate()));
            }
        }
        result
    }

    /// Ends the logical connection: no more reconnections. Closes the current connection
    /// with `code` and `reason` (see [`WebSocket::close`](crate::stream::WebSocket::close));
    /// a wait or a reconnection in progress is abandoned. `recv` then returns `None`.
    ///
    /// # Cancel safety
    /// Cancel safe: the logical connection is closed from the first poll on; a cancelled
    /// closing handshake continues with the next `recv` or `close`.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.closed_by_user = true;
        let result = match &mut self.state {
            State::Open(ws) => ws.close(code, reason).await,
            _ => Ok(()),
        };
        self.state = State::Closed;
        result
    }

    /// Whether a connection is open now (false while waiting or reconnecting, and after
    /// the end).
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Open(_)) && !self.closed_by_user
    }

    /// How many connections were opened so far (the first included).
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// The handshake response of the latest connection.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The current connection, if one is open: for what this type does not offer
    /// (`feed`/`flush`, the subprotocol). Do not `close` it: use [`close`](Self::close), or
    /// it counts as a disconnect.
    pub fn websocket_mut(&mut self) -> Option<&mut WebSocket<RtStream<R>>> {
        match &mut self.state {
            State::Open(ws) => Some(ws),
            _ => None,
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        loop {
            if self.closed_by_user && !matches!(self.state, State::Open(_)) {
                self.state = State::Closed;
            }
            match &mut self.state {
                State::Closed => return Poll::Ready(None),
                State::Open(ws) => match ready!(Pin::new(ws).poll_next(cx)) {
                    Some(Ok(Message::Close(frame))) => {
                        // Let the WebSocket finish the closing handshake, then report.
                        self.pending.get_or_insert(Disconnect::Closed(frame));
                    }
                    Some(Ok(msg)) => return Poll::Ready(Some(Ok(Event::Message(msg)))),
                    Some(Err(e)) => {
                        self.pending.get_or_insert(Disconnect::Failed(e));
                    }
                    None => {
                        let reason = self.pending.take();
                        if self.closed_by_user {
                            self.state = State::Closed;
                            continue;
                        }
                        let reason = reason.unwrap_or(Disconnect::Closed(None));
                        if let Disconnect::Closed(Some(frame)) = &reason {
                            let closed = Error::closed_by_peer(frame.clone());
                            if (self.shared.give_up)(&closed) {
                                trace::warn!(
                                    in &self.span,
                                    code = frame.code.as_u16(),
                                    "the server closed with a code that ends reconnecting: giving up"
                                );
                                self.state = State::Closed;
                                return Poll::Ready(Some(Err(closed)));
                            }
                        }
                        let uptime = self.timer.now().saturating_duration_since(self.opened_at);
                        if uptime >= self.shared.policy.stable_after {
                            self.backoff = 0;
                        } else {
                            self.backoff = self.backoff.saturating_add(1);
                        }
                        return Poll::Ready(Some(Ok(self.schedule(reason))));
                    }
                },
                State::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    trace::debug!(in &self.span, attempt = self.attempt + 1, "reconnecting now");
                    let attempt = self.shared.attempt();
                    #[cfg(feature = "tracing")]
                    let attempt =
                        Box::pin(tracing::Instrument::instrument(attempt, self.span.clone()));
                    self.state = State::Connecting(attempt);
                }
                State::Connecting(fut) => match ready!(fut.as_mut().poll(cx)) {
                    Ok((ws, response)) => {
                        let attempts = self.attempt + 1;
                        trace::info!(in &self.span, attempts, "reconnected");
                        self.attempt = 0;
                        self.opened_at = self.timer.now();
                        self.connections += 1;
                        self.response = response;
                        self.state = State::Open(ws);
                        return Poll::Ready(Some(Ok(Event::Reconnected { attempts })));
                    }
                    Err(e) => {
                        let exhausted = self
                            .shared
                            .policy
                            .max_attempts
                            .is_some_and(|max| self.attempt + 1 >= max);
                        if exhausted || (self.shared.give_up)(&e) {
                            trace::warn!(
                                in &self.span,
                                attempts = self.attempt + 1,
                                exhausted,
                                error = %trace::error(&e),
                                "giving up reconnecting"
                            );
                            self.state = State::Closed;
                            return Poll::Ready(Some(Err(e)));
                        }
                        self.attempt += 1;
                        self.backoff = self.backoff.saturating_add(1);
                        let event = self.schedule(Disconnect::ConnectFailed(e));
                        return Poll::Ready(Some(Ok(event)));
                    }
                },
            }
        }
    }

    /// Arms the backoff wait before the next attempt and describes it.
    fn schedule(&mut self, reason: Disconnect) -> Event {
        let retry_in = self.shared.policy.delay(self.backoff);
        trace::info!(
            in &self.span,
            attempt = self.attempt + 1,
            delay = ?retry_in,
            reason = %disconnect_for_log(&reason),
            "reconnecting after a delay"
        );
        let now = self.timer.now();
        let at = now.checked_add(retry_in).unwrap_or(now);
        self.state = State::Waiting(self.timer.sleep_until(at));
        Event::Disconnected {
            reason,
            retry_in,
            attempt: self.attempt + 1,
        }
    }
}

impl<R: Runtime> Stream for ReconnectingWebSocket<R> {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Why a reconnecting WebSocket lost its connection, as logs show it (see `trace::error`).
#[cfg(feature = "tracing")]
fn disconnect_for_log(reason: &Disconnect) -> String {
    match reason {
        Disconnect::Closed(Some(frame)) => format!(
            "the server closed the connection with code {} (reason: {} bytes)",
            frame.code.as_u16(),
            frame.reason.len()
        ),
        Disconnect::Closed(None) => "the server closed the connection".to_owned(),
        Disconnect::Failed(e) => format!("the connection failed: {}", trace::error(e)),
        Disconnect::ConnectFailed(e) => format!("reconnecting failed: {}", trace::error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_grow_by_the_factor_up_to_the_max() {
        let p = ReconnectPolicy::new()
            .initial_delay(Duration::from_millis(100))
            .factor(3.0)
            .max_delay(Duration::from_secs(2));
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(300));
        assert_eq!(p.ceiling(2), Duration::from_millis(900));
        assert_eq!(p.ceiling(3), Duration::from_secs(2));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(2));
        // A factor below 1 (or NaN) never shrinks the wait.
        let flat = p.factor(0.5);
        assert_eq!(flat.ceiling(7), Duration::from_millis(100));
        assert_eq!(p.factor(f64::NAN).ceiling(7), Duration::from_millis(100));
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let p = ReconnectPolicy::new()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(400));
        for attempt in 0..6 {
            let delays: Vec<Duration> = (0..200).map(|_| p.delay(attempt)).collect();
            assert!(delays.iter().all(|d| *d <= p.ceiling(attempt)));
            // Never shorter than half the ceiling: no burst of near-zero waits.
            assert!(delays.iter().all(|d| *d >= p.ceiling(attempt) / 2));
            // Jittered: the draws spread over the range, not all at the ceiling.
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 100, "{attempt}: {}", distinct.len());
        }
        assert_eq!(
            ReconnectPolicy::new()
                .initial_delay(Duration::ZERO)
                .delay(3),
            Duration::ZERO
        );
    }

    #[test]
    fn at_least_one_attempt() {
        assert_eq!(
            ReconnectPolicy::new()
                .max_attempts(Some(0))
                .attempts_limit(),
            Some(1)
        );
    }

    #[test]
    fn permanent_errors() {
        let status = |status| {
            Error::from(HandshakeError::UnexpectedStatus {
                status,
                reason: String::new(),
                body_excerpt: String::new(),
            })
        };
        assert!(is_permanent(&status(403)));
        assert!(is_permanent(&status(404)));
        assert!(!is_permanent(&status(429)));
        assert!(!is_permanent(&status(503)));
        let proxy = |status| {
            Error::from(ProxyError::ConnectRefused {
                target: "x:1".into(),
                status,
                reason: String::new(),
            })
        };
        assert!(is_permanent(&proxy(403)));
        assert!(!is_permanent(&proxy(502)));
        assert!(is_permanent(&Error::from(
            ws_handshake::redirect::RedirectError::Downgrade {
                from: "wss://a/".into(),
                to: "ws://a/".into(),
            }
        )));
        assert!(is_permanent(&Error::from(HandshakeError::InvalidUrl {
            url: "x".into(),
            reason: "y".into(),
        })));
        assert!(!is_permanent(&Error::from(
            ProxyError::Socks5ConnectFailed {
                target: "x:1".into(),
                reply: Socks5Reply::ConnectionRefused,
            }
        )));
        assert!(!is_permanent(&Error::from(std::io::Error::other("reset"))));
        assert!(!is_permanent(&Error::timeout(crate::error::Step::Connect)));
        assert!(!is_permanent(&Error::closed()));
    }

    #[test]
    fn tls_failures_are_classified_by_their_cause() {
        #[derive(Debug)]
        struct Runtime(&'static str, Option<std::io::Error>);
        impl fmt::Display for Runtime {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Runtimes mention certificates in their advice; that must not count.
                write!(f, "TLS handshake failed: {}; check its certificate", self.0)
            }
        }
        impl std::error::Error for Runtime {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_ref().map(|e| e as _)
            }
        }
        let tls = |cause: &'static str| {
            Error::from(std::io::Error::other(Runtime(
                cause,
                Some(std::io::Error::other(cause)),
            )))
            .into_tls_failure("h.example:443")
        };
        let cert = tls("certificate verify failed (self-signed certificate)");
        assert!(cert.is_tls() && cert.is_tls_certificate() && !cert.is_io());
        assert!(cert.io_error().is_some());
        assert!(is_permanent(&cert));
        assert!(
            cert.to_string().contains("certificate verify failed"),
            "{cert}"
        );
        let other = tls("unexpected EOF");
        assert!(other.is_tls() && !other.is_tls_certificate());
        assert!(!is_permanent(&other));
        // Marking twice changes nothing; other errors are never TLS errors.
        assert!(cert.into_tls_failure("h.example:443").is_tls_certificate());
        assert!(!Error::from(std::io::Error::other("certificate")).is_tls());
    }
}
