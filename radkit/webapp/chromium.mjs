// One headless Chromium for every check of the web app: driver.mjs (radkit.deploy.try_in_browser) and
// tests/webapp_scenarios.mjs. Not part of a built site (radkit.deploy copies only the page's own files).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// A fresh profile (nothing cached from an earlier run), deleted by close().
// `options`: extra launch options (viewport, permissions, ...) and `flags`, added to FLAGS.
export async function launch(chromium, executablePath, { flags = [], ...options } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'radkit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, args: [...FLAGS, ...flags], deviceScaleFactor: 1, ...options,
  });
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// Every request passes through here; anything not from the page's own origin is refused and listed in
// report.blocked (the app promises to make no request beyond its own files).
export async function refuseOtherOrigins(context, origin, report) {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) { report.blocked.push(url); return route.abort(); }
    return route.continue();
  });
}

// The page's console errors and uncaught errors go to report.errors; its Content-Security-Policy violations
// are collected in the page, for cspViolations(page) to read at the end.
export async function watchPage(page, report, timeoutMs) {
  page.setDefaultTimeout(timeoutMs);
  page.on('console', (message) => { if (message.type() === 'error') report.errors.push(message.text()); });
  page.on('pageerror', (error) => report.errors.push(String(error)));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
}

export function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations);
}
