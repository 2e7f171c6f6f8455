// The upload page of `durl serve --upload` in headless Chromium: files dropped on the page
// of a subdirectory land there, a name conflict is resolved with "Keep both". Run by
// crates/durl/tests/it/interop/browser.rs, which owns the server.
//
// 1. On DURL_URL (a subdirectory's listing), a file is dropped on the page (a DataTransfer
//    holding a File made in the page from DURL_TEXT); it must complete.
// 2. A file named DURL_TAKEN (already in that directory) is dropped; the server answers 409
//    and the page must say so and offer "Keep both" (and no Retry; "Replace" only where the
//    server overwrites, which this one does not); clicking it must complete the upload.
// 3. paused.bin (DURL_PAUSED_LEN bytes, byte i = i * 7 % 251) is dropped with the upload
//    slowed down; its rate and time left must show; it is paused with its button in the
//    middle of a chunk, and resumed.
// With DURL_SHOTS set, screenshots at 1200 and 400 px are saved there (for a person).
// Prints one line, `result JSON`, on stdout; exits 1 on any failure.

import { launch, logger, throttle, until as untilWithin } from './chromium.mjs';

const STEP = 30_000;
const log = logger('browser_drop.mjs');

const until = (page, ...rest) => untilWithin(page, STEP, ...rest);

// The row of the upload of `name`.
const row = (name) => {
  const li = [...document.querySelectorAll('#durl-upload li[data-state]')].find(
    (l) => l.querySelector('.durl-name')?.textContent === name,
  );
  if (!li) return null;
  return {
    state: li.dataset.state,
    amount: li.querySelector('.durl-amount')?.textContent ?? '',
    status: li.querySelector('.durl-status')?.textContent ?? '',
    rate: li.querySelector('.durl-rate')?.textContent ?? '',
    button: li.querySelector('button:not([hidden])')?.textContent ?? null,
    buttons: [...li.querySelectorAll('button:not([hidden])')].map((b) => b.textContent),
  };
};

// Drops a file holding `text`, or `len` pattern bytes if `text` is null.
async function drop(page, name, text, len = 0) {
  const transfer = await page.evaluateHandle(
    ([n, t, l]) => {
      let body = t;
      if (t === null) {
        body = new Uint8Array(l);
        for (let i = 0; i < l; i += 1) body[i] = (i * 7) % 251;
      }
      const dt = new DataTransfer();
      dt.items.add(new File([body], n, { type: 'text/plain' }));
      return dt;
    },
    [name, text, len],
  );
  await page.dispatchEvent('h1', 'dragover', { dataTransfer: transfer });
  const lit = await page.evaluate(() => document.getElementById('durl-upload').classList.contains('durl-over'));
  await page.dispatchEvent('h1', 'drop', { dataTransfer: transfer });
  return lit;
}

const { browser, done: finished } = await launch(STEP, 3 * STEP, log);
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  const violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  await page.goto(process.env.DURL_URL);
  await page.locator('#durl-upload:not([hidden])').waitFor();
  const note = await page.locator('#durl-upload h2').textContent();

  const name = 'dropped.txt';
  const lit = await drop(page, name, process.env.DURL_TEXT);
  const dropped = await until(page, 'the dropped file', row, (r) => r && (r.state === 'done' || r.state === 'failed'), name);
  log('dropped', dropped);

  const taken = process.env.DURL_TAKEN;
  await drop(page, taken, 'other bytes');
  const conflict = await until(page, 'the conflict', row, (r) => r && r.state !== 'queued' && r.state !== 'uploading', taken);
  log('conflict', conflict);
  const shots = process.env.DURL_SHOTS;
  if (shots) {
    await page.screenshot({ path: `${shots}/upload-1200.png`, fullPage: true });
    await page.setViewportSize({ width: 400, height: 800 });
    await page.screenshot({ path: `${shots}/upload-400.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });
  }
  await page.locator('#durl-upload li', { hasText: taken }).locator('button.durl-keep').click();
  const kept = await until(page, 'keep both', row, (r) => r && (r.state === 'done' || r.state === 'failed'), taken);
  log('kept', kept);

  const cdp = await context.newCDPSession(page);
  await throttle(cdp, 512 * 1024);
  await drop(page, 'paused.bin', null, Number(process.env.DURL_PAUSED_LEN));
  await until(page, 'paused.bin uploading', row, (r) => r && r.state === 'uploading' && r.button === 'Pause', 'paused.bin');
  const measured = await until(page, 'the rate and time left', row, (r) => r && r.rate.includes('/s'), 'paused.bin');
  log('measured', measured);
  await page.locator('#durl-upload li', { hasText: 'paused.bin' }).locator('button.durl-toggle').click();
  const paused = await until(page, 'the pause', row, (r) => r && r.state === 'paused', 'paused.bin');
  log('paused', paused);
  await throttle(cdp, -1);
  await page.locator('#durl-upload li', { hasText: 'paused.bin' }).locator('button.durl-toggle').click();
  const resumed = await until(page, 'paused.bin complete', row, (r) => r && (r.state === 'done' || r.state === 'failed'), 'paused.bin');
  log('resumed', resumed);

  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('durl-upload:')).length);
  process.stdout.write(`result ${JSON.stringify({ note, lit, dropped, conflict, kept, measured, paused, resumed, stored, violations })}\n`);
} catch (e) {
  failed = true;
  log('failed:', e.stack || e.message);
} finally {
  finished();
  await browser.close();
}
process.exit(failed ? 1 : 0);
