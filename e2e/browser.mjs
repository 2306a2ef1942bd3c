// The headless Debian Chromium of the e2e scripts (play.mjs, chat.mjs): a fresh
// profile per run (REAL-CLIENTS.md; playwright passes it as --user-data-dir) and a
// page served by the script on its own origin (another port than Roomcast's), so
// CORS is really exercised.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// openBrowser serves html at / and the script files of assets (URL path → file),
// launches Chromium and returns { browser, origin, close }.
export async function openBrowser(html, assets) {
  const server = http.createServer((req, res) => {
    const file = assets[req.url];
    if (file) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      fs.createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roomcast-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1000, height: 700 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const close = async () => {
    await browser.close();
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { browser, origin, close };
}
