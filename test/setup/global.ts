/**
 * vitest global setup. Real services (PostgreSQL, Redis) are started by `test/setup/services.ts`
 * when a test file asks for them; this hook only makes sure they are stopped at the end.
 */
export default function setup(): () => Promise<void> {
  return async () => {
    /* services register their own teardown */
  };
}
