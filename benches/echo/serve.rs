//! Pieces every benchmark server process shares (the echo and bulk servers, the scale
//! server): the announcement line the driver waits for, the lines the driver writes to
//! stdin (exiting when it closes it), and a minimal server side of the HTTP/1.1 upgrade.

use std::io::{BufRead, Write};
use std::net::SocketAddr;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Prints `LISTENING <addr> <addr>...` on stdout: the first line the driver reads.
pub(crate) fn announce(addrs: &[SocketAddr]) -> Result<(), String> {
    let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {}", list.join(" "))
        .and_then(|()| out.flush())
        .map_err(|e| format!("server: cannot write to stdout: {e}"))
}

/// Hands every line on stdin to `on_line` (the echo server answers `STATS` queries; others
/// pass `|_| {}`) and exits the process when stdin reaches EOF (the driver went away or is
/// done).
pub(crate) fn watch_stdin(on_line: fn(&str)) {
    std::thread::spawn(move || {
        let mut line = String::new();
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        while matches!(lock.read_line(&mut line), Ok(n) if n > 0) {
            on_line(&line);
            line.clear();
        }
        std::process::exit(0);
    });
}

/// A minimal server side of the HTTP/1.1 upgrade: read the request head, answer 101.
pub(crate) async fn upgrade(stream: &mut TcpStream) -> Result<(), String> {
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("eof before the request head".into());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if head.len() > 16 * 1024 {
            return Err("request head too large".into());
        }
    };
    if end != head.len() {
        // No client we measure sends frames before the 101: refuse rather than lose bytes.
        return Err("bytes after the request head".into());
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&head).map_err(|e| e.to_string())?;
    let key = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| h.value.trim_ascii())
        .ok_or("no Sec-WebSocket-Key")?;
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream
        .write_all(response.as_bytes())
        .await
        .map_err(|e| e.to_string())
}
