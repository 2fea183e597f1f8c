// Browser figures for `cargo xtask bench` (not a test: prints, asserts nothing).
// Env: FLOWLENS_URL (page served by xtask), BENCH_CAPTURES (newline-separated
// real captures), BENCH_BIG (a ~1 GiB capture to drop into the page).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const url = process.env.FLOWLENS_URL;
const files = (process.env.BENCH_CAPTURES || '').split('\n').filter(Boolean);
const big = process.env.BENCH_BIG;
const ten = process.env.BENCH_10MB;
const wasm = process.env.BENCH_WASM;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// No service worker: it would answer the page's requests itself, out of
// reach of the routes below (and of the figures).
const context = await browser.newContext({ serviceWorkers: 'block' });
try {
  const page = await context.newPage();
  // Serve the captures from Node at same-origin paths (the CSP allows only 'self').
  await page.route('**/bench-capture/*', (route) => {
    const i = Number(route.request().url().split('/').pop());
    route.fulfill({ status: 200, contentType: 'application/octet-stream', body: fs.readFileSync(files[i]) });
  });
  await page.goto(url);
  await page.waitForSelector('[data-testid="file-input"]', { state: 'attached' });
  const r = await page.evaluate(async (n) => {
    const m = await import('/pkg/flowlens.js');
    await m.default();
    const bufs = [];
    for (let i = 0; i < n; i++) bufs.push(new Uint8Array(await (await fetch(`/bench-capture/${i}`)).arrayBuffer()));
    const total = bufs.reduce((s, b) => s + b.length, 0);
    let flows = 0;
    for (const b of bufs) flows += m.bench_pipeline(b, 4 << 20)[0]; // warm-up
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t = performance.now();
      for (const b of bufs) m.bench_pipeline(b, 4 << 20);
      best = Math.min(best, performance.now() - t);
    }
    return { total, best, flows };
  }, files.length);
  const mm = await page.evaluate(async () => {
    const m = await import('/pkg/flowlens.js');
    await m.default();
    const out = [];
    for (const rows of [64, 256]) {
      m.bench_matmul(rows, 1024, 256, 1); // compile and warm up
      const t = performance.now();
      const flops = m.bench_matmul(rows, 1024, 256, (20 * 1024) / rows);
      out.push([rows, flops / ((performance.now() - t) / 1e3) / 1e9]);
    }
    return out;
  });
  for (const [rows, gflops] of mm) console.log(`browser matmul [${rows}, 1024] x [1024, 256]: ${gflops.toFixed(1)} GFLOP/s (wasm simd128, one thread)`);
  console.log(`browser capture->flows->representation: ${(r.total / 2 ** 20).toFixed(1)} MiB in ${r.best.toFixed(1)} ms = ${(r.total / r.best / 1e3).toFixed(0)} MB/s (${r.flows} flows, one thread, best of 5)`);

  if (big && fs.existsSync(big)) {
    const size = fs.statSync(big).size;
    const t = Date.now();
    await page.setInputFiles('[data-testid="file-input"]', big);
    await page.waitForFunction(() => document.querySelector('[data-testid="parse-status"]')?.textContent === 'done', null, { timeout: 600_000, polling: 500 });
    const secs = (Date.now() - t) / 1000;
    const flows = Number(await page.textContent('[data-testid="flow-count"]'));
    const mem = Number(await page.getAttribute('[data-testid="worker-memory"]', 'data-bytes'));
    const target = 64 * 2 ** 20 + 1.2 * 1024 * flows;
    console.log(`browser ${(size / 2 ** 30).toFixed(2)} GiB capture dropped: ${flows} flows in ${secs.toFixed(1)} s (${(size / secs / 1e6).toFixed(0)} MB/s incl. file reads and UI); worker wasm memory peak ${(mem / 2 ** 20).toFixed(1)} MiB (target 64 MiB + 1.2 KiB/flow = ${(target / 2 ** 20).toFixed(1)} MiB)`);
  }
  // The page goes on to run the models on the big drop's flows: close it so
  // that it does not compete with the model figures below.
  await page.close();
  if (wasm && fs.existsSync(wasm)) {
    const raw = fs.readFileSync(wasm);
    const gz = zlib.gzipSync(raw, { level: 9 });
    console.log(`page wasm (no weights in it): ${(raw.length / 2 ** 20).toFixed(2)} MiB, gzipped ${(gz.length / 2 ** 20).toFixed(2)} MiB (target <= 3 MiB)`);
  }
  if (ten && fs.existsSync(ten)) await benchModels(ten);
} finally {
  await browser.close();
}

/** Drop a 10 MB capture: time to first predictions, then each model's throughput. */
async function benchModels(file) {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('parse-status').filter({ hasText: /^idle$/ }).waitFor();
  // The worker has read the model list once either of these shows.
  await page.waitForFunction(() =>
    document.querySelector('[data-testid=pack-select]') ||
    /^Flows only/.test(document.querySelector('[data-testid=models-status]')?.textContent ?? ''));
  const status = await page.getByTestId('models-status').count();
  if (status > 0) {
    console.log(`models: ${await page.getByTestId('models-status').textContent()} (no model figures)`);
    await page.close();
    return;
  }
  await page.locator('[data-testid=pack-select]').waitFor();
  // The page's clock from just before the file goes in to the first prediction in the table.
  await page.evaluate(() => {
    window.__firstPrediction = new Promise((resolve) => {
      const seen = () => document.querySelector('[data-testid=prediction]');
      const observer = new MutationObserver(() => {
        if (seen()) {
          observer.disconnect();
          resolve(performance.now());
        }
      });
      observer.observe(document.body, { subtree: true, childList: true });
    });
    window.__dropAt = performance.now();
  });
  await page.setInputFiles('[data-testid="file-input"]', file);
  const firstMs = await page.evaluate(async () => (await window.__firstPrediction) - window.__dropAt);
  const waitDone = () =>
    page.waitForFunction(() => /^(done|failed)$/.test(document.querySelector('[data-testid="inference-status"]')?.textContent ?? ''), null, { timeout: 600_000, polling: 250 });
  await waitDone();
  const flows = Number(await page.textContent('[data-testid="flow-count"]'));
  const size = fs.statSync(file).size;
  console.log(`browser drop -> first predictions, ${(size / 1e6).toFixed(1)} MB capture (${flows} flows): ${firstMs.toFixed(0)} ms (target <= 1 s)`);
  const report = async () => {
    const rows = await page.getByTestId('model-timing').evaluateAll((els) =>
      els.map((e) => ({ id: e.dataset.model, flows: Number(e.dataset.flows), ms: Number(e.dataset.computeMs) })),
    );
    for (const r of rows) {
      const rate = r.ms > 0 ? (r.flows / r.ms) * 1000 : NaN;
      console.log(`browser inference ${r.id.padEnd(36)} ${String(r.flows).padStart(7)} flows in ${r.ms.toFixed(0).padStart(6)} ms = ${rate.toFixed(0).padStart(7)} flows/s (one thread, encoding included)`);
    }
  };
  await report();
  // A pack with the baselines, if the default has none.
  const packs = await page.locator('[data-testid=pack-select] option').evaluateAll((os) => os.map((o) => o.value));
  const manifest = await page.evaluate(async () => (await fetch('models/manifest.json')).json());
  const first = manifest.packs[0];
  const other = manifest.packs.find((p) => p !== first && p.models.some((m) => m.architecture === 'c45' || m.architecture === 'knn'));
  if (other && packs.includes(other.id)) {
    await page.selectOption('[data-testid=pack-select]', other.id);
    await page.locator(`[data-testid=model-timing][data-model="${other.models[0].id}"]`).waitFor();
    await waitDone();
    await report();
  }
  await page.close();
}
