import type { Executor } from '../layers.js';

/** The four domains of the original design; every one is served by the tool executor by default. */
export const SEED_DOMAINS = ['data', 'insight', 'content', 'ops'] as const;

/**
 * Routes each todo to the executor of its `domain`. Explicit executors win; `*` is the fallback for
 * every other domain; the seed domains fall back to the default (tool) executor. A plan naming a
 * domain nobody serves is refused at validation, before anything runs.
 */
export class Supervisor {
  readonly #executors: ReadonlyMap<string, Executor>;
  readonly #fallback: Executor | undefined;
  readonly #defaultExecutor: Executor | undefined;
  readonly #extraDomains: () => Iterable<string>;

  /**
   * @param executors - executors by domain (`*` = any other domain)
   * @param defaultExecutor - serves the seed domains and the domains of registered tools when no explicit executor does
   * @param extraDomains - further domains the default executor serves (e.g. the domains of registered tools)
   */
  constructor(
    executors: Record<string, Executor> = {},
    defaultExecutor?: Executor,
    extraDomains: () => Iterable<string> = () => [],
  ) {
    const entries = Object.entries(executors).filter(([k]) => k !== '*');
    this.#executors = new Map(entries);
    this.#fallback = executors['*'];
    this.#defaultExecutor = defaultExecutor;
    this.#extraDomains = extraDomains;
  }

  /**
   * @param domain - a todo's domain
   * @returns the executor that runs it, or undefined when no executor serves that domain
   */
  executorFor(domain: string): Executor | undefined {
    const explicit = this.#executors.get(domain);
    if (explicit) return explicit;
    if (this.#fallback) return this.#fallback;
    if (this.#defaultExecutor && this.domains()?.includes(domain)) return this.#defaultExecutor;
    return undefined;
  }

  /**
   * Whether todos of this domain must name a tool: true when only the default tool executor serves it
   * (an explicit or `*` executor may run todos without a tool, e.g. an LLM executor).
   *
   * @param domain - a todo's domain
   * @returns true when a tool-free todo of this domain could not run
   */
  requiresTool(domain: string): boolean {
    return !this.#executors.has(domain) && !this.#fallback;
  }

  /** @returns the domains whose executors can run todos without a tool, or undefined when `*` serves every domain */
  toolFreeDomains(): string[] | undefined {
    return this.#fallback ? undefined : [...this.#executors.keys()].sort();
  }

  /** @returns the domains served, or undefined when a `*` executor serves every domain */
  domains(): string[] | undefined {
    if (this.#fallback) return undefined;
    const set = new Set<string>(this.#executors.keys());
    if (this.#defaultExecutor) {
      for (const d of SEED_DOMAINS) set.add(d);
      for (const d of this.#extraDomains()) set.add(d);
    }
    return [...set].sort();
  }
}
