// The web page of `durl daemon` in headless Chromium, driven by playwright-core. Run by
// crates/durl/tests/it/interop/daemon_page.rs, which owns the daemon and the file server.
//
// Steps: open the page, add two URLs in one go, pause the slow one while it runs, resume it,
// wait until both rows say complete; no Content-Security-Policy violation may be logged. Then,
// from a page of another origin, a POST to /jsonrpc (a "simple" request, no preflight) and a
// WebSocket to it must both be refused.
//
// Environment: DURL_URL (the daemon's page), DURL_FAST, DURL_SLOW (URLs to add), DURL_OTHER
// (a page of another origin), DURL_CHROMIUM. Prints `ok STEP` lines and `done`.

import { launch, logger, until as untilWithin } from './chromium.mjs';

const STEP = 60_000;
const log = logger('daemon_page.mjs');
const say = (line) => process.stdout.write(`${line}\n`);
const until = (page, ...rest) => untilWithin(page, STEP, ...rest);

const { browser, done } = await launch(STEP, 4 * STEP, log);
const violations = [];
try {
  const page = await browser.newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    log('console', msg.type(), text);
    if (/Content Security Policy|Refused to/i.test(text)) violations.push(text);
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));

  await page.goto(process.env.DURL_URL);
  await page.waitForSelector('#app:not([hidden])', { timeout: STEP });
  say('ok page');

  await page.fill('#uris', `${process.env.DURL_FAST}\n${process.env.DURL_SLOW}`);
  await page.click('#add button[type=submit]');

  // A row's state, by the file name the row shows.
  const state = (name) => until(page, `row ${name}`, (n) => {
    for (const tr of document.querySelectorAll('#rows tr')) {
      if (tr.querySelector('.name')?.textContent === n) return tr.dataset.status;
    }
    return null;
  }, (s) => s !== null, name);
  const waitState = (name, want) => until(page, `${name} ${want}`, (n) => {
    for (const tr of document.querySelectorAll('#rows tr')) {
      if (tr.querySelector('.name')?.textContent === n) return tr.dataset.status;
    }
    return null;
  }, (s) => s === want, name);
  const click = (name, action) => page.click(`#rows tr:has(.name:text-is("${name}")) button[data-action=${action}]`);

  await state('slow.bin');
  await waitState('slow.bin', 'active');
  await click('slow.bin', 'pause');
  await waitState('slow.bin', 'paused');
  const shown = await page.textContent('#rows tr:has(.name:text-is("slow.bin")) .state');
  if (shown !== 'paused') throw new Error(`the state cell says ${shown}`);
  say('ok paused');
  await click('slow.bin', 'resume');
  await waitState('slow.bin', 'active');
  say('ok resumed');
  await waitState('fast.bin', 'complete');
  await waitState('slow.bin', 'complete');
  const percent = await page.textContent('#rows tr:has(.name:text-is("slow.bin")) td:nth-child(4)');
  if (percent !== '100%') throw new Error(`slow.bin shows ${percent}`);
  say('ok complete');
  if (violations.length) throw new Error(`CSP violations: ${violations.join(' | ')}`);
  say('ok no-csp-violations');

  // Another origin.
  const other = await browser.newPage();
  await other.goto(process.env.DURL_OTHER);
  const rpc = new URL('/jsonrpc', process.env.DURL_URL).href;
  const result = await other.evaluate(async ([rpc, fast]) => {
    const out = {};
    try {
      const r = await fetch(rpc, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'aria2.addUri', params: [[fast]] }),
      });
      out.post = `status ${r.status}`;
    } catch (e) {
      out.post = `refused: ${e.message}`;
    }
    out.ws = await new Promise((resolve) => {
      const ws = new WebSocket(rpc.replace(/^http/, 'ws'));
      ws.onopen = () => { ws.close(); resolve('opened'); };
      ws.onerror = () => resolve('refused');
      setTimeout(() => resolve('timeout'), 10_000);
    });
    return out;
  }, [rpc, process.env.DURL_FAST]);
  log('other origin', JSON.stringify(result));
  if (!result.post.startsWith('refused') || result.ws !== 'refused') {
    throw new Error(`another origin got through: ${JSON.stringify(result)}`);
  }
  say('ok other-origin-refused');
  say('done');
} catch (e) {
  log('failed', e.stack || e);
  process.exitCode = 1;
} finally {
  done();
  await browser.close();
}
