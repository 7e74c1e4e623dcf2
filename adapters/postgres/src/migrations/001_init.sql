-- dream-agent PostgreSQL store, migration 1: the initial schema.
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
