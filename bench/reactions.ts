/**
 * Immediate reactions under load on PostgreSQL: `npx tsx bench/reactions.ts [sessions]` (default 200).
 *
 * Every session is reviewed and approved by a client that answers each request the moment its event
 * arrives (see `adapters/postgres/test/reactions.ts`). Prints sessions/s, false refusals (answers
 * refused although they answered a request the agent had just announced: the target is 0),
 * sessions that did not complete, and the command → first-event latency. Loopback, bounded.
 */
import pg from 'pg';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { startPostgres } from '../test/setup/services.js';
import { immediateReactions } from '../adapters/postgres/test/reactions.js';

const sessions = Number(process.argv[2] ?? 200);
const server = await startPostgres({ fsync: true });
const pool = new pg.Pool({ connectionString: server.url, max: 20 });
try {
  await migrate(pool);
  const rounds = [];
  for (let r = 0; r < 2; r += 1) {
    const report = await immediateReactions(new PostgresStore({ pool }), sessions);
    const lat = [...report.reactionMs].sort((a, b) => a - b);
    const at = (p: number): number =>
      Math.round((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0) * 100) / 100;
    rounds.push({
      sessions,
      sessionsPerSec: Math.round((sessions / report.elapsedMs) * 1000 * 10) / 10,
      falseRefusals: report.falseRefusals.length,
      notCompleted: report.notCompleted.length,
      commandToFirstEventMs: { p50: at(0.5), p99: at(0.99) },
    });
  }
  console.log(
    JSON.stringify({ postgres: 'fsync=on', rounds, target: { falseRefusals: 0, notCompleted: 0 } }, null, 2),
  );
} finally {
  await pool.end();
  await server.stop();
}
