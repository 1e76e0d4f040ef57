//! Redirects of the opening handshake on loopback: chains (absolute and relative
//! `Location`), loops, the wss→ws refusal, credentials dropped on a host change, proxy chosen
//! again per hop.
#![cfg(feature = "native-tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;
mod support;

use std::time::Duration;

use common::{http_proxy, scripted_server, Answer, HttpProxyConfig};
use support::{round_trip, TestCert};
use ws_client::options::ConnectOptions;
use ws_client::{CloseCode, Error, Message, RedirectPolicy};
use ws_handshake::HandshakeError;
use ws_tokio::TokioRuntime;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

fn paths(log: &std::sync::Mutex<Vec<common::Seen>>) -> Vec<String> {
    log.lock().unwrap().iter().map(|s| s.path.clone()).collect()
}

#[tokio::test]
async fn a_chain_of_absolute_and_relative_redirects_is_followed() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, me| match path {
            // Absolute, with the http scheme (mapped to ws).
            "/start" => Answer::Redirect(301, format!("http://{me}/v1/middle")),
            // Relative to /v1/middle.
            "/v1/middle" => Answer::Redirect(307, "../final?x=1".into()),
            _ => Answer::Accept,
        })
        .await;
        let (mut ws, response) = TokioRuntime::new()
            .connect(ConnectOptions::new(format!("ws://{addr}/start")))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        round_trip(&mut ws, Message::text("arrived")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(paths(&log), ["/start", "/v1/middle", "/final?x=1"]);
    })
    .await;
}

#[tokio::test]
async fn a_redirect_loop_ends_at_the_hop_limit_naming_the_chain() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, _| match path {
            "/a" => Answer::Redirect(302, "/b".into()),
            _ => Answer::Redirect(302, "/a".into()),
        })
        .await;
        let err = TokioRuntime::new()
            .connect(ConnectOptions::new(format!("ws://{addr}/a")))
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{err:?}");
        match &err {
            Error::Handshake(HandshakeError::TooManyRedirects { max_hops, chain }) => {
                assert_eq!(*max_hops, 5);
                assert_eq!(chain.len(), 7, "{chain:?}");
                assert_eq!(chain[0], format!("ws://{addr}/a"));
                assert_eq!(chain[1], format!("ws://{addr}/b"));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&format!("ws://{addr}/a -> ws://{addr}/b")),
            "{text}"
        );
        assert!(text.contains("loop"), "{text}");
        // The start plus five followed hops, then the sixth redirect is refused.
        assert_eq!(log.lock().unwrap().len(), 6);
        assert!(ws_client::reconnect::is_permanent(&err));

        // A smaller limit stops sooner.
        log.lock().unwrap().clear();
        let err = TokioRuntime::new()
            .connect(
                ConnectOptions::new(format!("ws://{addr}/a")).redirects(RedirectPolicy::limited(1)),
            )
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{err:?}");
        assert_eq!(paths(&log), ["/a", "/b"]);
    })
    .await;
}

#[tokio::test]
async fn no_redirects_reports_the_redirect() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, _| match path {
            "/old" => Answer::Redirect(308, "/new".into()),
            _ => Answer::Accept,
        })
        .await;
        let err = TokioRuntime::new()
            .connect(ConnectOptions::new(format!("ws://{addr}/old")).no_redirects())
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(308));
        match &err {
            Error::Handshake(HandshakeError::Redirect { status, location }) => {
                assert_eq!((*status, location.as_deref()), (308, Some("/new")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(paths(&log), ["/old"]);
    })
    .await;
}

#[tokio::test]
async fn a_redirect_from_wss_to_ws_is_refused() {
    bounded(async {
        let cert = TestCert::generate();
        let (addr, log) = scripted_server(Some(cert.acceptor()), |path, me| match path {
            "/secure" => Answer::Redirect(302, format!("ws://localhost:{}/plain", me.port())),
            _ => Answer::Accept,
        })
        .await;
        let err = TokioRuntime::with_tls_connector(cert.connector())
            .connect(ConnectOptions::new(format!(
                "wss://localhost:{}/secure",
                addr.port()
            )))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Handshake(HandshakeError::RedirectDowngrade { .. })
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("wss to ws"), "{err}");
        assert!(ws_client::reconnect::is_permanent(&err));
        assert_eq!(paths(&log), ["/secure"]);
    })
    .await;
}

#[tokio::test]
async fn a_redirect_from_ws_to_wss_opens_tls_on_the_new_hop() {
    bounded(async {
        let cert = TestCert::generate();
        let (secure, secure_log) =
            scripted_server(Some(cert.acceptor()), |_, _| Answer::Accept).await;
        let port = secure.port();
        let (plain, plain_log) = scripted_server(None, move |_, _| {
            Answer::Redirect(302, format!("wss://localhost:{port}/upgraded"))
        })
        .await;
        let (mut ws, _) = TokioRuntime::with_tls_connector(cert.connector())
            .connect(ConnectOptions::new(format!("ws://{plain}/start")))
            .await
            .unwrap();
        assert!(ws.get_ref().is_tls());
        round_trip(&mut ws, Message::text("secure now")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(paths(&plain_log), ["/start"]);
        assert_eq!(paths(&secure_log), ["/upgraded"]);
    })
    .await;
}

#[tokio::test]
async fn no_credential_reaches_another_origin() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, me| match path {
            // Same origin, relative: everything kept.
            "/start" => Answer::Redirect(302, "/same".into()),
            // 127.0.0.1 → localhost: another host, same port.
            "/same" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
            _ => Answer::Accept,
        })
        .await;
        let options = ConnectOptions::new(format!("ws://user:pw-s3cret@{addr}/start"))
            .header("Authorization", "Bearer s3cret")
            .header("Cookie", "session=abc")
            .header("X-Api-Key", "k-s3cret")
            .header("X-Token", "t-s3cret")
            .header("X-Trace", "t-1")
            .header("User-Agent", "feed/1")
            .portable_header("X-Request-Id", "r-1")
            .subprotocol("bearer.s3cret")
            .origin("https://app.example");
        let (mut ws, _) = TokioRuntime::new().connect(options).await.unwrap();
        round_trip(&mut ws, Message::text("hi")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        let seen = log.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        for s in &seen[..2] {
            assert_eq!(s.header("authorization"), Some("Bearer s3cret"), "{s:?}");
            assert_eq!(s.header("cookie"), Some("session=abc"), "{s:?}");
            assert_eq!(s.header("x-api-key"), Some("k-s3cret"), "{s:?}");
            assert_eq!(s.header("sec-websocket-protocol"), Some("bearer.s3cret"));
            assert_eq!(s.host, addr.to_string());
        }
        let last = &seen[2];
        assert_eq!(last.path, "/final");
        assert_eq!(last.host, format!("localhost:{}", addr.port()));
        // Nothing that may be a credential: no header value, subprotocol or URL password.
        for (name, value) in &last.headers {
            assert!(!value.contains("s3cret"), "{name}: {value}");
        }
        for name in ["authorization", "cookie", "x-api-key", "x-token", "x-trace"] {
            assert_eq!(last.header(name), None, "{name}: {last:?}");
        }
        assert_eq!(last.header("sec-websocket-protocol"), None);
        assert_eq!(last.header("x-request-id"), Some("r-1"));
        assert_eq!(last.header("user-agent"), Some("feed/1"));
        assert_eq!(last.header("origin"), Some("https://app.example"));
    })
    .await;
}

#[tokio::test]
async fn a_redirect_hook_can_refuse_a_hop_or_add_a_credential_for_the_new_host() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, me| match path {
            "/start" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
            _ => Answer::Accept,
        })
        .await;
        let refused = TokioRuntime::new()
            .connect(
                ConnectOptions::new(format!("ws://{addr}/start")).on_redirect(|hop| {
                    if hop.cross_origin {
                        ws_client::HopDecision::Refuse("only same-origin hops".into())
                    } else {
                        ws_client::HopDecision::Follow
                    }
                }),
            )
            .await
            .unwrap_err();
        assert!(refused.is_redirect(), "{refused:?}");
        assert!(
            refused.to_string().contains("only same-origin hops"),
            "{refused}"
        );
        assert_eq!(log.lock().unwrap().len(), 1, "the hop was not followed");

        let options = ConnectOptions::new(format!("ws://{addr}/start"))
            .header("Authorization", "Bearer for-127")
            .on_redirect(|hop| {
                assert_eq!(hop.status, 302);
                assert_eq!(hop.to.host_str(), Some("localhost"));
                ws_client::HopDecision::FollowWith(
                    hop.request
                        .clone()
                        .header("Authorization", "Bearer for-localhost"),
                )
            });
        let (mut ws, _) = TokioRuntime::new().connect(options).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let seen = log.lock().unwrap().clone();
        assert_eq!(seen[1].header("authorization"), Some("Bearer for-127"));
        assert_eq!(
            seen[2].header("authorization"),
            Some("Bearer for-localhost")
        );
    })
    .await;
}

#[tokio::test]
async fn the_proxy_is_chosen_again_for_every_hop() {
    bounded(async {
        let (addr, log) = scripted_server(None, |path, me| match path {
            "/start" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
            _ => Answer::Accept,
        })
        .await;
        let (proxy, proxy_log) = http_proxy(HttpProxyConfig::default()).await;
        let proxy_url = format!("http://{proxy}");
        let options = ConnectOptions::new(format!("ws://{addr}/start"))
            .proxy_from_env()
            .proxy_env(move |name| match name {
                "http_proxy" => Some(proxy_url.clone()),
                "no_proxy" => Some("localhost".to_owned()),
                _ => None,
            });
        let (mut ws, _) = TokioRuntime::new().connect(options).await.unwrap();
        round_trip(&mut ws, Message::text("hi")).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(paths(&log), ["/start", "/final"]);
        // Only the first hop (127.0.0.1) went through the proxy; localhost is in no_proxy.
        let targets: Vec<String> = proxy_log
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.target.clone())
            .collect();
        assert_eq!(targets, [addr.to_string()]);
    })
    .await;
}
