/**
 * `@dream-agent/sqlite`: the SQLite {@link SqliteStore} on better-sqlite3 — durable sessions on one
 * machine, WAL mode, one transaction per cycle.
 *
 * @packageDocumentation
 */
export { SqliteStore } from './store.js';
export type { SqliteStoreOptions } from './store.js';
