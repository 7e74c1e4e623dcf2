/**
 * A long plan history in the console, in headless Chromium against the real server with the default
 * offline agent: a session with 220 plan versions opens with the newest page of changes only (50), the
 * "load older" control fetches the pages before it until the first version, a diff spans two pages, and a
 * new edit while older pages are shown keeps the list whole. The REST snapshot of the page is measured
 * against the unpaged one; the time from click to rendered plan is printed, not asserted. Screenshot in
 * test-artifacts/ui/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult, SessionSnapshot } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import type { RunningServer } from '../src/app.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { startTestServer } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/ui/', import.meta.url));
const EDITS = 219; // + the planner's version = 220
const VERSIONS = EDITS + 1;

let srv: RunningServer;
let base: string;
let browser: TestBrowser;
let token: string;
let todoId: string;

async function edit(i: number): Promise<void> {
  const e = await request(base, 'POST', '/api/sessions/long/commands?wait=true', {
    body: { type: 'plan.edit', edits: [{ op: 'update', todoId, patch: { title: `Step, take ${i}` } }] },
    headers: { authorization: `Bearer ${token}` },
  });
  expect(e.status, JSON.stringify(e.body).slice(0, 300)).toBe(200);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ srv, base } = await startTestServer({ layers: 'offline' }));
  token = await srv.auth.sign('olga', ['operator', 'viewer']);
  const r = await request(base, 'POST', '/api/sessions?wait=true', {
    body: {
      input: "Analyse last quarter's sales by region and email the report to the team",
      sessionId: 'long',
    },
    headers: { authorization: `Bearer ${token}` },
  });
  expect((r.body as RunResult).pending[0]?.kind).toBe('plan_review');
  const snap = await srv.agent.getSession('long', { history: 'changes' });
  todoId = snap.plan?.todos[0]?.id ?? '';
  expect(todoId).not.toBe('');
  for (let i = 1; i <= EDITS; i++) await edit(i);
  browser = await openBrowser(1000);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

describe('a session with 220 plan versions in the console (Chromium)', () => {
  it('opens on the newest page of changes, loads older pages on demand, and diffs across pages', async () => {
    const { page, consoleErrors } = browser;
    const auth = { authorization: `Bearer ${token}` };
    const all = await request(base, 'GET', '/api/sessions/long?history=changes&edits=false', {
      headers: auth,
    });
    const paged = await request(
      base,
      'GET',
      '/api/sessions/long?history=changes&edits=false&changesLimit=50',
      {
        headers: auth,
      },
    );
    const body = paged.body as SessionSnapshot & { planChangesPage?: unknown };
    expect((all.body as SessionSnapshot).planChanges).toHaveLength(VERSIONS);
    expect(body.planChanges?.map((c) => c.version)).toEqual(
      Array.from({ length: 50 }, (_, i) => VERSIONS - 49 + i),
    );
    expect(body.planChangesPage).toEqual({ total: VERSIONS, older: VERSIONS - 50, newer: 0 });
    const bytes = (b: unknown) => Buffer.byteLength(JSON.stringify(b));
    console.log(
      `paged snapshot: ${VERSIONS} changes ${bytes(all.body)} bytes, the newest 50 ${bytes(paged.body)} bytes`,
    );

    await page.addInitScript((t) => sessionStorage.setItem('dream.token', t), token);
    await page.goto(`${srv.url}/`);
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    const item = page.locator('[data-testid="sessions"] li[data-session="long"]');
    await item.waitFor();
    const t0 = Date.now();
    await item.click();
    await expect
      .poll(() => page.getByTestId('plan-version').textContent(), { timeout: 30_000 })
      .toBe(`v${VERSIONS} (current)`);
    console.log(
      `${VERSIONS}-version session in Chromium: plan rendered ${Date.now() - t0} ms after the click`,
    );

    // The newest page only, then older pages one click at a time until the planner's version.
    const versions = page.locator('#tab-history .version');
    const more = page.getByTestId('load-older');
    await page.getByTestId('tab-history').click();
    await expect.poll(() => versions.count()).toBe(50);
    expect(await versions.first().getAttribute('data-version')).toBe(String(VERSIONS));
    expect(await more.textContent()).toBe(`Load older versions (${VERSIONS - 50} more)`);
    await page.screenshot({ path: join(ARTIFACTS, 'paged-history.png'), fullPage: false });
    for (const shown of [100, 150, 200, VERSIONS]) {
      await more.click();
      await expect.poll(() => versions.count(), { timeout: 30_000 }).toBe(shown);
    }
    await expect.poll(() => more.isHidden()).toBe(true);
    // Every version once, newest first, and the planner's first version described as such.
    const listed = await versions.evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute('data-version'))),
    );
    expect(listed).toEqual(Array.from({ length: VERSIONS }, (_, i) => VERSIONS - i));
    expect(await page.locator('#tab-history .version[data-version="1"] .edits').textContent()).toBe(
      'proposed by the planner',
    );
    expect(await page.locator('#tab-history .version[data-version="2"] .edits').textContent()).toBe(
      `✎ ${todoId}`,
    );

    // A diff across pages: the planner's version against the newest.
    await page.getByTestId('diff-a').selectOption('1');
    await page.getByTestId('diff-b').selectOption(String(VERSIONS));
    await page.getByTestId('diff-go').click();
    await page.locator('#diff [data-diff="changed"]').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('#diff [data-diff="changed"]').first().textContent()).toContain(
      `${todoId}.title`,
    );
    // An old version from the first page loaded is shown whole on demand.
    await page.getByTestId('version-pick').selectOption('2');
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v2 (history)');
    await page.screenshot({ path: join(ARTIFACTS, 'paged-history-loaded.png'), fullPage: false });

    // A new version while every page is shown: the newest page grows, the older pages stay joined on.
    await edit(EDITS + 1);
    await expect.poll(() => versions.count(), { timeout: 30_000 }).toBe(VERSIONS + 1);
    const after = await versions.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-version'))));
    expect(after).toEqual(Array.from({ length: VERSIONS + 1 }, (_, i) => VERSIONS + 1 - i));
    expect(await more.isHidden()).toBe(true);
    expect(consoleErrors).toEqual([]);
  }, 180_000);
});
