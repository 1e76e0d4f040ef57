//! The prose of `--help` around the options: what each command does, its exit codes and
//! examples. Each option's own text is its `help` in `args.rs`.

/// `aiows --help`, before the usage.
pub const CLIENT_ABOUT: &str = "\
aiows - a command-line WebSocket client (and local test server)

Connects to URL (ws:// or wss://; ws:// is assumed without a scheme), sends each line
typed on stdin as a message, and prints each message received on stdout, one per line,
flushed at once (so `aiows URL | jq` works). Text messages are printed as they are
(control characters escaped on a terminal, see --raw); binary messages as hex (or base64,
see --binary-out).

At the end of stdin (Ctrl-D, or the end of a pipe) aiows closes with code 1000, keeps
printing what the server sends until its close frame (bounded by the close timeout), and
exits. Ctrl-C closes with 1000 too; a second Ctrl-C quits without waiting.";

/// `aiows --help`, after the options.
pub const CLIENT_AFTER: &str = "\
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
  aiows serve &                                 a local echo server on 127.0.0.1:9000";

/// `aiows serve --help`, before the usage.
pub const SERVE_ABOUT: &str = "\
aiows serve - a local WebSocket server for trying clients out

Listens on ADDR (host:port, or just a port on 127.0.0.1; default 127.0.0.1:9000; port 0
picks a free one) and echoes every text and binary message back to its sender. The
first line on stderr is `aiows: listening on ws://ADDR/ ...`; then one line per
connection event (connected, refused, handshake failed, closed, disconnected). Ctrl-C
closes every connection with 1001 (going away) and stops.

Any web page in a browser on this machine, and any local program, can reach the server:
the LIMITS below bound what it accepts (0 turns a limit off).";

/// `aiows serve --help`, after the options.
pub const SERVE_AFTER: &str = "\
EXIT CODES:
  0 stopped by Ctrl-C; 1 cannot listen on ADDR; 2 a mistake on the command line

EXAMPLES:
  aiows serve                                   echo on ws://127.0.0.1:9000/
  aiows serve 0.0.0.0:8080 --broadcast          a chat room on every interface
  aiows serve 127.0.0.1:0                       echo on a free port (printed)";
