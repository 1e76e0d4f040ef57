//! Redirects of the opening handshake on loopback: chains (absolute and relative
//! `Location`), loops, the wss→ws refusal, ws→wss, credentials dropped on a host change,
//! the redirect hook, the proxy chosen again per hop.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use aiowebsocket::ws_client::reconnect::is_permanent;
use aiowebsocket::{
    builder, CloseCode, Config, HandshakeError, HopDecision, Message, RedirectError,
    RedirectPolicy, Role, WebSocketStream,
};
use smol::io::AsyncWriteExt;

use crate::proxies::{http_proxy, HttpProxyConfig};
use crate::runtimes::TestRuntime;
use crate::servers::{echo, listen, read_request, server_stream, ServerStream, ServerTls};
use crate::support::{round_trip, Backend, Ca};

/// A request the scripted server received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The `Host` header.
    pub host: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted server answers to a request.
pub enum Answer {
    /// `status` with this `Location`.
    Redirect(u16, String),
    /// Accepts the upgrade and echoes.
    Accept,
}

/// The requests a scripted server received.
pub type SeenLog = Arc<Mutex<Vec<Seen>>>;

/// A WebSocket server that answers each request as `route(path, its own address)` says and
/// records every request; TLS when `tls` is given.
pub fn scripted_server<F>(tls: Option<ServerTls>, route: F) -> (SocketAddr, SeenLog)
where
    F: Fn(&str, SocketAddr) -> Answer + Send + Sync + 'static,
{
    let log = SeenLog::default();
    let seen = Arc::clone(&log);
    let route = Arc::new(route);
    let me = Arc::new(OnceLock::new());
    let addr = {
        let me = Arc::clone(&me);
        listen(move |tcp| {
            let (tls, seen, route, me) = (tls.clone(), seen.clone(), route.clone(), me.clone());
            async move {
                let Ok(stream) = server_stream(tcp, tls.as_ref()).await else {
                    return;
                };
                let me: SocketAddr = *me.get().expect("the address is known");
                let _ = serve_scripted(stream, |path| route(path, me), seen).await;
            }
        })
    };
    me.set(addr).expect("set once");
    (addr, log)
}

async fn serve_scripted(
    mut stream: ServerStream,
    route: impl Fn(&str) -> Answer,
    seen: SeenLog,
) -> io::Result<()> {
    let Some(request) = read_request(&mut stream).await else {
        return Ok(());
    };
    let headers = request
        .headers()
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    seen.lock().expect("log").push(Seen {
        host: request.header("host").unwrap_or_default().to_owned(),
        path: request.path().to_owned(),
        headers,
    });
    match route(request.path()) {
        Answer::Redirect(status, location) => {
            let answer = format!(
                "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).await?;
            stream.close().await?;
        }
        Answer::Accept => {
            request.validate().expect("a valid upgrade request");
            stream.write_all(&request.accept(None, None)).await?;
            echo(WebSocketStream::from_raw(
                stream,
                Role::Server,
                Config::default(),
                None,
            ))
            .await;
        }
    }
    Ok(())
}

fn paths(log: &SeenLog) -> Vec<String> {
    log.lock().unwrap().iter().map(|s| s.path.clone()).collect()
}

pub async fn a_chain_of_absolute_and_relative_redirects_is_followed<R: TestRuntime>() {
    let (addr, log) = scripted_server(None, |path, me| match path {
        // Absolute, with the http scheme (mapped to ws).
        "/start" => Answer::Redirect(301, format!("http://{me}/v1/middle")),
        // Relative to /v1/middle.
        "/v1/middle" => Answer::Redirect(307, "../final?x=1".into()),
        _ => Answer::Accept,
    });
    let (mut ws, response) = R::connect_with_response(builder(format!("ws://{addr}/start")))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    round_trip(&mut ws, Message::text("arrived")).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(paths(&log), ["/start", "/v1/middle", "/final?x=1"]);
}

pub async fn a_redirect_loop_ends_at_the_hop_limit_naming_the_chain<R: TestRuntime>() {
    let (addr, log) = scripted_server(None, |path, _| match path {
        "/a" => Answer::Redirect(302, "/b".into()),
        _ => Answer::Redirect(302, "/a".into()),
    });
    let err = R::connect(builder(format!("ws://{addr}/a")))
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    match err.handshake_error() {
        Some(HandshakeError::Redirect(RedirectError::TooManyHops { max_hops, chain })) => {
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
    assert!(is_permanent(&err));

    // A smaller limit stops sooner.
    log.lock().unwrap().clear();
    let b = builder(format!("ws://{addr}/a")).redirects(RedirectPolicy::limited(1));
    let err = R::connect(b).await.unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    assert_eq!(paths(&log), ["/a", "/b"]);
}

pub async fn no_redirects_reports_the_redirect<R: TestRuntime>() {
    let (addr, log) = scripted_server(None, |path, _| match path {
        "/old" => Answer::Redirect(308, "/new".into()),
        _ => Answer::Accept,
    });
    let err = R::connect(builder(format!("ws://{addr}/old")).no_redirects())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(308));
    match err.handshake_error() {
        Some(HandshakeError::Redirect(RedirectError::Redirected { status, location })) => {
            assert_eq!((*status, location.as_deref()), (308, Some("/new")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(paths(&log), ["/old"]);
}

pub async fn a_redirect_from_wss_to_ws_is_refused<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("suite CA");
    let tls = B::server(&ca.server(&["localhost"]));
    let (addr, log) = scripted_server(Some(tls), |path, me| match path {
        "/secure" => Answer::Redirect(302, format!("ws://localhost:{}/plain", me.port())),
        _ => Answer::Accept,
    });
    let b = builder(format!("wss://localhost:{}/secure", addr.port()));
    let err = R::connect(B::trusting(b, &ca, None)).await.unwrap_err();
    assert!(
        matches!(
            err.handshake_error(),
            Some(HandshakeError::Redirect(RedirectError::Downgrade { .. }))
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("wss to ws"), "{err}");
    assert!(is_permanent(&err));
    assert_eq!(paths(&log), ["/secure"]);
}

pub async fn a_redirect_from_ws_to_wss_opens_tls_on_the_new_hop<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("suite CA");
    let tls = B::server(&ca.server(&["localhost"]));
    let (secure, secure_log) = scripted_server(Some(tls), |_, _| Answer::Accept);
    let port = secure.port();
    let (plain, plain_log) = scripted_server(None, move |_, _| {
        Answer::Redirect(302, format!("wss://localhost:{port}/upgraded"))
    });
    let b = builder(format!("ws://{plain}/start"));
    let mut ws = R::connect(B::trusting(b, &ca, None)).await.unwrap();
    assert_eq!(ws.get_ref().tls().map(|t| t.backend()), Some(B::KIND));
    round_trip(&mut ws, Message::text("secure now")).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(paths(&plain_log), ["/start"]);
    assert_eq!(paths(&secure_log), ["/upgraded"]);
}

pub async fn no_credential_reaches_another_origin<R: TestRuntime>() {
    let (addr, log) = scripted_server(None, |path, me| match path {
        // Same origin, relative: everything kept.
        "/start" => Answer::Redirect(302, "/same".into()),
        // 127.0.0.1 → localhost: another host, same port.
        "/same" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
        _ => Answer::Accept,
    });
    let b = builder(format!("ws://user:pw-s3cret@{addr}/start"))
        .header("Authorization", "Bearer s3cret")
        .header("Cookie", "session=abc")
        .header("X-Api-Key", "k-s3cret")
        .header("X-Token", "t-s3cret")
        .header("X-Trace", "t-1")
        .header("User-Agent", "feed/1")
        .portable_header("X-Request-Id", "r-1")
        .subprotocol("bearer.s3cret")
        .origin("https://app.example");
    let mut ws = R::connect(b).await.unwrap();
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
}

pub async fn a_redirect_hook_can_refuse_a_hop_or_add_a_credential_for_the_new_host<
    R: TestRuntime,
>() {
    let (addr, log) = scripted_server(None, |path, me| match path {
        "/start" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
        _ => Answer::Accept,
    });
    let b = builder(format!("ws://{addr}/start")).on_redirect(|hop| {
        if hop.cross_origin {
            HopDecision::Refuse("only same-origin hops".into())
        } else {
            HopDecision::Follow
        }
    });
    let refused = R::connect(b).await.unwrap_err();
    assert!(refused.is_redirect(), "{refused:?}");
    assert!(
        refused.to_string().contains("only same-origin hops"),
        "{refused}"
    );
    assert_eq!(log.lock().unwrap().len(), 1, "the hop was not followed");

    let b = builder(format!("ws://{addr}/start"))
        .header("Authorization", "Bearer for-127")
        .on_redirect(|hop| {
            assert_eq!(hop.status, 302);
            assert_eq!(hop.to.host_str(), Some("localhost"));
            HopDecision::FollowWith(
                hop.request
                    .clone()
                    .header("Authorization", "Bearer for-localhost"),
            )
        });
    let mut ws = R::connect(b).await.unwrap();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen[1].header("authorization"), Some("Bearer for-127"));
    assert_eq!(
        seen[2].header("authorization"),
        Some("Bearer for-localhost")
    );
}

pub async fn the_proxy_is_chosen_again_for_every_hop<R: TestRuntime>() {
    let (addr, log) = scripted_server(None, |path, me| match path {
        "/start" => Answer::Redirect(302, format!("ws://localhost:{}/final", me.port())),
        _ => Answer::Accept,
    });
    let (proxy, proxy_log) = http_proxy(HttpProxyConfig::default());
    let proxy_url = format!("http://{proxy}");
    let b = builder(format!("ws://{addr}/start"))
        .proxy_from_env()
        .options(|o| {
            o.proxy_env(move |name| match name {
                "http_proxy" => Some(proxy_url.clone()),
                "no_proxy" => Some("localhost".to_owned()),
                _ => None,
            })
        });
    let mut ws = R::connect(b).await.unwrap();
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
}
