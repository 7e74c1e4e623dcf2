import type { Logger } from 'dream-agent';

/** One audit entry: who did what to which session, through which transport, and how it ended. */
export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  roles: string[];
  transport: 'http' | 'ws';
  sessionId: string | null;
  /** Command type, `turn.start`, or an admin action (`apikey.create`…). */
  action: string;
  commandId: string | null;
  outcome: 'accepted' | 'rejected' | 'forbidden';
  /** The error code of a refusal. */
  error: string | null;
}

/**
 * The audit log: every command (accepted, refused, or forbidden by role) with its actor. Kept in a
 * bounded in-memory ring for the UI and the admin API, and written as structured log lines — ship
 * those to your log store for retention (the core's own inbox also keeps every applied command with its actor).
 */
export class AuditLog {
  readonly #entries: AuditEntry[] = [];
  readonly #max: number;
  readonly #logger: Logger;
  #seq = 0;

  /**
   * @param logger - where entries are also written
   * @param max - entries kept in memory (default 10 000)
   */
  constructor(logger: Logger, max = 10_000) {
    this.#logger = logger;
    this.#max = max;
  }

  /** Records an entry. */
  record(entry: Omit<AuditEntry, 'seq' | 'at'>): AuditEntry {
    const full: AuditEntry = { seq: ++this.#seq, at: Date.now(), ...entry };
    this.#entries.push(full);
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max);
    this.#logger.info({ audit: full }, 'audit');
    return full;
  }

  /**
   * @param filter - optional session id and page size
   * @returns entries, newest last
   */
  list(filter: { sessionId?: string; limit?: number } = {}): AuditEntry[] {
    const rows = filter.sessionId
      ? this.#entries.filter((e) => e.sessionId === filter.sessionId)
      : this.#entries;
    return rows.slice(-(filter.limit ?? 500));
  }
}
