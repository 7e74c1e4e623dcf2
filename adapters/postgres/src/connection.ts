import pg from 'pg';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { DreamAgentError, isDreamAgentError } from 'dream-agent';

/** How an adapter reaches PostgreSQL: the user's own pool, or a connection string / pool config. */
export type PostgresConnection =
  { pool: Pool } | { connectionString: string; poolConfig?: Omit<PoolConfig, 'connectionString'> };

/** @internal a pool plus whether we own it (and must end it on close). */
export interface PoolHandle {
  pool: Pool;
  owned: boolean;
}

/** @internal */
export function openPool(conn: PostgresConnection): PoolHandle {
  if ('pool' in conn) {
    // An idle pooled client whose server went away emits 'error' on the pool; without a listener Node
    // treats it as an uncaught exception and the process dies — exactly when runs should pause instead.
    if (conn.pool.listenerCount('error') === 0) conn.pool.on('error', () => undefined);
    return { pool: conn.pool, owned: false };
  }
  const pool = new pg.Pool({
    connectionTimeoutMillis: 5_000,
    max: 10,
    ...conn.poolConfig,
    connectionString: conn.connectionString,
  });
  pool.on('error', () => undefined);
  return { pool, owned: true };
}

const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/** SQLSTATEs that mean "the server is going away, starting, or overloaded": retry later. */
const TRANSIENT_SQLSTATE = new Set(['57P01', '57P02', '57P03', '53300', '53400', '40001', '40P01']);
const CONNECTION_MESSAGE =
  /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|client was closed|terminating connection|connection refused|socket hang up/i;

/**
 * Whether a thrown value means PostgreSQL is (momentarily) unreachable rather than that the query is bad.
 *
 * @param e - anything caught from pg
 * @returns true for connection loss, admin shutdown, startup, too many connections, 08xxx
 */
export function isConnectionError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECTION_ERRNO.has(code) || TRANSIENT_SQLSTATE.has(code) || code.startsWith('08')) return true;
  }
  const message = (e as { message?: unknown }).message;
  return typeof message === 'string' && CONNECTION_MESSAGE.test(message);
}

/** @internal maps a pg error to a DreamAgentError (UNAVAILABLE for connection loss, INTERNAL otherwise). */
export function toAgentError(e: unknown, what: string): DreamAgentError {
  if (isDreamAgentError(e)) return e;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (isConnectionError(e)) {
    return new DreamAgentError('UNAVAILABLE', `PostgreSQL is unavailable (${what}): ${message}`, {
      retryable: true,
      cause: e,
      details: { pgCode: typeof code === 'string' ? code : null },
    });
  }
  if (code === '22P05' || code === '22021' || code === '54000') {
    return new DreamAgentError('INVALID_INPUT', `PostgreSQL refused the value (${what}): ${message}`, {
      cause: e,
      details: { pgCode: code },
    });
  }
  return new DreamAgentError('INTERNAL', `PostgreSQL error (${what}): ${message}`, {
    cause: e,
    details: { pgCode: typeof code === 'string' ? code : null },
  });
}

/** How a failed operation may be retried. */
export type RetryMode =
  /** Reads and idempotent writes: retried on any connection error. */
  | 'always'
  /** Non-idempotent writes: retried only when the connection failed before the query was sent. */
  | 'before-send';

/** @internal runs `fn` on a pooled client, retrying connection errors with backoff until `timeoutMs`. */
export async function withClient<T>(
  pool: Pool,
  what: string,
  mode: RetryMode,
  timeoutMs: number,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      if (!isConnectionError(e) || Date.now() - started >= timeoutMs) throw toAgentError(e, what);
      await sleep(Math.min(50 * 2 ** attempt, 1000));
      continue;
    }
    // pg-pool removes its own 'error' listener while a client is checked out, and a connection that
    // dies mid-query emits 'error' besides rejecting the query: without this, the process would crash.
    const swallow = (): void => undefined;
    client.on('error', swallow);
    try {
      const out = await fn(client);
      client.removeListener('error', swallow);
      client.release();
      return out;
    } catch (e) {
      const lost = isConnectionError(e);
      // A client that saw a connection error is destroyed, never handed out again.
      client.release(lost ? (e instanceof Error ? e : true) : undefined);
      if (!lost) client.removeListener('error', swallow);
      if (!lost || mode === 'before-send' || Date.now() - started >= timeoutMs) throw toAgentError(e, what);
      await sleep(Math.min(50 * 2 ** attempt, 1000));
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** @internal quotes an identifier. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `schema names use letters, digits and "_" (max 63), got "${name}"`,
    );
  }
  return `"${name}"`;
}
