//! The `tracing` feature: real connections on tokio over loopback, every span and event
//! captured by a small subscriber. Checks that the connection's span and its events say
//! what a user needs (host, runtime, TLS, DNS, TCP, redirect, HTTP status, close codes,
//! keepalive timeout, reconnects) and that no secret of the URL, the headers or the
//! messages ever appears.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod runtimes;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aiowebsocket::native_tls::{Identity, TlsAcceptor};
use aiowebsocket::rustls::{self, pki_types::CertificateDer};
use aiowebsocket::tokio::TokioIo;
use aiowebsocket::ws_client::handshake::server_accept;
use aiowebsocket::ws_client::tls::native;
use aiowebsocket::{CloseCode, Event as WsEvent, Message, ReconnectPolicy, ServerOptions};
use runtimes::echo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

// ----- a subscriber that writes every span and event as a line -----

/// What the subscriber saw, one line per span creation, record and event.
#[derive(Default)]
struct Capture {
    next_id: AtomicU64,
    spans: Mutex<HashMap<u64, SpanInfo>>,
    lines: Mutex<Vec<String>>,
}

struct SpanInfo {
    name: &'static str,
    fields: String,
    parent: Option<u64>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Writes fields as `name=value` (strings unquoted, the message as is).
struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Capture {
    fn current() -> Option<u64> {
        STACK.with(|s| s.borrow().last().copied())
    }

    /// `name#id{fields} < parent#id{fields} < ...`
    fn chain(&self, mut id: Option<u64>) -> String {
        let spans = self.spans.lock().unwrap();
        let mut out = Vec::new();
        while let Some(i) = id {
            let Some(span) = spans.get(&i) else { break };
            out.push(format!("{}#{i}{{{}}}", span.name, span.fields.trim()));
            id = span.parent;
        }
        out.join(" < ")
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = String::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = if attrs.is_root() {
            None
        } else {
            attrs.parent().map(Id::into_u64).or_else(Self::current)
        };
        let name = attrs.metadata().name();
        self.spans.lock().unwrap().insert(
            id,
            SpanInfo {
                name,
                fields,
                parent,
            },
        );
        let line = format!("SPAN {}", self.chain(Some(id)));
        self.lines.lock().unwrap().push(line);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = String::new();
        values.record(&mut Fields(&mut fields));
        if let Some(info) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            info.fields.push_str(&fields);
        }
        let line = format!("RECORD {}:{fields}", span.into_u64());
        self.lines.lock().unwrap().push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let parent = if event.is_root() {
            None
        } else {
            event.parent().map(Id::into_u64).or_else(Self::current)
        };
        let mut fields = String::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        let line = format!(
            "{} {} [{}]{fields}",
            meta.level(),
            meta.target(),
            self.chain(parent)
        );
        self.lines.lock().unwrap().push(line);
    }

    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(i) = s.iter().rposition(|&id| id == span.into_u64()) {
                s.remove(i);
            }
        });
    }
}

/// The subscriber, installed once as the global default (so that events of every thread
/// are captured).
fn capture() -> Arc<Capture> {
    static CAPTURE: OnceLock<Arc<Capture>> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Arc::new(Capture::default());
            tracing::subscriber::set_global_default(Forward(Arc::clone(&capture))).unwrap();
            capture
        })
        .clone()
}

/// The global subscriber: forwards to the shared [`Capture`].
struct Forward(Arc<Capture>);

impl Subscriber for Forward {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        self.0.new_span(a)
    }
    fn record(&self, s: &Id, v: &Record<'_>) {
        self.0.record(s, v)
    }
    fn record_follows_from(&self, s: &Id, f: &Id) {
        self.0.record_follows_from(s, f)
    }
    fn event(&self, e: &Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, s: &Id) {
        self.0.enter(s)
    }
    fn exit(&self, s: &Id) {
        self.0.exit(s)
    }
}

// ----- servers -----

/// Echoes data messages on every connection; with `tls`, inside a TLS session.
async fn echo_server(tls: Option<TlsAcceptor>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let options = ServerOptions::new();
                let Some(acceptor) = tls else {
                    if let Ok(ws) = aiowebsocket::tokio::accept(tcp, &options).await {
                        echo(ws).await;
                    }
                    return;
                };
                let Ok(tls) = native::accept(&acceptor, TokioIo::new(tcp)).await else {
                    return;
                };
                if let Ok(ws) = server_accept(tls, &options, None).await {
                    echo(ws).await;
                }
            });
        }
    });
    addr
}

/// Answers every request with a 307 to `location`.
async fn redirector(location: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let location = location.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n\
                     Content-Length: 0\r\n\r\n"
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

// ----- the test -----

fn assert_has(lines: &[String], what: &str, parts: &[&str]) -> String {
    match lines.iter().find(|l| parts.iter().all(|p| l.contains(p))) {
        Some(line) => line.clone(),
        None => panic!(
            "no line with all of {parts:?} ({what}) in:\n{}",
            lines.join("\n")
        ),
    }
}

#[test]
fn spans_and_events_tell_the_story_and_keep_secrets() {
    let capture = capture();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        plain_with_redirect().await;
        tls_version_and_alpn().await;
        keepalive_timeout().await;
        reconnects().await;
        failures().await;
    });
    let lines = capture.lines();
    let all = lines.join("\n");
    if std::env::var_os("SHOW_TRACE").is_some() {
        eprintln!("{all}");
    }

    // Nothing secret, anywhere: URL password and query, the Authorization header, message
    // payloads, close reasons, the Sec-WebSocket-Key header.
    for secret in ["secret", "Bearer", "Sec-WebSocket-Key", "sec-websocket-key"] {
        assert!(!all.contains(secret), "{secret:?} was logged:\n{all}");
    }
    // A client connection's span names the URL without user info or query, the runtime and
    // the TLS library.
    let span = assert_has(
        &lines,
        "the span of the first connection",
        &[
            "SPAN websocket#",
            "url=ws://localhost:",
            "/start?<redacted>",
        ],
    );
    assert!(
        span.contains("runtime=tokio") && span.contains("tls=none"),
        "{span}"
    );
    assert!(!span.contains("user"), "{span}");

    // The opening steps, each an event of a websocket span.
    assert_has(
        &lines,
        "DNS",
        &[
            "DEBUG ws_client::connect [websocket#",
            "DNS resolved",
            "host=localhost",
            "127.0.0.1",
        ],
    );
    assert_has(
        &lines,
        "TCP",
        &[
            "DEBUG ws_client::connect [websocket#",
            "TCP connected",
            "address=127.0.0.1:",
        ],
    );
    assert_has(
        &lines,
        "redirect",
        &[
            "[websocket#",
            "following a redirect",
            "status=307",
            "to=ws://localhost:",
            "/feed?<redacted>",
        ],
    );
    assert_has(
        &lines,
        "HTTP status",
        &[
            "DEBUG ws_client::handshake::client [websocket#",
            "HTTP response",
            "status=101",
        ],
    );
    assert_has(
        &lines,
        "negotiation",
        &[
            "[websocket#",
            "WebSocket open",
            "extensions=permessage-deflate",
            "compression=true",
        ],
    );
    // Frames at trace, without payloads.
    assert_has(
        &lines,
        "frame out",
        &[
            "TRACE ws_client::proto::send [websocket#",
            "frame queued",
            "opcode=Text",
            "len=14",
        ],
    );
    assert_has(
        &lines,
        "frame in",
        &[
            "TRACE ws_client::proto::receive [websocket#",
            "frame received",
            "opcode=Text",
        ],
    );
    // Close codes both ways, and the end.
    assert_has(
        &lines,
        "close out",
        &[
            "DEBUG ws_client::proto::send [websocket#",
            "sending close",
            "code=4000",
            "reason_len=13",
        ],
    );
    assert_has(
        &lines,
        "close in",
        &[
            "DEBUG ws_client::proto::receive [websocket#",
            "close received",
            "code=4000",
        ],
    );
    assert_has(
        &lines,
        "end",
        &[
            "[websocket#",
            "connection over",
            "close_sent=true",
            "close_received=true",
        ],
    );

    // TLS: backend, version, ALPN (none offered), in the span of a wss connection.
    let tls_span = assert_has(
        &lines,
        "wss span",
        &["SPAN websocket#", "url=wss://localhost:", "/tls?<redacted>"],
    );
    assert!(tls_span.contains("tls=rustls"), "{tls_span}");
    assert_has(
        &lines,
        "TLS",
        &[
            "DEBUG ws_client::tls [websocket#",
            "TLS established",
            "backend=rustls",
            "version=TLSv1_",
        ],
    );

    // Keepalive timeout: a warning, then our close with 1011.
    assert_has(
        &lines,
        "keepalive",
        &[
            "WARN ws_client::proto::timers [websocket#",
            "no pong within the keepalive timeout",
        ],
    );
    assert_has(
        &lines,
        "keepalive close",
        &["[websocket#", "sending close", "code=1011"],
    );

    // Reconnection: the delay at info, the new connection's span inside `reconnecting`.
    assert_has(
        &lines,
        "reconnect",
        &[
            "INFO ws_client::reconnect [reconnecting#",
            "reconnecting after a delay",
            "attempt=1",
            "delay=",
            "code 1012",
        ],
    );
    assert_has(
        &lines,
        "reconnected",
        &[
            "INFO ws_client::reconnect [reconnecting#",
            "reconnected",
            "attempts=1",
        ],
    );
    assert_has(
        &lines,
        "nested span",
        &["SPAN websocket#", "< reconnecting#"],
    );

    // Failures: the step and the error, its URLs scrubbed.
    assert_has(
        &lines,
        "refused",
        &[
            "DEBUG ws_client::connect [websocket#",
            "/refused?<redacted>",
            "TCP connect attempt failed",
            "address=127.0.0.1:",
        ],
    );
    assert_has(
        &lines,
        "connect failed",
        &[
            "DEBUG ws_client::connect [websocket#",
            "/refused?<redacted>",
            "connect failed",
            "step=Some(Connect)",
        ],
    );
    assert_has(
        &lines,
        "not followed",
        &[
            "[websocket#",
            "connect failed",
            "ws://elsewhere.example:80/next?<redacted>",
        ],
    );
}

/// ws:// with a password, a token in the query and an Authorization header, through a
/// redirect whose Location has a token too; a message; a close with a reason.
async fn plain_with_redirect() {
    let server = echo_server(None).await;
    let location = format!("ws://localhost:{}/feed?token=secret", server.port());
    let redirect = redirector(location).await;
    let url = format!(
        "ws://user:secret@localhost:{}/start?token=secret",
        redirect.port()
    );
    let mut ws = aiowebsocket::builder(url)
        .header("Authorization", "Bearer secret")
        .connect()
        .await
        .unwrap();
    ws.send(Message::text("secret payload")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("secret payload")
    );
    ws.close(CloseCode::from(4000), "secret reason")
        .await
        .unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::from(4000));
}

/// A refused TCP connect, and a redirect that is not followed (its error names the
/// `Location`, token included: the event must not).
async fn failures() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("ws://user:secret@127.0.0.1:{port}/refused?token=secret");
    let err = aiowebsocket::builder(url).connect().await.unwrap_err();
    assert_eq!(err.step(), Some(aiowebsocket::Step::Connect), "{err}");

    let redirect = redirector("ws://elsewhere.example/next?token=secret".to_owned()).await;
    let url = format!("ws://localhost:{}/unfollowed", redirect.port());
    let err = aiowebsocket::builder(url)
        .no_redirects()
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    assert!(err.to_string().contains("token=secret"), "{err}");
}

/// wss:// through rustls to a native-tls server with a certificate made now.
async fn tls_version_and_alpn() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let identity = Identity::from_pkcs8(
        ck.cert.pem().as_bytes(),
        ck.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let server = echo_server(Some(TlsAcceptor::new(identity).unwrap())).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ck.cert.der().to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!("wss://localhost:{}/tls?token=secret", server.port());
    let mut ws = aiowebsocket::builder(url)
        .rustls_config(Arc::new(config))
        .connect()
        .await
        .unwrap();
    ws.send(Message::binary(&b"secret bytes"[..]))
        .await
        .unwrap();
    assert!(ws.recv().await.unwrap().unwrap().is_binary());
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

/// A server that completes the handshake and then never reads: no pong comes back.
async fn keepalive_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = aiowebsocket::tokio::accept(tcp, &ServerOptions::new())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(ws);
    });
    let mut ws = aiowebsocket::builder(format!("ws://127.0.0.1:{}/quiet", addr.port()))
        .keepalive(Duration::from_millis(50), Duration::from_millis(100))
        .close_timeout(Some(Duration::from_millis(100)))
        .connect()
        .await
        .unwrap();
    let err = ws.recv().await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    server.abort();
}

/// The server restarts (closes with 1012) the first connection; the client reconnects.
async fn reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((tcp, _)) = listener.accept().await {
            let restart = std::mem::replace(&mut first, false);
            tokio::spawn(async move {
                let Ok(mut ws) = aiowebsocket::tokio::accept(tcp, &ServerOptions::new()).await
                else {
                    return;
                };
                if restart {
                    let _ = ws.close(CloseCode::from(1012), "secret restart").await;
                    return;
                }
                while let Some(Ok(_)) = ws.recv().await {}
            });
        }
    });
    let url = format!("ws://localhost:{}/again?token=secret", addr.port());
    let mut ws = aiowebsocket::builder(url)
        .reconnecting_tokio()
        .policy(ReconnectPolicy::new().initial_delay(Duration::from_millis(10)))
        .connect()
        .await
        .unwrap();
    match ws.recv().await.unwrap().unwrap() {
        WsEvent::Disconnected { .. } => {}
        other => panic!("expected a disconnect, got {other:?}"),
    }
    match ws.recv().await.unwrap().unwrap() {
        WsEvent::Reconnected { attempts: 1 } => {}
        other => panic!("expected a reconnection, got {other:?}"),
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}
