import { mkdirSync } from 'node:fs';
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
let consoleErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ srv } = await startTestServer({ stepDelayMs: 120, devAuth: true }));
  browser = await openBrowser(1000);
  ({ page, consoleErrors } = browser);
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe('web UI in headless Chromium', () => {
  it('signs in, starts a request, answers the clarification, edits the plan, approves, answers input, grants the gate and sees completion', async () => {
    await page.goto(srv.url);
    await page.getByTestId('dev-user').fill('alice');
    await page.getByTestId('dev-signin').click();
    await expect.poll(() => page.getByTestId('who').textContent()).toBe('alice');
    // the tenant the token acts in (the dev sign-in's default tenant)
    await expect.poll(() => page.getByTestId('who-tenant').textContent()).toBe('@ default');
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');

    await page
      .getByTestId('new-input')
      .fill('Analyse sales by region, draft a report and e-mail it to the team');
    await page.getByTestId('start').click();
    const clarification = page.locator('[data-kind="clarification"]');
    await clarification.waitFor();
    await shot('01-clarification');
    await clarification.getByRole('button', { name: 'last quarter' }).click();

    const review = page.locator('[data-kind="plan_review"]');
    await review.waitFor();
    await page.locator('[data-testid="plan-graph"] svg g.node').first().waitFor();
    expect(await page.locator('[data-testid="plan-graph"] g.node').count()).toBe(6);
    await shot('02-plan-review');

    // edit: add a step, then move it up; a refused edit (removing a step others depend on) shows an error and changes nothing
    await page.locator('[data-testid="add-step"] summary').click();
    await page.getByTestId('add-id').fill('review');
    await page.getByTestId('add-title').fill('Review the numbers');
    await page.getByTestId('add-domain').selectOption('insight');
    await page.getByTestId('add-deps').selectOption(['analyse']);
    await page.getByTestId('add-go').click();
    await page.locator('[data-testid="todos"] li[data-todo="review"]').waitFor();
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v2 (current)');
    await page.locator('li[data-todo="review"] [data-testid="move-up"]').click();
    await expect
      .poll(() =>
        page
          .locator('[data-testid="todos"] li')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-todo'))),
      )
      .toEqual(['collect', 'analyse', 'chart', 'draft', 'recipient', 'review', 'send']);
    await page.locator('li[data-todo="chart"] [data-testid="remove"]').click();
    await page.locator('.toast.error').first().waitFor();
    expect(await page.locator('.toast.error').first().textContent()).toContain('INVALID_EDIT');
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v3 (current)');
    expect(await page.locator('[data-testid="plan-graph"] g.node[data-todo="review"]').count()).toBe(1);
    await shot('03-plan-edited');

    await review.getByTestId('approve-plan').click();
    const input = page.locator('[data-kind="input"]');
    await input.waitFor();
    await shot('04-running-input');
    await input.getByTestId('input-value').fill('team@example.com');
    await input.getByTestId('input-submit').click();

    const gate = page.locator('[data-kind="approval"]');
    await gate.waitFor();
    expect(await gate.textContent()).toContain('E-mail the report');
    await shot('05-approval-gate');
    await gate.getByTestId('grant').click();

    await expect
      .poll(() => page.getByTestId('session-status').textContent(), { timeout: 20_000 })
      .toBe('completed');
    await page.getByTestId('answer').waitFor();
    expect(await page.getByTestId('answer').textContent()).toContain('Completed 7 of 7 steps');
    const statuses = await page
      .locator('[data-testid="plan-graph"] g.node')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(new Set(statuses)).toEqual(new Set(['completed']));

    // plan history and the event log
    expect(await page.locator('#tab-history .version').count()).toBe(3);
    await page.getByTestId('version-pick').selectOption('1');
    await expect.poll(() => page.getByTestId('plan-version').textContent()).toBe('v1 (history)');
    expect(await page.locator('[data-testid="plan-graph"] g.node[data-todo="review"]').count()).toBe(0);
    await page.getByTestId('tab-events').click();
    // the UI told the truth: the server agrees (the live stream may still be delivering the last events)
    const id = (await page.getByTestId('session-id').textContent()) ?? '';
    const snap: SessionSnapshot = await srv.agent.getSession(id);
    await expect
      .poll(() => page.locator('[data-testid="events"] tr').count(), { timeout: 10_000 })
      .toBe(snap.lastSeq);
    await shot('06-completed-events');
    expect(snap.planHistory.map((v) => v.actor)).toEqual(['planner', 'alice', 'alice']);
    expect(snap.todos.every((t) => t.status === 'completed')).toBe(true);
    expect(consoleErrors).toEqual([]);
  });

  it('a viewer sees the session read-only: command buttons are disabled', async () => {
    await page.evaluate(() => sessionStorage.clear());
    const token = await srv.auth.sign('vic', ['viewer']);
    await page.goto(`${srv.url}/`);
    await page.getByTestId('paste-token').fill(token);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await expect.poll(() => page.getByTestId('who').textContent()).toBe('vic');
    expect(await page.getByTestId('start').isDisabled()).toBe(true);
    await page.locator('[data-testid="sessions"] li[data-session]').first().click();
    await page.getByTestId('session-status').waitFor();
    expect(await page.getByTestId('cancel').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid="add-step"]').isHidden()).toBe(true);
    await shot('07-viewer');
  });
});
