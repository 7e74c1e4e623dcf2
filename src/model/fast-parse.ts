/**
 * Fast paths for what the layers return on every turn — the plan draft and the intent: a zod-free check of what a planner returned that yields exactly what
 * `PlanDraftSchema.parse` (or `IntentSchema.parse`) would (same fields, same key order, defaults applied, every JSON value
 * copied), for the drafts planners actually write. It is conservative: anything it is not sure of (an
 * invalid field, a class instance, a `__proto__` key, an explicit `undefined`, a non-finite number, a
 * symbol key) makes it step aside, and the zod schema decides and words the error. A property test
 * checks it against the schema (`test/planning/fast-parse.test.ts`).
 *
 * Why: parsing a 100-todo draft through zod cost ~1.8 ms, more than running the 100 todos' cycles.
 *
 * @internal
 */
import type { Json, JsonObject } from './json.js';
import type { Intent } from './intent.js';
import type { PlanDraft, Todo } from './plan.js';

const ID = /^[A-Za-z0-9_.-]+$/;
const OBJECT_PROTO = Object.prototype;
const ARRAY_PROTO = Array.prototype;
/** Bytes of JSON a number can take at most (`-1.2345678901234567e-308`). */
const NUMBER_BYTES = 25;

/** A plain object's prototype: `Object.prototype`, or none (`Object.create(null)`). */
const plainProto = (v: object): boolean => {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === OBJECT_PROTO || p === null;
};

/** Why the fast path stepped aside (thrown internally, caught at the top: never escapes). */
const DECLINE: unique symbol = Symbol('decline');

/**
 * Upper bounds of the JSON size in bytes of the todo arrays the fast path returned: the plan's todos
 * together and the largest single todo. The plan size limits can be checked against them without
 * serialising every todo (only a plan close to a limit is measured exactly).
 */
const bounds = new WeakMap<readonly Todo[], { total: number; largest: number }>();

/**
 * Upper bounds of the JSON size of a todo array returned by {@link fastPlanDraft}.
 *
 * @param todos - a todo array
 * @returns bytes at most (all todos together, and the largest one), or undefined when not known
 */
export function planJsonBounds(todos: readonly Todo[]): { total: number; largest: number } | undefined {
  return bounds.get(todos);
}

/** A walk over one draft: copies as it checks, and sums an upper bound of the JSON bytes. */
class Walk {
  bytes = 0;

  string(v: unknown, min: number, max: number): string {
    if (typeof v !== 'string' || v.length < min || v.length > max) throw DECLINE;
    // UTF-8 takes at most 3 bytes per UTF-16 unit, an escape at most 6 (`\u001f`); plus the quotes.
    this.bytes += v.length * 6 + 2;
    return v;
  }

  id(v: unknown): string {
    const s = this.string(v, 1, 64);
    if (!ID.test(s)) throw DECLINE;
    return s;
  }

  key(k: string): void {
    this.bytes += k.length * 6 + 4; // quotes, colon and comma
  }

  /** A JSON value, copied (as zod's parse returns a copy). */
  json(v: unknown, depth: number): Json {
    if (v === null) {
      this.bytes += 4;
      return null;
    }
    switch (typeof v) {
      case 'string':
        this.bytes += v.length * 6 + 2;
        return v;
      case 'boolean':
        this.bytes += 5;
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw DECLINE;
        this.bytes += NUMBER_BYTES;
        return v;
      case 'object':
        break;
      default:
        throw DECLINE;
    }
    if (depth > 64) throw DECLINE; // zod recurses too: leave very deep values to it
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== ARRAY_PROTO) throw DECLINE;
      const out: Json[] = new Array<Json>(v.length);
      this.bytes += 2 + v.length;
      for (let i = 0; i < v.length; i += 1) out[i] = this.json(v[i], depth + 1);
      return out;
    }
    return this.record(v, depth);
  }

  /** A plain JSON object (`z.record(z.string(), JsonSchema)`), copied. */
  record(v: unknown, depth: number): JsonObject {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw DECLINE;
    if (!plainProto(v)) throw DECLINE;
    if (Object.getOwnPropertySymbols(v).length > 0) throw DECLINE;
    const out: JsonObject = {};
    this.bytes += 2;
    for (const k in v) {
      if (k === '__proto__' || !Object.hasOwn(v, k)) throw DECLINE;
      this.key(k);
      out[k] = this.json((v as Record<string, unknown>)[k], depth + 1);
    }
    return out;
  }

  /** A todo, fields in the schema's order, defaults applied. */
  todo(v: unknown): Todo {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw DECLINE;
    if (!plainProto(v)) throw DECLINE;
    const t = v as Record<string, unknown>;
    for (const k in t) {
      if (!TODO_KEYS.has(k) || !Object.hasOwn(t, k) || t[k] === undefined) throw DECLINE;
    }
    this.bytes += 2;
    const out = {} as Record<string, unknown>;
    this.key('id');
    out['id'] = this.id(t['id']);
    this.key('title');
    out['title'] = this.string(t['title'], 1, 500);
    if (t['description'] !== undefined) {
      this.key('description');
      out['description'] = this.string(t['description'], 0, 5000);
    }
    this.key('domain');
    out['domain'] = this.string(t['domain'], 1, 64);
    if (t['tool'] !== undefined) {
      this.key('tool');
      out['tool'] = this.string(t['tool'], 1, 200);
    }
    this.key('input');
    out['input'] = t['input'] === undefined ? {} : this.record(t['input'], 0);
    this.key('dependsOn');
    const deps = t['dependsOn'];
    if (deps === undefined) out['dependsOn'] = [];
    else {
      if (!Array.isArray(deps) || Object.getPrototypeOf(deps) !== ARRAY_PROTO) throw DECLINE;
      const d: string[] = new Array<string>(deps.length);
      this.bytes += 2 + deps.length;
      for (let i = 0; i < deps.length; i += 1) d[i] = this.id(deps[i]);
      out['dependsOn'] = d;
    }
    if (t['approval'] !== undefined) {
      this.key('approval');
      out['approval'] = this.approval(t['approval']);
    }
    if (t['resource'] !== undefined) {
      this.key('resource');
      out['resource'] = this.string(t['resource'], 0, 64);
    }
    if (t['idempotent'] !== undefined) {
      if (typeof t['idempotent'] !== 'boolean') throw DECLINE;
      this.key('idempotent');
      this.bytes += 5;
      out['idempotent'] = t['idempotent'];
    }
    if (t['timeoutMs'] !== undefined) {
      const ms = t['timeoutMs'];
      if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms <= 0) throw DECLINE;
      this.key('timeoutMs');
      this.bytes += NUMBER_BYTES;
      out['timeoutMs'] = ms;
    }
    if (t['metadata'] !== undefined) {
      this.key('metadata');
      out['metadata'] = this.record(t['metadata'], 0);
    }
    return out as unknown as Todo;
  }

  approval(v: unknown): Todo['approval'] {
    if (typeof v === 'boolean') {
      this.bytes += 5;
      return v;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw DECLINE;
    if (!plainProto(v)) throw DECLINE;
    const a = v as Record<string, unknown>;
    for (const k in a) if (!APPROVAL_KEYS.has(k) || !Object.hasOwn(a, k) || a[k] === undefined) throw DECLINE;
    const required = a['required'] ?? true;
    if (typeof required !== 'boolean') throw DECLINE;
    const out: { required: boolean; reason?: string; risk?: 'low' | 'medium' | 'high'; roles?: string[] } = {
      required,
    };
    this.bytes += 2 + 20;
    if (a['reason'] !== undefined) {
      this.key('reason');
      out.reason = this.string(a['reason'], 0, Infinity);
    }
    if (a['risk'] !== undefined) {
      const risk = a['risk'];
      if (risk !== 'low' && risk !== 'medium' && risk !== 'high') throw DECLINE;
      this.key('risk');
      this.bytes += 8;
      out.risk = risk;
    }
    if (a['roles'] !== undefined) {
      const roles = a['roles'];
      if (!Array.isArray(roles) || Object.getPrototypeOf(roles) !== ARRAY_PROTO) throw DECLINE;
      this.key('roles');
      this.bytes += 2 + roles.length;
      out.roles = roles.map((r) => this.string(r, 0, Infinity));
    }
    return out;
  }
}

const TODO_KEYS: ReadonlySet<string> = new Set([
  'id',
  'title',
  'description',
  'domain',
  'tool',
  'input',
  'dependsOn',
  'approval',
  'resource',
  'idempotent',
  'timeoutMs',
  'metadata',
]);
const APPROVAL_KEYS: ReadonlySet<string> = new Set(['required', 'reason', 'risk', 'roles']);

/**
 * What `PlanDraftSchema.safeParse(raw)` returns as data when it succeeds, computed without zod — or
 * `undefined` when the fast path cannot vouch for the draft (then the schema decides).
 *
 * @param raw - what a planner returned
 * @returns the parsed draft (a copy: nothing aliases `raw`), or undefined
 */
export function fastPlanDraft(raw: unknown): PlanDraft | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  if (!plainProto(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  for (const k in r) {
    if ((k !== 'todos' && k !== 'rationale') || !Object.hasOwn(r, k) || r[k] === undefined) return undefined;
  }
  const list = r['todos'];
  if (!Array.isArray(list) || Object.getPrototypeOf(list) !== ARRAY_PROTO) return undefined;
  const rationale = r['rationale'];
  if (rationale !== undefined && typeof rationale !== 'string') return undefined;
  const walk = new Walk();
  const todos: Todo[] = new Array<Todo>(list.length);
  let largest = 0;
  try {
    for (let i = 0; i < list.length; i += 1) {
      const before = walk.bytes;
      todos[i] = walk.todo(list[i]);
      largest = Math.max(largest, walk.bytes - before);
    }
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
  bounds.set(todos, { total: walk.bytes + list.length + 2, largest });
  return rationale !== undefined ? { todos, rationale } : { todos };
}

const INTENT_KEYS: ReadonlySet<string> = new Set([
  'name',
  'confidence',
  'entities',
  'slots',
  'missingSlots',
  'metadata',
]);

/**
 * What `IntentSchema.safeParse(raw)` returns as data when it succeeds, computed without zod — or
 * `undefined` when the fast path cannot vouch for the intent (entities, a clarification, an unknown
 * key: then the schema decides).
 *
 * @param raw - what a cognitive layer returned
 * @returns the parsed intent (a copy), or undefined
 */
export function fastIntent(raw: unknown): Intent | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !plainProto(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  for (const k in r) if (!INTENT_KEYS.has(k) || !Object.hasOwn(r, k) || r[k] === undefined) return undefined;
  const { name, confidence, entities, missingSlots } = r;
  if (typeof name !== 'string' || name.length === 0) return undefined;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) return undefined;
  // Entities are left to the schema (rare on the hot path, and nested): only an empty list is vouched for.
  if (
    entities !== undefined &&
    !(Array.isArray(entities) && Object.getPrototypeOf(entities) === ARRAY_PROTO && entities.length === 0)
  )
    return undefined;
  const walk = new Walk();
  try {
    const out = { name, confidence, entities: [] } as unknown as Record<string, unknown>;
    out['slots'] = r['slots'] === undefined ? {} : walk.record(r['slots'], 0);
    if (missingSlots === undefined) out['missingSlots'] = [];
    else {
      if (!Array.isArray(missingSlots) || Object.getPrototypeOf(missingSlots) !== ARRAY_PROTO)
        return undefined;
      const m: string[] = new Array<string>(missingSlots.length);
      for (let i = 0; i < missingSlots.length; i += 1) {
        const v: unknown = missingSlots[i];
        if (typeof v !== 'string') return undefined;
        m[i] = v;
      }
      out['missingSlots'] = m;
    }
    if (r['metadata'] !== undefined) out['metadata'] = walk.record(r['metadata'], 0);
    return out as unknown as Intent;
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
}
