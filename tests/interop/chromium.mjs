// What the browser scripts (browser.mjs, browser_drop.mjs) share: Debian's Chromium started
// headless by playwright-core with the flags this machine's closed network needs, a bound on
// the whole run, polling the page, and slowing the upload down with CDP network emulation.

import { chromium } from 'playwright-core';

// A logger on stderr that stamps each line with `name` and the milliseconds since start.
export function logger(name) {
  const started = Date.now();
  return (...args) => console.error(`[${name} ${Date.now() - started} ms]`, ...args);
}

// Launches Chromium (DURL_CHROMIUM or /usr/bin/chromium) and closes it, exiting 1, if the
// whole run takes longer than `overallMs`; call the returned `done()` when finished.
export async function launch(stepMs, overallMs, log) {
  const browser = await chromium.launch({
    executablePath: process.env.DURL_CHROMIUM || '/usr/bin/chromium',
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
    timeout: stepMs,
  });
  const overall = setTimeout(() => {
    log('overall time limit reached');
    browser.close().finally(() => process.exit(1));
  }, overallMs);
  return { browser, done: () => clearTimeout(overall) };
}

// Polls `probe` in the page until `done(value)`, within `stepMs`.
export async function until(page, stepMs, what, probe, done, arg) {
  const deadline = Date.now() + stepMs;
  for (;;) {
    const value = await page.evaluate(probe, arg);
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${stepMs} ms, last ${JSON.stringify(value)}`);
    await page.waitForTimeout(100);
  }
}

// Limits the page's upload to `bytesPerSecond` (-1: no limit).
export async function throttle(cdp, bytesPerSecond) {
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}
