/**
 * The labelled request set (requests.txt) as a regression test: understanding over the whole set, and
 * answers end to end on a sample, each figure recomputed independently (bench/understanding/gold.ts).
 * The full report, with every miss, is `npx tsx bench/understanding.ts`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { factsFor, loadGold, matches, statedFigures } from '../../bench/understanding/gold.js';
import { BENCH_NOW, benchAgent, closeBenchAgent, runRequest } from '../../bench/understanding/run-agent.js';
import { goldPairs, predictedPairs } from '../../bench/understanding/score.js';
import type { CognitiveContext } from '../../src/layers.js';
import { silentLogger } from '../../src/ports/logger.js';

const gold = loadGold();
const TODAY = new Date(BENCH_NOW).toISOString().slice(0, 10);
const clock = { now: () => BENCH_NOW, sleep: () => Promise.resolve() };
const ctx = (): CognitiveContext => ({
  sessionId: 's',
  turnId: 't',
  signal: new AbortController().signal,
  clock,
  logger: silentLogger,
  metadata: {},
  history: [],
  slots: {},
  clarifications: [],
});

afterAll(async () => {
  await closeBenchAgent();
});

describe('the labelled sales requests', () => {
  it('holds at least 300 requests of every kind', () => {
    expect(gold.length).toBeGreaterThanOrEqual(300);
    for (const kind of ['c', 'v', 'o', 'd'] as const)
      expect(gold.filter((g) => g.kind === kind).length).toBeGreaterThan(9);
  });

  it('is understood: intent accuracy ≥ 0.94, slot F1 ≥ 0.93, vague requests asked, clear ones not', async () => {
    const { cognitive } = await benchAgent();
    let right = 0;
    let scored = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let vagueAsked = 0;
    let clearAsked = 0;
    for (const g of gold) {
      const intent = await cognitive.understand(g.text, ctx());
      const name = intent.metadata?.['continues'] === 'report.email' ? 'sales.report' : intent.name;
      const asks = intent.clarification !== undefined || intent.missingSlots.length > 0;
      if (g.kind === 'v' && asks) vagueAsked++;
      if (g.kind === 'c' && asks) clearAsked++;
      if (g.kind === 'v') continue;
      scored++;
      if (name === g.intent) right++;
      if (g.kind === 'o') continue;
      const p = predictedPairs(intent, g);
      const e = goldPairs(g);
      const hit = [...p].filter((x) => e.has(x)).length;
      tp += hit;
      fp += p.size - hit;
      fn += e.size - hit;
    }
    const f1 = (2 * tp) / (2 * tp + fp + fn);
    const clear = gold.filter((g) => g.kind === 'c').length;
    const vague = gold.filter((g) => g.kind === 'v').length;
    expect(right / scored).toBeGreaterThanOrEqual(0.94);
    expect(f1).toBeGreaterThanOrEqual(0.93);
    expect(vagueAsked / vague).toBeGreaterThanOrEqual(0.85);
    expect(clearAsked / clear).toBeLessThanOrEqual(0.05);
  });

  it('never answers wrongly: on every 5th clear or impossible request, each stated figure is true', async () => {
    const sample = gold.filter((g) => g.kind === 'c' || g.kind === 'd').filter((_, i) => i % 5 === 0);
    const wrong: string[] = [];
    let right = 0;
    for (const g of sample) {
      const o = await runRequest(g.text);
      if (g.intent === 'help' || g.intent === 'smalltalk.greeting') continue;
      const figures = statedFigures(o.answer);
      const facts = factsFor(g, TODAY);
      const untrue = figures.filter((f) => !matches(f, [...facts.all, ...facts.key]));
      if (untrue.length > 0) wrong.push(`${g.text}: ${untrue.map((u) => u.text).join(', ')}`);
      else if (figures.length === 0 && !/can't|cannot/i.test(o.answer) && o.status !== 'asked')
        wrong.push(`${g.text}: no figures and no reason`);
      else if (g.kind === 'd' && figures.length > 0) wrong.push(`${g.text}: should have been declined`);
      else if (facts.key.some((k) => figures.some((f) => matches(f, [k])))) right++;
    }
    expect(wrong).toEqual([]);
    expect(right).toBeGreaterThan(sample.length * 0.8);
  }, 120_000);
});
