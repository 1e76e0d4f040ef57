//! A build without a TLS library (`cargo test -p ws-tokio`: default features, `deflate`
//! only) fails `wss://` with an error saying which feature to enable. Built together with
//! a crate that turns TLS on (cargo unifies the features), the same URL gets as far as the
//! TLS handshake instead.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::time::Duration;

use ws_client::error::Step;
use ws_client::options::ConnectOptions;
use ws_client::tls::TlsBackend;

#[tokio::test]
async fn wss_without_a_tls_library_says_which_feature_to_enable() {
    // A listener, so the TCP step succeeds and TLS is what fails; it never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ConnectOptions::new(format!("wss://127.0.0.1:{port}/"))
        .open_timeout(Some(Duration::from_millis(500)));
    let err = tokio::time::timeout(Duration::from_secs(10), ws_tokio::connect_with(options))
        .await
        .expect("bounded by the open timeout")
        .unwrap_err();
    assert_eq!(err.step(), Some(Step::Tls), "{err:?}");
    match TlsBackend::default_for_build() {
        None => {
            let text = err.to_string();
            assert!(text.contains("this build has no TLS library"), "{text}");
            assert!(
                text.contains("enable the `rustls` or `native-tls` feature"),
                "{text}"
            );
            assert_eq!(
                err.io_error().map(std::io::Error::kind),
                Some(std::io::ErrorKind::Unsupported),
                "{err:?}"
            );
        }
        Some(backend) => assert!(err.is_timeout(), "{backend}: {err:?}"),
    }
}
