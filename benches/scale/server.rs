//! The scale server: one minimal WebSocket server for every client, cheap per connection.
//!
//! Current-thread tokio (the driver pins it to CPU 0). It listens on 127.0.0.1..=127.0.0.K
//! (one port each, backlog 4096), so that N connections from one client stay clear of the
//! ephemeral-port range of one destination, and on a control port (127.0.0.1). It prints
//! `LISTENING <control> <ws addr>...` and exits when its stdin closes.
//!
//! Each connection is one task: the HTTP/1.1 upgrade (no extensions: permessage-deflate is
//! not accepted), then it reads the client's frames, answers pings with pongs and a close
//! with a close, ignores data, and writes the broadcast message when told to. Nothing is
//! buffered between reads except the rest of a frame that arrived in pieces.
//!
//! Control connection, one command per line:
//! - `stats` -> `STATS live=<connections open> pings=<pings answered so far>`;
//! - `broadcast` -> every open connection writes one 16-byte binary message; the answer,
//!   once all have written it, is `WRITTEN conns=<k> us=<time from the command to the last
//!   write>` (`conns` short of the count open if some failed within 30 s).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Notify};
use ws_frame::{Decoded, FrameHeader, HeaderDecoder, OpCode, Role};

use crate::process::Flags;
use crate::serve::{announce, upgrade, watch_stdin};

/// The message the broadcast sends: a binary frame of 16 bytes, unmasked (server to client).
const BROADCAST: [u8; 18] = [
    0x82, 16, b's', b'c', b'a', b'l', b'e', b' ', b'b', b'r', b'o', b'a', b'd', b'c', b'a', b's',
    b't', b'!',
];

/// The largest frame a client may send us (ours are pings and closes).
const MAX_FRAME: u64 = 64 << 10;

/// What the connections and the control port share.
struct Hub {
    /// Connections past their upgrade and not ended.
    live: AtomicUsize,
    /// Pings answered, over all connections.
    pings: AtomicU64,
    /// Bumped by each `broadcast`: every connection task watches it.
    round: watch::Sender<u64>,
    /// Connections that wrote the current broadcast, and how many are expected to.
    written: AtomicUsize,
    expected: AtomicUsize,
    all_written: Notify,
}

/// Counts a connection as live while it exists.
struct Live(Arc<Hub>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let flags = Flags(args);
    let k = flags.num("--addrs")?;
    if !(1..=254).contains(&k) {
        return Err("--addrs must be 1 to 254".into());
    }
    crate::raise_fd_limit(1 << 20)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("server: cannot build the tokio runtime: {e}"))?;
    rt.block_on(async move {
        let mut listeners = Vec::new();
        for i in 1..=k as u8 {
            listeners.push(listen(Ipv4Addr::new(127, 0, 0, i), 4096)?);
        }
        let control = listen(Ipv4Addr::LOCALHOST, 16)?;
        let mut addrs = vec![control.local_addr().map_err(|e| e.to_string())?];
        for l in &listeners {
            addrs.push(l.local_addr().map_err(|e| e.to_string())?);
        }
        announce(&addrs)?;
        watch_stdin(|_| {});
        let hub = Arc::new(Hub {
            live: AtomicUsize::new(0),
            pings: AtomicU64::new(0),
            round: watch::Sender::new(0),
            written: AtomicUsize::new(0),
            expected: AtomicUsize::new(0),
            all_written: Notify::new(),
        });
        for listener in listeners {
            let hub = Arc::clone(&hub);
            tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            tokio::spawn(serve(stream, Arc::clone(&hub)));
                        }
                        // EMFILE and friends: back off briefly instead of spinning.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            });
        }
        loop {
            if let Ok((stream, _)) = control.accept().await {
                tokio::spawn(command(stream, Arc::clone(&hub)));
            }
        }
    })
}

fn listen(ip: Ipv4Addr, backlog: u32) -> Result<TcpListener, String> {
    let addr = SocketAddr::V4(SocketAddrV4::new(ip, 0));
    let socket = TcpSocket::new_v4().map_err(|e| format!("server: socket: {e}"))?;
    socket
        .bind(addr)
        .and_then(|()| socket.listen(backlog))
        .map_err(|e| format!("server: cannot listen on {addr}: {e}"))
}

/// One control connection: runs its commands until it closes.
async fn command(stream: TcpStream, hub: Arc<Hub>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match line.trim() {
            "stats" => format!(
                "STATS live={} pings={}\n",
                hub.live.load(Ordering::Relaxed),
                hub.pings.load(Ordering::Relaxed)
            ),
            "broadcast" => broadcast(&hub).await,
            other => format!("ERROR unknown command {other:?}\n"),
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Has every open connection write the broadcast message; waits until all did (or 30 s).
async fn broadcast(hub: &Hub) -> String {
    let start = Instant::now();
    let expected = hub.live.load(Ordering::Relaxed);
    hub.written.store(0, Ordering::Relaxed);
    hub.expected.store(expected, Ordering::Relaxed);
    let all = hub.all_written.notified();
    hub.round.send_modify(|r| *r += 1);
    if expected > 0 {
        let _ = tokio::time::timeout(Duration::from_secs(30), all).await;
    }
    format!(
        "WRITTEN conns={} us={}\n",
        hub.written.load(Ordering::Relaxed),
        start.elapsed().as_micros()
    )
}

/// One WebSocket connection, from the upgrade to its end.
async fn serve(mut stream: TcpStream, hub: Arc<Hub>) {
    let _ = stream.set_nodelay(true);
    let mut round = hub.round.subscribe();
    if upgrade(&mut stream).await.is_err() {
        return;
    }
    hub.live.fetch_add(1, Ordering::Relaxed);
    let _live = Live(Arc::clone(&hub));
    // The start of a frame that has not fully arrived.
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut reply = Vec::new();
                let closed = if partial.is_empty() {
                    let (used, closed) = answer(&mut buf[..n], &mut reply, &hub);
                    partial.extend_from_slice(&buf[used..n]);
                    closed
                } else {
                    partial.extend_from_slice(&buf[..n]);
                    let (used, closed) = answer(&mut partial, &mut reply, &hub);
                    partial.drain(..used);
                    closed
                };
                if partial.is_empty() && partial.capacity() > 0 {
                    partial = Vec::new();
                }
                let closed = match closed {
                    Ok(closed) => closed,
                    Err(()) => return,
                };
                if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
                    return;
                }
                if closed {
                    return;
                }
            }
            changed = round.changed() => {
                if changed.is_err() || stream.write_all(&BROADCAST).await.is_err() {
                    return;
                }
                let done = hub.written.fetch_add(1, Ordering::Relaxed) + 1;
                if done == hub.expected.load(Ordering::Relaxed) {
                    hub.all_written.notify_one();
                }
            }
        }
    }
}

/// Handles the whole frames at the front of `data` (unmasking them in place): a pong for
/// each ping and a close for a close go into `reply`. Returns the bytes used and whether
/// the client closed; `Err` for bytes that are no valid client frame.
fn answer(data: &mut [u8], reply: &mut Vec<u8>, hub: &Hub) -> (usize, Result<bool, ()>) {
    let decoder = HeaderDecoder::new(Role::Server).max_frame_size(MAX_FRAME);
    let mut at = 0;
    while at < data.len() {
        let (header, header_len) = match decoder.decode(&data[at..]) {
            Ok(Decoded::Complete { header, header_len }) => (header, header_len),
            Ok(Decoded::Incomplete { .. }) => break,
            Err(_) => return (at, Err(())),
        };
        // At most MAX_FRAME, checked by the decoder.
        let end = at + header_len + header.payload_len as usize;
        if end > data.len() {
            break;
        }
        let payload = &mut data[at + header_len..end];
        at = end;
        if !matches!(header.opcode, OpCode::Ping | OpCode::Close) {
            continue;
        }
        if let Some(key) = header.mask {
            ws_frame::apply_mask(payload, key, 0);
        }
        let opcode = if header.opcode == OpCode::Ping {
            hub.pings.fetch_add(1, Ordering::Relaxed);
            OpCode::Pong
        } else {
            OpCode::Close
        };
        let out = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; ws_frame::MAX_HEADER_LEN];
        let n = out.encode(&mut head);
        reply.extend_from_slice(&head[..n]);
        reply.extend_from_slice(payload);
        if opcode == OpCode::Close {
            return (at, Ok(true));
        }
    }
    (at, Ok(false))
}
