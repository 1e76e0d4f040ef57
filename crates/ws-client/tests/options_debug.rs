//! `ConnectOptions`' `Debug` output and its errors never show secrets: sensitive header
//! values, headers marked with `sensitive_header`, URL and proxy URL passwords.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use ws_client::options::ConnectOptions;
use ws_handshake::Target;

/// Every kind of secret header, a URL password and a proxy URL with a password.
fn sendable_options(proxy: &str) -> ConnectOptions {
    ConnectOptions::new("ws://user:s3cret-e@host/")
        .header("Authorization", "Bearer s3cret-a")
        .header("Cookie", "sid=s3cret-b")
        .header("X-Api-Key", "s3cret-c")
        .sensitive_header("X-Custom", "s3cret-d")
        .header("User-Agent", "visible-agent")
        .proxy_url(proxy)
}

/// The same plus a `Proxy-Authorization` line (refused when the request is built).
fn secret_options(proxy: &str) -> ConnectOptions {
    sendable_options(proxy).raw_header("Proxy-Authorization: Basic s3cret-r")
}

#[test]
fn connect_options_debug_hides_secrets_keeps_names() {
    for proxy in [
        "http://puser:s3cret-f@127.0.0.1:3128",
        "socks5://suser:s3cret-g@127.0.0.1:1080",
        // Invalid (port out of range): shown redacted as text.
        "socks5://suser:s3cret-g@127.0.0.1:99999",
    ] {
        let options = secret_options(proxy);
        for text in [format!("{options:?}"), format!("{options:#?}")] {
            assert!(!text.contains("s3cret"), "secret leaked: {text}");
            for name in [
                "Authorization",
                "Cookie",
                "X-Api-Key",
                "X-Custom",
                "Proxy-Authorization",
                "User-Agent",
            ] {
                assert!(text.contains(name), "{name} missing: {text}");
            }
            // Non-secret values, user names and hosts stay visible.
            assert!(text.contains("visible-agent"), "{text}");
            assert!(text.contains("ws://user:***@host/"), "{text}");
            assert!(text.contains("user:***@127.0.0.1"), "{text}");
        }
    }
}

#[test]
fn sensitive_header_is_sent_like_header() {
    let options = sendable_options("http://puser:s3cret-f@127.0.0.1:3128");
    let request = options.build_request().unwrap();
    let head = std::str::from_utf8(request.as_bytes()).unwrap();
    for line in [
        "\r\nAuthorization: Bearer s3cret-a\r\n",
        "\r\nCookie: sid=s3cret-b\r\n",
        "\r\nX-Api-Key: s3cret-c\r\n",
        "\r\nX-Custom: s3cret-d\r\n",
    ] {
        assert!(head.contains(line), "{line:?} not sent: {head}");
    }
    // A Proxy-Authorization header is refused, without echoing it.
    let err = secret_options("http://puser:s3cret-f@127.0.0.1:3128")
        .build_request()
        .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    // The proxy's credentials are still usable.
    let target = Target {
        host: "host".into(),
        port: 80,
        secure: false,
    };
    let proxy = options.proxy_for(&target).unwrap().unwrap();
    assert_eq!(proxy.credentials().unwrap().password(), "s3cret-f");
}

#[test]
fn request_builder_errors_hide_passwords() {
    let options = ConnectOptions::new("ws://user:s3cret-h@[bad");
    let err = options.request_builder().unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("s3cret"), "secret leaked: {text}");
        assert!(text.contains("user:***@"), "{text}");
    }
    let err = options
        .request_builder_for("wss://user:s3cret-i@exa mple.com/")
        .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");

    let options = ConnectOptions::new("ws://host/").proxy_url("socks5://suser:s3cret-j@[bad:1080");
    let target = Target {
        host: "host".into(),
        port: 80,
        secure: false,
    };
    let err = options.proxy_for(&target).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("s3cret"), "secret leaked: {text}");
    }
}
