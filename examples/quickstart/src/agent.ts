/**
 * The quick-start agent: the offline defaults of all four layers over the demo's business tools.
 * Shared by the terminal demo (`npm run demo`) and the example server.
 */
import { fileURLToPath } from 'node:url';
import {
  Agent,
  MemoryVectorStore,
  RecipePlanner,
  SummaryResponder,
  ToolRegistry,
  type AgentOptions,
  type Clock,
} from 'dream-agent';
import { ContextMemory, HashingEmbedder, OfflineCognitive } from 'dream-agent/offline';

/** Files of the demo, resolved from this module. */
export const demoPaths = {
  intents: fileURLToPath(new URL('../intents.yaml', import.meta.url)),
  recipes: fileURLToPath(new URL('../recipes.yaml', import.meta.url)),
  tools: fileURLToPath(new URL('../tools', import.meta.url)),
  output: fileURLToPath(new URL('../output', import.meta.url)),
};

/** What {@link createDemoAgent} returns. */
export interface DemoAgent {
  agent: Agent;
  registry: ToolRegistry;
  planner: RecipePlanner;
  cognitive: OfflineCognitive;
  memory: ContextMemory;
}

/**
 * Builds the demo agent: intents → OfflineCognitive, recipes → RecipePlanner, tools/*.yaml → ToolRegistry
 * (the default tool executor runs them), SummaryResponder, and a ContextMemory for past turns.
 *
 * @param options - extra Agent options (store, bus, hitl…); `clock` also drives relative dates
 * @returns the agent and its parts
 */
export async function createDemoAgent(
  options: Partial<AgentOptions> & { clock?: Clock } = {},
): Promise<DemoAgent> {
  process.env['DREAM_AGENT_OUTPUT'] ??= demoPaths.output;
  const registry = new ToolRegistry();
  const found = await registry.discover(demoPaths.tools);
  if (found.errors.length > 0) throw new Error(`demo tools are invalid: ${JSON.stringify(found.errors)}`);
  const memory = new ContextMemory({ embedder: new HashingEmbedder(), store: new MemoryVectorStore() });
  const cognitive = new OfflineCognitive(demoPaths.intents, {
    ...(options.clock ? { clock: options.clock } : {}),
    memory,
  });
  const planner = await RecipePlanner.fromFile(demoPaths.recipes);
  // With a language model, the LLM-backed layers plan and answer over the same tools; otherwise the
  // offline ones do.
  const layers = options.llm ? {} : { cognitive, planner, responder: new SummaryResponder() };
  const agent = new Agent({
    tools: registry,
    ...layers,
    resources: planner.resources,
    memory,
    // A plan with steps is always shown for review; an empty one (a greeting, help, or a request the
    // agent declines with a reason) has nothing to review and is answered at once.
    hitl: { planReview: (plan) => plan.todos.length > 0 },
    ...options,
  });
  return { agent, registry, planner, cognitive, memory };
}
