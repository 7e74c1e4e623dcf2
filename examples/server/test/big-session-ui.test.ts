/**
 * A big session in the console, in headless Chromium: twenty legal 200 KB `plan.edit`s (a 4 MB plan
 * history, bigger than the WebSocket send-queue limit) open without a slow-consumer close (4008), without
 * a reconnect, and render the plan; the history lists every version and an old version and a diff are
 * fetched on demand. The time from click to rendered plan is printed, not asserted (a loaded CI machine
 * would make a wall-clock bound flaky). Screenshot in test-artifacts/ui/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from 'dream-agent';
import { request } from '../../../test/transports/helpers.js';
import type { RunningServer } from '../src/app.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { startTestServer } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/ui/', import.meta.url));
const EDITS = 20;

let srv: RunningServer;
let base: string;
let browser: TestBrowser;
let token: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ srv, base } = await startTestServer({ wsMaxBufferedBytes: 1024 * 1024 }));
  token = await srv.auth.sign('olga', ['operator', 'viewer']);
  const auth = { authorization: `Bearer ${token}` };
  const r = await request(base, 'POST', '/api/sessions?wait=true', {
    body: { input: 'report for last quarter and email it', sessionId: 'huge' },
    headers: auth,
  });
  expect((r.body as RunResult).pending[0]?.kind).toBe('plan_review');
  // A small session too, so the console has something else to show first.
  await request(base, 'POST', '/api/sessions?wait=true', {
    body: { input: 'report for last quarter and email it', sessionId: 'small' },
    headers: auth,
  });
  for (let i = 0; i < EDITS; i++) {
    const e = await request(base, 'POST', '/api/sessions/huge/commands?wait=true', {
      body: {
        type: 'plan.edit',
        edits: [
          { op: 'update', todoId: 'draft', patch: { input: { notes: `v${i} ${'é'.repeat(100_000)}` } } },
        ],
      },
      headers: auth,
    });
    expect(e.status, JSON.stringify(e.body).slice(0, 300)).toBe(200);
  }
  browser = await openBrowser(1000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

describe('a big session in the console (Chromium)', () => {
  it('opens without a 4008 or a reconnect and renders its plan; versions and diffs are fetched on demand', async () => {
    const { page, consoleErrors } = browser;
    const full = await request(base, 'GET', '/api/sessions/huge', {
      headers: { authorization: `Bearer ${token}` },
    });
    const fullBytes = Buffer.byteLength(JSON.stringify(full.body));
    expect(fullBytes).toBeGreaterThan(4 * 1024 * 1024); // four times the send-queue limit
    const closes: (number | undefined)[] = [];
    let sockets = 0;
    page.on('websocket', (ws) => {
      sockets += 1;
      ws.on('close', () => closes.push(undefined));
    });
    await page.addInitScript((t) => sessionStorage.setItem('dream.token', t), token);
    await page.goto(`${srv.url}/#small`);
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    await expect.poll(() => page.getByTestId('session-id').textContent()).toBe('small');
    await page.locator('[data-testid="sessions"] li[data-session="huge"]').waitFor();

    const t0 = Date.now();
    await page.locator('[data-testid="sessions"] li[data-session="huge"]').click();
    await expect
      .poll(() => page.getByTestId('plan-version').textContent(), { timeout: 30_000 })
      .toBe(`v${EDITS + 1} (current)`);
    await page.locator('[data-testid="plan-graph"] g.node[data-todo="draft"]').waitFor();
    const openMs = Date.now() - t0;
    console.log(
      `big session in Chromium: ${EDITS} edits of 200 KB, full snapshot ${fullBytes} bytes; plan rendered ${openMs} ms after the click`,
    );

    // The history lists every version without having fetched them whole; an old one comes on demand.
    await page.getByTestId('tab-history').click();
    expect(await page.locator('#tab-history .version').count()).toBe(EDITS + 1);
    expect(await page.locator('#tab-history .version[data-version="3"] .edits').textContent()).toBe(
      '✎ draft',
    );
    await page.getByTestId('version-pick').selectOption('3');
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v3 (history)');
    await page.getByTestId('diff-a').selectOption('1');
    await page.getByTestId('diff-b').selectOption(String(EDITS + 1));
    await page.getByTestId('diff-go').click();
    await page.locator('#diff [data-diff="changed"]').first().waitFor();
    expect(await page.locator('#diff [data-diff="changed"]').first().textContent()).toContain('draft.input');
    await page.screenshot({ path: join(ARTIFACTS, 'big-session.png'), fullPage: false });

    // The whole replay streamed in too: the event log reaches the session's last event.
    const { lastSeq } = await srv.agent.getSession('huge', { history: 'changes' });
    await page.getByTestId('tab-events').click();
    await expect
      .poll(() => page.locator('[data-testid="events"] tr').count(), { timeout: 30_000 })
      .toBe(lastSeq);

    expect(srv.ws.stats().dropped.slow_consumer).toBe(0);
    expect(sockets).toBe(1); // never reconnected
    expect(closes).toEqual([]);
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
