/**
 * Schema validation cost, hostile patterns included. Prints one JSON object.
 *
 * - the two patterns seen hanging V8 (`^(a+)+$`: 10.6 s at 29 characters; `^\d*\d*\d*\d*$`: 8.5 s at
 *   400) validated at 100 / 1,000 / 10,000 characters on the linear-time engine, with V8's own time on
 *   sizes where it still returns quickly, for contrast;
 * - the worst and p99 time per validation over random hostile patterns (nested and adjacent
 *   repetitions, overlapping alternatives) on 10,000-character near-miss inputs: the bound;
 * - a typical tool schema: cold compile, cached compile, one validation.
 *
 *   npx tsx bench/schema.ts          # or `npm run bench schema`
 *   BENCH_QUICK=1 npx tsx bench/schema.ts
 */
import fc from 'fast-check';
import { compileSchema } from '../src/schema/index.js';
import { round1, round2 } from './lib.js';

const quick = process.env['BENCH_QUICK'] === '1';

const usOf = (f: () => unknown, reps: number): number => {
  let best = Infinity;
  for (let r = 0; r < reps; r += 1) {
    const t0 = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return best;
};

function validator(schema: unknown): (v: unknown) => boolean {
  const r = compileSchema(schema);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return (v) => r.validator.validate(v).ok;
}

function knownHostile(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const cases: [string, string, (n: number) => string, number][] = [
    ['nestedPlus', '^(a+)+$', (n) => `${'a'.repeat(n - 1)}!`, 22],
    ['polynomialDigits', '^\\d*\\d*\\d*\\d*$', (n) => `${'1'.repeat(n - 1)}x`, 100],
  ];
  for (const [name, pattern, input, v8Size] of cases) {
    const check = validator({ type: 'string', pattern });
    const row: Record<string, number> = {};
    for (const n of [100, 1000, 10_000]) {
      const s = input(n);
      if (check(s)) throw new Error('expected a mismatch');
      row[`us_n${n}`] = round1(usOf(() => check(s), 5));
    }
    row['ratio10000to1000'] = round2((row['us_n10000'] ?? 0) / (row['us_n1000'] ?? 1));
    // V8's backtracking engine on the same pattern, at a size it still finishes (it doubles per character).
    const re = new RegExp(pattern);
    const small = input(v8Size);
    row[`v8_us_n${v8Size}`] = round1(usOf(() => re.test(small), 1));
    row[`linear_us_n${v8Size}`] = round1(usOf(() => check(small), 5));
    out[name] = { pattern, ...row };
  }
  return out;
}

function randomHostile(count: number): Record<string, number> {
  const atom = fc.constantFrom('a', '\\d', '\\w', '[ab]', '.', '(a|a)', '(a|ab)', '\\s?a');
  const q = fc.constantFrom('+', '*', '{1,}', '{2,}');
  const pattern = fc
    .tuple(
      fc.array(fc.tuple(atom, q), { minLength: 1, maxLength: 4 }),
      q,
      fc.constantFrom('$', 'b$', '!', ''),
    )
    .map(([parts, outer, tail]) => `^(${parts.map(([a, x]) => a + x).join('')})${outer}${tail}`);
  const patterns = fc.sample(pattern, { numRuns: count, seed: 42 });
  const inputs = [`${'a'.repeat(9_999)}!`, `${'1'.repeat(9_999)}x`, 'ab'.repeat(5_000)];
  const times: number[] = [];
  for (const p of patterns) {
    const check = validator({ type: 'string', pattern: p });
    for (const s of inputs) times.push(usOf(() => check(s), 1));
  }
  times.sort((a, b) => a - b);
  return {
    patterns: patterns.length,
    validations: times.length,
    inputLength: 10_000,
    p50us: round1(times[Math.floor(times.length * 0.5)] ?? 0),
    p99us: round1(times[Math.floor(times.length * 0.99)] ?? 0),
    maxUs: round1(times[times.length - 1] ?? 0),
  };
}

function typical(): Record<string, number> {
  const schema = (i: number): unknown => ({
    type: 'object',
    properties: {
      period: { type: 'string', pattern: '^\\d{4}-Q[1-4]$' },
      region: { enum: ['emea', 'amer', 'apac'] },
      limit: { type: 'integer', minimum: 1, maximum: 1000 },
      tags: { type: 'array', items: { type: 'string', maxLength: 40 }, maxItems: 10 },
      nonce: { const: i },
    },
    required: ['period'],
    additionalProperties: false,
  });
  let i = 0;
  const cold = usOf(() => compileSchema(schema(i++)), 20);
  const s = schema(-1);
  compileSchema(s);
  const cached = usOf(() => compileSchema(schema(-1)), 200);
  const check = validator(s);
  const value = { period: '2026-Q3', region: 'emea', limit: 10, tags: ['a', 'b'], nonce: -1 };
  if (!check(value)) throw new Error('expected valid');
  const validate = usOf(() => check(value), 500);
  return { compileColdUs: round1(cold), compileCachedUs: round1(cached), validateUs: round2(validate) };
}

const out = {
  bench: 'schema',
  node: process.version,
  quick,
  knownHostile: knownHostile(),
  randomHostile: randomHostile(quick ? 40 : 200),
  typicalToolSchema: typical(),
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
