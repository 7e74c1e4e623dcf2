/**
 * Plan history stored as diffs.
 *
 * A plan version used to be stored whole, so five 200 KB edits of one todo stored 1 + 2 + … + 6 copies
 * of the plan and a snapshot carrying the history grew quadratically with the edit count. Now each
 * version after the first is stored as a todo-level patch against the version before it (added todos
 * whole, changed todos as the top-level fields that changed, the new order when membership or order
 * changed), with a full checkpoint every {@link PLAN_CHECKPOINT_EVERY} versions so that rebuilding one
 * version never walks a long chain. A patch is keyed by todo id, not by array index (as an RFC 6902
 * diff of the `todos` array would be): removing the first todo of a plan holding a 200 KB todo further
 * down costs an id list, not a shifted copy of every later todo.
 *
 * Stores call {@link encodePlanVersion} when they write a version and {@link decodePlanVersions} when
 * they read one; the engine and UIs use {@link diffPlanVersions} to show what changed.
 *
 * @packageDocumentation
 */
import { planDiff, type PlanDiff } from '../hitl/edits.js';
import { cloneJson, type Json } from './json.js';
import type { Plan, PlanEdit, PlanVersionRecord, Todo } from './plan.js';

/** A full plan is stored at least every this many versions (a rebuild applies at most N − 1 patches). */
export const PLAN_CHECKPOINT_EVERY = 16;

/** One changed todo in a {@link PlanPatch}: the top-level fields that were set or removed. */
export interface TodoPatchRecord {
  /** The todo's id (the same in both versions). */
  id: string;
  /** Fields whose value is new (whole field values: a changed `input` is stored whole). */
  set?: Record<string, Json>;
  /** Fields that were removed. */
  unset?: string[];
}

/**
 * What changed from one plan version to the next, by todo id. Applying it to the previous version with
 * {@link applyPlanPatch} gives the next version exactly (as a JSON value).
 */
export interface PlanPatch {
  /** Plan fields other than `todos` that were set (`version` always, `rationale` when it changed). */
  set?: Record<string, Json>;
  /** Plan fields other than `todos` that were removed. */
  unset?: string[];
  /** The todo ids of the new version in order; omitted when membership and order are unchanged. */
  order?: string[];
  /** Todos new in this version, whole. */
  added?: Todo[];
  /** Todos present in both versions whose fields changed. */
  changed?: TodoPatchRecord[];
}

/**
 * How a store keeps one plan version: the record with its plan whole (a checkpoint), or the record with
 * a {@link PlanPatch} against version − 1 instead of the plan. Rows written before plan history was
 * stored as diffs are full records: they read as checkpoints, no migration needed.
 */
export type StoredPlanVersion = PlanVersionRecord | (Omit<PlanVersionRecord, 'plan'> & PatchedPlanFields);

/** The fields a patch-stored plan version has in place of its plan (see {@link StoredPlanVersion}). */
export interface PatchedPlanFields {
  /** The plan's id. */
  planId: string;
  /** This version's number (the patch applies to `version − 1`). */
  version: number;
  /** What changed from version − 1. */
  patch: PlanPatch;
}

/** Which plan version a stored row is for. */
export interface PlanVersionKey {
  /** The plan's id. */
  planId: string;
  /** The version number. */
  version: number;
}

/** A plan version rebuilt from stored rows. */
export interface DecodedPlanVersion {
  /** The full record, its plan whole. */
  record: PlanVersionRecord;
  /** How many patches it was rebuilt through (0 for a checkpoint). */
  depth: number;
}

/**
 * One entry of a session's plan history without the plan itself: who changed it, with which edits, and
 * which todos that added, removed, changed or moved. Its size is the size of the edits.
 */
export interface PlanChange {
  /** The plan's id. */
  planId: string;
  /** The version this change produced. */
  version: number;
  /** The turn the plan belongs to. */
  turnId: string;
  /** Who made the change (`planner` for the planner's version). */
  actor: string;
  /** When the version was committed (ms since the epoch). */
  createdAt: number;
  /** The edits that produced this version (empty for the planner's version). */
  edits: PlanEdit[];
  /** Which todos changed from the previous version (ids only); null for the first version. */
  diff: PlanDiff | null;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Structural equality of JSON values; key order and `undefined` fields are ignored. */
function jsonEqual(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  if (Array.isArray(x) && Array.isArray(y))
    return x.length === y.length && x.every((item, i) => jsonEqual(item, y[i]));
  const ox = x as Record<string, unknown>;
  const oy = y as Record<string, unknown>;
  const kx = Object.keys(ox).filter((k) => ox[k] !== undefined);
  const ky = Object.keys(oy).filter((k) => oy[k] !== undefined);
  return kx.length === ky.length && kx.every((k) => Object.hasOwn(oy, k) && jsonEqual(ox[k], oy[k]));
}

/** The todos of a plan keyed by id, or undefined when the plan is not a list of uniquely-identified todos. */
function todoMap(plan: unknown): Map<string, Record<string, unknown>> | undefined {
  if (!isObject(plan) || !Array.isArray(plan['todos'])) return undefined;
  const out = new Map<string, Record<string, unknown>>();
  for (const t of plan['todos'] as unknown[]) {
    if (!isObject(t) || typeof t['id'] !== 'string' || out.has(t['id'])) return undefined;
    out.set(t['id'], t);
  }
  return out;
}

/** Top-level fields of `b` set or removed relative to `a` (ignoring `skip`). */
function fieldDiff(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  skip: string,
): { set?: Record<string, Json>; unset?: string[] } {
  const set: Record<string, Json> = {};
  const unset: string[] = [];
  for (const k of Object.keys(b)) {
    if (k === skip || b[k] === undefined) continue;
    if (!jsonEqual(a[k], b[k])) set[k] = cloneJson(b[k]) as Json;
  }
  for (const k of Object.keys(a)) if (k !== skip && a[k] !== undefined && b[k] === undefined) unset.push(k);
  return {
    ...(Object.keys(set).length > 0 ? { set } : {}),
    ...(unset.length > 0 ? { unset } : {}),
  };
}

/**
 * The todo-level patch that turns `prev` into `next`.
 *
 * @param prev - the older plan
 * @param next - the newer plan
 * @returns the patch, or undefined when either value is not a plan of uniquely-identified todos (an
 *   encrypted plan, say): such a version is stored whole
 * @example
 * ```ts
 * const patch = makePlanPatch(v1, v2); // { set: { version: 2 }, changed: [{ id: 'draft', set: { input: {…} } }] }
 * applyPlanPatch(v1, patch!); // deep-equals v2
 * ```
 */
export function makePlanPatch(prev: Plan, next: Plan): PlanPatch | undefined {
  const before = todoMap(prev);
  const after = todoMap(next);
  if (!before || !after) return undefined;
  const patch: PlanPatch = fieldDiff(
    prev as unknown as Record<string, unknown>,
    next as unknown as Record<string, unknown>,
    'todos',
  );
  const order = [...after.keys()];
  const prevOrder = [...before.keys()];
  if (order.length !== prevOrder.length || order.some((id, i) => prevOrder[i] !== id)) patch.order = order;
  const added: Todo[] = [];
  const changed: TodoPatchRecord[] = [];
  for (const [id, t] of after) {
    const old = before.get(id);
    if (!old) {
      added.push(cloneJson(t) as unknown as Todo);
      continue;
    }
    if (old === t) continue;
    const d = fieldDiff(old, t, 'id');
    if (d.set || d.unset) changed.push({ id, ...d });
  }
  if (added.length > 0) patch.added = added;
  if (changed.length > 0) patch.changed = changed;
  return patch;
}

/**
 * Applies a patch made by {@link makePlanPatch} to the plan it was made against.
 *
 * @param prev - the older plan (not modified)
 * @param patch - the patch
 * @returns the newer plan (a new object; unchanged todos are copies of `prev`'s)
 */
export function applyPlanPatch(prev: Plan, patch: PlanPatch): Plan {
  const byId = new Map<string, Record<string, unknown>>();
  for (const t of prev.todos) byId.set(t.id, t as unknown as Record<string, unknown>);
  for (const t of patch.added ?? []) byId.set(t.id, t as unknown as Record<string, unknown>);
  for (const c of patch.changed ?? []) {
    const base = byId.get(c.id);
    if (!base) continue;
    const next: Record<string, unknown> = { ...base, ...(c.set ?? {}) };
    for (const k of c.unset ?? []) delete next[k];
    byId.set(c.id, next);
  }
  const order = patch.order ?? prev.todos.map((t) => t.id);
  const todos: unknown[] = [];
  for (const id of order) {
    const t = byId.get(id);
    if (t) todos.push(t);
  }
  const plan: Record<string, unknown> = { ...(prev as unknown as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch.set ?? {})) plan[k] = v;
  for (const k of patch.unset ?? []) delete plan[k];
  plan['todos'] = todos;
  return cloneJson(plan) as unknown as Plan;
}

/**
 * What a store writes for one plan version: the record whole when it is a checkpoint (no previous
 * version, or `depth` patches already follow the last checkpoint), else the record with a patch against
 * `previous` instead of the plan.
 *
 * @param record - the version to store (its plan whole)
 * @param previous - the stored version `record.plan.version − 1` of the same plan, when the store has it
 * @param depth - how many patches lie between `previous` and the checkpoint it was rebuilt from (0 when
 *   `previous` is itself a checkpoint)
 * @param checkpointEvery - store a full plan at least every this many versions
 * @returns the row to store
 */
export function encodePlanVersion(
  record: PlanVersionRecord,
  previous: Plan | undefined,
  depth: number,
  checkpointEvery: number = PLAN_CHECKPOINT_EVERY,
): StoredPlanVersion {
  if (!previous || depth + 1 >= checkpointEvery || previous.version !== record.plan.version - 1)
    return record;
  if (previous.id !== record.plan.id) return record;
  const patch = makePlanPatch(previous, record.plan);
  if (!patch) return record;
  const { plan, ...rest } = record;
  return { ...rest, planId: plan.id, version: plan.version, patch };
}

/**
 * The plan id and version a stored row is for.
 *
 * @param row - a stored row (checkpoint or patch)
 * @returns its plan id and version
 */
export function storedPlanKey(row: StoredPlanVersion): PlanVersionKey {
  return 'patch' in row
    ? { planId: row.planId, version: row.version }
    : { planId: row.plan.id, version: row.plan.version };
}

/**
 * Rebuilds full records from stored rows of one plan, oldest first. The rows must be contiguous
 * versions starting at a checkpoint (a row with its plan whole); a patch row whose previous version is
 * missing is skipped (it cannot be rebuilt).
 *
 * @param rows - stored rows of one plan, ascending by version
 * @returns the full records, with the number of patches each was rebuilt through (`depth`, 0 for a checkpoint)
 */
export function decodePlanVersions(rows: readonly StoredPlanVersion[]): DecodedPlanVersion[] {
  const out: DecodedPlanVersion[] = [];
  let prev: DecodedPlanVersion | undefined;
  for (const row of rows) {
    if (!('patch' in row)) {
      prev = { record: row, depth: 0 };
      out.push(prev);
      continue;
    }
    if (!prev || prev.record.plan.version !== row.version - 1 || prev.record.plan.id !== row.planId) {
      prev = undefined;
      continue;
    }
    const { patch, planId: _planId, version: _version, ...rest } = row;
    prev = { record: { ...rest, plan: applyPlanPatch(prev.record.plan, patch) }, depth: prev.depth + 1 };
    out.push(prev);
  }
  return out;
}

/**
 * The history of one plan as changes: each version's actor, edits and the ids of the todos it added,
 * removed or changed, without the plans themselves — its size grows with the edits, not with versions ×
 * plan size (any version whole: `agent.getPlanVersion`).
 *
 * @param versions - full records of one plan, oldest first
 * @returns one change per version
 */
export function diffPlanVersions(versions: readonly PlanVersionRecord[]): PlanChange[] {
  const out: PlanChange[] = [];
  let prev: Plan | undefined;
  for (const v of versions) {
    const diff =
      prev && Array.isArray(prev.todos) && Array.isArray(v.plan.todos) ? planDiff(prev, v.plan) : null;
    out.push({
      planId: v.plan.id,
      version: v.plan.version,
      turnId: v.turnId,
      actor: v.actor,
      createdAt: v.createdAt,
      edits: v.edits,
      diff,
    });
    prev = v.plan;
  }
  return out;
}

/**
 * Rebuilds one version from stored rows of one plan: `version` (the newest row when omitted), walking
 * back to the checkpoint it follows.
 *
 * @param rows - stored rows of one plan, ascending by version, including the target and the checkpoint
 *   before it (more is fine)
 * @param version - the version wanted (default: the newest row)
 * @returns the full record and its patch depth, or undefined when the rows cannot rebuild it
 */
export function decodePlanVersionAt(
  rows: readonly StoredPlanVersion[],
  version?: number,
): DecodedPlanVersion | undefined {
  let i = rows.length - 1;
  if (version !== undefined)
    while (i >= 0 && storedPlanKey(rows[i] as StoredPlanVersion).version !== version) i -= 1;
  if (i < 0) return undefined;
  let j = i;
  while (j >= 0 && 'patch' in (rows[j] as StoredPlanVersion)) j -= 1;
  if (j < 0) return undefined;
  const out = decodePlanVersions(rows.slice(j, i + 1)).at(-1);
  const target = storedPlanKey(rows[i] as StoredPlanVersion).version;
  return out && out.record.plan.version === target ? out : undefined;
}

/**
 * Encodes the plan versions of one commit, oldest first: each is a patch against the version before it —
 * an earlier version of the same commit, or the stored one `previous` returns — or a checkpoint.
 *
 * @param records - the commit's plan versions (plans whole)
 * @param previous - the stored version `version` of plan `planId` rebuilt, with its patch depth, or
 *   undefined when the store does not have it
 * @returns the rows to store, in the same order
 */
export function encodePlanVersions(
  records: readonly PlanVersionRecord[],
  previous: (planId: string, version: number) => DecodedPlanVersion | undefined,
): StoredPlanVersion[] {
  const local = new Map<string, DecodedPlanVersion>();
  return records.map((r) => {
    const v = r.plan.version;
    const prev = local.get(`${r.plan.id}\u0000${v - 1}`) ?? (v > 1 ? previous(r.plan.id, v - 1) : undefined);
    const row = encodePlanVersion(r, prev?.record.plan, prev?.depth ?? 0);
    local.set(`${r.plan.id}\u0000${v}`, { record: r, depth: 'patch' in row ? (prev?.depth ?? 0) + 1 : 0 });
    return row;
  });
}

/**
 * Which stored versions {@link encodePlanVersions} will ask for: for each plan of the commit, the
 * version before its oldest new one (when that is above 0 and not itself in the commit).
 *
 * @param records - the commit's plan versions
 * @returns plan id and version pairs
 */
export function planBasesNeeded(records: readonly PlanVersionRecord[]): PlanVersionKey[] {
  const inCommit = new Set(records.map((r) => `${r.plan.id}\u0000${r.plan.version}`));
  const out: PlanVersionKey[] = [];
  for (const r of records) {
    const v = r.plan.version - 1;
    if (v >= 1 && !inCommit.has(`${r.plan.id}\u0000${v}`)) out.push({ planId: r.plan.id, version: v });
  }
  return out;
}
