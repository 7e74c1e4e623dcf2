/**
 * The server's layer and port wiring — the one file to edit to swap in other layers (the offline
 * cognitive defaults, the recipe planner, LLM layers) or other stores.
 *
 * Ports: SQLite (embedded, durable) by default; PostgreSQL when DATABASE_URL is set; Redis as the event
 * bus when REDIS_URL is set (needed with several nodes); memory for tests. Adapters are loaded by name
 * at run time so the example starts even when an optional adapter is not installed.
 */
import {
  Agent,
  MemoryStore,
  auditedStore,
  type AuditedStore,
  type MetricsSink,
  type AgentOptions,
  type EventBus,
  type Logger,
  type Store,
  type ToolHandle,
} from 'dream-agent';
import type { OpenAIModel as OpenAIModelClass } from '@dream-agent/openai';
import type { ServerConfig } from './config.js';
import { ScenarioCognitive, ScenarioPlanner, scenarioExecutor } from './scenario.js';

/** The agent and what it was built on. */
export interface AgentWiring {
  agent: Agent;
  /** Which store backs it (`memory`, `sqlite:<path>`, `postgres`). */
  storeName: string;
  /** Closes the store and bus connections after the agent is closed. */
  closePorts(): Promise<void>;
  /** The tools the agent plans with (the console's tool picker); absent for the scripted scenario. */
  tools?: { list(): ToolHandle[] };
  /** Where tools write files (`<dir>/<sessionId>/<turnId>/<file>`), served to the console. */
  outputDir?: string;
  /** The store's tamper-evident audit trail (`verifyAudit`, `exportAudit`), served to admins. */
  audit?: AuditedStore;
}

type Ctor<T> = new (arg: string) => T;

async function loadExport<T>(moduleName: string, exportName: string): Promise<Ctor<T>> {
  // A variable specifier keeps the optional adapters out of the type graph: the example must start
  // (with a clear message) when one of them is not installed.
  const mod = (await import(moduleName)) as Record<string, unknown>;
  const ctor = mod[exportName];
  if (typeof ctor !== 'function') throw new Error(`${moduleName} has no export "${exportName}"`);
  return ctor as Ctor<T>;
}

async function createStore(config: ServerConfig, logger: Logger): Promise<{ store: Store; name: string }> {
  if (config.store === 'memory') return { store: new MemoryStore(), name: 'memory' };
  if (config.store === 'postgres') {
    if (!config.databaseUrl) throw new Error('STORE=postgres needs DATABASE_URL');
    const mod = (await import('@dream-agent/postgres' as string)) as Record<string, unknown>;
    const migrate = mod['migrate'];
    if (typeof migrate === 'function')
      await (migrate as (c: { connectionString: string }) => Promise<unknown>)({
        connectionString: config.databaseUrl,
      });
    const Pg = await loadExport<Store>('@dream-agent/postgres', 'PostgresStore');
    return { store: new Pg(config.databaseUrl), name: 'postgres' };
  }
  try {
    const { mkdirSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    mkdirSync(dirname(config.sqlitePath), { recursive: true });
    const Sqlite = await loadExport<Store>('@dream-agent/sqlite', 'SqliteStore');
    return { store: new Sqlite(config.sqlitePath), name: `sqlite:${config.sqlitePath}` };
  } catch (e) {
    logger.error(
      { err: e instanceof Error ? e.message : String(e) },
      'SQLite store unavailable — falling back to MemoryStore: SESSIONS WILL NOT SURVIVE A RESTART',
    );
    return { store: new MemoryStore(), name: 'memory' };
  }
}

async function createBus(config: ServerConfig): Promise<EventBus | undefined> {
  if (!config.redisUrl) return undefined;
  const Bus = await loadExport<EventBus>('@dream-agent/redis', 'RedisEventBus');
  return new Bus(config.redisUrl);
}

/**
 * Builds the agent the server exposes.
 *
 * The store is wrapped in the core's `auditedStore` (every event and acknowledged command hash-chained
 * per session, atomically with the commit), and the agent's observability feeds `metrics` — the sink
 * the server renders on `/metrics`.
 *
 * @param config - server configuration
 * @param logger - structured logger
 * @param metrics - where the agent's metrics go (per-layer time, todo outcomes, HITL waits, tokens…)
 * @returns the agent and a function closing its ports
 */
export async function createAgent(
  config: ServerConfig,
  logger: Logger,
  metrics?: MetricsSink,
): Promise<AgentWiring> {
  const { store: base, name } = await createStore(config, logger);
  const store = auditedStore(base);
  const bus = await createBus(config);
  const common = {
    store,
    ...(bus ? { bus } : {}),
    logger,
    ...(config.nodeId ? { nodeId: config.nodeId } : {}),
    ...(metrics || config.llmPrices
      ? {
          observability: {
            ...(metrics ? { metrics } : {}),
            ...(config.llmPrices ? { prices: config.llmPrices } : {}),
          },
        }
      : {}),
  };
  let agent: Agent;
  let tools: AgentWiring['tools'];
  if (config.layers === 'scripted') {
    const executor = scenarioExecutor(config.stepDelayMs);
    const options: AgentOptions = {
      ...common,
      cognitive: new ScenarioCognitive(),
      planner: new ScenarioPlanner(),
      executors: { data: executor, insight: executor, content: executor, ops: executor, '*': executor },
      hitl: { planReview: 'always' },
    };
    agent = new Agent(options);
  } else {
    // The quick-start's business agent: offline layers over the demo tools, or an OpenAI-compatible
    // model (OpenAI, Ollama, vLLM, llama.cpp server) planning over the same tools.
    const { createDemoAgent } = await import('../../quickstart/src/agent.js');
    let llm: AgentOptions['llm'];
    if (config.layers === 'llm') {
      const { OpenAIModel } = (await import('@dream-agent/openai' as string)) as {
        OpenAIModel: typeof OpenAIModelClass;
      };
      llm = new OpenAIModel({
        model: config.llmModel,
        ...(config.llmBaseUrl ? { baseURL: config.llmBaseUrl } : {}),
        apiKey: config.llmApiKey ?? 'not-needed-for-local-servers',
      });
      logger.info(
        { model: config.llmModel, baseURL: config.llmBaseUrl ?? 'https://api.openai.com/v1' },
        'LLM layers enabled',
      );
    }
    const demo = await createDemoAgent({ ...common, ...(llm ? { llm } : {}) });
    agent = demo.agent;
    tools = demo.registry;
  }
  const outputDir = process.env['DREAM_AGENT_OUTPUT'];
  return {
    agent,
    storeName: name,
    ...(tools ? { tools } : {}),
    ...(outputDir ? { outputDir } : {}),
    audit: store,
    async closePorts() {
      await bus?.close?.();
      await store.close?.();
    },
  };
}
