/**
 * A local stand-in for the media job service (loopback only): a job is queued, then in progress for a
 * few polls, then completed with an image URL. Used when MEDIA_API_URL is not set, and by the test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A job as the stand-in tracks it. */
interface Job {
  id: string;
  polls: number;
  prompt: string;
}

/** The stand-in: its base URL, what it received, and how to stop it. */
export interface MediaStandIn {
  url: string;
  /** Jobs submitted (by idempotency key, so a retried submit is the same job). */
  submitted: Map<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the stand-in on a free loopback port.
 *
 * @param pollsToFinish - status calls until a job completes
 * @returns the running stand-in
 */
export async function startMediaStandIn(pollsToFinish = 3): Promise<MediaStandIn> {
  const jobs = new Map<string, Job>();
  const submitted = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/run') {
        const key = String(req.headers['idempotency-key'] ?? '');
        const existing = submitted.get(key);
        if (existing) return send(200, { id: existing, status: 'IN_QUEUE' });
        const { input } = JSON.parse(raw) as { input: { prompt: string } };
        const id = `job-${jobs.size + 1}`;
        jobs.set(id, { id, polls: 0, prompt: input.prompt });
        submitted.set(key, id);
        return send(200, { id, status: 'IN_QUEUE' });
      }
      const status = /^\/status\/([\w-]+)$/.exec(req.url ?? '');
      const job = status ? jobs.get(status[1] ?? '') : undefined;
      if (req.method === 'GET' && job) {
        job.polls += 1;
        if (job.polls >= pollsToFinish) {
          return send(200, {
            id: job.id,
            status: 'COMPLETED',
            executionTime: 4200,
            output: { url: `https://media.example/${job.id}.png` },
          });
        }
        return send(200, {
          id: job.id,
          status: job.polls === 1 ? 'IN_QUEUE' : 'IN_PROGRESS',
          progress: Math.round((job.polls / pollsToFinish) * 100),
        });
      }
      send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    submitted,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
