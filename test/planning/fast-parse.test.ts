import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findPlanIssues } from '../../src/dag/validate.js';
import { PlanDraftSchema } from '../../src/model/plan.js';
import { fastIntent, fastPlanDraft, planJsonBounds } from '../../src/model/fast-parse.js';
import { IntentSchema } from '../../src/model/intent.js';

/** A todo id, valid most of the time. */
const id = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', 'a b', 'x'.repeat(65), 'é', '__proto__', 'constructor') },
);

/** Values a planner might put where JSON goes: JSON mostly, and what JSON cannot hold. */
const oddValue = fc.constantFrom<unknown>(
  undefined,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -0,
  new Date(0),
  new Map(),
  Object.create(null) as object,
  // eslint-disable-next-line no-sparse-arrays -- a hole is one of the inputs under test
  [1, , 3],
  () => 1,
  Symbol('s'),
  10n,
  JSON.parse('{"__proto__":{"x":1}}') as unknown,
  { [Symbol('k')]: 1 },
  Object.defineProperty({}, 'hidden', { value: 1, enumerable: false }),
);
const json: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    {
      weight: 6,
      arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string(), fc.integer()),
    },
    { weight: 2, arbitrary: fc.array(tie('v'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), tie('v'), { maxKeys: 4 }) },
    { weight: 1, arbitrary: oddValue },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(Infinity, -Infinity, Number.NaN, -0, 1e308) },
  ),
})).v;
const record = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 4 }) },
  { weight: 1, arbitrary: oddValue },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], 'x', 1, null) },
);
const text = (max: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('x'.repeat(max), 'x'.repeat(max + 1), 1, null) },
  );
const approval = fc.oneof(
  fc.boolean(),
  fc.record(
    {
      required: fc.oneof(fc.boolean(), fc.constant<unknown>('yes')),
      reason: text(50),
      risk: fc.constantFrom<unknown>('low', 'medium', 'high', 'huge'),
      roles: fc.oneof(fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }), fc.constant<unknown>([1])),
      extra: fc.constant<unknown>(1),
    },
    { requiredKeys: [] },
  ),
  oddValue,
);
/** Mostly valid drafts: the common case the fast path must accept. */
const validTodo = fc.record(
  {
    id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
    title: fc.string({ minLength: 1, maxLength: 12 }),
    domain: fc.constantFrom('work', 'data'),
    input: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }),
    dependsOn: fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 2 }),
    idempotent: fc.boolean(),
    approval: fc.oneof(
      fc.boolean(),
      fc.record({ required: fc.boolean(), risk: fc.constantFrom('low', 'high') }),
    ),
    timeoutMs: fc.integer({ min: 1, max: 60_000 }),
    metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
  },
  { requiredKeys: ['id', 'title', 'domain'] },
);

/** A valid todo with at most one field replaced by an edge value (valid or not): near misses. */
const FIELDS = [
  'id',
  'title',
  'description',
  'domain',
  'tool',
  'input',
  'dependsOn',
  'approval',
  'resource',
  'idempotent',
  'timeoutMs',
  'metadata',
  'dependson',
] as const;
const edgeFor = (field: (typeof FIELDS)[number]): fc.Arbitrary<unknown> => {
  switch (field) {
    case 'id':
      return id;
    case 'title':
      return text(500);
    case 'description':
      return text(5000);
    case 'domain':
    case 'resource':
      return text(64);
    case 'tool':
      return text(200);
    case 'input':
    case 'metadata':
      return record;
    case 'dependsOn':
      return fc.oneof(fc.array(id, { maxLength: 3 }), fc.constantFrom<unknown>(undefined, 'a', [1], null));
    case 'approval':
      return approval;
    case 'idempotent':
      return fc.oneof(fc.boolean(), fc.constant<unknown>(1), oddValue);
    case 'timeoutMs':
      return fc.oneof(
        fc.integer({ min: -2, max: 10_000 }),
        fc.constantFrom<unknown>(
          0,
          1.5,
          Number.MAX_SAFE_INTEGER,
          Number.MAX_SAFE_INTEGER + 2,
          Number.NaN,
          Infinity,
          '5',
        ),
      );
    case 'dependson':
      return fc.constant<unknown>([]); // a misspelt key
  }
};
const todo = fc.oneof(
  { weight: 3, arbitrary: validTodo as fc.Arbitrary<unknown> },
  {
    weight: 12,
    arbitrary: fc
      .constantFrom(...FIELDS)
      .chain((field) => fc.tuple(validTodo, fc.constant(field), edgeFor(field)))
      .map(([t, field, v]) => ({ ...t, [field]: v }) as unknown),
  },
  { weight: 1, arbitrary: oddValue },
);
const draft = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record(
      {
        todos: fc.oneof(
          { weight: 8, arbitrary: fc.array(todo, { minLength: 1, maxLength: 3 }) },
          { weight: 1, arbitrary: oddValue },
        ),
        rationale: fc.oneof(
          { weight: 4, arbitrary: fc.string({ maxLength: 5 }) },
          { weight: 1, arbitrary: oddValue },
        ),
        extra: fc.constant<unknown>(true),
      },
      { requiredKeys: ['todos'] },
    ),
  },
  { weight: 1, arbitrary: oddValue },
);

/** Whether two values are the same JSON, key order included. */
const sameJson = (a: unknown, b: unknown): void => expect(JSON.stringify(a)).toBe(JSON.stringify(b));

describe('the plan draft fast path', () => {
  it('returns exactly what the zod schema returns whenever it vouches for a draft (random drafts, valid or not)', () => {
    fc.assert(
      fc.property(draft, (raw) => {
        const fast = fastPlanDraft(raw);
        const parsed = PlanDraftSchema.safeParse(raw);
        if (fast === undefined) return; // the schema decides
        expect(parsed.success).toBe(true);
        if (!parsed.success) return;
        sameJson(fast, parsed.data);
        expect(fast).toEqual(parsed.data);
      }),
      { numRuns: 3000 },
    );
  });

  it('vouches for the valid drafts planners write, copies every value, and bounds their JSON size', () => {
    fc.assert(
      fc.property(
        fc.array(validTodo, { maxLength: 8 }),
        fc.option(fc.string(), { nil: undefined }),
        (todos, rationale) => {
          const raw = rationale === undefined ? { todos } : { todos, rationale };
          const parsed = PlanDraftSchema.safeParse(raw);
          expect(parsed.success).toBe(true);
          const fast = fastPlanDraft(raw);
          // A `__proto__` key is one thing it leaves to the schema (which drops it).
          if (JSON.stringify(raw).includes('"__proto__"')) return;
          expect(fast).toBeDefined();
          if (!fast || !parsed.success) return;
          sameJson(fast, parsed.data);
          // Nothing aliases what the planner returned.
          fast.todos.forEach((t, i) => {
            const src = todos[i] as (typeof todos)[number];
            expect(t).not.toBe(src);
            expect(t.input).not.toBe(src.input);
            if (src.dependsOn) expect(t.dependsOn).not.toBe(src.dependsOn);
            if (src.metadata) expect(t.metadata).not.toBe(src.metadata);
          });
          // The size bounds are upper bounds of the exact sizes the limits check.
          const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');
          const b = planJsonBounds(fast.todos);
          expect(b).toBeDefined();
          expect(b?.total).toBeGreaterThanOrEqual(bytes(fast.todos));
          for (const t of fast.todos) expect(b?.largest).toBeGreaterThanOrEqual(bytes(t));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('bounds strings that JSON escapes or encodes in several bytes', () => {
    const raw = {
      todos: [{ id: 'a', title: '\u0000"\\\u{1F600}é\ud800', domain: 'w', input: { '\n': '\u001f€' } }],
    };
    const fast = fastPlanDraft(raw);
    expect(fast).toBeDefined();
    const b = planJsonBounds(fast?.todos ?? []);
    expect(b?.largest).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(fast?.todos[0]), 'utf8'));
  });

  it('steps aside for what it cannot vouch for, and the schema still refuses it', () => {
    for (const raw of [
      { todos: [{ id: 'a', title: 't', domain: 'w', dependson: [] }] },
      { todos: [{ id: 'a', title: 't', domain: 'w', input: { x: Number.NaN } }] },
      { todos: [{ id: 'a', title: 't', domain: 'w', input: new Map() }] },
      { todos: [{ id: 'a b', title: 't', domain: 'w' }] },
      { todos: [], extra: 1 },
    ]) {
      expect(fastPlanDraft(raw)).toBeUndefined();
      expect(PlanDraftSchema.safeParse(raw).success).toBe(false);
    }
  });

  it('keeps the size limits exact near a limit (a bound over the limit measures the plan)', () => {
    const todos = fastPlanDraft({
      todos: [{ id: 'a', title: 't', domain: 'w', input: { s: 'x'.repeat(100) } }],
    })?.todos;
    expect(todos).toBeDefined();
    const exact = Buffer.byteLength(JSON.stringify(todos), 'utf8');
    // The bound is far above the exact size (6 bytes per character): a limit between them is checked exactly.
    expect(findPlanIssues(todos ?? [], { limits: { maxPlanBytes: exact } })).toEqual([]);
    expect(findPlanIssues(todos ?? [], { limits: { maxPlanBytes: exact - 1 } })[0]?.limit).toEqual({
      name: 'maxPlanBytes',
      max: exact - 1,
      actual: exact,
    });
  });
});

describe('the intent fast path', () => {
  const validIntent = fc.record(
    {
      name: fc.string({ minLength: 1, maxLength: 8 }),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
      entities: fc.constant([]),
      slots: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      missingSlots: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
    },
    { requiredKeys: ['name', 'confidence'] },
  );
  const edges: Record<string, fc.Arbitrary<unknown>> = {
    name: fc.constantFrom<unknown>('', 'x', 1, null),
    confidence: fc.constantFrom<unknown>(-0.1, 0, -0, 1, 1.01, Number.NaN, Infinity, '1'),
    entities: fc.constantFrom<unknown>([{ type: 'x', value: 1, text: 'x' }], {}, null, [1]),
    slots: record,
    missingSlots: fc.constantFrom<unknown>(['a'], [1], 'a', null),
    metadata: record,
    clarification: fc.constantFrom<unknown>({ question: 'q?' }, { question: '' }),
    extra: fc.constant<unknown>(1),
  };
  const intent = fc.oneof(
    { weight: 3, arbitrary: validIntent as fc.Arbitrary<unknown> },
    {
      weight: 10,
      arbitrary: fc
        .constantFrom(...Object.keys(edges))
        .chain((k) => fc.tuple(validIntent, fc.constant(k), edges[k] as fc.Arbitrary<unknown>))
        .map(([t, k, v]) => ({ ...t, [k]: v }) as unknown),
    },
    { weight: 1, arbitrary: oddValue },
  );

  it('returns exactly what IntentSchema returns whenever it vouches for an intent', () => {
    fc.assert(
      fc.property(intent, (raw) => {
        const fast = fastIntent(raw);
        const parsed = IntentSchema.safeParse(raw);
        if (fast === undefined) return;
        expect(parsed.success).toBe(true);
        if (!parsed.success) return;
        sameJson(fast, parsed.data);
        expect(fast).toEqual(parsed.data);
      }),
      { numRuns: 2000 },
    );
  });

  it('vouches for the intents the built-in layers return', () => {
    const raw = { name: 'default', confidence: 1, entities: [], slots: {}, missingSlots: [] };
    expect(fastIntent(raw)).toEqual(IntentSchema.parse(raw));
    expect(fastIntent(raw)?.slots).not.toBe(raw.slots);
  });
});
