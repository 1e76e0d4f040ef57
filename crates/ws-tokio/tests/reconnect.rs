//! The reconnecting client on loopback: a server that drops it every few messages, the
//! hook after every reconnect, nothing lost to the hook, bounded backoff, stop on 403 and
//! on close, cancel safety.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;
#[cfg(feature = "native-tls")]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{flaky_server, FlakyConfig};
use ws_client::options::ConnectOptions;
use ws_client::reconnect::{Disconnect, Event, ReconnectPolicy, Reconnecting};
use ws_client::{CloseCode, Error, Message};
use ws_tokio::TokioRuntime;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

/// A reconnecting client can move to another task (`tokio::spawn`).
#[allow(dead_code)]
fn reconnecting_is_send() {
    fn is_send<T: Send>() {}
    is_send::<ws_client::ReconnectingWebSocket<TokioRuntime>>();
}

/// Short waits; every connection counts as stable, so each disconnect starts the backoff
/// from its first wait (the tests below that use it are about other things).
fn fast() -> ReconnectPolicy {
    ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(40))
        .stable_after(Duration::ZERO)
}

fn options(addr: std::net::SocketAddr) -> ConnectOptions {
    ConnectOptions::new(format!("ws://{addr}/")).no_keepalive()
}

/// A builder whose hook counts its runs and sends `subscribe`.
fn subscribing(addr: std::net::SocketAddr, runs: &Arc<AtomicUsize>) -> Reconnecting<TokioRuntime> {
    let runs = Arc::clone(runs);
    Reconnecting::new(TokioRuntime::new(), options(addr))
        .policy(fast())
        .on_connect(move |ws| {
            let runs = Arc::clone(&runs);
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                ws.send(Message::text("subscribe")).await
            })
        })
}

#[tokio::test]
async fn the_hook_runs_after_every_reconnect_and_no_message_is_lost_to_it() {
    bounded(async {
        const DROP_EVERY: usize = 3;
        const CONNECTIONS: usize = 5;
        let (addr, log) = flaky_server(FlakyConfig {
            drop_every: DROP_EVERY,
            ..Default::default()
        })
        .await;
        let runs = Arc::new(AtomicUsize::new(0));
        let mut ws = subscribing(addr, &runs).connect().await.unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the hook runs on the first connection"
        );

        let mut connection = 1;
        let mut echoes = 0;
        let mut sent = 0;
        let mut reasons = Vec::new();
        while let Some(event) = ws.recv().await {
            match event.unwrap() {
                Event::Message(msg) => {
                    let text = msg.as_text().unwrap().to_owned();
                    if let Some(k) = text.strip_prefix("welcome ") {
                        // The welcome, sent by the server at once, reaches the user after
                        // the hook ran on that connection: queued, not dropped.
                        assert_eq!(k, connection.to_string());
                        assert_eq!(runs.load(Ordering::SeqCst), connection);
                        echoes = 0;
                    } else {
                        assert_eq!(text, format!("msg {}", sent - 1));
                        echoes += 1;
                    }
                    if echoes < DROP_EVERY {
                        ws.send(Message::text(format!("msg {sent}"))).await.unwrap();
                        sent += 1;
                    }
                }
                Event::Disconnected {
                    reason,
                    retry_in,
                    attempt,
                } => {
                    assert_eq!(attempt, 1);
                    assert!(retry_in <= Duration::from_millis(10), "{retry_in:?}");
                    assert!(!ws.is_connected());
                    assert!(matches!(
                        ws.send(Message::text("lost")).await,
                        Err(Error::ConnectionClosed)
                    ));
                    reasons.push(reason);
                }
                Event::Reconnected { attempts } => {
                    assert_eq!(attempts, 1);
                    connection += 1;
                    assert_eq!(runs.load(Ordering::SeqCst), connection);
                    assert!(ws.is_connected());
                    if connection == CONNECTIONS {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ws.connections(), CONNECTIONS as u64);
        // The new connection's welcome is still waiting for us.
        match ws.recv().await {
            Some(Ok(Event::Message(m))) => assert_eq!(m, Message::text("welcome 5")),
            other => panic!("{other:?}"),
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(ws.recv().await.is_none());

        // Odd connections were dropped (a failure), even ones closed with 1001.
        assert_eq!(reasons.len(), CONNECTIONS - 1);
        for (i, reason) in reasons.iter().enumerate() {
            if i % 2 == 0 {
                assert!(matches!(reason, Disconnect::Failed(_)), "{i}: {reason:?}");
            } else {
                match reason {
                    Disconnect::Closed(Some(frame)) => {
                        assert_eq!(frame.code, CloseCode::GOING_AWAY);
                        assert_eq!(frame.reason, "restart");
                    }
                    other => panic!("{i}: {other:?}"),
                }
            }
        }
        // On every connection the hook's message came first.
        let log = log.lock().unwrap();
        assert_eq!(log.connections.len(), CONNECTIONS);
        for (k, messages) in log.connections.iter().take(CONNECTIONS - 1).enumerate() {
            assert_eq!(messages[0], "subscribe", "connection {}", k + 1);
            assert_eq!(messages.len(), 1 + DROP_EVERY, "{messages:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn backoff_is_bounded_and_attempts_are_limited() {
    bounded(async {
        // One connection, closed at once; then nothing listens any more.
        let (addr, _log) = flaky_server(FlakyConfig {
            max_connections: Some(1),
            ..Default::default()
        })
        .await;
        let policy = ReconnectPolicy::new()
            .initial_delay(Duration::from_millis(20))
            .factor(2.0)
            .max_delay(Duration::from_millis(50))
            .max_attempts(Some(5))
            .stable_after(Duration::ZERO);
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(policy)
            .connect()
            .await
            .unwrap();
        let started = Instant::now();
        let mut waits = Vec::new();
        let final_error = loop {
            match ws.recv().await.expect("an error before the end") {
                Ok(Event::Message(m)) => assert_eq!(m, Message::text("welcome 1")),
                Ok(Event::Disconnected {
                    reason,
                    retry_in,
                    attempt,
                }) => {
                    assert_eq!(attempt as usize, waits.len() + 1);
                    assert!(retry_in <= policy.ceiling(attempt - 1), "{retry_in:?}");
                    assert!(retry_in <= Duration::from_millis(50));
                    if attempt > 1 {
                        assert!(
                            matches!(reason, Disconnect::ConnectFailed(ref e) if e.is_io()),
                            "{reason:?}"
                        );
                    }
                    waits.push(retry_in);
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        };
        // The disconnect, then four failed attempts announced; the fifth failure ends it.
        assert_eq!(waits.len(), 5);
        assert!(final_error.is_io(), "{final_error:?}");
        assert!(
            final_error
                .to_string()
                .starts_with("TCP connect to 127.0.0.1"),
            "{final_error}"
        );
        assert!(ws.recv().await.is_none());
        // The ceilings were 20, 40, 50, 50, 50 ms: well under a second in all.
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(policy.ceiling(1), Duration::from_millis(40));
        assert_eq!(policy.ceiling(4), Duration::from_millis(50));
    })
    .await;
}

#[tokio::test]
async fn a_403_on_reconnect_stops_it() {
    bounded(async {
        let (addr, log) = flaky_server(FlakyConfig {
            drop_every: 1,
            refuse_from: Some(2),
            ..Default::default()
        })
        .await;
        let runs = Arc::new(AtomicUsize::new(0));
        let mut ws = subscribing(addr, &runs).connect().await.unwrap();
        let mut events = Vec::new();
        let err = loop {
            match ws.recv().await.expect("an error before the end") {
                Ok(Event::Message(m)) if m == Message::text("welcome 1") => {
                    ws.send(Message::text("only one")).await.unwrap();
                }
                Ok(event) => events.push(event),
                Err(e) => break e,
            }
        };
        assert_eq!(err.http_status(), Some(403), "{err:?}");
        assert!(err.to_string().contains("go away"), "{err}");
        assert!(ws_client::reconnect::is_permanent(&err));
        // The echo, the drop, then the refusal: no retry after a 403.
        assert!(matches!(&events[0], Event::Message(m) if *m == Message::text("only one")));
        assert!(matches!(
            &events[1],
            Event::Disconnected {
                reason: Disconnect::Failed(_),
                ..
            }
        ));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(ws.recv().await.is_none());
        assert_eq!(log.lock().unwrap().handshakes, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // The first connection is not retried either: a refusal shows at once.
        let err = subscribing(addr, &runs).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(403));
        assert_eq!(log.lock().unwrap().handshakes, 3);
    })
    .await;
}

#[tokio::test]
async fn close_ends_the_logical_connection() {
    bounded(async {
        let (addr, log) = flaky_server(FlakyConfig {
            drop_every: 100,
            ..Default::default()
        })
        .await;
        let runs = Arc::new(AtomicUsize::new(0));
        let mut ws = subscribing(addr, &runs).connect().await.unwrap();
        match ws.recv().await {
            Some(Ok(Event::Message(m))) => assert_eq!(m, Message::text("welcome 1")),
            other => panic!("{other:?}"),
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(!ws.is_connected());
        assert!(ws.recv().await.is_none());
        assert!(matches!(
            ws.send(Message::text("x")).await,
            Err(Error::ConnectionClosed)
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(log.lock().unwrap().handshakes, 1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn recv_is_cancel_safe_during_backoff_and_the_hook() {
    bounded(async {
        let (addr, _log) = flaky_server(FlakyConfig::default()).await; // drops after the welcome
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(
                ReconnectPolicy::new()
                    .initial_delay(Duration::from_millis(30))
                    .max_delay(Duration::from_millis(30)),
            )
            .on_connect(move |ws| {
                let runs = Arc::clone(&counter);
                Box::pin(async move {
                    // Slow enough to be cancelled several times in the middle.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    runs.fetch_add(1, Ordering::SeqCst);
                    ws.send(Message::text("subscribe")).await
                })
            })
            .connect()
            .await
            .unwrap();
        let mut welcomes = Vec::new();
        let mut reconnects = 0;
        let mut cancelled = 0;
        while reconnects < 3 {
            tokio::select! {
                event = ws.recv() => match event.unwrap().unwrap() {
                    Event::Message(m) => welcomes.push(m.as_text().unwrap().to_owned()),
                    Event::Reconnected { .. } => reconnects += 1,
                    Event::Disconnected { .. } => {}
                    other => panic!("{other:?}"),
                },
                _ = tokio::time::sleep(Duration::from_millis(2)) => cancelled += 1,
            }
        }
        assert!(cancelled > 5, "{cancelled}");
        // Cancelling never restarted a hook or lost a welcome.
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        while welcomes.len() < 4 {
            if let Some(Ok(Event::Message(m))) = ws.recv().await {
                welcomes.push(m.as_text().unwrap().to_owned());
            }
        }
        assert_eq!(
            welcomes,
            ["welcome 1", "welcome 2", "welcome 3", "welcome 4"]
        );
    })
    .await;
}

#[tokio::test]
async fn a_send_that_fails_is_the_reported_disconnect_reason() {
    bounded(async {
        // Connection 1 is dropped right after its welcome, without a close frame.
        let (addr, _log) = flaky_server(FlakyConfig::default()).await;
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(fast())
            .connect()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Writing into the dead connection fails sooner or later (EPIPE / reset).
        let mut failed = None;
        for _ in 0..50 {
            if let Err(e) = ws.send(Message::binary(vec![0u8; 64 << 10])).await {
                failed = Some(e);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let failed = failed.expect("a send into a dropped connection fails");
        assert!(!failed.is_closed(), "{failed:?}");
        loop {
            match ws.recv().await.unwrap().unwrap() {
                Event::Message(m) => assert_eq!(m, Message::text("welcome 1")),
                Event::Disconnected { reason, .. } => {
                    // Not "closed by the server": the failure is the reason.
                    assert!(matches!(reason, Disconnect::Failed(_)), "{reason:?}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
}

#[cfg(feature = "native-tls")]
#[tokio::test]
async fn tls_failures_are_classified_from_the_real_tls_error() {
    use ws_client::options::ServerOptions;
    use ws_client::reconnect::is_permanent;

    bounded(async {
        // An untrusted certificate: permanent, so reconnection gives up at once.
        let cert = support::TestCert::generate();
        let secure = support::echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        let url = format!("wss://localhost:{}/", secure.port());
        let err = Reconnecting::new(TokioRuntime::new(), ConnectOptions::new(&url))
            .connect()
            .await
            .unwrap_err();
        assert!(err.is_io() && err.is_tls(), "{err:?}");
        assert!(err.is_tls_certificate(), "{err:?}");
        assert!(is_permanent(&err));
        assert!(
            err.to_string()
                .contains("TLS handshake with localhost failed"),
            "{err}"
        );

        // A server that does not speak TLS (it answers the ClientHello in plain HTTP): a
        // TLS error, but not about a certificate.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let err = TokioRuntime::new()
            .connect(ConnectOptions::new(format!(
                "wss://localhost:{}/",
                plain.port()
            )))
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert!(!err.is_tls_certificate(), "{err:?}");
        assert!(!is_permanent(&err));

        // Trusted: no error at all.
        let (ws, _) = TokioRuntime::with_tls_connector(cert.connector())
            .connect(ConnectOptions::new(&url))
            .await
            .unwrap();
        drop(ws);
    })
    .await;
}

/// A server that accepts every WebSocket and closes it at once with `code`; counts the
/// connections it accepted.
async fn closing_server(code: CloseCode) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        let options = ws_client::ServerOptions::new().no_keepalive();
        while let Ok((tcp, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let options = options.clone();
            tokio::spawn(async move {
                if let Ok(mut ws) = ws_tokio::accept(tcp, &options).await {
                    let _ = ws.close(code, "not today").await;
                    while let Some(Ok(_)) = ws.recv().await {}
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_server_that_closes_at_once_is_retried_ever_more_slowly() {
    bounded(async {
        let (addr, accepted) = closing_server(CloseCode::GOING_AWAY).await;
        // Waits of 50-100, 100-200, 200-400, 400-800, then 800-1600 ms: the backoff grows
        // although every connection opens, because none stays up for `stable_after`.
        let policy = ReconnectPolicy::new()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1600));
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(policy)
            .connect()
            .await
            .unwrap();
        let window = Duration::from_secs(3);
        let start = Instant::now();
        let mut waits = Vec::new();
        while start.elapsed() < window {
            match tokio::time::timeout(window - start.elapsed(), ws.recv()).await {
                Err(_) => break,
                Ok(Some(Ok(Event::Disconnected { retry_in, .. }))) => waits.push(retry_in),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("unexpected end: {other:?}"),
            }
        }
        // Level n waits at least half its ceiling: 1 (the first close counts), 2, ...
        for (n, wait) in waits.iter().enumerate() {
            let floor = policy.ceiling(n as u32 + 1) / 2;
            assert!(*wait >= floor, "wait {n}: {wait:?} < {floor:?} ({waits:?})");
        }
        // Lower bounds 100 + 200 + 400 + 800 = 1.5 s, then 800 ms each: at most 6
        // connections in 3 s. Before, every close restarted the backoff (0-100 ms waits):
        // dozens.
        let n = accepted.load(Ordering::SeqCst);
        assert!(
            (2..=6).contains(&n),
            "{n} connections in {window:?}: {waits:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_connection_that_stayed_up_resets_the_backoff() {
    bounded(async {
        let (addr, log) = flaky_server(FlakyConfig {
            drop_every: 1,
            ..Default::default()
        })
        .await;
        let policy = ReconnectPolicy::new()
            .initial_delay(Duration::from_millis(200))
            .max_delay(Duration::from_secs(5))
            .stable_after(Duration::from_millis(300));
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(policy)
            .connect()
            .await
            .unwrap();
        let mut waits = Vec::new();
        while waits.len() < 3 {
            match ws.recv().await.expect("events").unwrap() {
                Event::Message(m) if m.as_text().is_some_and(|t| t.starts_with("welcome")) => {
                    // Stay up past `stable_after`, then let the server drop us.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    ws.send(Message::text("bye")).await.unwrap();
                }
                Event::Disconnected { retry_in, .. } => waits.push(retry_in),
                _ => {}
            }
        }
        // Every connection was stable: each wait is drawn at level 0 (100-200 ms).
        for wait in &waits {
            assert!(
                *wait >= Duration::from_millis(100) && *wait <= Duration::from_millis(200),
                "{waits:?}"
            );
        }
        assert!(log.lock().unwrap().handshakes >= 3);
    })
    .await;
}

#[tokio::test]
async fn a_policy_close_ends_the_reconnecting_client_with_its_code_and_reason() {
    bounded(async {
        let (addr, accepted) = closing_server(CloseCode::POLICY_VIOLATION).await;
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(fast())
            .connect()
            .await
            .unwrap();
        let err = match ws.recv().await {
            Some(Err(e)) => e,
            other => panic!("expected the give-up error, got {other:?}"),
        };
        assert!(matches!(&err, Error::ClosedByPeer(f) if f.reason.as_str() == "not today"));
        assert_eq!(err.close_code(), Some(CloseCode::POLICY_VIOLATION));
        let text = err.to_string();
        assert!(
            text.contains("1008") && text.contains("not today"),
            "{text}"
        );
        assert!(ws.recv().await.is_none());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "no reconnection after 1008"
        );
    })
    .await;
}

#[tokio::test]
async fn close_codes_the_user_lists_end_it_too() {
    bounded(async {
        let (addr, accepted) = closing_server(CloseCode::new(4001)).await;
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(fast())
            .give_up_on_close([CloseCode::new(4001)])
            .connect()
            .await
            .unwrap();
        let err = ws.recv().await.expect("an event").unwrap_err();
        assert_eq!(err.close_code(), Some(CloseCode::new(4001)));
        assert!(ws.recv().await.is_none());
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // Without the listing, 4001 is retried.
        let mut ws = Reconnecting::new(TokioRuntime::new(), options(addr))
            .policy(fast())
            .connect()
            .await
            .unwrap();
        let event = ws.recv().await.expect("an event").unwrap();
        assert!(matches!(event, Event::Disconnected { reason: Disconnect::Closed(Some(ref f)), .. } if f.code.as_u16() == 4001), "{event:?}");
    })
    .await;
}
