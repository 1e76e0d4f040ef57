//! `aiows serve [ADDR]`: a local WebSocket server for trying clients out, on the library's
//! server role. Echoes every message by default; `--broadcast` relays each message to the
//! other clients instead. One line per connection event goes to stderr; Ctrl-C closes
//! every connection with 1001 (going away) and stops. With `--http2`, a connection that
//! starts with the HTTP/2 preface is served as h2c by the library's `H2Server` (many
//! WebSockets on it, each served like an HTTP/1.1 one); any other stays HTTP/1.1.
//!
//! Any program on the machine, and any web page its browser shows, can reach the server,
//! so it defends itself: connections are capped (`--max-connections`, then HTTP 503),
//! browser origins other than loopback ones are refused (`--allow-origin`, HTTP 403),
//! messages are limited to 1 MiB (`--max-message-size`), every send to a client is bounded
//! (`--send-timeout`), and in `--broadcast` mode each client has a queue bounded in bytes
//! (`--max-queue-size`): a client that falls further behind is closed with 1008 (policy
//! violation) and its queue freed.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aiowebsocket::tokio::{TokioIo, TokioTimer};
use aiowebsocket::ws_client::handshake::server_accept;
use aiowebsocket::ws_client::options::DEFAULT_OPEN_TIMEOUT;
use aiowebsocket::ws_client::rt::Timer;
use aiowebsocket::{
    CloseCode, CloseFrame, Error, H2Server, Message, Request, ServerOptions, WebSocketStream,
};
use futures_io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::args::{
    ServeArgs, Setting, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_SEND_TIMEOUT,
    DEFAULT_SERVE_MAX_MESSAGE,
};
use crate::format::escape_controls;
use crate::interrupts;
use crate::report::{describe_close, Failure, EXIT_CONNECT};

/// How long Ctrl-C waits for the connections to finish their close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// How long a client dropped for being too slow gets to take its close frame.
const SLOW_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Connections over `--max-connections` answered 503 at once; beyond these, further ones
/// are just closed (each answer takes a task for up to [`REFUSAL_TIMEOUT`]).
const MAX_REFUSALS: usize = 16;

/// Bound on reading the request of a connection refused for being over the cap.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// The HTTP/2 connection preface (RFC 9113 section 3.4): a connection that starts with it
/// speaks h2c (`--http2`).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What every connection task shares.
#[derive(Clone)]
struct Shared {
    options: ServerOptions,
    broadcast: bool,
    verbose: bool,
    /// `--send-timeout` (`None`: no bound).
    send_timeout: Option<Duration>,
    /// `--max-queue-size` (`None`: no bound).
    queue_limit: Option<usize>,
    origins: Arc<OriginPolicy>,
    /// In `--broadcast` mode, the outbox of every connected client.
    peers: Arc<Mutex<HashMap<u64, Arc<Outbox>>>>,
    /// Becomes `true` on Ctrl-C.
    shutdown: watch::Receiver<bool>,
    /// `--http2`: h2c too, chosen per connection by its first bytes.
    http2: bool,
}

/// Runs the server until Ctrl-C.
pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    let listener = TcpListener::bind(&args.addr).await.map_err(|e| {
        Failure::new(
            EXIT_CONNECT,
            format!(
                "cannot listen on {}: {e}; pick another port (aiows serve 127.0.0.1:PORT)",
                args.addr
            ),
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::new(EXIT_CONNECT, format!("cannot listen on {}: {e}", args.addr)))?;
    let mode = if args.broadcast {
        "broadcast: each message goes to the other clients"
    } else {
        "echo"
    };
    let http = if args.http2 {
        ", HTTP/1.1 and HTTP/2 (h2c)"
    } else {
        ""
    };
    log(&format!(
        "listening on ws://{local}/ ({mode}{http}); Ctrl-C stops"
    ));

    let (stop, shutdown) = watch::channel(false);
    let shared = Shared {
        options: server_options(&args),
        broadcast: args.broadcast,
        verbose: args.verbose,
        send_timeout: match args.send_timeout {
            Setting::Default => Some(DEFAULT_SEND_TIMEOUT),
            Setting::Off => None,
            Setting::Set(d) => Some(d),
        },
        queue_limit: match args.max_queue_size {
            Setting::Default => Some(DEFAULT_MAX_QUEUE_SIZE),
            Setting::Off => None,
            Setting::Set(n) => Some(n),
        },
        origins: Arc::new(OriginPolicy::new(&args.allow_origins)),
        peers: Arc::default(),
        shutdown,
        http2: args.http2,
    };
    let max_connections = match args.max_connections {
        Setting::Default => Some(DEFAULT_MAX_CONNECTIONS),
        Setting::Off => None,
        Setting::Set(n) => Some(n),
    };
    let slots = max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut tasks = JoinSet::new();
    let mut interrupts = interrupts();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    next_id += 1;
                    let slot = match &slots {
                        None => None,
                        Some(slots) => match Arc::clone(slots).try_acquire_owned() {
                            Ok(slot) => Some(slot),
                            Err(_) => {
                                let limit = max_connections.unwrap_or_default();
                                refuse_busy(&mut tasks, &refusals, next_id, peer, tcp, limit);
                                continue;
                            }
                        },
                    };
                    tasks.spawn(connection(shared.clone(), next_id, peer, tcp, slot));
                }
                Err(e) => {
                    // E.g. out of file descriptors: report, breathe, go on.
                    log(&format!("accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = tasks.join_next() => {}
            Some(()) = interrupts.recv() => break,
        }
    }
    drop(listener);
    log(&format!(
        "stopping: closing {} connection(s) with 1001 (going away)",
        tasks.len()
    ));
    let _ = stop.send(true);
    let all_done = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_WAIT, all_done).await.is_err() {
        log("some connections did not finish closing in time; stopping anyway");
    }
    Ok(())
}

/// A connection over `--max-connections`: answered `503 Service Unavailable` (while at
/// most [`MAX_REFUSALS`] such answers are under way; else just closed).
fn refuse_busy(
    tasks: &mut JoinSet<()>,
    refusals: &Arc<Semaphore>,
    id: u64,
    peer: SocketAddr,
    tcp: TcpStream,
    limit: usize,
) {
    let why = format!("{limit} connection(s) are open, the limit (--max-connections)");
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else {
        log(&format!("#{id} {peer} refused: {why}; closed at once"));
        return;
    };
    log(&format!("#{id} {peer} refused: {why}; answered HTTP 503"));
    tasks.spawn(async move {
        let options = ServerOptions::new()
            .open_timeout(Some(REFUSAL_TIMEOUT))
            .check(|_| {
                Err((
                    503,
                    "the server has too many connections; try again later".to_owned(),
                ))
            });
        // Fails by design (the check refuses); the answer was sent, or the client left.
        let _ = aiowebsocket::tokio::accept(tcp, &options).await;
        drop(permit);
    });
}

fn server_options(args: &ServeArgs) -> ServerOptions {
    let mut options = ServerOptions::new();
    for proto in &args.subprotocols {
        options = options.subprotocol(proto);
    }
    if !args.compression {
        options = options.no_compression();
    }
    match args.max_message_size {
        Setting::Default => options.max_message_size(Some(DEFAULT_SERVE_MAX_MESSAGE)),
        Setting::Off => options.max_message_size(None),
        Setting::Set(n) => options.max_message_size(Some(n)),
    }
}

/// Which browser origins may open a connection: requests without `Origin` (programs, not
/// browsers) always may; by default only pages served from a loopback address.
#[derive(Debug)]
struct OriginPolicy {
    /// `--allow-origin '*'`.
    any: bool,
    /// The other `--allow-origin` values, normalized.
    allowed: Vec<String>,
}

impl OriginPolicy {
    fn new(allow: &[String]) -> Self {
        OriginPolicy {
            any: allow.iter().any(|o| o.trim() == "*"),
            allowed: allow.iter().map(|o| normalize_origin(o)).collect(),
        }
    }

    /// `Err(reason)` for an origin that is refused.
    fn check(&self, origin: Option<&str>) -> Result<(), String> {
        let Some(origin) = origin else { return Ok(()) };
        if self.any
            || is_loopback_origin(origin)
            || self.allowed.contains(&normalize_origin(origin))
        {
            return Ok(());
        }
        Err(format!(
            "origin {:?} is not allowed: this server accepts pages from localhost only; \
             start it with --allow-origin {} to accept this one",
            origin,
            escape_controls(origin.trim())
        ))
    }
}

/// Lowercase, without a trailing `/`.
fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether `origin` is `http(s)://` a loopback host (`localhost`, `127.x.x.x`, `[::1]`),
/// any port.
fn is_loopback_origin(origin: &str) -> bool {
    let origin = normalize_origin(origin);
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let port_ok = |port: &str| port.parse::<u16>().is_ok();
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return false;
        };
        let port_fine = after.is_empty() || after.strip_prefix(':').is_some_and(port_ok);
        return port_fine && host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    let host = match authority.split_once(':') {
        Some((host, port)) if port_ok(port) => host,
        Some(_) => return false,
        None => authority,
    };
    host == "localhost" || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// What the server logs about an opening request.
#[derive(Default)]
struct RequestInfo {
    /// `GET /path (origin ..., subprotocols ...)`.
    summary: String,
    /// Every header line, for `-v`.
    headers: Vec<String>,
    /// Why the origin check refused the request.
    refused: Option<String>,
}

impl RequestInfo {
    fn of(req: &Request) -> Self {
        let mut summary = format!("{} {}", req.method(), req.path());
        let mut extra = Vec::new();
        if let Some(origin) = req.header("origin") {
            extra.push(format!("origin {origin}"));
        }
        let protos = req.subprotocols();
        if !protos.is_empty() {
            extra.push(format!("offers subprotocols {}", protos.join(", ")));
        }
        if !extra.is_empty() {
            summary.push_str(&format!(" ({})", extra.join("; ")));
        }
        let headers = req
            .headers()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
            .collect();
        RequestInfo {
            summary,
            headers,
            refused: None,
        }
    }
}

/// The broadcast messages waiting for one client, bounded in bytes.
#[derive(Default)]
struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the client's task: a message arrived, or the queue overflowed.
    ready: Notify,
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    /// The payload bytes in `messages`.
    bytes: usize,
    /// The client fell behind past the limit: it gets nothing more.
    overflowed: bool,
}

/// What a client's outbox yields.
enum Next {
    Message(Message),
    Overflowed,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `msg` unless the queue would then hold more than `limit` bytes: then the
    /// queue is emptied (freeing the memory at once) and marked overflowed. A message is
    /// always accepted into an empty queue, so a client that keeps up gets every message.
    fn push(&self, msg: &Message, limit: Option<usize>) {
        let mut queue = self.lock();
        if queue.overflowed {
            return;
        }
        let len = msg.len();
        let over = limit.is_some_and(|limit| queue.bytes.saturating_add(len) > limit);
        if over && !queue.messages.is_empty() {
            queue.overflowed = true;
            queue.messages = VecDeque::new();
            queue.bytes = 0;
        } else {
            queue.bytes = queue.bytes.saturating_add(len);
            queue.messages.push_back(msg.clone());
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// The next message, or the news that the client fell too far behind. Cancel safe.
    async fn next(&self) -> Next {
        loop {
            {
                let mut queue = self.lock();
                if queue.overflowed {
                    return Next::Overflowed;
                }
                if let Some(msg) = queue.messages.pop_front() {
                    queue.bytes = queue.bytes.saturating_sub(msg.len());
                    return Next::Message(msg);
                }
            }
            self.ready.notified().await;
        }
    }

    /// Resolves once the queue overflowed. Cancel safe.
    async fn overflowed(&self) {
        loop {
            if self.lock().overflowed {
                return;
            }
            self.ready.notified().await;
        }
    }
}

/// Removes a client's outbox from the broadcast list when its task ends.
struct Registered {
    peers: Arc<Mutex<HashMap<u64, Arc<Outbox>>>>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Why the server dropped a client.
enum Dropped {
    /// Its broadcast queue overflowed.
    TooSlow,
    /// A send did not finish within the send timeout.
    Stalled(Duration),
}

/// How one bounded send ended.
enum Sent {
    Done,
    Failed(Error),
    Dropped(Dropped),
}

/// Sends `msg`, bounded by the send timeout, and given up when the client's broadcast
/// queue overflows meanwhile.
async fn send_bounded<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    msg: Message,
    timeout: Option<Duration>,
    outbox: Option<&Outbox>,
) -> Sent {
    let send = async {
        match timeout {
            Some(limit) => match tokio::time::timeout(limit, ws.send(msg)).await {
                Ok(sent) => sent.map_err(Some),
                Err(_) => Err(None),
            },
            None => ws.send(msg).await.map_err(Some),
        }
    };
    let overflow = async {
        match outbox {
            Some(outbox) => outbox.overflowed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        sent = send => match sent {
            Ok(()) => Sent::Done,
            Err(Some(e)) => Sent::Failed(e),
            Err(None) => Sent::Dropped(Dropped::Stalled(timeout.unwrap_or_default())),
        },
        () = overflow => Sent::Dropped(Dropped::TooSlow),
    }
}

/// One TCP connection, from the handshake to the end: HTTP/1.1 (one WebSocket), or with
/// `--http2` and the HTTP/2 preface, h2c (many). `_slot` holds its place under
/// `--max-connections` until the end.
async fn connection(
    shared: Shared,
    id: u64,
    peer: SocketAddr,
    tcp: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
) {
    let tag = format!("#{id} {peer}");
    let mut io = Rewind::new(TokioIo::new(tcp));
    if shared.http2 {
        // Bounded as the handshake that follows is.
        let open_timeout = DEFAULT_OPEN_TIMEOUT;
        match tokio::time::timeout(open_timeout, io.sniff_h2()).await {
            Ok(Ok(true)) => return h2_connection(shared, tag, io).await,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return log(&format!("{tag} reading its first bytes failed: {e}")),
            Err(_) => {
                return log(&format!(
                    "{tag} sent no request within {} s",
                    open_timeout.as_secs_f64()
                ))
            }
        }
    }
    let seen = Arc::new(Mutex::new(RequestInfo::default()));
    let options = checked_options(&shared, &seen);
    let timer: Arc<dyn Timer> = Arc::new(TokioTimer);
    let ws = match server_accept(io, &options, Some(timer)).await {
        Ok(ws) => ws,
        Err(e) => return log_refusal(&tag, &seen, &e),
    };
    let info = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    serve(shared, id, tag, ws, info).await;
}

/// One h2c connection: accepts its WebSockets (each served in a task of its own) and drives
/// the connection until it ends; on Ctrl-C, once its WebSockets closed, says GOAWAY.
async fn h2_connection<S>(shared: Shared, tag: String, io: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Mutex::new(RequestInfo::default()));
    let options = checked_options(&shared, &seen);
    let timer: Arc<dyn Timer> = Arc::new(TokioTimer);
    let mut server = match H2Server::handshake(io, &options, Some(timer)).await {
        Ok(server) => server,
        Err(e) => return log(&format!("{tag} HTTP/2 preface failed: {e}")),
    };
    log(&format!("{tag} speaks HTTP/2 (h2c)"));
    let mut streams = JoinSet::new();
    let mut shutdown = shared.shutdown.clone();
    let mut stopping = false;
    let mut said_goaway = false;
    let mut next = 0u64;
    loop {
        if stopping && streams.is_empty() && !said_goaway {
            server.graceful_shutdown();
            said_goaway = true;
        }
        tokio::select! {
            accepted = server.accept() => match accepted {
                None => break,
                Some(Ok((ws, request))) => {
                    next += 1;
                    // Stream ids are the server's business: a number of our own per WebSocket.
                    let stream_tag = format!("{tag} stream {next}");
                    let mut info = RequestInfo::of(&request);
                    info.summary.push_str(" over HTTP/2");
                    let id = unique_id();
                    streams.spawn(serve(shared.clone(), id, stream_tag, ws, info));
                }
                Some(Err(e)) => log_refusal(&tag, &seen, &e),
            },
            Some(_) = streams.join_next() => {}
            _ = shutdown.changed(), if !stopping => stopping = true,
        }
    }
    streams.shutdown().await;
    log(&format!("{tag} HTTP/2 connection closed"));
}

/// An id for a WebSocket on an h2 connection (the broadcast list needs one per WebSocket),
/// from a range the TCP connection ids never reach.
fn unique_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1 << 62);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The server options with the origin check, which records what it saw in `seen`.
fn checked_options(shared: &Shared, seen: &Arc<Mutex<RequestInfo>>) -> ServerOptions {
    let seen = Arc::clone(seen);
    let origins = Arc::clone(&shared.origins);
    shared.options.clone().check(move |req| {
        let mut info = RequestInfo::of(req);
        let verdict = origins.check(req.header("origin"));
        info.refused = verdict.as_ref().err().cloned();
        *seen.lock().unwrap_or_else(PoisonError::into_inner) = info;
        verdict.map_err(|why| (403, why))
    })
}

/// Logs a failed or refused opening handshake.
fn log_refusal(tag: &str, seen: &Mutex<RequestInfo>, e: &Error) {
    let mut info = seen.lock().unwrap_or_else(PoisonError::into_inner);
    match info.refused.take() {
        Some(why) => log(&format!(
            "{tag} refused with HTTP 403: {}: {why}",
            info.summary
        )),
        None => log(&format!("{tag} handshake failed: {e}")),
    }
}

/// One open WebSocket (over HTTP/1.1 or an h2 stream), served until it ends.
async fn serve<S>(
    shared: Shared,
    id: u64,
    tag: String,
    mut ws: WebSocketStream<S>,
    info: RequestInfo,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    {
        let mut line = format!("{tag} connected: {}", info.summary);
        if let Some(proto) = ws.subprotocol() {
            line.push_str(&format!(", subprotocol {proto}"));
        }
        log(&line);
        if shared.verbose {
            let mut err = std::io::stderr().lock();
            for header in &info.headers {
                let _ = writeln!(err, "  {}", for_stderr(header));
            }
        }
    }

    let outbox = shared.broadcast.then(|| Arc::new(Outbox::default()));
    let _registered = outbox.as_ref().map(|outbox| {
        shared
            .peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(outbox));
        Registered {
            peers: Arc::clone(&shared.peers),
            id,
        }
    });
    let mut shutdown = shared.shutdown.clone();
    let mut closing = false;
    let mut error = None;
    let mut close: Option<Option<CloseFrame>> = None;
    let mut dropped = None;
    let mut received = 0u64;
    loop {
        let next_relayed = async {
            match &outbox {
                Some(outbox) => outbox.next().await,
                None => std::future::pending().await,
            }
        };
        let send = tokio::select! {
            msg = ws.recv() => match msg {
                None => break,
                Some(Ok(msg)) if msg.is_data() => {
                    received += 1;
                    if shared.broadcast {
                        // No other client connected is fine: the message just goes nowhere.
                        relay(&shared, id, &msg);
                        None
                    } else {
                        Some(msg)
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    close = Some(frame);
                    None
                }
                Some(Ok(_)) => None, // ping (answered by the library) or pong
                Some(Err(e)) => {
                    error.get_or_insert(e);
                    None
                }
            },
            next = next_relayed, if !closing => match next {
                Next::Message(msg) => Some(msg),
                Next::Overflowed => {
                    dropped = Some(Dropped::TooSlow);
                    break;
                }
            },
            _ = shutdown.changed(), if !closing => {
                closing = true;
                // Waits (bounded by the close timeout) for the client's answer.
                let _ = ws.close(CloseCode::GOING_AWAY, "server shutting down").await;
                None
            }
        };
        if let Some(msg) = send {
            match send_bounded(&mut ws, msg, shared.send_timeout, outbox.as_deref()).await {
                Sent::Done => {}
                // A closed connection is reported by `recv`; keep the first real failure.
                Sent::Failed(e) if e.is_closed() => {}
                Sent::Failed(e) => {
                    error.get_or_insert(e);
                }
                Sent::Dropped(why) => {
                    dropped = Some(why);
                    break;
                }
            }
        }
    }
    let how = match (dropped, error, close) {
        (Some(Dropped::TooSlow), _, _) => {
            // The client may still take a close frame (it reads, just too slowly); bounded.
            let close = ws.close(CloseCode::POLICY_VIOLATION, "too slow: fell too far behind");
            let _ = tokio::time::timeout(SLOW_CLOSE_WAIT, close).await;
            format!(
                "disconnected: too slow, more than {} of broadcast messages waited for it \
                 (--max-queue-size); closed with 1008 (policy violation)",
                shared
                    .queue_limit
                    .map_or("the limit".to_owned(), describe_size)
            )
        }
        (Some(Dropped::Stalled(limit)), _, _) => format!(
            "disconnected: it stopped reading, a send waited more than {} s (--send-timeout)",
            limit.as_secs_f64()
        ),
        (None, Some(e), _) => format!("failed: {}", error_message(&e)),
        (None, None, Some(Some(frame))) => {
            format!("closed by the client with {}", describe_close(&frame))
        }
        (None, None, Some(None)) => "closed by the client (no status code)".to_owned(),
        (None, None, None) if closing => "closed by the server (shutting down)".to_owned(),
        (None, None, None) => "ended without a close frame".to_owned(),
    };
    log(&format!("{tag} {how}; {received} message(s) received"));
}

/// `--broadcast`: queues `msg` for every client but its sender.
fn relay(shared: &Shared, from: u64, msg: &Message) {
    let peers = shared.peers.lock().unwrap_or_else(PoisonError::into_inner);
    for (id, outbox) in peers.iter() {
        if *id != from {
            outbox.push(msg, shared.queue_limit);
        }
    }
}

/// The library's message for a failed connection, in the words of `aiows serve`: "the
/// client", and its options instead of the builder setters.
fn error_message(e: &Error) -> String {
    e.to_string()
        .replace("the peer", "the client")
        .replace(
            ".max_message_size(..)",
            "aiows serve --max-message-size, 0 for no limit",
        )
        .replace(".close_timeout(..)", "the close timeout")
}

/// `16 MiB`, `64 KiB`, or `1000 bytes`.
fn describe_size(bytes: usize) -> String {
    match bytes {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Text from a client, escaped when stderr is a terminal (a client must not drive it).
fn for_stderr(text: &str) -> std::borrow::Cow<'_, str> {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    if *TERMINAL.get_or_init(|| std::io::stderr().is_terminal()) {
        escape_controls(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// One event line on stderr.
fn log(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "aiows: {}", for_stderr(line));
}

/// A TCP stream whose first bytes were read to tell h2c from HTTP/1.1 and are handed out
/// again before the rest.
struct Rewind<S> {
    read: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> Rewind<S> {
    fn new(inner: S) -> Self {
        Rewind {
            read: Vec::new(),
            at: 0,
            inner,
        }
    }

    /// Reads until the first bytes are the HTTP/2 preface (`true`) or cannot be (`false`:
    /// HTTP/1.1, or the client left); the bytes read are kept for the server.
    async fn sniff_h2(&mut self) -> std::io::Result<bool> {
        let mut buf = [0u8; H2_PREFACE.len()];
        while self.read.len() < H2_PREFACE.len() {
            let want = H2_PREFACE.len() - self.read.len();
            let n = std::future::poll_fn(|cx| {
                std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut buf[..want])
            })
            .await?;
            if n == 0 {
                return Ok(false);
            }
            self.read.extend_from_slice(&buf[..n]);
            if !H2_PREFACE.starts_with(&self.read) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.at < this.read.len() {
            let n = buf.len().min(this.read.len() - this.at);
            buf[..n].copy_from_slice(&this.read[this.at..this.at + n]);
            this.at += n;
            return std::task::Poll::Ready(Ok(n));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "https://LOCALHOST:8443/",
            "http://127.0.0.1:9000",
            "http://127.1.2.3",
            "http://[::1]:8080",
            "https://[::1]",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://[::2]",
            "http://10.0.0.1:9000",
            "file://localhost",
            "null",
            "http://localhost:notaport",
            "http://[::1",
            "",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn origin_policy() {
        let default = OriginPolicy::new(&[]);
        assert_eq!(default.check(None), Ok(()));
        assert_eq!(default.check(Some("http://localhost:5173")), Ok(()));
        let why = default.check(Some("http://evil.example")).unwrap_err();
        assert!(why.contains("--allow-origin http://evil.example"), "{why}");
        let some = OriginPolicy::new(&["https://App.example/".to_owned()]);
        assert_eq!(some.check(Some("https://app.example")), Ok(()));
        assert!(some.check(Some("http://app.example")).is_err());
        let any = OriginPolicy::new(&["*".to_owned()]);
        assert_eq!(any.check(Some("http://evil.example")), Ok(()));
    }

    #[test]
    fn outbox_is_bounded_in_bytes() {
        let outbox = Outbox::default();
        let big = Message::binary(vec![0u8; 100]);
        // A message larger than the limit still goes to a client that keeps up.
        outbox.push(&big, Some(50));
        assert!(!outbox.lock().overflowed);
        outbox.push(&Message::text("x"), Some(150));
        assert_eq!(outbox.lock().bytes, 101);
        // The next one would pass the limit: the queue is emptied and marked.
        outbox.push(&big, Some(150));
        let queue = outbox.lock();
        assert!(queue.overflowed && queue.messages.is_empty() && queue.bytes == 0);
        drop(queue);
        let unlimited = Outbox::default();
        for _ in 0..10 {
            unlimited.push(&big, None);
        }
        assert_eq!(unlimited.lock().bytes, 1000);
    }

    #[test]
    fn errors_name_the_options() {
        let e = Error::from(aiowebsocket::ProtocolError::MessageTooBig { size: 9, limit: 4 });
        let msg = error_message(&e);
        assert!(
            msg.contains("--max-message-size") && !msg.contains(".max_"),
            "{msg}"
        );
        assert!(!msg.contains("peer"), "{msg}");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(describe_size(16 << 20), "16 MiB");
        assert_eq!(describe_size(64 << 10), "64 KiB");
        assert_eq!(describe_size(1000), "1000 bytes");
    }
}
