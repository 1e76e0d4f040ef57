//! The real `aiows` binary against `aiows serve` (a child process) and against servers
//! embedded here on the library's server role, which check what arrives.
//!
//! Every child is killed when its guard drops (also when an assertion fails), and every
//! wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiowebsocket::{native_tls, CloseCode, Message, ServerOptions};
use tokio::net::TcpListener;

/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(20);

fn aiows() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aiows"))
}

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pipe's lines, collected on a thread (which ends when the pipe closes).
struct Lines {
    all: Arc<Mutex<Vec<String>>>,
    /// Each line as it arrives.
    each: Receiver<String>,
    reader: thread::JoinHandle<()>,
}

/// Collects a pipe's lines on a thread; each line is also sent on a channel.
fn collect_lines<R: Read + Send + 'static>(pipe: R) -> Lines {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let store = Arc::clone(&lines);
    let reader = thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            store.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    Lines {
        all: lines,
        each: rx,
        reader,
    }
}

/// Waits (bounded) for the child to exit.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not exit within {WAIT:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The result of one `aiows` run.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The last stderr line, which must be the one-line error.
    fn error_line(&self) -> &str {
        let line = self.stderr.lines().last().unwrap_or("");
        assert!(line.starts_with("aiows: "), "stderr: {}", self.stderr);
        line
    }
}

/// Runs `aiows args...`, feeding `stdin` (then closing it; `None`: /dev/null).
fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(aiows(), args, stdin)
}

/// Runs `aiows args...` with these environment variables (and no proxy variables but
/// these), stdin from /dev/null.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = aiows();
    for name in PROXY_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    run_with(cmd, args, None)
}

/// The variables `--proxy-from-env` reads.
const PROXY_VARIABLES: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn run_with(mut cmd: Command, args: &[&str], stdin: Option<&[u8]>) -> Run {
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut guard = Guard(cmd.spawn().unwrap());
    if let Some(data) = stdin {
        let mut pipe = guard.0.stdin.take().unwrap();
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = collect_lines(guard.0.stdout.take().unwrap());
    let err = collect_lines(guard.0.stderr.take().unwrap());
    let status = wait_exit(&mut guard.0, &format!("aiows {args:?}"));
    // The pipes closed with the process (it starts no children): the readers end.
    let joined = |lines: Lines| {
        lines.reader.join().unwrap();
        let mut s = lines.all.lock().unwrap().join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s
    };
    Run {
        code: status.code(),
        stdout: joined(out),
        stderr: joined(err),
    }
}

/// `aiows serve` on a free port, its stderr collected.
struct Served {
    guard: Guard,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    events: Receiver<String>,
}

impl Served {
    fn start(extra: &[&str]) -> Served {
        let mut child = aiows()
            .arg("serve")
            .arg("127.0.0.1:0")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let guard = Guard(child);
        let Lines {
            all: log,
            each: events,
            ..
        } = collect_lines(stderr);
        let first = events
            .recv_timeout(WAIT)
            .expect("aiows serve printed nothing");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Served {
            guard,
            url,
            log,
            events,
        }
    }

    /// Waits (bounded) for a log line containing all of `words`.
    fn wait_for(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        if let Some(line) = self
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|l| words.iter().all(|w| l.contains(w)))
        {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(line) if words.iter().all(|w| line.contains(w)) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no log line with {words:?} in time; log: {:#?}",
                    self.log.lock().unwrap()
                ),
            }
        }
    }
}

/// An `aiows` client whose stdin we type into and whose stdout we read line by line.
struct Interactive {
    guard: Guard,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Interactive {
    fn start(args: &[&str]) -> Interactive {
        let mut child = aiows()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = collect_lines(child.stdout.take().unwrap()).each;
        let err = collect_lines(child.stderr.take().unwrap()).all;
        Interactive {
            guard: Guard(child),
            stdin,
            out,
            err,
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn read_line(&self) -> String {
        match self.out.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(e) => panic!(
                "no output line ({e:?}); stderr: {:?}",
                self.err.lock().unwrap()
            ),
        }
    }

    /// Closes stdin and waits for the exit code.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        wait_exit(&mut self.guard.0, "interactive aiows").code()
    }
}

/// A port nobody listens on (bound, then released).
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---- a server embedded in the test, on the library's server role ---------------------------

/// What the embedded server does once the client connected.
#[derive(Clone)]
enum Script {
    /// Echo text and binary messages until the client closes.
    Echo,
    /// Refuse the upgrade with this status and body.
    Refuse(u16, &'static str),
    /// Send these messages, then echo.
    Greet(Vec<&'static str>),
    /// Close at once with this code and reason.
    CloseWith(u16, &'static str),
    /// Drop the TCP connection without a close frame.
    Vanish,
    /// Send one text message of this many bytes, then echo.
    SendBig(usize),
    /// Accept TCP but never answer the handshake.
    Silent,
    /// Complete the handshake, then never read (no pong, no close reply).
    Deaf,
}

/// What the embedded server saw.
#[derive(Debug, Default)]
struct Observed {
    path: String,
    headers: Vec<(String, String)>,
    /// Text messages as is, binary ones as `bin:<hex>`.
    messages: Vec<String>,
    /// The client's close frame: `(code, reason)`, or `None` inside when it had no status.
    close: Option<Option<(u16, String)>>,
    error: Option<String>,
}

impl Observed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Embedded {
    url: String,
    addr: SocketAddr,
    connected: Receiver<()>,
    done: Receiver<Observed>,
}

impl Embedded {
    fn start(script: Script) -> Embedded {
        Self::start_with(script, None)
    }

    /// `tls`: serve wss:// with this acceptor.
    fn start_with(script: Script, tls: Option<native_tls::TlsAcceptor>) -> Embedded {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (connected_tx, connected) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let serve = serve_one(listener, script, tls, connected_tx);
                let observed = match tokio::time::timeout(WAIT, serve).await {
                    Ok(observed) => observed,
                    Err(_) => Observed {
                        error: Some("the embedded server timed out".into()),
                        ..Observed::default()
                    },
                };
                let _ = done_tx.send(observed);
            });
        });
        let addr = addr_rx.recv_timeout(WAIT).unwrap();
        Embedded {
            url: format!("ws://{addr}/path?q=1"),
            addr,
            connected,
            done,
        }
    }

    fn wss_url(&self) -> String {
        format!("wss://127.0.0.1:{}/path", self.addr.port())
    }

    fn observed(&self) -> Observed {
        match self.done.recv_timeout(WAIT) {
            Ok(o) => o,
            Err(RecvTimeoutError::Timeout) => panic!("the embedded server did not finish"),
            Err(RecvTimeoutError::Disconnected) => panic!("the embedded server panicked"),
        }
    }
}

async fn serve_one(
    listener: TcpListener,
    script: Script,
    tls: Option<native_tls::TlsAcceptor>,
    connected: mpsc::Sender<()>,
) -> Observed {
    let (tcp, _) = listener.accept().await.unwrap();
    match tls {
        Some(acceptor) => {
            let acceptor = tokio_native_tls::TlsAcceptor::from(acceptor);
            match acceptor.accept(tcp).await {
                Ok(stream) => serve_ws(stream, script, connected).await,
                Err(e) => Observed {
                    error: Some(format!("TLS: {e}")),
                    ..Observed::default()
                },
            }
        }
        None => serve_ws(tcp, script, connected).await,
    }
}

async fn serve_ws<S>(stream: S, script: Script, connected: mpsc::Sender<()>) -> Observed
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut obs = Observed::default();
    if let Script::Silent = script {
        let _ = connected.send(());
        tokio::time::sleep(WAIT).await;
        drop(stream);
        return obs;
    }
    let seen = Arc::new(Mutex::new((String::new(), Vec::new())));
    let refuse = match script {
        Script::Refuse(status, body) => Some((status, body)),
        _ => None,
    };
    let options = {
        let seen = Arc::clone(&seen);
        ServerOptions::new().subprotocol("chat").check(move |req| {
            let headers = req
                .headers()
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            *seen.lock().unwrap() = (req.path().to_owned(), headers);
            match refuse {
                Some((status, body)) => Err((status, body.to_owned())),
                None => Ok(()),
            }
        })
    };
    let accepted = aiowebsocket::tokio::accept(stream, &options).await;
    (obs.path, obs.headers) = std::mem::take(&mut *seen.lock().unwrap());
    let mut ws = match accepted {
        Ok(ws) => ws,
        Err(e) => {
            obs.error = Some(e.to_string());
            return obs;
        }
    };
    let _ = connected.send(());
    match script {
        Script::Greet(messages) => {
            for m in messages {
                ws.send(Message::text(m)).await.unwrap();
            }
        }
        Script::CloseWith(code, reason) => {
            ws.close(CloseCode::new(code), reason).await.unwrap();
            return obs;
        }
        Script::Vanish => return obs,
        Script::Deaf => {
            tokio::time::sleep(WAIT).await;
            return obs;
        }
        Script::SendBig(n) => ws.send(Message::text("x".repeat(n))).await.unwrap(),
        _ => {}
    }
    while let Some(msg) = ws.recv().await {
        match msg {
            Ok(Message::Text(t)) => {
                obs.messages.push(t.to_string());
                let _ = ws.send(Message::Text(t)).await;
            }
            Ok(Message::Binary(b)) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                obs.messages.push(format!("bin:{hex}"));
                let _ = ws.send(Message::Binary(b)).await;
            }
            Ok(Message::Close(frame)) => {
                obs.close = Some(frame.map(|f| (f.code.as_u16(), f.reason.to_string())));
            }
            Ok(_) => {}
            Err(e) => obs.error = Some(e.to_string()),
        }
    }
    obs
}

/// A self-signed certificate for 127.0.0.1 and its TLS acceptor; the PEM is written to a
/// temporary file (removed on drop) for `--ca-file`.
struct TestCert {
    pem_path: PathBuf,
    acceptor: native_tls::TlsAcceptor,
}

impl TestCert {
    fn generate() -> TestCert {
        use aiowebsocket::native_tls::{Identity, TlsAcceptor};
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let cert_pem = ck.cert.pem();
        let key_pem = ck.signing_key.serialize_pem();
        let identity = Identity::from_pkcs8(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let pem_path =
            std::env::temp_dir().join(format!("aiows-test-{}-{nanos}.pem", std::process::id()));
        std::fs::write(&pem_path, &cert_pem).unwrap();
        TestCert {
            pem_path,
            acceptor: TlsAcceptor::new(identity).unwrap(),
        }
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem_path);
    }
}

// ---- a minimal HTTP CONNECT proxy and a redirecting server, on threads ----------------------

/// What the test proxy saw: each `CONNECT` target with its `Proxy-Authorization` value.
type ProxyLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An HTTP `CONNECT` proxy on 127.0.0.1 that tunnels to any target, or answers `407` to
/// every request when `require_auth` is set. Returns its address and its log.
fn connect_proxy(require_auth: bool) -> (SocketAddr, ProxyLog) {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log: ProxyLog = Arc::default();
    let seen = Arc::clone(&log);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let seen = Arc::clone(&seen);
            thread::spawn(move || tunnel(client, require_auth, &seen));
        }
    });
    (addr, log)
}

/// Serves one proxy client: reads the `CONNECT` head, answers, then copies both ways.
fn tunnel(mut client: std::net::TcpStream, require_auth: bool, seen: &ProxyLog) {
    let head = read_head(&mut client);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let target = match request_line.split(' ').collect::<Vec<_>>()[..] {
        ["CONNECT", target, "HTTP/1.1"] => target.to_owned(),
        _ => panic!("not a CONNECT request: {request_line:?}"),
    };
    let auth = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    seen.lock().unwrap().push((target.clone(), auth));
    if require_auth {
        let _ = client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
        );
        return;
    }
    let Ok(upstream) = std::net::TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut client, mut upstream) = (client, upstream);
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// Reads an HTTP head byte by byte (so nothing after it is consumed).
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16 << 10, "head too large");
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A server on 127.0.0.1 that answers every upgrade request with `301` to `location`.
/// Returns its address.
fn redirector(location: String) -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { break };
            let _ = read_head(&mut client);
            let answer = format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            let _ = client.write_all(answer.as_bytes());
        }
    });
    addr
}

// ---- against `aiows serve` -------------------------------------------------------------------

#[test]
fn typed_lines_are_sent_and_echoes_printed_then_eof_closes() {
    let server = Served::start(&[]);
    let mut client = Interactive::start(&[&server.url]);
    client.type_line("hello");
    assert_eq!(client.read_line(), "hello");
    client.type_line("{\"json\": [1, 2]}");
    assert_eq!(client.read_line(), "{\"json\": [1, 2]}");
    assert_eq!(client.finish(), Some(0));
    server.wait_for(&["closed by the client with code 1000", "2 message(s)"]);
}

#[test]
fn piped_stdin_gets_its_answers_before_the_close() {
    let server = Served::start(&[]);
    let r = run(&[&server.url], Some(b"one\ntwo\r\n\nthree"));
    assert_eq!(r.code, Some(0), "{r:?}");
    // The empty line is an empty message; CRLF and a missing final newline are fine.
    assert_eq!(r.stdout_lines(), ["one", "two", "", "three"], "{r:?}");
    assert_eq!(r.stderr, "", "nothing on stderr on success");

    // Many lines: every answer still arrives before the close (none discarded).
    let input: String = (1..=20_000).map(|i| format!("line {i}\n")).collect();
    let r = run(&[&server.url], Some(input.as_bytes()));
    assert_eq!(r.code, Some(0), "{:?}", r.stderr);
    assert_eq!(r.stdout, input, "all 20000 answers, in order");
}

#[test]
fn send_works_for_scripts_without_stdin() {
    let server = Served::start(&[]);
    let r = run(&[&server.url, "--send", "hi", "-1"], None);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "hi\n"), "{r:?}");
    // Several --send, in order, with stdin not read at all.
    let r = run(
        &[
            "--send",
            "a",
            &server.url,
            "--send=b",
            "--send",
            "c",
            "--no-stdin",
            "--once",
        ],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "a\n"), "{r:?}");
    // Without --once, the end of (empty) stdin closes after the answers arrived.
    let r = run(&[&server.url, "--send", "a", "--send", "b"], None);
    assert_eq!(r.stdout_lines(), ["a", "b"], "{r:?}");
    assert_eq!(r.code, Some(0));
    // The URL scheme may be left out.
    let bare = server.url.trim_start_matches("ws://");
    let r = run(&[bare, "--send", "no scheme", "-1"], None);
    assert_eq!(r.stdout, "no scheme\n", "{r:?}");
}

#[test]
fn timestamps_have_the_original_shape() {
    let server = Served::start(&[]);
    let r = run(
        &[&server.url, "--send", "hi there", "-1", "--timestamps"],
        None,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let line = r.stdout.trim_end_matches('\n');
    // 2019-03-04 15:11:25-Client receive: hi there
    let (stamp, rest) = line.split_at(19);
    assert_eq!(rest, "-Client receive: hi there", "{line:?}");
    for (i, c) in stamp.chars().enumerate() {
        let ok = match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        };
        assert!(ok, "character {i} of {stamp:?}");
    }
    let year: u32 = stamp[..4].parse().unwrap();
    let month: u32 = stamp[5..7].parse().unwrap();
    let hour: u32 = stamp[11..13].parse().unwrap();
    assert!(
        year >= 2024 && (1..=12).contains(&month) && hour < 24,
        "{stamp}"
    );
}

#[test]
fn binary_input_and_output_formats() {
    let server = Served::start(&[]);
    let r = run(&[&server.url, "--hex"], Some(b"00ff10\nDE AD be:ef\nxyz\n"));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout_lines(), ["00ff10", "deadbeef"], "{r:?}");
    assert!(
        r.stderr.contains("input line 3 is not valid hex"),
        "a bad line is reported and skipped: {r:?}"
    );
    let r = run(&[&server.url, "--binary"], Some(b"hi\n"));
    assert_eq!(r.stdout, "6869\n", "{r:?}");
    let r = run(
        &[&server.url, "--base64", "--binary-out", "base64"],
        Some(b"AAEC/w==\n"),
    );
    assert_eq!(r.stdout, "AAEC/w==\n", "{r:?}");
    let r = run(
        &[
            &server.url,
            "--hex",
            "--send",
            "0102",
            "-1",
            "--binary-out=base64",
        ],
        None,
    );
    assert_eq!(r.stdout, "AQI=\n", "{r:?}");
}

#[test]
fn serve_logs_events_and_broadcasts() {
    let server = Served::start(&["--broadcast"]);
    let mut listener = Interactive::start(&[&server.url, "--no-stdin", "-1"]);
    server.wait_for(&["#1", "connected: GET /"]);
    let talker = run(
        &[&format!("{}room?x=1", server.url), "--send", "hello all"],
        None,
    );
    assert_eq!(talker.code, Some(0), "{talker:?}");
    assert_eq!(talker.stdout, "", "broadcast does not echo to the sender");
    assert_eq!(listener.read_line(), "hello all");
    let code = wait_exit(&mut listener.guard.0, "listener").code();
    assert_eq!(code, Some(0));
    server.wait_for(&["#2", "connected: GET /room?x=1"]);
    server.wait_for(&["#2", "closed by the client with code 1000", "1 message(s)"]);
    server.wait_for(&["#1", "closed by the client with code 1000"]);
}

#[cfg(unix)]
#[test]
fn serve_stops_on_ctrl_c_and_clients_see_going_away() {
    let mut server = Served::start(&[]);
    let mut client = Interactive::start(&[&server.url, "--no-stdin"]);
    server.wait_for(&["#1", "connected"]);
    let pid = server.guard.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let code = wait_exit(&mut server.guard.0, "aiows serve").code();
    assert_eq!(code, Some(0), "serve exits 0 on Ctrl-C");
    server.wait_for(&["#1", "closed by the server (shutting down)"]);
    // 1001 (going away) is a normal end for the client.
    let code = wait_exit(&mut client.guard.0, "client").code();
    assert_eq!(code, Some(0), "{:?}", client.err.lock().unwrap());
}

// ---- against servers embedded in the test ----------------------------------------------------

#[test]
fn headers_origin_and_subprotocol_reach_the_server() {
    let server = Embedded::start(Script::Echo);
    let r = run(
        &[
            &server.url,
            "-H",
            "X-Token: s3cret",
            "--header=X-Second: two words",
            "--origin",
            "https://app.example",
            "--subprotocol",
            "other",
            "--subprotocol",
            "chat",
            "-v",
            "--send",
            "hi",
            "-1",
        ],
        None,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout, "hi\n");
    let seen = server.observed();
    assert_eq!(seen.path, "/path?q=1");
    assert_eq!(seen.header("x-token"), Some("s3cret"));
    assert_eq!(seen.header("x-second"), Some("two words"));
    assert_eq!(seen.header("origin"), Some("https://app.example"));
    assert_eq!(seen.header("sec-websocket-protocol"), Some("other, chat"));
    assert_eq!(seen.messages, ["hi"]);
    // -v shows both heads on stderr, and what was chosen.
    assert!(
        r.stderr.contains("> GET /path?q=1 HTTP/1.1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("> X-Token: s3cret"), "{}", r.stderr);
    // The key shown is the one the server received.
    let key = seen.header("sec-websocket-key").unwrap();
    assert!(
        r.stderr.contains(&format!("> Sec-WebSocket-Key: {key}\n")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("< HTTP/1.1 101 Switching Protocols"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("< Sec-WebSocket-Protocol: chat"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("subprotocol: chat"), "{}", r.stderr);
}

#[test]
fn refused_handshake_shows_status_and_body() {
    let server = Embedded::start(Script::Refuse(403, "token missing or expired"));
    let r = run(&[&server.url, "--send", "hi"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("403 Forbidden"), "{line}");
    assert_eq!(
        line.matches("token missing or expired").count(),
        1,
        "{line}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(server.observed().error.is_some());
}

#[test]
fn end_of_input_closes_with_1000() {
    let server = Embedded::start(Script::Echo);
    let r = run(&[&server.url], Some(b"first\nsecond\n"));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout_lines(), ["first", "second"]);
    let seen = server.observed();
    assert_eq!(seen.messages, ["first", "second"]);
    assert_eq!(seen.close, Some(Some((1000, String::new()))), "{seen:?}");
    assert_eq!(seen.error, None);
}

#[test]
fn once_prints_only_the_first_message_and_closes() {
    let server = Embedded::start(Script::Greet(vec!["first", "second", "third"]));
    let r = run(&[&server.url, "-1", "--no-stdin"], None);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "first\n"), "{r:?}");
    let seen = server.observed();
    assert_eq!(seen.close, Some(Some((1000, String::new()))), "{seen:?}");
}

#[test]
fn binary_from_stdin_arrives_as_binary() {
    let server = Embedded::start(Script::Echo);
    let r = run(&[&server.url, "--hex"], Some(b"cafe\n"));
    assert_eq!(r.stdout, "cafe\n", "{r:?}");
    assert_eq!(server.observed().messages, ["bin:cafe"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_cleanly() {
    let server = Embedded::start(Script::Echo);
    let mut client = Interactive::start(&[&server.url, "--no-stdin"]);
    server.connected.recv_timeout(WAIT).unwrap();
    thread::sleep(Duration::from_millis(200));
    let pid = client.guard.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let code = wait_exit(&mut client.guard.0, "client").code();
    assert_eq!(code, Some(0), "{:?}", client.err.lock().unwrap());
    assert_eq!(server.observed().close, Some(Some((1000, String::new()))));
}

#[test]
fn server_close_codes_decide_the_exit_code() {
    let server = Embedded::start(Script::CloseWith(1001, "restarting"));
    let r = run(&[&server.url, "--no-stdin"], None);
    assert_eq!(r.code, Some(0), "1001 is a normal end: {r:?}");

    let server = Embedded::start(Script::CloseWith(4000, "kicked"));
    let r = run(&[&server.url, "--no-stdin"], None);
    assert_eq!(r.code, Some(3), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("code 4000") && line.contains("kicked"),
        "{line}"
    );
}

#[test]
fn vanishing_server_is_an_abnormal_end() {
    let server = Embedded::start(Script::Vanish);
    let r = run(&[&server.url, "--no-stdin"], None);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.error_line().contains("1006"), "{r:?}");
}

#[test]
fn message_over_the_limit_names_the_option() {
    let server = Embedded::start(Script::SendBig(4096));
    let r = run(
        &[&server.url, "--no-stdin", "--max-message-size", "1K"],
        None,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("--max-message-size") && line.contains("1009"),
        "{line}"
    );
    let seen = server.observed();
    assert_eq!(
        seen.close,
        Some(Some((1009, "message too big".to_owned()))),
        "{seen:?}"
    );

    let server = Embedded::start(Script::SendBig(4096));
    let r = run(
        &[&server.url, "--no-stdin", "-1", "--max-message-size", "4K"],
        None,
    );
    assert_eq!((r.code, r.stdout.len()), (Some(0), 4097), "{:?}", r.stderr);
}

#[test]
fn unanswered_close_is_bounded_by_the_close_timeout() {
    let server = Embedded::start(Script::Deaf);
    let started = Instant::now();
    let r = run(
        &[&server.url, "--send", "x", "--close-timeout", "0.3"],
        None,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("--close-timeout") && line.contains("0.3 s"),
        "{line}"
    );
    // The end-of-input ping wait and the close wait are each bounded by 0.3 s.
    assert!(started.elapsed() < WAIT / 2, "{:?}", started.elapsed());
}

#[test]
fn handshake_timeout_is_reported() {
    let server = Embedded::start(Script::Silent);
    let r = run(&[&server.url, "--connect-timeout", "0.5"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("timed out") && line.contains("--connect-timeout"),
        "{line}"
    );
    assert!(line.contains(&server.addr.to_string()), "{line}");
}

#[test]
fn connection_refused_is_exit_1() {
    let port = free_port();
    let r = run(&[&format!("ws://127.0.0.1:{port}/"), "--send", "x"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.to_lowercase().contains("refused"), "{line}");
    assert!(!line.contains("reconnect"), "{line}");
}

#[test]
fn wss_trusts_ca_file_or_insecure() {
    let cert = TestCert::generate();
    let pem = cert.pem_path.to_str().unwrap().to_owned();

    // Not trusted: a TLS error naming the way out.
    let server = Embedded::start_with(Script::Echo, Some(cert.acceptor.clone()));
    let r = run(&[&server.wss_url(), "--send", "x"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("TLS handshake with 127.0.0.1:"), "{line}");
    assert!(line.contains("--ca-file"), "{line}");

    let server = Embedded::start_with(Script::Echo, Some(cert.acceptor.clone()));
    let r = run(
        &[
            &server.wss_url(),
            "--ca-file",
            &pem,
            "--send",
            "over tls",
            "-1",
        ],
        None,
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "over tls\n"),
        "{r:?}"
    );
    assert_eq!(server.observed().messages, ["over tls"]);

    let server = Embedded::start_with(Script::Echo, Some(cert.acceptor.clone()));
    let r = run(
        &[
            &server.wss_url(),
            "--insecure",
            "--send",
            "unverified",
            "-1",
        ],
        None,
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "unverified\n"),
        "{r:?}"
    );
    assert!(r.stderr.contains("warning: --insecure"), "{r:?}");
}

#[test]
fn proxy_option_tunnels_through_the_proxy() {
    let server = Embedded::start(Script::Echo);
    let (proxy, log) = connect_proxy(false);
    let r = run(
        &[
            &server.url,
            "--proxy",
            &format!("http://user:pw@{proxy}"),
            "--send",
            "via proxy",
            "-1",
            "-v",
        ],
        None,
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "via proxy\n"),
        "{r:?}"
    );
    assert_eq!(server.observed().messages, ["via proxy"]);
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, server.addr.to_string());
    // user:pw, Basic.
    assert_eq!(seen[0].1.as_deref(), Some("Basic dXNlcjpwdw=="));
    // -v names the proxy without its password, and shows the real request.
    assert!(
        r.stderr
            .contains(&format!("through the HTTP proxy http://user:***@{proxy}")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("pw@"), "{}", r.stderr);
}

#[test]
fn refused_proxy_is_one_line_and_exit_1() {
    let server = Embedded::start(Script::Echo);
    let (proxy, log) = connect_proxy(true);
    let r = run(
        &[
            &server.url,
            "--proxy",
            &format!("http://{proxy}"),
            "--send",
            "x",
        ],
        None,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    let line = r.error_line();
    assert!(
        line.contains(&format!("proxy tunnel to {}", server.addr))
            && line.contains("407")
            && line.contains("put credentials in the proxy URL"),
        "{line}"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[test]
fn proxy_from_env_is_opt_in_and_honours_no_proxy() {
    let (proxy, log) = connect_proxy(false);
    let proxy_url = format!("http://{proxy}");
    // With the option: HTTP_PROXY carries ws://.
    let server = Embedded::start(Script::Echo);
    let r = run_env(
        &[&server.url, "--proxy-from-env", "--send", "env", "-1"],
        &[
            ("HTTP_PROXY", &proxy_url),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
        ],
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "env\n"), "{r:?}");
    assert_eq!(log.lock().unwrap().len(), 1);
    // Without it, the variable is ignored.
    let server = Embedded::start(Script::Echo);
    let r = run_env(
        &[&server.url, "--send", "direct", "-1"],
        &[("HTTP_PROXY", &proxy_url), ("ALL_PROXY", &proxy_url)],
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "direct\n"), "{r:?}");
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the proxy was used without the option"
    );
    // NO_PROXY bypasses it.
    let server = Embedded::start(Script::Echo);
    let r = run_env(
        &[&server.url, "--proxy-from-env", "--send", "bypass", "-1"],
        &[("HTTP_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")],
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "bypass\n"), "{r:?}");
    assert_eq!(log.lock().unwrap().len(), 1, "NO_PROXY was not honoured");
    // A malformed variable is a usage error naming it.
    let r = run_env(
        &["ws://127.0.0.1:9/", "--proxy-from-env"],
        &[
            ("HTTP_PROXY", "gopher://p:70"),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.error_line().contains("HTTP_PROXY"), "{r:?}");
}

#[test]
fn redirects_are_followed_or_refused_as_asked() {
    let server = Embedded::start(Script::Echo);
    let hop = redirector(server.url.clone());
    let start = format!("ws://{hop}/old");
    let r = run(&[&start, "--send", "moved", "-1", "-v"], None);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "moved\n"), "{r:?}");
    assert!(
        r.stderr.contains(&format!("redirected to {}", server.url)),
        "{}",
        r.stderr
    );
    for args in [&["--no-redirects"][..], &["--max-redirects", "0"][..]] {
        let mut all = vec![start.as_str(), "--send", "x"];
        all.extend_from_slice(args);
        let r = run(&all, None);
        assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
        let line = r.error_line();
        assert!(
            line.contains("301") && line.contains(&server.url),
            "{args:?}: {line}"
        );
    }
    // Two hops with a limit of one: the chain and the option to raise.
    let second = redirector(start.clone());
    let r = run(
        &[
            &format!("ws://{second}/"),
            "--max-redirects",
            "1",
            "--send",
            "x",
        ],
        None,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("gave up after 1 redirect(s)") && line.contains("--max-redirects N"),
        "{line}"
    );
}

#[test]
fn bad_proxy_url_is_a_usage_error() {
    let r = run(&["ws://127.0.0.1:9/", "--proxy", "ftp://p:21"], None);
    assert_eq!(r.code, Some(2), "{r:?}");
    let line = r.error_line();
    assert!(
        line.contains("--proxy") && line.contains("socks5"),
        "{line}"
    );
}

// ---- the command line itself -----------------------------------------------------------------

#[test]
fn usage_errors_exit_2_with_one_line() {
    for (args, needle) in [
        (&[][..], "required arguments were not provided: <URL>"),
        (&["ws://h/", "--bogus"][..], "unexpected argument '--bogus'"),
        (
            &["ws://h/", "--max-message-size", "12Q"][..],
            "--max-message-size",
        ),
        (&["ws://h/", "-H", "no colon"][..], "Name: value"),
        // The library's advice, in options.
        (
            &["ws://h/", "-H", "Sec-WebSocket-Protocol: chat"][..],
            "use --subprotocol",
        ),
        (&["ws://h/", "--hex", "--send", "xyz"][..], "--send #1"),
        (&["ftp://h/"][..], "ftp"),
        (
            &["ws://h/", "--ca-file", "/nonexistent/ca.pem"][..],
            "cannot read --ca-file",
        ),
        (&["serve", "nowhere"][..], "host:port"),
    ] {
        let r = run(args, None);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("aiows: "), "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {r:?}");
    }
}

#[test]
fn serve_http2_carries_http2_and_http1_clients_on_one_port() {
    let server = Served::start(&["--http2"]);
    let url = format!("{}chat", server.url);
    let h2 = run(
        &[
            "-v",
            "--http2",
            "require",
            &url,
            "--send",
            "over h2",
            "-1",
            "--no-stdin",
        ],
        None,
    );
    assert_eq!(h2.code, Some(0), "{h2:?}");
    assert_eq!(h2.stdout_lines(), ["over h2"]);
    assert!(h2.stderr.contains("< HTTP/2 200"), "{}", h2.stderr);
    assert!(
        h2.stderr.contains("> :protocol: websocket"),
        "{}",
        h2.stderr
    );
    server.wait_for(&["#1", "speaks HTTP/2 (h2c)"]);
    server.wait_for(&["#1", "stream 1 connected: CONNECT /chat over HTTP/2"]);
    server.wait_for(&["#1", "stream 1 closed by the client with code 1000"]);
    // The same port, HTTP/1.1.
    let h1 = run(&["-v", &url, "--send", "over h1", "-1", "--no-stdin"], None);
    assert_eq!(h1.code, Some(0), "{h1:?}");
    assert_eq!(h1.stdout_lines(), ["over h1"]);
    assert!(h1.stderr.contains("< HTTP/1.1 101"), "{}", h1.stderr);
    server.wait_for(&["#2", "connected: GET /chat"]);
}

#[test]
fn http2_require_against_an_http1_server_fails_clearly() {
    let server = Served::start(&[]);
    let r = run(
        &[
            "--http2",
            "require",
            &server.url,
            "--send",
            "x",
            "--no-stdin",
        ],
        None,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("HTTP/2"), "{line}");
    assert!(line.contains("try --http2 prefer or --http2 off"), "{line}");
    // Prefer on ws:// stays HTTP/1.1 and works.
    let ok = run(
        &[
            "--http2",
            "prefer",
            &server.url,
            "--send",
            "y",
            "-1",
            "--no-stdin",
        ],
        None,
    );
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert_eq!(ok.stdout_lines(), ["y"]);
}

#[test]
fn http2_takes_only_its_three_values() {
    let r = run(&["--http2", "maybe", "ws://127.0.0.1:9/"], None);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--http2"), "{}", r.stderr);
}

#[test]
fn help_and_version() {
    let r = run(&["--help"], None);
    assert_eq!(r.code, Some(0));
    for needle in [
        "EXIT CODES",
        "UTC",
        "--send",
        "aiows serve",
        "EXAMPLES",
        "--insecure",
        "--proxy <URL>",
        "--proxy-from-env",
        "NO_PROXY",
        "--no-redirects",
        "--max-redirects <N>",
        "--raw",
        "--escape",
        "--http2 <off|prefer|require>",
    ] {
        assert!(r.stdout.contains(needle), "--help lacks {needle}");
    }
    let r = run(&["serve", "-h"], None);
    for needle in [
        "--broadcast",
        "--max-connections <N>",
        "--allow-origin <ORIGIN>",
        "--send-timeout <S>",
        "--max-queue-size <N>",
        "1008 (policy violation)",
        "Default 1M",
        "--http2",
        "h2c",
    ] {
        assert!(r.stdout.contains(needle), "serve --help lacks {needle}");
    }
    let r = run(&["--version"], None);
    assert_eq!(r.stdout, format!("aiows {}\n", env!("CARGO_PKG_VERSION")));
}

// ---- aiows serve under abuse: slow readers, too many clients, foreign origins, big messages --

/// A raw TCP connection to `aiows serve` at `url` (`ws://127.0.0.1:PORT/`), with a small
/// receive buffer when `recv_buffer` is set (so a client that does not read stops the
/// server's sends soon), its upgrade request sent with `origin`; returns the stream and
/// the status line of the answer. It never offers compression.
fn raw_client(
    url: &str,
    recv_buffer: Option<u32>,
    origin: Option<&str>,
) -> (std::net::TcpStream, String) {
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut tcp = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = tokio::time::timeout(WAIT, socket.connect(addr))
            .await
            .unwrap()
            .unwrap();
        tcp.into_std().unwrap()
    });
    tcp.set_nonblocking(false).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {origin}\r\n"
    );
    tcp.write_all(request.as_bytes()).unwrap();
    let head = read_head(&mut tcp);
    let status = head.lines().next().unwrap_or("").to_owned();
    (tcp, status)
}

/// A masked (with key 0) binary frame, as a client sends it.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x82];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// Reads (and discards) until the server closes the connection; panics if it stays open
/// longer than `WAIT`.
fn assert_closed_by_server(tcp: &mut std::net::TcpStream) {
    tcp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // Reset: closed with our unread data in its buffer.
            Err(_) => return,
        }
        assert!(
            Instant::now() < deadline,
            "the server kept the connection open"
        );
    }
}

/// The peak resident memory of process `pid`, in bytes (Linux).
#[cfg(target_os = "linux")]
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap()
        .to_owned();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn serve_drops_a_broadcast_client_that_does_not_read() {
    const MESSAGE: usize = 64 << 10;
    const COUNT: usize = 768; // 48 MiB in all
    let server = Served::start(&[
        "--broadcast",
        "--max-queue-size",
        "4M",
        "--send-timeout",
        "60",
    ]);
    let (mut slow, status) = raw_client(&server.url, Some(4096), None);
    assert!(status.contains("101"), "{status}");
    server.wait_for(&["#1", "connected"]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = server.url.clone();
    let received = rt.block_on(async move {
        let connect = || {
            aiowebsocket::builder(url.clone())
                .no_compression()
                .connect()
        };
        let mut listener = connect().await.unwrap();
        let mut talker = connect().await.unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        let listening = tokio::spawn(async move {
            while let Some(Ok(msg)) = listener.recv().await {
                if msg.is_binary() {
                    assert_eq!(msg.len(), MESSAGE);
                    let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    if n == COUNT {
                        break;
                    }
                }
            }
        });
        let talking = async {
            let payload = vec![7u8; MESSAGE];
            for i in 0..COUNT {
                talker.send(Message::binary(payload.clone())).await.unwrap();
                // The listener keeps up (at most 8 messages behind): only the raw client
                // is slow.
                while count.load(std::sync::atomic::Ordering::SeqCst) + 8 < i {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let all = async {
            talking.await;
            listening.await.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("the broadcast did not reach the listener in time");
        count.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert_eq!(received, COUNT, "the client that reads gets every message");
    let line = server.wait_for(&["#1", "disconnected: too slow"]);
    assert!(
        line.contains("4 MiB") && line.contains("1008") && line.contains("--max-queue-size"),
        "{line}"
    );
    assert_closed_by_server(&mut slow);
    // Without the byte bound the server would hold most of the 48 MiB for the slow client.
    #[cfg(target_os = "linux")]
    {
        let peak = peak_memory(server.guard.0.id());
        assert!(peak < 24 << 20, "aiows serve peaked at {peak} bytes");
    }
}

#[test]
fn serve_echo_disconnects_a_client_that_stops_reading() {
    let server = Served::start(&["--send-timeout", "1"]);
    let (mut tcp, status) = raw_client(&server.url, Some(4096), None);
    assert!(status.contains("101"), "{status}");
    tcp.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let frame = client_frame(&[1u8; 64 << 10]);
    // Send until our writes stop going through (the server stopped reading, or dropped us).
    let mut sent = 0;
    while tcp.write_all(&frame).is_ok() {
        sent += 1;
        assert!(
            sent < 4000,
            "the server kept reading 250 MiB it could not echo"
        );
    }
    let line = server.wait_for(&["#1", "disconnected: it stopped reading"]);
    assert!(
        line.contains("1 s") && line.contains("--send-timeout"),
        "{line}"
    );
    assert_closed_by_server(&mut tcp);
}

#[test]
fn serve_caps_connections() {
    let server = Served::start(&["--max-connections", "1"]);
    let first = Interactive::start(&[&server.url, "--no-stdin"]);
    server.wait_for(&["#1", "connected"]);
    let r = run(&[&server.url, "--send", "hi"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("503"), "{line}");
    server.wait_for(&[
        "#2",
        "refused",
        "1 connection(s) are open",
        "--max-connections",
    ]);
    // The place is free again once the first client left.
    drop(first);
    server.wait_for(&["#1", "message(s) received"]);
    let r = run(&[&server.url, "--send", "hi", "-1"], None);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "hi\n"), "{r:?}");
}

#[test]
fn serve_refuses_foreign_browser_origins() {
    let server = Served::start(&[]);
    let r = run(
        &[
            &server.url,
            "--origin",
            "http://evil.example",
            "--send",
            "hi",
        ],
        None,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("403"), "{line}");
    assert!(
        line.contains("--allow-origin http://evil.example"),
        "{line}"
    );
    server.wait_for(&["#1", "refused with HTTP 403", "evil.example"]);
    // Loopback pages and programs that send no Origin are welcome.
    for origin in [
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "http://[::1]",
    ] {
        let r = run(
            &[&server.url, "--origin", origin, "--send", "hi", "-1"],
            None,
        );
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (Some(0), "hi\n"),
            "{origin}: {r:?}"
        );
    }
    let (_tcp, status) = raw_client(&server.url, None, None);
    assert!(status.contains("101"), "{status}");
    let (_tcp, status) = raw_client(&server.url, None, Some("https://evil.example"));
    assert!(status.contains("403"), "{status}");

    let server = Served::start(&["--allow-origin", "http://evil.example"]);
    let r = run(
        &[
            &server.url,
            "--origin",
            "http://evil.example",
            "--send",
            "hi",
            "-1",
        ],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "hi\n"), "{r:?}");
    let (_tcp, status) = raw_client(&server.url, None, Some("http://other.example"));
    assert!(status.contains("403"), "{status}");

    let server = Served::start(&["--allow-origin", "*"]);
    let (_tcp, status) = raw_client(&server.url, None, Some("http://other.example"));
    assert!(status.contains("101"), "{status}");
}

#[test]
fn serve_limits_messages_to_1_mib_by_default() {
    let server = Served::start(&[]);
    let mut line = vec![b'x'; 1 << 20];
    line.push(b'\n');
    let r = run(&[&server.url], Some(&line));
    assert_eq!(
        (r.code, r.stdout.len()),
        (Some(0), (1 << 20) + 1),
        "{:?}",
        r.stderr
    );
    let mut line = vec![b'x'; (1 << 20) + 1];
    line.push(b'\n');
    let r = run(&[&server.url], Some(&line));
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.error_line().contains("1009"), "{r:?}");
    server.wait_for(&["#2", "--max-message-size"]);

    let server = Served::start(&["--max-message-size", "2M"]);
    let r = run(&[&server.url], Some(&line));
    assert_eq!(
        (r.code, r.stdout.len()),
        (Some(0), (1 << 20) + 2),
        "{:?}",
        r.stderr
    );
}

// ---- terminal safety -------------------------------------------------------------------------

#[test]
fn control_characters_from_the_server_are_escaped_on_request() {
    let greet = vec!["red \x1b[31m alert\x1b[2J", "csi \u{9b}2J\r\x07 end\tok"];
    let server = Embedded::start(Script::Greet(greet.clone()));
    let r = run(&[&server.url, "--escape"], None);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.stdout,
        "red \\x1b[31m alert\\x1b[2J\ncsi \\u{9b}2J\\x0d\\x07 end\tok\n"
    );
    // Piped without the option: printed as is, for programs.
    let server = Embedded::start(Script::Greet(greet));
    let r = run(&[&server.url], None);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.stdout,
        "red \x1b[31m alert\x1b[2J\ncsi \u{9b}2J\r\x07 end\tok\n"
    );
    // --raw wins on a terminal; here it just matches the piped output.
    let server = Embedded::start(Script::Greet(vec!["\x1b]0;title\x07"]));
    let r = run(&[&server.url, "--raw"], None);
    assert_eq!(r.stdout, "\x1b]0;title\x07\n", "{r:?}");

    // The server's words on stderr: a close reason and a refusal.
    let server = Embedded::start(Script::CloseWith(4000, "bye \x1b[2J\u{9b}"));
    let r = run(&[&server.url, "--no-stdin", "--escape"], None);
    assert_eq!(r.code, Some(3), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("4000") && line.contains("bye"), "{line}");
    assert!(
        !line.contains('\x1b') && !line.contains('\u{9b}'),
        "{line:?}"
    );
    let server = Embedded::start(Script::Refuse(403, "no \x1b]0;pwned\x07 way"));
    let r = run(&[&server.url, "--escape"], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    let line = r.error_line();
    assert!(line.contains("403") && line.contains("pwned"), "{line}");
    assert!(!line.contains('\x1b') && !line.contains('\x07'), "{line:?}");
}
