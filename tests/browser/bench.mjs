// Browser figures for `cargo xtask bench` (not a test: prints, asserts nothing).
// Env: FLOWLENS_URL (page served by xtask), BENCH_CAPTURES (newline-separated
// real captures), BENCH_BIG (a ~1 GiB capture to drop into the page).
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const url = process.env.FLOWLENS_URL;
const files = (process.env.BENCH_CAPTURES || '').split('\n').filter(Boolean);
const big = process.env.BENCH_BIG;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
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
} finally {
  await browser.close();
}
