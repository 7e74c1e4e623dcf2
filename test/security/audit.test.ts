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
  type AuditedStore,
  type Executor,
} from 'dream-agent';
import { storeContract } from 'dream-agent/testing';
import { SqliteStore } from '@dream-agent/sqlite';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '../setup/services.js';

const dir = mkdtempSync(join(tmpdir(), 'dream-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('auditedStore(MemoryStore)', async ({ clock }) => ({
  store: auditedStore(new MemoryStore({ clock })),
}));

/** A reviewed, edited, approved turn: plan versions, an approval decision and commands from two actors. */
async function journey(store: AuditedStore): Promise<string> {
  const executor: Executor = {
    async execute(todo) {
      await Promise.resolve();
      return { output: { sent: todo.input } };
    },
  };
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => ({
      todos: [
        { id: 'q', title: 'Query', domain: 'work', dependsOn: [], input: { period: 'Q3' } },
        {
          id: 'mail',
          title: 'Mail',
          domain: 'work',
          dependsOn: ['q'],
          input: { to: 'team@corp' },
          approval: true,
        },
      ],
    })),
    executors: { work: executor },
    hitl: { planReview: 'always' },
  });
  try {
    const first = await agent.run('report Q3 and mail it').result();
    const rejected = await agent
      .send(first.sessionId, { type: 'approval.grant', requestId: 'nope', actor: 'mallory' })
      .result()
      .catch((e: unknown) => e);
    expect(rejected).toBeDefined();
    const reviewed = await agent.send(first.sessionId, { type: 'plan.approve', actor: 'alice' }).result();
    const approval = reviewed.pending.find((p) => p.kind === 'approval');
    const done = await agent
      .send(first.sessionId, { type: 'approval.grant', requestId: approval?.id ?? '', actor: 'bob' })
      .result();
    expect(done.status).toBe('completed');
    return first.sessionId;
  } finally {
    await agent.close();
  }
}

type Db = SqliteStore['database'];
type RawEvent = Record<string, unknown> & { seq: number };

/** Rewrites a session's stored events as raw rows, as someone with the database file would. */
function rewriteEvents(db: Db, sessionId: string, change: (events: RawEvent[]) => RawEvent[]): void {
  const rows = db
    .prepare<[string], { events: string }>(
      `SELECT events FROM journal WHERE session_id = ? AND events IS NOT NULL ORDER BY version`,
    )
    .all(sessionId);
  const events = change(rows.flatMap((r) => JSON.parse(r.events) as RawEvent[]));
  const version = db.prepare(`SELECT version FROM sessions WHERE id = ?`).pluck().get(sessionId) as number;
  db.prepare(`DELETE FROM journal WHERE session_id = ?`).run(sessionId);
  const insert = db.prepare(
    `INSERT INTO journal (session_id, version, first_seq, last_seq, events) VALUES (?, ?, ?, ?, ?)`,
  );
  // One row per event keeps a gap or a swap exactly where it was made (numbered up to the folded
  // session version, so no row is above the watermark).
  for (const [i, e] of events.entries())
    insert.run(sessionId, version - events.length + 1 + i, e.seq, e.seq, JSON.stringify([e]));
}

async function tampered(
  mutate: (db: SqliteStore['database'], sessionId: string, lastSeq: number) => void,
): Promise<{ report: Awaited<ReturnType<AuditedStore['verifyAudit']>>; lastSeq: number }> {
  const inner = new SqliteStore(join(dir, `t-${(n += 1)}.db`));
  const store = auditedStore(inner);
  const sessionId = await journey(store);
  const clean = await store.verifyAudit(sessionId);
  expect(clean.ok, JSON.stringify(clean.problems)).toBe(true);
  const lastSeq = clean.head.seq;
  // The tampering edits the todos table: fold the rows commits journaled into it first.
  inner.foldTodos();
  mutate(inner.database, sessionId, lastSeq);
  const report = await store.verifyAudit(sessionId);
  await inner.close();
  return { report, lastSeq };
}

describe('audit trail (hash chain per session)', () => {
  it('an untouched session verifies, and the export names actors, commands and the approval decision', async () => {
    const store = auditedStore(new SqliteStore(join(dir, 'clean.db')));
    const sessionId = await journey(store);
    const report = await store.verifyAudit(sessionId);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.entries).toBe(report.head.seq);
    expect(report.head.hash).toMatch(/^[0-9a-f]{64}$/);
    const lines: Record<string, unknown>[] = [];
    for await (const line of store.exportAudit(sessionId))
      lines.push(JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => l['seq'])).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
    for (const [i, l] of lines.entries()) if (i > 0) expect(l['prev']).toBe(lines[i - 1]?.['hash']);
    const commands = lines.flatMap(
      (l) => (l['commands'] as { entry?: { actor?: string } }[] | undefined) ?? [],
    );
    // mallory's grant for a request that does not exist was refused at the door: it never reached the inbox.
    expect(commands.map((c) => c.entry?.actor).sort()).toEqual(['alice', 'bob']);
    expect(lines.some((l) => l['type'] === 'approval.resolved')).toBe(true);
    // Reads through the wrapper look exactly as without it.
    const events = await store.readEvents(sessionId);
    expect(events.every((e) => !('$audit' in e))).toBe(true);
    expect('$audit' in ((await store.getSession(sessionId))?.state ?? {})).toBe(false);
    await store.close?.();
  });

  it('detects an edited entry', async () => {
    const { report } = await tampered((db, id) => {
      rewriteEvents(db, id, (events) => events.map((e) => (e.seq === 3 ? { ...e, at: 1 } : e)));
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'edited', seq: 3 }));
  });

  it('detects a deleted entry', async () => {
    const { report } = await tampered((db, id) => {
      rewriteEvents(db, id, (events) => events.filter((e) => e.seq !== 4));
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'deleted', seq: 4 }));
  });

  it('detects reordered entries', async () => {
    const { report } = await tampered((db, id) => {
      // Swap two entries and renumber them so that seqs still look contiguous.
      rewriteEvents(db, id, (events) => {
        const a = events.find((e) => e.seq === 2);
        const b = events.find((e) => e.seq === 3);
        return events.map((e) =>
          e.seq === 2 && b ? { ...b, seq: 2 } : e.seq === 3 && a ? { ...a, seq: 3 } : e,
        );
      });
    });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain('reordered');
  });

  it('detects a truncated tail even when the session row is rewound to match', async () => {
    const { report, lastSeq } = await tampered((db, id, last) => {
      rewriteEvents(db, id, (events) => events.filter((e) => e.seq <= last - 2));
      db.prepare(`UPDATE sessions SET last_seq = ? WHERE id = ?`).run(last - 2, id);
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', seq: lastSeq - 2 }));
  });

  it('detects an inbox command changed after it was acknowledged', async () => {
    const { report } = await tampered((db, id) => {
      db.prepare(`UPDATE inbox SET actor = 'someone-else' WHERE session_id = ? AND actor = 'bob'`).run(id);
    });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain('command_edited');
  });

  it('names a todo row edited to another status or output (the row, not only the events, is chained)', async () => {
    const { report } = await tampered((db, id) => {
      const row = db
        .prepare<[string], { record: string }>(
          `SELECT record FROM todos WHERE session_id = ? AND todo_id = 'mail'`,
        )
        .get(id);
      const record = JSON.parse(row?.record ?? '{}') as Record<string, unknown>;
      expect(record['status']).toBe('completed');
      db.prepare(`UPDATE todos SET record = ? WHERE session_id = ? AND todo_id = 'mail'`).run(
        JSON.stringify({ ...record, approvedBy: 'mallory' }),
        id,
      );
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        kind: 'row_edited',
        message: expect.stringContaining('todo mail') as string,
      }),
    );
    // Only the edited row is named: the event chain itself is intact.
    expect(report.problems.map((p) => p.kind)).toEqual(['row_edited']);
  });

  it('names a deleted todo row and an edited session state', async () => {
    const { report } = await tampered((db, id) => {
      db.prepare(`DELETE FROM todos WHERE session_id = ? AND todo_id = 'q'`).run(id);
      const row = db.prepare<[string], { state: string }>(`SELECT state FROM sessions WHERE id = ?`).get(id);
      const state = JSON.parse(row?.state ?? '{}') as Record<string, unknown>;
      db.prepare(`UPDATE sessions SET state = ? WHERE id = ?`).run(
        JSON.stringify({ ...state, metadata: { plan: 'gold' } }),
        id,
      );
    });
    expect(report.ok).toBe(false);
    const kinds = report.problems.map((p) => `${p.kind}: ${p.message}`);
    expect(kinds).toContainEqual(expect.stringMatching(/^row_deleted: todo q /));
    expect(kinds).toContainEqual(expect.stringMatching(/^row_edited: the state of session/));
  });

  it('rows written by a commit without events are covered through the head', async () => {
    const inner = new SqliteStore(join(dir, 'eventless.db'));
    const store = auditedStore(inner);
    const { lease } = await store.createSession(
      { id: 'e1', status: 'running', state: { turn: null, turns: 0, dialogue: [], slots: {}, metadata: {} } },
      'n',
      30_000,
    );
    await store.commit({
      sessionId: 'e1',
      expectedVersion: 1,
      lease,
      events: [],
      todos: [
        { sessionId: 'e1', turnId: 'u', todoId: 'x', status: 'completed', attempts: 1, idempotencyKey: 'k' },
      ],
      planVersions: [],
      inboxAcks: [],
      leaseAction: 'renew',
      leaseTtlMs: 30_000,
    });
    expect((await store.verifyAudit('e1')).ok).toBe(true);
    // The tampering edits the todos table: fold the rows the commit journaled into it first.
    inner.foldTodos();
    inner.database.prepare(`UPDATE todos SET record = replace(record, 'completed', 'failed')`).run();
    const report = await store.verifyAudit('e1');
    expect(report.problems.map((p) => p.kind)).toEqual(['row_edited']);
    await inner.close();
  });

  it('an exported anchor catches a chain rewritten from that point on', async () => {
    const inner = new SqliteStore(join(dir, 'anchor.db'));
    const store = auditedStore(inner);
    const sessionId = await journey(store);
    const anchor = await store.auditHead(sessionId);
    expect((await store.verifyAudit(sessionId, anchor)).ok).toBe(true);
    const forged = { ...anchor, hash: 'f'.repeat(64) };
    expect((await store.verifyAudit(sessionId, forged)).problems.map((p) => p.kind)).toContain('truncated');
    await inner.close();
  });

  it('composes with encryption: the trail is sealed at rest and still verifies', async () => {
    const inner = new SqliteStore(join(dir, 'sealed.db'));
    const codec = new AesGcmCodec(
      new StaticKeyring({ keys: { k1: new Uint8Array(randomBytes(32)) }, current: 'k1' }),
    );
    const store = auditedStore(encryptedStore(inner, { codec }));
    const sessionId = await journey(store);
    expect((await store.verifyAudit(sessionId)).ok).toBe(true);
    const raw = inner.database
      .prepare(`SELECT events FROM journal WHERE session_id = ? AND events IS NOT NULL`)
      .all(sessionId) as { events: string }[];
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.some((r) => r.events.includes('alice') || r.events.includes('"prev"'))).toBe(false);
    await inner.close();
  });
});

const pgSkip = serviceSkipReason('postgres');
if (pgSkip) {
  describe.skip(`audit trail on PostgreSQL — skipped: ${pgSkip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  describe('audit trail on PostgreSQL (jsonb rows tampered)', () => {
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

    it('a session verifies after the jsonb round trip; a todo row set to another approver is named', async () => {
      const store = auditedStore(new PostgresStore({ pool }));
      const sessionId = await journey(store);
      const clean = await store.verifyAudit(sessionId);
      expect(clean.ok, JSON.stringify(clean.problems)).toBe(true);
      const edited = await pool.query(
        `UPDATE dream_agent.todos SET record = jsonb_set(record::jsonb, '{approvedBy}', '"mallory"')::json WHERE session_id = $1 AND todo_id = 'mail'`,
        [sessionId],
      );
      expect(edited.rowCount).toBe(1);
      const report = await store.verifyAudit(sessionId);
      expect(report.problems.map((p) => `${p.kind}: ${p.message}`)).toEqual([
        expect.stringMatching(/^row_edited: todo mail of turn /),
      ]);
    });
  });
}
