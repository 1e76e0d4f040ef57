//! The time side of [`Connection`]: keepalive pings and their pong deadline, the close
//! timeout, giving idle buffers back. Time is passed in; nothing here reads a clock.

use super::*;

impl Connection {
    // ----- time -----

    /// Advances the timers to `now`. Call it once right after [`new`](Self::new) (this
    /// starts the keepalive timer) and whenever [`poll_timeout`](Self::poll_timeout) has
    /// passed; then call [`poll_message`](Self::poll_message), which reports an expired
    /// timer as [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), and write [`pending_output`](Self::pending_output).
    ///
    /// * Keepalive ([`Config::keepalive`]): sends a ping every `interval` while open; when
    ///   its pong (same payload) has not arrived after `timeout`, the connection fails with
    ///   close code 1011 (`Error::timeout(Step::Keepalive)`).
    /// * Close timeout ([`Config::close_timeout`]): counted from the first call after our
    ///   close was queued; when the peer's close has not arrived by then, the connection is
    ///   closed (`Error::timeout(Step::Close)`).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timers.now = Some(now);
        if self.failed || self.received_close {
            return;
        }
        if self.sent_close {
            if self.timers.close_arm_pending {
                self.timers.close_arm_pending = false;
                self.timers.close_deadline =
                    self.config.close_timeout.and_then(|t| now.checked_add(t));
            }
            if self.timers.close_deadline.is_some_and(|d| now >= d) {
                trace::debug!(
                    in &self.span,
                    timeout = ?self.config.close_timeout,
                    "no close from the peer within the close timeout"
                );
                self.terminate();
                self.pending_error = Some(Error::timeout(Step::Close));
            }
            return;
        }
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if !self.timers.keepalive_started {
            self.timers.keepalive_started = true;
            self.timers.next_ping = now.checked_add(keepalive.interval);
        }
        if self.timers.pong_deadline.is_some_and(|d| now >= d) {
            trace::warn!(
                in &self.span,
                timeout = ?keepalive.timeout,
                "no pong within the keepalive timeout: closing with 1011"
            );
            self.write_close(Some(CloseCode::INTERNAL_ERROR), "keepalive ping timeout");
            self.terminate();
            self.pending_error = Some(Error::timeout(Step::Keepalive));
            return;
        }
        if self.timers.next_ping.is_some_and(|t| now >= t) {
            if self.timers.pong_deadline.is_none() {
                self.timers.ping_count = self.timers.ping_count.wrapping_add(1);
                self.timers.ping_payload = self.timers.ping_count.to_be_bytes();
                let payload = self.timers.ping_payload;
                trace::trace!(in &self.span, "keepalive ping");
                self.write_frame(OpCode::Ping, true, 0, &payload);
                self.timers.pong_deadline = now.checked_add(keepalive.timeout);
            }
            self.timers.next_ping =
                now.checked_add(keepalive.interval.max(Duration::from_millis(1)));
        }
    }

    /// Gives back a read buffer that a large message made large, once that message is
    /// delivered: on the data path, so that an idle connection (keepalive off included)
    /// keeps nothing of its largest message.
    pub(super) fn release_idle_input(&mut self) {
        let cap = self.rbuf.capacity();
        if self.rbuf.is_empty() {
            if cap > RBUF_KEEP {
                self.rbuf = BytesMut::new();
            }
        } else if cap > GROW_DIRECT && self.rbuf.len() <= RBUF_KEEP {
            // The start of the next frame would keep the whole allocation alive.
            self.rbuf = BytesMut::from(&self.rbuf[..]);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever. May be in
    /// the past (call it at once then): a timer that starts "now" is armed by the next
    /// `handle_timeout`. `None` before the first `handle_timeout` call, and once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed || self.received_close {
            return None;
        }
        if self.sent_close {
            return if self.timers.close_arm_pending {
                self.timers.now
            } else {
                self.timers.close_deadline
            };
        }
        self.config.keepalive?;
        if !self.timers.keepalive_started {
            return self.timers.now;
        }
        match (self.timers.next_ping, self.timers.pong_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
