import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AesGcmCodec,
  Agent,
  FunctionPlanner,
  StaticKeyring,
  auditedStore,
  encryptedStore,
  isDreamAgentError,
  type Commit,
  type Executor,
  type Store,
  type TodoInput,
} from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'dream-state-parts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CANARY = 'CANARY-state-parts-41d2-DE89370400440532013000';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

type Raw = Record<string, unknown>;

/** An audited, encrypted SQLite store whose backend commits are recorded as the backend receives them. */
function stack() {
  const sqlite = new SqliteStore(join(dir, `${randomBytes(4).toString('hex')}.db`));
  const states: { sessionId: string; state: Raw }[] = [];
  const spy = new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'commit') {
        return async (c: Commit) => {
          if (c.state !== undefined) {
            states.push({ sessionId: c.sessionId, state: JSON.parse(JSON.stringify(c.state)) as Raw });
          }
          return target.commit(c);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Store;
  const codec = new AesGcmCodec(
    new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }),
  );
  const store = auditedStore(encryptedStore(spy, { codec }));
  // The sessions table is a read model folded from the journal: fold before touching it directly.
  const readState = (id: string): Raw => {
    sqlite.foldTodos();
    return JSON.parse(
      (sqlite.database.prepare('SELECT state FROM sessions WHERE id = ?').get(id) as { state: string }).state,
    ) as Raw;
  };
  const writeState = (id: string, state: Raw): void => {
    sqlite.foldTodos();
    sqlite.database.prepare('UPDATE sessions SET state = ? WHERE id = ?').run(JSON.stringify(state), id);
  };
  return { sqlite, store, states, readState, writeState };
}

async function runChain(store: Store, steps: number): Promise<string> {
  const todos: TodoInput[] = Array.from({ length: steps }, (_, i) => ({
    id: `t${i}`,
    title: `step ${i}`,
    domain: 'work',
    input: { n: i },
    dependsOn: i === 0 ? [] : [`t${i - 1}`],
  }));
  const work: Executor = { execute: async (t) => ({ output: { id: t.id, note: CANARY } }) };
  const agent = new Agent({ store, planner: new FunctionPlanner(() => ({ todos })), executors: { work } });
  const run = agent.run(`pay ${CANARY}`);
  for await (const _ of run) void _;
  const result = await run.result();
  expect(result.status).toBe('completed');
  await agent.close();
  return result.sessionId;
}

describe('audited + encrypted state in two parts (the body sealed once, the head per commit)', () => {
  it('commits that change only the head reuse the sealed body; everything reads back and verifies', async () => {
    const { sqlite, store, states, readState } = stack();
    const id = await runChain(store, 12);
    const mine = states.filter((s) => s.sessionId === id).map((s) => s.state);
    expect(mine.length).toBeGreaterThan(12);
    for (const s of mine) {
      expect(typeof s['$sealed']).toBe('string');
      expect(typeof (s['$head'] as Raw)['$sealed']).toBe('string');
      expect(JSON.stringify(s)).not.toContain(CANARY);
    }
    // Consecutive commits share the body ciphertext and differ in the head.
    let shared = 0;
    for (let i = 1; i < mine.length; i += 1) {
      const [a, b] = [mine[i - 1]!, mine[i]!];
      if (a['$sealed'] === b['$sealed'] && a['$part'] === b['$part']) {
        shared += 1;
        expect(JSON.stringify(a['$head'])).not.toBe(JSON.stringify(b['$head']));
      }
    }
    expect(shared).toBeGreaterThan(8);
    expect(Object.keys(readState(id))).toEqual(expect.arrayContaining(['$sealed', '$head']));
    const session = await store.getSession(id);
    expect(JSON.stringify(session?.state)).toContain(CANARY);
    expect(JSON.stringify(session?.state)).not.toContain('$head');
    expect((await store.verifyAudit(id)).ok).toBe(true);
    await sqlite.close();
  });

  it('a head from a commit with another body, a body from another session, a flipped byte → DECRYPTION_FAILED', async () => {
    const { sqlite, store, states, readState, writeState } = stack();
    const a = await runChain(store, 6);
    const b = await runChain(store, 3);
    const current = readState(a);
    const mine = states.filter((s) => s.sessionId === a).map((s) => s.state);
    const otherBody = mine.find((s) => s['$sealed'] !== current['$sealed']);
    expect(otherBody).toBeDefined();

    // The current body with the head of a commit whose body was another one: the ids differ.
    writeState(a, { ...current, $head: otherBody!['$head'] });
    expect(await codeOf(store.getSession(a))).toBe('DECRYPTION_FAILED');
    // Session b's body under session a's head: bound to b, does not open as a's.
    const fromB = readState(b);
    writeState(a, { ...fromB, $head: current['$head'] });
    expect(await codeOf(store.getSession(a))).toBe('DECRYPTION_FAILED');
    // A flipped byte in the head's ciphertext.
    const head = current['$head'] as Raw;
    const sealed = String(head['$sealed']);
    const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === 'A' ? 'B' : 'A'}${sealed.slice(-2)}`;
    writeState(a, { ...current, $head: { ...head, $sealed: flipped } });
    expect(await codeOf(store.getSession(a))).toBe('DECRYPTION_FAILED');
    // The head dropped: the body alone is not a state (another record in the associated data).
    const { $head: _dropped, ...bodyOnly } = current;
    void _dropped;
    writeState(a, bodyOnly);
    expect(await codeOf(store.getSession(a))).toBe('DECRYPTION_FAILED');
    // Put back, it opens and verifies again.
    writeState(a, current);
    expect((await store.verifyAudit(a)).ok).toBe(true);
    await sqlite.close();
  });

  it('a single-part sealed state (the format before this change, still written at creation) opens', async () => {
    const { sqlite, store, readState } = stack();
    const codecStore = store;
    const created = await codecStore.createSession(
      {
        id: 'old',
        status: 'idle',
        state: { turn: null, turns: 0, dialogue: [], slots: { iban: CANARY }, metadata: {} },
      },
      'n',
      30_000,
    );
    expect(created.record.version).toBeGreaterThan(0);
    const raw = readState('old');
    expect(raw['$head']).toBeUndefined();
    expect(typeof raw['$sealed']).toBe('string');
    expect((await store.getSession('old'))?.state.slots).toEqual({ iban: CANARY });
    expect((await store.verifyAudit('old')).ok).toBe(true);
    await sqlite.close();
  });
});
