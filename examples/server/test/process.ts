/**
 * Runs the example server as users do (`npm start`) in its own process group, so tests can attack it and
 * then check that the process is still alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { SignJWT } from 'jose';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export const PROCESS_SECRET = 'process-test-secret-0123456789-0123456789';

/** A started `npm start` server. */
export interface ServerProcess {
  /** `127.0.0.1:port`. */
  base: string;
  proc: ChildProcess;
  /** Everything the server wrote (stdout + stderr). */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** A JWT signed with the server's secret (for `tenant`, when given). */
  token(sub: string, roles: string[], ttlSeconds?: number, tenant?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `npm start` with a memory store on a free loopback port.
 *
 * @param env - extra environment variables
 * @returns the running process, once it logged its URL
 */
export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = spawn('npm', ['start', '--silent'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      STORE: 'memory',
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: PROCESS_SECRET,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: '100000',
      ...env,
    },
  });
  let out = '';
  let exited = false;
  proc.on('exit', () => (exited = true));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"url":"http:\/\/([0-9.]+:\d+)"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${String(code)}:\n${out}`));
    });
  });
  const key = new TextEncoder().encode(env['JWT_SECRET'] ?? PROCESS_SECRET);
  return {
    base,
    proc,
    output: () => out,
    alive: () => !exited && proc.exitCode === null,
    token: (sub, roles, ttlSeconds = 600, tenant) =>
      new SignJWT({ roles, ...(tenant !== undefined ? { tenant } : {}) })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('dream-agent-example')
        .setAudience('dream-agent')
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key),
    async stop() {
      if (exited || proc.pid === undefined) return;
      const done = new Promise<void>((r) => proc.on('exit', () => r()));
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await done;
      clearTimeout(t);
    },
  };
}

/**
 * Sends a chunked POST (no Content-Length) of `chunks` × `chunkBytes`, tolerating the server closing
 * the connection once it has answered.
 *
 * @returns the status and body text, or `status: 0` when the connection ended without an answer
 */
export function chunkedPost(
  base: string,
  path: string,
  headers: Record<string, string>,
  chunks: number,
  chunkBytes: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request(`http://${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => {
      if (!answered) resolve({ status: 0, body: '' });
    });
    let i = 0;
    const piece = Buffer.alloc(chunkBytes, 0x20);
    const pump = (): void => {
      while (i < chunks) {
        i += 1;
        if (req.destroyed) return;
        if (i === 1) req.write('{"input":"');
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end('"}');
    };
    pump();
  });
}
