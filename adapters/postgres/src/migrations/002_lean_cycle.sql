-- dream-agent PostgreSQL store, migration 2: a leaner cycle.
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
