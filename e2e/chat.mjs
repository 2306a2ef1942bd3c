// Members in real time in headless Debian Chromium: @stomp/stompjs chat clients and
// the native EventSource, one page per member, driven by commands on stdin.
//
//   node chat.mjs --shots DIR
//
// Each stdin line is a JSON command; each answer is one JSON line on stdout:
//
//   {"op":"open","page":"alice"}                         a new page (its own origin: CORS is real)
//   {"op":"connect","page":"alice","url":WS,"token":T}   STOMP over WebSocket, token in the URL
//   {"op":"subscribe","page":"alice","destination":D}    frames kept in the page
//   {"op":"send","page":"alice","destination":D,"body":B,"receipt":R}
//   {"op":"fetch","page":"bob","url":U,"method":"POST","token":T}   a Member API call from the page
//   {"op":"eventsource","page":"bob","url":U}            native EventSource, messages kept in the page
//   {"op":"dump","page":"alice"}                         everything the page received so far
//   {"op":"quit"}
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openBrowser } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const shots = args.shots || path.join(here, 'out');
fs.mkdirSync(shots, { recursive: true });

const stompJS = path.join(here, 'node_modules/@stomp/stompjs/bundles/stomp.umd.min.js');
const page = `<!doctype html><meta charset="utf-8"><title>chat e2e</title>
<script src="/stomp.umd.min.js"></script>
<script>
window.rc = { frames: [], receipts: [], stompErrors: [], closes: [], events: [], eventErrors: 0, connected: false };
window.rcConnect = (url, token) => new Promise((resolve) => {
  const c = new StompJs.Client({
    brokerURL: url + (url.includes('?') ? '&' : '?') + 'accessToken=' + encodeURIComponent(token),
    connectHeaders: { passcode: token },
    reconnectDelay: 0, heartbeatIncoming: 4000, heartbeatOutgoing: 4000,
  });
  c.onConnect = (f) => { window.rc.connected = true; resolve({ ok: true, headers: f.headers }); };
  c.onStompError = (f) => { window.rc.stompErrors.push({ headers: f.headers, body: f.body }); resolve({ ok: false, headers: f.headers, body: f.body }); };
  c.onWebSocketClose = (e) => { window.rc.connected = false; window.rc.closes.push(e.code); resolve({ ok: false, close: e.code }); };
  window.rcClient = c;
  c.activate();
});
window.rcSubscribe = (destination) => {
  window.rcClient.subscribe(destination, (m) => {
    let body = m.body;
    try { body = JSON.parse(m.body); } catch (e) {}
    window.rc.frames.push({ destination: m.headers.destination, headers: m.headers, body });
  });
  return { ok: true };
};
window.rcSend = (destination, body, receipt) => new Promise((resolve) => {
  window.rcClient.watchForReceipt(receipt, (f) => { window.rc.receipts.push(f.headers); resolve({ ok: true, headers: f.headers }); });
  window.rcClient.publish({ destination, body, headers: { receipt, 'content-type': 'application/json' } });
});
window.rcEventSource = (url) => {
  const es = new EventSource(url);
  es.onmessage = (e) => { let d = e.data; try { d = JSON.parse(e.data); } catch (x) {} window.rc.events.push({ id: e.lastEventId, data: d }); };
  es.onerror = () => { window.rc.eventErrors++; };
  window.rcES = es;
  return { ok: true };
};
window.rcFetch = async (url, method, token) => {
  const r = await fetch(url, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
  return { ok: r.ok, status: r.status, body: await r.text() };
};
</script>`;

const { browser, origin, close } = await openBrowser(page, { '/stomp.umd.min.js': stompJS });

const pages = {};
const console_ = {};
async function run(cmd) {
  const p = pages[cmd.page];
  switch (cmd.op) {
    case 'open': {
      const np = await browser.newPage();
      console_[cmd.page] = [];
      np.on('console', (m) => console_[cmd.page].push(m.text()));
      await np.goto(origin + '/');
      pages[cmd.page] = np;
      return { ok: true };
    }
    case 'connect': return p.evaluate(([u, t]) => window.rcConnect(u, t), [cmd.url, cmd.token]);
    case 'subscribe': return p.evaluate((d) => window.rcSubscribe(d), cmd.destination);
    case 'send': return p.evaluate(([d, b, r]) => window.rcSend(d, b, r), [cmd.destination, cmd.body, cmd.receipt]);
    case 'eventsource': return p.evaluate((u) => window.rcEventSource(u), cmd.url);
    case 'fetch': return p.evaluate(([u, m, t]) => window.rcFetch(u, m, t), [cmd.url, cmd.method, cmd.token]);
    case 'dump': return p.evaluate(() => window.rc);
    case 'shot': await p.screenshot({ path: path.join(shots, `chat-${cmd.page}.png`) }); return { ok: true };
    default: return { ok: false, error: 'unknown op ' + cmd.op };
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === 'quit') break;
  let out;
  try {
    out = await Promise.race([run(cmd), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout 20s')), 20000))]);
  } catch (e) {
    out = { ok: false, error: String(e), console: console_[cmd.page] };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
await close();
