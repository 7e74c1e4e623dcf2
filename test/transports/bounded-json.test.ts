import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isDreamAgentError } from 'dream-agent';
import { assertJsonDepth, jsonTextDepth, parseJsonBounded } from 'dream-agent/adapter-kit';

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v as object);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('bounded JSON parsing of outside input', () => {
  it('measures the same depth as the parsed value, strings with brackets and escapes included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
        const text = JSON.stringify(v);
        expect(jsonTextDepth(text)).toBe(depthOf(v));
        expect(parseJsonBounded(text, { maxDepth: 8 })).toEqual(JSON.parse(text));
        expect(() => assertJsonDepth(v, 8)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    expect(jsonTextDepth('{"a":"[[[\\"{{","b":[1]}')).toBe(2);
  });

  it('refuses deep nesting with INVALID_INPUT before parsing, at any depth up to 100 000', () => {
    for (const d of [65, 1500, 100_000]) {
      const text = '['.repeat(d) + ']'.repeat(d);
      let err: unknown;
      try {
        parseJsonBounded(text);
      } catch (e) {
        err = e;
      }
      expect(isDreamAgentError(err, 'INVALID_INPUT')).toBe(true);
      expect((err as { details: unknown }).details).toEqual({ maxDepth: 64 });
    }
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(() => assertJsonDepth(deep, 64)).toThrow(/deeper than 64/);
    expect(() => parseJsonBounded('{"a":')).toThrow(/not valid JSON/);
  });
});
