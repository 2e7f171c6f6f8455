// The directory listing of `durl serve` in headless Chromium: sort links in the header row
// (no script), breadcrumbs, light and dark schemes, a 400 px wide screen, and no
// Content-Security-Policy violation. Run by crates/durl/tests/it/interop/browser.rs, which
// owns the server.
//
// On DURL_URL (a listing two levels down, /docs/api/), with DURL_SHOTS set it also saves
// screenshots (1200 and 400 px, light and dark) there, for a person to look at.
// Prints one line, `result JSON`, on stdout; exits 1 on any failure.

import { launch, logger } from './chromium.mjs';

const STEP = 30_000;
const log = logger('browser_listing.mjs');

// What the page shows: rows (name cell texts), the sorted column, the crumbs, colours.
const look = () => {
  const names = [...document.querySelectorAll('tbody td.name a')].map((a) => a.textContent);
  const sorted = document.querySelector('th[aria-sort]');
  const style = getComputedStyle(document.body);
  const time = document.querySelector('td.modified time');
  const table = document.querySelector('table');
  return {
    names,
    sorted: sorted ? [sorted.className, sorted.getAttribute('aria-sort')] : null,
    crumbs: [...document.querySelectorAll('nav.crumbs li')].map((li) => li.textContent),
    current: document.querySelector('nav.crumbs [aria-current="page"]')?.textContent ?? null,
    background: style.backgroundColor,
    color: style.color,
    font: style.fontFamily,
    timeShown: time ? getComputedStyle(time).display !== 'none' : null,
    ago: document.querySelector('td.modified .ago')?.textContent ?? null,
    overflow: document.documentElement.scrollWidth > window.innerWidth,
    tableWidth: table ? table.getBoundingClientRect().width : 0,
    headers: [...document.querySelectorAll('th[scope="col"]')].length,
  };
};

const { browser, done: finished } = await launch(STEP, 4 * STEP, log);
let failed = false;
try {
  const result = {};
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP);
    const violations = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    await page.goto(process.env.DURL_URL);
    const first = await page.evaluate(look);
    if (process.env.DURL_SHOTS) await page.screenshot({ path: `${process.env.DURL_SHOTS}/listing-1200-${scheme}.png`, fullPage: true });
    // Sort by size, by clicking the header link: the largest file first.
    await page.click('th.size a');
    const bySize = await page.evaluate(look);
    const sizeUrl = page.url();
    // Again: the other order.
    await page.click('th.size a');
    const bySizeAsc = await page.evaluate(look);
    // By modification time.
    await page.click('th.modified a');
    const byTime = await page.evaluate(look);
    // A breadcrumb back to /docs/.
    await page.click('nav.crumbs li:nth-child(2) a');
    const up = { url: page.url(), ...(await page.evaluate(look)) };
    // Narrow: 400 px.
    await page.goto(process.env.DURL_URL);
    await page.setViewportSize({ width: 400, height: 800 });
    const narrow = await page.evaluate(look);
    if (process.env.DURL_SHOTS) await page.screenshot({ path: `${process.env.DURL_SHOTS}/listing-400-${scheme}.png`, fullPage: true });
    // The keyboard reaches the sort links and the entries in order.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.textContent ?? null);
    result[scheme] = { first, bySize, sizeUrl, bySizeAsc, byTime, up, narrow, focused, violations };
    await context.close();
  }
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
} catch (e) {
  log('failed:', e);
  failed = true;
} finally {
  finished();
  await browser.close();
}
process.exit(failed ? 1 : 0);
