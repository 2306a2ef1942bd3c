// Plays Roomcast URLs in headless Debian Chromium with the players people use and
// prints one JSON result per check on stdout.
//
//   node play.mjs --hls URL --dash URL --watch URL [--vod-hls URL --vod-dash URL] --shots DIR [--seconds 12]
//   node play.mjs --dash-ll URL --shaka URL --shots DIR --seconds 20   (low-latency DASH: dash.js, Shaka)
//   node play.mjs --follow WATCH_URL --shots DIR     (one JSON line per second until stdin closes)
//
// The test page is served by this script on its own origin (another port), so CORS is
// really exercised: without Access-Control-Allow-Origin hls.js fails fatally.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const seconds = Number(args.seconds || 12);
const shots = args.shots || path.join(here, 'out');
fs.mkdirSync(shots, { recursive: true });

const assets = {
  '/hls.min.js': path.join(here, 'node_modules/hls.js/dist/hls.min.js'),
  '/dash.all.min.js': path.join(here, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'),
  '/shaka-player.compiled.js': path.join(here, 'node_modules/shaka-player/dist/shaka-player.compiled.js'),
};
const page = `<!doctype html><meta charset="utf-8"><title>e2e</title>
<script src="/hls.min.js"></script><script src="/dash.all.min.js"></script><script src="/shaka-player.compiled.js"></script>
<video id="v" muted autoplay playsinline width="640" height="360"></video><canvas id="c" width="64" height="36"></canvas>`;

const { browser, origin, close } = await openBrowser(page, assets);

// Measures playback in the page: currentTime progress, decoded video and audio, a frame
// that is not flat, player errors and the player's live latency.
const measure = `async (seconds) => {
  const v = document.getElementById('v');
  const start = performance.now();
  while (v.currentTime === 0 && performance.now() - start < 15000) await new Promise(r => setTimeout(r, 100));
  const t0 = v.currentTime;
  const lat = [];
  for (let i = 0; i < seconds * 2; i++) {
    await new Promise(r => setTimeout(r, 500));
    const l = window.latency && window.latency();
    if (typeof l === 'number' && isFinite(l) && l > 0) lat.push(l);
  }
  const c = document.getElementById('c').getContext('2d');
  c.drawImage(v, 0, 0, 64, 36);
  const px = c.getImageData(0, 0, 64, 36).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < px.length; i += 4) { const y = (px[i] + px[i+1] + px[i+2]) / 3; sum += y; sq += y*y; n++; }
  const mean = sum / n;
  lat.sort((a, b) => a - b);
  return {
    advanced: v.currentTime - t0, currentTime: v.currentTime, firstFrameMs: 0,
    videoWidth: v.videoWidth, videoHeight: v.videoHeight,
    audioBytes: v.webkitAudioDecodedByteCount || 0, videoBytes: v.webkitVideoDecodedByteCount || 0,
    pixelStd: Math.sqrt(Math.max(0, sq / n - mean * mean)),
    errors: window.playerErrors || [],
    latencyMedian: lat.length ? lat[Math.floor(lat.length / 2)] : null,
    latencyLast: lat.length ? lat[lat.length - 1] : null,
  };
}`;

// setups start one player on the page's video element and define window.latency().
const setups = {
  hls: `(url) => { window.playerErrors = [];
    const hls = new Hls({ lowLatencyMode: true });
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.playerErrors.push(d.type + ':' + d.details); });
    hls.loadSource(url); hls.attachMedia(document.getElementById('v'));
    window.latency = () => hls.latency; }`,
  dash: `(url) => { window.playerErrors = [];
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ streaming: { delay: { liveDelay: 2 }, liveCatchup: { enabled: true } } });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => window.playerErrors.push(JSON.stringify(e.error || e)));
    player.initialize(document.getElementById('v'), url, true);
    window.latency = () => player.getCurrentLiveLatency(); }`,
  // dash.js 5 switches to low-latency mode by itself when the MPD announces chunked
  // segments (availabilityTimeOffset); a 1 s target delay and catch-up ask for it.
  'dash-ll': `(url) => { window.playerErrors = [];
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ streaming: { delay: { liveDelay: 1 },
      liveCatchup: { enabled: true, mode: 'liveCatchupModeDefault', playbackRate: { min: -0.5, max: 0.5 } } } });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => window.playerErrors.push(JSON.stringify(e.error || e)));
    player.initialize(document.getElementById('v'), url, true);
    window.latency = () => player.getCurrentLiveLatency(); }`,
  shaka: `async (url) => { window.playerErrors = [];
    shaka.polyfill.installAll();
    const v = document.getElementById('v');
    const player = new shaka.Player();
    await player.attach(v);
    player.configure({ streaming: { lowLatencyMode: true } });
    player.addEventListener('error', (e) => window.playerErrors.push(String(e.detail && e.detail.code)));
    window.latency = () => {
      const l = player.getStats().liveLatency;
      return l > 0 ? l : player.seekRange().end - v.currentTime;
    };
    try { await player.load(url); } catch (e) { window.playerErrors.push('load:' + (e.code || e)); } }`,
};

async function play(kind, url, name) {
  const p = await browser.newPage();
  const consoleLines = [];
  p.on('console', (m) => consoleLines.push(m.text()));
  await p.goto(origin + '/');
  const t0 = Date.now();
  await p.evaluate(`(${setups[kind]})(${JSON.stringify(url)})`);
  const r = await p.evaluate(`(${measure})(${seconds})`);
  r.kind = name || kind;
  r.wallMs = Date.now() - t0;
  await p.screenshot({ path: path.join(shots, `${name || kind}.png`) });
  r.console = consoleLines.slice(-20);
  await p.close();
  return r;
}

async function watch(url) {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(url);
  const v = await p.waitForSelector('video', { timeout: 10000 });
  const start = Date.now();
  let t = 0;
  while (Date.now() - start < seconds * 1000) {
    t = await v.evaluate((el) => el.currentTime);
    if (t > 2) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await p.screenshot({ path: path.join(shots, 'watch.png') });
  const title = await p.title();
  await p.close();
  return { kind: 'watch', currentTime: t, title, errors };
}

// follow keeps the player page open and prints one JSON line per second with what it
// shows ({state, url, currentTime, ...}) until stdin closes: the Go test drives the
// broadcast (drop, resume, end) and reads what a viewer sees.
async function follow(url) {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(url);
  let open = true;
  process.stdin.on('end', () => { open = false; });
  process.stdin.on('close', () => { open = false; });
  process.stdin.resume();
  let n = 0;
  while (open) {
    const st = await p.evaluate(() => {
      const v = document.querySelector('video');
      const rc = window.roomcast || {};
      return { state: rc.state, url: rc.url, errors: rc.errors || [], currentTime: v ? v.currentTime : 0,
        videoWidth: v ? v.videoWidth : 0, paused: v ? v.paused : true };
    });
    st.pageErrors = errors;
    process.stdout.write(JSON.stringify(st) + '\n');
    if (n++ % 5 === 0) await p.screenshot({ path: path.join(shots, `follow-${st.state || 'none'}.png`) });
    await new Promise((r) => setTimeout(r, 1000));
  }
  await p.close();
}

const results = [];
if (args.follow) {
  try {
    await follow(args.follow);
  } finally {
    await close();
  }
  process.exit(0);
}
try {
  if (args.hls) results.push(await play('hls', args.hls));
  if (args.dash) results.push(await play('dash', args.dash));
  if (args['vod-hls']) results.push(await play('hls', args['vod-hls'], 'vod-hls'));
  if (args['vod-dash']) results.push(await play('dash', args['vod-dash'], 'vod-dash'));
  if (args['dash-ll']) results.push(await play('dash-ll', args['dash-ll']));
  if (args.shaka) results.push(await play('shaka', args.shaka));
  if (args.watch) results.push(await watch(args.watch));
} finally {
  await close();
}
process.stdout.write(JSON.stringify(results) + '\n');
