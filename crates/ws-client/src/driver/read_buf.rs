//! The read buffer shared by the `WebSocket`s one thread polls: `futures-io` reads need an
//! initialized buffer and this crate has no `unsafe`, so one 64 KiB buffer per thread is
//! zeroed once and lent to each read.

use std::cell::Cell;

/// Size of the per-thread read buffer: large enough for bulk transfers to take few system
/// calls; a read of a few bytes costs the same.
pub(super) const READ_BUF: usize = 64 << 10;

thread_local! {
    /// The read buffer shared by the `WebSocket`s polled on this thread (empty while one
    /// of them is reading).
    static READ_SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with an initialized read buffer: this thread's shared one (zeroed once, at its
/// first use). A read that starts while another is under way on the same thread (a stream
/// whose `poll_read` polls another `WebSocket`) or after the thread's buffer was destroyed
/// gets a fresh one.
pub(super) fn with_read_buf<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut buf = READ_SCRATCH.try_with(Cell::take).unwrap_or_default();
    if buf.len() < READ_BUF {
        buf.resize(READ_BUF, 0);
    }
    let out = f(&mut buf);
    let _ = READ_SCRATCH.try_with(|cell| cell.set(buf));
    out
}
