// Drive the RadKit web app in a headless Chromium (used by radkit.deploy.try_in_browser).
// Usage: node driver.mjs job.json   -> prints one line of JSON: what the page did.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(job.node_modules, 'radkit-driver.js'));
const { chromium } = require('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'radkit-chromium-'));
const report = { origin: `${new URL(job.url).origin}/`, requests: [], blocked: [], errors: [], csp: [], outputs: {}, timings: {}, files: [] };
const origin = new URL(job.url).origin;

const context = await chromium.launchPersistentContext(profile, {
  executablePath: job.chromium, headless: true, args: FLAGS,
  viewport: { width: job.width, height: job.height }, deviceScaleFactor: 1,
});
try {
  // Every request the page makes passes through here; anything not from the page's own origin is refused.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) { report.blocked.push(url); return route.abort(); }
    return route.continue();
  });
  context.on('request', (request) => {
    report.requests.push(request.url());
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(job.timeout_ms);
  page.on('console', (message) => { if (message.type() === 'error') report.errors.push(message.text()); });
  page.on('pageerror', (error) => report.errors.push(String(error)));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  const url = new URL(job.url);
  if (job.backend) url.searchParams.set('backend', job.backend);
  const started = Date.now();
  await page.goto(url.href);
  report.ready = await page.evaluate(() => window.radkitApp.ready);
  report.load_ms = Date.now() - started;  // from navigation to a warmed-up model
  report.backend = report.ready.backend;
  report.navigation = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return { dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_event_ms: nav.loadEventEnd };
  });

  for (const [name, input] of Object.entries(job.inputs)) {
    const result = await page.evaluate((data) => window.radkitApp.predict(data), input.data);
    report.outputs[name] = { shape: result.shape, data: result.values };
    if (job.repeat > 0) {
      report.timings[name] = await page.evaluate(([data, n]) => window.radkitApp.time(data, n), [input.data, job.repeat]);
    }
  }
  for (const file of job.files) {
    const before = await page.evaluate(() => window.radkitApp.results.length);
    await page.setInputFiles('#file-input', file);
    await page.waitForFunction((n) => window.radkitApp.results.length > n, before);
    const result = await page.evaluate(() => window.radkitApp.results.at(-1));
    result.status = await page.textContent('#status');
    result.page_text = await page.innerText('main');
    result.page_text_all = await page.textContent('main');  // also what is folded away (e.g. "About this model")
    report.files.push(result);
  }
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  report.csp = await page.evaluate(() => window.__cspViolations);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
