/**
 * The repository's own tests import the service harness from here; it lives in the private workspace
 * package `@dream-agent/test-services` (`test/services/`), which adapter tests import by name.
 */
export {
  ensureFaissNode,
  freePort,
  serviceSkipReason,
  startChroma,
  startPostgres,
  startRedis,
  type ChromaService,
  type PostgresService,
  type RedisService,
  type ServiceName,
  type StartPostgresOptions,
} from '@dream-agent/test-services';
