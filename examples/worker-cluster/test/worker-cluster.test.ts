import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  serviceSkipReason,
  startPostgres,
  startRedis,
  type PostgresService,
  type RedisService,
} from '@dream-agent/test-services';
import { runExample } from '../../../test/helpers/example.js';

const skip = serviceSkipReason('postgres') ?? serviceSkipReason('redis');
if (skip !== undefined && process.env['CI'] === 'true') throw new Error(`CI=true and ${skip}`);
let pg: PostgresService | undefined;
let redis: RedisService | undefined;

interface StoreView {
  status: string;
  phase: string;
  outcome: string;
  todos: { id: string; status: string; by: { by: string }; attempts: number }[];
  pending: unknown[];
  completedEvents: Record<string, number>;
  answer: string;
}

const STEPS = ['extract', 'transform', 'charge', 'load', 'report'];

/** Runs the example with the step to kill A in; returns what it printed, parsed. */
async function cluster(killDuring: string) {
  const p = runExample('worker-cluster/src/main.ts', {
    KILL_DURING: killDuring,
    STEP_MS: '1000',
    DATABASE_URL: pg?.url,
    REDIS_URL: redis?.url,
  });
  expect(await p.exited(), p.stderr()).toBe(0);
  const out = p.stdout();
  const field = (name: string): string => new RegExp(`^${name}: (.*)$`, 'm').exec(out)?.[1] ?? '';
  return {
    out,
    steps: field('steps').split(' '),
    effects: field('effects').split(' ').sort(),
    store: JSON.parse(field('store') || '{}') as StoreView,
    answer: JSON.parse(field('answer') || '""') as string,
    final: field('final'),
    owner: /^(B|C) took the session over$/m.exec(out)?.[1] ?? '',
  };
}

describe.skipIf(skip !== undefined)(
  `examples/worker-cluster: three workers on PostgreSQL + Redis, the owner killed mid-step${skip ? ` — skipped: ${skip}` : ''}`,
  () => {
    beforeAll(async () => {
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    }, 120_000);
    afterAll(async () => {
      await Promise.allSettled([pg?.stop(), redis?.stop()]);
    });

    it('a non-idempotent step cut off by SIGKILL raises a recovery request; answered retry on a third worker, the job completes, every effect once', async () => {
      const r = await cluster('charge');
      expect(r.out).toMatch(/^killed A while "charge" was running$/m);
      expect(r.out).toMatch(/^recovery requested for "charge"/m);
      expect(['B', 'C']).toContain(r.owner);
      // A ran extract and transform and started charge; charge ran again (attempt 2) elsewhere, then the rest.
      expect(r.steps.slice(0, 3)).toEqual(['extract@A', 'transform@A', 'charge@A']);
      expect(r.steps.slice(3).map((s) => s.split('@')[0])).toEqual(['charge', 'load', 'report']);
      const finisher = r.steps[3]?.split('@')[1];
      expect(finisher).not.toBe('A');
      expect(r.steps.slice(3).every((s) => s.endsWith(`@${finisher}`))).toBe(true);
      // Each step's effect recorded once; the killed attempt recorded none.
      expect(r.effects).toEqual(
        ['charge', 'extract', 'load', 'report', 'transform'].map(
          (t) => `${t}@${t === 'extract' || t === 'transform' ? 'A' : finisher}`,
        ),
      );
      // What the store says: done, completed, nothing pending, one completion per todo, outputs by who ran them.
      expect(r.store).toMatchObject({ status: 'idle', phase: 'done', outcome: 'completed', pending: [] });
      expect(r.store.completedEvents).toEqual(Object.fromEntries(STEPS.map((s) => [s, 1])));
      expect(r.store.todos.map((t) => [t.id, t.status, t.by.by, t.attempts])).toEqual([
        ['extract', 'completed', 'A', 1],
        ['transform', 'completed', 'A', 1],
        ['charge', 'completed', finisher, 2],
        ['load', 'completed', finisher, 1],
        ['report', 'completed', finisher, 1],
      ]);
      expect(r.answer).toMatch(/^Completed 5 of 5 steps\./);
      expect(r.out).not.toMatch(/disagree/);
      expect(r.final).toBe('completed');
      // A never reported a result: it was killed before its run came to rest.
      expect(r.out).not.toMatch(/"node":"A","op":"start"/);
    }, 240_000);

    it('an idempotent step cut off by SIGKILL runs again on the worker that claims the session, and the job completes', async () => {
      const r = await cluster('transform');
      expect(r.out).toMatch(/^killed A while "transform" was running$/m);
      expect(r.out).not.toMatch(/recovery requested/);
      expect(r.steps.slice(0, 2)).toEqual(['extract@A', 'transform@A']);
      expect(r.steps.slice(2)).toEqual(
        ['transform', 'charge', 'load', 'report'].map((s) => `${s}@${r.owner}`),
      );
      expect(r.effects).toEqual(
        ['charge', 'extract', 'load', 'report', 'transform'].map(
          (t) => `${t}@${t === 'extract' ? 'A' : r.owner}`,
        ),
      );
      expect(r.store).toMatchObject({ status: 'idle', phase: 'done', outcome: 'completed', pending: [] });
      expect(r.store.completedEvents).toEqual(Object.fromEntries(STEPS.map((s) => [s, 1])));
      expect(r.store.todos.map((t) => [t.id, t.status, t.by.by])).toEqual(
        STEPS.map((s) => [s, 'completed', s === 'extract' ? 'A' : r.owner]),
      );
      expect(r.answer).toMatch(/^Completed 5 of 5 steps\./);
      expect(r.final).toBe('completed');
    }, 240_000);
  },
);
