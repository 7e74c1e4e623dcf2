import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test/helpers/example.js';

describe('examples/custom-layer', () => {
  it('plans a DAG with its own Planner, runs it with its own Executor and answers with its own Responder', async () => {
    const p = runExample('custom-layer/src/main.ts', {}, ['compare plums, apples and pears']);
    expect(await p.exited()).toBe(0);
    const out = p.stdout();
    expect(out).toMatch(/^plan: price-apples, price-pears, price-plums, compare$/m);
    // The comparison runs after both lookups it depends on.
    const order = [...out.matchAll(/^done: (\S+)$/gm)].map((m) => m[1]);
    expect(order.sort()).toEqual(['compare', 'price-apples', 'price-pears', 'price-plums']);
    expect(out.indexOf('done: compare')).toBeGreaterThan(out.lastIndexOf('done: price-'));
    expect(out).toMatch(/^status: completed$/m);
    expect(out).toMatch(/^answer: Cheapest: pears \(ranking: pears < apples < plums\)$/m);
  }, 120_000);
});
