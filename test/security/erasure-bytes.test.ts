/**
 * Erasure reaches the file, not only the rows: after `deleteSession`, the bytes of the SQLite database and
 * its WAL hold no trace of the erased sessions' data (free pages are zeroed and the WAL is emptied).
 * Outsider repro: with rows gone, a canary stayed 239 times in unused space of live table pages.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent, FunctionPlanner, type Executor } from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'da-erase-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const occurrences = (path: string, needle: string): number => {
  if (!existsSync(path)) return 0;
  const buf = readFileSync(path);
  const n = Buffer.from(needle);
  let count = 0;
  for (let i = buf.indexOf(n); i >= 0; i = buf.indexOf(n, i + 1)) count += 1;
  return count;
};

async function runSession(agent: Agent, secret: string): Promise<string> {
  const r = await agent.run(`please file ${secret} for ${secret}`).result();
  expect(r.status).toBe('completed');
  // The secret is in the todos' inputs and outputs, not only in the request text.
  const snap = await agent.getSession(r.sessionId);
  expect(snap.todos.map((t) => (t.output as { echoed?: string } | null)?.echoed)).toEqual([
    secret,
    secret,
    secret,
  ]);
  return r.sessionId;
}

describe('SQLite erasure leaves no bytes of the erased sessions', () => {
  it('deleteSession of 3 of 23 sessions: the canaries are gone from the database and WAL files', async () => {
    const path = join(dir, 'erase.db');
    const store = new SqliteStore(path);
    const executor: Executor = {
      async execute(todo) {
        await Promise.resolve();
        const s = (todo.input as { secret: string }).secret;
        return { output: { echoed: s, note: `${s} `.repeat(40) } };
      },
    };
    const agent = new Agent({
      store,
      planner: new FunctionPlanner((_intent, input) => {
        const secret = /file (\S+)/.exec(input)?.[1] ?? 'none';
        return {
          todos: [1, 2, 3].map((i) => ({
            id: `t${i}`,
            title: `Step ${i} for ${secret}`,
            domain: 'work',
            dependsOn: i === 1 ? [] : [`t${i - 1}`],
            input: { secret },
          })),
        };
      }),
      executors: { work: executor },
    });
    const canaries = ['canary-erase-A-7f3a', 'canary-erase-B-91c2', 'canary-erase-C-55d0'];
    const doomed: string[] = [];
    try {
      for (let i = 0; i < 23; i++) {
        const secret = i % 8 === 0 ? canaries[i / 8]! : `keep-${i}-xxxxxxxx`;
        const id = await runSession(agent, secret);
        if (i % 8 === 0) doomed.push(id);
      }
      const before = canaries.map((c) => occurrences(path, c) + occurrences(`${path}-wal`, c));
      expect(before.every((n) => n > 0)).toBe(true); // control: the scan sees them
      for (const id of doomed) expect(await agent.deleteSession(id)).toBe(true);
      // The others are intact.
      const left = await store.listSessions({});
      expect(left.length).toBe(20);
    } finally {
      await agent.close();
      await store.close();
    }
    for (const c of canaries) {
      expect({ canary: c, db: occurrences(path, c), wal: occurrences(`${path}-wal`, c) }).toEqual({
        canary: c,
        db: 0,
        wal: 0,
      });
    }
    // The kept sessions are still there, whole.
    expect(
      occurrences(path, 'keep-1-xxxxxxxx') + occurrences(`${path}-wal`, 'keep-1-xxxxxxxx'),
    ).toBeGreaterThan(0);
  });
});
