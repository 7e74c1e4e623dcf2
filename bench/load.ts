/**
 * Load test of the example server (bounded, loopback only): N concurrent REST journeys (start → answer the
 * clarification → approve the plan → provide the input → grant the gate), every session followed live by
 * one of M WebSocket followers. Reports sessions/s, p50/p99 command→event latency (a REST command sent →
 * its first event delivered to the follower), errors, seq gaps, and the server's RSS after warm-up and per
 * 1,000 sessions.
 *
 *   npx tsx bench/load.ts                                   # SQLite, 1,000 sessions, 200 journeys, 100 followers
 *   npx tsx bench/load.ts --store postgres --sessions 600   # PostgreSQL (a throwaway local cluster)
 *   npx tsx bench/load.ts --concurrency 50 --followers 20   # smaller
 *
 * The server is the real `examples/server` (scripted layers, no step delay) in a child process, so its
 * memory is measured alone; the clients share the machine's cores, so the numbers are a floor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import type { AgentEvent } from '../src/index.js';
import { AgentClient } from '../adapters/ws/src/index.js';
import { freePort, startPostgres, type PostgresService } from '../test/setup/services.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const SECRET = 'load-bench-secret-0123456789-0123456789-abc';
const METRICS = 'load-bench-metrics-token';

function arg(name: string, fallback: number): number;
function arg(name: string, fallback: string): string;
function arg(name: string, fallback: number | string): number | string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) return fallback;
  return typeof fallback === 'number' ? Number(v) : v;
}

const SESSIONS = arg('sessions', 1000);
const CONCURRENCY = arg('concurrency', 200);
const FOLLOWERS = arg('followers', 100);
const STORE = arg('store', 'sqlite');
const WARMUP = Math.min(200, Math.floor(SESSIONS / 4));
/** Extra node flags for the server process, e.g. `--node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
/** Sessions between RSS samples (and heap snapshots with `--heap-snapshots`, written by SIGUSR2). */
const RSS_EVERY = arg('rss-every', 100);
const HEAP_SNAPSHOTS = arg('heap-snapshots', '').split(',').filter(Boolean).map(Number);
/** Where `--cpu-prof`/`--heap-prof` output and heap snapshots go (node's `--diagnostic-dir`). */
const PROF_DIR = arg('prof-dir', join(tmpdir(), 'dream-load-prof'));

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function startServer(env: Record<string, string>): Promise<{ proc: ChildProcess; base: string }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...NODE_ARGS,
      ...(NODE_ARGS.length || HEAP_SNAPSHOTS.length ? [`--diagnostic-dir=${PROF_DIR}`] : []),
      ...(HEAP_SNAPSHOTS.length ? ['--heapsnapshot-signal=SIGUSR2'] : []),
      '--import',
      'tsx',
      'examples/server/src/main.ts',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(port),
        JWT_SECRET: SECRET,
        METRICS_TOKEN: METRICS,
        LAYERS: 'scripted',
        STEP_DELAY_MS: '0',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '10000000',
        WS_MESSAGES_PER_SECOND: '100000',
        ...env,
      },
    },
  );
  const base = `127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { proc, base };
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

async function rssMb(base: string): Promise<number> {
  const text = await (
    await fetch(`http://${base}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } })
  ).text();
  const m = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return m ? Math.round(Number(m[1]) / 1024 / 1024) : NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dream-load-'));
  let pg: PostgresService | undefined;
  const env: Record<string, string> = {};
  if (STORE === 'postgres') {
    pg = await startPostgres();
    Object.assign(env, { STORE: 'postgres', DATABASE_URL: pg.url });
  } else if (STORE === 'sqlite') Object.assign(env, { STORE: 'sqlite', SQLITE_PATH: join(dir, 'load.db') });
  else Object.assign(env, { STORE: 'memory' });
  if (NODE_ARGS.length || HEAP_SNAPSHOTS.length) mkdirSync(PROF_DIR, { recursive: true });
  const { proc, base } = await startServer(env);
  const token = await new SignJWT({ roles: ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('load')
    .setIssuer('dream-agent-example')
    .setAudience('dream-agent')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET));
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const followers = Array.from(
    { length: FOLLOWERS },
    () => new AgentClient({ url: `ws://${base}/ws`, token, WebSocket, requestTimeoutMs: 60_000 }),
  );
  await Promise.all(followers.map((f) => f.connect()));

  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let gaps = 0;
  let done = 0;
  const err = (why: string): void => {
    errors[why] = (errors[why] ?? 0) + 1;
  };
  const rss: { sessions: number; mb: number }[] = [{ sessions: 0, mb: await rssMb(base) }];

  /** POSTs a command (no wait); records when it was sent against the seq of its first event. */
  async function post(path: string, body: unknown, sent: Map<number, number>): Promise<boolean> {
    const t0 = performance.now();
    let r: Response;
    try {
      r = await fetch(`http://${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      err(`network: ${cause?.code ?? (e as Error).message}`);
      return false;
    }
    const json = (await r.json().catch(() => ({}))) as { firstSeq?: number; error?: { code?: string } };
    if (r.status !== 202 || typeof json.firstSeq !== 'number') {
      err(`${r.status} ${json.error?.code ?? ''}`.trim());
      return false;
    }
    sent.set(json.firstSeq, t0);
    return true;
  }

  async function journey(n: number): Promise<void> {
    const sid = `load-${n}`;
    const follower = followers[n % FOLLOWERS] as AgentClient;
    const sent = new Map<number, number>();
    const arrived = new Map<number, number>();
    // Subscribe once the session exists (the replay from seq 1 covers what happened meanwhile).
    if (
      !(await post(
        '/api/sessions',
        { input: 'Analyse sales by region and email the report', sessionId: sid },
        sent,
      ))
    )
      return;
    const sub = follower.subscribe(sid);
    let last = 0;
    try {
      for await (const e of sub as AsyncIterable<AgentEvent>) {
        arrived.set(e.seq, performance.now());
        if (e.seq !== last + 1) gaps += 1;
        last = e.seq;
        const cmd = `/api/sessions/${sid}/commands`;
        let ok = true;
        if (e.type === 'clarification.requested')
          ok = await post(
            cmd,
            { type: 'clarification.answer', requestId: e.request.id, answer: 'last quarter' },
            sent,
          );
        else if (e.type === 'plan.review.requested') ok = await post(cmd, { type: 'plan.approve' }, sent);
        else if (e.type === 'input.requested')
          ok = await post(
            cmd,
            { type: 'input.provide', requestId: e.request.id, value: 'team@example.com' },
            sent,
          );
        else if (e.type === 'approval.requested')
          ok = await post(cmd, { type: 'approval.grant', requestId: e.request.id }, sent);
        else if (e.type === 'recovery.requested')
          ok = await post(
            cmd,
            { type: 'recovery.resolve', requestId: e.request.id, decision: 'retry' },
            sent,
          );
        else if (e.type === 'turn.failed') {
          err('turn.failed');
          break;
        } else if (e.type === 'turn.completed') {
          done += 1;
          break;
        }
        if (!ok) break;
      }
    } catch (e) {
      err(`subscription: ${(e as Error).message.slice(0, 60)}`);
    } finally {
      sub.close();
    }
    for (const [seq, t0] of sent) {
      const t1 = arrived.get(seq);
      if (t1 === undefined) err('event never delivered');
      else latencies.push(Math.max(0, t1 - t0));
    }
  }

  let next = 0;
  let warmedAt = 0;
  let warmStart = 0;
  let nextMark = RSS_EVERY;
  const snapshotsDue = [...HEAP_SNAPSHOTS].sort((a, b) => a - b);
  const t0 = performance.now();
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const n = next++;
      if (n >= SESSIONS) return;
      await journey(n);
      // Samples by sessions finished (not started): at warm-up (WARMUP done), then every RSS_EVERY.
      const finished = done + Object.values(errors).reduce((a, b) => a + b, 0);
      if (warmStart === 0 && finished >= WARMUP) {
        warmedAt = finished;
        warmStart = performance.now();
      }
      if (finished >= nextMark) {
        nextMark += RSS_EVERY;
        const mb = await rssMb(base);
        rss.push({ sessions: finished, mb });
        console.error(`rss ${String(finished).padStart(5)} sessions: ${mb} MB`);
      }
      if (snapshotsDue.length && finished >= (snapshotsDue[0] as number)) {
        snapshotsDue.shift();
        proc.kill('SIGUSR2');
        console.error(`heap snapshot at ${finished} sessions -> ${PROF_DIR}`);
      }
    }
  });
  await Promise.all(workers);
  const secs = (performance.now() - t0) / 1000;
  const steadySecs = (performance.now() - warmStart) / 1000;
  rss.push({ sessions: SESSIONS, mb: await rssMb(base) });
  for (const f of followers) f.close();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });

  const warm = rss.find((r) => r.sessions >= WARMUP) ?? rss[0];
  const end = rss.at(-1);
  const result = {
    store: STORE,
    sessions: SESSIONS,
    concurrency: CONCURRENCY,
    followers: FOLLOWERS,
    completed: done,
    seconds: Math.round(secs * 10) / 10,
    sessionsPerSecond: Math.round((done / secs) * 10) / 10,
    steadySessionsPerSecond: Math.round(((done - warmedAt) / steadySecs) * 10) / 10,
    commandToEventMs: {
      p50: Math.round(percentile(latencies, 50)),
      p99: Math.round(percentile(latencies, 99)),
      samples: latencies.length,
    },
    errors,
    gaps,
    rssMb: rss,
    rssGrowthMbPer1000AfterWarmup:
      warm && end && end.sessions > warm.sessions
        ? Math.round(((end.mb - warm.mb) / (end.sessions - warm.sessions)) * 1000)
        : null,
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, `bench/results/load-${STORE}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

await main();
