//! Built without the `native-tls` feature, `wss://` fails with an error saying so.
#![cfg(not(feature = "native-tls"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

#[async_std::test]
async fn wss_without_tls_says_which_feature_to_enable() {
    // A listener, so the TCP step succeeds and TLS is what fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = ws_async_std::connect(&format!("wss://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("built without TLS"), "{text}");
    assert!(text.contains("`native-tls` feature"), "{text}");
    match err {
        ws_client::Error::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::Unsupported),
        other => panic!("{other:?}"),
    }
}
