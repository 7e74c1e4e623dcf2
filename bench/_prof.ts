import { SqliteStore } from '@dream-agent/sqlite';
import { cycler } from './lib.js';
const mem = new SqliteStore({ database: ':memory:' });
const f = await cycler(mem, 'm');
const t = performance.now();
for (let i = 0; i < 100000; i++) await f();
console.log('us/commit', ((performance.now() - t) * 1000) / 100000);
