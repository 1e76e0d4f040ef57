//! `--help` texts.

use crate::args::Topic;

/// The help text for `topic`.
pub fn text(topic: Topic) -> &'static str {
    match topic {
        Topic::Client => CLIENT,
        Topic::Serve => SERVE,
    }
}

const CLIENT: &str = "\
aiows - a command-line WebSocket client (and local test server)

USAGE:
    aiows [OPTIONS] URL
    aiows serve [OPTIONS] [ADDR]        (see aiows serve --help)

Connects to URL (ws:// or wss://; ws:// is assumed without a scheme), sends each line
typed on stdin as a message, and prints each message received on stdout, one per line,
flushed at once (so `aiows URL | jq` works). Text messages are printed as they are
(control characters escaped on a terminal, see --raw); binary messages as hex (or base64,
see --binary-out).

At the end of stdin (Ctrl-D, or the end of a pipe) aiows closes with code 1000, keeps
printing what the server sends until its close frame (bounded by the close timeout), and
exits. Ctrl-C closes with 1000 too; a second Ctrl-C quits without waiting.

INPUT:
        --send TEXT           Send TEXT after connecting, before reading stdin
                              (repeatable, sent in order; encoded like stdin lines)
        --no-stdin            Do not read stdin: just print what arrives
    -1, --once                Print the first text or binary message, close, exit 0
                              (the end of stdin does not close then)
        --binary              Send each line's bytes as a binary message
        --base64              Decode each line from base64, send it as binary
        --hex                 Decode each line from hex, send it as binary
                              (spaces and ':' between bytes are allowed)
                              The line ending (\\n or \\r\\n) is never sent. A line that
                              does not decode is reported on stderr and skipped.

OUTPUT:
        --binary-out FORMAT   Print binary messages as hex (default) or base64
        --raw                 Print text messages as they are, even on a terminal
        --escape              Escape control characters even into a pipe or file
                              On a terminal, control characters from the server (C0
                              but tab and newline, DEL, C1) are printed as escapes,
                              \\x1b or \\u{9b}, so the server cannot drive the terminal;
                              piped, messages are printed as they are. The error line,
                              close reasons and -v headers on stderr are escaped when
                              stderr is a terminal (or with --escape)
        --timestamps          Prefix each line with the time it arrived, in UTC:
                              2019-03-04 15:11:25-Client receive: ...
    -v, --verbose             Print the proxy used, the handshake request (as sent)
                              and response headers, and pings, pongs and the close
                              frame, on stderr

CONNECTION:
    -H, --header 'NAME: VALUE'  Add a request header (repeatable)
        --origin ORIGIN       Set the Origin header
        --subprotocol NAME    Offer a subprotocol (repeatable, preferred first)
        --no-compression      Do not offer permessage-deflate
        --max-message-size N  Largest message accepted, after decompression, in bytes;
                              suffixes K, M, G (powers of 1024); 0: no limit.
                              Default 64M
        --connect-timeout S   Bound on DNS + TCP connect, and on the proxy tunnel + TLS +
                              the HTTP upgrade, in seconds (fractions allowed; 0: none).
                              Default 10
        --close-timeout S     Bound on each wait of the closing handshake. Default 10
        --ping-interval S     Send a keepalive ping every S seconds (0: no pings).
                              Default 20
        --ping-timeout S      Fail when a pong takes longer than S seconds (0: never).
                              Default 20
        --ca-file FILE.pem    Also trust the certificates in FILE.pem (repeatable)
        --insecure            Accept any TLS certificate, even invalid or for another
                              host. Only for testing: the connection can be read and
                              changed by anyone on the path

PROXY AND REDIRECTS:
        --proxy URL           Connect through this proxy: http://[user:pass@]host:port
                              (HTTP CONNECT), socks5://[user:pass@]host:port (names
                              resolved here) or socks5h://... (names resolved by the
                              proxy). wss:// stays encrypted end to end through it
        --proxy-from-env      Choose the proxy as curl does: HTTPS_PROXY for wss://,
                              HTTP_PROXY for ws://, else ALL_PROXY (lowercase names
                              too), none for the hosts in NO_PROXY. Without this option
                              these variables are ignored
        --no-redirects        Do not follow redirects: a 3xx answer is an error
        --max-redirects N     Follow at most N redirects (0: none). Default 5. Never
                              from wss:// to ws://; Authorization and Cookie headers
                              are dropped when the host changes

    -h, --help                Print this help
    -V, --version             Print the version

EXIT CODES:
    0    the connection closed normally (code 1000 or 1001, or no status code)
    1    the connection could not be opened: DNS, refused, proxy, TLS, the server
         refused the handshake (HTTP status other than 101), too many redirects, or a
         connect timeout
    2    a mistake on the command line (or an unreadable --ca-file, or a malformed
         proxy URL in --proxy or the environment)
    3    the connection failed after opening: the server closed with another code, broke
         the protocol, or vanished; a keepalive or close timeout
    130  interrupted (Ctrl-C while connecting, or twice while closing)
    Errors are one line on stderr: `aiows: <what happened>`.

EXAMPLES:
    aiows ws://127.0.0.1:9000/                    chat interactively
    aiows wss://example.com/feed --no-stdin       watch a feed
    aiows wss://example.com/api --send '{\"op\":\"ping\"}' -1 | jq .
    echo hello | aiows ws://127.0.0.1:9000/       send one line, print the answer
    aiows ws://h/ -H 'Authorization: Bearer abc' --origin https://h --subprotocol v2
    aiows ws://h/bin --hex --binary-out base64 --timestamps
    aiows wss://example.com/feed --proxy http://user:pass@proxy.corp:3128
    HTTPS_PROXY=socks5h://127.0.0.1:1080 aiows wss://example.com/ --proxy-from-env
    aiows serve &                                 a local echo server on 127.0.0.1:9000
";

const SERVE: &str = "\
aiows serve - a local WebSocket server for trying clients out

USAGE:
    aiows serve [OPTIONS] [ADDR]

Listens on ADDR (host:port, or just a port on 127.0.0.1; default 127.0.0.1:9000; port 0
picks a free one) and echoes every text and binary message back to its sender. The
first line on stderr is `aiows: listening on ws://ADDR/ ...`; then one line per
connection event (connected, refused, handshake failed, closed, disconnected). Ctrl-C
closes every connection with 1001 (going away) and stops.

OPTIONS:
        --broadcast           Relay each message to all other connected clients instead
                              of echoing it (a chat room)
        --subprotocol NAME    Accept this subprotocol (repeatable, preferred first)
        --no-compression      Refuse permessage-deflate
        --max-message-size N  Largest message accepted (K, M, G suffixes; 0: no limit).
                              Default 1M; a bigger one closes the connection with 1009
    -v, --verbose             Also print each request's headers

LIMITS (any web page in a browser on this machine, and any local program, can reach the
server; 0 turns a limit off):
        --max-connections N   Connections open at once. Default 256; further ones are
                              answered HTTP 503, with a line on stderr
        --allow-origin ORIGIN Also accept browser pages from ORIGIN, e.g.
                              https://app.example (repeatable; '*': any). By default a
                              request whose Origin header is not a loopback page
                              (http(s)://localhost, 127.x.x.x or [::1], any port) is
                              answered HTTP 403; requests without Origin (programs,
                              not browsers) are accepted
        --send-timeout S      Bound on each send to a client, in seconds. Default 10; a
                              client that stops reading is disconnected when a send
                              waits longer (echo and broadcast)
        --max-queue-size N    --broadcast: bytes of messages waiting for one client
                              (K, M, G suffixes). Default 16M; a client further behind
                              is closed with 1008 (policy violation) and a line on
                              stderr says so
    -h, --help                Print this help

EXIT CODES:
    0 stopped by Ctrl-C; 1 cannot listen on ADDR; 2 a mistake on the command line

EXAMPLES:
    aiows serve                                   echo on ws://127.0.0.1:9000/
    aiows serve 0.0.0.0:8080 --broadcast          a chat room on every interface
    aiows serve 127.0.0.1:0                       echo on a free port (printed)
";
