//! Proxies on loopback: HTTP `CONNECT` and SOCKS5 test proxies in front of ws:// and
//! wss:// servers; authentication, refusals, socks5 vs socks5h, NO_PROXY, tunnel bytes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use aiowebsocket::ws_client::reconnect::is_permanent;
use aiowebsocket::{
    builder, CloseCode, HandshakeError, Message, Proxy, ProxyConfig, ProxyError, ServerOptions,
    Step, WebSocketStream,
};
use futures_io::{AsyncRead, AsyncWrite};

use crate::proxies::{http_proxy, socks5_proxy, ConnectSeen, HttpProxyConfig, SocksTarget};
use crate::runtimes::TestRuntime;
use crate::servers::{echo_server, silent_server};
use crate::support::{closed_port, round_trip, Backend, Ca};

/// A text and a 70 kB binary message echoed, then a clean close answered by the server.
pub async fn echo_twice_and_close<S>(mut ws: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    round_trip(&mut ws, Message::text("through the tunnel")).await;
    round_trip(&mut ws, Message::binary(vec![7u8; 70_000])).await;
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    assert_eq!(ws.close_frame().expect("answered").code, CloseCode::NORMAL);
}

pub async fn http_connect_proxy_carries_ws<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let url = format!("ws://{server}/");
    let ws = R::connect(builder(&url).proxy_url(format!("http://{proxy}")))
        .await
        .unwrap();
    echo_twice_and_close(ws).await;
    // A proxy URL without a scheme is an HTTP proxy.
    let ws = R::connect(builder(&url).proxy_url(proxy.to_string()))
        .await
        .unwrap();
    echo_twice_and_close(ws).await;
    let asked = ConnectSeen {
        target: server.to_string(),
        auth: None,
    };
    assert_eq!(*log.lock().unwrap(), [asked.clone(), asked]);
}

pub async fn http_connect_proxy_carries_wss_with_tls_to_the_target<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("suite CA");
    // The certificate names localhost only: TLS only succeeds if it is checked against the
    // target's name (SNI and verification), not the proxy's 127.0.0.1.
    let server = echo_server(
        ServerOptions::new(),
        Some(B::server(&ca.server(&["localhost"]))),
    );
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let proxy = Proxy::parse(&format!("http://{proxy}")).unwrap();
    let b = builder(format!("wss://localhost:{}/", server.port())).proxy(ProxyConfig::Proxy(proxy));
    let ws = R::connect(B::trusting(b, &ca, None)).await.unwrap();
    assert_eq!(ws.get_ref().tls().map(|t| t.backend()), Some(B::KIND));
    echo_twice_and_close(ws).await;
    assert_eq!(
        log.lock().unwrap()[0].target,
        format!("localhost:{}", server.port())
    );
}

pub async fn http_proxy_basic_auth_is_sent<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let (proxy, log) = http_proxy(HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let b = builder(format!("ws://{server}/")).proxy_url(format!("http://alice:s3cret@{proxy}"));
    echo_twice_and_close(R::connect(b).await.unwrap()).await;
    assert_eq!(
        log.lock().unwrap()[0].auth.as_deref(),
        Some("Basic YWxpY2U6czNjcmV0")
    );
}

pub async fn http_proxy_refusing_credentials_is_a_readable_407<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let (proxy, _log) = http_proxy(HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let url = format!("ws://{server}/");
    let err = R::connect(builder(&url).proxy_url(format!("http://alice:wrong@{proxy}")))
        .await
        .unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert_eq!(err.http_status(), Some(407));
    assert!(matches!(
        err.handshake_error(),
        Some(HandshakeError::Proxy(ProxyError::AuthRequired {
            credentials_sent: true,
            ..
        }))
    ));
    let text = err.to_string();
    assert!(text.contains("407"), "{text}");
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(!text.contains("wrong"), "the password leaked: {text}");

    // Without credentials: told to add some.
    let err = R::connect(builder(&url).proxy_url(format!("http://{proxy}")))
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(407));
    assert!(
        err.to_string().contains("put credentials in the proxy URL"),
        "{err}"
    );
}

pub async fn http_proxy_403_and_502_are_typed_with_their_status<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let (proxy, _log) = http_proxy(HttpProxyConfig {
        forbidden: vec![server.to_string()],
        ..Default::default()
    });
    let err = R::connect(builder(format!("ws://{server}/")).proxy_url(format!("http://{proxy}")))
        .await
        .unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert_eq!(err.http_status(), Some(403));
    assert!(err.to_string().contains("403"), "{err}");
    assert!(err.to_string().contains(&server.to_string()), "{err}");

    let dead = closed_port();
    let b = builder(format!("ws://127.0.0.1:{dead}/")).proxy_url(format!("http://{proxy}"));
    let err = R::connect(b).await.unwrap_err();
    assert_eq!(err.http_status(), Some(502), "{err:?}");
    assert!(
        err.to_string().contains("could not reach the target"),
        "{err}"
    );
}

pub async fn unreachable_proxy_is_named_in_the_error<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let dead = closed_port();
    let b = builder(format!("ws://{server}/")).proxy_url(format!("http://127.0.0.1:{dead}"));
    let err = R::connect(b).await.unwrap_err();
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
}

pub async fn a_proxy_that_never_answers_times_out_at_the_proxy_step<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let proxy = silent_server();
    let b = builder(format!("ws://{server}/"))
        .proxy_url(format!("socks5h://{proxy}"))
        .open_timeout(Some(Duration::from_millis(300)));
    let err = R::connect(b).await.unwrap_err();
    let proxy_addr = proxy.to_string();
    assert_eq!(
        (err.step(), err.timeout_limit(), err.target()),
        (
            Some(Step::Proxy),
            Some(Duration::from_millis(300)),
            Some(proxy_addr.as_str())
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
}

/// socks5:// sends the address this runtime's resolver found; socks5h:// the name.
pub async fn socks5h_sends_the_name_and_socks5_the_address<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let port = server.port();
    let (proxy, log) = socks5_proxy(None);
    let url = format!("ws://localhost:{port}/");
    for scheme in ["socks5h", "socks5"] {
        let b = builder(&url).proxy_url(format!("{scheme}://{proxy}"));
        echo_twice_and_close(R::connect(b).await.unwrap()).await;
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            SocksTarget::Domain("localhost".into(), port),
            SocksTarget::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ]
    );
}

pub async fn socks5_user_password_accepted_and_refused<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let (proxy, log) = socks5_proxy(Some(("bob".into(), "hunter2".into())));
    let url = format!("ws://{server}/");
    let ws = R::connect(builder(&url).proxy_url(format!("socks5://bob:hunter2@{proxy}")))
        .await
        .unwrap();
    echo_twice_and_close(ws).await;
    assert_eq!(log.lock().unwrap().len(), 1);

    let err = R::connect(builder(&url).proxy_url(format!("socks5://bob:nope@{proxy}")))
        .await
        .unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert!(
        matches!(
            err.handshake_error(),
            Some(HandshakeError::Proxy(ProxyError::Socks5AuthFailed { .. }))
        ),
        "{err:?}"
    );
    assert!(is_permanent(&err));

    // No credentials at all: the proxy accepts no method we offer.
    let err = R::connect(builder(&url).proxy_url(format!("socks5://{proxy}")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.handshake_error(),
            Some(HandshakeError::Proxy(
                ProxyError::Socks5NoAcceptableMethod { .. }
            ))
        ),
        "{err:?}"
    );
}

pub async fn socks5h_carries_wss<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("suite CA");
    let server = echo_server(
        ServerOptions::new(),
        Some(B::server(&ca.server(&["localhost"]))),
    );
    let (proxy, log) = socks5_proxy(None);
    let b = builder(format!("wss://localhost:{}/", server.port()))
        .proxy_url(format!("socks5h://{proxy}"));
    let ws = R::connect(B::trusting(b, &ca, None)).await.unwrap();
    assert_eq!(ws.get_ref().tls().map(|t| t.backend()), Some(B::KIND));
    echo_twice_and_close(ws).await;
    assert_eq!(
        *log.lock().unwrap(),
        [SocksTarget::Domain("localhost".into(), server.port())]
    );
}

pub async fn proxy_from_env_honours_no_proxy_through_the_lookup<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    let port = server.port();
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let proxy_url = format!("http://{proxy}");
    let env = move |name: &str| match name {
        "HTTP_PROXY" => Some(proxy_url.clone()),
        "NO_PROXY" => Some("localhost".to_owned()),
        _ => None,
    };
    let from_env = |url: String| {
        let env = env.clone();
        builder(url).proxy_from_env().options(|o| o.proxy_env(env))
    };

    // localhost is in NO_PROXY: direct.
    let ws = R::connect(from_env(format!("ws://localhost:{port}/")))
        .await
        .unwrap();
    echo_twice_and_close(ws).await;
    assert!(log.lock().unwrap().is_empty());

    // 127.0.0.1 is not (NO_PROXY matches names and addresses as written): proxied.
    let ws = R::connect(from_env(format!("ws://127.0.0.1:{port}/")))
        .await
        .unwrap();
    echo_twice_and_close(ws).await;
    assert_eq!(log.lock().unwrap()[0].target, format!("127.0.0.1:{port}"));

    // Without proxy_from_env the variables are not consulted at all.
    let b = builder(format!("ws://127.0.0.1:{port}/")).options(|o| o.proxy_env(env));
    echo_twice_and_close(R::connect(b).await.unwrap()).await;
    assert_eq!(log.lock().unwrap().len(), 1);
}

pub async fn an_invalid_proxy_url_fails_before_any_connection<R: TestRuntime>() {
    let b = builder("ws://127.0.0.1:9/").proxy_url("https://proxy:443");
    let err = R::connect(b).await.unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert!(is_permanent(&err));
    assert!(err.to_string().contains("https:// proxies"), "{err}");
}

pub async fn bytes_after_the_proxy_answer_are_read_before_the_stream<R: TestRuntime>() {
    let server = echo_server(ServerOptions::new(), None);
    // The proxy pipelines a refusal right after its 200: the client must parse it as the
    // server's answer (it came through the tunnel), not lose it.
    let (proxy, _log) = http_proxy(HttpProxyConfig {
        trailing: b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ..Default::default()
    });
    let b = builder(format!("ws://{server}/")).proxy_url(format!("http://{proxy}"));
    let err = R::connect(b).await.unwrap_err();
    assert_eq!(err.http_status(), Some(418), "{err:?}");
    assert!(!err.is_proxy());

    // Before TLS nothing may arrive: a TLS server never speaks first.
    let b =
        builder(format!("wss://localhost:{}/", server.port())).proxy_url(format!("http://{proxy}"));
    let err = R::connect(b).await.unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert!(err.to_string().contains("before TLS started"), "{err}");
}
