//! Connection settings: limits, timeouts, keepalive and compression.
//!
//! The defaults are safe for untrusted peers; most users never change them. Every field is
//! public and has a builder-style setter:
//!
//! ```
//! use std::time::Duration;
//! use ws_client::{Config, Keepalive};
//!
//! let config = Config::default()
//!     .max_message_size(Some(1 << 20))
//!     .keepalive(Some(Keepalive::new(Duration::from_secs(20), Duration::from_secs(20))));
//! assert_eq!(config.max_message_size, Some(1 << 20));
//! ```

use std::time::Duration;

/// Default [`Config::max_message_size`]: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Default [`Config::max_frame_size`]: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
/// Default [`Config::max_fragments`].
pub const DEFAULT_MAX_FRAGMENTS: usize = 100_000;
/// Default [`Config::max_empty_fragments`].
pub const DEFAULT_MAX_EMPTY_FRAGMENTS: usize = 1024;
/// Default [`Config::write_frame_size`]: 16 MiB.
pub const DEFAULT_WRITE_FRAME_SIZE: usize = 16 << 20;
/// Default [`Config::write_buffer_high`]: 128 KiB.
pub const DEFAULT_WRITE_BUFFER_HIGH: usize = 128 << 10;
/// Default [`Config::max_queued_pongs`].
pub const DEFAULT_MAX_QUEUED_PONGS: usize = 16;
/// Default [`Config::close_timeout`]: 10 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default interval of keepalive pings ([`Config::keepalive`]): 20 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Default time a keepalive pong may take before the connection fails: 20 s.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`Config::write_timeout`]: 20 s, the time a peer has to answer a keepalive ping.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Settings of one WebSocket connection.
///
/// `#[non_exhaustive]`: start from [`Config::default()`] and use the setters (or assign the
/// public fields).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest message accepted, in bytes, after decompression. `None`: no limit (only for
    /// trusted peers). Default 64 MiB. Larger messages fail the connection with 1009.
    pub max_message_size: Option<usize>,
    /// Largest frame payload accepted, in bytes (as declared in the header: refused before
    /// the payload arrives). `None`: no limit. Default 16 MiB. Larger frames fail with 1009.
    pub max_frame_size: Option<usize>,
    /// Most frames one message may be split into. Default 100 000. More fail with 1009.
    pub max_fragments: usize,
    /// Most consecutive empty non-final continuation frames accepted (they carry nothing and
    /// only cost CPU). Default 1024. More fail with 1008.
    pub max_empty_fragments: usize,
    /// Outgoing messages with a larger (possibly compressed) payload are sent as several
    /// frames of at most this many payload bytes. Default 16 MiB; values below 1 act as 1.
    pub write_frame_size: usize,
    /// High-water mark of the output buffer: the async layer waits in `send` while more
    /// than this is queued, and the connection stops encoding owed pongs above it (see
    /// [`max_queued_pongs`](Self::max_queued_pongs)). Default 128 KiB.
    pub write_buffer_high: usize,
    /// Most pongs owed to the peer that are kept while the output buffer is above
    /// [`write_buffer_high`](Self::write_buffer_high) (the peer is not reading). When more
    /// pings arrive the oldest owed pongs are dropped: RFC 6455 §5.5.3 allows answering only
    /// the most recent ping. Default 16; values below 1 act as 1.
    pub max_queued_pongs: usize,
    /// After we send a close frame, how long to wait for the peer's; then the connection is
    /// dropped ([`ErrorKind::Timeout`](crate::ErrorKind::Timeout) with `Step::Close`). `None`: wait
    /// forever. Default 10 s.
    pub close_timeout: Option<Duration>,
    /// How long a send (or flush) may wait while the transport takes none of our bytes
    /// (the peer stopped reading, or the network is stuck); then the connection is dropped
    /// ([`ErrorKind::Timeout`](crate::ErrorKind::Timeout) with `Step::Write`). It bounds a stall,
    /// not a transfer: a slow link that keeps taking bytes never trips it. `None`: wait
    /// forever. Default 20 s.
    pub write_timeout: Option<Duration>,
    /// Send a ping every `interval` and fail the connection (1011) when its pong does not
    /// arrive within `timeout`. Default: a ping every 20 s, fail when its pong takes more
    /// than 20 s. `None`: off.
    pub keepalive: Option<Keepalive>,
    /// zlib compression level for outgoing messages, 0 (store) to 9 (best). Default 1:
    /// the fastest real compression; text/JSON shrinks nearly as well as at 6 for a third
    /// of the CPU.
    pub compression_level: u32,
    /// Outgoing payloads shorter than this are sent uncompressed even when deflate is
    /// negotiated (compressing them costs more than it saves). Default 64.
    pub compression_threshold: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_size: Some(DEFAULT_MAX_MESSAGE_SIZE),
            max_frame_size: Some(DEFAULT_MAX_FRAME_SIZE),
            max_fragments: DEFAULT_MAX_FRAGMENTS,
            max_empty_fragments: DEFAULT_MAX_EMPTY_FRAGMENTS,
            write_frame_size: DEFAULT_WRITE_FRAME_SIZE,
            write_buffer_high: DEFAULT_WRITE_BUFFER_HIGH,
            max_queued_pongs: DEFAULT_MAX_QUEUED_PONGS,
            close_timeout: Some(DEFAULT_CLOSE_TIMEOUT),
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            keepalive: Some(Keepalive::new(DEFAULT_PING_INTERVAL, DEFAULT_PING_TIMEOUT)),
            compression_level: 1,
            compression_threshold: 64,
        }
    }
}

impl Config {
    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, max: Option<usize>) -> Self {
        self.max_message_size = max;
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, max: Option<usize>) -> Self {
        self.max_frame_size = max;
        self
    }

    /// Sets [`max_fragments`](Self::max_fragments).
    pub fn max_fragments(mut self, max: usize) -> Self {
        self.max_fragments = max;
        self
    }

    /// Sets [`max_empty_fragments`](Self::max_empty_fragments).
    pub fn max_empty_fragments(mut self, max: usize) -> Self {
        self.max_empty_fragments = max;
        self
    }

    /// Sets [`write_frame_size`](Self::write_frame_size).
    pub fn write_frame_size(mut self, size: usize) -> Self {
        self.write_frame_size = size;
        self
    }

    /// Sets [`write_buffer_high`](Self::write_buffer_high).
    pub fn write_buffer_high(mut self, bytes: usize) -> Self {
        self.write_buffer_high = bytes;
        self
    }

    /// Sets [`max_queued_pongs`](Self::max_queued_pongs).
    pub fn max_queued_pongs(mut self, n: usize) -> Self {
        self.max_queued_pongs = n;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`keepalive`](Self::keepalive).
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`compression_level`](Self::compression_level) (clamped to 9).
    pub fn compression_level(mut self, level: u32) -> Self {
        self.compression_level = level.min(9);
        self
    }

    /// Sets [`compression_threshold`](Self::compression_threshold).
    pub fn compression_threshold(mut self, bytes: usize) -> Self {
        self.compression_threshold = bytes;
        self
    }
}

/// Keepalive: ping every `interval`, give up when a pong takes longer than `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between pings.
    pub interval: Duration,
    /// How long to wait for the pong.
    pub timeout: Duration,
}

impl Keepalive {
    /// Ping every `interval`; fail when a pong takes longer than `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.max_message_size, Some(64 << 20));
        assert_eq!(c.max_frame_size, Some(16 << 20));
        assert_eq!(c.write_buffer_high, 128 << 10);
        assert_eq!(c.close_timeout, Some(Duration::from_secs(10)));
        assert_eq!(
            c.keepalive,
            Some(Keepalive::new(
                Duration::from_secs(20),
                Duration::from_secs(20)
            ))
        );
        let c = c.write_frame_size(7).compression_level(42);
        assert_eq!(c.write_frame_size, 7);
        assert_eq!(c.compression_level, 9);
    }
}
