//! Our client, on tokio and on async-std, with default options (`connect_with` of
//! `ConnectOptions::new(url)`, the same as `connect(url)`): the same `EchoConn` and
//! `RecvConn` contracts as the peers.

use crate::clients::{expect_echo, EchoConn, RecvConn, Spec};

use aiowebsocket::async_std as ours_async_std;
use aiowebsocket::tokio as ours_tokio;
use aiowebsocket::{ConnectOptions, Message, Utf8Bytes};

macro_rules! ours_conn {
    ($name:ident, $rt:ident, $what:literal) => {
        #[doc = concat!("aiowebsocket on ", $what, " (default options).")]
        pub(crate) struct $name {
            pub(crate) ws: $rt::WebSocket,
            pub(crate) msg: Message,
            len: usize,
            text: bool,
        }

        impl EchoConn for $name {
            async fn open(spec: Spec) -> Result<Self, String> {
                // Default options (permessage-deflate offered); the deflate cases also check
                // that the server accepted it.
                let (ws, response) = $rt::connect_with(ConnectOptions::new(spec.url()))
                    .await
                    .map_err(|e| format!(concat!("ours (", $what, ") connect: {}"), e))?;
                let negotiated = response
                    .header("sec-websocket-extensions")
                    .is_some_and(|v| v.contains("permessage-deflate"));
                if spec.deflate && !negotiated {
                    return Err(concat!(
                        "ours (",
                        $what,
                        "): the server did not accept permessage-deflate"
                    )
                    .into());
                }
                let len = spec.payload.len();
                let msg = if spec.text {
                    let text = Utf8Bytes::try_from(spec.payload).map_err(|e| e.to_string())?;
                    Message::text(text)
                } else {
                    Message::binary(spec.payload)
                };
                Ok($name {
                    ws,
                    msg,
                    len,
                    text: spec.text,
                })
            }

            async fn echo(&mut self) -> Result<(), String> {
                self.ws
                    .send(self.msg.clone())
                    .await
                    .map_err(|e| format!(concat!("ours (", $what, ") send: {}"), e))?;
                expect_echo(self.next_data().await?, self.text, self.len)
            }
        }

        impl RecvConn for $name {
            async fn next_data(&mut self) -> Result<(bool, usize), String> {
                loop {
                    match self.ws.recv().await {
                        Some(Ok(m)) if m.is_ping() || m.is_pong() => continue,
                        Some(Ok(m)) if m.is_data() => return Ok((m.is_text(), m.len())),
                        other => return Err(format!("expected a data message, got {other:?}")),
                    }
                }
            }
        }
    };
}

ours_conn!(OursTokioConn, ours_tokio, "tokio");
ours_conn!(OursAsyncStdConn, ours_async_std, "async-std");
