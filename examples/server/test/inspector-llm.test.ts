/**
 * The step inspector's LLM rows, in headless Chromium against the real server with LLM layers talking
 * to a scripted OpenAI-compatible endpoint on loopback: the step the model wrote shows its call (model,
 * layer, tokens in and out, time, outcome); a tool step shows none.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RunningServer } from '../src/app.js';
import { startLlmServer, type LlmServer } from '../../../test/helpers/llm-server.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { startTestServer } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/ui/', import.meta.url));

let llm: LlmServer;
let srv: RunningServer;
let browser: TestBrowser;
let page: Page;
let output: string;
let consoleErrors: string[] = [];
const previousOutput = process.env['DREAM_AGENT_OUTPUT'];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  output = mkdtempSync(join(tmpdir(), 'dream-inspector-out-'));
  process.env['DREAM_AGENT_OUTPUT'] = output;
  llm = await startLlmServer();
  ({ srv } = await startTestServer({
    layers: 'llm',
    llmBaseUrl: llm.openaiBaseURL,
    llmApiKey: 'sk-test',
    llmModel: 'gpt-inspect',
    devAuth: true,
  }));
  browser = await openBrowser(1000);
  ({ page, consoleErrors } = browser);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await llm?.close();
  if (previousOutput === undefined) delete process.env['DREAM_AGENT_OUTPUT'];
  else process.env['DREAM_AGENT_OUTPUT'] = previousOutput;
  if (output) rmSync(output, { recursive: true, force: true });
});

describe('step inspector: LLM calls', () => {
  it('shows the model call of the step the model wrote, with its token counts, and none for a tool step', async () => {
    const json = (value: unknown, usage: { input: number; output: number }) => ({
      route: 'openai' as const,
      reply: { text: JSON.stringify(value), usage },
    });
    const text = (chunks: string[], usage: { input: number; output: number }) => ({
      route: 'openai' as const,
      reply: { text: chunks.join(''), chunks, usage },
    });
    llm.script(
      json(
        {
          intent: 'sales.report',
          confidence: 0.9,
          entities: [],
          slots: {},
          missingSlots: [],
          clarification: null,
        },
        { input: 410, output: 33 },
      ),
      json(
        {
          rationale: 'Query Q3, then let the model comment.',
          todos: [
            {
              id: 'fetch',
              title: 'Query Q3',
              tool: 'sales.query',
              input: { period: { from: '2026-07-01', to: '2026-09-30' } },
              dependsOn: [],
            },
            {
              id: 'comment',
              title: 'Comment on the numbers',
              domain: 'insight',
              input: { rows: { $ref: 'fetch', path: 'rows' } },
              dependsOn: ['fetch'],
            },
          ],
        },
        { input: 1200, output: 150 },
      ),
      text(['North America ', 'leads.'], { input: 321, output: 45 }),
      text(['Q3: North America ', 'leads.'], { input: 500, output: 20 }),
    );

    await page.goto(srv.url);
    await page.getByTestId('dev-user').fill('olga');
    await page.getByTestId('dev-signin').click();
    await expect.poll(() => page.getByTestId('who').textContent()).toBe('olga');
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    await page.getByTestId('new-input').fill('How did Q3 go?');
    await page.getByTestId('start').click();
    const review = page.locator('[data-kind="plan_review"]');
    await review.waitFor({ timeout: 20_000 });
    await review.getByTestId('approve-plan').click();
    const id = (await page.getByTestId('session-id').textContent()) ?? '';
    await expect.poll(async () => (await srv.agent.getSession(id)).status, { timeout: 20_000 }).toBe('idle');

    // The model-written step: one call, its tokens, the model and the layer.
    await page.locator('[data-testid="todos"] li[data-todo="comment"] .t-title').click();
    const inspector = page.getByTestId('inspector');
    await inspector.waitFor();
    await expect
      .poll(() => inspector.locator('dd[data-field="LLM calls"]').textContent(), { timeout: 10_000 })
      .toBe('1 (366 tokens)');
    const row = inspector.getByTestId('llm-call');
    expect(await row.count()).toBe(1);
    const field = (name: string) => row.locator(`[data-field="${name}"]`).textContent();
    expect(await field('model')).toBe('openai/gpt-inspect');
    expect(await field('layer')).toBe('executor');
    expect(await field('input-tokens')).toBe('321');
    expect(await field('output-tokens')).toBe('45');
    expect(await field('outcome')).toBe('ok');
    expect(await field('latency')).toMatch(/^\d+ ms$/);
    await page.screenshot({ path: join(ARTIFACTS, 'inspector-llm.png'), fullPage: true });

    // A tool step made no model call: no LLM row at all.
    await page.locator('[data-testid="todos"] li[data-todo="fetch"] .t-title').click();
    await expect.poll(() => inspector.locator('h2').textContent(), { timeout: 10_000 }).toBe('Step fetch');
    expect(await inspector.locator('dd[data-field="LLM calls"]').count()).toBe(0);
    expect(await inspector.getByTestId('llm-call').count()).toBe(0);

    // The event log names every call of the turn (cognitive, planner, executor, responder).
    await page.getByTestId('tab-events').click();
    const llmRows = page.locator('[data-testid="events"] tr', { hasText: 'llm.call' });
    await expect.poll(() => llmRows.count(), { timeout: 10_000 }).toBe(4);
    expect(await llmRows.nth(2).textContent()).toContain('executor (comment) gpt-inspect: 321 in, 45 out');
    expect(llm.pending()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
});
