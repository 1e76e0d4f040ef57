//! The functions every runtime crate offers (`connect`, `connect_with`, `connect_on`,
//! `accept` and the `WebSocket` type), written once: each runtime crate invokes
//! [`runtime_api!`](crate::runtime_api) with its [`Runtime`](crate::rt::Runtime) and how
//! it adapts a stream of its own I/O traits to `futures-io`.

/// Defines a runtime crate's top-level API over its [`Runtime`](crate::rt::Runtime) type
/// (which must implement `Default`), as `ws-tokio` does:
///
/// ```text
/// ws_client::runtime_api! {
///     runtime = TokioRuntime,
///     name = "tokio",
///     // what `connect_on` and `accept` take, and the futures-io stream they run on
///     stream = S where [tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin] => TokioIo<S>,
///     wrap = TokioIo::new,
/// }
/// // a runtime whose streams are futures-io streams already:
/// ws_client::runtime_api! { runtime = SmolRuntime, name = "smol" }
/// ```
#[macro_export]
macro_rules! runtime_api {
    // A runtime whose streams already are `futures-io` streams.
    (runtime = $rt:ty, name = $name:literal $(,)?) => {
        $crate::runtime_api! {
            runtime = $rt,
            name = $name,
            stream = S where [::futures_io::AsyncRead + ::futures_io::AsyncWrite + Unpin] => S,
            wrap = ::core::convert::identity,
        }
    };
    (
        runtime = $rt:ty,
        name = $name:literal,
        stream = $S:ident where [$($bound:tt)+] => $io:ty,
        wrap = $wrap:expr $(,)?
    ) => {
        #[doc = concat!("The stream a WebSocket opened on ", $name, " runs on: its TCP stream, plain or in TLS.")]
        pub type Stream = $crate::tls::MaybeTlsStream<<$rt as $crate::rt::Runtime>::Tcp>;

        #[doc = concat!("A WebSocket opened by [`connect`] / [`connect_with`] on ", $name, ": plain or TLS over its TCP stream.")]
        pub type WebSocket = $crate::stream::WebSocket<Stream>;

        #[doc = concat!("Opens a WebSocket to `url` (`ws://` or `wss://`) on ", $name, " with the default options:")]
        /// 10 s connect and open timeouts, keepalive pings, permessage-deflate offered
        /// (feature `deflate`), the build's TLS library with the system's trust roots.
        ///
        /// Errors name the failing step and its address, and say what to check: the DNS
        /// lookup (`DNS lookup of host failed: ...`), the TCP connect (`TCP connect to
        /// host:port failed: ...`), TLS, the HTTP upgrade, or a timeout
        /// ([`Error::step`]($crate::Error::step), [`Error::target`]($crate::Error::target)).
        ///
        /// # Cancel safety
        /// Dropping the future abandons the attempt and closes whatever was opened.
        pub async fn connect(url: &str) -> ::core::result::Result<WebSocket, $crate::Error> {
            connect_with($crate::ConnectOptions::new(url))
                .await
                .map(|(ws, _)| ws)
        }

        /// Opens a WebSocket as `options` say (headers, Origin, subprotocols, limits,
        /// timeouts, keepalive, compression, proxy, redirects, TLS connector) and returns it
        /// with the server's handshake response.
        ///
        /// # Cancel safety
        /// Dropping the future abandons the attempt and closes whatever was opened.
        pub async fn connect_with(
            options: $crate::ConnectOptions,
        ) -> ::core::result::Result<(WebSocket, $crate::ws_handshake::Response), $crate::Error> {
            $crate::connect::connect(&<$rt as ::core::default::Default>::default(), &options).await
        }

        /// Runs the client opening handshake over a stream you connected yourself (TLS
        /// already done for `wss://`). The URL in `options` still gives the `Host` header
        /// and the path; the open timeout, keepalive and close timeout run on this
        /// runtime's timer.
        ///
        /// # Cancel safety
        /// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the
        /// stream.
        pub async fn connect_on<$S>(
            stream: $S,
            options: $crate::ConnectOptions,
        ) -> ::core::result::Result<
            ($crate::stream::WebSocket<$io>, $crate::ws_handshake::Response),
            $crate::Error,
        >
        where
            $S: $($bound)+,
        {
            let timer = $crate::rt::Runtime::timer(&<$rt as ::core::default::Default>::default());
            $crate::connect::connect_on($wrap(stream), &options, Some(timer)).await
        }

        /// Accepts a WebSocket in our server role on a stream (from a TCP listener, a TLS
        /// acceptor, an in-memory pipe): reads and checks the client's request, runs the
        /// [`ServerOptions`]($crate::ServerOptions) check hook, answers `101` (or an HTTP
        /// error, which is then returned as the error), and returns the open WebSocket.
        ///
        /// # Cancel safety
        /// Not cancel safe: dropping the future leaves the stream mid-handshake; drop the
        /// stream.
        pub async fn accept<$S>(
            stream: $S,
            options: &$crate::ServerOptions,
        ) -> ::core::result::Result<$crate::stream::WebSocket<$io>, $crate::Error>
        where
            $S: $($bound)+,
        {
            let timer = $crate::rt::Runtime::timer(&<$rt as ::core::default::Default>::default());
            $crate::handshake::server_accept($wrap(stream), options, Some(timer)).await
        }
    };
}
