/**
 * Your own layers: a Planner that turns "compare A and B" into a DAG (two fetches in parallel, then a
 * comparison that depends on both), an Executor for the `prices` domain, and a Responder. Runs offline.
 *
 *   npm start -w @dream-agent/example-custom-layer -- "compare apples and pears"
 */
import {
  Agent,
  type ExecutionContext,
  type ExecutionResult,
  type Executor,
  type Intent,
  type JsonObject,
  type PlanDraftInput,
  type Planner,
  type PlanningContext,
  type Responder,
  type Todo,
  type TurnSummary,
} from 'dream-agent';

const PRICES: Record<string, number> = { apples: 3.2, pears: 2.7, plums: 4.1 };

/** Plans a comparison of every product named in the request. */
export class ComparePlanner implements Planner {
  async plan(_intent: Intent, ctx: PlanningContext): Promise<PlanDraftInput> {
    await Promise.resolve();
    const products = Object.keys(PRICES).filter((p) => ctx.input.toLowerCase().includes(p));
    const fetches = products.map((p) => ({
      id: `price-${p}`,
      title: `Look up the price of ${p}`,
      domain: 'prices',
      input: { product: p },
      dependsOn: [],
    }));
    return {
      todos: [
        ...fetches,
        {
          id: 'compare',
          title: 'Compare the prices',
          domain: 'prices',
          // Dependency references: each fetch's `price` output, resolved when this todo runs.
          input: Object.fromEntries(products.map((p) => [p, { $ref: `price-${p}`, path: 'price' }])),
          dependsOn: fetches.map((f) => f.id),
        },
      ],
    };
  }
}

/** Runs the `prices` todos: a lookup, or the comparison of looked-up prices. */
export const pricesExecutor: Executor = {
  async execute(todo: Todo, input: JsonObject, ctx: ExecutionContext): Promise<ExecutionResult> {
    await Promise.resolve();
    if (todo.id === 'compare') {
      const entries = Object.entries(input).map(([k, v]) => [k, Number(v)] as const);
      entries.sort((a, b) => a[1] - b[1]);
      ctx.progress('compared', 100);
      return { output: { cheapest: entries[0]?.[0] ?? null, ranking: entries.map(([k]) => k) } };
    }
    const product = String(input['product']);
    ctx.progress(`looked up ${product}`, 100);
    return { output: { product, price: PRICES[product] ?? 0 } };
  },
};

/** Answers with the comparison. */
export const compareResponder: Responder = {
  async respond(turn: TurnSummary): Promise<string> {
    await Promise.resolve();
    const compare = turn.todos.find((t) => t.todoId === 'compare');
    const output = (compare?.output ?? {}) as { cheapest?: string; ranking?: string[] };
    return `Cheapest: ${output.cheapest ?? 'nothing to compare'} (ranking: ${(output.ranking ?? []).join(' < ')})`;
  },
};

const agent = new Agent({
  planner: new ComparePlanner(),
  executors: { prices: pricesExecutor },
  responder: compareResponder,
  concurrency: 2, // the two lookups run side by side
});

const input = process.argv.slice(2).join(' ') || 'compare apples and pears';
const run = agent.run(input);
run.on('plan.created', (e) => console.log(`plan: ${e.plan.todos.map((t) => t.id).join(', ')}`));
run.on('todo.completed', (e) => console.log(`done: ${e.todoId}`));
const result = await run.result();
console.log(`status: ${result.status}`);
console.log(`answer: ${result.answer ?? ''}`);
await agent.close();
