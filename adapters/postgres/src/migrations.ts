/**
 * The versioned schema migrations of the PostgreSQL store. Each entry is also a documented SQL file in
 * `src/migrations/` (a test keeps the two identical); `migrate()` applies the missing ones in order.
 */

/** One schema migration. */
export interface Migration {
  /** Strictly increasing, starting at 1. */
  version: number;
  /** A short name (the SQL file is `<version padded to 3>_<name>.sql`). */
  name: string;
  /** The SQL, run with `search_path` set to the store's schema. */
  sql: string;
}

/** Every migration, oldest first. Never edit a released one: add a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `-- dream-agent PostgreSQL store, migration 1: the initial schema.
--
-- migrate() runs this inside one transaction with 'SET LOCAL search_path' pointing at the store's
-- schema (default 'dream_agent'), under an advisory lock so several nodes may call migrate() at once.
-- Times are epoch milliseconds (bigint) so that a store given an injected clock and a store using the
-- database clock write the same representation.

-- One row per session: optimistic version, fencing lease, and the small bounded state (rewritten by
-- every commit; fillfactor leaves room for HOT updates: no indexed column changes on a usual commit).
CREATE TABLE sessions (
  id               text COLLATE "C" PRIMARY KEY,
  version          bigint NOT NULL,
  status           text   NOT NULL,
  last_seq         bigint NOT NULL DEFAULT 0,
  lease_epoch      bigint NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_expires_at bigint NOT NULL DEFAULT 0,
  state            jsonb  NOT NULL,
  created_at       bigint NOT NULL,
  updated_at       bigint NOT NULL
) WITH (fillfactor = 80);

-- Recovery scans running sessions (status changes rarely, so most commits stay HOT).
CREATE INDEX sessions_status_idx ON sessions (status, id);

-- The append-only event log, per-session seq without gaps.
CREATE TABLE events (
  session_id text COLLATE "C" NOT NULL,
  seq        bigint NOT NULL,
  event      jsonb  NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- Todo states, upserted as deltas.
CREATE TABLE todos (
  session_id text COLLATE "C" NOT NULL,
  turn_id    text NOT NULL,
  todo_id    text NOT NULL,
  record     jsonb NOT NULL,
  PRIMARY KEY (session_id, turn_id, todo_id)
);

-- Plan versions: append-only history; the primary key refuses a duplicate version.
CREATE TABLE plan_versions (
  session_id text COLLATE "C" NOT NULL,
  plan_id    text NOT NULL,
  version    integer NOT NULL,
  record     jsonb NOT NULL,
  PRIMARY KEY (session_id, plan_id, version)
);

-- The command inbox; n keeps arrival order.
CREATE TABLE inbox (
  n           bigserial,
  session_id  text COLLATE "C" NOT NULL,
  id          text NOT NULL,
  command     jsonb NOT NULL,
  actor       text NOT NULL,
  received_at bigint NOT NULL,
  status      text NOT NULL DEFAULT 'pending',
  error       jsonb,
  PRIMARY KEY (session_id, id)
);
CREATE INDEX inbox_pending_idx ON inbox (session_id, n) WHERE status = 'pending';

-- Lets one commit statement abort itself (and everything it wrote) with a typed SQLSTATE.
CREATE FUNCTION dream_fail(code text, message text) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'lean_cycle',
    sql: `-- dream-agent PostgreSQL store, migration 2: a leaner cycle.
--
-- Measured with bench/postgres.ts (perf on the backend, pg_stat_statements): a cycle's cost was server
-- CPU, not fsync. Per cycle the store paid one heap row and one index entry per event, a jsonb parse of
-- every payload (jsonb input builds a binary tree: 2.5-5x the cost of json's validating copy on 1 KB
-- documents) and executor start-up for writable CTEs it did not need. This migration changes the two
-- tables every cycle writes; sessions (HOT-updated), plan_versions and inbox are unchanged.
--
-- It moves existing events and rewrites todos once (ACCESS EXCLUSIVE locks for the duration): run it
-- from a deploy step, with nodes of the previous release stopped (they write to the old events table).

-- 1. The event log: ONE row per commit, holding that commit's events as a json array (seqs first_seq ..
--    last_seq, contiguous). One heap tuple and one index entry per cycle, whatever the event count.
--    readEvents() finds the batches overlapping (after, after + limit] by (session_id, last_seq) and
--    slices the first and last batch in the client; json keeps the text exactly as written, so reading
--    is a copy, not a jsonb-to-text rendering.
CREATE TABLE event_batches (
  session_id text COLLATE "C" NOT NULL,
  first_seq  bigint NOT NULL,
  last_seq   bigint NOT NULL,
  events     json   NOT NULL,
  PRIMARY KEY (session_id, last_seq)
);

-- Existing events become one-event batches (seqs stay contiguous: the old table had no gaps).
INSERT INTO event_batches (session_id, first_seq, last_seq, events)
SELECT session_id, seq, seq, json_build_array(event) FROM events;

DROP TABLE events;

-- 2. The old shape, read-only, for ad-hoc queries and reports written against migration 1:
--    one row per event with its seq and the event as jsonb.
CREATE VIEW events AS
SELECT b.session_id, b.first_seq + e.ord - 1 AS seq, e.event::jsonb AS event
FROM event_batches b CROSS JOIN LATERAL json_array_elements(b.events) WITH ORDINALITY AS e(event, ord);

-- 3. Todo records are only ever written and read whole by the store: json (a validated copy) instead
--    of jsonb (a parsed tree). ->/->> still work for ad-hoc queries. A todo row is inserted small
--    (pending) and updated as it runs and completes: fillfactor leaves room on the page so that those
--    updates can stay HOT (no new index entry; the primary key columns never change).
ALTER TABLE todos SET (fillfactor = 80);
ALTER TABLE todos ALTER COLUMN record TYPE json USING record::json;
`,
  },
  {
    version: 3,
    name: 'tenants',
    sql: `-- dream-agent PostgreSQL store, migration 3: tenants and owners.
--
-- Sessions gain the tenant and the principal that own them, so that hosts can authorise reads and
-- commands and list "my sessions" from storage across nodes. Both are set once, by createSession, and
-- never change: a commit never touches an indexed column, so the session row's per-cycle update stays
-- HOT (no new index entries). Adding nullable columns without a default only changes the catalog (no
-- table rewrite, a brief ACCESS EXCLUSIVE lock): safe to run while the previous release is serving.
-- Existing sessions keep NULL (no tenant, no owner).
ALTER TABLE sessions ADD COLUMN tenant_id text COLLATE "C", ADD COLUMN owner_id text COLLATE "C";

-- listSessions({ tenantId, ownerId?, after }) pages a tenant's sessions by id; ({ ownerId }) pages one
-- principal's. Partial: sessions without a tenant (or owner) cost these indexes nothing.
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, owner_id, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX sessions_owner_idx ON sessions (owner_id, id) WHERE owner_id IS NOT NULL;
`,
  },
];
