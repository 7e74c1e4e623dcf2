/**
 * Per-tenant LLM token budgets: "at most N tokens per period" for each tenant, checked before every LLM
 * call and charged with the call's actual usage once it settled. The counts live in a
 * {@link CounterStore} — in process by default, or the agent's Cache when it can count atomically
 * (`RedisCache` does), so every node of a deployment shares one budget per tenant.
 *
 * Periods are fixed windows aligned to the epoch (`floor(now / periodMs)`): when a period ends, its
 * count is left behind and the tenant starts again from zero.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';

/** Atomic counters with expiry: the part of a cache a token budget needs. */
export interface CounterStore {
  /**
   * Adds `by` to the counter at `key` (created at 0, expiring `ttlMs` after its creation) atomically.
   *
   * @param key - the counter
   * @param by - what to add (0 reads the counter)
   * @param ttlMs - lifetime of a new counter
   * @returns the counter's value after the addition
   */
  increment(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Optional: removes a counter ({@link TokenBudget.erase} needs it). Must fail loudly.
   *
   * @param key - the counter
   */
  delete?(key: string): Promise<void>;
}

/**
 * Counters in this process (bounded: expired counters are dropped as new ones are made). Budgets kept
 * here are per node; share a Redis cache for one budget across nodes.
 */
export class MemoryCounters implements CounterStore {
  readonly #counters = new Map<string, { value: number; expiresAt: number }>();
  readonly #now: () => number;

  /** @param now - clock (default `Date.now`) */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** @inheritDoc */
  increment(key: string, by: number, ttlMs: number): Promise<number> {
    const now = this.#now();
    let c = this.#counters.get(key);
    if (c && c.expiresAt <= now) {
      this.#counters.delete(key);
      c = undefined;
    }
    if (!c) {
      if (this.#counters.size >= 10_000) {
        for (const [k, v] of this.#counters) if (v.expiresAt <= now) this.#counters.delete(k);
      }
      c = { value: 0, expiresAt: now + ttlMs };
      this.#counters.set(key, c);
    }
    c.value += by;
    return Promise.resolve(c.value);
  }

  /** @inheritDoc */
  delete(key: string): Promise<void> {
    this.#counters.delete(key);
    return Promise.resolve();
  }
}

/** Options of {@link TokenBudget}. */
export interface TokenBudgetOptions {
  /**
   * Tokens (input + output) a tenant may use per period: one number for every tenant, or a function
   * of the tenant id (`undefined` for sessions without a tenant) returning its limit, or `undefined`
   * for no limit.
   */
  tokensPerPeriod: number | ((tenantId: string | undefined) => number | undefined);
  /** Length of a period in ms (e.g. `3_600_000` for hourly budgets). */
  periodMs: number;
  /** Where counts are kept (default: the agent's cache when it has `increment`, else in this process). */
  counters?: CounterStore;
  /** Key prefix of the counters (default `dream-agent:llm-tokens`). */
  keyPrefix?: string;
}

/** What a budget check found. */
export interface BudgetState {
  /** The tenant (undefined for sessions without one). */
  tenantId: string | undefined;
  /** The tenant's limit this period (undefined: unlimited). */
  limit: number | undefined;
  /** Tokens used so far this period. */
  used: number;
  /** When the current period ends (epoch ms). */
  resetsAt: number;
}

/**
 * Enforces {@link TokenBudgetOptions.tokensPerPeriod}. A call is refused before it is made once the
 * tenant's count reached its limit; a call that starts under the limit is charged in full when it
 * settles (it may end over the limit — the next call is then refused).
 *
 * @example
 * ```ts
 * const agent = new Agent({ llm, tokenBudget: { tokensPerPeriod: 200_000, periodMs: 3_600_000 } });
 * ```
 */
export class TokenBudget {
  readonly #limit: (tenantId: string | undefined) => number | undefined;
  readonly #periodMs: number;
  readonly #counters: CounterStore;
  readonly #prefix: string;
  readonly #now: () => number;

  /**
   * @param options - limits, period, counter store
   * @param now - clock (default `Date.now`)
   * @throws DreamAgentError `INVALID_INPUT` for a period below 1 ms or a negative / non-finite limit
   */
  constructor(options: TokenBudgetOptions, now: () => number = Date.now) {
    if (!Number.isFinite(options.periodMs) || options.periodMs < 1) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `tokenBudget.periodMs must be a number of ms ≥ 1, got ${String(options.periodMs)}`,
      );
    }
    const limit = options.tokensPerPeriod;
    if (typeof limit === 'number' && !(limit >= 0)) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `tokenBudget.tokensPerPeriod must be a number ≥ 0, got ${String(limit)}`,
      );
    }
    if (typeof limit !== 'number' && typeof limit !== 'function') {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'tokenBudget.tokensPerPeriod must be a number or a function',
      );
    }
    this.#limit = typeof limit === 'number' ? () => limit : limit;
    this.#periodMs = options.periodMs;
    this.#now = now;
    this.#counters = options.counters ?? new MemoryCounters(now);
    this.#prefix = options.keyPrefix ?? 'dream-agent:llm-tokens';
  }

  #key(tenantId: string | undefined, now: number): { key: string; resetsAt: number } {
    const period = Math.floor(now / this.#periodMs);
    // JSON-quoted tenant: a tenant id containing the separator cannot collide with another's key.
    return {
      key: `${this.#prefix}:${JSON.stringify(tenantId ?? null)}:${period}`,
      resetsAt: (period + 1) * this.#periodMs,
    };
  }

  /**
   * Reads a tenant's state this period.
   *
   * @param tenantId - the tenant (undefined for sessions without one)
   * @returns limit, use and reset time
   */
  async state(tenantId: string | undefined): Promise<BudgetState> {
    const limit = this.#limit(tenantId);
    const now = this.#now();
    const { key, resetsAt } = this.#key(tenantId, now);
    const used = limit === undefined ? 0 : await this.#counters.increment(key, 0, this.#periodMs * 2);
    return { tenantId, limit, used, resetsAt };
  }

  /**
   * Refuses a call when the tenant's budget for this period is spent.
   *
   * @param tenantId - the tenant (undefined for sessions without one)
   * @throws DreamAgentError `RATE_LIMITED` (not retryable; `details`: `reason: 'token_budget'`, `tenantId`,
   *   `limit`, `used`, `retryAfterMs`, `resetsAt`) when the budget is spent
   */
  async check(tenantId: string | undefined): Promise<void> {
    const s = await this.state(tenantId);
    if (s.limit === undefined || s.used < s.limit) return;
    const retryAfterMs = Math.max(0, s.resetsAt - this.#now());
    throw new DreamAgentError(
      'RATE_LIMITED',
      `the LLM token budget of tenant ${JSON.stringify(tenantId ?? null)} is spent for this period (${s.used} of ${s.limit} tokens); it resets in ${Math.ceil(retryAfterMs / 1000)} s`,
      {
        // Waiting inside the turn would hold it for up to a whole period: the caller decides.
        retryable: false,
        details: {
          reason: 'token_budget',
          tenantId: tenantId ?? null,
          limit: s.limit,
          used: s.used,
          retryAfterMs,
          resetsAt: s.resetsAt,
        },
      },
    );
  }

  /**
   * Erases a tenant's counters (the current period's, the previous one's — counters live two periods —
   * and the next one's, for nodes whose clocks run ahead). A tenant's count is an aggregate of the
   * tenant's LLM use, not data about a person or a session: `Agent.eraseTenant` erases it, deleting a
   * session or a user's sessions does not.
   *
   * @param tenantId - the tenant (undefined for sessions without one)
   * @returns how many counter keys were deleted (existing or not)
   * @throws DreamAgentError `INVALID_STATE` when the counter store cannot delete (nothing deleted);
   *   `UNAVAILABLE` from the counter store (retry)
   */
  async erase(tenantId: string | undefined): Promise<number> {
    const del = this.#counters.delete?.bind(this.#counters);
    if (!del) {
      throw new DreamAgentError(
        'INVALID_STATE',
        'the token budget counters cannot be deleted (their CounterStore has no delete)',
      );
    }
    const now = this.#now();
    const keys = [now - this.#periodMs, now, now + this.#periodMs].map((t) => this.#key(tenantId, t).key);
    for (const k of keys) await del(k);
    return keys.length;
  }

  /**
   * Charges a settled call's tokens to its tenant's current period.
   *
   * @param tenantId - the tenant
   * @param tokens - input + output tokens of the call
   * @returns the count after the charge (0 when the tenant has no limit)
   */
  async charge(tenantId: string | undefined, tokens: number): Promise<number> {
    if (this.#limit(tenantId) === undefined || !(tokens > 0)) return 0;
    const { key } = this.#key(tenantId, this.#now());
    return this.#counters.increment(key, Math.ceil(tokens), this.#periodMs * 2);
  }
}
