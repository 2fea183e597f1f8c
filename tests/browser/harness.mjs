// What every browser test file shares: where the page and the repository
// are, the headless Chromium it drives, a page that records every request
// and error, and the check that nothing left the page's origin.
// Not a test file itself (xtask runs `*.test.mjs`).

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.FLOWLENS_ROOT ?? path.resolve(HERE, '..', '..');
export const BASE = process.env.FLOWLENS_URL;
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

if (!BASE) {
  throw new Error('FLOWLENS_URL is not set: run these tests with `cargo xtask test`');
}
export const ORIGIN = new URL(BASE).origin;

/** Debian's headless Chromium, with everything that phones home switched off. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh context and page at `url` that record every request (the
 * worker's included) and every page, console and worker error; resolves
 * once the app has mounted (its parse status reads `idle`).
 */
export async function openPage(browser, url, timeout) {
  const context = await browser.newContext();
  const requests = [];
  const problems = [];
  context.on('request', (rq) => requests.push(rq.url()));
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('worker', (w) => {
    w.on('console', (m) => {
      if (m.type() === 'error') problems.push(`worker console error: ${m.text()}`);
    });
  });
  await page.goto(url);
  await page.getByTestId('parse-status').filter({ hasText: /^idle$/ }).waitFor({ timeout });
  return { context, page, requests, problems };
}

/** Nothing went anywhere but the page's own origin, and nothing failed. */
export function assertStayedHome({ requests, problems }) {
  assert.ok(requests.length > 0, 'no requests recorded at all');
  const away = requests.filter((u) => {
    try {
      return new URL(u).origin !== ORIGIN;
    } catch {
      return true;
    }
  });
  assert.deepEqual(away, [], `requests left ${ORIGIN}`);
  assert.deepEqual(problems, []);
}
