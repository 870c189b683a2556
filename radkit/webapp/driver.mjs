// Drive the RadKit web app in a headless Chromium (used by radkit.deploy.try_in_browser).
// Usage: node driver.mjs job.json   -> prints one line of JSON: what the page did.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { launch, refuseOtherOrigins, watchPage, cspViolations } from './chromium.mjs';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(job.node_modules, 'radkit-driver.js'));
const { chromium } = require('playwright-core');

const report = { origin: `${new URL(job.url).origin}/`, requests: [], blocked: [], errors: [], csp: [], outputs: {}, timings: {}, files: [] };
const origin = new URL(job.url).origin;

const { context, close } = await launch(chromium, job.chromium, { viewport: { width: job.width, height: job.height } });
try {
  await refuseOtherOrigins(context, origin, report);
  context.on('request', (request) => {
    report.requests.push(request.url());
  });
  const page = context.pages()[0] || await context.newPage();
  await watchPage(page, report, job.timeout_ms);

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
  report.csp = await cspViolations(page);
} finally {
  await close();
}
console.log(JSON.stringify(report));
