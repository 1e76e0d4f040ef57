//! The sans-I/O WebSocket connection: bytes in, messages out, bytes to send.
//!
//! [`Connection`] is a deterministic state machine for one WebSocket connection after the
//! opening handshake. It performs no I/O and never reads the clock: a driver (the async
//! [`WebSocket`](crate::stream), a test, a benchmark) moves bytes and time in and out.
//!
//! ```text
//!  socket ─▶ receive_data / read_buf ─▶ ┌────────────┐ ─▶ poll_message ─▶ Message
//!            receive_eof                │ Connection │      (pongs and close echoes are
//!  timer ──▶ handle_timeout(now)     ─▶ │            │       queued here, automatically)
//!  user ───▶ send / close            ─▶ └────────────┘ ─▶ pending_output ─▶ socket
//!                                          poll_timeout ─▶ timer      consume_output(n)
//! ```
//!
//! # How to drive it
//!
//! 1. Right after [`Connection::new`], call [`handle_timeout(now)`](Connection::handle_timeout)
//!    once: the connection cannot read the clock, so this starts the keepalive timer.
//! 2. Bytes from the transport go in with [`receive_data`](Connection::receive_data), or
//!    straight into [`read_buf`](Connection::read_buf) (no copy). End of stream:
//!    [`receive_eof`](Connection::receive_eof).
//! 3. Call [`poll_message`](Connection::poll_message) until it returns `Ok(None)`. Read
//!    more only then: this bounds the read buffer by the frame size limit. `Ok(None)` with
//!    [`is_closed`](Connection::is_closed) `== true` means the connection is over.
//! 4. While [`wants_write`](Connection::wants_write), write
//!    [`pending_output`](Connection::pending_output) and report what was written with
//!    [`consume_output`](Connection::consume_output). Do this after every call above: a
//!    received ping or close queues an answer, and `send`/`close` queue frames.
//! 5. Keep a timer at [`poll_timeout`](Connection::poll_timeout) (it may be in the past:
//!    then fire at once). When it passes call `handle_timeout(now)`, then `poll_message`
//!    (it reports timeouts as errors) and write.
//! 6. Once [`state`](Connection::state) is [`State::Closed`], write what is left of
//!    `pending_output` (best effort) and shut the transport down. RFC 6455 §7.1.1 prefers
//!    that the server closes TCP first: a client driver may wait a moment for EOF.
//!
//! # Behaviour
//!
//! * Pings are answered as soon as they are parsed (the pong is queued before the ping is
//!   returned). While the output buffer is above [`Config::write_buffer_high`], owed pongs
//!   wait in a queue of at most [`Config::max_queued_pongs`]; extra pings replace the oldest
//!   (RFC 6455 §5.5.3 allows answering only the most recent ping).
//! * A close from the peer is answered with the same status code (or an empty close if it
//!   had none) and returned once as [`Message::Close`]; the connection is then closed.
//! * Any violation by the peer fails the connection: a close frame with the code of the
//!   [`ProtocolError`] is queued, the error is returned once, then `poll_message` returns
//!   `Ok(None)`.
//! * Text is validated as it arrives, also in the middle of a frame: invalid UTF-8 fails the
//!   connection (1007) as soon as the bad byte is here.
//! * Limits are checked on declared lengths before any payload is buffered; nothing is ever
//!   allocated from a length the peer declares; a message limit bounds peak memory (see
//!   below), not just the final size.
//!
//! # Memory and copies
//!
//! A single-frame uncompressed message is split off the read buffer: its [`Bytes`] is a view
//! into the buffer the socket was read into (no copy). A message over 1 KiB that is all that
//! is buffered takes the whole buffer with it, so the next read lands in fresh (recently
//! freed, cache-hot) memory and the connection keeps nothing between messages. Fragmented
//! messages are copied once, frame by frame, into a buffer that grows with the bytes
//! received; compressed ones are inflated into one. That buffer doubles up to 1 MiB and then
//! gets room up to [`Config::max_message_size`] in one step, so it is never copied while
//! large: peak allocation for one message is its limit plus about 1 MiB, and memory pages
//! are only touched as bytes arrive. Sending copies the payload once into the output buffer
//! and masks it there, piece by piece while it is in L1 (client role). Buffers a large
//! message made large are given back on the data path, as soon as the message is delivered
//! or written: an idle connection keeps only small buffers (keepalive on or off). Every masking key is drawn from a
//! cryptographically secure generator (`rand`'s thread-local ChaCha12, seeded from the
//! operating system), as RFC 6455 §5.3 requires.
//!
//! ```
//! use ws_client::{Config, Connection, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//!
//! client.send(Message::text("hello"))?;
//! // The driver's job: move the bytes.
//! server.receive_data(client.pending_output());
//! let n = client.pending_output().len();
//! client.consume_output(n);
//!
//! assert_eq!(server.poll_message()?, Some(Message::text("hello")));
//! assert_eq!(server.poll_message()?, None); // nothing more buffered
//! # Ok::<(), ws_client::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use rand::RngCore;
use ws_frame::{
    apply_mask, extend_masked, CloseCode, Decoded, FrameHeader, HeaderDecoder, OpCode, Role,
    MAX_HEADER_LEN, RSV1,
};

pub(crate) mod buf;
pub mod config;
#[cfg(feature = "deflate")]
pub mod deflate;
mod out;
mod receive;
mod send;
mod timers;
pub mod utf8;

use self::buf::{freeze_vec, reserve_bounded, GROW_DIRECT};
use self::config::Config;
#[cfg(feature = "deflate")]
use self::deflate::{Deflate, DeflateError};
use self::out::{OutBuf, LAZY_MIN};
use self::utf8::Utf8Validator;
use crate::error::{Error, ProtocolError, Step, UsageError};
use crate::message::{CloseFrame, Message, Utf8Bytes};
use crate::trace;
#[cfg(feature = "deflate")]
use ws_handshake::permessage_deflate::DeflateParams;

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;
/// The largest close reason: a control payload minus the 2-byte code.
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;
/// A single-frame message larger than this that is all the buffered input takes the read
/// buffer with it; smaller ones are split off, and the buffer is reused for the next read.
const TAKE_MIN: usize = 1 << 10;
/// An empty read buffer with more capacity than this is given back once a message is
/// delivered; so is one that holds only a few bytes (at most this many) of a buffer that a
/// large frame made larger than [`GROW_DIRECT`] (they are copied out).
const RBUF_KEEP: usize = 64 << 10;
/// The compression scratch buffer is given back after a message larger than this.
#[cfg(feature = "deflate")]
const SCRATCH_KEEP: usize = 64 << 10;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's. Messages the peer sent before it saw
    /// our close are still delivered (RFC 6455 §1.4 only discards data after *receiving* a
    /// close); nothing more can be sent.
    ClosingLocal,
    /// The peer's close frame arrived and ours (the echo, or the one we had sent) is still
    /// in [`Connection::pending_output`]: write it out. Becomes [`State::Closed`] once the
    /// output has been consumed.
    ClosingRemote,
    /// The close handshake is complete, or the connection failed (protocol error, EOF,
    /// timeout). After a failure `pending_output` may still hold our close frame: write it
    /// (best effort), then shut the transport down.
    Closed,
}

/// The sans-I/O state machine of one WebSocket connection. See the [module docs](self) for
/// how to drive it.
pub struct Connection {
    role: Role,
    config: Config,
    /// What the handshake agreed on (compression).
    negotiated: Negotiated,
    decoder: HeaderDecoder,
    /// Bytes received and not yet consumed. Starts with a frame header, or with the rest of
    /// the payload of `frame`.
    rbuf: BytesMut,
    /// Bytes to send.
    out: OutBuf,
    /// The frame whose payload is being received.
    frame: Option<InFrame>,
    /// The fragmented or compressed message being assembled.
    msg: Option<InMessage>,
    utf8: Utf8Validator,
    /// Pongs owed while the output buffer is above the high-water mark.
    owed_pongs: VecDeque<Bytes>,
    sent_close: bool,
    received_close: bool,
    /// The connection failed (protocol error, EOF, timeout).
    failed: bool,
    eof: bool,
    peer_close: Option<CloseFrame>,
    /// An error produced outside `poll_message` (timeouts, EOF), reported by its next call.
    pending_error: Option<Error>,
    timers: Timers,
    /// Boxed: ~300 bytes that a connection without compression should not carry.
    #[cfg(feature = "deflate")]
    deflate: Option<Box<Deflate>>,
    /// Compressed payload of the message being sent.
    #[cfg(feature = "deflate")]
    scratch: Vec<u8>,
    /// The parent of this connection's events: a client's `websocket` span once the
    /// connect flow set it, else none (events then go to the current span).
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// How the payload of the current frame is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A control frame: buffered whole in `rbuf` (at most 125 bytes).
    Control,
    /// A single-frame uncompressed message: buffered in `rbuf`, split off at the end.
    Single,
    /// A frame of a fragmented or compressed message: moved into `msg` as it arrives.
    Stream,
}

#[derive(Clone, Copy, Debug)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    /// Payload bytes processed so far (unmasked, validated; in `Stream` mode also
    /// consumed from `rbuf`). The masking offset of the next byte.
    pos: usize,
    mode: Mode,
}

#[derive(Debug)]
struct InMessage {
    text: bool,
    compressed: bool,
    /// A `Vec` so that inflating writes into its spare capacity without zeroing it first.
    buf: Vec<u8>,
    /// Payload bytes announced by the frames so far (uncompressed messages).
    size: u64,
    fragments: usize,
    empty_run: usize,
}

#[derive(Debug, Default)]
struct Timers {
    /// The latest time given to `handle_timeout`.
    now: Option<Instant>,
    /// Our close was sent and its timer starts at the next `handle_timeout`.
    close_arm_pending: bool,
    close_deadline: Option<Instant>,
    keepalive_started: bool,
    next_ping: Option<Instant>,
    /// When the outstanding keepalive ping times out.
    pong_deadline: Option<Instant>,
    /// Payload of the outstanding keepalive ping.
    ping_payload: [u8; 8],
    ping_count: u64,
}

/// What the opening handshake negotiated for a connection: not a setting (the user's
/// [`Config`] stays as given), but what both sides agreed on, handed to
/// [`Connection::with_negotiated`] by the handshake driver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// The permessage-deflate parameters (RFC 7692), when compression was agreed on.
    /// `None`: no compression (RSV1 from the peer is a protocol error).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateParams>,
}

impl Negotiated {
    /// permessage-deflate with `params` (`None`: none).
    #[cfg(feature = "deflate")]
    pub fn deflate(params: Option<DeflateParams>) -> Self {
        Negotiated { deflate: params }
    }

    /// Whether permessage-deflate was agreed on.
    pub fn compression(&self) -> bool {
        #[cfg(feature = "deflate")]
        {
            self.deflate.is_some()
        }
        #[cfg(not(feature = "deflate"))]
        {
            false
        }
    }
}

impl Connection {
    /// A connection in [`State::Open`], for our `role`, right after the opening handshake,
    /// without compression.
    pub fn new(role: Role, config: Config) -> Connection {
        Connection::with_negotiated(role, config, Negotiated::default())
    }

    /// A connection in [`State::Open`] with what the handshake `negotiated`. With
    /// permessage-deflate, RSV1 is accepted on the first frame of data messages and
    /// outgoing messages of at least [`Config::compression_threshold`] bytes are
    /// compressed.
    pub fn with_negotiated(role: Role, config: Config, negotiated: Negotiated) -> Connection {
        let rsv = if negotiated.compression() { RSV1 } else { 0 };
        let mut decoder = HeaderDecoder::new(role).allowed_rsv(rsv);
        if let Some(max) = config.max_frame_size {
            decoder = decoder.max_frame_size(max as u64);
        }
        #[cfg(feature = "deflate")]
        let deflate = negotiated
            .deflate
            .as_ref()
            .map(|params| Box::new(Deflate::new(params, role, config.compression_level)));
        Connection {
            role,
            decoder,
            rbuf: BytesMut::new(),
            out: OutBuf::default(),
            frame: None,
            msg: None,
            utf8: Utf8Validator::new(),
            owed_pongs: VecDeque::new(),
            sent_close: false,
            received_close: false,
            failed: false,
            eof: false,
            peer_close: None,
            pending_error: None,
            timers: Timers::default(),
            #[cfg(feature = "deflate")]
            deflate,
            #[cfg(feature = "deflate")]
            scratch: Vec::new(),
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
            config,
            negotiated,
        }
    }

    /// Makes `span` the parent of this connection's events.
    #[cfg(feature = "tracing")]
    pub(crate) fn set_span(&mut self, span: tracing::Span) {
        self.span = span;
    }

    /// The parent of this connection's events (disabled when none was set).
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    // ----- getters -----

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        if self.failed {
            State::Closed
        } else if self.received_close {
            if self.out.is_empty() {
                State::Closed
            } else {
                State::ClosingRemote
            }
        } else if self.sent_close {
            State::ClosingLocal
        } else {
            State::Open
        }
    }

    /// Whether [`state`](Self::state) is [`State::Closed`].
    pub fn is_closed(&self) -> bool {
        self.state() == State::Closed
    }

    /// Whether messages can still be sent ([`State::Open`]).
    pub fn is_open(&self) -> bool {
        !self.sent_close && !self.received_close && !self.failed
    }

    /// Whether incoming bytes are still wanted: false once the peer's close arrived, the
    /// connection failed or EOF was seen. A driver may stop reading then.
    pub fn wants_read(&self) -> bool {
        !self.input_closed()
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings this connection was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the opening handshake negotiated (compression).
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The close frame the peer sent, once it arrived (`None` also when it had no code).
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Whether we have sent (queued) a close frame.
    pub fn close_sent(&self) -> bool {
        self.sent_close
    }

    /// Whether the peer's close frame arrived.
    pub fn close_received(&self) -> bool {
        self.received_close
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_in", &self.rbuf.len())
            .field("pending_out", &self.out.len())
            .field("frame", &self.frame)
            .field("owed_pongs", &self.owed_pongs.len())
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn is_crypto_rng<R: rand::CryptoRng>(_: &R) {}

    #[test]
    fn mask_keys_come_from_a_cryptographically_secure_generator() {
        // A type-level promise: the generator implements `CryptoRng` (a seeded small PRNG
        // such as `SmallRng` does not, and this would not compile).
        is_crypto_rng(&send::key_rng());
        // And every frame gets its own key, also across connections.
        let mut keys = HashSet::new();
        for _ in 0..4 {
            let mut client = Connection::new(Role::Client, Config::default());
            for _ in 0..500 {
                client
                    .send(Message::binary(vec![0u8; 4]))
                    .expect("open connection");
                let out = client.pending_output();
                // 0x82, 0x80 | 4, then the key; the zero payload masked is the key again.
                assert_eq!(out.len(), 10);
                assert_eq!(out[2..6], out[6..10]);
                keys.insert([out[2], out[3], out[4], out[5]]);
                client.consume_output(out.len());
            }
        }
        // 2,000 draws from 2^32 keys: a repeat has a probability of about 0.05%.
        assert!(keys.len() >= 1_998, "{} distinct keys", keys.len());
    }
}

#[cfg(test)]
mod memory_tests {
    /// An idle connection's memory is mostly this struct (inside the WebSocket, inside the
    /// runtime's task): compression state, when not negotiated, must not take room in it.
    #[test]
    fn connection_size() {
        let size = std::mem::size_of::<super::Connection>();
        // 536 bytes with deflate (x86_64); the boxed compression state would add ~300, an
        // unboxed output queue 24.
        assert!(size <= 640, "Connection grew to {size} bytes");
        #[cfg(feature = "deflate")]
        assert_eq!(
            std::mem::size_of::<Option<Box<super::Deflate>>>(),
            std::mem::size_of::<usize>()
        );
    }

    /// A 16 MiB message in four 4 MiB frames: its buffer grows with what the frames
    /// announced (at most twice that), not to the 64 MiB limit, and the message arrives whole.
    #[test]
    fn a_fragmented_message_grows_with_its_frames() {
        use super::*;
        let mut c = Connection::new(Role::Client, Config::default());
        let frame = 4 << 20;
        let mut got = None;
        for i in 0..4u8 {
            let opcode = if i == 0 { 0x2 } else { 0x0 };
            let fin = if i == 3 { 0x80 } else { 0 };
            let mut head = vec![fin | opcode, 127];
            head.extend_from_slice(&(frame as u64).to_be_bytes());
            c.receive_data(&head);
            let payload = vec![i; frame];
            for piece in payload.chunks(64 << 10) {
                c.receive_data(piece);
                if let Some(m) = c.poll_message().unwrap() {
                    got = Some(m);
                }
            }
            if let Some(msg) = &c.msg {
                let announced = (usize::from(i) + 1) * frame;
                assert!(
                    msg.buf.capacity() <= 2 * announced + GROW_DIRECT,
                    "frame {i}: capacity {} for {announced} bytes announced",
                    msg.buf.capacity()
                );
            }
        }
        let Some(Message::Binary(data)) = got else {
            panic!("no message: {got:?}");
        };
        assert_eq!(data.len(), 4 * frame);
        assert!((0..4).all(|i| data[i * frame..(i + 1) * frame]
            .iter()
            .all(|&b| b == i as u8)));
    }
}
