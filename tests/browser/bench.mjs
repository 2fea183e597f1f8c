// Browser figures for `cargo xtask bench` (not a test: prints, asserts nothing).
// Env: FLOWLENS_URL (page served by xtask), BENCH_CAPTURES (newline-separated
// real captures), BENCH_BIG (a ~1 GiB capture to drop into the page),
// BENCH_10MB (10 MB of short flows for the models), BENCH_100K (a capture of
// over 100,000 flows for the page's responsiveness), BENCH_WASM (the page's
// wasm, for its size).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const url = process.env.FLOWLENS_URL;
const files = (process.env.BENCH_CAPTURES || '').split('\n').filter(Boolean);
const big = process.env.BENCH_BIG;
const ten = process.env.BENCH_10MB;
const many = process.env.BENCH_100K;
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
  if (many && fs.existsSync(many)) await benchResponsiveness(many);
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
  const report = async (note = '') => {
    const rows = await page.getByTestId('model-timing').evaluateAll((els) =>
      els.map((e) => ({ id: e.dataset.model, flows: Number(e.dataset.flows), ms: Number(e.dataset.computeMs) })),
    );
    for (const r of rows) {
      const rate = r.ms > 0 ? (r.flows / r.ms) * 1000 : NaN;
      console.log(`browser inference ${r.id.padEnd(36)} ${String(r.flows).padStart(7)} flows in ${r.ms.toFixed(0).padStart(6)} ms = ${rate.toFixed(0).padStart(7)} flows/s (one thread, encoding included${note})`);
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
    // The first pack again: its code is now compiled by V8's optimising
    // tier (the first run starts in the baseline tier).
    await page.selectOption('[data-testid=pack-select]', first.id);
    await page.locator(`[data-testid=model-timing][data-model="${first.models[0].id}"]`).waitFor();
    await waitDone();
    await report(', second run');
    await page.selectOption('[data-testid=pack-select]', other.id);
    await page.locator(`[data-testid=model-timing][data-model="${other.models[0].id}"]`).waitFor();
    await waitDone();
  }
  await benchExplain(page, other ?? first);
  await page.close();
}

/** Opens the first flow's detail: time until each model's explanation is shown, per method. */
async function benchExplain(page, pack) {
  const ready = (extra) => page.locator(`[data-testid=flow-explain][data-state=ready]${extra}`).waitFor({ timeout: 600_000 });
  const timed = async (action, extra) => {
    const t = Date.now();
    await action();
    await page.waitForTimeout(20); // the state goes through loading
    await ready(extra);
    return Date.now() - t;
  };
  const ms = await timed(() => page.getByTestId('flow-row').first().click(), '');
  const size = await page.getByTestId('heatmap').evaluate((h) => `${h.dataset.packets} x ${h.dataset.bytes}`);
  console.log(`browser explanation: flow detail opened in ${ms} ms (P x B ${size}, every model's answer, the default model's attribution)`);
  for (const m of pack.models) {
    const tab = () => page.locator(`.model-tabs [data-model="${m.id}"]`).click();
    const first = await timed(tab, `[data-model="${m.id}"]`);
    const method = (await page.getByTestId('flow-explain').getAttribute('data-method')) ||
      { c45: 'decision path', knn: 'nearest neighbours' }[m.architecture] || 'view';
    let line = `browser explanation ${m.id.padEnd(36)} ${method} ${first} ms`;
    if (['cnn', 'lstm', 'sae', 'han'].includes(m.architecture)) {
      const ig = await timed(
        () => page.locator('.method-switch input[value=integrated_gradients]').check(),
        '[data-method=integrated_gradients]',
      );
      line += `, integrated_gradients ${ig} ms`;
    }
    console.log(line + ' (click to shown, one flow)');
  }
}

/** Drops a capture of over 100,000 flows and watches the main thread:
 * parse time, its longest task while parsing and while the first models
 * run, and how long the table takes to show its last row. */
async function benchResponsiveness(file) {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('parse-status').filter({ hasText: /^idle$/ }).waitFor();
  await page.evaluate(() => {
    window.__tasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__tasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
  const t = Date.now();
  await page.setInputFiles('[data-testid="file-input"]', file);
  await page.waitForFunction(() => document.querySelector('[data-testid="parse-status"]')?.textContent === 'done', null, { timeout: 600_000, polling: 100 });
  const parseSecs = (Date.now() - t) / 1000;
  const flows = Number(await page.textContent('[data-testid="flow-count"]'));
  const parsing = await page.evaluate(() => window.__tasks.splice(0));
  await page.waitForTimeout(10_000); // the models run in the worker meanwhile
  const inferring = await page.evaluate(() => window.__tasks.splice(0));
  const scroll = await page.evaluate(async (n) => {
    const t = performance.now();
    const table = document.querySelector('[data-testid=flow-table]');
    table.scrollTop = table.scrollHeight;
    while (!document.querySelector(`[data-testid=flow-row][data-index="${n - 1}"]`)) {
      if (performance.now() - t > 10_000) return NaN;
      await new Promise((r) => requestAnimationFrame(r));
    }
    return performance.now() - t;
  }, flows);
  const rows = await page.getByTestId('flow-row').count();
  const fmt = (tasks) => `${tasks.length} long tasks, longest ${tasks.length ? Math.max(...tasks).toFixed(0) : 0} ms`;
  console.log(`browser ${flows} flows (${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB) parsed in ${parseSecs.toFixed(1)} s; main thread while parsing: ${fmt(parsing)}; during the next 10 s of inference: ${fmt(inferring)}; table scrolled to the last flow in ${scroll.toFixed(0)} ms with ${rows} rows in the document`);
  await page.close();
}
