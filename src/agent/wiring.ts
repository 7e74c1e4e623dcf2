import { DreamAgentError } from '../errors/index.js';
import { assertLimit } from '../dag/scheduler.js';
import { Supervisor } from '../execution/supervisor.js';
import type { Executor } from '../layers.js';
import { llmLayerDefaults } from '../llm/defaults.js';
import { TokenBudget } from '../llm/token-budget.js';
import type { Cache } from '../ports/cache.js';
import { InMemoryMetrics, teeMetrics } from '../observability/metrics.js';
import { AgentObserver, observedStore } from '../observability/observer.js';
import type { EventBus } from '../ports/bus.js';
import { systemClock, type Clock } from '../ports/clock.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import { MemoryEventBus } from '../ports/memory/bus.js';
import { MemoryCache } from '../ports/memory/cache.js';
import { MemoryStore } from '../ports/memory/store.js';
import { TrackedMemory } from '../memory/session.js';
import type { Store } from '../ports/store.js';
import { encryptedCache } from '../security/encrypted-cache.js';
import { ToolExecutor } from '../tools/executor.js';
import type { ToolCatalog } from '../tools/types.js';
import { FunctionPlanner, PassthroughCognitive, TemplateResponder } from './defaults.js';
import type { DriverDeps } from './driver.js';
import { guardBus } from './bus-guard.js';
import { defaultNodeId } from './ids.js';
import type { AgentOptions } from './options.js';

type Increment = NonNullable<Cache['increment']>;
type DeleteCounter = NonNullable<Cache['deleteCounter']>;

const emptyCatalog: ToolCatalog = { get: () => undefined, list: () => [] };

/** The validated dependencies an Agent is built from. @internal */
export interface Wiring {
  nodeId: string;
  store: Store;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  leaseTtlMs: number;
  maxInputBytes: number;
  maxCommandBytes: number;
  observer: AgentObserver | undefined;
  metrics: InMemoryMetrics | undefined;
  /** The per-tenant token budget, when configured. */
  budget: TokenBudget | undefined;
  /** What every session driver gets (without its per-session event sink). */
  deps: Omit<DriverDeps, 'onEvent'>;
}

/**
 * Turns Agent options into validated dependencies: checks the numbers, picks the defaults (memory
 * store, bus and cache; LLM-backed layers when a model is given, offline ones otherwise), wraps the
 * store for observability, and builds the executor supervisor.
 *
 * @param options - the Agent's options
 * @returns the dependencies
 * @throws `INVALID_INPUT` for invalid options (e.g. concurrency below 1, a lease TTL below 10 ms)
 * @internal
 */
export function wireAgent(options: AgentOptions): Wiring {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `concurrency must be an integer ≥ 1, got ${String(options.concurrency)}`,
    );
  }
  const leaseTtlMs = options.leaseTtlMs ?? 30_000;
  if (!(leaseTtlMs >= 10))
    throw new DreamAgentError('INVALID_INPUT', `leaseTtlMs must be ≥ 10, got ${String(options.leaseTtlMs)}`);
  const nodeId = options.nodeId ?? defaultNodeId();
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  if (!options.store) {
    logger.warn(
      {},
      'dream-agent: no store configured; using MemoryStore — sessions do not survive a restart',
    );
  }
  const baseStore = options.store ?? new MemoryStore({ clock });
  let store: Store = baseStore;
  let observer: AgentObserver | undefined;
  let metricsSink: InMemoryMetrics | undefined;
  const obs = options.observability;
  if (obs) {
    // Measured from what each commit writes: no call is added to the engine's hot path.
    const { metrics, ...rest } = obs;
    if (metrics !== false) metricsSink = new InMemoryMetrics();
    const sink =
      metricsSink && metrics !== undefined && typeof metrics === 'object'
        ? teeMetrics(metricsSink, metrics)
        : metricsSink;
    observer = new AgentObserver({ ...rest, ...(sink ? { metrics: sink } : {}) });
    store = observedStore(baseStore, observer);
  }
  // An application's bus may fail; its failures must never change what the store records.
  const bus = options.bus ? guardBus(options.bus, logger, clock) : new MemoryEventBus();
  const maxInputBytes = options.limits?.maxInputBytes ?? 64 * 1024;
  const maxCommandBytes = options.limits?.maxCommandBytes ?? 256 * 1024;
  const tools = options.tools ?? emptyCatalog;
  const plainCache = options.cache ?? new MemoryCache({ clock });
  // With a codec, cached tool outputs are sealed like the store's payloads (counters pass through).
  const cache = options.codec ? encryptedCache(plainCache, { codec: options.codec }) : plainCache;
  // The tool executor serves the seed domains and every domain a registered tool declares.
  const defaultExecutor: Executor = new ToolExecutor({
    tools,
    cache,
    clock,
    ...(options.todoTimeoutMs ? { defaultTimeoutMs: options.todoTimeoutMs } : {}),
  });
  // LLM-backed defaults (per-layer models, resilience, tool delegation) are built in src/llm/defaults.ts.
  // Every LLM call is attributed, priced and (with a token budget) checked per tenant before it is made.
  const shared: Cache = cache;
  const budget = options.tokenBudget
    ? new TokenBudget(
        {
          ...options.tokenBudget,
          ...(options.tokenBudget.counters || !shared.increment
            ? {}
            : {
                counters: {
                  increment: (k: string, by: number, ttl: number) =>
                    (shared.increment as Increment).call(shared, k, by, ttl),
                  ...(shared.deleteCounter
                    ? { delete: (k: string) => (shared.deleteCounter as DeleteCounter).call(shared, k) }
                    : {}),
                },
              }),
        },
        () => clock.now(),
      )
    : undefined;
  const llmDefaults = llmLayerDefaults({
    llm: options.llm,
    models: options.models,
    toolExecutor: defaultExecutor,
    observe: {
      now: () => clock.now(),
      ...(obs?.prices ? { prices: obs.prices } : {}),
      ...(budget ? { budget } : {}),
    },
  });
  const executors: Record<string, Executor> = { ...llmDefaults.executors, ...options.executors };
  const supervisor = new Supervisor(executors, defaultExecutor, () => tools.list().map((t) => t.domain));
  return {
    nodeId,
    store,
    bus,
    clock,
    logger,
    leaseTtlMs,
    maxInputBytes,
    maxCommandBytes,
    observer,
    metrics: metricsSink,
    budget,
    deps: {
      store,
      bus,
      clock,
      logger,
      cache,
      tools,
      cognitive: options.cognitive ?? llmDefaults.cognitive ?? new PassthroughCognitive(),
      planner: options.planner ?? llmDefaults.planner ?? new FunctionPlanner(() => ({ todos: [] })),
      responder: options.responder ?? llmDefaults.responder ?? new TemplateResponder(),
      executorFor: (domain) => supervisor.executorFor(domain),
      domains: () => supervisor.domains(),
      requiresTool: (domain) => supervisor.requiresTool(domain),
      toolFreeDomains: () => supervisor.toolFreeDomains(),
      hitl: options.hitl ?? {},
      approvals: options.hitl?.approvals,
      concurrency,
      resources: checkedResources(options.resources),
      failurePolicy: options.failurePolicy ?? 'continue',
      todoTimeoutMs: options.todoTimeoutMs,
      leaseTtlMs,
      maxCommandBytes,
      maxOutputBytes: options.limits?.maxOutputBytes ?? 4 * 1024 * 1024,
      planLimits: {
        maxPlanTodos: options.limits?.maxPlanTodos ?? 1000,
        maxTodoInputBytes: options.limits?.maxTodoInputBytes ?? 256 * 1024,
        maxPlanBytes: options.limits?.maxPlanBytes ?? 4 * 1024 * 1024,
      },
      dialogueTurns: options.dialogueTurns ?? 10,
      // Memory writes are tracked so deleteSession can wait for them before erasing the session's vectors.
      memory: options.memory && new TrackedMemory(options.memory),
      observer,
    },
  };
}

/**
 * Resource limits are checked once, here (the runner's hot loop no longer re-checks them every cycle):
 * each a positive integer or Infinity.
 *
 * @throws `INVALID_INPUT` naming the bad limit
 */
function checkedResources(resources: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, limit] of Object.entries(resources ?? {})) {
    assertLimit(`resources.${name}`, limit);
    out[name] = limit;
  }
  return out;
}
