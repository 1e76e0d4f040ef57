//! Proxies, a redirect and reconnection on async-std: small async-std test proxies (HTTP
//! `CONNECT`, SOCKS5) in front of our echo server, ws:// and wss://.
#![cfg(feature = "native-tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use support::{echo_server, round_trip, TestCert};
use ws_async_std::AsyncStdRuntime;
use ws_client::options::{ConnectOptions, ServerOptions};
use ws_client::reconnect::{Disconnect, Event, ReconnectPolicy, Reconnecting};
use ws_client::{CloseCode, Message};

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    async_std::future::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took more than 30 s")
}

/// Copies both ways until either side ends.
async fn tunnel(a: TcpStream, b: TcpStream) {
    let (mut ar, mut aw) = (a.clone(), a);
    let (mut br, mut bw) = (b.clone(), b);
    let up = async_std::task::spawn(async move {
        let _ = async_std::io::copy(&mut ar, &mut bw).await;
        let _ = bw.shutdown(std::net::Shutdown::Write);
    });
    let _ = async_std::io::copy(&mut br, &mut aw).await;
    let _ = aw.shutdown(std::net::Shutdown::Write);
    up.await;
}

/// A minimal HTTP `CONNECT` proxy; logs the targets.
async fn http_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    async_std::task::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            async_std::task::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let target = head.split(' ').nth(1).unwrap().to_owned();
                seen.lock().unwrap().push(target.clone());
                let Ok(upstream) = TcpStream::connect(target.as_str()).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                tunnel(client, upstream).await;
            });
        }
    });
    (addr, log)
}

/// A minimal SOCKS5 proxy (no authentication, CONNECT); logs the addresses asked for.
async fn socks5_proxy() -> (SocketAddr, Arc<Mutex<Vec<(Result<IpAddr, String>, u16)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    async_std::task::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            async_std::task::spawn(async move {
                let mut hello = [0u8; 2];
                client.read_exact(&mut hello).await.unwrap();
                let mut methods = vec![0u8; usize::from(hello[1])];
                client.read_exact(&mut methods).await.unwrap();
                client.write_all(&[5, 0]).await.unwrap();
                let mut req = [0u8; 4];
                client.read_exact(&mut req).await.unwrap();
                let host = match req[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        client.read_exact(&mut a).await.unwrap();
                        Ok(IpAddr::from(a))
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len).await.unwrap();
                        let mut name = vec![0u8; usize::from(len[0])];
                        client.read_exact(&mut name).await.unwrap();
                        Err(String::from_utf8(name).unwrap())
                    }
                    other => panic!("address type {other}"),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port).await.unwrap();
                let port = u16::from_be_bytes(port);
                seen.lock().unwrap().push((host.clone(), port));
                let upstream = match &host {
                    Ok(ip) => TcpStream::connect((*ip, port)).await,
                    Err(name) => TcpStream::connect((name.as_str(), port)).await,
                };
                let Ok(upstream) = upstream else {
                    let _ = client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
                    return;
                };
                client
                    .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])
                    .await
                    .unwrap();
                tunnel(client, upstream).await;
            });
        }
    });
    (addr, log)
}

#[async_std::test]
async fn http_connect_proxy_carries_ws_and_wss() {
    bounded(async {
        let (proxy, log) = http_proxy().await;

        let plain = echo_server(ServerOptions::new(), None).await;
        let (mut ws, _) = AsyncStdRuntime::new()
            .connect(ConnectOptions::new(format!("ws://{plain}/")).proxy_url(format!("{proxy}")))
            .await
            .unwrap();
        round_trip(&mut ws, Message::text("via CONNECT")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        let cert = TestCert::generate();
        let secure = echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        let (mut ws, _) = AsyncStdRuntime::with_tls_connector(cert.connector())
            .connect(
                ConnectOptions::new(format!("wss://localhost:{}/", secure.port()))
                    .proxy_url(format!("http://{proxy}")),
            )
            .await
            .unwrap();
        round_trip(&mut ws, Message::binary(vec![1u8; 100_000])).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        assert_eq!(
            *log.lock().unwrap(),
            [plain.to_string(), format!("localhost:{}", secure.port())]
        );

        // The target is down: the proxy's 502 comes back typed.
        let dead = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let err = AsyncStdRuntime::new()
            .connect(ConnectOptions::new(format!("ws://{dead}/")).proxy_url(format!("{proxy}")))
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(502), "{err:?}");
    })
    .await;
}

#[async_std::test]
async fn socks5_resolves_with_the_async_std_resolver_and_socks5h_does_not() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let port = server.port();
        let (proxy, log) = socks5_proxy().await;
        for scheme in ["socks5", "socks5h"] {
            let (mut ws, _) = AsyncStdRuntime::new()
                .connect(
                    ConnectOptions::new(format!("ws://localhost:{port}/"))
                        .proxy_url(format!("{scheme}://{proxy}")),
                )
                .await
                .unwrap();
            round_trip(&mut ws, Message::text(scheme)).await;
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        }
        assert_eq!(
            *log.lock().unwrap(),
            [
                (Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)), port),
                (Err("localhost".to_owned()), port),
            ]
        );
    })
    .await;
}

#[async_std::test]
async fn reconnects_after_the_server_drops_the_connection() {
    bounded(async {
        // Each connection: a welcome, then the server drops it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        async_std::task::spawn(async move {
            let mut k = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                k += 1;
                let options = ServerOptions::new().no_keepalive();
                if let Ok(mut ws) = ws_async_std::accept(tcp, &options).await {
                    let _ = ws.send(Message::text(format!("welcome {k}"))).await;
                    // Wait for the hook's message, then drop without a close frame.
                    let _ = ws.recv().await;
                }
            }
        });
        let hooks = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&hooks);
        let mut ws = Reconnecting::new(
            AsyncStdRuntime::new(),
            ConnectOptions::new(format!("ws://{addr}/")).no_keepalive(),
        )
        .policy(ReconnectPolicy::new().initial_delay(Duration::from_millis(10)))
        .on_connect(move |ws| {
            *counter.lock().unwrap() += 1;
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
        assert_eq!(*hooks.lock().unwrap(), 3);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.recv().await.is_none());
    })
    .await;
}
