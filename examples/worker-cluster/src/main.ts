/**
 * A cluster of two worker processes sharing one SQLite file. A session starts on worker A; worker B
 * pauses it between two steps, then resumes it — and B finishes it. Every step runs exactly once.
 *
 *   npm start -w @dream-agent/example-worker-cluster
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

interface Line {
  node: string;
  ready?: boolean;
  did?: string;
  op?: string;
  status?: string;
  error?: string;
}

const dir = mkdtempSync(join(tmpdir(), 'dream-cluster-'));
const database = join(dir, 'cluster.db');
const workerFile = fileURLToPath(new URL('./worker.ts', import.meta.url));
const lines: Line[] = [];
const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];

function worker(nodeId: string): (order: object) => void {
  const child = spawn(process.execPath, ['--import', 'tsx', workerFile, nodeId, database], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  children.push(child);
  void (async () => {
    for await (const text of createInterface({ input: child.stdout })) {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      console.log(`${line.node}: ${text}`);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  })();
  return (order) => child.stdin.write(`${JSON.stringify(order)}\n`);
}

const until = (test: (l: Line) => boolean): Promise<Line> => {
  const seen = lines.find(test);
  return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ test, resolve }));
};

const children: ReturnType<typeof spawn>[] = [];
const a = worker('A');
const b = worker('B');
await Promise.all([
  until((l) => l.node === 'A' && l.ready === true),
  until((l) => l.node === 'B' && l.ready === true),
]);

a({ op: 'start', sessionId: 'job-1' });
await until((l) => l.node === 'A' && l.did === 'extract');
b({ op: 'pause', sessionId: 'job-1' }); // B pauses the session A is running
await Promise.all([
  until((l) => l.node === 'A' && l.op === 'start' && l.status !== undefined), // A's run came to rest
  until((l) => l.node === 'B' && l.op === 'pause' && l.status !== undefined), // B saw it paused
]);
b({ op: 'resume', sessionId: 'job-1' }); // and continues it itself
const done = await until((l) => l.node === 'B' && l.op === 'resume' && l.status !== undefined);

const ran = lines.filter((l) => l.did !== undefined).map((l) => `${l.did}@${l.node}`);
console.log(`steps: ${ran.join(' ')}`);
console.log(`final: ${done.status ?? ''}`);
for (const c of children) c.stdin?.end();
await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
rmSync(dir, { recursive: true, force: true });
