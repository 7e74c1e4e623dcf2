/**
 * `@dream-agent/postgres`: the PostgreSQL {@link PostgresStore} (durable sessions shared by many nodes,
 * one round trip per cycle, fencing leases), a LISTEN/NOTIFY {@link PostgresEventBus}, and the schema
 * {@link migrate} function.
 *
 * @packageDocumentation
 */
export { PostgresStore } from './store.js';
export type { PostgresStoreOptions, ClaimedSession } from './store.js';
export { PostgresEventBus, CATCH_UP_MESSAGE } from './bus.js';
export type { PostgresEventBusOptions } from './bus.js';
export { migrate } from './migrate.js';
export type { MigrateOptions, MigrateResult } from './migrate.js';
export { MIGRATIONS } from './migrations.js';
export type { Migration } from './migrations.js';
export { isConnectionError } from './connection.js';
export type { PostgresConnection, RetryMode } from './connection.js';
