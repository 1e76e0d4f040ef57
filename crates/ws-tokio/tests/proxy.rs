//! Proxies on loopback: HTTP `CONNECT` and SOCKS5 test proxies in front of ws:// and wss://
//! servers; authentication, refusals, socks5 vs socks5h, NO_PROXY, tunnel bytes.
#![cfg(feature = "native-tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{http_proxy, socks5_proxy, ConnectSeen, HttpProxyConfig, SocksTarget};
use support::{echo_server, round_trip, silent_server, TestCert};
use ws_client::error::Step;
use ws_client::options::{ConnectOptions, ServerOptions};
use ws_client::{CloseCode, Error, Message, ProxyConfig};
use ws_handshake::proxy::Proxy;
use ws_handshake::HandshakeError;
use ws_tokio::TokioRuntime;

/// Fails the test instead of hanging it.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn connect(options: ConnectOptions) -> Result<ws_tokio::WebSocket, Error> {
    TokioRuntime::new().connect(options).await.map(|(ws, _)| ws)
}

async fn echo_twice_and_close(mut ws: ws_tokio::WebSocket) {
    round_trip(&mut ws, Message::text("through the tunnel")).await;
    round_trip(&mut ws, Message::binary(vec![7u8; 70_000])).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
}

#[tokio::test]
async fn http_connect_proxy_carries_ws() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let (proxy, log) = http_proxy(HttpProxyConfig::default()).await;
        let options =
            ConnectOptions::new(format!("ws://{server}/")).proxy_url(format!("http://{proxy}"));
        echo_twice_and_close(connect(options).await.unwrap()).await;
        assert_eq!(
            *log.lock().unwrap(),
            [ConnectSeen {
                target: server.to_string(),
                auth: None
            }]
        );
    })
    .await;
}

#[tokio::test]
async fn http_connect_proxy_carries_wss_with_tls_to_the_target() {
    bounded(async {
        let cert = TestCert::generate();
        let server = echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        let (proxy, log) = http_proxy(HttpProxyConfig::default()).await;
        let proxy = Proxy::parse(&format!("http://{proxy}")).unwrap();
        // The certificate names localhost: TLS only succeeds if it is checked against the
        // target's name (SNI and verification), not the proxy's 127.0.0.1.
        let options = ConnectOptions::new(format!("wss://localhost:{}/", server.port()))
            .proxy(ProxyConfig::Proxy(proxy));
        let (ws, _) = TokioRuntime::with_tls_connector(cert.connector())
            .connect(options)
            .await
            .unwrap();
        assert!(ws.get_ref().is_tls());
        echo_twice_and_close(ws).await;
        assert_eq!(
            log.lock().unwrap()[0].target,
            format!("localhost:{}", server.port())
        );
    })
    .await;
}

#[tokio::test]
async fn http_proxy_basic_auth_is_sent() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let (proxy, log) = http_proxy(HttpProxyConfig {
            credentials: Some(("alice".into(), "s3cret".into())),
            ..Default::default()
        })
        .await;
        let options = ConnectOptions::new(format!("ws://{server}/"))
            .proxy_url(format!("http://alice:s3cret@{proxy}"));
        echo_twice_and_close(connect(options).await.unwrap()).await;
        assert_eq!(
            log.lock().unwrap()[0].auth.as_deref(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
    })
    .await;
}

#[tokio::test]
async fn http_proxy_refusing_credentials_is_a_readable_407() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let (proxy, _log) = http_proxy(HttpProxyConfig {
            credentials: Some(("alice".into(), "s3cret".into())),
            ..Default::default()
        })
        .await;
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/"))
                .proxy_url(format!("http://alice:wrong@{proxy}")),
        )
        .await
        .unwrap_err();
        assert!(err.is_proxy(), "{err:?}");
        assert_eq!(err.http_status(), Some(407));
        assert!(matches!(
            err,
            Error::Handshake(HandshakeError::ProxyAuthRequired {
                credentials_sent: true,
                ..
            })
        ));
        let text = err.to_string();
        assert!(text.contains("407"), "{text}");
        assert!(text.contains("refused the credentials"), "{text}");
        assert!(!text.contains("wrong"), "the password leaked: {text}");

        // Without credentials: told to add some.
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/")).proxy_url(format!("http://{proxy}")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http_status(), Some(407));
        assert!(
            err.to_string().contains("put credentials in the proxy URL"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn http_proxy_403_and_502_are_typed_with_their_status() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let (proxy, _log) = http_proxy(HttpProxyConfig {
            forbidden: vec![server.to_string()],
            ..Default::default()
        })
        .await;
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/")).proxy_url(format!("http://{proxy}")),
        )
        .await
        .unwrap_err();
        assert!(err.is_proxy(), "{err:?}");
        assert_eq!(err.http_status(), Some(403));
        assert!(err.to_string().contains("403"), "{err}");
        assert!(err.to_string().contains(&server.to_string()), "{err}");

        let dead = closed_port().await;
        let err = connect(
            ConnectOptions::new(format!("ws://127.0.0.1:{dead}/"))
                .proxy_url(format!("http://{proxy}")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http_status(), Some(502), "{err:?}");
        assert!(
            err.to_string().contains("could not reach the target"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn unreachable_proxy_is_named_in_the_error() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let dead = closed_port().await;
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/"))
                .proxy_url(format!("http://127.0.0.1:{dead}")),
        )
        .await
        .unwrap_err();
        assert!(err.is_io(), "{err:?}");
        assert_eq!(err.step(), Some(Step::Connect));
        let proxy_addr = format!("127.0.0.1:{dead}");
        assert_eq!(err.target(), Some(proxy_addr.as_str()));
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "TCP connect to the HTTP proxy {proxy_addr} failed"
            )) && text.contains("check the proxy address"),
            "{text}"
        );
        // The only address named is the proxy's.
        let ports: Vec<&str> = text
            .split("127.0.0.1:")
            .skip(1)
            .map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next().unwrap())
            .collect();
        assert_eq!(ports, [dead.to_string()], "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_proxy_that_never_answers_times_out_at_the_proxy_step() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let proxy = silent_server().await;
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/"))
                .proxy_url(format!("socks5h://{proxy}"))
                .open_timeout(Some(Duration::from_millis(300))),
        )
        .await
        .unwrap_err();
        let proxy_addr = proxy.to_string();
        assert!(
            matches!(
                &err,
                Error::OpeningTimeout { step: Step::Proxy, limit, target: Some(t) }
                    if *limit == Duration::from_millis(300) && *t == proxy_addr
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "the proxy at {proxy_addr} did not open the tunnel"
            )) && text.contains("limit 300 ms"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn socks5h_sends_the_name_and_socks5_the_address() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let port = server.port();
        let (proxy, log) = socks5_proxy(None).await;
        let url = format!("ws://localhost:{port}/");

        let ws = connect(ConnectOptions::new(&url).proxy_url(format!("socks5h://{proxy}")))
            .await
            .unwrap();
        echo_twice_and_close(ws).await;
        let ws = connect(ConnectOptions::new(&url).proxy_url(format!("socks5://{proxy}")))
            .await
            .unwrap();
        echo_twice_and_close(ws).await;

        assert_eq!(
            *log.lock().unwrap(),
            [
                SocksTarget::Domain("localhost".into(), port),
                SocksTarget::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn socks5_user_password_accepted_and_refused() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let (proxy, log) = socks5_proxy(Some(("bob".into(), "hunter2".into()))).await;
        let ws = connect(
            ConnectOptions::new(format!("ws://{server}/"))
                .proxy_url(format!("socks5://bob:hunter2@{proxy}")),
        )
        .await
        .unwrap();
        echo_twice_and_close(ws).await;
        assert_eq!(log.lock().unwrap().len(), 1);

        let err = connect(
            ConnectOptions::new(format!("ws://{server}/"))
                .proxy_url(format!("socks5://bob:nope@{proxy}")),
        )
        .await
        .unwrap_err();
        assert!(err.is_proxy(), "{err:?}");
        assert!(
            matches!(
                err,
                Error::Handshake(HandshakeError::Socks5AuthFailed { .. })
            ),
            "{err:?}"
        );
        assert!(ws_client::reconnect::is_permanent(&err));

        // No credentials at all: the proxy accepts no method we offer.
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/")).proxy_url(format!("socks5://{proxy}")),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Handshake(HandshakeError::Socks5NoAcceptableMethod { .. })
            ),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn socks5h_carries_wss() {
    bounded(async {
        let cert = TestCert::generate();
        let server = echo_server(ServerOptions::new(), Some(cert.acceptor())).await;
        let (proxy, log) = socks5_proxy(None).await;
        let options = ConnectOptions::new(format!("wss://localhost:{}/", server.port()))
            .proxy_url(format!("socks5h://{proxy}"));
        let (ws, _) = TokioRuntime::with_tls_connector(cert.connector())
            .connect(options)
            .await
            .unwrap();
        echo_twice_and_close(ws).await;
        assert_eq!(
            *log.lock().unwrap(),
            [SocksTarget::Domain("localhost".into(), server.port())]
        );
    })
    .await;
}

#[tokio::test]
async fn proxy_from_env_honours_no_proxy_through_the_lookup() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        let port = server.port();
        let (proxy, log) = http_proxy(HttpProxyConfig::default()).await;
        let proxy_url = format!("http://{proxy}");
        let env = move |name: &str| match name {
            "HTTP_PROXY" => Some(proxy_url.clone()),
            "NO_PROXY" => Some("localhost".to_owned()),
            _ => None,
        };
        let options = |url: String| {
            ConnectOptions::new(url)
                .proxy_from_env()
                .proxy_env(env.clone())
        };

        // localhost is in NO_PROXY: direct.
        let ws = connect(options(format!("ws://localhost:{port}/")))
            .await
            .unwrap();
        echo_twice_and_close(ws).await;
        assert!(log.lock().unwrap().is_empty());

        // 127.0.0.1 is not (NO_PROXY matches names and addresses as written): proxied.
        let ws = connect(options(format!("ws://127.0.0.1:{port}/")))
            .await
            .unwrap();
        echo_twice_and_close(ws).await;
        assert_eq!(log.lock().unwrap()[0].target, format!("127.0.0.1:{port}"));

        // Without proxy_from_env the variables are not consulted at all.
        let ws = connect(ConnectOptions::new(format!("ws://127.0.0.1:{port}/")).proxy_env(env))
            .await
            .unwrap();
        echo_twice_and_close(ws).await;
        assert_eq!(log.lock().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_invalid_proxy_url_fails_before_any_connection() {
    let err = connect(ConnectOptions::new("ws://127.0.0.1:9/").proxy_url("https://proxy:443"))
        .await
        .unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert!(ws_client::reconnect::is_permanent(&err));
    assert!(err.to_string().contains("https:// proxies"), "{err}");
}

#[tokio::test]
async fn bytes_after_the_proxy_answer_are_read_before_the_stream() {
    bounded(async {
        let server = echo_server(ServerOptions::new(), None).await;
        // The proxy pipelines a refusal right after its 200: the client must parse it as
        // the server's answer (it came through the tunnel), not lose it.
        let (proxy, _log) = http_proxy(HttpProxyConfig {
            trailing: b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n".to_vec(),
            ..Default::default()
        })
        .await;
        let err = connect(
            ConnectOptions::new(format!("ws://{server}/")).proxy_url(format!("http://{proxy}")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http_status(), Some(418), "{err:?}");
        assert!(!err.is_proxy());

        // Before TLS nothing may arrive: a TLS server never speaks first.
        let err = connect(
            ConnectOptions::new(format!("wss://localhost:{}/", server.port()))
                .proxy_url(format!("http://{proxy}")),
        )
        .await
        .unwrap_err();
        assert!(err.is_proxy(), "{err:?}");
        assert!(err.to_string().contains("before TLS started"), "{err}");
    })
    .await;
}
