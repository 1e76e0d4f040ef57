//! The fixed echo servers every client talks to: two WebSocket ones (fastwebsockets' server
//! role behind a minimal hand-written HTTP upgrade, echoing frame by frame; tokio-websockets'
//! server role, echoing message by message), a plain TCP one for the ceiling, and for the
//! compressed cases our own server role (fastwebsockets has no permessage-deflate).
//!
//! Both run on a current-thread tokio runtime, one task per connection, `TCP_NODELAY` on. The
//! server prints `LISTENING <addr>` on stdout and exits when its stdin closes (the driver
//! holds the pipe) or after `max_secs`, whichever comes first.

use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::serve::{announce, upgrade, watch_stdin};

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// WebSocket echo (text and binary messages, frame by frame): fastwebsockets.
    Ws,
    /// WebSocket echo, message by message: tokio-websockets' server role (default config).
    TokioWs,
    /// WebSocket echo with permessage-deflate: our server role (`ServerOptions::new()`,
    /// compression accepted with the client's parameters), message by message.
    Ours,
    /// Byte echo.
    Tcp,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Ws => "ws",
            ServerKind::TokioWs => "tws",
            ServerKind::Ours => "ours",
            ServerKind::Tcp => "tcp",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ServerKind> {
        match s {
            "ws" => Some(ServerKind::Ws),
            "tws" => Some(ServerKind::TokioWs),
            "ours" => Some(ServerKind::Ours),
            "tcp" => Some(ServerKind::Tcp),
            _ => None,
        }
    }
}

/// Runs a server until stdin closes or `max_secs` pass.
pub(crate) fn run(kind: ServerKind, max_secs: u64) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("server: cannot build the tokio runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("server: cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("server: no local address: {e}"))?;
        announce(&[addr])?;
        watch_stdin();
        let serve = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(pair) => pair,
                    // EMFILE and friends: back off briefly instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match kind {
                    ServerKind::Ws => tokio::spawn(serve_ws(stream)),
                    ServerKind::TokioWs => tokio::spawn(serve_tokio_ws(stream)),
                    ServerKind::Ours => tokio::spawn(serve_ours(stream)),
                    ServerKind::Tcp => tokio::spawn(serve_tcp(stream)),
                };
            }
        };
        // The accept loop never ends; the lifetime cap stops the process.
        let _ = tokio::time::timeout(Duration::from_secs(max_secs), serve).await;
        Ok(())
    })
}

/// The TCP ceiling: the client first sends its message size (u64, little endian), then each
/// message is read whole and written back whole, as the WebSocket server does with a frame.
async fn serve_tcp(mut stream: TcpStream) {
    let mut size = [0u8; 8];
    if stream.read_exact(&mut size).await.is_err() {
        return;
    }
    let Ok(size) = usize::try_from(u64::from_le_bytes(size)) else {
        return;
    };
    if size == 0 || size > MAX_TCP_MESSAGE {
        return;
    }
    // Grows with what arrives (as the WebSocket server's buffer does), not with the claim.
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; size.min(64 * 1024)];
    loop {
        buf.clear();
        while buf.len() < size {
            let want = (size - buf.len()).min(chunk.len());
            match stream.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// The largest message the TCP echo server accepts (the benchmark's largest is 16 MiB).
const MAX_TCP_MESSAGE: usize = 64 << 20;

async fn serve_ws(mut stream: TcpStream) {
    if upgrade(&mut stream).await.is_err() {
        return;
    }
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    // Echo frame by frame (continuations keep their order, so fragmented messages echo too).
    while let Ok(frame) = ws.read_frame().await {
        match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                // A received frame keeps its masking key after `read_frame` unmasked it; a
                // server must send unmasked frames, so rebuild the frame without the key.
                let frame = Frame::new(frame.fin, frame.opcode, None, frame.payload);
                if ws.write_frame(frame).await.is_err() {
                    return;
                }
            }
            OpCode::Ping | OpCode::Pong => {}
        }
    }
}

/// tokio-websockets' server role: echo every data message (pings are answered by the
/// library).
async fn serve_tokio_ws(stream: TcpStream) {
    use futures_util::{SinkExt, StreamExt};
    let Ok((_, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

/// Our server role: accept (permessage-deflate if offered), echo every data message.
async fn serve_ours(stream: TcpStream) {
    let options = aiowebsocket::ServerOptions::new();
    let Ok(mut ws) = aiowebsocket::tokio::accept(stream, &options).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.recv().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}
