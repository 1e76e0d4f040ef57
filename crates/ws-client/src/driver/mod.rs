//! The async driver under [`WebSocket`](crate::stream::WebSocket) and its split halves:
//! `Core` moves bytes between a `futures-io` stream and the sans-I/O
//! [`Connection`](crate::proto::Connection), arms its timers ([`alarm`]) and reads through
//! a per-thread buffer ([`read_buf`]). `stream` and `split` both build on it.
//!
//! # Reading
//! `futures-io` reads need an initialized `&mut [u8]`, and this crate has no `unsafe`, so
//! a read cannot target the spare capacity of the connection's buffer without zeroing it
//! first. Zeroing before every read (what makes some libraries slow: 128 KiB per read, even
//! for a 20-byte message or a read that returns `Pending`) is avoided with one 64 KiB read
//! buffer per thread, zeroed once and shared by every `WebSocket` that thread polls: a
//! read that finds nothing costs nothing, what arrives is copied once into the connection
//! ([`Connection::receive_data`]) from a buffer that stays hot in cache, and an idle
//! connection holds no read buffer at all. Single-frame messages are then split off the
//! connection's buffer without another copy.
//!
//! A large frame (64 KiB or more) is read straight into the connection's buffer instead:
//! zeroed room is made after the buffered bytes (each byte zeroed once) and kept across
//! reads, so no copy is made and reads are as large as the frame allows. The allocation is
//! made once for the whole frame (a length checked against the limits), but its pages are
//! touched only as they are zeroed, which follows what arrived (at most four times the
//! bytes buffered), never the length the peer declared.
//!
//! # Writing
//! Messages are encoded into the connection's output buffer; `send` flushes once, `feed`
//! only queues (batch several, then [`flush`](WebSocket::flush)). The output buffer is
//! bounded: `send`/`feed`/`poll_ready` wait while more than
//! [`Config::write_buffer_high`] bytes are queued, so a peer that stops reading makes the
//! sender wait instead of growing memory. The wait is bounded too: when the transport takes
//! less than 64 KiB within [`Config::write_timeout`] (default 20 s), the connection is
//! dropped and the sender (and `recv`) get [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) at [`Step::Write`].
//! A sender still waiting for its output when the connection fails (keepalive, protocol
//! error, close timeout) gets the failure at once: writing what is queued is then only the
//! finishing close's best effort, never a success reported to a sender.

mod alarm;
mod read_buf;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};
use ws_frame::{CloseCode, Role};

use crate::error::{Error, Step};
use crate::message::{CloseFrame, Message};
use crate::proto::buf::reserve_to_bound;
use crate::proto::{Connection, State};
use crate::rt::{Sleep, Timer};
use crate::trace;

use self::alarm::{Alarm, ArmedSleep};
use self::read_buf::{with_read_buf, READ_BUF};

/// A frame with at least this many payload bytes still to come is read straight into the
/// connection's buffer.
const DIRECT_READ_MIN: usize = 64 << 10;
/// Bytes discarded per read while waiting for the server to close TCP.
const DRAIN_READ: usize = 1 << 10;
/// A sender that finds the transport full waits at most the write timeout for this many
/// bytes to be taken; less counts as a stall.
const STALL_PROGRESS: usize = 64 << 10;

/// Where the driver is in the connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Messages flow (the connection may be in its closing handshake).
    Open,
    /// The connection is over: write what is owed (close reply or error close), then (a
    /// client after a clean close) wait for the server's EOF, then shut the stream down.
    Finishing {
        /// Wait for the peer to close TCP before shutting down (client, clean close).
        wait_eof: bool,
    },
    /// Nothing more will happen: `recv` reports a stored error once, then `None`.
    Done,
}

/// The shared engine of [`WebSocket`] and its split halves.
pub(crate) struct Core<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    timer: Option<Arc<dyn Timer>>,
    /// The current sleep and its deadline. Replaced only when an earlier deadline appears;
    /// a later deadline keeps the sleep (it fires early once and is then re-armed).
    sleep: Option<ArmedSleep>,
    /// Wakes the task when the sleep fires; made with the first sleep.
    alarm: Option<Alarm>,
    /// Bumped each time a deadline of the connection is handled.
    timeouts_handled: u64,
    /// Our own deadline for finishing (flush + wait for EOF + shutdown) after the close.
    finish_deadline: Option<Instant>,
    close_timeout: Option<Duration>,
    write_high: usize,
    /// [`Config::write_timeout`]: how long a sender may wait while the transport takes
    /// nothing.
    write_timeout: Option<Duration>,
    /// Armed when a sender finds the transport full; disarmed once [`STALL_PROGRESS`]
    /// bytes were written since, or everything was.
    write_stall: Option<Pin<Box<dyn Sleep>>>,
    /// Bytes written since `write_stall` was armed.
    stall_written: usize,
    /// Zeroed bytes right after the end of the connection's read buffer (same allocation),
    /// which reads of a large frame go straight into. Empty otherwise.
    spare: BytesMut,
    /// Bytes were written since the last stream flush.
    needs_flush: bool,
    /// The stream reported EOF.
    eof: bool,
    phase: Phase,
    /// An error to report from `recv` (once).
    error: Option<Error>,
    /// The transport failed (write side): sends fail with this kind.
    broken: Option<io::ErrorKind>,
    /// Bumped when something another task may be waiting for changes (state, phase, output
    /// drained). The split halves wake each other when it moves.
    pub(crate) events: u64,
    /// Bumped when queued output was fully written: a split sender waiting in `flush`
    /// may go on (the receiver's writes wake it through this).
    pub(crate) drained: u64,
    pub(crate) subprotocol: Option<String>,
    /// A client waits for the server to end the stream after a clean closing handshake
    /// (RFC 6455 §7.1.1). Off over HTTP/2, where servers (Hypercorn) may never end the
    /// stream after a close the client started: there the client ends its side and is done.
    pub(crate) wait_eof_on_close: bool,
}

impl<S> Core<S> {
    pub(crate) fn state(&self) -> State {
        self.conn.state()
    }

    pub(crate) fn close_frame(&self) -> Option<&CloseFrame> {
        self.conn.close_frame()
    }

    pub(crate) fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    pub(crate) fn role(&self) -> Role {
        self.conn.role()
    }

    fn now(&self) -> Option<Instant> {
        self.timer.as_ref().map(|t| t.now())
    }

    fn finish(&mut self, wait_eof: bool, fresh_deadline: bool) {
        if self.phase != Phase::Open {
            return;
        }
        self.phase = Phase::Finishing { wait_eof };
        self.events += 1;
        if fresh_deadline || self.finish_deadline.is_none() {
            self.finish_deadline = match (self.now(), self.close_timeout) {
                (Some(now), Some(t)) => now.checked_add(t),
                _ => None,
            };
        }
    }

    fn done(&mut self) {
        if self.phase != Phase::Done {
            trace::debug!(
                in self.conn.span(),
                close_sent = self.conn.close_sent(),
                close_received = self.conn.close_received(),
                peer_code = self.conn.close_frame().map(|f| f.code.as_u16()),
                "connection over"
            );
            self.phase = Phase::Done;
            self.events += 1;
            self.sleep = None;
        }
    }

    /// Records a transport failure: the connection is over, `recv` reports it once.
    fn fail_io(&mut self, e: io::Error) -> Error {
        trace::debug!(in self.conn.span(), error = %e, "transport error");
        self.broken = Some(e.kind());
        self.done();
        Error::from(e)
    }

    /// The error a write returns once the connection cannot carry data any more.
    fn write_closed_error(&self) -> Option<Error> {
        if let Some(kind) = self.broken {
            return Some(Error::from(io::Error::new(
                kind,
                "an earlier write or read on this WebSocket failed",
            )));
        }
        if self.phase != Phase::Open {
            return Some(Error::closed());
        }
        None
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    pub(crate) fn new(stream: S, conn: Connection, timer: Option<Arc<dyn Timer>>) -> Self {
        let config = conn.config();
        let (close_timeout, write_high, write_timeout) = (
            config.close_timeout,
            config.write_buffer_high,
            config.write_timeout,
        );
        let mut core = Core {
            stream,
            conn,
            timer,
            sleep: None,
            alarm: None,
            timeouts_handled: 0,
            finish_deadline: None,
            close_timeout,
            write_high,
            write_timeout,
            write_stall: None,
            stall_written: 0,
            spare: BytesMut::new(),
            needs_flush: false,
            eof: false,
            phase: Phase::Open,
            error: None,
            broken: None,
            events: 0,
            drained: 0,
            subprotocol: None,
            wait_eof_on_close: true,
        };
        // Start the connection's clock (keepalive) at the moment the WebSocket opens.
        if let Some(now) = core.now() {
            core.conn.handle_timeout(now);
        }
        core
    }

    /// Arms the sleep for the next deadline and handles deadlines that passed. Returns
    /// `true` when our finishing deadline has passed.
    ///
    /// One [`Sleep`] per distinct deadline: the sleep is replaced only when an earlier
    /// deadline appears. A later one keeps it (it fires early once, then is re-armed), so
    /// timers cost nothing per message. A sleep is polled with the [`Alarm`]'s waker, and
    /// polled again only once that waker was woken: a `recv` that finds the sleep quiet
    /// costs one atomic load, no clock read and no timer registration.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(timer) = &self.timer else {
            return false;
        };
        // Each handled deadline may produce the next one; the bound guards against a
        // deadline that does not move (we then ask to be polled again).
        for _ in 0..8 {
            let conn_next = if self.phase == Phase::Open {
                self.conn.poll_timeout()
            } else {
                None
            };
            let next = match (conn_next, self.finish_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(next) = next else {
                self.sleep = None;
                return false;
            };
            let now = match &mut self.sleep {
                Some(armed) if armed.at <= next => {
                    let alarm = self.alarm.get_or_insert_with(Alarm::new);
                    let rang = alarm.rang(cx.waker());
                    if armed.polled && !rang {
                        // Polled before, and it has not woken us since: still pending.
                        return false;
                    }
                    let mut alarm_cx = Context::from_waker(&alarm.waker);
                    if armed.sleep.as_mut().poll(&mut alarm_cx).is_pending() {
                        armed.polled = true;
                        return false;
                    }
                    let at = armed.at;
                    self.sleep = None;
                    let now = timer.now();
                    if at == next {
                        // The timer says this deadline passed, even if its clock lags.
                        now.max(at)
                    } else {
                        now
                    }
                }
                _ => {
                    let now = timer.now();
                    if next > now {
                        self.sleep = Some(ArmedSleep {
                            at: next,
                            sleep: timer.sleep_until(next),
                            polled: false,
                        });
                        continue;
                    }
                    // Already due (e.g. a timer that starts "now"): no sleep needed.
                    now
                }
            };
            if self.finish_deadline.is_some_and(|d| d <= now) {
                self.finish_deadline = None;
                return true;
            }
            if conn_next.is_some_and(|d| d <= now) {
                let before = self.conn.state();
                self.conn.handle_timeout(now);
                self.timeouts_handled += 1;
                if self.conn.state() != before || self.conn.wants_write() {
                    self.events += 1;
                }
            }
        }
        cx.waker().wake_by_ref();
        false
    }

    /// Whether the open-phase timers must be looked at before the next read: the sleep
    /// rang, none is armed yet, or the closing handshake runs (its timer starts when our
    /// close is queued). Otherwise deadlines only move in `handle_timeout`, and the sleep is
    /// (re-)armed whenever a read is about to wait.
    fn timers_need_work(&self) -> bool {
        self.timer.is_some()
            && (self.sleep.is_none()
                || !self.conn.is_open()
                || self.alarm.as_ref().is_some_and(Alarm::has_rung))
    }

    /// Writes queued output until it is all written (`Ready(Ok)`), the stream is full
    /// (`Pending`) or at most `keep` bytes remain. Flushes the stream when everything is
    /// written.
    fn poll_write_out(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<io::Result<()>> {
        let start = self.conn.output_len();
        let result = loop {
            let out = self.conn.pending_output();
            if out.is_empty() || (keep > 0 && self.conn.output_len() <= keep) {
                break Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.stream).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => {
                    break Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no more bytes",
                    )))
                }
                Poll::Ready(Ok(n)) => {
                    self.conn.consume_output(n);
                    self.needs_flush = true;
                    self.stall_written = self.stall_written.saturating_add(n);
                    if self.stall_written >= STALL_PROGRESS || !self.conn.wants_write() {
                        self.write_stall = None;
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => break Poll::Ready(Err(e)),
                Poll::Pending => break Poll::Pending,
            }
        };
        let left = self.conn.output_len();
        if start > self.write_high && left <= self.write_high {
            // A sender waiting in `poll_ready` may go on.
            self.events += 1;
        } else if start > 0 && left == 0 {
            self.drained += 1;
        }
        match result {
            Poll::Ready(Ok(())) if self.needs_flush && self.conn.pending_output().is_empty() => {
                ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
                self.needs_flush = false;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    /// Reads once (into this thread's read buffer) and hands the bytes to the connection.
    /// `Ok(false)` means EOF.
    fn poll_read_in(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let remaining = self.conn.buffered_frame_remaining();
        if remaining >= DIRECT_READ_MIN || (remaining > 0 && !self.spare.is_empty()) {
            return self.poll_read_direct(cx, remaining);
        }
        // Even empty, the spare keeps a reference to the connection buffer's allocation,
        // which would make the connection copy instead of reusing it.
        self.spare = BytesMut::new();
        let stream = &mut self.stream;
        let conn = &mut self.conn;
        with_read_buf(|buf| match Pin::new(stream).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) => Poll::Ready(Ok(false)),
            Poll::Ready(Ok(n)) => {
                conn.receive_data(&buf[..n.min(buf.len())]);
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        })
    }

    /// Reads part of a large frame straight into the connection's buffer: no copy from the
    /// thread's read buffer, and reads as large as the frame allows.
    ///
    /// The zeroed room after the buffered bytes (`spare`) is kept across reads, so each
    /// byte is zeroed once. Memory follows what arrived: at most four times the bytes
    /// buffered (or one read buffer's worth) is zeroed, never past the end of the frame. The
    /// buffer gets room up to the frame's end in one step (a length already checked against
    /// the limits), so a large frame is never copied to a larger buffer.
    fn poll_read_direct(
        &mut self,
        cx: &mut Context<'_>,
        remaining: usize,
    ) -> Poll<io::Result<bool>> {
        if self.spare.is_empty() {
            // Let go of the old allocation first, so that growing may reuse it.
            self.spare = BytesMut::new();
            let buf = self.conn.read_buf();
            let len = buf.len();
            let want = remaining.min(len.saturating_mul(3).max(READ_BUF));
            // Room up to the frame's end in one step (its length was checked against the
            // limits): the buffer is never copied to a larger one while the frame arrives.
            // That room is address space; its pages are touched only as they are zeroed,
            // a read ahead (`want`).
            reserve_to_bound(buf, want, len.saturating_add(remaining));
            buf.resize(len + want, 0);
            self.spare = buf.split_off(len);
        }
        match Pin::new(&mut self.stream).poll_read(cx, &mut self.spare) {
            Poll::Ready(Ok(0)) => Poll::Ready(Ok(false)),
            Poll::Ready(Ok(n)) => {
                let filled = self.spare.split_to(n.min(self.spare.len()));
                // O(1): `filled` starts where the connection's buffer ends.
                self.conn.read_buf().unsplit(filled);
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Drives the end of the connection: flush, wait for EOF (client), shut down.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Phase::Finishing { wait_eof } = self.phase else {
                return Poll::Ready(());
            };
            if self.poll_timers(cx) {
                // The peer took too long: give up on a clean end.
                self.done();
                return Poll::Ready(());
            }
            match self.poll_write_out(cx, 0) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => {
                    self.done();
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(())) => {}
            }
            if wait_eof && !self.eof {
                let mut scratch = [0u8; DRAIN_READ];
                match Pin::new(&mut self.stream).poll_read(cx, &mut scratch) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => self.eof = true,
                    Poll::Ready(Ok(_)) => {}
                }
                continue;
            }
            // Shutting down is best effort: the connection is over either way.
            if Pin::new(&mut self.stream).poll_close(cx).is_pending() {
                return Poll::Pending;
            }
            self.done();
            return Poll::Ready(());
        }
    }

    /// Enters the finishing phase once the peer's close arrived (our echo may still be
    /// queued) or the connection failed.
    fn finish_if_closed(&mut self) {
        if self.phase != Phase::Open {
            return;
        }
        if self.conn.close_received() {
            // A client waits for the server to close TCP after a clean close handshake.
            let wait_eof = self.conn.role() == Role::Client && !self.eof && self.wait_eof_on_close;
            self.finish(wait_eof, true);
        } else if self.conn.state() == State::Closed {
            self.finish(false, true);
        }
    }

    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match self.phase {
                Phase::Done => return Poll::Ready(self.error.take().map(Err)),
                Phase::Finishing { .. } => {
                    ready!(self.poll_finish(cx));
                    continue;
                }
                Phase::Open => {}
            }
            // In the open phase only the connection's deadlines are armed. They are looked
            // at when something may have changed, and before every wait (below).
            if self.timers_need_work() {
                self.poll_timers(cx);
            }
            match self.conn.poll_message() {
                Ok(Some(msg)) => {
                    if matches!(msg, Message::Ping(_) | Message::Close(_)) {
                        // Send the owed pong / close echo now rather than at the next call;
                        // if the stream is full it goes before the next read.
                        if let Poll::Ready(Err(e)) = self.poll_write_out(cx, 0) {
                            self.error = Some(self.fail_io(e));
                        }
                        self.finish_if_closed();
                    }
                    return Poll::Ready(Some(Ok(msg)));
                }
                Ok(None) => {}
                Err(e) => {
                    // The connection failed (a close frame may be queued): write it and shut
                    // down now if the stream lets us, else during the next calls.
                    self.finish_if_closed();
                    let _ = self.poll_finish(cx);
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if self.conn.state() != State::Open && self.conn.state() != State::ClosingLocal {
                // Closed without a message for us (the connection reported its error
                // already, or has none): finish and end.
                self.finish_if_closed();
                continue;
            }
            if self.eof {
                // Unreachable with a correct connection: EOF is reported by `poll_message`.
                self.error = Some(Error::from(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the transport without a close handshake",
                )));
                self.done();
                continue;
            }
            // Owed replies (pongs, close echo, keepalive pings) and anything fed by the
            // user go out before we wait for input. A full stream does not block reading.
            if self.conn.wants_write() || self.needs_flush {
                if let Poll::Ready(Err(e)) = self.poll_write_out(cx, 0) {
                    let e = self.fail_io(e);
                    return Poll::Ready(Some(Err(e)));
                }
            }
            let read = match self.poll_read_in(cx) {
                Poll::Ready(read) => read,
                Poll::Pending => {
                    // About to wait: arm the sleep for the next deadline. A deadline that
                    // was due has been handled: go round again (write the ping, report).
                    let handled = self.timeouts_handled;
                    self.poll_timers(cx);
                    if self.timeouts_handled != handled {
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            match read {
                Ok(true) => {}
                Ok(false) => {
                    self.eof = true;
                    self.conn.receive_eof();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let e = self.fail_io(e);
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if let Some(e) = self.write_closed_error() {
                return Poll::Ready(Err(e));
            }
            if self.conn.state() != State::Open || self.conn.output_len() <= self.write_high {
                // Not open: `start_send` reports why.
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_send_out(cx, self.write_high))?;
        }
    }

    pub(crate) fn start_send(&mut self, msg: Message) -> Result<(), Error> {
        if let Some(e) = self.write_closed_error() {
            return Err(e);
        }
        let before = self.conn.state();
        let result = self.conn.send(msg);
        if self.conn.state() != before {
            self.events += 1;
        }
        result
    }

    /// Queues our close frame (validating `code` and `reason`); does nothing once a close
    /// was sent or received or the connection failed.
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let was_open = self.conn.is_open();
        self.conn.close(code, reason)?;
        if was_open && self.phase == Phase::Open {
            self.events += 1;
        }
        Ok(())
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.broken.is_some() {
            return Poll::Ready(Err(self.write_closed_error().unwrap_or(Error::closed())));
        }
        match self.phase {
            Phase::Done => {
                // Nothing can be written any more. What is still queued was abandoned (the
                // finishing deadline ran out on a peer that does not read): a send whose
                // message is among it must not report success.
                return Poll::Ready(if self.conn.wants_write() {
                    Err(Error::closed())
                } else {
                    Ok(())
                });
            }
            Phase::Finishing { .. } if !self.conn.close_received() && self.conn.wants_write() => {
                // The connection failed (keepalive, protocol, close timeout) with output
                // still queued: the sender learns it now, not when the close frame behind
                // its message is written or abandoned. Writing that output is the
                // receiver's best effort from here on (`poll_finish`); a sender that went on
                // writing could report `Ok` at any later wake-up, when a transport that
                // signals no room still takes bytes if asked (async-io sockets try the
                // write on every poll; the kernel makes room for a peer that does not read
                // without signalling it).
                return Poll::Ready(Err(Error::closed()));
            }
            _ => {}
        }
        // Timers run from the receiving side only (see the module docs): a sender that
        // cannot read pongs must not fail on a keepalive deadline. Only a write that makes
        // (almost) no progress is bounded here.
        self.poll_send_out(cx, 0)
    }

    /// Writes queued output for a sender until at most `keep` bytes remain: a transport
    /// error fails the connection, and so does a stall past the write timeout.
    fn poll_send_out(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<Result<(), Error>> {
        if let Some(e) = self.write_stall_expired(cx) {
            return Poll::Ready(Err(e));
        }
        match self.poll_write_out(cx, keep) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.fail_io(e))),
            Poll::Pending => self.poll_write_stall(cx),
        }
    }

    /// A sender found the transport full: `Pending` until the write timeout passes with
    /// less than [`STALL_PROGRESS`] bytes written (a peer that does not read still has the
    /// kernel take a few bytes now and then), then the connection is dropped (no close frame can get through) with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) at [`Step::Write`], for the sender and for `recv`.
    fn poll_write_stall(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let (Some(timer), Some(timeout)) = (&self.timer, self.write_timeout) else {
            return Poll::Pending;
        };
        if self.write_stall.is_none() {
            let Some(at) = timer.now().checked_add(timeout) else {
                return Poll::Pending;
            };
            self.write_stall = Some(timer.sleep_until(at));
            self.stall_written = 0;
        }
        match self.write_stall_expired(cx) {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Pending,
        }
    }

    /// Whether the write timeout armed by a stalled sender ran out: checked before writing
    /// again, so that bytes the kernel takes late (room it made without signalling the
    /// socket writable) do not stretch the bound. The connection is then dropped.
    fn write_stall_expired(&mut self, cx: &mut Context<'_>) -> Option<Error> {
        let sleep = self.write_stall.as_mut()?;
        if sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        self.write_stall = None;
        trace::warn!(
            in self.conn.span(),
            timeout = ?self.write_timeout,
            "write timeout: the peer takes no data; dropping the connection"
        );
        self.broken = Some(io::ErrorKind::TimedOut);
        self.error.get_or_insert(Error::timeout(Step::Write));
        self.done();
        Some(Error::timeout(Step::Write))
    }

    /// Runs the connection to its end, discarding incoming messages: used by `close`.
    pub(crate) fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // Messages (and errors, reported by the state) that arrive meanwhile are dropped.
        while ready!(self.poll_recv(cx)).is_some() {}
        Poll::Ready(())
    }
}

/// A stream for the driver's unit tests (here and in `stream`).
#[cfg(test)]
pub(crate) mod test_io {
    use std::collections::VecDeque;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_io::{AsyncRead, AsyncWrite};

    /// Reads at most `chunk` bytes per call from a queue (`Pending` once it is empty),
    /// collects writes.
    pub(crate) struct Feed {
        pub(crate) input: VecDeque<u8>,
        pub(crate) output: Vec<u8>,
        pub(crate) chunk: usize,
    }

    impl AsyncRead for Feed {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.input.is_empty() {
                return Poll::Pending;
            }
            let n = buf.len().min(self.input.len()).min(self.chunk);
            for (b, v) in buf.iter_mut().zip(self.input.drain(..n)) {
                *b = v;
            }
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Feed {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.output.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
}

#[cfg(test)]
mod read_tests {
    #![allow(clippy::unwrap_used)]

    use super::test_io::Feed;
    use super::*;
    use crate::proto::config::Config;
    use crate::stream::WebSocket;

    /// A final, unmasked server frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let header = ws_frame::FrameHeader {
            fin: true,
            rsv: 0,
            opcode: ws_frame::OpCode::from_u8(opcode).unwrap(),
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; ws_frame::MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        [&head[..n], payload].concat()
    }

    fn client(input: Vec<u8>, chunk: usize) -> WebSocket<Feed> {
        let stream = Feed {
            output: Vec::new(),
            input: input.into(),
            chunk,
        };
        WebSocket::from_raw(stream, Role::Client, Config::default(), None)
    }

    #[test]
    fn large_frames_read_straight_into_the_buffer_arrive_intact() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let text = "é✓x".repeat(50_000);
        let mut input = frame(0x2, &big);
        input.extend(frame(0x1, text.as_bytes()));
        input.extend(frame(0x2, b"small"));
        input.extend(frame(0x2, &big[..100_000]));
        for chunk in [1000, 7 << 10, 100_000, usize::MAX] {
            let mut ws = client(input.clone(), chunk);
            let task = futures::task::noop_waker();
            let mut cx = Context::from_waker(&task);
            let mut got = Vec::new();
            while let Poll::Ready(Some(m)) = ws.core.poll_recv(&mut cx) {
                got.push(m.unwrap());
            }
            assert_eq!(got.len(), 4, "chunk {chunk}");
            assert_eq!(got[0], Message::binary(big.clone()));
            assert_eq!(got[1], Message::text(text.clone()));
            assert_eq!(got[2], Message::binary(&b"small"[..]));
            assert_eq!(got[3], Message::binary(big[..100_000].to_vec()));
            assert!(ws.core.spare.is_empty() || ws.core.conn.buffered_frame_remaining() > 0);
        }
    }

    #[test]
    fn a_declared_length_does_not_size_the_buffer() {
        // 16 MiB announced (the default frame limit), 200 KB sent.
        let mut input = vec![0x82, 127];
        input.extend_from_slice(&(16u64 << 20).to_be_bytes());
        input.extend(std::iter::repeat_n(7u8, 200_000));
        let mut ws = client(input, 10_000);
        let task = futures::task::noop_waker();
        let mut cx = Context::from_waker(&task);
        assert!(ws.core.poll_recv(&mut cx).is_pending());
        let remaining = ws.core.conn.buffered_frame_remaining();
        let buffered = (16 << 20) - remaining;
        assert_eq!(buffered, 200_000);
        // Read straight into the connection's buffer; the zeroed room ahead is bounded by
        // what arrived, not by the 16 MiB claim.
        assert!(!ws.core.spare.is_empty());
        assert!(
            ws.core.spare.len() <= 3 * buffered + READ_BUF,
            "spare {} for {buffered} bytes received",
            ws.core.spare.len()
        );
    }
}
