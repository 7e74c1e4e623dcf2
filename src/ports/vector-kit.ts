/**
 * Shared pieces for {@link VectorStore} implementations: the one filter language (compiled once per
 * query into a predicate), and the checks every store makes on ids, vectors, `k` and namespaces, so
 * that the memory store and every adapter refuse the same inputs with the same typed errors.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { Json, JsonObject } from '../model/json.js';
import { canonicalJson } from '../tools/canonical.js';
import type { VectorFilter, VectorItem, VectorScope } from './vector.js';

/** The namespace used when a call names none. */
export const DEFAULT_VECTOR_NAMESPACE = 'default';

const NAMESPACE_RE = /^[A-Za-z0-9._:@/-]{1,128}$/;

/**
 * Resolves and checks the namespace of a call.
 *
 * @param scope - the call's scope
 * @returns the namespace name
 * @throws DreamAgentError `INVALID_INPUT` for a name outside `[A-Za-z0-9._:@/-]{1,128}`
 */
export function vectorNamespace(scope?: VectorScope): string {
  const ns = scope?.namespace ?? DEFAULT_VECTOR_NAMESPACE;
  if (typeof ns !== 'string' || !NAMESPACE_RE.test(ns)) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `a vector namespace must be 1–128 characters of [A-Za-z0-9._:@/-], got ${JSON.stringify(ns)}`,
    );
  }
  return ns;
}

/**
 * Checks one vector: a non-empty array of finite numbers, of `dimensions` entries when given.
 *
 * @param vector - the vector
 * @param dimensions - the namespace's vector length, if known
 * @param what - names the call in the message (e.g. `upsert doc-1`)
 * @throws DreamAgentError `INVALID_INPUT`; a length mismatch carries `details.reason = 'dimension_mismatch'`
 */
export function checkVector(vector: unknown, dimensions: number | undefined, what: string): void {
  if (!Array.isArray(vector) || vector.length === 0) {
    throw new DreamAgentError('INVALID_INPUT', `${what}: a vector must be a non-empty array of numbers`);
  }
  for (const v of vector as unknown[]) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new DreamAgentError('INVALID_INPUT', `${what}: vector values must be finite numbers`);
    }
  }
  if (dimensions !== undefined && vector.length !== dimensions) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `${what}: vector has ${vector.length} dimensions, the namespace holds ${dimensions}`,
      { details: { reason: 'dimension_mismatch', expected: dimensions, got: vector.length } },
    );
  }
}

/**
 * Checks a batch for upsert before anything is written: ids non-empty strings (at most 512 chars),
 * vectors valid and all of one length (the namespace's when known), metadata plain JSON objects.
 *
 * @param items - the batch
 * @param dimensions - the namespace's vector length, if known
 * @returns the batch's vector length (undefined for an empty batch)
 * @throws DreamAgentError `INVALID_INPUT`
 */
export function checkUpsert(
  items: readonly VectorItem[],
  dimensions: number | undefined,
): number | undefined {
  if (!Array.isArray(items)) throw new DreamAgentError('INVALID_INPUT', 'upsert: items must be an array');
  let dim = dimensions;
  for (const item of items) {
    if (typeof item?.id !== 'string' || item.id === '' || item.id.length > 512) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'upsert: an id must be a non-empty string of at most 512 characters',
      );
    }
    checkVector(item.vector, dim, `upsert ${item.id}`);
    dim ??= item.vector.length;
    const m: unknown = item.metadata;
    if (m !== undefined && (typeof m !== 'object' || m === null || Array.isArray(m))) {
      throw new DreamAgentError('INVALID_INPUT', `upsert ${item.id}: metadata must be a JSON object`);
    }
  }
  return dim;
}

/**
 * Checks `k` of a query.
 *
 * @param k - how many matches
 * @throws DreamAgentError `INVALID_INPUT` unless a non-negative integer
 */
export function checkK(k: unknown): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0) {
    throw new DreamAgentError('INVALID_INPUT', `query: k must be a non-negative integer, got ${String(k)}`);
  }
}

/** A compiled {@link VectorFilter}. */
export type MetadataPredicate = (metadata: JsonObject | undefined) => boolean;

const FIELD_OPS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists']);

const isPlainObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function sameJson(a: Json | undefined, b: Json): boolean {
  if (a === b) return true;
  if (a === undefined || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return false;
  return canonicalJson(a) === canonicalJson(b);
}

function ordered(a: Json | undefined, b: Json, op: string): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return op === '$gt' ? a > b : op === '$gte' ? a >= b : op === '$lt' ? a < b : a <= b;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    return op === '$gt' ? a > b : op === '$gte' ? a >= b : op === '$lt' ? a < b : a <= b;
  }
  return false;
}

function compileField(field: string, cond: Json | undefined): MetadataPredicate {
  if (cond === undefined) throw new DreamAgentError('INVALID_INPUT', `filter: ${field} has no value`);
  const hasOps = isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith('$'));
  if (!hasOps) return (m) => sameJson(m?.[field], cond);
  const tests: MetadataPredicate[] = [];
  for (const [op, arg] of Object.entries(cond as JsonObject)) {
    if (!FIELD_OPS.has(op)) {
      throw new DreamAgentError('INVALID_INPUT', `filter: unknown operator ${op} on ${field}`, {
        details: { field, operator: op },
      });
    }
    if (arg === undefined) continue;
    switch (op) {
      case '$eq':
        tests.push((m) => sameJson(m?.[field], arg));
        break;
      case '$ne':
        tests.push((m) => !sameJson(m?.[field], arg));
        break;
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg))
          throw new DreamAgentError('INVALID_INPUT', `filter: ${op} on ${field} needs an array`);
        const list = arg;
        const inList = (m: JsonObject | undefined): boolean => list.some((v) => sameJson(m?.[field], v));
        tests.push(op === '$in' ? inList : (m) => !inList(m));
        break;
      }
      case '$exists':
        if (typeof arg !== 'boolean')
          throw new DreamAgentError('INVALID_INPUT', `filter: $exists on ${field} needs a boolean`);
        tests.push((m) => (m !== undefined && Object.hasOwn(m, field) && m[field] !== undefined) === arg);
        break;
      default:
        if (typeof arg !== 'number' && typeof arg !== 'string')
          throw new DreamAgentError('INVALID_INPUT', `filter: ${op} on ${field} needs a number or a string`);
        tests.push((m) => ordered(m?.[field], arg, op));
    }
  }
  return (m) => tests.every((t) => t(m));
}

/**
 * Compiles a {@link VectorFilter} into a predicate over metadata (once per query, not per item).
 *
 * @param filter - the filter (undefined or `{}`: everything matches)
 * @returns the predicate, or undefined when the filter matches everything
 * @throws DreamAgentError `INVALID_INPUT` for an unknown operator or a malformed operand
 * @example
 * ```ts
 * const match = compileVectorFilter({ tenantId: 'acme', year: { $gte: 2024 } });
 * match?.({ tenantId: 'acme', year: 2025 }); // true
 * ```
 */
export function compileVectorFilter(filter: VectorFilter | undefined): MetadataPredicate | undefined {
  if (filter === undefined) return undefined;
  if (!isPlainObject(filter)) throw new DreamAgentError('INVALID_INPUT', 'filter: must be a JSON object');
  const parts: MetadataPredicate[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || !value.every(isPlainObject)) {
        throw new DreamAgentError('INVALID_INPUT', `filter: ${key} needs an array of filters`);
      }
      const subs = value.map((f) => compileVectorFilter(f) ?? ((): boolean => true));
      parts.push(key === '$and' ? (m) => subs.every((s) => s(m)) : (m) => subs.some((s) => s(m)));
    } else if (key.startsWith('$')) {
      throw new DreamAgentError('INVALID_INPUT', `filter: unknown operator ${key}`, {
        details: { operator: key },
      });
    } else {
      parts.push(compileField(key, value));
    }
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (m) => parts.every((p) => p(m));
}

/**
 * The space check shared by stores: a namespace that holds vectors keeps its dimensions and model.
 *
 * @param namespace - the namespace
 * @param current - what the namespace has recorded (and whether it holds vectors)
 * @param wanted - the space asked for
 * @throws DreamAgentError `INVALID_STATE` with `details.reason = 'embedding_space_changed'`
 */
export function checkSpaceChange(
  namespace: string,
  current: { dimensions?: number | undefined; model?: string | undefined; count: number },
  wanted: { dimensions: number; model?: string | undefined },
): void {
  if (!Number.isInteger(wanted.dimensions) || wanted.dimensions < 1) {
    throw new DreamAgentError('INVALID_INPUT', `setSpace: dimensions must be a positive integer`);
  }
  const dimsChanged = current.dimensions !== undefined && current.dimensions !== wanted.dimensions;
  const modelChanged =
    current.model !== undefined && wanted.model !== undefined && current.model !== wanted.model;
  if ((dimsChanged || modelChanged) && current.count > 0) {
    const was = `${current.model ?? 'an unnamed model'} (${current.dimensions ?? '?'} dimensions)`;
    const now = `${wanted.model ?? 'an unnamed model'} (${wanted.dimensions} dimensions)`;
    throw new DreamAgentError(
      'INVALID_STATE',
      `vector namespace "${namespace}" was built with ${was}; the embedder is ${now}. Re-index into a new namespace (or drop this one) instead of mixing vector spaces`,
      {
        details: {
          reason: 'embedding_space_changed',
          namespace,
          expected: { dimensions: current.dimensions ?? null, model: current.model ?? null },
          got: { dimensions: wanted.dimensions, model: wanted.model ?? null },
        },
      },
    );
  }
}

/**
 * Keeps the best `k` (score, row) pairs seen, in a binary min-heap over typed arrays: O(n log k) for n
 * candidates and no allocation per candidate. Ties on score are broken by `tieKey` (smaller wins), so
 * results are deterministic.
 *
 * @example
 * ```ts
 * const top = new TopK(10, (row) => ids[row]!);
 * for (let row = 0; row < n; row++) top.push(scores[row]!, row);
 * top.sorted(); // [{ row, score }, …] best first
 * ```
 */
export class TopK {
  readonly #k: number;
  readonly #scores: Float64Array;
  readonly #rows: Int32Array;
  readonly #tieKey: (row: number) => string;
  #size = 0;

  /**
   * @param k - how many to keep
   * @param tieKey - orders rows of equal score (smaller first)
   */
  constructor(k: number, tieKey: (row: number) => string) {
    this.#k = k;
    this.#scores = new Float64Array(Math.max(1, k));
    this.#rows = new Int32Array(Math.max(1, k));
    this.#tieKey = tieKey;
  }

  /** The current worst kept score (−Infinity until `k` are kept): a candidate must beat it. */
  get threshold(): number {
    return this.#size < this.#k ? -Infinity : this.#scores[0]!;
  }

  /** `a` is worse than `b`: lower score, or equal score and a larger tie key. */
  #worse(i: number, j: number): boolean {
    const a = this.#scores[i]!;
    const b = this.#scores[j]!;
    if (a !== b) return a < b;
    return this.#tieKey(this.#rows[i]!) > this.#tieKey(this.#rows[j]!);
  }

  #swap(i: number, j: number): void {
    const s = this.#scores[i]!;
    this.#scores[i] = this.#scores[j]!;
    this.#scores[j] = s;
    const r = this.#rows[i]!;
    this.#rows[i] = this.#rows[j]!;
    this.#rows[j] = r;
  }

  #down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.#size && this.#worse(l, m)) m = l;
      if (r < this.#size && this.#worse(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  /**
   * Offers a candidate.
   *
   * @param score - higher is better
   * @param row - the candidate's row
   */
  push(score: number, row: number): void {
    if (this.#k === 0) return;
    if (this.#size < this.#k) {
      let i = this.#size++;
      this.#scores[i] = score;
      this.#rows[i] = row;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.#worse(i, p)) break;
        this.#swap(i, p);
        i = p;
      }
      return;
    }
    const worst = this.#scores[0]!;
    if (score < worst) return;
    if (score === worst && this.#tieKey(row) >= this.#tieKey(this.#rows[0]!)) return;
    this.#scores[0] = score;
    this.#rows[0] = row;
    this.#down(0);
  }

  /** @returns the kept candidates, best first (ties by tie key) */
  sorted(): {
    /** The row pushed with the score (an index into the caller's data). */
    row: number;
    /** Its score. */
    score: number;
  }[] {
    const out: { row: number; score: number }[] = [];
    for (let i = 0; i < this.#size; i++) out.push({ row: this.#rows[i]!, score: this.#scores[i]! });
    out.sort((a, b) => {
      if (a.score !== b.score) return b.score - a.score;
      const ka = this.#tieKey(a.row);
      const kb = this.#tieKey(b.row);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return out;
  }
}
