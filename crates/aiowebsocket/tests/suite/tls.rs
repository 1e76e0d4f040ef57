//! wss:// with each TLS library (`B`): a private CA trusted through the builder and through
//! `ConnectOptions::tls`, an untrusted certificate, a plain server behind a wss:// URL, a
//! client certificate (mutual TLS), a silent server. Each test's server speaks the same
//! library as the client, except the mutual TLS one (rustls: native-tls cannot ask for a
//! client certificate).

use std::time::Duration;

use aiowebsocket::ws_client::reconnect::is_permanent;
use aiowebsocket::{builder, CloseCode, ConnectOptions, Error, Message, ServerOptions, Step};

use crate::runtimes::TestRuntime;
use crate::servers::{
    echo_server, echo_server_seeing_certificates, plain_http_server, silent_server,
};
use crate::support::{
    noise, round_trip, server_requiring_client_certificates, Backend, Ca, NativeTls, Rustls,
};

pub async fn wss_with_a_private_ca<R: TestRuntime, B: Backend>() {
    let ca = Ca::new("suite CA");
    let leaf = ca.server(&["localhost", "127.0.0.1"]);
    let addr = echo_server(ServerOptions::new(), Some(B::server(&leaf)));
    let port = addr.port();
    // By address through the builder's setter; by name through `ConnectOptions::tls` and the
    // runtime module's `connect_with`.
    let b = B::trusting(builder(format!("wss://127.0.0.1:{port}/")), &ca, None);
    assert_eq!(b.tls_backend(), Some(B::KIND));
    let by_address = R::connect_with_response(b).await.unwrap();
    let options =
        ConnectOptions::new(format!("wss://localhost:{port}/")).tls(B::connector(&ca, None));
    let by_name = R::connect_with(options).await.unwrap();
    for (mut ws, response) in [by_address, by_name] {
        assert_eq!(response.status(), 101);
        let tls = ws.get_ref().tls().expect("a TLS session");
        assert_eq!(tls.backend(), B::KIND);
        round_trip(&mut ws, Message::text("over TLS")).await;
        round_trip(&mut ws, Message::binary(noise(1 << 20, 9))).await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    }
}

/// The checks every "certificate not accepted" error passes, whatever made it.
fn assert_untrusted<B: Backend>(err: &Error, port: u16) {
    assert!(
        err.is_tls() && err.is_tls_certificate() && !err.is_io(),
        "{err:?}"
    );
    assert_eq!(err.step(), Some(Step::Tls));
    assert_eq!(err.target(), Some(format!("localhost:{port}").as_str()));
    let text = err.to_string();
    let start = format!("TLS handshake with localhost failed ({})", B::NAME);
    assert!(text.starts_with(&start), "{text}");
    // The advice names this library's setting, both ways a connection is built.
    assert!(
        text.contains(&format!("aiowebsocket::builder(url){}", B::SETTER))
            && text.contains(&format!("ConnectOptions::tls({})", B::CONNECTOR)),
        "{text}"
    );
    let other = [NativeTls::SETTER, Rustls::SETTER]
        .into_iter()
        .find(|s| *s != B::SETTER)
        .expect("two libraries");
    assert!(!text.contains(other), "{text}");
    // Retrying cannot fix a certificate.
    assert!(is_permanent(err), "{err:?}");
}

pub async fn an_untrusted_certificate_is_a_certificate_error_with_advice<
    R: TestRuntime,
    B: Backend,
>() {
    let ca = Ca::new("suite CA");
    let addr = echo_server(
        ServerOptions::new(),
        Some(B::server(&ca.server(&["localhost"]))),
    );
    let url = format!("wss://localhost:{}/", addr.port());

    // The system's roots do not have the private CA; nor does another private CA.
    let stranger = Ca::new("another CA");
    for b in [
        B::system_roots(builder(&url)),
        B::trusting(builder(&url), &stranger, None),
    ] {
        let err = R::connect(b.clone()).await.unwrap_err();
        assert_untrusted::<B>(&err, addr.port());
        // A reconnecting client gives up at once.
        let err = R::reconnecting(b).connect().await.unwrap_err();
        assert_untrusted::<B>(&err, addr.port());
    }

    // Trusted: no error at all.
    let ws = R::connect(B::trusting(builder(&url), &ca, None)).await;
    ws.unwrap().close(CloseCode::NORMAL, "").await.unwrap();
}

pub async fn a_plain_server_behind_a_wss_url_is_a_tls_error<R: TestRuntime, B: Backend>() {
    // It answers the ClientHello in plain HTTP: a TLS error, but not about a certificate, and
    // worth retrying (the server may be restarting with TLS).
    let addr = plain_http_server();
    let ca = Ca::new("suite CA");
    let b = B::trusting(
        builder(format!("wss://localhost:{}/", addr.port())),
        &ca,
        None,
    );
    let err = R::connect(b).await.unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    assert!(!err.is_tls_certificate(), "{err:?}");
    assert!(!is_permanent(&err), "{err:?}");
    assert_eq!(err.step(), Some(Step::Tls));
    let text = err.to_string();
    let start = format!("TLS handshake with localhost failed ({})", B::NAME);
    assert!(text.starts_with(&start), "{text}");
    assert!(text.contains("use ws:// for a plain server"), "{text}");
}

pub async fn a_client_certificate_is_accepted_by_a_server_requiring_one<
    R: TestRuntime,
    B: Backend,
>() {
    let ca = Ca::new("suite CA");
    let server = ca.server(&["localhost"]);
    let client = ca.client("client.suite.test");
    let tls = server_requiring_client_certificates(&server, &ca);
    let (addr, seen) = echo_server_seeing_certificates(ServerOptions::new(), Some(tls));
    let url = format!("wss://localhost:{}/", addr.port());

    let mut ws = R::connect(B::trusting(builder(&url), &ca, Some(&client)))
        .await
        .unwrap();
    round_trip(&mut ws, Message::text("it is me")).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let certificates = seen.lock().unwrap().clone();
    assert_eq!(
        certificates,
        [Some(client.cert_der.to_vec())],
        "the server saw our certificate"
    );

    // Without a certificate, or with one of a CA the server does not trust: refused, and
    // the server's alert is in the message. With TLS 1.3 the client's handshake is over
    // when the server checks the certificate, so the alert comes with the HTTP upgrade;
    // it is still reported as the TLS certificate failure it is: permanent, with advice.
    let stranger = Ca::new("another CA").client("client.suite.test");
    for identity in [None, Some(&stranger)] {
        let err = R::connect(B::trusting(builder(&url), &ca, identity))
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(err.step(), Some(Step::Tls), "{err:?}");
        assert!(err.is_tls_certificate(), "{err:?}");
        assert!(is_permanent(&err), "{err:?}");
        let tls = err.tls_error().expect("the backend's TLS error");
        assert_eq!(tls.kind(), aiowebsocket::TlsErrorKind::ClientCertificate);
        let text = err.to_string();
        assert!(text.to_lowercase().contains("alert"), "{text}");
        assert!(text.contains("refused our client certificate"), "{text}");
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "no other WebSocket opened");
}

pub async fn the_tls_step_times_out_on_a_silent_server<R: TestRuntime, B: Backend>() {
    let addr = silent_server();
    let ca = Ca::new("suite CA");
    let b = B::trusting(builder(format!("wss://{addr}/")), &ca, None)
        .open_timeout(Some(Duration::from_millis(200)));
    let err = R::connect(b).await.unwrap_err();
    // The limit reported is the configured one, not what was left after TCP.
    assert_eq!(
        (err.step(), err.timeout_limit()),
        (Some(Step::Tls), Some(Duration::from_millis(200))),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "TLS handshake with {addr} timed out (limit 200 ms)"
        )) && text.contains("speaks TLS on this port"),
        "{text}"
    );
}
