//! `aiows serve [ADDR]`: a local WebSocket server for trying clients out, on the library's
//! server role. Echoes every message by default; `--broadcast` relays each message to the
//! other clients instead. One line per connection event goes to stderr; Ctrl-C closes
//! every connection with 1001 (going away) and stops.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aiowebsocket::{CloseCode, CloseFrame, Message, Request, ServerOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use crate::args::{ServeArgs, Setting};
use crate::interrupts;
use crate::report::{describe_close, Failure, EXIT_CONNECT};

/// Messages waiting for the slowest client in `--broadcast` mode; a client further behind
/// loses the oldest ones (and a line on stderr says so).
const BROADCAST_BACKLOG: usize = 1024;

/// How long Ctrl-C waits for the connections to finish their close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// What every connection task shares.
#[derive(Clone)]
struct Shared {
    options: ServerOptions,
    broadcast: bool,
    verbose: bool,
    /// `(connection id, message)` relayed to the other clients.
    bus: broadcast::Sender<(u64, Message)>,
    /// Becomes `true` on Ctrl-C.
    shutdown: watch::Receiver<bool>,
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
    log(&format!(
        "listening on ws://{local}/ ({mode}); Ctrl-C stops"
    ));

    let (bus, _) = broadcast::channel(BROADCAST_BACKLOG);
    let (stop, shutdown) = watch::channel(false);
    let shared = Shared {
        options: server_options(&args),
        broadcast: args.broadcast,
        verbose: args.verbose,
        bus,
        shutdown,
    };
    let mut tasks = JoinSet::new();
    let mut interrupts = interrupts();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    next_id += 1;
                    tasks.spawn(connection(shared.clone(), next_id, peer, tcp));
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

fn server_options(args: &ServeArgs) -> ServerOptions {
    let mut options = ServerOptions::new();
    for proto in &args.subprotocols {
        options = options.subprotocol(proto);
    }
    if !args.compression {
        options = options.no_compression();
    }
    match args.max_message_size {
        Setting::Default => options,
        Setting::Off => options.max_message_size(None),
        Setting::Set(n) => options.max_message_size(Some(n)),
    }
}

/// What the server logs about an opening request.
#[derive(Default)]
struct RequestInfo {
    /// `GET /path (origin ..., subprotocols ...)`.
    summary: String,
    /// Every header line, for `-v`.
    headers: Vec<String>,
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
        RequestInfo { summary, headers }
    }
}

/// One client, from the handshake to the end.
async fn connection(shared: Shared, id: u64, peer: SocketAddr, tcp: TcpStream) {
    let tag = format!("#{id} {peer}");
    let seen = Arc::new(Mutex::new(RequestInfo::default()));
    let options = {
        let seen = Arc::clone(&seen);
        shared.options.clone().check(move |req| {
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = RequestInfo::of(req);
            Ok(())
        })
    };
    let mut ws = match aiowebsocket::tokio::accept(tcp, &options).await {
        Ok(ws) => ws,
        Err(e) => {
            log(&format!("{tag} handshake failed: {e}"));
            return;
        }
    };
    {
        let info = seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut line = format!("{tag} connected: {}", info.summary);
        if let Some(proto) = ws.subprotocol() {
            line.push_str(&format!(", subprotocol {proto}"));
        }
        log(&line);
        if shared.verbose {
            let mut err = std::io::stderr().lock();
            for header in &info.headers {
                let _ = writeln!(err, "  {header}");
            }
        }
    }

    let mut bus = shared.bus.subscribe();
    let mut shutdown = shared.shutdown.clone();
    let mut closing = false;
    let mut error = None;
    let mut close: Option<Option<CloseFrame>> = None;
    let mut received = 0u64;
    loop {
        let send = tokio::select! {
            msg = ws.recv() => match msg {
                None => break,
                Some(Ok(msg)) if msg.is_data() => {
                    received += 1;
                    if shared.broadcast {
                        // No other client connected is fine: the message just goes nowhere.
                        let _ = shared.bus.send((id, msg));
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
            relayed = bus.recv(), if shared.broadcast => match relayed {
                Ok((from, msg)) if from != id => Some(msg),
                Ok(_) => None,
                Err(RecvError::Lagged(n)) => {
                    log(&format!("{tag} is too slow: {n} broadcast message(s) dropped"));
                    None
                }
                Err(RecvError::Closed) => None,
            },
            _ = shutdown.changed(), if !closing => {
                closing = true;
                // Waits (bounded by the close timeout) for the client's answer.
                let _ = ws.close(CloseCode::GOING_AWAY, "server shutting down").await;
                None
            }
        };
        if let Some(msg) = send {
            if let Err(e) = ws.send(msg).await {
                // A closed connection is reported by `recv`; keep the first real failure.
                if !e.is_closed() {
                    error.get_or_insert(e);
                }
            }
        }
    }
    let how = match (error, close) {
        (Some(e), _) => format!("failed: {e}"),
        (None, Some(Some(frame))) => {
            format!("closed by the client with {}", describe_close(&frame))
        }
        (None, Some(None)) => "closed by the client (no status code)".to_owned(),
        (None, None) if closing => "closed by the server (shutting down)".to_owned(),
        (None, None) => "ended without a close frame".to_owned(),
    };
    log(&format!("{tag} {how}; {received} message(s) received"));
}

/// One event line on stderr.
fn log(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "aiows: {line}");
}
