/**
 * The plan history a transport sends with a session snapshot, shared by the REST and WebSocket
 * adapters: every version whole, the list of changes with the current plan only, or the changes plus
 * the last N versions read one at a time — never the whole history when a client asked for less.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { PlanVersionRecord } from '../model/plan.js';
import type { SessionSnapshot } from '../model/session.js';

/** The most plan changes one page may hold (`changesLimit`). */
export const MAX_CHANGES_PAGE = 1000;

/**
 * Which page of the plan-change list a client wants: the newest `limit` changes whose version is below
 * `before` (every change below it without `limit`; the newest changes without `before`). Load older
 * pages by passing the oldest version you hold as `before`.
 */
export interface PlanChangesCursor {
  /** At most this many changes, the newest of those selected (an integer, 1 to {@link MAX_CHANGES_PAGE}). */
  limit?: number;
  /** Only changes that produced a version below this one (an integer ≥ 1; 1 selects none). */
  before?: number;
}

/** Where a page of `planChanges` sits in the whole list, sent as `planChangesPage` when a cursor was given. */
export interface PlanChangesPage {
  /** How many changes the current plan has in all. */
  total: number;
  /** How many changes are older than the page (load them with `before` = the page's first version). */
  older: number;
  /** How many changes are newer than the page. */
  newer: number;
}

/** A session snapshot as a transport sends it: with `planChangesPage` when the change list was paged. */
export type HistorySnapshot = SessionSnapshot & {
  /** Where the page of `planChanges` sits in the whole list; absent when the list was not paged. */
  planChangesPage?: PlanChangesPage;
};

/**
 * Checks a change-list cursor from outside input.
 *
 * @param cursor - the cursor (fields may be absent)
 * @param history - the history asked for alongside it
 * @throws DreamAgentError `INVALID_INPUT` when `limit` is not an integer from 1 to {@link MAX_CHANGES_PAGE},
 * `before` is not an integer ≥ 1, or a cursor comes with `history` `'full'` or absent (nothing to page)
 */
function checkCursor(cursor: PlanChangesCursor, history: number | 'full' | 'changes' | undefined): void {
  const { limit, before } = cursor;
  if (limit === undefined && before === undefined) return;
  const bad = (field: string, message: string): never => {
    throw new DreamAgentError('INVALID_INPUT', `invalid ${field}: ${message}`, {
      details: { issues: [{ path: field, message }] },
    });
  };
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHANGES_PAGE))
    bad('changesLimit', `an integer from 1 to ${MAX_CHANGES_PAGE}`);
  if (before !== undefined && (!Number.isSafeInteger(before) || before < 1))
    bad('changesBefore', 'a plan version, an integer ≥ 1');
  if (history === undefined || history === 'full')
    bad('history', "changesLimit and changesBefore page planChanges: ask for history 'changes' or a number");
}

/** What {@link snapshotWithHistory} reads from: the part of `Agent` (or a scoped view of it) a transport serves. */
export interface SnapshotSource {
  /** A session's snapshot; `{ history: 'changes' }` returns `planChanges` and the current plan only. */
  getSession(sessionId: string, options?: { history?: 'full' | 'changes' }): Promise<SessionSnapshot>;
  /** One plan version whole. Optional: without it versions are taken from the full snapshot. */
  getPlanVersion?(sessionId: string, version?: number): Promise<PlanVersionRecord | undefined>;
}

/**
 * Chosen versions of the current turn's plan, oldest first: one read each, never the whole history
 * (the full snapshot only when the source cannot read one version).
 *
 * @param source - the agent or view
 * @param sessionId - the session
 * @param versions - the plan versions wanted (duplicates and unknown versions are ignored)
 * @returns the versions found, oldest first
 */
export async function planVersions(
  source: SnapshotSource,
  sessionId: string,
  versions: readonly number[],
): Promise<PlanVersionRecord[]> {
  const wanted = [...new Set(versions)].sort((a, b) => a - b);
  if (!source.getPlanVersion) {
    const snap = await source.getSession(sessionId);
    return snap.planHistory.filter((p) => wanted.includes(p.plan.version));
  }
  const getPlanVersion = source.getPlanVersion.bind(source);
  const found = await Promise.all(wanted.map((v) => getPlanVersion(sessionId, v)));
  return found.filter((p): p is PlanVersionRecord => p !== undefined && wanted.includes(p.plan.version));
}

/**
 * A snapshot with the plan history a client asked for: every version whole (`'full'` or undefined),
 * `planChanges` and the current plan only (`'changes'`), or `planChanges` plus the last N versions whole
 * (a number). With `edits: false` each change keeps the ids it added, removed and changed but not its
 * edit bodies (a version's edits are then fetched with the version), so twenty 200 KB edits are a few
 * KB. A source that ignores the option and answers with every version is trimmed to what was asked.
 *
 * A `cursor` pages the change list: `planChanges` is then the newest `limit` changes below version
 * `before`, and `planChangesPage` says how many are older and newer; with a number `history`, the
 * versions sent whole are the last N of the page.
 *
 * @param source - the agent or view
 * @param sessionId - the session
 * @param history - `'full'` (default), `'changes'`, or how many of the latest versions to send whole
 * @param edits - whether each change carries its edits (default true)
 * @param cursor - which page of `planChanges` (default: all of them)
 * @returns the snapshot to send
 * @throws DreamAgentError `INVALID_INPUT` for a bad cursor (checked before anything is read); whatever
 * `source.getSession` throws (`SESSION_NOT_FOUND`, `FORBIDDEN`, …)
 * @example
 * ```ts
 * const page = await snapshotWithHistory(agent, id, 'changes', false, { limit: 50 });
 * const older = await snapshotWithHistory(agent, id, 'changes', false, {
 *   limit: 50,
 *   before: page.planChanges?.[0]?.version,
 * });
 * ```
 */
export async function snapshotWithHistory(
  source: SnapshotSource,
  sessionId: string,
  history: number | 'full' | 'changes' | undefined,
  edits = true,
  cursor: PlanChangesCursor = {},
): Promise<HistorySnapshot> {
  checkCursor(cursor, history);
  if (history === undefined || history === 'full') return source.getSession(sessionId);
  const got = await source.getSession(sessionId, { history: 'changes' });
  let snap: HistorySnapshot =
    edits || got.planChanges === undefined
      ? got
      : { ...got, planChanges: got.planChanges.map((c) => ({ ...c, edits: [] })) };
  if ((cursor.limit !== undefined || cursor.before !== undefined) && snap.planChanges !== undefined) {
    const all = snap.planChanges;
    const { before, limit } = cursor;
    let end = all.length;
    if (before !== undefined) {
      end = all.findIndex((c) => c.version >= before);
      if (end < 0) end = all.length;
    }
    const start = limit === undefined ? 0 : Math.max(0, end - limit);
    snap = {
      ...snap,
      planChanges: all.slice(start, end),
      planChangesPage: { total: all.length, older: start, newer: all.length - end },
    };
  }
  if (history === 'changes') return snap;
  if (snap.planChanges === undefined) {
    if (snap.planHistory.length <= history) return snap;
    return { ...snap, planHistory: history === 0 ? [] : snap.planHistory.slice(-history) };
  }
  const last = history === 0 ? [] : snap.planChanges.slice(-history).map((c) => c.version);
  return { ...snap, planHistory: last.length ? await planVersions(source, sessionId, last) : [] };
}
