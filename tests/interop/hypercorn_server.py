"""HTTP/2 interop peer for `cargo xtask interop`: Hypercorn serving an ASGI WebSocket echo app.

Usage: hypercorn_server.py --mode MODE [--tls-cert CERT.pem --tls-key KEY.pem]

Binds 127.0.0.1 on a free port itself (handed to Hypercorn as `fd://`) and prints
`LISTENING <port> hypercorn <version>` on stdout. With a certificate and key it serves TLS
with ALPN `h2, http/1.1` (Hypercorn's default): WebSockets over HTTP/2 by extended CONNECT
(RFC 8441) or over HTTP/1.1. Without, it serves plaintext: HTTP/1.1, or HTTP/2 for a client
that starts with the HTTP/2 preface (h2c with prior knowledge). Exits when its standard
input closes (so it never outlives `cargo xtask interop`), or when killed.

Every text and binary message is echoed back unchanged, except two text commands:

- `aiows:whoami`  answers `aiows:whoami http=<scope http_version> client=<client TCP port>`:
  WebSockets that share one HTTP/2 connection report `http=2` and the same port.
- `aiows:stats`   answers `aiows:stats received=R compressed=C`: R data messages received
  on this WebSocket so far (this command included), C of them compressed (RSV1 set).

Modes (Hypercorn's permessage-deflate has no settings, so only two):

- `default`         Hypercorn's own negotiation (wsproto's PerMessageDeflate, default
                    parameters; it compresses every message)
- `no-compression`  the client's extension offer is ignored: no permessage-deflate
"""

import argparse
import asyncio
import importlib.metadata
import socket
import sys
import threading

from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

MODES = ("default", "no-compression")

# Count compressed data messages per WebSocket: ASGI does not expose RSV1, so the
# extension's end-of-frame hook records every final frame of a compressed message on the
# extension (its header hook can run twice for one frame whose header arrives in pieces),
# and the stream is put in the app's scope to find it.
_original_inbound_complete = PerMessageDeflate.frame_inbound_complete


def _counting_inbound_complete(self, proto, fin):
    if fin and self._inbound_is_compressible and self._inbound_compressed:
        self.aiows_compressed = getattr(self, "aiows_compressed", 0) + 1
    return _original_inbound_complete(self, proto, fin)


PerMessageDeflate.frame_inbound_complete = _counting_inbound_complete

_original_handle = ws_stream.WSStream.handle


async def _handle_keeping_stream(self, event):
    await _original_handle(self, event)
    scope = getattr(self, "scope", None)
    if scope is not None and "aiows.stream" not in scope:
        scope["aiows.stream"] = self


ws_stream.WSStream.handle = _handle_keeping_stream


def decline_extensions():
    """Mode `no-compression`: the handshake forgets the client's extension offer."""
    original_init = ws_stream.Handshake.__init__

    def init(self, headers, http_version):
        original_init(self, headers, http_version)
        self.extensions = None

    ws_stream.Handshake.__init__ = init


def compressed_count(scope):
    stream = scope.get("aiows.stream")
    connection = getattr(stream, "connection", None)
    proto = getattr(connection, "_proto", None)
    return sum(
        getattr(ext, "aiows_compressed", 0)
        for ext in getattr(proto, "extensions", [])
        if isinstance(ext, PerMessageDeflate)
    )


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"WebSockets only\n"})
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    subprotocols = scope.get("subprotocols") or []
    await send(
        {"type": "websocket.accept", "subprotocol": subprotocols[0] if subprotocols else None}
    )
    received = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        received += 1
        text = message.get("text")
        if text == "aiows:whoami":
            client = scope.get("client") or ("?", 0)
            await send(
                {
                    "type": "websocket.send",
                    "text": "aiows:whoami http=%s client=%s"
                    % (scope.get("http_version"), client[1]),
                }
            )
        elif text == "aiows:stats":
            await send(
                {
                    "type": "websocket.send",
                    "text": "aiows:stats received=%d compressed=%d"
                    % (received, compressed_count(scope)),
                }
            )
        elif text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


def watch_stdin(loop, stop):
    sys.stdin.read()
    loop.call_soon_threadsafe(stop.set)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    if args.mode == "no-compression":
        decline_extensions()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]

    config = Config()
    config.bind = ["fd://%d" % sock.fileno()]
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = 1.0
    # The interop client sends messages of up to ~1 MiB; Hypercorn's default cap is 16 MiB.
    config.websocket_max_message_size = 64 << 20
    if args.tls_cert:
        config.certfile = args.tls_cert
        config.keyfile = args.tls_key

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
    print(
        "LISTENING %d hypercorn %s" % (port, importlib.metadata.version("hypercorn")),
        flush=True,
    )
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    asyncio.run(main())
