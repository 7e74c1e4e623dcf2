/**
 * The operator console against the real server with the default offline agent (the quick-start's
 * business tools), in headless Chromium: several sessions, switching, a reload mid-turn, the tool picker,
 * the step inspector and editor, plan diffs, the approval effect, Markdown answers, files and charts,
 * follow-ups, search and pagination. Screenshots go to test-artifacts/ui/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SessionSnapshot } from 'dream-agent';
import type { RunningServer } from '../src/app.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { startTestServer } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/ui/', import.meta.url));

let srv: RunningServer;
let browser: TestBrowser;
let page: Page;
let output: string;
const previousOutput = process.env['DREAM_AGENT_OUTPUT'];
let consoleErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  output = mkdtempSync(join(tmpdir(), 'dream-console-out-'));
  process.env['DREAM_AGENT_OUTPUT'] = output;
  ({ srv } = await startTestServer({ layers: 'offline', devAuth: true }));
  browser = await openBrowser(1100);
  ({ page, consoleErrors } = browser);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  if (previousOutput === undefined) delete process.env['DREAM_AGENT_OUTPUT'];
  else process.env['DREAM_AGENT_OUTPUT'] = previousOutput;
  if (output) rmSync(output, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const rows = () => page.locator('[data-testid="events"] tr');
const seqs = () => rows().evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
const sessionId = async () => (await page.getByTestId('session-id').textContent()) ?? '';
const snap = async (): Promise<SessionSnapshot> => srv.agent.getSession(await sessionId());

async function startRequest(text: string): Promise<string> {
  await page.getByTestId('new-input').fill(text);
  await page.getByTestId('start').click();
  await page.locator('[data-testid="pending"] [data-kind]').first().waitFor({ timeout: 20_000 });
  return sessionId();
}

/** The event log shows exactly this session's log, 1..lastSeq, once. */
async function logMatchesServer(): Promise<void> {
  await page.getByTestId('tab-events').click();
  await expect
    .poll(
      async () => {
        const s = await snap();
        const shown = await seqs();
        return shown.length === s.lastSeq && shown.every((q, i) => q === i + 1);
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  await page.getByTestId('tab-history').click();
}

describe('the operator console on the default offline agent', () => {
  it('plans with a tool from the registry, inspects and edits a step, diffs versions, approves the effect, and shows the answer, files and chart', async () => {
    await page.goto(`${srv.url}/?page=2`);
    await page.getByTestId('dev-user').fill('alice');
    await page.getByTestId('dev-signin').click();
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    const a = await startRequest("Analyse last quarter's sales by region and email the report to the team");
    await shot('c01-review');

    // "Add a step" on the default agent: pick a tool, fill its schema-driven form
    await page.locator('[data-testid="add-step"] summary').click();
    await page.getByTestId('add-tool').selectOption('sales.query');
    await page.getByTestId('add-id').fill('west');
    const long = 'Query the western region separately so that the report can compare it with the rest';
    await page.getByTestId('add-title').fill(long);
    await page
      .locator('[data-testid="add-input"] [data-field="period"]')
      .fill('{"from":"2026-07-01","to":"2026-09-30"}');
    await page.locator('[data-testid="add-input"] [data-field="region"]').fill('West');
    await page.locator('[data-testid="add-input"] [data-field="groupBy"]').selectOption('"product"');
    await page.getByTestId('add-go').click();
    await page.locator('[data-testid="todos"] li[data-todo="west"]').waitFor();
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v2 (current)');
    expect(await page.locator('.toast.error').count()).toBe(0);
    const added = (await snap()).plan?.todos.find((t) => t.id === 'west');
    expect(added).toMatchObject({
      tool: 'sales.query',
      domain: 'data',
      input: { region: 'West', groupBy: 'product' },
    });

    // the graph fits long titles: two lines, the full title in the tooltip; zoom changes its size
    const node = page.locator('[data-testid="plan-graph"] g.node[data-todo="west"]');
    expect(await node.locator('text.title').count()).toBe(2);
    expect(await node.locator('title').textContent()).toContain(long);
    const w0 = Number(await page.locator('[data-testid="plan-graph"] svg').getAttribute('width'));
    await page.getByTestId('zoom-in').click();
    expect(
      Number(await page.locator('[data-testid="plan-graph"] svg').getAttribute('width')),
    ).toBeGreaterThan(w0);

    // step inspector and editor: change the title and the input through the tool's form
    await page.locator('[data-testid="todos"] li[data-todo="west"] .t-title').click();
    const inspector = page.getByTestId('inspector');
    await inspector.waitFor();
    expect(await inspector.getByTestId('inspect-input').textContent()).toContain('"region": "West"');
    expect(await inspector.innerText()).not.toMatch(/^null$/m);
    await inspector.getByTestId('edit-title').fill('Query the West');
    await inspector.locator('[data-field="region"]').fill('North');
    await inspector.getByTestId('edit-save').click();
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v3 (current)');
    expect((await snap()).plan?.todos.find((t) => t.id === 'west')).toMatchObject({
      title: 'Query the West',
      input: { region: 'North' },
    });
    await shot('c02-inspector-edit');

    // diff between two plan versions
    await page.getByTestId('diff-a').selectOption('1');
    await page.getByTestId('diff-b').selectOption('3');
    await page.getByTestId('diff-go').click();
    await page.locator('[data-testid="diff"] [data-diff="added"]').waitFor();
    expect(await page.getByTestId('diff').textContent()).toContain('+ west: Query the West');
    await page.getByTestId('diff-a').selectOption('2');
    await page.getByTestId('diff-go').click();
    await expect.poll(() => page.getByTestId('diff').textContent()).toContain('~ west.title');
    await shot('c03-diff');

    // remove the extra step again so the run stays short, then approve
    await page.locator('li[data-todo="west"] [data-testid="remove"]').click();
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v4 (current)');
    await page.locator('[data-kind="plan_review"]').getByTestId('approve-plan').click();

    // the approval card shows the effect being approved, never a literal null
    const gate = page.locator('[data-kind="approval"]');
    await gate.waitFor({ timeout: 20_000 });
    const effect = gate.getByTestId('effect');
    await effect.waitFor();
    const text = await gate.innerText();
    expect(text).not.toMatch(/null/);
    expect(text).not.toContain('No details of the effect');
    expect(await effect.locator('dt').count()).toBeGreaterThan(0);
    await shot('c04-approval-effect');
    await gate.getByTestId('grant').click();

    const input = page.locator('[data-kind="input"]');
    await input.waitFor({ timeout: 20_000 });
    await input.getByTestId('input-value').fill('team@example.com');
    await input.getByTestId('input-submit').click();

    // the recipient came after the grant: the step asks again, and the card shows what is now covered
    const again = page.locator('[data-kind="approval"]', { hasText: 'team@example.com' });
    await again.waitFor({ timeout: 20_000 });
    await again.getByTestId('grant').click();

    await expect
      .poll(() => page.getByTestId('session-status').textContent(), { timeout: 20_000 })
      .toBe('completed');
    // the answer as (sanitised) Markdown, the produced files as server links, the chart inline
    const answer = page.getByTestId('answer');
    await answer.waitFor();
    expect(await answer.locator('p, li, strong, h3, h4, table').count()).toBeGreaterThan(0);
    expect(await answer.locator('script, iframe, img').count()).toBe(0);
    const links = page.getByTestId('file-link');
    await expect.poll(() => links.count()).toBeGreaterThan(0);
    const names = await links.evaluateAll((els) => els.map((e) => e.getAttribute('data-file')));
    expect(names).toEqual(expect.arrayContaining(['chart.svg', 'report.md']));
    await expect
      .poll(() => page.getByTestId('chart').evaluate((img: HTMLImageElement) => img.naturalWidth), {
        timeout: 10_000,
      })
      .toBeGreaterThan(0);
    const download = page.waitForEvent('download');
    await links.filter({ hasText: 'report.md' }).click();
    expect((await download).suggestedFilename()).toBe('report.md');
    await shot('c05-answer-files');
    await logMatchesServer();
    expect((await snap()).id).toBe(a);
    expect(consoleErrors).toEqual([]);
  }, 120_000); // a whole journey in a real browser: under a loaded machine it passes 30 s

  it('a follow-up starts a new turn; progress and notices of the old turn do not leak into it', async () => {
    const follow = page.getByTestId('followup');
    await follow.waitFor();
    await page.getByTestId('followup-input').fill('Now the same analysis for last month');
    await page.getByTestId('followup-go').click();
    await page.locator('[data-kind="plan_review"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.toast', { hasText: 'Turn completed' }).count()).toBe(0);
    // no step of the new turn shows a result or timing of the old one
    const subs = await page.locator('[data-testid="todos"] li .t-sub').allTextContents();
    expect(subs.some((t) => /done|ms/.test(t))).toBe(false);
    expect(await page.getByTestId('answer-card').isHidden()).toBe(true);
    await logMatchesServer();
    await shot('c06-follow-up');
  });

  it('several sessions: switching shows only the selected session (log, progress), the list tells completed from waiting; search and pagination', async () => {
    const a = await sessionId();
    const b = await startRequest("Analyse last quarter's sales by product and email the report to the team");
    await logMatchesServer();
    await page.locator(`[data-testid="sessions"] li[data-session="${a}"]`).click();
    await expect.poll(sessionId).toBe(a);
    await logMatchesServer();
    await page.locator(`[data-testid="sessions"] li[data-session="${b}"]`).click();
    await expect.poll(sessionId).toBe(b);
    await logMatchesServer();
    // the waiting sessions say so; none says waiting once it rests
    const badge = (id: string) =>
      page
        .locator(`[data-testid="sessions"] li[data-session="${id}"] [data-testid="session-badge"]`)
        .textContent();
    await expect.poll(() => badge(b)).toBe('waiting');
    // the owner is shown on each session
    expect(
      await page
        .locator(`[data-testid="sessions"] li[data-session="${b}"] [data-testid="session-owner"]`)
        .textContent(),
    ).toBe('by alice');
    // pagination (2 per page here): a third session only appears with "Load more"
    const c = await startRequest("Analyse last quarter's sales by channel and email the report to the team");
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    await expect.poll(() => page.locator('[data-testid="sessions"] li[data-session]').count()).toBe(2);
    await page.getByTestId('sessions-more').click();
    await expect.poll(() => page.locator('[data-testid="sessions"] li[data-session]').count()).toBe(3);
    // search
    await page.getByTestId('session-search').fill('by product');
    await expect
      .poll(() =>
        page
          .locator('[data-testid="sessions"] li[data-session]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-session'))),
      )
      .toEqual([b]);
    await page.getByTestId('session-search').fill('');
    await shot('c07-sessions');
    expect([a, b, c].every((x) => x.length > 0)).toBe(true);
  });

  it('a reload in the middle of a turn restores the session and its log without gaps or duplicates', async () => {
    const id = await sessionId();
    await page.locator('[data-kind="plan_review"]').getByTestId('approve-plan').click();
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    await expect.poll(sessionId).toBe(id);
    await page.locator('[data-kind="approval"]').waitFor({ timeout: 20_000 });
    await logMatchesServer();
    await shot('c08-reload-mid-turn');
    expect(consoleErrors).toEqual([]);
  });
});
