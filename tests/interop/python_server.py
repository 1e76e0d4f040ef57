"""Interop peer for `cargo xtask interop`: a Python `websockets` server with permessage-deflate.

Usage: python_server.py --mode MODE [--tls-cert CERT.pem --tls-key KEY.pem]

Binds 127.0.0.1 on a free port and prints `LISTENING <port>` on stdout; with a certificate
and key it serves wss:// (TLS) instead of ws://. Exits when its
standard input closes (so it never outlives `cargo xtask interop`), or when killed.

Every text and binary message is echoed back unchanged, except text commands starting
with `aiows:`:

- `aiows:burst N`  sends N server-initiated JSON-like text messages (`burst_text(i)`), one
  compressible binary message of BURST_BINARY_LEN bytes (`burst_binary()`), one text
  message in BURST_FRAGMENTS fragments (`burst_fragment(j)`), then the text
  `aiows:burst-done`.
- `aiows:stats`    answers `aiows:stats received=R compressed=C`: R data messages received
  on this connection so far (this command included), C of them compressed (RSV1 set).

Modes (the server side of the negotiation; the client knows the same names):

- `default`              websockets' own default (`compression="deflate"`: 12-bit windows
                         both ways, memLevel 5)
- `no-context-takeover`  requires server_no_context_takeover and client_no_context_takeover
- `small-window`         server_max_window_bits=9, client_max_window_bits=8
- `client-offer`         the library defaults; the client's offer decides
- `no-compression`       no permessage-deflate at all
"""

import argparse
import asyncio
import ssl
import sys
import threading

import websockets
from websockets.asyncio.server import serve
from websockets.extensions import permessage_deflate as pmd
from websockets.frames import Opcode

BURST_BINARY_LEN = 1_572_864
BURST_FRAGMENTS = 8
MAX_SIZE = 64 << 20


def burst_text(i):
    return (
        '{"seq":%d,"kind":"burst","note":"server \u2192 client \u2713 \u00fcn\u00efc\u00f6d\u00e9","fill":"%s"}'
        % (i, "ab" * (i % 40))
    )


def burst_binary():
    parts = []
    size = 0
    k = 0
    while size < BURST_BINARY_LEN:
        line = b"%07d: the quick brown fox jumps over the lazy dog\n" % k
        parts.append(line)
        size += len(line)
        k += 1
    return b"".join(parts)[:BURST_BINARY_LEN]


def burst_fragment(j):
    return "fragment %d: " % j + "\u2248 fragmented and compressed \u2248 " * 200


# Count compressed data messages per connection: websockets does not expose RSV1, so the
# extension's decode step (which sees every frame before it is inflated) records it.
_original_decode = pmd.PerMessageDeflate.decode


def _counting_decode(self, frame, *, max_size=None):
    if frame.opcode in (Opcode.TEXT, Opcode.BINARY) and frame.rsv1:
        self.aiows_compressed = getattr(self, "aiows_compressed", 0) + 1
    return _original_decode(self, frame, max_size=max_size)


pmd.PerMessageDeflate.decode = _counting_decode


def compressed_count(ws):
    return sum(
        getattr(ext, "aiows_compressed", 0)
        for ext in ws.protocol.extensions
        if isinstance(ext, pmd.PerMessageDeflate)
    )


def server_options(mode):
    if mode == "default":
        return {"compression": "deflate"}
    if mode == "no-context-takeover":
        factory = pmd.ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True
        )
    elif mode == "small-window":
        factory = pmd.ServerPerMessageDeflateFactory(
            server_max_window_bits=9, client_max_window_bits=8
        )
    elif mode == "client-offer":
        factory = pmd.ServerPerMessageDeflateFactory()
    elif mode == "no-compression":
        return {"compression": None}
    else:
        raise SystemExit("unknown mode %r" % mode)
    return {"compression": None, "extensions": [factory]}


async def handler(ws):
    received = 0
    async for message in ws:
        received += 1
        if isinstance(message, str) and message.startswith("aiows:"):
            command = message[len("aiows:"):].split()
            if command[:1] == ["burst"] and len(command) == 2 and command[1].isdigit():
                for i in range(min(int(command[1]), 100_000)):
                    await ws.send(burst_text(i))
                await ws.send(burst_binary())
                # An iterable is sent as one fragmented message, each fragment compressed.
                await ws.send([burst_fragment(j) for j in range(BURST_FRAGMENTS)])
                await ws.send("aiows:burst-done")
            elif command == ["stats"]:
                await ws.send(
                    "aiows:stats received=%d compressed=%d" % (received, compressed_count(ws))
                )
            else:
                await ws.send("aiows:error unknown command %r" % message)
        else:
            await ws.send(message)


def watch_stdin(loop, stop):
    sys.stdin.read()
    loop.call_soon_threadsafe(stop.set_result, None)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    options = server_options(args.mode)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options["ssl"] = context
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    async with serve(handler, "127.0.0.1", 0, max_size=MAX_SIZE, **options) as server:
        port = server.sockets[0].getsockname()[1]
        print("LISTENING %d websockets %s" % (port, websockets.version.version), flush=True)
        threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
        await stop


if __name__ == "__main__":
    asyncio.run(main())
