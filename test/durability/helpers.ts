/** Child-process plumbing for the durability tests. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const workerPath = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** A running worker process and the JSON lines it printed. */
export interface Worker {
  proc: ChildProcessWithoutNullStreams;
  messages: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `test/durability/worker.ts` with `node --import tsx`.
 *
 * @param args - the worker's JSON arguments
 * @returns the worker
 */
export function spawnWorker(args: Record<string, unknown>): Worker {
  const proc = spawn(process.execPath, ['--import', 'tsx', workerPath, JSON.stringify(args)], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        messages.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        messages.push({ text: line });
      }
    }
  });
  proc.stderr.on('data', (d: Buffer) => {
    stderr.push(d.toString('utf8'));
    if (stderr.length > 200) stderr.shift();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, messages, stderr, exit };
}

/**
 * Resolves with the first message matching `pred` (or rejects when the worker exits first or after `timeoutMs`).
 *
 * @param w - the worker
 * @param pred - which message
 * @param timeoutMs - how long to wait
 * @returns the message
 */
export async function waitForMessage(
  w: Worker,
  pred: (m: Record<string, unknown>) => boolean,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const start = Date.now();
  let exited = false;
  void w.exit.then(() => (exited = true));
  for (;;) {
    const m = w.messages.find(pred);
    if (m) return m;
    if (exited) throw new Error(`worker exited before the expected message; stderr:\n${w.stderr.join('')}`);
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `no expected message after ${timeoutMs} ms; got ${JSON.stringify(w.messages)}; stderr:\n${w.stderr.join('')}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kills a worker if still running and waits for it. */
export async function reap(w: Worker, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill(signal);
  await w.exit;
}
