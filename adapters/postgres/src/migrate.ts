import type { Pool } from 'pg';
import { openPool, quoteIdent, toAgentError, type PostgresConnection } from './connection.js';
import { MIGRATIONS } from './migrations.js';

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The schema holding the store's tables (default `dream_agent`); created when missing. */
  schema?: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Versions applied by this call, ascending (empty when the schema was current). */
  applied: number[];
  /** The schema version now. */
  version: number;
}

/** @internal */
export const DEFAULT_SCHEMA = 'dream_agent';

/**
 * Brings the store's schema up to date: creates the schema and its `schema_migrations` table when
 * missing and applies, in one transaction, every migration not yet recorded. Safe to call from several
 * nodes at once (a transaction-scoped advisory lock serialises them) and on every start-up.
 *
 * @param connection - the user's `pg.Pool`, or a connection string
 * @param options - the schema name
 * @returns the versions applied and the current version
 * @throws `UNAVAILABLE` when PostgreSQL cannot be reached; `INVALID_INPUT` for a bad schema name
 * @example
 * ```ts
 * import { migrate } from '@dream-agent/postgres';
 * await migrate({ connectionString: process.env.DATABASE_URL! });
 * ```
 */
export async function migrate(
  connection: PostgresConnection | Pool,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const handle = isPool(connection) ? { pool: connection, owned: false } : openPool(connection);
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const s = quoteIdent(schema);
  try {
    const client = await handle.pool.connect().catch((e: unknown) => {
      throw toAgentError(e, 'migrate');
    });
    const swallow = (): void => undefined;
    client.on('error', swallow);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dream_agent.migrate:${schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)).rows.map(
          (r) => r.version,
        ),
      );
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query(`SET LOCAL search_path TO ${s}, pg_catalog`);
        await client.query(m.sql);
        await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
          m.version,
          m.name,
        ]);
        applied.push(m.version);
      }
      await client.query('COMMIT');
      const version = Math.max(0, ...done, ...applied);
      client.removeListener('error', swallow);
      client.release();
      return { applied, version };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(e instanceof Error ? e : true);
      throw toAgentError(e, 'migrate');
    }
  } finally {
    if (handle.owned) await handle.pool.end().catch(() => undefined);
  }
}

/** @internal */
export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { connect?: unknown }).connect === 'function' &&
    typeof (value as { query?: unknown }).query === 'function'
  );
}
