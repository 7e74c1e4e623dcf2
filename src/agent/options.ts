import type { AgentObserverOptions } from '../observability/observer.js';
import type { MetricsSink } from '../observability/metrics.js';
import type { Cognitive, Executor, Planner, Responder } from '../layers.js';
import type { LanguageModel } from '../ports/llm.js';
import type { LayerModels } from '../llm/defaults.js';
import type { TokenBudgetOptions } from '../llm/token-budget.js';
import type { Intent } from '../model/intent.js';
import type { JsonObject } from '../model/json.js';
import type { AgentMemory } from '../memory/session.js';
import type { Plan, Todo } from '../model/plan.js';
import type { EventBus } from '../ports/bus.js';
import type { Cache } from '../ports/cache.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';
import type { Codec } from '../security/codec.js';
import type { ToolCatalog, ToolHandle } from '../tools/types.js';

/** What an {@link ApprovalPolicy} decides for one todo. */
export type ApprovalDecision =
  /** Ask a human. */
  | 'require'
  /** Run without asking (recorded as approved by `policy`). */
  | 'approve'
  /** Skip the todo and its dependents, with a reason. */
  | {
      /** Why the policy denied it: the reason of the `approval.resolved` event and of the skipped todo. */
      deny: string;
    }
  /** Fall back to the todo's and the tool's flags. */
  | undefined;

/** What an approval policy sees. */
export interface ApprovalContext {
  /** The session the todo runs in. */
  sessionId: string;
  /** The turn whose plan holds the todo. */
  turnId: string;
  /** The plan version about to run (after any human edits). */
  plan: Plan;
  /** The todo's tool, when it has one. */
  tool?: ToolHandle;
  /** Whether the todo's or the tool's flag asks for approval. */
  flagged: boolean;
  /** The session's metadata, as given when it was started (`{}` when none): tenant, user, channel… */
  metadata: JsonObject;
}

/**
 * Decides approval gates in code: require a human, auto-approve or auto-deny with a reason. A tool
 * marked `approval: true` can be auto-approved only by this policy — never by a planner or an LLM.
 */
export type ApprovalPolicy = (
  todo: Todo,
  ctx: ApprovalContext,
) => ApprovalDecision | Promise<ApprovalDecision>;

/** Human-in-the-loop settings. */
export interface HitlOptions {
  /** When to ask a human to review the plan before execution (default `never`). */
  planReview?: 'always' | 'never' | ((plan: Plan, intent: Intent | undefined) => boolean);
  /** Approval policy, consulted for every todo before it starts. */
  approvals?: ApprovalPolicy;
  /** How many clarification rounds before the turn fails (default 3). */
  maxClarifications?: number;
  /**
   * Lifetime of approval requests in ms (default none: they never expire). Sets the request's `expiresAt`
   * on the agent's Clock; an `approval.grant` sent or applied at or after it is refused `INVALID_STATE`
   * (`details.reason: 'expired'`) and nothing runs — the request stays pending until it is denied.
   */
  approvalTtlMs?: number;
  /**
   * Input a todo requests after its approval was granted changes what runs, so by default the approval
   * is asked again with the new effect. `true` lets the grant stand (the approver accepted any value).
   */
  keepApprovalAfterInput?: boolean;
}

/** Size limits for untrusted payloads (bytes of JSON). */
export interface LimitOptions {
  /** User input text (default 64 KiB). */
  maxInputBytes?: number;
  /** One command (default 256 KiB). */
  maxCommandBytes?: number;
  /** One todo output (default 4 MiB). */
  maxOutputBytes?: number;
  /**
   * Todos in one plan (default 1,000). A planner's plan past it fails the turn `INVALID_PLAN`; a
   * `plan.edit` whose result would pass it is refused `INVALID_EDIT` with `details.limit` (nothing changes).
   */
  maxPlanTodos?: number;
  /** Bytes of JSON of one todo's `input` (default 256 KiB); enforced like `maxPlanTodos`. */
  maxTodoInputBytes?: number;
  /** Bytes of JSON of one plan's todos together (default 4 MiB); enforced like `maxPlanTodos`. */
  maxPlanBytes?: number;
}

/**
 * Long-term memory of turns (e.g. `ContextMemory` over a VectorStore). After every completed turn the
 * agent remembers its input and answer under the turn id and each completed todo's result under
 * `<turn id>/<todo id>`, tagged with `sessionId` and `tenantId` (re-remembering replaces, so replays are
 * safe). With `context`, every layer gets `ctx.memory` and the LLM layers put the session's relevant
 * memories into their prompts (budgeted); with `forgetSession`, `deleteSession` erases the vectors too.
 */
export type TurnMemory = AgentMemory;

/** Options of the {@link Agent}. Every layer and port is replaceable; all have defaults. */
export interface AgentOptions {
  /** The tools todos may use (a registry or anything with `get`/`list`). */
  tools?: ToolCatalog;
  /** Durable state (default: a {@link MemoryStore} — not durable across restarts; a warning is logged). */
  store?: Store;
  /** Execution cache (default: memory). */
  cache?: Cache;
  /**
   * Seals what the agent writes outside its store: with a codec, the execution cache is wrapped with
   * `encryptedCache`, so cached tool outputs reach the cache (e.g. Redis) only as ciphertext bound to
   * their key. Pass the codec the store is encrypted with (`encryptedStore`); the store itself is not
   * wrapped by this option.
   */
  codec?: Codec;
  /** Wakes owners and carries events across nodes (default: in-process). */
  bus?: EventBus;
  /**
   * A language model for the layers you do not set yourself: with `llm`, the defaults become
   * `LlmCognitive`, `LlmPlanner`, `LlmResponder`, and an `LlmExecutor` for `insight` and `content` todos
   * without a tool. Without it, the defaults are offline and deterministic.
   */
  llm?: LanguageModel;
  /**
   * A model per layer (each falls back to `llm`), e.g. a strong model for the planner and a fast one for
   * the rest. Models not wrapped in `withResilience` get its defaults (timeouts, retries).
   */
  models?: LayerModels;
  /**
   * Layer 1: turns input into an intent with slots. Default: `LlmCognitive` over `models.cognitive ?? llm`
   * when one is set, else `PassthroughCognitive` (every input is the intent `default`).
   */
  cognitive?: Cognitive;
  /**
   * Layer 2: turns the intent into a plan. Default: `LlmPlanner` over `models.planner ?? llm` when one is
   * set, else a planner that returns an empty plan (the turn goes straight to the response).
   */
  planner?: Planner;
  /** Executors by domain; `*` is the fallback for every other domain. */
  executors?: Record<string, Executor>;
  /**
   * Layer 4: writes the answer from what ran. Default: `LlmResponder` over `models.responder ?? llm` when
   * one is set, else `TemplateResponder` (plain text: what was done, what failed or was skipped and why).
   */
  responder?: Responder;
  /** Human-in-the-loop settings: plan review, approval policy, clarification rounds, approval expiry. */
  hitl?: HitlOptions;
  /** How many ready todos may run at once (default 1: one todo per cycle). */
  concurrency?: number;
  /** Per resource class limits (`todo.resource ?? todo.domain`), e.g. `{ ops: 1 }`. */
  resources?: Record<string, number>;
  /** `continue` (default): a failed todo skips its dependents, independent todos go on. `fail-turn`: the turn fails. */
  failurePolicy?: 'continue' | 'fail-turn';
  /** Default per-todo timeout in ms (a tool's or todo's own timeout wins). */
  todoTimeoutMs?: number;
  /** Lease duration in ms (default 30 000); renewed every third of it while a session is driven. */
  leaseTtlMs?: number;
  /** Identifies this node in leases (default: host-pid-random). */
  nodeId?: string;
  /**
   * Time source for events, leases, timeouts and approval expiry (default the system clock; tests pass a
   * manual one).
   */
  clock?: Clock;
  /** Where the agent logs (structured fields first; pino-compatible). Default: silent. */
  logger?: Logger;
  /**
   * Size limits for untrusted payloads: input 64 KiB, one command 256 KiB, one todo output 4 MiB by default.
   */
  limits?: LimitOptions;
  /** Where completed turns are remembered for context retrieval (optional). */
  memory?: TurnMemory;
  /** How many recent turns the dialogue keeps (default 10). */
  dialogueTurns?: number;
  /**
   * Metrics and spans derived from what each cycle commits (off by default; nothing is sent anywhere
   * unless a sink or OpenTelemetry provider you wire sends it). `metrics: true` keeps an in-memory
   * registry that {@link Agent.metrics} snapshots; a {@link MetricsSink} receives every series too.
   */
  observability?: Omit<AgentObserverOptions, 'metrics'> & {
    /**
     * `true` or unset: keep the in-memory registry; a {@link MetricsSink}: keep it and send every series
     * to the sink too; `false`: no metrics (spans only, when `otel` is set).
     */
    metrics?: boolean | MetricsSink;
  };
  /**
   * LLM tokens per period per tenant: a call is refused with `RATE_LIMITED` (`details.reason:
   * 'token_budget'`) before it is made once the tenant's tokens for the period are spent. Counted in
   * the cache when it can count (`RedisCache`: shared by every node), else in this process.
   */
  tokenBudget?: TokenBudgetOptions;
}
