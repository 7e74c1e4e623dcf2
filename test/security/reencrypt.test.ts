import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AesGcmCodec,
  Agent,
  FunctionPlanner,
  MemoryStore,
  StaticKeyring,
  auditedStore,
  encryptedStore,
  isDreamAgentError,
  reencryptStore,
  type AgentEvent,
  type Executor,
  type Json,
  type Store,
} from 'dream-agent';
import { SqliteStore } from '@dream-agent/sqlite';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';

const keyA = new Uint8Array(randomBytes(32));
const keyB = new Uint8Array(randomBytes(32));
const onlyA = new AesGcmCodec(new StaticKeyring({ keys: { keyA }, current: 'keyA' }));
const rotated = new AesGcmCodec(new StaticKeyring({ keys: { keyA, keyB }, current: 'keyB' }));
const onlyB = new AesGcmCodec(new StaticKeyring({ keys: { keyB }, current: 'keyB' }));
const ENVELOPE_A = 'da1.keyA.';
const CHAIN = 30;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An agent on `backend` sealed with `codec` (audited above the encryption, as the guide composes them).
 * Plans are reviewed by a human (an inbox command, a plan version), todo `t1` needs an approval, and the
 * turn "long" runs a chain of todos each yielding to the event loop, so its commits interleave with a job.
 */
function agentOn(backend: Store, codec: AesGcmCodec, done: { n: number } = { n: 0 }): Agent {
  const executor: Executor = {
    async execute(todo, input) {
      await sleep(1);
      done.n += 1;
      return { output: { todo: todo.id, secret: (input as { secret?: Json }).secret ?? null } };
    },
  };
  return new Agent({
    store: auditedStore(encryptedStore(backend, { codec })),
    planner: new FunctionPlanner((_intent, input) => {
      const n = input.includes('long') ? CHAIN : 2;
      return {
        todos: Array.from({ length: n }, (_, i) => ({
          id: `t${i}`,
          title: `Step ${i}`,
          domain: 'work',
          dependsOn: i === 0 ? [] : [`t${i - 1}`],
          input: { secret: `canary-${i}` },
        })),
      };
    }),
    executors: { work: executor },
    hitl: { planReview: 'always' },
  });
}

interface Backend {
  store: Store;
  /** Every stored row as text, read below the Store port (tables, or the memory store's records). */
  raw(): Promise<string>;
  close(): Promise<void>;
}

function rotationSuite(name: string, make: () => Promise<Backend>): void {
  describe(`reencryptStore on ${name}`, () => {
    it('rows under key A are rotated to B while a session keeps running; afterwards B alone reads everything', async () => {
      const b = await make();
      try {
        const agentA = agentOn(b.store, onlyA);
        const ids: string[] = [];
        for (const input of ['first report', 'second report']) {
          const r = await agentA.run(input).result();
          expect(r.status).toBe('waiting');
          const done = await agentA.send(r.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
          expect(done.status).toBe('completed');
          ids.push(r.sessionId);
        }
        const resting = await agentA.run('left for review').result();
        ids.push(resting.sessionId);
        const long = await agentA.run('long chain').result();
        expect(long.status).toBe('waiting');
        const before = new Map<string, unknown>();
        for (const id of ids) before.set(id, await agentA.getSession(id));
        await agentA.close();
        expect(await b.raw()).toContain(ENVELOPE_A);

        // Every node now seals with B; one of them drives the long session while the job runs.
        const progressSeen: number[] = [];
        const done = { n: 0 };
        const agentB = agentOn(b.store, rotated, done);
        const running = agentB.send(long.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
        for (let i = 0; i < 2000 && done.n < 3; i += 1) await sleep(5);
        expect(done.n).toBeGreaterThanOrEqual(3);
        const job = await reencryptStore(b.store, {
          codec: rotated,
          pageSize: 1,
          onProgress: (p) => progressSeen.push(p.sessions),
        });
        const finished = await running;
        expect(finished.status).toBe('completed');
        await agentB.close();
        expect(job).toMatchObject({ done: true, sessions: 4, skipped: [] });
        expect(job.rewritten).toBe(4);
        expect(job.rows).toBeGreaterThan(10);
        expect(progressSeen).toEqual([1, 2, 3, 4]);
        // The long session completed with every todo's output, whatever the job rewrote meanwhile.
        const reader = agentOn(b.store, onlyB);
        const snap = await reader.getSession(long.sessionId);
        expect(snap?.todos).toHaveLength(CHAIN);
        expect(snap?.todos.every((t) => t.status === 'completed')).toBe(true);
        expect(snap?.todos.map((t) => (t.output as { secret: string }).secret).sort()).toEqual(
          Array.from({ length: CHAIN }, (_, i) => `canary-${i}`).sort(),
        );

        // Key A removed: everything still reads, unchanged, and the audit chains still verify.
        for (const id of ids) expect(await reader.getSession(id)).toEqual(before.get(id));
        const audited = auditedStore(encryptedStore(b.store, { codec: onlyB }));
        for (const id of [...ids, long.sessionId]) {
          const events: AgentEvent[] = [];
          for await (const e of reader.events(id)) events.push(e);
          expect(events.length).toBeGreaterThan(3);
          expect((await audited.verifyAudit(id)).ok).toBe(true);
        }
        const raw = await b.raw();
        expect(raw).toContain('da1.keyB.');
        expect(raw).not.toContain(ENVELOPE_A);
        expect(raw).not.toContain('canary-');

        // A second run finds nothing left to rotate.
        expect(await reencryptStore(b.store, { codec: onlyB })).toMatchObject({
          done: true,
          rewritten: 0,
          rows: 0,
        });
        await reader.close();
      } finally {
        await b.close();
      }
    });

    it('the rewrite is fenced: computed before a commit, it is refused with CONFLICT and changes nothing', async () => {
      const b = await make();
      try {
        const agentA = agentOn(b.store, onlyA);
        const r = await agentA.run('report').result();
        await agentA.close();
        const recs = await b.store.readRecords!(r.sessionId);
        expect(recs).toBeDefined();
        // A concurrent commit (a human approves the plan on a node with B) moves the version.
        const agentB = agentOn(b.store, rotated);
        expect(
          (await agentB.send(r.sessionId, { type: 'plan.approve', actor: 'alice' }).result()).status,
        ).toBe('completed');
        await agentB.close();
        const after = await b.store.readRecords!(r.sessionId);
        const stale = {
          sessionId: r.sessionId,
          expectedVersion: recs!.session.version,
          state: recs!.session.state,
        };
        expect(await codeOf(b.store.rewriteRecords!(stale))).toBe('CONFLICT');
        expect(await b.store.readRecords!(r.sessionId)).toEqual(after);
        expect(
          await codeOf(b.store.rewriteRecords!({ ...stale, sessionId: 'ses_missing', expectedVersion: 1 })),
        ).toBe('SESSION_NOT_FOUND');
      } finally {
        await b.close();
      }
    });

    it('resumable: stopped by its signal it reports where it stopped, and a run from there finishes', async () => {
      const b = await make();
      try {
        const agentA = agentOn(b.store, onlyA);
        for (let i = 0; i < 3; i += 1) await agentA.run(`report ${i}`).result();
        await agentA.close();
        const stop = new AbortController();
        const first = await reencryptStore(b.store, {
          codec: rotated,
          pageSize: 2,
          signal: stop.signal,
          onProgress: () => stop.abort(),
        });
        expect(first).toMatchObject({ done: false, sessions: 1, rewritten: 1 });
        expect(first.after).toBeDefined();
        const rest = await reencryptStore(b.store, { codec: rotated, after: first.after! });
        expect(rest).toMatchObject({ done: true, sessions: 2, rewritten: 2 });
        expect(await b.raw()).not.toContain(ENVELOPE_A);
      } finally {
        await b.close();
      }
    });
  });
}

rotationSuite('MemoryStore', async () => {
  const store = new MemoryStore();
  return Promise.resolve({
    store,
    raw: async () => {
      const all = await store.listSessions({ limit: 1000 });
      return JSON.stringify(await Promise.all(all.map((s) => store.readRecords(s.id))));
    },
    close: async () => Promise.resolve(),
  });
});

const dir = mkdtempSync(join(tmpdir(), 'dream-rotate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
rotationSuite('SqliteStore', async () => {
  const store = new SqliteStore(join(dir, `${randomBytes(4).toString('hex')}.db`));
  return Promise.resolve({
    store,
    raw: async () => {
      const db = store.database;
      const tables = db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`)
        .pluck()
        .all() as string[];
      await Promise.resolve();
      return tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all())).join('\n');
    },
    close: () => store.close(),
  });
});

const pgSkip = serviceSkipReason('postgres');
if (pgSkip) {
  describe.skip(`reencryptStore on PostgresStore — skipped: ${pgSkip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  let server: PostgresService;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 6 });
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });
  rotationSuite('PostgresStore', async () => {
    const schema = `rot_${randomBytes(4).toString('hex')}`;
    await migrate(pool, { schema });
    const store = new PostgresStore({ pool, schema });
    return {
      store,
      raw: async () => {
        const tables = await pool.query<{ name: string }>(
          `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
          [schema],
        );
        const out: string[] = [];
        for (const t of tables.rows) {
          const r = await pool.query<{ row: string }>(`SELECT t::text AS row FROM "${schema}"."${t.name}" t`);
          out.push(...r.rows.map((x) => x.row));
        }
        return out.join('\n');
      },
      close: async () => Promise.resolve(),
    };
  });
}

describe('reencryptStore: plaintext rows and bad use', () => {
  it('seals rows written before encryption only with allowPlaintext, then they read with plaintext refused', async () => {
    const backend = new MemoryStore();
    const plain = agentOn(backend, onlyA);
    // An agent on the bare backend: plaintext rows.
    const bare = new Agent({
      store: backend,
      planner: new FunctionPlanner(() => ({
        todos: [{ id: 'a', title: 'A', domain: 'w', dependsOn: [], input: { secret: 'canary-plain' } }],
      })),
      executors: { w: { execute: async (_t, input) => Promise.resolve({ output: input }) } },
    });
    const r = await bare.run('old data').result();
    await bare.close();
    await plain.close();
    expect(await codeOf(reencryptStore(backend, { codec: onlyB }))).toBe('DECRYPTION_FAILED');
    const job = await reencryptStore(backend, { codec: onlyB, allowPlaintext: true });
    expect(job).toMatchObject({ done: true, rewritten: 1 });
    expect(JSON.stringify(await backend.readRecords(r.sessionId))).not.toContain('canary-plain');
    const reader = agentOn(backend, onlyB);
    const snap = await reader.getSession(r.sessionId);
    expect(snap?.todos[0]?.output).toEqual({ secret: 'canary-plain' });
    const events: AgentEvent[] = [];
    for await (const e of reader.events(r.sessionId)) events.push(e);
    expect(events.map((e) => e.type)).toContain('turn.completed');
    await reader.close();
  });

  it('a wrapper instead of the backend, or a bad page size, is refused with a typed error', async () => {
    const backend = new MemoryStore();
    expect(await codeOf(reencryptStore(encryptedStore(backend, { codec: onlyA }), { codec: onlyA }))).toBe(
      'INVALID_STATE',
    );
    expect(await codeOf(reencryptStore(backend, { codec: onlyA, pageSize: 0 }))).toBe('INVALID_INPUT');
    expect(await codeOf(reencryptStore(backend, { codec: onlyA, pageSize: 1.5 }))).toBe('INVALID_INPUT');
  });
});
