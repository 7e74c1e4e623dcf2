import type { Executor, ExecutionContext } from 'dream-agent';
import type { Json, JsonObject, Todo, TodoInput } from 'dream-agent';

/** Counts executions per todo id and records the idempotency keys seen. */
export class Recorder {
  readonly runs = new Map<string, number>();
  readonly keys = new Map<string, Set<string>>();
  record(todo: Todo, ctx: ExecutionContext): void {
    this.runs.set(todo.id, (this.runs.get(todo.id) ?? 0) + 1);
    const set = this.keys.get(todo.id) ?? new Set();
    set.add(ctx.idempotencyKey);
    this.keys.set(todo.id, set);
  }
  count(id: string): number {
    return this.runs.get(id) ?? 0;
  }
}

/**
 * An executor whose behaviour is chosen by `todo.input.mode`:
 * - `echo` (default): returns `{ id, input }`
 * - `ask`: asks for input (`key`, `schema`) and returns it
 * - `hang`: never returns (until aborted)
 * - `fail`: throws
 * - `slow`: waits `ms` real milliseconds, honouring the abort signal
 */
export function scriptedExecutor(rec: Recorder, hooks: { onStart?: (todo: Todo) => void } = {}): Executor {
  return {
    async execute(todo, input, ctx) {
      rec.record(todo, ctx);
      hooks.onStart?.(todo);
      const mode = (input['mode'] as string | undefined) ?? 'echo';
      ctx.progress(`running ${todo.id}`, 50);
      if (mode === 'ask') {
        const value = await ctx.requestInput({
          prompt: String(input['prompt'] ?? 'value?'),
          ...(input['schema'] ? { schema: input['schema'] as JsonObject } : {}),
          ...(input['key'] ? { key: String(input['key']) } : {}),
        });
        return { output: { id: todo.id, value } };
      }
      if (mode === 'hang') {
        await new Promise<never>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)),
        );
      }
      if (mode === 'fail') throw new Error(`boom in ${todo.id}`);
      if (mode === 'slow') {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, Number(input['ms'] ?? 20));
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(ctx.signal.reason as Error);
          });
        });
      }
      ctx.delta(`${todo.id} done`);
      return { output: { id: todo.id, input: input as Json } };
    },
  };
}

/** Shorthand for a todo. */
export const todo = (id: string, dependsOn: string[] = [], extra: Partial<TodoInput> = {}): TodoInput => ({
  id,
  title: `Step ${id}`,
  domain: 'work',
  dependsOn,
  input: {},
  ...extra,
});
