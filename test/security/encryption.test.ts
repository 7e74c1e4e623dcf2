import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AesGcmCodec,
  Agent,
  EnvelopeKeyProvider,
  FunctionPlanner,
  MemoryStore,
  StaticKeyring,
  encryptedStore,
  isDreamAgentError,
  type Executor,
  type Json,
  type Kms,
  type Responder,
  type SessionState,
  type Store,
  type TodoRecord,
} from 'dream-agent';
import { storeContract } from 'dream-agent/testing';
import { SqliteStore } from '@dream-agent/sqlite';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';

const key = (): Uint8Array => new Uint8Array(randomBytes(32));
const ring = (keys: Record<string, Uint8Array>, current: string): StaticKeyring =>
  new StaticKeyring({ keys, current });
const ctx = { sessionId: 's1' };
const emptyState = (): SessionState => ({ turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

describe('AesGcmCodec', () => {
  it('round-trips any JSON value, with a fresh nonce every time', async () => {
    const codec = new AesGcmCodec(ring({ k1: key() }, 'k1'));
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const a = await codec.seal(value as Json, 'rec', ctx);
        const b = await codec.seal(value as Json, 'rec', ctx);
        expect(a).not.toBe(b);
        // JSON has no -0: compare through JSON like every store does. `__proto__` keys are dropped on
        // purpose when opening (data only, see the next case), so the expectation drops them too.
        const expected = JSON.parse(JSON.stringify(value), (k, v: unknown) =>
          k === '__proto__' ? undefined : v,
        );
        expect(await codec.open(a, 'rec', ctx)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('rotation: old rows open with their key, new writes use the current key', async () => {
    const k1 = key();
    const k2 = key();
    const old = await new AesGcmCodec(ring({ k1 }, 'k1')).seal({ a: 1 }, 'r', ctx);
    const rotated = new AesGcmCodec(ring({ k1, k2 }, 'k2'));
    expect(await rotated.open(old, 'r', ctx)).toEqual({ a: 1 });
    const fresh = await rotated.seal({ a: 2 }, 'r', ctx);
    expect(AesGcmCodec.keyIdOf(old)).toBe('k1');
    expect(AesGcmCodec.keyIdOf(fresh)).toBe('k2');
    // Retiring k1 makes old rows fail loudly, never silently.
    expect(await codeOf(new AesGcmCodec(ring({ k2 }, 'k2')).open(old, 'r', ctx))).toBe('DECRYPTION_FAILED');
  });

  it('a flipped byte anywhere, a wrong key, another record or plaintext → DECRYPTION_FAILED, never garbage', async () => {
    const codec = new AesGcmCodec(ring({ k1: key() }, 'k1'));
    const sealed = await codec.seal({ secret: 'to: team@corp' }, 'todo/a', ctx);
    const [prefix, id, nonce, body] = sealed.split('.') as [string, string, string, string];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 10_000 }), fc.integer({ min: 1, max: 255 }), async (pos, mask) => {
        const part = pos % 2 === 0 ? 'body' : 'nonce';
        const bytes = Buffer.from(part === 'body' ? body : nonce, 'base64url');
        const i = pos % bytes.length;
        bytes[i] = (bytes[i] ?? 0) ^ mask;
        const text = bytes.toString('base64url');
        const tampered =
          part === 'body' ? `${prefix}.${id}.${nonce}.${text}` : `${prefix}.${id}.${text}.${body}`;
        expect(await codeOf(codec.open(tampered, 'todo/a', ctx))).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 100 },
    );
    const sameIdOtherBytes = new AesGcmCodec(ring({ k1: key() }, 'k1'));
    expect(await codeOf(sameIdOtherBytes.open(sealed, 'todo/a', ctx))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(codec.open(sealed, 'todo/b', ctx))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(codec.open('{"secret":1}', 'todo/a', ctx))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(codec.open(`${prefix}.nope.${nonce}.${body}`, 'todo/a', ctx))).toBe(
      'DECRYPTION_FAILED',
    );
  });

  it('revives data only: a __proto__ key in the plaintext never reaches a prototype', async () => {
    const codec = new AesGcmCodec(ring({ k1: key() }, 'k1'));
    const evil = JSON.parse('{"__proto__":{"polluted":true},"ok":1}') as Json;
    const opened = (await codec.open(await codec.seal(evil, 'r', ctx), 'r', ctx)) as Record<string, unknown>;
    expect(opened).toEqual({ ok: 1 });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(opened)).toBe(Object.prototype);
  });

  it('refuses keys that are not 32 bytes and unknown current ids', () => {
    expect(() => ring({ k1: new Uint8Array(16) }, 'k1')).toThrow(/32/);
    expect(() => ring({ k1: key() }, 'k2')).toThrow(/current key/);
  });
});

describe('EnvelopeKeyProvider (per-tenant data keys wrapped by a KMS)', () => {
  /** A KMS stand-in with a real master key: wraps with AES-GCM, so a wrong tenant cannot unwrap. */
  function localKms(): Kms & { unwraps: number } {
    const master = new AesGcmCodec(ring({ m: key() }, 'm'));
    const kms = {
      unwraps: 0,
      async wrap(dataKey: Uint8Array, tenantId: string | undefined): Promise<string> {
        const sealed = await master.seal(Buffer.from(dataKey).toString('base64'), `kms:${tenantId}`, ctx);
        return Buffer.from(sealed).toString('base64url');
      },
      async unwrap(wrapped: string, tenantId: string | undefined): Promise<Uint8Array> {
        kms.unwraps += 1;
        const opened = await master.open(
          Buffer.from(wrapped, 'base64url').toString(),
          `kms:${tenantId}`,
          ctx,
        );
        return new Uint8Array(Buffer.from(opened as string, 'base64'));
      },
    };
    return kms;
  }

  it('gives each tenant its own key, opens across nodes through the KMS, and rotates per tenant', async () => {
    const kms = localKms();
    const nodeA = new AesGcmCodec(new EnvelopeKeyProvider(kms));
    const acme = { sessionId: 's', tenantId: 'acme' };
    const globex = { sessionId: 's', tenantId: 'globex' };
    const a = await nodeA.seal({ v: 'acme' }, 'r', acme);
    const g = await nodeA.seal({ v: 'globex' }, 'r', globex);
    expect(AesGcmCodec.keyIdOf(a)).not.toBe(AesGcmCodec.keyIdOf(g));
    const providerB = new EnvelopeKeyProvider(kms);
    const nodeB = new AesGcmCodec(providerB);
    expect(await nodeB.open(a, 'r', acme)).toEqual({ v: 'acme' });
    expect(await nodeB.open(a, 'r', acme)).toEqual({ v: 'acme' });
    expect(kms.unwraps).toBe(1); // cached after the first unwrap
    // A row of acme presented as globex's cannot be unwrapped with globex's context.
    expect(await codeOf(nodeB.open(a, 'r', globex))).toBe('DECRYPTION_FAILED');
    providerB.rotate('acme');
    const after = await nodeB.seal({ v: 'acme2' }, 'r', acme);
    expect(AesGcmCodec.keyIdOf(after)).not.toBe(AesGcmCodec.keyIdOf(a));
    expect(await nodeA.open(after, 'r', acme)).toEqual({ v: 'acme2' });
  });
});

const codecFor = (): AesGcmCodec => new AesGcmCodec(ring({ k1: key() }, 'k1'));

storeContract('encryptedStore(MemoryStore)', async ({ clock }) => ({
  store: encryptedStore(new MemoryStore({ clock }), { codec: codecFor() }),
}));

const CANARY = 'canary-7f3a9c-SECRET-do-not-store';

/** One agent turn whose tool input, tool output, answer and dialogue all hold the canary. */
async function runCanaryTurn(store: Store): Promise<string> {
  const executor: Executor = {
    async execute(todo) {
      await Promise.resolve();
      return { output: { echoed: (todo.input as { secret: string }).secret, to: 'team@corp' } };
    },
  };
  const responder: Responder = {
    async respond(turn) {
      await Promise.resolve();
      const out = turn.todos[0]?.output as { echoed?: string } | undefined;
      return `The secret was ${out?.echoed ?? 'missing'}.`;
    },
  };
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({
      todos: [
        { id: 'a', title: 'Send', domain: 'work', dependsOn: [], input: { secret: CANARY }, approval: true },
      ],
    })),
    executors: { work: executor },
    responder,
    hitl: { planReview: 'always' },
  });
  try {
    const first = await agent.run(`please handle ${CANARY}`).result();
    expect(first.status).toBe('waiting');
    const reviewed = await agent.send(first.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
    const approval = reviewed.pending.find((p) => p.kind === 'approval');
    expect(approval).toBeDefined();
    const done = await agent
      .send(first.sessionId, { type: 'approval.grant', requestId: approval?.id ?? '', actor: 'bob' })
      .result();
    expect(done.status).toBe('completed');
    expect(done.answer).toBe(`The secret was ${CANARY}.`);
    // Everything reads back through the wrapper.
    const snap = await agent.getSession(first.sessionId);
    expect(snap?.plan?.todos[0]?.input).toEqual({ secret: CANARY });
    expect(snap?.todos[0]?.output).toEqual({ echoed: CANARY, to: 'team@corp' });
    const events = [];
    for await (const e of agent.events(first.sessionId)) events.push(e);
    expect(JSON.stringify(events)).toContain(CANARY);
    return first.sessionId;
  } finally {
    await agent.close();
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

const containsCanary = (paths: string[]): string[] =>
  paths.filter((p) => existsSync(p) && readFileSync(p).includes(Buffer.from(CANARY)));

describe('encryption at rest on SQLite (raw file bytes scanned)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dream-enc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sqliteFiles = (path: string): string[] => [path, `${path}-wal`, `${path}-shm`];

  it('control: without encryption the canary is in the file (the scan can see it)', async () => {
    const path = join(dir, 'plain.db');
    const store = new SqliteStore(path);
    await runCanaryTurn(store);
    await store.close();
    expect(containsCanary(sqliteFiles(path)).length).toBeGreaterThan(0);
  });

  it('with encryption the canary never appears in the database, its WAL or its shared memory', async () => {
    const path = join(dir, 'sealed.db');
    const inner = new SqliteStore(path);
    await runCanaryTurn(encryptedStore(inner, { codec: new AesGcmCodec(ring({ k1: key() }, 'k1')) }));
    // Checked before closing too: the WAL holds the latest pages until a checkpoint.
    expect(containsCanary(sqliteFiles(path))).toEqual([]);
    await inner.close();
    expect(containsCanary(sqliteFiles(path))).toEqual([]);
  });

  it('rows swapped between sessions, a wrong key and plaintext rows are refused with a typed error', async () => {
    const path = join(dir, 'swap.db');
    const k1 = key();
    const inner = new SqliteStore(path);
    const store = encryptedStore(inner, { codec: new AesGcmCodec(ring({ k1 }, 'k1')) });
    const stateOf = (n: number): SessionState => ({ ...emptyState(), metadata: { n } });
    await store.createSession({ id: 'a', status: 'idle', state: stateOf(1) }, 'x', 30_000);
    await store.createSession({ id: 'b', status: 'idle', state: stateOf(2) }, 'x', 30_000);
    expect((await store.getSession('a'))?.state.metadata).toEqual({ n: 1 });
    inner.database
      .prepare(`UPDATE sessions SET state = (SELECT state FROM sessions WHERE id = 'b') WHERE id = 'a'`)
      .run();
    expect(await codeOf(store.getSession('a'))).toBe('DECRYPTION_FAILED');
    expect((await store.getSession('b'))?.state.metadata).toEqual({ n: 2 });
    const wrongKey = encryptedStore(inner, { codec: new AesGcmCodec(ring({ k1: key() }, 'k1')) });
    expect(await codeOf(wrongKey.getSession('b'))).toBe('DECRYPTION_FAILED');
    await inner.createSession({ id: 'plain', status: 'idle', state: stateOf(3) }, 'x', 30_000);
    expect(await codeOf(store.getSession('plain'))).toBe('DECRYPTION_FAILED');
    const migrating = encryptedStore(inner, {
      codec: new AesGcmCodec(ring({ k1 }, 'k1')),
      allowPlaintext: true,
    });
    expect((await migrating.getSession('plain'))?.state.metadata).toEqual({ n: 3 });
    await inner.close();
  });
});

describe('one sealed envelope per commit (SQLite rows tampered)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dream-envelope-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const todo = (todoId: string, output: Json): TodoRecord => ({
    sessionId: 's',
    turnId: 'u1',
    todoId,
    status: 'completed',
    attempts: 1,
    idempotencyKey: `k-${todoId}`,
    output,
  });

  async function seeded(batchBytes?: number) {
    const inner = new SqliteStore(join(dir, `${randomBytes(4).toString('hex')}.db`));
    const store = encryptedStore(inner, {
      codec: new AesGcmCodec(ring({ k1: key() }, 'k1')),
      ...(batchBytes === undefined ? {} : { batchBytes }),
    });
    const { lease } = await store.createSession(
      { id: 's', status: 'running', state: emptyState() },
      'n',
      30_000,
    );
    await store.commit({
      sessionId: 's',
      expectedVersion: 1,
      lease,
      events: [],
      todos: [
        todo('a', { secret: 'alpha' }),
        todo('b', { secret: 'bravo' }),
        todo('big', { blob: 'x'.repeat(5000) }),
      ],
      planVersions: [],
      inboxAcks: [],
      leaseAction: 'renew',
      leaseTtlMs: 30_000,
    });
    // The rows are tampered with in the todos table: fold what the commit journaled into it first.
    inner.foldTodos();
    const rows = (): Record<string, Record<string, unknown>> =>
      Object.fromEntries(
        (
          inner.database.prepare(`SELECT todo_id, record FROM todos WHERE session_id = 's'`).all() as {
            todo_id: string;
            record: string;
          }[]
        ).map((r) => [r.todo_id, JSON.parse(r.record) as Record<string, unknown>]),
      );
    const write = (todoId: string, record: Record<string, unknown>): void => {
      inner.database
        .prepare(`UPDATE todos SET record = ? WHERE session_id = 's' AND todo_id = ?`)
        .run(JSON.stringify(record), todoId);
    };
    return { inner, store, rows, write };
  }

  it('small records of a commit share one envelope; a large one is sealed alone; all read back', async () => {
    const { inner, store, rows } = await seeded();
    const r = rows();
    expect(r['a']?.['$sealed']).toBe(r['b']?.['$sealed']);
    expect([r['a']?.['$part'], r['b']?.['$part']]).toEqual([0, 1]);
    expect(r['big']?.['$part']).toBeUndefined();
    expect(r['big']?.['$sealed']).not.toBe(r['a']?.['$sealed']);
    const back = await store.getTodos('s', 'u1');
    expect(Object.fromEntries(back.map((t) => [t.todoId, t.output]))).toEqual({
      a: { secret: 'alpha' },
      b: { secret: 'bravo' },
      big: { blob: 'x'.repeat(5000) },
    });
    await inner.close();
  });

  it('a row pointed at another entry of its envelope, or copied onto another record, is refused', async () => {
    const { inner, store, rows, write } = await seeded();
    const r = rows();
    write('a', { ...r['a'], $part: 1 });
    expect(await codeOf(store.getTodos('s', 'u1'))).toBe('DECRYPTION_FAILED');
    write('a', { ...r['b'], todoId: 'a' });
    expect(await codeOf(store.getTodos('s', 'u1'))).toBe('DECRYPTION_FAILED');
    write('a', { ...r['a'], $part: 7 });
    expect(await codeOf(store.getTodos('s', 'u1'))).toBe('DECRYPTION_FAILED');
    const sealed = String(r['a']?.['$sealed']);
    const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === 'A' ? 'B' : 'A'}${sealed.slice(-2)}`;
    write('a', { ...r['a'], $sealed: flipped });
    expect(await codeOf(store.getTodos('s', 'u1'))).toBe('DECRYPTION_FAILED');
    write('a', r['a'] as Record<string, unknown>);
    expect((await store.getTodos('s', 'u1')).find((t) => t.todoId === 'a')?.output).toEqual({
      secret: 'alpha',
    });
    await inner.close();
  });

  it('batchBytes 0 seals every record alone', async () => {
    const { inner, rows } = await seeded(0);
    const r = rows();
    expect(r['a']?.['$part']).toBeUndefined();
    expect(r['a']?.['$sealed']).not.toBe(r['b']?.['$sealed']);
    await inner.close();
  });
});

const pgSkip = serviceSkipReason('postgres');
if (pgSkip) {
  describe.skip(`encryption at rest on PostgreSQL — skipped: ${pgSkip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  describe('encryption at rest on PostgreSQL (tables and data directory scanned)', () => {
    let server: PostgresService;
    let pool: pg.Pool;
    beforeAll(async () => {
      server = await startPostgres();
      pool = new pg.Pool({ connectionString: server.url, max: 4 });
      await migrate(pool);
    });
    afterAll(async () => {
      await pool?.end();
      await server?.stop();
    });

    async function rowsWithCanary(): Promise<{ rows: number; hits: string[] }> {
      const tables = await pool.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
          WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
      );
      let rows = 0;
      const hits: string[] = [];
      for (const t of tables.rows) {
        const r = await pool.query<{ row: string }>(`SELECT t::text AS row FROM "${t.schema}"."${t.name}" t`);
        rows += r.rowCount ?? 0;
        if (r.rows.some(({ row }) => row.includes(CANARY))) hits.push(`${t.schema}.${t.name}`);
      }
      return { rows, hits };
    }

    it('no table row and no file of the cluster (heap, WAL) holds the canary', async () => {
      await runCanaryTurn(
        encryptedStore(new PostgresStore({ pool }), { codec: new AesGcmCodec(ring({ k1: key() }, 'k1')) }),
      );
      const { rows, hits } = await rowsWithCanary();
      expect(rows).toBeGreaterThan(3);
      expect(hits).toEqual([]);
      await pool.query('CHECKPOINT');
      expect(containsCanary(filesUnder(server.dataDir))).toEqual([]);
    });

    // Runs after the encrypted case: its plaintext would otherwise sit in the WAL that case scans.
    it('control: without encryption the same scan finds the canary in the tables and the WAL', async () => {
      await runCanaryTurn(new PostgresStore({ pool }));
      expect((await rowsWithCanary()).hits.length).toBeGreaterThan(0);
      await pool.query('CHECKPOINT');
      expect(containsCanary(filesUnder(server.dataDir)).length).toBeGreaterThan(0);
    });
  });
}
