//! The reconnecting client on loopback: a server that drops it every few messages, the hook
//! after every reconnect, nothing lost to the hook, bounded backoff, stop on 403 and on
//! close, cancel safety. (How TLS failures are classified is in `tls`.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiowebsocket::tokio::TokioIo;
use aiowebsocket::ws_client::reconnect::is_permanent;
use aiowebsocket::{
    builder, ClientBuilder, CloseCode, Disconnect, Event, Message, ReconnectPolicy, Reconnecting,
    ReconnectingStream, ServerOptions,
};

use crate::runtimes::TestRuntime;
use crate::servers::{listen, listen_up_to};

/// What the flaky server saw: the messages of each accepted connection, in order, and how
/// many handshakes it answered (refused ones included).
#[derive(Clone, Debug, Default)]
struct FlakyLog {
    handshakes: usize,
    connections: Vec<Vec<String>>,
}

/// How the flaky server behaves.
#[derive(Clone, Debug, Default)]
struct FlakyConfig {
    /// Ends each connection after echoing this many messages (0: right after the welcome).
    /// Odd connections (1st, 3rd, ...) are dropped without a close frame, even ones closed
    /// with 1001 "restart".
    drop_every: usize,
    /// From this handshake on (1-based), answers 403.
    refuse_from: Option<usize>,
    /// Stops listening after this many connections (later connects are refused).
    max_connections: Option<usize>,
}

/// A WebSocket server (our server role) that greets every connection with `welcome N` at
/// once, records `subscribe` messages, echoes the others, and ends the connection after
/// `drop_every` echoes.
fn flaky_server(config: FlakyConfig) -> (SocketAddr, Arc<Mutex<FlakyLog>>) {
    let log = Arc::new(Mutex::new(FlakyLog::default()));
    let shared = Arc::clone(&log);
    let addr = listen_up_to(config.max_connections, move |tcp| {
        let (config, log) = (config.clone(), Arc::clone(&shared));
        async move {
            let check_log = Arc::clone(&log);
            let options = ServerOptions::new().no_keepalive().check(move |_| {
                let mut log = check_log.lock().unwrap();
                log.handshakes += 1;
                match config.refuse_from {
                    Some(from) if log.handshakes >= from => Err((403, "go away".into())),
                    _ => Ok(()),
                }
            });
            let Ok(mut ws) = aiowebsocket::smol::accept(TokioIo::new(tcp), &options).await else {
                return;
            };
            let k = {
                let mut log = log.lock().unwrap();
                log.connections.push(Vec::new());
                log.connections.len()
            };
            if ws
                .send(Message::text(format!("welcome {k}")))
                .await
                .is_err()
            {
                return;
            }
            let mut echoed = 0;
            while echoed < config.drop_every {
                let Some(Ok(msg)) = ws.recv().await else {
                    return;
                };
                let Some(text) = msg.as_text() else { continue };
                log.lock().unwrap().connections[k - 1].push(text.to_owned());
                if text != "subscribe" {
                    if ws.send(msg).await.is_err() {
                        return;
                    }
                    echoed += 1;
                }
            }
            if k % 2 == 1 {
                drop(ws); // abrupt: no close frame
            } else {
                let _ = ws.close(CloseCode::GOING_AWAY, "restart").await;
            }
        }
    });
    (addr, log)
}

/// A server that accepts every WebSocket and closes it at once with `code`; counts the
/// connections it accepted.
fn closing_server(code: CloseCode) -> (SocketAddr, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let addr = listen(move |tcp| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let options = ServerOptions::new().no_keepalive();
            if let Ok(mut ws) = aiowebsocket::smol::accept(TokioIo::new(tcp), &options).await {
                let _ = ws.close(code, "not today").await;
                while let Some(Ok(_)) = ws.recv().await {}
            }
        }
    });
    (addr, count)
}

/// A reconnecting client can move to another task (checked when compiling).
fn reconnecting_is_send<R: TestRuntime>() {
    fn is_send<T: Send>() {}
    is_send::<ReconnectingStream<R::Rt>>();
}

/// Short waits; every connection counts as stable, so each disconnect starts the backoff
/// from its first wait (the tests that use it are about other things).
fn fast() -> ReconnectPolicy {
    ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(40))
        .stable_after(Duration::ZERO)
}

fn plain(addr: SocketAddr) -> ClientBuilder {
    builder(format!("ws://{addr}/")).no_keepalive()
}

/// A reconnecting client whose hook counts its runs and sends `subscribe`.
fn subscribing<R: TestRuntime>(addr: SocketAddr, runs: &Arc<AtomicUsize>) -> Reconnecting<R::Rt> {
    let runs = Arc::clone(runs);
    R::reconnecting(plain(addr))
        .policy(fast())
        .on_connect(move |ws| {
            let runs = Arc::clone(&runs);
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                ws.send(Message::text("subscribe")).await
            })
        })
}

pub async fn the_hook_runs_after_every_reconnect_and_no_message_is_lost_to_it<R: TestRuntime>() {
    const DROP_EVERY: usize = 3;
    const CONNECTIONS: usize = 5;
    reconnecting_is_send::<R>();
    let (addr, log) = flaky_server(FlakyConfig {
        drop_every: DROP_EVERY,
        ..Default::default()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let mut ws = subscribing::<R>(addr, &runs).connect().await.unwrap();
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
                    // The welcome, sent by the server at once, reaches the user after the
                    // hook ran on that connection: queued, not dropped.
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
                    Err(e) if e.is_closed()
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
}

/// Each connection: a welcome, then, once the hook's message arrived, a drop without a
/// close frame. The events come in order, each hook run before its connection's messages.
pub async fn events_come_in_order_across_drops<R: TestRuntime>() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let addr = listen(move |tcp| {
        let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            let options = ServerOptions::new().no_keepalive();
            if let Ok(mut ws) = aiowebsocket::smol::accept(TokioIo::new(tcp), &options).await {
                let _ = ws.send(Message::text(format!("welcome {k}"))).await;
                let _ = ws.recv().await;
            }
        }
    });
    let hooks = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hooks);
    let mut ws = R::reconnecting(plain(addr))
        .policy(ReconnectPolicy::new().initial_delay(Duration::from_millis(10)))
        .on_connect(move |ws| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(ws.send(Message::text("subscribe")))
        })
        .connect()
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        match ws.recv().await.unwrap().unwrap() {
            Event::Message(m) => seen.push(m.as_text().unwrap().to_owned()),
            Event::Disconnected { reason, .. } => {
                assert!(matches!(reason, Disconnect::Failed(_)), "{reason:?}");
                seen.push("disconnected".into());
            }
            Event::Reconnected { .. } => seen.push("reconnected".into()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "welcome 1",
            "disconnected",
            "reconnected",
            "welcome 2",
            "disconnected",
            "reconnected"
        ]
    );
    assert_eq!(hooks.load(Ordering::SeqCst), 3);
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(ws.recv().await.is_none());
}

pub async fn backoff_is_bounded_and_attempts_are_limited<R: TestRuntime>() {
    // One connection, closed at once; then nothing listens any more.
    let (addr, _log) = flaky_server(FlakyConfig {
        max_connections: Some(1),
        ..Default::default()
    });
    let policy = ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(20))
        .factor(2.0)
        .max_delay(Duration::from_millis(50))
        .max_attempts(Some(5))
        .stable_after(Duration::ZERO);
    let mut ws = R::reconnecting(plain(addr))
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
}

pub async fn a_403_on_reconnect_stops_it<R: TestRuntime>() {
    let (addr, log) = flaky_server(FlakyConfig {
        drop_every: 1,
        refuse_from: Some(2),
        ..Default::default()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let mut ws = subscribing::<R>(addr, &runs).connect().await.unwrap();
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
    assert!(is_permanent(&err));
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
    let err = subscribing::<R>(addr, &runs).connect().await.unwrap_err();
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(log.lock().unwrap().handshakes, 3);
}

pub async fn close_ends_the_logical_connection<R: TestRuntime>() {
    let (addr, log) = flaky_server(FlakyConfig {
        drop_every: 100,
        ..Default::default()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let mut ws = subscribing::<R>(addr, &runs).connect().await.unwrap();
    match ws.recv().await {
        Some(Ok(Event::Message(m))) => assert_eq!(m, Message::text("welcome 1")),
        other => panic!("{other:?}"),
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(!ws.is_connected());
    assert!(ws.recv().await.is_none());
    assert!(matches!(
        ws.send(Message::text("x")).await,
        Err(e) if e.is_closed()
    ));
    R::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.lock().unwrap().handshakes, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

pub async fn recv_is_cancel_safe_during_backoff_and_the_hook<R: TestRuntime>() {
    let (addr, _log) = flaky_server(FlakyConfig::default()); // drops after the welcome
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let mut ws = R::reconnecting(plain(addr))
        .policy(
            ReconnectPolicy::new()
                .initial_delay(Duration::from_millis(30))
                .max_delay(Duration::from_millis(30)),
        )
        .on_connect(move |ws| {
            let runs = Arc::clone(&counter);
            Box::pin(async move {
                // Slow enough to be cancelled several times in the middle.
                R::sleep(Duration::from_millis(20)).await;
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
        // A recv abandoned after 2 ms, over and over.
        match R::timeout(Duration::from_millis(2), ws.recv()).await {
            None => cancelled += 1,
            Some(event) => match event.unwrap().unwrap() {
                Event::Message(m) => welcomes.push(m.as_text().unwrap().to_owned()),
                Event::Reconnected { .. } => reconnects += 1,
                Event::Disconnected { .. } => {}
                other => panic!("{other:?}"),
            },
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
}

pub async fn a_send_that_fails_is_the_reported_disconnect_reason<R: TestRuntime>() {
    // Connection 1 is dropped right after its welcome, without a close frame.
    let (addr, _log) = flaky_server(FlakyConfig::default());
    let mut ws = R::reconnecting(plain(addr))
        .policy(fast())
        .connect()
        .await
        .unwrap();
    R::sleep(Duration::from_millis(100)).await;
    // Writing into the dead connection fails sooner or later (EPIPE / reset).
    let mut failed = None;
    for _ in 0..50 {
        if let Err(e) = ws.send(Message::binary(vec![0u8; 64 << 10])).await {
            failed = Some(e);
            break;
        }
        R::sleep(Duration::from_millis(10)).await;
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
}

pub async fn a_server_that_closes_at_once_is_retried_ever_more_slowly<R: TestRuntime>() {
    let (addr, accepted) = closing_server(CloseCode::GOING_AWAY);
    // Waits of 50-100, 100-200, 200-400, 400-800, then 800-1600 ms: the backoff grows
    // although every connection opens, because none stays up for `stable_after`.
    let policy = ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(1600));
    let mut ws = R::reconnecting(plain(addr))
        .policy(policy)
        .connect()
        .await
        .unwrap();
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let mut waits = Vec::new();
    while start.elapsed() < window {
        match R::timeout(window.saturating_sub(start.elapsed()), ws.recv()).await {
            None => break,
            Some(Some(Ok(Event::Disconnected { retry_in, .. }))) => waits.push(retry_in),
            Some(Some(Ok(_))) => {}
            Some(other) => panic!("unexpected end: {other:?}"),
        }
    }
    // Level n waits at least half its ceiling: 1 (the first close counts), 2, ...
    for (n, wait) in waits.iter().enumerate() {
        let floor = policy.ceiling(n as u32 + 1) / 2;
        assert!(*wait >= floor, "wait {n}: {wait:?} < {floor:?} ({waits:?})");
    }
    // Lower bounds 100 + 200 + 400 + 800 = 1.5 s, then 800 ms each: at most 6 connections
    // in 3 s. Were every close to restart the backoff (0-100 ms waits): dozens.
    let n = accepted.load(Ordering::SeqCst);
    assert!(
        (2..=6).contains(&n),
        "{n} connections in {window:?}: {waits:?}"
    );
}

pub async fn a_connection_that_stayed_up_resets_the_backoff<R: TestRuntime>() {
    let (addr, log) = flaky_server(FlakyConfig {
        drop_every: 1,
        ..Default::default()
    });
    let policy = ReconnectPolicy::new()
        .initial_delay(Duration::from_millis(200))
        .max_delay(Duration::from_secs(5))
        .stable_after(Duration::from_millis(300));
    let mut ws = R::reconnecting(plain(addr))
        .policy(policy)
        .connect()
        .await
        .unwrap();
    let mut waits = Vec::new();
    while waits.len() < 3 {
        match ws.recv().await.expect("events").unwrap() {
            Event::Message(m) if m.as_text().is_some_and(|t| t.starts_with("welcome")) => {
                // Stay up past `stable_after`, then let the server drop us.
                R::sleep(Duration::from_millis(400)).await;
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
}

pub async fn a_policy_close_ends_the_reconnecting_client_with_its_code_and_reason<
    R: TestRuntime,
>() {
    let (addr, accepted) = closing_server(CloseCode::POLICY_VIOLATION);
    let mut ws = R::reconnecting(plain(addr))
        .policy(fast())
        .connect()
        .await
        .unwrap();
    let err = match ws.recv().await {
        Some(Err(e)) => e,
        other => panic!("expected the give-up error, got {other:?}"),
    };
    assert!(matches!(err.peer_close(), Some(f) if f.reason.as_str() == "not today"));
    assert_eq!(err.close_code(), Some(CloseCode::POLICY_VIOLATION));
    let text = err.to_string();
    assert!(
        text.contains("1008") && text.contains("not today"),
        "{text}"
    );
    assert!(ws.recv().await.is_none());
    R::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no reconnection after 1008"
    );
}

pub async fn close_codes_the_user_lists_end_it_too<R: TestRuntime>() {
    let (addr, accepted) = closing_server(CloseCode::new(4001));
    let mut ws = R::reconnecting(plain(addr))
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
    let mut ws = R::reconnecting(plain(addr))
        .policy(fast())
        .connect()
        .await
        .unwrap();
    let event = ws.recv().await.expect("an event").unwrap();
    assert!(
        matches!(event, Event::Disconnected { reason: Disconnect::Closed(Some(ref f)), .. } if f.code.as_u16() == 4001),
        "{event:?}"
    );
}
