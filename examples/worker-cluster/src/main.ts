/**
 * A cluster of three worker processes sharing one PostgreSQL store and one Redis event bus. Worker A
 * starts a five-step job; while a step is running (after at least one step completed) A is killed with
 * SIGKILL. Another worker notices the expired lease, claims the session and finishes it:
 *
 * - the step A was running is idempotent (`KILL_DURING=transform`): it simply runs again there;
 * - it is not (`KILL_DURING=charge`, the default — it bills a customer): the session asks a human with a
 *   `recovery` request instead of guessing; this script answers `retry` from a third worker and the job
 *   completes.
 *
 * Every step's effect is recorded once (under its idempotency key), every todo completes once, and what
 * the workers report agrees with what the store says.
 *
 *   npm start -w @dream-agent/example-worker-cluster
 *
 * With DATABASE_URL and REDIS_URL set it uses those (it creates the store's tables and an `effects`
 * table); without them it starts a throwaway PostgreSQL and Redis on loopback (the repository's test
 * harness: `initdb`/`pg_ctl` and `redis-server` must be on the PATH).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '@dream-agent/postgres';

interface Line {
  node: string;
  ready?: boolean;
  did?: string;
  attempt?: number;
  recovered?: string[];
  op?: string;
  status?: string;
  answer?: string;
  error?: string;
  store?: StoreView;
}
interface StoreView {
  status?: string;
  phase?: string;
  outcome?: string;
  todos?: { id: string; status: string; by?: { by: string } }[];
  pending?: { id: string; kind: string; todoId?: string }[];
  completedEvents?: Record<string, number>;
  answer?: string;
}

const killDuring = process.env['KILL_DURING'] ?? 'charge';
const sessionId = `job-${process.pid}`; // one session per run, even against a database kept between runs

let stopServices = async (): Promise<void> => undefined;
let databaseUrl = process.env['DATABASE_URL'];
let redisUrl = process.env['REDIS_URL'];
if (!databaseUrl || !redisUrl) {
  // A local convenience: throwaway services from the repository's test harness.
  const services = await import('@dream-agent/test-services');
  const [pgService, redisService] = await Promise.all([services.startPostgres(), services.startRedis()]);
  databaseUrl = pgService.url;
  redisUrl = redisService.url;
  stopServices = async () => {
    await Promise.allSettled([pgService.stop(), redisService.stop()]);
  };
}

const pool = new pg.Pool({ connectionString: databaseUrl });
await migrate(pool);
await pool.query(
  'CREATE TABLE IF NOT EXISTS effects (key text PRIMARY KEY, session_id text NOT NULL, todo_id text NOT NULL, node text NOT NULL)',
);
await pool.query('DELETE FROM effects WHERE session_id = $1', [sessionId]);

const workerFile = fileURLToPath(new URL('./worker.ts', import.meta.url));
const lines: Line[] = [];
const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
const children = new Map<string, ChildProcessByStdio<Writable, Readable, null>>();

function worker(nodeId: string): void {
  const child = spawn(process.execPath, ['--import', 'tsx', workerFile, nodeId], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
  });
  children.set(nodeId, child);
  void (async () => {
    for await (const text of createInterface({ input: child.stdout })) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Line;
      lines.push(line);
      if (line.op !== 'get') console.log(`${line.node}: ${text}`);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  })();
}
const order = (nodeId: string, o: object): void => {
  children.get(nodeId)?.stdin.write(`${JSON.stringify(o)}\n`);
};
const until = (test: (l: Line) => boolean, from = 0): Promise<Line> => {
  const seen = lines.slice(from).find(test);
  return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ test, resolve }));
};
/** Asks `nodeId` what the store says, until `test` holds. */
async function storeUntil(nodeId: string, test: (s: StoreView) => boolean): Promise<StoreView> {
  for (;;) {
    const from = lines.length;
    order(nodeId, { op: 'get', sessionId });
    const got = await until((l) => l.node === nodeId && l.op === 'get', from);
    if (got.store && test(got.store)) return got.store;
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Ctrl-C (or a SIGTERM) stops the workers and the throwaway services too, not only a normal exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const c of children.values()) c.kill('SIGKILL');
    void stopServices().finally(() => process.exit(130));
  });
}

for (const id of ['A', 'B', 'C']) worker(id);
await Promise.all(['A', 'B', 'C'].map((id) => until((l) => l.node === id && l.ready === true)));

order('A', { op: 'start', sessionId });
await until((l) => l.node === 'A' && l.did === killDuring); // its start is committed; it is running
children.get('A')?.kill('SIGKILL');
console.log(`killed A while "${killDuring}" was running`);

const recovered = await until((l) => l.recovered?.includes(sessionId) === true);
const owner = recovered.node;
console.log(`${owner} took the session over`);
let final: StoreView;
let answer: string | undefined;
if (killDuring === 'charge') {
  // Not idempotent: the store holds a recovery request for it, and the session waits for a human.
  const waiting = await storeUntil(owner, (s) => s.status === 'waiting');
  const request = waiting.pending?.find((p) => p.kind === 'recovery');
  console.log(`recovery requested for "${request?.todoId ?? '?'}": answering retry from another worker`);
  const other = owner === 'B' ? 'C' : 'B';
  order(other, { op: 'resolve', sessionId, requestId: request?.id, decision: 'retry' });
  const resolved = await until((l) => l.node === other && l.op === 'resolve' && l.status !== undefined);
  answer = resolved.answer;
  final = await storeUntil(other, (s) => s.phase === 'done');
} else {
  final = await storeUntil(owner, (s) => s.phase === 'done');
}

const effects = await pool.query<{ todo_id: string; node: string }>(
  'SELECT todo_id, node FROM effects WHERE session_id = $1 ORDER BY todo_id',
  [sessionId],
);
const ran = lines.filter((l) => l.did !== undefined).map((l) => `${l.did ?? ''}@${l.node}`);
console.log(`steps: ${ran.join(' ')}`);
console.log(`effects: ${effects.rows.map((r) => `${r.todo_id}@${r.node}`).join(' ')}`);
console.log(`store: ${JSON.stringify(final)}`);
console.log(`answer: ${JSON.stringify(final.answer ?? '')}`);
if (answer !== undefined && answer !== final.answer)
  console.log('the worker and the store disagree on the answer');
console.log(`final: ${final.outcome ?? final.status ?? ''}`);

for (const [id, c] of children) if (id !== 'A') c.stdin.end();
await Promise.all(
  [...children.values()].map((c) =>
    c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)),
  ),
);
await pool.end();
await stopServices();
