/**
 * The LLM defaults of an Agent: which model backs which layer, built in one function the agent's wiring
 * calls, so the wiring stays a few lines and the rules live with the LLM layers.
 *
 * @packageDocumentation
 */
import type { Cognitive, Executor, Planner, Responder } from '../layers.js';
import type { LanguageModel } from '../ports/llm.js';
import { LlmCognitive } from './cognitive.js';
import { LlmExecutor } from './executor.js';
import { LlmPlanner } from './planner.js';
import { isResilient, withResilience, type ResilienceOptions } from './resilience.js';
import { LlmResponder } from './responder.js';
import { isObserved, observeLlmCalls, type ObserveLlmOptions } from './observe.js';

/** A model per layer; each falls back to the agent's `llm`. */
export interface LayerModels {
  /** Understands the request (intent, slots, clarification). */
  cognitive?: LanguageModel;
  /** Writes the plan (structured output: a model good at JSON). */
  planner?: LanguageModel;
  /** Writes the output of tool-free `insight` and `content` todos. */
  executor?: LanguageModel;
  /** Writes the answer. */
  responder?: LanguageModel;
}

/** Input of {@link llmLayerDefaults}. */
export interface LlmDefaultsInput {
  /** The agent's default model (`AgentOptions.llm`). */
  llm?: LanguageModel | undefined;
  /** Per-layer models (`AgentOptions.models`). */
  models?: LayerModels | undefined;
  /** The agent's tool executor: the LLM executor delegates todos that name a tool to it. */
  toolExecutor: Executor;
  /**
   * Limits and retry policy for models not already wrapped by `withResilience` (default: its defaults).
   * A model you wrapped yourself keeps its own settings, which is how limits are set per layer.
   */
  resilience?: ResilienceOptions;
  /**
   * Call attribution, prices and the per-tenant token budget: every model is wrapped with
   * {@link observeLlmCalls} (inside `withResilience`, so each attempt is one call).
   */
  observe?: ObserveLlmOptions;
}

/** What {@link llmLayerDefaults} returns: only the layers that have a model. */
export interface LlmDefaults {
  cognitive?: Cognitive;
  planner?: Planner;
  responder?: Responder;
  /** Executors for the `insight` and `content` domains. */
  executors: Record<string, Executor>;
}

/**
 * Builds the LLM-backed default layers: each layer uses `models[layer] ?? llm`; a layer with neither is
 * left out (the agent uses its offline default). Every model is wrapped with {@link withResilience}
 * (idle timeout, deadline, the agent's retry policy) unless it already is, so one 429 never fails a turn
 * and a stalled stream always ends. The LLM executor serves `insight` and `content` and hands todos that
 * name a tool to `toolExecutor`.
 *
 * @param input - the default model, per-layer models, the tool executor
 * @returns the layers to use where the user set none
 * @example
 * ```ts
 * const defaults = llmLayerDefaults({ llm, models: { planner: strongModel }, toolExecutor });
 * ```
 */
export function llmLayerDefaults(input: LlmDefaultsInput): LlmDefaults {
  const seen = new Map<LanguageModel, LanguageModel>();
  const pick = (layer: keyof LayerModels): LanguageModel | undefined => {
    const model = input.models?.[layer] ?? input.llm;
    if (model === undefined) return undefined;
    let wrapped = seen.get(model);
    if (wrapped === undefined) {
      // Observed inside the resilience wrapper (each attempt is one reported, budgeted call); a model
      // the user made resilient already is observed from outside.
      const observed = isObserved(model) ? model : observeLlmCalls(model, input.observe);
      wrapped = isResilient(model) ? observed : withResilience(observed, input.resilience);
      seen.set(model, wrapped);
    }
    return wrapped;
  };
  const out: LlmDefaults = { executors: {} };
  const cognitive = pick('cognitive');
  if (cognitive) out.cognitive = new LlmCognitive({ model: cognitive });
  const planner = pick('planner');
  if (planner) out.planner = new LlmPlanner({ model: planner });
  const responder = pick('responder');
  if (responder) out.responder = new LlmResponder({ model: responder });
  const executor = pick('executor');
  if (executor) {
    const writer = new LlmExecutor({ model: executor, toolExecutor: input.toolExecutor });
    out.executors['insight'] = writer;
    out.executors['content'] = writer;
  }
  return out;
}
