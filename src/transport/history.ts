/**
 * The plan history a transport sends with a session snapshot, shared by the REST and WebSocket
 * adapters: every version whole, the list of changes with the current plan only, or the changes plus
 * the last N versions read one at a time — never the whole history when a client asked for less.
 *
 * @packageDocumentation
 */
import type { PlanVersionRecord } from '../model/plan.js';
import type { SessionSnapshot } from '../model/session.js';

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
 * @param source - the agent or view
 * @param sessionId - the session
 * @param history - `'full'` (default), `'changes'`, or how many of the latest versions to send whole
 * @param edits - whether each change carries its edits (default true)
 * @returns the snapshot to send
 * @throws DreamAgentError whatever `source.getSession` throws (`NOT_FOUND`, `FORBIDDEN`, …)
 */
export async function snapshotWithHistory(
  source: SnapshotSource,
  sessionId: string,
  history: number | 'full' | 'changes' | undefined,
  edits = true,
): Promise<SessionSnapshot> {
  if (history === undefined || history === 'full') return source.getSession(sessionId);
  const got = await source.getSession(sessionId, { history: 'changes' });
  const snap =
    edits || got.planChanges === undefined
      ? got
      : { ...got, planChanges: got.planChanges.map((c) => ({ ...c, edits: [] })) };
  if (history === 'changes') return snap;
  if (snap.planChanges === undefined) {
    if (snap.planHistory.length <= history) return snap;
    return { ...snap, planHistory: history === 0 ? [] : snap.planHistory.slice(-history) };
  }
  const last = history === 0 ? [] : snap.planChanges.slice(-history).map((c) => c.version);
  return { ...snap, planHistory: last.length ? await planVersions(source, sessionId, last) : [] };
}
