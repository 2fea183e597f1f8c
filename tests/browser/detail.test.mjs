// End-to-end tests of the explanation views in headless Chromium: flow
// detail (heatmap, methods, decision path, neighbours, what-if), share
// links opened in a fresh browser context, hostile links, the capture-wide
// field view and the shortcut audit.
//
// Run by `cargo xtask test` (FLOWLENS_URL, FLOWLENS_ROOT, CHROMIUM). Tests
// that need the published models skip, saying so, when
// www/models/manifest.json is absent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, BASE, launchBrowser, openPage as open, assertStayedHome } from './harness.mjs';

// A real capture (tests/data/browser/SOURCES.md): DNS over UDP, IPv4.
const CAPTURE = path.join(ROOT, 'tests', 'data', 'browser', 'dns-wiresharkrepo.pcap');
const MANIFEST = path.join(ROOT, 'www', 'models', 'manifest.json');
const TIMEOUT_MS = 180_000;
const NO_MODELS = fs.existsSync(MANIFEST)
  ? false
  : 'skipped: www/models/manifest.json is absent (no published models to explain with)';
const manifest = NO_MODELS ? null : JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
// The first pack has the deep models; a pack with k-NN has all six.
const FIRST_PACK = manifest?.packs[0];
const FULL_PACK = manifest?.packs.find((p) => p.models.some((m) => m.architecture === 'knn'));

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** A fresh context and page at `url` (see harness.mjs). */
function openPage(url = BASE) {
  return open(browser, url, TIMEOUT_MS);
}

/** Drops the capture, picks `pack`, waits until every model ran. */
async function dropAndClassify(page, pack, file = CAPTURE) {
  await page.getByTestId('file-input').setInputFiles(file);
  await page.getByTestId('parse-status').filter({ hasText: /^done$/ }).waitFor({ timeout: TIMEOUT_MS });
  if (pack) {
    const select = page.getByTestId('pack-select');
    if ((await select.inputValue()) !== pack.id) await select.selectOption(pack.id);
  }
  await page.locator('[data-testid=inference-status]:visible').filter({ hasText: /^done$/ })
    .waitFor({ timeout: TIMEOUT_MS });
}

async function explainReady(page) {
  const view = page.getByTestId('flow-explain');
  await view.and(page.locator('[data-state=ready]')).waitFor({ timeout: TIMEOUT_MS });
  return view;
}

/** Waits for a new answer after an action that changes the view. */
async function settled(page, action) {
  await action();
  // The state goes through `loading` (maybe too fast to see) back to ready.
  await page.waitForTimeout(100);
  return explainReady(page);
}

/** Clicks a model's tab and waits for its explanation. */
async function showModel(page, id) {
  await page.locator(`.model-tabs [data-model="${id}"]`).click();
  await page.locator(`[data-testid=flow-explain][data-model="${id}"][data-state=ready]`)
    .waitFor({ timeout: TIMEOUT_MS });
}

async function predictions(page) {
  return page.getByTestId('explain-prediction').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.model, e.dataset.label])));
}

test('a flow opens with packet bars, a P × B heatmap naming header fields, and every method', { skip: NO_MODELS }, async () => {
  const session = await openPage();
  const { page, context } = session;
  await dropAndClassify(page, FIRST_PACK);
  await page.getByTestId('flow-row').first().click();
  const view = await explainReady(page);

  const heatmap = page.getByTestId('heatmap');
  const p = Number(await heatmap.getAttribute('data-packets'));
  const b = Number(await heatmap.getAttribute('data-bytes'));
  assert.ok(p > 0 && b > 0);
  assert.equal(await heatmap.locator('.hm-c').count(), p * b, 'one cell per byte of the P × B input');
  // Byte 8 of the first packet is the IPv4 TTL.
  await heatmap.locator('.hm-c[data-p="0"][data-b="8"]').hover();
  const info = page.getByTestId('byte-info');
  await info.filter({ hasText: /ipv4\.ttl = \d+/ }).waitFor({ timeout: TIMEOUT_MS });
  assert.match(await info.textContent(), /weight [+-]\d/);
  // Keyboard: the pointer out of the way, focus the grid, go to the first
  // byte of the first packet, move right: the info names each field.
  await page.mouse.move(0, 0);
  await heatmap.focus();
  for (let i = 0; i < p; i++) await page.keyboard.press('PageUp');
  await page.keyboard.press('Home');
  await info.filter({ hasText: /Packet 1 · byte 0 .*ipv4\.version_ihl/ }).waitFor({ timeout: TIMEOUT_MS });
  await page.keyboard.press('ArrowRight');
  await info.filter({ hasText: /Packet 1 · byte 1 .*ipv4\.dscp_ecn/ }).waitFor({ timeout: TIMEOUT_MS });
  assert.ok(await page.getByTestId('packet-bars').isVisible());
  assert.ok((await page.getByTestId('field-tree').locator('tr[data-field="ipv4.ttl"]').count()) > 0);

  // Every model of the pack answers on the flow, as in the table.
  const preds = await predictions(page);
  for (const m of FIRST_PACK.models) assert.ok(preds[m.id], `no prediction from ${m.id}`);
  const row = page.getByTestId('flow-row').first();
  for (const m of FIRST_PACK.models) {
    const label = await row.locator(`[data-testid=prediction][data-model="${m.id}"]`).getAttribute('data-label');
    assert.equal(preds[m.id], label, `${m.id}: the detail and the table agree`);
  }

  // Method switch, per architecture.
  const han = FIRST_PACK.models.find((m) => m.architecture === 'han');
  if (han) {
    await showModel(page, han.id);
    assert.equal(await view.getAttribute('data-method'), 'attention_combined');
  }
  const cnn = FIRST_PACK.models.find((m) => m.architecture === 'cnn');
  if (cnn) {
    await showModel(page, cnn.id);
    assert.equal(await view.getAttribute('data-method'), 'gradient_input');
    await settled(page, () => page.locator('.method-switch label', { hasText: 'Integrated gradients' }).click());
    await page.getByTestId('flow-explain').and(page.locator('[data-method=integrated_gradients]'))
      .waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await heatmap.locator('.hm-c').count(), p * b);
  }

  // What-if: a new TTL re-classifies with every model at once.
  const ttl = page.getByTestId('what-if-field').and(page.locator('[data-field="ipv4.ttl"]'));
  await ttl.locator('input').fill('1');
  await settled(page, () => ttl.locator('button').click());
  await heatmap.locator('.hm-c.edited[data-p="0"][data-b="8"]').waitFor({ timeout: TIMEOUT_MS });
  const after = await predictions(page);
  for (const m of FIRST_PACK.models) assert.ok(after[m.id], `no prediction from ${m.id} after the edit`);

  // Exports are made in the tab (blob: downloads, nothing uploaded).
  const exported = {};
  for (const kind of ['svg', 'png', 'json']) {
    const download = page.waitForEvent('download', { timeout: TIMEOUT_MS });
    await page.getByTestId(`export-${kind}`).click();
    const d = await download;
    assert.ok(d.suggestedFilename().endsWith(`.${kind}`), d.suggestedFilename());
    exported[kind] = fs.readFileSync(await d.path());
  }
  assert.match(exported.svg.toString('utf8'), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(exported.svg.toString('utf8').match(/stroke-width="0\.5"/g).length, p * b, 'one square per byte');
  assert.deepEqual([...exported.png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  const json = JSON.parse(exported.json.toString('utf8'));
  assert.equal(json.model_id, await view.getAttribute('data-model'));
  assert.equal(json.bytes.length, p * b);
  assert.equal(json.edits.length, 1, 'the TTL edit is part of the exported view');
  assertStayedHome(session);
  await context.close();
});

test('C4.5 shows its decision path on the grid and k-NN its three neighbours', { skip: NO_MODELS || (!FULL_PACK && 'skipped: no pack with C4.5 and k-NN') }, async () => {
  const session = await openPage();
  const { page, context } = session;
  await dropAndClassify(page, FULL_PACK);
  await page.getByTestId('flow-row').first().click();
  await explainReady(page);
  const c45 = FULL_PACK.models.find((m) => m.architecture === 'c45');
  await showModel(page, c45.id);
  const path = page.getByTestId('decision-path');
  await path.waitFor({ timeout: TIMEOUT_MS });
  assert.ok((await path.locator('li[data-feature]').count()) > 0, 'the path has tests');
  const knn = FULL_PACK.models.find((m) => m.architecture === 'knn');
  await showModel(page, knn.id);
  const rows = page.getByTestId('neighbours').getByTestId('neighbour');
  await rows.first().waitFor({ timeout: TIMEOUT_MS });
  assert.equal(await rows.count(), 3);
  const distances = await rows.evaluateAll((r) => r.map((e) => Number(e.dataset.distance)));
  assert.deepEqual(distances, [...distances].sort((a, b) => a - b), 'nearest first');
  assertStayedHome(session);
  await context.close();
});

// A committed fixture, and a capture of the first pack's own dataset when
// ../shared/data is here.
const SHARED_CAPTURE = path.resolve(ROOT, '..', 'shared', 'data', 'ISCX-VPN-nonVPN-784B', 'Chat', 'Chat_t10k_SessionAllLayers_784B.pcap');
for (const file of [CAPTURE, SHARED_CAPTURE]) {
  const skip = NO_MODELS || (!fs.existsSync(file) && `skipped: ${file} is absent (../shared/data not here)`);
  test(`${path.basename(file)}: a share link opened in a fresh browser shows the same predictions, without the capture`, { skip }, async () => {
    const session = await openPage();
    const { page, context } = session;
    await dropAndClassify(page, FIRST_PACK, file);
    await page.getByTestId('flow-row').nth(1).click();
    await explainReady(page);
    // The view on the flow's last packet: the link keeps the selection.
    const last = (await page.locator('.hm-packet:not(.absent)').count()) - 1;
    await settled(page, () => page.locator(`.hm-c[data-p="${last}"][data-b="8"]`).click());
    const whatIf = async (p) => (await p.getByTestId('what-if').locator('h3').textContent()).trim();
    assert.equal(await whatIf(page), `What if… (packet ${last + 1})`);
    // With the payload: the very same input, so the very same answers.
    await settled(page, () => page.getByTestId('share-payload').check());
    const withPayload = await page.getByTestId('share-link').getAttribute('href');
    const want = await predictions(page);
    const model = await page.getByTestId('flow-explain').getAttribute('data-model');
    await page.getByTestId('share-payload').uncheck();
    const withoutPayload = await page.getByTestId('share-link').getAttribute('href');
    assert.ok(withPayload.startsWith(new URL(BASE).origin) && withPayload.includes('#'));
    assert.notEqual(withPayload, withoutPayload);
    assertStayedHome(session);
    await context.close();

    const fresh = await openPage(withPayload);
    await explainReady(fresh.page);
    assert.equal(await fresh.page.getByTestId('flow-explain').getAttribute('data-model'), model);
    assert.deepEqual(await predictions(fresh.page), want);
    assert.equal(await fresh.page.getByTestId('flow-row').count(), 0, 'no capture was dropped');
    assert.ok((await fresh.page.getByTestId('heatmap').locator('.hm-c').count()) > 0);
    // The same packet selected: the what-if editor opens on it.
    await fresh.page.waitForFunction(
      (want) => document.querySelector('[data-testid=what-if] h3')?.textContent.trim() === want,
      `What if… (packet ${last + 1})`, { timeout: TIMEOUT_MS });
    assertStayedHome(fresh);
    await fresh.context.close();

    // The default link (payload left out) opens too.
    const lean = await openPage(withoutPayload);
    await explainReady(lean.page);
    const got = await predictions(lean.page);
    for (const m of FIRST_PACK.models) assert.ok(got[m.id], `no prediction from ${m.id}`);
    assertStayedHome(lean);
    await lean.context.close();
  });
}

test('a malformed or hostile share link shows a clear error', async () => {
  const bad = [
    '#not*base64',
    '#' + 'A'.repeat(70_000),
    // Version byte 1, then bytes that are not deflate data.
    '#AXh4eHh4eHh4',
  ];
  for (const fragment of bad) {
    const session = await openPage(new URL(fragment, BASE).href);
    const { page, context } = session;
    const error = page.getByTestId('error');
    await error.waitFor({ timeout: TIMEOUT_MS });
    const text = await error.textContent();
    if (NO_MODELS) {
      assert.match(text, /no models/i);
    } else {
      assert.match(text, /share link/i, text);
    }
    assertStayedHome(session);
    await context.close();
  }
});

test('the audit panel and the capture-wide field view fill on the dropped capture', { skip: NO_MODELS }, async () => {
  const session = await openPage();
  const { page, context } = session;
  await dropAndClassify(page, FIRST_PACK);

  await page.getByTestId('audit-run').click();
  const panel = page.getByTestId('audit-panel');
  await panel.and(page.locator('[data-state=done]')).waitFor({ timeout: TIMEOUT_MS });
  const rows = await panel.getByTestId('audit-row').evaluateAll((els) =>
    els.map((e) => ({ model: e.dataset.model, group: e.dataset.group, flipped: Number(e.dataset.flipped), flows: Number(e.dataset.flows) })));
  assert.equal(rows.length, FIRST_PACK.models.length * 10, 'one row per model and field group');
  for (const r of rows) {
    assert.ok(r.flows > 0 && r.flipped >= 0 && r.flipped <= r.flows, JSON.stringify(r));
  }
  // Open a flipped flow, if any model flips on something.
  const flipping = rows.find((r) => r.flipped > 0);
  if (flipping) {
    await panel.locator(`[data-testid=audit-row][data-model="${flipping.model}"][data-group="${flipping.group}"] button`).click();
    const first = page.getByTestId('audit-flow').first();
    const index = await first.getAttribute('data-flow');
    await first.click();
    const view = await explainReady(page);
    assert.equal(await view.getAttribute('data-flow'), index);
    assert.equal(await view.getAttribute('data-model'), flipping.model);
  }

  await page.getByTestId('capture-fields-run').click();
  const fields = page.getByTestId('capture-fields');
  await fields.and(page.locator('[data-state=done]')).waitFor({ timeout: TIMEOUT_MS });
  const deep = FIRST_PACK.models.filter((m) => !['c45', 'knn'].includes(m.architecture));
  assert.equal(await fields.getByTestId('field-model').count(), deep.length);
  for (const el of await fields.getByTestId('field-model').all()) {
    const share = Number(await el.getAttribute('data-site-share'));
    assert.ok(share >= 0 && share <= 1.0001);
    const dominates = (await el.getAttribute('data-dominates')) === 'true';
    assert.equal(dominates, share >= 0.5);
    assert.equal((await el.textContent()).includes('leans on fields that say more about the network'), dominates);
  }
  assertStayedHome(session);
  await context.close();
});
