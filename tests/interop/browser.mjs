// The upload page of `durl serve --upload` in headless Chromium, driven by playwright-core.
// Run by crates/durl/tests/it/interop/browser.rs, which owns the server; the two talk in
// lines: this script writes `uploading OFFSET`, `retrying TEXT` and `done JSON` on stdout,
// and waits for `killed` and `restarted` on stdin.
//
// Steps: open the listing, slow the upload down (CDP network emulation), choose the file;
// once the server has confirmed part of it, the test SIGKILLs the server; the page must
// show that it is retrying; the test restarts the server on the same port; the page is
// reloaded (so only localStorage knows the upload), the same file is chosen again, and the
// upload must continue where the server was, not at 0.
//
// Environment: DURL_URL (the listing), DURL_FILE (the file to upload), DURL_CHROMIUM.

import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import { statSync } from 'node:fs';
import { launch, logger, throttle, until as untilWithin } from './chromium.mjs';

const url = process.env.DURL_URL;
const file = process.env.DURL_FILE;
const size = statSync(file).size;
const CHUNK = 8 * 1024 * 1024; // upload.js's chunk size
const STEP = 40_000; // ms for any one step

const log = logger('browser.mjs');
const say = (line) => process.stdout.write(`${line}\n`);

// Lines from the test, one at a time, each within STEP.
const lines = createInterface({ input: process.stdin });
const queued = [];
let waiter = null;
lines.on('line', (line) => (waiter ? waiter(line) : queued.push(line)));
lines.on('close', () => waiter && waiter(null));
function expectLine(want) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${want}" from the test in ${STEP} ms`)), STEP);
    const take = (line) => {
      clearTimeout(timer);
      waiter = null;
      if (line === want) resolve();
      else reject(new Error(`expected "${want}" from the test, got ${JSON.stringify(line)}`));
    };
    if (queued.length > 0) take(queued.shift());
    else waiter = take;
  });
}

const until = (page, ...rest) => untilWithin(page, STEP, ...rest);

// The upload row's state, as the page shows it.
const row = () => {
  const li = document.querySelector('#durl-upload li[data-state]');
  if (!li) return null;
  const text = (c) => li.querySelector(c)?.textContent ?? '';
  return {
    state: li.dataset.state,
    offset: Number(li.dataset.offset ?? -1),
    resumed: li.dataset.resumed === undefined ? null : Number(li.dataset.resumed),
    amount: text('.durl-amount'),
    status: text('.durl-status') || li.textContent,
    button: li.querySelector('button:not([hidden])')?.textContent ?? null,
  };
};

// The whole run is bounded too: whatever hangs, the browser is closed and we exit 1.
const { browser, done: finished } = await launch(STEP, 3 * STEP, log);
let failed = false;
try {
  const context = await browser.newContext(); // a fresh profile: empty localStorage
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => log('page error:', e.message));
  await page.goto(url);
  await page.locator('#durl-upload:not([hidden])').waitFor();
  // About 2 MiB/s, so that the test sees a chunk confirmed long before the last one.
  const cdp = await context.newCDPSession(page);
  await throttle(cdp, 2 * 1024 * 1024);
  await page.setInputFiles('#durl-upload input[type=file]', file);
  const partial = await until(page, 'a first chunk confirmed', row, (r) => r && r.offset >= CHUNK);
  if (partial.offset >= size) throw new Error(`the upload finished before the kill: ${JSON.stringify(partial)}`);
  log('partial', partial);
  say(`uploading ${partial.offset}`);

  await expectLine('killed');
  const retrying = await until(page, 'the page showing the error', row, (r) => r && (r.state === 'retrying' || r.state === 'failed'));
  log('after the kill', retrying);
  say(`retrying ${JSON.stringify(retrying)}`);

  await expectLine('restarted');
  // Only the requests after the reload count: their Upload-Offset headers.
  const patches = [];
  let posts = 0;
  page.on('request', (request) => {
    if (request.method() === 'PATCH') patches.push(Number(request.headers()['upload-offset']));
    if (request.method() === 'POST') posts += 1;
  });
  await page.reload();
  await throttle(cdp, -1); // the rest at full speed
  await page.locator('#durl-upload:not([hidden])').waitFor();
  const unfinished = await page.locator('#durl-upload li[data-state=unfinished]').textContent();
  log('after the reload', unfinished);
  await page.setInputFiles('#durl-upload input[type=file]', file);
  const done = await until(page, 'the upload completing', row, (r) => r && (r.state === 'done' || r.state === 'failed'));
  log('finished', done);
  const listed = await until(
    page,
    'the listing showing the file',
    (name) => [...document.querySelectorAll('table a')].some((a) => a.textContent === name),
    (found) => found,
    basename(file),
  ).catch(() => false);
  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('durl-upload:')).length);
  say(`done ${JSON.stringify({ ...done, unfinished, patches, posts, listed, stored, name: basename(file) })}`);
} catch (e) {
  failed = true;
  log('failed:', e.stack || e.message);
} finally {
  finished();
  await browser.close();
  lines.close();
}
process.exit(failed ? 1 : 0);
