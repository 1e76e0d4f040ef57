'use strict';
// Interop peer for `cargo xtask interop`: a Node `ws` server with permessage-deflate.
//
// Usage: node node_server.js --mode MODE   (ws is found through NODE_PATH)
//
// Binds 127.0.0.1 on a free port and prints `LISTENING <port>` on stdout. Exits when its
// standard input closes (so it never outlives `cargo xtask interop`), or when killed.
//
// Every text and binary message is echoed back unchanged (text as text, binary as binary),
// except text commands starting with `aiows:`:
//
// - `aiows:burst N`  sends N server-initiated JSON-like text messages (burstText(i)), one
//   compressible binary message of BURST_BINARY_LEN bytes (burstBinary()), one text message
//   in BURST_FRAGMENTS fragments (burstFragment(j)), then the text `aiows:burst-done`.
// - `aiows:stats`    answers `aiows:stats received=R compressed=C`: R data messages received
//   on this connection so far (this command included), C of them compressed (RSV1 set).
//
// Modes (the server side of the negotiation; the client knows the same names). `threshold: 0`
// everywhere, so that ws compresses even empty messages:
//
// - default              ws' defaults (15-bit windows, context takeover)
// - no-context-takeover  serverNoContextTakeover and clientNoContextTakeover
// - small-window         serverMaxWindowBits 9, clientMaxWindowBits 8
// - client-offer         the defaults; the client's offer decides
// - no-compression       no permessage-deflate at all
//
// With `--tls-cert CERT.pem --tls-key KEY.pem` it serves wss:// (an https server) instead.

const { WebSocketServer } = require('ws');
const wsVersion = require('ws/package.json').version;

const BURST_BINARY_LEN = 1572864;
const BURST_FRAGMENTS = 8;
const MAX_PAYLOAD = 64 << 20;

function burstText(i) {
  return `{"seq":${i},"kind":"burst","note":"server \u2192 client \u2713 \u00fcn\u00efc\u00f6d\u00e9","fill":"${'ab'.repeat(i % 40)}"}`;
}

function burstBinary() {
  const parts = [];
  let size = 0;
  for (let k = 0; size < BURST_BINARY_LEN; k++) {
    const line = `${String(k).padStart(7, '0')}: the quick brown fox jumps over the lazy dog\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, BURST_BINARY_LEN);
}

function burstFragment(j) {
  return `fragment ${j}: ` + '\u2248 fragmented and compressed \u2248 '.repeat(200);
}

function deflateOptions(mode) {
  switch (mode) {
    case 'default':
    case 'client-offer':
      return { threshold: 0 };
    case 'no-context-takeover':
      return { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true };
    case 'small-window':
      return { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 8 };
    case 'no-compression':
      return false;
    default:
      console.error(`unknown mode ${JSON.stringify(mode)}`);
      process.exit(2);
  }
}

function flag(argv, name, required) {
  const i = argv.indexOf(name);
  if (i < 0 || i + 1 >= argv.length) {
    if (!required) return undefined;
    console.error('usage: node node_server.js --mode MODE [--tls-cert CERT.pem --tls-key KEY.pem]');
    process.exit(2);
  }
  return argv[i + 1];
}

const argv = process.argv.slice(2);
const mode = flag(argv, '--mode', true);
const certFile = flag(argv, '--tls-cert', false);
const keyFile = flag(argv, '--tls-key', false);
const options = { maxPayload: MAX_PAYLOAD, perMessageDeflate: deflateOptions(mode) };
let wss;
let listener;
if (certFile) {
  const fs = require('fs');
  const https = require('https');
  listener = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
  wss = new WebSocketServer({ server: listener, ...options });
  listener.listen(0, '127.0.0.1');
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  listener = wss;
}

wss.on('connection', (ws) => {
  let received = 0;
  let compressed = 0;
  // ws does not expose RSV1 per message. Its receiver hands every frame of a compressed
  // message to the extension's decompress(data, fin, callback); count the final ones.
  const ext = ws._extensions['permessage-deflate'];
  if (ext) {
    const decompress = ext.decompress.bind(ext);
    ext.decompress = (data, fin, callback) => {
      if (fin) compressed += 1;
      decompress(data, fin, callback);
    };
  }
  ws.on('message', (data, isBinary) => {
    received += 1;
    if (!isBinary && data.length >= 6 && data.toString('latin1', 0, 6) === 'aiows:') {
      const command = data.toString('utf8').slice(6).split(' ');
      if (command[0] === 'burst' && command.length === 2 && /^[0-9]+$/.test(command[1])) {
        const n = Math.min(Number(command[1]), 100000);
        for (let i = 0; i < n; i++) ws.send(burstText(i));
        ws.send(burstBinary(), { binary: true });
        // One text message in fragments: RSV1 on the first frame, each fragment compressed.
        for (let j = 0; j < BURST_FRAGMENTS; j++) {
          ws.send(burstFragment(j), { binary: false, fin: j === BURST_FRAGMENTS - 1 });
        }
        ws.send('aiows:burst-done');
      } else if (command.length === 1 && command[0] === 'stats') {
        ws.send(`aiows:stats received=${received} compressed=${compressed}`);
      } else {
        ws.send(`aiows:error unknown command ${JSON.stringify(data.toString('utf8'))}`);
      }
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', (err) => console.error(`connection error: ${err.message}`));
});

listener.on('listening', () => {
  console.log(`LISTENING ${listener.address().port} ws ${wsVersion}`);
});
listener.on('error', (err) => {
  console.error(`server error: ${err.message}`);
  process.exit(1);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
