// End-to-end tests of the flowlens page in headless Chromium.
//
// Run by `cargo xtask test`, which builds www/pkg, serves www/ on
// 127.0.0.1 and passes FLOWLENS_URL (and FLOWLENS_ROOT, CHROMIUM).
// The expected flows come from the native CLI, `trainer flows --json`,
// run on the same bytes: the page and the CLI must agree exactly.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = process.env.FLOWLENS_ROOT ?? path.resolve(HERE, '..', '..');
const BASE = process.env.FLOWLENS_URL;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIXTURES = path.join(ROOT, 'tests', 'data', 'browser');
// Real captures (see tests/data/browser/SOURCES.md): IPv4 and IPv6.
const CAPTURES = ['dns-wiresharkrepo.pcap', 'v6.pcap'];
const TIMEOUT_MS = 60_000;

if (!BASE) {
  throw new Error('FLOWLENS_URL is not set: run these tests with `cargo xtask test`');
}
const ORIGIN = new URL(BASE).origin;

let browser;
let tmp;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-browser-'));
  browser = await chromium.launch({
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
});

after(async () => {
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

/** Flows of `file` according to `trainer flows --json` (exit 2 = read error). */
function cliFlows(file) {
  const cargo = process.env.CARGO ?? 'cargo';
  const r = spawnSync(cargo, ['run', '-q', '-p', 'trainer', '--', 'flows', file, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && r.status !== 2) {
    throw new Error(`trainer flows ${file} exited with ${r.status}:\n${r.stderr}`);
  }
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const last = lines.pop();
  assert.ok(last && last.summary, `no summary line from trainer flows ${file}`);
  return { flows: lines, summary: last.summary, failed: r.status === 2, stderr: r.stderr };
}

const tupleKey = (f) => [f.proto, f.src, f.sport, f.dst, f.dport].join(' ');

/**
 * A fresh page that records every request it (and its worker) makes.
 * `query` may set `slice_bytes`: how much of the file the worker reads at a time.
 */
async function openPage(query = '') {
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
  await page.goto(new URL(query, BASE).href);
  // The app has mounted once its status element exists.
  await page.getByTestId('parse-status').filter({ hasText: /^idle$/ }).waitFor({ timeout: TIMEOUT_MS });
  return { context, page, requests, problems };
}

async function waitDone(page) {
  await page.getByTestId('parse-status').filter({ hasText: /^done$/ }).waitFor({ timeout: TIMEOUT_MS });
}

async function pageRows(page) {
  return page.getByTestId('flow-row').evaluateAll((rows) =>
    rows.map((r) => ({
      proto: r.dataset.proto,
      src: r.dataset.src,
      sport: Number(r.dataset.sport),
      dst: r.dataset.dst,
      dport: Number(r.dataset.dport),
    })),
  );
}

async function flowCount(page) {
  return Number((await page.getByTestId('flow-count').textContent()).trim());
}

/** The page's flows equal the CLI's, as multisets of 5-tuples. */
function assertSameFlows(rows, expected) {
  const got = rows.map(tupleKey).sort();
  const want = expected.map(tupleKey).sort();
  assert.deepEqual(got, want);
}

/** Nothing went anywhere but the page's own origin, and nothing failed. */
function assertStayedHome({ requests, problems }) {
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

function writeTmp(name, bytes) {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, bytes);
  return p;
}

// ------------------------------------------------------------------ tests

// Each capture twice: read whole (4 MiB slices) and in 4 KiB slices, so that
// records cut by slice boundaries are exercised.
for (const [name, query] of CAPTURES.flatMap((n) => [[n, ''], [n, '?slice_bytes=4096']])) {
  test(`${name}${query}: the page finds the same flows as the CLI`, async () => {
    const file = path.join(FIXTURES, name);
    const expected = cliFlows(file);
    assert.equal(expected.failed, false, expected.stderr);
    assert.ok(expected.flows.length > 1, 'fixture should hold several flows');

    const session = await openPage(query);
    const { page, context, requests } = session;
    await page.getByTestId('file-input').setInputFiles(file);
    await waitDone(page);

    assert.equal(await flowCount(page), expected.summary.flows);
    assert.equal(await flowCount(page), expected.flows.length);
    assertSameFlows(await pageRows(page), expected.flows);
    assert.equal(await page.getByTestId('error').count(), 0, 'no error expected');
    // The worker fetched the module itself: its requests are recorded too.
    assert.ok(requests.some((u) => u.endsWith('/worker.js')), 'worker.js was loaded');
    assertStayedHome(session);
    await context.close();
  });
}

test('a truncated capture shows an error and keeps the flows read before it', async () => {
  const full = fs.readFileSync(path.join(FIXTURES, CAPTURES[1]));
  // Cut inside a record, well past the first packets.
  const cut = writeTmp('truncated.pcap', full.subarray(0, Math.floor(full.length * 0.6) + 3));
  const expected = cliFlows(cut);
  assert.equal(expected.failed, true, 'the CLI should report the truncation');
  assert.ok(expected.flows.length > 0, 'flows before the cut should survive');
  const fullFlows = new Set(cliFlows(path.join(FIXTURES, CAPTURES[1])).flows.map(tupleKey));

  const session = await openPage();
  const { page, context } = session;
  await page.getByTestId('file-input').setInputFiles(cut);
  await waitDone(page);

  const error = page.getByTestId('error');
  await error.waitFor({ timeout: TIMEOUT_MS });
  assert.match(await error.textContent(), /truncated|ends in the middle/i);
  assert.equal(await flowCount(page), expected.flows.length);
  const rows = await pageRows(page);
  assertSameFlows(rows, expected.flows);
  for (const r of rows) assert.ok(fullFlows.has(tupleKey(r)), `${tupleKey(r)} is not in the full capture`);
  assertStayedHome(session);
  await context.close();
});

test('a corrupt record after valid packets shows an error and keeps every flow before it', async () => {
  const full = fs.readFileSync(path.join(FIXTURES, CAPTURES[0]));
  // A record header claiming 0xffffffff captured bytes: no real packet is that big.
  const bad = Buffer.alloc(16, 0xff);
  const corrupt = writeTmp('corrupt.pcap', Buffer.concat([full, bad, Buffer.alloc(64)]));
  const expected = cliFlows(corrupt);
  assert.equal(expected.failed, true, 'the CLI should reject the bad record');

  const session = await openPage();
  const { page, context } = session;
  await page.getByTestId('file-input').setInputFiles(corrupt);
  await waitDone(page);

  await page.getByTestId('error').waitFor({ timeout: TIMEOUT_MS });
  assert.match(await page.getByTestId('error').textContent(), /at byte \d+/);
  assert.equal(await flowCount(page), expected.flows.length);
  assertSameFlows(await pageRows(page), expected.flows);
  assertStayedHome(session);
  await context.close();
});

test('columns sort, and the drop zone works from the keyboard', async () => {
  const session = await openPage();
  const { page, context } = session;

  // Tab reaches the drop zone; Enter opens the file picker. (Listening for
  // the chooser first gives Playwright time to start intercepting it.)
  const chooserShown = page.waitForEvent('filechooser', { timeout: TIMEOUT_MS });
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('role'));
  assert.equal(focused, 'button');
  await page.keyboard.press('Enter');
  const chooser = await chooserShown;
  await chooser.setFiles(path.join(FIXTURES, CAPTURES[1]));
  await waitDone(page);

  const column = async (index) =>
    page.locator('[data-testid=flow-row]').evaluateAll(
      (rows, i) => rows.map((r) => Number(r.cells[i].textContent.replace(/,/g, ''))),
      index,
    );
  // Packets (7th column): first click sorts largest first, second smallest first.
  const packets = page.getByRole('button', { name: /^Packets/ });
  await packets.click();
  const desc = await column(6);
  assert.deepEqual(desc, [...desc].sort((a, b) => b - a));
  assert.equal(await page.locator('th[aria-sort=descending]').count(), 1);
  await packets.click();
  const asc = await column(6);
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b));
  // Source port ascending.
  await page.getByRole('button', { name: /^Src port/ }).click();
  const sports = await column(3);
  assert.deepEqual(sports, [...sports].sort((a, b) => a - b));
  assertStayedHome(session);
  await context.close();
});

test('cancel stops reading and keeps the flows read so far', async () => {
  // A valid 16 MiB pcap (the fixture's packet records repeated), read in
  // 16 KiB slices: about a thousand slices, each a trip through the worker's
  // event loop, so a cancel lands half-way.
  const src = fs.readFileSync(path.join(FIXTURES, CAPTURES[0]));
  const header = src.subarray(0, 24);
  const records = src.subarray(24);
  const copies = Math.ceil((16 << 20) / records.length);
  const big = writeTmp('big.pcap', Buffer.concat([header, ...Array(copies).fill(records)]));

  const session = await openPage('?slice_bytes=16384');
  const { page, context } = session;
  // Press Cancel from inside the page as soon as the first flows are
  // reported: a click from the test process could arrive after the end on
  // a busy machine.
  await page.evaluate(() => {
    const observer = new MutationObserver(() => {
      const text = document.querySelector('.progress-text')?.textContent ?? '';
      const cancel = document.querySelector('button.cancel');
      if (cancel && /[1-9][\d,]* flows so far/.test(text)) {
        observer.disconnect();
        cancel.click();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('file-input').setInputFiles(big);
  await waitDone(page);

  // The worker reports "cancelled" only when it stopped before the end.
  assert.match(await page.locator('.summary .note').textContent(), /Stopped after .* of 16\.0 MiB/);
  assert.equal(await page.getByTestId('error').count(), 0, 'a cancel is not an error');
  const count = await flowCount(page);
  assert.ok(count > 0, 'flows read before the cancel are kept');
  assert.equal((await pageRows(page)).length, count);
  assertStayedHome(session);
  await context.close();
});
