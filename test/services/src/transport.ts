/**
 * `@dream-agent/test-services/transport`: fixtures of the transport adapters' tests (`@dream-agent/http`,
 * `@dream-agent/ws`), built on the public API only — the journey agent every transport test drives
 * (review → fetch → ask for input → send behind an approval) and loopback HTTP helpers.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  PlanDraftSchema,
  type AgentEvent,
  type AgentOptions,
  type Executor,
  type Json,
  type JsonObject,
  type TodoInput,
} from 'dream-agent';

/** Counts executions per todo id. */
export class Recorder {
  readonly runs = new Map<string, number>();
  record(id: string): void {
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
  }
}

/**
 * An executor whose behaviour is chosen by `todo.input.mode`: `echo` (default) returns `{ id, input }`;
 * `ask` asks for input (`prompt`, `key`, `schema`) and returns it.
 */
function scriptedExecutor(rec: Recorder): Executor {
  return {
    async execute(todo, input, ctx) {
      rec.record(todo.id);
      ctx.progress(`running ${todo.id}`, 50);
      if (input['mode'] === 'ask') {
        const value = await ctx.requestInput({
          prompt: String(input['prompt'] ?? 'value?'),
          ...(input['schema'] ? { schema: input['schema'] as JsonObject } : {}),
          ...(input['key'] ? { key: String(input['key']) } : {}),
        });
        return { output: { id: todo.id, value } };
      }
      ctx.delta(`${todo.id} done`);
      return { output: { id: todo.id, input: input as Json } };
    },
  };
}

/** Shorthand for a todo of the `work` domain. */
export const todo = (id: string, dependsOn: string[] = [], extra: Partial<TodoInput> = {}): TodoInput => ({
  id,
  title: `Step ${id}`,
  domain: 'work',
  dependsOn,
  input: {},
  ...extra,
});

/** The plan used by transport tests: review → fetch → ask (input) → send (approval, role `approver`). */
export function journeyTodos(): TodoInput[] {
  return [
    todo('fetch', [], { title: 'Fetch rows', input: { rows: [1, 2, 3] }, idempotent: true }),
    todo('ask', ['fetch'], {
      title: 'Ask recipient',
      input: {
        mode: 'ask',
        prompt: 'Who should get it?',
        key: 'recipient',
        schema: { type: 'string', minLength: 3 },
      },
    }),
    todo('send', ['ask'], {
      title: 'Send mail',
      approval: { required: true, risk: 'high', reason: 'Sends an e-mail', roles: ['approver'] },
    }),
  ];
}

/** An agent over a MemoryStore whose planner returns `todos` and whose executor is the scripted one. */
export function journeyAgent(
  todos: TodoInput[] = journeyTodos(),
  extra: Partial<AgentOptions> = {},
): { agent: Agent; rec: Recorder; store: MemoryStore } {
  const rec = new Recorder();
  const store = new MemoryStore();
  const agent = new Agent({
    store,
    planner: new FunctionPlanner(() => PlanDraftSchema.parse({ todos })),
    executors: { work: scriptedExecutor(rec) },
    hitl: { planReview: 'always' },
    ...extra,
  });
  return { agent, rec, store };
}

/** Listens on 127.0.0.1 with a free port. */
export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server, ending keep-alive connections. */
export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A JSON request over loopback. */
export async function request(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: IncomingHttpHeaders }> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      `http://${base}${path}`,
      {
        method,
        headers: {
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * Reads an SSE stream until `until(events)` holds, then disconnects.
 *
 * @returns the events (parsed `data:`) and the `id:` lines seen
 */
export async function readSse(
  base: string,
  path: string,
  until: (events: AgentEvent[]) => boolean,
  headers: Record<string, string> = {},
): Promise<{ status: number; events: AgentEvent[]; ids: number[] }> {
  return new Promise((resolve, reject) => {
    const events: AgentEvent[] = [];
    const ids: number[] = [];
    const req = http.get(
      `http://${base}${path}`,
      { headers: { accept: 'text/event-stream', ...headers } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve({ status: res.statusCode ?? 0, events, ids });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let data: string | undefined;
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) ids.push(Number(line.slice(4)));
              if (line.startsWith('data: ')) data = line.slice(6);
            }
            if (data !== undefined && !block.includes('event: error'))
              events.push(JSON.parse(data) as AgentEvent);
            if (until(events)) {
              req.destroy();
              resolve({ status: 200, events, ids });
              return;
            }
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
  });
}
