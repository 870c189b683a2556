// What a person does with the RadKit web app, in a headless Chromium (tests/test_browser_offline.py and
// benchmarks/browser_inference.py): go offline and come back, audit accessibility, use only the keyboard,
// zoom to 200 % on a phone, point the camera at a film, refuse the camera.
// Usage: node webapp_scenarios.mjs job.json  -> prints one line of JSON (the last line): what happened.
// The "offline" scenario prints "stop-the-server" and waits for a line on stdin before going offline,
// so the caller can stop the web server and prove that nothing comes from it any more; "update" prints
// "rebuild-the-site" and waits likewise.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { launch, refuseOtherOrigins, watchPage, cspViolations } from '../radkit/webapp/chromium.mjs';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(job.node_modules, 'radkit-scenarios.js'));
const { chromium } = require('playwright-core');

const origin = new URL(job.url).origin;
const report = { requests: [], blocked: [], failed: [], errors: [], csp: [] };
let phase = 'online';

const { context, close } = await launch(chromium, job.chromium, {
  flags: job.flags || [], viewport: job.viewport || { width: 420, height: 860 },
  deviceScaleFactor: job.device_scale_factor || 1, permissions: job.permissions || [],
});

function waitForLine() {
  const lines = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => lines.once('line', (line) => { lines.close(); process.stdin.destroy(); resolve(line); }));
}

async function ready(page) {
  const started = await page.evaluate(() => window.radkitApp.ready);
  if (started.error) throw new Error(`the app did not start: ${started.error}`);
  return started;
}

// Open one file as a person would (through the file chooser when `keyboard` opened it); returns the result.
async function openFile(page, file) {
  const before = await page.evaluate(() => window.radkitApp.results.length);
  await page.setInputFiles('#file-input', file);
  await page.waitForFunction((n) => window.radkitApp.results.length > n, before);
  return page.evaluate(() => window.radkitApp.results.at(-1));
}

async function axe(page) {
  // Injected by the test through the DevTools protocol (not a <script>, which the page's CSP forbids,
  // and not shipped in the site).
  if (!fs.existsSync(job.axe)) return null;  // axe-core not installed: the audit tests are skipped
  await page.evaluate(fs.readFileSync(job.axe, 'utf8'));
  const results = await page.evaluate(() => window.axe.run(document));
  return { rules_passed: results.passes.length,
    violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })) };
}

// Everything that does not fit: the page scrolls sideways, or an element's text is cut off.
function overflow() {
  const root = document.documentElement;
  const cut = [];
  for (const element of document.querySelectorAll('body *')) {
    if (element.closest('[hidden]') || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (box.right > root.clientWidth + 0.5 || box.left < -0.5) cut.push(`${element.tagName.toLowerCase()}#${element.id} sticks out (${box.left.toFixed(0)}..${box.right.toFixed(0)} of ${root.clientWidth})`);
    if (style.overflowX !== 'visible' && element.scrollWidth > element.clientWidth + 1 && element.id !== 'file-input') cut.push(`${element.tagName.toLowerCase()}#${element.id} is cut off`);
  }
  return { scroll_width: root.scrollWidth, client_width: root.clientWidth, cut };
}

try {
  await refuseOtherOrigins(context, origin, report);
  // Requests of the page and of its service worker alike (Playwright reports both for Chromium).
  context.on('request', (request) => report.requests.push({ url: request.url(), phase,
    by: request.serviceWorker() ? 'service worker' : 'page' }));
  context.on('requestfailed', (request) => report.failed.push({ url: request.url(), phase }));
  context.on('response', (response) => {
    const entry = report.requests.findLast((r) => r.url === response.url() && r.phase === phase);
    if (entry) entry.from_service_worker = response.fromServiceWorker();
  });
  const page = context.pages()[0] || await context.newPage();
  await watchPage(page, report, job.timeout_ms);
  if (job.deny_camera) {
    // What the browser does when the person presses "Block" (or the camera is missing: NotFoundError).
    await page.addInitScript((name) => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused', name));
    }, job.deny_camera);
  }

  // Listening from the start: Playwright intercepts file choosers only once someone listens, and a listener
  // added just before the key press can lose the race under load (the dialog would open unseen).
  const choosers = [];
  page.on('filechooser', (chooser) => choosers.push(chooser));

  let started = Date.now();
  await page.goto(job.url);
  report.ready = await ready(page);
  report.load_ms = Date.now() - started;

  if (job.scenario === 'offline') {
    report.offline_setup = await page.evaluate(() => window.radkitApp.offline);
    report.cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = [];
      for (const name of names) for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
      return { names, urls };
    });
    const cdp = await context.newCDPSession(page);
    report.installability_errors = (await cdp.send('Page.getInstallabilityErrors')).installabilityErrors;
    report.manifest_errors = (await cdp.send('Page.getAppManifest')).errors;
    console.log('stop-the-server');
    await waitForLine();
    phase = 'offline';
    await context.setOffline(true);
    started = Date.now();
    await page.reload();
    report.offline_ready = await ready(page);
    report.offline_reload_ms = Date.now() - started;  // from reload to a warmed-up model, network off
    report.offline_reloads_ms = [report.offline_reload_ms];
    for (let i = 1; i < (job.reloads || 1); i++) {   // more offline reloads, for the benchmark's median
      started = Date.now();
      await page.reload();
      await ready(page);
      report.offline_reloads_ms.push(Date.now() - started);
    }
    report.controlled = await page.evaluate(() => Boolean(navigator.serviceWorker.controller));
    report.offline_files = [];
    for (const file of job.files) report.offline_files.push(await openFile(page, file));
    report.status = await page.textContent('#status');
    report.offline_note = await page.textContent('#offline-note');
  } else if (job.scenario === 'update') {
    // The site is rebuilt while the page is open: the next visit must install the new version and
    // delete the old copy, and the visit after that must show the new site.
    report.offline_setup = await page.evaluate(() => window.radkitApp.offline);
    const cacheNames = () => page.evaluate(() => caches.keys());
    report.caches_before = await cacheNames();
    console.log('rebuild-the-site');
    await waitForLine();
    await page.reload();
    await ready(page);
    const until = Date.now() + job.timeout_ms;
    do {
      report.caches_after = await cacheNames();
      await page.waitForTimeout(100);
    } while ((report.caches_after.length !== 1 || report.caches_after[0] === report.caches_before[0]) && Date.now() < until);
    await page.reload();
    await ready(page);
    report.title_after = await page.title();
  } else if (job.scenario === 'a11y') {
    if (job.unlabel) {  // for the test that proves the audit can fail: the file control loses its name
      await page.evaluate(() => { document.querySelector('label[for="file-input"]').textContent = ''; });
    }
    report.audit_before = await axe(page);
    const status = await page.$eval('#status', (e) => ({ live: e.getAttribute('aria-live'), role: e.getAttribute('role') }));
    report.status_attributes = status;
    await page.evaluate(() => {   // every text the live region shows, in order
      window.__announced = [];
      new MutationObserver(() => window.__announced.push(document.getElementById('status').textContent))
        .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true });
    });
    // Keyboard only: Tab from the top of the page to the "Choose an image" control, then Enter.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    report.tabs = [];
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const e = document.activeElement;
        const label = e.id && document.querySelector(`label[for="${e.id}"]`);
        const shown = label || e;
        return { id: e.id, tag: e.tagName.toLowerCase(), outline: getComputedStyle(shown).outlineStyle };
      });
      report.tabs.push(focused);
      if (focused.id === 'file-input') break;
    }
    const before = await page.evaluate(() => window.radkitApp.results.length);
    await page.keyboard.press(job.key || 'Enter');
    for (let i = 0; i < 100 && !choosers.length; i++) await page.waitForTimeout(100);
    const opened = choosers[0];
    report.chooser_opened = Boolean(opened);
    if (opened) {
      await opened.setFiles(job.files[0]);
      await page.waitForFunction((n) => window.radkitApp.results.length > n, before);
      report.result = await page.evaluate(() => window.radkitApp.results.at(-1));
    }
    report.announced = await page.evaluate(() => window.__announced);
    report.status = await page.textContent('#status');
    report.audit_after = await axe(page);
  } else if (job.scenario === 'zoom') {
    report.before = await page.evaluate(overflow);
    if (job.files.length) report.result = await openFile(page, job.files[0]);
    await page.evaluate(() => document.querySelector('details').setAttribute('open', ''));
    report.after = await page.evaluate(overflow);
    report.font_px = await page.$eval('main', (e) => parseFloat(getComputedStyle(e).fontSize));
  } else if (job.scenario === 'camera') {
    await page.click('#camera-button');
    // Either the camera shows a picture, or the page says why it cannot.
    await page.waitForFunction(() => (document.getElementById('video').videoWidth > 0 && !document.getElementById('camera').hidden)
      || document.getElementById('status').classList.contains('error'));
    report.camera_opened = !(await page.$eval('#status', (e) => e.classList.contains('error')));
    if (report.camera_opened) {
      report.video = await page.$eval('#video', (v) => ({ width: v.videoWidth, height: v.videoHeight }));
      const before = await page.evaluate(() => window.radkitApp.results.length);
      await page.click('#snap-button');
      await page.waitForFunction((n) => window.radkitApp.results.length > n, before);
      report.result = await page.evaluate(() => window.radkitApp.results.at(-1));
      report.camera_hidden_after = await page.$eval('#camera', (e) => e.hidden);
    }
    report.status = await page.textContent('#status');
    report.status_is_error = await page.$eval('#status', (e) => e.classList.contains('error'));
  } else {
    throw new Error(`unknown scenario ${job.scenario}`);
  }
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  report.csp = await cspViolations(page);
} finally {
  await close();
}
console.log(JSON.stringify(report));
