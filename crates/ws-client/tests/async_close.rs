//! The closing handshake, both ways, and its timeouts, driven deterministically: tasks on
//! a `LocalPool`, time from a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use async_util::{client_options, duplex, pair, pair_with, server_options, ManualTimer};
use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use futures::AsyncReadExt;
use ws_client::handshake::server_accept;
use ws_client::{CloseCode, Config, ErrorKind, Message, Role, State, Step, WebSocket};

#[test]
fn client_initiated_close() {
    let (mut client, mut server) = pair();
    block_on(async {
        let closing = async {
            client.close(CloseCode::NORMAL, "bye").await.unwrap();
        };
        let serving = async {
            let m = server.recv().await.unwrap().unwrap();
            assert_eq!(m, Message::close(CloseCode::NORMAL, "bye"));
            // The server echoed and shuts TCP down; then the stream ends.
            assert!(server.recv().await.is_none());
            assert!(server.recv().await.is_none());
        };
        futures::join!(closing, serving);
    });
    assert_eq!(client.state(), State::Closed);
    assert_eq!(server.state(), State::Closed);
    let echoed = client.close_frame().unwrap();
    assert_eq!(echoed.code, CloseCode::NORMAL);
    assert_eq!(server.close_frame().unwrap().reason, "bye");
    // Sending after the close fails clearly.
    let e = block_on(client.send(Message::text("late"))).unwrap_err();
    assert!(e.is_closed(), "{e}");
}

#[test]
fn server_initiated_close() {
    let (mut client, mut server) = pair();
    block_on(async {
        let closing = async {
            server
                .close(CloseCode::GOING_AWAY, "restart")
                .await
                .unwrap();
        };
        let receiving = async {
            client.send(Message::text("in flight")).await.unwrap();
            let m = client.recv().await.unwrap().unwrap();
            assert_eq!(m, Message::close(CloseCode::GOING_AWAY, "restart"));
            assert!(client.recv().await.is_none());
        };
        futures::join!(closing, receiving);
    });
    assert_eq!(client.state(), State::Closed);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.close_frame().unwrap().code, CloseCode::GOING_AWAY);
}

#[test]
fn invalid_close_code_is_refused_and_nothing_is_sent() {
    let (mut client, _server) = pair();
    let e = block_on(client.close(CloseCode::new(1005), "")).unwrap_err();
    assert!(e.is_usage(), "{e}");
    assert_eq!(client.state(), State::Open);
}

/// Runs `pool` until stalled, then returns.
fn settle(pool: &mut LocalPool) {
    pool.run_until_stalled();
}

#[test]
fn close_returns_after_the_close_timeout_when_the_peer_never_answers() {
    let timer = ManualTimer::new();
    let opts = client_options().close_timeout(Some(Duration::from_secs(5)));
    let (client, server) = pair_with(1 << 16, opts, server_options(), Some(timer.arc()));
    // The server never reads again: our close frame gets no answer.
    let done = Rc::new(RefCell::new(None));
    let mut pool = LocalPool::new();
    let d = done.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut client = client;
            let r = client.close(CloseCode::NORMAL, "").await;
            *d.borrow_mut() = Some((r, client.state()));
        })
        .unwrap();
    settle(&mut pool);
    assert!(done.borrow().is_none(), "close returned before the timeout");
    timer.advance(Duration::from_secs(4));
    settle(&mut pool);
    assert!(done.borrow().is_none(), "close returned before the timeout");
    timer.advance(Duration::from_secs(1));
    settle(&mut pool);
    let (r, state) = done.borrow_mut().take().expect("close returned");
    assert!(r.is_ok());
    assert_eq!(state, State::Closed);
    drop(server);
}

#[test]
fn recv_reports_the_close_timeout_once_then_ends() {
    let timer = ManualTimer::new();
    let opts = client_options().close_timeout(Some(Duration::from_secs(5)));
    let (client, _server) = pair_with(1 << 16, opts, server_options(), Some(timer.arc()));
    let (mut tx, mut rx) = client.split();
    block_on(tx.close(CloseCode::NORMAL, "")).unwrap();
    let results = Rc::new(RefCell::new(Vec::new()));
    let mut pool = LocalPool::new();
    let r = results.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(item) = rx.recv().await {
                r.borrow_mut().push(item.map(|_| ()));
            }
            r.borrow_mut().push(Ok(()));
        })
        .unwrap();
    settle(&mut pool);
    assert!(results.borrow().is_empty());
    timer.advance(Duration::from_secs(5));
    settle(&mut pool);
    let results = results.borrow();
    assert_eq!(results.len(), 2, "{results:?}");
    let e = results[0].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.step()),
        (ErrorKind::Timeout, Some(Step::Close))
    );
    assert!(results[1].is_ok());
}

#[test]
fn client_waits_for_the_server_to_close_tcp_bounded_by_the_close_timeout() {
    // A server that answers the close frame but never closes TCP: its `recv` returns the
    // close (after writing the echo) and is never polled again, so it never shuts down.
    let timer = ManualTimer::new();
    let (a, b) = duplex(1 << 16);
    let probe = a.probe();
    let opts = client_options().close_timeout(Some(Duration::from_secs(3)));
    let sopts = server_options();
    let (c, s) = block_on(async {
        futures::join!(
            ws_client::connect::connect_on(a, &opts, Some(timer.arc())),
            server_accept(b, &sopts, None)
        )
    });
    let (client, mut server) = (c.unwrap().0, s.unwrap());
    let state = Rc::new(RefCell::new(None));
    let mut pool = LocalPool::new();
    let st = state.clone();
    pool.spawner()
        .spawn_local(async move {
            let mut client = client;
            client.close(CloseCode::NORMAL, "").await.unwrap();
            *st.borrow_mut() = Some(client.state());
        })
        .unwrap();
    settle(&mut pool);
    let m = block_on(server.recv()).unwrap().unwrap();
    assert!(m.is_close());
    settle(&mut pool);
    assert!(
        state.borrow().is_none(),
        "client must wait for the server's EOF"
    );
    assert!(!probe.peer_write_closed());
    timer.advance(Duration::from_secs(3));
    settle(&mut pool);
    assert_eq!(*state.borrow(), Some(State::Closed));
    // The client shut its side down when it gave up.
    assert!(probe.write_closed());
}

#[test]
fn client_ends_as_soon_as_the_server_closes_tcp() {
    let (client, server) = pair();
    let (a_done, b_done) = (Rc::new(RefCell::new(false)), Rc::new(RefCell::new(false)));
    let mut pool = LocalPool::new();
    let (ad, bd) = (a_done.clone(), b_done.clone());
    pool.spawner()
        .spawn_local(async move {
            let mut server = server;
            let m = server.recv().await.unwrap().unwrap();
            assert!(m.is_close());
            assert!(server.recv().await.is_none());
            *bd.borrow_mut() = true;
        })
        .unwrap();
    pool.spawner()
        .spawn_local(async move {
            let mut client = client;
            client.close(CloseCode::NORMAL, "").await.unwrap();
            *ad.borrow_mut() = true;
        })
        .unwrap();
    // No timer at all: only the server's EOF can end the client's close.
    settle(&mut pool);
    assert!(*a_done.borrow() && *b_done.borrow());
}

#[test]
fn abrupt_eof_is_an_abnormal_closure_error() {
    let (mut client, server) = pair();
    drop(server);
    block_on(async {
        let e = client.recv().await.unwrap().unwrap_err();
        assert!(e.is_protocol(), "{e}");
        assert_eq!(e.close_code(), Some(CloseCode::ABNORMAL));
        assert!(client.recv().await.is_none());
    });
}

#[test]
fn protocol_error_sends_a_close_frame_and_shuts_down() {
    // A server that sends a masked frame (forbidden towards a client).
    let (a, mut b) = duplex(1 << 16);
    let mut client = WebSocket::from_raw(a, Role::Client, Config::default(), None);
    block_on(async {
        use futures::AsyncWriteExt;
        b.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await
            .unwrap();
        let e = client.recv().await.unwrap().unwrap_err();
        assert!(e.is_protocol(), "{e}");
        assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        assert!(client.recv().await.is_none());
        // The client sent a (masked) close frame with 1002 and shut down.
        let mut wire = Vec::new();
        b.read_to_end(&mut wire).await.unwrap();
        assert_eq!(wire[0], 0x88);
        assert!(wire[1] & 0x80 != 0, "client frames are masked");
        assert!(usize::from(wire[1] & 0x7f) >= 2);
        let key = [wire[2], wire[3], wire[4], wire[5]];
        let code = u16::from_be_bytes([wire[6] ^ key[0], wire[7] ^ key[1]]);
        assert_eq!(code, 1002);
    });
}
