/**
 * Fixtures of this package's tests, built on the public API only: the journey agent every transport test
 * drives (review → fetch → ask for input → send behind an approval) and loopback server helpers.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Agent,
  FunctionPlanner,
  MemoryStore,
  PlanDraftSchema,
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
