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
    apply_mask, CloseCode, Decoded, FrameHeader, HeaderDecoder, OpCode, Role, MAX_HEADER_LEN, RSV1,
};

use crate::buf::{freeze_fitted, reserve_bounded, GROW_DIRECT};
use crate::config::Config;
#[cfg(feature = "deflate")]
use crate::deflate::{Deflate, DeflateError};
use crate::error::{Error, ProtocolError, Step, UsageError};
use crate::message::{CloseFrame, Message, Utf8Bytes};
use crate::trace;
use crate::utf8::Utf8Validator;

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;
/// The largest close reason: a control payload minus the 2-byte code.
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;
/// A single-frame message larger than this that is all the buffered input takes the read
/// buffer with it; smaller ones are split off, and the buffer is reused for the next read.
const TAKE_MIN: usize = 1 << 10;
/// An output buffer up to this size is kept once written (no allocation per small
/// message); a larger one is given back at once.
const OUT_KEEP: usize = 4 << 10;
/// An empty read buffer with more capacity than this is given back once a message is
/// delivered; so is one that holds only a few bytes (at most this many) of a buffer that a
/// large frame made larger than [`GROW_DIRECT`] (they are copied out).
const RBUF_KEEP: usize = 64 << 10;
/// Outgoing payloads are copied and masked in pieces of this size (cache-friendly).
const MASK_CHUNK: usize = 8 << 10;
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
    #[cfg(feature = "deflate")]
    deflate: Option<Deflate>,
    /// Compressed payload of the message being sent.
    #[cfg(feature = "deflate")]
    scratch: BytesMut,
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
    buf: BytesMut,
    /// Payload bytes announced by the frames so far (uncompressed messages).
    size: u64,
    fragments: usize,
    empty_run: usize,
}

/// The output buffer: `buf[pos..]` is still to be written. Appending is a capacity check
/// and a copy; once everything is written the buffer is reset (a small allocation is kept
/// for the next messages, a larger one given back).
#[derive(Debug, Default)]
struct OutBuf {
    buf: Vec<u8>,
    pos: usize,
}

impl OutBuf {
    fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Room for `additional` more bytes; returns the buffer to append them to.
    fn reserve(&mut self, additional: usize) -> &mut Vec<u8> {
        if self.buf.capacity() - self.buf.len() < additional && self.pos > 0 {
            // Reclaim the written front before growing.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(additional);
        &mut self.buf
    }

    fn consume(&mut self, n: usize) {
        self.pos += n.min(self.len());
        if self.pos == self.buf.len() {
            self.pos = 0;
            if self.buf.capacity() > OUT_KEEP {
                // Given back at once: the allocator hands the next message recently freed,
                // cache-hot memory, and an idle connection keeps nothing large.
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }
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

impl Connection {
    /// A connection in [`State::Open`], for our `role`, right after the opening handshake.
    ///
    /// With the `deflate` feature and [`Config::deflate`] set, permessage-deflate is on:
    /// RSV1 is accepted on the first frame of data messages and outgoing messages of at
    /// least [`Config::compression_threshold`] bytes are compressed.
    pub fn new(role: Role, config: Config) -> Connection {
        let rsv = if config.deflate_enabled() { RSV1 } else { 0 };
        let mut decoder = HeaderDecoder::new(role).allowed_rsv(rsv);
        if let Some(max) = config.max_frame_size {
            decoder = decoder.max_frame_size(max as u64);
        }
        #[cfg(feature = "deflate")]
        let deflate = config
            .deflate
            .as_ref()
            .map(|params| Deflate::new(params, role, config.compression_level));
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
            scratch: BytesMut::new(),
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
            config,
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

    // ----- input -----

    fn input_closed(&self) -> bool {
        self.failed || self.received_close || self.eof
    }

    /// Appends bytes received from the transport. Ignored once input is closed
    /// ([`wants_read`](Self::wants_read) is false).
    pub fn receive_data(&mut self, data: &[u8]) {
        if !self.input_closed() {
            if let Some(frame) = self.frame.filter(|f| f.mode != Mode::Stream) {
                // A frame buffered whole: room up to its end once it is large, so that the
                // buffer is not copied while large.
                reserve_bounded(&mut self.rbuf, data.len(), frame.len);
            }
            self.rbuf.extend_from_slice(data);
        }
    }

    /// The read buffer, to read from the transport straight into it (no copy). Only
    /// *append* to it; then call [`poll_message`](Self::poll_message). With a reader that
    /// needs an initialized `&mut [u8]`:
    ///
    /// ```
    /// # use ws_client::{Config, Connection, Role};
    /// # let mut conn = Connection::new(Role::Client, Config::default());
    /// # let mut socket: &[u8] = &[0x81, 0x02, b'h', b'i'];
    /// use std::io::Read;
    ///
    /// let buf = conn.read_buf();
    /// let len = buf.len();
    /// buf.resize(len + 16 * 1024, 0);
    /// let n = socket.read(&mut buf[len..])?;
    /// buf.truncate(len + n);
    /// if n == 0 {
    ///     conn.receive_eof();
    /// }
    /// assert_eq!(conn.poll_message().ok().flatten().and_then(|m| m.as_text().map(String::from)),
    ///            Some("hi".to_string()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Once input is closed, the buffer is emptied at each call and its content ignored.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        if self.input_closed() {
            self.rbuf.clear();
        }
        &mut self.rbuf
    }

    /// Payload bytes of the frame being received that have not arrived yet, when that
    /// frame is buffered whole in the read buffer (control frames and single-frame
    /// uncompressed messages); 0 otherwise. Lets a driver size a read for a large frame.
    pub(crate) fn buffered_frame_remaining(&self) -> usize {
        match self.frame {
            Some(f) if f.mode != Mode::Stream => f.len.saturating_sub(self.rbuf.len()),
            _ => 0,
        }
    }

    /// The transport reached end of stream. Without a completed close handshake this is an
    /// abnormal closure: the next [`poll_message`](Self::poll_message) returns
    /// [`ProtocolError::UnexpectedEof`] (close code 1006) after any complete messages still
    /// buffered. After the peer's close frame it is the normal end.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    // ----- events -----

    /// The next message, if one is complete.
    ///
    /// Parses everything buffered up to the next message: answers pings (the pong is queued
    /// before the ping is returned) and closes (the echo is queued before the close is
    /// returned). Returns `Ok(None)` when more bytes are needed, and also once the
    /// connection is over ([`is_closed`](Self::is_closed) tells them apart).
    ///
    /// An `Err` is returned once, when the connection fails: the peer broke the protocol
    /// ([`Error::Protocol`], a close frame with its code is queued), the transport ended
    /// without a close handshake, or a timer expired ([`Error::Timeout`]). Later calls return
    /// `Ok(None)`.
    pub fn poll_message(&mut self) -> Result<Option<Message>, Error> {
        if self.rbuf.is_empty() && !self.eof && self.pending_error.is_none() {
            // Nothing buffered: the common case of a driver polling before it reads.
            return Ok(None);
        }
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if self.failed || self.received_close {
            self.rbuf.clear();
            return Ok(None);
        }
        loop {
            if self.frame.is_none() {
                match self.decoder.decode(&self.rbuf) {
                    Ok(Decoded::Complete { header, header_len }) => {
                        if let Err(e) = self.start_frame(header, header_len) {
                            return Err(self.fail(e));
                        }
                    }
                    Ok(Decoded::Incomplete { .. }) => return self.need_more(),
                    Err(e) => return Err(self.fail(ProtocolError::Frame(e))),
                }
            }
            match self.read_payload() {
                Ok(Some(msg)) => return Ok(Some(msg)),
                Ok(None) if self.frame.is_some() => return self.need_more(),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// All buffered bytes are processed: wait for more, or report EOF.
    fn need_more(&mut self) -> Result<Option<Message>, Error> {
        if !self.eof || self.failed || self.received_close {
            return Ok(None);
        }
        let mid_frame = self.frame.is_some() || !self.rbuf.is_empty();
        trace::debug!(
            in &self.span,
            mid_frame,
            "the transport closed without a close handshake"
        );
        self.terminate();
        Err(Error::Protocol(ProtocolError::UnexpectedEof { mid_frame }))
    }

    /// Checks a new frame header against the message state and the limits, consumes it,
    /// and sets up `self.frame`.
    fn start_frame(&mut self, header: FrameHeader, header_len: usize) -> Result<(), ProtocolError> {
        let opcode = header.opcode;
        let rsv1 = header.rsv & RSV1 != 0;
        trace::trace!(
            in &self.span,
            opcode = ?opcode,
            fin = header.fin,
            len = header.payload_len,
            rsv1,
            "frame received"
        );
        let too_big = |size: u64, limit: usize| ProtocolError::MessageTooBig { size, limit };
        let msg_limit = self.config.max_message_size.unwrap_or(usize::MAX);
        let Ok(len) = usize::try_from(header.payload_len) else {
            return Err(too_big(header.payload_len, msg_limit));
        };
        let mode = if opcode.is_control() {
            if rsv1 {
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            Mode::Control
        } else if opcode == OpCode::Continuation {
            let Some(msg) = self.msg.as_mut() else {
                return Err(ProtocolError::UnexpectedContinuation);
            };
            if rsv1 {
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            msg.fragments += 1;
            if msg.fragments > self.config.max_fragments {
                return Err(ProtocolError::TooManyFragments {
                    limit: self.config.max_fragments,
                });
            }
            if len == 0 && !header.fin {
                msg.empty_run += 1;
                if msg.empty_run > self.config.max_empty_fragments {
                    return Err(ProtocolError::TooManyEmptyFragments {
                        limit: self.config.max_empty_fragments,
                    });
                }
            } else {
                msg.empty_run = 0;
            }
            msg.size += header.payload_len;
            if !msg.compressed && msg.size > msg_limit as u64 {
                return Err(too_big(msg.size, msg_limit));
            }
            Mode::Stream
        } else {
            if self.msg.is_some() {
                return Err(ProtocolError::ExpectedContinuation);
            }
            if rsv1 && !self.config.deflate_enabled() {
                // The decoder refuses RSV1 already; kept for defence in depth.
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            if !rsv1 && len > msg_limit {
                return Err(too_big(header.payload_len, msg_limit));
            }
            self.utf8.reset();
            let text = opcode == OpCode::Text;
            if header.fin && !rsv1 {
                Mode::Single
            } else {
                self.msg = Some(InMessage {
                    text,
                    compressed: rsv1,
                    buf: BytesMut::new(),
                    size: header.payload_len,
                    fragments: 1,
                    empty_run: usize::from(len == 0 && !header.fin),
                });
                Mode::Stream
            }
        };
        self.rbuf.advance(header_len);
        self.frame = Some(InFrame {
            opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            pos: 0,
            mode,
        });
        Ok(())
    }

    /// Processes the payload bytes of `self.frame` that have arrived. Returns a message when
    /// one is complete; clears `self.frame` when the frame is complete.
    fn read_payload(&mut self) -> Result<Option<Message>, ProtocolError> {
        let Some(mut frame) = self.frame else {
            return Ok(None);
        };
        match frame.mode {
            Mode::Control | Mode::Single => {
                let end = frame.len.min(self.rbuf.len());
                if end > frame.pos {
                    let chunk = &mut self.rbuf[frame.pos..end];
                    if let Some(key) = frame.mask {
                        apply_mask(chunk, key, frame.pos);
                    }
                    if frame.mode == Mode::Single && frame.opcode == OpCode::Text {
                        self.utf8
                            .feed(chunk)
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    frame.pos = end;
                }
                if frame.pos < frame.len {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                self.frame = None;
                let payload = if self.rbuf.len() == frame.len && frame.len > TAKE_MIN {
                    // The frame is all that is buffered (the common case): the message takes
                    // the whole buffer, with no reference count to share, and is freed
                    // when the user drops it. The next read gets fresh (cache-hot) memory.
                    std::mem::take(&mut self.rbuf).freeze()
                } else {
                    let payload = self.rbuf.split_to(frame.len).freeze();
                    self.release_idle_input();
                    payload
                };
                if frame.mode == Mode::Control {
                    return self.on_control(frame.opcode, payload);
                }
                if frame.opcode == OpCode::Text {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    Ok(Some(Message::Text(Utf8Bytes::from_validated(payload))))
                } else {
                    Ok(Some(Message::Binary(payload)))
                }
            }
            Mode::Stream => {
                let n = (frame.len - frame.pos).min(self.rbuf.len());
                let last = frame.pos + n == frame.len;
                if n > 0 || last {
                    let chunk = &mut self.rbuf[..n];
                    if let Some(key) = frame.mask {
                        apply_mask(chunk, key, frame.pos);
                    }
                    let Some(msg) = self.msg.as_mut() else {
                        // Unreachable: Stream frames belong to a message.
                        self.frame = None;
                        return Ok(None);
                    };
                    if msg.compressed {
                        #[cfg(feature = "deflate")]
                        {
                            let before = msg.buf.len();
                            inflate(
                                self.deflate.as_mut(),
                                chunk,
                                frame.fin && last,
                                &mut msg.buf,
                                self.config.max_message_size,
                            )?;
                            if msg.text {
                                self.utf8
                                    .feed(&msg.buf[before..])
                                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                            }
                        }
                    } else {
                        if msg.text {
                            self.utf8
                                .feed(chunk)
                                .map_err(|_| ProtocolError::InvalidUtf8)?;
                        }
                        let limit = self.config.max_message_size.unwrap_or(usize::MAX);
                        reserve_bounded(&mut msg.buf, chunk.len(), limit);
                        msg.buf.extend_from_slice(chunk);
                    }
                    self.rbuf.advance(n);
                    frame.pos += n;
                }
                if !last {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                self.frame = None;
                if !frame.fin {
                    return Ok(None);
                }
                let Some(msg) = self.msg.take() else {
                    return Ok(None);
                };
                self.release_idle_input();
                let payload = freeze_fitted(msg.buf);
                if msg.text {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    Ok(Some(Message::Text(Utf8Bytes::from_validated(payload))))
                } else {
                    Ok(Some(Message::Binary(payload)))
                }
            }
        }
    }

    /// Handles a complete control frame.
    fn on_control(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
    ) -> Result<Option<Message>, ProtocolError> {
        match opcode {
            OpCode::Ping => {
                if self.is_open() {
                    self.queue_pong(payload.clone());
                }
                Ok(Some(Message::Ping(payload)))
            }
            OpCode::Pong => {
                if self.timers.pong_deadline.is_some()
                    && payload.as_ref() == self.timers.ping_payload.as_slice()
                {
                    self.timers.pong_deadline = None;
                }
                Ok(Some(Message::Pong(payload)))
            }
            OpCode::Close => {
                let frame = parse_close(&payload)?;
                trace::debug!(
                    in &self.span,
                    code = frame.as_ref().map(|f| f.code.as_u16()),
                    reason_len = frame.as_ref().map_or(0, |f| f.reason.len()),
                    "close received"
                );
                self.received_close = true;
                self.peer_close.clone_from(&frame);
                self.frame = None;
                self.msg = None;
                self.rbuf.clear();
                self.timers.close_arm_pending = false;
                self.timers.close_deadline = None;
                if !self.sent_close {
                    self.flush_owed_pongs(true);
                    let code = frame.as_ref().map(|f| f.code);
                    self.write_close(code, "");
                }
                Ok(Some(Message::Close(frame)))
            }
            // Data opcodes never reach here (`Mode::Control` is for control opcodes only).
            _ => Ok(None),
        }
    }

    /// Fails the connection for a peer fault: queues our close frame (unless one was sent
    /// or the code may not be sent) and closes the connection.
    fn fail(&mut self, e: ProtocolError) -> Error {
        let code = e.close_code();
        trace::warn!(
            in &self.span,
            error = %e,
            close_code = code.as_u16(),
            "the peer broke the protocol: failing the connection"
        );
        if !self.sent_close && code.is_sendable() {
            self.owed_pongs.clear();
            self.write_close(Some(code), e.close_reason());
        }
        self.terminate();
        Error::Protocol(e)
    }

    /// Drops all receive state: the connection is over.
    fn terminate(&mut self) {
        self.failed = true;
        self.frame = None;
        self.msg = None;
        self.rbuf = BytesMut::new();
        self.owed_pongs.clear();
        self.timers.close_arm_pending = false;
        self.timers.close_deadline = None;
        self.timers.next_ping = None;
        self.timers.pong_deadline = None;
    }

    // ----- commands -----

    /// Queues a message: text and binary messages (compressed when permessage-deflate was
    /// negotiated and the payload reaches [`Config::compression_threshold`]; split into
    /// frames of at most [`Config::write_frame_size`]), pings and pongs (at most 125 bytes),
    /// or a close (same as [`close`](Self::close); `Close(None)` sends a close without a
    /// status code).
    ///
    /// Fails with [`Error::ConnectionClosed`] once a close frame was sent or received or the
    /// connection failed, and with [`Error::Usage`] for an oversized control payload or an
    /// invalid close; nothing is queued then.
    pub fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.send_inner(msg, true)
    }

    /// Like [`send`](Self::send), but never compresses (for payloads known to be
    /// incompressible, e.g. already compressed media).
    pub fn send_uncompressed(&mut self, msg: Message) -> Result<(), Error> {
        self.send_inner(msg, false)
    }

    fn send_inner(&mut self, msg: Message, compress: bool) -> Result<(), Error> {
        let (opcode, payload): (OpCode, &[u8]) = match &msg {
            Message::Close(Some(frame)) => return self.close(frame.code, frame.reason.as_str()),
            Message::Close(None) => return self.close_inner(None, ""),
            Message::Text(t) => (OpCode::Text, t.as_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
            Message::Ping(p) => (OpCode::Ping, p),
            Message::Pong(p) => (OpCode::Pong, p),
        };
        if !self.is_open() {
            return Err(Error::ConnectionClosed);
        }
        if opcode.is_control() {
            if payload.len() > MAX_CONTROL_PAYLOAD {
                return Err(UsageError::ControlPayloadTooLong(payload.len()).into());
            }
            self.write_frame(opcode, true, 0, payload);
            return Ok(());
        }
        #[cfg(feature = "deflate")]
        if compress && payload.len() >= self.config.compression_threshold {
            if let Some(deflate) = self.deflate.as_mut() {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                if let Err(e) = deflate.compress(payload, &mut scratch) {
                    // Nothing was queued; the compressor reset itself.
                    return Err(Error::Internal(format!("compression failed: {e}")));
                }
                self.write_message(opcode, RSV1, &scratch);
                if scratch.capacity() <= SCRATCH_KEEP {
                    self.scratch = scratch;
                }
                return Ok(());
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = compress;
        self.write_message(opcode, 0, payload);
        Ok(())
    }

    /// Starts the close handshake: queues a close frame with `code` and `reason`. The
    /// connection moves to [`State::ClosingLocal`]; messages still in flight from the peer
    /// are delivered, and the peer's close completes the handshake (or
    /// [`Config::close_timeout`] ends it).
    ///
    /// Idempotent: once a close was sent or received, or the connection failed, this does
    /// nothing and returns `Ok`. Fails with [`Error::Usage`] when `code` may not be sent
    /// (see [`CloseCode::is_sendable`]) or `reason` is longer than 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.as_u16()).into());
        }
        self.close_inner(Some(code), reason)
    }

    fn close_inner(&mut self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::CloseReasonTooLong(reason.len()).into());
        }
        if !self.is_open() {
            return Ok(());
        }
        self.flush_owed_pongs(true);
        self.write_close(code, reason);
        self.timers.close_arm_pending = self.config.close_timeout.is_some();
        self.timers.next_ping = None;
        self.timers.pong_deadline = None;
        Ok(())
    }

    /// Queues a close frame and marks it sent. `reason` is at most 123 bytes.
    fn write_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(code) => {
                let reason = &reason.as_bytes()[..reason.len().min(MAX_CLOSE_REASON)];
                payload[..2].copy_from_slice(&code.as_u16().to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            None => 0,
        };
        trace::debug!(
            in &self.span,
            code = code.map(|c| c.as_u16()),
            reason_len = len.saturating_sub(2),
            "sending close"
        );
        self.write_frame(OpCode::Close, true, 0, &payload[..len]);
        self.sent_close = true;
    }

    /// Queues a data message, split into frames of at most `write_frame_size`.
    fn write_message(&mut self, opcode: OpCode, rsv: u8, payload: &[u8]) {
        let max = self.config.write_frame_size.max(1);
        if payload.len() <= max {
            self.write_frame(opcode, true, rsv, payload);
            return;
        }
        let count = payload.len().div_ceil(max);
        for (i, chunk) in payload.chunks(max).enumerate() {
            let (op, rsv) = if i == 0 {
                (opcode, rsv)
            } else {
                (OpCode::Continuation, 0)
            };
            self.write_frame(op, i + 1 == count, rsv, chunk);
        }
    }

    /// Encodes one frame into the output buffer: header, then the payload copied once and
    /// masked in place (client role).
    fn write_frame(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        trace::trace!(
            in &self.span,
            opcode = ?opcode,
            fin,
            len = payload.len(),
            rsv1 = rsv & RSV1 != 0,
            "frame queued"
        );
        let mask = match self.role {
            Role::Client => Some(mask_key()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let out = self.out.reserve(n + payload.len());
        out.extend_from_slice(&head[..n]);
        let Some(key) = mask else {
            out.extend_from_slice(payload);
            return;
        };
        // Copy and mask chunk by chunk, so that masking works on bytes still in L1.
        let mut offset = 0;
        for chunk in payload.chunks(MASK_CHUNK) {
            let start = out.len();
            out.extend_from_slice(chunk);
            apply_mask(&mut out[start..], key, offset);
            offset += chunk.len();
        }
    }

    /// Answers a ping: now if the output buffer is below the high-water mark, else later
    /// (bounded queue, the oldest owed pong is dropped first).
    fn queue_pong(&mut self, payload: Bytes) {
        self.owed_pongs.push_back(payload);
        while self.owed_pongs.len() > self.config.max_queued_pongs.max(1) {
            self.owed_pongs.pop_front();
        }
        self.flush_owed_pongs(false);
    }

    /// Encodes owed pongs while the output is below the high-water mark (all if `force`).
    fn flush_owed_pongs(&mut self, force: bool) {
        while force || self.out.is_empty() || self.out.len() < self.config.write_buffer_high {
            let Some(p) = self.owed_pongs.pop_front() else {
                break;
            };
            self.write_frame(OpCode::Pong, true, 0, &p);
        }
    }

    // ----- output -----

    /// Bytes to write to the transport, oldest first.
    pub fn pending_output(&self) -> &[u8] {
        self.out.as_slice()
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written
    /// (`n` larger than what is pending counts as everything).
    pub fn consume_output(&mut self, n: usize) {
        self.out.consume(n);
        if !self.owed_pongs.is_empty() {
            self.flush_owed_pongs(false);
        }
    }

    /// Whether there are bytes to write.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    // ----- time -----

    /// Advances the timers to `now`. Call it once right after [`new`](Self::new) (this
    /// starts the keepalive timer) and whenever [`poll_timeout`](Self::poll_timeout) has
    /// passed; then call [`poll_message`](Self::poll_message), which reports an expired
    /// timer as [`Error::Timeout`], and write [`pending_output`](Self::pending_output).
    ///
    /// * Keepalive ([`Config::keepalive`]): sends a ping every `interval` while open; when
    ///   its pong (same payload) has not arrived after `timeout`, the connection fails with
    ///   close code 1011 (`Error::Timeout { step: Step::Keepalive }`).
    /// * Close timeout ([`Config::close_timeout`]): counted from the first call after our
    ///   close was queued; when the peer's close has not arrived by then, the connection is
    ///   closed (`Error::Timeout { step: Step::Close }`).
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
                self.pending_error = Some(Error::Timeout { step: Step::Close });
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
            self.pending_error = Some(Error::Timeout {
                step: Step::Keepalive,
            });
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
    fn release_idle_input(&mut self) {
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

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_in", &self.rbuf.len())
            .field("pending_out", &self.out.len())
            .field("frame", &self.frame)
            .field("owed_pongs", &self.owed_pongs.len())
            .field("deflate", &self.config.deflate_enabled())
            .finish_non_exhaustive()
    }
}

/// A fresh masking key from a cryptographically secure generator: `rand`'s thread-local
/// ChaCha12 generator, seeded and periodically reseeded from the operating system. RFC 6455
/// §5.3 requires keys that an observer of earlier frames cannot predict (§10.3: otherwise a
/// client can be made to poison a transparent proxy's cache).
fn mask_key() -> [u8; 4] {
    key_rng().next_u32().to_ne_bytes()
}

/// The generator masking keys come from. `CryptoRng` in its type is the promise that it is
/// cryptographically secure; a test holds it to that.
fn key_rng() -> impl rand::CryptoRng {
    rand::rng()
}

/// Parses and validates a close frame payload (RFC 6455 §5.5.1, §7.4).
fn parse_close(payload: &Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload.as_ref() {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [a, b, ..] => {
            let code = CloseCode::new(u16::from_be_bytes([*a, *b]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.as_u16()));
            }
            let reason = Utf8Bytes::try_from(payload.slice(2..))
                .map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

/// Inflates one piece of a compressed message into `out`.
#[cfg(feature = "deflate")]
fn inflate(
    deflate: Option<&mut Deflate>,
    input: &[u8],
    fin: bool,
    out: &mut BytesMut,
    max: Option<usize>,
) -> Result<(), ProtocolError> {
    let Some(deflate) = deflate else {
        // Unreachable: RSV1 is refused unless deflate was negotiated.
        return Err(ProtocolError::BadCompressedData(
            "permessage-deflate was not negotiated".to_owned(),
        ));
    };
    let limit = max.unwrap_or(usize::MAX);
    match deflate.decompress(input, fin, out, limit) {
        Ok(()) if out.len() > limit => Err(ProtocolError::MessageTooBig {
            size: out.len() as u64,
            limit,
        }),
        Ok(()) => Ok(()),
        Err(DeflateError::TooBig { limit }) => Err(ProtocolError::MessageTooBig {
            size: (out.len() as u64).max(limit as u64 + 1),
            limit,
        }),
        Err(DeflateError::Corrupt(detail)) => Err(ProtocolError::BadCompressedData(detail)),
        #[allow(unreachable_patterns)]
        Err(e) => Err(ProtocolError::BadCompressedData(e.to_string())),
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
        is_crypto_rng(&key_rng());
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
