// Decompress DICOM files in the RadKit web page (headless Chromium) and hand back the stored values it got,
// for tests/test_browser_codecs.py to compare with pydicom's. Not part of a built site.
// Usage: node browser_codecs.mjs job.json  -> writes job.out_dir/N.bin (the values of file N) and prints one
// line of JSON: what the page said for each file, the decoders it loaded, requests, errors, CSP violations.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { launch, refuseOtherOrigins, watchPage, cspViolations } from '../radkit/webapp/chromium.mjs';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(job.node_modules, 'radkit-codecs.js'));
const { chromium } = require('playwright-core');

const origin = new URL(job.url).origin;
const report = { requests: [], blocked: [], errors: [], csp: [], files: [] };
const { context, close } = await launch(chromium, job.chromium);
try {
  await refuseOtherOrigins(context, origin, report);
  context.on('request', (request) => report.requests.push(request.url()));
  const page = context.pages()[0] || await context.newPage();
  await watchPage(page, report, job.timeout_ms);
  await page.goto(job.url);
  report.ready = await page.evaluate(() => window.radkitApp.ready);
  report.ready_ms = await page.evaluate(() => Math.round(performance.now()));   // the model is ready by then
  report.decoders = await page.evaluate(() => window.radkitDicom.ready);
  for (const [index, file] of job.files.entries()) {
    const encoded = fs.readFileSync(file).toString('base64');
    const result = await page.evaluate(([b64, name]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const started = performance.now();
      let pixels;
      try {
        pixels = window.radkitDicom.storedPixels(bytes, name);
      } catch (error) {
        return { ok: false, message: String(error.message || error), refusal: error instanceof window.radkitDicom.DicomRefusal };
      }
      const ms = performance.now() - started;
      const { values } = pixels;
      const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      let text = '';
      for (let i = 0; i < raw.length; i += 0x8000) text += String.fromCharCode.apply(null, raw.subarray(i, i + 0x8000));
      return { ok: true, ms, rows: pixels.rows, cols: pixels.cols, frames: pixels.frames,
        dtype: values instanceof Float64Array ? 'float64' : 'int32', data: btoa(text) };
    }, [encoded, path.basename(file)]);
    if (result.ok) {
      fs.writeFileSync(path.join(job.out_dir, `${index}.bin`), Buffer.from(result.data, 'base64'));
      delete result.data;
    }
    report.files.push(result);
  }
  report.csp = await cspViolations(page);
} finally {
  await close();
}
console.log(JSON.stringify(report));
