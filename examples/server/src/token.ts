/**
 * `npm run token -w @dream-agent/example-server -- <user> <role,role…> [ttlSeconds] [tenant]`: prints a
 * JWT signed with the server's JWT_SECRET (same environment as `npm start`), to paste into the console's
 * sign-in or send as `Authorization: Bearer …`. The token carries the tenant (DEFAULT_TENANT when
 * omitted): its holder sees only that tenant's sessions. The local alternative to the dev sign-in, which
 * is off by default.
 */
import { Auth, TENANT_PATTERN } from './auth.js';
import { loadConfig } from './config.js';

const [user, roles, ttl, tenantArg] = process.argv.slice(2);
if (!user || !roles) {
  process.stderr.write('usage: npm run token -- <user> <role,role…> [ttlSeconds] [tenant]\n');
  process.exit(2);
}
const config = loadConfig();
const auth = new Auth({ secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience });
const seconds = ttl ? Number(ttl) : 8 * 3600;
if (!Number.isInteger(seconds) || seconds <= 0 || seconds > config.jwtMaxTtlSeconds) {
  process.stderr.write(`ttlSeconds must be an integer in 1..${config.jwtMaxTtlSeconds}\n`);
  process.exit(2);
}
const tenant = tenantArg ?? config.defaultTenant;
if (!TENANT_PATTERN.test(tenant)) {
  process.stderr.write(`tenant must match ${String(TENANT_PATTERN)}\n`);
  process.exit(2);
}
process.stdout.write(`${await auth.sign(user, roles.split(','), seconds, tenant)}\n`);
