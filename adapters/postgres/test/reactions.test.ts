import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, migrate } from '@dream-agent/postgres';
import { serviceSkipReason, startPostgres, type PostgresService } from '@dream-agent/test-services';
import { immediateReactions } from './reactions.js';

const skip = serviceSkipReason('postgres');

if (skip) {
  describe.skip(`immediate reactions on PostgreSQL — skipped: ${skip}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  let server: PostgresService;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 20 });
    await migrate(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  describe('immediate reactions on PostgreSQL', () => {
    it('200 concurrent sessions answering every request the moment its event arrives: zero false refusals, all complete', async () => {
      const report = await immediateReactions(new PostgresStore({ pool }), 200);
      expect(report.falseRefusals).toEqual([]);
      expect(report.notCompleted).toEqual([]);
      expect(report.completed).toBe(200);
    }, 120_000);
  });
}
