/**
 * The held-out request set (heldout.txt) is for reporting only (`npx tsx bench/understanding.ts
 * --heldout`): this test checks only that it stays what the report says it is — large enough, every line
 * well-formed, and disjoint from the development set and from the demo's own example phrasings.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HELDOUT_FILE, goldPeriod, loadGold } from '../../bench/understanding/gold.js';

const heldout = loadGold(HELDOUT_FILE);
const dev = loadGold();
const norm = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9@]+/g, ' ')
    .trim();

describe('the held-out sales requests', () => {
  it('holds at least 100 requests, with clear, impossible, vague and out-of-scope ones', () => {
    expect(heldout.length).toBeGreaterThanOrEqual(100);
    for (const kind of ['c', 'v', 'o', 'd'] as const)
      expect(heldout.filter((g) => g.kind === kind).length).toBeGreaterThanOrEqual(5);
  });

  it('is well-formed: known kinds, intents and slot codes, parseable periods', () => {
    const intents = new Set(dev.map((g) => g.intent));
    const codes = new Set(['p', 'r', 'x', 'pr', 'ch', 'm', 'n', 'o', 'd', 'g', 'to', 'dl']);
    for (const g of heldout) {
      expect(['c', 'v', 'o', 'd']).toContain(g.kind);
      expect(intents.has(g.intent), `${g.line}: ${g.intent}`).toBe(true);
      for (const [k, values] of Object.entries(g.slots)) {
        expect(codes.has(k), `${g.line}: slot ${k}`).toBe(true);
        if (k === 'p') for (const v of values) expect(() => goldPeriod(v)).not.toThrow();
      }
      expect(g.text.length).toBeGreaterThan(0);
    }
  });

  it('shares no request with the development set or the intents file examples', () => {
    const file = parse(
      readFileSync(new URL('../../examples/quickstart/intents.yaml', import.meta.url), 'utf8'),
    ) as { intents: { examples?: string[] }[]; oos?: string[] };
    const seen = new Set([
      ...dev.map((g) => norm(g.text)),
      ...file.intents.flatMap((i) => i.examples ?? []).map(norm),
      ...(file.oos ?? []).map(norm),
    ]);
    const texts = heldout.map((g) => norm(g.text));
    expect(texts.filter((t) => seen.has(t))).toEqual([]);
    expect(new Set(texts).size).toBe(texts.length);
  });
});
